//! Shared by the `identity_*` tests: a simulated cluster reached over HTTPS through the same
//! client a run uses, runbooks run in-process against it (so the store can be inspected
//! afterwards), and direct reads and writes of its objects.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use runner::cluster::Cluster;
use runner::engine::{self, ConsentMode, RunOptions};
use runner::linkerd::ControlPlaneObjects;
use runner::output::{Format, Output};
use runner::pki::{CertRequest, CertifiedKey, Profile, generate};
use runner::sim::cluster::ClusterOptions;
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::Value;

pub struct Harness {
    pub sim: SimHandle,
    pub cluster: Cluster,
    pub dir: tempfile::TempDir,
    runs: AtomicU32,
}

/// What one runbook run printed (JSON events) and how it ended.
pub struct Ran {
    pub events: Vec<Value>,
    pub error: Option<String>,
    pub text: String,
}

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

impl Harness {
    pub async fn start(options: SimOptions) -> Self {
        let sim = SimServer::start(options).await.unwrap();
        let cluster = Cluster::new(runner_client(&sim).await, "sim");
        Self {
            sim,
            cluster,
            dir: tempfile::tempdir().unwrap(),
            runs: AtomicU32::new(0),
        }
    }

    /// A built-in scenario with its controllers.
    pub async fn scenario(name: &str) -> Self {
        let harness = Self::start(SimOptions {
            scenario: Some(name.to_owned()),
            cluster: Some(ClusterOptions::default()),
            ..SimOptions::default()
        })
        .await;
        // On a loaded machine the controllers may not have made the pods yet: a check then
        // finds no proxy to judge, green before and after any change.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let waiting = harness.sim.unsettled();
            if waiting.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "scenario {name}: not ready after 60 s: {waiting:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        harness
    }

    /// A manifest file loaded into a cluster with controllers.
    pub async fn manifest(path: &Path) -> Self {
        Self::start(SimOptions {
            manifests: vec![path.to_owned()],
            cluster: Some(ClusterOptions::default()),
            ..SimOptions::default()
        })
        .await
    }

    /// Writes `text` into the test folder and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes a certificate and its key as `name.crt` / `name.key`.
    pub fn ca_files(&self, name: &str, ca: &CertifiedKey) -> (PathBuf, PathBuf) {
        let crt = self.dir.path().join(format!("{name}.crt"));
        let key = self.dir.path().join(format!("{name}.key"));
        ca.write_cert(&crt, true).unwrap();
        ca.write_key(&key, true).unwrap();
        (crt, key)
    }

    /// Runs `body` as the one step of a runbook that changes the cluster, in a new workdir.
    pub async fn run(&self, body: &str, dry_run: bool) -> Ran {
        self.run_with(body, dry_run, self.cluster.clone()).await
    }

    pub async fn run_with(&self, body: &str, dry_run: bool, cluster: Cluster) -> Ran {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let run_dir = self.dir.path().join(format!("run-{n}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        let runbook = run_dir.join("test.rhai");
        let script = format!(
            "//! test\nstep(\"t\", \"test\", #{{ changes_cluster: true }}, || {{\n{body}\n}});\n"
        );
        std::fs::write(&runbook, script).unwrap();
        let options = RunOptions {
            runbook,
            workdir: run_dir.join("work"),
            dry_run,
            list: false,
            only: Vec::new(),
            skip: Vec::new(),
            from: None,
            fresh: false,
            consent: ConsentMode::Yes,
            target: "sim".to_owned(),
            stdlib_dir: None,
            overrides: Default::default(),
            cancel: Arc::default(),
            cluster: Some(cluster),
            summary_source: None,
        };
        let buffer = Buffer::default();
        let output = Arc::new(Output::new(Format::Json, Box::new(buffer.clone())));
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || engine::run(options, output, handle))
            .await
            .unwrap();
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let events = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        Ran {
            events,
            error: result.err().map(|e| runner::Error::from(e).chain()),
            text,
        }
    }

    /// The control-plane objects as the identity primitives fetch them.
    pub async fn objects(&self) -> ControlPlaneObjects {
        runner::identity::control_plane(&self.cluster, "linkerd")
            .await
            .unwrap()
    }

    /// An object from the store (`""`/`"configmaps"`, `"apps"`/`"deployments"`).
    pub fn get(&self, group: &str, plural: &str, ns: &str, name: &str) -> Value {
        let rt = self
            .sim
            .store()
            .registry()
            .lookup(group, "v1", plural)
            .unwrap();
        self.sim.store().get(&rt, Some(ns), name).unwrap()
    }

    /// Replaces an object in the store, as another writer would.
    pub fn put(&self, object: &Value) {
        let kind = object["kind"].as_str().unwrap();
        let (group, plural) = match kind {
            "ConfigMap" => ("", "configmaps"),
            "Secret" => ("", "secrets"),
            "Deployment" => ("apps", "deployments"),
            other => panic!("put: no plural for {other}"),
        };
        let rt = self
            .sim
            .store()
            .registry()
            .lookup(group, "v1", plural)
            .unwrap();
        let ns = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap();
        let mut object = object.clone();
        object["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        self.sim
            .store()
            .update(&rt, ns, name, object, false, false)
            .unwrap();
    }

    /// Every control-plane object's `resourceVersion`, by name; a Deployment's `generation`
    /// instead, since its status moves with its pods whatever the runner does.
    pub async fn versions(&self) -> Vec<(String, String)> {
        self.objects()
            .await
            .iter()
            .map(|o| {
                let version = if o["kind"] == "Deployment" {
                    o["metadata"]["generation"].to_string()
                } else {
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                };
                (format!("{} {}", o["kind"], o["metadata"]["name"]), version)
            })
            .collect()
    }
}

impl Ran {
    /// Panics with everything printed when the run failed.
    pub fn ok(self) -> Self {
        if let Some(error) = &self.error {
            panic!("the run failed: {error}\n{}", self.text);
        }
        self
    }

    /// The error, panicking when the run succeeded.
    pub fn failed(&self) -> &str {
        self.error
            .as_deref()
            .unwrap_or_else(|| panic!("the run succeeded:\n{}", self.text))
    }

    /// The outputs the step recorded.
    pub fn outputs(&self) -> &Value {
        self.events
            .iter()
            .find(|e| e["event"] == "step_finished")
            .map(|e| &e["outputs"])
            .unwrap_or_else(|| panic!("no step finished:\n{}", self.text))
    }

    pub fn events_of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }
}

/// A root CA valid from a day ago for ten years.
pub fn root(cn: &str) -> CertifiedKey {
    generate(&CertRequest::new(Profile::RootCa, cn), None).unwrap()
}

/// An issuer (intermediate CA) signed by `signer`.
pub fn issuer(signer: &CertifiedKey) -> CertifiedKey {
    let request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    generate(&request, Some(signer)).unwrap()
}

/// The client the runner builds for a `--kubeconfig` (one retry loop, ours), for the sim.
async fn runner_client(sim: &runner::sim::SimHandle) -> kube::Client {
    let args = runner::cluster::ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    runner::cluster::connect(&args).await.unwrap().client
}
