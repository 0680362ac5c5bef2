//! What `gen_cert(#{ write: name })` finds in the workdir from an earlier, interrupted run,
//! and whether it may take those files instead of generating a second root.
//!
//! A rotation stopped inside its `generate` step (kill, Ctrl-C, a failing issuer) leaves the
//! files it wrote but no journal entry. Generating again would make a second root; refusing
//! would leave the operator no way forward. So a pair that matches the request is reused, a
//! pair that does not is refused with the way out, and a key without its certificate (the key
//! is always written first) is an interrupted write whose key never left the machine.

use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

use super::{CertRequest, CertifiedKey, PkiError, Profile};

/// The state of `<name>.crt` and `<name>.key` in a directory.
#[derive(Debug)]
pub enum Existing {
    /// Neither file exists.
    Nothing,
    /// Only the key: a write stopped between the key and the certificate; it may be replaced.
    KeyOnly,
    /// A matching pair that fits the request, loaded with its paths.
    Reusable(CertifiedKey),
}

/// The two file paths `gen_cert` writes for `name` in `dir`, certificate first.
pub fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    )
}

/// Looks at what an earlier run left for `name` in `dir`.
///
/// # Errors
///
/// [`PkiError::Unreusable`] when the files exist but cannot be taken for `request` (no key, a
/// key of another certificate, another subject or profile, another signer, expired), with the
/// reason; the message says how to get out.
pub fn existing(
    dir: &Path,
    name: &str,
    request: &CertRequest,
    signer: Option<&CertifiedKey>,
) -> Result<Existing, PkiError> {
    let (cert_path, key_path) = paths(dir, name);
    let unreusable = |reason: String| PkiError::Unreusable {
        files: format!("{} and {}", cert_path.display(), key_path.display()),
        reason,
    };
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => return Ok(Existing::Nothing),
        (false, true) => return Ok(Existing::KeyOnly),
        (true, false) => {
            return Err(unreusable(format!(
                "{} is missing (gen_cert writes the key first, so the certificate is not one \
                 it wrote)",
                key_path.display()
            )));
        }
        (true, true) => {}
    }
    let pair = CertifiedKey::load(&cert_path, &key_path)
        .map_err(|error| unreusable(super::chain_text(&error)))?;
    match misfit(&pair, request, signer, OffsetDateTime::now_utc()) {
        Some(reason) => Err(unreusable(reason)),
        None => Ok(Existing::Reusable(pair)),
    }
}

/// Why `pair` does not fit `request`, if it does not.
fn misfit(
    pair: &CertifiedKey,
    request: &CertRequest,
    signer: Option<&CertifiedKey>,
    now: OffsetDateTime,
) -> Option<String> {
    let cert = pair.cert();
    let cn = cert.common_name().unwrap_or_default();
    if cn != request.common_name {
        return Some(format!(
            "its common name is {cn:?}, not {:?}",
            request.common_name
        ));
    }
    let (ca, path_len) = match request.profile {
        Profile::RootCa => (true, Some(1)),
        Profile::IntermediateCa => (true, Some(0)),
        Profile::Leaf => (false, None),
    };
    if cert.is_ca() != ca || (ca && cert.path_len() != path_len) {
        return Some(format!(
            "it is not a {} certificate (CA {}, path length {:?})",
            request.profile.name(),
            cert.is_ca(),
            cert.path_len()
        ));
    }
    let mut have: Vec<&str> = cert.dns_sans().iter().map(String::as_str).collect();
    let mut want: Vec<&str> = request.sans.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        return Some(format!("its DNS names are {have:?}, not {want:?}"));
    }
    let signed_by = signer.map_or(cert, CertifiedKey::cert);
    if !cert.is_signed_by(signed_by) {
        return Some(match signer {
            Some(ca) => format!("it is not signed by {}", ca.cert().describe()),
            None => "it is not self-signed".to_owned(),
        });
    }
    if !cert.is_valid_at(now) {
        let show = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
        return Some(format!(
            "it is not valid now (valid from {} to {})",
            show(cert.not_before()),
            show(cert.not_after())
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::generate;

    fn root(dir: &Path, cn: &str) -> CertifiedKey {
        let root = generate(&CertRequest::new(Profile::RootCa, cn), None).unwrap();
        root.write(dir, "ca", false).unwrap()
    }

    #[test]
    fn a_matching_pair_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let written = root(dir.path(), "root.linkerd.cluster.local");
        let request = CertRequest::new(Profile::RootCa, "root.linkerd.cluster.local");
        match existing(dir.path(), "ca", &request, None).unwrap() {
            Existing::Reusable(pair) => assert_eq!(pair.cert(), written.cert()),
            other => panic!("not reused: {other:?}"),
        }
    }

    #[test]
    fn a_pair_for_another_request_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let written = root(dir.path(), "root.linkerd.cluster.local");
        let other = CertRequest::new(Profile::RootCa, "root.linkerd.example.org");
        let error = existing(dir.path(), "ca", &other, None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("ca.crt and"), "{text}");
        assert!(text.contains("not \"root.linkerd.example.org\""), "{text}");
        assert!(text.contains("--workdir"), "{text}");

        let issuer = CertRequest::new(Profile::IntermediateCa, "root.linkerd.cluster.local");
        let error = existing(dir.path(), "ca", &issuer, Some(&written)).unwrap_err();
        assert!(
            error.to_string().contains("not a intermediate-ca"),
            "{error}"
        );
    }

    #[test]
    fn an_issuer_of_another_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = root(dir.path(), "root");
        let request = CertRequest::new(Profile::IntermediateCa, "identity");
        let issuer = generate(&request, Some(&first)).unwrap();
        issuer.write(dir.path(), "issuer", false).unwrap();
        let second = generate(&CertRequest::new(Profile::RootCa, "root"), None).unwrap();
        let error = existing(dir.path(), "issuer", &request, Some(&second)).unwrap_err();
        assert!(error.to_string().contains("it is not signed by"), "{error}");
        assert!(matches!(
            existing(dir.path(), "issuer", &request, Some(&first)).unwrap(),
            Existing::Reusable(_)
        ));
    }

    #[test]
    fn a_key_without_certificate_is_an_interrupted_write() {
        let dir = tempfile::tempdir().unwrap();
        root(dir.path(), "root");
        std::fs::remove_file(dir.path().join("ca.crt")).unwrap();
        let request = CertRequest::new(Profile::RootCa, "root");
        assert!(matches!(
            existing(dir.path(), "ca", &request, None).unwrap(),
            Existing::KeyOnly
        ));
        std::fs::write(dir.path().join("ca.crt"), "x").unwrap();
        std::fs::remove_file(dir.path().join("ca.key")).unwrap();
        let error = existing(dir.path(), "ca", &request, None).unwrap_err();
        assert!(error.to_string().contains("ca.key is missing"), "{error}");
    }
}
