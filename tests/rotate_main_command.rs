//! The README's main-job command, `runner runbooks/rotate.rhai --sim`, as an operator runs it:
//! human output, the default workdir of the current directory, no `--yes`. It rotates the
//! default scenario and ends with the summary; run again it says the rotation is complete and
//! changes nothing; `--fresh` starts another. A journal of `--sim` that stopped half way is not
//! continued against the new simulated cluster, which holds none of its changes.

use std::path::Path;
use std::process::{Command, Output};

fn runner(dir: &Path, args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(dir)
        .env_remove("RUNNER_WORKDIR")
        .env_remove("KUBECONFIG")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr);
    (status.code().unwrap_or(-1), text)
}

fn rotate_rhai() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks/rotate.rhai")
        .display()
        .to_string()
}

/// The value of a summary line (`  KEY   VALUE`).
fn summary_line<'a>(text: &'a str, key: &str) -> &'a str {
    let summary = text
        .split_once("\nsummary:\n")
        .unwrap_or_else(|| panic!("no summary:\n{text}"))
        .1;
    summary
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(key))
        .unwrap_or_else(|| panic!("no summary line {key}:\n{text}"))
        .trim()
}

fn fingerprint_and_expiry(value: &str) -> bool {
    // `64 hex digits (until RFC 3339)`
    let Some((fp, until)) = value.split_once(" (until ") else {
        return false;
    };
    fp.len() == 64
        && fp.chars().all(|c| c.is_ascii_hexdigit())
        && until.ends_with("Z)")
        && until.contains('T')
}

#[test]
fn the_main_command_rotates_says_so_when_run_again_and_starts_over_with_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = rotate_rhai();

    let (code, first) = runner(dir.path(), &[&rotate, "--sim"]);
    assert_eq!(code, 0, "{first}");
    for step in [
        "preflight",
        "generate",
        "bundle",
        "deploy-bundle",
        "restart-control-plane",
        "restart-workloads",
        "rotate-issuer",
        "restart-for-issuer",
        "remove-old-root",
        "restart-final",
    ] {
        assert!(first.contains(&format!("\n√ {step}\n")), "{step}:\n{first}");
    }
    let old = summary_line(&first, "old roots");
    let new = summary_line(&first, "new root");
    assert!(fingerprint_and_expiry(old), "old roots: {old}");
    assert!(fingerprint_and_expiry(new), "new root: {new}");
    assert_ne!(old, new);
    let restarts = summary_line(&first, "restarts");
    for ns in ["emojivoto", "linkerd"] {
        assert!(
            restarts.contains(&format!("{ns}: ")),
            "restarts: {restarts}"
        );
    }
    let failed = summary_line(&first, "failed connections (sim)");
    assert!(failed.starts_with("0 of "), "{failed}");
    assert!(first.contains("done: 10 step(s) run, 0 skipped"), "{first}");
    let workdir = dir.path().join(".runner");
    assert!(workdir.join("ca-new.key").is_file());

    // Run again: the journal says it is complete; nothing runs, the summary is the same.
    let (code, second) = runner(dir.path(), &[&rotate, "--sim"]);
    assert_eq!(code, 0, "{second}");
    assert!(
        second.contains("as finished, the last at ")
            && second.contains("nothing is left to do (--fresh starts it over)"),
        "{second}"
    );
    assert!(
        second.contains("done: 0 step(s) run, 10 skipped"),
        "{second}"
    );
    assert_eq!(summary_line(&second, "new root"), new);
    assert_eq!(summary_line(&second, "old roots"), old);

    // --fresh: the journal is moved aside and the rotation runs again, on the new sim.
    let (code, fresh) = runner(dir.path(), &[&rotate, "--sim", "--fresh"]);
    assert_eq!(code, 0, "{fresh}");
    assert!(fresh.contains("--fresh: moved journal "), "{fresh}");
    assert!(fresh.contains("done: 10 step(s) run, 0 skipped"), "{fresh}");
    let journals: Vec<_> = std::fs::read_dir(workdir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        journals.iter().any(|name| name.ends_with(".bak")),
        "{journals:?}"
    );
}

#[test]
fn a_sim_journal_stopped_half_way_is_not_continued_against_a_new_sim() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = rotate_rhai();
    let (code, half) = runner(
        dir.path(),
        &[
            &rotate,
            "--sim",
            "--only",
            "preflight,generate,bundle,deploy-bundle",
        ],
    );
    assert_eq!(code, 0, "{half}");

    let (code, refused) = runner(dir.path(), &[&rotate, "--sim"]);
    assert_eq!(code, 2, "{refused}");
    assert!(
        refused.contains("records finished step(s) deploy-bundle of a run against sim:edge")
            && refused.contains("--sim starts its simulated cluster anew on every run")
            && refused.contains("run with --fresh"),
        "{refused}"
    );
    assert!(
        !refused.contains("preflight: Check"),
        "a step ran:\n{refused}"
    );

    let (code, fresh) = runner(dir.path(), &[&rotate, "--sim", "--fresh"]);
    assert_eq!(code, 0, "{fresh}");
    assert!(fresh.contains("done: 10 step(s) run, 0 skipped"), "{fresh}");
}

/// The plan as an operator reads it: every planned action says how sure it is, the files it
/// would write are named, no key is shown and none is left on disk.
#[test]
fn the_dry_run_plan_marks_every_action_and_shows_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, plan) = runner(dir.path(), &[&rotate_rhai(), "--sim", "--dry-run"]);
    assert_eq!(code, 0, "{plan}");
    let woulds: Vec<&str> = plan
        .lines()
        .filter(|line| line.trim_start().starts_with("would "))
        .collect();
    assert!(woulds.len() > 20, "{plan}");
    for line in &woulds {
        assert!(
            ["[exact]", "[server-validated]", "[predicted]"]
                .iter()
                .any(|basis| line.ends_with(basis)),
            "no basis: {line}"
        );
    }
    for file in ["ca-new.key", "issuer-new.key", "bundle.crt"] {
        assert!(
            woulds.iter().any(|line| line.contains(file)),
            "the plan does not name {file}:\n{plan}"
        );
    }
    for basis in ["[exact]", "[server-validated]", "[predicted]"] {
        assert!(woulds.iter().any(|line| line.ends_with(basis)), "{basis}");
    }
    for needle in ["PRIVATE KEY", "MHcCAQEE", "MIGHAgEA"] {
        assert!(!plan.contains(needle), "key material ({needle}):\n{plan}");
    }
    assert!(
        !dir.path().join(".runner").exists(),
        "the dry-run made the workdir"
    );
}
