//! Kubernetes events as one process records them with client-go (LINKERD.md §4.4): an
//! identical event (same object, type, reason and message) is patched in place, `count + 1`
//! and a new `lastTimestamp`; ten different messages of one reason within ten minutes are
//! combined into one "(combined from similar events)" event; and each source and object has
//! a token bucket of 25 events refilled at one per 5 minutes, so that a burst suppresses
//! what follows.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::sim::Store;
use crate::sim::cluster::{Kinds, SimClock};
use crate::sim::store::Patch;

const BURST: f64 = 25.0;
const REFILL: Duration = Duration::from_secs(300);
/// Similar events are combined from the tenth different message on…
const AGGREGATE_AFTER: usize = 10;
/// …as long as each came within ten minutes of the previous one.
const AGGREGATE_WINDOW: time::Duration = time::Duration::minutes(10);

/// The event recorder of one process (one identity replica).
pub struct Recorder {
    store: Store,
    kinds: Kinds,
    clock: SimClock,
    component: String,
    state: Mutex<State>,
}

/// What the recorder remembers of an event it wrote.
struct Seen {
    name: String,
    count: i64,
    first: String,
}

/// (object, type, reason, message), the message `None` for a combined event.
type EventKey = (String, String, String, Option<String>);

#[derive(Default)]
struct State {
    seen: HashMap<EventKey, Seen>,
    /// (object, type, reason) → the different messages seen, and when the last came.
    similar: HashMap<(String, String, String), (BTreeSet<String>, OffsetDateTime)>,
    /// object → (tokens, when last refilled).
    buckets: HashMap<String, (f64, Option<OffsetDateTime>)>,
}

impl Recorder {
    pub fn new(store: Store, kinds: Kinds, clock: SimClock, component: &str) -> Self {
        Self {
            store,
            kinds,
            clock,
            component: component.to_owned(),
            state: Mutex::default(),
        }
    }

    /// Records an event about `object` (an ObjectReference); `kind` is `Normal` or `Warning`.
    /// Returns whether it was written (false when the rate limit dropped it).
    ///
    /// The steps are client-go's (`EventCorrelate`): similar events (same object, type and
    /// reason, ten different messages within ten minutes) are combined into one event; an
    /// event seen before is counted; then the rate limit may drop the write, after the
    /// count was taken, so that the next write shows the dropped ones too.
    pub fn record(&self, object: &Value, kind: &str, reason: &str, message: &str) -> bool {
        let ns = object["namespace"].as_str().unwrap_or("default").to_owned();
        let object_key = format!(
            "{ns}/{}/{}",
            object["kind"].as_str().unwrap_or(""),
            object["name"].as_str().unwrap_or("")
        );
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now();

        // Aggregation of similar events.
        let group = (object_key.clone(), kind.to_owned(), reason.to_owned());
        let similar = state
            .similar
            .entry(group)
            .or_insert_with(|| (BTreeSet::new(), now));
        if now - similar.1 > AGGREGATE_WINDOW {
            similar.0.clear();
        }
        similar.0.insert(message.to_owned());
        similar.1 = now;
        let (message, key) = if similar.0.len() >= AGGREGATE_AFTER {
            similar.0.pop_first();
            (
                format!("(combined from similar events): {message}"),
                (object_key.clone(), kind.to_owned(), reason.to_owned(), None),
            )
        } else {
            (
                message.to_owned(),
                (
                    object_key.clone(),
                    kind.to_owned(),
                    reason.to_owned(),
                    Some(message.to_owned()),
                ),
            )
        };

        // Counting: an event seen before is the same object, one more time.
        let fresh_name = || {
            format!(
                "{}.{:x}",
                object["name"].as_str().unwrap_or("event"),
                OffsetDateTime::now_utc().unix_timestamp_nanos()
                    + i128::from(rand::random::<u16>())
            )
        };
        let at = crate::sim::store::meta::now_rfc3339();
        let observed = match state.seen.get(&key) {
            Some(seen) => Observed {
                name: seen.name.clone(),
                count: seen.count + 1,
                first: seen.first.clone(),
                existing: true,
            },
            None => Observed {
                name: fresh_name(),
                count: 1,
                first: at.clone(),
                existing: false,
            },
        };
        state.seen.insert(
            key,
            Seen {
                name: observed.name.clone(),
                count: observed.count,
                first: observed.first.clone(),
            },
        );

        // The rate limit: 25 per object, then one per 5 minutes.
        let bucket = state.buckets.entry(object_key).or_insert((BURST, None));
        if let Some(last) = bucket.1 {
            let refilled = (now - last).as_seconds_f64() / REFILL.as_secs_f64();
            bucket.0 = (bucket.0 + refilled).min(BURST);
        }
        bucket.1 = Some(now);
        if bucket.0 < 1.0 {
            return false;
        }
        bucket.0 -= 1.0;
        drop(state);

        if observed.existing {
            let patch = Patch::Merge(
                json!({ "count": observed.count, "lastTimestamp": at, "message": message }),
            );
            match self.store.patch(
                &self.kinds.event,
                Some(&ns),
                &observed.name,
                &patch,
                false,
                false,
            ) {
                Ok(_) => return true,
                // Gone from the server (deleted, or expired): written anew, as client-go does.
                Err(crate::sim::store::StoreError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(reason, error = %e, "recording a simulated event");
                    return false;
                }
            }
        }
        // client-go fills the reporting fields from the event source, whose host Linkerd
        // leaves empty: the replicas' events differ only by name.
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "name": observed.name, "namespace": ns },
            "involvedObject": object,
            "reason": reason,
            "message": message,
            "type": kind,
            "count": observed.count,
            "firstTimestamp": observed.first,
            "lastTimestamp": at,
            "source": { "component": self.component },
            "reportingComponent": self.component,
        });
        match self
            .store
            .create(&self.kinds.event, Some(&ns), event, false)
        {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(reason, error = %e, "recording a simulated event");
                false
            }
        }
    }
}

/// An event as counted before writing it.
struct Observed {
    name: String,
    count: i64,
    first: String,
    existing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn identical_events_are_counted_and_a_burst_is_rate_limited() {
        let store = Store::default();
        crate::sim::load::ensure_system_namespaces(&store).unwrap();
        crate::sim::load::ensure_namespace(&store, "linkerd").unwrap();
        let kinds = Kinds::of(&store).unwrap();
        // Real time: the bucket does not refill during the test.
        let recorder = Recorder::new(
            store.clone(),
            kinds.clone(),
            SimClock::new(1.0),
            "linkerd-identity",
        );
        let object =
            json!({"kind": "Deployment", "namespace": "linkerd", "name": "linkerd-identity"});
        assert!(recorder.record(
            &object,
            "Normal",
            "IssuerUpdated",
            "Updated identity issuer"
        ));
        assert!(recorder.record(
            &object,
            "Normal",
            "IssuerUpdated",
            "Updated identity issuer"
        ));
        let list = store
            .list(&kinds.event, Some("linkerd"), &Default::default())
            .unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(list.items[0]["count"], 2);
        let written = (0..30)
            .filter(|i| {
                recorder.record(
                    &object,
                    "Warning",
                    "IssuerValidationFailed",
                    &format!("csr {i}"),
                )
            })
            .count();
        assert_eq!(written, 23, "25 in the bucket, 2 used before");
        // Nine events with their own message, then one that combines the others.
        let list = store
            .list(&kinds.event, Some("linkerd"), &Default::default())
            .unwrap();
        let failed: Vec<&Value> = list
            .items
            .iter()
            .map(|e| &**e)
            .filter(|e| e["reason"] == "IssuerValidationFailed")
            .collect();
        assert_eq!(failed.len(), 10);
        let combined: Vec<&&Value> = failed
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("(combined from similar events): ")
            })
            .collect();
        assert_eq!(combined.len(), 1);
        assert_eq!(
            combined[0]["message"],
            "(combined from similar events): csr 22"
        );
        assert_eq!(combined[0]["count"], 14, "csr 9 to csr 22");
        assert!(combined[0].get("reportingInstance").is_none());
        assert!(!recorder.record(
            &object,
            "Normal",
            "IssuerUpdated",
            "Updated identity issuer"
        ));
    }
}
