//! Keeping a throttled answer's `Retry-After` header for [`super::retry`].
//!
//! kube turns an error answer into an error from its body alone and drops the headers. The
//! API server's own throttling (priority and fairness, max-in-flight) answers 429 with a
//! `Retry-After` header and a plain-text body, so the wait it asks for would be lost. This
//! response layer moves the header into the body as the `Status` field kube does hand on,
//! `details.retryAfterSeconds`, where the retry loop reads it.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use kube::client::DynBody;
use serde_json::{Value, json};
use tower::BoxError;

/// A response as kube's client stack passes it through its layers.
pub(crate) type Answer = Response<Box<DynBody>>;

/// The `and_then` step of the client's stack: answers other than a 429 or 503 carrying
/// `Retry-After` pass through untouched.
pub(crate) async fn carry_retry_after(answer: Answer) -> Result<Answer, BoxError> {
    let status = answer.status();
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return Ok(answer);
    }
    let Some(seconds) = answer
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
    else {
        return Ok(answer);
    };
    let (mut parts, body) = answer.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let rewritten = with_retry_after(&bytes, status, seconds);
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body: Box<DynBody> = Box::new(Full::new(Bytes::from(rewritten)).map_err(|n| match n {}));
    Ok(Response::from_parts(parts, body))
}

/// The error body as a `Status` whose `details.retryAfterSeconds` holds `seconds`, unless
/// the server already put a wait there. A body that is not a `Status` becomes the message of
/// one, as kube itself would read it.
fn with_retry_after(body: &[u8], code: StatusCode, seconds: u32) -> Vec<u8> {
    let mut status = match serde_json::from_slice::<Value>(body) {
        Ok(value) if value["kind"] == "Status" => value,
        _ => json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": String::from_utf8_lossy(body).trim(),
            "reason": if code == StatusCode::TOO_MANY_REQUESTS {
                "TooManyRequests"
            } else {
                "ServiceUnavailable"
            },
            "code": code.as_u16(),
        }),
    };
    let given = status["details"]["retryAfterSeconds"]
        .as_u64()
        .is_some_and(|s| s > 0);
    if !given && let Some(object) = status.as_object_mut() {
        let details = object.entry("details").or_insert_with(|| json!({}));
        if let Some(details) = details.as_object_mut() {
            details.insert("retryAfterSeconds".into(), seconds.into());
        }
    }
    serde_json::to_vec(&status).unwrap_or_else(|_| body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn a_plain_text_throttle_becomes_a_status_with_the_header_s_wait() {
        let body = with_retry_after(
            b"Too many requests, please try again later.\n",
            StatusCode::TOO_MANY_REQUESTS,
            7,
        );
        let status: kube::core::Status = serde_json::from_slice(&body).unwrap();
        assert_eq!(status.code, 429);
        assert_eq!(status.reason, "TooManyRequests");
        assert_eq!(status.message, "Too many requests, please try again later.");
        assert_eq!(status.details.unwrap().retry_after_seconds, 7);
    }

    #[test]
    fn a_status_keeps_its_fields_and_its_own_wait() {
        let original = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "slow down", "reason": "TooManyRequests", "code": 429,
            "details": {"name": "x", "retryAfterSeconds": 3}});
        let body = with_retry_after(
            &serde_json::to_vec(&original).unwrap(),
            StatusCode::TOO_MANY_REQUESTS,
            9,
        );
        assert_eq!(parsed(&body), original);

        let without = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "unavailable", "reason": "ServiceUnavailable", "code": 503});
        let body = with_retry_after(
            &serde_json::to_vec(&without).unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            2,
        );
        assert_eq!(parsed(&body)["details"]["retryAfterSeconds"], 2);
        assert_eq!(parsed(&body)["message"], "unavailable");
    }
}
