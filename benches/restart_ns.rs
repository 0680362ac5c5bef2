//! `restart_ns` over many namespaces of meshed Deployments in the simulated cluster (fast
//! clock), until every rollout is complete, against the loop an operator runs by hand:
//! `kubectl -n NS rollout restart deploy` then `kubectl -n NS rollout status deploy`, one
//! namespace after the other, against the same sim. Also counts write requests per workload
//! from the sim. Run with `cargo bench --bench restart_ns` (`--profile dev` on a small
//! machine); `RESTART_BENCH_NAMESPACES` and `RESTART_BENCH_DEPLOYMENTS` change the size
//! (default 100 × 20). The kubectl baseline is skipped when kubectl is missing, or with
//! `RESTART_BENCH_SKIP_KUBECTL` set.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use runner::cluster::inventory::Filter;
use runner::cluster::rollout::{self, RestartOptions};
use runner::cluster::{Cluster, WriteMode};
use runner::sim::cluster::ClusterOptions;
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::json;

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn namespace(i: usize) -> String {
    format!("bench-{i:03}")
}

/// Namespaces of meshed (by annotation) one-replica Deployments, all ready.
async fn populate(sim: &SimHandle, namespaces: usize, deployments: usize) {
    let store = sim.store();
    let registry = store.registry();
    let ns_type = registry.lookup("", "v1", "namespaces").expect("namespaces");
    let deploy_type = registry
        .lookup("apps", "v1", "deployments")
        .expect("deployments");
    for n in 0..namespaces {
        let ns = namespace(n);
        let object = json!({ "metadata": { "name": ns,
            "annotations": { "linkerd.io/inject": "enabled" } } });
        store
            .create(&ns_type, None, object, false)
            .expect("namespace");
        for d in 0..deployments {
            let app = format!("app-{d:02}");
            let object = json!({
                "metadata": { "name": app },
                "spec": { "replicas": 1, "selector": { "matchLabels": { "app": app } },
                    "template": { "metadata": { "labels": { "app": app } },
                        "spec": { "containers": [{ "name": "app", "image": "example/app:1" }] } } },
            });
            store
                .create(&deploy_type, Some(&ns), object, false)
                .expect("deployment");
        }
    }
    let wanted = namespaces * deployments;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let page = store
            .list(&deploy_type, None, &Default::default())
            .expect("list");
        let ready = page
            .items
            .iter()
            .filter(|d| {
                d["status"]["availableReplicas"] == 1 && d["status"]["updatedReplicas"] == 1
            })
            .count();
        if ready == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {ready} of {wanted} Deployments got ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Write requests per Deployment since the counts were reset: (most, mean).
fn writes(sim: &SimHandle, namespaces: usize, deployments: usize) -> (u64, f64) {
    let mut most = 0;
    let mut total = 0;
    for n in 0..namespaces {
        for d in 0..deployments {
            let name = format!("app-{d:02}");
            let count = sim
                .counts()
                .object_writes("deployments.apps", Some(&namespace(n)), &name);
            most = most.max(count);
            total += count;
        }
    }
    (most, total as f64 / (namespaces * deployments) as f64)
}

async fn ours(sim: &SimHandle, namespaces: usize, concurrency: usize) -> Duration {
    // The client `runner --kubeconfig` builds, retry loop and all.
    let args = runner::cluster::ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    let client = runner::cluster::connect(&args)
        .await
        .expect("client")
        .client;
    let cluster = Cluster::new(client, "sim");
    let options = RestartOptions {
        filter: Filter {
            namespaces: Some((0..namespaces).map(namespace).collect()),
            ..Filter::default()
        },
        timeout: Duration::from_secs(600),
        concurrency,
        restart_on_delete: false,
        mode: WriteMode::Apply,
        marker: format!("bench-{concurrency}-{}", rand_suffix()),
    };
    let started = Instant::now();
    let report = rollout::restart(
        &cluster,
        &options,
        Arc::new(|_| {}),
        Arc::new(AtomicBool::new(false)),
        &|_| {},
    )
    .await
    .expect("restart");
    let took = started.elapsed();
    let complete = report
        .restarted
        .iter()
        .filter(|r| r.phase == rollout::Phase::Complete)
        .count();
    assert_eq!(
        complete,
        report.restarted.len(),
        "not every rollout completed"
    );
    took
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn kubectl_loop(sim: &SimHandle, namespaces: usize) -> Option<Duration> {
    let present = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    if !present {
        println!("kubectl baseline skipped: kubectl is not on the PATH");
        return None;
    }
    let cache = tempfile::tempdir().expect("cache dir");
    let kubectl = |args: Vec<String>| {
        let mut cmd = std::process::Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", sim.kubeconfig_path())
            .env("KUBECACHEDIR", cache.path());
        let out = cmd.output().expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let started = Instant::now();
    for n in 0..namespaces {
        let ns = namespace(n);
        kubectl(vec![
            "-n".into(),
            ns.clone(),
            "rollout".into(),
            "restart".into(),
            "deploy".into(),
        ]);
        kubectl(vec![
            "-n".into(),
            ns,
            "rollout".into(),
            "status".into(),
            "deploy".into(),
            "--timeout=10m".into(),
        ]);
    }
    Some(started.elapsed())
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let namespaces = size("RESTART_BENCH_NAMESPACES", 100);
    let deployments = size("RESTART_BENCH_DEPLOYMENTS", 20);
    let options = SimOptions {
        cluster: Some(ClusterOptions::default()),
        ..SimOptions::default()
    };
    let sim = SimServer::start(options).await.expect("sim");
    populate(&sim, namespaces, deployments).await;
    println!("{namespaces} namespaces x {deployments} meshed Deployments, simulated clock x1000");

    let mut figures = Vec::new();
    for concurrency in [4, 16] {
        sim.counts().reset();
        let took = ours(&sim, namespaces, concurrency).await;
        let (most, mean) = writes(&sim, namespaces, deployments);
        println!(
            "restart_ns, concurrency {concurrency:>2}: {:>8.2} s  writes per Deployment: at most {most}, mean {mean:.2}",
            took.as_secs_f64()
        );
        figures.push((concurrency, took));
    }
    sim.counts().reset();
    if std::env::var_os("RESTART_BENCH_SKIP_KUBECTL").is_some() {
        return;
    }
    if let Some(baseline) = kubectl_loop(&sim, namespaces).await {
        let (most, mean) = writes(&sim, namespaces, deployments);
        println!(
            "baseline: sequential kubectl rollout restart + status: {:>8.2} s  writes per Deployment: at most {most}, mean {mean:.2}",
            baseline.as_secs_f64()
        );
        for (concurrency, took) in figures {
            println!(
                "speed-up at concurrency {concurrency}: {:.1}x",
                baseline.as_secs_f64() / took.as_secs_f64()
            );
        }
    }
}
