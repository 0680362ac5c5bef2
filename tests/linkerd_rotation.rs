//! A whole rotation on the objects of every fixture (bundle, issuer, new root only) with the
//! checks green after each stage, where a later `linkerd upgrade` reads, and the refusals of
//! stages done out of order (issue 5, case 10).

mod linkerd_support;

use linkerd_support::{FIXTURES, NOW, control_plane, issuer, overrides, pod, root};
use runner::linkerd::{
    CheckOptions, ControlPlaneObjects, Era, LinkerdError, PlanOptions, check, detect, plan_anchors,
    plan_issuer, read_trust_anchors, trust_root_sha256,
};
use runner::pki::Bundle;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// Runs the checks with one application pod holding `anchors`, and asserts all is green.
fn assert_green(objects: &ControlPlaneObjects, anchors: &str, stage: &str) {
    let pods = [pod("emojivoto", "web-1", anchors)];
    let options = CheckOptions {
        now: NOW,
        proxy: true,
        namespace: None,
    };
    let report = check(objects, &pods, &options);
    let stale = report.stale_pods.clone();
    assert!(
        report.success() && !report.has_warnings(),
        "{stage}\n{report}"
    );
    assert!(stale.is_empty(), "{stage}: {stale:?}");
}

fn anchors_upgrade_reads(objects: &ControlPlaneObjects, era: Era) -> String {
    match era {
        Era::A => {
            let global = objects.linkerd_config.as_ref().unwrap()["data"]["global"]
                .as_str()
                .unwrap();
            let global: Value = serde_json::from_str(global).unwrap();
            global["identityContext"]["trustAnchorsPem"]
                .as_str()
                .unwrap()
                .to_owned()
        }
        Era::B1 => overrides(objects).unwrap()["global"]["identityTrustAnchorsPEM"]
            .as_str()
            .unwrap()
            .to_owned(),
        _ => overrides(objects).unwrap()["identityTrustAnchorsPEM"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// Every patch touches only the fields it reports: replaces (or adds) under `data`, the
/// annotations or the pod template, and never removes anything.
fn assert_minimal(plan: &runner::linkerd::Plan, file: &str) {
    for change in &plan.changes {
        let ops = serde_json::to_value(change.patch()).unwrap();
        for op in ops.as_array().unwrap() {
            let path = op["path"].as_str().unwrap();
            match op["op"].as_str().unwrap() {
                "test" => assert_eq!(path, "/metadata/resourceVersion"),
                "replace" | "add" => assert!(
                    ["/data/", "/metadata/annotations/", "/spec/template/"]
                        .iter()
                        .any(|p| path.starts_with(p)),
                    "{file}: {} {path}",
                    change.object
                ),
                other => panic!("{file}: {} has a {other} op at {path}", change.object),
            }
        }
        let writes = ops
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["op"] != "test")
            .count();
        assert!(
            writes >= 1 && writes <= change.fields.len(),
            "{file}: {ops}"
        );
    }
}

#[test]
fn full_rotation_on_every_fixture() {
    for (file, _) in FIXTURES {
        let Some(mut objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap();
        let options = PlanOptions::new(NOW);
        let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
        let new_root = root("root.linkerd.cluster.local");
        let new_issuer = issuer(&new_root);
        let issuer_key = new_issuer.key().to_sec1_pem().unwrap();
        let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
        let before = overrides(&objects);

        // Out of order: the issuer of the new root before the bundle is deployed.
        let early = plan_issuer(
            &objects,
            &layout,
            &[new_issuer.cert().clone()],
            &issuer_key,
            &options,
        );
        assert!(
            matches!(early, Err(LinkerdError::Refused { .. })),
            "{file}: {early:?}"
        );

        // Stage 1: the bundle.
        let plan = plan_anchors(&objects, &layout, &bundle, &options).unwrap();
        assert_minimal(&plan, file);
        plan.apply(&mut objects).unwrap();
        let anchors = read_trust_anchors(&objects, &layout).unwrap();
        assert_eq!(anchors.fingerprints, bundle.fingerprints(), "{file}");
        assert!(
            anchors.findings.is_empty(),
            "{file}: {:?}",
            anchors.findings
        );
        assert_eq!(
            anchors_upgrade_reads(&objects, layout.era),
            bundle.to_pem(),
            "{file}"
        );
        if let (Some(before), Some(after)) = (&before, overrides(&objects)) {
            // Everything but the anchors stays as it was, the issuer key included.
            let strip = |mut v: Value| {
                v.as_object_mut().unwrap().remove("identityTrustAnchorsPEM");
                if let Some(g) = v.get_mut("global").and_then(Value::as_object_mut) {
                    g.remove("identityTrustAnchorsPEM");
                }
                v
            };
            assert_eq!(strip(before.clone()), strip(after), "{file}");
        }
        if layout.era == Era::C {
            let hashed = objects
                .deployments
                .iter()
                .filter_map(|d| {
                    d.pointer("/spec/template/metadata/annotations/linkerd.io~1trust-root-sha256")
                })
                .collect::<Vec<_>>();
            assert_eq!(hashed.len(), 3, "{file}");
            assert!(
                hashed
                    .iter()
                    .all(|h| *h == &Value::from(trust_root_sha256(&bundle.to_pem())))
            );
        }
        assert_green(
            &objects,
            &bundle.to_pem(),
            &format!("{file} after the bundle"),
        );

        // Out of order: the new root alone while the old issuer still runs.
        let only_new = Bundle::from_certs([new_root.cert().clone()]).unwrap();
        let early = plan_anchors(&objects, &layout, &only_new, &options);
        assert!(
            matches!(early, Err(LinkerdError::Refused { .. })),
            "{file}: {early:?}"
        );

        // Stage 2: the issuer.
        let plan = plan_issuer(
            &objects,
            &layout,
            &[new_issuer.cert().clone()],
            &issuer_key,
            &options,
        )
        .unwrap();
        assert_minimal(&plan, file);
        plan.apply(&mut objects).unwrap();
        assert_green(
            &objects,
            &bundle.to_pem(),
            &format!("{file} after the issuer"),
        );
        let expiry = new_issuer.cert().not_after().format(&Rfc3339).unwrap();
        let secret = objects.issuer_secret.as_ref().unwrap();
        let annotation = secret.pointer("/metadata/annotations/linkerd.io~1identity-issuer-expiry");
        if layout.era.has_expiry_annotation() {
            assert_eq!(annotation, Some(&Value::from(expiry.as_str())), "{file}");
        } else {
            assert_eq!(annotation, None, "{file}: 2.12 dropped the annotation");
        }
        if let (Some(overrides), true) = (overrides(&objects), layout.era.has_expiry_annotation()) {
            assert_eq!(
                overrides["identity"]["issuer"]["crtExpiry"],
                expiry.as_str(),
                "{file}"
            );
        }
        if let Some(overrides) = overrides(&objects) {
            assert_eq!(
                overrides["identity"]["issuer"]["tls"]["crtPEM"],
                new_issuer.cert().to_pem().as_str()
            );
            assert_eq!(
                overrides["identity"]["issuer"]["tls"]["keyPEM"],
                issuer_key.as_str()
            );
        }

        // Stage 3: the new root only.
        let plan = plan_anchors(&objects, &layout, &only_new, &options).unwrap();
        assert_minimal(&plan, file);
        plan.apply(&mut objects).unwrap();
        assert_green(
            &objects,
            &only_new.to_pem(),
            &format!("{file} after the new root"),
        );
        assert_eq!(
            anchors_upgrade_reads(&objects, layout.era),
            only_new.to_pem(),
            "{file}"
        );

        // The old bundle left in a proxy now shows as stale.
        let pods = [pod("emojivoto", "old-1", &old.to_pem())];
        let options = CheckOptions {
            now: NOW,
            proxy: true,
            namespace: None,
        };
        let stale = check(&objects, &pods, &options).stale_pods;
        assert_eq!(stale.len(), 1, "{file}");
    }
}

#[test]
fn a_plan_patch_tests_the_resource_version() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    objects.linkerd_config.as_mut().unwrap()["metadata"]["resourceVersion"] = "41".into();
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let bundle = Bundle::build(&[root("new").cert().clone()], old.certs()).unwrap();
    let plan = plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW)).unwrap();

    let config = plan
        .changes
        .iter()
        .find(|c| c.object.name == "linkerd-config")
        .unwrap();
    let first = serde_json::to_value(&config.patch().0[0]).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"op": "test", "path": "/metadata/resourceVersion", "value": "41"})
    );

    // Someone else changed the object since: the patch no longer applies.
    objects.linkerd_config.as_mut().unwrap()["metadata"]["resourceVersion"] = "42".into();
    assert!(matches!(
        plan.apply(&mut objects),
        Err(LinkerdError::Patch { .. })
    ));
}

/// What the plans write is read by OpenSSL as Linkerd's Go code would read it: the issuer in
/// the Secret verifies against the bundle in the config map, and the key is a valid EC key.
#[test]
fn openssl_reads_what_the_plans_write() {
    use linkerd_support::{has_openssl, openssl, secret_text};
    if !has_openssl() {
        eprintln!("skipping: openssl is not installed");
        return;
    }
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let options = PlanOptions::new(now);
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let new_root = root("root.linkerd.cluster.local");
    let new_issuer = issuer(&new_root);
    let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
    plan_anchors(&objects, &layout, &bundle, &options)
        .unwrap()
        .apply(&mut objects)
        .unwrap();
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let certs = [new_issuer.cert().clone()];
    plan_issuer(&objects, &layout, &certs, &key, &options)
        .unwrap()
        .apply(&mut objects)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cm = objects.trust_roots.as_ref().unwrap()["data"]["ca-bundle.crt"]
        .as_str()
        .unwrap();
    let secret = objects.issuer_secret.as_ref().unwrap();
    std::fs::write(dir.path().join("bundle.crt"), cm).unwrap();
    std::fs::write(
        dir.path().join("issuer.crt"),
        secret_text(secret, "crt.pem"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("issuer.key"),
        secret_text(secret, "key.pem"),
    )
    .unwrap();
    openssl(
        dir.path(),
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            "bundle.crt",
            "issuer.crt",
        ],
    );
    openssl(dir.path(), &["ec", "-check", "-noout", "-in", "issuer.key"]);
}
