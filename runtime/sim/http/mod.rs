//! The HTTP face of the store: routing, authentication, injected faults, content types.

mod body;
pub mod discovery;
mod handlers;
mod openapi;
pub mod protobuf;
mod scale;
pub mod status;
mod table;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::sim::faults::{Faults, Injected, RequestCounts};
use crate::sim::store::Store;
use status::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub faults: Faults,
    pub counts: RequestCounts,
    /// The bearer token clients must send; `None` serves without authentication.
    pub token: Option<Arc<str>>,
    /// `host:port` as clients reach the server, for `/api`.
    pub address: Arc<str>,
}

/// The router of the simulated API server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/version", get(|| async { json(&discovery::version()) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_index))
        .route("/openapi/v3/{*path}", get(openapi::v3_group))
        .fallback(handlers::resource)
        // The real server takes request bodies up to 3 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(3 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// A JSON answer with the content type kubectl expects.
pub fn json(v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

// Authentication first, then the injected latency and faults, as a real server's
// authentication precedes its priority-and-fairness throttling.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Version and health are public on a real server (system:public-info-viewer).
    let public = matches!(
        req.uri().path(),
        "/version" | "/healthz" | "/readyz" | "/livez"
    );
    if let Some(token) = state.token.as_ref().filter(|_| !public) {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(token) {
            return ApiError::unauthorized().into_response();
        }
    }
    let faults = state.faults.get();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let is_write = matches!(*req.method(), Method::PUT | Method::PATCH);
    let served = req.uri().path().starts_with("/api");
    let injected = state.faults.draw(is_write).filter(|_| served);
    // Counted as verb `injected` and the status, so that tests can count the retries a
    // client made.
    if let Some(fault) = injected {
        let code = match fault {
            Injected::ServerError => "500",
            Injected::Throttled { .. } => "429",
            Injected::Conflict => "409",
        };
        state.counts.record("injected", code);
    }
    match injected {
        Some(Injected::ServerError) => ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: injected by the simulated cluster",
        )
        .into_response(),
        Some(Injected::Throttled { retry_after_secs }) => {
            let mut e = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            )
            .with_details(serde_json::json!({"retryAfterSeconds": retry_after_secs}));
            e.retry_after = Some(retry_after_secs);
            e.into_response()
        }
        Some(Injected::Conflict) => ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected)",
        )
        .into_response(),
        None => next.run(req).await,
    }
}
