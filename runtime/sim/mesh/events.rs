//! Kubernetes events as one process records them with client-go (LINKERD.md §4.4): an
//! identical event (same object, type, reason and message) is patched in place, `count + 1`
//! and a new `lastTimestamp`; and each source and object has a token bucket of 25 events
//! refilled at one per 5 minutes, so that a burst suppresses what follows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::sim::Store;
use crate::sim::cluster::{Kinds, SimClock};
use crate::sim::store::Patch;

const BURST: f64 = 25.0;
const REFILL: Duration = Duration::from_secs(300);

/// The event recorder of one process (one identity replica).
pub struct Recorder {
    store: Store,
    kinds: Kinds,
    clock: SimClock,
    component: String,
    instance: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// (object, type, reason, message) → the event's name.
    seen: HashMap<(String, String, String, String), String>,
    /// object → (tokens, when last refilled).
    buckets: HashMap<String, (f64, Option<OffsetDateTime>)>,
}

impl Recorder {
    pub fn new(
        store: Store,
        kinds: Kinds,
        clock: SimClock,
        component: &str,
        instance: &str,
    ) -> Self {
        Self {
            store,
            kinds,
            clock,
            component: component.to_owned(),
            instance: instance.to_owned(),
            state: Mutex::default(),
        }
    }

    /// Records an event about `object` (an ObjectReference); `kind` is `Normal` or `Warning`.
    /// Returns whether it was written (false when the rate limit dropped it).
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
        let bucket = state
            .buckets
            .entry(object_key.clone())
            .or_insert((BURST, None));
        if let Some(last) = bucket.1 {
            let refilled = (now - last).as_seconds_f64() / REFILL.as_secs_f64();
            bucket.0 = (bucket.0 + refilled).min(BURST);
        }
        bucket.1 = Some(now);
        if bucket.0 < 1.0 {
            return false;
        }
        bucket.0 -= 1.0;
        let at = crate::sim::store::meta::now_rfc3339();
        let key = (
            object_key,
            kind.to_owned(),
            reason.to_owned(),
            message.to_owned(),
        );
        if let Some(name) = state.seen.get(&key) {
            let current = self.store.get(&self.kinds.event, Some(&ns), name).ok();
            if let Some(current) = current {
                let count = current["count"].as_i64().unwrap_or(1) + 1;
                let patch = Patch::Merge(json!({ "count": count, "lastTimestamp": at }));
                if self
                    .store
                    .patch(&self.kinds.event, Some(&ns), name, &patch, false, false)
                    .is_ok()
                {
                    return true;
                }
            }
        }
        let name = format!(
            "{}.{:x}",
            object["name"].as_str().unwrap_or("event"),
            OffsetDateTime::now_utc().unix_timestamp_nanos() + i128::from(rand::random::<u16>())
        );
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "name": name, "namespace": ns },
            "involvedObject": object,
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "firstTimestamp": at,
            "lastTimestamp": at,
            "source": { "component": self.component },
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        });
        match self
            .store
            .create(&self.kinds.event, Some(&ns), event, false)
        {
            Ok(_) => {
                state.seen.insert(key, name);
                true
            }
            Err(e) => {
                tracing::warn!(reason, error = %e, "recording a simulated event");
                false
            }
        }
    }
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
            "pod-a",
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
        assert!(!recorder.record(
            &object,
            "Normal",
            "IssuerUpdated",
            "Updated identity issuer"
        ));
    }
}
