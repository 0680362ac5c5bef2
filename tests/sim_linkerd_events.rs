//! The identity controller's events: client-go's correlation (an identical event bumps
//! `count` on the same object), watches from a list's version, `IssuerValidationFailed` and
//! the crash loop on anchors that do not parse.

mod sim_linkerd_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use runner::pki::{CertRequest, Profile, Validity, generate};
use runner::sim::SimOptions;
use runner::sim::store::Patch;
use serde_json::{Value, json};
use sim_linkerd_support::{Sim, ready};

async fn edge() -> Sim {
    let sim = Sim::start(SimOptions {
        scenario: Some("edge".into()),
        ..Default::default()
    })
    .await;
    sim.wait_for(20, "identity ready", |s| {
        s.pods("linkerd", "linkerd-identity-").iter().any(ready)
    })
    .await;
    sim
}

/// Writes a new issuer signed by the scenario's root, valid for `days`.
fn write_issuer(sim: &Sim, days: i64) {
    let root = &sim.sim.scenario_identity().unwrap().root;
    let mut request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    request.not_after = Some(Validity::For(time::Duration::days(days)));
    let issuer = generate(&request, Some(root)).unwrap();
    let data = json!({
        "crt.pem": STANDARD.encode(issuer.cert().to_pem().trim()),
        "key.pem": STANDARD.encode(issuer.key().to_sec1_pem().unwrap().trim()),
    });
    let rt = sim.rt("", "secrets");
    let patch = Patch::Merge(json!({ "data": data }));
    sim.sim
        .store()
        .patch(
            &rt,
            Some("linkerd"),
            "linkerd-identity-issuer",
            &patch,
            false,
            false,
        )
        .unwrap();
}

fn events(sim: &Sim, reason: &str) -> Vec<Value> {
    let rt = sim.rt("", "events");
    let page = sim
        .sim
        .store()
        .list(&rt, Some("linkerd"), &Default::default())
        .unwrap();
    page.items
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| (**e).clone())
        .collect()
}

#[tokio::test]
async fn a_repeated_issuer_update_bumps_count_and_a_watch_sees_it_modified() {
    let sim = edge().await;
    write_issuer(&sim, 365);
    sim.wait_for(10, "the first IssuerUpdated", |s| {
        events(s, "IssuerUpdated").len() == 1
    })
    .await;
    let first = events(&sim, "IssuerUpdated").remove(0);
    assert_eq!(first["count"], 1);
    assert_eq!(first["type"], "Normal");
    assert_eq!(first["message"], "Updated identity issuer");
    assert_eq!(first["source"]["component"], "linkerd-identity");

    let client = sim.sim.client().await.unwrap();
    let api: Api<Event> = Api::namespaced(client, "linkerd");
    let list = api.list(&ListParams::default()).await.unwrap();
    let version = list.metadata.resource_version.unwrap();
    let mut watch = api
        .watch(&WatchParams::default().timeout(20), &version)
        .await
        .unwrap()
        .boxed();

    // Let the wall clock pass the first event's second, so that a new `lastTimestamp`
    // (second precision, as on a real server) can be told from the old one.
    let first_at = time::OffsetDateTime::parse(
        first["lastTimestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    while time::OffsetDateTime::now_utc() < first_at + time::Duration::seconds(1) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    write_issuer(&sim, 300);
    sim.wait_for(10, "the count bumped", |s| {
        events(s, "IssuerUpdated")
            .first()
            .is_some_and(|e| e["count"] == 2)
    })
    .await;
    let again = events(&sim, "IssuerUpdated");
    assert_eq!(again.len(), 1, "a second object instead of a bumped count");
    assert_eq!(again[0]["metadata"]["name"], first["metadata"]["name"]);
    assert!(
        again[0]["lastTimestamp"].as_str() > first["lastTimestamp"].as_str(),
        "lastTimestamp not bumped: {} then {}",
        first["lastTimestamp"],
        again[0]["lastTimestamp"]
    );
    assert_eq!(again[0]["firstTimestamp"], first["firstTimestamp"]);

    let mut seen = None;
    while let Some(event) = watch.next().await {
        if let WatchEvent::Modified(e) = event.unwrap()
            && e.reason.as_deref() == Some("IssuerUpdated")
        {
            seen = Some(e);
            break;
        }
    }
    assert_eq!(seen.expect("no MODIFIED event").count, Some(2));
}

#[tokio::test]
async fn an_expired_issuer_fails_certificate_requests() {
    // A day of simulated time in under a second.
    let cluster = runner::sim::cluster::ClusterOptions {
        speed: 100_000.0,
        ..Default::default()
    };
    let sim = Sim::start(SimOptions {
        scenario: Some("edge".into()),
        cluster: Some(cluster),
        ..Default::default()
    })
    .await;
    sim.wait_for(20, "identity ready", |s| {
        s.pods("linkerd", "linkerd-identity-").iter().any(ready)
    })
    .await;
    // Valid at first; the fast clock makes it expire within a second or two.
    write_issuer(&sim, 1);
    sim.wait_for(10, "IssuerUpdated", |s| {
        !events(s, "IssuerUpdated").is_empty()
    })
    .await;
    // New pods ask for leaves after the issuer expired.
    let rt = sim.rt("apps", "deployments");
    sim.wait_for(30, "the issuer to expire", |s| {
        s.sim.cluster().unwrap().clock().now()
            > time::OffsetDateTime::now_utc() + time::Duration::days(2)
    })
    .await;
    let patch = Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"restarted": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("emojivoto"), "web", &patch, false, false)
        .unwrap();
    let web = " - CSR Identity : web.emojivoto.serviceaccount.identity.linkerd.cluster.local";
    let for_web = |s: &Sim| {
        events(s, "IssuerValidationFailed")
            .into_iter()
            .find(|e| e["message"].as_str().unwrap_or_default().ends_with(web))
    };
    sim.wait_for(10, "IssuerValidationFailed for web", |s| {
        for_web(s).is_some()
    })
    .await;
    let failed = for_web(&sim).unwrap();
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with("x509: certificate has expired or is not yet valid"),
        "{message}"
    );
    assert_eq!(failed["type"], "Warning");
    // The new pods wait for a certificate: started, not ready, not crashing.
    let waiting = |s: &Sim| {
        s.pods("emojivoto", "web-")
            .into_iter()
            .find(|p| p["status"]["startTime"].is_string() && !ready(p))
    };
    sim.wait_for(10, "a new web pod waiting", |s| waiting(s).is_some())
        .await;
    let pod = waiting(&sim).unwrap();
    assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 0);
    assert!(pod["status"]["containerStatuses"][0]["state"]["running"].is_object());
}

#[tokio::test]
async fn identity_crash_loops_on_a_trailing_blank_line_after_the_anchors() {
    let sim = edge().await;
    let rt = sim.rt("", "configmaps");
    let current = sim
        .get("", "configmaps", "linkerd", "linkerd-identity-trust-roots")
        .unwrap();
    let bundle = current["data"]["ca-bundle.crt"].as_str().unwrap();
    let patch = Patch::Merge(json!({"data": {"ca-bundle.crt": format!("{bundle}\n\n")}}));
    sim.sim
        .store()
        .patch(
            &rt,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            &patch,
            false,
            false,
        )
        .unwrap();
    // Restart identity (as `kubectl rollout restart` does).
    let deployments = sim.rt("apps", "deployments");
    let restart = Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}}),
    );
    sim.sim
        .store()
        .patch(
            &deployments,
            Some("linkerd"),
            "linkerd-identity",
            &restart,
            false,
            false,
        )
        .unwrap();
    sim.wait_for(20, "identity crash-looping", |s| {
        s.pods("linkerd", "linkerd-identity-").iter().any(|p| {
            p["status"]["containerStatuses"][0]["restartCount"]
                .as_i64()
                .unwrap_or(0)
                >= 2
                && !ready(p)
        })
    })
    .await;
    let pod = sim
        .pods("linkerd", "linkerd-identity-")
        .into_iter()
        .find(|p| !ready(p))
        .unwrap();
    let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(waiting["reason"], "CrashLoopBackOff");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("Failed to read trust anchors"),
        "{waiting}"
    );
}

#[tokio::test]
async fn each_identity_replica_records_its_own_issuer_update() {
    let sim = edge().await;
    let rt = sim.rt("apps", "deployments");
    let scale = Patch::Merge(json!({"spec": {"replicas": 3}}));
    sim.sim
        .store()
        .patch(
            &rt,
            Some("linkerd"),
            "linkerd-identity",
            &scale,
            false,
            false,
        )
        .unwrap();
    sim.wait_for(10, "3 identity replicas", |s| {
        s.pods("linkerd", "linkerd-identity-")
            .iter()
            .filter(|p| ready(p))
            .count()
            == 3
    })
    .await;
    write_issuer(&sim, 365);
    sim.wait_for(10, "3 IssuerUpdated events", |s| {
        events(s, "IssuerUpdated").len() == 3
    })
    .await;
    // One event object per replica (each process has its own recorder), told apart only by
    // their names: Linkerd's event source has no host, so no reportingInstance either.
    let updated = events(&sim, "IssuerUpdated");
    let mut names: Vec<&str> = updated
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");
    for event in &updated {
        assert_eq!(event["count"], 1);
        assert_eq!(event["reportingComponent"], "linkerd-identity");
        assert!(event.get("reportingInstance").is_none(), "{event}");
    }
}
