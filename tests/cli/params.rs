//! Runbook parameters: `--set`, `--values`, type conversion and the errors, all reported
//! together, with exit status 2 and nothing written.

use crate::harness::Run;
use crate::list::STEPS;

#[test]
fn set_and_values_convert_to_the_type_of_the_default() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .file(
            "values.yaml",
            "count: 7\nnamespaces: [a, b]\nenabled: true\n",
        )
        .args([
            "--values",
            "values.yaml",
            "--set",
            "validity=90d",
            "--set",
            "name=prod",
        ])
        .args(["--skip", "third", "--output", "json"])
        .run();
    let finished: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "step_finished")
        .map(|event| event["outputs"].clone())
        .collect();
    assert_eq!(finished[0], serde_json::json!({"name": "prod", "count": 7}));
    assert_eq!(
        finished[1],
        serde_json::json!({"enabled": true, "namespaces": ["a", "b"],
            "validity": {"$type": "duration", "value": "2160h"}})
    );
}

#[test]
fn set_wins_over_values_and_lists_split_on_commas() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .file("values.json", r#"{"namespaces": ["x"], "count": 1}"#)
        .args([
            "--values",
            "values.json",
            "--set",
            "namespaces=a, b",
            "--only",
            "first,second",
        ])
        .run();
    assert!(
        out.stdout.contains("  namespaces: [\"a\",\"b\"]\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  count: 1\n"), "{}", out.stdout);
}

#[test]
fn unknown_keys_and_bad_values_are_reported_together_and_nothing_is_written() {
    let run = Run::new()
        .runbook("steps.rhai", STEPS)
        .file("values.yaml", "count: many\ncolour: blue\n")
        .args(["--values", "values.yaml", "--set", "validity=soon", "--set", "enabled=maybe"])
        .args(["--set", "nmae=x", "--yes"])
        .status(2)
        .stdout("")
        .stderr(
            r#"
            error: invalid runbook parameters:
              - parameter `count` (int from --values values.yaml): expected a whole number, got "many"
              - parameter `enabled` (bool from --set): expected true or false, got "maybe"
              - parameter `validity` (duration from --set): invalid duration "soon": a unit without a number (expected a number with a unit d, h, m or s, like 8760h or 1h30m)
              - unknown parameter `colour`
              - unknown parameter `nmae`
            known parameters: name, count, enabled, validity, namespaces
            "#,
        );
    let dir = run.dir().to_owned();
    run.run();
    assert!(
        !dir.join(".runner").exists(),
        "a refused run created the workdir"
    );
}

#[test]
fn set_without_an_equals_sign_is_a_usage_error() {
    Run::new()
        .runbook("steps.rhai", STEPS)
        .args(["--set", "validity"])
        .status(2)
        .stderr("error: --set \"validity\" is not KEY=VALUE\n")
        .run();
}

#[test]
fn a_values_file_that_is_not_a_map_is_an_error_naming_the_file() {
    let out = Run::new()
        .runbook("steps.rhai", STEPS)
        .file("values.yaml", "- a\n- b\n")
        .args(["--values", "values.yaml"])
        .status(2)
        .run();
    assert_eq!(
        out.stderr,
        "error: parameter values file values.yaml is not a YAML or JSON map: the top level is not \
         a map\n"
    );
}
