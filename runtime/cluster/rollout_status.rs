//! When a rollout is complete, decided the way `kubectl rollout status` decides it, and what
//! keeps a workload from being rolled by a template change (a pause, `OnDelete`).
//!
//! Pure functions over the workload objects, so that the rules are tested without a cluster
//! and the wait loop only feeds them what the watch delivers.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::DynamicObject;
use serde_json::Value;

/// The kinds `restart_ns` restarts, in the order it reports them.
pub const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// Every replica runs the new template and old pods are gone.
    Complete,
    /// Still rolling; the text says what it waits for, in kubectl's terms.
    Waiting(String),
    /// The rollout cannot complete (a progress deadline exceeded).
    Failed(String),
}

/// Why a workload is not rolled by a template change: reported, not waited on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    Paused,
    OnDelete,
}

fn typed<T: serde::de::DeserializeOwned>(object: &DynamicObject) -> Option<T> {
    serde_json::to_value(object)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// What would keep a template change from rolling this workload, if anything.
pub fn blocked(kind: &str, object: &DynamicObject) -> Option<Blocked> {
    let spec = object.data.get("spec").unwrap_or(&Value::Null);
    match kind {
        "Deployment" if spec["paused"].as_bool() == Some(true) => Some(Blocked::Paused),
        "StatefulSet" | "DaemonSet" if spec["updateStrategy"]["type"] == "OnDelete" => {
            Some(Blocked::OnDelete)
        }
        _ => None,
    }
}

/// The rollout state of a workload whose template was changed at generation `since`: the
/// controller must have observed at least that generation before its counts mean anything.
pub fn status(kind: &str, object: &DynamicObject, since: i64) -> Rollout {
    let generation = object.metadata.generation.unwrap_or(0).max(since);
    match kind {
        "Deployment" => match typed::<Deployment>(object) {
            Some(d) => deployment(&d, generation),
            None => Rollout::Waiting("the Deployment does not decode".to_owned()),
        },
        "StatefulSet" => match typed::<StatefulSet>(object) {
            Some(s) => stateful_set(&s, generation),
            None => Rollout::Waiting("the StatefulSet does not decode".to_owned()),
        },
        "DaemonSet" => match typed::<DaemonSet>(object) {
            Some(d) => daemon_set(&d, generation),
            None => Rollout::Waiting("the DaemonSet does not decode".to_owned()),
        },
        other => Rollout::Failed(format!("{other} has no rollout")),
    }
}

fn unobserved() -> Rollout {
    Rollout::Waiting("waiting for the controller to observe the change".to_owned())
}

fn deployment(d: &Deployment, generation: i64) -> Rollout {
    let Some(status) = &d.status else {
        return unobserved();
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return unobserved();
    }
    let stalled = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if stalled {
        return Rollout::Failed("progress deadline exceeded".to_owned());
    }
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        return Rollout::Waiting(format!(
            "{updated} out of {wanted} new replicas have been updated"
        ));
    }
    if total > updated {
        return Rollout::Waiting(format!(
            "{} old replicas are pending termination",
            total - updated
        ));
    }
    if available < updated {
        return Rollout::Waiting(format!(
            "{available} of {updated} updated replicas are available"
        ));
    }
    Rollout::Complete
}

fn stateful_set(s: &StatefulSet, generation: i64) -> Rollout {
    let spec = s.spec.as_ref();
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
        return Rollout::Failed("updateStrategy OnDelete does not roll".to_owned());
    }
    let Some(status) = &s.status else {
        return unobserved();
    };
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || observed < generation {
        return unobserved();
    }
    let wanted = spec.and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < wanted {
        return Rollout::Waiting(format!("{} pods to be ready", wanted - ready));
    }
    let partition = strategy
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = status.updated_replicas.unwrap_or(0);
        return if updated < wanted - partition {
            Rollout::Waiting(format!(
                "partitioned roll out: {updated} of {} new pods updated",
                wanted - partition
            ))
        } else {
            Rollout::Complete
        };
    }
    if status.update_revision != status.current_revision {
        let updated = status.updated_replicas.unwrap_or(0);
        return Rollout::Waiting(format!(
            "rolling update: {updated} of {wanted} pods at revision {}",
            status.update_revision.as_deref().unwrap_or("?")
        ));
    }
    Rollout::Complete
}

fn daemon_set(d: &DaemonSet, generation: i64) -> Rollout {
    let strategy = d.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
        return Rollout::Failed("updateStrategy OnDelete does not roll".to_owned());
    }
    let Some(status) = &d.status else {
        return unobserved();
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return unobserved();
    }
    let wanted = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    if updated < wanted {
        return Rollout::Waiting(format!(
            "{updated} out of {wanted} new pods have been updated"
        ));
    }
    if available < wanted {
        return Rollout::Waiting(format!(
            "{available} of {wanted} updated pods are available"
        ));
    }
    Rollout::Complete
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn deploy(generation: i64, status: Value) -> DynamicObject {
        object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web", "namespace": "a", "generation": generation },
            "spec": { "replicas": 2, "selector": {}, "template": {} },
            "status": status,
        }))
    }

    #[test]
    fn a_deployment_is_complete_only_when_observed_updated_available_and_old_pods_gone() {
        let unobserved = deploy(
            3,
            json!({ "observedGeneration": 2, "replicas": 2,
            "updatedReplicas": 2, "availableReplicas": 2 }),
        );
        assert_eq!(status("Deployment", &unobserved, 3), super::unobserved());
        let old_left = deploy(
            3,
            json!({ "observedGeneration": 3, "replicas": 3,
            "updatedReplicas": 2, "availableReplicas": 2 }),
        );
        assert_eq!(
            status("Deployment", &old_left, 3),
            Rollout::Waiting("1 old replicas are pending termination".into())
        );
        let unavailable = deploy(
            3,
            json!({ "observedGeneration": 3, "replicas": 2,
            "updatedReplicas": 2, "availableReplicas": 1 }),
        );
        assert_eq!(
            status("Deployment", &unavailable, 3),
            Rollout::Waiting("1 of 2 updated replicas are available".into())
        );
        let done = deploy(
            3,
            json!({ "observedGeneration": 3, "replicas": 2,
            "updatedReplicas": 2, "availableReplicas": 2 }),
        );
        assert_eq!(status("Deployment", &done, 3), Rollout::Complete);
        // A watch that still shows the object from before the patch is not complete.
        assert_eq!(status("Deployment", &done, 4), super::unobserved());
    }

    #[test]
    fn a_stalled_deployment_fails() {
        let stalled = deploy(
            3,
            json!({ "observedGeneration": 3, "conditions": [{
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded" }] }),
        );
        assert!(matches!(
            status("Deployment", &stalled, 3),
            Rollout::Failed(_)
        ));
    }

    #[test]
    fn a_stateful_set_waits_for_its_revisions_to_agree() {
        let set = |status: Value| {
            object(json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": { "name": "db", "namespace": "a", "generation": 2 },
                "spec": { "replicas": 2, "selector": {}, "template": {}, "serviceName": "db",
                          "updateStrategy": { "type": "RollingUpdate" } },
                "status": status,
            }))
        };
        let rolling = set(
            json!({ "observedGeneration": 2, "replicas": 2, "readyReplicas": 2,
            "currentRevision": "db-1", "updateRevision": "db-2", "updatedReplicas": 1 }),
        );
        assert!(matches!(
            status("StatefulSet", &rolling, 2),
            Rollout::Waiting(_)
        ));
        let done = set(
            json!({ "observedGeneration": 2, "replicas": 2, "readyReplicas": 2,
            "currentRevision": "db-2", "updateRevision": "db-2", "updatedReplicas": 2 }),
        );
        assert_eq!(status("StatefulSet", &done, 2), Rollout::Complete);
    }

    #[test]
    fn a_daemon_set_waits_for_every_node() {
        let set = |updated: i32, available: i32| {
            object(json!({
                "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": { "name": "agent", "namespace": "a", "generation": 2 },
                "spec": { "selector": {}, "template": {} },
                "status": { "observedGeneration": 2, "desiredNumberScheduled": 3,
                            "currentNumberScheduled": 3, "numberMisscheduled": 0,
                            "numberReady": available, "updatedNumberScheduled": updated,
                            "numberAvailable": available },
            }))
        };
        assert!(matches!(
            status("DaemonSet", &set(2, 3), 2),
            Rollout::Waiting(_)
        ));
        assert!(matches!(
            status("DaemonSet", &set(3, 2), 2),
            Rollout::Waiting(_)
        ));
        assert_eq!(status("DaemonSet", &set(3, 3), 2), Rollout::Complete);
    }

    #[test]
    fn pauses_and_on_delete_block_a_restart() {
        let paused = object(json!({ "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "w" }, "spec": { "paused": true } }));
        assert_eq!(blocked("Deployment", &paused), Some(Blocked::Paused));
        let on_delete = object(json!({ "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": "s" }, "spec": { "updateStrategy": { "type": "OnDelete" } } }));
        assert_eq!(blocked("StatefulSet", &on_delete), Some(Blocked::OnDelete));
        assert_eq!(blocked("Deployment", &on_delete), None);
    }
}
