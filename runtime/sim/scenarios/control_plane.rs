//! The control plane of a scenario, in the shapes each release renders (LINKERD.md §1):
//! `linkerd-config` (`global` JSON for 2.8, `values` YAML after), the trust-roots ConfigMap
//! (2.11+), the issuer Secret (`linkerd.io/tls` or cert-manager's `kubernetes.io/tls`), the
//! overrides Secret of CLI installs (2.9+), and the identity, destination and proxy-injector
//! Deployments with their proxies' anchors inline or from the ConfigMap.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::{Flavor, Identity, Release};
use crate::linkerd::{PROXY_ANCHORS_ENV, TRUST_ROOT_SHA_ANNOTATION, trust_root_sha256};
use crate::pki::PkiError;

const NS: &str = "linkerd";
const COMPONENTS: [&str; 3] = ["identity", "destination", "proxy-injector"];

fn version(flavor: &Flavor) -> &'static str {
    match flavor.release {
        Release::Stable28 => "stable-2.8.1",
        Release::Stable210 => "stable-2.10.2",
        Release::Stable211 => "stable-2.11.5",
        Release::Stable212 => "stable-2.12.6",
        Release::Edge => "edge-26.8.3",
    }
}

/// Labels and annotations on every object: Helm's marks for a Helm install.
fn metadata(flavor: &Flavor, name: &str) -> Value {
    let tool = if flavor.helm { "helm" } else { "cli" };
    let mut meta = json!({
        "name": name,
        "namespace": NS,
        "labels": { "linkerd.io/control-plane-ns": NS },
        "annotations": { "linkerd.io/created-by": format!("linkerd/{tool} {}", version(flavor)) },
    });
    if flavor.helm {
        meta["labels"]["app.kubernetes.io/managed-by"] = json!("Helm");
        meta["annotations"]["meta.helm.sh/release-name"] = json!("linkerd-control-plane");
        meta["annotations"]["meta.helm.sh/release-namespace"] = json!(NS);
    }
    meta
}

fn b64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

fn yaml(value: &Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_default()
}

/// The anchors as the values hold them: the PEM with its trailing newline.
fn values(
    flavor: &Flavor,
    anchors: &str,
    issuer_crt: &str,
    expiry: &str,
    key: Option<&str>,
) -> Value {
    let scheme = if flavor.external_issuer {
        "kubernetes.io/tls"
    } else {
        "linkerd.io/tls"
    };
    let mut issuer = json!({
        "scheme": scheme,
        "issuanceLifetime": "24h0m0s",
        "clockSkewAllowance": "20s",
        "tls": { "crtPEM": issuer_crt },
    });
    if flavor.release <= Release::Stable211 {
        issuer["crtExpiry"] = json!(expiry);
    }
    if let Some(key) = key {
        issuer["tls"]["keyPEM"] = json!(key);
    }
    json!({
        "identityTrustAnchorsPEM": anchors,
        "identityTrustDomain": "cluster.local",
        "identity": { "issuer": issuer },
        "linkerdVersion": version(flavor),
    })
}

fn proxy(flavor: &Flavor, component: &str, anchors: &str) -> Value {
    let from_config_map = flavor.release >= Release::Stable211 && COMPONENTS.contains(&component);
    let anchors_env = if from_config_map {
        json!({ "name": PROXY_ANCHORS_ENV, "valueFrom": { "configMapKeyRef": {
            "name": "linkerd-identity-trust-roots", "key": "ca-bundle.crt" } } })
    } else {
        json!({ "name": PROXY_ANCHORS_ENV, "value": format!("{}\n", anchors.trim()) })
    };
    json!({
        "name": "linkerd-proxy",
        "image": format!("cr.l5d.io/linkerd/proxy:{}", version(flavor)),
        "env": [
            anchors_env,
            { "name": "LINKERD2_PROXY_IDENTITY_LOCAL_NAME",
              "value": format!("linkerd-{component}.{NS}.serviceaccount.identity.{NS}.cluster.local") },
        ],
    })
}

fn deployment(flavor: &Flavor, component: &str, anchors: &str) -> Value {
    let name = format!("linkerd-{component}");
    let mut main = json!({ "name": component, "image": format!("cr.l5d.io/linkerd/controller:{}", version(flavor)) });
    if component == "identity" && flavor.release == Release::Stable210 {
        main["env"] = json!([{ "name": "LINKERD2_IDENTITY_TRUST_ANCHORS", "value": b64(anchors) }]);
    }
    let labels = json!({
        "linkerd.io/control-plane-component": component,
        "linkerd.io/control-plane-ns": NS,
        "linkerd.io/proxy-deployment": name,
    });
    let mut annotations =
        json!({ "linkerd.io/created-by": format!("linkerd/cli {}", version(flavor)) });
    if flavor.release >= Release::Stable212 {
        annotations[TRUST_ROOT_SHA_ANNOTATION] = json!(trust_root_sha256(anchors));
    }
    let mut obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": metadata(flavor, &name),
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "linkerd.io/control-plane-component": component, "linkerd.io/control-plane-ns": NS } },
            "template": {
                "metadata": { "labels": labels, "annotations": annotations },
                "spec": {
                    "serviceAccountName": name,
                    "containers": [main, proxy(flavor, component, anchors)],
                },
            },
        },
    });
    obj["metadata"]["labels"]["linkerd.io/control-plane-component"] = json!(component);
    obj
}

/// The control-plane objects of `flavor` with `identity`'s certificates.
///
/// # Errors
///
/// When the issuer key cannot be written as SEC1.
pub fn objects(flavor: &Flavor, identity: &Identity) -> Result<Vec<Value>, PkiError> {
    let anchors = identity.root.cert().to_pem();
    let issuer_crt = identity.issuer.cert().to_pem();
    let issuer_key = identity.issuer.key().to_sec1_pem()?;
    let expiry = identity
        .issuer
        .cert()
        .not_after()
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut out = vec![json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": NS, "annotations": { "linkerd.io/inject": "disabled" },
                      "labels": { "linkerd.io/is-control-plane": "true" } },
    })];

    let mut config = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(flavor, "linkerd-config") });
    if flavor.release == Release::Stable28 {
        let global = json!({
            "linkerdNamespace": NS,
            "cniEnabled": false,
            "version": version(flavor),
            "identityContext": {
                "trustDomain": "cluster.local",
                "trustAnchorsPem": anchors,
                "issuanceLifetime": "86400s",
                "clockSkewAllowance": "20s",
                "scheme": "linkerd.io/tls",
            },
        });
        let install = json!({ "cliVersion": version(flavor), "flags": [] });
        config["data"] =
            json!({ "global": global.to_string(), "proxy": "{}", "install": install.to_string() });
    } else {
        config["data"] =
            json!({ "values": yaml(&values(flavor, &anchors, &issuer_crt, &expiry, None)) });
    }
    out.push(config);

    if flavor.release >= Release::Stable211 {
        // 2.11 and 2.12 render `|` (one trailing newline); 2.13+ render `|-` (none).
        let bundle = if flavor.release == Release::Edge {
            anchors.trim_end().to_owned()
        } else {
            anchors.clone()
        };
        out.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(flavor, "linkerd-identity-trust-roots"),
            "data": { "ca-bundle.crt": bundle },
        }));
    }

    let mut issuer = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": metadata(flavor, "linkerd-identity-issuer") });
    if flavor.external_issuer {
        // As cert-manager writes it.
        issuer["type"] = json!("kubernetes.io/tls");
        issuer["data"] = json!({ "tls.crt": b64(&issuer_crt), "tls.key": b64(&issuer_key), "ca.crt": b64(&anchors) });
    } else {
        issuer["data"] =
            json!({ "crt.pem": b64(issuer_crt.trim()), "key.pem": b64(issuer_key.trim()) });
        if flavor.release <= Release::Stable211 {
            issuer["metadata"]["annotations"]["linkerd.io/identity-issuer-expiry"] = json!(expiry);
        }
    }
    out.push(issuer);

    if flavor.release >= Release::Stable210 && !flavor.helm {
        let overrides = values(flavor, &anchors, &issuer_crt, &expiry, Some(&issuer_key));
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": metadata(flavor, "linkerd-config-overrides"),
            "data": { "linkerd-config-overrides": b64(&yaml(&overrides)) },
        }));
    }
    out.extend(COMPONENTS.iter().map(|c| deployment(flavor, c, &anchors)));
    Ok(out)
}
