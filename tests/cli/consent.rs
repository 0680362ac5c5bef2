//! Consent's three states: `--yes` proceeds, a terminal is asked, no terminal refuses naming
//! `--yes`; for steps that change the cluster and for `--fresh`.

use std::process::Command;

use crate::harness::Run;

const DEPLOY: &str = r#"
    step("plan", "Plan", || { print("ran: plan"); });
    step("deploy", "Deploy", #{ changes_cluster: true }, || { print("ran: deploy"); });
"#;

#[test]
fn yes_runs_steps_that_change_the_cluster() {
    let out = Run::new().runbook("deploy.rhai", DEPLOY).arg("--yes").run();
    assert!(out.stdout.contains("ran: deploy"), "{}", out.stdout);
}

#[test]
fn without_a_terminal_a_changing_run_refuses_before_any_step() {
    Run::new()
        .runbook("deploy.rhai", DEPLOY)
        .status(2)
        .stdout("")
        .stderr(
            "error: refusing to run step `deploy` without confirmation: there is no terminal to \
             ask on; pass --yes to proceed\n",
        )
        .run();
}

#[test]
fn a_dry_run_needs_no_consent() {
    let out = Run::new()
        .runbook("deploy.rhai", DEPLOY)
        .arg("--dry-run")
        .run();
    assert!(
        out.stdout
            .contains("  would run step `deploy`, which changes the cluster"),
        "{}",
        out.stdout
    );
}

#[test]
fn fresh_without_a_terminal_refuses_and_keeps_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path())
        .runbook("plan.rhai", r#"step("plan", "Plan", || 1);"#)
        .run();
    Run::in_dir(dir.path())
        .args(["plan.rhai", "--fresh"])
        .status(2)
        .stderr(
            "error: refusing to start over without confirmation: there is no terminal to ask \
             on; pass --yes to proceed\n",
        )
        .run();
    assert_eq!(
        crate::harness::journals(&dir.path().join(".runner")).len(),
        1
    );
}

/// Runs `runner ARGS` on a pseudo-terminal (util-linux `script`) with `answer` typed in.
fn on_a_terminal(dir: &std::path::Path, args: &str, answer: &str) -> Option<(i32, String)> {
    let script = Command::new("script").arg("--version").output().ok()?;
    if !script.status.success() {
        return None;
    }
    let runner = assert_cmd::cargo::cargo_bin("runner");
    let mut child = Command::new("script")
        .args(["-qec", &format!("{} {args}", runner.display()), "/dev/null"])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child.stdin.take()?.write_all(answer.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[test]
fn a_terminal_is_asked_once_and_only_yes_proceeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deploy.rhai"), DEPLOY).unwrap();
    let Some((status, screen)) = on_a_terminal(dir.path(), "deploy.rhai --workdir no", "nope\n")
    else {
        eprintln!("skipped: util-linux `script` is not installed, no pseudo-terminal to test on");
        return;
    };
    assert_eq!(status, 2, "{screen}");
    assert!(screen.contains("runner is about to run step `deploy`, which changes the cluster"));
    assert!(
        screen.contains("error: not confirmed: did not run step `deploy`"),
        "{screen}"
    );
    assert!(!screen.contains("ran: plan"), "{screen}");

    let (status, screen) = on_a_terminal(dir.path(), "deploy.rhai --workdir yes", "y\n").unwrap();
    assert_eq!(status, 0, "{screen}");
    assert_eq!(screen.matches("Continue? [y/N]").count(), 1, "{screen}");
    assert!(screen.contains("ran: deploy"), "{screen}");
}
