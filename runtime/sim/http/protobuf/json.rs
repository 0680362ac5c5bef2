//! From generated protobuf messages to the JSON the real server stores.
//!
//! kubectl encodes every field its Go type holds by value, set or not: an unset string goes
//! out as `""`, an unset number as `0`. The Go server decodes those into the same zero values
//! and leaves them out of its JSON (`omitempty`), so they are dropped here too ([`val`]).
//! Fields Go holds by pointer, or without `omitempty`, are only encoded when set and keep
//! their value, zero included ([`ptr`]). Each message lists its fields once, with the JSON
//! name and which of the two it is, in a [`to_json!`] table.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A message as the JSON object (or value) the real server would store.
pub trait ToJson {
    fn to_json(self) -> Value;
}

/// A field Go holds by value with `omitempty`: absent when unset or zero.
pub fn val<T: Serialize + Default + PartialEq>(
    out: &mut Map<String, Value>,
    key: &str,
    v: Option<T>,
) {
    if let Some(v) = v.filter(|v| *v != T::default()) {
        out.insert(key.into(), json!(v));
    }
}

/// A field Go holds by pointer (or always writes): present whenever it was sent.
pub fn ptr<T: Serialize>(out: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        out.insert(key.into(), json!(v));
    }
}

/// A nested message, present whenever it was sent.
pub fn msg<T: ToJson>(out: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        out.insert(key.into(), v.to_json());
    }
}

/// A repeated message, absent when empty.
pub fn msgs<T: ToJson>(out: &mut Map<String, Value>, key: &str, v: Vec<T>) {
    if !v.is_empty() {
        let items: Vec<Value> = v.into_iter().map(ToJson::to_json).collect();
        out.insert(key.into(), Value::Array(items));
    }
}

/// A repeated scalar, absent when empty.
pub fn list<T: Serialize>(out: &mut Map<String, Value>, key: &str, v: Vec<T>) {
    if !v.is_empty() {
        out.insert(key.into(), json!(v));
    }
}

/// A string map, absent when empty.
pub fn map(out: &mut Map<String, Value>, key: &str, v: BTreeMap<String, String>) {
    if !v.is_empty() {
        out.insert(key.into(), json!(v));
    }
}

/// A map of bytes, base64 in JSON, absent when empty.
pub fn bytes(out: &mut Map<String, Value>, key: &str, v: BTreeMap<String, Vec<u8>>) {
    if !v.is_empty() {
        let encoded: BTreeMap<String, String> = v
            .into_iter()
            .map(|(k, b)| (k, STANDARD.encode(b)))
            .collect();
        out.insert(key.into(), json!(encoded));
    }
}

/// A map of quantities (`cpu: 500m`), absent when empty.
pub fn quantities(out: &mut Map<String, Value>, key: &str, v: BTreeMap<String, Quantity>) {
    if !v.is_empty() {
        let text: BTreeMap<String, String> = v
            .into_iter()
            .map(|(k, q)| (k, q.string.unwrap_or_default()))
            .collect();
        out.insert(key.into(), json!(text));
    }
}

/// Implements [`ToJson`] for a message from its table of fields:
/// `"jsonName" => how field_name`, where `how` is one of the functions of this module.
macro_rules! to_json {
    ($ty:ty { $($json:literal => $how:ident $field:ident),* $(,)? }) => {
        impl $crate::sim::http::protobuf::json::ToJson for $ty {
            fn to_json(self) -> serde_json::Value {
                #[allow(unused_mut)]
                let mut out = serde_json::Map::new();
                $( $crate::sim::http::protobuf::json::$how(&mut out, $json, self.$field); )*
                serde_json::Value::Object(out)
            }
        }
    };
}
pub(crate) use to_json;

impl ToJson for IntOrString {
    fn to_json(self) -> Value {
        // Type 1 is a string; 0 (and unset) an integer, as Go's IntOrString encodes it.
        if self.r#type == Some(1) {
            json!(self.str_val.unwrap_or_default())
        } else {
            json!(self.int_val.unwrap_or_default())
        }
    }
}

to_json!(meta::ObjectMeta {
    "name" => val name,
    "generateName" => val generate_name,
    "namespace" => val namespace,
    "uid" => val uid,
    "resourceVersion" => val resource_version,
    "generation" => val generation,
    "deletionGracePeriodSeconds" => ptr deletion_grace_period_seconds,
    "labels" => map labels,
    "annotations" => map annotations,
    "ownerReferences" => msgs owner_references,
    "finalizers" => list finalizers,
});

to_json!(meta::OwnerReference {
    "apiVersion" => ptr api_version,
    "kind" => ptr kind,
    "name" => ptr name,
    "uid" => ptr uid,
    "controller" => ptr controller,
    "blockOwnerDeletion" => ptr block_owner_deletion,
});

to_json!(meta::LabelSelector {
    "matchLabels" => map match_labels,
    "matchExpressions" => msgs match_expressions,
});

to_json!(meta::LabelSelectorRequirement {
    "key" => ptr key,
    "operator" => ptr operator,
    "values" => list values,
});
