//! `wait_event`: waiting for a Kubernetes event that happened after a given moment.
//!
//! Events are objects that get updated: a recorder that sees the same event again bumps
//! `count` and `lastTimestamp` (core v1) or `series` (events.k8s.io v1) on the object it wrote
//! before. So the wait takes a baseline of the namespace's events first, then accepts a new
//! event, or a bump of an existing one, whose time is not before the moment; an event from an
//! earlier rotation (count 1, an hour old) never satisfies a new wait. Failure reasons stop the
//! wait at once with the event's message, instead of at its timeout.
//!
//! Core v1 timestamps have whole seconds. An event in the same second as the moment counts as
//! after it: missing an event is a stuck rotation, while an event from the same second before
//! the step is unlikely.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::api::Cluster;
use super::collection::CollectionWatch;
use super::error::ClusterError;
use super::kinds;

const TICK: Duration = Duration::from_millis(100);
/// Events listed in a timeout's message, at most.
const SHOWN: usize = 10;

/// The failure reasons a wait for `reason` stops on when the script names none.
pub fn default_failures(reason: &str) -> Vec<String> {
    match reason {
        "IssuerUpdated" => vec![
            "IssuerUpdateSkipped".into(),
            "IssuerValidationFailed".into(),
        ],
        _ => Vec::new(),
    }
}

/// What to wait for.
#[derive(Debug, Clone)]
pub struct EventWait {
    pub namespace: String,
    pub reason: String,
    /// The involved object's kind and name; any object when `None`.
    pub kind: Option<String>,
    pub name: Option<String>,
    pub after: OffsetDateTime,
    pub timeout: Duration,
    pub fail_on: Vec<String>,
    /// Wait for one event per ready replica of the involved Deployment.
    pub per_replica: bool,
}

/// One event as read, from either API group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeenEvent {
    pub name: String,
    pub reason: String,
    pub message: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub count: i64,
    /// The latest time the event carries (RFC 3339).
    pub time: String,
    /// `Deployment linkerd/linkerd-identity`.
    pub object: String,
    /// The recording process (`reportingInstance` or `source.host`), or the event's name.
    pub instance: String,
    #[serde(skip)]
    last: Option<OffsetDateTime>,
    #[serde(skip)]
    kind: String,
    #[serde(skip)]
    object_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("waiting for {reason} in namespace {namespace}: {failure} on {object}: {message}")]
    Failed {
        reason: String,
        namespace: String,
        failure: String,
        object: String,
        message: String,
    },
    #[error(
        "waiting for {reason} in namespace {namespace}{object} after {after}: {wanted} within \
         {timeout:?}; {seen}"
    )]
    Timeout {
        reason: String,
        namespace: String,
        object: String,
        after: String,
        wanted: String,
        timeout: Duration,
        seen: String,
    },
    #[error("waiting for {reason} in namespace {namespace}: cancelled")]
    Cancelled { reason: String, namespace: String },
    #[error("wait_event: per_replica needs `name`, the Deployment that records the events")]
    PerReplicaNeedsName,
    /// No event can ever come from a namespace that is not there: fail now, not at the timeout.
    #[error("waiting for {reason} in namespace {namespace}: namespace {namespace} does not exist")]
    NoNamespace { reason: String, namespace: String },
}

fn time_at(value: &Value) -> Option<OffsetDateTime> {
    value
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
}

/// Reads an event of core v1 or events.k8s.io v1.
pub fn read(value: &Value) -> SeenEvent {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let involved = if value["regarding"].is_object() {
        &value["regarding"]
    } else {
        &value["involvedObject"]
    };
    let count = value["series"]["count"]
        .as_i64()
        .or(value["count"].as_i64())
        .or(value["deprecatedCount"].as_i64())
        .unwrap_or(1);
    // The most specific time the recorder wrote; the object's own creation time only when it
    // wrote none (an event copied or replayed later is created long after it happened).
    let last = [
        &value["series"]["lastObservedTime"],
        &value["lastTimestamp"],
        &value["deprecatedLastTimestamp"],
        &value["eventTime"],
        &value["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .find_map(time_at);
    let name = text(&value["metadata"]["name"]);
    let instance = [&value["reportingInstance"], &value["source"]["host"]]
        .into_iter()
        .map(text)
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| name.clone());
    let (kind, object_name) = (text(&involved["kind"]), text(&involved["name"]));
    let namespace = text(&involved["namespace"]);
    SeenEvent {
        reason: text(&value["reason"]),
        message: [&value["note"], &value["message"]]
            .into_iter()
            .map(text)
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        type_: text(&value["type"]),
        count,
        time: last
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default(),
        object: format!("{kind} {namespace}/{object_name}"),
        instance,
        name,
        last,
        kind,
        object_name,
    }
}

/// Whether `now` happened at or after `after` (to the second), given what the baseline held:
/// a bump since the baseline happened during the wait whatever its timestamps say (some
/// recorders bump `count` only); otherwise the event's own latest time decides.
pub fn is_new(now: &SeenEvent, baseline: Option<&SeenEvent>, after: OffsetDateTime) -> bool {
    let floor = after.replace_nanosecond(0).unwrap_or(after);
    let recent = now.last.is_none_or(|t| t >= floor);
    match baseline {
        Some(before) if now.count > before.count || now.last > before.last => true,
        _ => recent,
    }
}

impl EventWait {
    fn about(&self, event: &SeenEvent) -> bool {
        self.kind
            .as_ref()
            .is_none_or(|k| k.eq_ignore_ascii_case(&event.kind))
            && self.name.as_ref().is_none_or(|n| *n == event.object_name)
    }

    fn object(&self) -> String {
        match (&self.kind, &self.name) {
            (Some(kind), Some(name)) => format!(" on {kind} {}", name),
            (None, Some(name)) => format!(" on {name}"),
            (Some(kind), None) => format!(" on a {kind}"),
            (None, None) => String::new(),
        }
    }
}

/// Waits for the event; returns the accepted events, latest first.
///
/// # Errors
///
/// A namespace that does not exist, a failure reason seen, the timeout, Ctrl-C, or a
/// cluster error before the baseline.
pub async fn wait_event(
    cluster: &Cluster,
    wait: &EventWait,
    cancelled: Arc<AtomicBool>,
) -> Result<Vec<SeenEvent>, EventError> {
    let namespace_kind = kinds::lookup("Namespace")?;
    if cluster
        .get(&namespace_kind, None, &wait.namespace)
        .await?
        .is_none()
    {
        return Err(EventError::NoNamespace {
            reason: wait.reason.clone(),
            namespace: wait.namespace.clone(),
        });
    }
    let wanted = if wait.per_replica {
        let name = wait
            .name
            .as_deref()
            .ok_or(EventError::PerReplicaNeedsName)?;
        let kind = kinds::lookup(wait.kind.as_deref().unwrap_or("Deployment"))?;
        let object = cluster.get(&kind, Some(&wait.namespace), name).await?;
        let ready = object
            .as_ref()
            .and_then(|o| o.data["status"]["readyReplicas"].as_u64())
            .unwrap_or(1);
        usize::try_from(ready.max(1)).unwrap_or(1)
    } else {
        1
    };
    let event_kind = kinds::lookup("Event")?;
    let mut watch = CollectionWatch::new(cluster, &event_kind, &wait.namespace, None);
    let started = tokio::time::Instant::now();
    let mut baseline: Option<BTreeMap<String, SeenEvent>> = None;
    let mut last_seen: Vec<SeenEvent> = Vec::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            objects = watch.changed() => {
                let events: Vec<SeenEvent> = objects.values().map(as_json).map(|v| read(&v)).collect();
                let base = baseline.get_or_insert_with(|| {
                    events.iter().map(|e| (e.name.clone(), e.clone())).collect()
                });
                let fresh: Vec<&SeenEvent> = events
                    .iter()
                    .filter(|e| wait.about(e) && is_new(e, base.get(&e.name), wait.after))
                    .collect();
                if let Some(failed) = fresh.iter().find(|e| wait.fail_on.contains(&e.reason)) {
                    return Err(EventError::Failed {
                        reason: wait.reason.clone(),
                        namespace: wait.namespace.clone(),
                        failure: failed.reason.clone(),
                        object: failed.object.clone(),
                        message: failed.message.clone(),
                    });
                }
                let mut accepted: Vec<SeenEvent> = fresh
                    .into_iter()
                    .filter(|e| e.reason == wait.reason)
                    .cloned()
                    .collect();
                let instances: BTreeSet<&str> = accepted.iter().map(|e| e.instance.as_str()).collect();
                if instances.len() >= wanted {
                    accepted.sort_by_key(|e| std::cmp::Reverse(e.last));
                    return Ok(accepted);
                }
                last_seen = events.into_iter().filter(|e| wait.about(e)).collect();
            }
            _ = tick.tick() => {
                if cancelled.load(Ordering::Relaxed) {
                    return Err(EventError::Cancelled {
                        reason: wait.reason.clone(),
                        namespace: wait.namespace.clone(),
                    });
                }
                if started.elapsed() >= wait.timeout {
                    return Err(timeout(wait, wanted, &last_seen));
                }
            }
        }
    }
}

fn as_json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}

fn timeout(wait: &EventWait, wanted: usize, seen: &[SeenEvent]) -> EventError {
    let after = wait.after.format(&Rfc3339).unwrap_or_default();
    let mut shown: Vec<&SeenEvent> = seen.iter().collect();
    shown.sort_by_key(|e| std::cmp::Reverse(e.last));
    let listed: Vec<String> = shown
        .iter()
        .take(SHOWN)
        .map(|e| {
            let when = if is_new(e, None, wait.after) {
                ""
            } else {
                ", before the wait's start"
            };
            format!(
                "{} on {} (count {}, last {}{when}): {}",
                e.reason, e.object, e.count, e.time, e.message
            )
        })
        .collect();
    let seen = if listed.is_empty() {
        "saw no events about it".to_owned()
    } else {
        format!("saw {}", listed.join("; "))
    };
    let wanted = if wanted > 1 {
        format!("not one event from each of {wanted} ready replicas")
    } else {
        "none".to_owned()
    };
    EventError::Timeout {
        reason: wait.reason.clone(),
        namespace: wait.namespace.clone(),
        object: wait.object(),
        after,
        wanted,
        timeout: wait.timeout,
        seen,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn both_event_apis_are_read_with_their_latest_time() {
        let core = read(&json!({
            "metadata": { "name": "e1", "creationTimestamp": "2026-12-03T19:00:00Z" },
            "involvedObject": { "kind": "Deployment", "namespace": "linkerd",
                                "name": "linkerd-identity" },
            "reason": "IssuerUpdated", "message": "Updated identity issuer", "type": "Normal",
            "count": 3, "lastTimestamp": "2026-12-03T20:00:05Z",
            "source": { "host": "node-1" },
        }));
        assert_eq!(core.count, 3);
        assert_eq!(core.time, "2026-12-03T20:00:05Z");
        assert_eq!(core.object, "Deployment linkerd/linkerd-identity");
        assert_eq!(core.instance, "node-1");

        let new_api = read(&json!({
            "metadata": { "name": "e2", "creationTimestamp": "2026-12-03T19:00:00Z" },
            "regarding": { "kind": "Deployment", "namespace": "linkerd", "name": "x" },
            "reason": "IssuerUpdated", "note": "from the new API", "type": "Normal",
            "eventTime": "2026-12-03T20:00:00.250000Z",
            "series": { "count": 4, "lastObservedTime": "2026-12-03T20:01:00.500000Z" },
            "reportingInstance": "identity-abc",
        }));
        assert_eq!(new_api.count, 4);
        assert_eq!(new_api.message, "from the new API");
        assert_eq!(new_api.last, Some(at("2026-12-03T20:01:00.5Z")));
        assert_eq!(new_api.instance, "identity-abc");
        assert_eq!(new_api.object, "Deployment linkerd/x");
    }

    #[test]
    fn an_old_event_is_new_only_once_bumped() {
        let after = at("2026-12-03T20:00:00.700Z");
        let event = |count: i64, last: &str| {
            read(
                &json!({ "metadata": { "name": "e" }, "reason": "R", "count": count,
                          "lastTimestamp": last }),
            )
        };
        let old = event(1, "2026-12-03T19:00:00Z");
        assert!(!is_new(&old, None, after));
        assert!(!is_new(&old, Some(&old), after));
        // Whole-second timestamps: the same second as the moment counts as after it.
        assert!(is_new(&event(1, "2026-12-03T20:00:00Z"), None, after));
        // A bump seen against the baseline happened during the wait.
        assert!(is_new(&event(2, "2026-12-03T19:00:00Z"), Some(&old), after));
        assert!(is_new(&event(2, "2026-12-03T20:00:01Z"), Some(&old), after));
    }
}
