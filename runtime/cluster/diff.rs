//! What a write changes, field by field, shown without key material.
//!
//! A dry-run compares the current object with the server's dry-run answer. Values that may
//! be secret (Secret `data`/`stringData`, PEM private keys, fields named like keys, tokens or
//! passwords) appear only as a sha256 prefix, so that two runs can still be compared; a
//! certificate appears as its subject and fingerprint.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One changed field: `data.ca-bundle.crt`, old → new. `None` is an absent field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Fields the server sets on every write; a diff of them says nothing about the change.
const SERVER_FIELDS: &[&str] = &[
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.creationTimestamp",
    "metadata.uid",
    "status",
];

/// The changed leaves between `old` and `new`, in path order, every value made safe to print.
pub fn diff(kind: &str, old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(kind, String::new(), Some(old), Some(new), &mut changes);
    changes
}

fn walk(
    kind: &str,
    path: String,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    if SERVER_FIELDS.contains(&path.as_str()) || old == new {
        return;
    }
    if let (Some(Value::Object(a)), Some(Value::Object(b))) = (old, new) {
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            walk(kind, child, a.get(key), b.get(key), out);
        }
        return;
    }
    // Arrays are compared item by item, so that one changed env value of one container
    // shows as `spec.template.spec.containers[0].env[3].value`, not as two whole arrays.
    if let (Some(Value::Array(a)), Some(Value::Array(b))) = (old, new) {
        for i in 0..a.len().max(b.len()) {
            walk(kind, format!("{path}[{i}]"), a.get(i), b.get(i), out);
        }
        return;
    }
    // Objects that appear or vanish whole are listed leaf by leaf, so that each leaf is
    // judged on its own path.
    if let Some(Value::Object(a)) = old.filter(|_| new.is_none()) {
        for (key, value) in a {
            walk(kind, format!("{path}.{key}"), Some(value), None, out);
        }
        return;
    }
    if let Some(Value::Object(b)) = new.filter(|_| old.is_none()) {
        for (key, value) in b {
            walk(kind, format!("{path}.{key}"), None, Some(value), out);
        }
        return;
    }
    out.push(FieldChange {
        old: old.map(|v| show(kind, &path, v)),
        new: new.map(|v| show(kind, &path, v)),
        path,
    });
}

/// A value as it may be printed.
pub fn show(kind: &str, path: &str, value: &Value) -> String {
    let secret_data =
        kind == "Secret" && (path.starts_with("data.") || path.starts_with("stringData."));
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if secret_data {
        // Secret `data` is base64: describe what it holds, not its encoding.
        let bytes = match value {
            Value::String(s) if path.starts_with("data.") => {
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .unwrap_or_else(|_| s.clone().into_bytes())
            }
            _ => text.into_bytes(),
        };
        return describe_bytes(&bytes);
    }
    if text.contains("PRIVATE KEY") || looks_secret(path) {
        return describe_bytes(text.as_bytes());
    }
    if text.contains("-----BEGIN CERTIFICATE-----") {
        return describe_certificates(&text);
    }
    match value {
        Value::String(_) => format!("{text:?}"),
        _ => text,
    }
}

fn looks_secret(path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
    ["key", "token", "password", "secret"]
        .iter()
        .any(|word| leaf.contains(word))
        && !leaf.ends_with(".crt")
}

fn describe_bytes(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("-----BEGIN CERTIFICATE-----") && !text.contains("PRIVATE KEY") {
        return describe_certificates(&text);
    }
    let digest = hex::encode(Sha256::digest(bytes));
    format!("<{} bytes, sha256:{}>", bytes.len(), &digest[..16])
}

fn describe_certificates(text: &str) -> String {
    match crate::pki::parse_certificates(text, "a diffed field") {
        Ok(certs) if !certs.is_empty() => {
            let each: Vec<String> = certs
                .iter()
                .map(crate::pki::Certificate::describe)
                .collect();
            format!("certificate(s) [{}]", each.join("; "))
        }
        _ => describe_bytes(text.replace("CERTIFICATE", "UNPARSED").as_bytes()),
    }
}

/// The changes as lines for the human output: `  path: old → new`.
pub fn render(changes: &[FieldChange]) -> String {
    let absent = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
    changes
        .iter()
        .map(|c| format!("    {}: {} → {}\n", c.path, absent(&c.old), absent(&c.new)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn self_signed(cn: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn leaves_are_listed_by_path_and_server_fields_are_left_out() {
        let old = json!({"metadata": {"resourceVersion": "1", "labels": {"a": "1"}},
                         "data": {"x": "1"}});
        let new = json!({"metadata": {"resourceVersion": "2", "labels": {"a": "2"}},
                         "data": {"x": "1", "y": {"z": 3}}});
        let (mut old, mut new) = (old, new);
        old["spec"] = json!({"env": [{"name": "A", "value": "1"}, {"name": "B"}]});
        new["spec"] = json!({"env": [{"name": "A", "value": "2"}]});
        let changes = diff("ConfigMap", &old, &new);
        let shown: Vec<_> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.old.as_deref(), c.new.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("data.y.z", None, Some("3")),
                ("metadata.labels.a", Some("\"1\""), Some("\"2\"")),
                ("spec.env[0].value", Some("\"1\""), Some("\"2\"")),
                ("spec.env[1].name", Some("\"B\""), None),
            ]
        );
    }

    #[test]
    fn certificates_show_subject_and_fingerprint_and_secrets_only_a_fingerprint() {
        let cert = self_signed("root.linkerd.cluster.local");
        let old = json!({"data": {"ca-bundle.crt": cert, "api-token": "hunter2"}});
        let new = json!({"data": {"ca-bundle.crt": "", "api-token": "hunter3"}});
        let changes = diff("ConfigMap", &old, &new);
        let bundle = changes
            .iter()
            .find(|c| c.path == "data.ca-bundle.crt")
            .unwrap();
        let old_bundle = bundle.old.as_deref().unwrap();
        assert!(old_bundle.starts_with("certificate(s) [CN=root.linkerd.cluster.local (sha256 "));
        let token = changes.iter().find(|c| c.path == "data.api-token").unwrap();
        assert!(
            token
                .old
                .as_deref()
                .unwrap()
                .starts_with("<7 bytes, sha256:")
        );
        assert!(!format!("{changes:?}").contains("hunter"));
    }

    #[test]
    fn secret_data_is_decoded_before_it_is_fingerprinted() {
        use base64::Engine as _;
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let key = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let old = json!({"data": {"tls.key": encode(key), "ca.crt": encode(&self_signed("ca"))}});
        let new = json!({"data": {"tls.key": encode("other")}});
        let changes = diff("Secret", &old, &new);
        let rendered = render(&changes);
        assert!(
            !rendered.contains("PRIVATE") && !rendered.contains("AAAA"),
            "{rendered}"
        );
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        assert!(rendered.contains(&format!(
            "    data.tls.key: <{} bytes, sha256:{}>",
            key.len(),
            &digest[..16]
        )));
        assert!(
            rendered.contains("    data.ca.crt: certificate(s) [CN=ca (sha256 "),
            "{rendered}"
        );
        assert!(rendered.contains(" → (absent)\n"));
    }
}
