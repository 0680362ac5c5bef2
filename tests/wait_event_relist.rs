//! `wait_event` and `restart_ns` when their watch's version leaves the server's history: the
//! next watch is refused with 410 Expired, and the wait lists again instead of retrying the
//! expired version forever, keeping its baseline (an old event still needs a bump).

mod rollout_support;

use std::time::Duration;

use rollout_support::Harness;
use runner::sim::store::StoreOptions;
use runner::sim::{FaultConfig, SimOptions};
use serde_json::json;

fn short_history() -> SimOptions {
    SimOptions {
        scenario: Some("edge".into()),
        store: StoreOptions { history: 50 },
        faults: FaultConfig {
            watch_cut_after: Some(Duration::from_millis(800)),
            ..FaultConfig::default()
        },
        ..SimOptions::default()
    }
}

/// Keeps making more changes than the history holds, so that every cut watch resumes from an
/// expired version.
fn churn(h: &Harness) {
    let rt = h.rt("", "configmaps");
    let store = h.sim.store().clone();
    store
        .create(
            &rt,
            Some("legacy"),
            json!({ "metadata": { "name": "churn" } }),
            false,
        )
        .unwrap();
    tokio::spawn(async move {
        for round in 0..100 {
            for i in 0..60 {
                let value = format!("{round}-{i}");
                let patch = runner::sim::store::Patch::Merge(json!({ "data": { "i": value } }));
                let _ = store.patch(&rt, Some("legacy"), "churn", &patch, false, false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_lists_again_after_410_and_keeps_its_baseline() {
    let h = Harness::start(short_history()).await;
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
            "metadata": { "name": "identity.earlier", "namespace": "linkerd" },
            "involvedObject": { "kind": "Deployment", "namespace": "linkerd",
                                "name": "linkerd-identity" },
            "reason": "IssuerUpdated", "message": "Updated identity issuer", "type": "Normal",
            "count": 1, "firstTimestamp": hour_ago, "lastTimestamp": hour_ago,
        }),
    );
    h.sim.counts().reset();

    let store = h.sim.store().clone();
    let events = h.rt("", "events");
    let configmaps = h.rt("", "configmaps");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        store
            .create(
                &configmaps,
                Some("legacy"),
                json!({ "metadata": { "name": "churn" } }),
                false,
            )
            .unwrap();
        for i in 0..120 {
            let patch = runner::sim::store::Patch::Merge(json!({ "data": { "i": i.to_string() } }));
            store
                .patch(&configmaps, Some("legacy"), "churn", &patch, false, false)
                .unwrap();
        }
        // The watch is cut within the second and resumes from an expired version.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let now = runner::sim::store::meta::now_rfc3339();
        let patch = runner::sim::store::Patch::Merge(json!({ "count": 2, "lastTimestamp": now }));
        store
            .patch(
                &events,
                Some("linkerd"),
                "identity.earlier",
                &patch,
                false,
                false,
            )
            .unwrap();
    });

    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reason: "IssuerUpdated",
                name: "linkerd-identity", timeout: duration("30s") })"#,
            false,
        )
        .await;
    assert_eq!(ran.output()["count"], 2, "{:?}", ran.result);
    assert!(
        h.sim.counts().get("list", "events") >= 2,
        "no second list: {:?}",
        h.sim.counts().snapshot()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_wait_survives_an_expired_watch() {
    // A slower clock, so that the rollouts outlast a cut watch and the churn.
    let options = SimOptions {
        cluster: Some(runner::sim::cluster::ClusterOptions {
            speed: 4.0,
            ..Default::default()
        }),
        ..short_history()
    };
    let h = Harness::start(options).await;
    h.sim.counts().reset();
    churn(&h);
    let ran = h.run(r#"restart_ns(["emojivoto", "books"])"#, false).await;
    let restarted = ran.output()["restarted"].as_array().unwrap().clone();
    assert_eq!(restarted.len(), 5);
    assert!(
        restarted.iter().all(|r| r["status"] == "complete"),
        "{restarted:?}"
    );
    // The StatefulSet rolls one pod at a time, outlasting a cut: two lists for the inventory,
    // one for the watch of books, then at least one more after a 410.
    assert!(
        h.sim.counts().get("list", "statefulsets.apps") >= 4,
        "{:?}",
        h.sim.counts().snapshot()
    );
}
