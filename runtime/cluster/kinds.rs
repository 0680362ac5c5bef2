//! The kinds the runner reads and writes, by the names a runbook uses for them.
//!
//! A fixed table taken from k8s-openapi's types rather than discovery: the runner touches a
//! handful of built-in kinds, and a table costs no request and cannot be surprised by an
//! aggregated API that shadows a name.

use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, events::v1 as events};
use kube::core::ApiResource;

use super::error::ClusterError;

/// A kind the runner knows: how to reach it and how to name it in messages.
#[derive(Debug, Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Kind {
    /// `ConfigMap`.
    pub fn name(&self) -> &str {
        &self.resource.kind
    }

    /// `configmaps`, or `deployments.apps` for a named group, as RBAC rules spell it.
    pub fn qualified_plural(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.plural.clone()
        } else {
            format!("{}.{}", self.resource.plural, self.resource.group)
        }
    }

    /// `ConfigMap linkerd/linkerd-config`, or `Namespace linkerd`.
    pub fn object(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("{} {ns}/{name}", self.name()),
            None => format!("{} {name}", self.name()),
        }
    }

    /// `ConfigMaps in namespace linkerd`, or `ConfigMaps in all namespaces`.
    pub fn collection(&self, namespace: Option<&str>) -> String {
        match (namespace, self.namespaced) {
            (Some(ns), _) => format!("{}s in namespace {ns}", self.name()),
            (None, true) => format!("{}s in all namespaces", self.name()),
            (None, false) => format!("{}s", self.name()),
        }
    }
}

fn table() -> Vec<Kind> {
    fn namespaced<K: kube::Resource<DynamicType = ()>>() -> Kind {
        Kind {
            resource: ApiResource::erase::<K>(&()),
            namespaced: true,
        }
    }
    let mut kinds = vec![
        namespaced::<core::ConfigMap>(),
        namespaced::<core::Secret>(),
        namespaced::<core::Pod>(),
        namespaced::<core::ServiceAccount>(),
        namespaced::<core::Event>(),
        namespaced::<apps::Deployment>(),
        namespaced::<apps::StatefulSet>(),
        namespaced::<apps::DaemonSet>(),
        namespaced::<apps::ReplicaSet>(),
    ];
    kinds.push(Kind {
        resource: ApiResource::erase::<core::Namespace>(&()),
        namespaced: false,
    });
    // `events.k8s.io` Events share the kind name with core ones; scripts ask for them by
    // their qualified plural.
    kinds.push(namespaced::<events::Event>());
    kinds
}

/// Looks a kind up by its name (`ConfigMap`, case-insensitive), its plural (`configmaps`) or
/// its qualified plural (`deployments.apps`, `events.events.k8s.io`).
///
/// # Errors
///
/// An unknown kind, with the list of known ones.
pub fn lookup(kind: &str) -> Result<Kind, ClusterError> {
    let wanted = kind.to_ascii_lowercase();
    let kinds = table();
    let found = kinds.iter().find(|k| {
        // The core Event comes first, so a bare `Event` is the core one.
        k.qualified_plural() == wanted
            || k.resource.plural == wanted
            || k.resource.kind.to_ascii_lowercase() == wanted
    });
    match found {
        Some(kind) => Ok(kind.clone()),
        None => Err(ClusterError::UnknownKind {
            kind: kind.to_owned(),
            known: kinds.iter().map(|k| k.qualified_plural()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_by_name_plural_and_group() {
        assert_eq!(
            lookup("ConfigMap").unwrap().qualified_plural(),
            "configmaps"
        );
        assert_eq!(
            lookup("deployments").unwrap().qualified_plural(),
            "deployments.apps"
        );
        assert_eq!(lookup("Event").unwrap().resource.group, "");
        let events = lookup("events.events.k8s.io").unwrap();
        assert_eq!(events.resource.api_version, "events.k8s.io/v1");
        assert!(!lookup("namespace").unwrap().namespaced);
    }

    #[test]
    fn an_unknown_kind_lists_the_known_ones() {
        let error = lookup("Gizmo").unwrap_err().to_string();
        assert!(error.starts_with("unknown kind `Gizmo`: the known kinds are configmaps, "));
        assert!(error.contains("deployments.apps"));
    }
}
