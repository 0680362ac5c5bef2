//! Loading multi-document YAML manifests (a `linkerd install` output, an application) into
//! the store, creating the namespaces they reference.

use std::path::Path;

use serde_json::{Value, json};

use super::SimError;
use super::store::{Store, StoreError};

/// The namespaces every cluster starts with.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates namespace `name` unless it exists.
///
/// # Errors
///
/// `Invalid` for a name that is not a valid namespace name.
pub fn ensure_namespace(store: &Store, name: &str) -> Result<(), StoreError> {
    let rt = store.resource_of::<k8s_openapi::api::core::v1::Namespace>()?;
    match store.create(&rt, None, json!({"metadata": {"name": name}}), false) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the namespaces every cluster starts with.
///
/// # Errors
///
/// As [`ensure_namespace`].
pub fn ensure_system_namespaces(store: &Store) -> Result<(), StoreError> {
    SYSTEM_NAMESPACES
        .iter()
        .try_for_each(|ns| ensure_namespace(store, ns))
}

/// Parses multi-document YAML into objects, expanding `List` kinds.
///
/// # Errors
///
/// The parser's message (with line and column) for malformed YAML.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    // YAML 1.1 would read `on`/`yes` as booleans and `0777` as a number in untyped values.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in docs {
        if !doc.is_object() {
            continue;
        }
        let is_list = doc["kind"].as_str().is_some_and(|k| k.ends_with("List"));
        match doc.get("items").and_then(Value::as_array) {
            Some(items) if is_list => out.extend(items.iter().filter(|i| i.is_object()).cloned()),
            _ => out.push(doc),
        }
    }
    Ok(out)
}

/// Loads every object of a manifest file; an object that exists already is replaced.
///
/// # Errors
///
/// When the file cannot be read or parsed, or an object is refused.
pub fn load_file(store: &Store, path: &Path) -> Result<usize, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadManifest {
        path: path.into(),
        source,
    })?;
    load_text(store, &text).map_err(|(kind, name, message)| match kind {
        None => SimError::ParseManifest {
            path: path.into(),
            message,
        },
        Some(kind) => SimError::LoadObject {
            path: path.into(),
            kind,
            name,
            message,
        },
    })
}

type LoadFailure = (Option<String>, String, String);

/// The metadata the API server sets and owns: never taken from a manifest.
const SERVER_SET_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];

/// Loads every object of a manifest text; returns how many were loaded.
///
/// # Errors
///
/// (kind, name, message) of the object refused, or no kind for a parse error.
pub fn load_text(store: &Store, text: &str) -> Result<usize, LoadFailure> {
    let docs = parse_documents(text).map_err(|m| (None, String::new(), m))?;
    let count = docs.len();
    for mut doc in docs {
        // `kubectl get -o yaml` of another cluster carries that cluster's identity of each
        // object; loaded here, the object gets this cluster's, as a create on a new cluster
        // gives it (and an object the sim made itself, such as kube-root-ca.crt, is updated
        // rather than refused as a change of its uid).
        if let Some(meta) = doc["metadata"].as_object_mut() {
            for field in SERVER_SET_METADATA {
                meta.remove(*field);
            }
        }
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let fail = |m: String| (Some(kind.clone()), name.clone(), m);
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let rt = store
            .registry()
            .by_kind(api_version, &kind)
            .ok_or_else(|| fail(format!("the sim does not serve {api_version} {kind}")))?;
        let ns = rt.namespaced.then(|| {
            doc["metadata"]["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string()
        });
        if let Some(ns) = &ns {
            ensure_namespace(store, ns).map_err(|e| fail(e.to_string()))?;
        }
        match store.create(&rt, ns.as_deref(), doc.clone(), false) {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                store
                    .update(&rt, ns.as_deref(), &name, doc, false, false)
                    .map_err(|e| fail(e.to_string()))?;
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_missing_namespaces() {
        let store = Store::default();
        ensure_system_namespaces(&store).unwrap();
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    namespace: app\n  data:\n    on: yes\n---\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n";
        assert_eq!(load_text(&store, text).unwrap(), 2);
        let cms = store.registry().lookup("", "v1", "configmaps").unwrap();
        assert_eq!(
            store.get(&cms, Some("app"), "a").unwrap()["data"]["on"],
            "yes"
        );
        let secrets = store.registry().lookup("", "v1", "secrets").unwrap();
        assert!(store.get(&secrets, Some("default"), "s").is_ok());
        let err =
            load_text(&store, "apiVersion: v9\nkind: Nope\nmetadata:\n  name: x\n").unwrap_err();
        assert_eq!(err.2, "the sim does not serve v9 Nope");
    }

    #[test]
    fn an_export_of_another_cluster_loads_with_this_clusters_identity() {
        let store = Store::default();
        ensure_system_namespaces(&store).unwrap();
        ensure_namespace(&store, "app").unwrap();
        // As `kubectl get cm -A -o yaml` prints them: the namespace's own kube-root-ca.crt,
        // which the sim made too, and a config map of the application.
        let text = "apiVersion: v1\nkind: List\nitems:\n\
            - apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: kube-root-ca.crt\n    namespace: app\n    uid: 0b7c1f7e-1111-2222-3333-444455556666\n    resourceVersion: \"981\"\n    creationTimestamp: \"2024-01-02T03:04:05Z\"\n  data:\n    ca.crt: exported\n\
            - apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: settings\n    namespace: app\n    uid: 9a9a9a9a-1111-2222-3333-444455556666\n    resourceVersion: \"982\"\n    generation: 4\n  data:\n    mode: fast\n";
        assert_eq!(load_text(&store, text).unwrap(), 2);
        let cms = store.registry().lookup("", "v1", "configmaps").unwrap();
        let root = store.get(&cms, Some("app"), "kube-root-ca.crt").unwrap();
        assert_eq!(root["data"]["ca.crt"], "exported");
        let settings = store.get(&cms, Some("app"), "settings").unwrap();
        assert_eq!(settings["data"]["mode"], "fast");
        assert_ne!(
            settings["metadata"]["uid"],
            "9a9a9a9a-1111-2222-3333-444455556666"
        );
        assert_ne!(settings["metadata"]["resourceVersion"], "982");
        assert_ne!(
            settings["metadata"]["creationTimestamp"],
            "2024-01-02T03:04:05Z"
        );
    }
}
