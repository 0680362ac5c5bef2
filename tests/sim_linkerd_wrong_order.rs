//! Rotations in a wrong order are caught by the simulated cluster: failed connections in the
//! record, `IssuerUpdateSkipped` events, or proxies left with the old anchors.

mod sim_linkerd_support;

use runner::sim::SimOptions;
use sim_linkerd_support::certs::{canonical, new_root_and_issuer, openssl_present};
use sim_linkerd_support::procedure::{
    Era, Target, current_anchors, deploy_anchors, deploy_anchors_then, events, restart_and_wait,
    rotate_issuer, wait_issuer_updated,
};
use sim_linkerd_support::{Sim, kubectl_present};

const APPS: [&str; 3] = ["emojivoto", "books", "monitoring"];

async fn start(name: &str) -> Option<Sim> {
    if !kubectl_present() || !openssl_present() {
        return None;
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
    Some(sim)
}

#[tokio::test]
async fn removing_the_old_root_before_workloads_took_new_leaves_breaks_traffic() {
    let Some(sim) = start("edge").await else {
        return;
    };
    let target = Target {
        era: Era::C,
        overrides: true,
        external: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let (root, issuer) = new_root_and_issuer(dir.path());
    let old = current_anchors(&sim, &target).await;
    deploy_anchors(&sim, &target, &format!("{}{old}", canonical(&root.crt))).await;
    restart_and_wait(&sim, &APPS).await;
    rotate_issuer(&sim, &target, &root, &issuer).await;
    wait_issuer_updated(&sim).await;
    let record = sim.sim.cluster().unwrap().linkerd().record.clone();
    assert!(
        record.is_empty(),
        "failures before the mistake: {}",
        record.summary()
    );
    // The mistake: the workloads still hold leaves of the old issuer.
    deploy_anchors(&sim, &target, &canonical(&root.crt)).await;
    sim.wait_for(20, "failed connections", |_| !record.is_empty())
        .await;
    let failure = &record.failures()[0];
    assert!(failure.reason.contains("unknown issuer"), "{failure:?}");
    assert!(failure.from.contains('/') && failure.to.contains('/'));
    assert!(record.summary().contains("unknown issuer"));
}

#[tokio::test]
async fn rotating_the_issuer_before_identity_restarted_is_skipped() {
    // 2.11: deploying the bundle restarts nothing (linkerd2#9022).
    let Some(sim) = start("stable-2.11").await else {
        return;
    };
    let target = Target {
        era: Era::C0,
        overrides: true,
        external: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let (root, issuer) = new_root_and_issuer(dir.path());
    let old = current_anchors(&sim, &target).await;
    deploy_anchors_then(
        &sim,
        &target,
        &format!("{}{old}", canonical(&root.crt)),
        false,
    )
    .await;
    restart_and_wait(&sim, &APPS).await;
    rotate_issuer(&sim, &target, &root, &issuer).await;
    sim.wait_for(20, "IssuerUpdateSkipped", |_| {
        let rt = sim.rt("", "events");
        sim.sim
            .store()
            .list(&rt, Some("linkerd"), &Default::default())
            .unwrap()
            .items
            .iter()
            .any(|e| e["reason"] == "IssuerUpdateSkipped")
    })
    .await;
    let skipped = events(&sim, "IssuerUpdateSkipped").await;
    assert_eq!(skipped.len(), 1, "one per replica");
    let message = skipped[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Skipping issuer update as certs could not be read from disk"),
        "{message}"
    );
    assert!(
        message.contains("x509: certificate signed by unknown authority"),
        "{message}"
    );
    assert_eq!(skipped[0]["type"], "Warning");
    assert_eq!(skipped[0]["involvedObject"]["kind"], "Deployment");
    assert_eq!(skipped[0]["involvedObject"]["name"], "linkerd-identity");
    assert!(events(&sim, "IssuerUpdated").await.is_empty());
}

#[tokio::test]
async fn restarting_workloads_before_the_bundle_is_deployed_keeps_old_anchors() {
    let Some(sim) = start("edge").await else {
        return;
    };
    let target = Target {
        era: Era::C,
        overrides: true,
        external: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = new_root_and_issuer(dir.path());
    let old = current_anchors(&sim, &target).await;
    restart_and_wait(&sim, &APPS).await;
    deploy_anchors(&sim, &target, &format!("{}{old}", canonical(&root.crt))).await;
    let mesh = &sim.sim.cluster().unwrap().linkerd().mesh;
    let apps: Vec<_> = mesh
        .all()
        .into_iter()
        .filter(|((ns, _), _)| APPS.contains(&ns.as_str()))
        .collect();
    assert!(apps.len() >= 7);
    for ((ns, pod), proxy) in apps {
        assert_eq!(
            canonical(&proxy.anchors_text),
            old,
            "{ns}/{pod} has the new bundle"
        );
    }
    // The control plane rolled with the bundle (2.12+ hash annotation).
    let identity = mesh
        .all()
        .into_iter()
        .find(|((ns, pod), _)| ns == "linkerd" && pod.starts_with("linkerd-identity-"))
        .unwrap();
    assert!(
        identity
            .1
            .anchors_text
            .contains(root.crt.lines().nth(1).unwrap())
    );
}
