//! Layout variants built by editing a fixture's objects: Helm-managed installs, an external
//! issuer, pre-2.8 wording, and shapes that are unknown or contradictory.

mod linkerd_support;

use linkerd_support::{NOW, control_plane, issuer, root};
use runner::linkerd::{
    CheckOptions, ControlPlaneObjects, IssuerScheme, LinkerdError, PlanOptions, check, detect,
    plan_anchors, plan_issuer, read_trust_anchors,
};
use runner::pki::Bundle;
use serde_json::Value;

fn grown_bundle(objects: &ControlPlaneObjects) -> Bundle {
    let layout = detect(objects).unwrap();
    let old = read_trust_anchors(objects, &layout).unwrap().bundle;
    Bundle::build(
        &[root("root.linkerd.cluster.local").cert().clone()],
        old.certs(),
    )
    .unwrap()
}

#[test]
fn helm_installs_are_refused_unless_the_caller_opts_in() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    objects.overrides = None;
    let label = serde_json::json!({"app.kubernetes.io/managed-by": "Helm"});
    objects.linkerd_config.as_mut().unwrap()["metadata"]["labels"] = label;
    let layout = detect(&objects).unwrap();
    assert!(layout.helm_managed());
    assert_eq!(layout.helm_evidence.len(), 2, "{:?}", layout.helm_evidence);
    assert!(
        layout.to_string().contains("installed by:   helm"),
        "{layout}"
    );

    let bundle = grown_bundle(&objects);
    let refused = plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW)).unwrap_err();
    let message = refused.to_string();
    assert!(message.contains("next `helm upgrade`"), "{message}");
    assert!(message.contains("set identityTrustAnchorsPEM"), "{message}");
    assert!(message.contains("identity.issuer.tls.keyPEM"), "{message}");

    let options = PlanOptions {
        allow_helm: true,
        now: NOW,
    };
    let plan = plan_anchors(&objects, &layout, &bundle, &options).unwrap();
    assert!(plan.notes.iter().any(|n| n.contains("helm upgrade")));
    assert!(
        plan.changes
            .iter()
            .all(|c| c.object.name != "linkerd-config-overrides")
    );
}

#[test]
fn era_a_helm_install_is_told_by_its_labels_and_names_2_8_values() {
    let Some(mut objects) = control_plane("install-stable-2.7.0.yaml") else {
        return;
    };
    assert!(
        !detect(&objects).unwrap().helm_managed(),
        "the CLI render has no overrides either"
    );
    let annotation = serde_json::json!({"meta.helm.sh/release-name": "linkerd2"});
    objects.issuer_secret.as_mut().unwrap()["metadata"]["annotations"] = annotation;
    let layout = detect(&objects).unwrap();
    assert!(layout.helm_managed());
    let refused = plan_anchors(
        &objects,
        &layout,
        &grown_bundle(&objects),
        &PlanOptions::new(NOW),
    );
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("global.identityTrustAnchorsPEM"),
        "{message}"
    );
    assert!(message.contains("identity.issuer.crtExpiry"), "{message}");
}

/// The 2.12 fixture turned into a cert-manager install: scheme `kubernetes.io/tls`, and the
/// issuer Secret with `tls.crt`, `tls.key` and `ca.crt`.
fn external_issuer() -> Option<ControlPlaneObjects> {
    let mut objects = control_plane("install-stable-2.12.0.yaml")?;
    let config = objects.linkerd_config.as_mut().unwrap();
    let values = config["data"]["values"]
        .as_str()
        .unwrap()
        .replace("scheme: linkerd.io/tls", "scheme: kubernetes.io/tls");
    config["data"]["values"] = values.into();
    let secret = objects.issuer_secret.as_mut().unwrap();
    let data = secret["data"].as_object_mut().unwrap();
    let crt = data.remove("crt.pem").unwrap();
    let key = data.remove("key.pem").unwrap();
    let ca = objects.trust_roots.as_ref().unwrap()["data"]["ca-bundle.crt"]
        .as_str()
        .unwrap();
    let ca = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(ca)
    };
    let data = objects.issuer_secret.as_mut().unwrap()["data"]
        .as_object_mut()
        .unwrap();
    data.insert("tls.crt".into(), crt);
    data.insert("tls.key".into(), key);
    data.insert("ca.crt".into(), Value::String(ca));
    Some(objects)
}

#[test]
fn external_issuer_is_detected_checked_from_ca_crt_and_never_rotated_natively() {
    let Some(objects) = external_issuer() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    assert_eq!(layout.scheme, IssuerScheme::KubernetesTls);

    let anchors = read_trust_anchors(&objects, &layout).unwrap();
    assert!(
        anchors
            .copies
            .iter()
            .any(|c| c.location.to_string().ends_with("data.ca.crt"))
    );
    assert!(anchors.consistent(), "{:?}", anchors.findings);

    let options = CheckOptions {
        now: NOW,
        proxy: false,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    assert!(report.success(), "{report}");

    let new_root = root("root.linkerd.cluster.local");
    let new_issuer = issuer(&new_root);
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let refused = plan_issuer(
        &objects,
        &layout,
        &[new_issuer.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("cert-manager"), "{message}");

    let plan = plan_anchors(
        &objects,
        &layout,
        &grown_bundle(&objects),
        &PlanOptions::new(NOW),
    )
    .unwrap();
    assert!(plan.notes.iter().any(|n| n.contains("ca.crt")), "{plan}");
}

#[test]
fn external_ca_is_detected_from_values() {
    let Some(mut objects) = control_plane("install-stable-2.11.0.yaml") else {
        return;
    };
    let config = objects.linkerd_config.as_mut().unwrap();
    let values = config["data"]["values"]
        .as_str()
        .unwrap()
        .replace("externalCA: false", "externalCA: true");
    config["data"]["values"] = values.into();
    let layout = detect(&objects).unwrap();
    assert!(layout.external_ca);
    let plan = plan_anchors(
        &objects,
        &layout,
        &grown_bundle(&objects),
        &PlanOptions::new(NOW),
    )
    .unwrap();
    assert!(
        plan.notes.iter().any(|n| n.contains("trust-manager")),
        "{plan}"
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("restart the linkerd-identity")),
        "{plan}"
    );
}

#[test]
fn a_2_7_install_gets_the_trust_roots_wording() {
    let Some(mut objects) = control_plane("install-stable-2.7.0.yaml") else {
        return;
    };
    let created_by = "linkerd/cli stable-2.7.0";
    objects.linkerd_config.as_mut().unwrap()["metadata"]["annotations"]["linkerd.io/created-by"] =
        created_by.into();
    let layout = detect(&objects).unwrap();
    assert!(layout.legacy_wording);
    let options = CheckOptions {
        now: NOW,
        proxy: false,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    let names: Vec<&str> = report.checks().map(|c| c.description.as_str()).collect();
    assert!(
        names.contains(&"trust roots are using supported crypto algorithm"),
        "{names:?}"
    );
    assert!(
        names.contains(&"issuer cert is issued by the trust root"),
        "{names:?}"
    );
}

#[test]
fn unknown_and_contradictory_shapes_are_errors_naming_the_object() {
    let Some(pristine) = control_plane("install-stable-2.10.0.yaml") else {
        return;
    };

    let mut objects = pristine.clone();
    objects.linkerd_config = None;
    let e = detect(&objects).unwrap_err();
    assert!(matches!(e, LinkerdError::MissingObject { .. }));
    assert!(
        e.to_string()
            .starts_with("configmap linkerd/linkerd-config is missing"),
        "{e}"
    );

    let mut objects = pristine.clone();
    objects.linkerd_config.as_mut().unwrap()["data"]["global"] = "{}".into();
    let e = detect(&objects).unwrap_err();
    assert!(matches!(e, LinkerdError::Contradiction { .. }), "{e}");
    assert!(e.to_string().contains("both `global`"), "{e}");

    let mut objects = pristine.clone();
    objects.issuer_secret = None;
    let e = detect(&objects).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("secret linkerd/linkerd-identity-issuer is missing"),
        "{e}"
    );

    let mut objects = pristine;
    let config = objects.linkerd_config.as_mut().unwrap();
    let values = config["data"]["values"]
        .as_str()
        .unwrap()
        .replace("scheme: linkerd.io/tls", "scheme: vault");
    config["data"]["values"] = values.into();
    let e = detect(&objects).unwrap_err();
    assert!(e.to_string().contains("\"vault\" is neither"), "{e}");

    // A failed detection is the fatal first check: nothing after it runs.
    let options = CheckOptions {
        now: NOW,
        proxy: true,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    assert_eq!(report.checks().count(), 1);
    assert!(report.stopped());
}

#[test]
fn the_recorded_cli_version_tells_2_7_from_2_8() {
    let Some(mut objects) = control_plane("install-stable-2.7.0.yaml") else {
        return;
    };
    assert!(
        !detect(&objects).unwrap().legacy_wording,
        "dev-undefined is taken as 2.8"
    );
    let install = r#"{"cliVersion":"stable-2.7.1","flags":[]}"#;
    objects.linkerd_config.as_mut().unwrap()["data"]["install"] = install.into();
    assert!(detect(&objects).unwrap().legacy_wording);
}

#[test]
fn a_missing_trust_roots_config_map_is_a_finding() {
    use runner::linkerd::FindingKind;
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    objects.trust_roots = None;
    let layout = detect(&objects).unwrap();
    assert_eq!(
        layout.era.releases(),
        "2.12+",
        "the hash annotation still tells the era"
    );
    let anchors = read_trust_anchors(&objects, &layout).unwrap();
    assert!(
        anchors.source.to_string().contains("data.values"),
        "{}",
        anchors.source
    );
    let missing: Vec<_> = anchors
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Missing)
        .collect();
    assert_eq!(missing.len(), 1, "{:?}", anchors.findings);
    assert_eq!(
        missing[0].location,
        "configmap linkerd/linkerd-identity-trust-roots"
    );
}

#[test]
fn the_control_plane_namespace_is_configurable() {
    let Some(mut docs) = linkerd_support::manifests("install-stable-2.12.0.yaml") else {
        return;
    };
    for doc in &mut docs {
        if doc.pointer("/metadata/namespace") == Some(&Value::from("linkerd")) {
            doc["metadata"]["namespace"] = "mesh".into();
        }
    }
    assert!(
        ControlPlaneObjects::from_manifests(&docs, "linkerd")
            .linkerd_config
            .is_none()
    );
    let objects = ControlPlaneObjects::from_manifests(&docs, "mesh");
    let layout = detect(&objects).unwrap();
    assert_eq!(layout.namespace, "mesh");
    assert_eq!(layout.issuer_dns_name(), "identity.mesh.cluster.local");

    let plan = plan_anchors(
        &objects,
        &layout,
        &grown_bundle(&objects),
        &PlanOptions::new(NOW),
    )
    .unwrap();
    assert!(!plan.changes.is_empty());
    assert!(
        plan.changes.iter().all(|c| c.object.namespace == "mesh"),
        "{plan}"
    );
    let mut objects = objects;
    plan.apply(&mut objects).unwrap();
    let options = CheckOptions {
        now: NOW,
        proxy: false,
        namespace: None,
    };
    assert!(check(&objects, &[], &options).success());
}
