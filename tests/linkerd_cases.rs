//! Issue 5's cases that are pure logic: text damage in the trust-roots config map (1), two
//! roots sharing a subject (4), issuer key formats (6) and algorithms per release (7).

mod linkerd_support;

use linkerd_support::{NOW, control_plane, has_openssl, issuer, openssl, root, secret_text};
use runner::linkerd::{
    CheckOptions, ControlPlaneObjects, FindingKind, LinkerdError, PlanOptions, anchor_locations,
    check, detect, plan_anchors, plan_issuer, read_trust_anchors,
};
use runner::pki::{Bundle, Certificate, CertifiedKey, parse_certificates};

const TRUST_ROOTS_PATH: &str = "/data/ca-bundle.crt";

fn set_trust_roots(objects: &mut ControlPlaneObjects, text: &str) {
    let cm = objects.trust_roots.as_mut().unwrap();
    *cm.pointer_mut(TRUST_ROOTS_PATH).unwrap() = text.into();
}

fn trust_roots(objects: &ControlPlaneObjects) -> String {
    objects
        .trust_roots
        .as_ref()
        .unwrap()
        .pointer(TRUST_ROOTS_PATH)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Writes `text` to every place holding the anchors, bypassing the plan's refusals, to set up
/// a state the plans would never produce.
fn force_anchors(objects: &mut ControlPlaneObjects, text: &str) {
    let layout = detect(objects).unwrap();
    for location in anchor_locations(objects, &layout) {
        let object = objects.get_mut(&location.object).unwrap();
        location.write(object, text).unwrap();
    }
}

#[test]
fn case_1_damaged_bundle_text_reads_the_same_and_is_rewritten_canonically() {
    let Some(pristine) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&pristine).unwrap();
    let canonical = trust_roots(&pristine);
    let expected = read_trust_anchors(&pristine, &layout).unwrap().fingerprints;

    let blank_line = format!("{canonical}\n");
    let crlf = canonical.replace('\n', "\r\n");
    let duplicate = format!("{canonical}{canonical}");
    let cases = [
        (blank_line, FindingKind::Unreadable),
        (crlf, FindingKind::NotCanonical),
        (duplicate, FindingKind::NotCanonical),
    ];
    for (text, finding) in cases {
        let mut objects = pristine.clone();
        set_trust_roots(&mut objects, &text);
        let anchors = read_trust_anchors(&objects, &layout).unwrap();
        assert_eq!(anchors.fingerprints, expected, "{text:?}");
        let kinds: Vec<FindingKind> = anchors.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [finding], "{text:?}: {:?}", anchors.findings);

        // Deploying the same anchors rewrites only the damaged copy, to canonical bytes.
        let plan =
            plan_anchors(&objects, &layout, &anchors.bundle, &PlanOptions::new(NOW)).unwrap();
        assert_eq!(plan.changes.len(), 1, "{plan}");
        assert_eq!(plan.changes[0].object.name, "linkerd-identity-trust-roots");
        plan.apply(&mut objects).unwrap();
        assert_eq!(trust_roots(&objects), canonical);
        assert!(
            read_trust_anchors(&objects, &layout)
                .unwrap()
                .findings
                .is_empty()
        );
    }
}

#[test]
fn case_4_roots_sharing_a_subject_are_told_apart_by_key() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let first = root("root.linkerd.cluster.local");
    let second = root("root.linkerd.cluster.local");
    assert_eq!(first.cert().subject(), second.cert().subject());
    let signed_by_first = issuer(&first);
    let issuer_secret = objects.issuer_secret.as_mut().unwrap();
    issuer_secret["data"]["crt.pem"] = runner_b64(&signed_by_first.cert().to_pem()).into();
    issuer_secret["data"]["key.pem"] =
        runner_b64(&signed_by_first.key().to_sec1_pem().unwrap()).into();
    force_anchors(&mut objects, &second.cert().to_pem());

    let options = CheckOptions {
        now: NOW,
        proxy: false,
        namespace: None,
    };
    let report = check(&objects, &[], &options);
    let issued = report
        .check("issuer cert is issued by the trust anchor")
        .unwrap();
    assert!(!issued.passed(), "{report}");
    assert!(!report.success());

    let signed_by_second = issuer(&second);
    let key = signed_by_second.key().to_sec1_pem().unwrap();
    let plan = plan_issuer(
        &objects,
        &layout,
        &[signed_by_second.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    )
    .unwrap();
    plan.apply(&mut objects).unwrap();
    let report = check(&objects, &[], &options);
    assert!(report.success() && !report.has_warnings(), "{report}");
}

fn runner_b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The 2.7 fixture with anchors `[new, fixture root]` deployed, and the new root.
fn era_a_with_new_root() -> Option<(ControlPlaneObjects, CertifiedKey)> {
    let mut objects = control_plane("install-stable-2.7.0.yaml")?;
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let new_root = root("root.linkerd.cluster.local");
    let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
    plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW))
        .unwrap()
        .apply(&mut objects)
        .unwrap();
    Some((objects, new_root))
}

#[test]
fn case_6_pkcs8_issuer_key_is_written_as_sec1_on_2_8_and_a_foreign_key_refused() {
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let Some((mut objects, new_root)) = era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let new_issuer = issuer(&new_root);
    let sec1 = new_issuer.key().to_sec1_pem().unwrap();
    let pkcs8 = p256::SecretKey::from_sec1_pem(&sec1)
        .unwrap()
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let certs = [new_issuer.cert().clone()];

    let foreign = issuer(&new_root).key().to_sec1_pem().unwrap();
    let refused =
        plan_issuer(&objects, &layout, &certs, &foreign, &PlanOptions::new(NOW)).unwrap_err();
    assert!(matches!(refused, LinkerdError::Refused { .. }));
    assert!(
        refused
            .to_string()
            .contains("is not the key of issuer certificate"),
        "{refused}"
    );
    assert!(
        !refused.to_string().contains("PRIVATE KEY-----"),
        "{refused}"
    );

    let plan = plan_issuer(&objects, &layout, &certs, &pkcs8, &PlanOptions::new(NOW)).unwrap();
    assert!(!plan.to_string().contains("PRIVATE KEY-----"), "{plan}");
    plan.apply(&mut objects).unwrap();
    let secret = objects.issuer_secret.as_ref().unwrap();
    assert_eq!(secret_text(secret, "key.pem"), sec1);
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert_eq!(secret_text(secret, "crt.pem"), new_issuer.cert().to_pem());
    let expiry = secret["metadata"]["annotations"]["linkerd.io/identity-issuer-expiry"]
        .as_str()
        .unwrap();
    let not_after = new_issuer.cert().not_after();
    assert_eq!(
        expiry,
        not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
}

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
fn plans_and_objects_never_show_key_material() {
    let Some((objects, new_root)) = era_a_with_new_root() else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let new_issuer = issuer(&new_root);
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let plan = plan_issuer(
        &objects,
        &layout,
        &[new_issuer.cert().clone()],
        &key,
        &PlanOptions::new(NOW),
    )
    .unwrap();
    let key_b64 = runner_b64(&key);
    let secret_change = plan
        .changes
        .iter()
        .find(|c| c.object.name == "linkerd-identity-issuer")
        .unwrap();
    let sent = serde_json::to_string(secret_change.patch()).unwrap();
    assert!(sent.contains(&key_b64), "the patch to send carries the key");

    let shown = [
        format!("{plan}"),
        format!("{plan:?}"),
        serde_json::to_string(&plan).unwrap(),
        format!("{objects:?}"),
    ];
    for text in shown {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        assert!(!text.contains(&key_b64), "{text}");
        assert!(!text.contains(&key_b64[..40]), "{text}");
    }
}

#[test]
fn an_issuer_is_refused_while_a_copy_of_the_anchors_lacks_its_root() {
    let Some(mut objects) = control_plane("install-stable-2.12.0.yaml") else {
        return;
    };
    let layout = detect(&objects).unwrap();
    let old = read_trust_anchors(&objects, &layout).unwrap().bundle;
    let new_root = root("root.linkerd.cluster.local");
    let bundle = Bundle::build(&[new_root.cert().clone()], old.certs()).unwrap();
    // Someone edited only the config map: `linkerd check` and `linkerd upgrade` read values.
    set_trust_roots(&mut objects, &bundle.to_pem());
    let anchors = read_trust_anchors(&objects, &layout).unwrap();
    assert!(!anchors.consistent());
    assert!(
        anchors
            .findings
            .iter()
            .any(|f| f.location.contains("data.values")),
        "{:?}",
        anchors.findings
    );

    let new_issuer = issuer(&new_root);
    let key = new_issuer.key().to_sec1_pem().unwrap();
    let certs = [new_issuer.cert().clone()];
    let e = plan_issuer(&objects, &layout, &certs, &key, &PlanOptions::new(NOW)).unwrap_err();
    assert!(
        e.to_string()
            .contains("data.values identityTrustAnchorsPEM"),
        "{e}"
    );

    // Deploying the bundle properly repairs every copy, and the issuer is then accepted.
    plan_anchors(&objects, &layout, &bundle, &PlanOptions::new(NOW))
        .unwrap()
        .apply(&mut objects)
        .unwrap();
    assert!(read_trust_anchors(&objects, &layout).unwrap().consistent());
    assert!(plan_issuer(&objects, &layout, &certs, &key, &PlanOptions::new(NOW)).is_ok());
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
