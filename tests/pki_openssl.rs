//! Generated certificates and keys checked by the `openssl` CLI, and certificates made by
//! `openssl` (P-384, RSA) read back. Each test says so and passes when `openssl` is missing.

use std::path::Path;
use std::process::Command;

use runner::pki::{
    CertRequest, Certificate, CertifiedKey, KeyAlgorithm, PkiError, PrivateKey, Profile,
    SignatureAlgorithm, Validity, generate,
};

const CN: &str = "identity.linkerd.cluster.local";

fn openssl_available() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("skipped: openssl is not installed");
    }
    found
}

/// Runs openssl in `dir` with whitespace-separated `args`; returns stdout+stderr and asserts
/// success.
fn openssl(dir: &Path, args: &str) -> String {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("running openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

fn root_and_issuer(dir: &Path) -> (CertifiedKey, CertifiedKey) {
    let root = generate(&CertRequest::new(Profile::RootCa, CN), None)
        .unwrap()
        .write(dir, "root", false)
        .unwrap();
    let mut request = CertRequest::new(Profile::IntermediateCa, CN);
    request.not_after = Some(Validity::For(time::Duration::hours(8760)));
    let issuer = generate(&request, Some(&root))
        .unwrap()
        .write(dir, "issuer", false)
        .unwrap();
    (root, issuer)
}

#[test]
fn openssl_verifies_the_issuer_against_the_root_strictly() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    root_and_issuer(dir.path());

    let plain = openssl(dir.path(), "verify -CAfile root.crt issuer.crt");
    assert!(plain.contains("issuer.crt: OK"), "{plain}");
    let strict = openssl(
        dir.path(),
        "verify -x509_strict -CAfile root.crt issuer.crt",
    );
    assert!(strict.contains("issuer.crt: OK"), "{strict}");
}

#[test]
fn extensions_match_the_step_profiles() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    root_and_issuer(dir.path());

    let root = openssl(dir.path(), "x509 -in root.crt -noout -text");
    let issuer = openssl(dir.path(), "x509 -in issuer.crt -noout -text");
    for text in [&root, &issuer] {
        assert!(
            text.contains("Signature Algorithm: ecdsa-with-SHA256"),
            "{text}"
        );
        assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
        assert!(text.contains("NIST CURVE: P-256"), "{text}");
        assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
        assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
        assert!(
            text.contains("X509v3 Basic Constraints: critical"),
            "{text}"
        );
        assert!(text.contains(&format!("Subject: CN = {CN}")), "{text}");
        assert!(!text.contains("Extended Key Usage"), "{text}");
    }
    assert!(root.contains("CA:TRUE, pathlen:1"), "{root}");
    assert!(issuer.contains("CA:TRUE, pathlen:0"), "{issuer}");
    assert!(
        issuer.contains("X509v3 Authority Key Identifier"),
        "{issuer}"
    );
}

#[test]
fn key_file_is_a_valid_sec1_p256_key_with_mode_0600() {
    if !openssl_available() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    root_and_issuer(dir.path());

    let key_text = std::fs::read_to_string(dir.path().join("issuer.key")).unwrap();
    assert!(
        key_text.starts_with("-----BEGIN EC PRIVATE KEY-----\n"),
        "not SEC1"
    );
    let mode = std::fs::metadata(dir.path().join("issuer.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let check = openssl(dir.path(), "ec -in issuer.key -check -noout");
    assert!(check.contains("EC Key valid"), "{check}");
    // Go's x509.ParseECPrivateKey needs the curve inside the SEC1 structure.
    let asn1 = openssl(dir.path(), "asn1parse -in issuer.key");
    assert!(asn1.contains("prime256v1"), "{asn1}");
}

#[test]
fn exclusive_create_refuses_existing_files_and_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = generate(&CertRequest::new(Profile::RootCa, CN), None).unwrap();
    std::fs::write(dir.path().join("root.crt"), "keep me").unwrap();

    let err = root.write(dir.path(), "root", false).unwrap_err();
    assert!(matches!(err, PkiError::FileExists { .. }), "{err:?}");
    assert!(err.to_string().contains("root.crt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("root.crt")).unwrap(),
        "keep me"
    );
    assert!(!dir.path().join("root.key").exists(), "no half-done write");

    let written = root.write(dir.path(), "root", true).unwrap();
    assert_eq!(
        written.key_path(),
        Some(dir.path().join("root.key").as_path())
    );
}

#[test]
fn openssl_made_p384_p521_and_rsa_certificates_report_their_algorithms() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let self_signed = |key: &str, name: &str, digest: &str| {
        let args = format!(
            "req -x509 -newkey {key} -nodes -keyout {name}.key -out {name}.crt \
             -subj /CN=other-algorithms -days 1 -{digest}"
        );
        openssl(dir.path(), &args);
    };
    self_signed("ec -pkeyopt ec_paramgen_curve:P-384", "p384", "sha384");
    self_signed("ec -pkeyopt ec_paramgen_curve:P-521", "p521", "sha512");
    self_signed("rsa:2048", "rsa", "sha256");
    let read = |name: &str| {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        Certificate::from_pem(&text, name).unwrap()
    };

    let p384 = read("p384.crt");
    assert_eq!(*p384.key_algorithm(), KeyAlgorithm::EcdsaP384);
    assert_eq!(p384.key_algorithm().to_string(), "ecdsa-p384");
    assert_eq!(*p384.signature_algorithm(), SignatureAlgorithm::EcdsaSha384);
    assert!(p384.is_signed_by(&p384));

    let rsa = read("rsa.crt");
    assert_eq!(rsa.key_algorithm().to_string(), "rsa-2048");
    assert_eq!(rsa.signature_algorithm().to_string(), "SHA256-RSA");
    assert!(rsa.is_signed_by(&rsa));
    assert!(!rsa.is_signed_by(&p384));

    // ring cannot verify P-521, so such a signature never counts as valid.
    let p521 = read("p521.crt");
    assert_eq!(p521.key_algorithm().to_string(), "ecdsa-p521");
    assert_eq!(p521.signature_algorithm().to_string(), "ECDSA-SHA512");
    assert!(!p521.is_signed_by(&p521));

    // Their keys are refused with the reason, not a parse failure.
    let keys = [
        ("p384.key", "an ECDSA P-384 key"),
        ("p521.key", "an ECDSA P-521 key"),
        ("rsa.key", "an RSA key"),
    ];
    for (name, kind) in keys {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let err = PrivateKey::from_pem(&text, name).unwrap_err();
        assert!(err.to_string().contains(kind), "{err}");
    }
}

#[test]
fn openssl_made_p256_keys_sign_in_both_formats() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    openssl(dir.path(), "ecparam -name prime256v1 -genkey -out sec1.key");
    // Without -noout, openssl writes an "EC PARAMETERS" block before the key.
    let sec1 = std::fs::read_to_string(dir.path().join("sec1.key")).unwrap();
    assert!(sec1.contains("BEGIN EC PARAMETERS") && sec1.contains("BEGIN EC PRIVATE KEY"));
    openssl(
        dir.path(),
        "pkcs8 -topk8 -nocrypt -in sec1.key -out pkcs8.key",
    );
    openssl(
        dir.path(),
        "req -x509 -new -key sec1.key -out ca.crt -subj /CN=openssl-root -days 30 \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    );

    for key in ["sec1.key", "pkcs8.key"] {
        let ca = CertifiedKey::load(&dir.path().join("ca.crt"), &dir.path().join(key)).unwrap();
        let issuer = generate(&CertRequest::new(Profile::IntermediateCa, CN), Some(&ca))
            .unwrap()
            .write(dir.path(), &format!("issuer-{key}"), false)
            .unwrap();
        let issuer_file = format!("issuer-{key}.crt");
        let out = openssl(
            dir.path(),
            &format!("verify -x509_strict -CAfile ca.crt {issuer_file}"),
        );
        assert!(out.contains(": OK"), "{out}");
        assert!(issuer.cert().is_signed_by(ca.cert()));
    }
}
