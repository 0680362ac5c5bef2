//! Watch streams: one JSON event per line, sent as chunks until the timeout, an injected
//! cut, or the client leaving.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::AppState;
use super::handlers::{Params, Target};
use super::status::ApiError;
use crate::sim::store::{Watch, WatchFilter};

/// How often a quiet watch that allows bookmarks receives one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Stream {
    watch: Watch,
    deadline: Option<Instant>,
    bookmarks: bool,
    /// The `initial-events-end` bookmark is still owed (`sendInitialEvents=true`).
    initial_end: bool,
    bookmark: Value,
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
            event = self.watch.next() => event.map(|e| Bytes::from(e.to_line())),
        }
    }
}

/// Starts a watch for `target` and streams it.
///
/// # Errors
///
/// 400 for bad selectors or versions, 410 `Expired` for a version older than the history.
pub fn serve(state: &AppState, target: &Target, params: &Params) -> Result<Response, ApiError> {
    let (labels, fields) = params.selectors(&target.rt)?;
    let send_initial = params.flag("sendInitialEvents")?;
    let from = match params.get("resourceVersion") {
        _ if send_initial => None,
        None | Some("" | "0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("resourceVersion {v:?} is not a valid version"))
        })?),
    };
    let filter = WatchFilter {
        resource: target.rt.clone(),
        namespace: target.namespace.clone(),
        labels,
        fields,
    };
    let watch = state.store.watch(filter, from)?;
    let timeout = match params.get("timeoutSeconds") {
        None | Some("") => None,
        Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value for timeoutSeconds: {t:?}: not an integer"
            ))
        })?)),
    };
    let cut = state.faults.get().watch_cut_after;
    let limit = [timeout, cut].into_iter().flatten().min();
    let stream = Stream {
        watch,
        deadline: limit.map(|d| Instant::now() + d),
        bookmarks: params.flag("allowWatchBookmarks")?,
        initial_end: send_initial,
        bookmark: json!({"kind": target.rt.kind, "apiVersion": target.rt.api_version(),
            "metadata": {}}),
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
