//! Which workloads are meshed: the inventory that `meshed_workloads` returns and that
//! `restart_ns` restarts.
//!
//! A workload is meshed when its pod template or its namespace asks the proxy injector for a
//! proxy (`linkerd.io/inject: enabled` or `ingress`, the template winning over the namespace),
//! when its template already carries a `linkerd-proxy` container (the control plane, or
//! `linkerd inject` output), or when any of its running pods carries one (injected before the
//! annotation was removed). Meshed pods that no Deployment, StatefulSet or DaemonSet owns
//! cannot be restarted by a rollout; they are findings.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::DynamicObject;
use serde_json::Value;

use super::api::Cluster;
use super::error::ClusterError;
use super::kinds::{self, Kind};
use super::rollout::RolloutError;
use super::rollout_status::{Blocked, WORKLOAD_KINDS, blocked};

const INJECT: &str = "linkerd.io/inject";
const PROXY: &str = "linkerd-proxy";
/// Above this many namespaces one cluster-wide list per kind costs less than lists per
/// namespace.
const PER_NAMESPACE_LISTS: usize = 8;

/// A meshed Deployment, StatefulSet or DaemonSet, as read.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub object: DynamicObject,
    /// What keeps a template change from rolling it, if anything.
    pub blocked: Option<Blocked>,
}

/// Something about a meshed object that a restart cannot handle by itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub problem: String,
}

/// What `meshed_workloads` found.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every namespace holding meshed pods or meshed templates, sorted.
    pub namespaces: Vec<String>,
    pub workloads: Vec<Workload>,
    pub findings: Vec<Finding>,
}

/// Which workloads to consider.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The namespaces to look in; every namespace when `None`.
    pub namespaces: Option<Vec<String>>,
    /// A label selector on the workloads (and on bare pods).
    pub selector: Option<String>,
    /// A subset of [`WORKLOAD_KINDS`]; all of them when empty.
    pub kinds: Vec<&'static str>,
}

fn inject_value(annotations: &Value) -> Option<&str> {
    annotations.get(INJECT).and_then(Value::as_str)
}

fn asks_for_proxy(value: Option<&str>) -> bool {
    matches!(value, Some("enabled" | "ingress"))
}

/// Whether a pod spec (a pod's or a template's) has a proxy container, native sidecar included.
pub fn has_proxy(pod_spec: &Value) -> bool {
    ["containers", "initContainers"].iter().any(|list| {
        pod_spec[list]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["name"] == PROXY))
    })
}

fn controller_of(object: &Value) -> Option<(String, String)> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), text("name"))
        })
}

fn json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}

impl Cluster {
    async fn list_in(
        &self,
        kind: &Kind,
        namespaces: Option<&[String]>,
        selector: Option<&str>,
    ) -> Result<Vec<DynamicObject>, ClusterError> {
        match namespaces {
            Some(names) if names.len() <= PER_NAMESPACE_LISTS => {
                let mut all = Vec::new();
                for ns in names {
                    all.extend(self.list(kind, Some(ns), selector).await?);
                }
                Ok(all)
            }
            Some(names) => {
                let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                let all = self.list(kind, None, selector).await?;
                Ok(all
                    .into_iter()
                    .filter(|o| wanted.contains(o.metadata.namespace.as_deref().unwrap_or("")))
                    .collect())
            }
            None => self.list(kind, None, selector).await,
        }
    }

    /// The meshed workloads and the meshed pods no workload owns, in the namespaces of
    /// `filter`.
    ///
    /// # Errors
    ///
    /// A namespace the filter names does not exist, or a list fails.
    pub async fn meshed_workloads(&self, filter: &Filter) -> Result<Inventory, RolloutError> {
        let namespace_kind = kinds::lookup("Namespace")?;
        let mut injecting = BTreeMap::new();
        let names = filter.namespaces.as_deref();
        match names {
            Some(names) => {
                for ns in names {
                    let found = self.get(&namespace_kind, None, ns).await?;
                    let found = found.ok_or_else(|| RolloutError::NoNamespace {
                        namespace: ns.clone(),
                    })?;
                    let value =
                        inject_value(&json(&found)["metadata"]["annotations"]).map(str::to_owned);
                    injecting.insert(ns.clone(), value);
                }
            }
            None => {
                for ns in self.list(&namespace_kind, None, None).await? {
                    let value =
                        inject_value(&json(&ns)["metadata"]["annotations"]).map(str::to_owned);
                    injecting.insert(ns.metadata.name.clone().unwrap_or_default(), value);
                }
            }
        }
        let selector = filter.selector.as_deref();
        let pods = self
            .list_in(&kinds::lookup("Pod")?, names, selector)
            .await?;
        let replica_sets = self
            .list_in(&kinds::lookup("ReplicaSet")?, names, None)
            .await?;

        // Which workloads have pods with a proxy, and which meshed pods have no workload.
        let deployment_of: BTreeMap<(String, String), String> = replica_sets
            .iter()
            .filter_map(|rs| {
                let value = json(rs);
                let (kind, owner) = controller_of(&value)?;
                (kind == "Deployment").then(|| {
                    let ns = rs.metadata.namespace.clone().unwrap_or_default();
                    ((ns, rs.metadata.name.clone().unwrap_or_default()), owner)
                })
            })
            .collect();
        let mut with_proxy_pods: BTreeSet<(String, String, String)> = BTreeSet::new();
        let mut inventory = Inventory::default();
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        for pod in &pods {
            let value = json(pod);
            if !has_proxy(&value["spec"]) {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            namespaces.insert(ns.clone());
            let owner = match controller_of(&value) {
                Some((kind, rs)) if kind == "ReplicaSet" => {
                    match deployment_of.get(&(ns.clone(), rs.clone())) {
                        Some(deployment) => Some(("Deployment".to_owned(), deployment.clone())),
                        None => Some((kind, rs)),
                    }
                }
                other => other,
            };
            match owner {
                Some((kind, owner)) if WORKLOAD_KINDS.contains(&kind.as_str()) => {
                    with_proxy_pods.insert((kind, ns, owner));
                }
                Some((kind, owner)) => inventory.findings.push(Finding {
                    kind: "Pod".to_owned(),
                    namespace: ns,
                    name,
                    problem: format!(
                        "meshed pod owned by {kind} {owner}, which restart_ns does not restart: \
                         recreate it through its owner to give it a new proxy"
                    ),
                }),
                None => inventory.findings.push(Finding {
                    kind: "Pod".to_owned(),
                    namespace: ns,
                    name,
                    problem: "bare meshed pod (no controller owns it): delete and recreate it \
                              to give it a new proxy"
                        .to_owned(),
                }),
            }
        }

        for kind_name in WORKLOAD_KINDS {
            if !filter.kinds.is_empty() && !filter.kinds.contains(&kind_name) {
                continue;
            }
            let kind = kinds::lookup(kind_name)?;
            for object in self.list_in(&kind, names, selector).await? {
                let ns = object.metadata.namespace.clone().unwrap_or_default();
                let name = object.metadata.name.clone().unwrap_or_default();
                let value = json(&object);
                let template = &value["spec"]["template"];
                let own = inject_value(&template["metadata"]["annotations"]);
                let by_annotation = match own {
                    Some(_) => asks_for_proxy(own),
                    None => asks_for_proxy(injecting.get(&ns).and_then(Option::as_deref)),
                };
                let meshed = by_annotation
                    || has_proxy(&template["spec"])
                    || with_proxy_pods.contains(&(kind_name.to_owned(), ns.clone(), name.clone()));
                if !meshed {
                    continue;
                }
                namespaces.insert(ns.clone());
                let blocked = blocked(kind_name, &object);
                if let Some(reason) = &blocked {
                    inventory.findings.push(Finding {
                        kind: kind_name.to_owned(),
                        namespace: ns.clone(),
                        name: name.clone(),
                        problem: match reason {
                            Blocked::Paused => "paused Deployment: it rolls only once resumed \
                                                (kubectl rollout resume)"
                                .to_owned(),
                            Blocked::OnDelete => "updateStrategy OnDelete: its pods are replaced \
                                                  only when deleted (restart_on_delete: true \
                                                  deletes them one at a time)"
                                .to_owned(),
                        },
                    });
                }
                inventory.workloads.push(Workload {
                    kind: kind_name,
                    namespace: ns,
                    name,
                    object,
                    blocked,
                });
            }
        }
        inventory.namespaces = namespaces.into_iter().collect();
        Ok(inventory)
    }
}
