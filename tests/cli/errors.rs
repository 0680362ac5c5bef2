//! Runbooks that cannot run: each is a clear error with the place, exit status 2, and nothing
//! runs or is written.

use crate::harness::Run;

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    Run::new()
        .runbook(
            "broken.rhai",
            r#"
            step("one", "One", || {
                let x = 1 +;
            });
            "#,
        )
        .status(2)
        .stdout("")
        .stderr("error: syntax error in runbook broken.rhai: Unexpected ';' (line 2, column 16)\n")
        .run();
}

#[test]
fn unknown_functions_fail_before_the_first_step_runs() {
    // A directory the test owns, so that it still exists for the checks after the run.
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::in_dir(tmp.path())
        .runbook(
            "typo.rhai",
            r#"
            step("one", "One", || write_file("one.txt", "written"));
            step("two", "Two", || {
                gen_cerrt(#{ profile: "root-ca" });
                output("one", "extra");
            });
            "#,
        )
        .arg("--yes")
        .status(2)
        .stdout("")
        .stderr(
            "
            error: in runbook typo.rhai:
              - unknown function `gen_cerrt` (line 3, column 5)
              - `output` takes 1 argument(s), not 2 (line 4, column 5)
            ",
        );
    let dir = run.dir().to_owned();
    run.run();
    assert!(!dir.join(".runner").exists(), "step one ran");
}

#[test]
fn primitives_at_the_top_level_are_refused() {
    Run::new()
        .runbook(
            "top.rhai",
            r#"
            let root = gen_cert(#{ profile: "root-ca", cn: "root" });
            step("one", "One", || root);
            "#,
        )
        .status(2)
        .stderr(
            "
            error: in runbook top.rhai:
              - `gen_cert` can only be called inside a step, not at the top level of a runbook (line 1, column 12)
            ",
        )
        .run();
}

#[test]
fn primitives_reached_through_the_runbooks_functions_at_the_top_level_are_refused() {
    // A directory the test owns, so that it still exists for the checks after the run.
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::in_dir(tmp.path())
        .runbook(
            "helper.rhai",
            r#"
            fn make_root() { gen_cert(#{ profile: "root-ca", cn: "root", write: "ca" }) }
            fn setup() { make_root() }
            fn label() { "root" }
            let name = label();
            setup();
            step("one", "One", || make_root());
            "#,
        )
        .arg("--list")
        .status(2)
        .stdout("")
        .stderr(
            "
            error: in runbook helper.rhai:
              - `setup` calls `gen_cert`, which can only be called inside a step, not at the top level of a runbook (line 5, column 1)
            ",
        );
    let dir = run.dir().to_owned();
    run.run();
    assert!(!dir.join(".runner").exists());
}

#[test]
fn a_missing_runbook_is_an_error_naming_it() {
    let out = Run::new().arg("nowhere.rhai").status(2).run();
    assert!(
        out.stderr
            .starts_with("error: reading runbook nowhere.rhai: "),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_step_exits_1_and_says_where() {
    Run::new()
        .runbook(
            "fails.rhai",
            r#"
            step("one", "One", || {
                throw "the cluster said no";
            });
            "#,
        )
        .status(1)
        .stderr("error: step `one` failed: the cluster said no (fails.rhai, line 2, column 5)\n")
        .run();
}

#[test]
fn check_without_a_cluster_is_a_usage_error() {
    Run::new()
        .args(["check", "--proxy"])
        .status(2)
        .stderr("error: no cluster: pass --kubeconfig, --context or --sim (or set KUBECONFIG)\n")
        .run();
}

#[test]
fn usage_errors_exit_2_and_help_lists_the_exit_codes() {
    Run::new().arg("--frobnicate").status(2).run();
    let out = Run::new().arg("--help").run();
    assert!(
        out.stdout.contains(
            "Exit status: 0 success, 1 a step or check failed, 2 usage or runbook error."
        )
    );
    let out = Run::new().args(["run", "--help"]).run();
    for flag in [
        "--dry-run",
        "--set",
        "--values",
        "--list",
        "--only",
        "--skip",
        "--from",
        "--workdir",
        "--fresh",
        "--yes",
        "--output",
        "--kubeconfig",
        "--context",
        "--sim",
        "--stdlib",
    ] {
        assert!(out.stdout.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn declaration_errors_name_the_runbook_and_the_place() {
    for (text, message) in [
        (
            "let x = param(\"ratio\", 1.5, \"A ratio\");",
            "parameter `ratio` has a default of type f64: use a string, int, bool, list of \
             strings or duration(...) (line 1, column 9)",
        ),
        (
            "step(\"a\", \"A\", || 1);\nstep(\"a\", \"Again\", || 2);",
            "step `a` is declared twice (line 2, column 1)",
        ),
        (
            "step(\"a b\", \"A\", || 1);",
            "step name \"a b\" may only hold letters, digits, `-` and `_` (line 1, column 1)",
        ),
        (
            "step(\"a\", \"A\", #{ changes_clutser: true }, || 1);",
            "step `a`: unknown option `changes_clutser` (known: changes_cluster: bool, every_run: bool) (line 1, \
             column 1)",
        ),
        (
            "step(\"a\", \"A\", || param(\"late\", 1, \"Late\"));",
            "step `a` failed: param(\"late\") must be declared at the top level of the runbook, \
             not inside a step (bad.rhai, line 1, column 19)",
        ),
    ] {
        let out = Run::new()
            .runbook("bad.rhai", text)
            .arg("--yes")
            .status(if text.contains("late") { 1 } else { 2 })
            .run();
        let expected = if text.contains("late") {
            format!("error: {message}\n")
        } else {
            format!("error: in runbook bad.rhai: {message}\n")
        };
        assert_eq!(out.stderr, expected, "{text}");
    }
}

#[test]
fn a_closure_in_a_map_is_callable_and_an_unknown_module_alias_is_caught_first() {
    let out = Run::new()
        .runbook(
            "closures.rhai",
            r#"
            step("one", "One", || {
                let m = #{ g: |x| x + 1 };
                print(`g gives ${m.g(1)}`);
            });
            "#,
        )
        .run();
    assert!(out.stdout.contains("  g gives 2\n"), "{}", out.stdout);

    // A directory the test owns, so that it still exists for the checks after the run.
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::in_dir(tmp.path())
        .runbook(
            "no-import.rhai",
            r#"
            step("one", "One", || write_file("one.txt", "written"));
            step("two", "Two", || l5d::root_cn("cluster.local"));
            "#,
        )
        .status(2)
        .stdout("")
        .stderr(
            r#"
            error: in runbook no-import.rhai:
              - unknown module `l5d` in `l5d::root_cn` (no `import "..." as l5d;`) (line 2, column 28)
            "#,
        );
    let dir = run.dir().to_owned();
    run.run();
    assert!(!dir.join(".runner").exists(), "step one ran");
}

#[test]
fn a_return_at_the_top_level_is_an_error_before_anything_runs() {
    Run::new()
        .runbook(
            "returns.rhai",
            r#"
            step("one", "One", || write_file("one.txt", "written"));
            if true { return; }
            step("two", "Two", || 2);
            "#,
        )
        .status(2)
        .stdout("")
        .stderr(
            "
            error: in runbook returns.rhai:
              - `return` at the top level of a runbook would skip the declarations after it; the top level only declares (line 2, column 11)
            ",
        )
        .run();
}

#[test]
fn an_empty_only_and_a_missing_stdlib_folder_are_usage_errors() {
    let two = r#"
        step("one", "One", || write_file("one.txt", "written"));
        step("two", "Two", || 2);
    "#;
    Run::new()
        .runbook("two.rhai", two)
        .args(["--only", ","])
        .status(2)
        .stdout("")
        .stderr("error: --only names no step: the steps of two.rhai are one, two\n")
        .run();
    Run::new()
        .runbook("two.rhai", two)
        .args(["--stdlib", "/nonexistent"])
        .status(2)
        .stdout("")
        .stderr("error: --stdlib /nonexistent: no such folder\n")
        .run();
}

#[test]
fn a_missing_manifest_for_the_sim_is_a_usage_error() {
    let out = Run::new()
        .args(["sim", "serve", "--manifests", "/missing.yaml"])
        .status(2)
        .run();
    assert!(
        out.stderr
            .starts_with("error: reading manifest /missing.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn with_json_output_an_error_before_any_step_is_also_an_event_on_stdout() {
    let out = Run::new()
        .shipped("generate-certs.rhai")
        .args(["--output", "json", "--set", "issuer_validity=soon"])
        .status(2)
        .run();
    let event: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(event["event"], "error");
    assert_eq!(event["exit_code"], 2);
    let message = event["message"].as_str().unwrap();
    assert!(message.contains("issuer_validity"), "{message}");
    assert_eq!(out.stderr, format!("error: {message}\n"));
}

#[test]
fn the_shipped_runbooks_refuse_an_empty_control_plane_namespace_before_anything_runs() {
    for runbook in ["rotate.rhai", "rotate-issuer.rhai", "check.rhai"] {
        let out = Run::new()
            .shipped(runbook)
            .args(["--set", "namespace=", "--list"])
            .status(2)
            .stdout("")
            .run();
        assert!(
            out.stderr.contains(
                "namespace is empty: give the namespace of the Linkerd control plane (default \
                 linkerd)"
            ),
            "{runbook}: {}",
            out.stderr
        );
    }
}

#[test]
fn the_rotations_refuse_an_issuer_that_would_lapse_before_proxies_renew() {
    for runbook in ["rotate.rhai", "rotate-issuer.rhai"] {
        let out = Run::new()
            .shipped(runbook)
            .args(["--set", "issuer_validity=47h", "--list"])
            .status(2)
            .stdout("")
            .run();
        assert!(
            out.stderr
                .contains("issuer_validity (47h) is shorter than 48h: proxies' 24h certificates"),
            "{runbook}: {}",
            out.stderr
        );
        Run::new()
            .shipped(runbook)
            .args(["--set", "issuer_validity=48h", "--list"])
            .run();
    }
}
