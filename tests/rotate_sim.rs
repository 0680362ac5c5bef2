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

/// The dry-run, its checks, then the real run; returns the real run.
async fn rehearse(r: &Rehearsal, what: &str, args: &[&str]) -> Run {
    let before = r.versions();
    let dry: Vec<&str> = [&["--dry-run"], args].concat();
    let plan = r.run(&rotate_rhai(), &dry).await;
    plan.ok(&format!("{what} dry-run"));
    assert_eq!(r.versions(), before, "{what}: the dry-run changed objects");
    let left: Vec<_> = std::fs::read_dir(r.workdir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{what}: the dry-run left files: {left:?}");
    let planned = plan.changed_objects(true);
    assert!(
        planned.contains("Secret linkerd/linkerd-identity-issuer"),
        "{what}: the plan misses the issuer: {planned:?}"
    );

    let run = r.run(&rotate_rhai(), args).await;
    run.ok(what);
    let changed = changed_between(&before, &r.versions());
    let unplanned: Vec<_> = changed.difference(&planned).collect();
    assert!(
        unplanned.is_empty(),
        "{what}: the real run changed objects the plan did not name: {unplanned:?}\nplan: {planned:?}"
    );
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
    r.assert_rotated("external-issuer");
    check_passes(&r, "external-issuer").await;
}

/// 5% server errors, 5% throttling with Retry-After and watches cut every 2 s: the same
/// rotation, the same result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_edge_with_api_faults() {
    let r = Rehearsal::start(Setup::Scenario("edge"), api_faults()).await;
    let run = r.run(&rotate_rhai(), &[]).await;
    run.ok("edge with faults");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_stable_2_11_with_api_faults() {
    let r = Rehearsal::start(Setup::Scenario("stable-2.11"), api_faults()).await;
    r.run(&rotate_rhai(), &[])
        .await
        .ok("stable-2.11 with faults");
    r.sim.faults().set(FaultConfig::default());
    r.assert_rotated("stable-2.11 with faults");
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
