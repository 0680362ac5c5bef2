//! `restart_ns`: restarting meshed workloads as `kubectl rollout restart` does, then waiting
//! until each rollout is complete as `kubectl rollout status` decides it.
//!
//! One merge patch per workload sets the `kubectl.kubernetes.io/restartedAt` template
//! annotation to a marker unique to the call (plus retries, which [`Cluster::patch`] does
//! under a `resourceVersion` precondition). The wait is one collection watch per namespace and
//! kind, not a poll per workload; namespaces run in parallel up to a bound, because a cluster
//! of a hundred namespaces should not take a hundred times one namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::api::{Cluster, WriteMode};
use super::collection::CollectionWatch;
use super::diff::FieldChange;
use super::error::ClusterError;
use super::inventory::{Filter, Finding, Workload};
use super::kinds;
use super::rollout_status::{Blocked, Rollout, status};

/// The template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// How often a wait looks at its deadlines and at Ctrl-C between watch events.
const TICK: Duration = Duration::from_millis(100);
/// Patches in flight per namespace.
const PATCHES_IN_FLIGHT: usize = 8;

/// Why a restart could not be done at all (a workload that fails is a status, not an error).
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("namespace {namespace} does not exist")]
    NoNamespace { namespace: String },
}

/// How to restart.
#[derive(Debug, Clone)]
pub struct RestartOptions {
    pub filter: Filter,
    /// How long each workload may take, from its restart to a complete rollout.
    pub timeout: Duration,
    /// Namespaces restarted at the same time.
    pub concurrency: usize,
    /// Delete the pods of `OnDelete` workloads one at a time instead of reporting them.
    pub restart_on_delete: bool,
    pub mode: WriteMode,
    /// The `restartedAt` value: unique per call, so that a second call restarts again.
    pub marker: String,
}

/// Where one workload's restart ended, or stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Restarted, rollout in progress.
    Rolling,
    Complete,
    /// A dry-run: the server accepted the patch; nothing rolled.
    DryRun,
    Failed,
    TimedOut,
    Cancelled,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Self::Rolling => "rolling",
            Self::Complete => "complete",
            Self::DryRun => "dry-run",
            Self::Failed => "failed",
            Self::TimedOut => "timed out",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the workload's wait is over.
    pub fn is_final(self) -> bool {
        self != Self::Rolling
    }
}

/// One workload's restart.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restarted {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub phase: Phase,
    /// From its restart to the end of its wait.
    pub seconds: f64,
    /// What it waited for last, or why it failed.
    pub message: String,
    /// The changed fields of its patch (in a dry-run, what would change).
    #[serde(skip)]
    pub changes: Vec<FieldChange>,
}

impl Restarted {
    /// `Deployment emojivoto/web`.
    pub fn object(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What `restart_ns` did.
#[derive(Debug, Clone, Default)]
pub struct RestartReport {
    pub restarted: Vec<Restarted>,
    pub findings: Vec<Finding>,
}

/// Told about every change of a workload's phase or wait message, from any namespace's task.
pub type ProgressFn = Arc<dyn Fn(&Restarted) + Send + Sync>;

/// Restarts the meshed workloads the options select and waits for their rollouts. `found`
/// gets the findings before anything is restarted.
///
/// # Errors
///
/// A named namespace does not exist or the inventory cannot be read. Workloads whose patch
/// fails, whose rollout fails or times out are reported in their [`Phase`], not as errors.
pub async fn restart(
    cluster: &Cluster,
    options: &RestartOptions,
    progress: ProgressFn,
    cancelled: Arc<AtomicBool>,
    found: &(dyn Fn(&[Finding]) + Sync),
) -> Result<RestartReport, RolloutError> {
    let inventory = cluster.meshed_workloads(&options.filter).await?;
    let mut by_namespace: BTreeMap<String, Vec<Workload>> = BTreeMap::new();
    let mut findings = inventory.findings;
    for workload in inventory.workloads {
        let wanted = match workload.blocked {
            None => true,
            Some(Blocked::OnDelete) => options.restart_on_delete,
            Some(Blocked::Paused) => false,
        };
        if wanted {
            by_namespace
                .entry(workload.namespace.clone())
                .or_default()
                .push(workload);
        }
    }
    if options.restart_on_delete {
        // Handled, so no longer something the operator must do.
        findings.retain(|f| !f.problem.starts_with("updateStrategy OnDelete"));
    }
    // Up front, so that the operator reads them while the rollouts run.
    found(&findings);
    let concurrency = options.concurrency.max(1);
    let mut restarted: Vec<Restarted> = futures::stream::iter(by_namespace.into_values())
        .map(|workloads| {
            let progress = Arc::clone(&progress);
            let cancelled = Arc::clone(&cancelled);
            async move { restart_namespace(cluster, options, workloads, progress, cancelled).await }
        })
        .buffer_unordered(concurrency)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    restarted.sort_by(|a, b| (&a.namespace, a.kind, &a.name).cmp(&(&b.namespace, b.kind, &b.name)));
    Ok(RestartReport {
        restarted,
        findings,
    })
}

fn restart_patch(marker: &str) -> Value {
    json!({ "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: marker } } } } })
}

/// A workload, when its patch was sent, and the generation and changes it produced.
type PatchedWorkload = (
    Workload,
    Instant,
    Result<(i64, Vec<FieldChange>), ClusterError>,
);

/// Restarts one namespace's workloads, then waits for them.
async fn restart_namespace(
    cluster: &Cluster,
    options: &RestartOptions,
    workloads: Vec<Workload>,
    progress: ProgressFn,
    cancelled: Arc<AtomicBool>,
) -> Vec<Restarted> {
    let patched: Vec<PatchedWorkload> = futures::stream::iter(workloads)
        .map(|workload| async move {
            let started = Instant::now();
            let result = patch_one(cluster, options, &workload).await;
            (workload, started, result)
        })
        .buffer_unordered(PATCHES_IN_FLIGHT)
        .collect()
        .await;

    let mut done = Vec::new();
    let mut rolling: BTreeMap<&'static str, Vec<Pending>> = BTreeMap::new();
    let mut on_delete = Vec::new();
    for (workload, started, result) in patched {
        let mut entry = Restarted {
            kind: workload.kind,
            namespace: workload.namespace.clone(),
            name: workload.name.clone(),
            phase: Phase::Rolling,
            seconds: 0.0,
            message: String::new(),
            changes: Vec::new(),
        };
        match result {
            Err(error) => {
                entry.phase = Phase::Failed;
                entry.message = crate::pki::chain_text(&error);
                progress(&entry);
                done.push(entry);
            }
            Ok((_, changes)) if options.mode == WriteMode::DryRun => {
                entry.phase = Phase::DryRun;
                entry.changes = changes;
                progress(&entry);
                done.push(entry);
            }
            Ok((generation, changes)) => {
                entry.changes = changes;
                entry.message = "restarted".to_owned();
                progress(&entry);
                if workload.blocked == Some(Blocked::OnDelete) {
                    on_delete.push((workload, entry, started));
                } else {
                    rolling.entry(workload.kind).or_default().push(Pending {
                        entry,
                        started,
                        generation,
                    });
                }
            }
        }
    }

    let waits = rolling.into_iter().map(|(kind, pending)| {
        let progress = Arc::clone(&progress);
        let cancelled = Arc::clone(&cancelled);
        let namespace = pending[0].entry.namespace.clone();
        async move {
            wait_rollouts(
                cluster,
                kind,
                &namespace,
                pending,
                options.timeout,
                progress,
                cancelled,
            )
            .await
        }
    });
    for finished in futures::future::join_all(waits).await {
        done.extend(finished);
    }
    for (workload, entry, started) in on_delete {
        let progress = Arc::clone(&progress);
        let cancelled = Arc::clone(&cancelled);
        let entry = super::rollout_ondelete::replace_pods(
            cluster,
            &workload,
            entry,
            started,
            options.timeout,
            progress,
            cancelled,
        )
        .await;
        done.push(entry);
    }
    done
}

async fn patch_one(
    cluster: &Cluster,
    options: &RestartOptions,
    workload: &Workload,
) -> Result<(i64, Vec<FieldChange>), ClusterError> {
    let kind = kinds::lookup(workload.kind)?;
    let marker = options.marker.clone();
    let change = move |current: &kube::api::DynamicObject| -> Result<Option<Value>, String> {
        let now = current
            .data
            .pointer("/spec/template/metadata/annotations")
            .and_then(|a| a.get(RESTARTED_AT))
            .and_then(Value::as_str);
        // Already carrying this call's marker: a retry after the write went through.
        Ok((now != Some(marker.as_str())).then(|| restart_patch(&marker)))
    };
    let patched = cluster
        .patch(
            &kind,
            Some(&workload.namespace),
            &workload.name,
            options.mode,
            change,
        )
        .await?;
    Ok((
        patched.object.metadata.generation.unwrap_or(0),
        patched.changes,
    ))
}

/// A restarted workload whose rollout is awaited.
struct Pending {
    entry: Restarted,
    started: Instant,
    /// The generation the restart produced; older observations do not count.
    generation: i64,
}

/// Waits for the rollouts of one kind in one namespace through one collection watch.
async fn wait_rollouts(
    cluster: &Cluster,
    kind: &'static str,
    namespace: &str,
    mut pending: Vec<Pending>,
    timeout: Duration,
    progress: ProgressFn,
    cancelled: Arc<AtomicBool>,
) -> Vec<Restarted> {
    let mut finished = Vec::new();
    let Ok(api_kind) = kinds::lookup(kind) else {
        return finished;
    };
    let mut watch = CollectionWatch::new(cluster, &api_kind, namespace, None);
    let mut tick = tokio::time::interval(TICK);
    while !pending.is_empty() {
        tokio::select! {
            objects = watch.changed() => {
                for p in &mut pending {
                    let (phase, message) = match objects.get(&p.entry.name) {
                        None => (Phase::Failed, "deleted during its rollout".to_owned()),
                        Some(object) => match status(kind, object, p.generation) {
                            Rollout::Complete => (Phase::Complete, "rollout complete".to_owned()),
                            Rollout::Waiting(text) => (Phase::Rolling, text),
                            Rollout::Failed(text) => (Phase::Failed, text),
                        },
                    };
                    if phase != p.entry.phase || message != p.entry.message {
                        p.entry.phase = phase;
                        p.entry.message = message;
                        p.entry.seconds = p.started.elapsed().as_secs_f64();
                        progress(&p.entry);
                    }
                }
            }
            _ = tick.tick() => {
                let stop = cancelled.load(Ordering::Relaxed);
                for p in &mut pending {
                    if stop {
                        p.entry.phase = Phase::Cancelled;
                    } else if p.started.elapsed() >= timeout {
                        p.entry.phase = Phase::TimedOut;
                    } else {
                        continue;
                    }
                    p.entry.seconds = p.started.elapsed().as_secs_f64();
                    progress(&p.entry);
                }
            }
        }
        let (over, still): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| p.entry.phase.is_final());
        finished.extend(over.into_iter().map(|p| p.entry));
        pending = still;
    }
    finished
}
