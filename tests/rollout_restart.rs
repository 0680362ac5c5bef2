//! `restart_ns` and `meshed_workloads` against the simulated cluster over HTTP: every meshed
//! workload rolled with new pods, one write per workload, the control plane, progress events,
//! and the namespace that holds what a rollout cannot restart (issue 5, case 5).

mod rollout_support;

use std::collections::BTreeSet;

use rollout_support::{Harness, ready};
use serde_json::{Value, json};

fn uids(h: &Harness, ns: &str) -> BTreeSet<String> {
    h.list("", "pods", Some(ns))
        .iter()
        .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_owned))
        .collect()
}

fn marker(h: &Harness, group: &str, plural: &str, ns: &str, name: &str) -> Value {
    h.get(group, plural, ns, name)["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_meshed_workload_rolls_with_new_pods_and_one_write_each() {
    let h = Harness::scenario("edge").await;
    let before_emojivoto = uids(&h, "emojivoto");
    let before_books = uids(&h, "books");
    let legacy = uids(&h, "legacy");
    h.sim.counts().reset();

    let ran = h
        .run(r#"restart_ns(["emojivoto", "books", "legacy"])"#, false)
        .await;
    let out = ran.output();

    let restarted: BTreeSet<String> = out["restarted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "complete", "{r}");
            format!(
                "{} {}/{}",
                r["kind"].as_str().unwrap(),
                r["namespace"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    let expected: BTreeSet<String> = [
        "Deployment books/webapp",
        "StatefulSet books/db",
        "Deployment emojivoto/emoji",
        "Deployment emojivoto/voting",
        "Deployment emojivoto/web",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(restarted, expected);

    // Complete means what kubectl means: the old pods are gone and the new ones are ready.
    for (ns, before) in [("emojivoto", before_emojivoto), ("books", before_books)] {
        let now = uids(&h, ns);
        assert!(now.is_disjoint(&before), "old pods left in {ns}");
        assert!(h.list("", "pods", Some(ns)).iter().all(ready));
    }
    assert_eq!(
        uids(&h, "legacy"),
        legacy,
        "an unmeshed namespace is left alone"
    );

    // One marker for the whole call, one write per workload (no fault, no conflict).
    let first = marker(&h, "apps", "deployments", "emojivoto", "web");
    assert!(first.is_string());
    assert_eq!(marker(&h, "apps", "statefulsets", "books", "db"), first);
    for (resource, ns, name) in [
        ("deployments.apps", "emojivoto", "web"),
        ("deployments.apps", "emojivoto", "emoji"),
        ("deployments.apps", "emojivoto", "voting"),
        ("deployments.apps", "books", "webapp"),
        ("statefulsets.apps", "books", "db"),
    ] {
        assert_eq!(
            h.sim.counts().object_writes(resource, Some(ns), name),
            1,
            "{ns}/{name}"
        );
    }
    assert_eq!(
        h.sim
            .counts()
            .object_writes("deployments.apps", Some("legacy"), "old-app"),
        0
    );

    // A second call restarts again: its marker differs.
    let again = h.run(r#"restart_ns("emojivoto")"#, false).await;
    again.output();
    assert_ne!(marker(&h, "apps", "deployments", "emojivoto", "web"), first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_restarts_the_same_way() {
    let h = Harness::scenario("stable-2.11").await;
    let before = uids(&h, "linkerd");
    let ran = h.run(r#"restart_ns("linkerd")"#, false).await;
    let names: BTreeSet<String> = ran.output()["restarted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    for component in [
        "linkerd-identity",
        "linkerd-destination",
        "linkerd-proxy-injector",
    ] {
        assert!(
            names.contains(component),
            "{component} not restarted: {names:?}"
        );
    }
    assert!(uids(&h, "linkerd").is_disjoint(&before));
    assert!(h.list("", "pods", Some("linkerd")).iter().all(ready));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_follow_each_workload_to_its_end_in_json_output() {
    let h = Harness::scenario("edge").await;
    let ran = h.run(r#"restart_ns("emojivoto")"#, false).await;
    ran.output();
    let rollouts = ran.of("rollout");
    for name in ["web", "emoji", "voting"] {
        let object = format!("Deployment emojivoto/{name}");
        let mine: Vec<&&Value> = rollouts.iter().filter(|e| e["object"] == object).collect();
        assert!(mine.len() >= 2, "{object}: {mine:?}");
        assert_eq!(mine[0]["status"], "rolling");
        assert_eq!(mine[0]["message"], "restarted");
        assert_eq!(mine.last().unwrap()["status"], "complete");
        assert_eq!(mine[0]["step"], "s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meshed_workloads_lists_every_meshed_namespace_control_plane_included() {
    let h = Harness::scenario("edge").await;
    let ran = h.run("meshed_workloads()", false).await;
    let out = ran.output();
    assert_eq!(
        out["namespaces"],
        json!(["books", "emojivoto", "linkerd", "monitoring"])
    );
    let workloads = out["workloads"].as_array().unwrap();
    assert!(
        workloads.contains(&json!({ "kind": "DaemonSet", "namespace": "monitoring",
                                        "name": "node-agent" }))
    );
    assert!(workloads.iter().all(|w| w["namespace"] != "legacy"));
    assert_eq!(out["findings"], json!([]));
}

/// A namespace that holds what a rollout cannot restart, beside a Deployment it can.
fn awkward_namespace(h: &Harness) {
    h.create(
        "",
        "namespaces",
        None,
        json!({ "metadata": { "name": "odd",
        "annotations": { "linkerd.io/inject": "enabled" } } }),
    );
    let template = |app: &str| {
        json!({
            "metadata": { "labels": { "app": app } },
            "spec": { "containers": [{ "name": app, "image": "example/app:1" }] },
        })
    };
    for (name, paused) in [("fine", false), ("held", true)] {
        h.create("apps", "deployments", Some("odd"), json!({
            "metadata": { "name": name },
            "spec": { "replicas": 1, "paused": paused,
                      "selector": { "matchLabels": { "app": name } }, "template": template(name) },
        }));
    }
    h.create("apps", "statefulsets", Some("odd"), json!({
        "metadata": { "name": "store" },
        "spec": { "replicas": 2, "serviceName": "store", "updateStrategy": { "type": "OnDelete" },
                  "selector": { "matchLabels": { "app": "store" } }, "template": template("store") },
    }));
    h.create(
        "",
        "pods",
        Some("odd"),
        json!({
            "metadata": { "name": "lonely", "labels": { "app": "lonely" } },
            "spec": { "containers": [{ "name": "app", "image": "example/app:1" }] },
        }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_on_delete_and_bare_pods_are_findings_and_the_rest_restarts() {
    let h = Harness::scenario("edge").await;
    awkward_namespace(&h);
    h.settle().await;
    let held_writes = h
        .sim
        .counts()
        .object_writes("deployments.apps", Some("odd"), "held");

    let ran = h.run(r#"restart_ns("odd")"#, false).await;
    let out = ran.output();
    let restarted = out["restarted"].as_array().unwrap();
    assert_eq!(restarted.len(), 1, "{restarted:?}");
    assert_eq!(restarted[0]["name"], "fine");
    assert_eq!(restarted[0]["status"], "complete");

    let findings = out["findings"].as_array().unwrap();
    let named: BTreeSet<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["kind"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        })
        .collect();
    let expected: BTreeSet<String> = ["Deployment held", "StatefulSet store", "Pod lonely"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(named, expected, "{findings:?}");

    // Reported up front, as warnings, before the first rollout event.
    let warnings: Vec<usize> = ran
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["event"] == "log" && e["level"] == "warn")
        .map(|(i, _)| i)
        .collect();
    let first_rollout = ran
        .events
        .iter()
        .position(|e| e["event"] == "rollout")
        .unwrap();
    assert_eq!(warnings.len(), 3);
    assert!(warnings.iter().all(|i| *i < first_rollout));
    let held = ran.events[warnings[0]..=warnings[2]]
        .iter()
        .find(|e| e["message"].as_str().unwrap().contains("odd/held"))
        .unwrap();
    assert!(
        held["message"].as_str().unwrap().contains("paused"),
        "{held}"
    );

    // Not written, not waited on.
    assert_eq!(
        h.sim
            .counts()
            .object_writes("deployments.apps", Some("odd"), "held"),
        held_writes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_delete_replaces_on_delete_pods_one_at_a_time() {
    let h = Harness::scenario("edge").await;
    awkward_namespace(&h);
    h.settle().await;
    let before: BTreeSet<String> = h
        .list("", "pods", Some("odd"))
        .iter()
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("store-")
        })
        .map(|p| p["metadata"]["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(before.len(), 2);

    let ran = h
        .run(
            r#"restart_ns("odd", #{ restart_on_delete: true, kinds: ["sts"] })"#,
            false,
        )
        .await;
    let out = ran.output();
    let restarted = out["restarted"].as_array().unwrap();
    assert_eq!(restarted.len(), 1, "{restarted:?}");
    assert_eq!(restarted[0]["name"], "store");
    assert_eq!(restarted[0]["status"], "complete");
    let after: Vec<Value> = h
        .list("", "pods", Some("odd"))
        .into_iter()
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("store-")
        })
        .collect();
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(ready));
    assert!(
        after
            .iter()
            .all(|p| !before.contains(p["metadata"]["uid"].as_str().unwrap()))
    );
    // The OnDelete finding is handled, so no longer reported; the others still are.
    let findings = out["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["name"] != "store"),
        "{findings:?}"
    );
    // One "replacing pod" message per pod: they went one at a time.
    let replacing = ran
        .of("rollout")
        .iter()
        .filter(|e| e["message"].as_str().unwrap().starts_with("replacing pod"))
        .count();
    assert_eq!(replacing, 2, "{:#?}", ran.of("rollout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_namespace_and_unknown_options_are_named_before_any_write() {
    let h = Harness::scenario("edge").await;
    h.sim.counts().reset();
    let ran = h.run(r#"restart_ns(["emojivoto", "nope"])"#, false).await;
    assert!(
        ran.error().contains("namespace nope does not exist"),
        "{}",
        ran.error()
    );
    let ran = h
        .run(
            r#"restart_ns("emojivoto", #{ timout: duration("1m") })"#,
            false,
        )
        .await;
    assert!(
        ran.error().contains(
            "restart_ns: unknown option `timout`: the options are selector, kinds, timeout, \
             concurrency, restart_on_delete"
        ),
        "{}",
        ran.error()
    );
    let ran = h
        .run(r#"restart_ns("emojivoto", #{ kinds: ["CronJob"] })"#, false)
        .await;
    assert!(
        ran.error().contains(
            "restart_ns: unknown kind `CronJob` in `kinds`: the kinds are Deployment, \
             StatefulSet, DaemonSet"
        ),
        "{}",
        ran.error()
    );
    let ran = h
        .run(r#"restart_ns("emojivoto", #{ concurrency: 0 })"#, false)
        .await;
    assert!(
        ran.error()
            .contains("restart_ns: option `concurrency` is a positive integer, not 0"),
        "{}",
        ran.error()
    );
    let ran = h.run(r#"restart_ns(["emojivoto", ""])"#, false).await;
    assert!(
        ran.error()
            .contains("restart_ns: a namespace name is empty"),
        "{}",
        ran.error()
    );
    let ran = h
        .run(r#"restart_ns("emojivoto", #{ concurrency: "4" })"#, false)
        .await;
    assert!(
        ran.error()
            .contains("restart_ns: option `concurrency` is a positive integer, not string"),
        "{}",
        ran.error()
    );
    assert_eq!(h.sim.counts().writes(), 0);
}
