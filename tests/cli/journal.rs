//! The journal: resuming after a failure without a second root, corrupted and mismatched
//! journals, `--fresh` and dry-runs that leave the workdir alone.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Run, journals};

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn finished<'a>(events: &'a [Value], step: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == step)
        .map(|e| &e["outputs"])
}

/// Generates a CA in `dir/other` and copies its certificate to `dir/old.crt`: the "current
/// anchors" of the resume test.
fn make_old_anchor(dir: &Path) -> String {
    let out = Run::in_dir(dir)
        .shipped("generate-certs.rhai")
        .args([
            "--workdir",
            "other",
            "--only",
            "generate",
            "--output",
            "json",
        ])
        .run();
    std::fs::copy(dir.join("other/ca-new.crt"), dir.join("old.crt")).unwrap();
    finished(&events(&out.stdout), "generate").unwrap()["root"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_failed_second_step_is_rerun_and_the_first_is_skipped_with_its_root() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--set", "current_anchors=old.crt", "--output", "json"];

    // old.crt does not exist yet: "bundle" fails after "generate" made the new root.
    let first = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(args)
        .status(1)
        .run();
    let first = events(&first.stdout);
    let root = finished(&first, "generate").expect("generate finished")["root"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        first
            .iter()
            .any(|e| e["event"] == "step_failed" && e["step"] == "bundle")
    );

    let old = make_old_anchor(dir.path());
    let second = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(args)
        .run();
    let second = events(&second.stdout);
    assert!(
        second
            .iter()
            .any(|e| e["event"] == "step_skipped" && e["step"] == "generate"),
        "{second:?}"
    );
    assert!(
        finished(&second, "generate").is_none(),
        "generate ran again"
    );
    let bundle = &finished(&second, "bundle").expect("bundle finished")["bundle"];
    assert_eq!(bundle["fingerprints"], serde_json::json!([root, old]));

    // The root on disk is still the one of the first run.
    let journal = std::fs::read_to_string(&journals(&dir.path().join(".runner"))[0]).unwrap();
    let journal: Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(
        journal["steps"][0]["outputs"]["root"]["fingerprint"],
        root.as_str()
    );
    assert_eq!(journal["steps"][1]["name"], "bundle");
}

#[test]
fn a_corrupted_journal_is_an_error_naming_the_file_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path()).shipped("generate-certs.rhai").run();
    let journal = journals(&dir.path().join(".runner")).remove(0);
    std::fs::write(&journal, "{\"version\": 1, \"steps\": [").unwrap();

    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .status(2)
        .stdout("")
        .run();
    let name = journal
        .strip_prefix(dir.path())
        .unwrap()
        .display()
        .to_string();
    assert!(
        out.stderr.starts_with(&format!(
            "error: journal {} is corrupted (remove it or run with --fresh to start over): ",
            Path::new(".runner")
                .join(name.trim_start_matches(".runner/"))
                .display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        "{\"version\": 1, \"steps\": ["
    );
}

#[test]
fn other_parameter_values_refuse_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(["--only", "generate"])
        .run();
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args([
            "--set",
            "trust_domain=example.org",
            "--set",
            "issuer_validity=48h",
        ])
        .status(2)
        .run();
    assert!(
        out.stderr.contains(
            "was recorded with other values for parameter(s) issuer_validity, trust_domain: run \
             with the same values to resume, or with --fresh to start over\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn two_runbooks_share_a_workdir_without_sharing_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path())
        .runbook("a.rhai", r#"step("one", "One", || 1);"#)
        .run();
    let out = Run::in_dir(dir.path())
        .runbook("b.rhai", r#"step("one", "One", || 2);"#)
        .run();
    assert!(out.stdout.contains("√ one\n"), "{}", out.stdout);
    assert_eq!(journals(&dir.path().join(".runner")).len(), 2);
}

#[test]
fn fresh_moves_the_journal_aside_and_generates_a_new_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = |stdout: &str| {
        finished(&events(stdout), "generate").unwrap()["root"]["fingerprint"].clone()
    };
    let json = ["--output", "json", "--only", "generate"];
    let first = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(json)
        .run();
    // The old files stay and fit the request: starting over takes them, not a second root.
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(json)
        .args(["--fresh", "--yes", "--workdir", ".runner"])
        .run();
    assert_eq!(root(&out.stdout), root(&first.stdout));
    assert!(
        out.stdout.contains("--fresh: moved journal "),
        "{}",
        out.stdout
    );
    for name in [
        "ca-new.crt",
        "ca-new.key",
        "issuer-new.crt",
        "issuer-new.key",
    ] {
        std::fs::remove_file(dir.path().join(".runner").join(name)).unwrap();
    }
    let second = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(json)
        .args(["--fresh", "--yes"])
        .run();
    assert_ne!(root(&first.stdout), root(&second.stdout));
    let aside = std::fs::read_dir(dir.path().join(".runner/journal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".bak")
        })
        .count();
    // Each --fresh moved a journal aside, and none replaced another (all within a second).
    assert_eq!(aside, 2);
}

#[test]
fn a_dry_run_writes_nothing_in_the_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .arg("--dry-run")
        .run();
    assert!(out.stdout.starts_with("dry run of "), "{}", out.stdout);
    assert!(out.stdout.contains("√ bundle\n"), "{}", out.stdout);
    assert!(!dir.path().join(".runner").exists());

    // After a real run, a dry-run reads the journal but does not touch it.
    Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(["--only", "generate"])
        .run();
    let journal = journals(&dir.path().join(".runner")).remove(0);
    let before = std::fs::read_to_string(&journal).unwrap();
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .arg("--dry-run")
        .run();
    assert!(
        out.stdout
            .contains("- generate: skipped, finished in an earlier run"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("√ bundle\n"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), before);
    assert!(!dir.path().join(".runner/bundle.crt").exists());
}

/// The README's command twice in a row with the default workdir, then from another checkout
/// (a copy of the runbook elsewhere) with the same workdir: both resume, nothing generated
/// again, and the move is reported.
#[test]
fn the_journal_is_found_from_another_checkout_of_the_runbook() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/generate-certs.rhai");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let first = Run::in_dir(dir.path())
        .file("clone-a/runbooks/generate-certs.rhai", &text)
        .args(["clone-a/runbooks/generate-certs.rhai", "--output", "json"])
        .run();
    assert!(finished(&events(&first.stdout), "generate").is_some());
    for checkout in ["clone-a", "clone-b"] {
        let out = Run::in_dir(dir.path())
            .file(&format!("{checkout}/runbooks/generate-certs.rhai"), &text)
            .arg(&format!("{checkout}/runbooks/generate-certs.rhai"))
            .run();
        assert!(
            out.stdout.contains("- generate: skipped"),
            "{checkout}: {}",
            out.stdout
        );
        assert_eq!(
            out.stdout
                .contains("the journal was recorded by generate-certs.rhai at"),
            checkout == "clone-b",
            "{checkout}: {}",
            out.stdout
        );
    }
    assert_eq!(journals(&dir.path().join(".runner")).len(), 1);
}

#[test]
fn a_second_run_in_a_busy_workdir_is_refused_before_it_reads_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path()).shipped("generate-certs.rhai").run();
    // Another runner holds the workdir's lock, as it does for the whole of its run.
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join(".runner/.lock"))
        .expect("the first run left the workdir's lock file");
    lock.try_lock().expect("the first run released its lock");
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(["--fresh", "--yes"])
        .status(2)
        .stdout("")
        .run();
    assert_eq!(
        out.stderr,
        "error: another runner is using workdir .runner: wait until it finishes, or give this \
         run another --workdir\n"
    );
    assert_eq!(
        journals(&dir.path().join(".runner")).len(),
        1,
        "journal moved aside"
    );
    drop(lock);
    Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(["--fresh", "--yes"])
        .run();
}

#[test]
fn an_every_run_step_runs_again_while_finished_steps_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = r#"
        step("once", "Once", || { log_info("once ran"); 1 });
        step("look", "Look", #{ every_run: true }, || { log_info("look ran"); 2 });
    "#;
    let first = Run::in_dir(dir.path()).runbook("r.rhai", runbook).run();
    assert!(first.stdout.contains("once ran") && first.stdout.contains("look ran"));
    let second = Run::in_dir(dir.path()).arg("r.rhai").run();
    assert!(!second.stdout.contains("once ran"), "{}", second.stdout);
    assert!(second.stdout.contains("look ran"), "{}", second.stdout);
    assert!(
        second
            .stdout
            .contains("- once: skipped, finished in an earlier run"),
        "{}",
        second.stdout
    );
}
