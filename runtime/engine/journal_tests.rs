//! The journal: reopening, identity checks, atomic saves, moving aside.

use super::*;

fn params(value: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([("trust_domain".to_owned(), Value::from(value))])
}

#[test]
fn records_survive_a_reopen_and_refuse_other_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal").join("x.json");
    let mut journal =
        Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("a")).unwrap();
    journal
        .record("generate", serde_json::json!({"root": "fp"}), Vec::new())
        .unwrap();

    let again = Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("a")).unwrap();
    assert_eq!(
        again.finished("generate").unwrap().outputs,
        serde_json::json!({"root": "fp"})
    );

    let error =
        Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("b")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "journal {} was recorded with other values for parameter(s) trust_domain: run with \
             the same values to resume, or with --fresh to start over",
            path.display()
        )
    );
}

#[test]
fn another_runbook_or_target_is_refused_and_a_moved_runbook_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal").join("x.json");
    let runbook = dir.path().join("a/rotate.rhai");
    std::fs::create_dir_all(runbook.parent().unwrap()).unwrap();
    std::fs::write(&runbook, "step(\"s\", \"S\", || 1);").unwrap();
    let name = runbook.to_str().unwrap();
    let mut journal = Journal::open(None, path.clone(), name, "none", params("a")).unwrap();
    journal.record("s", Value::from(1), Vec::new()).unwrap();

    for (other, target) in [("other.rhai", "none"), (name, "sim:default")] {
        let error =
            Journal::open(Some(&path), path.clone(), other, target, params("a")).unwrap_err();
        assert!(matches!(error, JournalError::Mismatch { .. }), "{error}");
    }

    // Another checkout with an edited copy: resumed, and said so.
    let moved = dir.path().join("b/rotate.rhai");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::write(&moved, "step(\"s\", \"S\", || 2);").unwrap();
    let moved = moved.to_str().unwrap();
    let again = Journal::open(Some(&path), path.clone(), moved, "none", params("a")).unwrap();
    assert!(again.finished("s").is_some());
    assert_eq!(again.notes().len(), 2, "{:?}", again.notes());
    assert!(
        again.notes()[0].contains("a/rotate.rhai"),
        "{:?}",
        again.notes()
    );
    assert!(
        again.notes()[1].contains("changed since"),
        "{:?}",
        again.notes()
    );
    assert_eq!(
        path_for(dir.path(), Path::new(name), "none"),
        path_for(dir.path(), Path::new(moved), "none")
    );
}

#[test]
fn a_reader_never_sees_a_half_written_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal").join("x.json");
    let mut journal = Journal::open(None, path.clone(), "x.rhai", "none", params("a")).unwrap();
    journal
        .record("step-0", serde_json::json!({"n": 0}), Vec::new())
        .unwrap();

    let reader_path = path.clone();
    let reader = std::thread::spawn(move || {
        let mut reads = 0;
        while reads < 2_000 {
            let text = std::fs::read_to_string(&reader_path).unwrap();
            serde_json::from_str::<Record>(&text).expect("a whole journal");
            reads += 1;
        }
    });
    for n in 1..200 {
        let outputs = serde_json::json!({"n": n, "padding": "x".repeat(4096)});
        journal
            .record(&format!("step-{n}"), outputs, Vec::new())
            .unwrap();
    }
    reader.join().unwrap();

    let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "temporary files were left behind");
}

#[test]
fn keys_differ_by_runbook_and_target() {
    let workdir = Path::new("/w");
    let a = path_for(workdir, Path::new("a.rhai"), "none");
    assert_ne!(a, path_for(workdir, Path::new("b.rhai"), "none"));
    assert_ne!(a, path_for(workdir, Path::new("a.rhai"), "sim:x"));
    assert_eq!(a, path_for(workdir, Path::new("a.rhai"), "none"));
}
