//! `--list` and choosing steps with `--only`, `--skip` and `--from`.

use crate::harness::Run;

/// Three steps that say when they run, and parameters of every type.
pub const STEPS: &str = r#"
    //! Three steps for the tests.
    let name = param("name", "mesh", "A string");
    let count = param("count", 3, "An int");
    let enabled = param("enabled", false, "A bool");
    let validity = param("validity", duration("8760h"), "A duration");
    let namespaces = param("namespaces", ["emojivoto", "books"], "A list");

    step("first", "The first step", || {
        print("ran: first");
        #{ name: name, count: count }
    });
    step("second", "The second step", || {
        print(`ran: second with ${output("first").name}`);
        #{ enabled: enabled, validity: validity, namespaces: namespaces }
    });
    step("third", "The third step", #{ changes_cluster: true }, || {
        print("ran: third");
    });
"#;

#[test]
fn list_prints_steps_and_parameters_and_runs_nothing() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .arg("--list")
        .stdout(
            r#"
            steps.rhai
              Three steps for the tests.

            Steps:
              first   The first step
              second  The second step
              third   The third step [changes the cluster]

            Parameters:
              name       = "mesh"             A string
              count      = 3                  An int
              enabled    = false              A bool
              validity   = 8760h              A duration
              namespaces = [emojivoto,books]  A list
            "#,
        )
        .stderr("")
        .run();
    assert!(!out.stdout.contains("ran:"));
}

#[test]
fn list_as_json_is_one_object_per_line() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--list", "--output", "json"])
        .run();
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1 + 3 + 5);
    assert_eq!(lines[0]["event"], "list_runbook");
    assert_eq!(lines[3]["step"], "third");
    assert_eq!(lines[3]["changes_cluster"], true);
    assert_eq!(lines[7]["default"], "8760h");
    assert_eq!(
        lines[8]["default"],
        serde_json::json!(["emojivoto", "books"])
    );
}

fn ran(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ran: "))
        .collect()
}

#[test]
fn only_runs_the_named_steps() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--only", "first,third", "--yes"])
        .run();
    assert_eq!(ran(&out.stdout), ["first", "third"]);
    assert!(
        out.stdout.contains("- second: skipped, not selected\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn skip_leaves_out_the_named_steps() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--skip", "third"])
        .run();
    assert_eq!(ran(&out.stdout), ["first", "second with mesh"]);
}

#[test]
fn options_that_leave_no_step_are_an_error_not_an_empty_success() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--only", "first", "--skip", "first"])
        .status(2)
        .stdout("")
        .run();
    assert_eq!(
        out.stderr,
        "error: --only, --skip and --from together leave no step of steps.rhai to run\n"
    );
}

#[test]
fn from_starts_at_the_named_step_and_reuses_earlier_outputs() {
    let dir = tempfile::tempdir().unwrap();
    Run::in_dir(dir.path())
        .runbook("steps.rhai", STEPS)
        .args(["--only", "first"])
        .run();
    let out = Run::in_dir(dir.path())
        .arg("steps.rhai")
        .args(["--from", "second", "--yes"])
        .run();
    assert_eq!(ran(&out.stdout), ["second with mesh", "third"]);
}

#[test]
fn unknown_step_names_are_reported_together_with_the_known_ones() {
    Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--only", "frist,second", "--skip", "thrid", "--list"])
        .status(2)
        .stdout("")
        .stderr(
            "error: unknown step(s) frist, thrid: the steps of steps.rhai are first, second, third\n",
        )
        .run();
}

#[test]
fn a_step_needing_an_output_that_never_ran_fails_the_run_with_status_1() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--only", "second"])
        .status(1)
        .run();
    assert_eq!(
        out.stderr,
        "error: step `second` failed: step `first` has no output yet: it has not run in this run \
         or an earlier one with this workdir (steps.rhai, line 13, column 31)\n"
    );
}
