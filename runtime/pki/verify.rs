//! Signature and chain checks, following what Go's `x509.Certificate.Verify` does for
//! Linkerd's "issuer cert is issued by the trust anchor" and the identity controller.
//!
//! Parents are chosen by name *and* signature: during a rotation the bundle holds two roots
//! with the same subject and different keys, and only the signature tells which one signed.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

use super::Certificate;

/// Go stops building chains at this many intermediates; deeper chains are not expected here.
const MAX_INTERMEDIATES: usize = 10;

/// Why a certificate does not chain to the anchors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A certificate of the chain is expired or not yet valid.
    #[error("certificate {subject} is not valid at {at}: valid from {not_before} to {not_after}")]
    NotValidAt {
        subject: String,
        at: String,
        not_before: String,
        not_after: String,
    },

    /// No anchor or intermediate signed the certificate.
    #[error("certificate {subject} is signed by an unknown authority")]
    UnknownAuthority { subject: String },

    /// An intermediate without CA:TRUE.
    #[error("certificate {subject} is used to sign but is not a CA")]
    NotAuthorizedToSign { subject: String },

    /// A CA whose path length does not allow the intermediates below it.
    #[error(
        "certificate {subject} allows {path_len} CA certificates below it, the chain has {below}"
    )]
    TooManyIntermediates {
        subject: String,
        path_len: u32,
        below: usize,
    },

    /// A certificate whose extended key usage excludes serverAuth (Go's default usage).
    #[error("certificate {subject} has an extended key usage that does not allow serverAuth")]
    IncompatibleUsage { subject: String },
}

impl Certificate {
    /// Whether `issuer`'s key made this certificate's signature. Algorithms ring cannot
    /// verify (P-521, for one) count as not signed.
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let (Some(child), Some(parent)) = (self.parsed(), issuer.parsed()) else {
            return false;
        };
        child.verify_signature(Some(parent.public_key())).is_ok()
    }
}

/// Finds a chain from `cert` through `intermediates` to one of `anchors`, valid at `at`, and
/// returns it (starting with `cert`, ending with the anchor).
///
/// Checks, as Go does with default options: validity of every certificate (anchors too),
/// CA:TRUE on intermediates (not on anchors), path length constraints, and that no
/// certificate's extended key usage excludes serverAuth. Key usage bits are not checked.
///
/// # Errors
///
/// The first problem found on the most promising path; [`VerifyError::UnknownAuthority`]
/// when no candidate parent exists.
pub fn verify_chain(
    cert: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: OffsetDateTime,
) -> Result<Vec<Certificate>, VerifyError> {
    check_time(cert, at)?;
    let mut chain = vec![cert.clone()];
    extend(&mut chain, intermediates, anchors, at)?;
    Ok(chain)
}

/// Depth-first search for a parent of the last certificate in `chain`.
fn extend(
    chain: &mut Vec<Certificate>,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: OffsetDateTime,
) -> Result<(), VerifyError> {
    let Some(child) = chain.last().cloned() else {
        return Ok(());
    };
    let mut last_error = None;

    for anchor in anchors.iter().filter(|a| is_parent(&child, a)) {
        match check_parent(chain, anchor, at) {
            Ok(()) => {
                chain.push(anchor.clone());
                match check_usage(chain) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        chain.pop();
                        last_error = Some(e);
                    }
                }
            }
            Err(e) => last_error = Some(e),
        }
    }

    if chain.len() <= MAX_INTERMEDIATES {
        let candidates: Vec<&Certificate> = intermediates
            .iter()
            .filter(|i| is_parent(&child, i) && !chain.contains(i))
            .collect();
        for intermediate in candidates {
            if !intermediate.is_ca() {
                last_error = Some(VerifyError::NotAuthorizedToSign {
                    subject: intermediate.describe(),
                });
                continue;
            }
            if let Err(e) = check_parent(chain, intermediate, at) {
                last_error = Some(e);
                continue;
            }
            chain.push(intermediate.clone());
            match extend(chain, intermediates, anchors, at) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    chain.pop();
                    last_error = Some(e);
                }
            }
        }
    }

    Err(last_error.unwrap_or_else(|| VerifyError::UnknownAuthority {
        subject: child.describe(),
    }))
}

/// Name match first (cheap), then the signature.
fn is_parent(child: &Certificate, parent: &Certificate) -> bool {
    child.raw_issuer() == parent.raw_subject() && child.is_signed_by(parent)
}

/// Validity and path length of `parent` on top of `chain`.
fn check_parent(
    chain: &[Certificate],
    parent: &Certificate,
    at: OffsetDateTime,
) -> Result<(), VerifyError> {
    check_time(parent, at)?;
    let below = chain.len() - 1;
    if let Some(path_len) = parent.path_len()
        && below > path_len as usize
    {
        return Err(VerifyError::TooManyIntermediates {
            subject: parent.describe(),
            path_len,
            below,
        });
    }
    Ok(())
}

fn check_usage(chain: &[Certificate]) -> Result<(), VerifyError> {
    match chain.iter().find(|c| !c.allows_server_auth()) {
        Some(c) => Err(VerifyError::IncompatibleUsage {
            subject: c.describe(),
        }),
        None => Ok(()),
    }
}

fn check_time(cert: &Certificate, at: OffsetDateTime) -> Result<(), VerifyError> {
    if cert.is_valid_at(at) {
        return Ok(());
    }
    let show = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    Err(VerifyError::NotValidAt {
        subject: cert.describe(),
        at: show(at),
        not_before: show(cert.not_before()),
        not_after: show(cert.not_after()),
    })
}
