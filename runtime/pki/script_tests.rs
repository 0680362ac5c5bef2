//! The Rhai bindings through a bare engine (the real engine constructor lives elsewhere and
//! calls the same `register`), and the journal hooks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, Scope};

use super::{PkiEnv, from_journal, register, to_journal};
use crate::pki::{Bundle, Certificate, CertifiedKey, JournalError};

/// A bare engine with the pki bindings, writing into `workdir` (shared with `gen_cert`'s tests).
pub(in crate::pki) fn engine(workdir: &Path) -> Engine {
    let mut engine = Engine::new();
    register(
        &mut engine,
        PkiEnv {
            workdir: workdir.to_owned(),
            dry_run: false,
            earlier_files: workdir.to_owned(),
            notify: super::Notify::none(),
            would: super::Notify::none(),
        },
    );
    engine
}

pub(in crate::pki) fn eval<T: Clone + Send + Sync + 'static>(engine: &Engine, script: &str) -> T {
    match engine.eval::<T>(script) {
        Ok(value) => value,
        Err(e) => panic!("script failed: {e}\n{script}"),
    }
}

pub(in crate::pki) fn eval_err(engine: &Engine, script: &str) -> String {
    match engine.eval::<Dynamic>(script) {
        Ok(value) => panic!("script succeeded with {value:?}\n{script}"),
        Err(e) => e.to_string(),
    }
}

pub(in crate::pki) const ROOT_AND_ISSUER: &str = r#"
    let root = gen_cert(#{ profile: "root-ca", cn: "root.linkerd.cluster.local", write: "ca-new" });
    let issuer = gen_cert(#{ profile: "intermediate-ca", cn: "identity.linkerd.cluster.local",
                             not_after: "8760h", ca: root, write: "issuer-new" });
"#;

#[test]
fn gen_cert_makes_a_root_and_an_issuer_and_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let script = format!(
        "{ROOT_AND_ISSUER}
        [root.is_ca, root.path_len, issuer.path_len, issuer.cn, issuer.issuer,
         issuer.key_algorithm, issuer.signature_algorithm, issuer.key_path, type_of(issuer),
         type_of(issuer.cert), issuer.cert.fingerprint == issuer.fingerprint, root.dns_sans.len()]"
    );
    let facts: rhai::Array = eval(&engine, &script);
    let shown: Vec<String> = facts.iter().map(|d| d.to_string()).collect();
    let key_path = dir.path().join("issuer-new.key").display().to_string();
    assert_eq!(
        shown,
        [
            "true",
            "1",
            "0",
            "identity.linkerd.cluster.local",
            "CN=root.linkerd.cluster.local",
            "ecdsa-p256",
            "ECDSA-SHA256",
            key_path.as_str(),
            "CertifiedKey",
            "Certificate",
            "true",
            "0",
        ]
    );
    for name in ["ca-new", "issuer-new"] {
        let mode = std::fs::metadata(dir.path().join(format!("{name}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}.key");
        assert!(dir.path().join(format!("{name}.crt")).exists());
    }
}

#[test]
fn not_after_takes_a_duration_text_a_time_or_a_duration_value() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut scope = Scope::new();
    scope.push("a_day", ::time::Duration::hours(24));
    let script = r#"
        let by_text = gen_cert(#{ profile: "root-ca", cn: "a", not_after: "1h30m" });
        let by_time = gen_cert(#{ profile: "root-ca", cn: "b", not_after: "2030-01-01T00:00:00Z" });
        const OPTIONS = #{ profile: "root-ca", cn: "c", not_after: "24h" };
        let from_constant = gen_cert(OPTIONS);
        let by_value = gen_cert(#{ profile: "root-ca", cn: "c", not_after: a_day });
        [by_text, by_time, by_value]
    "#;
    let made: rhai::Array = engine.eval_with_scope(&mut scope, script).unwrap();
    let validity = |i: usize| {
        let pair = made[i].clone_cast::<CertifiedKey>();
        pair.cert().not_after() - pair.cert().not_before()
    };
    assert_eq!(validity(0), ::time::Duration::minutes(90));
    assert_eq!(validity(2), ::time::Duration::hours(24));
    let until = made[1].clone_cast::<CertifiedKey>().cert().not_after();
    assert_eq!(until, ::time::macros::datetime!(2030-01-01 00:00:00 UTC));

    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "x", not_after: "soon" })"#,
    );
    assert!(
        err.contains("neither an RFC 3339 time nor a duration"),
        "{err}"
    );
}

#[test]
fn unknown_options_and_bad_names_are_errors_that_list_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "x", key_size: 4096 })"#,
    );
    assert!(
        err.contains(
            "gen_cert: unknown option \"key_size\" (known options: profile, cn, sans, \
             not_after, ca, write, overwrite)"
        ),
        "{err}"
    );
    let err = eval_err(&engine, r#"gen_cert(#{ profile: "ca", cn: "x" })"#);
    assert!(
        err.contains("unknown profile \"ca\" (known profiles: root-ca, intermediate-ca, leaf)"),
        "{err}"
    );
    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "x", write: "../x" })"#,
    );
    assert!(err.contains("must be a plain file name"), "{err}");
    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "leaf", cn: "x", ca: "root" })"#,
    );
    assert!(err.contains("option ca must be a CertifiedKey"), "{err}");
}

#[test]
fn an_existing_file_is_kept_unless_overwrite_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let first: CertifiedKey = eval(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "a", write: "ca" })"#,
    );
    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "b", write: "ca" })"#,
    );
    assert!(err.contains("exist from an earlier run"), "{err}");
    assert!(err.contains("ca.key"), "{err}");
    // The same request again takes the files it finds (an interrupted run resuming).
    let again: CertifiedKey = eval(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "a", write: "ca" })"#,
    );
    assert_eq!(again.cert(), first.cert());
    let on_disk = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    assert_eq!(on_disk, first.cert().to_pem());

    let second: CertifiedKey = eval(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "b", write: "ca", overwrite: true })"#,
    );
    let on_disk = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
    assert_eq!(on_disk, second.cert().to_pem());
}

#[test]
fn printing_never_shows_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = engine(dir.path());
    let printed = Arc::new(Mutex::new(Vec::<String>::new()));
    let (p, d) = (printed.clone(), printed.clone());
    engine.on_print(move |s| p.lock().unwrap().push(s.to_owned()));
    engine.on_debug(move |s, _, _| d.lock().unwrap().push(s.to_owned()));

    let script = format!(
        "{ROOT_AND_ISSUER}
        print(issuer); debug(issuer); print(`${{issuer}}`); print(root.to_string());
        print(bundle(root)); debug([issuer]); print(#{{ k: issuer }});
        issuer"
    );
    let issuer: CertifiedKey = eval(&engine, &script);
    let key_pem = issuer.key().to_sec1_pem().unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();

    let mut shown = printed.lock().unwrap().clone();
    shown.push(format!("{issuer:?}"));
    shown.push(format!("{issuer}"));
    shown.push(format!("{:?}", Dynamic::from(issuer.clone())));
    assert!(shown.len() >= 9);
    for text in &shown {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains(key_body), "{text}");
        assert!(!text.contains(&key_body[..20]), "{text}");
    }
    assert!(
        shown[0].contains("CN=identity.linkerd.cluster.local"),
        "{}",
        shown[0]
    );
    assert!(shown[0].contains("redacted"), "{}", shown[0]);
}

#[test]
fn bundle_takes_every_kind_of_item_new_first() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let script = format!(
        r#"{ROOT_AND_ISSUER}
        let old = gen_cert(#{{ profile: "root-ca", cn: "root.linkerd.cluster.local",
                               write: "ca-old" }});
        let other = gen_cert(#{{ profile: "root-ca", cn: "other" }});
        let b1 = bundle(root, old.cert);
        let b2 = bundle([root], old.cert.pem, b1, "{dir}/ca-old.crt", [[other]]);
        let same = bundle(old.cert, root.cert) != bundle(old, root.cert)
            || bundle(root, old) == bundle(old, root) || b2.certs[0] != root.cert;
        [b1.len, b2.len(), b2.fingerprints, b2.certs[2].subject, b2.pem == b1.pem,
         root.fingerprint, old.fingerprint, other.fingerprint, same]
        "#,
        dir = dir.path().display()
    );
    let out: rhai::Array = eval(&engine, &script);
    assert_eq!(out[0].as_int().unwrap(), 2);
    assert_eq!(out[1].as_int().unwrap(), 3);
    let fingerprints: Vec<String> = out[2]
        .clone()
        .into_array()
        .unwrap()
        .into_iter()
        .map(|d| d.into_string().unwrap())
        .collect();
    let expected: Vec<String> = out[5..8].iter().map(|d| d.to_string()).collect();
    assert_eq!(fingerprints, expected);
    assert_eq!(out[3].to_string(), "CN=other");
    assert!(!out[4].as_bool().unwrap());
    assert!(
        !out[8].as_bool().unwrap(),
        "equality of bundles and certificates"
    );

    let err = eval_err(
        &engine,
        r#"let ca = gen_cert(#{ profile: "root-ca", cn: "ca" });
           bundle(ca, gen_cert(#{ profile: "leaf", cn: "web", ca: ca }))"#,
    );
    assert!(
        err.contains("CN=web") && err.contains("is not a CA certificate"),
        "{err}"
    );
    let err = eval_err(&engine, "bundle(42)");
    assert!(err.contains("bundle: cannot take a i64"), "{err}");
}

#[test]
fn loaded_ca_signs_and_pasted_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let d = dir.path().display();
    let script = format!(
        r#"{ROOT_AND_ISSUER}
        let ca = load_ca("{d}/ca-new.crt", "{d}/ca-new.key");
        let again = gen_cert(#{{ profile: "intermediate-ca", cn: "i2", ca: ca }});
        [ca.fingerprint == root.fingerprint, again.issuer, load_certs("{d}/issuer-new.crt").len(),
         load_cert("{d}/ca-new.crt").fingerprint == root.fingerprint,
         parse_certs(root.cert.pem + issuer.cert.pem).len()]
        "#
    );
    let out: rhai::Array = eval(&engine, &script);
    let shown: Vec<String> = out.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        shown,
        ["true", "CN=root.linkerd.cluster.local", "1", "true", "2"]
    );

    let err = eval_err(
        &engine,
        &format!(r#"load_ca("{d}/ca-new.crt", "{d}/issuer-new.key")"#),
    );
    assert!(err.contains("does not belong to certificate"), "{err}");
    let key_pem = std::fs::read_to_string(dir.path().join("ca-new.key")).unwrap();
    let err = eval_err(&engine, &format!("parse_certs(`{key_pem}`)"));
    assert!(err.contains("\"EC PRIVATE KEY\" block"), "{err}");
    assert!(!err.contains(key_pem.lines().nth(1).unwrap()), "{err}");
}

#[test]
fn journal_records_paths_not_keys_and_restores_them() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let issuer: Dynamic = eval(&engine, &format!("{ROOT_AND_ISSUER} issuer"));
    let unwritten: Dynamic = eval(&engine, r#"gen_cert(#{ profile: "root-ca", cn: "mem" })"#);

    let err = to_journal(&unwritten).unwrap().unwrap_err();
    assert!(matches!(err, JournalError::KeyNotWritten { .. }), "{err:?}");
    assert!(err.to_string().contains("pass `write: \"name\"`"), "{err}");
    assert!(to_journal(&Dynamic::from(42_i64)).is_none());
    assert!(from_journal(&serde_json::json!({ "a": 1 })).is_none());

    let recorded = to_journal(&issuer).unwrap().unwrap();
    let text = recorded.to_string();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(text.contains("issuer-new.key"), "{text}");

    let restored = from_journal(&recorded).unwrap().unwrap();
    let (before, after) = (
        issuer.clone_cast::<CertifiedKey>(),
        restored.clone_cast::<CertifiedKey>(),
    );
    assert_eq!(after.cert(), before.cert());
    assert_eq!(after.key().public_key(), before.key().public_key());
    assert_eq!(after.key_path(), before.key_path());

    // Certificates and bundles round-trip as values.
    let cert = Dynamic::from(before.cert().clone());
    let back = from_journal(&to_journal(&cert).unwrap().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(back.clone_cast::<Certificate>(), *before.cert());
    let bundle = Dynamic::from(Bundle::build(&[before.cert().clone()], &[]).unwrap());
    let back = from_journal(&to_journal(&bundle).unwrap().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(back.clone_cast::<Bundle>().len(), 1);

    // An entry edited by hand is noticed, not silently trusted.
    let mut tampered = to_journal(&bundle).unwrap().unwrap();
    tampered["fingerprints"] = serde_json::json!(["00"]);
    let err = from_journal(&tampered).unwrap().unwrap_err();
    assert!(
        err.to_string().contains("differ from the recorded"),
        "{err}"
    );
}

#[test]
fn journal_refuses_a_changed_missing_or_exposed_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let issuer: Dynamic = eval(&engine, &format!("{ROOT_AND_ISSUER} issuer"));
    let recorded = to_journal(&issuer).unwrap().unwrap();
    let key_path = dir.path().join("issuer-new.key");
    let restore_err = || from_journal(&recorded).unwrap().unwrap_err();

    // Changed: another valid key in its place.
    std::fs::copy(dir.path().join("ca-new.key"), &key_path).unwrap();
    let err = restore_err();
    let text = crate::pki::chain_text(&err);
    assert!(text.contains("does not belong to certificate"), "{text}");
    assert!(text.contains("issuer-new.key"), "{text}");

    // Exposed: readable by others.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = restore_err();
    assert!(
        matches!(err, JournalError::LooseKeyMode { mode: 0o644, .. }),
        "{err:?}"
    );

    // Missing.
    std::fs::remove_file(&key_path).unwrap();
    let text = crate::pki::chain_text(&restore_err());
    assert!(text.contains("issuer-new.key"), "{text}");
    assert!(text.contains("No such file"), "{text}");
}

#[test]
fn signatures_are_clean_for_runner_doc() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let signatures = engine.gen_fn_signatures(false);
    for expected in [
        "gen_cert(options: map) -> CertifiedKey",
        "load_cert(path: string) -> Certificate",
        "load_certs(path: string) -> array",
        "load_ca(cert_path: string, key_path: string) -> CertifiedKey",
        "parse_certs(pem: string) -> array",
        "bundle(a, b) -> Bundle",
        "get$not_after(value: CertifiedKey) -> string",
    ] {
        assert!(
            signatures.iter().any(|s| s == expected),
            "{expected} missing from {signatures:#?}"
        );
    }
    assert!(
        signatures
            .iter()
            .all(|s| !s.contains("Result<") && !s.contains("_:")),
        "{signatures:#?}"
    );
}
