//! Server-side apply with simplified field ownership.
//!
//! Each apply records the fields its manager applied in `metadata.managedFields` (the real
//! `FieldsV1` shape: `f:` for map keys, `k:` for list items by merge key). The next apply by
//! the same manager removes the fields it applied before and applies no longer, then merges
//! the applied fields. Simplified: only apply operations are recorded, a field another
//! manager also set is removed all the same, and conflicts between managers are never
//! reported.

use serde_json::{Map, Value, json};

use super::meta;
use super::patch::{merge_key, strategic_merge};

/// The fields set of an applied object, in `FieldsV1` form.
pub fn fields_of(applied: &Value) -> Value {
    let Some(map) = applied.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, v) in map {
        if matches!(k.as_str(), "apiVersion" | "kind") {
            continue;
        }
        out.insert(format!("f:{k}"), field_value(k, v));
    }
    Value::Object(out)
}

fn field_value(name: &str, v: &Value) -> Value {
    match v {
        Value::Object(_) => fields_of(v),
        Value::Array(items) => match merge_key(name, items) {
            Some(key) => {
                let mut out = Map::new();
                for item in items {
                    let id = json!({ key: item.get(key).cloned().unwrap_or(Value::Null) });
                    out.insert(format!("k:{id}"), fields_of(item));
                }
                Value::Object(out)
            }
            None => json!({}),
        },
        _ => json!({}),
    }
}

/// Removes from `obj` what `before` owned and `now` does not.
fn remove_dropped(obj: &mut Value, before: &Value, now: &Value) {
    let Some(before) = before.as_object() else {
        return;
    };
    for (path, sub) in before {
        let kept = now.get(path);
        if let Some(name) = path.strip_prefix("f:") {
            let Some(map) = obj.as_object_mut() else {
                continue;
            };
            match kept {
                None => {
                    map.remove(name);
                }
                Some(kept) => {
                    if let Some(child) = map.get_mut(name) {
                        remove_dropped(child, sub, kept);
                    }
                }
            }
        } else if let Some(id) = path.strip_prefix("k:") {
            let Ok(Value::Object(id)) = serde_json::from_str::<Value>(id) else {
                continue;
            };
            let Some(items) = obj.as_array_mut() else {
                continue;
            };
            let matches = |item: &Value| id.iter().all(|(k, v)| item.get(k) == Some(v));
            match kept {
                None => items.retain(|i| !matches(i)),
                Some(kept) => {
                    if let Some(item) = items.iter_mut().find(|i| matches(i)) {
                        remove_dropped(item, sub, kept);
                    }
                }
            }
        }
    }
}

fn managed_entry(manager: &str, api_version: &str, fields: Value) -> Value {
    json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": meta::now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    })
}

/// `current` after `manager` applied `body`; with no current object, the object to create.
pub fn apply(current: Option<&Value>, body: &Value, manager: &str, api_version: &str) -> Value {
    let fields = fields_of(body);
    let mut out = current.cloned().unwrap_or_else(|| json!({}));
    let mut managed: Vec<Value> = out
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mine = |e: &Value| e["manager"] == manager && e["operation"] == "Apply";
    if let Some(before) = managed.iter().find(|e| mine(e)) {
        remove_dropped(&mut out, &before["fieldsV1"], &fields);
    }
    strategic_merge(&mut out, body, true);
    managed.retain(|e| !mine(e));
    managed.push(managed_entry(manager, api_version, fields));
    meta::meta_mut(&mut out).insert("managedFields".into(), Value::Array(managed));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_use_the_fields_v1_shape() {
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "i"}]}}}});
        assert_eq!(
            fields_of(&body),
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers":
            {"k:{\"name\":\"web\"}": {"f:name": {}, "f:image": {}}}}}}})
        );
    }

    #[test]
    fn a_later_apply_removes_what_its_manager_dropped_only() {
        let first = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let created = apply(None, &first, "runner", "v1");
        let mut edited = created.clone();
        edited["data"]["other"] = json!("kept");
        let second = json!({"metadata": {"name": "c"}, "data": {"a": "3"}});
        let out = apply(Some(&edited), &second, "runner", "v1");
        assert_eq!(out["data"], json!({"a": "3", "other": "kept"}));
        let managed = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(managed.len(), 1);
        assert_eq!(managed[0]["fieldsV1"]["f:data"], json!({"f:a": {}}));
        // Another manager's apply leaves the first manager's fields alone.
        let third = apply(Some(&out), &json!({"data": {"z": "9"}}), "other", "v1");
        assert_eq!(third["data"], json!({"a": "3", "other": "kept", "z": "9"}));
    }

    #[test]
    fn dropped_list_items_go_by_merge_key() {
        let c = |names: &[&str]| {
            let cs: Vec<Value> = names
                .iter()
                .map(|n| json!({"name": n, "image": "i"}))
                .collect();
            json!({"spec": {"containers": cs}})
        };
        let created = apply(None, &c(&["app", "proxy"]), "m", "v1");
        let out = apply(Some(&created), &c(&["app"]), "m", "v1");
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "app", "image": "i"}])
        );
    }
}
