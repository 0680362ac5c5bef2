//! The cluster options of a run, end to end through the binary: `--sim` with a manifest,
//! `--kubeconfig` pointing at a `runner sim serve`, dry-run diffs in human and JSON output,
//! and the errors of a cluster that cannot be reached.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;

const KEY_BODY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRET";

const RUNBOOK: &str = r#"//! Reads and patches the settings.
step("read", "Read the settings", || {
    let cm = k8s_get("ConfigMap", "demo", "settings");
    let missing = k8s_get("ConfigMap", "demo", "nothing-here");
    let demo = k8s_list("ConfigMap", "demo", #{ selector: "app=demo" });
    #{ color: cm.data.color, missing: missing == (), listed: demo.len() }
});
step("patch", "Patch the settings and the key", #{ changes_cluster: true }, || {
    let after = k8s_patch("ConfigMap", "demo", "settings", #{ data: #{ color: "green" } });
    let key = "-----BEGIN PRIVATE KEY-----\nNEWKEYBODY\n-----END PRIVATE KEY-----\n";
    k8s_patch("Secret", "demo", "issuer", #{ stringData: #{ "tls.key": key } });
    #{ color: after.data.color }
});
"#;

fn manifest() -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\n  \
         labels:\n    app: demo\ndata:\n  color: blue\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: issuer\n  namespace: demo\n\
         stringData:\n  tls.key: \"-----BEGIN PRIVATE KEY-----\\n{KEY_BODY}\\n\
         -----END PRIVATE KEY-----\\n\"\n"
    )
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rb.rhai"), RUNBOOK).unwrap();
        std::fs::write(dir.path().join("cluster.yaml"), manifest()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn runner(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("runner")
            .unwrap()
            .current_dir(self.dir.path())
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .env_remove("RUST_LOG")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        (
            out.status.code().unwrap_or(-1),
            text(out.stdout),
            text(out.stderr),
        )
    }
}

fn assert_no_key(text: &str) {
    for secret in [KEY_BODY, "NEWKEYBODY", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "key material in output:\n{text}");
    }
}

#[test]
fn a_runbook_reads_and_patches_the_simulated_cluster_without_asking() {
    let setup = Setup::new();
    let (code, stdout, stderr) = setup.runner(&[
        "rb.rhai",
        "--sim=cluster.yaml",
        "--output",
        "json",
        "--workdir",
        "w",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_no_key(&stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &events[0];
    assert_eq!(first["event"], "log");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("nothing real can change")
    );
    let started = events.iter().find(|e| e["event"] == "run_started").unwrap();
    assert_eq!(started["target"], "sim:cluster.yaml");
    let finished: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .collect();
    assert_eq!(
        finished[0]["outputs"],
        serde_json::json!({"color": "blue", "missing": true, "listed": 1})
    );
    assert_eq!(
        finished[1]["outputs"],
        serde_json::json!({"color": "green"})
    );
    let diffs: Vec<_> = events.iter().filter(|e| e["event"] == "diff").collect();
    assert_eq!(diffs.len(), 2);
    assert_eq!(diffs[0]["object"], "ConfigMap demo/settings");
    assert_eq!(diffs[0]["dry_run"], false);
    assert_eq!(
        diffs[0]["changes"],
        serde_json::json!([{"path": "data.color", "old": "\"blue\"", "new": "\"green\""}])
    );
}

#[test]
fn a_dry_run_prints_the_diff_with_fingerprints_in_human_and_json_output() {
    let setup = Setup::new();
    let (code, human, stderr) = setup.runner(&["rb.rhai", "--sim=cluster.yaml", "--dry-run"]);
    assert_eq!(code, 0, "{human}\n{stderr}");
    assert_no_key(&human);
    assert_no_key(&stderr);
    assert!(
        human.contains(
            "  would patch ConfigMap demo/settings: 1 field [server-validated]\n    data.color: \"blue\" → \"green\"\n"
        ),
        "{human}"
    );
    let line = human
        .lines()
        // The API server folds `stringData` into `data`, so the change shows there.
        .find(|l| l.starts_with("    data.tls.key: <"))
        .unwrap_or_else(|| panic!("no secret diff line in:\n{human}"));
    assert!(line.contains("sha256:") && line.contains(" → <"), "{line}");

    let (code, json, _) = setup.runner(&[
        "rb.rhai",
        "--sim=cluster.yaml",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_no_key(&json);
    let diff: serde_json::Value = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "diff" && e["object"] == "Secret demo/issuer")
        .unwrap();
    assert_eq!(diff["dry_run"], true);
    assert_eq!(diff["changes"][0]["path"], "data.tls.key");
    assert!(
        diff["changes"][0]["new"]
            .as_str()
            .unwrap()
            .contains("sha256:")
    );
}

/// `runner sim serve` in the background; killed (by its pid) when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(setup: &Setup, kubeconfig: &Path) -> Served {
    let child = Command::cargo_bin("runner")
        .unwrap()
        .args(["sim", "serve", "--manifests"])
        .arg(setup.path("cluster.yaml"))
        .arg("--kubeconfig-out")
        .arg(kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !kubeconfig.exists() {
        assert!(
            Instant::now() < deadline,
            "runner sim serve wrote no kubeconfig"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

#[test]
fn kubeconfig_points_a_run_at_a_served_simulated_cluster() {
    let setup = Setup::new();
    let kubeconfig = setup.path("sim.kubeconfig");
    let _served = serve(&setup, &kubeconfig);
    let kc = kubeconfig.to_str().unwrap();

    // A real cluster: without a terminal and without --yes, the run refuses before any step.
    let (code, _, stderr) = setup.runner(&["rb.rhai", "--kubeconfig", kc, "--workdir", "w"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");

    let (code, stdout, stderr) = setup.runner(&[
        "rb.rhai",
        "--kubeconfig",
        kc,
        "--context",
        "runner-sim",
        "--yes",
        "--output",
        "json",
        "--workdir",
        "w",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let started: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "run_started")
        .unwrap();
    let target = started["target"].as_str().unwrap();
    assert!(
        target.starts_with("runner-sim@https://127.0.0.1:"),
        "{target}"
    );

    // The patch reached the served cluster: a read-only run sees it.
    std::fs::write(
        setup.path("read.rhai"),
        "step(\"read\", \"Read\", || \
         #{ color: k8s_get(\"ConfigMap\", \"demo\", \"settings\").data.color });",
    )
    .unwrap();
    let (code, stdout, stderr) =
        setup.runner(&["read.rhai", "--kubeconfig", kc, "--workdir", "w2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("  color: green\n"), "{stdout}");
}

#[test]
fn cluster_selection_errors_name_what_is_wrong() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.runner(&["rb.rhai", "--sim=linkerd-9.9"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: unknown simulated cluster scenario `linkerd-9.9`: the scenarios are edge, \
         stable-2.8, stable-2.10, stable-2.11, stable-2.12, helm, external-issuer, expiring-root, \
         empty, or a manifest file (.yaml, .yml, .json) to load\n"
    );

    let (code, _, stderr) = setup.runner(&["rb.rhai", "--kubeconfig", "missing.kubeconfig"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: kubeconfig missing.kubeconfig does not exist\n"
    );

    let out = Command::cargo_bin("runner")
        .unwrap()
        .current_dir(setup.dir.path())
        .env("KUBECONFIG", "gone/config")
        .args(["rb.rhai", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: kubeconfig gone/config does not exist\n"
    );

    // `--list` runs nothing and reads no kubeconfig.
    let (code, _, stderr) = setup.runner(&["rb.rhai", "--list", "--kubeconfig", "missing"]);
    assert_eq!(code, 0, "{stderr}");

    let (code, _, stderr) = setup.runner(&["rb.rhai", "--sim", "--context", "prod"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_cluster_function_without_a_cluster_says_what_is_missing() {
    let setup = Setup::new();
    let (code, stdout, _) = setup.runner(&["rb.rhai", "--only", "read", "--workdir", "w"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "× read: k8s_get needs a cluster: run with --kubeconfig/--context, KUBECONFIG, or \
             --sim"
        ),
        "{stdout}"
    );
}

#[test]
fn a_journal_is_resumed_only_against_the_cluster_that_wrote_it() {
    let setup = Setup::new();
    std::fs::copy(setup.path("cluster.yaml"), setup.path("other.yaml")).unwrap();
    let read = |sim: &str| {
        let (code, stdout, stderr) =
            setup.runner(&["rb.rhai", sim, "--only", "read", "--workdir", "w"]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        stdout
    };
    assert!(read("--sim=cluster.yaml").contains("√ read\n"));
    // Same target: the finished step is not run again.
    assert!(read("--sim=cluster.yaml").contains("- read: skipped, finished in an earlier run"));
    // Another cluster: its own journal, so the step runs.
    assert!(read("--sim=other.yaml").contains("√ read\n"));
}

/// Against a real cluster, read-only: set `RUNNER_E2E_KUBECONFIG` (and optionally
/// `RUNNER_E2E_CONTEXT`) to run it.
#[test]
fn e2e_reads_namespaces_of_a_real_cluster() {
    let Some(kubeconfig) = std::env::var_os("RUNNER_E2E_KUBECONFIG") else {
        eprintln!("skipped: RUNNER_E2E_KUBECONFIG is not set");
        return;
    };
    let setup = Setup::new();
    std::fs::write(
        setup.path("ns.rhai"),
        "step(\"namespaces\", \"List namespaces\", || #{ count: k8s_list(\"Namespace\", \"\").len() });",
    )
    .unwrap();
    let mut args = vec!["ns.rhai".to_owned(), "--kubeconfig".to_owned()];
    args.push(kubeconfig.to_string_lossy().into_owned());
    if let Some(context) = std::env::var_os("RUNNER_E2E_CONTEXT") {
        args.extend([
            "--context".to_owned(),
            context.to_string_lossy().into_owned(),
        ]);
    }
    args.extend(["--workdir".to_owned(), "w".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = setup.runner(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("√ namespaces\n  count: "), "{stdout}");
}

/// A rehearsal on a real `linkerd install` output (DESIGN §7: skipped when the shared
/// fixtures are not there).
#[test]
fn a_dry_run_on_a_linkerd_install_shows_anchors_by_subject_and_keys_by_fingerprint() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/linkerd/install-stable-2.12.0.yaml");
    if !fixture.exists() {
        eprintln!("skipped: {} is not there", fixture.display());
        return;
    }
    let setup = Setup::new();
    std::fs::write(
        setup.path("anchors.rhai"),
        r#"step("anchors", "Swap the anchors", #{ changes_cluster: true }, || {
    let root = gen_cert(#{ profile: "root-ca", cn: "root.linkerd.cluster.local" });
    k8s_patch("ConfigMap", "linkerd", "linkerd-identity-trust-roots",
              #{ data: #{ "ca-bundle.crt": root.cert.pem } });
    k8s_patch("Secret", "linkerd", "linkerd-identity-issuer", #{ data: #{ "key.pem": "QUJD" } });
    #{ deployments: k8s_list("Deployment", "linkerd").len() }
});"#,
    )
    .unwrap();
    let sim = format!("--sim={}", fixture.display());
    let (code, stdout, stderr) = setup.runner(&["anchors.rhai", &sim, "--dry-run"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_no_key(&stdout);
    assert!(
        stdout.contains(
            "    data.ca-bundle.crt: certificate(s) [CN=identity.linkerd.cluster.local (sha256 "
        ),
        "{stdout}"
    );
    assert!(stdout.contains("→ certificate(s) [CN=root.linkerd.cluster.local (sha256 "));
    assert!(stdout.contains("    data.key.pem: <"), "{stdout}");
    assert!(stdout.contains("  deployments: 3\n"), "{stdout}");
}
