//! [`ControlPlaneObjects`]: the Kubernetes objects of a Linkerd control plane, as the cluster
//! layer fetched them, and typed reads of the fields this module uses.
//!
//! Objects stay `serde_json::Value` so that the cluster layer can hand over what the API
//! returned (or a manifest parsed from YAML) without a lossy round trip through typed structs,
//! and so that JSON patches apply to exactly what will be sent.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::Value;

use super::LinkerdError;

pub const LINKERD_CONFIG: &str = "linkerd-config";
pub const TRUST_ROOTS: &str = "linkerd-identity-trust-roots";
pub const ISSUER_SECRET: &str = "linkerd-identity-issuer";
pub const OVERRIDES: &str = "linkerd-config-overrides";
pub const IDENTITY_DEPLOYMENT: &str = "linkerd-identity";
/// The env var every proxy reads its trust anchors from.
pub const PROXY_ANCHORS_ENV: &str = "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS";

/// The control-plane objects detection, reading and planning work on. Absent objects are
/// `None`: which absences are errors depends on the layout.
///
/// `Debug` names the objects present and never their contents: the issuer Secret and the
/// overrides hold the issuer's private key.
#[derive(Clone, Default)]
pub struct ControlPlaneObjects {
    /// The control-plane namespace (`linkerd` unless installed elsewhere).
    pub namespace: String,
    /// ConfigMap `linkerd-config`.
    pub linkerd_config: Option<Value>,
    /// ConfigMap `linkerd-identity-trust-roots` (2.11+).
    pub trust_roots: Option<Value>,
    /// Secret `linkerd-identity-issuer`.
    pub issuer_secret: Option<Value>,
    /// Secret `linkerd-config-overrides` (2.9+, CLI installs only).
    pub overrides: Option<Value>,
    /// Every Deployment of the control-plane namespace.
    pub deployments: Vec<Value>,
}

impl ControlPlaneObjects {
    /// Picks the control-plane objects of `namespace` out of parsed manifests (for instance a
    /// `linkerd install` output read with `serde_saphyr::from_multiple`); other objects and
    /// empty documents are ignored.
    pub fn from_manifests<'a>(docs: impl IntoIterator<Item = &'a Value>, namespace: &str) -> Self {
        let mut objects = Self {
            namespace: namespace.to_owned(),
            ..Self::default()
        };
        for doc in docs {
            if doc.pointer("/metadata/namespace").and_then(Value::as_str) != Some(namespace) {
                continue;
            }
            let name = doc.pointer("/metadata/name").and_then(Value::as_str);
            let slot = match (doc.get("kind").and_then(Value::as_str), name) {
                (Some("ConfigMap"), Some(LINKERD_CONFIG)) => &mut objects.linkerd_config,
                (Some("ConfigMap"), Some(TRUST_ROOTS)) => &mut objects.trust_roots,
                (Some("Secret"), Some(ISSUER_SECRET)) => &mut objects.issuer_secret,
                (Some("Secret"), Some(OVERRIDES)) => &mut objects.overrides,
                (Some("Deployment"), Some(_)) => {
                    objects.deployments.push(doc.clone());
                    continue;
                }
                _ => continue,
            };
            *slot = Some(doc.clone());
        }
        objects
    }

    /// The object `target` names, if present.
    pub fn get(&self, target: &ObjectRef) -> Option<&Value> {
        self.iter()
            .find(|o| ObjectRef::of(o).as_ref() == Some(target))
    }

    /// The object `target` names, for changing in place.
    pub fn get_mut(&mut self, target: &ObjectRef) -> Option<&mut Value> {
        let singles = [
            &mut self.linkerd_config,
            &mut self.trust_roots,
            &mut self.issuer_secret,
            &mut self.overrides,
        ];
        singles
            .into_iter()
            .filter_map(Option::as_mut)
            .chain(self.deployments.iter_mut())
            .find(|o| ObjectRef::of(o).as_ref() == Some(target))
    }

    /// Every object present.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        [
            &self.linkerd_config,
            &self.trust_roots,
            &self.issuer_secret,
            &self.overrides,
        ]
        .into_iter()
        .filter_map(Option::as_ref)
        .chain(self.deployments.iter())
    }

    /// The Deployment called `name`, if present.
    pub fn deployment(&self, name: &str) -> Option<&Value> {
        self.deployments
            .iter()
            .find(|d| d.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
    }
}

impl fmt::Debug for ControlPlaneObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present: Vec<String> = self
            .iter()
            .filter_map(ObjectRef::of)
            .map(|r| r.to_string())
            .collect();
        f.debug_struct("ControlPlaneObjects")
            .field("namespace", &self.namespace)
            .field("objects", &present)
            .finish()
    }
}

/// A Kubernetes object by kind, namespace and name; prints as `configmap linkerd/linkerd-config`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The reference of an object value, when it has kind and name.
    pub fn of(object: &Value) -> Option<Self> {
        Some(Self::new(
            object.get("kind")?.as_str()?,
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            object.pointer("/metadata/name")?.as_str()?,
        ))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.kind.to_lowercase(),
            self.namespace,
            self.name
        )
    }
}

/// Names an object that may be absent, for error messages.
pub(crate) fn describe(kind: &str, namespace: &str, name: &str) -> String {
    ObjectRef::new(kind, namespace, name).to_string()
}

/// A ConfigMap's `data` entry.
pub(crate) fn config_data<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("data")?.get(key)?.as_str()
}

/// A Secret's entry, decoded: `data` (base64) first, then `stringData`.
pub(crate) fn secret_data(object: &Value, key: &str) -> Result<Option<String>, LinkerdError> {
    let name = ObjectRef::of(object)
        .map(|r| r.to_string())
        .unwrap_or_default();
    if let Some(encoded) = object.get("data").and_then(|d| d.get(key)) {
        let encoded = encoded.as_str().unwrap_or_default();
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| LinkerdError::bad_field(&name, &format!("data.{key}"), e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            LinkerdError::bad_field(&name, &format!("data.{key}"), "is not UTF-8 text")
        })?;
        return Ok(Some(text));
    }
    Ok(object
        .get("stringData")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

pub(crate) fn base64(text: &str) -> String {
    STANDARD.encode(text)
}

pub(crate) fn unbase64(text: &str) -> Option<String> {
    String::from_utf8(STANDARD.decode(text.trim()).ok()?).ok()
}

/// Parses YAML held in a field (Helm values), keeping `yes`/`on` and `0777` as strings as the
/// Go YAML reader Linkerd uses does.
pub(crate) fn parse_yaml(text: &str, object: &str, field: &str) -> Result<Value, LinkerdError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let value: Value = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| LinkerdError::bad_field(object, field, format!("is not YAML: {e}")))?;
    Ok(if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    })
}

pub(crate) fn to_yaml(value: &Value, object: &str, field: &str) -> Result<String, LinkerdError> {
    serde_saphyr::to_string(value)
        .map_err(|e| LinkerdError::bad_field(object, field, format!("cannot be written: {e}")))
}

/// A string in a JSON tree by dotted path (`identity.issuer.scheme`).
pub(crate) fn str_at<'a>(tree: &'a Value, dotted: &str) -> Option<&'a str> {
    dotted
        .split('.')
        .try_fold(tree, |node, key| node.get(key))?
        .as_str()
}

/// Sets a value in a JSON tree by dotted path, creating maps on the way (and replacing a
/// non-map found where a map is needed).
pub(crate) fn set_at(tree: &mut Value, dotted: &str, new: Value) {
    let mut node = tree;
    for key in dotted.split('.') {
        if !node.is_object() {
            *node = Value::Object(Default::default());
        }
        let Value::Object(map) = node else {
            return;
        };
        node = map.entry(key.to_owned()).or_insert(Value::Null);
    }
    *node = new;
}

/// `(container path, container)` for every container and init container of a pod spec.
pub(crate) fn containers<'a>(
    pod_spec: &'a Value,
    base: &str,
) -> impl Iterator<Item = (String, &'a Value)> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |list| {
            pod_spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(i, c)| (format!("{base}/{list}/{i}"), c))
        })
}
