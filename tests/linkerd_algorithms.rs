//! Issue 5 case 7 and the other certificate refusals: algorithms per release (certificates
//! made with the `openssl` CLI), path lengths, validity and CA-ness.

mod linkerd_support;

use linkerd_support::{
    NOW, control_plane, era_a_with_new_root, has_openssl, issuer, openssl, root,
};
use runner::linkerd::{
    CheckOptions, PlanOptions, check, detect, plan_anchors, plan_issuer, read_trust_anchors,
};
use runner::pki::{Bundle, Certificate, CertifiedKey, parse_certificates};

/// Certificates made with the `openssl` CLI: an RSA-2048 root, and a P-384 and an RSA issuer
/// signed by `signer` (whose files are written to `dir`).
struct Foreign {
    rsa_root: Certificate,
    p384_issuer: Certificate,
    rsa_issuer: Certificate,
    /// ECDSA P-256, signed by the RSA root (SHA256-RSA), with its key.
    under_rsa: (Certificate, String),
}

fn foreign_certs(dir: &std::path::Path, signer: &CertifiedKey) -> Foreign {
    signer.write(dir, "ca", false).unwrap();
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    let subject = "/CN=identity.linkerd.cluster.local";
    openssl(
        dir,
        &[
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
        ],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "p384.key",
        ],
    );
    openssl(dir, &["genrsa", "-out", "rsa.key", "2048"]);
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.key",
        ],
    );
    openssl(
        dir,
        &[
            "req", "-new", "-key", "ec.key", "-subj", subject, "-out", "ec.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "ec.csr",
            "-CA",
            "rsa-root.crt",
            "-CAkey",
            "rsa-root.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-out",
            "ec.crt",
        ],
    );
    for name in ["p384", "rsa"] {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                subject,
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
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
                &format!("{name}.crt"),
            ],
        );
    }
    let read = |file: &str| {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        parse_certificates(&text, file).unwrap().remove(0)
    };
    let ec_key = std::fs::read_to_string(dir.join("ec.key")).unwrap();
    Foreign {
        rsa_root: read("rsa-root.crt"),
        p384_issuer: read("p384.crt"),
        rsa_issuer: read("rsa.crt"),
        under_rsa: (read("ec.crt"), ec_key),
    }
}

#[test]
fn case_7_algorithms_are_refused_or_accepted_as_each_release_says() {
    if !has_openssl() {
        eprintln!("skipping: openssl is not installed");
        return;
    }
    let (Some(c0), Some(c)) = (
        control_plane("install-stable-2.11.0.yaml"),
        control_plane("install-stable-2.12.0.yaml"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let new_root = root("root.linkerd.cluster.local");
    let foreign = foreign_certs(dir.path(), &new_root);
    // openssl's certificates start now, after the fixed NOW of the other tests.
    let now = time::OffsetDateTime::now_utc();
    let options = PlanOptions::new(now);

    for objects in [&c0, &c] {
        let layout = detect(objects).unwrap();
        let old = read_trust_anchors(objects, &layout).unwrap().bundle;
        let with_rsa = Bundle::build(std::slice::from_ref(&foreign.rsa_root), old.certs()).unwrap();
        let rsa_plan = plan_anchors(objects, &layout, &with_rsa, &options);
        match layout.era.releases() {
            "2.11" => {
                let e = rsa_plan.unwrap_err();
                assert!(e.to_string().contains("RSA anchors need 2.12+"), "{e}");
            }
            _ => {
                // 2.12 takes the RSA root, and an ECDSA P-256 issuer it signed (SHA256-RSA).
                let mut with_rsa_root = objects.clone();
                rsa_plan.unwrap().apply(&mut with_rsa_root).unwrap();
                let (cert, key) = &foreign.under_rsa;
                let plan = plan_issuer(
                    &with_rsa_root,
                    &layout,
                    std::slice::from_ref(cert),
                    key,
                    &options,
                )
                .unwrap();
                plan.apply(&mut with_rsa_root).unwrap();
                let report = check(
                    &with_rsa_root,
                    &[],
                    &CheckOptions {
                        now,
                        proxy: false,
                        namespace: None,
                    },
                );
                assert!(report.success(), "{report}");
            }
        }

        // Issuers with the wrong key are refused by every release, before the key is read.
        let mut deployed = objects.clone();
        let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
        plan_anchors(&deployed, &layout, &bundle, &options)
            .unwrap()
            .apply(&mut deployed)
            .unwrap();
        let key = std::fs::read_to_string(dir.path().join("p384.key")).unwrap();
        for bad in [&foreign.p384_issuer, &foreign.rsa_issuer] {
            let e = plan_issuer(
                &deployed,
                &layout,
                std::slice::from_ref(bad),
                &key,
                &options,
            )
            .unwrap_err();
            assert!(e.to_string().contains("requires an ECDSA P-256 key"), "{e}");
        }
    }
}

#[test]
fn anchors_that_cannot_work_are_refused() {
    use runner::pki::{CertRequest, Profile, Validity, generate};
    let Some(objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let options = PlanOptions::new(NOW);
    let refused = |extra: &Certificate| {
        let bundle = Bundle::build(std::slice::from_ref(extra), old.certs()).unwrap();
        plan_anchors(&objects, &layout, &bundle, &options)
            .unwrap_err()
            .to_string()
    };

    // An intermediate (path length 0) cannot be the root of an issuer.
    let intermediate = issuer(&root("root"));
    assert!(refused(intermediate.cert()).contains("has path length 0"));

    let mut request = CertRequest::new(Profile::RootCa, "expired root");
    request.not_before = Some(time::macros::datetime!(2020-01-01 00:00 UTC));
    request.not_after = Some(Validity::Until(
        time::macros::datetime!(2021-01-01 00:00 UTC),
    ));
    let expired = generate(&request, None).unwrap();
    assert!(refused(expired.cert()).contains("is not valid now"));
}

/// pki refuses to make this chain, so openssl does: an issuer signed by an intermediate of
/// path length 0, which proxies' certificates could not chain through.
#[test]
fn an_issuer_under_a_path_length_0_intermediate_is_refused() {
    if !has_openssl() {
        eprintln!("skipping: openssl is not installed");
        return;
    }
    let Some((objects, new_root)) = era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let middle = issuer(&new_root);
    middle.write(dir.path(), "mid", false).unwrap();
    let ext = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nauthorityKeyIdentifier=keyid\n";
    std::fs::write(dir.path().join("ext.cnf"), ext).unwrap();
    let subject = "/CN=identity.linkerd.cluster.local";
    openssl(
        dir.path(),
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "low.key",
        ],
    );
    openssl(
        dir.path(),
        &[
            "req", "-new", "-key", "low.key", "-subj", subject, "-out", "low.csr",
        ],
    );
    openssl(
        dir.path(),
        &[
            "x509",
            "-req",
            "-in",
            "low.csr",
            "-CA",
            "mid.crt",
            "-CAkey",
            "mid.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-out",
            "low.crt",
        ],
    );
    let text = std::fs::read_to_string(dir.path().join("low.crt")).unwrap();
    let low = parse_certificates(&text, "low.crt").unwrap().remove(0);
    let key = std::fs::read_to_string(dir.path().join("low.key")).unwrap();

    let certs = [low, middle.cert().clone()];
    let now = time::OffsetDateTime::now_utc();
    let e = plan_issuer(&objects, &layout, &certs, &key, &PlanOptions::new(now)).unwrap_err();
    assert!(
        e.to_string()
            .contains("allows 0 CA certificate(s) below it"),
        "{e}"
    );
}

#[test]
fn an_issuer_that_is_not_a_ca_is_refused() {
    use runner::pki::{CertRequest, Profile, generate};
    let Some((objects, new_root)) = era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let mut request = CertRequest::new(Profile::Leaf, "identity.linkerd.cluster.local");
    request.not_before = Some(time::macros::datetime!(2025-06-01 00:00 UTC));
    let leaf = generate(&request, Some(&new_root)).unwrap();
    let key = leaf.key().to_sec1_pem().unwrap();
    let e = plan_issuer(
        &objects,
        &layout,
        &[leaf.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    )
    .unwrap_err();
    assert!(e.to_string().contains("is not a CA"), "{e}");
}
