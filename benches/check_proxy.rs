//! `runner check --proxy` over 1,000 and 10,000 meshed pods, against `kubectl get pods -A -o
//! json` alone on the same simulated cluster (skipped, saying so, without kubectl), with the
//! peak memory (VmHWM) of each child process. Run with
//! `cargo bench --bench check_proxy`; it prints one line per figure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runner::sim::{SimHandle, SimOptions, SimServer, scenarios};
use serde_json::{Value, json};

const SIZES: [usize; 2] = [1_000, 10_000];
/// Runs per figure; the fastest counts, so that another process on the machine does not.
const RUNS: usize = 3;

fn pod(i: usize, anchors: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:05}"), "namespace": format!("app-{}", i % 20),
            "labels": {"app": "web", "linkerd.io/control-plane-ns": "linkerd",
                       "linkerd.io/workload-ns": format!("app-{}", i % 20)},
            "annotations": {"linkerd.io/inject": "enabled"}
        },
        "spec": {"containers": [
            {"name": "web", "image": "buoyantio/emojivoto-web:v11",
             "ports": [{"containerPort": 8080, "name": "http"}]},
            {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-26.8.3",
             "env": [
                {"name": "LINKERD2_PROXY_IDENTITY_DIR", "value": "/var/run/linkerd/identity/end-entity"},
                {"name": "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "value": anchors}
             ],
             "ports": [{"containerPort": 4143, "name": "linkerd-proxy"}]}
        ]},
        "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", i / 250, i % 250),
                   "startTime": "2026-12-03T20:00:00Z",
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// A cluster with the edge control plane and `count` meshed pods, no controllers.
async fn cluster(count: usize) -> SimHandle {
    let sim = SimServer::start(SimOptions::default()).await.expect("sim");
    let store = sim.store();
    let identity = scenarios::load(store, "edge").expect("scenario");
    let anchors = identity.root.cert().to_pem();
    let pods = store.registry().lookup("", "v1", "pods").expect("pods");
    for i in 0..count {
        let p = pod(i, &anchors);
        let ns = p["metadata"]["namespace"].as_str().unwrap().to_owned();
        runner::sim::load::ensure_namespace(store, &ns).expect("namespace");
        store.create(&pods, Some(&ns), p, false).expect("pod");
    }
    sim
}

/// Wall time and peak resident memory (kB) of one run of `command`.
fn measure(command: &mut Command) -> (Duration, u64, bool) {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        // VmHWM only grows, so the last reading before exit is the peak up to then.
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak = hwm(&text).unwrap_or(peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (started.elapsed(), peak, status.success())
}

fn hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn best(mut command: impl FnMut() -> Command) -> (Duration, u64) {
    let mut fastest = Duration::MAX;
    let mut peak = 0;
    for _ in 0..RUNS {
        let (took, hwm, ok) = measure(&mut command());
        assert!(ok, "the command failed");
        fastest = fastest.min(took);
        peak = peak.max(hwm);
    }
    (fastest, peak)
}

fn line(what: &str, took: Duration, peak_kb: u64, baseline: Option<Duration>) {
    let ratio = baseline.map_or(String::from("      -"), |b| {
        format!("{:>6.2}x", took.as_secs_f64() / b.as_secs_f64())
    });
    println!(
        "{what:<44} {:>9.1} ms  {:>7.1} MiB peak  {ratio} kubectl",
        took.as_secs_f64() * 1e3,
        peak_kb as f64 / 1024.0
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let runner = env!("CARGO_BIN_EXE_runner");
    let kubectl = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    if !kubectl {
        println!("kubectl is not installed: its baseline is skipped");
    }
    let mut per_thousand = Vec::new();
    for count in SIZES {
        let sim = rt.block_on(cluster(count));
        let kubeconfig = sim.kubeconfig_path().to_owned();
        let cache = tempfile::tempdir().expect("cache dir");
        println!("{count} meshed pods");

        let baseline = kubectl.then(|| {
            let (took, peak) = best(|| kubectl_get(&kubeconfig, cache.path()));
            line("  kubectl get pods -A -o json", took, peak, None);
            took
        });
        let (took, peak) = best(|| {
            let mut c = Command::new(runner);
            c.args(["check", "--proxy", "--kubeconfig"])
                .arg(&kubeconfig);
            c.env_remove("RUST_LOG");
            c
        });
        line("  runner check --proxy", took, peak, baseline);
        per_thousand.push(took.as_secs_f64() * 1e3 / (count as f64 / 1000.0));
        drop(sim);
    }
    println!(
        "runner check --proxy per 1,000 pods: {:.1} ms at {} pods, {:.1} ms at {} pods",
        per_thousand[0], SIZES[0], per_thousand[1], SIZES[1]
    );
}

fn kubectl_get(kubeconfig: &Path, cache: &Path) -> Command {
    let mut c = Command::new("kubectl");
    c.args(["get", "pods", "-A", "-o", "json"])
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", cache);
    c
}
