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
        let record = &sim.sim.cluster().unwrap().linkerd().record;
        sim.wait_for(10, "sampled traffic", |_| record.connections() > 50)
            .await;
        assert!(record.is_empty(), "{name}: {}", record.summary());
    }
}
