//! Linkerd's per-release rules on certificates (LINKERD.md §3.3, §5.2): the algorithms each
//! release accepts for anchors and issuer, and the issuer name 2.7-2.9 require.

use super::layout::Era;
use crate::pki::{Certificate, KeyAlgorithm, SignatureAlgorithm};

/// Why `anchor` is not a trust anchor `era` accepts, if it is not.
///
/// Before 2.12 only ECDSA P-256 signed with ECDSA-SHA256; from 2.12 also RSA 2048 or 4096
/// signed with SHA256-RSA, and ECDSA P-256 roots signed with SHA256-RSA.
pub fn anchor_algorithm_problem(anchor: &Certificate, era: Era) -> Option<String> {
    let key = anchor.key_algorithm();
    let sig = anchor.signature_algorithm();
    let ok = match (key, era.accepts_rsa_anchors()) {
        (KeyAlgorithm::EcdsaP256, false) => *sig == SignatureAlgorithm::EcdsaSha256,
        (KeyAlgorithm::EcdsaP256, true) => ecdsa_or_rsa_sha256(sig),
        (KeyAlgorithm::Rsa { bits: 2048 | 4096 }, true) => *sig == SignatureAlgorithm::RsaSha256,
        _ => false,
    };
    (!ok).then(|| {
        let accepted = if era.accepts_rsa_anchors() {
            "ECDSA P-256, or RSA 2048/4096 signed with SHA256-RSA"
        } else {
            "ECDSA P-256 signed with ECDSA-SHA256 (RSA anchors need 2.12+)"
        };
        format!(
            "trust anchor {} uses {key} signed with {sig}; linkerd {era} accepts only {accepted}",
            anchor.describe()
        )
    })
}

/// Why `issuer` is not an issuer certificate `era` accepts, if it is not.
pub fn issuer_algorithm_problem(issuer: &Certificate, era: Era) -> Option<String> {
    let key = issuer.key_algorithm();
    let sig = issuer.signature_algorithm();
    if *key != KeyAlgorithm::EcdsaP256 {
        return Some(format!(
            "issuer certificate {} uses {key}; linkerd requires an ECDSA P-256 key",
            issuer.describe()
        ));
    }
    let ok = if era.accepts_rsa_anchors() {
        ecdsa_or_rsa_sha256(sig)
    } else {
        *sig == SignatureAlgorithm::EcdsaSha256
    };
    (!ok).then(|| {
        format!(
            "issuer certificate {} is signed with {sig}; linkerd {era} accepts {}",
            issuer.describe(),
            if era.accepts_rsa_anchors() {
                "ECDSA-SHA256 or SHA256-RSA"
            } else {
                "only ECDSA-SHA256"
            }
        )
    })
}

fn ecdsa_or_rsa_sha256(sig: &SignatureAlgorithm) -> bool {
    matches!(
        sig,
        SignatureAlgorithm::EcdsaSha256 | SignatureAlgorithm::RsaSha256
    )
}

/// Why the CAs of `chain` (issuer first, anchor last) cannot sign proxies' certificates, if
/// they cannot: under a leaf the issuer is itself an intermediate, so a CA at position `i`
/// has `i` CAs below it and its path length must allow that (LINKERD.md §5.2).
pub fn leaf_chain_problem(chain: &[Certificate]) -> Option<String> {
    chain.iter().enumerate().skip(1).find_map(|(below, ca)| {
        let allowed = ca.path_len()?;
        (below > allowed as usize).then(|| {
            format!(
                "CA certificate {} allows {allowed} CA certificate(s) below it, but proxies' \
                 certificates would chain through {below} (the issuer counts)",
                ca.describe()
            )
        })
    })
}

/// Whether `cert` is valid for DNS name `name` as Go 1.13/1.14 decide it (the toolchain of
/// 2.7-2.9): a DNS SAN matches, or, only when there are no DNS SANs, the common name.
pub fn valid_for_name(cert: &Certificate, name: &str) -> bool {
    let same = |candidate: &str| candidate.eq_ignore_ascii_case(name);
    if cert.dns_sans().is_empty() {
        cert.common_name().is_some_and(same)
    } else {
        cert.dns_sans().iter().any(|san| same(san))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{CertRequest, Profile, generate};

    fn root_with_sans(cn: &str, sans: &[&str]) -> Certificate {
        let mut request = CertRequest::new(Profile::RootCa, cn);
        request.sans = sans.iter().map(|s| (*s).to_owned()).collect();
        generate(&request, None).unwrap().cert().clone()
    }

    #[test]
    fn the_common_name_counts_only_without_dns_sans() {
        let name = "identity.linkerd.cluster.local";
        assert!(valid_for_name(&root_with_sans(name, &[]), name));
        assert!(valid_for_name(&root_with_sans("other", &[name]), name));
        assert!(!valid_for_name(
            &root_with_sans(name, &["other.example"]),
            name
        ));
        assert!(!valid_for_name(
            &root_with_sans("root.linkerd.cluster.local", &[]),
            name
        ));
    }

    #[test]
    fn p256_ecdsa_anchors_are_accepted_by_every_era() {
        let root = root_with_sans("root", &[]);
        for era in [Era::A, Era::B1, Era::B2, Era::C0, Era::C] {
            assert_eq!(anchor_algorithm_problem(&root, era), None, "{era}");
            assert_eq!(issuer_algorithm_problem(&root, era), None, "{era}");
        }
    }
}
