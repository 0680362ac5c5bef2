//! The kubelet's part: a created pod starts after a delay on the simulation clock, its
//! containers become ready (or crash-loop when a hook refuses the start), and its status
//! carries `startTime`, `phase`, conditions and container statuses as a real kubelet writes
//! them.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};

use super::SimClock;
use super::objects::{Kinds, name, namespace, now, str_at};
use crate::sim::Store;

/// What simulated processes inside pods do when a pod starts or stops.
pub trait PodHooks: Send + Sync {
    /// Runs when the pod's containers (re)start, and again while one is waiting.
    ///
    /// # Errors
    ///
    /// [`StartError::Crash`]: the process exits (the pod crash-loops with back-off);
    /// [`StartError::Config`]: the container cannot be created (asked again shortly);
    /// [`StartError::Waiting`]: it runs but is not ready yet (asked again shortly).
    fn starting(&self, pod: &Value) -> Result<(), StartError>;

    /// Runs when the pod is deleted.
    fn stopped(&self, namespace: &str, name: &str);
}

/// Why a pod's containers are not ready after a start; each names the container concerned,
/// whose status shows it while the pod's other containers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The container's process exited with this message: it crash-loops with back-off.
    Crash { container: String, message: String },
    /// The container cannot be created, such as an env var from a missing ConfigMap: the
    /// kubelet's `CreateContainerConfigError`, tried again without counting restarts.
    Config { container: String, message: String },
    /// The process runs and waits for something (a proxy for its certificate).
    Waiting { container: String, message: String },
}

impl StartError {
    fn container(&self) -> &str {
        match self {
            Self::Crash { container, .. }
            | Self::Config { container, .. }
            | Self::Waiting { container, .. } => container,
        }
    }
}

// A waiting container is asked again after this long.
const WAIT_RETRY: Duration = Duration::from_secs(2);

/// Starts pods; shared by the workload controller and the hooks that join later.
#[derive(Clone)]
pub struct Kubelet {
    store: Store,
    kinds: Kinds,
    clock: SimClock,
    start_delay: Duration,
    hooks: Arc<RwLock<Vec<Arc<dyn PodHooks>>>>,
}

// The longest crash-loop back-off, as the kubelet's.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Kubelet {
    pub fn new(store: Store, kinds: Kinds, clock: SimClock, start_delay: Duration) -> Self {
        Self {
            store,
            kinds,
            clock,
            start_delay,
            hooks: Arc::default(),
        }
    }

    pub fn add_hooks(&self, hooks: Arc<dyn PodHooks>) {
        self.hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hooks);
    }

    fn hooks(&self) -> Vec<Arc<dyn PodHooks>> {
        self.hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A pod was created: start it after the start delay.
    pub fn created(&self, pod: &Value) {
        if pod.pointer("/status/startTime").is_some() {
            return;
        }
        let kubelet = self.clone();
        let (ns, pod_name) = (namespace(pod).to_owned(), name(pod).to_owned());
        let uid = super::objects::uid(pod).to_owned();
        tokio::spawn(async move {
            kubelet.clock.sleep(kubelet.start_delay).await;
            kubelet.start(&ns, &pod_name, &uid, 0).await;
        });
    }

    /// A pod was deleted.
    pub fn deleted(&self, pod: &Value) {
        for h in self.hooks() {
            h.stopped(namespace(pod), name(pod));
        }
    }

    async fn start(&self, ns: &str, pod_name: &str, uid: &str, mut restarts: u32) {
        loop {
            let Ok(pod) = self.store.get(&self.kinds.pod, Some(ns), pod_name) else {
                return;
            };
            // A pod of the same name made later (StatefulSets) is another pod.
            if super::objects::uid(&pod) != uid {
                return;
            }
            // Every process starts on its own: each hook may fail its container.
            let problems: Vec<StartError> = self
                .hooks()
                .iter()
                .filter_map(|h| h.starting(&pod).err())
                .collect();
            let status = running_status(&pod, &problems, restarts);
            let crashed = problems
                .iter()
                .any(|p| matches!(p, StartError::Crash { .. }));
            let mut new = pod.clone();
            new["status"] = status;
            if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("resourceVersion");
            }
            if self
                .store
                .update(&self.kinds.pod, Some(ns), pod_name, new, true, false)
                .is_err()
            {
                return;
            }
            if problems.is_empty() {
                return;
            }
            if !crashed {
                self.clock.sleep(WAIT_RETRY).await;
                continue;
            }
            let backoff = Duration::from_secs(10)
                .saturating_mul(1 << restarts.min(5))
                .min(MAX_BACKOFF);
            self.clock.sleep(backoff).await;
            restarts += 1;
        }
    }
}

/// The status of a started pod: ready, or with each container a hook named waiting (not
/// ready), unable to be created, or in CrashLoopBackOff after a crash. Init containers have
/// completed, except native sidecars (`restartPolicy: Always`), which run beside the others.
fn running_status(pod: &Value, problems: &[StartError], restarts: u32) -> Value {
    let at = now();
    let started = str_at(pod, "/status/startTime").map_or_else(|| at.clone(), str::to_owned);
    let ready = if problems.is_empty() { "True" } else { "False" };
    let containers = |pointer: &str| {
        pod.pointer(pointer)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let container_id = format!("containerd://{}", super::objects::uid(pod));
    let status_of = |c: &Value| {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or_default();
        // A crash outweighs waiting when two processes of one container fail.
        let mine = problems
            .iter()
            .filter(|p| p.container() == cname)
            .max_by_key(|p| matches!(p, StartError::Crash { .. }));
        let running = json!({ "running": { "startedAt": at } });
        let (state, ready, started, restart_count, last) = match mine {
            None => (running, true, true, 0, None),
            Some(StartError::Waiting { .. }) => (running, false, true, 0, None),
            Some(StartError::Config { message, .. }) => (
                json!({ "waiting": { "reason": "CreateContainerConfigError", "message": message } }),
                false,
                false,
                0,
                None,
            ),
            Some(StartError::Crash { message, .. }) => (
                json!({ "waiting": { "reason": "CrashLoopBackOff", "message": message } }),
                false,
                false,
                restarts,
                Some(json!({ "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "message": message,
                    "startedAt": at,
                    "finishedAt": at,
                    "containerID": container_id,
                } })),
            ),
        };
        let mut status = json!({
            "name": cname,
            "image": c.get("image").cloned().unwrap_or(json!("")),
            "imageID": "",
            "containerID": container_id,
            "ready": ready,
            "started": started,
            "restartCount": restart_count,
            "state": state,
        });
        if let Some(last) = last {
            status["lastState"] = last;
        }
        status
    };
    let statuses: Vec<Value> = containers("/spec/containers")
        .iter()
        .map(status_of)
        .collect();
    let init_statuses: Vec<Value> = containers("/spec/initContainers")
        .iter()
        .map(|c| {
            if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
                return status_of(c);
            }
            json!({
                "name": c.get("name").cloned().unwrap_or(json!("")),
                "image": c.get("image").cloned().unwrap_or(json!("")),
                "imageID": "",
                "containerID": container_id,
                "ready": true,
                "started": false,
                "restartCount": 0,
                "state": { "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": at,
                    "finishedAt": at,
                    "containerID": container_id,
                } },
            })
        })
        .collect();
    let condition = |kind: &str, status: &str| json!({ "type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": at });
    let mut status = json!({
        "phase": "Running",
        "startTime": started,
        "hostIP": "10.0.0.1",
        "podIP": format!("10.1.{}.{}", rand::random_range(0..255), rand::random_range(1..255)),
        "qosClass": "BestEffort",
        "conditions": [
            condition("PodScheduled", "True"),
            condition("Initialized", "True"),
            condition("ContainersReady", ready),
            condition("Ready", ready),
        ],
        "containerStatuses": statuses,
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    status
}
