//! Issue 5's cases 1, 4 and 6: text damage in the trust-roots config map (1), two roots
//! sharing a subject (4), issuer key formats (6); and keys kept out of what is shown.

mod linkerd_support;

use linkerd_support::{NOW, control_plane, issuer, root, secret_text};
use runner::linkerd::{
    CheckOptions, ControlPlaneObjects, FindingKind, LinkerdError, PlanOptions, anchor_locations,
    check, detect, plan_anchors, plan_issuer, read_trust_anchors,
};
use runner::pki::Bundle;

const TRUST_ROOTS_PATH: &str = "/data/ca-bundle.crt";

fn set_trust_roots(objects: &mut ControlPlaneObjects, text: &str) {
    let cm = objects.trust_roots.as_mut().unwrap();
    *cm.pointer_mut(TRUST_ROOTS_PATH).unwrap() = text.into();
}

fn trust_roots(objects: &ControlPlaneObjects) -> String {
    objects
        .trust_roots
        .as_ref()
        .unwrap()
        .pointer(TRUST_ROOTS_PATH)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Writes `text` to every place holding the anchors, bypassing the plan's refusals, to set up
/// a state the plans would never produce.
fn force_anchors(objects: &mut ControlPlaneObjects, text: &str) {
    let layout = detect(objects).unwrap();
    for location in anchor_locations(objects, &layout) {
        let object = objects.get_mut(&location.object).unwrap();
        location.write(object, text).unwrap();
    }
}

#[test]
fn case_1_damaged_bundle_text_reads_the_same_and_is_rewritten_canonically() {
    let Some(pristine) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&pristine).unwrap();
    let canonical = trust_roots(&pristine);
    let expected = read_trust_anchors(&pristine, &layout).unwrap().fingerprints;

    let blank_line = format!("{canonical}\n");
    let crlf = canonical.replace('\n', "\r\n");
    let duplicate = format!("{canonical}{canonical}");
    let cases = [
        (blank_line, FindingKind::Unreadable),
        (crlf, FindingKind::NotCanonical),
        (duplicate, FindingKind::NotCanonical),
    ];
    for (text, finding) in cases {
        let mut objects = pristine.clone();
        set_trust_roots(&mut objects, &text);
        let anchors = read_trust_anchors(&objects, &layout).unwrap();
        assert_eq!(anchors.fingerprints, expected, "{text:?}");
        let kinds: Vec<FindingKind> = anchors.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [finding], "{text:?}: {:?}", anchors.findings);

        // Deploying the same anchors rewrites only the damaged copy, to canonical bytes.
        let plan =
            plan_anchors(&objects, &layout, &anchors.bundle, &PlanOptions::new(NOW)).unwrap();
        assert_eq!(plan.changes.len(), 1, "{plan}");
        assert_eq!(plan.changes[0].object.name, "linkerd-identity-trust-roots");
        plan.apply(&mut objects).unwrap();
        assert_eq!(trust_roots(&objects), canonical);
        assert!(
            read_trust_anchors(&objects, &layout)
                .unwrap()
                .findings
                .is_empty()
        );
    }
}

#[test]
fn case_4_roots_sharing_a_subject_are_told_apart_by_key() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let first = root("root.linkerd.cluster.local");
    let second = root("root.linkerd.cluster.local");
    assert_eq!(first.cert().subject(), second.cert().subject());
    let signed_by_first = issuer(&first);
    let issuer_secret = objects.issuer_secret.as_mut().unwrap();
    issuer_secret["data"]["crt.pem"] = runner_b64(&signed_by_first.cert().to_pem()).into();
    issuer_secret["data"]["key.pem"] =
        runner_b64(&signed_by_first.key().to_sec1_pem().unwrap()).into();
    force_anchors(&mut objects, &second.cert().to_pem());

    let options = CheckOptions {
        now: NOW,
        proxy: false,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    let issued = report
        .check("issuer cert is issued by the trust anchor")
        .unwrap();
    assert!(!issued.passed(), "{report}");
    assert!(!report.success());

    let signed_by_second = issuer(&second);
    let key = signed_by_second.key().to_sec1_pem().unwrap();
    let plan = plan_issuer(
        &objects,
        &layout,
        &[signed_by_second.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    )
    .unwrap();
    plan.apply(&mut objects).unwrap();
    let report = check(&objects, &[], &options);
    assert!(report.success() && !report.has_warnings(), "{report}");
}

fn runner_b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn case_6_pkcs8_issuer_key_is_written_as_sec1_on_2_8_and_a_foreign_key_refused() {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let Some((mut objects, new_root)) = linkerd_support::era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let new_issuer = issuer(&new_root);
    let sec1 = new_issuer.key().to_sec1_pem().unwrap();
    let pkcs8 = p256::SecretKey::from_sec1_pem(&sec1)
        .unwrap()
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let certs = [new_issuer.cert().clone()];

    let foreign = issuer(&new_root).key().to_sec1_pem().unwrap();
    let refused =
        plan_issuer(&objects, &layout, &certs, &foreign, &PlanOptions::new(NOW)).unwrap_err();
    assert!(matches!(refused, LinkerdError::Refused { .. }));
    assert!(
        refused
            .to_string()
            .contains("is not the key of issuer certificate"),
        "{refused}"
    );
    assert!(
        !refused.to_string().contains("PRIVATE KEY-----"),
        "{refused}"
    );

    let plan = plan_issuer(&objects, &layout, &certs, &pkcs8, &PlanOptions::new(NOW)).unwrap();
    assert!(!plan.to_string().contains("PRIVATE KEY-----"), "{plan}");
    plan.apply(&mut objects).unwrap();
    let secret = objects.issuer_secret.as_ref().unwrap();
    assert_eq!(secret_text(secret, "key.pem"), sec1);
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert_eq!(secret_text(secret, "crt.pem"), new_issuer.cert().to_pem());
    let expiry = secret["metadata"]["annotations"]["linkerd.io/identity-issuer-expiry"]
        .as_str()
        .unwrap();
    let not_after = new_issuer.cert().not_after();
    assert_eq!(
        expiry,
        not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
}

#[test]
fn plans_and_objects_never_show_key_material() {
    let Some((objects, new_root)) = linkerd_support::era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let new_issuer = issuer(&new_root);
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let plan = plan_issuer(
        &objects,
        &layout,
        &[new_issuer.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    )
    .unwrap();
    let key_b64 = runner_b64(&key);
    let secret_change = plan
        .changes
        .iter()
        .find(|c| c.object.name == "linkerd-identity-issuer")
        .unwrap();
    let sent = serde_json::to_string(secret_change.patch()).unwrap();
    assert!(sent.contains(&key_b64), "the patch to send carries the key");

    let shown = [
        format!("{plan}"),
        format!("{plan:?}"),
        serde_json::to_string(&plan).unwrap(),
        format!("{objects:?}"),
    ];
    for text in shown {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains(&key_b64), "{text}");
        assert!(!text.contains(&key_b64[..40]), "{text}");
    }
}

#[test]
fn an_issuer_is_refused_while_a_copy_of_the_anchors_lacks_its_root() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let new_root = root("root.linkerd.cluster.local");
    let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
    // Someone edited only the config map: `linkerd check` and `linkerd upgrade` read values.
    set_trust_roots(&mut objects, &bundle.to_pem());
    let anchors = read_trust_anchors(&objects, &layout).unwrap();
    assert!(!anchors.consistent());
    assert!(
        anchors
            .findings
            .iter()
            .any(|f| f.location.contains("data.values")),
        "{:?}",
        anchors.findings
    );

    let new_issuer = issuer(&new_root);
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let certs = [new_issuer.cert().clone()];
    let e = plan_issuer(&objects, &layout, &certs, &key, &PlanOptions::new(NOW)).unwrap_err();
    assert!(
        e.to_string()
            .contains("data.values identityTrustAnchorsPEM"),
        "{e}"
    );

    // Deploying the bundle properly repairs every copy, and the issuer is then accepted.
    plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW))
        .unwrap()
        .apply(&mut objects)
        .unwrap();
    assert!(read_trust_anchors(&objects, &layout).unwrap().consistent());
    assert!(plan_issuer(&objects, &layout, &certs, &key, &PlanOptions::new(NOW)).is_ok());
}
