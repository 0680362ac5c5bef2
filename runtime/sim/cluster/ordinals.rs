//! StatefulSets and DaemonSets: pods with a revision label. StatefulSets create ordinals in
//! order and roll the highest ordinal first down to `partition`; DaemonSets keep one pod per
//! simulated node and roll one node at a time. Both leave pods alone under `OnDelete`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ClusterError;
use super::controller::Workloads;
use super::deployments::pod_from;
use super::objects::{int_at, name, pod_ready, str_at, template_hash, write_status};

const REVISION_LABEL: &str = "controller-revision-hash";

fn revision_of(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/labels")
        .and_then(|l| l.get(REVISION_LABEL))
        .and_then(Value::as_str)
}

fn on_delete(set: &Value) -> bool {
    str_at(set, "/spec/updateStrategy/type") == Some("OnDelete")
}

fn labelled(mut pod: Value, revision: &str) -> Value {
    pod["metadata"]["labels"][REVISION_LABEL] = json!(revision);
    pod
}

/// Reconciles one StatefulSet.
///
/// # Errors
///
/// When the store refuses a write.
pub fn stateful_set(w: &mut Workloads, ns: &str, set_name: &str) -> Result<(), ClusterError> {
    let rt = w.kinds.stateful_set.clone();
    let pod_rt = w.kinds.pod.clone();
    let Ok(set) = w.store.get(&rt, Some(ns), set_name) else {
        return Ok(());
    };
    let desired = int_at(&set, "/spec/replicas").unwrap_or(1).max(0);
    let update = format!(
        "{set_name}-{}",
        template_hash(set.pointer("/spec/template").unwrap_or(&Value::Null))
    );
    let partition = int_at(&set, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    record_revision(w, &set, &update)?;
    // Below the partition a recreated pod keeps the current revision (its template is in
    // that revision's ControllerRevision); from it, and under OnDelete, it takes the update.
    let current = str_at(&set, "/status/currentRevision")
        .filter(|c| *c != update && !on_delete(&set))
        .and_then(|c| {
            let old = w
                .store
                .get(&w.kinds.controller_revision, Some(ns), c)
                .ok()?;
            let mut owner = set.clone();
            owner["spec"]["template"] = old.pointer("/data/spec/template")?.clone();
            if let Some(t) = owner["spec"]["template"].as_object_mut() {
                t.remove("$patch");
            }
            Some((c.to_owned(), owner))
        });
    let pods: Vec<Option<Value>> = (0..desired)
        .map(|i| {
            w.store
                .get(&pod_rt, Some(ns), &format!("{set_name}-{i}"))
                .ok()
        })
        .collect();

    // Ordered creation: a missing ordinal is made once every lower one is ready.
    let mut all_ready = true;
    for (i, pod) in pods.iter().enumerate() {
        match pod {
            Some(p) if pod_ready(p) => {}
            Some(_) => {
                all_ready = false;
                break;
            }
            None => {
                all_ready = false;
                let node = w.next_node();
                let (revision, owner) = match &current {
                    Some((revision, owner)) if i64::try_from(i).unwrap_or(0) < partition => {
                        (revision.as_str(), owner)
                    }
                    _ => (update.as_str(), &set),
                };
                let mut pod = labelled(pod_from(owner, "StatefulSet", "", &node), revision);
                pod["metadata"]["name"] = json!(format!("{set_name}-{i}"));
                pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] =
                    json!(format!("{set_name}-{i}"));
                if let Ok(made) = w.store.create(&pod_rt, Some(ns), pod, false) {
                    w.remember(&made);
                }
                break;
            }
        }
    }
    // Scale down from the highest ordinal.
    for extra in w.owned(&pod_rt, ns, &set) {
        let ordinal = name(&extra)
            .rsplit('-')
            .next()
            .and_then(|o| o.parse::<i64>().ok());
        if ordinal.is_some_and(|o| o >= desired) {
            w.forget(&extra);
            let _ = w.store.delete(&pod_rt, Some(ns), name(&extra), false);
        }
    }
    if all_ready && !on_delete(&set) {
        let stale = pods.iter().enumerate().rev().find(|(i, p)| {
            i64::try_from(*i).unwrap_or(0) >= partition
                && p.as_ref()
                    .is_some_and(|p| revision_of(p) != Some(update.as_str()))
        });
        if let Some((_, Some(p))) = stale {
            w.forget(p);
            let _ = w.store.delete(&pod_rt, Some(ns), name(p), false);
        }
    }

    let present: Vec<&Value> = pods.iter().flatten().collect();
    let updated = present
        .iter()
        .filter(|p| revision_of(p) == Some(update.as_str()))
        .count();
    let ready = present.iter().filter(|p| pod_ready(p)).count();
    let old_current = str_at(&set, "/status/currentRevision").map(str::to_owned);
    let current = if updated == present.len() && i64::try_from(updated).unwrap_or(0) == desired {
        update.clone()
    } else {
        old_current.unwrap_or_else(|| update.clone())
    };
    let current_count = present
        .iter()
        .filter(|p| revision_of(p) == Some(current.as_str()))
        .count();
    let status = json!({
        "observedGeneration": int_at(&set, "/metadata/generation").unwrap_or(1),
        "replicas": present.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": current_count,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": 0,
    });
    write_status(&w.store, &rt, &set, status)
}

/// Keeps the template of a StatefulSet revision in a ControllerRevision named after it, as
/// the real controller does (`kubectl rollout history` and `undo` read them).
fn record_revision(w: &Workloads, set: &Value, revision: &str) -> Result<(), ClusterError> {
    let rt = &w.kinds.controller_revision;
    let ns = super::objects::namespace(set);
    if w.store.get(rt, Some(ns), revision).is_ok() {
        return Ok(());
    }
    let uid = super::objects::uid(set);
    let newest = w
        .store
        .list(rt, Some(ns), &crate::sim::store::ListOptions::default())
        .map(|page| {
            page.items
                .iter()
                .filter(|r| super::objects::controller_of(r).is_some_and(|(_, _, u)| u == uid))
                .filter_map(|r| int_at(r, "/revision"))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let mut template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
    template["$patch"] = json!("replace");
    let labels = set
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    let obj = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": revision,
            "labels": labels,
            "ownerReferences": super::objects::owner_ref(set, "apps/v1", "StatefulSet"),
        },
        "data": { "spec": { "template": template } },
        "revision": newest + 1,
    });
    match w.store.create(rt, Some(ns), obj, false) {
        Ok(_) | Err(crate::sim::store::StoreError::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(ClusterError::store(rt, set, source)),
    }
}

/// Reconciles one DaemonSet.
///
/// # Errors
///
/// When the store refuses a write.
pub fn daemon_set(w: &mut Workloads, ns: &str, set_name: &str) -> Result<(), ClusterError> {
    let rt = w.kinds.daemon_set.clone();
    let pod_rt = w.kinds.pod.clone();
    let Ok(set) = w.store.get(&rt, Some(ns), set_name) else {
        return Ok(());
    };
    let update = template_hash(set.pointer("/spec/template").unwrap_or(&Value::Null));
    let mut by_node: HashMap<String, Value> = HashMap::new();
    for pod in w.owned(&pod_rt, ns, &set) {
        let node = str_at(&pod, "/spec/nodeName")
            .unwrap_or_default()
            .to_owned();
        if by_node.contains_key(&node) || !w.nodes.contains(&node) {
            w.forget(&pod);
            let _ = w.store.delete(&pod_rt, Some(ns), name(&pod), false);
        } else {
            by_node.insert(node, pod);
        }
    }
    for node in w.nodes.clone() {
        if let std::collections::hash_map::Entry::Vacant(slot) = by_node.entry(node) {
            let pod = labelled(
                pod_from(&set, "DaemonSet", &format!("{set_name}-"), slot.key()),
                &update,
            );
            if let Ok(made) = w.store.create(&pod_rt, Some(ns), pod, false) {
                w.remember(&made);
                slot.insert(made);
            }
        }
    }
    let all_ready = by_node.values().all(pod_ready);
    if all_ready && !on_delete(&set) {
        // maxUnavailable 1: one node at a time.
        let mut nodes: Vec<&String> = by_node.keys().collect();
        nodes.sort();
        if let Some(stale) = nodes
            .into_iter()
            .map(|n| &by_node[n])
            .find(|p| revision_of(p) != Some(update.as_str()))
        {
            w.forget(stale);
            let _ = w.store.delete(&pod_rt, Some(ns), name(stale), false);
        }
    }
    let desired = w.nodes.len();
    let updated = by_node
        .values()
        .filter(|p| revision_of(p) == Some(update.as_str()))
        .count();
    let ready = by_node.values().filter(|p| pod_ready(p)).count();
    let status = json!({
        "observedGeneration": int_at(&set, "/metadata/generation").unwrap_or(1),
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": by_node.len(),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": updated,
    });
    let mut status = status;
    if ready < desired {
        status["numberUnavailable"] = json!(desired - ready);
    }
    write_status(&w.store, &rt, &set, status)
}
