//! The four patch types: JSON merge, strategic merge, JSON patch and server-side apply.
//!
//! Strategic merge knows the merge keys of the list fields workloads use (containers, env,
//! volumes, ports, …) by field name; other lists are replaced, as for types without a schema.
//! Server-side apply merges the applied fields the same way (see `apply` for ownership).

use serde_json::{Map, Value};

use super::StoreError;

/// A patch as a client sends it.
#[derive(Debug, Clone)]
pub enum Patch {
    Merge(Value),
    Strategic(Value),
    Json(json_patch::Patch),
    /// Server-side apply of `body` by the field manager `manager`.
    Apply {
        body: Value,
        manager: String,
    },
}

impl Patch {
    /// Applies the patch to `target`, returning the patched object.
    ///
    /// # Errors
    ///
    /// `Invalid` when a JSON patch operation fails (a `test` that does not hold, a missing
    /// path), `BadRequest` when a merge patch is not an object.
    pub fn apply_to(&self, target: &Value) -> Result<Value, StoreError> {
        let mut out = target.clone();
        match self {
            Patch::Merge(p) => {
                require_object(p)?;
                json_patch::merge(&mut out, p);
            }
            Patch::Strategic(p) => {
                require_object(p)?;
                check_strategic(p)?;
                strategic_merge(&mut out, p, false);
            }
            Patch::Apply { body, manager } => {
                require_object(body)?;
                let api_version = target["apiVersion"].as_str().unwrap_or_default();
                out = super::apply::apply(Some(target), body, manager, api_version);
            }
            Patch::Json(p) => {
                json_patch::patch(&mut out, p).map_err(|e| StoreError::PatchFailed {
                    message: e.to_string(),
                })?;
            }
        }
        Ok(out)
    }
}

fn require_object(p: &Value) -> Result<(), StoreError> {
    if p.is_object() {
        Ok(())
    } else {
        Err(StoreError::BadRequest {
            message: "the patch is not a JSON object".into(),
        })
    }
}

/// The merge key of a list field, found by the field's name and its items.
pub(super) fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().all(|i| i.get(k).is_some()) && !items.is_empty();
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "webhooks"
        | "sysctls" => Some("name"),
        "readinessGates" => Some("conditionType"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        _ => None,
    }
}

// The merge key a list field always declares, whatever its items hold (`ports` is left out:
// its key depends on whose ports they are).
fn declared_key(field: &str) -> Option<&'static str> {
    merge_key(field, &[]).filter(|_| field != "ports")
}

/// Refuses a strategic-merge patch the real server refuses, before anything is merged: an
/// unknown `$patch` directive, or a list item without its field's declared merge key (which
/// would otherwise replace the whole list).
fn check_strategic(patch: &Value) -> Result<(), StoreError> {
    let Some(p) = patch.as_object() else {
        return Ok(());
    };
    if let Some(directive) = p.get("$patch") {
        match directive.as_str() {
            Some("replace" | "delete" | "merge") => {}
            _ => {
                return Err(StoreError::BadRequest {
                    message: format!("unknown patch type: {directive} in map: {patch}"),
                });
            }
        }
    }
    for (field, value) in p {
        let Some(items) = value.as_array() else {
            check_strategic(value)?;
            continue;
        };
        let replaced = items
            .iter()
            .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
        for item in items {
            if let (Some(key), false, true) = (declared_key(field), replaced, item.is_object())
                && item.get(key).is_none()
                && item.get("$patch").is_none()
            {
                return Err(StoreError::BadRequest {
                    message: format!("map: {item} does not contain declared merge key: {key}"),
                });
            }
            check_strategic(item)?;
        }
    }
    Ok(())
}

// Lists of scalars whose strategy is merge rather than replace.
fn merges_scalars(field: &str) -> bool {
    field == "finalizers"
}

/// Merges `patch` into `target` with strategic-merge semantics. With `apply`, `null` values
/// are kept as written rather than deleting, as server-side apply does.
pub fn strategic_merge(target: &mut Value, patch: &Value, apply: bool) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(strip_directives(replaced));
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = p.get("$retainKeys").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|k| k.as_str().map(String::from))
            .collect()
    });
    let t = target.as_object_mut().expect("target was made an object");
    for (key, value) in p {
        if key.starts_with('$') || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(gone)) = (t.get_mut(field), value.as_array()) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if value.is_null() && !apply {
            t.remove(key);
            continue;
        }
        if value.get("$patch").and_then(Value::as_str) == Some("delete") {
            t.remove(key);
            continue;
        }
        match (t.get_mut(key), value) {
            (Some(Value::Array(have)), Value::Array(items)) => merge_list(key, have, items, apply),
            (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                strategic_merge(existing, value, apply);
            }
            _ => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, value, apply);
                if !value.is_object() {
                    fresh = strip_value(value.clone());
                }
                t.insert(key.clone(), fresh);
            }
        }
    }
    if let Some(keep) = retain {
        t.retain(|k, _| keep.contains(k));
    }
}

fn merge_list(field: &str, have: &mut Vec<Value>, items: &[Value], apply: bool) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *have = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .map(strip_value)
            .collect();
        return;
    }
    if merges_scalars(field) {
        for i in items {
            if !have.contains(i) {
                have.push(i.clone());
            }
        }
        return;
    }
    // Items without the merge key cannot be matched: such a list is replaced whole.
    let keyed = merge_key(field, items).filter(|k| items.iter().all(|i| i.get(*k).is_some()));
    let Some(key) = keyed else {
        *have = items.iter().cloned().map(strip_value).collect();
        return;
    };
    for item in items {
        let id = item.get(key);
        let pos = have.iter().position(|h| h.get(key) == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                have.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut have[i], item, apply),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item, apply);
                have.push(fresh);
            }
        }
    }
}

fn strip_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_value).collect()),
        other => other,
    }
}

fn strip_directives(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k, strip_value(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "proxy", "image": "p:1"}
        ], "tolerations": [{"key": "x"}]}})
    }

    #[test]
    fn containers_and_env_merge_by_name() {
        let patch = json!({"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2"}]},
            {"name": "proxy", "$patch": "delete"}
        ]}});
        let out = Patch::Strategic(patch).apply_to(&pod()).unwrap();
        let cs = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0]["image"], "a:1");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn lists_without_a_key_are_replaced_and_null_deletes() {
        let patch = json!({"spec": {"tolerations": [{"key": "y"}],
            "$setElementOrder/containers": [{"name": "app"}], "containers": null}});
        let out = Patch::Strategic(patch).apply_to(&pod()).unwrap();
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "y"}]));
        assert!(out["spec"].get("containers").is_none());
        assert!(out["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn json_patch_test_failure_is_reported() {
        let p: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/spec/tolerations/0/key", "value": "nope"}
        ]))
        .unwrap();
        assert!(matches!(
            Patch::Json(p).apply_to(&pod()),
            Err(StoreError::PatchFailed { .. })
        ));
    }

    #[test]
    fn merge_patch_replaces_lists() {
        let out = Patch::Merge(json!({"spec": {"containers": [{"name": "x"}]}})).apply_to(&pod());
        assert_eq!(out.unwrap()["spec"]["containers"], json!([{"name": "x"}]));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    // JSON values whose object keys match `keys`.
    fn json_value_with(keys: &'static str) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_value_with("[a-z$/]{1,6}")
    }

    fn plain_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-z]{1,6}", json_value_with("[a-z]{1,6}"), 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        // Patches come from clients: any object patched with any object is an answer.
        #[test]
        fn any_strategic_patch_applies_without_panic(target in json_value(), patch in json_value()) {
            let _ = Patch::Strategic(patch.clone()).apply_to(&target);
            let _ = Patch::Merge(patch).apply_to(&target);
        }

        // An object without nulls or directives, applied onto itself, is unchanged.
        #[test]
        fn a_strategic_patch_of_an_object_with_itself_changes_nothing(obj in plain_object()) {
            let mut clean = obj;
            crate::sim::store::meta::strip_nulls(&mut clean);
            let out = Patch::Strategic(clean.clone()).apply_to(&clean).unwrap();
            prop_assert_eq!(out, clean);
        }
    }
}
