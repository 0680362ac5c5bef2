//! `runbooks/rotate.rhai` against a real cluster with Linkerd and meshed workloads: set
//! `RUNNER_E2E_KUBECONFIG` (and optionally `RUNNER_E2E_CONTEXT`) to run it, otherwise it is
//! skipped and says so. It ROTATES THE TRUST ROOT of that cluster, so give it a disposable one
//! (kind or k3d with `linkerd install` and emojivoto). The generated root and issuer, keys
//! included, stay in the workdir it prints.
//!
//! It runs the dry-run first (nothing changes, no key on disk), then the rotation, and checks
//! what is left: only the new root trusted, `runner check --proxy` green, every object the
//! rotation changed named in the plan, and, when the cluster is `runner sim serve`, no failed
//! meshed connection. Against `runner sim serve --scenario edge --kubeconfig-out KC` it also
//! shows that the test itself works.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Cluster {
    kubeconfig: OsString,
    context: Option<OsString>,
}

impl Cluster {
    fn from_env() -> Option<Self> {
        let Some(kubeconfig) = std::env::var_os("RUNNER_E2E_KUBECONFIG") else {
            eprintln!(
                "skipped: RUNNER_E2E_KUBECONFIG is not set (it names the kubeconfig of a \
                 disposable cluster with Linkerd, whose trust root this test rotates)"
            );
            return None;
        };
        Some(Self {
            kubeconfig,
            context: std::env::var_os("RUNNER_E2E_CONTEXT"),
        })
    }

    /// `--kubeconfig K [--context C]`, as both kubectl and the runner take them.
    fn flags(&self) -> Vec<OsString> {
        let mut flags = vec!["--kubeconfig".into(), self.kubeconfig.clone()];
        if let Some(context) = &self.context {
            flags.extend(["--context".into(), context.clone()]);
        }
        flags
    }

    fn runner(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(args)
            .args(self.flags())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn kubectl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("kubectl")
            .args(self.flags())
            .args(args)
            .output()
            .expect("kubectl is needed to compare resourceVersions");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `Kind ns/name` → resourceVersion of every object a rotation writes.
    fn versions(&self) -> BTreeMap<String, String> {
        let text = self
            .kubectl(&[
                "get",
                "configmaps,secrets,deployments,statefulsets,daemonsets",
                "--all-namespaces",
                "-o",
                "jsonpath={range .items[*]}{.kind} {.metadata.namespace}/{.metadata.name} \
                 {.metadata.resourceVersion}{\"\\n\"}{end}",
            ])
            .expect("kubectl get failed");
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .map(|(object, version)| (object.to_owned(), version.to_owned()))
            .collect()
    }
}

fn json_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn planned_objects(events: &[Value], dry_run: bool) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["event"] == "diff" && e["dry_run"] == dry_run)
        .filter(|e| e["changes"].as_array().is_some_and(|c| !c.is_empty()))
        .filter_map(|e| e["object"].as_str().map(str::to_owned))
        .collect()
}

fn rotate_rhai() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks/rotate.rhai")
        .display()
        .to_string()
}

#[test]
fn e2e_rotates_the_trust_root_of_a_real_cluster() {
    let Some(cluster) = Cluster::from_env() else {
        return;
    };
    let workdir: PathBuf = tempfile::Builder::new()
        .prefix("runner-e2e-")
        .tempdir()
        .unwrap()
        .keep();
    eprintln!("workdir (the new root and issuer): {}", workdir.display());
    let workdir_arg = workdir.display().to_string();
    let run_args = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec![
            rotate_rhai(),
            "--workdir".to_owned(),
            workdir_arg.clone(),
            "--yes".to_owned(),
            "--output".to_owned(),
            "json".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    // The dry-run: nothing changes, nothing is left on disk.
    let before = cluster.versions();
    let args = run_args(&["--dry-run"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = cluster.runner(&args);
    assert_eq!(code, 0, "dry-run failed:\n{stdout}\n{stderr}");
    for needle in ["PRIVATE KEY", "MHcCAQEE", "MIGHAgEA"] {
        assert!(
            !stdout.contains(needle) && !stderr.contains(needle),
            "the dry-run printed key material ({needle})"
        );
    }
    let planned = planned_objects(&json_events(&stdout), true);
    assert_eq!(
        cluster.versions(),
        before,
        "the dry-run changed objects in the cluster"
    );
    let left: Vec<_> = std::fs::read_dir(&workdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "the dry-run left files: {left:?}");

    // The rotation.
    let args = run_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = cluster.runner(&args);
    assert_eq!(code, 0, "the rotation failed:\n{stdout}\n{stderr}");
    let after = cluster.versions();
    let unplanned: Vec<&String> = after
        .iter()
        .filter(|(object, version)| before.get(*object) != Some(version))
        .map(|(object, _)| object)
        .filter(|object| !planned.contains(*object))
        .collect();
    assert!(
        unplanned.is_empty(),
        "the rotation changed objects the plan did not name: {unplanned:?}\nplan: {planned:?}"
    );

    // Only the new root is trusted.
    let root_pem = std::fs::read_to_string(workdir.join("ca-new.crt")).unwrap();
    let root = runner::pki::Certificate::from_pem(&root_pem, "ca-new.crt").unwrap();
    let probe = workdir.join("anchors.rhai");
    std::fs::write(
        &probe,
        "step(\"anchors\", \"Read the trust anchors\", || #{ fingerprints: \
         read_trust_anchors(#{}).fingerprints });\n",
    )
    .unwrap();
    let probe_workdir = workdir.join("probe");
    let (code, stdout, stderr) = cluster.runner(&[
        &probe.display().to_string(),
        "--workdir",
        &probe_workdir.display().to_string(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let anchors = json_events(&stdout)
        .into_iter()
        .find(|e| e["event"] == "step_finished")
        .map(|e| e["outputs"]["fingerprints"].clone())
        .unwrap();
    assert_eq!(anchors, serde_json::json!([root.fingerprint()]));

    // The checks, proxies included, are green.
    let (code, stdout, stderr) = cluster.runner(&["check", "--proxy"]);
    assert_eq!(code, 0, "runner check --proxy:\n{stdout}\n{stderr}");

    // `runner sim serve` counts failed meshed connections; a real cluster has no such path.
    if let Some(record) = cluster.kubectl(&["get", "--raw", "/sim/failures"]) {
        let record: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["failed"], 0, "failed meshed connections: {record}");
    }
}
