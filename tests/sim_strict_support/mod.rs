//! Set-up shared by the tests that hold the simulated API server to the real one: a bare
//! server with namespace `app`, raw requests through the kube client, and real kubectl.

#![allow(dead_code)]

use std::process::Output;

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::{Value, json};
use tokio::process::Command;

/// A bare server (no controllers) with namespace `app`, and a kube client for it.
pub async fn start() -> (SimHandle, kube::Client) {
    let sim = SimServer::start(SimOptions::default())
        .await
        .expect("sim starts");
    let client = sim.client().await.expect("kube client");
    let ns: Api<Namespace> = Api::all(client.clone());
    let obj = serde_json::from_value(json!({"metadata": {"name": "app"}})).unwrap();
    ns.create(&PostParams::default(), &obj)
        .await
        .expect("namespace app");
    (sim, client)
}

/// An answer: status code, `Warning` headers, and the body as JSON (`Null` when it is not).
pub struct Answer {
    pub code: u16,
    pub warnings: Vec<String>,
    pub body: Value,
    pub text: String,
}

/// Sends raw bytes; `ctype` empty sends no content type.
pub async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    ctype: &str,
    body: Vec<u8>,
) -> Answer {
    let mut req = axum::http::Request::builder().method(method).uri(path);
    if !ctype.is_empty() {
        req = req.header("content-type", ctype);
    }
    let req = req.body(kube::client::Body::from(body)).unwrap();
    let resp = client.send(req).await.expect("request sent");
    let code = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        code,
        warnings,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Sends a JSON body.
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    ctype: &str,
    body: &Value,
) -> (u16, Vec<String>, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let a = send(client, method, path, ctype, bytes).await;
    (a.code, a.warnings, a.body)
}

/// A Deployment of one container labelled `app: <name>`.
pub fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
}

/// Whether kubectl is on the PATH; says so when it is not.
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

/// Real kubectl against a server, with a discovery cache of its own.
pub struct Kubectl {
    pub sim: SimHandle,
    cache: tempfile::TempDir,
}

impl Kubectl {
    pub async fn start(options: SimOptions) -> Self {
        let sim = SimServer::start(options).await.expect("sim starts");
        Self {
            sim,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.sim.kubeconfig_path())
            // Ports are reused between tests: a cache per server.
            .env("KUBECACHEDIR", self.cache.path())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }

    /// Runs kubectl, asserts success and returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl, asserts failure and returns stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// Runs kubectl with `-o json` appended and parses the output.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&all).await).unwrap()
    }
}
