//! [`Certificate`]: a certificate's DER and the facts the runner and the checks read from it.

use std::fmt;
use std::sync::Arc;

use ::time::OffsetDateTime;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, GeneralName};

use super::PkiError;
use super::algorithm::{KeyAlgorithm, SignatureAlgorithm, key_algorithm, signature_algorithm};

/// A parsed X.509 certificate. Cheap to clone: the parsed facts are shared.
///
/// Equality is equality of the DER bytes.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Facts>,
}

struct Facts {
    der: Vec<u8>,
    subject: String,
    common_name: Option<String>,
    issuer: String,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    serial: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    fingerprint: String,
    key_algorithm: KeyAlgorithm,
    signature_algorithm: SignatureAlgorithm,
    is_ca: bool,
    path_len: Option<u32>,
    dns_sans: Vec<String>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    public_key: Vec<u8>,
    /// `None` when the certificate has no extended key usage extension (any use allowed).
    server_auth: Option<bool>,
}

impl Certificate {
    /// Parses one DER certificate; `origin` names where it came from for errors.
    ///
    /// # Errors
    ///
    /// [`PkiError::Certificate`] when the bytes are not a certificate, carry trailing data or
    /// hold malformed extensions.
    pub fn from_der(der: Vec<u8>, origin: &str) -> Result<Self, PkiError> {
        let fail = |reason: String| PkiError::Certificate {
            origin: origin.to_owned(),
            reason,
        };
        let (rest, x509) = X509Certificate::from_der(&der).map_err(|e| fail(e.to_string()))?;
        if !rest.is_empty() {
            return Err(fail(format!("{} bytes after the certificate", rest.len())));
        }
        let basic = x509.basic_constraints().map_err(|e| fail(e.to_string()))?;
        let sans = x509
            .subject_alternative_name()
            .map_err(|e| fail(e.to_string()))?;
        let eku = x509.extended_key_usage().map_err(|e| fail(e.to_string()))?;

        let mut subject_key_id = None;
        let mut authority_key_id = None;
        for ext in x509.iter_extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                _ => {}
            }
        }

        let facts = Facts {
            subject: x509.subject().to_string(),
            common_name: x509
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            issuer: x509.issuer().to_string(),
            raw_subject: x509.subject().as_raw().to_vec(),
            raw_issuer: x509.issuer().as_raw().to_vec(),
            serial: hex::encode(x509.raw_serial()),
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            fingerprint: hex::encode(Sha256::digest(&der)),
            key_algorithm: key_algorithm(&x509),
            signature_algorithm: signature_algorithm(&x509),
            is_ca: basic.as_ref().is_some_and(|b| b.value.ca),
            path_len: basic.and_then(|b| b.value.path_len_constraint),
            dns_sans: sans
                .map(|s| {
                    s.value
                        .general_names
                        .iter()
                        .filter_map(|n| match n {
                            GeneralName::DNSName(name) => Some((*name).to_owned()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            subject_key_id,
            authority_key_id,
            public_key: x509.public_key().subject_public_key.data.to_vec(),
            server_auth: eku.map(|e| e.value.any || e.value.server_auth),
            der: Vec::new(),
        };
        Ok(Self {
            inner: Arc::new(Facts { der, ..facts }),
        })
    }

    /// Parses exactly one certificate from PEM text (other blocks are refused).
    ///
    /// # Errors
    ///
    /// When the text is not PEM, holds anything but exactly one `CERTIFICATE` block, or the
    /// certificate does not parse.
    pub fn from_pem(text: &str, origin: &str) -> Result<Self, PkiError> {
        let mut certs = super::bundle::parse_certificates(text, origin)?;
        match certs.len() {
            1 => Ok(certs.remove(0)),
            n => Err(PkiError::Certificate {
                origin: origin.to_owned(),
                reason: format!("expected one certificate, found {n}"),
            }),
        }
    }

    /// The certificate as one PEM block with LF line endings and one final newline.
    pub fn to_pem(&self) -> String {
        let block = pem::Pem::new("CERTIFICATE", self.inner.der.clone());
        pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// Re-parses the DER for the operations that need the full structure (signatures). The
    /// borrowed parse cannot be kept next to the bytes it borrows, and it is cheap. It
    /// succeeded once at construction, so `None` is not expected.
    pub(super) fn parsed(&self) -> Option<X509Certificate<'_>> {
        X509Certificate::from_der(&self.inner.der)
            .ok()
            .map(|(_, x509)| x509)
    }

    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The subject in RFC 4514 form, e.g. `CN=identity.linkerd.cluster.local`.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The common name, if the subject has one.
    pub fn common_name(&self) -> Option<&str> {
        self.inner.common_name.as_deref()
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The DER of the subject name, for name matching as X.509 defines it.
    pub fn raw_subject(&self) -> &[u8] {
        &self.inner.raw_subject
    }

    pub fn raw_issuer(&self) -> &[u8] {
        &self.inner.raw_issuer
    }

    /// The serial number as lowercase hex of its big-endian bytes.
    pub fn serial(&self) -> &str {
        &self.inner.serial
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.inner.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.inner.not_after
    }

    /// Whether `at` lies within `not_before ..= not_after`.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.inner.not_before <= at && at <= self.inner.not_after
    }

    /// SHA-256 of the DER, lowercase hex: the identity used for deduplication.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    pub fn key_algorithm(&self) -> &KeyAlgorithm {
        &self.inner.key_algorithm
    }

    pub fn signature_algorithm(&self) -> &SignatureAlgorithm {
        &self.inner.signature_algorithm
    }

    /// Whether basic constraints say CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.inner.is_ca
    }

    /// The path length constraint, `None` when absent (unlimited).
    pub fn path_len(&self) -> Option<u32> {
        self.inner.path_len
    }

    pub fn dns_sans(&self) -> &[String] {
        &self.inner.dns_sans
    }

    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.inner.subject_key_id.as_deref()
    }

    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.inner.authority_key_id.as_deref()
    }

    /// The subject public key bits (for EC keys the uncompressed point).
    pub fn public_key(&self) -> &[u8] {
        &self.inner.public_key
    }

    /// Whether the certificate may be used for TLS servers, by Go's rule: allowed when it
    /// has no extended key usage, or lists `serverAuth` or `anyExtendedKeyUsage`.
    pub fn allows_server_auth(&self) -> bool {
        self.inner.server_auth.unwrap_or(true)
    }

    /// A short description for messages: subject and the first 16 fingerprint digits.
    pub fn describe(&self) -> String {
        format!(
            "{} (sha256 {})",
            self.inner.subject,
            &self.inner.fingerprint[..16]
        )
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.inner.der == other.inner.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.inner.subject)
            .field("issuer", &self.inner.issuer)
            .field("serial", &self.inner.serial)
            .field("not_after", &self.inner.not_after)
            .field("fingerprint", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}
