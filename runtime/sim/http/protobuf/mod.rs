//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's typed
//! commands (`create configmap`, `create secret`, `create deployment`, `run`, …) send them.
//!
//! A body is the 4-byte magic `k8s\0` and a `runtime.Unknown` envelope naming the kind and
//! holding the encoded object. The generated `k8s-pb` types have no serde support, so each
//! accepted kind is converted to JSON here: the fields those commands set, for ConfigMap,
//! Secret, Namespace, ServiceAccount, Pod, Job and the four apps workloads. Other kinds are
//! refused with 415, which tells the client to send JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;
use serde_json::{Map, Value, json};

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
    let raw = unknown.raw.unwrap_or_default();
    let raw = raw.as_slice();
    let mut obj = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => config_map(core::ConfigMap::decode(raw).map_err(decode_err)?),
        ("v1", "Secret") => secret(core::Secret::decode(raw).map_err(decode_err)?),
        ("v1", "Namespace") => {
            let ns = core::Namespace::decode(raw).map_err(decode_err)?;
            json!({"metadata": object_meta(ns.metadata)})
        }
        ("v1", "ServiceAccount") => {
            let sa = core::ServiceAccount::decode(raw).map_err(decode_err)?;
            let mut v = json!({"metadata": object_meta(sa.metadata)});
            if let Some(a) = sa.automount_service_account_token {
                v["automountServiceAccountToken"] = json!(a);
            }
            v
        }
        ("v1", "Pod") => {
            let pod = core::Pod::decode(raw).map_err(decode_err)?;
            json!({"metadata": object_meta(pod.metadata), "spec": pod_spec(pod.spec)})
        }
        ("apps/v1", "Deployment") => {
            let d = apps::Deployment::decode(raw).map_err(decode_err)?;
            let s = d.spec.unwrap_or_default();
            workload(d.metadata, s.replicas, s.selector, s.template)
        }
        ("apps/v1", "StatefulSet") => {
            let d = apps::StatefulSet::decode(raw).map_err(decode_err)?;
            let s = d.spec.unwrap_or_default();
            let mut v = workload(d.metadata, s.replicas, s.selector, s.template);
            if let Some(svc) = s.service_name {
                v["spec"]["serviceName"] = json!(svc);
            }
            v
        }
        ("apps/v1", "DaemonSet") => {
            let d = apps::DaemonSet::decode(raw).map_err(decode_err)?;
            let s = d.spec.unwrap_or_default();
            workload(d.metadata, None, s.selector, s.template)
        }
        ("apps/v1", "ReplicaSet") => {
            let d = apps::ReplicaSet::decode(raw).map_err(decode_err)?;
            let s = d.spec.unwrap_or_default();
            workload(d.metadata, s.replicas, s.selector, s.template)
        }
        ("batch/v1", "Job") => {
            let j = k8s_pb::api::batch::v1::Job::decode(raw).map_err(decode_err)?;
            let s = j.spec.unwrap_or_default();
            let mut v = workload(j.metadata, None, s.selector, s.template);
            let spec = v["spec"]
                .as_object_mut()
                .expect("workload spec is an object");
            put(spec, "parallelism", s.parallelism);
            put(spec, "completions", s.completions);
            put(spec, "backoffLimit", s.backoff_limit);
            v
        }
        _ => {
            return Err(ProtobufError::UnsupportedKind {
                kind: format!("{api_version}/{kind}"),
            });
        }
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

fn put<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

fn put_list<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: Vec<T>) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

fn put_map(m: &mut Map<String, Value>, key: &str, v: std::collections::BTreeMap<String, String>) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

fn object_meta(m: Option<meta::ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let mut out = Map::new();
    put(&mut out, "name", m.name);
    put(&mut out, "generateName", m.generate_name);
    put(&mut out, "namespace", m.namespace);
    put(&mut out, "resourceVersion", m.resource_version);
    put_map(&mut out, "labels", m.labels);
    put_map(&mut out, "annotations", m.annotations);
    put_list(&mut out, "finalizers", m.finalizers);
    Value::Object(out)
}

fn config_map(cm: core::ConfigMap) -> Value {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(cm.metadata));
    put_map(&mut out, "data", cm.data);
    let binary: std::collections::BTreeMap<String, String> = cm
        .binary_data
        .into_iter()
        .map(|(k, v)| (k, STANDARD.encode(v)))
        .collect();
    put_map(&mut out, "binaryData", binary);
    put(&mut out, "immutable", cm.immutable);
    Value::Object(out)
}

fn secret(s: core::Secret) -> Value {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(s.metadata));
    let data: std::collections::BTreeMap<String, String> = s
        .data
        .into_iter()
        .map(|(k, v)| (k, STANDARD.encode(v)))
        .collect();
    put_map(&mut out, "data", data);
    put_map(&mut out, "stringData", s.string_data);
    put(&mut out, "type", s.r#type);
    put(&mut out, "immutable", s.immutable);
    Value::Object(out)
}

fn label_selector(s: Option<meta::LabelSelector>) -> Option<Value> {
    let s = s?;
    let mut out = Map::new();
    put_map(&mut out, "matchLabels", s.match_labels);
    let exprs: Vec<Value> = s
        .match_expressions
        .into_iter()
        .map(|e| json!({"key": e.key, "operator": e.operator, "values": e.values}))
        .collect();
    put_list(&mut out, "matchExpressions", exprs);
    Some(Value::Object(out))
}

fn workload(
    m: Option<meta::ObjectMeta>,
    replicas: Option<i32>,
    selector: Option<meta::LabelSelector>,
    template: Option<core::PodTemplateSpec>,
) -> Value {
    let mut spec = Map::new();
    put(&mut spec, "replicas", replicas);
    put(&mut spec, "selector", label_selector(selector));
    if let Some(t) = template {
        spec.insert(
            "template".into(),
            json!({"metadata": object_meta(t.metadata), "spec": pod_spec(t.spec)}),
        );
    }
    json!({"metadata": object_meta(m), "spec": spec})
}

fn pod_spec(s: Option<core::PodSpec>) -> Value {
    let s = s.unwrap_or_default();
    let mut out = Map::new();
    let containers: Vec<Value> = s.containers.into_iter().map(container).collect();
    out.insert("containers".into(), json!(containers));
    let init: Vec<Value> = s.init_containers.into_iter().map(container).collect();
    put_list(&mut out, "initContainers", init);
    put(&mut out, "restartPolicy", s.restart_policy);
    put(&mut out, "serviceAccountName", s.service_account_name);
    put(&mut out, "nodeName", s.node_name);
    put(&mut out, "dnsPolicy", s.dns_policy);
    put(
        &mut out,
        "terminationGracePeriodSeconds",
        s.termination_grace_period_seconds,
    );
    Value::Object(out)
}

fn container(c: core::Container) -> Value {
    let mut out = Map::new();
    put(&mut out, "name", c.name);
    put(&mut out, "image", c.image);
    put_list(&mut out, "command", c.command);
    put_list(&mut out, "args", c.args);
    put(&mut out, "workingDir", c.working_dir);
    put(&mut out, "imagePullPolicy", c.image_pull_policy);
    put(&mut out, "stdin", c.stdin);
    put(&mut out, "tty", c.tty);
    let ports: Vec<Value> = c
        .ports
        .into_iter()
        .map(|p| {
            let mut m = Map::new();
            put(&mut m, "name", p.name);
            put(&mut m, "containerPort", p.container_port);
            put(&mut m, "protocol", p.protocol);
            put(&mut m, "hostPort", p.host_port);
            Value::Object(m)
        })
        .collect();
    put_list(&mut out, "ports", ports);
    let env: Vec<Value> = c
        .env
        .into_iter()
        .map(|e| {
            let mut m = Map::new();
            put(&mut m, "name", e.name);
            put(&mut m, "value", e.value);
            Value::Object(m)
        })
        .collect();
    put_list(&mut out, "env", env);
    Value::Object(out)
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
    use super::*;

    #[test]
    fn a_config_map_round_trips() {
        let cm = core::ConfigMap {
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
        let s = core::Secret {
            data: [("tls.crt".to_string(), b"pem".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let v = decode(&encode_envelope("v1", "Secret", s.encode_to_vec())).unwrap();
        assert_eq!(v["data"]["tls.crt"], "cGVt");
        let err = decode(&encode_envelope(
            "rbac.authorization.k8s.io/v1",
            "Role",
            Vec::new(),
        ));
        assert_eq!(
            err.unwrap_err().to_string(),
            "protobuf bodies of kind rbac.authorization.k8s.io/v1/Role are not supported; send JSON"
        );
        assert!(decode(b"{}").is_err());
    }
}
