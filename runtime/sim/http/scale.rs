//! The `scale` subresource of Deployments, ReplicaSets and StatefulSets (`kubectl scale`):
//! an `autoscaling/v1` Scale view of `spec.replicas`, changed by PUT or PATCH.

use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::{Value, json};

use super::handlers::{Params, Target};
use super::status::ApiError;
use super::{AppState, body, json};
use crate::sim::kinds::ResourceType;
use crate::sim::store::{Patch, meta::meta_str};

/// Whether the resource has a `scale` subresource.
pub fn scalable(rt: &ResourceType) -> bool {
    rt.group == "apps"
        && matches!(
            rt.plural.as_str(),
            "deployments" | "replicasets" | "statefulsets"
        )
}

// The label selector as the text a Scale's status carries (`app=web,tier=front`).
fn selector_text(obj: &Value) -> String {
    let labels = obj["spec"]["selector"]["matchLabels"].as_object();
    let mut parts: Vec<String> = labels
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    parts.join(",")
}

fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_text(obj),
        },
    })
}

/// Serves GET, PUT and PATCH of `…/{name}/scale`.
///
/// # Errors
///
/// As the verbs on the object itself; 422 for a Scale without `spec.replicas`.
pub fn serve(
    state: &AppState,
    method: &Method,
    target: &Target,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let (store, rt, ns) = (&state.store, &target.rt, target.namespace.as_deref());
    let current = store.get(rt, ns, name)?;
    let wanted = match *method {
        Method::GET => {
            state
                .counts
                .record_object("get", &format!("{}/scale", rt.qualified()), ns, name);
            return Ok(json(&scale_of(&current)));
        }
        Method::PUT => {
            state
                .counts
                .record_object("update", &format!("{}/scale", rt.qualified()), ns, name);
            body::object(headers, bytes)?
        }
        Method::PATCH => {
            state
                .counts
                .record_object("patch", &format!("{}/scale", rt.qualified()), ns, name);
            body::patch(headers, bytes, params.get("fieldManager"))?
                .apply_to(&scale_of(&current))?
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let Some(replicas) = wanted["spec"]["replicas"].as_i64() else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("Scale \"{name}\" is invalid: spec.replicas: Required value"),
        ));
    };
    let mut change = json!({"spec": {"replicas": replicas}});
    // A version in the Scale pins the object's version, as on the object itself.
    if let Some(rv) = meta_str(&wanted, "resourceVersion").filter(|_| *method == Method::PUT) {
        change["metadata"] = json!({"resourceVersion": rv});
    }
    let dry_run = params.get("dryRun") == Some("All");
    let updated = store.patch(rt, ns, name, &Patch::Merge(change), false, dry_run)?;
    Ok(json(&scale_of(&updated)))
}
