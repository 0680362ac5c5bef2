//! "data plane proxies certificate match CA": certificate sets instead of text, control-plane
//! pods included, per-pod missing anchors, and linear cost over many pods.

mod linkerd_support;

use std::time::Instant;

use linkerd_support::{NOW, control_plane, fixture_text, pod, root};
use runner::linkerd::{
    CheckOptions, DATA_PLANE_CHECK, DataPlaneCheck, HINT_BASE, Status, check, data_plane_section,
    detect, reference_bundle,
};
use runner::pki::Bundle;
use serde_json::Value;

fn bundle_of_two() -> (Bundle, Bundle) {
    let (a, b) = (root("root-a"), root("root-b"));
    let both = Bundle::from_certs([a.cert().clone(), b.cert().clone()]).unwrap();
    let only_b = Bundle::from_certs([b.cert().clone()]).unwrap();
    (both, only_b)
}

#[test]
fn same_certificates_in_other_text_match() {
    let (both, _) = bundle_of_two();
    let reordered = Bundle::from_certs(both.certs().iter().rev().cloned())
        .unwrap()
        .to_pem();
    let crlf = both.to_pem().replace('\n', "\r\n");
    let pods = [
        pod("app", "reordered", &reordered),
        pod("app", "crlf", &crlf),
        pod("app", "trimmed", both.to_pem().trim_end()),
    ];
    let (section, stale) = data_plane_section(&both, &pods, None);
    assert!(stale.is_empty(), "{stale:?}");
    assert_eq!(section.checks[0].status, Status::Ok);
}

#[test]
fn stale_pods_are_listed_with_what_they_lack_control_plane_included() {
    let (both, only_b) = bundle_of_two();
    let missing = both.certs()[0].describe();
    let pods = [
        pod("linkerd", "linkerd-destination-1", &only_b.to_pem()),
        pod("app", "fresh", &both.to_pem()),
        pod("app", "broken", "not a certificate"),
    ];
    let (section, stale) = data_plane_section(&both, &pods, None);
    let names: Vec<&str> = stale.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["linkerd-destination-1", "broken"]);
    assert_eq!(stale[0].lacks, std::slice::from_ref(&missing));
    assert!(stale[1].problem.is_some());

    let check = &section.checks[0];
    assert_eq!(check.description, DATA_PLANE_CHECK);
    assert_eq!(check.status, Status::Warning);
    let message = check.message.as_deref().unwrap();
    assert!(
        message
            .starts_with("Some pods do not have the current trust bundle and must be restarted:\n")
    );
    assert!(
        message.contains(&format!(
            "\t* linkerd/linkerd-destination-1 (lacks {missing})"
        )),
        "{message}"
    );

    // With -n only that namespace is compared, and pods are named without it.
    let (section, stale) = data_plane_section(&both, &pods, Some("linkerd"));
    assert_eq!(stale.len(), 1);
    assert!(
        section.checks[0]
            .message
            .as_deref()
            .unwrap()
            .contains("\t* linkerd-destination-1 (")
    );
}

#[test]
fn native_sidecars_are_compared_and_value_from_and_unmeshed_pods_are_not() {
    let (both, only_b) = bundle_of_two();
    let mut sidecar = pod("app", "sidecar", &only_b.to_pem());
    let containers = sidecar["spec"]["containers"].take();
    sidecar["spec"]["initContainers"] = containers;
    let mut from_cm = pod("linkerd", "identity", "");
    from_cm["spec"]["containers"][1]["env"][0] = serde_json::json!({
        "name": "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS",
        "valueFrom": {"configMapKeyRef": {"name": "linkerd-identity-trust-roots", "key": "ca-bundle.crt"}},
    });
    let mut unmeshed = pod("app", "plain", &only_b.to_pem());
    unmeshed["metadata"]["labels"] = Value::Object(Default::default());

    let (_, stale) = data_plane_section(&both, &[sidecar, from_cm, unmeshed], None);
    let names: Vec<&str> = stale.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["sidecar"]);
}

#[test]
fn the_report_prints_like_linkerd_check() {
    let Some(objects) = control_plane("install-edge-26.8.3.yaml") else {
        return;
    };
    let options = CheckOptions {
        now: NOW,
        proxy: true,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    let text = report.to_string();

    // The golden's two identity sections, line for line.
    let Some(golden) = fixture_text("check-proxy.golden") else {
        return;
    };
    for section in ["linkerd-identity\n", "linkerd-identity-data-plane\n"] {
        let Some(start) = golden.find(&format!("\n{section}")) else {
            continue;
        };
        let block: String = golden[start + 1..].split("\n\n").next().unwrap().to_owned();
        assert!(text.contains(&block), "missing\n{block}\nin\n{text}");
    }
    assert!(text.ends_with("\nStatus check results are √\n"), "{text}");

    let (both, _) = bundle_of_two();
    let layout = detect(&objects).unwrap();
    let (_, deployed) = reference_bundle(&objects, &layout).unwrap();
    assert_ne!(deployed.fingerprints(), both.fingerprints());
    let pods = [pod("app", "web-1", &both.to_pem())];
    let report = check(&objects, &pods, &options);
    let stale = report.stale_pods.clone();
    assert_eq!(stale.len(), 1);
    let text = report.to_string();
    assert!(
        text.contains(
            "‼ data plane proxies certificate match CA\n    Some pods do not have the current \
             trust bundle and must be restarted:\n\t* app/web-1 (lacks "
        ),
        "{text}"
    );
    let hint =
        format!("    see {HINT_BASE}l5d-identity-data-plane-proxies-certs-match-ca for hints\n");
    assert!(text.contains(&hint), "{text}");
    assert!(report.success() && report.has_warnings());

    // A runbook sees the same as a value.
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["sections"][1]["checks"][0]["status"], "warning");
    assert_eq!(value["sections"][1]["checks"][0]["severity"], "warning");
    assert_eq!(value["stale_pods"][0]["name"], "web-1");
    assert_eq!(value["stale_pods"][0]["lacks"].as_array().unwrap().len(), 1);
    assert_eq!(value["stale_pods"][0]["extra"].as_array().unwrap().len(), 2);
}

/// 10,000 pods sharing a few bundle texts: each text is parsed once, so this stays cheap;
/// the time of 10,000 pods stays within a generous multiple of 1,000 pods' time.
#[test]
fn ten_thousand_pods_are_checked_in_linear_time() {
    let (both, only_b) = bundle_of_two();
    let texts = [both.to_pem(), only_b.to_pem()];
    let pods = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                pod(
                    &format!("ns-{}", i % 100),
                    &format!("pod-{i}"),
                    &texts[usize::from(i % 50 == 0)],
                )
            })
            .collect()
    };
    let (small, large) = (pods(1_000), pods(10_000));

    let started = Instant::now();
    let (_, stale_small) = data_plane_section(&both, &small, None);
    let small_time = started.elapsed();
    let started = Instant::now();
    let (_, stale_large) = data_plane_section(&both, &large, None);
    let large_time = started.elapsed();

    // Fed page by page (as a paginated list arrives), the result is the same.
    let mut paged = DataPlaneCheck::new(&both, None);
    for page in large.chunks(500) {
        page.iter().for_each(|pod| paged.add_pod(pod));
    }
    assert_eq!(paged.finish().1, stale_large);

    assert_eq!(stale_small.len(), 20);
    assert_eq!(stale_large.len(), 200);
    assert!(
        large_time.as_secs_f64() < 2.0,
        "10,000 pods took {large_time:?}"
    );
    assert!(
        large_time.as_secs_f64() < 40.0 * small_time.as_secs_f64().max(0.001),
        "1,000 pods: {small_time:?}, 10,000 pods: {large_time:?}"
    );
}
