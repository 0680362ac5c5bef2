//! `check` and `proxies` after a bundle is deployed and before proxies restart (each stale
//! pod named with the fingerprint it lacks, `-n` limiting the data-plane check), and
//! `runner check` through the binary: layout and report, JSON, exit codes.

mod identity_support;

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use identity_support::{Harness, root};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_proxies_are_named_with_the_anchors_they_lack() {
    let h = Harness::scenario("edge").await;
    let new = root("root.linkerd.cluster.local");
    let (crt, _) = h.ca_files("new-root", &new);
    let old = h
        .sim
        .scenario_identity()
        .unwrap()
        .root
        .cert()
        .fingerprint()
        .to_owned();
    let body = format!(
        r#"
        let before = check(#{{ proxy: true }});
        upgrade(#{{ trust_anchors: bundle(load_cert("{}"), read_trust_anchors().certs) }});
        let all = check(#{{ proxy: true }});
        let strict = check(#{{ proxy: true, warnings_as_errors: true }});
        let books = check(#{{ proxy: true, namespace: "books" }});
        let pods = proxies(#{{ namespaces: ["books", "emojivoto"] }});
        let dp = all.checks.filter(|c| c.section == "linkerd-identity-data-plane")[0];
        #{{ before: before.success && !before.warnings, success: all.success,
           warnings: all.warnings, strict: strict.success, status: dp.status, hint: dp.hint,
           stale: all.stale_pods, books: books.stale_pods.map(|p| p.namespace),
           pods: pods }}
        "#,
        crt.display()
    );
    let ran = h.run(&body, false).await.ok();
    let out = ran.outputs();
    assert_eq!(out["before"], json!(true), "{}", ran.text);
    assert_eq!(out["success"], json!(true), "a stale proxy is a warning");
    assert_eq!(out["warnings"], json!(true));
    assert_eq!(out["strict"], json!(false));
    assert_eq!(out["status"], json!("warning"));
    assert_eq!(
        out["hint"],
        json!("https://linkerd.io/2/checks/#l5d-identity-data-plane-proxies-certs-match-ca")
    );
    let stale = out["stale"].as_array().unwrap();
    assert!(!stale.is_empty());
    for pod in stale {
        assert_eq!(pod["missing"], json!([new.cert().fingerprint()]), "{pod}");
    }
    let books = out["books"].as_array().unwrap();
    assert!(
        !books.is_empty() && books.iter().all(|ns| ns == "books"),
        "{books:?}"
    );

    let pods = out["pods"].as_array().unwrap();
    assert!(
        pods.iter().any(|p| p["owner"] == "StatefulSet/db"),
        "{pods:?}"
    );
    assert!(
        pods.iter()
            .any(|p| p["owner"].as_str().unwrap().starts_with("Deployment/"))
    );
    for pod in pods {
        assert!(["books", "emojivoto"].contains(&pod["namespace"].as_str().unwrap()));
        assert_eq!(pod["anchors"], json!([old]), "not restarted yet: {pod}");
        assert_eq!(pod["control_plane"], json!(false));
        assert!(pod["proxy_started"].is_string(), "{pod}");
    }
    // The check was printed like `linkerd check`, as a log event of the JSON output.
    assert!(ran.text.contains("data plane proxies certificate match CA"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primitives_need_a_step_and_a_cluster_and_know_their_options() {
    let h = Harness::scenario("edge").await;
    let ran = h.run("check(#{ proxies: true })", false).await;
    assert!(
        ran.failed().contains(
            "check: unknown option `proxies`: the options are proxy, namespace, \
             control_plane_namespace, warnings_as_errors"
        ),
        "{}",
        ran.failed()
    );
    let ran = h.run(r#"proxies(#{ namespaces: 3 })"#, false).await;
    assert!(
        ran.failed()
            .contains("proxies: option `namespaces` must be an array of strings, not i64"),
        "{}",
        ran.failed()
    );
    let ran = h
        .run(r#"proxies(#{ namespaces: ["books", "nope"] })"#, false)
        .await;
    assert!(
        ran.failed()
            .contains("proxies: namespace nope does not exist"),
        "{}",
        ran.failed()
    );
    let ran = h
        .run(r#"upgrade(#{ issuer: "x", trust_anchors: "y" })"#, false)
        .await;
    assert!(
        ran.failed()
            .contains("give either `trust_anchors` or `issuer`"),
        "{}",
        ran.failed()
    );
}

fn runner_check(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("runner")
        .unwrap()
        .arg("check")
        .args(args)
        .current_dir(dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("RUNNER_OUTPUT")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn runner_check_prints_the_layout_and_the_report_and_exits_by_the_verdict() {
    let (code, stdout, stderr) = runner_check(&["--sim", "--proxy"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("linkerd 2.12+ in namespace linkerd\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nlinkerd-identity\n----------------\n√ certificate config is valid\n")
    );
    assert!(
        stdout.contains("√ data plane proxies certificate match CA\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("Status check results are √\n"), "{stdout}");

    // A root that expires in 20 days is a warning: fine, unless warnings count as errors.
    let (code, stdout, _) = runner_check(&["--sim=expiring-root"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("‼ trust anchors are valid for at least 60 days\n"),
        "{stdout}"
    );
    let (code, stdout, _) = runner_check(&["--sim=expiring-root", "--warnings-as-errors"]);
    assert_eq!(code, 1, "{stdout}");

    // No control plane in the namespace named: the first check fails, exit 1.
    let (code, stdout, _) = runner_check(&["--sim", "-L", "elsewhere"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("× certificate config is valid\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("configmap elsewhere/linkerd-config is missing"),
        "{stdout}"
    );

    // `-n` naming a namespace that does not exist fails as `linkerd check` fails, instead of
    // passing as a namespace without stale pods.
    let (code, stdout, _) = runner_check(&["--sim", "--proxy", "-n", "nope"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "linkerd-data-plane\n------------------\n× data plane namespace exists\n    \
             The \"nope\" namespace does not exist\n    see \
             https://linkerd.io/2/checks/#l5d-data-plane-exists for hints\n"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("data plane proxies certificate match CA"),
        "{stdout}"
    );

    let (code, _, stderr) = runner_check(&["--sim", "--output", "yaml"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn runner_check_json_is_one_document_with_the_layout_and_the_report() {
    let (code, stdout, stderr) = runner_check(&["--sim=stable-2.8", "--proxy", "--output", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["layout"]["era"], json!("2.7-2.8"));
    assert_eq!(doc["success"], json!(true));
    let sections: Vec<&str> = doc["report"]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        ["linkerd-identity", "linkerd-identity-data-plane"]
    );
}
