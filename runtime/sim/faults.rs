//! Fault injection and request counting, changeable while the server runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

/// The faults to inject; the default injects none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of requests (0.0–1.0) answered `500 InternalError`.
    pub error_rate: f64,
    /// Share of requests answered `429 TooManyRequests` with `Retry-After`.
    pub throttle_rate: f64,
    /// The `Retry-After` seconds of a 429.
    pub retry_after_secs: u32,
    /// Added before every answer.
    pub latency: Duration,
    /// Watches end after this long, as when a connection drops.
    pub watch_cut_after: Option<Duration>,
    /// Share of writes (PUT, PATCH) answered `409 Conflict`.
    pub conflict_rate: f64,
    /// Every Nth write answered `409 Conflict` (0: none), for tests that need conflicts to
    /// happen and a re-read write to pass, without the chance of a long run of them.
    pub conflict_every: u32,
}

/// What an injected fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    ServerError,
    Throttled { retry_after_secs: u32 },
    Conflict,
}

/// The live fault settings of a server; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    config: Arc<RwLock<FaultConfig>>,
    /// Writes drawn for so far, for `conflict_every`.
    writes: Arc<std::sync::atomic::AtomicU64>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            config: Arc::new(RwLock::new(config)),
            writes: Arc::default(),
        }
    }

    /// Replaces the settings; requests already running keep the old ones.
    pub fn set(&self, config: FaultConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    pub fn get(&self) -> FaultConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Draws the fault, if any, for one request.
    pub fn draw(&self, is_write: bool) -> Option<Injected> {
        let c = self.get();
        if is_write && c.conflict_every > 0 {
            let n = 1 + self
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_multiple_of(u64::from(c.conflict_every)) {
                return Some(Injected::Conflict);
            }
        }
        let hit = |rate: f64| rate > 0.0 && rand::random::<f64>() < rate;
        if hit(c.error_rate) {
            Some(Injected::ServerError)
        } else if hit(c.throttle_rate) {
            Some(Injected::Throttled {
                retry_after_secs: c.retry_after_secs.max(1),
            })
        } else if is_write && hit(c.conflict_rate) {
            Some(Injected::Conflict)
        } else {
            None
        }
    }
}

/// Requests answered, per verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
/// `delete`; a dry-run write as `patch:dryRun` and so on, which [`RequestCounts::writes`]
/// leaves out; an injected fault as `injected` with the status code as resource) and resource
/// (`deployments.apps`), and per object for requests that name one; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounts {
    by_resource: Arc<Mutex<BTreeMap<(String, String), u64>>>,
    by_object: Arc<Mutex<BTreeMap<ObjectKey, u64>>>,
}

/// (verb, resource, namespace or empty, name)
type ObjectKey = (String, String, String, String);

/// The verbs that change objects.
pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete"];

impl RequestCounts {
    pub fn record(&self, verb: &str, resource: &str) {
        let mut m = self
            .by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *m.entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
    }

    /// Records a request that names one object (get, update, patch, delete).
    pub fn record_object(&self, verb: &str, resource: &str, namespace: Option<&str>, name: &str) {
        self.record(verb, resource);
        let key = (
            verb.into(),
            resource.into(),
            namespace.unwrap_or_default().into(),
            name.into(),
        );
        let mut m = self
            .by_object
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *m.entry(key).or_default() += 1;
    }

    /// The count of one verb on one resource.
    pub fn get(&self, verb: &str, resource: &str) -> u64 {
        let m = self
            .by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        m.get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Every count, keyed by (verb, resource).
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Write requests of every resource.
    pub fn writes(&self) -> u64 {
        let m = self
            .by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        m.iter()
            .filter(|((v, _), _)| WRITE_VERBS.contains(&v.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Write requests (update, patch, delete) that named one object, such as a workload.
    pub fn object_writes(&self, resource: &str, namespace: Option<&str>, name: &str) -> u64 {
        let m = self
            .by_object
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ns = namespace.unwrap_or_default();
        m.iter()
            .filter(|((v, r, n, o), _)| {
                WRITE_VERBS.contains(&v.as_str()) && r == resource && n == ns && o == name
            })
            .map(|(_, n)| n)
            .sum()
    }

    pub fn reset(&self) {
        self.by_resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.by_object
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_every_answers_every_nth_write_and_no_read() {
        let f = Faults::new(FaultConfig {
            conflict_every: 2,
            ..Default::default()
        });
        let drawn: Vec<_> = [true, false, true, true, true, true]
            .into_iter()
            .map(|write| f.draw(write))
            .collect();
        let conflict = Some(Injected::Conflict);
        assert_eq!(drawn, [None, None, conflict, None, conflict, None]);
    }

    #[test]
    fn certain_faults_always_fire_and_none_by_default() {
        let f = Faults::default();
        assert_eq!(f.draw(true), None);
        f.set(FaultConfig {
            conflict_rate: 1.0,
            ..Default::default()
        });
        assert_eq!(f.draw(false), None);
        assert_eq!(f.draw(true), Some(Injected::Conflict));
        f.set(FaultConfig {
            throttle_rate: 1.0,
            retry_after_secs: 3,
            ..Default::default()
        });
        assert_eq!(
            f.draw(false),
            Some(Injected::Throttled {
                retry_after_secs: 3
            })
        );
    }

    #[test]
    fn counts_writes() {
        let c = RequestCounts::default();
        c.record("patch", "deployments.apps");
        c.record("patch", "deployments.apps");
        c.record("list", "pods");
        c.record_object("patch", "deployments.apps", Some("app"), "web");
        c.record_object("get", "deployments.apps", Some("app"), "web");
        assert_eq!(c.get("patch", "deployments.apps"), 3);
        assert_eq!(c.writes(), 3);
        assert_eq!(c.object_writes("deployments.apps", Some("app"), "web"), 1);
        assert_eq!(c.object_writes("deployments.apps", Some("app"), "api"), 0);
    }
}
