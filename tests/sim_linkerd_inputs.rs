//! Broken input in the control plane's objects: the simulated Linkerd fails the way the real
//! one does (crash loops, skipped issuer updates, containers that cannot be created), with
//! messages that name the object and what is wrong.

mod sim_linkerd_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use runner::pki::{CertRequest, Profile, Validity, generate};
use runner::sim::SimOptions;
use runner::sim::store::Patch;
use serde_json::{Value, json};
use sim_linkerd_support::{Sim, ready};

async fn edge() -> Sim {
    let sim = Sim::start(SimOptions {
        scenario: Some("edge".into()),
        ..Default::default()
    })
    .await;
    sim.wait_for(20, "every linkerd pod ready", |s| {
        let pods = s.pods("linkerd", "");
        pods.len() == 3 && pods.iter().all(ready)
    })
    .await;
    sim
}

fn patch(sim: &Sim, group: &str, plural: &str, ns: &str, name: &str, body: Value) {
    let rt = sim.rt(group, plural);
    sim.sim
        .store()
        .patch(&rt, Some(ns), name, &Patch::Merge(body), false, false)
        .unwrap();
}

fn restart(sim: &Sim, ns: &str, deployment: &str, value: &str) {
    let body = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": value}}}}});
    patch(sim, "apps", "deployments", ns, deployment, body);
}

/// The status of container `name` in the pods of `ns` starting with `prefix` that are not
/// ready.
fn failing(sim: &Sim, ns: &str, prefix: &str, name: &str) -> Vec<Value> {
    sim.pods(ns, prefix)
        .iter()
        .filter(|p| !ready(p))
        .filter_map(|p| {
            p["status"]["containerStatuses"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == name)
                .cloned()
        })
        .collect()
}

fn events(sim: &Sim, reason: &str) -> Vec<Value> {
    let rt = sim.rt("", "events");
    let page = sim
        .sim
        .store()
        .list(&rt, Some("linkerd"), &Default::default())
        .unwrap();
    page.items
        .iter()
        .filter(|e| e["reason"] == reason)
        .map(|e| (**e).clone())
        .collect()
}

#[tokio::test]
async fn an_issuer_certificate_with_a_trailing_blank_line_is_refused_as_go_does() {
    let sim = edge().await;
    let root = &sim.sim.scenario_identity().unwrap().root;
    let mut request = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    request.not_after = Some(Validity::For(time::Duration::days(30)));
    let issuer = generate(&request, Some(root)).unwrap();
    // A valid issuer, but `crt.pem` ends in a blank line: Go's PEM decoding fails on it.
    let crt = format!("{}\n", issuer.cert().to_pem().trim_end()) + "\n";
    let data = json!({
        "crt.pem": STANDARD.encode(&crt),
        "key.pem": STANDARD.encode(issuer.key().to_sec1_pem().unwrap()),
    });
    patch(
        &sim,
        "",
        "secrets",
        "linkerd",
        "linkerd-identity-issuer",
        json!({ "data": data }),
    );
    sim.wait_for(10, "IssuerUpdateSkipped", |s| {
        !events(s, "IssuerUpdateSkipped").is_empty()
    })
    .await;
    let message = events(&sim, "IssuerUpdateSkipped")[0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("Skipping issuer update as certs could not be read from disk: ")
            && message.contains("crt.pem")
            && message.contains("after the last PEM block"),
        "{message}"
    );
    assert!(events(&sim, "IssuerUpdated").is_empty());

    // A restarted identity controller must load it, and cannot.
    restart(&sim, "linkerd", "linkerd-identity", "1");
    sim.wait_for(20, "identity crash-looping on crt.pem", |s| {
        failing(s, "linkerd", "linkerd-identity-", "identity")
            .iter()
            .any(|c| c["restartCount"].as_i64().unwrap_or(0) >= 1)
    })
    .await;
    let status = &failing(&sim, "linkerd", "linkerd-identity-", "identity")[0];
    assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
    let message = status["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.contains("failed to read CA from disk: crt.pem"),
        "{message}"
    );
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1);
    // The old replica keeps running: the rollout waits for the new one.
    assert!(sim.pods("linkerd", "linkerd-identity-").iter().any(ready));
}

#[tokio::test]
async fn garbage_in_the_trust_roots_crash_loops_the_proxies_that_read_it_and_identity() {
    let sim = edge().await;
    patch(
        &sim,
        "",
        "configmaps",
        "linkerd",
        "linkerd-identity-trust-roots",
        json!({"data": {"ca-bundle.crt": "not a certificate"}}),
    );
    // After the kubelet refresh (60 simulated seconds) the injector reads the garbage.
    let clock = sim.sim.cluster().unwrap().clock().clone();
    let until = clock.now() + time::Duration::minutes(2);
    sim.wait_for(10, "the volume refresh", |_| clock.now() > until)
        .await;
    restart(&sim, "emojivoto", "voting", "1");
    restart(&sim, "linkerd", "linkerd-identity", "1");
    sim.wait_for(20, "the new proxy and identity crash-looping", |s| {
        !failing(s, "emojivoto", "voting-", "linkerd-proxy").is_empty()
            && failing(s, "linkerd", "linkerd-identity-", "identity")
                .iter()
                .any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    })
    .await;
    let proxy = &failing(&sim, "emojivoto", "voting-", "linkerd-proxy")[0];
    assert_eq!(proxy["state"]["waiting"]["reason"], "CrashLoopBackOff");
    let message = proxy["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid trust anchors") && message.contains("inline"),
        "{message}"
    );
    // Only the proxy crashed: the application container runs.
    let app = &failing(&sim, "emojivoto", "voting-", "voting")[0];
    assert!(app["state"]["running"].is_object(), "{app}");
    assert_eq!(app["restartCount"], 0);

    let identity = &failing(&sim, "linkerd", "linkerd-identity-", "identity")[0];
    let message = identity["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to read trust anchors")
            && message.contains("linkerd/linkerd-identity-trust-roots")
            && message.contains("ca-bundle.crt"),
        "{message}"
    );
    // The identity pod's own proxy reads the ConfigMap through its env: it crashes too,
    // naming the ConfigMap.
    let own = &failing(&sim, "linkerd", "linkerd-identity-", "linkerd-proxy")[0];
    let message = own["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.contains("ConfigMap linkerd/linkerd-identity-trust-roots key ca-bundle.crt"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_trust_roots_config_map_keeps_proxies_from_being_created() {
    let sim = edge().await;
    let rt = sim.rt("", "configmaps");
    sim.sim
        .store()
        .delete(&rt, Some("linkerd"), "linkerd-identity-trust-roots", false)
        .unwrap();
    restart(&sim, "linkerd", "linkerd-destination", "1");
    sim.wait_for(20, "the new destination proxy not created", |s| {
        failing(s, "linkerd", "linkerd-destination-", "linkerd-proxy")
            .iter()
            .any(|c| c["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    })
    .await;
    let proxy = &failing(&sim, "linkerd", "linkerd-destination-", "linkerd-proxy")[0];
    assert_eq!(
        proxy["state"]["waiting"]["message"],
        "configmap \"linkerd-identity-trust-roots\" not found"
    );
    assert_eq!(proxy["restartCount"], 0);
}

/// Loads the 2.12 install without the objects `drop` names, and emojivoto.
async fn fixture_without(drop: &[(&str, &str)]) -> Option<Sim> {
    let dir = sim_linkerd_support::fixtures()?;
    let text = std::fs::read_to_string(dir.join("install-stable-2.12.0.yaml")).unwrap();
    let kept: Vec<&str> = text
        .split("\n---")
        .filter(|doc| {
            !drop.iter().any(|(kind, name)| {
                doc.contains(&format!("kind: {kind}\n"))
                    && doc.contains(&format!("  name: {name}\n"))
            })
        })
        .collect();
    assert!(kept.len() < text.split("\n---").count(), "nothing dropped");
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("install.yaml");
    std::fs::write(&path, kept.join("\n---")).unwrap();
    let sim = Sim::start(SimOptions {
        manifests: vec![path, dir.join("emojivoto.yaml")],
        ..Default::default()
    })
    .await;
    Some(sim)
}

#[tokio::test]
async fn an_install_without_its_issuer_secret_crash_loops_identity_naming_the_secret() {
    let Some(sim) = fixture_without(&[("Secret", "linkerd-identity-issuer")]).await else {
        return;
    };
    sim.wait_for(20, "identity crash-looping", |s| {
        failing(s, "linkerd", "linkerd-identity-", "identity")
            .iter()
            .any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    })
    .await;
    let status = &failing(&sim, "linkerd", "linkerd-identity-", "identity")[0];
    let message = status["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.contains("linkerd/linkerd-identity-issuer") && message.contains("missing"),
        "{message}"
    );
    // No identity, no certificates: the other control-plane proxies wait, not ready.
    let waiting = failing(&sim, "linkerd", "linkerd-destination-", "linkerd-proxy");
    assert!(waiting[0]["state"]["running"].is_object(), "{waiting:?}");
    assert_eq!(waiting[0]["restartCount"], 0);
}

#[tokio::test]
async fn an_install_without_linkerd_config_names_it() {
    let Some(sim) = fixture_without(&[("ConfigMap", "linkerd-config")]).await else {
        return;
    };
    sim.wait_for(20, "identity crash-looping", |s| {
        failing(s, "linkerd", "linkerd-identity-", "identity")
            .iter()
            .any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    })
    .await;
    let status = &failing(&sim, "linkerd", "linkerd-identity-", "identity")[0];
    let message = status["state"]["waiting"]["message"].as_str().unwrap();
    assert!(
        message.contains("linkerd/linkerd-config") && message.contains("missing"),
        "{message}"
    );
}
