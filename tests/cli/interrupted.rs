//! A rotation interrupted inside `generate` (after the root was written) resumes without a
//! second root, by every route; files that do not fit are refused with the way out, and the
//! dry-run predicts the same.

use std::path::Path;

use crate::harness::Run;

/// The shipped generate step, failing after the root when `fail_issuer` is set: what a kill
/// or an issuer error between the two `gen_cert` calls leaves behind.
const GENERATE: &str = r#"
    let trust_domain = param("trust_domain", "cluster.local", "Trust domain");
    let fail_issuer = param("fail_issuer", false, "Fail after the root");
    step("generate", "Generate", || {
        let root = gen_cert(#{ profile: "root-ca", cn: `root.linkerd.${trust_domain}`, write: "ca-new" });
        if fail_issuer { throw "the issuer failed"; }
        let issuer = gen_cert(#{ profile: "intermediate-ca", cn: `identity.linkerd.${trust_domain}`,
                                 ca: root, write: "issuer-new" });
        #{ root: root.fingerprint, issuer: issuer.fingerprint }
    });
"#;

fn root_pem(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".runner/ca-new.crt")).unwrap()
}

fn run(dir: &Path, args: &[&str], status: i32) -> crate::harness::Output {
    let mut run = Run::in_dir(dir)
        .runbook("gen.rhai", GENERATE)
        .status(status);
    for arg in args {
        run = run.arg(arg);
    }
    run.run()
}

#[test]
fn an_issuer_failure_after_the_root_resumes_with_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &["--set", "fail_issuer=true", "--fresh", "--yes"],
        1,
    );
    let root = root_pem(dir.path());

    let out = run(dir.path(), &["--fresh", "--yes"], 0);
    assert!(
        out.stdout
            .contains("reusing ca-new.crt from an interrupted run (CN=root.linkerd.cluster.local"),
        "{}",
        out.stdout
    );
    assert_eq!(root_pem(dir.path()), root, "a second root was generated");

    // Starting over after a finished run takes the same files again.
    run(dir.path(), &["--fresh", "--yes"], 0);
    assert_eq!(root_pem(dir.path()), root);
}

#[test]
fn a_key_left_without_its_certificate_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &["--set", "fail_issuer=true"], 1);
    std::fs::remove_file(dir.path().join(".runner/ca-new.crt")).unwrap();
    let out = run(
        dir.path(),
        &["--set", "fail_issuer=false", "--fresh", "--yes"],
        0,
    );
    assert!(
        out.stdout.contains("replacing ca-new.key"),
        "{}",
        out.stdout
    );
    assert!(dir.path().join(".runner/ca-new.crt").exists());
}

#[test]
fn files_for_another_request_are_refused_and_the_dry_run_says_so_too() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &["--set", "fail_issuer=true"], 1);
    let args = ["--set", "trust_domain=example.org", "--fresh", "--yes"];
    for dry_run in [true, false] {
        let mut args = args.to_vec();
        if dry_run {
            args.push("--dry-run");
        }
        let out = run(dir.path(), &args, 1);
        assert!(
            out.stderr.contains(
                "ca-new.key exist from an earlier run, but its common name is \
                 \"root.linkerd.cluster.local\", not \"root.linkerd.example.org\"; to go on, \
                 move them away, run with another --workdir, or pass overwrite: true"
            ),
            "dry-run {dry_run}: {}",
            out.stderr
        );
    }
}

#[test]
fn three_fresh_runs_in_a_second_keep_three_backups() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &[], 0);
    for _ in 0..3 {
        let out = run(dir.path(), &["--fresh", "--yes"], 0);
        assert!(out.stdout.contains(".bak"), "{}", out.stdout);
    }
    let backups = std::fs::read_dir(dir.path().join(".runner/journal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".bak")
        })
        .count();
    assert_eq!(backups, 3);
}

/// The shipped runbook, finished, then started over: every file is taken again, no dead end.
#[test]
fn the_shipped_runbook_starts_over_after_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path()).shipped("generate-certs.rhai").run();
    let root = root_pem(dir.path());
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .args(["--fresh", "--yes"])
        .run();
    assert!(out.stdout.contains("reusing ca-new.crt"), "{}", out.stdout);
    assert_eq!(root_pem(dir.path()), root);
}
