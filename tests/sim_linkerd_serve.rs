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
