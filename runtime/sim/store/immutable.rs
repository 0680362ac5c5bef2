//! What an update or patch may not change, decided in one place for every kind: the real
//! server's `ValidateObjectMetaUpdate` and the per-kind update validation (selectors of the
//! apps workloads, immutable ConfigMaps and Secrets, a Service's cluster IP, a Job's
//! template). Each refused field is reported as the real server words it.

use serde_json::Value;

use super::StoreError;
use super::meta::meta_str;
use crate::sim::kinds::ResourceType;

/// Why one field was refused: the `reason` of its cause and the words before the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `FieldValueInvalid`: `Invalid value: <value>: <detail>`.
    Invalid,
    /// `FieldValueForbidden`: `Forbidden: <detail>`.
    Forbidden,
    /// `FieldValueRequired`: `Required value`.
    Required,
    /// `FieldValueDuplicate`: `Duplicate value: <value>`.
    Duplicate,
}

/// One refused field of a `Rejected` write.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// The field's path, `spec.selector`.
    pub field: String,
    /// The refused value as JSON text, for `Invalid`.
    pub value: String,
    pub detail: String,
}

impl FieldError {
    pub fn invalid(field: &str, value: Option<&Value>, detail: &str) -> Self {
        Self {
            kind: FieldErrorKind::Invalid,
            field: field.into(),
            value: value.map_or_else(|| "null".into(), Value::to_string),
            detail: detail.into(),
        }
    }

    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            value: String::new(),
            detail: detail.into(),
        }
    }

    pub fn required(field: &str) -> Self {
        Self {
            kind: FieldErrorKind::Required,
            field: field.into(),
            value: String::new(),
            detail: String::new(),
        }
    }

    pub fn duplicate(field: &str, value: &Value) -> Self {
        Self {
            kind: FieldErrorKind::Duplicate,
            field: field.into(),
            value: value.to_string(),
            detail: String::new(),
        }
    }

    /// The cause's `reason`.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
        }
    }

    /// The cause's `message`, without the field.
    pub fn message(&self) -> String {
        match self.kind {
            FieldErrorKind::Invalid => format!("Invalid value: {}: {}", self.value, self.detail),
            FieldErrorKind::Forbidden => format!("Forbidden: {}", self.detail),
            FieldErrorKind::Required => "Required value".into(),
            FieldErrorKind::Duplicate => format!("Duplicate value: {}", self.value),
        }
    }
}

/// The kind as the real server names it in messages: `Deployment.apps`, `ConfigMap`.
pub fn qualified(kind: &str, group: &str) -> String {
    if group.is_empty() {
        kind.into()
    } else {
        format!("{kind}.{group}")
    }
}

/// The errors as the real server lists them after `is invalid:` (brackets when several).
pub fn summary(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message()))
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", parts.join(", ")),
    }
}

const IMMUTABLE: &str = "field is immutable";
const LOCKED: &str = "field is immutable when `immutable` is set";

/// Keeps what the server allocated when the new object leaves it out, as the real Service
/// registry keeps the cluster IP of an update that does not name one.
pub(super) fn keep_allocated(rt: &ResourceType, old: &Value, new: &mut Value) {
    if !(rt.group.is_empty() && rt.kind == "Service" && new["spec"].is_object()) {
        return;
    }
    let external = new["spec"]["type"].as_str() == Some("ExternalName");
    for field in ["clusterIP", "clusterIPs"] {
        if !external
            && new["spec"].get(field).is_none()
            && let Some(v) = old["spec"].get(field)
        {
            new["spec"][field] = v.clone();
        }
    }
}

/// Refuses a write that changes what may not change.
///
/// # Errors
///
/// `Rejected` naming every such field.
pub(super) fn check(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    if let Some(uid) = meta_str(new, "uid").filter(|u| !u.is_empty())
        && Some(uid) != meta_str(old, "uid")
    {
        errors.push(FieldError::invalid(
            "metadata.uid",
            new["metadata"].get("uid"),
            IMMUTABLE,
        ));
    }
    let same = |path: &[&str]| pointer(old, path) == pointer(new, path);
    let mut immutable = |path: &[&str], field: &str| {
        if !same(path) {
            errors.push(FieldError::invalid(field, pointer(new, path), IMMUTABLE));
        }
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            immutable(&["spec", "selector"], "spec.selector");
        }
        ("batch", "Job") => {
            immutable(&["spec", "selector"], "spec.selector");
            immutable(&["spec", "template"], "spec.template");
        }
        ("", "Service") => {
            let had = old["spec"]["clusterIP"]
                .as_str()
                .is_some_and(|ip| !ip.is_empty());
            if had && new["spec"]["type"].as_str() != Some("ExternalName") {
                immutable(&["spec", "clusterIP"], "spec.clusterIP");
            }
        }
        ("", "Secret") => immutable(&["type"], "type"),
        _ => {}
    }
    if rt.group.is_empty() && matches!(rt.kind.as_str(), "ConfigMap" | "Secret") {
        locked_data(old, new, &mut errors);
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(StoreError::Rejected {
        kind: rt.kind.clone(),
        group: rt.group.clone(),
        name: meta_str(old, "name").unwrap_or_default().into(),
        errors,
    })
}

// An immutable ConfigMap or Secret keeps its data and stays immutable.
fn locked_data(old: &Value, new: &Value, errors: &mut Vec<FieldError>) {
    if old.get("immutable") != Some(&Value::Bool(true)) {
        return;
    }
    if new.get("immutable") != Some(&Value::Bool(true)) {
        errors.push(FieldError::forbidden("immutable", LOCKED));
    }
    for field in ["data", "binaryData"] {
        if old.get(field) != new.get(field) {
            errors.push(FieldError::forbidden(field, LOCKED));
        }
    }
}

fn pointer<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(*key))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sim::kinds::Registry;

    fn rt(group: &str, version: &str, plural: &str) -> std::sync::Arc<ResourceType> {
        Registry::default().lookup(group, version, plural).unwrap()
    }

    #[test]
    fn a_changed_selector_and_uid_are_both_reported() {
        let old = json!({"metadata": {"name": "web", "uid": "a"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let new = json!({"metadata": {"name": "web", "uid": "b"},
            "spec": {"selector": {"matchLabels": {"app": "api"}}}});
        let err = check(&rt("apps", "v1", "deployments"), &old, &new).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Deployment.apps \"web\" is invalid: [metadata.uid: Invalid value: \"b\": field is immutable, \
             spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"api\"}}: field is immutable]"
        );
    }

    #[test]
    fn an_immutable_config_map_keeps_its_data_and_its_flag() {
        let cms = rt("", "v1", "configmaps");
        let old = json!({"metadata": {"name": "c"}, "data": {"k": "v"}, "immutable": true});
        let relabelled = json!({"metadata": {"name": "c", "labels": {"l": "v"}},
            "data": {"k": "v"}, "immutable": true});
        assert!(check(&cms, &old, &relabelled).is_ok());
        let unlocked = json!({"metadata": {"name": "c"}, "data": {"k": "w"}});
        let err = check(&cms, &old, &unlocked).unwrap_err().to_string();
        assert_eq!(
            err,
            "ConfigMap \"c\" is invalid: [immutable: Forbidden: field is immutable when \
             `immutable` is set, data: Forbidden: field is immutable when `immutable` is set]"
        );
    }

    #[test]
    fn a_service_keeps_its_cluster_ip_unless_it_names_another() {
        let svc = rt("", "v1", "services");
        let old = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.7"}});
        let mut kept = json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}});
        keep_allocated(&svc, &old, &mut kept);
        assert_eq!(kept["spec"]["clusterIP"], "10.96.0.7");
        assert!(check(&svc, &old, &kept).is_ok());
        let moved = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.8"}});
        assert!(check(&svc, &old, &moved).is_err());
    }
}
