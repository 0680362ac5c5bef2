//! `restart_ns`, `meshed_workloads` and `wait_event` when things go wrong: a dry-run changes
//! nothing (issue 5, case 8), injected faults and cut watches change no result (case 9), a
//! stuck rollout times out naming the workload, and Ctrl-C stops a wait.

mod rollout_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rollout_support::{Harness, ready};
use runner::pki::{CertRequest, Profile, Validity, generate};
use runner::sim::{FaultConfig, SimOptions};
use serde_json::{Value, json};

fn versions(h: &Harness) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for plural in ["deployments", "statefulsets", "daemonsets"] {
        for w in h.list("apps", plural, None) {
            let key = format!(
                "{plural}/{}/{}",
                w["metadata"]["namespace"], w["metadata"]["name"]
            );
            all.insert(key, w["metadata"]["resourceVersion"].clone());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_patches_nothing_and_shows_the_marker_it_would_set() {
    let h = Harness::scenario("edge").await;
    let before = versions(&h);
    h.sim.counts().reset();

    let ran = h.run(r#"restart_ns(["emojivoto", "books"])"#, true).await;
    let out = ran.output();
    assert_eq!(versions(&h), before);
    assert_eq!(h.sim.counts().writes(), 0);
    assert_eq!(h.sim.counts().get("patch:dryRun", "deployments.apps"), 4);

    let restarted = out["restarted"].as_array().unwrap();
    assert_eq!(restarted.len(), 5);
    assert!(
        restarted.iter().all(|r| r["status"] == "dry-run"),
        "{restarted:?}"
    );
    let validated: Vec<&str> = ran
        .of("would")
        .iter()
        .filter(|w| w["basis"] == "server_validated")
        .map(|w| w["action"].as_str().unwrap())
        .collect();
    assert!(
        validated.contains(&"restart Deployment emojivoto/web"),
        "{validated:?}"
    );
    assert!(
        validated.contains(&"restart StatefulSet books/db"),
        "{validated:?}"
    );
    let predicted = ran
        .of("would")
        .into_iter()
        .filter(|w| w["basis"] == "predicted")
        .count();
    assert_eq!(predicted, 1);
    let diffs = ran.of("diff");
    assert_eq!(diffs.len(), 5);
    let text = serde_json::to_string(&diffs).unwrap();
    assert!(text.contains("kubectl.kubernetes.io/restartedAt"), "{text}");
    let all = serde_json::to_string(&ran.events).unwrap();
    assert!(!all.contains("PRIVATE KEY"));
}

fn faulty() -> SimOptions {
    SimOptions {
        scenario: Some("edge".into()),
        faults: FaultConfig {
            error_rate: 0.1,
            throttle_rate: 0.05,
            retry_after_secs: 1,
            watch_cut_after: Some(Duration::from_secs(2)),
            ..FaultConfig::default()
        },
        ..SimOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_cut_watches_change_no_result() {
    let h = Harness::start(faulty()).await;
    let ran = h.run("meshed_workloads()", false).await;
    assert_eq!(
        ran.output()["namespaces"],
        json!(["books", "emojivoto", "linkerd", "monitoring"])
    );

    let ran = h
        .run(r#"restart_ns(["emojivoto", "books", "monitoring"])"#, false)
        .await;
    let restarted = ran.output()["restarted"].as_array().unwrap().clone();
    assert_eq!(restarted.len(), 6, "{restarted:?}");
    assert!(
        restarted.iter().all(|r| r["status"] == "complete"),
        "{restarted:?}"
    );
    for ns in ["emojivoto", "books", "monitoring"] {
        assert!(h.list("", "pods", Some(ns)).iter().all(ready));
    }
    assert!(
        h.sim.counts().get("injected", "500") > 0,
        "no fault was injected"
    );

    // An event recorded after the watch was cut at least once.
    let root = h.sim.scenario_identity().unwrap().root.clone();
    let mut request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    request.not_after = Some(Validity::For(time::Duration::days(300)));
    let issuer = generate(&request, Some(&root)).unwrap();
    let patch = json!({ "data": {
        "crt.pem": STANDARD.encode(issuer.cert().to_pem().trim()),
        "key.pem": STANDARD.encode(issuer.key().to_sec1_pem().unwrap().trim()),
    } });
    let store = h.sim.store().clone();
    let rt = h.rt("", "secrets");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
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
    let ran = h
        .run(
            r#"wait_event(#{ namespace: "linkerd", reason: "IssuerUpdated",
                name: "linkerd-identity", timeout: duration("60s") })"#,
            false,
        )
        .await;
    assert_eq!(ran.output()["reason"], "IssuerUpdated");
    assert_eq!(ran.output()["message"], "Updated identity issuer");
}

/// Without an identity controller new proxies never get a certificate, so never get ready.
async fn stuck() -> Harness {
    let h = Harness::scenario("edge").await;
    h.patch(
        "apps",
        "deployments",
        "linkerd",
        "linkerd-identity",
        json!({ "spec": { "replicas": 0 } }),
    );
    h.wait_for(30, "identity gone", |h| {
        h.pod_names("linkerd", "linkerd-identity").is_empty()
    })
    .await;
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_rollout_times_out_naming_the_workload() {
    let h = stuck().await;
    let started = Instant::now();
    let ran = h
        .run(
            r#"restart_ns("books", #{ timeout: duration("3s"), kinds: ["deploy"] })"#,
            false,
        )
        .await;
    let error = ran.error();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        error.contains(
            "restart_ns: 1 of 1 rollouts did not complete: Deployment books/webapp \
                        timed out after 3."
        ),
        "{error}"
    );
    let last = ran.of("rollout").into_iter().last().unwrap().clone();
    assert_eq!(last["status"], "timed out");
    assert_eq!(last["object"], "Deployment books/webapp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_rollout_wait() {
    let h = stuck().await;
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let ran = h
        .run_with(
            r#"restart_ns("books", #{ timeout: duration("5m") })"#,
            false,
            cancel,
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        ran.error().contains("cancelled during step `s`"),
        "{}",
        ran.error()
    );
}
