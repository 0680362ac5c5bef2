//! [`Certificate`]: a certificate's DER and the facts the runner and the checks read from it.

use std::fmt;
use std::sync::Arc;

use ::time::OffsetDateTime;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry as oids;
use x509_parser::prelude::{FromDer, GeneralName};
use x509_parser::public_key::PublicKey;

use super::PkiError;

/// The algorithm and size of a certificate's public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    /// RSA with the modulus size in bits.
    Rsa {
        bits: usize,
    },
    Ed25519,
    /// Anything else, by its algorithm OID (and curve OID for other EC curves).
    Other(String),
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcdsaP256 => f.write_str("ecdsa-p256"),
            Self::EcdsaP384 => f.write_str("ecdsa-p384"),
            Self::EcdsaP521 => f.write_str("ecdsa-p521"),
            Self::Rsa { bits } => write!(f, "rsa-{bits}"),
            Self::Ed25519 => f.write_str("ed25519"),
            Self::Other(oid) => write!(f, "unknown({oid})"),
        }
    }
}

/// The algorithm a certificate was signed with. `Display` uses Go's names (`ECDSA-SHA256`,
/// `SHA256-RSA`) because Linkerd's check messages print them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    RsaPss,
    Ed25519,
    Other(String),
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcdsaSha256 => f.write_str("ECDSA-SHA256"),
            Self::EcdsaSha384 => f.write_str("ECDSA-SHA384"),
            Self::EcdsaSha512 => f.write_str("ECDSA-SHA512"),
            Self::RsaSha256 => f.write_str("SHA256-RSA"),
            Self::RsaSha384 => f.write_str("SHA384-RSA"),
            Self::RsaSha512 => f.write_str("SHA512-RSA"),
            Self::RsaPss => f.write_str("RSA-PSS"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Other(oid) => write!(f, "unknown({oid})"),
        }
    }
}

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

    /// Re-parses the DER for the operations that need the full structure (signatures).
    pub(super) fn parsed(&self) -> X509Certificate<'_> {
        // The DER was parsed successfully when this value was built and is never mutated.
        match X509Certificate::from_der(&self.inner.der) {
            Ok((_, x509)) => x509,
            Err(_) => unreachable!("certificate DER was validated at construction"),
        }
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
        self.inner
            .subject
            .split(", ")
            .find_map(|part| part.strip_prefix("CN="))
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

fn key_algorithm(x509: &X509Certificate<'_>) -> KeyAlgorithm {
    let spki = x509.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == oids::OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == oids::OID_EC_P256 => KeyAlgorithm::EcdsaP256,
            Some(c) if c == oids::OID_NIST_EC_P384 => KeyAlgorithm::EcdsaP384,
            Some(c) if c == oids::OID_NIST_EC_P521 => KeyAlgorithm::EcdsaP521,
            Some(c) => KeyAlgorithm::Other(format!("{alg}/{c}")),
            None => KeyAlgorithm::Other(alg.to_id_string()),
        };
    }
    if *alg == oids::OID_PKCS1_RSAENCRYPTION
        && let Ok(PublicKey::RSA(rsa)) = spki.parsed()
    {
        return KeyAlgorithm::Rsa {
            bits: bit_length(rsa.modulus),
        };
    }
    if *alg == oids::OID_SIG_ED25519 {
        return KeyAlgorithm::Ed25519;
    }
    KeyAlgorithm::Other(alg.to_id_string())
}

/// The bit length of a big-endian unsigned integer (DER integers may carry a leading zero).
fn bit_length(bytes: &[u8]) -> usize {
    let significant: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(start) => &bytes[start..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

fn signature_algorithm(x509: &X509Certificate<'_>) -> SignatureAlgorithm {
    let oid = &x509.signature_algorithm.algorithm;
    let known = [
        (
            oids::OID_SIG_ECDSA_WITH_SHA256,
            SignatureAlgorithm::EcdsaSha256,
        ),
        (
            oids::OID_SIG_ECDSA_WITH_SHA384,
            SignatureAlgorithm::EcdsaSha384,
        ),
        (
            oids::OID_SIG_ECDSA_WITH_SHA512,
            SignatureAlgorithm::EcdsaSha512,
        ),
        (oids::OID_PKCS1_SHA256WITHRSA, SignatureAlgorithm::RsaSha256),
        (oids::OID_PKCS1_SHA384WITHRSA, SignatureAlgorithm::RsaSha384),
        (oids::OID_PKCS1_SHA512WITHRSA, SignatureAlgorithm::RsaSha512),
        (oids::OID_PKCS1_RSASSAPSS, SignatureAlgorithm::RsaPss),
        (oids::OID_SIG_ED25519, SignatureAlgorithm::Ed25519),
    ];
    known
        .into_iter()
        .find(|(candidate, _)| candidate == oid)
        .map(|(_, alg)| alg)
        .unwrap_or_else(|| SignatureAlgorithm::Other(oid.to_id_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zero_bytes() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0x00]), 0);
    }
}
