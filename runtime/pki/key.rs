//! [`PrivateKey`]: ECDSA P-256 signing keys, read from SEC1 or PKCS#8 and written as SEC1.
//!
//! Linkerd 2.7 and 2.8 read only SEC1 (`EC PRIVATE KEY`), and Go's parser needs the curve OID
//! inside it, which neither ring's PKCS#8 nor `p256`'s SEC1 writer includes. So the SEC1
//! structure is built here with the `sec1` crate and the curve named explicitly.

use std::fmt;
use std::sync::Arc;

use p256::pkcs8::{AssociatedOid, DecodePrivateKey, EncodePrivateKey, ObjectIdentifier};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};
use sec1::der::{Decode, Encode};
use sha2::{Digest, Sha256};

use super::{Certificate, KeyAlgorithm, PkiError};

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// An ECDSA P-256 private key. Cheap to clone (shared).
///
/// Its `Debug` and `Display` never show key material: only the algorithm and a fingerprint
/// of the *public* key, which is enough to tell keys apart in logs.
#[derive(Clone)]
pub struct PrivateKey {
    pair: Arc<KeyPair>,
}

impl PrivateKey {
    /// A new random P-256 key.
    ///
    /// # Errors
    ///
    /// [`PkiError::Encode`] if the system random source fails.
    pub fn generate() -> Result<Self, PkiError> {
        let pair =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| PkiError::Encode {
                reason: format!("generating a P-256 key: {e}"),
            })?;
        Ok(Self {
            pair: Arc::new(pair),
        })
    }

    /// Reads the single private key block of `text`: SEC1 `EC PRIVATE KEY` or PKCS#8
    /// `PRIVATE KEY`, unencrypted, on curve P-256.
    ///
    /// # Errors
    ///
    /// [`PkiError::UnsupportedKey`] for RSA (PKCS#1 or PKCS#8), other curves, Ed25519 and
    /// encrypted keys; [`PkiError::Key`] for text without exactly one key block or a malformed
    /// key.
    pub fn from_pem(text: &str, origin: &str) -> Result<Self, PkiError> {
        let fail = |reason: String| PkiError::Key {
            origin: origin.to_owned(),
            reason,
        };
        let unsupported = |kind: &str| PkiError::UnsupportedKey {
            origin: origin.to_owned(),
            kind: kind.to_owned(),
        };
        let blocks = pem::parse_many(text).map_err(|e| fail(e.to_string()))?;
        // `openssl ecparam -genkey` writes the curve as its own block before the key; the
        // key names its curve again, so that block carries nothing needed.
        let blocks: Vec<&pem::Pem> = blocks
            .iter()
            .filter(|b| b.tag() != "EC PARAMETERS")
            .collect();
        let [block] = blocks.as_slice() else {
            let tags: Vec<&str> = blocks.iter().map(|b| b.tag()).collect();
            return Err(fail(format!(
                "expected one private key block, found {} ({tags:?})",
                blocks.len()
            )));
        };
        if block.headers().get("Proc-Type").is_some() {
            return Err(unsupported("an encrypted key"));
        }

        let secret = match block.tag() {
            "EC PRIVATE KEY" => {
                let sec1 = sec1::EcPrivateKey::from_der(block.contents())
                    .map_err(|e| fail(format!("malformed SEC1 key: {e}")))?;
                match sec1.parameters.and_then(|p| p.named_curve()) {
                    Some(curve) if curve != p256::NistP256::OID => {
                        return Err(unsupported(&curve_name(curve)));
                    }
                    _ => {}
                }
                p256::SecretKey::from_sec1_der(block.contents())
                    .map_err(|_| fail("not a valid P-256 key".to_owned()))?
            }
            "PRIVATE KEY" => {
                let info = p256::pkcs8::PrivateKeyInfo::try_from(block.contents())
                    .map_err(|e| fail(format!("malformed PKCS#8 key: {e}")))?;
                let alg = info.algorithm.oid;
                if alg == RSA_ENCRYPTION {
                    return Err(unsupported("an RSA key (PKCS#8)"));
                }
                if alg == ED25519 {
                    return Err(unsupported("an Ed25519 key"));
                }
                if alg != EC_PUBLIC_KEY {
                    return Err(unsupported(&format!("a key of algorithm {alg}")));
                }
                match info.algorithm.parameters_oid() {
                    Ok(curve) if curve == p256::NistP256::OID => {}
                    Ok(curve) => return Err(unsupported(&curve_name(curve))),
                    Err(_) => return Err(fail("EC key without a named curve".to_owned())),
                }
                p256::SecretKey::from_pkcs8_der(block.contents())
                    .map_err(|_| fail("not a valid P-256 key".to_owned()))?
            }
            "RSA PRIVATE KEY" => return Err(unsupported("an RSA key (PKCS#1)")),
            "ENCRYPTED PRIVATE KEY" => return Err(unsupported("an encrypted key (PKCS#8)")),
            other => return Err(fail(format!("a {other:?} block is not a private key"))),
        };
        Self::from_secret(&secret).map_err(fail)
    }

    /// Builds the ring-backed key pair that rcgen signs with from a validated P-256 secret.
    fn from_secret(secret: &p256::SecretKey) -> Result<Self, String> {
        let pkcs8 = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
        let pair = KeyPair::try_from(pkcs8.as_bytes()).map_err(|e| e.to_string())?;
        Ok(Self {
            pair: Arc::new(pair),
        })
    }

    /// The key as SEC1 `EC PRIVATE KEY` PEM, with the `prime256v1` curve OID and the public
    /// key included (what `openssl ec`, step and Go write), LF line endings.
    ///
    /// # Errors
    ///
    /// [`PkiError::Encode`] if the key cannot be re-read or encoded (not expected).
    pub fn to_sec1_pem(&self) -> Result<String, PkiError> {
        let encode = |reason: String| PkiError::Encode { reason };
        let secret = p256::SecretKey::from_pkcs8_der(self.pair.serialized_der())
            .map_err(|e| encode(e.to_string()))?;
        let scalar = secret.to_bytes();
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        let der = sec1::EcPrivateKey {
            private_key: &scalar[..],
            parameters: Some(sec1::EcParameters::NamedCurve(p256::NistP256::OID)),
            public_key: Some(point.as_bytes()),
        }
        .to_der()
        .map_err(|e| encode(e.to_string()))?;
        let block = pem::Pem::new("EC PRIVATE KEY", der);
        Ok(pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ))
    }

    /// The public key as an uncompressed SEC1 point.
    pub fn public_key(&self) -> &[u8] {
        self.pair.der_bytes()
    }

    /// Whether this key is the private half of `cert`'s public key.
    pub fn matches(&self, cert: &Certificate) -> bool {
        *cert.key_algorithm() == KeyAlgorithm::EcdsaP256 && cert.public_key() == self.public_key()
    }

    /// The rcgen key pair, for signing.
    pub(super) fn pair(&self) -> &Arc<KeyPair> {
        &self.pair
    }

    fn public_fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.public_key())[..8])
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &"ecdsa-p256")
            .field("public_key_sha256", &self.public_fingerprint())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ecdsa-p256 private key (public key sha256 {}, secret redacted)",
            self.public_fingerprint()
        )
    }
}

fn curve_name(curve: ObjectIdentifier) -> String {
    if curve == P384 {
        "an ECDSA P-384 key".to_owned()
    } else if curve == P521 {
        "an ECDSA P-521 key".to_owned()
    } else {
        format!("an EC key on curve {curve}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any P-256 scalar survives SEC1 → key → SEC1 and PKCS#8 → key unchanged.
        #[test]
        fn sec1_and_pkcs8_round_trip(bytes in proptest::array::uniform32(any::<u8>())) {
            let Ok(secret) = p256::SecretKey::from_slice(&bytes) else {
                // Zero or not below the group order: not a key.
                return Ok(());
            };
            let key = PrivateKey::from_secret(&secret).unwrap();
            let sec1 = key.to_sec1_pem().unwrap();
            let again = PrivateKey::from_pem(&sec1, "sec1").unwrap();
            prop_assert_eq!(again.to_sec1_pem().unwrap(), sec1.clone());
            let reread = p256::SecretKey::from_sec1_pem(&sec1).unwrap();
            prop_assert_eq!(reread.to_bytes(), secret.to_bytes());

            let pkcs8 = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
            let from_pkcs8 = PrivateKey::from_pem(&pkcs8, "pkcs8").unwrap();
            prop_assert_eq!(from_pkcs8.to_sec1_pem().unwrap(), sec1);
        }
    }

    #[test]
    fn sec1_output_names_the_curve_and_reads_back() {
        let key = PrivateKey::generate().unwrap();
        let pem_text = key.to_sec1_pem().unwrap();
        assert!(pem_text.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let block = pem::parse(&pem_text).unwrap();
        let sec1 = sec1::EcPrivateKey::from_der(block.contents()).unwrap();
        assert_eq!(
            sec1.parameters.and_then(|p| p.named_curve()),
            Some(p256::NistP256::OID)
        );
        assert!(sec1.public_key.is_some());

        let again = PrivateKey::from_pem(&pem_text, "test").unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    #[test]
    fn reads_pkcs8_too() {
        let key = PrivateKey::generate().unwrap();
        let pkcs8 = key.pair.serialize_pem();
        assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
        let again = PrivateKey::from_pem(&pkcs8, "test").unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    #[test]
    fn debug_and_display_hide_the_secret() {
        let key = PrivateKey::generate().unwrap();
        let secret = p256::SecretKey::from_pkcs8_der(key.pair.serialized_der()).unwrap();
        let secret_hex = hex::encode(secret.to_bytes());
        for shown in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            assert!(!shown.contains(&secret_hex), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn refuses_rsa_and_other_blocks_by_name() {
        let err = PrivateKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "k.pem",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "private key in k.pem is an RSA key (PKCS#1): only unencrypted ECDSA P-256 keys \
             (SEC1 \"EC PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\") are supported"
        );
        let err = PrivateKey::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "k.pem",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "reading private key from k.pem: a \"CERTIFICATE\" block is not a private key"
        );
    }
}
