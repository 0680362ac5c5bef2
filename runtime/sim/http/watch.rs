//! Watch streams: one JSON event per line, sent as chunks until the timeout, an injected
//! cut, or the client leaving.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::AppState;
use super::handlers::{Params, Target};
use super::status::ApiError;
use super::table::{self, TableRequest};
use crate::sim::kinds::ResourceType;
use crate::sim::store::{FieldError, Store, StoreError, Watch, WatchEvent, WatchFilter};

/// How often a quiet watch that allows bookmarks receives one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Stream {
    watch: Watch,
    deadline: Option<Instant>,
    bookmarks: bool,
    /// The `initial-events-end` bookmark is still owed (`sendInitialEvents=true`).
    initial_end: bool,
    bookmark: Value,
    /// Events are sent as one-row `Table`s (kubectl's human-readable `get -w`).
    table: Option<(Arc<ResourceType>, TableRequest)>,
    /// The column definitions went out with an earlier event.
    table_headers_sent: bool,
}

fn line(v: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

impl Stream {
    fn bookmark(&self, initial_end: bool) -> Bytes {
        let mut obj = self.bookmark.clone();
        obj["metadata"]["resourceVersion"] = json!(self.watch.resource_version().to_string());
        if initial_end {
            obj["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(&json!({"type": "BOOKMARK", "object": obj}))
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.initial_end && !self.watch.has_pending() {
            self.initial_end = false;
            return Some(self.bookmark(true));
        }
        let far = Instant::now() + Duration::from_secs(86_400);
        let deadline = self.deadline.unwrap_or(far);
        let quiet = if self.bookmarks {
            Instant::now() + BOOKMARK_EVERY
        } else {
            far
        };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => None,
            () = tokio::time::sleep_until(quiet) => Some(self.bookmark(false)),
            event = self.watch.next() => event.map(|e| self.event_line(&e)),
        }
    }

    fn event_line(&mut self, event: &WatchEvent) -> Bytes {
        let Some((rt, request)) = &self.table else {
            return Bytes::from(event.to_line());
        };
        let headers = !self.table_headers_sent;
        self.table_headers_sent = true;
        let table = table::object(rt, event.object(), request, headers);
        line(&json!({"type": event.type_name(), "object": table}))
    }
}

/// How long a read from a version the store has not reached waits for it, as the real
/// server's watch cache does before it answers "Too large resource version".
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

/// Waits until the store reaches the request's `resourceVersion`, if it names one.
///
/// # Errors
///
/// 504 `Timeout` with the `ResourceVersionTooLarge` cause when it is not reached in time.
pub async fn wait_for_version(store: &Store, params: &Params) -> Result<(), ApiError> {
    let Some(wanted) = params
        .get("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Ok(());
    };
    let deadline = Instant::now() + FRESHNESS_WAIT;
    let mut changes = store.subscribe();
    loop {
        let current = store.resource_version();
        if current >= wanted {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StoreError::TooLargeVersion {
                requested: wanted,
                current,
            }
            .into());
        }
        // Any change (or a lagging receiver) is a reason to look at the version again.
        let _ = tokio::time::timeout(left, changes.recv()).await;
    }
}

/// Checks what `sendInitialEvents` needs, as the real server's list options validation does.
///
/// # Errors
///
/// 422 naming each missing setting.
fn check_initial_events(params: &Params) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let not_older = params.get("resourceVersionMatch") == Some("NotOlderThan");
    if params.get("sendInitialEvents").is_some() {
        if !not_older {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !params.flag("allowWatchBookmarks")? {
            errors.push(FieldError::forbidden(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    } else if params
        .get("resourceVersionMatch")
        .is_some_and(|m| !m.is_empty())
    {
        errors.push(FieldError::forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(StoreError::Rejected {
        kind: "ListOptions".into(),
        group: "meta.k8s.io".into(),
        name: String::new(),
        errors,
    }
    .into())
}

/// A watch that failed after its request was accepted: `200 OK` and a stream of one `ERROR`
/// event holding the `Status`, as the real server's watch cache answers a version older than
/// its history (410 `Expired`) or one it does not reach in time (504 "Too large resource
/// version"). Clients rely on the difference: kube-runtime's watcher lists again only on a
/// 410 received as an event, and retries the same version forever when the request itself
/// is refused.
fn error_stream(error: &ApiError) -> Response {
    let event = line(&json!({"type": "ERROR", "object": error.status()}));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(event),
    )
        .into_response()
}

/// Starts a watch for `target` and streams it.
///
/// # Errors
///
/// 400 for bad selectors, versions or timeouts, 422 for `sendInitialEvents` without its
/// settings. A version older than the history or not reached in time is not an error here:
/// it is the stream's one `ERROR` event (see [`error_stream`]).
pub async fn serve(
    state: &AppState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    check_initial_events(params)?;
    let table = table::requested(headers, params)?.map(|t| (target.rt.clone(), t));
    let (labels, fields) = params.selectors(&target.rt)?;
    let send_initial = params.flag("sendInitialEvents")?;
    let from = match params.get("resourceVersion") {
        _ if send_initial => None,
        None | Some("" | "0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("resourceVersion {v:?} is not a valid version"))
        })?),
    };
    let timeout = match params.get("timeoutSeconds") {
        None | Some("") => None,
        Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for timeoutSeconds: {t:?}: not an integer"
            ))
        })?)),
    };
    let bookmarks = params.flag("allowWatchBookmarks")?;
    if let Err(error) = wait_for_version(&state.store, params).await {
        return Ok(error_stream(&error));
    }
    let filter = WatchFilter {
        resource: target.rt.clone(),
        namespace: target.namespace.clone(),
        labels,
        fields,
    };
    let watch = match state.store.watch(filter, from) {
        Ok(watch) => watch,
        Err(error @ StoreError::Expired { .. }) => return Ok(error_stream(&error.into())),
        Err(error) => return Err(error.into()),
    };
    let cut = state.faults.get().watch_cut_after;
    let limit = [timeout, cut].into_iter().flatten().min();
    let stream = Stream {
        watch,
        deadline: limit.map(|d| Instant::now() + d),
        bookmarks,
        initial_end: send_initial,
        bookmark: json!({"kind": target.rt.kind, "apiVersion": target.rt.api_version(),
            "metadata": {}}),
        table,
        table_headers_sent: false,
    };
    let body = futures::stream::unfold(stream, |mut s| async move {
        s.next_chunk()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), s))
    })
    .boxed();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
