//! Choosing the cluster: a written kubeconfig with `--context`, a missing kubeconfig, a
//! context the kubeconfig does not hold; and reads through retries while the simulated
//! cluster fails, throttles and cuts watches.

use std::fmt::Write as _;
use std::time::Duration;

use runner::cluster::{self, ClientArgs, Cluster, RetryPolicy, WriteMode, kinds};
use runner::sim::{FaultConfig, SimOptions, SimServer};

/// A kubeconfig holding the sim's context and a second one whose server does not exist,
/// made current so that only `--context` reaches the sim.
fn two_contexts(sim_kubeconfig: &str) -> String {
    let dead = sim_kubeconfig
        .replace("name: runner-sim", "name: elsewhere")
        .replace("cluster: runner-sim", "cluster: elsewhere")
        .replace("user: runner-sim", "user: elsewhere");
    let dead = dead.replacen(
        "server: https://127.0.0.1:",
        "server: https://127.0.0.2:",
        1,
    );
    let mut text = String::new();
    for section in ["clusters", "users", "contexts"] {
        writeln!(text, "{section}:").unwrap();
        for source in [sim_kubeconfig, dead.as_str()] {
            text.push_str(&section_items(source, section));
        }
    }
    text.push_str("apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\n");
    text
}

/// The `- name: …` items under `section:` in a kubeconfig written by the sim.
fn section_items(kubeconfig: &str, section: &str) -> String {
    let mut inside = false;
    let mut items = String::new();
    for line in kubeconfig.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            inside = line == format!("{section}:");
            continue;
        }
        if inside {
            items.push_str(line);
            items.push('\n');
        }
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_kubeconfig_and_a_context_reach_the_cluster_they_name() {
    let sim = SimServer::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, two_contexts(sim.kubeconfig())).unwrap();

    let args = ClientArgs {
        kubeconfig: Some(path.clone()),
        context: Some("runner-sim".into()),
    };
    let connected = cluster::connect(&args).await.unwrap();
    assert_eq!(connected.target, format!("runner-sim@{}/", sim.url()));
    let cluster = Cluster::new(connected.client, connected.target);
    let namespace = kinds::lookup("Namespace").unwrap();
    let found = cluster.get(&namespace, None, "default").await.unwrap();
    assert_eq!(found.unwrap().metadata.name.as_deref(), Some("default"));

    // Without --context the current one (the dead server) is used: a different target.
    let current = ClientArgs {
        kubeconfig: Some(path.clone()),
        context: None,
    };
    let other = cluster::connect(&current).await.unwrap();
    assert!(
        other.target.starts_with("elsewhere@https://127.0.0.2:"),
        "{}",
        other.target
    );

    let wrong = ClientArgs {
        kubeconfig: Some(path.clone()),
        context: Some("prod".into()),
    };
    let error = cluster::connect(&wrong).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "context `prod` is not in kubeconfig {}: its contexts are runner-sim, elsewhere",
            path.display()
        )
    );
}

#[tokio::test]
async fn a_missing_kubeconfig_is_an_error_naming_it() {
    let args = ClientArgs {
        kubeconfig: Some("/nonexistent/runner/kubeconfig".into()),
        context: Some("runner-sim".into()),
    };
    let error = cluster::connect(&args).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "kubeconfig /nonexistent/runner/kubeconfig does not exist"
    );
}

fn many_configmaps(count: usize) -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: busy\n");
    for i in 0..count {
        write!(
            yaml,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\n  \
             namespace: busy\n  labels:\n    parity: \"{}\"\ndata:\n  n: \"{i}\"\n",
            if i % 2 == 0 { "even" } else { "odd" }
        )
        .unwrap();
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_gets_and_patches_complete_through_injected_faults() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("busy.yaml");
    std::fs::write(&manifest, many_configmaps(600)).unwrap();
    let options = SimOptions {
        manifests: vec![manifest],
        ..SimOptions::default()
    };
    let sim = SimServer::start(options).await.unwrap();
    let client = sim.client().await.unwrap();
    let retry = RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_attempts: 16,
        max_total_delay: Duration::from_secs(30),
    };
    let cluster = Cluster::new(client, "sim").with_retry(retry);
    sim.faults().set(FaultConfig {
        error_rate: 0.10,
        throttle_rate: 0.03,
        retry_after_secs: 1,
        watch_cut_after: Some(Duration::from_secs(2)),
        conflict_rate: 0.3,
        ..FaultConfig::default()
    });
    let configmap = kinds::lookup("ConfigMap").unwrap();
    let started = std::time::Instant::now();

    // 600 objects (and the namespace's `kube-root-ca.crt`) come in pages of 250: three list
    // requests at least, each retried alone.
    let all = cluster.list(&configmap, Some("busy"), None).await.unwrap();
    assert_eq!(all.len(), 601);
    let odd = cluster
        .list(&configmap, Some("busy"), Some("parity=odd"))
        .await
        .unwrap();
    assert_eq!(odd.len(), 300);
    assert!(sim.counts().get("list", "configmaps") >= 4);

    for i in (0..600).step_by(20) {
        let name = format!("cm-{i:03}");
        let found = cluster
            .get(&configmap, Some("busy"), &name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.data["data"]["n"], serde_json::json!(i.to_string()));
        let patched = cluster
            .patch(&configmap, Some("busy"), &name, WriteMode::Apply, |_| {
                Ok(Some(serde_json::json!({"data": {"seen": "yes"}})))
            })
            .await
            .unwrap();
        assert_eq!(patched.object.data["data"]["seen"], "yes");
    }
    let missing = cluster
        .get(&configmap, Some("busy"), "cm-999")
        .await
        .unwrap();
    assert!(missing.is_none());

    // Every answered write is one of ours, and the faults were met and ridden out: an
    // injected 409 made the patch read again and re-apply.
    assert_eq!(sim.counts().get("patch", "configmaps"), 30);
    assert!(
        sim.counts().get("injected", "409") > 0,
        "{:?}",
        sim.counts().snapshot()
    );
    let retries = sim.counts().get("injected", "500") + sim.counts().get("injected", "429");
    assert!(
        retries > 0,
        "no fault was injected in {:?}",
        sim.counts().snapshot()
    );
    // Our own backoff is at most 50 ms: only honouring `Retry-After: 1` takes this long.
    let throttled = sim.counts().get("injected", "429");
    assert!(
        started.elapsed() >= Duration::from_secs(throttled),
        "{throttled} throttled requests retried in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_sees_a_change_made_after_its_watch_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("busy.yaml");
    std::fs::write(&manifest, many_configmaps(3)).unwrap();
    let options = SimOptions {
        manifests: vec![manifest],
        faults: FaultConfig {
            error_rate: 0.10,
            watch_cut_after: Some(Duration::from_secs(2)),
            ..FaultConfig::default()
        },
        ..SimOptions::default()
    };
    let sim = SimServer::start(options).await.unwrap();
    let cluster = Cluster::new(sim.client().await.unwrap(), "sim");
    let configmap = kinds::lookup("ConfigMap").unwrap();

    // The change comes after the first watch was cut (2 s).
    let store = sim.store().clone();
    let rt = store.registry().lookup("", "v1", "configmaps").unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(4500)).await;
        let patch = runner::sim::store::Patch::Merge(serde_json::json!({"data": {"n": "done"}}));
        store
            .patch(&rt, Some("busy"), "cm-001", &patch, false, false)
            .unwrap();
    });
    let done = cluster
        .wait_for(
            &configmap,
            Some("busy"),
            "cm-001",
            "n = done",
            Duration::from_secs(30),
            |cm| cm.is_some_and(|cm| cm.data["data"]["n"] == "done"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.data["data"]["n"], "done");
    assert!(
        sim.counts().get("watch", "configmaps") >= 2,
        "{:?}",
        sim.counts().snapshot()
    );

    // A condition that never holds ends at the deadline, naming what was awaited.
    let error = cluster
        .wait_for(
            &configmap,
            Some("busy"),
            "cm-002",
            "n = never",
            Duration::from_millis(300),
            |cm| cm.is_none(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "waiting for ConfigMap busy/cm-002: n = never did not happen within 300ms"
    );
}
