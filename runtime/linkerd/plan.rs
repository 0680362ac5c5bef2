//! Upgrade plans (`upgrade`): the object changes that deploy new trust anchors or a new
//! issuer in every place the layout keeps them (LINKERD.md §2.4, §7.2-7.6), as JSON patches,
//! and what each change does described without key material.

use std::fmt;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::LinkerdError;
use super::layout::{Era, Layout, TRUST_ROOT_SHA_ANNOTATION};
use super::objects::{ControlPlaneObjects, ObjectRef};
use super::places::{Location, Slot};
use crate::pki::{Bundle, PrivateKey};

/// What the caller allows and when "now" is.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Write a Helm-managed install although the next `helm upgrade` reverts it.
    pub allow_helm: bool,
    pub now: OffsetDateTime,
}

impl PlanOptions {
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            allow_helm: false,
            now,
        }
    }
}

/// One changed field: where, and old and new described by subjects and fingerprints.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub location: String,
    pub old: String,
    pub new: String,
}

/// The change of one object and the JSON patch that makes it.
///
/// The patch can hold key material (a Secret's `key.pem`, the overrides' `keyPEM`), so it is
/// neither serialised nor shown by `Debug`: only [`ObjectChange::patch`] hands it out, to be
/// sent.
#[derive(Clone, Serialize)]
pub struct ObjectChange {
    pub object: ObjectRef,
    pub fields: Vec<FieldChange>,
    #[serde(skip)]
    patch: json_patch::Patch,
}

impl ObjectChange {
    /// The JSON patch to send. It starts with a `test` of `metadata.resourceVersion` when the
    /// object has one, so that a concurrent change makes it fail instead of being overwritten.
    pub fn patch(&self) -> &json_patch::Patch {
        &self.patch
    }
}

impl fmt::Debug for ObjectChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<String> = self
            .patch
            .0
            .iter()
            .map(|op| op.path().to_string())
            .collect();
        f.debug_struct("ObjectChange")
            .field("object", &self.object)
            .field("fields", &self.fields)
            .field("patch_paths", &paths)
            .finish()
    }
}

/// The changes of one `upgrade`, and what the operator must still do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub action: String,
    pub changes: Vec<ObjectChange>,
    pub notes: Vec<String>,
}

impl Plan {
    /// Applies every patch to `objects` in memory (what the cluster layer does over the API).
    ///
    /// # Errors
    ///
    /// [`LinkerdError::Patch`] when an object is absent or a patch's test fails.
    pub fn apply(&self, objects: &mut ControlPlaneObjects) -> Result<(), LinkerdError> {
        for change in &self.changes {
            let fail = |reason: String| LinkerdError::Patch {
                object: change.object.to_string(),
                reason,
            };
            let object = objects
                .get_mut(&change.object)
                .ok_or_else(|| fail("the object is absent".into()))?;
            json_patch::patch(object, &change.patch.0).map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} object(s) to patch",
            self.action,
            self.changes.len()
        )?;
        for change in &self.changes {
            writeln!(f, "  patch {}", change.object)?;
            let object = change.object.to_string();
            for field in &change.fields {
                let place = field
                    .location
                    .strip_prefix(object.as_str())
                    .unwrap_or(&field.location);
                writeln!(f, "    {}", place.trim_start())?;
                writeln!(f, "      - {}", field.old)?;
                writeln!(f, "      + {}", field.new)?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// What a write puts somewhere, to describe it without showing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    Certificates,
    Key,
    Plain,
}

/// One text to write at one place.
pub(crate) struct Write {
    pub location: Location,
    pub text: String,
    pub content: Content,
}

/// Groups `writes` by object and turns each group into a patch; writes that change nothing
/// are dropped, and so is an object left unchanged.
pub(crate) fn build(
    objects: &ControlPlaneObjects,
    action: &str,
    writes: Vec<Write>,
    notes: Vec<String>,
) -> Result<Plan, LinkerdError> {
    let mut order: Vec<ObjectRef> = Vec::new();
    for write in &writes {
        if !order.contains(&write.location.object) {
            order.push(write.location.object.clone());
        }
    }
    let mut changes = Vec::new();
    for target in order {
        let current = objects
            .get(&target)
            .ok_or_else(|| LinkerdError::MissingObject {
                object: target.to_string(),
                why: format!("{action} writes there"),
            })?;
        let mut next = current.clone();
        let mut fields = Vec::new();
        for write in writes.iter().filter(|w| w.location.object == target) {
            let old = write.location.read(objects)?;
            if old.as_deref() == Some(write.text.as_str()) {
                continue;
            }
            write.location.write(&mut next, &write.text)?;
            fields.push(FieldChange {
                location: write.location.to_string(),
                old: old.map_or_else(|| "(absent)".into(), |t| describe(&t, write.content)),
                new: describe(&write.text, write.content),
            });
        }
        if fields.is_empty() {
            continue;
        }
        let mut ops = Vec::new();
        if let Some(version) = current.pointer("/metadata/resourceVersion") {
            let test = json!({"op": "test", "path": "/metadata/resourceVersion", "value": version});
            ops.push(
                serde_json::from_value(test).map_err(|e| LinkerdError::Patch {
                    object: target.to_string(),
                    reason: e.to_string(),
                })?,
            );
        }
        ops.extend(json_patch::diff(current, &next).0);
        changes.push(ObjectChange {
            object: target,
            fields,
            patch: json_patch::Patch(ops),
        });
    }
    Ok(Plan {
        action: action.to_owned(),
        changes,
        notes,
    })
}

/// Certificates by subject and fingerprint, keys by algorithm and public-key fingerprint.
fn describe(text: &str, content: Content) -> String {
    match content {
        Content::Plain => text.to_owned(),
        Content::Key => match PrivateKey::from_pem(text, "key") {
            Ok(key) => key.to_string(),
            Err(_) => "an unreadable private key".into(),
        },
        Content::Certificates => match crate::pki::parse_certificates(text, "field") {
            Ok(certs) => {
                let names: Vec<String> = certs.iter().map(|c| c.describe()).collect();
                format!("[{}]", names.join(", "))
            }
            Err(_) => format!("unreadable certificates ({} bytes)", text.len()),
        },
    }
}

/// The sha256 hex Linkerd 2.12+ puts on pod templates for a values anchors string.
pub fn trust_root_sha256(values_text: &str) -> String {
    hex::encode(Sha256::digest(values_text.as_bytes()))
}

/// The writes of the hash annotation on every pod template that carries it (2.12+).
pub(crate) fn hash_annotation_writes(objects: &ControlPlaneObjects, bundle: &Bundle) -> Vec<Write> {
    let pointer = format!(
        "/spec/template/metadata/annotations/{}",
        TRUST_ROOT_SHA_ANNOTATION.replace('/', "~1")
    );
    objects
        .deployments
        .iter()
        .filter(|d| d.pointer(&pointer).is_some())
        .filter_map(ObjectRef::of)
        .map(|object| Write {
            location: Location {
                object,
                slot: Slot::Field {
                    pointer: pointer.clone(),
                    base64: false,
                },
            },
            text: trust_root_sha256(&bundle.to_pem()),
            content: Content::Plain,
        })
        .collect()
}

/// Refuses a Helm-managed install unless allowed, naming the values to set instead.
pub(crate) fn helm_gate(
    layout: &Layout,
    options: &PlanOptions,
    action: &str,
    notes: &mut Vec<String>,
) -> Result<(), LinkerdError> {
    if !layout.helm_managed() {
        return Ok(());
    }
    let (anchors, issuer) = match layout.era {
        Era::A | Era::B1 => (
            "global.identityTrustAnchorsPEM",
            "identity.issuer.tls.crtPEM, identity.issuer.tls.keyPEM and identity.issuer.crtExpiry",
        ),
        Era::B2 | Era::C0 => (
            "identityTrustAnchorsPEM",
            "identity.issuer.tls.crtPEM, identity.issuer.tls.keyPEM and identity.issuer.crtExpiry",
        ),
        Era::C => (
            "identityTrustAnchorsPEM",
            "identity.issuer.tls.crtPEM and identity.issuer.tls.keyPEM",
        ),
    };
    let explanation = format!(
        "this install looks Helm-managed ({}); the next `helm upgrade` renders the old values \
         again and reverts this change: set {anchors} (trust anchors) and {issuer} (issuer) in \
         the release's values",
        layout.helm_evidence.join("; ")
    );
    if !options.allow_helm {
        return Err(LinkerdError::refused(
            action,
            format!("{explanation}, or pass `allow_helm: true` to patch anyway"),
        ));
    }
    notes.push(explanation);
    Ok(())
}

/// Notes common to both plans.
pub(crate) fn era_notes(layout: &Layout, anchors_changed: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if anchors_changed && layout.era == Era::C0 {
        notes.push(
            "linkerd 2.11 does not roll the control plane on a bundle change: restart the \
             linkerd-identity, linkerd-destination and linkerd-proxy-injector deployments"
                .into(),
        );
    }
    if anchors_changed && layout.external_ca {
        notes.push(
            "identity.externalCA is set: whoever manages linkerd-identity-trust-roots \
             (trust-manager, say) may overwrite the config map"
                .into(),
        );
    }
    notes
}
