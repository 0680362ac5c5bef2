//! `gen_cert` through a bare engine: validity against the signer, and dry-runs that keep keys
//! in memory.

use std::sync::{Arc, Mutex};

use rhai::Engine;

use super::super::script::tests::{ROOT_AND_ISSUER, engine, eval, eval_err};
use super::super::script::{Notify, PkiEnv, register};
use crate::pki::CertifiedKey;

#[test]
fn a_default_validity_ends_with_the_signer_and_an_asked_one_may_not_outlive_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let issuer: CertifiedKey = eval(
        &engine,
        r#"let root = gen_cert(#{ profile: "root-ca", cn: "r", not_after: "1h" });
           gen_cert(#{ profile: "intermediate-ca", cn: "i", ca: root })"#,
    );
    let validity = issuer.cert().not_after() - issuer.cert().not_before();
    assert!(validity <= time::Duration::hours(1), "{validity}");

    let err = eval_err(
        &engine,
        r#"let root = gen_cert(#{ profile: "root-ca", cn: "r", not_after: "1h" });
           gen_cert(#{ profile: "intermediate-ca", cn: "i", ca: root, not_after: "2h" })"#,
    );
    assert!(err.contains("after its signing CA CN=r"), "{err}");
    let err = eval_err(
        &engine,
        r#"gen_cert(#{ profile: "root-ca", cn: "r", not_after: "99999999d" })"#,
    );
    assert!(err.contains("longer than 100 years"), "{err}");
}

#[test]
fn a_dry_run_keeps_generated_keys_in_memory() {
    let scratch = tempfile::tempdir().unwrap();
    let real = tempfile::tempdir().unwrap();
    let would = Arc::new(Mutex::new(Vec::<String>::new()));
    let w = would.clone();
    let mut engine = Engine::new();
    register(
        &mut engine,
        PkiEnv {
            workdir: scratch.path().to_owned(),
            dry_run: true,
            earlier_files: real.path().to_owned(),
            notify: Notify::none(),
            would: Notify(Arc::new(move |text| {
                w.lock().unwrap().push(text.to_owned())
            })),
        },
    );
    let issuer: CertifiedKey = eval(&engine, &format!("{ROOT_AND_ISSUER} issuer"));
    for dir in [scratch.path(), real.path()] {
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "{}",
            dir.display()
        );
    }
    assert_eq!(
        issuer.key_path(),
        Some(real.path().join("issuer-new.key").as_path())
    );
    let would = would.lock().unwrap();
    assert_eq!(would.len(), 2, "{would:?}");
    assert!(would[0].contains("ca-new.key (mode 0600)"), "{would:?}");
}
