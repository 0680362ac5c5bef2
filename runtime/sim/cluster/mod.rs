//! The simulated cluster's behaviour (issue 4): what turns the stored objects into a cluster
//! running Linkerd.
//!
//! | file             | concern                                                            |
//! |------------------|--------------------------------------------------------------------|
//! | `clock.rs`       | [`SimClock`]: simulated time, faster than real time                |
//! | `objects.rs`     | reads and builders over stored JSON shared by the controllers      |
//! | `controller.rs`  | the workload controller's loop, dirty queue and owner index        |
//! | `deployments.rs` | Deployments and ReplicaSets                                        |
//! | `ordinals.rs`    | StatefulSets and DaemonSets                                        |
//! | `defaults.rs`    | the API server's defaults for workload specs                       |
//! | `kubelet.rs`     | pod start, readiness, crash loops; [`PodHooks`]                    |
//!
//! [`Cluster::start`] runs them against a [`Store`]; dropping the [`Cluster`] stops them.

mod clock;
mod controller;
mod defaults;
mod deployments;
mod kubelet;
mod objects;
mod ordinals;

use std::time::Duration;

pub use clock::{DEFAULT_SPEED, SimClock};
pub use kubelet::{PodHooks, StartError};
pub use objects::Kinds;

/// The kubelet, for the Linkerd model that adds its hooks.
pub(crate) mod kubelet_hooks {
    pub use super::kubelet::Kubelet;
}

use crate::sim::Store;
use crate::sim::kinds::ResourceType;
use crate::sim::mesh::Linkerd;
use crate::sim::store::StoreError;

/// Errors of the simulated controllers.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the simulated API server does not serve {kind}")]
    MissingKind { kind: String },
    #[error("writing {object} for a simulated controller")]
    Store {
        object: String,
        // Boxed: store errors are large and these travel through every reconcile.
        #[source]
        source: Box<StoreError>,
    },
}

impl ClusterError {
    pub(crate) fn store(rt: &ResourceType, obj: &serde_json::Value, source: StoreError) -> Self {
        Self::Store {
            object: format!(
                "{} {}/{}",
                rt.qualified(),
                objects::namespace(obj),
                objects::name(obj)
            ),
            source: Box::new(source),
        }
    }
}

/// How the simulated cluster behaves.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// How many times faster than real time simulated time runs.
    pub speed: f64,
    /// Simulated time from a pod's creation to its containers running.
    pub pod_start: Duration,
    /// How many nodes there are (DaemonSets run one pod on each).
    pub nodes: usize,
    /// Simulated time for a ConfigMap or Secret change to reach the files of running pods.
    pub kubelet_refresh: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            speed: DEFAULT_SPEED,
            pod_start: Duration::from_secs(2),
            nodes: 3,
            kubelet_refresh: Duration::from_secs(60),
        }
    }
}

/// The running controllers; dropping it stops them.
#[derive(Debug)]
pub struct Cluster {
    clock: SimClock,
    linkerd: Linkerd,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    /// Starts the controllers on `store`. Must run inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// When the store lacks a built-in kind or the nodes cannot be created.
    pub fn start(store: &Store, options: &ClusterOptions) -> Result<Self, ClusterError> {
        let kinds = objects::Kinds::of(store)?;
        let clock = SimClock::new(options.speed);
        let nodes: Vec<String> = (1..=options.nodes.max(1))
            .map(|i| format!("node-{i}"))
            .collect();
        for node in &nodes {
            let obj = serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": { "name": node, "labels": { "kubernetes.io/hostname": node } },
                "status": { "conditions": [{ "type": "Ready", "status": "True" }] },
            });
            match store.create(&kinds.node, None, obj.clone(), false) {
                Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(source) => return Err(ClusterError::store(&kinds.node, &obj, source)),
            }
        }
        store.add_admission(std::sync::Arc::new(defaults::Defaults));
        let kubelet = kubelet::Kubelet::new(
            store.clone(),
            kinds.clone(),
            clock.clone(),
            options.pod_start,
        );
        let (linkerd, mut tasks) =
            crate::sim::mesh::start(store, &kinds, &clock, &kubelet, options.kubelet_refresh);
        let workloads = controller::Workloads::new(store.clone(), kinds, kubelet, nodes);
        tasks.push(controller::spawn(workloads));
        Ok(Self {
            clock,
            linkerd,
            tasks,
        })
    }

    /// Linkerd's model: the failure record, the proxies, the identity controller.
    pub fn linkerd(&self) -> &Linkerd {
        &self.linkerd
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
