//! The OpenAPI v3 documents kubectl reads before `apply`, `create -f` and `replace -f`.
//!
//! kubectl (validation on, the default) fetches `/openapi/v3` and the document of the
//! object's group version, and looks for the PATCH operation tagged with the object's
//! group-version-kind: when it takes the `fieldValidation` query parameter, validation is left
//! to the server and kubectl needs no schemas. So each document lists, per resource, the
//! PATCH operation with its query parameters and no schemas; kubectl then computes apply
//! patches from its compiled-in types. The store honours `fieldValidation` by decoding each
//! object into its `k8s-openapi` type (`store::schema`). `/openapi/v2` is not served: kubectl only falls back to it when v3
//! is missing.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::status::ApiError;
use super::{AppState, json};
use crate::sim::kinds::{Registry, ResourceType};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v2`: not served (see the module documentation).
pub async fn v2() -> Response {
    ApiError::unknown_resource().into_response()
}

/// `/openapi/v3`: where each group version's document is.
pub async fn v3_index(State(state): State<AppState>) -> Response {
    json(&index(&state.store.registry()))
}

fn index(registry: &Registry) -> Value {
    use sha2::Digest as _;
    // The hash lets clients cache a document; it changes with the registry's content.
    let hash = hex::encode(&sha2::Sha256::digest(format!("{:?}", registry.all()))[..8]);
    let mut paths = Map::new();
    for (group, version) in registry.group_versions() {
        let p = gv_path(&group, &version);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{api/v1 | apis/GROUP/VERSION}`.
pub async fn v3_group(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return ApiError::unknown_resource().into_response(),
    };
    let registry = state.store.registry();
    match group_document(&registry, group, version) {
        Some(doc) => json(&doc),
        None => ApiError::unknown_resource().into_response(),
    }
}

fn query_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description,
        "schema": {"type": "string", "uniqueItems": true}})
}

fn patch_operation(t: &ResourceType) -> Value {
    json!({
        "description": format!("partially update the specified {}", t.kind),
        "operationId": format!("patch{}", t.kind),
        "parameters": [
            query_param("dryRun", "dry run: All"),
            query_param("fieldManager", "the name of the actor making the change"),
            query_param("fieldValidation", "Ignore, Warn or Strict: what to do with unknown fields"),
            query_param("force", "take over conflicting fields on apply"),
        ],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
    })
}

fn group_document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    for t in registry
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let base = gv_path(group, version);
        let path = if t.namespaced {
            format!("/{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("/{base}/{}/{{name}}", t.plural)
        };
        paths.insert(path, json!({"patch": patch_operation(t)}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.1", super::discovery::MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_version_has_a_patch_with_field_validation() {
        let r = Registry::default();
        let idx = index(&r);
        assert!(
            idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
        let doc = group_document(&r, "apps", "v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
    }
}
