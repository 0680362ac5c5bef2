//! The documented procedure (DESIGN §1) with kubectl and openssl only, on every layout
//! scenario and every fixture manifest: at the end every meshed pod trusts only the new
//! root, holds a leaf from the new issuer, and no meshed connection failed.

mod sim_linkerd_support;

use runner::pki::Certificate;
use runner::sim::SimOptions;
use sim_linkerd_support::certs::{Ca, canonical, openssl_present};
use sim_linkerd_support::procedure::{Era, Target, restart_and_wait, rotate};
use sim_linkerd_support::{Sim, fixtures, kubectl_present};

const APPS: [&str; 3] = ["emojivoto", "books", "monitoring"];

fn assert_rotated(sim: &Sim, what: &str, root: &Ca, issuer: &Ca) {
    let linkerd = sim.sim.cluster().unwrap().linkerd();
    let issuer = Certificate::from_pem(&issuer.crt, "issuer").unwrap();
    let proxies = linkerd.mesh.all();
    assert!(
        proxies.len() > 5,
        "{what}: only {} proxies: {:?}\n{}",
        proxies.len(),
        proxies.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        sim.dump()
    );
    for ((ns, pod), proxy) in proxies {
        assert_eq!(
            canonical(&proxy.anchors_text),
            canonical(&root.crt),
            "{what}: {ns}/{pod} anchors"
        );
        assert_eq!(
            proxy.leaf.chain[0].fingerprint(),
            issuer.fingerprint(),
            "{what}: {ns}/{pod} leaf issuer"
        );
    }
    assert!(
        linkerd.record.connections() > 100,
        "{what}: too little traffic sampled"
    );
    assert!(
        linkerd.record.is_empty(),
        "{what}: {}",
        linkerd.record.summary()
    );
}

async fn scenario(name: &str, era: Era, overrides: bool, external: bool) {
    if !kubectl_present() || !openssl_present() {
        return;
    }
    let sim = Sim::start(SimOptions {
        scenario: Some(name.into()),
        ..Default::default()
    })
    .await;
    sim.ok(&[
        "-n",
        "emojivoto",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=30s",
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = Target {
        era,
        overrides,
        external,
    };
    let (root, issuer) = rotate(&sim, &target, dir.path(), &APPS).await;
    assert_rotated(&sim, name, &root, &issuer);
}

async fn fixture(file: &str, era: Era, overrides: bool) {
    if !kubectl_present() || !openssl_present() {
        return;
    }
    let Some(dir) = fixtures() else { return };
    let sim = Sim::start(SimOptions {
        manifests: vec![dir.join(file), dir.join("emojivoto.yaml")],
        ..Default::default()
    })
    .await;
    // Mesh the application the way an operator would.
    sim.ok(&["annotate", "ns", "default", "linkerd.io/inject=enabled"])
        .await;
    restart_and_wait(&sim, &["linkerd", "default"]).await;
    let work = tempfile::tempdir().unwrap();
    let target = Target {
        era,
        overrides,
        external: false,
    };
    let (root, issuer) = rotate(&sim, &target, work.path(), &["default"]).await;
    assert_rotated(&sim, file, &root, &issuer);
}

#[tokio::test]
async fn scenario_stable_2_8() {
    scenario("stable-2.8", Era::A, false, false).await;
}

#[tokio::test]
async fn scenario_stable_2_10() {
    scenario("stable-2.10", Era::B2, true, false).await;
}

#[tokio::test]
async fn scenario_stable_2_11() {
    scenario("stable-2.11", Era::C0, true, false).await;
}

#[tokio::test]
async fn scenario_stable_2_12() {
    scenario("stable-2.12", Era::C, true, false).await;
}

#[tokio::test]
async fn scenario_edge() {
    scenario("edge", Era::C, true, false).await;
}

#[tokio::test]
async fn scenario_helm() {
    scenario("helm", Era::C, false, false).await;
}

#[tokio::test]
async fn scenario_external_issuer() {
    scenario("external-issuer", Era::C, true, true).await;
}

#[tokio::test]
async fn scenario_expiring_root() {
    scenario("expiring-root", Era::C, true, false).await;
}

#[tokio::test]
async fn fixture_stable_2_7() {
    fixture("install-stable-2.7.0.yaml", Era::A, false).await;
}

#[tokio::test]
async fn fixture_stable_2_9() {
    fixture("install-stable-2.9.0.yaml", Era::B1, true).await;
}

#[tokio::test]
async fn fixture_stable_2_10() {
    fixture("install-stable-2.10.0.yaml", Era::B2, true).await;
}

#[tokio::test]
async fn fixture_stable_2_11() {
    fixture("install-stable-2.11.0.yaml", Era::C0, true).await;
}

#[tokio::test]
async fn fixture_stable_2_12() {
    fixture("install-stable-2.12.0.yaml", Era::C, true).await;
}

#[tokio::test]
async fn fixture_edge() {
    fixture("install-edge-26.8.3.yaml", Era::C, true).await;
}
