//! Shared helpers of the `rotate_*` tests: a simulated cluster with Linkerd inside it (a
//! scenario, or a fixture manifest with emojivoto), the `runner` binary run against it as
//! against any cluster, and what a finished rotation must leave behind.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use runner::pki::{Certificate, verify_chain};
use runner::sim::cluster::ClusterOptions;
use runner::sim::faults::FaultConfig;
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The shipped runbook.
pub fn rotate_rhai() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/rotate.rhai")
}

/// The fixture folder (`linkerd install` outputs and emojivoto), or `None` with a message.
pub fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/linkerd");
    if !dir.is_dir() {
        eprintln!("skipping: the fixture folder {} is missing", dir.display());
    }
    dir.is_dir().then_some(dir)
}

/// A simulated cluster for one test and a workdir for the runner.
pub struct Rehearsal {
    pub sim: SimHandle,
    pub workdir: tempfile::TempDir,
    /// Files the set-up wrote (the meshed `default` namespace of a fixture).
    _files: tempfile::TempDir,
}

/// What the cluster starts with.
pub enum Setup<'a> {
    Scenario(&'a str),
    /// A `linkerd install` output of the fixture folder, with emojivoto meshed in `default`.
    Fixture(&'a Path, &'a str),
}

impl Rehearsal {
    pub async fn start(setup: Setup<'_>, faults: FaultConfig) -> Self {
        let files = tempfile::tempdir().unwrap();
        let (scenario, manifests) = match setup {
            Setup::Scenario(name) => (Some(name.to_owned()), Vec::new()),
            Setup::Fixture(dir, install) => {
                // The namespace is annotated before emojivoto loads, so its pods are created
                // meshed, as `linkerd inject` would have them.
                let ns = files.path().join("default-ns.yaml");
                std::fs::write(
                    &ns,
                    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  \
                     annotations:\n    linkerd.io/inject: enabled\n",
                )
                .unwrap();
                (
                    None,
                    vec![dir.join(install), ns, dir.join("emojivoto.yaml")],
                )
            }
        };
        let sim = SimServer::start(SimOptions {
            scenario,
            manifests,
            faults,
            cluster: Some(ClusterOptions::default()),
            ..Default::default()
        })
        .await
        .unwrap();
        let rehearsal = Self {
            sim,
            workdir: tempfile::tempdir().unwrap(),
            _files: files,
        };
        rehearsal.settle().await;
        rehearsal
    }

    /// Waits until every pod runs and is ready, so a run starts from a healthy mesh.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let pods = self.list("", "pods");
            let ready = |p: &Value| {
                p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            };
            if !pods.is_empty() && pods.iter().all(ready) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "pods not ready: {:?}",
                pods.iter()
                    .filter(|p| !ready(p))
                    .map(|p| p["metadata"]["name"].clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Then until the controllers stop writing statuses: a test that compares versions
        // must not see the cluster settling.
        let mut last = self.versions();
        let mut quiet = 0;
        while quiet < 4 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the cluster never settled"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
            let now = self.versions();
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
    }

    /// Every object of a resource in every namespace.
    pub fn list(&self, group: &str, plural: &str) -> Vec<Value> {
        let store = self.sim.store();
        let rt = store.registry().lookup(group, "v1", plural).unwrap();
        let page = store.list(&rt, None, &Default::default()).unwrap();
        page.items.iter().map(|item| (**item).clone()).collect()
    }

    /// The resourceVersion of every object a rotation may write, by `plural ns/name`.
    pub fn versions(&self) -> BTreeMap<String, String> {
        let mut all = BTreeMap::new();
        for (group, plural) in [
            ("", "configmaps"),
            ("", "secrets"),
            ("", "namespaces"),
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
        ] {
            for object in self.list(group, plural) {
                let meta = &object["metadata"];
                let key = format!(
                    "{plural} {}/{}",
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default()
                );
                all.insert(
                    key,
                    meta["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        all
    }

    /// The resourceVersion of every object of every kind the sim serves that a rotation or
    /// its controllers could touch (pods, ReplicaSets, events too), by `plural ns/name`.
    pub fn all_versions(&self) -> BTreeMap<String, String> {
        let mut all = self.versions();
        for (group, plural) in [
            ("", "pods"),
            ("", "serviceaccounts"),
            ("", "events"),
            ("apps", "replicasets"),
        ] {
            for object in self.list(group, plural) {
                let meta = &object["metadata"];
                let key = format!(
                    "{plural} {}/{}",
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default()
                );
                let version = meta["resourceVersion"].as_str().unwrap_or_default();
                all.insert(key, version.to_owned());
            }
        }
        all
    }

    /// Runs `runner RUNBOOK` against this cluster with `--yes --output json` and `args`.
    pub async fn run(&self, runbook: &Path, args: &[&str]) -> Run {
        let child = self.spawn(runbook, args);
        finish(child, |_| false).await
    }

    /// A second, empty workdir, for another runbook against the same cluster.
    pub fn workdir_for(_: &Self) -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    /// As [`Self::run`], with another workdir.
    pub async fn run_in(&self, workdir: &Path, runbook: &Path, args: &[&str]) -> Run {
        let child = self.spawn_in(workdir, runbook, args);
        finish(child, |_| false).await
    }

    /// Starts the runner without waiting for it.
    pub fn spawn(&self, runbook: &Path, args: &[&str]) -> tokio::process::Child {
        self.spawn_in(self.workdir.path(), runbook, args)
    }

    fn spawn_in(&self, workdir: &Path, runbook: &Path, args: &[&str]) -> tokio::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
        cmd.arg(runbook)
            .arg("--kubeconfig")
            .arg(self.sim.kubeconfig_path())
            .arg("--workdir")
            .arg(workdir)
            .args(["--yes", "--output", "json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.spawn().unwrap()
    }

    /// The certificate the runner wrote to the workdir as `NAME.crt`.
    pub fn written(&self, name: &str) -> Certificate {
        let path = self.workdir.path().join(format!("{name}.crt"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Certificate::from_pem(&text, name).unwrap()
    }

    /// What a finished rotation leaves: every meshed proxy, control plane included, trusts
    /// the new root alone and holds a leaf from the new issuer, which chains to the root, and
    /// no meshed connection failed.
    pub fn assert_rotated(&self, what: &str) {
        let root = self.written("ca-new");
        let issuer = self.written("issuer-new");
        let now = time::OffsetDateTime::now_utc();
        verify_chain(&issuer, &[], std::slice::from_ref(&root), now)
            .unwrap_or_else(|e| panic!("{what}: the issuer does not chain to the root: {e}"));
        let linkerd = self.sim.cluster().unwrap().linkerd();
        let proxies = linkerd.mesh.all();
        assert!(proxies.len() >= 4, "{what}: only {} proxies", proxies.len());
        assert!(
            proxies.iter().any(|(_, p)| p.control_plane),
            "{what}: no control-plane proxy"
        );
        for ((ns, pod), proxy) in &proxies {
            let anchors: Vec<&str> = proxy.anchors.iter().map(|c| c.fingerprint()).collect();
            assert_eq!(anchors, [root.fingerprint()], "{what}: {ns}/{pod} anchors");
            assert_eq!(
                proxy.leaf.chain[0].fingerprint(),
                issuer.fingerprint(),
                "{what}: {ns}/{pod} leaf issuer"
            );
        }
        self.assert_no_failures(what);
    }

    pub fn assert_no_failures(&self, what: &str) {
        let record = &self.sim.cluster().unwrap().linkerd().record;
        assert!(
            record.connections() > 50,
            "{what}: too little traffic sampled"
        );
        assert!(record.is_empty(), "{what}: {}", record.summary());
    }

    /// The proxies' anchors as fingerprints, by `ns/pod`.
    pub fn anchors(&self) -> BTreeMap<String, Vec<String>> {
        let linkerd = self.sim.cluster().unwrap().linkerd();
        linkerd
            .mesh
            .all()
            .into_iter()
            .map(|((ns, pod), p)| {
                let fps = p
                    .anchors
                    .iter()
                    .map(|c| c.fingerprint().to_owned())
                    .collect();
                (format!("{ns}/{pod}"), fps)
            })
            .collect()
    }
}

/// A finished run: exit code, JSON events and stderr.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub events: Vec<Value>,
    pub stderr: String,
}

impl Run {
    /// Asserts exit 0, showing the failed step and stderr otherwise.
    pub fn ok(&self, what: &str) -> &Self {
        assert_eq!(self.code, Some(0), "{what}: {}", self.explain());
        self
    }

    /// The failed step's error and stderr, for failure messages.
    pub fn explain(&self) -> String {
        let failed: Vec<&Value> = self
            .events
            .iter()
            .filter(|e| e["event"] == "step_failed")
            .collect();
        format!("failed: {failed:?}\nstderr: {}", self.stderr)
    }

    pub fn of(&self, kind: &str) -> impl Iterator<Item = &Value> {
        self.events.iter().filter(move |e| e["event"] == kind)
    }

    /// The objects the run's writes changed (`dry_run` false) or would change (true).
    pub fn changed_objects(&self, dry_run: bool) -> std::collections::BTreeSet<String> {
        self.of("diff")
            .filter(|e| {
                e["dry_run"] == dry_run && e["changes"].as_array().is_some_and(|c| !c.is_empty())
            })
            .filter_map(|e| e["object"].as_str().map(str::to_owned))
            .collect()
    }

    /// The outputs of a finished step.
    pub fn outputs(&self, step: &str) -> Option<&Value> {
        self.of("step_finished")
            .find(|e| e["step"] == step)
            .map(|e| &e["outputs"])
    }
}

/// Reads the child's JSON events until it exits, or until `stop` says to kill it (SIGKILL).
pub async fn finish(
    mut child: tokio::process::Child,
    mut stop: impl FnMut(&[Value]) -> bool,
) -> Run {
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text)
            .await
            .ok();
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let mut events = Vec::new();
    let mut killed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("the run took more than 5 minutes");
        let Some(line) = line.unwrap() else { break };
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            events.push(event);
            if !killed && stop(&events) {
                child.start_kill().unwrap();
                killed = true;
            }
        }
    }
    let status = child.wait().await.unwrap();
    Run {
        code: status.code(),
        events,
        stderr: stderr.await.unwrap(),
    }
}

/// Faults a rotation must ride out: 5% server errors, 5% throttling, watches cut every 2 s.
pub fn api_faults() -> FaultConfig {
    FaultConfig {
        error_rate: 0.05,
        throttle_rate: 0.05,
        retry_after_secs: 1,
        watch_cut_after: Some(Duration::from_secs(2)),
        ..FaultConfig::default()
    }
}
