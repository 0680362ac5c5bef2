//! Issue 5 case 10: for every built-in scenario and every fixture manifest, deploying a bundle
//! with `upgrade` leaves Linkerd's own rules (our `check`) passing, and every place a later
//! `linkerd upgrade` reads (the overrides Secret, `global` JSON, `values`, the trust-roots
//! config map, inline env) holds exactly the new bundle's bytes.

mod identity_support;

use std::path::Path;

use identity_support::{Harness, root};
use runner::linkerd::{anchor_locations, detect};
use serde_json::json;

const FIXTURES: [&str; 6] = [
    "install-stable-2.7.0.yaml",
    "install-stable-2.9.0.yaml",
    "install-stable-2.10.0.yaml",
    "install-stable-2.11.0.yaml",
    "install-stable-2.12.0.yaml",
    "install-edge-26.8.3.yaml",
];

/// Deploys `[new root, current anchors]` and checks; `allow_helm` where the install is
/// Helm-managed, after making sure that without it the change is refused.
async fn deploy_and_check(h: &Harness, what: &str) {
    let new = root("root.linkerd.cluster.local");
    let (crt, _) = h.ca_files("new-root", &new);
    let helm = h.run("layout().helm", false).await;
    let helm = helm.error.is_none() && helm.outputs() == &json!(true);
    let body = |allow: bool| {
        format!(
            r#"
            let both = bundle(load_cert("{}"), read_trust_anchors().certs);
            let r = upgrade(#{{ trust_anchors: both, allow_helm: {allow} }});
            let c = check();
            let a = read_trust_anchors();
            #{{ pem: both.pem, changed: r.changed.len(), success: c.success,
               failed: c.checks.filter(|x| x.status == "error").map(|x| x.description),
               consistent: a.consistent, findings: a.findings.map(|f| `${{f.place}}: ${{f.message}}`),
               first: a.fingerprints[0] }}
            "#,
            crt.display()
        )
    };
    if helm {
        let refused = h.run(&body(false), false).await;
        assert!(
            refused.failed().contains("helm upgrade"),
            "{what}: {}",
            refused.failed()
        );
    }
    let ran = h.run(&body(helm), false).await.ok();
    let out = ran.outputs();
    assert_eq!(out["success"], json!(true), "{what}: {}", ran.text);
    assert_eq!(out["failed"], json!([]), "{what}: {}", ran.text);
    // An external issuer's `ca.crt` belongs to cert-manager: it keeps the old root until
    // cert-manager renews, and says so as a finding; every other copy agrees.
    let others: Vec<&str> = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .filter(|f| !f.contains("data.ca.crt"))
        .collect();
    assert_eq!(others, Vec::<&str>::new(), "{what}: {out}");
    if name_is_external(what) {
        assert_eq!(out["consistent"], json!(false), "{what}: {out}");
    } else {
        assert_eq!(out["consistent"], json!(true), "{what}: {out}");
    }
    assert_eq!(out["first"], json!(new.cert().fingerprint()), "{what}");
    assert!(out["changed"].as_i64().unwrap() >= 1, "{what}");

    let pem = out["pem"].as_str().unwrap();
    let objects = h.objects().await;
    let layout = detect(&objects).unwrap();
    let places = anchor_locations(&objects, &layout);
    assert!(!places.is_empty(), "{what}");
    for place in places {
        let text = place.read(&objects).unwrap();
        assert_eq!(text.as_deref(), Some(pem), "{what}: {place}");
    }
}

fn name_is_external(what: &str) -> bool {
    what == "external-issuer"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_10_every_scenario_takes_a_new_bundle_and_passes_its_checks() {
    for name in runner::sim::scenarios::NAMES {
        let h = Harness::scenario(name).await;
        deploy_and_check(&h, name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_10_every_fixture_manifest_takes_a_new_bundle_and_passes_its_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/linkerd");
    if !dir.is_dir() {
        eprintln!("skipping: the fixture folder {} is missing", dir.display());
        return;
    }
    for file in FIXTURES {
        let h = Harness::manifest(&dir.join(file)).await;
        deploy_and_check(&h, file).await;
    }
}
