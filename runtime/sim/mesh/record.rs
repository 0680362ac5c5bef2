//! The failure record: every sampled connection between meshed pods that failed its mTLS
//! handshake, with when, between whom and why. Tests read it, `runner sim serve` serves it at
//! `/sim/failures` and prints its summary on exit.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};

/// How many failures are kept; the count goes on beyond it.
const KEPT: usize = 10_000;

/// One failed connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Wall-clock time (RFC 3339), comparable with object timestamps.
    pub at: String,
    /// Simulated time (RFC 3339), against which certificates are checked.
    pub sim_time: String,
    /// `namespace/pod` of the client.
    pub from: String,
    /// `namespace/pod` of the server.
    pub to: String,
    /// Why the handshake failed, such as "unknown issuer".
    pub reason: String,
}

#[derive(Debug, Default)]
struct Inner {
    kept: VecDeque<Failure>,
    failed: u64,
    sampled: u64,
}

/// The record; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct FailureRecord {
    inner: Arc<Mutex<Inner>>,
}

impl FailureRecord {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn sampled(&self, connections: u64) {
        self.lock().sampled += connections;
    }

    pub(super) fn push(&self, failure: Failure) {
        let mut inner = self.lock();
        inner.failed += 1;
        if inner.kept.len() == KEPT {
            inner.kept.pop_front();
        }
        inner.kept.push_back(failure);
    }

    /// The failures kept, oldest first.
    pub fn failures(&self) -> Vec<Failure> {
        self.lock().kept.iter().cloned().collect()
    }

    /// How many connections failed in all.
    pub fn failed(&self) -> u64 {
        self.lock().failed
    }

    /// How many connections were sampled in all.
    pub fn connections(&self) -> u64 {
        self.lock().sampled
    }

    pub fn is_empty(&self) -> bool {
        self.failed() == 0
    }

    /// Forgets every failure (the sample count stays).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.kept.clear();
        inner.failed = 0;
    }

    /// The record as the HTTP endpoint serves it.
    pub fn to_json(&self) -> Value {
        let inner = self.lock();
        json!({
            "connections": inner.sampled,
            "failed": inner.failed,
            "failures": inner.kept.iter().collect::<Vec<_>>(),
        })
    }

    /// A few lines for an operator: totals, then failures grouped by namespaces and reason.
    pub fn summary(&self) -> String {
        let inner = self.lock();
        let mut out = format!(
            "meshed traffic: {} connections sampled, {} failed\n",
            inner.sampled, inner.failed
        );
        let mut groups: BTreeMap<(String, String, String), (u64, &str, &str)> = BTreeMap::new();
        for f in &inner.kept {
            let ns = |p: &str| p.split('/').next().unwrap_or_default().to_owned();
            let entry = groups
                .entry((ns(&f.from), ns(&f.to), f.reason.clone()))
                .or_insert((0, &f.at, &f.at));
            entry.0 += 1;
            entry.2 = &f.at;
        }
        for ((from, to, reason), (count, first, last)) in groups {
            out.push_str(&format!(
                "  {from} -> {to}: {count} x {reason} (first {first}, last {last})\n"
            ));
        }
        out
    }
}

/// The HTTP routes of the record: `GET /sim/failures`.
pub fn routes(record: FailureRecord) -> axum::Router {
    axum::Router::new().route(
        "/sim/failures",
        axum::routing::get(move || {
            let record = record.clone();
            async move { axum::Json(record.to_json()) }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(from: &str, to: &str, reason: &str) -> Failure {
        Failure {
            at: "2026-01-01T00:00:00Z".into(),
            sim_time: "2026-01-02T00:00:00Z".into(),
            from: from.into(),
            to: to.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn the_summary_groups_failures_by_namespaces_and_reason() {
        let record = FailureRecord::default();
        record.sampled(10);
        assert!(record.is_empty());
        assert!(
            record
                .summary()
                .starts_with("meshed traffic: 10 connections sampled, 0 failed")
        );
        record.push(failure("a/p1", "linkerd/id", "unknown issuer"));
        record.push(failure("a/p2", "linkerd/id", "unknown issuer"));
        record.push(failure("b/p1", "b/p2", "certificate expired"));
        let summary = record.summary();
        assert!(
            summary.contains("a -> linkerd: 2 x unknown issuer"),
            "{summary}"
        );
        assert!(
            summary.contains("b -> b: 1 x certificate expired"),
            "{summary}"
        );
        assert_eq!(record.to_json()["failed"], 3);
        assert_eq!(record.failures()[0].from, "a/p1");
        record.clear();
        assert!(record.is_empty());
        assert_eq!(record.connections(), 10);
    }
}
