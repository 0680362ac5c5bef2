//! Shared by the `linkerd_*` tests: the fixture manifests (skipped with a message when the
//! folder is absent, DESIGN §7), certificates made for a test, and a fixed "now".

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use runner::linkerd::{ControlPlaneObjects, PlanOptions, detect, plan_anchors, read_trust_anchors};
use runner::pki::Bundle;
use runner::pki::{CertRequest, CertifiedKey, Profile, generate};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

/// Inside the validity of every fixture's anchors and issuer.
pub const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

pub const FIXTURES: [(&str, &str); 6] = [
    ("install-stable-2.7.0.yaml", "2.7-2.8"),
    ("install-stable-2.9.0.yaml", "2.9"),
    ("install-stable-2.10.0.yaml", "2.10"),
    ("install-stable-2.11.0.yaml", "2.11"),
    ("install-stable-2.12.0.yaml", "2.12+"),
    ("install-edge-26.8.3.yaml", "2.12+"),
];

fn fixture_dir() -> PathBuf {
    std::env::var_os("RUNNER_LINKERD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/fixtures/linkerd"))
}

/// The text of fixture `file`, or `None` (after saying so) without the folder.
pub fn fixture_text(file: &str) -> Option<String> {
    let path = fixture_dir().join(file);
    if !path.exists() {
        eprintln!("skipping: fixture {} is absent", path.display());
        return None;
    }
    Some(std::fs::read_to_string(&path).expect("fixture is readable"))
}

/// Every multi-document manifest of `file`, or `None` (after saying so) without the folder.
pub fn manifests(file: &str) -> Option<Vec<Value>> {
    let text = fixture_text(file)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("fixture is YAML");
    Some(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The control plane of `file`, or `None` without the fixtures.
pub fn control_plane(file: &str) -> Option<ControlPlaneObjects> {
    let docs = manifests(file)?;
    Some(ControlPlaneObjects::from_manifests(&docs, "linkerd"))
}

pub fn root(cn: &str) -> CertifiedKey {
    let mut request = CertRequest::new(Profile::RootCa, cn);
    request.not_before = Some(datetime!(2025-01-01 00:00 UTC));
    generate(&request, None).expect("root is generated")
}

pub fn issuer(signer: &CertifiedKey) -> CertifiedKey {
    let mut request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    request.not_before = Some(datetime!(2025-01-01 00:00 UTC));
    generate(&request, Some(signer)).expect("issuer is generated")
}

pub fn has_openssl() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr on failure.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A meshed pod whose proxy holds `anchors` inline, as the injector renders it.
pub fn pod(namespace: &str, name: &str, anchors: &str) -> Value {
    serde_json::json!({
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"linkerd.io/control-plane-ns": "linkerd"},
        },
        "spec": {"containers": [
            {"name": "app"},
            {"name": "linkerd-proxy", "env": [
                {"name": "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "value": anchors},
            ]},
        ]},
    })
}

/// Decoded YAML of the overrides Secret, or `None` when there is none.
pub fn overrides(objects: &ControlPlaneObjects) -> Option<Value> {
    use base64::Engine as _;
    let encoded = objects
        .overrides
        .as_ref()?
        .pointer("/data/linkerd-config-overrides")?
        .as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    serde_saphyr::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}

/// A Secret's data entry, decoded.
pub fn secret_text(secret: &Value, key: &str) -> String {
    use base64::Engine as _;
    let encoded = secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

/// The 2.7 fixture with anchors `[new, fixture root]` deployed, and the new root.
pub fn era_a_with_new_root() -> Option<(ControlPlaneObjects, CertifiedKey)> {
    let mut objects = control_plane("install-stable-2.7.0.yaml")?;
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let new_root = root("root.linkerd.cluster.local");
    let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
    plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW))
        .unwrap()
        .apply(&mut objects)
        .unwrap();
    Some((objects, new_root))
}
