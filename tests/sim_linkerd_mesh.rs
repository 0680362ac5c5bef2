//! Linkerd inside the simulated cluster: scenarios come up meshed, the injector writes the
//! bundle of the moment, the identity controller issues leaves and records its events.

mod sim_linkerd_support;

use runner::sim::SimOptions;
use runner::sim::scenarios::NAMES;
use serde_json::Value;
use sim_linkerd_support::{Sim, ready};

fn proxy_anchors(pod: &Value) -> Option<String> {
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == "linkerd-proxy")
        .and_then(|c| {
            c["env"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS")?["value"]
                .as_str()
                .map(str::to_owned)
        })
}

async fn scenario(name: &str) -> Sim {
    Sim::start(SimOptions {
        scenario: Some(name.to_owned()),
        ..Default::default()
    })
    .await
}

/// Waits until every pod of the cluster is ready and every meshed one holds a leaf.
pub async fn settled(sim: &Sim) {
    sim.wait_for(20, "every pod ready and meshed pods holding leaves", |s| {
        let mesh = &s.sim.cluster().unwrap().linkerd().mesh;
        let all: Vec<Value> = ["linkerd", "emojivoto", "books", "monitoring", "legacy"]
            .iter()
            .flat_map(|ns| s.pods(ns, ""))
            .collect();
        all.len() == 15
            && all.iter().all(ready)
            && all
                .iter()
                .filter(|p| p["metadata"]["namespace"] != "legacy")
                .all(|p| {
                    mesh.proxy(
                        p["metadata"]["namespace"].as_str().unwrap(),
                        p["metadata"]["name"].as_str().unwrap(),
                    )
                    .is_some()
                })
    })
    .await;
}

#[tokio::test]
async fn every_scenario_comes_up_meshed_without_failures() {
    for name in NAMES {
        let sim = scenario(name).await;
        settled(&sim).await;
        let web = &sim.pods("emojivoto", "web-")[0];
        let root = sim.sim.scenario_identity().unwrap().root.cert().to_pem();
        assert_eq!(
            proxy_anchors(web).as_deref(),
            Some(root.as_str()),
            "{name}: injected anchors"
        );
        assert!(
            proxy_anchors(&sim.pods("legacy", "")[0]).is_none(),
            "{name}: legacy was meshed"
        );
        assert!(
            proxy_anchors(&sim.pods("monitoring", "node-agent-")[0]).is_some(),
            "{name}: DaemonSet template annotation"
        );
        // Proxies that waited for the identity controller did not crash.
        for ns in ["emojivoto", "books", "monitoring", "linkerd"] {
            for pod in sim.pods(ns, "") {
                assert_eq!(
                    pod["status"]["containerStatuses"][0]["restartCount"],
                    0,
                    "{name}: {}",
                    sim.dump()
                );
            }
        }
        // From 2.11 the three core control-plane proxies read the anchors from the
        // trust-roots ConfigMap through their env; before, and in workloads, they are inline.
        let identity = sim
            .get("apps", "deployments", "linkerd", "linkerd-identity")
            .unwrap();
        let env = identity["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "linkerd-proxy")
            .unwrap()["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS")
            .unwrap()
            .clone();
        let by_reference = !matches!(name, "stable-2.8" | "stable-2.10");
        assert_eq!(
            env["valueFrom"]["configMapKeyRef"]["name"].as_str(),
            by_reference.then_some("linkerd-identity-trust-roots"),
            "{name}: {env}"
        );
        let pod = &sim.pods("linkerd", "linkerd-identity-")[0];
        let held = sim
            .sim
            .cluster()
            .unwrap()
            .linkerd()
            .mesh
            .proxy("linkerd", pod["metadata"]["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(held.anchors_text.trim(), root.trim(), "{name}");
        let record = &sim.sim.cluster().unwrap().linkerd().record;
        sim.wait_for(10, "sampled traffic", |_| record.connections() > 50)
            .await;
        assert!(record.is_empty(), "{name}: {}", record.summary());
    }
}

#[tokio::test]
async fn the_injector_sees_a_new_bundle_only_after_the_kubelet_refresh() {
    use runner::sim::cluster::ClusterOptions;
    use runner::sim::store::Patch;
    use serde_json::json;
    // An hour of simulated refresh delay: 3.6 s of real time.
    let cluster = ClusterOptions {
        kubelet_refresh: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let sim = Sim::start(SimOptions {
        scenario: Some("edge".into()),
        cluster: Some(cluster),
        ..Default::default()
    })
    .await;
    settled(&sim).await;
    let old = sim.sim.scenario_identity().unwrap().root.cert().to_pem();
    let other = runner::pki::generate(
        &runner::pki::CertRequest::new(runner::pki::Profile::RootCa, "other"),
        None,
    )
    .unwrap();
    let bundle = format!("{}{old}", other.cert().to_pem());
    let cms = sim.rt("", "configmaps");
    let patch = Patch::Merge(json!({"data": {"ca-bundle.crt": bundle.trim_end()}}));
    sim.sim
        .store()
        .patch(
            &cms,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            &patch,
            false,
            false,
        )
        .unwrap();

    let deployments = sim.rt("apps", "deployments");
    let restart = |n: &str| {
        Patch::Merge(
            json!({"spec": {"template": {"metadata": {"annotations": {"restartedAt": n}}}}}),
        )
    };
    sim.sim
        .store()
        .patch(
            &deployments,
            Some("emojivoto"),
            "voting",
            &restart("1"),
            false,
            false,
        )
        .unwrap();
    sim.wait_for(10, "voting restarted", |s| {
        let pods = s.pods("emojivoto", "voting-");
        pods.len() == 1
            && pods[0]["metadata"]["annotations"]["restartedAt"] == "1"
            && ready(&pods[0])
    })
    .await;
    assert_eq!(
        proxy_anchors(&sim.pods("emojivoto", "voting-")[0]).as_deref(),
        Some(old.as_str()),
        "the new bundle arrived before the refresh"
    );

    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    sim.sim
        .store()
        .patch(
            &deployments,
            Some("emojivoto"),
            "voting",
            &restart("2"),
            false,
            false,
        )
        .unwrap();
    sim.wait_for(10, "voting restarted again", |s| {
        let pods = s.pods("emojivoto", "voting-");
        pods.len() == 1
            && pods[0]["metadata"]["annotations"]["restartedAt"] == "2"
            && ready(&pods[0])
    })
    .await;
    assert_eq!(
        proxy_anchors(&sim.pods("emojivoto", "voting-")[0]).as_deref(),
        Some(bundle.as_str())
    );
}

#[tokio::test]
async fn leaves_last_24_hours_and_are_renewed_at_70_percent_on_the_sim_clock() {
    use runner::sim::cluster::ClusterOptions;
    use time::Duration;
    // A simulated day in under a second.
    let cluster = ClusterOptions {
        speed: 100_000.0,
        ..Default::default()
    };
    let sim = Sim::start(SimOptions {
        scenario: Some("edge".into()),
        cluster: Some(cluster),
        ..Default::default()
    })
    .await;
    settled(&sim).await;
    let linkerd = sim.sim.cluster().unwrap().linkerd().clone();
    let clock = sim.sim.cluster().unwrap().clock().clone();
    let web = sim.pods("emojivoto", "web-")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = linkerd.mesh.proxy("emojivoto", &web).unwrap().leaf;
    // Valid from 20 s before issuance to 24 h and 20 s after (Linkerd's skew allowance).
    assert_eq!(
        first.cert.not_after() - first.cert.not_before(),
        Duration::hours(24) + Duration::seconds(40)
    );
    let issued = first.cert.not_before() + Duration::seconds(20);
    let lifetime: Duration = first.cert.not_after() - issued;
    assert!(
        (first.renew_at - (issued + lifetime * 0.7_f64)).abs() < Duration::seconds(1),
        "renewal planned at {} for a leaf issued at {issued}",
        first.renew_at
    );
    let issuer = sim.sim.scenario_identity().unwrap().issuer.cert().clone();
    assert_eq!(first.chain[0].fingerprint(), issuer.fingerprint());

    // Three simulated days: the leaf is renewed again and again, each time at 70%.
    let until = clock.now() + Duration::days(3);
    let mut leaves = vec![first.cert.clone()];
    while clock.now() < until {
        let leaf = linkerd.mesh.proxy("emojivoto", &web).unwrap().leaf.cert;
        if leaf.fingerprint() != leaves.last().unwrap().fingerprint() {
            leaves.push(leaf);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(leaves.len() >= 3, "only {} leaves in 3 days", leaves.len());
    for pair in leaves.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let old_issued = old.not_before() + Duration::seconds(20);
        let new_issued = new.not_before() + Duration::seconds(20);
        assert!(
            new_issued >= old_issued + lifetime * 0.7_f64,
            "renewed early: issued {old_issued}, renewed {new_issued}"
        );
        assert!(
            new_issued < old.not_after(),
            "renewed after expiry: {} then {new_issued}",
            old.not_after()
        );
    }
    assert!(linkerd.record.is_empty(), "{}", linkerd.record.summary());
}
