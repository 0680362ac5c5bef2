//! `wait_event` against the simulated identity controller over HTTP: a failure reason ends the
//! wait at once (issue 5, case 2), an event from an earlier rotation is not accepted until its
//! count is bumped (case 3), one event per replica, a timeout that says what it saw.

mod rollout_support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rollout_support::{Harness, ready};
use runner::pki::{CertRequest, CertifiedKey, Profile, Validity, generate};
use serde_json::json;

const WAIT: &str = r#"wait_event(#{ namespace: "linkerd", reason: "IssuerUpdated",
    kind: "Deployment", name: "linkerd-identity", timeout: duration("60s") })"#;

fn issuer_signed_by(root: &CertifiedKey) -> serde_json::Value {
    let mut request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    request.not_after = Some(Validity::For(time::Duration::days(300)));
    let issuer = generate(&request, Some(root)).unwrap();
    json!({ "data": {
        "crt.pem": STANDARD.encode(issuer.cert().to_pem().trim()),
        "key.pem": STANDARD.encode(issuer.key().to_sec1_pem().unwrap().trim()),
    } })
}

/// Writes `patch` to the issuer Secret after `delay`, while the runbook waits.
fn write_issuer_later(h: &Harness, patch: serde_json::Value, delay: Duration) {
    let store = h.sim.store().clone();
    let rt = h.rt("", "secrets");
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let patch = runner::sim::store::Patch::Merge(patch);
        store
            .patch(
                &rt,
                Some("linkerd"),
                "linkerd-identity-issuer",
                &patch,
                false,
                false,
            )
            .unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_the_running_identity_cannot_verify_fails_the_wait_at_once() {
    let h = Harness::scenario("edge").await;
    // Anchors [new, old] deployed, identity not restarted: it still trusts only the old root.
    let root = generate(
        &CertRequest::new(Profile::RootCa, "root.linkerd.cluster.local"),
        None,
    )
    .unwrap();
    let old =
        h.get("", "configmaps", "linkerd", "linkerd-identity-trust-roots")["data"]["ca-bundle.crt"]
            .as_str()
            .unwrap()
            .to_owned();
    let bundle = format!("{}\n{}", root.cert().to_pem().trim(), old.trim());
    h.patch(
        "",
        "configmaps",
        "linkerd",
        "linkerd-identity-trust-roots",
        json!({ "data": { "ca-bundle.crt": bundle } }),
    );
    write_issuer_later(&h, issuer_signed_by(&root), Duration::from_millis(300));

    let started = Instant::now();
    let ran = h.run(WAIT, false).await;
    let error = ran.error();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        error.contains(
            "waiting for IssuerUpdated in namespace linkerd: IssuerUpdateSkipped on \
                        Deployment linkerd/linkerd-identity: Skipping issuer update"
        ),
        "{error}"
    );
}

fn old_event(h: &Harness) {
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    h.create(
        "",
        "events",
        Some("linkerd"),
        json!({
            "metadata": { "name": "linkerd-identity.earlier", "namespace": "linkerd" },
            "involvedObject": { "kind": "Deployment", "namespace": "linkerd",
                                "name": "linkerd-identity" },
            "reason": "IssuerUpdated", "message": "Updated identity issuer", "type": "Normal",
            "count": 1, "firstTimestamp": hour_ago, "lastTimestamp": hour_ago,
            "source": { "component": "linkerd-identity" },
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_an_earlier_rotation_counts_only_once_bumped() {
    let h = Harness::scenario("edge").await;
    old_event(&h);
    let store = h.sim.store().clone();
    let rt = h.rt("", "events");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = runner::sim::store::meta::now_rfc3339();
        let patch = runner::sim::store::Patch::Merge(json!({ "count": 2, "lastTimestamp": now }));
        store
            .patch(
                &rt,
                Some("linkerd"),
                "linkerd-identity.earlier",
                &patch,
                false,
                false,
            )
            .unwrap();
    });

    let started = Instant::now();
    let ran = h.run(WAIT, false).await;
    let out = ran.output();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "accepted the old event"
    );
    assert_eq!(out["count"], 2);
    assert_eq!(out["reason"], "IssuerUpdated");
    assert_eq!(out["object"], "Deployment linkerd/linkerd-identity");
    assert_eq!(out["events"][0]["name"], "linkerd-identity.earlier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_says_what_it_saw() {
    let h = Harness::scenario("edge").await;
    old_event(&h);
    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reason: "IssuerUpdated",
                name: "linkerd-identity", timeout: duration("2s") })"#,
            false,
        )
        .await;
    let error = ran.error();
    assert!(
        error.contains("waiting for IssuerUpdated in namespace linkerd on linkerd-identity after "),
        "{error}"
    );
    assert!(
        error.contains(
            "none within 2s; saw IssuerUpdated on Deployment \
                        linkerd/linkerd-identity (count 1, last "
        ),
        "{error}"
    );
    assert!(
        error.contains(", before the wait's start): Updated identity issuer"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_replica_waits_for_an_event_from_each_ready_identity_replica() {
    let h = Harness::scenario("edge").await;
    h.patch(
        "apps",
        "deployments",
        "linkerd",
        "linkerd-identity",
        json!({ "spec": { "replicas": 2 } }),
    );
    h.wait_for(30, "two ready identity replicas", |h| {
        let d = h.get("apps", "deployments", "linkerd", "linkerd-identity");
        d["status"]["readyReplicas"] == 2 && h.list("", "pods", Some("linkerd")).iter().all(ready)
    })
    .await;
    let root = h.sim.scenario_identity().unwrap().root.clone();
    write_issuer_later(&h, issuer_signed_by(&root), Duration::from_millis(300));

    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reason: "IssuerUpdated",
                name: "linkerd-identity", per_replica: true, timeout: duration("60s") })"#,
            false,
        )
        .await;
    let out = ran.output();
    let events = out["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_ne!(events[0]["instance"], events[1]["instance"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_are_checked_and_a_dry_run_only_predicts() {
    let h = Harness::scenario("edge").await;
    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reasn: "X" })"#,
            false,
        )
        .await;
    assert!(
        ran.error().contains(
            "wait_event: unknown option `reasn`: the options are namespace, reason, kind, name, \
             after, timeout, fail_on, per_replica"
        ),
        "{}",
        ran.error()
    );
    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reason: "X", after: "soon" })"#,
            false,
        )
        .await;
    assert!(
        ran.error()
            .contains("wait_event: option `after` is not an RFC 3339 time"),
        "{}",
        ran.error()
    );

    // No event can come from a namespace that is not there: an error now, not at the timeout.
    let ran = h
        .run(
            r#"wait_event(#{ namespace: "nope", reason: "X", timeout: duration("10m") })"#,
            false,
        )
        .await;
    assert!(
        ran.error()
            .contains("waiting for X in namespace nope: namespace nope does not exist"),
        "{}",
        ran.error()
    );

    let started = Instant::now();
    let ran = h.run(WAIT, true).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(ran.output()["predicted"], true);
    let would: Vec<_> = ran
        .of("would")
        .into_iter()
        .filter(|w| w["basis"] == "predicted")
        .collect();
    assert_eq!(would.len(), 1, "{:?}", ran.of("would"));
    assert_eq!(
        would[0]["action"],
        "wait for event IssuerUpdated on Deployment linkerd/linkerd-identity"
    );
}
