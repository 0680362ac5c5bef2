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
    /// [`StartError::Waiting`]: it runs but is not ready yet (asked again shortly).
    fn starting(&self, pod: &Value) -> Result<(), StartError>;

    /// Runs when the pod is deleted.
    fn stopped(&self, namespace: &str, name: &str);
}

/// Why a pod's containers are not ready after a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The process exited with this message.
    Crash(String),
    /// The process runs and waits for something (a proxy for its certificate).
    Waiting(String),
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
            let outcome = self.hooks().iter().try_for_each(|h| h.starting(&pod));
            let status = running_status(&pod, outcome.as_ref().err(), restarts);
            let waiting = matches!(outcome, Err(StartError::Waiting(_)));
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
            if outcome.is_ok() {
                return;
            }
            if waiting {
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

/// The status of a started pod: ready, not ready while waiting, or with every container in
/// CrashLoopBackOff after a crash.
fn running_status(pod: &Value, problem: Option<&StartError>, restarts: u32) -> Value {
    let crash = match problem {
        Some(StartError::Crash(message)) => Some(message),
        _ => None,
    };
    let at = now();
    let started = str_at(pod, "/status/startTime").map_or_else(|| at.clone(), str::to_owned);
    let ready = if problem.is_none() { "True" } else { "False" };
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let state = match crash {
                None => json!({ "running": { "startedAt": at } }),
                Some(message) => json!({ "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": message,
                } }),
            };
            json!({
                "name": cname,
                "image": c.get("image").cloned().unwrap_or(json!("")),
                "imageID": "",
                "containerID": format!("containerd://{}", super::objects::uid(pod)),
                "ready": problem.is_none(),
                "started": crash.is_none(),
                "restartCount": restarts,
                "state": state,
            })
        })
        .collect();
    let condition = |kind: &str, status: &str| json!({ "type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": at });
    json!({
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
    })
}
