//! `upgrade(#{ issuer })` and `check` against the simulated cluster: issue 5 case 4 (two
//! roots with one subject), case 6 (a PKCS#8 key written as SEC1 for 2.8; a key of another
//! pair refused before any write) and case 8 for the issuer (a dry-run stores nothing and
//! shows no key).

mod identity_support;

use std::path::Path;
use std::process::Command;

use identity_support::{Harness, issuer, root};
use runner::linkerd::{Location, ObjectRef, Slot, anchor_locations, detect};
use runner::pki::{CertifiedKey, PrivateKey};
use serde_json::json;

const ISSUED_BY: &str = "issuer cert is issued by the trust anchor";

fn has_openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("skipping: this test needs openssl");
    }
    found
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Puts `anchors` in every place the layout keeps them and `running` as the issuer, as
/// another tool (or a half-done manual rotation) would have left them.
async fn deploy_by_hand(h: &Harness, anchors: &CertifiedKey, running: &CertifiedKey) {
    let mut objects = h.objects().await;
    let layout = detect(&objects).unwrap();
    for location in anchor_locations(&objects, &layout) {
        let object = objects.get_mut(&location.object).unwrap();
        location.write(object, &anchors.cert().to_pem()).unwrap();
    }
    let secret = ObjectRef::new("Secret", "linkerd", "linkerd-identity-issuer");
    let pem = |key: &str| Location {
        object: secret.clone(),
        slot: Slot::SecretText { key: key.into() },
    };
    let object = objects.get_mut(&secret).unwrap();
    pem("crt.pem")
        .write(object, &running.cert().to_pem())
        .unwrap();
    let key = running.key().to_sec1_pem().unwrap();
    pem("key.pem").write(object, &key).unwrap();
    for object in objects.iter() {
        h.put(object);
    }
}

fn issuer_secret(h: &Harness, key: &str) -> String {
    let secret = h.get("", "secrets", "linkerd", "linkerd-identity-issuer");
    let encoded = secret["data"][key].as_str().unwrap();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_4_two_roots_with_one_subject_are_told_apart() {
    let h = Harness::scenario("edge").await;
    let first = root("root.linkerd.cluster.local");
    let second = root("root.linkerd.cluster.local");
    deploy_by_hand(&h, &second, &issuer(&first)).await;
    let (crt, key) = h.ca_files("issuer-2", &issuer(&second));
    let (stray_crt, stray_key) = h.ca_files("issuer-1", &issuer(&first));

    let ran = h
        .run(
            &format!(
                r#"
                let before = check().checks.filter(|c| c.description == "{ISSUED_BY}")[0];
                let r = upgrade(#{{ issuer: load_ca("{}", "{}") }});
                let after = check();
                #{{ before: before.status, message: before.message,
                   after: after.checks.filter(|c| c.description == "{ISSUED_BY}")[0].status,
                   success: after.success, changed: r.changed.map(|c| c.object) }}
                "#,
                crt.display(),
                key.display()
            ),
            false,
        )
        .await
        .ok();
    let out = ran.outputs();
    assert_eq!(out["before"], json!("error"), "{}", ran.text);
    assert_eq!(out["after"], json!("ok"), "{}", ran.text);
    assert_eq!(out["success"], json!(true), "{}", ran.text);
    assert!(
        out["changed"]
            .as_array()
            .unwrap()
            .contains(&json!("Secret linkerd/linkerd-identity-issuer")),
        "{out}"
    );
    let written = issuer_secret(&h, "crt.pem");
    assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        runner::pki::parse_certificates(&written, "crt.pem").unwrap()[0],
        issuer_cert(&crt)
    );

    // An issuer of the first root is refused before anything is written.
    let before = h.versions().await;
    let ran = h
        .run(
            &format!(
                r#"upgrade(#{{ issuer: load_ca("{}", "{}") }});"#,
                stray_crt.display(),
                stray_key.display()
            ),
            false,
        )
        .await;
    assert!(
        ran.failed()
            .contains("does not chain to the deployed trust anchors"),
        "{}",
        ran.failed()
    );
    assert_eq!(h.versions().await, before);
    assert!(ran.events_of("diff").is_empty());
}

fn issuer_cert(path: &Path) -> runner::pki::Certificate {
    let text = std::fs::read_to_string(path).unwrap();
    runner::pki::parse_certificates(&text, "file")
        .unwrap()
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_6_a_pkcs8_key_is_written_as_sec1_and_a_foreign_key_is_refused() {
    if !has_openssl() {
        return;
    }
    let h = Harness::scenario("stable-2.8").await;
    let running_root = h.sim.scenario_identity().unwrap().root.clone();
    let next = issuer(&running_root);
    let (crt, sec1) = h.ca_files("next", &next);
    openssl(
        h.dir.path(),
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "next.key", "-out", "next.p8",
        ],
    );
    let pkcs8 = std::fs::read_to_string(h.dir.path().join("next.p8")).unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let (_, other_key) = h.ca_files("other", &issuer(&running_root));

    // A key of another pair: refused, nothing written, and the key never printed.
    let before = h.versions().await;
    let ran = h
        .run(
            &format!(
                r#"upgrade(#{{ issuer: load_cert("{}"), issuer_key: "{}" }});"#,
                crt.display(),
                other_key.display()
            ),
            false,
        )
        .await;
    assert!(
        ran.failed()
            .contains("is not the key of issuer certificate"),
        "{}",
        ran.failed()
    );
    assert_eq!(h.versions().await, before);
    assert!(!ran.text.contains("PRIVATE KEY") && !ran.failed().contains("PRIVATE KEY"));

    // The PKCS#8 text itself: accepted, and stored as SEC1, the form 2.8 reads.
    let ran = h
        .run(
            &format!(
                "let r = upgrade(#{{ issuer: load_cert(\"{}\"), issuer_key: `{}` }});\n\
                 #{{ changed: r.changed.map(|c| c.object) }}",
                crt.display(),
                pkcs8.trim()
            ),
            false,
        )
        .await
        .ok();
    assert!(!ran.text.contains("PRIVATE KEY"), "{}", ran.text);
    let stored = issuer_secret(&h, "key.pem");
    assert!(
        stored.starts_with("-----BEGIN EC PRIVATE KEY-----"),
        "{stored:.40}"
    );
    let stored = PrivateKey::from_pem(&stored, "stored").unwrap();
    assert!(stored.matches(next.cert()));
    assert_eq!(
        std::fs::read_to_string(&sec1).unwrap(),
        next.key().to_sec1_pem().unwrap()
    );
    let expiry = h.get("", "secrets", "linkerd", "linkerd-identity-issuer")["metadata"]
        ["annotations"]["linkerd.io/identity-issuer-expiry"]
        .clone();
    assert!(
        expiry
            .as_str()
            .unwrap()
            .starts_with(&next.cert().not_after().year().to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_8_a_dry_run_issuer_upgrade_stores_nothing_and_shows_no_key() {
    let h = Harness::scenario("stable-2.11").await;
    let running_root = h.sim.scenario_identity().unwrap().root.clone();
    let (crt, key) = h.ca_files("next", &issuer(&running_root));
    let before = h.versions().await;
    let ran = h
        .run(
            &format!(
                r#"let r = upgrade(#{{ issuer: load_ca("{}", "{}") }});
                   #{{ changed: r.changed.len(), dry_run: r.dry_run }}"#,
                crt.display(),
                key.display()
            ),
            true,
        )
        .await
        .ok();
    assert_eq!(ran.outputs()["dry_run"], json!(true));
    assert!(ran.outputs()["changed"].as_i64().unwrap() >= 1);
    assert_eq!(h.versions().await, before);
    let diffs = ran.events_of("diff");
    assert!(
        diffs
            .iter()
            .any(|d| d["object"] == "Secret linkerd/linkerd-identity-issuer"),
        "{}",
        ran.text
    );
    assert!(!ran.text.contains("PRIVATE KEY"), "{}", ran.text);
    assert!(!ran.text.contains(&base64_of_key(&key)), "{}", ran.text);
}

/// The base64 of the key file's text, as a Secret would hold it.
fn base64_of_key(path: &Path) -> String {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path).unwrap();
    base64::engine::general_purpose::STANDARD.encode(text)
}
