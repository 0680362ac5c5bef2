//! The key and signature algorithms of a certificate, named as the runner reports them.

use std::fmt;

use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry as oids;
use x509_parser::public_key::PublicKey;

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

pub(super) fn key_algorithm(x509: &X509Certificate<'_>) -> KeyAlgorithm {
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

pub(super) fn signature_algorithm(x509: &X509Certificate<'_>) -> SignatureAlgorithm {
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
