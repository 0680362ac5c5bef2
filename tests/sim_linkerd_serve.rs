//! `runner sim serve --scenario`: the scenario is served, the failure record is at
//! `/sim/failures`, and its summary is printed on exit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[tokio::test]
async fn serve_exposes_the_failure_record_and_prints_its_summary_on_exit() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipping: this test needs curl on the PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let child = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .args([
            "sim",
            "serve",
            "--scenario",
            "stable-2.12",
            "--kubeconfig-out",
        ])
        .arg(&kubeconfig)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !kubeconfig.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no kubeconfig written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_owned();
    let mut record = Value::Null;
    for _ in 0..100 {
        let out = Command::new("curl")
            .args(["-sk", &format!("{server}/sim/failures")])
            .output()
            .unwrap();
        record = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if record["connections"].as_u64().unwrap_or(0) > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(record["connections"].as_u64().unwrap() > 20, "{record}");
    assert_eq!(record["failed"], 0, "{record}");
    assert_eq!(record["failures"], serde_json::json!([]));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/sim/failures"), "{stderr}");
    assert!(stderr.contains("connections sampled, 0 failed"), "{stderr}");
}

#[test]
fn a_speed_that_would_stop_time_is_refused() {
    for bad in ["0", "-5", "NaN", "fast"] {
        let out = Command::new(assert_cmd::cargo::cargo_bin("runner"))
            .args([
                "sim",
                "serve",
                "--scenario",
                "edge",
                &format!("--speed={bad}"),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--speed {bad} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--speed") && stderr.contains(bad),
            "{stderr}"
        );
    }
}

#[test]
fn an_unknown_scenario_is_refused_with_the_known_names() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .args(["sim", "serve", "--scenario", "stable-1.0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown scenario \"stable-1.0\""),
        "{stderr}"
    );
    assert!(stderr.contains("edge, stable-2.8"), "{stderr}");
}

/// Runs a command, asserting success; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_wrong_bundle_shows_in_the_record_and_in_the_summary_on_ctrl_c() {
    for tool in ["curl", "kubectl", "openssl"] {
        if Command::new(tool).arg("version").output().is_err() {
            eprintln!("skipping: this test needs {tool} on the PATH");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let child = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .args(["sim", "serve", "--scenario", "edge", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !kubeconfig.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no kubeconfig written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_owned))
        .unwrap();
    let kubectl = |args: &[&str]| {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("cache"));
        cmd
    };
    run(&mut kubectl(&[
        "-n",
        "emojivoto",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=30s",
    ]));
    // The operator's mistake: the bundle replaced by an unrelated root, then a restart.
    let other = dir.path().join("other.crt");
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=other-root",
            "-days",
            "30",
            "-keyout",
        ])
        .arg(dir.path().join("other.key"))
        .arg("-out")
        .arg(&other));
    let pem = std::fs::read_to_string(&other).unwrap();
    let patch = serde_json::json!({"data": {"ca-bundle.crt": pem.trim_end()}}).to_string();
    run(&mut kubectl(&[
        "-n",
        "linkerd",
        "patch",
        "cm",
        "linkerd-identity-trust-roots",
        "--type=merge",
        "-p",
        &patch,
    ]));
    // One kubelet refresh (60 simulated seconds) later the injector writes it into pods.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run(&mut kubectl(&[
        "-n",
        "emojivoto",
        "rollout",
        "restart",
        "deploy/web",
    ]));
    run(&mut kubectl(&[
        "-n",
        "emojivoto",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=30s",
    ]));
    let mut record = Value::Null;
    for _ in 0..200 {
        let out = Command::new("curl")
            .args(["-sk", &format!("{server}/sim/failures")])
            .output()
            .unwrap();
        record = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if record["failed"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failure = &record["failures"][0];
    assert!(
        failure["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown issuer"),
        "{record}"
    );
    assert!(
        failure["from"]
            .as_str()
            .unwrap()
            .starts_with("emojivoto/web-")
            || failure["to"]
                .as_str()
                .unwrap()
                .starts_with("emojivoto/web-"),
        "{failure}"
    );
    assert!(failure["at"].is_string() && failure["sim_time"].is_string());

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let totals = stderr
        .lines()
        .find(|l| l.starts_with("meshed traffic: "))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    assert!(!totals.ends_with(" 0 failed"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("emojivoto -> ") && l.contains("unknown issuer")),
        "{stderr}"
    );
}
