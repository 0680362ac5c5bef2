//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's typed
//! commands (`create configmap|secret|deployment|service|role|quota|pdb|ingress|…`, `run`)
//! send them.
//!
//! A body is the 4-byte magic `k8s\0` and a `runtime.Unknown` envelope naming the kind and
//! holding the encoded object. The generated `k8s-pb` types have no serde support, so each
//! accepted kind is converted to JSON by a field table ([`json`]); unset fields stay absent,
//! as on the real server. Kinds not in [`KINDS`] (custom resources among them) are refused
//! with 415, as a real server refuses protobuf for custom resources, which tells the client
//! to send JSON.

mod core;
pub mod json;
mod kinds;

use k8s_pb::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as corev1};
use k8s_pb::api::{networking::v1 as net, policy::v1 as policy};
use k8s_pb::api::{rbac::v1 as rbac, scheduling::v1 as scheduling};
use prost::Message;
use serde_json::{Value, json};

use json::ToJson;

const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtobufError {
    #[error("decoding the protobuf body: {message}")]
    Decode { message: String },
    #[error("protobuf bodies of kind {kind} are not supported; send JSON")]
    UnsupportedKind { kind: String },
}

fn decode_err(e: impl std::fmt::Display) -> ProtobufError {
    ProtobufError::Decode {
        message: e.to_string(),
    }
}

type Convert = fn(&[u8]) -> Result<Value, ProtobufError>;

fn convert<T: Message + Default + ToJson>(raw: &[u8]) -> Result<Value, ProtobufError> {
    Ok(T::decode(raw).map_err(decode_err)?.to_json())
}

/// The kinds accepted in protobuf, by `apiVersion` and `kind`.
pub const KINDS: &[(&str, &str, Convert)] = &[
    ("v1", "ConfigMap", convert::<corev1::ConfigMap>),
    ("v1", "Secret", convert::<corev1::Secret>),
    ("v1", "Namespace", convert::<corev1::Namespace>),
    ("v1", "ServiceAccount", convert::<corev1::ServiceAccount>),
    ("v1", "Pod", convert::<corev1::Pod>),
    ("v1", "Service", convert::<corev1::Service>),
    ("v1", "ResourceQuota", convert::<corev1::ResourceQuota>),
    ("apps/v1", "Deployment", convert::<apps::Deployment>),
    ("apps/v1", "StatefulSet", convert::<apps::StatefulSet>),
    ("apps/v1", "DaemonSet", convert::<apps::DaemonSet>),
    ("apps/v1", "ReplicaSet", convert::<apps::ReplicaSet>),
    ("batch/v1", "Job", convert::<batch::Job>),
    ("batch/v1", "CronJob", convert::<batch::CronJob>),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        convert::<rbac::Role>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        convert::<rbac::ClusterRole>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        convert::<rbac::RoleBinding>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        convert::<rbac::ClusterRoleBinding>,
    ),
    (
        "policy/v1",
        "PodDisruptionBudget",
        convert::<policy::PodDisruptionBudget>,
    ),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        convert::<scheduling::PriorityClass>,
    ),
    ("networking.k8s.io/v1", "Ingress", convert::<net::Ingress>),
];

/// Decodes a protobuf body into the JSON object it stands for.
///
/// # Errors
///
/// `Decode` for a body without the magic prefix or with bad encoding, `UnsupportedKind` for
/// a kind not converted here.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| decode_err("missing the k8s magic prefix"))?;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest).map_err(decode_err)?;
    let tm = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
    );
    let Some((_, _, convert)) = KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
    else {
        return Err(ProtobufError::UnsupportedKind {
            kind: format!("{api_version}/{kind}"),
        });
    };
    let mut obj = convert(&unknown.raw.unwrap_or_default())?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// Encodes an object the way kubectl does, for tests of [`decode`].
pub fn encode_envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

#[cfg(test)]
mod tests {
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;

    use super::*;

    #[test]
    fn a_config_map_round_trips() {
        let cm = corev1::ConfigMap {
            metadata: Some(meta::ObjectMeta {
                name: Some("cfg".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            }),
            data: [("k".to_string(), "v".to_string())].into(),
            ..Default::default()
        };
        let body = encode_envelope("v1", "ConfigMap", cm.encode_to_vec());
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "ns"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn secrets_are_base64_and_other_kinds_refused() {
        let s = corev1::Secret {
            data: [("tls.crt".to_string(), b"pem".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&encode_envelope("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!(v["data"]["tls.crt"], "cGVt");
        let err = decode(&encode_envelope(
            "linkerd.io/v1alpha2",
            "ServiceProfile",
            Vec::new(),
        ));
        assert_eq!(
            err.unwrap_err().to_string(),
            "protobuf bodies of kind linkerd.io/v1alpha2/ServiceProfile are not supported; send JSON"
        );
        assert!(decode(b"{}").is_err());
    }
}

#[cfg(test)]
mod zero_values {
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;

    use super::*;

    // kubectl (Go) encodes every by-value field; the server must not store those zeros.
    #[test]
    fn unset_by_value_fields_stay_absent_and_pointer_zeros_stay() {
        let d = apps::Deployment {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".into()),
                generate_name: Some(String::new()),
                namespace: Some(String::new()),
                generation: Some(0),
                ..Default::default()
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(0),
                min_ready_seconds: Some(0),
                paused: Some(false),
                template: Some(corev1::PodTemplateSpec {
                    metadata: None,
                    spec: Some(corev1::PodSpec {
                        containers: vec![corev1::Container {
                            name: Some("c".into()),
                            image: Some("nginx".into()),
                            working_dir: Some(String::new()),
                            stdin: Some(false),
                            tty: Some(false),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let v = decode(&encode_envelope("apps/v1", "Deployment", d.encode_to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 0, "template": {"spec": {
                    "containers": [{"name": "c", "image": "nginx"}]}}}})
        );
    }

    #[test]
    fn int_or_string_and_inline_fields_take_their_json_shape() {
        use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
        let pdb = policy::PodDisruptionBudget {
            metadata: None,
            spec: Some(policy::PodDisruptionBudgetSpec {
                min_available: Some(IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: Some("50%".into()),
                }),
                max_unavailable: None,
                ..Default::default()
            }),
            status: None,
        };
        let v = decode(&encode_envelope(
            "policy/v1",
            "PodDisruptionBudget",
            pdb.encode_to_vec(),
        ))
        .unwrap();
        assert_eq!(v["spec"], json!({"minAvailable": "50%"}));
    }
}
