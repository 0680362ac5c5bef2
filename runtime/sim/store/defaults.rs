//! Defaults the real server sets on every write of some kinds, so that clients (and
//! Linkerd's webhook `namespaceSelector`) find them as on a real cluster.

use serde_json::{Value, json};

use crate::sim::kinds::ResourceType;

/// Sets the defaults of `obj` (as the resource `rt` shows it) that are missing.
pub(super) fn apply(rt: &ResourceType, obj: &mut Value) {
    if !rt.group.is_empty() || !obj.is_object() {
        return;
    }
    match rt.kind.as_str() {
        // The namespace lifecycle sets this label on create and update alike.
        "Namespace" => {
            let name = obj["metadata"]["name"].as_str().map(String::from);
            if let Some(name) = name
                && obj["metadata"].is_object()
            {
                let labels = &mut obj["metadata"]["labels"];
                if !labels.is_object() {
                    *labels = json!({});
                }
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
        }
        "Secret" if obj.get("type").is_none() => obj["type"] = json!("Opaque"),
        "Service" if obj["spec"].is_object() && obj["spec"].get("type").is_none() => {
            obj["spec"]["type"] = json!("ClusterIP");
        }
        _ => {}
    }
}
