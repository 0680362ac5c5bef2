//! Resource requests: path parsing and the verbs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::status::ApiError;
use super::{AppState, body, discovery, json};
use crate::sim::kinds::ResourceType;
use crate::sim::store::{FieldSelector, FieldValidation, LabelSelector, ListOptions};

/// A request for a resource, parsed from the path.
#[derive(Debug)]
pub struct Target {
    pub rt: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: bool,
    /// The request is for the `scale` subresource.
    pub scale: bool,
}

enum Route {
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    Resource(Target),
}

fn parse(state: &AppState, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["apis", g] => return Ok(Route::Group((*g).to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::unknown_resource()),
    };
    if rest.is_empty() {
        return Ok(Route::Resources(group.into(), version.into()));
    }
    let registry = state.store.registry();
    let namespaced_path = rest.len() >= 3 && rest[0] == "namespaces";
    let (namespace, rest) = if namespaced_path && !matches!(rest[2], "status" | "finalize") {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let rt = registry
        .lookup(group, version, rest[0])
        .ok_or_else(ApiError::unknown_resource)?;
    if namespace.is_some() && !rt.namespaced {
        return Err(ApiError::unknown_resource());
    }
    let name = rest.get(1).map(|s| s.to_string());
    if namespace.is_none() && rt.namespaced && name.is_some() {
        return Err(ApiError::unknown_resource());
    }
    let (status, scale) = match rest.get(2) {
        None => (false, false),
        Some(&"status") if rt.status_subresource => (true, false),
        Some(&"scale") if super::scale::scalable(&rt) => (false, true),
        Some(_) => return Err(ApiError::unknown_resource()),
    };
    if rest.len() > 3 {
        return Err(ApiError::unknown_resource());
    }
    Ok(Route::Resource(Target {
        rt,
        namespace,
        name,
        status,
        scale,
    }))
}

/// Query parameters the verbs read.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, read as Go's `strconv.ParseBool` reads it on the real server.
    ///
    /// # Errors
    ///
    /// 400 for any other text.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?}: not a boolean"
            ))),
        }
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid dry run value: {other:?}; the only supported value is \"All\""
            ))),
        }
    }

    fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        Ok(FieldValidation::parse(self.get("fieldValidation"))?)
    }

    pub fn selectors(&self, rt: &ResourceType) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?;
        let fields = FieldSelector::parse(rt, self.get("fieldSelector").unwrap_or(""))?;
        Ok((labels, fields))
    }
}

/// Serves every `/api…` and `/apis…` path that is not a fixed route.
pub async fn resource(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            let code = e.status();
            let reason = if code == StatusCode::PAYLOAD_TOO_LARGE {
                "RequestEntityTooLarge"
            } else {
                "BadRequest"
            };
            return ApiError::new(
                code,
                reason,
                format!("reading the request body: {}", e.body_text()),
            )
            .into_response();
        }
    };
    match serve(&state, &method, &uri, &headers, &bytes).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let params = Params(
        Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .map_err(|e| ApiError::bad_request(format!("the query is not valid: {e}")))?,
    );
    let target = match parse(state, uri.path())? {
        Route::CoreVersions => return Ok(json(&discovery::core_versions(&state.address))),
        Route::Groups => return Ok(json(&discovery::groups(&state.store.registry()))),
        Route::Group(g) => {
            return discovery::group(&state.store.registry(), &g)
                .map(|d| json(&d))
                .ok_or_else(ApiError::unknown_resource);
        }
        Route::Resources(g, v) => {
            return discovery::resources(&state.store.registry(), &g, &v)
                .map(|d| json(&d))
                .ok_or_else(ApiError::unknown_resource);
        }
        Route::Resource(t) => t,
    };
    let store = &state.store;
    let rt = &target.rt;
    let ns = target.namespace.as_deref();
    // Requests naming an object are also counted per object (writes per workload).
    let count = |verb: &str| match target.name.as_deref() {
        Some(name) => state.counts.record_object(verb, &rt.qualified(), ns, name),
        None => state.counts.record(verb, &rt.qualified()),
    };
    // Dry-run writes are counted apart (`patch:dryRun`), so that a test can tell that a
    // dry-run sent no real write.
    let count_write = |verb: &str| match params.dry_run() {
        Ok(true) => count(&format!("{verb}:dryRun")),
        _ => count(verb),
    };
    if let (true, Some(name)) = (target.scale, target.name.as_deref()) {
        return super::scale::serve(state, method, &target, name, &params, headers, bytes);
    }
    // The real server routes a namespaced kind's all-namespaces path for list and watch only.
    let all_namespaces = target.rt.namespaced && target.namespace.is_none();
    if all_namespaces && *method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    match (method, target.name.as_deref()) {
        (&Method::GET, None) if params.flag("watch")? => {
            count("watch");
            super::watch::serve(state, &target, &params, headers).await
        }
        (&Method::GET, None) => {
            count("list");
            let version = params.get("resourceVersion").unwrap_or_default();
            // The real server refuses a version that is not a number too (its storage
            // cannot parse it); the list would otherwise be served as if none was given.
            if !version.is_empty() && version.parse::<u64>().is_err() {
                return Err(ApiError::bad_request(format!(
                    "resourceVersion {version:?} is not a valid version"
                )));
            }
            let pinned = !version.is_empty() && version != "0";
            if pinned && params.get("continue").is_some_and(|c| !c.is_empty()) {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            super::watch::wait_for_version(store, &params).await?;
            let table = super::table::requested(headers, &params)?;
            list(state, &target, &params, table.as_ref())
        }
        (&Method::GET, Some(name)) => {
            count("get");
            let table = super::table::requested(headers, &params)?;
            let obj = store.get(rt, ns, name)?;
            Ok(json(&match table {
                Some(table) => super::table::object(rt, &obj, &table, true),
                None => obj,
            }))
        }
        (&Method::POST, None) => {
            count_write("create");
            let obj = body::object(headers, bytes)?;
            let validation = params.field_validation()?;
            let (created, warnings) =
                store.create_validated(rt, ns, obj, params.dry_run()?, validation)?;
            Ok(warned(
                (StatusCode::CREATED, json(&created)).into_response(),
                &warnings,
            ))
        }
        (&Method::PUT, Some(name)) => {
            count_write("update");
            let obj = body::object(headers, bytes)?;
            let validation = params.field_validation()?;
            let (updated, warnings) = store.update_validated(
                rt,
                ns,
                name,
                obj,
                target.status,
                params.dry_run()?,
                validation,
            )?;
            Ok(warned(json(&updated), &warnings))
        }
        (&Method::PATCH, Some(name)) => {
            count_write("patch");
            let patch = body::patch(headers, bytes, params.get("fieldManager"))?;
            if params.get("force").is_some()
                && !matches!(patch, crate::sim::store::Patch::Apply { .. })
            {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
                ));
            }
            if matches!(patch, crate::sim::store::Patch::Strategic(_)) && !rt.builtin {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use a merge patch",
                ));
            }
            let existed = store.get(rt, ns, name).is_ok();
            let validation = params.field_validation()?;
            let (out, warnings) = store.patch_validated(
                rt,
                ns,
                name,
                &patch,
                target.status,
                params.dry_run()?,
                validation,
            )?;
            let code = if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(warned((code, json(&out)).into_response(), &warnings))
        }
        (&Method::DELETE, Some(name)) => {
            let (pre, body_dry_run) = body::delete_options(headers, bytes)?;
            let policy = body::delete_policy(headers, bytes)?;
            let orphan = body::orphans(params.get("propagationPolicy").or(policy.as_deref()))?;
            let dry_run = params.dry_run()? || body_dry_run;
            count(if dry_run { "delete:dryRun" } else { "delete" });
            Ok(json(
                &store.delete_with_policy(rt, ns, name, &pre, orphan, dry_run)?,
            ))
        }
        // As on a real server, namespaces are deleted one by one only.
        (&Method::DELETE, None) if rt.group.is_empty() && rt.plural == "namespaces" => {
            Err(ApiError::method_not_allowed())
        }
        (&Method::DELETE, None) => {
            count("deletecollection");
            delete_collection(state, &target, &params, headers, bytes)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

// Adds one `Warning` header per message, in the form kubectl prints (`299 - "…"`).
fn warned(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let quoted = format!("299 - {}", Value::String(w.clone()));
        if let Ok(value) = header::HeaderValue::from_str(&quoted) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

fn list(
    state: &AppState,
    target: &Target,
    params: &Params,
    table: Option<&super::table::TableRequest>,
) -> Result<Response, ApiError> {
    let (labels, fields) = params.selectors(&target.rt)?;
    // `limit` is an int64 on the real server, and any value below 1 means no limit.
    let limit = match params.get("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(|_| ApiError::bad_request(format!("limit {l:?} is not a number")))?,
    };
    let opts = ListOptions {
        labels,
        fields,
        limit,
        continue_token: params
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(String::from),
    };
    let page = state
        .store
        .list(&target.rt, target.namespace.as_deref(), &opts)?;
    let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(c) = page.continue_token {
        meta["continue"] = json!(c);
        if let Some(n) = page.remaining {
            meta["remainingItemCount"] = json!(n);
        }
    }
    let items: Vec<&Value> = page.items.iter().map(|i| i.as_ref()).collect();
    if let Some(table) = table {
        return Ok(json(&super::table::list(&target.rt, &items, meta, table)));
    }
    let list = ListBody {
        kind: format!("{}List", target.rt.kind),
        api_version: target.rt.api_version(),
        metadata: meta,
        items,
    };
    // Serialised from the shared objects, without copying them into a new document.
    let bytes = serde_json::to_vec(&list).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

#[derive(serde::Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<&'a Value>,
}

fn delete_collection(
    state: &AppState,
    target: &Target,
    params: &Params,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let (labels, fields) = params.selectors(&target.rt)?;
    let opts = ListOptions {
        labels,
        fields,
        ..Default::default()
    };
    let ns = target.namespace.as_deref();
    let page = state.store.list(&target.rt, ns, &opts)?;
    let dry_run = params.dry_run()? || body::delete_options(headers, bytes)?.1;
    let policy = body::delete_policy(headers, bytes)?;
    let orphan = body::orphans(params.get("propagationPolicy").or(policy.as_deref()))?;
    let pre = crate::sim::store::Preconditions::default();
    let mut items = Vec::new();
    for item in page.items {
        let name = item["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let item_ns = item["metadata"]["namespace"].as_str().map(String::from);
        items.push(state.store.delete_with_policy(
            &target.rt,
            item_ns.as_deref().or(ns),
            &name,
            &pre,
            orphan,
            dry_run,
        )?);
    }
    let list: Value = json!({
        "kind": format!("{}List", target.rt.kind),
        "apiVersion": target.rt.api_version(),
        "metadata": {"resourceVersion": state.store.resource_version().to_string()},
        "items": items,
    });
    Ok(json(&list))
}
