//! `restart_on_delete`: replacing the pods of an `OnDelete` StatefulSet or DaemonSet one at a
//! time, each deletion waiting until the workload is whole and ready again, so that at most
//! one pod is missing at any moment (what an operator does by hand with `kubectl delete pod`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, DynamicObject};

use super::api::{Cluster, api};
use super::collection::CollectionWatch;
use super::error::ClusterError;
use super::inventory::Workload;
use super::kinds::{self, Kind};
use super::retry::{self, Request, RetryPolicy};
use super::rollout::{Phase, ProgressFn, Restarted};

const TICK: Duration = Duration::from_millis(100);

fn is_ready(pod: &DynamicObject) -> bool {
    pod.data["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn owned_by<'a>(
    pods: &'a BTreeMap<String, DynamicObject>,
    uid: &'a str,
) -> impl Iterator<Item = &'a DynamicObject> + 'a {
    pods.values().filter(move |pod| {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == uid)
    })
}

fn desired(workload: &Workload) -> usize {
    let data = &workload.object.data;
    let count = match workload.kind {
        "DaemonSet" => data["status"]["desiredNumberScheduled"].as_i64(),
        _ => data["spec"]["replicas"].as_i64().or(Some(1)),
    };
    usize::try_from(count.unwrap_or(0)).unwrap_or(0)
}

async fn delete_pod(
    cluster: &Cluster,
    pod: &Kind,
    ns: &str,
    name: &str,
) -> Result<(), ClusterError> {
    let object = pod.object(Some(ns), name);
    let resource = pod.qualified_plural();
    let request = Request {
        action: "deleting",
        verb: "delete",
        object: &object,
        resource: &resource,
        kind: pod.name(),
        namespace: Some(ns),
        name: Some(name),
    };
    let api = api(cluster.client(), pod, Some(ns));
    let params = DeleteParams::default();
    match retry::idempotent(&RetryPolicy::default(), &request, || {
        api.delete(name, &params)
    })
    .await
    {
        Ok(_) => Ok(()),
        // A retried delete whose first attempt went through finds the pod gone.
        Err(error) if error.status_code() == Some(404) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Deletes the workload's pods one at a time, waiting after each until the workload has all
/// its pods again, every one ready, and the deleted one gone.
pub(super) async fn replace_pods(
    cluster: &Cluster,
    workload: &Workload,
    mut entry: Restarted,
    started: Instant,
    timeout: Duration,
    progress: ProgressFn,
    cancelled: Arc<AtomicBool>,
) -> Restarted {
    let finish = |mut entry: Restarted, phase: Phase, message: String| {
        entry.phase = phase;
        entry.message = message;
        entry.seconds = started.elapsed().as_secs_f64();
        progress(&entry);
        entry
    };
    let Ok(pod_kind) = kinds::lookup("Pod") else {
        return finish(entry, Phase::Failed, "no Pod kind".to_owned());
    };
    let uid = workload.object.metadata.uid.clone().unwrap_or_default();
    let wanted = desired(workload);
    let mut watch = CollectionWatch::new(cluster, &pod_kind, &workload.namespace, None);
    let first: Vec<(String, String)> = owned_by(watch.changed().await, &uid)
        .map(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            (name, p.metadata.uid.clone().unwrap_or_default())
        })
        .collect();
    let total = first.len();
    let mut tick = tokio::time::interval(TICK);
    for (index, (name, old_uid)) in first.into_iter().enumerate() {
        if let Err(error) = delete_pod(cluster, &pod_kind, &workload.namespace, &name).await {
            return finish(entry, Phase::Failed, crate::pki::chain_text(&error));
        }
        entry.message = format!("replacing pod {name} ({} of {total})", index + 1);
        progress(&entry);
        loop {
            tokio::select! {
                pods = watch.changed() => {
                    let owned: Vec<&DynamicObject> = owned_by(pods, &uid).collect();
                    let gone = owned
                        .iter()
                        .all(|p| p.metadata.uid.as_deref() != Some(old_uid.as_str()));
                    if gone && owned.len() >= wanted && owned.iter().all(|p| is_ready(p)) {
                        break;
                    }
                }
                _ = tick.tick() => {
                    if cancelled.load(Ordering::Relaxed) {
                        let message = entry.message.clone();
                        return finish(entry, Phase::Cancelled, message);
                    }
                    if started.elapsed() >= timeout {
                        let message = format!("{}: the replacement is not ready", entry.message);
                        return finish(entry, Phase::TimedOut, message);
                    }
                }
            }
        }
    }
    finish(
        entry,
        Phase::Complete,
        format!("{total} pods replaced one at a time"),
    )
}
