//! Issue 5 case 7 through the simulated cluster: an RSA-2048 root is refused on 2.11 and
//! deployed on 2.12; P-384 and RSA issuers are refused. Certificates other than ECDSA P-256
//! come from the `openssl` CLI (the test is skipped, saying so, without it).

mod identity_support;

use std::path::Path;
use std::process::Command;

use identity_support::Harness;
use serde_json::json;

fn openssl(dir: &Path, args: &[&str]) -> bool {
    let Ok(out) = Command::new("openssl").args(args).current_dir(dir).output() else {
        eprintln!("skipping: this test needs openssl");
        return false;
    };
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// `rsa-root.crt` (self-signed RSA-2048 CA), and `p384.crt` / `rsa.crt`: issuers signed by
/// the scenario's running root with keys `p384.key` / `rsa.key`. False without openssl.
fn make_certs(h: &Harness) -> bool {
    let dir = h.dir.path();
    let running = h.sim.scenario_identity().unwrap().root.clone();
    h.ca_files("ca", &running);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    let root = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-keyout",
        "rsa-root.key",
        "-out",
        "rsa-root.crt",
        "-subj",
        "/CN=rsa root",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ];
    if !openssl(dir, &root) {
        return false;
    }
    let p384 = [
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-noout",
        "-out",
        "p384.key",
    ];
    openssl(dir, &p384);
    openssl(dir, &["genrsa", "-out", "rsa.key", "2048"]);
    for name in ["p384", "rsa"] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subject = "/CN=identity.linkerd.cluster.local";
        openssl(
            dir,
            &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
        );
        let sign = [
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-out",
            &crt,
        ];
        openssl(dir, &sign);
    }
    true
}

fn deploy_rsa_root(h: &Harness) -> String {
    format!(
        r#"let r = upgrade(#{{ trust_anchors: bundle(load_cert("{}"), read_trust_anchors().certs) }});
           #{{ changed: r.changed.len(), now: read_trust_anchors().fingerprints.len() }}"#,
        h.dir.path().join("rsa-root.crt").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_7_an_rsa_root_is_refused_by_2_11() {
    let h = Harness::scenario("stable-2.11").await;
    if !make_certs(&h) {
        return;
    }
    let before = h.versions().await;
    let ran = h.run(&deploy_rsa_root(&h), false).await;
    let error = ran.failed();
    assert!(
        error.contains("refusing to deploy new trust anchors"),
        "{error}"
    );
    assert!(error.contains("RSA anchors need 2.12+"), "{error}");
    assert_eq!(h.versions().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_7_an_rsa_root_is_deployed_on_2_12_and_p384_and_rsa_issuers_are_refused() {
    let h = Harness::scenario("stable-2.12").await;
    if !make_certs(&h) {
        return;
    }
    let ran = h.run(&deploy_rsa_root(&h), false).await.ok();
    assert_eq!(ran.outputs()["now"], json!(2), "{}", ran.text);
    assert!(ran.outputs()["changed"].as_i64().unwrap() >= 1);

    let before = h.versions().await;
    for (name, expected) in [
        ("p384", "linkerd requires an ECDSA P-256 key"),
        ("rsa", "linkerd requires an ECDSA P-256 key"),
    ] {
        let dir = h.dir.path();
        let body = format!(
            r#"upgrade(#{{ issuer: load_cert("{}"), issuer_key: "{}" }});"#,
            dir.join(format!("{name}.crt")).display(),
            dir.join(format!("{name}.key")).display()
        );
        let ran = h.run(&body, false).await;
        assert!(ran.failed().contains(expected), "{name}: {}", ran.failed());
        assert!(
            ran.failed().contains("refusing to deploy a new issuer"),
            "{}",
            ran.failed()
        );
    }
    assert_eq!(h.versions().await, before);
}
