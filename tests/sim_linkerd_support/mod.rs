//! Shared helpers of the `sim_linkerd_*` tests: a simulated cluster with controllers, real
//! kubectl against it, and waiting on the store.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use runner::sim::cluster::ClusterOptions;
use runner::sim::kinds::ResourceType;
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::Value;
use tokio::process::Command;

pub fn kubectl_present() -> bool {
    let found = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    if !found {
        eprintln!("skipping: this test needs kubectl on the PATH");
    }
    found
}

pub fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/linkerd");
    if !dir.is_dir() {
        eprintln!("skipping: the fixture folder {} is missing", dir.display());
    }
    dir.is_dir().then_some(dir)
}

pub struct Sim {
    pub sim: SimHandle,
    cache: tempfile::TempDir,
}

impl Sim {
    pub async fn start(options: SimOptions) -> Self {
        let options = SimOptions {
            cluster: Some(options.cluster.clone().unwrap_or_default()),
            ..options
        };
        Self {
            sim: SimServer::start(options).await.unwrap(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn bare() -> Self {
        Self::start(SimOptions {
            cluster: Some(ClusterOptions::default()),
            ..Default::default()
        })
        .await
    }

    pub fn rt(&self, group: &str, plural: &str) -> Arc<ResourceType> {
        self.sim
            .store()
            .registry()
            .lookup(group, "v1", plural)
            .unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.sim.kubeconfig_path())
            .env("KUBECACHEDIR", self.cache.path())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Runs kubectl, asserts success and returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates an object from JSON through the store.
    pub fn create(&self, group: &str, plural: &str, ns: &str, obj: Value) -> Value {
        let rt = self.rt(group, plural);
        self.sim.store().create(&rt, Some(ns), obj, false).unwrap()
    }

    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let rt = self.rt(group, plural);
        self.sim.store().get(&rt, Some(ns), name).ok()
    }

    /// Pods of a namespace whose name starts with `prefix`.
    pub fn pods(&self, ns: &str, prefix: &str) -> Vec<Value> {
        let rt = self.rt("", "pods");
        let page = self
            .sim
            .store()
            .list(&rt, Some(ns), &Default::default())
            .unwrap();
        page.items
            .iter()
            .filter(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(prefix)
            })
            .map(|p| (**p).clone())
            .collect()
    }

    /// Waits up to `secs` real seconds for `cond`, panicking with `what` otherwise.
    pub async fn wait_for(&self, secs: u64, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            if cond(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}; pods:\n{}", self.dump());
    }

    /// Every pod with its readiness, restarts and waiting message, for failure messages.
    pub fn dump(&self) -> String {
        let rt = self.rt("", "pods");
        let page = self
            .sim
            .store()
            .list(&rt, None, &Default::default())
            .unwrap();
        page.items
            .iter()
            .map(|p| {
                let statuses = p["status"]["containerStatuses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let waiting: Vec<String> = statuses
                    .iter()
                    .filter_map(|c| c["state"]["waiting"]["message"].as_str().map(str::to_owned))
                    .collect();
                format!(
                    "  {}/{} ready={} restarts={} {}\n",
                    p["metadata"]["namespace"].as_str().unwrap_or(""),
                    p["metadata"]["name"].as_str().unwrap_or(""),
                    ready(p),
                    statuses
                        .first()
                        .map(|c| c["restartCount"].clone())
                        .unwrap_or_default(),
                    waiting.join("; ")
                )
            })
            .collect()
    }
}

pub fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

pub fn deployment(name: &str, replicas: i64, annotations: Value) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name }, "annotations": annotations },
                "spec": { "containers": [{ "name": "app", "image": "example/app:1" }] },
            },
        },
    })
}
pub mod certs;
pub mod procedure;
