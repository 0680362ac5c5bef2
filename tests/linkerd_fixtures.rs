//! Detection, anchor reading and the identity checks on every `linkerd install` fixture.

mod linkerd_support;

use linkerd_support::{FIXTURES, NOW, control_plane};
use runner::linkerd::{CheckOptions, Era, IssuerScheme, check, detect, read_trust_anchors};

#[test]
fn detects_the_era_of_every_fixture() {
    for (file, era) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(layout.era.releases(), era, "{file}");
        assert_eq!(layout.scheme, IssuerScheme::LinkerdTls, "{file}");
        assert!(!layout.external_ca, "{file}");
        assert!(!layout.helm_managed(), "{file}: {:?}", layout.helm_evidence);
        assert_eq!(layout.namespace, "linkerd");
        assert_eq!(layout.trust_domain, "cluster.local");
    }
}

#[test]
fn reads_consistent_anchors_from_every_fixture() {
    for (file, _) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap();
        let anchors = read_trust_anchors(&objects, &layout).unwrap();
        assert_eq!(anchors.bundle.len(), 1, "{file}");
        assert!(anchors.consistent(), "{file}: {:?}", anchors.findings);
        eprintln!(
            "{file}: {} copies, findings {:?}",
            anchors.copies.len(),
            anchors.findings
        );
        let expected_copies = match layout.era {
            Era::A => 1 + 9,
            Era::B1 => 2 + 1 + 9,
            Era::B2 => 2 + 1 + 5,
            Era::C0 | Era::C => 3,
        };
        assert_eq!(anchors.copies.len(), expected_copies, "{file}");
    }
}

#[test]
fn identity_checks_are_green_on_every_fixture() {
    for (file, _) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let options = CheckOptions {
            now: NOW,
            proxy: true,
            namespace: None,
        };
        let report = check(&objects, &[], &options);
        let stale = report.stale_pods.clone();
        eprintln!("{file}\n{report}");
        assert!(report.success(), "{file}\n{report}");
        assert!(!report.has_warnings(), "{file}\n{report}");
        assert_eq!(report.checks().count(), 9, "{file}");
        assert!(stale.is_empty());
    }
}

/// Rewriting the anchors inside `values` changes nothing else of the values tree.
#[test]
fn values_keep_every_other_setting_through_an_anchors_plan() {
    use runner::linkerd::{PlanOptions, plan_anchors};
    use runner::pki::Bundle;
    use serde_json::Value;

    let values = |objects: &runner::linkerd::ControlPlaneObjects| -> Value {
        let text = objects.linkerd_config.as_ref().unwrap()["data"]["values"]
            .as_str()
            .unwrap();
        let options =
            serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true };
        let mut tree: Value = serde_saphyr::from_str_with_options(text, options).unwrap();
        tree.as_object_mut()
            .unwrap()
            .remove("identityTrustAnchorsPEM");
        if let Some(global) = tree.get_mut("global").and_then(Value::as_object_mut) {
            global.remove("identityTrustAnchorsPEM");
        }
        tree
    };
    for (file, _) in &FIXTURES[1..] {
        let Some(mut objects) = control_plane(file) else {
            return;
        };
        let before = values(&objects);
        let layout = detect(&objects).unwrap();
        let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
        let new_root = linkerd_support::root("root.linkerd.cluster.local");
        let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
        plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW))
            .unwrap()
            .apply(&mut objects)
            .unwrap();
        assert_eq!(values(&objects), before, "{file}");
    }
}

/// The 2.12 golden's pod-template hash is our hash of its values anchors string.
#[test]
fn the_trust_root_hash_matches_what_the_chart_renders() {
    use runner::linkerd::trust_root_sha256;
    for file in ["install-stable-2.12.0.yaml", "install-edge-26.8.3.yaml"] {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap();
        let values = read_trust_anchors(&objects, &layout)
            .unwrap()
            .copies
            .into_iter()
            .find(|c| c.location.to_string().contains("data.values"))
            .unwrap();
        assert!(values.canonical, "{file}");
        let identity = objects.deployment("linkerd-identity").unwrap();
        let rendered = identity
            .pointer("/spec/template/metadata/annotations/linkerd.io~1trust-root-sha256")
            .and_then(serde_json::Value::as_str)
            .unwrap();
        let text = objects.linkerd_config.as_ref().unwrap()["data"]["values"]
            .as_str()
            .unwrap();
        let tree: serde_json::Value = serde_saphyr::from_str(text).unwrap();
        let anchors = tree["identityTrustAnchorsPEM"].as_str().unwrap();
        assert_eq!(trust_root_sha256(anchors), rendered, "{file}");
    }
}
