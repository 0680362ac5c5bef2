//! Generation of root CAs, intermediate CAs and leaves in the shapes `step certificate create`
//! gives (`--profile root-ca`, `--profile intermediate-ca`), and [`CertifiedKey`], a
//! certificate with its private key that can sign.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::time::{Duration, OffsetDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber, SigningKey,
};
use rustls::pki_types::CertificateDer;

use super::{Certificate, PkiError, PrivateKey, files};

/// The kind of certificate to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Self-signed, CA:TRUE pathlen 1, keyCertSign + cRLSign; 10 years by default.
    RootCa,
    /// Signed by a CA, CA:TRUE pathlen 0, keyCertSign + cRLSign; 10 years by default (the
    /// Linkerd docs pass `--not-after 8760h`).
    IntermediateCa,
    /// An end-entity certificate for tests and the simulated proxies: CA:FALSE,
    /// digitalSignature, serverAuth + clientAuth; 24 hours by default (Linkerd's issuance
    /// lifetime).
    Leaf,
}

impl Profile {
    /// The names scripts use, in order.
    pub const NAMES: [&'static str; 3] = ["root-ca", "intermediate-ca", "leaf"];

    /// Reads a profile name as `step` spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "root-ca" => Some(Self::RootCa),
            "intermediate-ca" => Some(Self::IntermediateCa),
            "leaf" => Some(Self::Leaf),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RootCa => "root-ca",
            Self::IntermediateCa => "intermediate-ca",
            Self::Leaf => "leaf",
        }
    }

    /// step's default validity: `24*365*10` hours for both CA profiles.
    pub fn default_validity(self) -> Duration {
        match self {
            Self::RootCa | Self::IntermediateCa => Duration::hours(24 * 365 * 10),
            Self::Leaf => Duration::hours(24),
        }
    }
}

/// When a certificate stops being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// This long after `not_before`.
    For(Duration),
    /// At this moment.
    Until(OffsetDateTime),
}

/// What to generate. Build with [`CertRequest::new`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    pub profile: Profile,
    /// The subject's common name (the whole subject: no other attributes are set).
    pub common_name: String,
    /// DNS names or IP addresses for the subject alternative name extension.
    pub sans: Vec<String>,
    /// Defaults to now, truncated to the second.
    pub not_before: Option<OffsetDateTime>,
    /// Defaults to the profile's [`Profile::default_validity`].
    pub not_after: Option<Validity>,
}

impl CertRequest {
    pub fn new(profile: Profile, common_name: impl Into<String>) -> Self {
        Self {
            profile,
            common_name: common_name.into(),
            sans: Vec::new(),
            not_before: None,
            not_after: None,
        }
    }
}

/// A certificate together with its private key; when the certificate is a CA it can sign.
///
/// Cheap to clone. `Debug` and `Display` show the certificate and never the key.
#[derive(Clone)]
pub struct CertifiedKey {
    cert: Certificate,
    key: PrivateKey,
    /// Built once for a CA so that issuing many leaves does not re-parse the CA each time.
    issuer: Option<Arc<Issuer<'static, SharedKey>>>,
    cert_path: Option<PathBuf>,
    key_path: Option<PathBuf>,
}

impl CertifiedKey {
    /// Pairs a certificate with its key; `key_origin` names the key's source for errors.
    ///
    /// # Errors
    ///
    /// [`PkiError::KeyMismatch`] when the key does not belong to the certificate.
    pub fn new(cert: Certificate, key: PrivateKey, key_origin: &str) -> Result<Self, PkiError> {
        if !key.matches(&cert) {
            return Err(PkiError::KeyMismatch {
                key_origin: key_origin.to_owned(),
                subject: cert.describe(),
            });
        }
        let issuer = if cert.is_ca() {
            let der = CertificateDer::from(cert.der());
            let issuer = Issuer::from_ca_cert_der(&der, SharedKey(key.pair().clone())).map_err(
                |source| PkiError::Generate {
                    cn: cert.subject().to_owned(),
                    source,
                },
            )?;
            Some(Arc::new(issuer))
        } else {
            None
        };
        Ok(Self {
            cert,
            key,
            issuer,
            cert_path: None,
            key_path: None,
        })
    }

    /// Loads a CA (or any certificate and key pair) from PEM files. Only the first
    /// certificate of the certificate file is used: a `crt.pem` may carry its chain after it.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or parsed, or the key does not belong to the certificate.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, PkiError> {
        let cert_origin = cert_path.display().to_string();
        let key_origin = key_path.display().to_string();
        let cert = super::bundle::parse_certificates(&files::read_text(cert_path)?, &cert_origin)?
            .remove(0);
        let key = PrivateKey::from_pem(&files::read_text(key_path)?, &key_origin)?;
        let mut loaded = Self::new(cert, key, &key_origin)?;
        loaded.cert_path = Some(cert_path.to_owned());
        loaded.key_path = Some(key_path.to_owned());
        Ok(loaded)
    }

    /// The same value with the file locations recorded (as a journal restores them).
    pub fn with_paths(self, cert_path: Option<PathBuf>, key_path: Option<PathBuf>) -> Self {
        Self {
            cert_path,
            key_path,
            ..self
        }
    }

    pub fn cert(&self) -> &Certificate {
        &self.cert
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Where the certificate was written or loaded from, if it was.
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// Where the key was written or loaded from, if it was.
    pub fn key_path(&self) -> Option<&Path> {
        self.key_path.as_deref()
    }

    /// Writes the certificate PEM to `path` (mode 0644).
    ///
    /// # Errors
    ///
    /// [`PkiError::FileExists`] when the file exists and `overwrite` is false; I/O errors.
    pub fn write_cert(&self, path: &Path, overwrite: bool) -> Result<(), PkiError> {
        files::write_new(path, self.cert.to_pem().as_bytes(), 0o644, overwrite)
    }

    /// Writes the key as SEC1 PEM to `path`, created with mode 0600.
    ///
    /// # Errors
    ///
    /// [`PkiError::FileExists`] when the file exists and `overwrite` is false; I/O errors.
    pub fn write_key(&self, path: &Path, overwrite: bool) -> Result<(), PkiError> {
        files::write_new(path, self.key.to_sec1_pem()?.as_bytes(), 0o600, overwrite)
    }

    /// Writes `<name>.crt` and `<name>.key` into `dir` and returns the value with those
    /// paths recorded. Both paths are checked before either file is written, so a refused
    /// overwrite leaves nothing half done.
    ///
    /// # Errors
    ///
    /// [`PkiError::FileExists`] when either file exists and `overwrite` is false; I/O errors.
    pub fn write(&self, dir: &Path, name: &str, overwrite: bool) -> Result<Self, PkiError> {
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        if !overwrite {
            for path in [&key_path, &cert_path] {
                if path.exists() {
                    return Err(PkiError::FileExists { path: path.clone() });
                }
            }
        }
        self.write_key(&key_path, overwrite)?;
        self.write_cert(&cert_path, overwrite)?;
        Ok(Self {
            cert_path: Some(cert_path),
            key_path: Some(key_path),
            ..self.clone()
        })
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish()
    }
}

impl fmt::Display for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} with its private key (redacted)",
            self.cert.describe()
        )
    }
}

/// Generates a key and a certificate for `request`, self-signed for a root (or a leaf
/// without signer), otherwise signed by `signer`.
///
/// Every certificate gets an explicit subject, a random 128-bit serial, explicit validity
/// and, when signed by a CA, an authority key identifier (without it OpenSSL takes an
/// intermediate that shares its root's subject for self-signed).
///
/// # Errors
///
/// [`PkiError::Request`] when the profile and signer do not fit together, the validity ends
/// before it starts, or a SAN is not a valid name; [`PkiError::NotCa`] when the signer is not
/// a CA; [`PkiError::Generate`] when signing fails.
pub fn generate(
    request: &CertRequest,
    signer: Option<&CertifiedKey>,
) -> Result<CertifiedKey, PkiError> {
    let refuse = |reason: String| PkiError::Request {
        cn: request.common_name.clone(),
        reason,
    };
    let profile = request.profile;
    match (profile, signer) {
        (Profile::RootCa, Some(_)) => {
            return Err(refuse(
                "a root-ca is self-signed: do not pass a signing CA".into(),
            ));
        }
        (Profile::IntermediateCa, None) => {
            return Err(refuse("an intermediate-ca needs a signing CA".into()));
        }
        _ => {}
    }
    let issuer = match signer {
        Some(ca) => Some(signing_issuer(ca, profile).map_err(|e| match e {
            SignerProblem::NotCa => PkiError::NotCa {
                subject: ca.cert.subject().to_owned(),
                fingerprint: ca.cert.fingerprint().to_owned(),
            },
            SignerProblem::PathLen => refuse(format!(
                "the signing CA {} has path length 0 and cannot sign another CA",
                ca.cert.describe()
            )),
        })?),
        None => None,
    };

    let not_before = request
        .not_before
        .unwrap_or_else(|| now_in_seconds(OffsetDateTime::now_utc()));
    let not_after = match request
        .not_after
        .unwrap_or(Validity::For(profile.default_validity()))
    {
        Validity::For(duration) => not_before + duration,
        Validity::Until(at) => at,
    };
    if not_after <= not_before {
        return Err(refuse(format!(
            "not_after {not_after} is not after not_before {not_before}"
        )));
    }

    let mut params = CertificateParams::new(request.sans.clone())
        .map_err(|e| refuse(format!("invalid subject alternative name: {e}")))?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, request.common_name.as_str());
    params.distinguished_name = subject;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = issuer.is_some();
    match profile {
        Profile::RootCa | Profile::IntermediateCa => {
            let path_len = if profile == Profile::RootCa { 1 } else { 0 };
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        Profile::Leaf => {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
    }

    let key = PrivateKey::generate()?;
    let generated = match issuer {
        Some(issuer) => params.signed_by(key.pair().as_ref(), issuer),
        None => params.self_signed(key.pair().as_ref()),
    }
    .map_err(|source| PkiError::Generate {
        cn: request.common_name.clone(),
        source,
    })?;
    let cert = Certificate::from_der(generated.der().to_vec(), "a generated certificate")?;
    CertifiedKey::new(cert, key, "a generated key")
}

enum SignerProblem {
    NotCa,
    PathLen,
}

fn signing_issuer(
    ca: &CertifiedKey,
    profile: Profile,
) -> Result<&Issuer<'static, SharedKey>, SignerProblem> {
    let issuer = ca.issuer.as_deref().ok_or(SignerProblem::NotCa)?;
    if profile != Profile::Leaf && ca.cert.path_len() == Some(0) {
        return Err(SignerProblem::PathLen);
    }
    Ok(issuer)
}

/// X.509 times have whole seconds; truncating up front keeps the value a script reads back
/// equal to the one it asked for.
fn now_in_seconds(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_nanosecond(0).unwrap_or(now)
}

/// 16 random bytes with the top bit cleared (serials are positive) and the next bit set, so
/// the DER integer is always exactly 16 bytes without a leading zero.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// A shared handle on a key pair, so that a CA's rcgen [`Issuer`] can live as long as the
/// [`CertifiedKey`] without copying the key.
struct SharedKey(Arc<KeyPair>);

impl PublicKeyData for SharedKey {
    fn der_bytes(&self) -> &[u8] {
        self.0.der_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.0.algorithm()
    }
}

impl SigningKey for SharedKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.0.sign(msg)
    }
}
