//! The workload controller's loop: committed changes mark workloads dirty, batches of dirty
//! workloads are reconciled, and an owner index (owner uid → owned objects) spares a scan of
//! the namespace per reconcile, so that 10,000 pods cost a lookup each and not a list.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::broadcast::error::RecvError;

use super::ClusterError;
use super::kubelet::Kubelet;
use super::objects::{Kinds, controller_of, name, namespace, uid};
use crate::sim::Store;
use crate::sim::kinds::ResourceType;
use crate::sim::store::{Change, ChangeType, ListOptions};

/// A workload to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Deployment(String, String),
    ReplicaSet(String, String),
    StatefulSet(String, String),
    DaemonSet(String, String),
}

impl Key {
    fn of(kind: &str, ns: &str, name: &str) -> Option<Self> {
        let (ns, name) = (ns.to_owned(), name.to_owned());
        match kind {
            "Deployment" => Some(Self::Deployment(ns, name)),
            "ReplicaSet" => Some(Self::ReplicaSet(ns, name)),
            "StatefulSet" => Some(Self::StatefulSet(ns, name)),
            "DaemonSet" => Some(Self::DaemonSet(ns, name)),
            _ => None,
        }
    }
}

/// What the reconcilers share.
pub struct Workloads {
    pub store: Store,
    pub kinds: Kinds,
    pub kubelet: Kubelet,
    /// The simulated nodes DaemonSets run on and pods are placed on.
    pub nodes: Vec<String>,
    /// Owner uid → names of the pods and ReplicaSets it owns.
    owned: HashMap<String, BTreeSet<String>>,
    next_node: usize,
}

impl Workloads {
    pub fn new(store: Store, kinds: Kinds, kubelet: Kubelet, nodes: Vec<String>) -> Self {
        Self {
            store,
            kinds,
            kubelet,
            nodes,
            owned: HashMap::new(),
            next_node: 0,
        }
    }

    /// The objects of `rt` in `ns` owned by `owner`, as stored now.
    pub fn owned(&mut self, rt: &ResourceType, ns: &str, owner: &Value) -> Vec<Value> {
        let Some(names) = self.owned.get(uid(owner)) else {
            return Vec::new();
        };
        names
            .iter()
            .filter_map(|n| self.store.get(rt, Some(ns), n).ok())
            .filter(|o| controller_of(o).is_some_and(|(_, _, u)| u == uid(owner)))
            .collect()
    }

    /// Records an object this controller just made, before its change arrives.
    pub fn remember(&mut self, obj: &Value) {
        if let Some((_, _, owner)) = controller_of(obj) {
            self.owned
                .entry(owner.to_owned())
                .or_default()
                .insert(name(obj).to_owned());
        }
    }

    /// Forgets an object this controller just deleted.
    pub fn forget(&mut self, obj: &Value) {
        if let Some((_, _, owner)) = controller_of(obj)
            && let Some(set) = self.owned.get_mut(owner)
        {
            set.remove(name(obj));
        }
    }

    /// The node for the next pod, round robin.
    pub fn next_node(&mut self) -> String {
        self.next_node = (self.next_node + 1) % self.nodes.len().max(1);
        self.nodes.get(self.next_node).cloned().unwrap_or_default()
    }

    fn observe(&mut self, change: &Change, dirty: &mut BTreeSet<Key>) {
        let obj = &change.object;
        let ns = change.namespace.as_deref().unwrap_or_default();
        match (
            change.storage.group.as_str(),
            change.storage.plural.as_str(),
        ) {
            ("", "pods") | ("apps", "replicasets") => {
                if change.kind == ChangeType::Deleted {
                    self.forget(obj);
                } else {
                    self.remember(obj);
                }
                if change.storage.plural == "pods" {
                    match change.kind {
                        ChangeType::Added => self.kubelet.created(obj),
                        ChangeType::Deleted => self.kubelet.deleted(obj),
                        ChangeType::Modified => {}
                    }
                } else {
                    dirty.extend(Key::of("ReplicaSet", ns, &change.name));
                }
                if let Some((kind, owner, _)) = controller_of(obj) {
                    dirty.extend(Key::of(kind, ns, owner));
                }
            }
            ("apps", "deployments") => dirty.extend(Key::of("Deployment", ns, &change.name)),
            ("apps", "statefulsets") => dirty.extend(Key::of("StatefulSet", ns, &change.name)),
            ("apps", "daemonsets") => dirty.extend(Key::of("DaemonSet", ns, &change.name)),
            _ => {}
        }
        if change.kind == ChangeType::Deleted {
            self.owned.remove(uid(obj));
        }
    }

    /// Reads everything again (at start, and after falling behind the change stream).
    fn resync(&mut self, dirty: &mut BTreeSet<Key>) -> Result<(), ClusterError> {
        self.owned.clear();
        let all = ListOptions::default();
        let store = self.store.clone();
        let list = |rt: &ResourceType| {
            store
                .list(rt, None, &all)
                .map(|p| p.items)
                .map_err(|source| ClusterError::Store {
                    object: rt.qualified(),
                    source: Box::new(source),
                })
        };
        let pods = list(&self.kinds.pod)?;
        let sets = list(&self.kinds.replica_set)?;
        for obj in pods.iter().chain(sets.iter()) {
            self.remember(obj);
        }
        for pod in &pods {
            self.kubelet.created(pod);
        }
        for (rt, kind) in [
            (&self.kinds.deployment, "Deployment"),
            (&self.kinds.replica_set, "ReplicaSet"),
            (&self.kinds.stateful_set, "StatefulSet"),
            (&self.kinds.daemon_set, "DaemonSet"),
        ] {
            for obj in list(rt)? {
                dirty.extend(Key::of(kind, namespace(&obj), name(&obj)));
            }
        }
        Ok(())
    }

    fn reconcile(&mut self, key: &Key) -> Result<(), ClusterError> {
        match key {
            Key::Deployment(ns, n) => super::deployments::deployment(self, ns, n),
            Key::ReplicaSet(ns, n) => super::deployments::replica_set(self, ns, n),
            Key::StatefulSet(ns, n) => super::ordinals::stateful_set(self, ns, n),
            Key::DaemonSet(ns, n) => super::ordinals::daemon_set(self, ns, n),
        }
    }

    /// Runs until the store is dropped.
    pub async fn run(mut self) {
        let mut changes = self.store.subscribe();
        let mut dirty = BTreeSet::new();
        if let Err(e) = self.resync(&mut dirty) {
            tracing::warn!(error = %crate::pki::chain_text(&e), "reading the workloads");
        }
        loop {
            if !dirty.is_empty() {
                self.drain(&mut dirty);
                // Let the server and the kubelet tasks run between batches.
                tokio::task::yield_now().await;
            }
            if dirty.is_empty() {
                match changes.recv().await {
                    Ok(change) => self.observe(&change, &mut dirty),
                    Err(RecvError::Lagged(_)) => {
                        let _ = self.resync(&mut dirty);
                    }
                    Err(RecvError::Closed) => return,
                }
            }
            // Take whatever else arrived, so that a burst is reconciled once.
            loop {
                match changes.try_recv() {
                    Ok(change) => self.observe(&change, &mut dirty),
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                        let _ = self.resync(&mut dirty);
                    }
                    Err(_) => break,
                }
            }
        }
    }

    fn drain(&mut self, dirty: &mut BTreeSet<Key>) {
        let batch = std::mem::take(dirty);
        for key in &batch {
            if let Err(e) = self.reconcile(key) {
                tracing::warn!(?key, error = %crate::pki::chain_text(&e), "reconciling a workload");
            }
        }
    }
}

/// Starts the workload controller on its own task.
pub fn spawn(workloads: Workloads) -> tokio::task::JoinHandle<()> {
    tokio::spawn(workloads.run())
}
