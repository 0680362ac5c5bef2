//! `write_file` never destroys what the workdir holds: keys, the journal, existing files.

use crate::harness::Run;

fn fails_with(body: &str, message: &str) {
    let runbook = format!(
        r#"
        step("keys", "Keys", || gen_cert(#{{ profile: "root-ca", cn: "root", write: "ca" }}).cert_path);
        step("write", "Write", || {{ {body} }});
        "#
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Run::in_dir(dir.path())
        .runbook("w.rhai", &runbook)
        .status(1)
        .run();
    assert!(out.stderr.contains(message), "{body}: {}", out.stderr);
    let key = std::fs::read_to_string(dir.path().join(".runner/ca.key")).unwrap();
    assert!(key.contains("PRIVATE KEY"), "{body} replaced the key");
}

#[test]
fn key_files_the_journal_and_hidden_names_are_refused() {
    fails_with(
        r#"write_file("ca.key", "oops")"#,
        r#"write_file: "ca.key" is a key file, which only `gen_cert` writes"#,
    );
    fails_with(
        r#"write_file("ca.key", "oops", #{ overwrite: true })"#,
        "is a key file",
    );
    fails_with(
        r#"write_file("journal", "oops")"#,
        r#"write_file: "journal" is the journal's folder"#,
    );
    fails_with(r#"write_file(".hidden", "x")"#, "starts with a dot");
    fails_with(r#"write_file("..", "x")"#, "starts with a dot");
    fails_with(r#"write_file("a/b", "x")"#, "is not a plain file name");
    fails_with(
        r#"write_file("b.txt", "x", #{ overwrit: true })"#,
        "unknown option `overwrit`",
    );
}

#[test]
fn an_existing_file_is_kept_unless_overwrite_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = Run::in_dir(dir.path())
        .runbook(
            "w.rhai",
            r#"
            step("one", "One", || write_file("b.txt", "first"));
            step("same", "Same text again", || write_file("b.txt", "first"));
            step("two", "Two", || write_file("b.txt", "second"));
            "#,
        )
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("b.txt exists (pass #{ overwrite: true } to replace it)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".runner/b.txt")).unwrap(),
        "first"
    );

    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path())
        .runbook(
            "w.rhai",
            r#"
            step("one", "One", || write_file("b.txt", "first"));
            step("two", "Two", || write_file("b.txt", "second", #{ overwrite: true }));
            "#,
        )
        .run();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".runner/b.txt")).unwrap(),
        "second"
    );
}
