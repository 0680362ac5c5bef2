//! Server-side printing: the `meta.k8s.io` `Table` that `kubectl get` asks for in its
//! `Accept` header, so that `kubectl get pods` shows READY, STATUS and RESTARTS as against a
//! real cluster instead of kubectl's NAME/AGE fallback.
//!
//! The columns and cells follow the real server's printers for the kinds an operator reads
//! during a rotation (pods, workloads, namespaces, config maps, secrets, service accounts,
//! services, events); every other kind gets Name and Age, as a custom resource without
//! printer columns does. Cells of every priority are sent; kubectl shows the priority-1
//! columns only with `-o wide`.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::handlers::Params;
use super::status::ApiError;
use crate::sim::kinds::ResourceType;

/// What a request asked for: a `Table` of this `meta.k8s.io` version, with row objects as
/// `includeObject` says.
#[derive(Debug, Clone)]
pub struct TableRequest {
    api_version: &'static str,
    include: Include,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Include {
    None,
    Metadata,
    Object,
}

/// Whether the request's `Accept` header asks for a `Table` (kubectl's human-readable
/// `get`), and how its rows carry their objects.
///
/// # Errors
///
/// 400 for an `includeObject` other than `None`, `Metadata` or `Object`.
pub fn requested(headers: &HeaderMap, params: &Params) -> Result<Option<TableRequest>, ApiError> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    let mut api_version = None;
    for range in accept {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let (mut as_table, mut group, mut version) = (false, "", "");
        for param in parts {
            match param.split_once('=') {
                Some(("as", "Table")) => as_table = true,
                Some(("g", g)) => group = g,
                Some(("v", v)) => version = v,
                _ => {}
            }
        }
        // The client's order is its preference; the first Table it names is served.
        if media == "application/json" && as_table && group == "meta.k8s.io" {
            api_version = match version {
                "v1" => Some("meta.k8s.io/v1"),
                "v1beta1" => Some("meta.k8s.io/v1beta1"),
                _ => continue,
            };
            break;
        }
    }
    let Some(api_version) = api_version else {
        return Ok(None);
    };
    let include = match params.get("includeObject") {
        None | Some("" | "Metadata") => Include::Metadata,
        Some("None") => Include::None,
        Some("Object") => Include::Object,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            )));
        }
    };
    Ok(Some(TableRequest {
        api_version,
        include,
    }))
}

struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: u8,
    description: &'static str,
}

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        priority: 0,
        description,
    }
}

const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        priority: 1,
        description,
    }
}

const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    priority: 0,
    description: "Name must be unique within a namespace.",
};
const AGE: Column = col(
    "Age",
    "string",
    "CreationTimestamp is the time the object was created.",
);

/// The columns of a kind, in the order of its cells.
fn columns(rt: &ResourceType) -> Vec<Column> {
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => vec![
            NAME,
            col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            wide("IP", "string", "IP address allocated to the pod."),
            wide("Node", "string", "Name of the node the pod is assigned to."),
            wide(
                "Nominated Node",
                "string",
                "Name of the node where the pod is nominated to run.",
            ),
            wide(
                "Readiness Gates",
                "string",
                "The readiness gates of the pod.",
            ),
        ],
        ("apps", "deployments") => vec![
            NAME,
            col("Ready", "string", "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            wide(
                "Containers",
                "string",
                "Names of each container in the template.",
            ),
            wide(
                "Images",
                "string",
                "Images referenced by each container in the template.",
            ),
            wide("Selector", "string", "Label selector for pods."),
        ],
        ("apps", "replicasets") => vec![
            NAME,
            col("Desired", "integer", "Number of desired pods."),
            col(
                "Current",
                "integer",
                "The most recently observed number of replicas.",
            ),
            col(
                "Ready",
                "integer",
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            wide(
                "Containers",
                "string",
                "Names of each container in the template.",
            ),
            wide(
                "Images",
                "string",
                "Images referenced by each container in the template.",
            ),
            wide("Selector", "string", "Label selector for pods."),
        ],
        ("apps", "statefulsets") => vec![
            NAME,
            col("Ready", "string", "Number of the pod with ready state"),
            AGE,
            wide(
                "Containers",
                "string",
                "Names of each container in the template.",
            ),
            wide(
                "Images",
                "string",
                "Images referenced by each container in the template.",
            ),
        ],
        ("apps", "daemonsets") => vec![
            NAME,
            col(
                "Desired",
                "integer",
                "The total number of nodes that should be running the daemon pod.",
            ),
            col(
                "Current",
                "integer",
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            ),
            col(
                "Ready",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            col(
                "Up-to-date",
                "integer",
                "The total number of nodes that are running updated daemon pod.",
            ),
            col(
                "Available",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            ),
            col(
                "Node Selector",
                "string",
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            AGE,
            wide(
                "Containers",
                "string",
                "Names of each container in the template.",
            ),
            wide(
                "Images",
                "string",
                "Images referenced by each container in the template.",
            ),
            wide("Selector", "string", "Label selector for pods."),
        ],
        ("", "namespaces") => vec![
            NAME,
            col("Status", "string", "The status of the namespace"),
            AGE,
        ],
        ("", "configmaps") => vec![
            NAME,
            col("Data", "integer", "Data contains the configuration data."),
            AGE,
        ],
        ("", "secrets") => vec![
            NAME,
            col(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data.",
            ),
            col("Data", "integer", "Data contains the secret data."),
            AGE,
        ],
        ("", "serviceaccounts") => vec![
            NAME,
            col(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE,
        ],
        ("", "services") => vec![
            NAME,
            col(
                "Type",
                "string",
                "Type determines how the Service is exposed.",
            ),
            col(
                "Cluster-IP",
                "string",
                "ClusterIP is the IP address of the service.",
            ),
            col("External-IP", "string", "The external IPs of the service."),
            col(
                "Port(s)",
                "string",
                "The ports that are exposed by this service.",
            ),
            AGE,
            wide(
                "Selector",
                "string",
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        ("" | "events.k8s.io", "events") => vec![
            col(
                "Last Seen",
                "string",
                "The time of the most recent occurrence.",
            ),
            col("Type", "string", "Type of this event (Normal, Warning)."),
            col(
                "Reason",
                "string",
                "A short, machine understandable string that gives the reason for this event.",
            ),
            col("Object", "string", "The object that this event is about."),
            wide(
                "Subobject",
                "string",
                "The field of the object this event is about.",
            ),
            wide("Source", "string", "The component reporting this event."),
            col(
                "Message",
                "string",
                "A human-readable description of the status of this operation.",
            ),
            wide(
                "First Seen",
                "string",
                "The time at which the event was first recorded.",
            ),
            wide(
                "Count",
                "string",
                "The number of times this event has occurred.",
            ),
            wide("Name", "string", "Name must be unique within a namespace."),
        ],
        _ => vec![NAME, AGE],
    }
}

fn definitions(rt: &ResourceType) -> Vec<Value> {
    columns(rt)
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format,
                "description": c.description, "priority": c.priority})
        })
        .collect()
}

/// A list's objects as a `Table`; `list_meta` is the list's metadata (version, continue).
pub fn list(
    rt: &ResourceType,
    items: &[&Value],
    list_meta: Value,
    request: &TableRequest,
) -> Value {
    let now = OffsetDateTime::now_utc();
    let rows: Vec<Value> = items.iter().map(|o| row(rt, o, request, now)).collect();
    json!({"kind": "Table", "apiVersion": request.api_version, "metadata": list_meta,
        "columnDefinitions": definitions(rt), "rows": rows})
}

/// One object as a `Table` of one row. A watch sends the column definitions with its first
/// event only, as the real server does (`headers` false afterwards).
pub fn object(rt: &ResourceType, obj: &Value, request: &TableRequest, headers: bool) -> Value {
    let now = OffsetDateTime::now_utc();
    let version = obj["metadata"]["resourceVersion"].clone();
    let mut table = json!({"kind": "Table", "apiVersion": request.api_version,
        "metadata": {"resourceVersion": version}, "rows": [row(rt, obj, request, now)]});
    if headers {
        table["columnDefinitions"] = json!(definitions(rt));
    }
    table
}

fn row(rt: &ResourceType, obj: &Value, request: &TableRequest, now: OffsetDateTime) -> Value {
    let mut row = json!({"cells": cells(rt, obj, now)});
    match request.include {
        Include::None => {}
        Include::Metadata => {
            row["object"] = json!({"kind": "PartialObjectMetadata",
                "apiVersion": request.api_version, "metadata": obj["metadata"]});
        }
        Include::Object => row["object"] = obj.clone(),
    }
    row
}

fn cells(rt: &ResourceType, o: &Value, now: OffsetDateTime) -> Vec<Value> {
    let name = json!(str_at(o, &["metadata", "name"]));
    let age = json!(since(o["metadata"]["creationTimestamp"].as_str(), now));
    let template = &o["spec"]["template"]["spec"];
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => pod_cells(o, now),
        ("apps", "deployments") => vec![
            name,
            json!(format!(
                "{}/{}",
                int_at(o, &["status", "readyReplicas"]),
                replicas(o)
            )),
            json!(int_at(o, &["status", "updatedReplicas"])),
            json!(int_at(o, &["status", "availableReplicas"])),
            age,
            json!(containers(template, "name")),
            json!(containers(template, "image")),
            json!(selector(&o["spec"]["selector"])),
        ],
        ("apps", "replicasets") => vec![
            name,
            json!(replicas(o)),
            json!(int_at(o, &["status", "replicas"])),
            json!(int_at(o, &["status", "readyReplicas"])),
            age,
            json!(containers(template, "name")),
            json!(containers(template, "image")),
            json!(selector(&o["spec"]["selector"])),
        ],
        ("apps", "statefulsets") => vec![
            name,
            json!(format!(
                "{}/{}",
                int_at(o, &["status", "readyReplicas"]),
                replicas(o)
            )),
            age,
            json!(containers(template, "name")),
            json!(containers(template, "image")),
        ],
        ("apps", "daemonsets") => {
            let status = |f: &str| json!(int_at(o, &["status", f]));
            vec![
                name,
                status("desiredNumberScheduled"),
                status("currentNumberScheduled"),
                status("numberReady"),
                status("updatedNumberScheduled"),
                status("numberAvailable"),
                json!(pairs_or_none(&template["nodeSelector"])),
                age,
                json!(containers(template, "name")),
                json!(containers(template, "image")),
                json!(selector(&o["spec"]["selector"])),
            ]
        }
        ("", "namespaces") => vec![name, json!(str_at(o, &["status", "phase"])), age],
        ("", "configmaps") => vec![name, json!(len(&o["data"]) + len(&o["binaryData"])), age],
        ("", "secrets") => vec![
            name,
            json!(str_at(o, &["type"])),
            json!(len(&o["data"])),
            age,
        ],
        ("", "serviceaccounts") => vec![name, json!(len(&o["secrets"]).to_string()), age],
        ("", "services") => service_cells(o, name, age),
        ("", "events") => event_cells(o, &EventFields::CORE, now),
        ("events.k8s.io", "events") => event_cells(o, &EventFields::EVENTS_V1, now),
        _ => vec![name, age],
    }
}

fn str_at<'a>(o: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(o, |v, key| &v[*key])
        .as_str()
        .unwrap_or_default()
}

fn int_at(o: &Value, path: &[&str]) -> i64 {
    path.iter()
        .fold(o, |v, key| &v[*key])
        .as_i64()
        .unwrap_or_default()
}

fn replicas(o: &Value) -> i64 {
    o["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// How many entries a map or list holds.
fn len(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

fn containers(pod_spec: &Value, field: &str) -> String {
    pod_spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c[field].as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn pairs(map: &Map<String, Value>) -> Vec<String> {
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs
}

fn pairs_or_none(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => pairs(m).join(","),
        _ => "<none>".into(),
    }
}

/// A label selector written as `kubectl get -l` takes it.
fn selector(sel: &Value) -> String {
    let mut terms = sel["matchLabels"]
        .as_object()
        .map(pairs)
        .unwrap_or_default();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    if terms.is_empty() {
        "<none>".into()
    } else {
        terms.join(",")
    }
}

fn service_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let spec = &o["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    let cluster_ip = spec["clusterIP"].as_str().filter(|s| !s.is_empty());
    let mut external: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.as_str().map(String::from))
        .collect();
    let ingress: Vec<String> = o["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .or(i["hostname"].as_str())
                .map(String::from)
        })
        .collect();
    let external = match kind {
        "ExternalName" => spec["externalName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".into(),
        "LoadBalancer" => {
            external.splice(0..0, ingress);
            external.join(",")
        }
        _ if external.is_empty() => "<none>".into(),
        _ => external.join(","),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            let port = p["port"].as_i64().unwrap_or_default();
            match p["nodePort"].as_i64().filter(|n| *n != 0) {
                Some(node) => format!("{port}:{node}/{protocol}"),
                None => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        name,
        json!(kind),
        json!(cluster_ip.unwrap_or("<none>")),
        json!(external),
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(",")
        }),
        age,
        json!(pairs_or_none(&spec["selector"])),
    ]
}

/// The pod's READY, STATUS and RESTARTS as `kubectl get pods` shows them: a waiting or
/// terminated container's reason over the phase, `Init:` while init containers run,
/// `Terminating` once deletion started.
fn pod_cells(o: &Value, now: OffsetDateTime) -> Vec<Value> {
    let spec = &o["spec"];
    let status = &o["status"];
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let init_specs = list(&spec["initContainers"]);
    let sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let mut total = list(&spec["containers"]).len();
    total += init_specs
        .iter()
        .filter(|c| c["restartPolicy"] == "Always")
        .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<OffsetDateTime> = None;
    let mut note_restarts = |c: &Value| {
        restarts += c["restartCount"].as_i64().unwrap_or_default();
        let finished = c["lastState"]["terminated"]["finishedAt"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        if let Some(t) = finished {
            last_restart = Some(last_restart.map_or(t, |l| l.max(t)));
        }
    };
    let mut reason = status["reason"]
        .as_str()
        .or(status["phase"].as_str())
        .unwrap_or_default()
        .to_string();

    let init_statuses = list(&status["initContainerStatuses"]);
    let mut initializing = false;
    for (i, c) in init_statuses.iter().enumerate() {
        note_restarts(c);
        let is_sidecar = sidecar(c["name"].as_str().unwrap_or_default());
        if is_sidecar && c["ready"] == true {
            ready += 1;
        }
        let terminated = &c["state"]["terminated"];
        let waiting = &c["state"]["waiting"];
        if terminated["exitCode"] == 0 && terminated.is_object() {
            continue;
        }
        if is_sidecar && c["started"] == true {
            continue;
        }
        initializing = true;
        reason = if terminated.is_object() {
            match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => format!("Init:ExitCode:{}", terminated["exitCode"]),
            }
        } else if let Some(r) = waiting["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        break;
    }

    let initialized = list(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "Initialized" && c["status"] == "True");
    if !initializing || initialized {
        let mut running = false;
        for c in list(&status["containerStatuses"]).iter().rev() {
            note_restarts(c);
            let waiting = c["state"]["waiting"]["reason"].as_str();
            let terminated = &c["state"]["terminated"];
            if let Some(r) = waiting.filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(r) = terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if terminated.is_object() {
                reason = format!("ExitCode:{}", terminated["exitCode"]);
            } else if c["ready"] == true && c["state"]["running"].is_object() {
                running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && running {
            let pod_ready = list(&status["conditions"])
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }
    if o["metadata"]["deletionTimestamp"].is_string() {
        reason = "Terminating".into();
    }
    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human(now - t)),
        _ => restarts.to_string(),
    };
    let or_none = |v: &Value| {
        v.as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("<none>")
            .to_string()
    };
    let gates = list(&spec["readinessGates"]);
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = list(&status["conditions"]);
        let met = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        json!(str_at(o, &["metadata", "name"])),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        json!(since(o["metadata"]["creationTimestamp"].as_str(), now)),
        json!(or_none(&status["podIP"])),
        json!(or_none(&spec["nodeName"])),
        json!(or_none(&status["nominatedNodeName"])),
        json!(gates),
    ]
}

/// Where each version keeps an event's fields; `events.k8s.io/v1` renamed most of them.
struct EventFields {
    object: &'static str,
    message: &'static str,
    count: &'static str,
    first: &'static str,
    last: &'static str,
    source: &'static str,
}

impl EventFields {
    const CORE: Self = Self {
        object: "involvedObject",
        message: "message",
        count: "count",
        first: "firstTimestamp",
        last: "lastTimestamp",
        source: "source",
    };
    const EVENTS_V1: Self = Self {
        object: "regarding",
        message: "note",
        count: "deprecatedCount",
        first: "deprecatedFirstTimestamp",
        last: "deprecatedLastTimestamp",
        source: "deprecatedSource",
    };
}

fn event_cells(o: &Value, f: &EventFields, now: OffsetDateTime) -> Vec<Value> {
    let object = &o[f.object];
    let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
    let target = match object["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let first = match o[f.first].as_str().filter(|t| !t.is_empty()) {
        Some(t) => since(Some(t), now),
        None => since(o["eventTime"].as_str(), now),
    };
    let mut last = match o[f.last].as_str().filter(|t| !t.is_empty()) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let count = o[f.count].as_i64().unwrap_or(1).max(1);
    if count > 1 {
        last = format!("{last} (x{count} over {first})");
    }
    let source = &o[f.source];
    let source = match (
        source["component"]
            .as_str()
            .or(o["reportingController"].as_str()),
        source["host"].as_str().or(o["reportingInstance"].as_str()),
    ) {
        (Some(c), Some(h)) if !h.is_empty() => format!("{c}, {h}"),
        (Some(c), _) => c.to_string(),
        (None, _) => String::new(),
    };
    vec![
        json!(last),
        json!(str_at(o, &["type"])),
        json!(str_at(o, &["reason"])),
        json!(target),
        json!(object["fieldPath"].as_str().unwrap_or_default()),
        json!(source),
        json!(o[f.message].as_str().unwrap_or_default().trim()),
        json!(first),
        json!(count.to_string()),
        json!(str_at(o, &["metadata", "name"])),
    ]
}

/// The time since an RFC 3339 timestamp, as the real printers show ages.
fn since(timestamp: Option<&str>, now: OffsetDateTime) -> String {
    match timestamp.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) {
        Some(t) => human(now - t),
        None => "<unknown>".into(),
    }
}

/// A duration as the apimachinery's human-readable form: `45s`, `3m12s`, `25m`, `5h7m`,
/// `30h`, `3d4h`, `40d`, `2y5d`: two units while the smaller one still says something.
fn human(d: time::Duration) -> String {
    let seconds = d.whole_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    let two = |n: i64, big: &str, m: i64, small: &str| {
        if m == 0 {
            format!("{n}{big}")
        } else {
            format!("{n}{big}{m}{small}")
        }
    };
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let days = hours / 24;
    match () {
        () if seconds < 120 => format!("{seconds}s"),
        () if minutes < 10 => two(minutes, "m", seconds % 60, "s"),
        () if minutes < 180 => format!("{minutes}m"),
        () if hours < 8 => two(hours, "h", minutes % 60, "m"),
        () if hours < 48 => format!("{hours}h"),
        () if hours < 24 * 8 => two(days, "d", hours % 24, "h"),
        () if hours < 24 * 365 * 2 => format!("{days}d"),
        () if hours < 24 * 365 * 8 => two(days / 365, "y", days % 365, "d"),
        () => format!("{}y", days / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_the_real_printers_write_them() {
        let s = time::Duration::seconds;
        for (secs, shown) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (192, "3m12s"),
            (240, "4m"),
            (25 * 60, "25m"),
            (5 * 3600 + 7 * 60, "5h7m"),
            (30 * 3600, "30h"),
            (76 * 3600, "3d4h"),
            (40 * 86400, "40d"),
            (735 * 86400, "2y5d"),
            (3000 * 86400, "8y"),
        ] {
            assert_eq!(human(s(secs)), shown, "{secs}");
        }
    }

    #[test]
    fn pod_status_prefers_a_container_reason_over_the_phase() {
        let now = OffsetDateTime::now_utc();
        let crashing = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 4,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let cells = pod_cells(&crashing, now);
        assert_eq!(
            cells[1..4],
            [json!("1/2"), json!("CrashLoopBackOff"), json!("4")]
        );

        let init = json!({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}});
        assert_eq!(pod_cells(&init, now)[2], json!("Init:0/1"));
    }
}
