//! The predicted state of a dry-run: what the server-side dry-runs of this run answered,
//! served back to the later reads of the same run.
//!
//! A rotation's stages build on each other: the issuer may only change once the cluster
//! trusts the new root, and the old root may only go once the issuer is the new one. In a
//! dry-run nothing is stored, so without this every later stage would read the old state and
//! its primitives would refuse (rightly) to plan a change the earlier stage had not made. With
//! it, each dry-run write is checked by the API server against the live object and the answer
//! is kept, so later reads see the cluster as the real run would have left it, and the plan
//! shows every stage's changes.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::api::DynamicObject;
use serde_json::Value;

use super::kinds::Kind;

/// Objects as this dry-run's writes left them, keyed by resource, namespace and name.
#[derive(Debug, Default)]
pub struct Overlay {
    objects: Mutex<HashMap<String, DynamicObject>>,
}

fn key(kind: &Kind, namespace: Option<&str>, name: &str) -> String {
    format!(
        "{}/{}/{name}",
        kind.qualified_plural(),
        namespace.filter(|_| kind.namespaced).unwrap_or_default()
    )
}

impl Overlay {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DynamicObject>> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The object as an earlier dry-run write of this run left it.
    pub fn get(&self, kind: &Kind, namespace: Option<&str>, name: &str) -> Option<DynamicObject> {
        self.lock().get(&key(kind, namespace, name)).cloned()
    }

    /// Replaces the listed objects that an earlier dry-run write changed.
    pub fn apply_to_list(&self, kind: &Kind, items: &mut [DynamicObject]) {
        let objects = self.lock();
        if objects.is_empty() {
            return;
        }
        for item in items {
            let name = item.metadata.name.clone().unwrap_or_default();
            let namespace = item.metadata.namespace.clone();
            if let Some(changed) = objects.get(&key(kind, namespace.as_deref(), &name)) {
                *item = changed.clone();
            }
        }
    }

    /// Records what a dry-run write would leave: `before` (live, or from an earlier write of
    /// this run) with the merge `patch` applied. The server's answer is used for the first
    /// write of an object (it holds the defaults the server fills in); later writes merge
    /// locally, because the server applied them to the live object, which lacks the earlier
    /// ones. The resourceVersion stays the live one, so the next dry-run write's precondition
    /// still holds against the server.
    pub fn record(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        before: &DynamicObject,
        answer: &DynamicObject,
        patch: &Value,
    ) -> DynamicObject {
        let mut objects = self.lock();
        let key = key(kind, namespace, name);
        let mut after = if objects.contains_key(&key) {
            let mut merged = serde_json::to_value(before).unwrap_or_default();
            json_patch::merge(&mut merged, patch);
            serde_json::from_value(merged).unwrap_or_else(|_| answer.clone())
        } else {
            answer.clone()
        };
        after.metadata.resource_version = before.metadata.resource_version.clone();
        objects.insert(key, after.clone());
        after
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config_map(data: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "roots", "namespace": "linkerd", "resourceVersion": "7"},
            "data": data,
        }))
        .unwrap()
    }

    #[test]
    fn later_writes_build_on_earlier_ones_and_keep_the_live_version() {
        let kind = super::super::kinds::lookup("ConfigMap").unwrap();
        let overlay = Overlay::default();
        let live = config_map(json!({"a": "1"}));
        let mut answer = config_map(json!({"a": "1", "b": "2"}));
        answer.metadata.resource_version = Some("8".into());
        let first = overlay.record(
            &kind,
            Some("linkerd"),
            "roots",
            &live,
            &answer,
            &json!({"data": {"b": "2"}}),
        );
        assert_eq!(first.metadata.resource_version.as_deref(), Some("7"));

        // The server answers the second write from the live object, without "b".
        let answer = config_map(json!({"a": "1", "c": "3"}));
        let second = overlay.record(
            &kind,
            Some("linkerd"),
            "roots",
            &first,
            &answer,
            &json!({"data": {"c": "3"}}),
        );
        assert_eq!(second.data["data"], json!({"a": "1", "b": "2", "c": "3"}));

        let seen = overlay.get(&kind, Some("linkerd"), "roots").unwrap();
        assert_eq!(seen.data["data"], json!({"a": "1", "b": "2", "c": "3"}));
        let mut listed = vec![live.clone(), {
            let mut other = live;
            other.metadata.name = Some("other".into());
            other
        }];
        overlay.apply_to_list(&kind, &mut listed);
        assert_eq!(listed[0].data["data"]["c"], "3");
        assert_eq!(listed[1].data["data"], json!({"a": "1"}));
    }
}
