//! Changes recorded by the store, the history kept for watches, and watch subscriptions.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::select::{FieldSelector, LabelSelector};
use super::{view, view_shared};
use crate::sim::kinds::{ResourceType, StorageKey};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed write, in the stored form, as controllers and watches receive it.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeType,
    pub storage: StorageKey,
    pub namespace: Option<String>,
    pub name: String,
    /// The resource version of this write.
    pub resource_version: u64,
    pub object: Arc<Value>,
    /// The object before the write, for modifications.
    pub old: Option<Arc<Value>>,
}

/// The changes kept for watches that start from an older resource version.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Arc<Change>>,
    capacity: usize,
    /// Changes at or below this version are gone.
    compacted: u64,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            capacity,
            compacted: 0,
        }
    }

    pub fn push(&mut self, change: Arc<Change>) {
        if self.events.len() >= self.capacity
            && let Some(gone) = self.events.pop_front()
        {
            self.compacted = gone.resource_version;
        }
        self.events.push_back(change);
    }

    /// Forgets every change up to `version`.
    pub fn compact(&mut self, version: u64) {
        self.events.retain(|c| c.resource_version > version);
        self.compacted = self.compacted.max(version);
    }

    /// The oldest version a watch may start from.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// The kept changes after `version`, oldest first.
    pub fn since(&self, version: u64) -> impl Iterator<Item = &Arc<Change>> {
        let start = self
            .events
            .partition_point(|c| c.resource_version <= version);
        self.events.range(start..)
    }
}

/// What a watch selects.
#[derive(Debug, Clone)]
pub struct WatchFilter {
    pub resource: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl WatchFilter {
    fn selects(&self, obj: &Value) -> bool {
        // Field selectors name the fields of the resource's own shape (`regarding.name`).
        self.labels.matches(obj)
            && (self.fields.is_empty() || self.fields.matches(&view(&self.resource, obj)))
    }

    fn in_scope(&self, change: &Change) -> bool {
        change.storage == self.resource.storage
            && (self.namespace.is_none() || self.namespace == change.namespace)
    }
}

/// An event a watch delivers, in the watched resource's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    Added(Arc<Value>),
    Modified(Arc<Value>),
    Deleted(Arc<Value>),
}

#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    object: &'a Value,
}

impl WatchEvent {
    /// `ADDED`, `MODIFIED` or `DELETED`, as the event's `type` in a watch stream.
    pub fn type_name(&self) -> &'static str {
        self.parts().0
    }

    fn parts(&self) -> (&'static str, &Value) {
        match self {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
        }
    }

    /// The event as a watch stream carries it.
    pub fn to_json(&self) -> Value {
        let (kind, object) = self.parts();
        serde_json::json!({"type": kind, "object": object})
    }

    /// The event as one line of a watch stream, newline included, without copying the object.
    pub fn to_line(&self) -> Vec<u8> {
        let (kind, object) = self.parts();
        let mut out = serde_json::to_vec(&Line { kind, object }).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn object(&self) -> &Value {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o,
        }
    }
}

/// A watch: first the replayed or initial events, then live changes in order.
#[derive(Debug)]
pub struct Watch {
    pending: VecDeque<WatchEvent>,
    live: broadcast::Receiver<Arc<Change>>,
    filter: WatchFilter,
    /// The last version delivered; live changes at or below it were replayed already.
    last: u64,
}

impl Watch {
    pub(super) fn new(
        filter: WatchFilter,
        initial: Vec<WatchEvent>,
        replay: Vec<Arc<Change>>,
        live: broadcast::Receiver<Arc<Change>>,
        from: u64,
    ) -> Self {
        let mut w = Self {
            pending: initial.into(),
            live,
            filter,
            last: from,
        };
        for change in replay {
            w.last = change.resource_version;
            if let Some(e) = w.translate(&change) {
                w.pending.push_back(e);
            }
        }
        w
    }

    /// The version of the last change this watch has seen.
    pub fn resource_version(&self) -> u64 {
        self.last
    }

    /// Whether the next event is already waiting (used to flush streams in batches).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next event, or `None` when the store is gone or this watch fell too far behind
    /// (the client then watches again from its last version, as with a real server).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let change = self.live.recv().await.ok()?;
            if change.resource_version <= self.last {
                continue;
            }
            self.last = change.resource_version;
            if let Some(e) = self.translate(&change) {
                return Some(e);
            }
        }
    }

    // A modification that moves an object out of the selection is a deletion for this watch,
    // and one that moves it in is an addition, as the real server reports them.
    fn translate(&self, change: &Change) -> Option<WatchEvent> {
        if !self.filter.in_scope(change) {
            return None;
        }
        let now = self.filter.selects(&change.object);
        let obj = || view_shared(&self.filter.resource, &change.object);
        match change.kind {
            ChangeType::Added => now.then(|| WatchEvent::Added(obj())),
            ChangeType::Deleted => now.then(|| WatchEvent::Deleted(obj())),
            ChangeType::Modified => {
                let before = change.old.as_ref().is_some_and(|o| self.filter.selects(o));
                match (before, now) {
                    (true, true) => Some(WatchEvent::Modified(obj())),
                    (false, true) => Some(WatchEvent::Added(obj())),
                    (true, false) => Some(WatchEvent::Deleted(obj())),
                    (false, false) => None,
                }
            }
        }
    }
}
