//! 10,000 meshed pods: the controllers, the injector and the identity controller keep up.

mod sim_linkerd_support;

use std::time::{Duration, Instant};

use runner::sim::SimOptions;
use serde_json::json;
use sim_linkerd_support::{Sim, deployment, ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_meshed_pods_come_up_and_roll() {
    // At 100x a pod starts in 20 ms and no leaf is due for renewal during the test: at the
    // default 1000x, renewing 10,000 leaves at once costs more CPU than the clock allows on
    // a loaded 2-core machine (see the README).
    let cluster = runner::sim::cluster::ClusterOptions {
        speed: 100.0,
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
    let started = Instant::now();
    sim.create(
        "apps",
        "deployments",
        "emojivoto",
        deployment("big", 10_000, json!({})),
    );
    let rt = sim.rt("apps", "deployments");
    let done = |s: &Sim| {
        s.sim.store().get(&rt, Some("emojivoto"), "big").unwrap()["status"]["availableReplicas"]
            == 10_000
    };
    while !done(&sim) {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "10,000 pods not ready after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let up = started.elapsed();
    let linkerd = sim.sim.cluster().unwrap().linkerd();
    let meshed = linkerd
        .mesh
        .all()
        .iter()
        .filter(|((ns, pod), _)| ns == "emojivoto" && pod.starts_with("big-"))
        .count();
    assert_eq!(meshed, 10_000);
    eprintln!("10,000 meshed pods ready in {up:?}");

    let started = Instant::now();
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"restarted": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("emojivoto"), "big", &patch, false, false)
        .unwrap();
    let rolled = |s: &Sim| {
        let status = &s.sim.store().get(&rt, Some("emojivoto"), "big").unwrap()["status"];
        status["observedGeneration"] == 2
            && status["updatedReplicas"] == 10_000
            && status["replicas"] == 10_000
            && status["availableReplicas"] == 10_000
    };
    while !rolled(&sim) {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the rollout did not finish after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("rollout of 10,000 meshed pods in {:?}", started.elapsed());
    assert!(linkerd.record.is_empty(), "{}", linkerd.record.summary());
}
