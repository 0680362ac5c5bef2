//! `Status` answers, shaped like the real API server's.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::store::StoreError;

/// A failed request: the HTTP code and the `Status` body sent for it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"
            ),
        )
    }

    pub fn unknown_resource() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        let mut resp = (self.code, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The plural and group a store error names, for `details`.
fn split_resource(resource: &str) -> (&str, &str) {
    resource.split_once('.').unwrap_or((resource, ""))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NotFound { resource, name } => {
                let (kind, group) = split_resource(&resource);
                Self::new(StatusCode::NOT_FOUND, "NotFound", message)
                    .with_details(json!({"name": name, "group": group, "kind": kind}))
            }
            StoreError::NamespaceNotFound { namespace } => {
                Self::new(StatusCode::NOT_FOUND, "NotFound", message)
                    .with_details(json!({"name": namespace, "kind": "namespaces"}))
            }
            StoreError::AlreadyExists { resource, name } => {
                let (kind, group) = split_resource(&resource);
                Self::new(StatusCode::CONFLICT, "AlreadyExists", message)
                    .with_details(json!({"name": name, "group": group, "kind": kind}))
            }
            StoreError::Conflict { resource, name } => {
                let (kind, group) = split_resource(&resource);
                Self::new(StatusCode::CONFLICT, "Conflict", message)
                    .with_details(json!({"name": name, "group": group, "kind": kind}))
            }
            StoreError::Invalid { kind, group, name, field, message: why } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(json!({
                    "name": name, "group": group, "kind": kind,
                    "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {why}"), "field": field}],
                }))
            }
            StoreError::Rejected { kind, group, name, errors } => {
                let causes: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"reason": e.reason(), "message": e.message(), "field": e.field}))
                    .collect();
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message).with_details(
                    json!({"name": name, "group": group, "kind": kind, "causes": causes}),
                )
            }
            StoreError::TooLargeVersion { .. } => {
                let mut e = Self::new(StatusCode::GATEWAY_TIMEOUT, "Timeout", message)
                    .with_details(json!({
                        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1,
                    }));
                e.retry_after = Some(1);
                e
            }
            StoreError::BadRequest { .. } => Self::bad_request(message),
            StoreError::PatchFailed { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
            }
            StoreError::Expired { .. } => Self::new(StatusCode::GONE, "Expired", message),
            StoreError::Forbidden { resource, name, .. } => {
                let (kind, group) = split_resource(&resource);
                Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
                    .with_details(json!({"name": name, "group": group, "kind": kind}))
            }
            StoreError::Denied { .. } => Self::new(StatusCode::FORBIDDEN, "Forbidden", message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_names_the_object() {
        let e = ApiError::from(StoreError::NotFound {
            resource: "deployments.apps".into(),
            name: "web".into(),
        });
        assert_eq!(
            e.status(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "deployments.apps \"web\" not found",
            "reason": "NotFound", "code": 404,
            "details": {"name": "web", "group": "apps", "kind": "deployments"}})
        );
    }
}
