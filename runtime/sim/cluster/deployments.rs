//! Deployments and ReplicaSets as the real controllers move them: a changed pod template gets
//! a new ReplicaSet, old ReplicaSets scale down as new pods become ready, `spec.paused`
//! stops the rollout, and `status` carries what `kubectl rollout status` reads.

use serde_json::{Value, json};

use super::ClusterError;
use super::controller::Workloads;
use super::objects::{condition, int_at, name, owner_ref, pod_ready, template_hash, write_status};

const HASH_LABEL: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";

fn revision(rs: &Value) -> i64 {
    rs.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Reconciles one Deployment.
///
/// # Errors
///
/// When the store refuses a write.
pub fn deployment(w: &mut Workloads, ns: &str, deploy_name: &str) -> Result<(), ClusterError> {
    let rt = w.kinds.deployment.clone();
    let rs_rt = w.kinds.replica_set.clone();
    let Ok(d) = w.store.get(&rt, Some(ns), deploy_name) else {
        return Ok(());
    };
    let desired = int_at(&d, "/spec/replicas").unwrap_or(1);
    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let template = d.pointer("/spec/template").cloned().unwrap_or_default();
    let hash = template_hash(&template);
    let mut sets = w.owned(&rs_rt, ns, &d);
    sets.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
    // The ReplicaSet of the current template, found as the real controller does: by the
    // template itself, not its hash (a rollback finds the old ReplicaSet again).
    let current = sets
        .iter()
        .position(|rs| same_template(rs.pointer("/spec/template"), Some(&template)));
    let new_name = current.map_or_else(
        || format!("{deploy_name}-{hash}"),
        |i| name(&sets[i]).to_owned(),
    );

    if paused {
        // A paused Deployment does not roll, but it still scales (`kubectl scale`): the
        // active ReplicaSet, or the newest, takes the new count. With several active ones
        // (paused mid-rollout) the real controller scales them proportionally; they stay.
        let active: Vec<&Value> = sets
            .iter()
            .filter(|rs| int_at(rs, "/spec/replicas").unwrap_or(0) > 0)
            .collect();
        let target = match active.as_slice() {
            [] => sets.first(),
            [one] => Some(*one),
            _ => None,
        };
        if let Some(rs) = target {
            scale(w, rs, desired)?;
        }
    } else {
        let newest = sets.first().map_or(0, revision);
        let new_rs = match current {
            Some(i) => {
                let rs = sets.remove(i);
                // Going back to an older template makes its ReplicaSet the newest revision.
                if revision(&rs) < newest {
                    annotate(w, &rs_rt, &rs, newest + 1)?
                } else {
                    rs
                }
            }
            None => {
                let rs = new_replica_set(&d, &template, &hash, desired, newest + 1);
                let made = w
                    .store
                    .create(&rs_rt, Some(ns), rs, false)
                    .map_err(|source| ClusterError::store(&rs_rt, &d, source))?;
                w.remember(&made);
                made
            }
        };
        // The Deployment carries its current revision, as `kubectl rollout history` shows.
        let at = revision(&new_rs);
        if revision(&d) != at {
            annotate(w, &rt, &d, at)?;
        }
        scale(w, &new_rs, desired)?;
        // Old pods go as new ones become ready, newest old ReplicaSet last.
        let ready = int_at(&new_rs, "/status/readyReplicas").unwrap_or(0);
        let mut keep = (desired - ready).max(0);
        for old in &sets {
            let has = int_at(old, "/spec/replicas").unwrap_or(0);
            let target = has.min(keep);
            keep -= target;
            scale(w, old, target)?;
        }
    }

    let all = w.owned(&rs_rt, ns, &d);
    let count = |pointer: &str| all.iter().filter_map(|rs| int_at(rs, pointer)).sum::<i64>();
    let updated = all
        .iter()
        .find(|rs| name(rs) == new_name)
        .and_then(|rs| int_at(rs, "/status/replicas"))
        .unwrap_or(0);
    let (replicas, ready, available) = (
        count("/status/replicas"),
        count("/status/readyReplicas"),
        count("/status/availableReplicas"),
    );
    let done = updated == desired && replicas == desired && available == desired;
    let progressing = if paused {
        condition(
            &d,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
        )
    } else if done {
        condition(
            &d,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        )
    } else {
        condition(
            &d,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{new_name}\" is progressing."),
        )
    };
    let available_condition = if available >= desired - max_unavailable(&d, desired) {
        condition(
            &d,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            &d,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let mut status = json!({
        "observedGeneration": int_at(&d, "/metadata/generation").unwrap_or(1),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [available_condition, progressing],
    });
    if desired > available {
        status["unavailableReplicas"] = json!(desired - available);
    }
    write_status(&w.store, &rt, &d, status)
}

/// Whether two pod templates are equal but for the `pod-template-hash` label, empty maps and
/// lists counting as absent (Kubernetes' `EqualIgnoreHash` with semantic equality).
fn same_template(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn normal(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(map) => {
                let kept: serde_json::Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| k.as_str() != HASH_LABEL)
                    .filter_map(|(k, v)| normal(v).map(|v| (k.clone(), v)))
                    .collect();
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Value::Array(items) if items.is_empty() => None,
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .map(|i| normal(i).unwrap_or(Value::Null))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    a.and_then(normal) == b.and_then(normal)
}

/// How many pods a rolling update may take away, as the real controller resolves
/// `maxUnavailable` (a percentage rounds down; 0 with a 0 surge means 1); 0 for `Recreate`.
fn max_unavailable(d: &Value, desired: i64) -> i64 {
    let Some(rolling) = d.pointer("/spec/strategy/rollingUpdate") else {
        return 0;
    };
    let resolve = |field: &str, round_up: bool| match rolling.get(field) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(0, |percent| {
                let scaled = percent * desired;
                if round_up {
                    (scaled + 99) / 100
                } else {
                    scaled / 100
                }
            }),
        _ => 0,
    };
    let (surge, unavailable) = (resolve("maxSurge", true), resolve("maxUnavailable", false));
    if surge == 0 && unavailable == 0 {
        1.min(desired)
    } else {
        unavailable.min(desired)
    }
}

/// Sets the revision annotation of a Deployment or ReplicaSet; returns the object written.
fn annotate(
    w: &Workloads,
    rt: &crate::sim::kinds::ResourceType,
    obj: &Value,
    at: i64,
) -> Result<Value, ClusterError> {
    let patch = crate::sim::store::Patch::Merge(
        json!({ "metadata": { "annotations": { REVISION: at.to_string() } } }),
    );
    w.store
        .patch(
            rt,
            Some(super::objects::namespace(obj)),
            name(obj),
            &patch,
            false,
            false,
        )
        .map_err(|source| ClusterError::store(rt, obj, source))
}

fn new_replica_set(d: &Value, template: &Value, hash: &str, replicas: i64, revision: i64) -> Value {
    let mut template = template.clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let labels = template["metadata"]["labels"].clone();
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", name(d)),
            "labels": labels,
            "annotations": { REVISION: revision.to_string() },
            "ownerReferences": owner_ref(d, "apps/v1", "Deployment"),
        },
        "spec": { "replicas": replicas, "selector": selector, "template": template },
    })
}

fn scale(w: &Workloads, rs: &Value, replicas: i64) -> Result<(), ClusterError> {
    if int_at(rs, "/spec/replicas") == Some(replicas) {
        return Ok(());
    }
    let rt = &w.kinds.replica_set;
    let patch = crate::sim::store::Patch::Merge(json!({ "spec": { "replicas": replicas } }));
    w.store
        .patch(
            rt,
            Some(super::objects::namespace(rs)),
            name(rs),
            &patch,
            false,
            false,
        )
        .map(|_| ())
        .map_err(|source| ClusterError::store(rt, rs, source))
}

/// Reconciles one ReplicaSet: as many pods as `spec.replicas`, and its status.
///
/// # Errors
///
/// When the store refuses a write.
pub fn replica_set(w: &mut Workloads, ns: &str, rs_name: &str) -> Result<(), ClusterError> {
    let rt = w.kinds.replica_set.clone();
    let pod_rt = w.kinds.pod.clone();
    let Ok(rs) = w.store.get(&rt, Some(ns), rs_name) else {
        return Ok(());
    };
    let desired = int_at(&rs, "/spec/replicas").unwrap_or(1).max(0);
    let mut pods = w.owned(&pod_rt, ns, &rs);
    let have = i64::try_from(pods.len()).unwrap_or(i64::MAX);
    for _ in have..desired {
        let node = w.next_node();
        let pod = pod_from(&rs, "ReplicaSet", &format!("{rs_name}-"), &node);
        let made = w
            .store
            .create(&pod_rt, Some(ns), pod, false)
            .map_err(|source| ClusterError::store(&pod_rt, &rs, source))?;
        w.remember(&made);
        pods.push(made);
    }
    if have > desired {
        // Not-ready pods go first, as the real controller prefers.
        pods.sort_by_key(pod_ready);
        let extra = usize::try_from(have - desired).unwrap_or(0);
        for pod in pods.drain(..extra) {
            w.forget(&pod);
            let _ = w.store.delete(&pod_rt, Some(ns), name(&pod), false);
        }
    }
    let ready = i64::try_from(pods.iter().filter(|p| pod_ready(p)).count()).unwrap_or(0);
    let status = json!({
        "observedGeneration": int_at(&rs, "/metadata/generation").unwrap_or(1),
        "replicas": pods.len(),
        "fullyLabeledReplicas": pods.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
    });
    write_status(&w.store, &rt, &rs, status)
}

/// A pod from `owner`'s template, owned by it and placed on `node`.
pub fn pod_from(owner: &Value, kind: &str, generate_name: &str, node: &str) -> Value {
    let template = owner.pointer("/spec/template").cloned().unwrap_or_default();
    let mut metadata = template.get("metadata").cloned().unwrap_or(json!({}));
    metadata["generateName"] = json!(generate_name);
    metadata["ownerReferences"] = owner_ref(owner, "apps/v1", kind);
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    spec["nodeName"] = json!(node);
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec })
}
