//! The other shipped runbooks, built from the same primitives and stdlib: `rotate-issuer.rhai`
//! (a new issuer under the root the cluster trusts) and `check.rhai`, and the refusals of
//! `rotate.rhai` that must come before anything changes (given files that do not belong
//! together, namespaces that leave meshed workloads out).

mod rotate_support;

use std::path::{Path, PathBuf};

use rotate_support::{Rehearsal, Setup, rotate_rhai};
use runner::pki::Certificate;
use runner::sim::faults::FaultConfig;

fn runbook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(name)
}

/// A rotation by rotate.rhai first (so the test holds the key of the root the cluster
/// trusts), then rotate-issuer.rhai with that root from another workdir: every proxy ends with
/// a leaf from the second issuer, the root stays the only one trusted, no connection failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_issuer_gives_every_proxy_a_leaf_from_a_new_issuer_under_the_same_root() {
    let r = Rehearsal::start(Setup::Scenario("stable-2.11"), FaultConfig::default()).await;
    r.run(&rotate_rhai(), &[]).await.ok("rotate.rhai");
    let root = r.written("ca-new");
    let first_issuer = r.written("issuer-new");

    let keys = r.workdir.path().to_owned();
    let root_cert = format!("root_cert={}", keys.join("ca-new.crt").display());
    let root_key = format!("root_key={}", keys.join("ca-new.key").display());
    let other = Rehearsal::workdir_for(&r);
    let run = r
        .run_in(
            other.path(),
            &runbook("rotate-issuer.rhai"),
            &["--set", &root_cert, "--set", &root_key],
        )
        .await;
    run.ok("rotate-issuer.rhai");
    let text = std::fs::read_to_string(other.path().join("issuer-new.crt")).unwrap();
    let issuer = Certificate::from_pem(&text, "issuer-new").unwrap();
    assert_ne!(issuer.fingerprint(), first_issuer.fingerprint());

    let linkerd = r.sim.cluster().unwrap().linkerd();
    for ((ns, pod), proxy) in linkerd.mesh.all() {
        let anchors: Vec<&str> = proxy.anchors.iter().map(|c| c.fingerprint()).collect();
        assert_eq!(anchors, [root.fingerprint()], "{ns}/{pod} anchors");
        assert_eq!(
            proxy.leaf.chain[0].fingerprint(),
            issuer.fingerprint(),
            "{ns}/{pod} leaf issuer"
        );
    }
    r.assert_no_failures("rotate-issuer");
    let summary = run.of("summary").next().expect("a summary").to_string();
    assert!(summary.contains(issuer.fingerprint()), "{summary}");
}

/// rotate-issuer.rhai refuses, before writing, a root the cluster does not trust and a
/// cert-manager issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_issuer_refuses_before_writing() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (foreign, _) = make_root(dir.path(), "foreign");
    let before = r.versions();
    let run = r
        .run(
            &runbook("rotate-issuer.rhai"),
            &["--set", &foreign.0, "--set", &foreign.1],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let error = run.of("step_failed").next().unwrap()["error"].to_string();
    assert!(
        error.contains("is not among the trust anchors of the cluster"),
        "{error}"
    );
    assert_eq!(r.versions(), before);

    let external =
        Rehearsal::start(Setup::Scenario("external-issuer"), FaultConfig::default()).await;
    let before = external.versions();
    let run = external
        .run(
            &runbook("rotate-issuer.rhai"),
            &["--set", &foreign.0, "--set", &foreign.1],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let error = run.of("step_failed").next().unwrap()["error"].to_string();
    assert!(error.contains("owned by cert-manager"), "{error}");
    assert_eq!(external.versions(), before);
}

/// A root certificate and key written by `gen_cert` through a one-step runbook, returned as
/// the `--set` arguments of rotate-issuer.rhai.
fn make_root(dir: &Path, name: &str) -> ((String, String), PathBuf) {
    let script = dir.join(format!("{name}.rhai"));
    std::fs::write(
        &script,
        format!(
            "step(\"root\", \"A root\", || gen_cert(#{{ profile: \"root-ca\", cn: \
             \"root.linkerd.cluster.local\", write: \"{name}\" }}).fingerprint);\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(&script)
        .arg("--workdir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    (
        (
            format!("root_cert={}", cert.display()),
            format!("root_key={}", key.display()),
        ),
        cert,
    )
}

/// check.rhai passes on a healthy mesh and says how many proxies trust which root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_runbook_passes_on_a_healthy_mesh() {
    let r = Rehearsal::start(Setup::Scenario("stable-2.12"), FaultConfig::default()).await;
    let before = r.versions();
    let run = r.run(&runbook("check.rhai"), &[]).await;
    run.ok("check.rhai");
    let outputs = run.outputs("check").unwrap();
    assert_eq!(outputs["success"], true);
    assert_eq!(outputs["stale_pods"], 0);
    // Every proxy with inline anchors trusts the one root; the control plane's read theirs
    // from the ConfigMap and are counted apart, not as pods that trust nothing.
    let said = |text: &str| {
        run.of("log")
            .any(|e| e["message"].as_str().unwrap_or_default().contains(text))
    };
    let inline = run
        .of("log")
        .filter_map(|e| e["message"].as_str())
        .find(|m| m.contains("with inline anchors trust root"))
        .expect("a line per trusted root");
    let (counted, of) = inline.split_once(" of ").unwrap();
    assert_eq!(counted, of.split(' ').next().unwrap(), "{inline}");
    assert!(
        said("meshed pod(s) read their anchors from a ConfigMap reference"),
        "{:?}",
        run.events
    );
    // The journal never answers for a check: a second run checks again.
    let again = r.run(&runbook("check.rhai"), &[]).await;
    again.ok("check.rhai again");
    assert!(again.of("step_finished").any(|e| e["step"] == "check"));
    assert_eq!(r.versions(), before, "check.rhai changed the cluster");
}

/// rotate.rhai given an issuer signed by another root than the given one stops in generate,
/// before the bundle is deployed; so does a namespace list that leaves meshed workloads out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_refuses_files_that_do_not_belong_together_before_any_change() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // An issuer under root "one", then root "two" given as its root.
    let script = dir.path().join("pair.rhai");
    std::fs::write(
        &script,
        "step(\"pair\", \"Two roots and an issuer\", || {\n\
         let one = gen_cert(#{ profile: \"root-ca\", cn: \"root.linkerd.cluster.local\", write: \"one\" });\n\
         gen_cert(#{ profile: \"root-ca\", cn: \"root.linkerd.cluster.local\", write: \"two\" });\n\
         gen_cert(#{ profile: \"intermediate-ca\", cn: \"identity.linkerd.cluster.local\", ca: one, not_after: duration(\"8760h\"), write: \"issuer\" });\n\
         });\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(&script)
        .arg("--workdir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = |name: &str| dir.path().join(name).display().to_string();
    let before = r.versions();
    let run = r
        .run(
            &rotate_rhai(),
            &[
                "--set",
                &format!("root_cert={}", file("two.crt")),
                "--set",
                &format!("issuer_cert={}", file("issuer.crt")),
                "--set",
                &format!("issuer_key={}", file("issuer.key")),
            ],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let failed = run.of("step_failed").next().unwrap();
    assert_eq!(failed["step"], "generate");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("is signed by an unknown authority"),
        "{failed}"
    );
    assert_eq!(r.versions(), before, "the refused run wrote to the cluster");

    let run = r
        .run_in(
            Rehearsal::workdir_for(&r).path(),
            &rotate_rhai(),
            &["--set", "namespaces=emojivoto"],
        )
        .await;
    assert_eq!(run.code, Some(1), "{}", run.explain());
    let failed = run.of("step_failed").next().unwrap();
    assert_eq!(failed["step"], "preflight");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("namespaces leaves out books, monitoring"),
        "{failed}"
    );
    assert_eq!(r.versions(), before, "the refused run wrote to the cluster");
}
