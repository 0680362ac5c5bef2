//! Interoperability with certificates and keys Linkerd itself wrote: the identity objects of
//! real `linkerd install` goldens (`../shared/fixtures/linkerd/`, see its README). Each test
//! says so and passes when that folder is absent.

use std::path::PathBuf;

use base64::Engine as _;
use runner::pki::{
    Bundle, CertRequest, Certificate, CertifiedKey, PrivateKey, Profile, VerifyError, generate,
    verify_chain,
};
use serde_json::Value;
use time::macros::datetime;

fn fixture(name: &str) -> Option<Vec<Value>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/linkerd")
        .join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: fixture {} is not available", path.display());
        return None;
    };
    Some(serde_saphyr::from_multiple::<Value>(&text).expect("fixture parses as YAML"))
}

fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in fixture"))
}

/// The issuer certificate and key PEM from `Secret/linkerd-identity-issuer`.
fn issuer_secret(docs: &[Value]) -> (String, String) {
    let data = &object(docs, "Secret", "linkerd-identity-issuer")["data"];
    let decode = |key: &str| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data[key].as_str().unwrap())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    };
    (decode("crt.pem"), decode("key.pem"))
}

#[test]
fn stable_2_12_identity_objects_read_verify_and_sign() {
    let Some(docs) = fixture("install-stable-2.12.0.yaml") else {
        return;
    };
    let anchors_pem =
        object(&docs, "ConfigMap", "linkerd-identity-trust-roots")["data"]["ca-bundle.crt"]
            .as_str()
            .unwrap();
    let anchors = Bundle::parse(anchors_pem, "ca-bundle.crt").unwrap();
    // What Linkerd wrote is already in our canonical form, byte for byte.
    assert_eq!(anchors.to_pem(), anchors_pem);
    let anchor = &anchors.certs()[0];
    assert_eq!(anchor.subject(), "CN=identity.linkerd.cluster.local");
    assert_eq!(anchor.path_len(), Some(1));
    assert_eq!(anchor.key_algorithm().to_string(), "ecdsa-p256");
    assert_eq!(anchor.dns_sans(), ["identity.linkerd.cluster.local"]);

    let (crt_pem, key_pem) = issuer_secret(&docs);
    let issuer = Certificate::from_pem(&crt_pem, "crt.pem").unwrap();
    assert_eq!(issuer.path_len(), Some(0));
    let in_2025 = datetime!(2025-01-01 00:00 UTC);
    let chain = verify_chain(&issuer, &[], anchors.certs(), in_2025).unwrap();
    assert_eq!(chain.len(), 2);
    let err = verify_chain(
        &issuer,
        &[],
        anchors.certs(),
        datetime!(2031-01-01 00:00 UTC),
    );
    assert!(
        matches!(err, Err(VerifyError::NotValidAt { .. })),
        "{err:?}"
    );

    // Go's SEC1 encoding and ours are the same bytes.
    let key = PrivateKey::from_pem(&key_pem, "key.pem").unwrap();
    assert!(key.matches(&issuer));
    assert_eq!(key.to_sec1_pem().unwrap().trim_end(), key_pem.trim_end());

    // The fixture issuer signs leaves that chain to the fixture anchor.
    let ca = CertifiedKey::from_pem(&crt_pem, &key_pem, "linkerd-identity-issuer").unwrap();
    assert_eq!(*ca.cert(), issuer);
    let mut request = CertRequest::new(
        Profile::Leaf,
        "web.emojivoto.serviceaccount.identity.linkerd.cluster.local",
    );
    request.not_before = Some(in_2025);
    let leaf = generate(&request, Some(&ca)).unwrap();
    let chain = verify_chain(leaf.cert(), &[issuer], anchors.certs(), in_2025).unwrap();
    assert_eq!(chain.len(), 3);
}

#[test]
fn stable_2_7_anchor_and_issuer_without_path_length() {
    let Some(docs) = fixture("install-stable-2.7.0.yaml") else {
        return;
    };
    let global = object(&docs, "ConfigMap", "linkerd-config")["data"]["global"]
        .as_str()
        .unwrap();
    let global: Value = serde_json::from_str(global).unwrap();
    let anchors_pem = global["identityContext"]["trustAnchorsPem"]
        .as_str()
        .unwrap();
    let anchors = Bundle::parse(anchors_pem, "trustAnchorsPem").unwrap();
    assert_eq!(anchors.certs()[0].subject(), "CN=cluster.local");

    let (crt_pem, key_pem) = issuer_secret(&docs);
    let issuer = Certificate::from_pem(&crt_pem, "crt.pem").unwrap();
    assert!(issuer.is_ca());
    assert_eq!(issuer.path_len(), None);
    assert!(issuer.dns_sans().is_empty());
    let at = datetime!(2025-01-01 00:00 UTC);
    verify_chain(&issuer, &[], anchors.certs(), at).unwrap();
    let key = PrivateKey::from_pem(&key_pem, "key.pem").unwrap();
    assert!(key.matches(&issuer));
}
