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
    // A directory the test owns, so that it still exists for the checks after the run.
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::in_dir(tmp.path())
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

/// Values of another type from `--values` are refused like bad `--set` text: all together,
/// exit 2, nothing written; durations that cannot make a certificate are refused up front.
#[test]
fn values_of_the_wrong_type_and_impossible_durations_are_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = Run::in_dir(dir.path())
        .shipped("generate-certs.rhai")
        .file("v.yaml", "trust_domain: [a, b]\ncurrent_anchors: null\n")
        .args(["--values", "v.yaml", "--set", "issuer_validity=99999999d"])
        .status(2)
        .run();
    for problem in [
        "parameter `trust_domain` (string from --values v.yaml): expected a string, got the list [\"a\",\"b\"]",
        "parameter `current_anchors` (string from --values v.yaml): expected a string, got null",
        "parameter `issuer_validity` (duration from --set): invalid duration \"99999999d\": longer than 100 years",
    ] {
        assert!(out.stderr.contains(problem), "{problem}\n{}", out.stderr);
    }
    for validity in ["0s", "-1h", "1.5h"] {
        Run::in_dir(dir.path())
            .shipped("generate-certs.rhai")
            .args(["--set", &format!("issuer_validity={validity}")])
            .status(2)
            .run();
    }
    assert!(!dir.path().join(".runner").exists());
}

#[test]
fn an_issuer_outliving_its_root_is_refused_naming_both_dates() {
    let out = Run::new()
        .shipped("generate-certs.rhai")
        .args(["--set", "issuer_validity=36000d"])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("after its signing CA CN=root.linkerd.cluster.local"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(" ends on 20"), "{}", out.stderr);
}

#[test]
fn a_trust_domain_that_is_not_a_dns_subdomain_is_refused_with_the_reason() {
    for (domain, reason) in [
        ("", "it is empty"),
        ("a;b/../x", "it holds ';'"),
        ("Example.org", "it holds 'E'"),
        ("a..b", "it has an empty label"),
        ("-a.b", "label \"-a\" starts or ends with '-'"),
    ] {
        let out = Run::new()
            .shipped("generate-certs.rhai")
            .args(["--set", &format!("trust_domain={domain}")])
            .status(2)
            .stdout("")
            .run();
        assert!(
            out.stderr
                .contains(&format!("invalid trust domain \"{domain}\": {reason}")),
            "{domain}: {}",
            out.stderr
        );
    }
    let long = ["a"; 150].join(".");
    let out = Run::new()
        .shipped("generate-certs.rhai")
        .args(["--set", &format!("trust_domain={long}")])
        .status(2)
        .run();
    assert!(
        out.stderr.contains("299 characters, more than 253"),
        "{}",
        out.stderr
    );
}
