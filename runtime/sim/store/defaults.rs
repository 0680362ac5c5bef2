//! Defaults the real server sets on every write of some kinds, so that clients (and
//! Linkerd's webhook `namespaceSelector`) find them as on a real cluster: workload and pod
//! specs as the API types' defaulting functions fill them, and what a namespace gets from the
//! controllers of a real cluster. Every default fills only what is missing, so that writing
//! a defaulted object again changes nothing.

use serde_json::{Map, Value, json};

use crate::sim::kinds::ResourceType;

fn fill(target: &mut Value, key: &str, value: Value) {
    if let Some(map) = target.as_object_mut() {
        map.entry(key.to_owned()).or_insert(value);
    }
}

/// Sets the defaults of `obj` (as the resource `rt` shows it) that are missing.
pub(super) fn apply(rt: &ResourceType, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match rt.group.as_str() {
        "apps" => workload(&rt.kind, obj),
        "batch" => batch(&rt.kind, obj),
        "" => core(rt, obj),
        _ => {}
    }
}

fn workload(kind: &str, obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    match kind {
        "Deployment" => {
            fill(spec, "replicas", json!(1));
            fill(spec, "revisionHistoryLimit", json!(10));
            fill(spec, "progressDeadlineSeconds", json!(600));
            fill(spec, "strategy", json!({}));
            fill(&mut spec["strategy"], "type", json!("RollingUpdate"));
            if spec["strategy"]["type"] == "RollingUpdate" {
                fill(&mut spec["strategy"], "rollingUpdate", json!({}));
                let rolling = &mut spec["strategy"]["rollingUpdate"];
                fill(rolling, "maxSurge", json!("25%"));
                fill(rolling, "maxUnavailable", json!("25%"));
            }
        }
        "ReplicaSet" => fill(spec, "replicas", json!(1)),
        "StatefulSet" => {
            fill(spec, "replicas", json!(1));
            fill(spec, "podManagementPolicy", json!("OrderedReady"));
            fill(spec, "revisionHistoryLimit", json!(10));
            fill(spec, "updateStrategy", json!({}));
            fill(&mut spec["updateStrategy"], "type", json!("RollingUpdate"));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                fill(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
                fill(
                    &mut spec["updateStrategy"]["rollingUpdate"],
                    "partition",
                    json!(0),
                );
            }
            fill(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
        }
        "DaemonSet" => {
            fill(spec, "revisionHistoryLimit", json!(10));
            fill(spec, "updateStrategy", json!({}));
            fill(&mut spec["updateStrategy"], "type", json!("RollingUpdate"));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                fill(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
                let rolling = &mut spec["updateStrategy"]["rollingUpdate"];
                fill(rolling, "maxUnavailable", json!(1));
                fill(rolling, "maxSurge", json!(0));
            }
        }
        _ => return,
    }
    if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
        pod_spec(pod);
    }
}

fn batch(kind: &str, obj: &mut Value) {
    let template = match kind {
        "Job" => obj.pointer_mut("/spec/template/spec"),
        "CronJob" => {
            if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
                fill(spec, "concurrencyPolicy", json!("Allow"));
                fill(spec, "suspend", json!(false));
                fill(spec, "successfulJobsHistoryLimit", json!(3));
                fill(spec, "failedJobsHistoryLimit", json!(1));
            }
            obj.pointer_mut("/spec/jobTemplate/spec/template/spec")
        }
        _ => None,
    };
    if let Some(pod) = template {
        pod_spec(pod);
    }
}

/// The defaults of a pod spec, in pods and in every template.
fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    fill(spec, "restartPolicy", json!("Always"));
    fill(spec, "terminationGracePeriodSeconds", json!(30));
    fill(spec, "dnsPolicy", json!("ClusterFirst"));
    fill(spec, "securityContext", json!({}));
    fill(spec, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            containers.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    fill(c, "terminationMessagePath", json!("/dev/termination-log"));
    fill(c, "terminationMessagePolicy", json!("File"));
    fill(c, "resources", json!({}));
    // The real rule: a `latest` or missing tag is pulled always, a pinned one if missing.
    let image = c["image"].as_str().unwrap_or_default();
    let name = image.split('@').next().unwrap_or_default();
    let tag = name
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    let digest = image.contains('@');
    let policy = match tag {
        _ if digest => "IfNotPresent",
        None | Some("latest") => "Always",
        Some(_) => "IfNotPresent",
    };
    fill(c, "imagePullPolicy", json!(policy));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        ports
            .iter_mut()
            .for_each(|p| fill(p, "protocol", json!("TCP")));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|p| p.is_object()) {
            fill(p, "timeoutSeconds", json!(1));
            fill(p, "periodSeconds", json!(10));
            fill(p, "successThreshold", json!(1));
            fill(p, "failureThreshold", json!(3));
            if let Some(get) = p.get_mut("httpGet") {
                fill(get, "scheme", json!("HTTP"));
            }
        }
    }
}

/// What the controllers of a real cluster put into a new namespace: the `default`
/// ServiceAccount and the `kube-root-ca.crt` ConfigMap, as (plural, object) pairs.
pub(super) fn namespace_objects(ns: &str) -> Vec<(&'static str, Value)> {
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns}});
    let mut annotations = Map::new();
    annotations.insert(
        "kubernetes.io/description".into(),
        json!("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."),
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "annotations": annotations},
        "data": {"ca.crt": root_ca()}});
    vec![("serviceaccounts", sa), ("configmaps", cm)]
}

// A stand-in cluster CA, made once per process: the simulated cluster has no in-cluster
// endpoint for it to verify.
fn root_ca() -> &'static str {
    static PEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PEM.get_or_init(|| {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("no names to check");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kubernetes");
        rcgen::KeyPair::generate()
            .and_then(|key| params.self_signed(&key))
            .map(|cert| cert.pem())
            .unwrap_or_default()
    })
}

fn core(rt: &ResourceType, obj: &mut Value) {
    match rt.kind.as_str() {
        "Pod" => {
            if let Some(spec) = obj.get_mut("spec") {
                pod_spec(spec);
            }
        }
        // The namespace lifecycle sets this label on create and update alike.
        "Namespace" => {
            let name = obj["metadata"]["name"].as_str().map(String::from);
            if let Some(name) = name
                && obj["metadata"].is_object()
            {
                let labels = &mut obj["metadata"]["labels"];
                if !labels.is_object() {
                    *labels = json!({});
                }
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
        }
        "Secret" if obj.get("type").is_none() => obj["type"] = json!("Opaque"),
        "Service" if obj["spec"].is_object() => {
            let spec = &mut obj["spec"];
            fill(spec, "type", json!("ClusterIP"));
            if spec["type"] != "ExternalName" {
                fill(spec, "sessionAffinity", json!("None"));
                fill(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports {
                    fill(p, "protocol", json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        fill(p, "targetPort", port);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The status the real apiextensions controllers give a CustomResourceDefinition: names
/// accepted and established at once (no name conflicts are looked for), the accepted names
/// and the stored versions. Conditions already there keep their transition times.
pub(super) fn crd_status(rt: &ResourceType, obj: &mut Value) {
    if rt.group != "apiextensions.k8s.io" || !obj["spec"].is_object() {
        return;
    }
    let now = super::meta::now_rfc3339();
    let spec = obj["spec"].clone();
    let mut names = spec["names"].clone();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    if names.is_object() {
        names
            .as_object_mut()
            .expect("names is an object")
            .entry("singular")
            .or_insert_with(|| json!(kind.to_lowercase()));
        names["listKind"] = json!(format!("{kind}List"));
    }
    let stored: Vec<Value> = spec["versions"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .filter(|v: &Vec<Value>| !v.is_empty())
        .or_else(|| spec.get("version").map(|v| vec![v.clone()]))
        .unwrap_or_default();
    let since = |kind: &str| {
        obj["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let conditions = json!([
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": since("NamesAccepted"),
            "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": since("Established"),
            "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
    ]);
    obj["status"] = json!({
        "conditions": conditions,
        "acceptedNames": names,
        "storedVersions": stored,
    });
}
