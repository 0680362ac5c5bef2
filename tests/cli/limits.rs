//! Runaway runbooks stop: deep recursion hits the call-depth limit, and Ctrl-C stops a step
//! at its next operation with status 1, keeping what finished.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Run;

#[test]
fn deep_recursion_stops_at_the_call_depth_limit() {
    let out = Run::new()
        .runbook(
            "deep.rhai",
            r#"
            fn down(n) { down(n + 1) }
            step("deep", "Deep", || down(0));
            "#,
        )
        .status(1)
        .run();
    assert_eq!(
        out.stderr,
        "error: step `deep` failed: stack overflow (calls nested deeper than 48; a runaway \
         recursion?) somewhere in step `deep` (deep.rhai, line 2, column 1)\n"
    );
}

#[test]
fn ctrl_c_stops_a_running_step_and_keeps_the_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spin.rhai"),
        r#"
        step("first", "First", || 1);
        step("spin", "Spin", || { print("spinning"); loop { } });
        "#,
    )
    .unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .arg("spin.rhai")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until the loop runs, then send SIGINT as a terminal's Ctrl-C would.
    let started = Instant::now();
    while crate::harness::journals(&dir.path().join(".runner")).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first step never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "stopping at the next operation (Ctrl-C again to quit now)\n\
         error: cancelled during step `spin`\n"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("× spin: cancelled\n"));
    let journal =
        std::fs::read_to_string(&crate::harness::journals(&dir.path().join(".runner"))[0]);
    assert!(journal.unwrap().contains("\"first\""));
}

#[test]
fn run_subcommand_is_the_same_as_the_bare_form() {
    let runbook = r#"step("one", "One", || 1);"#;
    let bare = Run::new().runbook("one.rhai", runbook).arg("--list").run();
    let sub = Run::new()
        .file("one.rhai", runbook)
        .args(["run", "one.rhai", "--list"])
        .run();
    assert_eq!(bare.stdout, sub.stdout);
}
