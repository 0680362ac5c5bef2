//! Typed decoding of every written object, as the real server decodes a body into its Go type
//! before storing it: a value of the wrong type is refused (and would otherwise break every
//! typed client that lists the kind), and fields the type does not carry are found by
//! comparing the object with its typed round trip, then refused or dropped as
//! `fieldValidation` asks.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, coordination, core, discovery, events,
    networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::StoreError;
use crate::sim::kinds::ResourceType;

/// What to do with fields the kind's type does not have (the `fieldValidation` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and report each as a warning (the real server's default).
    #[default]
    Warn,
    /// Refuse the write.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter; absent or empty is the default, `Warn`.
    ///
    /// # Errors
    ///
    /// `BadRequest` for any other value, in the real server's words.
    pub fn parse(value: Option<&str>) -> Result<Self, StoreError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(StoreError::BadRequest {
                message: format!(
                    "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
                ),
            }),
        }
    }
}

/// Decodes `obj` (the object as the resource `rt` shows it) into its `k8s-openapi` type and
/// removes the fields the type does not carry. Returns the warnings for those fields (empty
/// unless `Warn`). Kinds without a type (custom resources, removed beta versions) pass as
/// they are.
///
/// # Errors
///
/// `BadRequest` when the object does not decode, or, with `Strict`, names an unknown field.
pub fn check(
    rt: &ResourceType,
    obj: &mut Value,
    validation: FieldValidation,
) -> Result<Vec<String>, StoreError> {
    fold_string_data(rt, obj);
    super::defaults::apply(rt, obj);
    let mut candidate = obj.clone();
    // The type checks `apiVersion` and `kind`; those are the URL's, whatever the body said.
    candidate["apiVersion"] = Value::String(rt.api_version());
    candidate["kind"] = Value::String(rt.kind.clone());
    let Some(typed) = round_trip(rt, &candidate) else {
        return Ok(Vec::new());
    };
    let typed = typed.map_err(|message| StoreError::BadRequest {
        message: format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {message}",
            kind = rt.kind,
            version = rt.version
        ),
    })?;
    let mut unknown = Vec::new();
    prune(obj, &typed, "", &mut unknown);
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            let listed: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            Err(StoreError::BadRequest {
                message: format!("strict decoding error: {}", listed.join(", ")),
            })
        }
        FieldValidation::Warn => Ok(unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

// A Secret's `stringData` is write-only: the real server merges it into `data`, base64
// encoded, over what `data` holds, and never stores it. Values that are not strings are left
// for decoding to refuse.
fn fold_string_data(rt: &ResourceType, obj: &mut Value) {
    use base64::Engine;
    if !(rt.group.is_empty() && rt.kind == "Secret") {
        return;
    }
    let Some(Value::Object(plain)) = obj.get("stringData") else {
        return;
    };
    if !plain.values().all(Value::is_string) {
        return;
    }
    let encoded: Vec<(String, Value)> = plain
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().unwrap_or_default();
            let b64 = base64::engine::general_purpose::STANDARD.encode(text);
            (k.clone(), Value::String(b64))
        })
        .collect();
    if let Some(m) = obj.as_object_mut() {
        m.remove("stringData");
        let data = m
            .entry("data")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(data) = data.as_object_mut() {
            data.extend(encoded);
        }
    }
}

// Removes from `obj` what `typed` lacks, recording each removed field's path.
fn prune(obj: &mut Value, typed: &Value, path: &str, unknown: &mut Vec<String>) {
    match (obj, typed) {
        (Value::Object(fields), Value::Object(kept)) => {
            fields.retain(|key, value| {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match kept.get(key) {
                    Some(t) => {
                        prune(value, t, &here, unknown);
                        true
                    }
                    None => {
                        unknown.push(here);
                        false
                    }
                }
            });
        }
        (Value::Array(items), Value::Array(kept)) => {
            for (i, (item, t)) in items.iter_mut().zip(kept).enumerate() {
                prune(item, t, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

fn decode<K: Resource + DeserializeOwned + Serialize>(obj: &Value) -> Result<Value, String> {
    let typed = K::deserialize(obj).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

// The typed round trip of `obj`, or `None` when no type fits the resource.
macro_rules! dispatch {
    ($rt:expr, $obj:expr, $($ty:ty),+ $(,)?) => {{
        let rt: &ResourceType = $rt;
        $(
            if <$ty as Resource>::GROUP == rt.group
                && <$ty as Resource>::VERSION == rt.version
                && <$ty as Resource>::KIND == rt.kind
            {
                return Some(decode::<$ty>($obj));
            }
        )+
        None
    }};
}

fn round_trip(rt: &ResourceType, obj: &Value) -> Option<Result<Value, String>> {
    dispatch!(
        rt,
        obj,
        core::v1::Namespace,
        core::v1::ConfigMap,
        core::v1::Secret,
        core::v1::Pod,
        core::v1::ServiceAccount,
        core::v1::Event,
        core::v1::Service,
        core::v1::Endpoints,
        core::v1::PersistentVolumeClaim,
        core::v1::Node,
        core::v1::PersistentVolume,
        core::v1::ResourceQuota,
        core::v1::LimitRange,
        core::v1::PodTemplate,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ControllerRevision,
        events::v1::Event,
        batch::v1::Job,
        batch::v1::CronJob,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        apiextensions::v1::CustomResourceDefinition,
        apiregistration::v1::APIService,
        policy::v1::PodDisruptionBudget,
        coordination::v1::Lease,
        networking::v1::NetworkPolicy,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        discovery::v1::EndpointSlice,
        scheduling::v1::PriorityClass,
        storage::v1::StorageClass,
        autoscaling::v2::HorizontalPodAutoscaler,
    )
}
