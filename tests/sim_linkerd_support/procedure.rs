//! The documented rotation (DESIGN §1) done with kubectl and openssl only: the objects are
//! patched the way `linkerd upgrade` renders them for each layout (LINKERD.md §2.4).

#![allow(dead_code)]

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::Sim;
use super::certs::{Ca, canonical, new_root_and_issuer};

/// The layout families, as the test knows them from the scenario or fixture name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Era {
    A,
    B1,
    B2,
    C0,
    C,
}

#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub era: Era,
    /// Whether the `linkerd-config-overrides` Secret exists (CLI installs from 2.9).
    pub overrides: bool,
    /// cert-manager's `kubernetes.io/tls` issuer Secret.
    pub external: bool,
}

async fn get(sim: &Sim, args: &[&str]) -> Value {
    let mut all = vec!["-n", "linkerd", "get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&sim.ok(&all).await).unwrap()
}

async fn patch(sim: &Sim, ns: &str, what: &str, kind: &str, body: &Value) {
    sim.ok(&[
        "-n",
        ns,
        "patch",
        what,
        "--type",
        kind,
        "-p",
        &body.to_string(),
    ])
    .await;
}

fn yaml_set(text: &str, path: &[&str], value: &str) -> String {
    let mut doc: Value = serde_saphyr::from_str(text).unwrap();
    let mut at = &mut doc;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = json!(value);
    serde_saphyr::to_string(&doc).unwrap()
}

fn anchors_path(era: Era) -> Vec<&'static str> {
    if era == Era::B1 {
        vec!["global", "identityTrustAnchorsPEM"]
    } else {
        vec!["identityTrustAnchorsPEM"]
    }
}

/// The trust anchors the cluster uses now, read where the layout keeps them.
pub async fn current_anchors(sim: &Sim, t: &Target) -> String {
    let config = get(sim, &["cm", "linkerd-config"]).await;
    let text = match t.era {
        Era::A => {
            let global: Value =
                serde_json::from_str(config["data"]["global"].as_str().unwrap()).unwrap();
            global["identityContext"]["trustAnchorsPem"]
                .as_str()
                .unwrap()
                .to_owned()
        }
        Era::C0 | Era::C => {
            get(sim, &["cm", "linkerd-identity-trust-roots"]).await["data"]["ca-bundle.crt"]
                .as_str()
                .unwrap()
                .to_owned()
        }
        Era::B1 | Era::B2 => {
            let values: Value =
                serde_saphyr::from_str(config["data"]["values"].as_str().unwrap()).unwrap();
            let mut at = &values;
            for key in anchors_path(t.era) {
                at = &at[key];
            }
            at.as_str().unwrap().to_owned()
        }
    };
    canonical(&text)
}

/// `linkerd upgrade --identity-trust-anchors-file`: every place the layout keeps the anchors.
pub async fn deploy_anchors(sim: &Sim, t: &Target, bundle: &str) {
    deploy_anchors_then(sim, t, bundle, true).await;
}

/// As [`deploy_anchors`]; without `restart` a 2.11 control plane keeps running as it was.
pub async fn deploy_anchors_then(sim: &Sim, t: &Target, bundle: &str, restart: bool) {
    let config = get(sim, &["cm", "linkerd-config"]).await;
    if t.era == Era::A {
        let mut global: Value =
            serde_json::from_str(config["data"]["global"].as_str().unwrap()).unwrap();
        global["identityContext"]["trustAnchorsPem"] = json!(bundle);
        patch(
            sim,
            "linkerd",
            "cm/linkerd-config",
            "merge",
            &json!({"data": {"global": global.to_string()}}),
        )
        .await;
    } else {
        let values = yaml_set(
            config["data"]["values"].as_str().unwrap(),
            &anchors_path(t.era),
            bundle,
        );
        patch(
            sim,
            "linkerd",
            "cm/linkerd-config",
            "merge",
            &json!({"data": {"values": values}}),
        )
        .await;
    }
    if t.overrides {
        let secret = get(sim, &["secret", "linkerd-config-overrides"]).await;
        let text = String::from_utf8(
            STANDARD
                .decode(secret["data"]["linkerd-config-overrides"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let text = yaml_set(&text, &anchors_path(t.era), bundle);
        patch(
            sim,
            "linkerd",
            "secret/linkerd-config-overrides",
            "merge",
            &json!({"data": {"linkerd-config-overrides": STANDARD.encode(text)}}),
        )
        .await;
    }
    if t.era >= Era::C0 {
        let text = if t.era == Era::C {
            bundle.trim_end().to_owned()
        } else {
            bundle.to_owned()
        };
        patch(
            sim,
            "linkerd",
            "cm/linkerd-identity-trust-roots",
            "merge",
            &json!({"data": {"ca-bundle.crt": text}}),
        )
        .await;
    }
    let deployments = get(sim, &["deploy"]).await;
    for d in deployments["items"].as_array().unwrap() {
        let name = d["metadata"]["name"].as_str().unwrap();
        let mut containers = Vec::new();
        for c in d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            let env = c["env"].as_array().cloned().unwrap_or_default();
            if c["name"] == "linkerd-proxy"
                && env.iter().any(|e| {
                    e["name"] == "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS" && e["value"].is_string()
                })
            {
                containers.push(json!({"name": "linkerd-proxy", "env": [{"name": "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "value": bundle}]}));
            }
            if c["name"] == "identity" && t.era == Era::B2 {
                containers.push(json!({"name": "identity", "env": [{"name": "LINKERD2_IDENTITY_TRUST_ANCHORS", "value": STANDARD.encode(bundle)}]}));
            }
            if c["name"] == "identity" && t.era == Era::B1 {
                let args: Vec<Value> = c["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| {
                        let a = a.as_str().unwrap();
                        if a.starts_with("-identity-trust-anchors-pem=") {
                            json!(format!(
                                "-identity-trust-anchors-pem={}",
                                STANDARD.encode(bundle)
                            ))
                        } else {
                            json!(a)
                        }
                    })
                    .collect();
                containers.push(json!({"name": "identity", "args": args}));
            }
        }
        let mut body = json!({"spec": {"template": {"spec": {"containers": containers}}}});
        let hashed =
            d["spec"]["template"]["metadata"]["annotations"]["linkerd.io/trust-root-sha256"]
                .is_string();
        if hashed {
            body["spec"]["template"]["metadata"]["annotations"]["linkerd.io/trust-root-sha256"] =
                json!(hex::encode(Sha256::digest(bundle.as_bytes())));
        }
        if hashed
            || !body["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .is_empty()
        {
            patch(
                sim,
                "linkerd",
                &format!("deploy/{name}"),
                "strategic",
                &body,
            )
            .await;
        }
    }
    // 2.11 rolls nothing by itself: its docs restart the control plane.
    if t.era == Era::C0 && restart {
        restart_namespace(sim, "linkerd").await;
    }
    wait_namespace(sim, "linkerd").await;
}

/// `linkerd upgrade --identity-issuer-certificate-file … --identity-issuer-key-file …`, or
/// cert-manager renewing the external issuer.
pub async fn rotate_issuer(sim: &Sim, t: &Target, root: &Ca, issuer: &Ca) {
    let (crt, key) = (issuer.crt.trim(), issuer.key.trim());
    let data = if t.external {
        json!({"tls.crt": STANDARD.encode(crt), "tls.key": STANDARD.encode(key), "ca.crt": STANDARD.encode(&root.crt)})
    } else {
        json!({"crt.pem": STANDARD.encode(crt), "key.pem": STANDARD.encode(key)})
    };
    patch(
        sim,
        "linkerd",
        "secret/linkerd-identity-issuer",
        "merge",
        &json!({"data": data}),
    )
    .await;
    if t.era >= Era::B1 && !t.external {
        let config = get(sim, &["cm", "linkerd-config"]).await;
        let values = yaml_set(
            config["data"]["values"].as_str().unwrap(),
            &["identity", "issuer", "tls", "crtPEM"],
            &format!("{crt}\n"),
        );
        patch(
            sim,
            "linkerd",
            "cm/linkerd-config",
            "merge",
            &json!({"data": {"values": values}}),
        )
        .await;
    }
    if t.overrides && !t.external {
        let secret = get(sim, &["secret", "linkerd-config-overrides"]).await;
        let text = String::from_utf8(
            STANDARD
                .decode(secret["data"]["linkerd-config-overrides"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let text = yaml_set(
            &text,
            &["identity", "issuer", "tls", "crtPEM"],
            &format!("{crt}\n"),
        );
        let text = yaml_set(
            &text,
            &["identity", "issuer", "tls", "keyPEM"],
            &format!("{key}\n"),
        );
        patch(
            sim,
            "linkerd",
            "secret/linkerd-config-overrides",
            "merge",
            &json!({"data": {"linkerd-config-overrides": STANDARD.encode(text)}}),
        )
        .await;
    }
}

/// Events of `reason` in namespace linkerd, through kubectl.
pub async fn events(sim: &Sim, reason: &str) -> Vec<Value> {
    let out = sim
        .ok(&[
            "-n",
            "linkerd",
            "get",
            "events",
            "--field-selector",
            &format!("reason={reason}"),
            "-o",
            "json",
        ])
        .await;
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Waits for `IssuerUpdated` (failing early on `IssuerUpdateSkipped`).
pub async fn wait_issuer_updated(sim: &Sim) {
    for _ in 0..200 {
        if !events(sim, "IssuerUpdated").await.is_empty() {
            return;
        }
        let skipped = events(sim, "IssuerUpdateSkipped").await;
        assert!(
            skipped.is_empty(),
            "the issuer update was skipped: {}",
            skipped[0]["message"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no IssuerUpdated event");
}

async fn workloads(sim: &Sim, ns: &str) -> Vec<String> {
    let out = sim
        .ok(&["-n", ns, "get", "deploy,sts,ds", "-o", "json"])
        .await;
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap().to_lowercase(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// `kubectl rollout restart` of every workload of a namespace.
pub async fn restart_namespace(sim: &Sim, ns: &str) {
    for w in workloads(sim, ns).await {
        sim.ok(&["-n", ns, "rollout", "restart", &w]).await;
    }
}

/// `kubectl rollout status` of every workload of a namespace.
pub async fn wait_namespace(sim: &Sim, ns: &str) {
    for w in workloads(sim, ns).await {
        sim.ok(&["-n", ns, "rollout", "status", &w, "--timeout=60s"])
            .await;
    }
}

/// Restarts the meshed namespaces and waits for their rollouts.
pub async fn restart_and_wait(sim: &Sim, namespaces: &[&str]) {
    for ns in namespaces {
        restart_namespace(sim, ns).await;
    }
    for ns in namespaces {
        wait_namespace(sim, ns).await;
    }
}

/// The whole documented rotation. Returns the new root and issuer.
pub async fn rotate(sim: &Sim, t: &Target, dir: &Path, namespaces: &[&str]) -> (Ca, Ca) {
    let (root, issuer) = new_root_and_issuer(dir);
    let old = current_anchors(sim, t).await;
    let bundle = format!("{}{old}", canonical(&root.crt));
    deploy_anchors(sim, t, &bundle).await;
    restart_and_wait(sim, namespaces).await;
    rotate_issuer(sim, t, &root, &issuer).await;
    wait_issuer_updated(sim).await;
    // Every proxy, control plane included, takes a leaf from the new issuer.
    restart_and_wait(sim, &[&["linkerd"], namespaces].concat()).await;
    deploy_anchors(sim, t, &canonical(&root.crt)).await;
    if t.era != Era::C0 {
        restart_namespace(sim, "linkerd").await;
        wait_namespace(sim, "linkerd").await;
    }
    restart_and_wait(sim, namespaces).await;
    (root, issuer)
}
