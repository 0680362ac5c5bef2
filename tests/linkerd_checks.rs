//! The `linkerd-identity` checks failing the way `linkerd check` fails: expiry warnings, a
//! fatal check stopping the rest, the 2.7-2.9 issuer name, and text Go cannot read.

mod linkerd_support;

use linkerd_support::{control_plane, root};
use runner::linkerd::{
    CheckOptions, ControlPlaneObjects, Location, Report, Slot, Status, check, detect,
};
use runner::pki::{CertRequest, Profile, generate};
use time::OffsetDateTime;
use time::macros::datetime;

fn run(objects: &ControlPlaneObjects, now: OffsetDateTime) -> Report {
    let options = CheckOptions {
        now,
        proxy: true,
        namespace: None,
    };
    check(objects, &[], &options)
}

fn status(report: &Report, name: &str) -> Status {
    report
        .check(name)
        .unwrap_or_else(|| panic!("{name} did not run\n{report}"))
        .status
}

#[test]
fn anchors_and_issuer_near_their_end_are_warnings() {
    let Some(objects) = control_plane("install-stable-2.10.0.yaml") else {
        return;
    };
    let report = run(&objects, datetime!(2030-08-01 00:00 UTC));
    assert!(report.success() && report.has_warnings(), "{report}");
    assert_eq!(
        status(&report, "trust anchors are valid for at least 60 days"),
        Status::Warning
    );
    assert_eq!(
        status(&report, "issuer cert is valid for at least 60 days"),
        Status::Warning
    );
    let text = report.to_string();
    assert!(
        text.contains(
            "‼ trust anchors are valid for at least 60 days\n    Anchors expiring soon:\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "see https://linkerd.io/2/checks/#l5d-identity-trustAnchors-not-expiring-soon for hints"
    ));
}

#[test]
fn an_expired_anchor_is_fatal_and_stops_the_rest() {
    let Some(objects) = control_plane("install-stable-2.10.0.yaml") else {
        return;
    };
    let report = run(&objects, datetime!(2031-01-01 00:00 UTC));
    assert!(!report.success() && report.stopped());
    let names: Vec<&str> = report.checks().map(|c| c.description.as_str()).collect();
    assert_eq!(
        names,
        [
            "certificate config is valid",
            "trust anchors are using supported crypto algorithm",
            "trust anchors are within their validity period",
        ],
        "neither the issuer checks nor the data-plane check run"
    );
    let message = report
        .check("trust anchors are within their validity period")
        .unwrap()
        .message
        .clone();
    let message = message.unwrap();
    assert!(message.starts_with("Invalid anchors:\n\t* "), "{message}");
    assert!(
        message.contains("not valid anymore. Expired on 2030-08-26"),
        "{message}"
    );
}

/// Replaces anchors (everywhere) and issuer with a new root and an issuer named `cn`.
fn with_issuer_named(file: &str, cn: &str) -> Option<ControlPlaneObjects> {
    let mut objects = control_plane(file)?;
    let layout = detect(&objects).unwrap();
    let new_root = root("root.linkerd.cluster.local");
    let mut request = CertRequest::new(Profile::IntermediateCa, cn);
    request.not_before = Some(datetime!(2025-01-01 00:00 UTC));
    let named = generate(&request, Some(&new_root)).unwrap();
    for location in runner::linkerd::anchor_locations(&objects, &layout) {
        location
            .write(
                objects.get_mut(&location.object).unwrap(),
                &new_root.cert().to_pem(),
            )
            .unwrap();
    }
    let secret = |key: &str| Location {
        object: runner::linkerd::ObjectRef::new("Secret", "linkerd", "linkerd-identity-issuer"),
        slot: Slot::SecretText { key: key.into() },
    };
    let issuer_secret = objects.issuer_secret.as_mut().unwrap();
    secret("crt.pem")
        .write(issuer_secret, &named.cert().to_pem())
        .unwrap();
    secret("key.pem")
        .write(issuer_secret, &named.key().to_sec1_pem().unwrap())
        .unwrap();
    Some(objects)
}

#[test]
fn releases_before_2_10_want_the_issuer_named_for_identity() {
    let now = datetime!(2026-06-01 00:00 UTC);
    let issued = "issuer cert is issued by the trust anchor";
    let Some(b1) = with_issuer_named("install-stable-2.9.0.yaml", "issuer.example") else {
        return;
    };
    let report = run(&b1, now);
    assert_eq!(status(&report, issued), Status::Error, "{report}");
    let message = report.check(issued).unwrap().message.clone().unwrap();
    assert!(
        message.contains("is not valid for identity.linkerd.cluster.local"),
        "{message}"
    );

    let Some(b2) = with_issuer_named("install-stable-2.10.0.yaml", "issuer.example") else {
        return;
    };
    let report = run(&b2, now);
    assert!(report.success() && !report.has_warnings(), "{report}");
}

#[test]
fn a_blank_line_after_the_anchors_fails_the_config_check_as_go_would() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let values = Location {
        object: runner::linkerd::ObjectRef::new("ConfigMap", "linkerd", "linkerd-config"),
        slot: Slot::ConfigYaml {
            key: "values".into(),
            path: "identityTrustAnchorsPEM".into(),
        },
    };
    let text = values.read(&objects).unwrap().unwrap();
    let config = objects.linkerd_config.as_mut().unwrap();
    values.write(config, &format!("{text}\n")).unwrap();
    assert_eq!(values.read(&objects).unwrap().unwrap(), format!("{text}\n"));

    let report = run(&objects, datetime!(2026-06-01 00:00 UTC));
    assert!(report.stopped());
    let message = report
        .check("certificate config is valid")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(message.contains("not a PEM certificate"), "{message}");
}
