//! [`Location`]: one place of one object that holds a copy of the trust anchors or the issuer,
//! with how to read and rewrite the text there. Reading and planning share these, so that
//! what is reported as a copy is exactly what a plan rewrites.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::LinkerdError;
use super::objects::{self, ControlPlaneObjects, ObjectRef};

/// 2.9 passes the anchors to the identity controller as this argument, base64-encoded.
pub(crate) const IDENTITY_ARG: &str = "-identity-trust-anchors-pem=";
/// 2.10 passes them as this env var of the identity container, base64-encoded.
pub(crate) const IDENTITY_ENV: &str = "LINKERD2_IDENTITY_TRUST_ANCHORS";

/// How the text sits inside the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum Slot {
    /// A ConfigMap `data` key holding the text itself.
    ConfigText { key: String },
    /// A ConfigMap `data` key holding JSON; the text is at `pointer`.
    ConfigJson { key: String, pointer: String },
    /// A ConfigMap `data` key holding YAML; the text is at the dotted path.
    ConfigYaml { key: String, path: String },
    /// A Secret `data` key (base64) holding the text itself.
    SecretText { key: String },
    /// A Secret `data` key (base64) holding YAML; the text is at the dotted path.
    SecretYaml { key: String, path: String },
    /// A string in the object at a JSON pointer (an env value, an annotation), base64 or not.
    Field { pointer: String, base64: bool },
    /// A container argument `prefix<base64>` at a JSON pointer.
    Arg { pointer: String, prefix: String },
}

/// One place that holds a copy: the object and where in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub object: ObjectRef,
    pub slot: Slot,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.object)?;
        match &self.slot {
            Slot::ConfigText { key } | Slot::SecretText { key } => write!(f, "data.{key}"),
            Slot::ConfigJson { key, pointer } => write!(f, "data.{key} {pointer}"),
            Slot::ConfigYaml { key, path } | Slot::SecretYaml { key, path } => {
                write!(f, "data.{key} {path}")
            }
            Slot::Field { pointer, base64 } if *base64 => write!(f, "{pointer} (base64)"),
            Slot::Field { pointer, .. } => f.write_str(pointer),
            Slot::Arg { pointer, prefix } => write!(f, "{pointer} {prefix}<base64>"),
        }
    }
}

impl Location {
    pub(crate) fn new(kind: &str, ns: &str, name: &str, slot: Slot) -> Self {
        Self {
            object: ObjectRef::new(kind, ns, name),
            slot,
        }
    }

    /// The text at this place, `None` when the object or the field is absent.
    ///
    /// # Errors
    ///
    /// [`LinkerdError::BadField`] when the field holds malformed base64, JSON or YAML.
    pub fn read(&self, objects: &ControlPlaneObjects) -> Result<Option<String>, LinkerdError> {
        let Some(object) = objects.get(&self.object) else {
            return Ok(None);
        };
        let name = self.object.to_string();
        Ok(match &self.slot {
            Slot::ConfigText { key } => objects::config_data(object, key).map(str::to_owned),
            Slot::ConfigJson { key, pointer } => match objects::config_data(object, key) {
                None => None,
                Some(text) => {
                    let tree: Value = serde_json::from_str(text).map_err(|e| {
                        LinkerdError::bad_field(&name, &format!("data.{key}"), e.to_string())
                    })?;
                    tree.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }
            },
            Slot::ConfigYaml { key, path } => match objects::config_data(object, key) {
                None => None,
                Some(text) => {
                    let tree = objects::parse_yaml(text, &name, &format!("data.{key}"))?;
                    objects::str_at(&tree, path).map(str::to_owned)
                }
            },
            Slot::SecretText { key } => objects::secret_data(object, key)?,
            Slot::SecretYaml { key, path } => match objects::secret_data(object, key)? {
                None => None,
                Some(text) => {
                    let tree = objects::parse_yaml(&text, &name, &format!("data.{key}"))?;
                    objects::str_at(&tree, path).map(str::to_owned)
                }
            },
            Slot::Field { pointer, base64 } => {
                match object.pointer(pointer).and_then(Value::as_str) {
                    None => None,
                    Some(text) if *base64 => Some(objects::unbase64(text).ok_or_else(|| {
                        LinkerdError::bad_field(&name, pointer, "is not base64 text")
                    })?),
                    Some(text) => Some(text.to_owned()),
                }
            }
            Slot::Arg { pointer, prefix } => {
                match object.pointer(pointer).and_then(Value::as_str) {
                    None => None,
                    Some(arg) => {
                        let encoded = arg.strip_prefix(prefix.as_str()).unwrap_or(arg);
                        Some(objects::unbase64(encoded).ok_or_else(|| {
                            LinkerdError::bad_field(&name, pointer, "is not base64 text")
                        })?)
                    }
                }
            }
        })
    }

    /// Writes `text` at this place of `object` (which must be the object this names),
    /// keeping everything else of the field as it was.
    ///
    /// # Errors
    ///
    /// [`LinkerdError::BadField`] when the enclosing JSON or YAML cannot be read or written.
    pub fn write(&self, object: &mut Value, text: &str) -> Result<(), LinkerdError> {
        let name = self.object.to_string();
        match &self.slot {
            Slot::ConfigText { key } => set_data(object, key, text.to_owned()),
            Slot::ConfigJson { key, pointer } => {
                let field = format!("data.{key}");
                let current = objects::config_data(object, key).unwrap_or("{}");
                let mut tree: Value = serde_json::from_str(current)
                    .map_err(|e| LinkerdError::bad_field(&name, &field, e.to_string()))?;
                let dotted = pointer.trim_start_matches('/').replace('/', ".");
                objects::set_at(&mut tree, &dotted, Value::String(text.to_owned()));
                // Linkerd writes this JSON as one line followed by a newline.
                set_data(object, key, format!("{tree}\n"));
            }
            Slot::ConfigYaml { key, path } => {
                let field = format!("data.{key}");
                let current = objects::config_data(object, key).unwrap_or_default();
                let mut tree = objects::parse_yaml(current, &name, &field)?;
                objects::set_at(&mut tree, path, Value::String(text.to_owned()));
                set_data(object, key, objects::to_yaml(&tree, &name, &field)?);
            }
            Slot::SecretText { key } => set_data(object, key, objects::base64(text)),
            Slot::SecretYaml { key, path } => {
                let field = format!("data.{key}");
                let current = objects::secret_data(object, key)?.unwrap_or_default();
                let mut tree = objects::parse_yaml(&current, &name, &field)?;
                objects::set_at(&mut tree, path, Value::String(text.to_owned()));
                let yaml = objects::to_yaml(&tree, &name, &field)?;
                set_data(object, key, objects::base64(&yaml));
            }
            Slot::Field { pointer, base64 } => {
                let value = if *base64 {
                    objects::base64(text)
                } else {
                    text.to_owned()
                };
                set_pointer(object, pointer, value, &name)?;
            }
            Slot::Arg { pointer, prefix } => {
                let value = format!("{prefix}{}", objects::base64(text));
                set_pointer(object, pointer, value, &name)?;
            }
        }
        Ok(())
    }
}

fn set_data(object: &mut Value, key: &str, value: String) {
    let data = object.as_object_mut().map(|o| {
        o.entry("data")
            .or_insert_with(|| Value::Object(Default::default()))
    });
    if let Some(Value::Object(data)) = data {
        data.insert(key.to_owned(), Value::String(value));
    }
}

/// Sets the string at `pointer`, adding the last key when its parent map exists (a new
/// annotation, say).
fn set_pointer(
    object: &mut Value,
    pointer: &str,
    value: String,
    name: &str,
) -> Result<(), LinkerdError> {
    if let Some(slot) = object.pointer_mut(pointer) {
        *slot = Value::String(value);
        return Ok(());
    }
    let absent = || LinkerdError::bad_field(name, pointer, "is absent");
    let (parent, key) = pointer.rsplit_once('/').ok_or_else(absent)?;
    let key = key.replace("~1", "/").replace("~0", "~");
    match object.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key, Value::String(value));
            Ok(())
        }
        _ => Err(absent()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn roundtrip(kind: &str, mut object: Value, slot: Slot, check: impl Fn(&Value)) {
        let location = Location::new(kind, "linkerd", "thing", slot);
        location.write(&mut object, "new\n").unwrap();
        check(&object);
        let objects = ControlPlaneObjects {
            namespace: "linkerd".into(),
            deployments: vec![object],
            ..ControlPlaneObjects::default()
        };
        assert_eq!(
            location.read(&objects).unwrap().as_deref(),
            Some("new\n"),
            "{location}"
        );
    }

    fn meta(kind: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": "thing", "namespace": "linkerd"}})
    }

    #[test]
    fn every_slot_reads_back_what_it_wrote_and_keeps_its_neighbours() {
        let mut cm = meta("ConfigMap");
        cm["data"] = json!({
            "global": "{\"identityContext\":{\"trustDomain\":\"cluster.local\"},\"x\":1}\n",
            "values": "a: \"on\"\nb:\n  c: old\n",
        });
        let json_slot = Slot::ConfigJson {
            key: "global".into(),
            pointer: "/identityContext/trustAnchorsPem".into(),
        };
        roundtrip("ConfigMap", cm.clone(), json_slot, |o| {
            let global: Value =
                serde_json::from_str(o["data"]["global"].as_str().unwrap()).unwrap();
            assert_eq!(global["identityContext"]["trustDomain"], "cluster.local");
            assert_eq!(global["x"], 1);
        });
        let yaml_slot = Slot::ConfigYaml {
            key: "values".into(),
            path: "b.c".into(),
        };
        roundtrip("ConfigMap", cm, yaml_slot, |o| {
            assert!(
                o["data"]["values"].as_str().unwrap().contains("a: \"on\""),
                "{o}"
            );
        });

        let mut secret = meta("Secret");
        secret["data"] =
            json!({"other": "eA==", "yaml": crate::linkerd::objects::base64("keep: 1\n")});
        let yaml_slot = Slot::SecretYaml {
            key: "yaml".into(),
            path: "x.y".into(),
        };
        roundtrip("Secret", secret.clone(), yaml_slot, |o| {
            assert_eq!(o["data"]["other"], "eA==")
        });
        roundtrip(
            "Secret",
            secret,
            Slot::SecretText {
                key: "crt.pem".into(),
            },
            |_| {},
        );

        let mut deployment = meta("Deployment");
        deployment["spec"] =
            json!({"args": ["-x", "-identity-trust-anchors-pem=b2xk"], "env": [{"value": "old"}]});
        let arg = Slot::Arg {
            pointer: "/spec/args/1".into(),
            prefix: IDENTITY_ARG.into(),
        };
        roundtrip("Deployment", deployment.clone(), arg, |o| {
            assert_eq!(o["spec"]["args"][0], "-x")
        });
        let env = Slot::Field {
            pointer: "/spec/env/0/value".into(),
            base64: true,
        };
        roundtrip("Deployment", deployment, env, |o| {
            assert_eq!(o["spec"]["env"][0]["value"], "bmV3Cg==")
        });
    }
}
