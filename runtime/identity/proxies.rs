//! `proxies`: per meshed pod what a runbook's gates need to decide whether a stage is done:
//! which anchors its proxy holds, when the proxy started, and whether the pod is ready.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::IdentityError;
use super::fetch::{self, Visit};
use crate::cluster::Cluster;
use crate::linkerd::PROXY_ANCHORS_ENV;

const PROXY_CONTAINER: &str = "linkerd-proxy";

/// One pod with a `linkerd-proxy` container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyPod {
    pub namespace: String,
    pub name: String,
    /// A pod of the control plane (label `linkerd.io/control-plane-component`).
    pub control_plane: bool,
    /// The workload that owns it (`Deployment/web`), or `""` for a bare pod.
    pub owner: String,
    /// sha256 fingerprints of the anchors in the proxy's env, in order; empty when the env
    /// comes from elsewhere (`valueFrom`) or does not parse.
    pub anchors: Vec<String>,
    /// When the proxy container started (RFC 3339): its running state's `startedAt`, else
    /// the pod's `startTime`; `None` before either exists.
    pub proxy_started: Option<String>,
    pub ready: bool,
}

/// Reads pods into [`ProxyPod`]s, parsing each distinct anchors text once: thousands of
/// proxies share a handful of bundles.
#[derive(Default)]
pub struct ProxyReader {
    fingerprints: HashMap<String, Vec<String>>,
}

impl ProxyReader {
    /// The pod's proxy facts, or `None` when it has no `linkerd-proxy` container.
    pub fn read(&mut self, pod: &Value) -> Option<ProxyPod> {
        let text = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str);
        let spec = pod.get("spec")?;
        let proxy = ["initContainers", "containers"]
            .iter()
            .filter_map(|list| spec.get(list).and_then(Value::as_array))
            .flatten()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER))?;
        let anchors = proxy
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(PROXY_ANCHORS_ENV))
            .and_then(|e| e.get("value").and_then(Value::as_str))
            .map(|pem| self.fingerprints_of(pem))
            .unwrap_or_default();
        Some(ProxyPod {
            namespace: text("/metadata/namespace").unwrap_or_default().to_owned(),
            name: text("/metadata/name").unwrap_or_default().to_owned(),
            control_plane: pod
                .pointer("/metadata/labels/linkerd.io~1control-plane-component")
                .is_some(),
            owner: owner(pod),
            anchors,
            proxy_started: proxy_started(pod),
            ready: ready(pod),
        })
    }

    fn fingerprints_of(&mut self, pem: &str) -> Vec<String> {
        self.fingerprints
            .entry(pem.to_owned())
            .or_insert_with(|| {
                crate::pki::parse_certificates(pem, PROXY_ANCHORS_ENV)
                    .map(|certs| certs.iter().map(|c| c.fingerprint().to_owned()).collect())
                    .unwrap_or_default()
            })
            .clone()
    }
}

/// The meshed pods of `namespaces` (every namespace when empty), read page by page.
///
/// # Errors
///
/// A namespace asked for that does not exist, or pods that cannot be listed.
pub async fn proxies(
    cluster: &Cluster,
    namespaces: &[String],
) -> Result<Vec<ProxyPod>, IdentityError> {
    let mut reader = ProxyReader::default();
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|ns| Some(ns.as_str())).collect()
    };
    for namespace in namespaces {
        if !fetch::namespace_exists(cluster, namespace).await? {
            return Err(IdentityError::NoNamespace {
                namespace: namespace.clone(),
            });
        }
    }
    let mut found = Vec::new();
    for scope in scopes {
        let mut here = Vec::new();
        fetch::for_each_pod(cluster, scope, |visit| match visit {
            Visit::Pod(pod) => here.extend(reader.read(pod)),
            Visit::Restart => here.clear(),
        })
        .await?;
        found.append(&mut here);
    }
    Ok(found)
}

/// `Kind/name` of the controlling owner; a ReplicaSet made by a Deployment is named by its
/// Deployment, which is what a runbook restarts.
fn owner(pod: &Value) -> String {
    let Some(reference) = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .or_else(|| refs.first())
        })
    else {
        return String::new();
    };
    let kind = reference.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = reference.get("name").and_then(Value::as_str).unwrap_or("");
    let hash = pod
        .pointer("/metadata/labels/pod-template-hash")
        .and_then(Value::as_str);
    match hash.and_then(|h| name.strip_suffix(h)?.strip_suffix('-')) {
        Some(deployment) if kind == "ReplicaSet" => format!("Deployment/{deployment}"),
        _ => format!("{kind}/{name}"),
    }
}

fn proxy_started(pod: &Value) -> Option<String> {
    let started = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|list| pod.pointer(&format!("/status/{list}"))?.as_array())
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER))
        .and_then(|s| s.pointer("/state/running/startedAt")?.as_str());
    started
        .or_else(|| pod.pointer("/status/startTime")?.as_str())
        .map(str::to_owned)
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_pod_of_a_deployment_is_named_by_its_deployment() {
        let pod = json!({
            "metadata": {
                "namespace": "emojivoto", "name": "web-5f7d8c-abcde",
                "labels": {"pod-template-hash": "5f7d8c"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5f7d8c", "controller": true}]
            },
            "spec": {"containers": [{"name": "linkerd-proxy", "env": []}]},
            "status": {
                "startTime": "2026-12-03T20:00:00Z",
                "containerStatuses": [{"name": "linkerd-proxy",
                    "state": {"running": {"startedAt": "2026-12-03T20:00:05Z"}}}],
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        });
        let found = ProxyReader::default().read(&pod).unwrap();
        assert_eq!(found.owner, "Deployment/web");
        assert_eq!(found.proxy_started.as_deref(), Some("2026-12-03T20:00:05Z"));
        assert!(found.ready);
        assert!(!found.control_plane);
        assert!(found.anchors.is_empty());
    }

    #[test]
    fn a_pod_without_a_proxy_is_not_read_and_a_bare_pod_has_no_owner() {
        let unmeshed =
            json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "app"}]}});
        assert!(ProxyReader::default().read(&unmeshed).is_none());
        let bare = json!({
            "metadata": {"name": "b", "namespace": "x"},
            "spec": {"containers": [{"name": "linkerd-proxy"}]},
            "status": {"startTime": "2026-12-03T20:00:00Z"}
        });
        let found = ProxyReader::default().read(&bare).unwrap();
        assert_eq!(found.owner, "");
        assert_eq!(found.proxy_started.as_deref(), Some("2026-12-03T20:00:00Z"));
        assert!(!found.ready);
    }
}
