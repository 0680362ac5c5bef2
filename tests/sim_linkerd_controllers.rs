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

    // Paused, it still scales (`kubectl scale`), with pods of the template it ran before.
    let scale = runner::sim::store::Patch::Merge(json!({"spec": {"replicas": 3}}));
    sim.sim
        .store()
        .patch(&rt, Some("apps"), "web", &scale, false, false)
        .unwrap();
    sim.wait_for(10, "a third pod while paused", |s| {
        s.pods("apps", "web-").iter().filter(|p| ready(p)).count() == 3
    })
    .await;
    let pods = sim.pods("apps", "web-");
    assert!(
        pods.iter()
            .all(|p| p["metadata"]["annotations"]["x"].is_null()),
        "a paused deployment took its new template"
    );
    let sets = sim
        .sim
        .store()
        .list(
            &sim.rt("apps", "replicasets"),
            Some("apps"),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(sets.items.len(), 1, "a paused deployment made a ReplicaSet");
    let before: Vec<String> = pods
        .iter()
        .map(|p| p["metadata"]["name"].to_string())
        .collect();

    let resume = runner::sim::store::Patch::Merge(json!({"spec": {"paused": false}}));
    sim.sim
        .store()
        .patch(&rt, Some("apps"), "web", &resume, false, false)
        .unwrap();
    sim.wait_for(10, "the rollout after resuming", |s| {
        let pods = s.pods("apps", "web-");
        pods.len() == 3
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
    let mut set = stateful_set(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}));
    set["spec"]["replicas"] = json!(4);
    sim.create("apps", "statefulsets", "data", set);
    sim.wait_for(10, "4 pods", |s| {
        s.pods("data", "db-").iter().filter(|p| ready(p)).count() == 4
    })
    .await;
    let old = revision(&sim.get("", "pods", "data", "db-0").unwrap());
    let mut changes = sim.sim.store().subscribe();
    let rt = sim.rt("apps", "statefulsets");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("data"), "db", &patch, false, false)
        .unwrap();
    sim.wait_for(10, "ordinals 1 to 3 updated", |s| {
        ["db-1", "db-2", "db-3"].iter().all(|n| {
            s.get("", "pods", "data", n)
                .is_some_and(|p| ready(&p) && revision(&p) != old)
        })
    })
    .await;
    let mut deleted = Vec::new();
    while let Ok(change) = changes.try_recv() {
        if change.kind == runner::sim::store::ChangeType::Deleted && change.storage.plural == "pods"
        {
            deleted.push(change.name.clone());
        }
    }
    assert_eq!(
        deleted,
        ["db-3", "db-2", "db-1"],
        "not highest ordinal first"
    );
    let set = sim.get("apps", "statefulsets", "data", "db").unwrap();
    assert_eq!(set["status"]["updatedReplicas"], 3);
    assert_eq!(set["status"]["currentRevision"], old.as_str());

    // Below the partition a deleted pod comes back at the current revision, from the
    // ControllerRevision that keeps its template.
    let pods = sim.rt("", "pods");
    sim.sim
        .store()
        .delete(&pods, Some("data"), "db-0", false)
        .unwrap();
    sim.wait_for(10, "db-0 recreated", |s| {
        s.get("", "pods", "data", "db-0").is_some_and(|p| ready(&p))
    })
    .await;
    let again = sim.get("", "pods", "data", "db-0").unwrap();
    assert_eq!(revision(&again), old, "the partition was ignored");
    assert!(again["metadata"]["annotations"]["x"].is_null());
    let revisions = sim
        .sim
        .store()
        .list(
            &sim.rt("apps", "controllerrevisions"),
            Some("data"),
            &Default::default(),
        )
        .unwrap();
    let mut numbers: Vec<(String, i64)> = revisions
        .items
        .iter()
        .map(|r| {
            (
                r["metadata"]["name"].as_str().unwrap().to_owned(),
                r["revision"].as_i64().unwrap(),
            )
        })
        .collect();
    numbers.sort_by_key(|(_, n)| *n);
    assert_eq!(numbers.len(), 2, "{numbers:?}");
    assert_eq!(numbers[0].0, old);
    assert_eq!(numbers[1].1, 2);
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
async fn an_on_delete_daemon_set_rolls_only_deleted_pods() {
    let sim = Sim::bare().await;
    namespace(&sim, "infra");
    sim.create("apps", "daemonsets", "infra", json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "updateStrategy": {"type": "OnDelete"},
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
    let old = revision(&sim.pods("infra", "agent-")[0]);
    let rt = sim.rt("apps", "daemonsets");
    let patch = runner::sim::store::Patch::Merge(
        json!({"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}}),
    );
    sim.sim
        .store()
        .patch(&rt, Some("infra"), "agent", &patch, false, false)
        .unwrap();
    sim.wait_for(10, "the status to see the new template", |s| {
        s.get("apps", "daemonsets", "infra", "agent")
            .is_some_and(|d| d["status"]["observedGeneration"] == 2)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        sim.pods("infra", "agent-")
            .iter()
            .all(|p| revision(p) == old),
        "OnDelete rolled by itself"
    );
    let victim = sim.pods("infra", "agent-")[0].clone();
    let node = victim["spec"]["nodeName"].as_str().unwrap().to_owned();
    let pods = sim.rt("", "pods");
    sim.sim
        .store()
        .delete(
            &pods,
            Some("infra"),
            victim["metadata"]["name"].as_str().unwrap(),
            false,
        )
        .unwrap();
    sim.wait_for(
        10,
        "the deleted node's pod recreated from the new template",
        |s| {
            let pods = s.pods("infra", "agent-");
            pods.len() == 3
                && pods.iter().all(ready)
                && pods
                    .iter()
                    .any(|p| p["spec"]["nodeName"] == node.as_str() && revision(p) != old)
        },
    )
    .await;
    let pods = sim.pods("infra", "agent-");
    assert_eq!(pods.iter().filter(|p| revision(p) == old).count(), 2);
    let ds = sim.get("apps", "daemonsets", "infra", "agent").unwrap();
    assert_eq!(ds["status"]["updatedNumberScheduled"], 1);
}

#[tokio::test]
async fn a_restart_during_a_rollout_rolls_out_the_last_template() {
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
    let rt = sim.rt("apps", "deployments");
    // Two restarts in the same second, told apart by their annotation values only, the
    // second before the first rollout finished (`runner`'s restart_ns writes such values).
    for value in ["2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.2Z"] {
        let patch = runner::sim::store::Patch::Merge(
            json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": value}}}}}),
        );
        sim.sim
            .store()
            .patch(&rt, Some("apps"), "web", &patch, false, false)
            .unwrap();
    }
    sim.wait_for(10, "the second restart rolled out", |s| {
        let d = s.get("apps", "deployments", "apps", "web").unwrap();
        let pods = s.pods("apps", "web-");
        d["status"]["observedGeneration"] == 3
            && d["status"]["updatedReplicas"] == 2
            && d["status"]["availableReplicas"] == 2
            && pods.len() == 2
            && pods.iter().all(|p| {
                ready(p)
                    && p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
                        == "2026-01-01T00:00:00.2Z"
            })
    })
    .await;
    let sets = sim
        .sim
        .store()
        .list(
            &sim.rt("apps", "replicasets"),
            Some("apps"),
            &Default::default(),
        )
        .unwrap();
    // The real controller may see both writes in one sync and skip the first template; what
    // must hold is that the last one is rolled out and is the newest revision.
    let newest = sets
        .items
        .iter()
        .max_by_key(|rs| {
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .unwrap()
        })
        .unwrap();
    assert!(sets.items.len() >= 2);
    assert_eq!(
        newest["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2026-01-01T00:00:00.2Z"
    );
    assert_eq!(newest["spec"]["replicas"], 2);
    let d = sim.get("apps", "deployments", "apps", "web").unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        newest["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    );
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
    // A rollback finds the first ReplicaSet again by its template and makes it revision 5.
    sim.ok(&[
        "-n",
        "apps",
        "rollout",
        "undo",
        "deploy/web",
        "--to-revision=1",
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
    let history = sim
        .ok(&["-n", "apps", "rollout", "history", "deploy/web"])
        .await;
    let listed: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(listed, ["2", "3", "4", "5"], "{history}");
    let sets = sim
        .sim
        .store()
        .list(&rt, Some("apps"), &Default::default())
        .unwrap();
    assert_eq!(sets.items.len(), 4, "the rollback made a ReplicaSet");
}
