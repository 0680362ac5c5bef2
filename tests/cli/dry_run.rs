//! The `--dry-run` plan, snapshot-tested so that a change in what it says is seen in review.

use crate::harness::Run;
use crate::list::STEPS;

/// The scratch directory's name changes each run.
fn stable(stdout: &str) -> String {
    let start = stdout
        .find("workdir ")
        .map(|i| i + "workdir ".len())
        .unwrap_or(0);
    let end = stdout[start..].find(')').map_or(start, |i| start + i);
    format!("{}SCRATCH{}", &stdout[..start], &stdout[end..])
}

#[test]
fn dry_run_plan_human() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .arg("--dry-run")
        .stderr("")
        .run();
    insta::assert_snapshot!("dry_run_plan_human", stable(&out.stdout));
}

#[test]
fn dry_run_plan_json() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args([
            "--dry-run",
            "--output",
            "json",
            "--set",
            "namespaces=emojivoto",
        ])
        .stderr("")
        .run();
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["dry_run"], true);
    let rest: Vec<&str> = out.stdout.lines().skip(1).collect();
    insta::assert_snapshot!("dry_run_plan_json", rest.join("\n"));
}
