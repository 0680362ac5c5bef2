//! Reading from the cluster what Linkerd's rules work on: the control-plane objects, fetched
//! concurrently into [`ControlPlaneObjects`], and pods, page by page so that a cluster of
//! tens of thousands of pods is never held in memory at once.

use kube::Resource as _;
use kube::api::{DynamicObject, ListParams};
use serde_json::Value;

use super::IdentityError;
use crate::cluster::retry::{self, Request};
use crate::cluster::{Cluster, Kind, kinds};
use crate::linkerd::{ControlPlaneObjects, ISSUER_SECRET, LINKERD_CONFIG, OVERRIDES, TRUST_ROOTS};

/// Pods per page: large enough that 10,000 pods take 20 requests, small enough that a page
/// of fat pod specs stays a few megabytes.
const POD_PAGE: u32 = 500;

fn kind(name: &str) -> Result<Kind, IdentityError> {
    Ok(kinds::lookup(name)?)
}

/// An object as Linkerd's rules read it: JSON with `kind` and `apiVersion` set (list items
/// of a real API server come without them).
pub(super) fn object_value(object: DynamicObject, kind: &Kind) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.entry("kind")
            .or_insert_with(|| Value::String(kind.resource.kind.clone()));
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(kind.resource.api_version.clone()));
    }
    value
}

/// Fetches the control-plane objects of `namespace`: the two config maps, the two Secrets and
/// every Deployment, all requests at once.
///
/// Absent objects are `None`: Linkerd's rules say which absence is an error (no
/// `linkerd-config` at all means no control plane in this namespace).
///
/// # Errors
///
/// A failed request.
pub async fn control_plane(
    cluster: &Cluster,
    namespace: &str,
) -> Result<ControlPlaneObjects, IdentityError> {
    let (config_map, secret, deployment) =
        (kind("ConfigMap")?, kind("Secret")?, kind("Deployment")?);
    let ns = Some(namespace);
    let (config, roots, issuer, overrides, deployments) = tokio::try_join!(
        cluster.get(&config_map, ns, LINKERD_CONFIG),
        cluster.get(&config_map, ns, TRUST_ROOTS),
        cluster.get(&secret, ns, ISSUER_SECRET),
        cluster.get(&secret, ns, OVERRIDES),
        cluster.list(&deployment, ns, None),
    )?;
    Ok(ControlPlaneObjects {
        namespace: namespace.to_owned(),
        linkerd_config: config.map(|o| object_value(o, &config_map)),
        trust_roots: roots.map(|o| object_value(o, &config_map)),
        issuer_secret: issuer.map(|o| object_value(o, &secret)),
        overrides: overrides.map(|o| object_value(o, &secret)),
        deployments: deployments
            .into_iter()
            .map(|o| object_value(o, &deployment))
            .collect(),
    })
}

/// Whether the namespace exists: a namespace named by the caller and absent is a mistake to
/// report, not an empty set of pods.
///
/// # Errors
///
/// A failed request.
pub async fn namespace_exists(cluster: &Cluster, namespace: &str) -> Result<bool, IdentityError> {
    let found = cluster.get(&kind("Namespace")?, None, namespace).await?;
    Ok(found.is_some())
}

/// What [`for_each_pod`] hands over.
pub enum Visit<'a> {
    Pod(&'a Value),
    /// The list starts over (its continue token expired): forget the pods seen so far.
    Restart,
}

/// The label the proxy injector puts on every meshed pod, control plane included: listing
/// with it leaves unmeshed pods on the server.
pub const MESHED_SELECTOR: &str = "linkerd.io/control-plane-ns";

/// Lists the meshed pods of `namespace` (every namespace when `None`) page by page, handing
/// each pod to `visit` and dropping the page before the next is read. Each page is retried
/// as any read is; an expired continue token (410) restarts the list.
///
/// # Errors
///
/// A request that fails once retries are spent, or an answer that is not a list.
pub async fn for_each_pod(
    cluster: &Cluster,
    namespace: Option<&str>,
    mut visit: impl FnMut(Visit<'_>),
) -> Result<(), IdentityError> {
    let pods = kind("Pod")?;
    let url = DynamicObject::url_path(&pods.resource, namespace);
    let collection = pods.collection(namespace);
    let resource = pods.qualified_plural();
    let request = Request {
        action: "listing",
        verb: "list",
        object: &collection,
        resource: &resource,
        kind: pods.name(),
        namespace,
        name: None,
    };
    let policy = *cluster.retry_policy();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default()
            .limit(POD_PAGE)
            .labels(MESHED_SELECTOR);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let call = || async {
            let http = kube::core::Request::new(url.as_str())
                .list(&params)
                .map_err(kube::Error::BuildRequest)?;
            cluster.client().request::<Value>(http).await
        };
        let page = match retry::idempotent(&policy, &request, call).await {
            Ok(page) => page,
            Err(error) if token.is_some() && error.status_code() == Some(410) => {
                visit(Visit::Restart);
                token = None;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let Some(items) = page.get("items").and_then(Value::as_array) else {
            return Err(IdentityError::BadList {
                resource,
                problem: "it has no items array".into(),
            });
        };
        items.iter().for_each(|pod| visit(Visit::Pod(pod)));
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(());
        }
    }
}
