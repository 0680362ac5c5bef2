//! What the real server's validation refuses on every create and update, for the fields a
//! mistyped manifest or patch most often breaks: label and annotation keys, label values,
//! ConfigMap and Secret keys, a workload's selector and its template's labels, and the
//! containers of a pod or pod template. Each refused field is one cause of a `422 Invalid`,
//! all of them reported at once, and nothing is stored.

use serde_json::{Map, Value};

use super::StoreError;
use super::immutable::FieldError;
use super::label_grammar::{is_label_key, is_label_value};
use super::meta::meta_str;
use crate::sim::kinds::ResourceType;

const LABEL_KEY: &str = "a valid label or annotation key is an optional DNS subdomain prefix and '/', and a name of at most 63 characters: alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric character";
const LABEL_VALUE: &str = "a valid label value is empty or at most 63 characters: alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric character";
const CONFIG_KEY: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const CONTAINER_NAME: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

/// Checks `obj` (in its stored form) as the real server validates a create or an update of
/// its kind.
///
/// # Errors
///
/// `Rejected` naming every refused field.
pub(super) fn check(rt: &ResourceType, obj: &Value) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    metadata(&obj["metadata"], "metadata", &mut errors);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => pod_spec(&obj["spec"], "spec", &mut errors),
        ("", "ConfigMap") => {
            config_keys(obj, "data", &mut errors);
            config_keys(obj, "binaryData", &mut errors);
            let data = obj["data"].as_object();
            for key in obj["binaryData"]
                .as_object()
                .into_iter()
                .flat_map(Map::keys)
            {
                if data.is_some_and(|d| d.contains_key(key)) {
                    errors.push(FieldError::duplicate(
                        &format!("data[{key}]"),
                        &Value::String(key.clone()),
                    ));
                }
            }
        }
        ("", "Secret") => config_keys(obj, "data", &mut errors),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(rt, &obj["spec"], &mut errors);
        }
        _ => {}
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(StoreError::Rejected {
        kind: rt.kind.clone(),
        group: rt.group.clone(),
        name: meta_str(obj, "name").unwrap_or_default().into(),
        errors,
    })
}

fn metadata(meta: &Value, path: &str, errors: &mut Vec<FieldError>) {
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        let key_json = Value::String(key.clone());
        if !is_label_key(key) {
            errors.push(FieldError::invalid(
                &format!("{path}.labels"),
                Some(&key_json),
                LABEL_KEY,
            ));
        }
        if !value.as_str().is_some_and(is_label_value) {
            errors.push(FieldError::invalid(
                &format!("{path}.labels"),
                Some(value),
                LABEL_VALUE,
            ));
        }
    }
    for key in meta["annotations"]
        .as_object()
        .into_iter()
        .flat_map(Map::keys)
    {
        if !is_label_key(key) {
            errors.push(FieldError::invalid(
                &format!("{path}.annotations"),
                Some(&Value::String(key.clone())),
                LABEL_KEY,
            ));
        }
    }
}

fn config_keys(obj: &Value, field: &str, errors: &mut Vec<FieldError>) {
    for key in obj[field].as_object().into_iter().flat_map(Map::keys) {
        let ok = !key.is_empty()
            && key.len() <= 253
            && key != "."
            && key != ".."
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            errors.push(FieldError::invalid(
                &format!("{field}[{key}]"),
                Some(&Value::String(key.clone())),
                CONFIG_KEY,
            ));
        }
    }
}

fn workload(rt: &ResourceType, spec: &Value, errors: &mut Vec<FieldError>) {
    let selector = &spec["selector"];
    let template = &spec["template"];
    let has_terms = |field: &str| {
        selector[field].as_array().is_some_and(|a| !a.is_empty())
            || selector[field].as_object().is_some_and(|m| !m.is_empty())
    };
    if !selector.is_object() {
        errors.push(FieldError::required("spec.selector"));
    } else if !has_terms("matchLabels") && !has_terms("matchExpressions") {
        errors.push(FieldError::invalid(
            "spec.selector",
            Some(selector),
            &format!("empty selector is invalid for {}", rt.kind.to_lowercase()),
        ));
    } else {
        let labels = template["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if !selects(selector, &labels) {
            errors.push(FieldError::invalid(
                "spec.template.metadata.labels",
                Some(&Value::Object(labels)),
                SELECTOR_MISMATCH,
            ));
        }
    }
    if template.is_object() {
        metadata(&template["metadata"], "spec.template.metadata", errors);
        pod_spec(&template["spec"], "spec.template.spec", errors);
    } else {
        errors.push(FieldError::required("spec.template"));
    }
}

/// Whether a `LabelSelector` selects these labels.
fn selects(selector: &Value, labels: &Map<String, Value>) -> bool {
    let matched = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = e["key"].as_str().and_then(|k| labels.get(k));
            let listed = || {
                e["values"]
                    .as_array()
                    .is_some_and(|vs| value.is_some_and(|v| vs.contains(v)))
            };
            match e["operator"].as_str() {
                Some("In") => listed(),
                Some("NotIn") => !listed(),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        });
    matched && expressions
}

fn pod_spec(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec["containers"].as_array().filter(|c| !c.is_empty());
    if containers.is_none() {
        errors.push(FieldError::required(&format!("{path}.containers")));
    }
    let mut seen: Vec<&str> = Vec::new();
    for field in ["initContainers", "containers"] {
        for (i, c) in spec[field].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{field}[{i}]");
            match c["name"].as_str().filter(|n| !n.is_empty()) {
                None => errors.push(FieldError::required(&format!("{at}.name"))),
                Some(name) if seen.contains(&name) => {
                    errors.push(FieldError::duplicate(&format!("{at}.name"), &c["name"]));
                }
                Some(name) => {
                    let ok = name.len() <= 63
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                        && name.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                        && name.ends_with(|ch: char| ch.is_ascii_alphanumeric());
                    if !ok {
                        errors.push(FieldError::invalid(
                            &format!("{at}.name"),
                            Some(&c["name"]),
                            CONTAINER_NAME,
                        ));
                    }
                    seen.push(name);
                }
            }
            if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
                errors.push(FieldError::required(&format!("{at}.image")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sim::kinds::Registry;

    fn causes(group: &str, plural: &str, obj: &Value) -> Vec<String> {
        let rt = Registry::default().lookup(group, "v1", plural).unwrap();
        match check(&rt, obj) {
            Ok(()) => Vec::new(),
            Err(StoreError::Rejected { errors, .. }) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.reason()))
                .collect(),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn workloads_need_a_selector_that_selects_their_template() {
        let empty = json!({"metadata": {"name": "d"}, "spec": {}});
        assert_eq!(
            causes("apps", "deployments", &empty),
            [
                "spec.selector: FieldValueRequired",
                "spec.template: FieldValueRequired"
            ]
        );
        let mismatch = json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c"}]}}}});
        assert_eq!(
            causes("apps", "deployments", &mismatch),
            [
                "spec.template.metadata.labels: FieldValueInvalid",
                "spec.template.spec.containers[1].name: FieldValueDuplicate",
                "spec.template.spec.containers[1].image: FieldValueRequired",
            ]
        );
        let expressions = json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert!(causes("apps", "statefulsets", &expressions).is_empty());
    }

    #[test]
    fn labels_annotations_and_config_keys_are_checked() {
        let cm = json!({"metadata": {"name": "c", "labels": {"bad key": "v", "ok": "bad value!"},
            "annotations": {"example.com/Fine": "any text", "no//": "x"}},
            "data": {"a b": "1", "k": "v"}, "binaryData": {"k": ""}});
        assert_eq!(
            causes("", "configmaps", &cm),
            [
                "metadata.labels: FieldValueInvalid",
                "metadata.labels: FieldValueInvalid",
                "metadata.annotations: FieldValueInvalid",
                "data[a b]: FieldValueInvalid",
                "data[k]: FieldValueDuplicate",
            ]
        );
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": []}});
        assert_eq!(
            causes("", "pods", &pod),
            ["spec.containers: FieldValueRequired"]
        );
    }
}
