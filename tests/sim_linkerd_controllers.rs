//! The workload controllers of the simulated cluster: rollouts, pauses, StatefulSets with
//! `OnDelete` and partitions, DaemonSets per node, recreated pods, `kubectl rollout status`.

mod sim_linkerd_support;

use serde_json::json;
use sim_linkerd_support::{Sim, deployment, kubectl_present, ready};

fn namespace(sim: &Sim, name: &str) {
    let rt = sim.rt("", "namespaces");
    sim.sim
        .store()
        .create(&rt, None, json!({"metadata": {"name": name}}), false)
        .unwrap();
}

#[tokio::test]
async fn a_deployment_gets_ready_pods_and_a_complete_status() {
    let sim = Sim::bare().await;
    namespace(&sim, "apps");
    sim.create(
        "apps",
        "deployments",
        "apps",
        deployment("web", 3, json!({})),
    );
    sim.wait_for(10, "3 ready pods and a complete status", |s| {
        let d = s.get("apps", "deployments", "apps", "web").unwrap();
        let st = &d["status"];
        s.pods("apps", "web-").iter().filter(|p| ready(p)).count() == 3
            && st["availableReplicas"] == 3
            && st["updatedReplicas"] == 3
            && st["observedGeneration"] == 1
    })
    .await;
    let pod = &sim.pods("apps", "web-")[0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert!(pod["status"]["startTime"].is_string());
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
    assert!(
        pod["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("node-")
    );

    // A deleted pod of a controller comes back.
    let gone = pod["metadata"]["name"].as_str().unwrap().to_owned();
    let rt = sim.rt("", "pods");
    sim.sim
        .store()
        .delete(&rt, Some("apps"), &gone, false)
        .unwrap();
    sim.wait_for(10, "the deleted pod replaced", |s| {
        let pods = s.pods("apps", "web-");
        pods.len() == 3
            && pods
                .iter()
                .all(|p| p["metadata"]["name"] != gone.as_str() && ready(p))
    })
    .await;
}

#[tokio::test]
async fn a_paused_deployment_does_not_roll_and_resumes() {
    let sim = Sim::bare().await;
    namespace(&sim, "apps");
    sim.create(
        "apps",
        "deployments",
        "apps",
        deployment("web", 2, json!({})),
    );
    sim.wait_for(10, "2 ready pods", |s| {
        s.pods("apps", "web-").iter().filter(|p| ready(p)).count() == 2
    })
    .await;
    let before: Vec<String> = sim
        .pods("apps", "web-")
        .iter()
        .map(|p| p["metadata"]["name"].to_string())
        .collect();
    let rt = sim.rt("apps", "deployments");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"paused": true, "template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("apps"), "web", &patch, false, false)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after: Vec<String> = sim
        .pods("apps", "web-")
        .iter()
        .map(|p| p["metadata"]["name"].to_string())
        .collect();
    assert_eq!(before, after, "a paused deployment rolled");
    let d = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_eq!(d["status"]["conditions"][1]["reason"], "DeploymentPaused");

    let resume = runner::sim::store::Patch::Merge(json!({"spec": {"paused": false}}));
    sim.sim
        .store()
        .patch(&rt, Some("apps"), "web", &resume, false, false)
        .unwrap();
    sim.wait_for(10, "the rollout after resuming", |s| {
        let pods = s.pods("apps", "web-");
        pods.len() == 2
            && pods
                .iter()
                .all(|p| ready(p) && !before.contains(&p["metadata"]["name"].to_string()))
    })
    .await;
}

fn stateful_set(strategy: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "updateStrategy": strategy,
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "db:1"}]}},
        },
    })
}

fn revision(pod: &serde_json::Value) -> String {
    pod["metadata"]["labels"]["controller-revision-hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_on_delete_stateful_set_rolls_only_deleted_pods() {
    let sim = Sim::bare().await;
    namespace(&sim, "data");
    sim.create(
        "apps",
        "statefulsets",
        "data",
        stateful_set(json!({"type": "OnDelete"})),
    );
    sim.wait_for(10, "3 ordered pods", |s| {
        s.pods("data", "db-").iter().filter(|p| ready(p)).count() == 3
    })
    .await;
    assert!(sim.get("", "pods", "data", "db-2").is_some());
    let old = revision(&sim.get("", "pods", "data", "db-0").unwrap());
    let rt = sim.rt("apps", "statefulsets");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("data"), "db", &patch, false, false)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        sim.pods("data", "db-").iter().all(|p| revision(p) == old),
        "OnDelete rolled by itself"
    );

    let pods = sim.rt("", "pods");
    sim.sim
        .store()
        .delete(&pods, Some("data"), "db-1", false)
        .unwrap();
    sim.wait_for(10, "db-1 recreated from the new template", |s| {
        s.get("", "pods", "data", "db-1")
            .is_some_and(|p| ready(&p) && revision(&p) != old)
    })
    .await;
    assert_eq!(revision(&sim.get("", "pods", "data", "db-2").unwrap()), old);
}

#[tokio::test]
async fn a_rolling_stateful_set_honours_its_partition_highest_first() {
    let sim = Sim::bare().await;
    namespace(&sim, "data");
    sim.create(
        "apps",
        "statefulsets",
        "data",
        stateful_set(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})),
    );
    sim.wait_for(10, "3 pods", |s| {
        s.pods("data", "db-").iter().filter(|p| ready(p)).count() == 3
    })
    .await;
    let old = revision(&sim.get("", "pods", "data", "db-0").unwrap());
    let rt = sim.rt("apps", "statefulsets");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("data"), "db", &patch, false, false)
        .unwrap();
    sim.wait_for(10, "ordinals 1 and 2 updated", |s| {
        ["db-1", "db-2"].iter().all(|n| {
            s.get("", "pods", "data", n)
                .is_some_and(|p| ready(&p) && revision(&p) != old)
        })
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        revision(&sim.get("", "pods", "data", "db-0").unwrap()),
        old,
        "the partition was ignored"
    );
    let set = sim.get("apps", "statefulsets", "data", "db").unwrap();
    assert_eq!(set["status"]["updatedReplicas"], 2);
}

#[tokio::test]
async fn a_daemon_set_runs_one_pod_per_node_and_rolls() {
    let sim = Sim::bare().await;
    namespace(&sim, "infra");
    sim.create("apps", "daemonsets", "infra", json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
    }));
    sim.wait_for(10, "a pod per node", |s| {
        s.pods("infra", "agent-")
            .iter()
            .filter(|p| ready(p))
            .count()
            == 3
    })
    .await;
    let mut nodes: Vec<String> = sim
        .pods("infra", "agent-")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_owned())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"]);
    let old = revision(&sim.pods("infra", "agent-")[0]);
    let rt = sim.rt("apps", "daemonsets");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("infra"), "agent", &patch, false, false)
        .unwrap();
    sim.wait_for(10, "every node rolled", |s| {
        let pods = s.pods("infra", "agent-");
        pods.len() == 3 && pods.iter().all(|p| ready(p) && revision(p) != old)
    })
    .await;
    let ds = sim.get("apps", "daemonsets", "infra", "agent").unwrap();
    assert_eq!(ds["status"]["updatedNumberScheduled"], 3);
}

#[tokio::test]
async fn kubectl_rollout_status_finishes_and_two_restarts_give_two_rollouts() {
    if !kubectl_present() {
        return;
    }
    let sim = Sim::bare().await;
    namespace(&sim, "apps");
    sim.create(
        "apps",
        "deployments",
        "apps",
        deployment("web", 2, json!({})),
    );
    sim.ok(&[
        "-n",
        "apps",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=20s",
    ])
    .await;
    for value in ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z"] {
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": value}}}}}).to_string();
        sim.ok(&[
            "-n",
            "apps",
            "patch",
            "deploy/web",
            "--type=merge",
            "-p",
            &patch,
        ])
        .await;
        sim.ok(&[
            "-n",
            "apps",
            "rollout",
            "status",
            "deploy/web",
            "--timeout=20s",
        ])
        .await;
    }
    let rt = sim.rt("apps", "replicasets");
    let sets = sim
        .sim
        .store()
        .list(&rt, Some("apps"), &Default::default())
        .unwrap();
    assert_eq!(sets.items.len(), 3, "one ReplicaSet per template");
    let d = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_eq!(d["status"]["updatedReplicas"], 2);
    assert_eq!(d["status"]["replicas"], 2);
    // The real kubectl restart also finishes.
    sim.ok(&["-n", "apps", "rollout", "restart", "deploy/web"])
        .await;
    sim.ok(&[
        "-n",
        "apps",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=20s",
    ])
    .await;
}
