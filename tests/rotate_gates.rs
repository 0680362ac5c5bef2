//! The gates earn their place: a fork of rotate.rhai that skips the second restart of the
//! workloads is stopped by gate 2 before the old root goes, and with gate 2 removed too the
//! same fork runs to the end while the simulated mesh records failed connections. Skipping
//! the restarts with `--skip` or `--from` instead is stopped too: the steps that switch the
//! issuer and remove the old root run their gate again before they write.

mod rotate_support;

use std::path::PathBuf;

use rotate_support::{Rehearsal, Setup, rotate_rhai};
use runner::sim::faults::FaultConfig;

/// The line of restart-for-issuer that restarts the workloads onto the new issuer.
const SECOND_RESTART: &str = "    let apps = l5d::restart_namespaces(output(\"preflight\").namespaces, timeout);\n    l5d::gate_new_leaves";
const GATE_2: &str = "    l5d::gate_new_leaves(changed_at, []);\n";
/// Gate 2 again, at the start of remove-old-root.
const GATE_2_AT_REMOVAL: &str =
    "    l5d::gate_new_leaves(output(\"rotate-issuer\").issuer_updated_at, []);\n";

/// rotate.rhai with `edits` applied, written as `rotate.rhai` in a folder of its own.
fn fork(dir: &tempfile::TempDir, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(rotate_rhai()).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "rotate.rhai no longer holds {from:?}");
        text = text.replace(from, to);
    }
    let path = dir.path().join("rotate.rhai");
    std::fs::write(&path, text).unwrap();
    path
}

fn trusted_roots(r: &Rehearsal) -> usize {
    let cm = r
        .list("", "configmaps")
        .into_iter()
        .find(|cm| cm["metadata"]["name"] == "linkerd-identity-trust-roots")
        .unwrap();
    let pem = cm["data"]["ca-bundle.crt"].as_str().unwrap();
    runner::pki::parse_certificates(pem, "ca-bundle.crt")
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_without_the_second_restart_is_stopped_by_gate_2() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let forked = fork(
        &dir,
        &[(
            SECOND_RESTART,
            "    let apps = #{ restarted: [] };\n    l5d::gate_new_leaves",
        )],
    );
    let run = r.run(&forked, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let failed = run.of("step_failed").next().expect("a failed step");
    assert_eq!(failed["step"], "restart-for-issuer");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("gate \"new issuer everywhere\" failed: ")
            && error.contains("started before the issuer changed"),
        "{error}"
    );
    // The pods it names are the application's, which the fork did not restart; the control
    // plane was restarted and passes.
    let named = error
        .split_once("meshed pod(s) (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(names, _)| names)
        .unwrap_or_else(|| panic!("the gate names no pod: {error}"));
    assert!(
        ["books/", "emojivoto/", "monitoring/"]
            .iter()
            .any(|ns| named.contains(ns))
            && !named.contains("linkerd/"),
        "{error}"
    );
    assert!(
        run.of("step_started")
            .all(|e| e["step"] != "remove-old-root"),
        "the old root's removal started"
    );
    assert_eq!(
        trusted_roots(&r),
        2,
        "the bundle must still hold both roots"
    );
    r.assert_no_failures("stopped by gate 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gate_2_the_same_fork_cuts_meshed_traffic() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let forked = fork(
        &dir,
        &[
            (
                SECOND_RESTART,
                "    let apps = #{ restarted: [] };\n    l5d::gate_new_leaves",
            ),
            (GATE_2, ""),
            (GATE_2_AT_REMOVAL, ""),
        ],
    );
    let run = r.run(&forked, &[]).await;
    run.ok("fork without the second restart and gate 2");
    assert_eq!(trusted_roots(&r), 1);
    let record = &r.sim.cluster().unwrap().linkerd().record;
    assert!(
        record.failed() > 0,
        "the mesh recorded no failure: the gate would not matter ({} sampled)",
        record.connections()
    );
    let summary = run.of("summary").next().expect("a summary");
    assert!(summary.to_string().contains("new root"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_restarts_on_the_command_line_is_stopped_before_each_risky_write() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    // Without the restart onto the bundle, the issuer must not change.
    let run = r
        .run(&rotate_rhai(), &["--skip", "restart-workloads"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let failed = run.of("step_failed").next().expect("a failed step");
    assert_eq!(failed["step"], "rotate-issuer");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("gate \"new root trusted\" failed"),
        "{error}"
    );
    assert!(
        run.of("step_finished")
            .all(|e| e["step"] != "rotate-issuer"),
        "the issuer changed"
    );
    r.assert_no_failures("--skip restart-workloads");

    // The same workdir, now with every restart but the one onto the new issuer: the old root
    // must stay.
    let run = r
        .run(&rotate_rhai(), &["--skip", "restart-for-issuer"])
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let failed = run.of("step_failed").next().expect("a failed step");
    assert_eq!(failed["step"], "remove-old-root");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("gate \"new issuer everywhere\" failed"),
        "{error}"
    );
    assert_eq!(
        trusted_roots(&r),
        2,
        "the bundle must still hold both roots"
    );
    r.assert_no_failures("--skip restart-for-issuer");

    // Jumping straight to the removal is stopped the same way.
    let run = r.run(&rotate_rhai(), &["--from", "remove-old-root"]).await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    assert_eq!(trusted_roots(&r), 2);

    // And the rotation still finishes when run as written.
    r.run(&rotate_rhai(), &[]).await.ok("the whole runbook");
    r.assert_rotated("after the refused skips");
}
