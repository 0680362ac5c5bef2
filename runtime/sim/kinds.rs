//! The resource types the simulated API server knows, as discovery shows them.
//!
//! Built-in kinds come from a fixed table; a created CustomResourceDefinition adds its kind, so
//! that custom resources of a loaded manifest are served too.

use std::sync::Arc;

/// One resource of one group version, as discovery lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The plural lower-case name used in URLs (`deployments`).
    pub plural: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Whether the kind has a `status` subresource whose content the main resource ignores.
    pub status_subresource: bool,
    /// A kind of Kubernetes itself, as opposed to one a CRD added; only these take
    /// strategic-merge patches.
    pub builtin: bool,
    /// The stored resource this one is a view of; `events.k8s.io` events live with core events.
    pub storage: StorageKey,
}

/// Where objects of a resource are kept: group and plural, independent of the version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name the real server uses in messages: `deployments.apps`, or `pods`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The `apiVersion` objects of this resource are stored with (`v1` for both event APIs).
    pub fn stored_api_version(&self) -> String {
        if self.is_events_v1() {
            "v1".into()
        } else {
            self.api_version()
        }
    }

    /// Whether this resource is the `events.k8s.io` view of core events.
    pub fn is_events_v1(&self) -> bool {
        self.group == "events.k8s.io"
    }
}

// (group, version, kind, plural, namespaced, short names, status subresource)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    bool,
);

#[rustfmt::skip]
/// Built-in kinds: those the runner and kubectl use, and those a `linkerd install` of any
/// supported release holds, including the beta versions older releases were written for.
const BUILTIN: &[Row] = &[
    ("", "v1", "Namespace", "namespaces", false, "ns", true),
    ("", "v1", "ConfigMap", "configmaps", true, "cm", false),
    ("", "v1", "Secret", "secrets", true, "", false),
    ("", "v1", "Pod", "pods", true, "po", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, "sa", false),
    ("", "v1", "Event", "events", true, "ev", false),
    ("", "v1", "Service", "services", true, "svc", true),
    ("", "v1", "Endpoints", "endpoints", true, "ep", false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, "pvc", true),
    ("", "v1", "Node", "nodes", false, "no", true),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, "pv", true),
    ("", "v1", "ResourceQuota", "resourcequotas", true, "quota", true),
    ("", "v1", "LimitRange", "limitranges", true, "limits", false),
    ("", "v1", "PodTemplate", "podtemplates", true, "", false),
    ("apps", "v1", "Deployment", "deployments", true, "deploy", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, "rs", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, "sts", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, "ds", true),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, "", false),
    ("events.k8s.io", "v1", "Event", "events", true, "ev", false),
    ("batch", "v1", "Job", "jobs", true, "", true),
    ("batch", "v1", "CronJob", "cronjobs", true, "cj", true),
    ("batch", "v1beta1", "CronJob", "cronjobs", true, "cj", true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, "", false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, "", false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, "", false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, "", false),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, "", false),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, "", false),
    ("admissionregistration.k8s.io", "v1beta1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, "", false),
    ("admissionregistration.k8s.io", "v1beta1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, "", false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, "crd,crds", true),
    ("apiextensions.k8s.io", "v1beta1", "CustomResourceDefinition", "customresourcedefinitions", false, "crd,crds", true),
    ("apiregistration.k8s.io", "v1", "APIService", "apiservices", false, "", true),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, "pdb", true),
    ("policy", "v1beta1", "PodDisruptionBudget", "poddisruptionbudgets", true, "pdb", true),
    ("policy", "v1beta1", "PodSecurityPolicy", "podsecuritypolicies", false, "psp", false),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, "", false),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, "netpol", false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, "ing", true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, "", false),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, "", false),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, "pc", false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, "sc", false),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, "hpa", true),
];

/// The resource types served, in discovery order.
#[derive(Debug, Clone)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Default for Registry {
    fn default() -> Self {
        let types = BUILTIN
            .iter()
            .map(
                |&(group, version, kind, plural, namespaced, short, status)| {
                    // events.k8s.io events are a view of the core events.
                    let storage_group = if group == "events.k8s.io" { "" } else { group };
                    Arc::new(ResourceType {
                        group: group.into(),
                        version: version.into(),
                        kind: kind.into(),
                        plural: plural.into(),
                        namespaced,
                        short_names: short
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(Into::into)
                            .collect(),
                        status_subresource: status,
                        builtin: true,
                        storage: StorageKey {
                            group: storage_group.into(),
                            plural: plural.into(),
                        },
                    })
                },
            )
            .collect();
        Self { types }
    }
}

impl Registry {
    /// The resource `plural` of `group/version`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The resource of an `apiVersion` and `kind`, as a manifest names it.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// Every resource type, in a stable order.
    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// The group versions served, each with its group, core first.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let gv = (t.group.clone(), t.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }

    /// Forgets the kinds a deleted CustomResourceDefinition declared.
    pub fn remove_crd(&mut self, crd: &serde_json::Value) {
        let spec = &crd["spec"];
        let (Some(group), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["plural"].as_str())
        else {
            return;
        };
        self.types
            .retain(|t| t.builtin || t.storage.group != group || t.storage.plural != plural);
    }

    /// Adds the kinds a CustomResourceDefinition declares; a version already known is kept.
    pub fn add_crd(&mut self, crd: &serde_json::Value) {
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            spec["names"]["kind"].as_str(),
            spec["names"]["plural"].as_str(),
        ) else {
            return;
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let mut versions: Vec<String> = spec["versions"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|v| v["name"].as_str().map(Into::into))
                    .collect()
            })
            .unwrap_or_default();
        // apiextensions v1beta1 CRDs may name a single version.
        if let Some(v) = spec["version"].as_str() {
            versions.push(v.into());
        }
        let short_names = spec["names"]["shortNames"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(Into::into))
                    .collect()
            })
            .unwrap_or_default();
        for version in versions {
            if self.lookup(group, &version, plural).is_some() {
                continue;
            }
            self.types.push(Arc::new(ResourceType {
                group: group.into(),
                version,
                kind: kind.into(),
                plural: plural.into(),
                namespaced,
                short_names: Vec::clone(&short_names),
                status_subresource: false,
                builtin: false,
                storage: StorageKey {
                    group: group.into(),
                    plural: plural.into(),
                },
            }));
        }
    }
}

/// Orders versions as the real server does for discovery, preferred first: stable before
/// beta before alpha, a higher major and then a higher minor first (`v2`, `v1`, `v1beta2`,
/// `v1beta1`, `v1alpha1`), and names that follow no such pattern last, alphabetically.
pub fn version_priority(a: &str, b: &str) -> std::cmp::Ordering {
    fn rank(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        let (level, minor) = if tail.is_empty() {
            (2, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (1, n.parse().ok()?)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (0, n.parse().ok()?)
        } else {
            return None;
        };
        Some((level, major, minor))
    }
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stable_versions_come_first() {
        let mut v = vec![
            "v1alpha1", "v1beta1", "foo", "v1", "v2beta1", "v2", "v1beta2",
        ];
        v.sort_by(|a, b| super::version_priority(a, b));
        assert_eq!(
            v,
            [
                "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"
            ]
        );
    }

    use super::*;

    #[test]
    fn events_v1_share_storage_with_core_events() {
        let r = Registry::default();
        let core = r.lookup("", "v1", "events").unwrap();
        let v1 = r.lookup("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(core.storage, v1.storage);
        assert!(v1.is_events_v1());
        assert_eq!(
            r.by_kind("apps/v1", "Deployment").unwrap().plural,
            "deployments"
        );
    }

    #[test]
    fn a_crd_adds_its_versions() {
        let mut r = Registry::default();
        let crd = serde_json::json!({"spec": {"group": "linkerd.io", "scope": "Namespaced",
            "names": {"kind": "ServiceProfile", "plural": "serviceprofiles", "shortNames": ["sp"]},
            "versions": [{"name": "v1alpha1"}, {"name": "v1alpha2"}]}});
        r.add_crd(&crd);
        let sp = r
            .lookup("linkerd.io", "v1alpha2", "serviceprofiles")
            .unwrap();
        assert!(sp.namespaced);
        assert_eq!(sp.short_names, ["sp"]);
        assert!(
            r.group_versions()
                .contains(&("linkerd.io".into(), "v1alpha1".into()))
        );
    }
}
