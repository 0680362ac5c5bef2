//! Retrying requests that a busy or flaky API server failed, and turning the last failure
//! into an error that names the object.
//!
//! Only idempotent requests are retried here (get, list, watch re-established). Writes are
//! retried by [`super::Cluster::patch`], which re-reads the object and re-applies the change
//! under a `resourceVersion` precondition, so that a write whose answer was lost is never
//! applied twice on top of itself.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::error::ClusterError;

/// How hard to try: bounded both in attempts and in total waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait; each next one doubles, with jitter.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Waiting in all, over every retry of one request.
    pub max_total_delay: Duration,
}

impl Default for RetryPolicy {
    // A rotation waits minutes for rollouts anyway; half a minute of retrying rides out an
    // API server restart or a burst of throttling without hiding a real outage.
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_attempts: 8,
            max_total_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_total_delay(Some(self.max_total_delay))
            .with_jitter()
    }

    /// The wait before retry number `retry` (1-based), without jitter; for write loops.
    pub(crate) fn delay(&self, retry: u32, error: &kube::Error) -> Duration {
        let exponential = self
            .min_delay
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.max_delay);
        server_delay(error).unwrap_or(exponential)
    }
}

/// What a request is about, for logs and errors.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `getting`, `listing`, `patching`: the action in an error message.
    pub action: &'static str,
    /// `get`, `list`, `patch`: the verb RBAC rules name.
    pub verb: &'static str,
    /// The object or collection, as named in messages.
    pub object: &'a str,
    /// `configmaps`, `deployments.apps`.
    pub resource: &'a str,
    /// `ConfigMap`.
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    /// The object's name; `None` for a list.
    pub name: Option<&'a str>,
}

/// True for answers that a later attempt may not get: throttling, server errors, and
/// requests that got no answer at all.
pub fn is_retryable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// The wait the server asked for: a 429's `Retry-After`, which kube hands over as the
/// Status's `details.retryAfterSeconds`.
fn server_delay(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|secs| *secs > 0)
            .map(|secs| Duration::from_secs(secs.into())),
        _ => None,
    }
}

/// Runs an idempotent request, retrying it under `policy`; the error names the request.
///
/// # Errors
///
/// The last failure, once it is not retryable or the attempts or time ran out.
pub async fn idempotent<T, F, Fut>(
    policy: &RetryPolicy,
    request: &Request<'_>,
    call: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let attempts = AtomicU32::new(0);
    let mut call = call;
    let counted = || {
        attempts.fetch_add(1, Ordering::Relaxed);
        call()
    };
    let result = counted
        .retry(policy.builder())
        .when(is_retryable)
        .adjust(|error, delay| delay.map(|d| server_delay(error).unwrap_or(d)))
        .notify(|error, delay| log_retry(request, error, delay))
        .await;
    result.map_err(|error| classify(request, error, attempts.load(Ordering::Relaxed)))
}

pub(crate) fn log_retry(request: &Request<'_>, error: &kube::Error, delay: Duration) {
    tracing::debug!(
        verb = request.verb,
        kind = request.kind,
        namespace = request.namespace,
        name = request.name,
        %error,
        ?delay,
        "retrying"
    );
}

/// Names the request in the error of its last attempt.
pub fn classify(request: &Request<'_>, error: kube::Error, attempts: u32) -> ClusterError {
    let action = request.action;
    let object = request.object.to_owned();
    match error {
        kube::Error::Api(status) if status.code == 403 => ClusterError::Forbidden {
            action,
            object,
            verb: request.verb,
            resource: request.resource.to_owned(),
            namespace: request.namespace.map(str::to_owned),
            message: status.message.as_str().into(),
        },
        kube::Error::Api(status) => ClusterError::Api {
            action,
            object,
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
            attempts,
        },
        source => ClusterError::Transport {
            action,
            object,
            attempts,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use kube::core::{Status, response::StatusDetails};

    use super::*;

    fn status(code: u16, retry_after_seconds: u32) -> kube::Error {
        // The shape the API server sends, details included.
        let details: StatusDetails =
            serde_json::from_value(serde_json::json!({ "retryAfterSeconds": retry_after_seconds }))
                .unwrap();
        let status = Status::failure("injected", "Injected")
            .with_code(code)
            .with_details(details);
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn throttling_and_server_errors_are_retried_and_refusals_are_not() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_retryable(&status(code, 0)), "{code}");
        }
        for code in [400, 403, 404, 409, 410, 422] {
            assert!(!is_retryable(&status(code, 0)), "{code}");
        }
    }

    #[test]
    fn the_server_s_retry_after_wins_over_the_backoff() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, &status(429, 3)), Duration::from_secs(3));
        assert_eq!(policy.delay(1, &status(500, 0)), Duration::from_millis(100));
        assert_eq!(policy.delay(3, &status(500, 0)), Duration::from_millis(400));
        assert_eq!(policy.delay(30, &status(500, 0)), Duration::from_secs(5));
    }

    #[test]
    fn a_refusal_names_the_verb_resource_and_namespace() {
        let request = Request {
            action: "listing",
            verb: "list",
            object: "Secrets in namespace linkerd",
            resource: "secrets",
            kind: "Secret",
            namespace: Some("linkerd"),
            name: None,
        };
        let error = classify(&request, status(403, 0), 1);
        assert_eq!(
            error.to_string(),
            "listing Secrets in namespace linkerd: 403 Forbidden: not allowed to list secrets in \
             namespace linkerd: injected"
        );
        let error = classify(&request, status(500, 0), 8);
        assert_eq!(
            error.to_string(),
            "listing Secrets in namespace linkerd: 500 Injected: injected (gave up after 8 \
             attempts)"
        );
    }
}
