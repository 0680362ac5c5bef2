//! `runbooks/rotate.rhai` end to end on every simulated scenario and every fixture install
//! loaded with emojivoto: first a dry-run, which must change nothing, write no key and name
//! every object the real run then changes; then the real run, after which only the new root
//! is trusted, every proxy holds a leaf from the new issuer, `runner check --proxy` passes, and
//! no meshed connection failed.

mod rotate_support;

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rotate_support::{Rehearsal, Run, Setup, api_faults, fixtures, rotate_rhai};
use runner::sim::faults::FaultConfig;
use runner::sim::store::Patch;
use serde_json::json;

/// `plural ns/name` (the versions' keys) as the runner names objects, `Kind ns/name`.
fn object_name(key: &str) -> String {
    let (plural, rest) = key.split_once(' ').unwrap();
    let kind = match plural {
        "configmaps" => "ConfigMap",
        "secrets" => "Secret",
        "namespaces" => "Namespace",
        "deployments" => "Deployment",
        "statefulsets" => "StatefulSet",
        "daemonsets" => "DaemonSet",
        other => panic!("unexpected resource {other}"),
    };
    format!("{kind} {rest}")
}

/// Objects whose resourceVersion differs between two snapshots.
fn changed_between(
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> BTreeSet<String> {
    after
        .iter()
        .filter(|(key, version)| before.get(*key) != Some(version))
        .map(|(key, _)| object_name(key))
        .collect()
}

/// What a dry-run left: the versions before it and the objects its plan says would change.
struct Plan {
    before: std::collections::BTreeMap<String, String>,
    planned: BTreeSet<String>,
}

/// Key material a plan must never show: PEM private keys, the DER openings of a P-256 key in
/// base64 (SEC1 `MHcCAQEE`, PKCS#8 `MIGHAgEA`), and the cluster's issuer key as it is stored
/// (its PEM body, and the Secret's base64 of the PEM).
fn key_material(r: &Rehearsal) -> Vec<String> {
    let mut needles = vec![
        "PRIVATE KEY".to_owned(),
        "MHcCAQEE".to_owned(),
        "MIGHAgEA".to_owned(),
    ];
    for secret in r.list("", "secrets") {
        for (name, value) in secret["data"].as_object().into_iter().flatten() {
            let Some(encoded) = value.as_str() else {
                continue;
            };
            let decoded = STANDARD.decode(encoded).unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded);
            if name.contains("key") && text.contains("PRIVATE KEY") {
                needles.push(encoded.chars().take(40).collect());
                let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
                needles.push(body.chars().take(40).collect());
            }
        }
    }
    needles
}

/// Runs the dry-run and checks what it must leave: no object changed (pods, ReplicaSets and
/// events included), no file in the workdir, every planned action marked exact,
/// server-validated or predicted, and no key material in anything it printed.
async fn dry_run(r: &Rehearsal, what: &str, args: &[&str]) -> Plan {
    let before = r.versions();
    let everything = r.all_versions();
    let needles = key_material(r);
    let dry: Vec<&str> = [&["--dry-run"], args].concat();
    let plan = r.run(&rotate_rhai(), &dry).await;
    plan.ok(&format!("{what} dry-run"));
    assert_eq!(
        r.all_versions(),
        everything,
        "{what}: the dry-run changed objects"
    );
    let left: Vec<_> = std::fs::read_dir(r.workdir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{what}: the dry-run left files: {left:?}");
    for would in plan.of("would") {
        assert!(
            ["exact", "server_validated", "predicted"]
                .contains(&would["basis"].as_str().unwrap_or_default()),
            "{what}: a planned action without its basis: {would}"
        );
    }
    assert!(plan.of("would").count() > 10, "{what}: a plan of nothing");
    let printed = plan
        .events
        .iter()
        .map(|e| e.to_string())
        .chain([plan.stderr.clone()])
        .collect::<Vec<_>>()
        .join("\n");
    for needle in &needles {
        assert!(
            !printed.contains(needle.as_str()),
            "{what}: the dry-run printed key material ({needle})"
        );
    }
    let planned = plan.changed_objects(true);
    assert!(
        planned.contains("ConfigMap linkerd/linkerd-identity-trust-roots")
            || planned.contains("ConfigMap linkerd/linkerd-config"),
        "{what}: the plan misses the trust anchors: {planned:?}"
    );
    Plan { before, planned }
}

/// Every object the real run changed is one the plan named (`unplanned_ok`: changed by
/// someone else during the run, such as cert-manager).
fn compare(r: &Rehearsal, what: &str, plan: &Plan, unplanned_ok: &[&str]) {
    let changed = changed_between(&plan.before, &r.versions());
    let unplanned: Vec<_> = changed
        .difference(&plan.planned)
        .filter(|name| !unplanned_ok.contains(&name.as_str()))
        .collect();
    assert!(
        unplanned.is_empty(),
        "{what}: the real run changed objects the plan did not name: {unplanned:?}\nplan: {:?}",
        plan.planned
    );
    assert!(
        changed.len() >= 3,
        "{what}: the real run changed almost nothing: {changed:?}"
    );
}

/// The dry-run, its checks, then the real run; returns the real run.
async fn rehearse(r: &Rehearsal, what: &str, args: &[&str]) -> Run {
    let plan = dry_run(r, what, args).await;
    assert!(
        plan.planned
            .contains("Secret linkerd/linkerd-identity-issuer"),
        "{what}: the plan misses the issuer: {:?}",
        plan.planned
    );
    let run = r.run(&rotate_rhai(), args).await;
    run.ok(what);
    compare(r, what, &plan, &[]);
    run
}

/// `runner check --proxy` against the cluster passes.
async fn check_passes(r: &Rehearsal, what: &str) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["check", "--proxy", "--kubeconfig"])
        .arg(r.sim.kubeconfig_path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: runner check --proxy failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scenario(name: &str, args: &[&str]) {
    let r = Rehearsal::start(Setup::Scenario(name), FaultConfig::default()).await;
    let run = rehearse(&r, name, args).await;
    assert_eq!(
        run.of("step_finished").count(),
        10,
        "{name}: {}",
        run.explain()
    );
    r.assert_rotated(name);
    check_passes(&r, name).await;
}

async fn fixture(install: &str) {
    let Some(dir) = fixtures() else { return };
    let r = Rehearsal::start(Setup::Fixture(&dir, install), FaultConfig::default()).await;
    rehearse(&r, install, &[]).await;
    r.assert_rotated(install);
    check_passes(&r, install).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_edge() {
    scenario("edge", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_8() {
    scenario("stable-2.8", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_10() {
    scenario("stable-2.10", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_11() {
    scenario("stable-2.11", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_12() {
    scenario("stable-2.12", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_expiring_root() {
    scenario("expiring-root", &[]).await;
}

/// A Helm install is written only when the operator says so (the next `helm upgrade` would
/// revert it otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_helm() {
    let r = Rehearsal::start(Setup::Scenario("helm"), FaultConfig::default()).await;
    let before = r.versions();
    let refused = r.run(&rotate_rhai(), &[]).await;
    assert_eq!(refused.code, Some(1), "{}", refused.explain());
    assert!(
        refused.explain().contains("Helm-managed"),
        "{}",
        refused.explain()
    );
    assert_eq!(r.versions(), before, "the refused run wrote to the cluster");
    // Another parameter value starts another rotation: an empty workdir.
    std::fs::remove_dir_all(r.workdir.path()).unwrap();
    std::fs::create_dir(r.workdir.path()).unwrap();
    rehearse(&r, "helm", &["--set", "allow_helm=true"]).await;
    r.assert_rotated("helm");
    check_passes(&r, "helm").await;
}

/// cert-manager owns an external issuer: the runbook waits for its reissue (the test plays
/// cert-manager, issuing from the new root) and goes on from the `IssuerUpdated` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_external_issuer() {
    let r = Rehearsal::start(Setup::Scenario("external-issuer"), FaultConfig::default()).await;
    let plan = dry_run(&r, "external-issuer", &[]).await;
    let child = r.spawn(&rotate_rhai(), &[]);
    let workdir = r.workdir.path().to_owned();
    let store = r.sim.store().clone();
    let mut reissued = false;
    let run = rotate_support::finish(child, |events| {
        let asked = events.last().is_some_and(|e| {
            e["event"] == "log"
                && e["step"] == "rotate-issuer"
                && e["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("cert-manager")
        });
        if asked && !reissued {
            reissued = true;
            let read = |name: &str| std::fs::read_to_string(workdir.join(name)).unwrap();
            let rt = store.registry().lookup("", "v1", "secrets").unwrap();
            let data = json!({"data": {
                "tls.crt": STANDARD.encode(read("issuer-new.crt")),
                "tls.key": STANDARD.encode(read("issuer-new.key")),
                "ca.crt": STANDARD.encode(read("ca-new.crt")),
            }});
            store
                .patch(
                    &rt,
                    Some("linkerd"),
                    "linkerd-identity-issuer",
                    &Patch::Merge(data),
                    false,
                    false,
                )
                .unwrap();
        }
        false
    })
    .await;
    run.ok("external-issuer");
    assert!(
        reissued,
        "the runbook never asked for cert-manager's reissue"
    );
    // cert-manager's reissue is the one change the runner does not make: the plan predicts it.
    compare(
        &r,
        "external-issuer",
        &plan,
        &["Secret linkerd/linkerd-identity-issuer"],
    );
    r.assert_rotated("external-issuer");
    check_passes(&r, "external-issuer").await;
}

/// 5% server errors, 5% throttling with Retry-After and watches cut every 2 s: the same
/// rotation, the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_edge_with_api_faults() {
    let r = Rehearsal::start(Setup::Scenario("edge"), api_faults()).await;
    rehearse(&r, "edge with faults", &[]).await;
    r.sim.faults().set(FaultConfig::default());
    r.assert_rotated("edge with faults");
    let injected: u64 = r
        .sim
        .counts()
        .snapshot()
        .iter()
        .filter(|((verb, _), _)| verb == "injected")
        .map(|(_, n)| n)
        .sum();
    assert!(injected > 5, "only {injected} faults were injected");
}

/// The rotation through API faults, then the faults off for the judgement.
async fn with_faults(setup: Setup<'_>, what: &str) {
    let r = Rehearsal::start(setup, api_faults()).await;
    rehearse(&r, what, &[]).await;
    r.sim.faults().set(FaultConfig::default());
    r.assert_rotated(what);
    check_passes(&r, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_8_with_api_faults() {
    with_faults(Setup::Scenario("stable-2.8"), "stable-2.8 with faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_10_with_api_faults() {
    with_faults(Setup::Scenario("stable-2.10"), "stable-2.10 with faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_11_with_api_faults() {
    with_faults(Setup::Scenario("stable-2.11"), "stable-2.11 with faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_12_with_api_faults() {
    with_faults(Setup::Scenario("stable-2.12"), "stable-2.12 with faults").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_expiring_root_with_api_faults() {
    with_faults(
        Setup::Scenario("expiring-root"),
        "expiring-root with faults",
    )
    .await;
}

/// Every fixture install in one test, one after the other: the same rotation through faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_with_api_faults() {
    let Some(dir) = fixtures() else { return };
    for install in [
        "install-stable-2.7.0.yaml",
        "install-stable-2.9.0.yaml",
        "install-stable-2.10.0.yaml",
        "install-stable-2.11.0.yaml",
        "install-stable-2.12.0.yaml",
        "install-edge-26.8.3.yaml",
    ] {
        with_faults(
            Setup::Fixture(&dir, install),
            &format!("{install} with faults"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_stable_2_7() {
    fixture("install-stable-2.7.0.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_stable_2_9() {
    fixture("install-stable-2.9.0.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_stable_2_10() {
    fixture("install-stable-2.10.0.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_stable_2_11() {
    fixture("install-stable-2.11.0.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_stable_2_12() {
    fixture("install-stable-2.12.0.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_edge() {
    fixture("install-edge-26.8.3.yaml").await;
}
