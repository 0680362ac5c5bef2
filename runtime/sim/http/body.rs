//! Request bodies by content type: objects (JSON, YAML, protobuf) and the four patch types.

use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::protobuf::{self, ProtobufError};
use super::status::ApiError;
use crate::sim::store::{Patch, Preconditions};

fn content_type(headers: &HeaderMap) -> String {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    raw.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn parse_yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
    // Kubernetes reads `y`, `on` and `0777` as strings; YAML 1.1 inference would turn them
    // into booleans and numbers that the kind's type then refuses.
    let options =
        serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true };
    serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
}

/// The object a create or update request carries.
///
/// # Errors
///
/// 400 for a malformed body, 415 for a content type or protobuf kind not accepted.
pub fn object(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    let value = match ct.as_str() {
        "" | "application/json" => parse_json(bytes)?,
        "application/yaml" => parse_yaml(bytes)?,
        "application/vnd.kubernetes.protobuf" => protobuf::decode(bytes).map_err(|e| match e {
            ProtobufError::Decode { .. } => ApiError::bad_request(e.to_string()),
            ProtobufError::UnsupportedKind { .. } => {
                let mut err = ApiError::unsupported_media(&ct);
                err.message = e.to_string();
                err
            }
        })?,
        other => return Err(ApiError::unsupported_media(other)),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body is not a JSON object",
        ));
    }
    Ok(value)
}

/// The patch a PATCH request carries, by its content type.
///
/// # Errors
///
/// 400 for a malformed patch, 415 for a content type that is not a patch type, 422 for an
/// apply patch without a field manager.
pub fn patch(headers: &HeaderMap, bytes: &[u8], manager: Option<&str>) -> Result<Patch, ApiError> {
    match content_type(headers).as_str() {
        "application/json-patch+json" => serde_json::from_slice(bytes)
            .map(Patch::Json)
            .map_err(|e| ApiError::bad_request(format!("the JSON patch is not valid: {e}"))),
        "application/merge-patch+json" => parse_json(bytes).map(Patch::Merge),
        "application/strategic-merge-patch+json" => parse_json(bytes).map(Patch::Strategic),
        "application/apply-patch+yaml" => {
            let manager = manager.filter(|m| !m.is_empty()).ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                )
            })?;
            let body = parse_yaml(bytes)?;
            Ok(Patch::Apply {
                body,
                manager: manager.to_string(),
            })
        }
        other => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
            ),
        )),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeleteOptions {
    #[serde(default)]
    dry_run: Vec<String>,
    #[serde(default)]
    preconditions: Preconditions,
    propagation_policy: Option<String>,
}

/// Whether a delete orphans the dependents (`Orphan`) rather than deleting them
/// (`Background`, `Foreground`, or no policy).
///
/// # Errors
///
/// 422 for any other policy, as on a real server.
pub fn orphans(policy: Option<&str>) -> Result<bool, ApiError> {
    match policy {
        None | Some("" | "Background" | "Foreground") => Ok(false),
        Some("Orphan") => Ok(true),
        Some(other) => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            ),
        )),
    }
}

/// The `propagationPolicy` of a delete's optional `DeleteOptions` body.
///
/// # Errors
///
/// 400 for a malformed body.
pub fn delete_policy(headers: &HeaderMap, bytes: &[u8]) -> Result<Option<String>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value = object(headers, bytes)?;
    let opts: DeleteOptions = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("the DeleteOptions body is not valid: {e}")))?;
    Ok(opts.propagation_policy)
}

/// The preconditions and dry-run flag of a delete's optional `DeleteOptions` body (kube
/// sends `dryRun` there rather than in the query).
///
/// # Errors
///
/// 400 for a body that is not a `DeleteOptions` object, or a dry-run value other than `All`.
pub fn delete_options(
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(Preconditions, bool), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((Preconditions::default(), false));
    }
    let value = object(headers, bytes)?;
    let opts: DeleteOptions = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("the DeleteOptions body is not valid: {e}")))?;
    if let Some(other) = opts.dry_run.iter().find(|v| *v != "All") {
        return Err(ApiError::bad_request(format!(
            "invalid dry run value: {other:?}; the only supported value is \"All\""
        )));
    }
    Ok((opts.preconditions, !opts.dry_run.is_empty()))
}
