//! `runner sim serve` as a process: it loads manifests, writes a kubeconfig that a client
//! uses (kubectl too, over plain HTTP), stops on SIGTERM, and refuses bad flags and
//! unreadable manifests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

fn runner() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("runner"))
}

// Starts `runner sim serve` with a manifest holding ConfigMap demo/greeting, waits for its
// kubeconfig and returns the process and the kubeconfig's path.
async fn serve(dir: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let manifest = dir.join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: demo\ndata:\n  hello: world\n",
    )
    .unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let child = runner()
        .args(["sim", "serve", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .arg("--manifests")
        .arg(&manifest)
        .args(extra)
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
    (child, kubeconfig)
}

// Stops the server as an operator's tools do and returns its stderr.
fn stop(child: Child) -> String {
    // The process is this test's own child.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn serves_loaded_manifests_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig) = serve(dir.path(), &[]).await;
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let cm = Api::<ConfigMap>::namespaced(client, "demo")
        .get("greeting")
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["hello"], "world");

    let stderr = stop(child);
    assert!(
        stderr.starts_with("simulated API server listening on https://127.0.0.1:"),
        "{stderr}"
    );
}

// kubectl sends no bearer token over plain HTTP: the plain server must not ask for one.
#[tokio::test]
async fn kubectl_works_over_plain_http() {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    if !found {
        eprintln!("skipping: this test needs kubectl on the PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig) = serve(dir.path(), &["--plain-http"]).await;
    let out = Command::new("kubectl")
        .args([
            "get",
            "configmap",
            "greeting",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.hello}",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let stderr = stop(child);
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "world");
    assert!(
        stderr.starts_with("simulated API server listening on http://127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_and_manifests_are_refused() {
    let out = runner()
        .args(["sim", "serve", "--error-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 is not a share between 0 and 1"));

    let out = runner()
        .args(["sim", "serve", "--manifests", "/nonexistent/app.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: reading manifest /nonexistent/app.yaml"),
        "{stderr}"
    );
}
