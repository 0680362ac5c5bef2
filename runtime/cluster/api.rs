//! Reads and writes through one client: retried reads, paginated lists, and patches under a
//! `resourceVersion` precondition that are re-read and re-applied on conflict. In a dry-run a
//! patch becomes a server-side dry-run whose answer gives the diff.

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

use super::diff::{self, FieldChange};
use super::error::ClusterError;
use super::kinds::Kind;
use super::overlay::Overlay;
use super::retry::{self, Request, RetryPolicy};

/// The field manager the API server records for the runner's writes.
pub const FIELD_MANAGER: &str = "runner";
/// Objects per page of a list: large namespaces arrive in pieces, not in one huge answer.
const PAGE_SIZE: u32 = 250;

/// A client for one cluster, with its retry policy.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    target: String,
    retry: RetryPolicy,
    /// In a dry-run, what this run's dry-run writes would have left (see `overlay`).
    overlay: Option<std::sync::Arc<Overlay>>,
}

/// Whether a write happens or is only checked by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Apply,
    /// `dryRun=All`: the server validates and answers, and stores nothing.
    DryRun,
}

/// What a patch did (or, in a dry-run, would do).
#[derive(Debug, Clone)]
pub struct Patched {
    /// The object after the write; in a dry-run, the server's answer.
    pub object: DynamicObject,
    /// The changed fields, without key material; empty when nothing changed.
    pub changes: Vec<FieldChange>,
    /// Writes sent, including those answered 409.
    pub attempts: u32,
}

pub(super) fn api(
    client: &kube::Client,
    kind: &Kind,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if kind.namespaced => Api::namespaced_with(client.clone(), ns, &kind.resource),
        _ => Api::all_with(client.clone(), &kind.resource),
    }
}

// === impl Cluster ===

// kube's client has no `Debug`; the target names the cluster well enough.
impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("target", &self.target)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    pub fn new(client: kube::Client, target: impl Into<String>) -> Self {
        Self {
            client,
            target: target.into(),
            retry: RetryPolicy::default(),
            overlay: None,
        }
    }

    /// The same cluster for a dry-run: reads see what the run's earlier dry-run writes would
    /// have changed, so that later steps plan against the predicted state (see `overlay`).
    pub fn with_dry_run_overlay(mut self) -> Self {
        self.overlay = Some(std::sync::Arc::default());
        self
    }

    /// The same cluster with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How hard requests to this cluster are retried.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The name of the cluster, as the journal records it.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn check_scope(
        &self,
        kind: &Kind,
        action: &'static str,
        ns: Option<&str>,
    ) -> Result<(), ClusterError> {
        match ns.filter(|ns| !ns.is_empty()) {
            Some(ns) if !kind.namespaced => Err(ClusterError::ClusterScoped {
                action,
                kind: kind.name().to_owned(),
                namespace: ns.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Reads one object; `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// Any answer but 200 or 404 once retries are spent; a 403 names what RBAC refused.
    pub async fn get(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<DynamicObject>, ClusterError> {
        self.check_scope(kind, "getting", namespace)?;
        let object = kind.object(namespace, name);
        let resource = kind.qualified_plural();
        let request = Request {
            action: "getting",
            verb: "get",
            object: &object,
            resource: &resource,
            kind: kind.name(),
            namespace,
            name: Some(name),
        };
        if let Some(changed) = self
            .overlay
            .as_ref()
            .and_then(|o| o.get(kind, namespace, name))
        {
            return Ok(Some(changed));
        }
        let api = api(&self.client, kind, namespace);
        tracing::debug!(kind = kind.name(), namespace, name, "get");
        retry::idempotent(&self.retry, &request, || api.get_opt(name)).await
    }

    /// Lists objects, page by page; `selector` is a label selector (`app=web,tier!=db`).
    ///
    /// # Errors
    ///
    /// As [`Cluster::get`]. A continue token that expired mid-list (410) restarts the list.
    pub async fn list(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<DynamicObject>, ClusterError> {
        self.check_scope(kind, "listing", namespace)?;
        let collection = kind.collection(namespace);
        let resource = kind.qualified_plural();
        let request = Request {
            action: "listing",
            verb: "list",
            object: &collection,
            resource: &resource,
            kind: kind.name(),
            namespace,
            name: None,
        };
        let api = api(&self.client, kind, namespace);
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(PAGE_SIZE);
            if let Some(selector) = selector.filter(|s| !s.is_empty()) {
                params = params.labels(selector);
            }
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            tracing::debug!(
                kind = kind.name(),
                namespace,
                page = items.len() / PAGE_SIZE as usize,
                "list"
            );
            let page = match retry::idempotent(&self.retry, &request, || api.list(&params)).await {
                Ok(page) => page,
                // The snapshot the token pointed at is gone: start over for a consistent list.
                Err(error) if token.is_some() && error.status_code() == Some(410) => {
                    items.clear();
                    token = None;
                    continue;
                }
                Err(error) => return Err(error),
            };
            items.extend(page.items);
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                if let Some(overlay) = &self.overlay {
                    overlay.apply_to_list(kind, &mut items);
                }
                return Ok(items);
            }
        }
    }

    /// Changes one object with a JSON merge patch computed from its current state.
    ///
    /// `change` receives the object as it is now and returns the merge patch to apply, or
    /// `None` when the object is already as wanted. The patch is sent with the object's
    /// `resourceVersion`, so that it applies only to the state it was computed from; on 409 (a
    /// concurrent writer) or a retryable failure the object is read again and `change` runs
    /// again on the newer state.
    ///
    /// # Errors
    ///
    /// The object does not exist, `change` fails, the server refuses the patch, or conflicts
    /// and failures last longer than the retry policy allows.
    ///
    /// # Caveats
    ///
    /// `change` may run several times; it must not have side effects.
    pub async fn patch<F>(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        mode: WriteMode,
        change: F,
    ) -> Result<Patched, ClusterError>
    where
        F: Fn(&DynamicObject) -> Result<Option<Value>, String>,
    {
        self.check_scope(kind, "patching", namespace)?;
        let object = kind.object(namespace, name);
        let resource = kind.qualified_plural();
        let request = Request {
            action: "patching",
            verb: "patch",
            object: &object,
            resource: &resource,
            kind: kind.name(),
            namespace,
            name: Some(name),
        };
        let api = api(&self.client, kind, namespace);
        let params = PatchParams {
            dry_run: mode == WriteMode::DryRun,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let mut attempts = 0;
        let started = std::time::Instant::now();
        loop {
            let current =
                self.get(kind, namespace, name)
                    .await?
                    .ok_or_else(|| ClusterError::Api {
                        action: "patching",
                        object: object.clone(),
                        code: 404,
                        reason: "NotFound".to_owned(),
                        message: "the object does not exist".to_owned(),
                        attempts: 1,
                    })?;
            let mut patch = match change(&current) {
                Ok(Some(patch)) if patch.is_object() => patch,
                Ok(Some(other)) => {
                    let message = format!("a merge patch is a map, not {other}");
                    return Err(ClusterError::Change { object, message });
                }
                Ok(None) => {
                    return Ok(Patched {
                        object: current,
                        changes: Vec::new(),
                        attempts,
                    });
                }
                Err(message) => return Err(ClusterError::Change { object, message }),
            };
            if let Some(version) = &current.metadata.resource_version {
                patch["metadata"]["resourceVersion"] = Value::String(version.clone());
            }

            attempts += 1;
            tracing::debug!(
                kind = kind.name(),
                namespace,
                name,
                attempt = attempts,
                dry_run = params.dry_run,
                "patch"
            );
            let error = match api.patch(name, &params, &Patch::Merge(&patch)).await {
                Ok(after) => {
                    let after = match (&self.overlay, mode) {
                        (Some(overlay), WriteMode::DryRun) => {
                            overlay.record(kind, namespace, name, &current, &after, &patch)
                        }
                        _ => after,
                    };
                    let before = serde_json::to_value(&current).unwrap_or_default();
                    let now = serde_json::to_value(&after).unwrap_or_default();
                    let changes = diff::diff(kind.name(), &before, &now);
                    return Ok(Patched {
                        object: after,
                        changes,
                        attempts,
                    });
                }
                Err(error) => error,
            };
            let conflict = matches!(&error, kube::Error::Api(s) if s.code == 409);
            let out_of_time = started.elapsed() >= self.retry.max_total_delay;
            if attempts >= self.retry.max_attempts
                || out_of_time
                || !(conflict || retry::is_retryable(&error))
            {
                return Err(match error {
                    kube::Error::Api(s) if s.code == 409 => ClusterError::Conflict {
                        action: "patching",
                        object,
                        attempts,
                    },
                    error => retry::classify(&request, error, attempts),
                });
            }
            // A conflict means someone else wrote: re-read at once. Anything else means the
            // server struggles: back off first.
            let delay = if conflict {
                std::time::Duration::ZERO
            } else {
                self.retry.delay(attempts, &error)
            };
            retry::log_retry(&request, &error, delay);
            tokio::time::sleep(delay).await;
        }
    }
}
