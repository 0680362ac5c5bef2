//! Small reads and builders over the stored JSON objects the controllers share: resource
//! types, owner references, template hashes, pod readiness.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::ClusterError;
use crate::sim::Store;
use crate::sim::kinds::ResourceType;

/// The resource types the controllers read and write.
#[derive(Debug, Clone)]
pub struct Kinds {
    pub pod: Arc<ResourceType>,
    pub replica_set: Arc<ResourceType>,
    pub deployment: Arc<ResourceType>,
    pub stateful_set: Arc<ResourceType>,
    pub daemon_set: Arc<ResourceType>,
    pub controller_revision: Arc<ResourceType>,
    pub event: Arc<ResourceType>,
    pub config_map: Arc<ResourceType>,
    pub secret: Arc<ResourceType>,
    pub namespace: Arc<ResourceType>,
    pub node: Arc<ResourceType>,
}

impl Kinds {
    /// Looks the built-in kinds up in the store's registry.
    ///
    /// # Errors
    ///
    /// [`ClusterError::MissingKind`] when the registry lacks one (a broken build).
    pub fn of(store: &Store) -> Result<Self, ClusterError> {
        let registry = store.registry();
        let find = |api_version: &str, kind: &str| {
            registry
                .by_kind(api_version, kind)
                .ok_or_else(|| ClusterError::MissingKind {
                    kind: format!("{api_version} {kind}"),
                })
        };
        Ok(Self {
            pod: find("v1", "Pod")?,
            replica_set: find("apps/v1", "ReplicaSet")?,
            deployment: find("apps/v1", "Deployment")?,
            stateful_set: find("apps/v1", "StatefulSet")?,
            daemon_set: find("apps/v1", "DaemonSet")?,
            controller_revision: find("apps/v1", "ControllerRevision")?,
            event: find("v1", "Event")?,
            config_map: find("v1", "ConfigMap")?,
            secret: find("v1", "Secret")?,
            namespace: find("v1", "Namespace")?,
            node: find("v1", "Node")?,
        })
    }
}

pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

/// The controlling owner reference (kind, name, uid) of an object.
pub fn controller_of(obj: &Value) -> Option<(&str, &str, &str)> {
    let refs = obj.pointer("/metadata/ownerReferences")?.as_array()?;
    let r = refs
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| refs.first())?;
    Some((
        r.get("kind")?.as_str()?,
        r.get("name")?.as_str()?,
        r.get("uid")?.as_str()?,
    ))
}

/// An owner reference to `owner` as the real controllers write it.
pub fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!([{
        "apiVersion": api_version,
        "kind": kind,
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// A short, stable hash of a pod template, as `pod-template-hash` and revision names use.
pub fn template_hash(template: &Value) -> String {
    let digest = Sha256::digest(template.to_string().as_bytes());
    // Kubernetes spells these hashes with digits and consonants only; hex is close enough.
    hex::encode(&digest[..5])
}

/// Whether a pod's Ready condition is true.
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// The current time as object timestamps spell it.
pub fn now() -> String {
    crate::sim::store::meta::now_rfc3339()
}

/// Replaces the status of an object; unchanged statuses are not stored, so repeated
/// reconciles do not loop.
pub fn write_status(
    store: &Store,
    rt: &ResourceType,
    obj: &Value,
    status: Value,
) -> Result<(), ClusterError> {
    if obj.get("status") == Some(&status) {
        return Ok(());
    }
    let mut new = obj.clone();
    new["status"] = status;
    // The controller is the only writer of these statuses: the latest object wins.
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    match store.update(rt, Some(namespace(obj)), name(obj), new, true, false) {
        Ok(_) => Ok(()),
        // Gone meanwhile, or changed meanwhile: the change that did it brings a new reconcile.
        Err(crate::sim::store::StoreError::NotFound { .. }) => Ok(()),
        Err(source) => Err(ClusterError::store(rt, obj, source)),
    }
}

/// Keeps a condition's transition time when neither its status nor its reason changed.
pub fn condition(old: &Value, kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let previous = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    if let Some(p) = previous
        && p.get("status").and_then(Value::as_str) == Some(status)
        && p.get("reason").and_then(Value::as_str) == Some(reason)
    {
        return p.clone();
    }
    let at = now();
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
    })
}
