//! `upgrade` on a cluster: fetch the control plane, plan with Linkerd's rules (every refusal
//! happens there, before any write), then patch each object the plan changes. Each patch is
//! sent under the object's `resourceVersion`; when another writer got there first, the plan
//! is made again on the newer object, so a concurrent change is neither lost nor overwritten.

use std::fmt;

use kube::api::DynamicObject;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::IdentityError;
use super::fetch;
use crate::cluster::{Cluster, FieldChange as DiffLine, WriteMode, kinds};
use crate::linkerd::{self, ControlPlaneObjects, Layout, ObjectRef, Plan, PlanOptions};
use crate::pki::{Bundle, Certificate};

/// What to deploy.
#[derive(Clone)]
pub enum Material {
    /// New trust anchors, written in canonical PEM everywhere the layout keeps them.
    Anchors(Bundle),
    /// A new issuer: the certificate first, then any intermediates up to a root, and its
    /// private key as PEM (SEC1 or PKCS#8; written as SEC1).
    Issuer {
        certs: Vec<Certificate>,
        key_pem: String,
    },
}

// The issuer key never appears in `Debug`: only the certificates are named.
impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anchors(bundle) => f
                .debug_tuple("Anchors")
                .field(&bundle.fingerprints())
                .finish(),
            Self::Issuer { certs, .. } => {
                let names: Vec<String> = certs.iter().map(Certificate::describe).collect();
                f.debug_struct("Issuer")
                    .field("certs", &names)
                    .finish_non_exhaustive()
            }
        }
    }
}

/// One `upgrade` call.
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    /// The control-plane namespace.
    pub namespace: String,
    pub material: Material,
    /// Patch a Helm-managed install although the next `helm upgrade` reverts it.
    pub allow_helm: bool,
    pub now: OffsetDateTime,
}

/// One object the upgrade changed (or, in a dry-run, would change).
#[derive(Debug, Clone)]
pub struct Changed {
    /// `ConfigMap linkerd/linkerd-config`.
    pub object: String,
    /// The places inside it, as the plan names them (`data.values identityTrustAnchorsPEM`).
    pub fields: Vec<String>,
    /// The changed fields as the server answered, without key material.
    pub diff: Vec<DiffLine>,
}

/// What an upgrade did.
#[derive(Debug, Clone)]
pub struct Upgraded {
    pub layout: Layout,
    pub changed: Vec<Changed>,
    /// What the operator must still do (restarts, Helm values), from the plan.
    pub notes: Vec<String>,
}

fn plan(
    objects: &ControlPlaneObjects,
    layout: &Layout,
    request: &UpgradeRequest,
) -> Result<Plan, linkerd::LinkerdError> {
    let options = PlanOptions {
        allow_helm: request.allow_helm,
        now: request.now,
    };
    match &request.material {
        Material::Anchors(bundle) => linkerd::plan_anchors(objects, layout, bundle, &options),
        Material::Issuer { certs, key_pem } => {
            linkerd::plan_issuer(objects, layout, certs, key_pem, &options)
        }
    }
}

/// The control plane's layout and the plan of `request`, without writing anything.
///
/// # Errors
///
/// A failed read, an undetectable layout, or a refusal of the plan.
pub async fn prepare(
    cluster: &Cluster,
    request: &UpgradeRequest,
) -> Result<(ControlPlaneObjects, Layout, Plan), IdentityError> {
    let objects = fetch::control_plane(cluster, &request.namespace).await?;
    let layout = linkerd::detect(&objects)?;
    let plan = plan(&objects, &layout, request)?;
    Ok((objects, layout, plan))
}

/// Plans and applies `request`; with [`WriteMode::DryRun`] every patch is a server-side
/// dry-run and nothing is stored.
///
/// # Errors
///
/// A refusal before any write; a failed patch (the objects patched before it stay patched:
/// the error names the object, and running the upgrade again finishes the rest, since
/// objects already as wanted are not written).
pub async fn upgrade(
    cluster: &Cluster,
    request: &UpgradeRequest,
    mode: WriteMode,
) -> Result<Upgraded, IdentityError> {
    let (mut objects, layout, first) = prepare(cluster, request).await?;
    let mut changed = Vec::new();
    for change in &first.changes {
        let target = change.object.clone();
        let kind = kinds::lookup(&target.kind)?;
        let replan = |current: &DynamicObject| -> Result<Option<Value>, String> {
            let now = fetch::object_value(current.clone(), &kind);
            let mut latest = objects.clone();
            if let Some(slot) = latest.get_mut(&target) {
                *slot = now.clone();
            }
            let plan = plan(&latest, &layout, request).map_err(|e| crate::pki::chain_text(&e))?;
            let Some(change) = plan.changes.iter().find(|c| c.object == target) else {
                return Ok(None);
            };
            let mut next = now.clone();
            json_patch::patch(&mut next, &change.patch().0).map_err(|e| e.to_string())?;
            Ok(Some(merge_patch(&now, &next)))
        };
        let patched = cluster
            .patch(&kind, Some(&target.namespace), &target.name, mode, replan)
            .await?;
        let after = fetch::object_value(patched.object, &kind);
        if let Some(slot) = objects.get_mut(&target) {
            *slot = after;
        }
        changed.push(Changed {
            object: object_name(&target),
            fields: change
                .fields
                .iter()
                .map(|f| place(&target, &f.location))
                .collect(),
            diff: patched.changes,
        });
    }
    Ok(Upgraded {
        layout,
        changed,
        notes: first.notes,
    })
}

/// `ConfigMap linkerd/linkerd-config`, as scripts see objects named.
pub fn object_name(object: &ObjectRef) -> String {
    format!("{} {}/{}", object.kind, object.namespace, object.name)
}

/// A plan location without its object's name.
fn place(object: &ObjectRef, location: &str) -> String {
    let prefix = format!("{object} ");
    location
        .strip_prefix(prefix.as_str())
        .unwrap_or(location)
        .to_owned()
}

/// The JSON merge patch (RFC 7396) that turns `old` into `new`: changed keys, removed keys
/// as `null`; arrays are replaced whole, which is safe here because the patch is sent under
/// the `resourceVersion` it was computed from.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(before) if before == value => {}
                    Some(before) => {
                        patch.insert(key.clone(), merge_patch(before, value));
                    }
                    None => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_merge_patch_turns_the_old_object_into_the_new_one() {
        let old = json!({"a": 1, "b": {"c": "x", "d": [1, 2]}, "gone": true, "same": {"k": 1}});
        let new = json!({"a": 1, "b": {"c": "y", "d": [1, 2, 3]}, "added": "v", "same": {"k": 1}});
        let patch = merge_patch(&old, &new);
        assert_eq!(
            patch,
            json!({"b": {"c": "y", "d": [1, 2, 3]}, "added": "v", "gone": null})
        );
        let mut applied = old.clone();
        json_patch::merge(&mut applied, &patch);
        assert_eq!(applied, new);
    }
}
