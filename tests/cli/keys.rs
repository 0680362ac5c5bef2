//! No output mode prints key material: human, JSON, dry-run, or with every log on.

use crate::harness::Run;

/// A runbook that generates keys and tries hard to show one.
const LEAKY: &str = r#"
    step("generate", "Generate", || {
        let root = gen_cert(#{ profile: "root-ca", cn: "root.linkerd.cluster.local", write: "ca" });
        print(root);
        debug(root);
        print("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBuS\n-----END EC PRIVATE KEY-----");
        #{ root: root }
    });
"#;

fn assert_no_key(text: &str, mode: &str) {
    assert!(
        !text.contains("PRIVATE KEY"),
        "{mode} shows a private key:\n{text}"
    );
    assert!(
        !text.contains("MHcCAQEEIBuS"),
        "{mode} shows key material:\n{text}"
    );
}

#[test]
fn no_output_mode_prints_a_private_key() {
    let modes: [&[&str]; 4] = [
        &[],
        &["--output", "json"],
        &["--dry-run"],
        &["--dry-run", "--output", "json"],
    ];
    for args in modes {
        for log in ["off", "trace"] {
            let mut run = Run::new().runbook("leaky.rhai", LEAKY).env("RUST_LOG", log);
            for arg in args {
                run = run.arg(arg);
            }
            let out = run.run();
            let mode = format!("{args:?} with RUST_LOG={log}");
            assert!(out.stdout.contains("[redacted"), "{mode}: {}", out.stdout);
            assert_no_key(&out.stdout, &mode);
            assert_no_key(&out.stderr, &mode);
        }
    }
}

#[test]
fn the_shipped_runbook_shows_no_key_and_keeps_keys_private() {
    let out = Run::new()
        .shipped("generate-certs.rhai")
        .env("RUST_LOG", "trace")
        .stdin("")
        .run();
    assert_no_key(&out.stdout, "generate-certs");
    assert_no_key(&out.stderr, "generate-certs");
}

#[test]
fn a_step_returning_a_key_is_refused_and_nothing_is_recorded() {
    // A directory the test owns, so that it still exists for the checks after the run.
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::in_dir(tmp.path())
        .runbook(
            "returns-key.rhai",
            r#"step("leak", "Leak", || "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----");"#,
        )
        .status(1);
    let dir = run.dir().to_owned();
    let out = run.run();
    assert_eq!(
        out.stderr,
        "error: recording the outputs of step `leak`: output `leak` holds a private key, which is \
         never recorded in the journal\n"
    );
    assert!(crate::harness::journals(&dir.join(".runner")).is_empty());
}

/// A key thrown as the step's error, shown by `debug` (escaped line breaks) and printed with
/// CRLF line breaks: every sink (stdout, the error on stderr, the diagnostic log) redacts it.
const THROWS_KEY: &str = r#"
    step("t", "Throw a key", || {
        let k = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBuS\nAwEHoUQ\n-----END EC PRIVATE KEY-----\n";
        debug(k);
        print(k.replace("\n", "\r\n"));
        print("-----BEGIN PRIVATE KEY-----\nMHcCAQEEIBuS");
        throw k;
    });
"#;

#[test]
fn a_thrown_or_escaped_key_is_redacted_in_every_sink() {
    for format in ["human", "json"] {
        for log in ["off", "debug"] {
            let out = Run::new()
                .runbook("throws.rhai", THROWS_KEY)
                .args(["--output", format])
                .env("RUST_LOG", log)
                .status(1)
                .run();
            let mode = format!("--output {format} with RUST_LOG={log}");
            assert_no_key(&out.stdout, &mode);
            assert_no_key(&out.stderr, &mode);
            assert!(!out.stdout.contains("AwEHoUQ"), "{mode}: {}", out.stdout);
            assert!(!out.stderr.contains("AwEHoUQ"), "{mode}: {}", out.stderr);
            assert!(
                out.stderr
                    .contains("error: step `t` failed: [redacted private key]"),
                "{mode}: {}",
                out.stderr
            );
        }
    }
}
