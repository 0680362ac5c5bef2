//! Object metadata the server owns: names, uid, timestamps, versions, generation; and the
//! validation the real server applies before storing.

use serde_json::{Map, Value, json};

use super::StoreError;
use crate::sim::kinds::ResourceType;

/// Reads `metadata.<field>` as a string.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// The object's `metadata` map, created when missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// The current time as the API server writes it (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A random version-4 UUID in its usual text form.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Drops fields whose value is `null`, as decoding into the API types does on a real server;
/// kept nulls would make every later `kubectl apply` see a change.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Checks what a body must hold before create or update: an object, the kind of the URL,
/// the URL's namespace, a valid name and string-valued labels and annotations.
pub fn check_body(
    rt: &ResourceType,
    namespace: Option<&str>,
    obj: &Value,
) -> Result<(), StoreError> {
    if !obj.is_object() {
        return Err(StoreError::BadRequest {
            message: "the request body is not an object".into(),
        });
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != rt.kind
    {
        return Err(StoreError::BadRequest {
            message: format!(
                "the kind {kind:?} of the object does not match {:?} of the URL",
                rt.kind
            ),
        });
    }
    if let Some(api_version) = obj.get("apiVersion").and_then(Value::as_str)
        && !api_version_matches(rt, api_version)
    {
        return Err(StoreError::BadRequest {
            message: format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                rt.api_version()
            ),
        });
    }
    if let (Some(url_ns), Some(body_ns)) = (namespace, meta_str(obj, "namespace"))
        && url_ns != body_ns
        && !body_ns.is_empty()
    {
        return Err(StoreError::BadRequest {
            message: "the namespace of the provided object does not match the namespace sent on the request".into(),
        });
    }
    for field in ["labels", "annotations"] {
        if let Some(map) = obj.get("metadata").and_then(|m| m.get(field))
            && !map.is_null()
            && !map
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        {
            return Err(invalid(
                rt,
                obj,
                &format!("metadata.{field}"),
                "values must be strings",
            ));
        }
    }
    Ok(())
}

/// Checks that a body or a patched object names the object of the URL, as the real server's
/// `checkName` does for updates and every patch type.
pub fn check_url_name(obj: &Value, name: &str) -> Result<(), StoreError> {
    match meta_str(obj, "name") {
        Some(body_name) if !body_name.is_empty() && body_name != name => {
            Err(StoreError::BadRequest {
                message: format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                ),
            })
        }
        _ => Ok(()),
    }
}

// The real server decodes a body only in the group version of its URL; any other is refused
// before conversion.
fn api_version_matches(rt: &ResourceType, api_version: &str) -> bool {
    api_version == rt.api_version()
}

/// Checks a name the way Kubernetes checks DNS subdomain names.
pub fn check_name(rt: &ResourceType, obj: &Value, name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    // RBAC and webhook objects allow ':' (system:…) as the real server does for path segments.
    let rbac_ok = rt.group == "rbac.authorization.k8s.io"
        && !name.is_empty()
        && !name.contains('/')
        && name != "."
        && name != "..";
    if ok || rbac_ok {
        Ok(())
    } else {
        Err(invalid(
            rt,
            obj,
            "metadata.name",
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ))
    }
}

/// An `Invalid` error for one field of an object.
pub fn invalid(rt: &ResourceType, obj: &Value, field: &str, why: &str) -> StoreError {
    StoreError::Invalid {
        kind: rt.kind.clone(),
        group: rt.group.clone(),
        name: meta_str(obj, "name").unwrap_or_default().to_string(),
        field: field.into(),
        message: why.into(),
    }
}

/// Fills what the server sets on create: name from `generateName`, namespace, uid, creation
/// time, generation, and a first status for namespaces and pods.
pub fn fill_on_create(rt: &ResourceType, namespace: Option<&str>, obj: &mut Value) {
    obj["apiVersion"] = json!(rt.stored_api_version());
    obj["kind"] = json!(rt.kind);
    let has_spec = obj.get("spec").is_some();
    let meta = meta_mut(obj);
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
    {
        let suffix: String = (0..5)
            .map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[rand::random_range(0..27)]))
            .collect();
        meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
    }
    match namespace {
        Some(ns) if rt.namespaced => {
            meta.insert("namespace".into(), json!(ns));
        }
        _ => {
            meta.remove("namespace");
        }
    }
    meta.insert("uid".into(), json!(new_uid()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    meta.remove("deletionTimestamp");
    if has_spec {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => obj["status"] = json!({"phase": "Active"}),
        ("", "Pod") if obj.get("status").is_none_or(|s| s.get("phase").is_none()) => {
            obj["status"] = json!({"phase": "Pending"});
        }
        // Allocated once, from the default service range; updates keep it.
        ("", "Service")
            if obj["spec"].is_object()
                && obj["spec"]["type"] != "ExternalName"
                && obj["spec"].get("clusterIP").is_none() =>
        {
            let ip = format!(
                "10.96.{}.{}",
                rand::random_range(0..=255u8),
                rand::random_range(1..=254u8)
            );
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
            obj["spec"]["ipFamilies"] = json!(["IPv4"]);
            obj["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        }
        _ => {}
    }
}

/// Carries over what a write cannot change (uid, creation time, generation) and bumps the
/// generation when the spec changed.
pub fn carry_over(old: &Value, new: &mut Value) {
    let spec_changed = old.get("spec") != new.get("spec");
    let old_meta = old.get("metadata").cloned().unwrap_or_default();
    let meta = meta_mut(new);
    for field in ["uid", "creationTimestamp", "namespace", "name"] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    // Field ownership stays unless the write itself sets it (an apply does).
    if !meta.contains_key("managedFields")
        && let Some(m) = old_meta.get("managedFields")
    {
        meta.insert("managedFields".into(), m.clone());
    }
    let generation = old_meta.get("generation").and_then(Value::as_i64);
    if let Some(g) = generation {
        meta.insert(
            "generation".into(),
            json!(if spec_changed { g + 1 } else { g }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kinds::Registry;

    #[test]
    fn generation_moves_only_with_the_spec() {
        let old = json!({"metadata": {"name": "a", "uid": "u", "generation": 3}, "spec": {"x": 1}});
        let mut same = json!({"metadata": {"name": "a", "labels": {"l": "v"}}, "spec": {"x": 1}});
        carry_over(&old, &mut same);
        assert_eq!(same["metadata"]["generation"], 3);
        assert_eq!(same["metadata"]["uid"], "u");
        let mut changed = json!({"metadata": {"name": "a"}, "spec": {"x": 2}});
        carry_over(&old, &mut changed);
        assert_eq!(changed["metadata"]["generation"], 4);
    }

    #[test]
    fn bad_names_and_mismatched_bodies_are_refused() {
        let rt = Registry::default().lookup("", "v1", "configmaps").unwrap();
        let obj = json!({"kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
        assert!(matches!(
            check_name(&rt, &obj, "Bad_Name"),
            Err(StoreError::Invalid { .. })
        ));
        let secret = json!({"kind": "Secret", "metadata": {"name": "a"}});
        assert!(matches!(
            check_body(&rt, Some("ns"), &secret),
            Err(StoreError::BadRequest { .. })
        ));
        let other_ns = json!({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "b"}});
        assert!(check_body(&rt, Some("a"), &other_ns).is_err());
        assert!(check_body(&rt, Some("b"), &other_ns).is_ok());
    }
}
