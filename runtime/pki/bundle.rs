//! [`Bundle`]: a trust bundle of CA certificates, read tolerantly and written canonically.
//!
//! Canonical matters because Linkerd compares bundles as text (the data-plane check) and Go's
//! PEM reader fails on anything after the last block beyond one line ending: so a bundle is
//! only `CERTIFICATE` blocks, LF endings, one newline after each block, no blank lines.

use std::collections::HashSet;

use super::{Certificate, PkiError};

/// An ordered set of CA certificates, unique by DER fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bundle {
    certs: Vec<Certificate>,
}

impl Bundle {
    /// Reads a bundle from PEM text, tolerating CRLF, blank lines, surrounding spaces and a
    /// missing final newline. Duplicates are dropped, keeping the first.
    ///
    /// # Errors
    ///
    /// When the text holds no certificate, a block that is not a certificate (named by its
    /// type), an unreadable certificate, or a certificate that is not a CA.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PkiError> {
        Self::from_certs(parse_certificates(text, origin)?)
    }

    /// The bundle of `certs` in order, without duplicates.
    ///
    /// # Errors
    ///
    /// [`PkiError::NotCa`] for a certificate that is not a CA.
    pub fn from_certs(certs: impl IntoIterator<Item = Certificate>) -> Result<Self, PkiError> {
        let mut bundle = Self::default();
        for cert in certs {
            bundle.push(cert)?;
        }
        Ok(bundle)
    }

    /// The rotation bundle: `new` first, then `old`, duplicates dropped by fingerprint (two
    /// roots that share a subject but not a key are different certificates and both stay).
    ///
    /// # Errors
    ///
    /// [`PkiError::NotCa`] for a certificate that is not a CA; [`PkiError::EmptyBundle`] when
    /// both lists are empty.
    pub fn build(new: &[Certificate], old: &[Certificate]) -> Result<Self, PkiError> {
        let bundle = Self::from_certs(new.iter().chain(old).cloned())?;
        if bundle.is_empty() {
            return Err(PkiError::EmptyBundle);
        }
        Ok(bundle)
    }

    /// Appends `cert` unless an identical certificate is already present.
    ///
    /// # Errors
    ///
    /// [`PkiError::NotCa`] when `cert` is not a CA.
    pub fn push(&mut self, cert: Certificate) -> Result<(), PkiError> {
        if !cert.is_ca() {
            return Err(PkiError::NotCa {
                subject: cert.subject().to_owned(),
                fingerprint: cert.fingerprint().to_owned(),
            });
        }
        if !self.contains(&cert) {
            self.certs.push(cert);
        }
        Ok(())
    }

    pub fn contains(&self, cert: &Certificate) -> bool {
        self.certs
            .iter()
            .any(|c| c.fingerprint() == cert.fingerprint())
    }

    pub fn certs(&self) -> &[Certificate] {
        &self.certs
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The SHA-256 fingerprints in bundle order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.certs
            .iter()
            .map(|c| c.fingerprint().to_owned())
            .collect()
    }

    /// The canonical PEM text (empty for an empty bundle).
    pub fn to_pem(&self) -> String {
        self.certs.iter().map(Certificate::to_pem).collect()
    }
}

/// Reads every certificate of `text` (at least one, CA or not, duplicates dropped), refusing
/// any other block. Tolerates the damage text picks up on its way through editors, terminals
/// and YAML: CRLF, blank lines, indentation and trailing spaces, a missing final newline.
///
/// # Errors
///
/// When the text holds no certificate, a block that is not a certificate (named by its type
/// and position), or an unreadable certificate.
pub fn parse_certificates(text: &str, origin: &str) -> Result<Vec<Certificate>, PkiError> {
    let normalised: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .flat_map(|line| [line, "\n"])
        .collect();
    let blocks = pem::parse_many(&normalised).map_err(|source| PkiError::Pem {
        origin: origin.to_owned(),
        source,
    })?;
    if blocks.is_empty() {
        return Err(PkiError::NoCertificate {
            origin: origin.to_owned(),
        });
    }

    let mut seen = HashSet::new();
    let mut certs = Vec::with_capacity(blocks.len());
    for (index, block) in blocks.into_iter().enumerate() {
        if block.tag() != "CERTIFICATE" {
            return Err(PkiError::UnexpectedBlock {
                origin: origin.to_owned(),
                tag: block.tag().to_owned(),
                index: index + 1,
            });
        }
        let cert = Certificate::from_der(block.into_contents(), origin)?;
        if seen.insert(cert.fingerprint().to_owned()) {
            certs.push(cert);
        }
    }
    Ok(certs)
}
