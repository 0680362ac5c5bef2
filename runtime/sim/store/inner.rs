//! The locked state of the store: objects by resource and key, the version counter, the
//! watch history; and the writes that move the version.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::watch::{Change, ChangeType};
use super::{Inner, meta};
use crate::sim::kinds::{ResourceType, StorageKey};

impl Inner {
    pub(super) fn has_namespace(&self, ns: &str) -> bool {
        let key = StorageKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        self.objects
            .get(&key)
            .is_some_and(|m| m.contains_key(&(String::new(), ns.to_string())))
    }

    pub(super) fn commit(
        &mut self,
        rt: &ResourceType,
        key: (String, String),
        mut obj: Value,
        kind: ChangeType,
        old: Option<Arc<Value>>,
        changes: &broadcast::Sender<Arc<Change>>,
    ) -> Arc<Value> {
        self.version += 1;
        meta::meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.version.to_string()));
        let obj = Arc::new(obj);
        let map = self.objects.entry(rt.storage.clone()).or_default();
        if map.insert(key.clone(), Arc::clone(&obj)).is_none() {
            *self
                .per_namespace
                .entry((rt.storage.clone(), key.0.clone()))
                .or_default() += 1;
        }
        self.record(rt, key, kind, Arc::clone(&obj), old, changes);
        obj
    }

    pub(super) fn remove(
        &mut self,
        rt: &ResourceType,
        key: (String, String),
        changes: &broadcast::Sender<Arc<Change>>,
    ) -> Arc<Value> {
        let old = self
            .objects
            .get_mut(&rt.storage)
            .and_then(|m| m.remove(&key))
            .unwrap_or_default();
        if let Some(n) = self
            .per_namespace
            .get_mut(&(rt.storage.clone(), key.0.clone()))
        {
            *n = n.saturating_sub(1);
        }
        self.version += 1;
        let mut gone = (*old).clone();
        meta::meta_mut(&mut gone).insert("resourceVersion".into(), json!(self.version.to_string()));
        let gone = Arc::new(gone);
        self.record(
            rt,
            key,
            ChangeType::Deleted,
            Arc::clone(&gone),
            Some(old),
            changes,
        );
        gone
    }

    pub(super) fn record(
        &mut self,
        rt: &ResourceType,
        (ns, name): (String, String),
        kind: ChangeType,
        object: Arc<Value>,
        old: Option<Arc<Value>>,
        changes: &broadcast::Sender<Arc<Change>>,
    ) {
        let change = Arc::new(Change {
            kind,
            storage: rt.storage.clone(),
            namespace: (!ns.is_empty()).then_some(ns),
            name,
            resource_version: self.version,
            object,
            old,
        });
        self.history.push(Arc::clone(&change));
        // No subscriber is not an error: the history still serves later watches.
        let _ = changes.send(change);
    }

    pub(super) fn delete_namespace_contents(
        &mut self,
        ns: &str,
        changes: &broadcast::Sender<Arc<Change>>,
    ) {
        let types: Vec<Arc<ResourceType>> = self.registry.all().to_vec();
        let mut seen = Vec::new();
        for rt in types.iter().filter(|t| t.namespaced && !t.is_events_v1()) {
            if seen.contains(&rt.storage) {
                continue;
            }
            seen.push(rt.storage.clone());
            let keys: Vec<_> = self
                .objects
                .get(&rt.storage)
                .map(|m| m.keys().filter(|(n, _)| n == ns).cloned().collect())
                .unwrap_or_default();
            for key in keys {
                self.remove(rt, key, changes);
            }
        }
    }

    /// Adds what a new namespace gets from the controllers of a real cluster.
    pub(super) fn fill_namespace(&mut self, ns: &str, changes: &broadcast::Sender<Arc<Change>>) {
        for (plural, mut obj) in super::defaults::namespace_objects(ns) {
            let Some(rt) = self.registry.lookup("", "v1", plural) else {
                continue;
            };
            meta::fill_on_create(&rt, Some(ns), &mut obj);
            let key = (
                ns.to_string(),
                meta::meta_str(&obj, "name").unwrap_or_default().into(),
            );
            let exists = self
                .objects
                .get(&rt.storage)
                .is_some_and(|m| m.contains_key(&key));
            if !exists {
                self.commit(&rt, key, obj, ChangeType::Added, None, changes);
            }
        }
    }

    /// Deletes every object of the kind a CustomResourceDefinition declares.
    pub(super) fn delete_custom_resources(
        &mut self,
        crd: &Value,
        changes: &broadcast::Sender<Arc<Change>>,
    ) {
        let spec = &crd["spec"];
        let (Some(group), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["plural"].as_str())
        else {
            return;
        };
        let Some(rt) = self
            .registry
            .all()
            .iter()
            .find(|t| !t.builtin && t.storage.group == group && t.storage.plural == plural)
            .cloned()
        else {
            return;
        };
        let keys: Vec<_> = self
            .objects
            .get(&rt.storage)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.remove(&rt, key, changes);
        }
    }

    /// Deletes what `owner` owns in its namespace (and what those own), as the garbage
    /// collector does with background propagation, here at once.
    pub(super) fn delete_dependents(
        &mut self,
        owner: &Value,
        changes: &broadcast::Sender<Arc<Change>>,
    ) {
        let Some(uid) = meta::meta_str(owner, "uid").map(String::from) else {
            return;
        };
        let ns = meta::meta_str(owner, "namespace")
            .unwrap_or_default()
            .to_string();
        let owned_by = |o: &Value| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid.as_str())))
        };
        let types: Vec<Arc<ResourceType>> = self.registry.all().to_vec();
        let mut seen = Vec::new();
        for rt in types.iter().filter(|t| !t.is_events_v1()) {
            if seen.contains(&rt.storage) {
                continue;
            }
            seen.push(rt.storage.clone());
            let scope = if rt.namespaced {
                ns.clone()
            } else {
                String::new()
            };
            let keys: Vec<_> = self
                .objects
                .get(&rt.storage)
                .map(|m| {
                    m.iter()
                        .filter(|((n, _), o)| *n == scope && owned_by(o))
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            for key in keys {
                let gone = self.remove(rt, key, changes);
                self.delete_dependents(&gone, changes);
            }
        }
    }

    /// Removes `owner` from the owner references of what it owns in its namespace, as the
    /// garbage collector does for an orphaning delete; each such object is modified.
    pub(super) fn orphan_dependents(
        &mut self,
        owner: &Value,
        changes: &broadcast::Sender<Arc<Change>>,
    ) {
        let Some(uid) = meta::meta_str(owner, "uid").map(String::from) else {
            return;
        };
        let ns = meta::meta_str(owner, "namespace")
            .unwrap_or_default()
            .to_string();
        let refers = |r: &Value| r["uid"].as_str() == Some(uid.as_str());
        let types: Vec<Arc<ResourceType>> = self.registry.all().to_vec();
        let mut seen = Vec::new();
        for rt in types.iter().filter(|t| !t.is_events_v1() && t.namespaced) {
            if seen.contains(&rt.storage) {
                continue;
            }
            seen.push(rt.storage.clone());
            let owned: Vec<_> = self
                .objects
                .get(&rt.storage)
                .map(|m| {
                    m.iter()
                        .filter(|((n, _), o)| {
                            *n == ns
                                && o["metadata"]["ownerReferences"]
                                    .as_array()
                                    .is_some_and(|refs| refs.iter().any(refers))
                        })
                        .map(|(k, o)| (k.clone(), Arc::clone(o)))
                        .collect()
                })
                .unwrap_or_default();
            for (key, old) in owned {
                let mut new = (*old).clone();
                let m = meta::meta_mut(&mut new);
                if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
                    refs.retain(|r| !refers(r));
                    if refs.is_empty() {
                        m.remove("ownerReferences");
                    }
                }
                self.commit(rt, key, new, ChangeType::Modified, Some(old), changes);
            }
        }
    }

    /// How many objects of a resource there are in one namespace, or in all.
    pub(super) fn count(&self, rt: &ResourceType, ns: Option<&str>) -> usize {
        match ns.filter(|_| rt.namespaced) {
            Some(ns) => {
                let key = (rt.storage.clone(), ns.to_string());
                self.per_namespace.get(&key).copied().unwrap_or(0)
            }
            None => self.objects.get(&rt.storage).map_or(0, |m| m.len()),
        }
    }

    /// Stored objects of a resource, in one namespace or all, in key order.
    pub(super) fn scan<'a>(
        &'a self,
        rt: &ResourceType,
        ns: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Value>> + 'a> {
        self.scan_after(rt, ns, None)
    }

    /// Like `scan`, starting after the key `after` (a continue token's position).
    pub(super) fn scan_after<'a>(
        &'a self,
        rt: &ResourceType,
        ns: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Value>> + 'a> {
        use std::ops::Bound;
        let Some(map) = self.objects.get(&rt.storage) else {
            return Box::new(std::iter::empty());
        };
        let ns = ns.filter(|_| rt.namespaced);
        let start = match (after, ns) {
            (Some(key), _) => Bound::Excluded(key),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let range = map.range((start, Bound::Unbounded));
        Box::new(
            range
                .take_while(move |((n, _), _)| ns.is_none_or(|ns| n == ns))
                .map(|(_, v)| v),
        )
    }
}
