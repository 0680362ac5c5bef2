//! [`CertifiedKey`]: a certificate with its private key, which can sign when it is a CA, and
//! its files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{Issuer, KeyPair, PublicKeyData, SigningKey};
use rustls::pki_types::CertificateDer;

use super::{Certificate, PkiError, PrivateKey, files};

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
                |source| PkiError::UnusableCa {
                    subject: cert.describe(),
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

    /// Pairs the first certificate of `cert_pem` with the key in `key_pem`, as kept in a
    /// Kubernetes secret (`crt.pem` may carry the chain after the certificate).
    ///
    /// # Errors
    ///
    /// When either text does not parse, or the key does not belong to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str, origin: &str) -> Result<Self, PkiError> {
        let cert = super::bundle::parse_certificates(cert_pem, origin)?.remove(0);
        let key = PrivateKey::from_pem(key_pem, origin)?;
        Self::new(cert, key, origin)
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

    /// The rcgen issuer of a CA, built once; `None` for a certificate that is not a CA.
    pub(super) fn issuer(&self) -> Option<&Issuer<'static, SharedKey>> {
        self.issuer.as_deref()
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

/// A shared handle on a key pair, so that a CA's rcgen [`Issuer`] can live as long as the
/// [`CertifiedKey`] without copying the key.
pub(super) struct SharedKey(Arc<KeyPair>);

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
