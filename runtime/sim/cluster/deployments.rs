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
    let current = sets.iter().position(|rs| {
        rs.pointer(&format!("/metadata/labels/{HASH_LABEL}"))
            .and_then(Value::as_str)
            == Some(hash.as_str())
    });

    if !paused {
        let new_rs = match current {
            Some(i) => sets.remove(i),
            None => {
                let next = sets.first().map_or(1, |rs| revision(rs) + 1);
                let rs = new_replica_set(&d, &template, &hash, desired, next);
                let made = w
                    .store
                    .create(&rs_rt, Some(ns), rs, false)
                    .map_err(|source| ClusterError::store(&rs_rt, &d, source))?;
                w.remember(&made);
                made
            }
        };
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
        sets.insert(0, new_rs);
    }

    let all = w.owned(&rs_rt, ns, &d);
    let count = |pointer: &str| all.iter().filter_map(|rs| int_at(rs, pointer)).sum::<i64>();
    let updated = all
        .iter()
        .find(|rs| {
            rs.pointer(&format!("/metadata/labels/{HASH_LABEL}"))
                .and_then(Value::as_str)
                == Some(hash.as_str())
        })
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
            &format!("ReplicaSet \"{deploy_name}-{hash}\" has successfully progressed."),
        )
    } else {
        condition(
            &d,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{deploy_name}-{hash}\" is progressing."),
        )
    };
    let available_condition = if available >= desired {
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
