//! Shared helpers of the `rollout_*` and `wait_event*` tests: a simulated cluster with its
//! controllers, and a one-step runbook run in-process against it with JSON output captured.

#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner::cluster::Cluster;
use runner::engine::{ConsentMode, Overrides, RunOptions};
use runner::output::{Format, Output};
use runner::sim::kinds::ResourceType;
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::Value;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running simulated cluster.
pub struct Harness {
    pub sim: SimHandle,
}

/// What a run printed and how it ended.
pub struct Ran {
    /// `Err` with the step's error text when the step failed.
    pub result: Result<Value, String>,
    pub events: Vec<Value>,
}

impl Ran {
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    pub fn output(&self) -> &Value {
        self.result.as_ref().expect("the step succeeded")
    }

    pub fn error(&self) -> &str {
        self.result.as_ref().expect_err("the step failed")
    }
}

impl Harness {
    /// A scenario with the simulated controllers.
    pub async fn scenario(name: &str) -> Self {
        Self::start(SimOptions {
            scenario: Some(name.into()),
            ..SimOptions::default()
        })
        .await
    }

    pub async fn start(options: SimOptions) -> Self {
        let sim = SimServer::start(options).await.unwrap();
        let harness = Self { sim };
        harness.settle().await;
        harness
    }

    /// Waits until every workload (but a paused one) has all its pods ready, and every pod is
    /// ready.
    pub async fn settle(&self) {
        self.wait_for(30, "every workload whole and every pod ready", |h| {
            !h.list("", "pods", None).is_empty() && h.sim.unsettled().is_empty()
        })
        .await;
    }

    pub fn rt(&self, group: &str, plural: &str) -> Arc<ResourceType> {
        self.sim
            .store()
            .registry()
            .lookup(group, "v1", plural)
            .unwrap()
    }

    pub fn list(&self, group: &str, plural: &str, ns: Option<&str>) -> Vec<Value> {
        let rt = self.rt(group, plural);
        let page = self.sim.store().list(&rt, ns, &Default::default()).unwrap();
        page.items.iter().map(|i| (**i).clone()).collect()
    }

    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Value {
        let rt = self.rt(group, plural);
        self.sim.store().get(&rt, Some(ns), name).unwrap()
    }

    pub fn create(&self, group: &str, plural: &str, ns: Option<&str>, object: Value) -> Value {
        let rt = self.rt(group, plural);
        self.sim.store().create(&rt, ns, object, false).unwrap()
    }

    pub fn patch(&self, group: &str, plural: &str, ns: &str, name: &str, patch: Value) -> Value {
        let rt = self.rt(group, plural);
        let patch = runner::sim::store::Patch::Merge(patch);
        self.sim
            .store()
            .patch(&rt, Some(ns), name, &patch, false, false)
            .unwrap()
    }

    /// The names of a namespace's pods whose name starts with `prefix`.
    pub fn pod_names(&self, ns: &str, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .list("", "pods", Some(ns))
            .iter()
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    }

    pub async fn wait_for(&self, secs: u64, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if cond(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// Runs `body` as the one step of a runbook; its value is the step's output.
    pub async fn run(&self, body: &str, dry_run: bool) -> Ran {
        self.run_with(body, dry_run, Arc::new(AtomicBool::new(false)))
            .await
    }

    pub async fn run_with(&self, body: &str, dry_run: bool, cancel: Arc<AtomicBool>) -> Ran {
        let dir = tempfile::tempdir().unwrap();
        let runbook = dir.path().join("rb.rhai");
        let text = format!(
            "//! A test.\nstep(\"s\", \"the step\", #{{ changes_cluster: true }}, || {{\n{body}\n}});\n"
        );
        std::fs::write(&runbook, text).unwrap();
        let cluster = Cluster::new(runner_client(&self.sim).await, "sim");
        let options = RunOptions {
            runbook,
            workdir: dir.path().join("work"),
            dry_run,
            list: false,
            only: Vec::new(),
            skip: Vec::new(),
            from: None,
            fresh: false,
            consent: ConsentMode::Yes,
            target: "sim".into(),
            stdlib_dir: None,
            overrides: Overrides::default(),
            cancel,
            cluster: Some(cluster),
            summary_source: None,
        };
        let buffer = Buffer::default();
        let output = Arc::new(Output::new(Format::Json, Box::new(buffer.clone())));
        let handle = tokio::runtime::Handle::current();
        let outcome =
            tokio::task::spawn_blocking(move || runner::engine::run(options, output, handle))
                .await
                .unwrap();
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let result = match outcome {
            Ok(()) => Ok(events
                .iter()
                .find(|e| e["event"] == "step_finished")
                .map(|e| e["outputs"].clone())
                .unwrap_or_default()),
            Err(error) => Err(format!("{error}")),
        };
        drop(dir);
        Ran { result, events }
    }
}

/// The client the runner builds for a `--kubeconfig` (one retry loop, ours), for the sim.
async fn runner_client(sim: &runner::sim::SimHandle) -> kube::Client {
    let args = runner::cluster::ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    runner::cluster::connect(&args).await.unwrap().client
}

pub fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}
