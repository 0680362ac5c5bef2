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
    // The client the runner builds, so that the retries counted are the runner's own.
    let client = runner_client(&sim).await;
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
    let cluster = Cluster::new(runner_client(&sim).await, "sim");
    let configmap = kinds::lookup("ConfigMap").unwrap();

    // The change comes once the first watch was cut (after 2 s) and a second one started,
    // however slowly the first started on a busy machine.
    let store = sim.store().clone();
    let rt = store.registry().lookup("", "v1", "configmaps").unwrap();
    let counts = sim.counts().clone();
    tokio::spawn(async move {
        while counts.get("watch", "configmaps") < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

/// The client `runner --kubeconfig` builds for the sim.
async fn runner_client(sim: &runner::sim::SimHandle) -> kube::Client {
    let args = ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    cluster::connect(&args).await.unwrap().client
}

/// An API server whose `n`th answer (from 0) is `answer(n)`. Returns its URL and the count
/// of requests it answered.
async fn scripted_server(
    answer: impl Fn(usize) -> (u16, Vec<(&'static str, &'static str)>, String)
    + Clone
    + Send
    + Sync
    + 'static,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let app = axum::Router::new().fallback(move || {
        let (counter, answer) = (counter.clone(), answer.clone());
        async move {
            let (code, headers, body) = answer(counter.fetch_add(1, Ordering::SeqCst));
            let mut response = axum::response::Response::builder().status(code);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(axum::body::Body::from(body)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, answered)
}

/// Throttles the way the real API server's priority and fairness filter does: 429 with a
/// `Retry-After` header and a plain-text body, for the first `throttled` requests; then a
/// ConfigMap.
async fn throttling_server(
    throttled: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    scripted_server(move |n| {
        if n < throttled {
            (
                429,
                vec![
                    ("Retry-After", "1"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                ],
                "Too many requests, please try again later.\n".to_owned(),
            )
        } else {
            let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cm", "namespace": "ns", "resourceVersion": "7"},
                "data": {"n": "1"}});
            (
                200,
                vec![("Content-Type", "application/json")],
                cm.to_string(),
            )
        }
    })
    .await
}

fn runner_cluster(url: &str) -> Cluster {
    let config = kube::Config::new(url.parse().unwrap());
    let client = cluster::client::build(config, "scripted".into())
        .unwrap()
        .client;
    Cluster::new(client, "scripted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rbac_refusal_of_a_read_names_the_verb_resource_and_namespace_at_once() {
    use std::sync::atomic::Ordering;
    // The body a real API server sends when RBAC refuses.
    let (url, answered) = scripted_server(|_| {
        let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "Forbidden", "code": 403,
            "details": {"kind": "secrets"},
            "message": "secrets is forbidden: User \"system:serviceaccount:ops:runner\" cannot \
                        list resource \"secrets\" in API group \"\" in the namespace \"linkerd\""});
        (
            403,
            vec![("Content-Type", "application/json")],
            status.to_string(),
        )
    })
    .await;
    let error = runner_cluster(&url)
        .list(&kinds::lookup("Secret").unwrap(), Some("linkerd"), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "listing Secrets in namespace linkerd: 403 Forbidden: not allowed to list secrets in \
         namespace linkerd: secrets is forbidden: User \"system:serviceaccount:ops:runner\" \
         cannot list resource \"secrets\" in API group \"\" in the namespace \"linkerd\""
    );
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "a refusal is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_request_waits_as_the_header_asks_in_one_bounded_retry_loop() {
    use std::sync::atomic::Ordering;
    let configmap = kinds::lookup("ConfigMap").unwrap();
    let retry = RetryPolicy {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_attempts: 3,
        max_total_delay: Duration::from_secs(30),
    };

    // Two throttled answers, then the object: the wait is the header's, not our 5-20 ms.
    let (url, answered) = throttling_server(2).await;
    let cluster = runner_cluster(&url).with_retry(retry);
    let started = std::time::Instant::now();
    let found = cluster.get(&configmap, Some("ns"), "cm").await.unwrap();
    assert_eq!(found.unwrap().data["data"]["n"], "1");
    assert_eq!(answered.load(Ordering::SeqCst), 3);
    assert!(started.elapsed() >= Duration::from_secs(2));

    // Throttled for good: exactly `max_attempts` requests, not kube's own retries inside
    // each of ours, and an error that says what gave up.
    let (url, answered) = throttling_server(usize::MAX).await;
    let cluster = runner_cluster(&url).with_retry(retry);
    let error = cluster.get(&configmap, Some("ns"), "cm").await.unwrap_err();
    assert_eq!(answered.load(Ordering::SeqCst), 3);
    assert_eq!(
        error.to_string(),
        "getting ConfigMap ns/cm: 429 TooManyRequests: Too many requests, please try again \
         later. (gave up after 3 attempts)"
    );
}
