//! Updates and patches: the new object is computed from the current one, checked, passed to
//! the admission hooks outside the lock, and committed only if nothing else was written in
//! between (or, when the client named no version, computed again on the latest object).

use std::sync::Arc;

use serde_json::{Value, json};

use super::meta::{self, meta_str};
use super::{
    ChangeType, Checks, FieldValidation, Operation, Patch, Store, StoreError, defaults, immutable,
    patch_pins_version, schema, scope, storage_form, validate, view,
};
use crate::sim::kinds::ResourceType;

impl Store {
    /// Replaces an object (PUT). A `resourceVersion` in the body must be the current one.
    /// With `status`, only the status changes; otherwise a kind with a status subresource keeps
    /// its status.
    ///
    /// # Errors
    ///
    /// `NotFound`, `Conflict` on a stale version, `BadRequest`/`Invalid` for a bad body.
    pub fn update(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: Value,
        status: bool,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        meta::check_body(rt, ns, &obj)?;
        meta::check_url_name(&obj, name)?;
        let trusted = Checks::IN_PROCESS;
        self.write_over(rt, ns, name, status, dry_run, trusted, |_| Ok(obj.clone()))
            .map(|(updated, _)| updated)
    }

    /// Like [`Store::update`], with the request's `fieldValidation`; also returns the
    /// warnings for dropped unknown fields.
    ///
    /// # Errors
    ///
    /// As [`Store::update`], and `BadRequest` for an object its type cannot decode or, with
    /// `Strict`, an unknown field.
    #[allow(clippy::too_many_arguments)]
    pub fn update_validated(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: Value,
        status: bool,
        dry_run: bool,
        validation: FieldValidation,
    ) -> Result<(Value, Vec<String>), StoreError> {
        meta::check_body(rt, ns, &obj)?;
        meta::check_url_name(&obj, name)?;
        let checks = Checks::client(validation);
        self.write_over(rt, ns, name, status, dry_run, checks, |_| Ok(obj.clone()))
    }

    /// Patches an object; an apply patch creates it when missing.
    ///
    /// # Errors
    ///
    /// As [`Store::update`], plus `PatchFailed` when a JSON patch does not apply.
    pub fn patch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        status: bool,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        self.patch_checked(rt, ns, name, patch, status, dry_run, Checks::IN_PROCESS)
            .map(|(patched, _)| patched)
    }

    /// Like [`Store::patch`], with the request's `fieldValidation`; also returns the
    /// warnings for dropped unknown fields.
    ///
    /// # Errors
    ///
    /// As [`Store::patch`], and `BadRequest` for a result its type cannot decode or, with
    /// `Strict`, an unknown field.
    #[allow(clippy::too_many_arguments)]
    pub fn patch_validated(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        status: bool,
        dry_run: bool,
        validation: FieldValidation,
    ) -> Result<(Value, Vec<String>), StoreError> {
        let checks = Checks::client(validation);
        self.patch_checked(rt, ns, name, patch, status, dry_run, checks)
    }

    #[allow(clippy::too_many_arguments)]
    fn patch_checked(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        status: bool,
        dry_run: bool,
        checks: Checks,
    ) -> Result<(Value, Vec<String>), StoreError> {
        if let Patch::Apply { body, .. } = patch {
            check_applied(rt, body, name)?;
        }
        if let Patch::Apply { body, manager } = patch
            && self.get(rt, ns, name).is_err()
        {
            let created = super::apply::apply(None, body, manager, &rt.api_version());
            return self.create_checked(rt, ns, created, dry_run, checks);
        }
        // Without a version in the patch itself, a patch applies to whatever is current.
        let pinned = patch_pins_version(patch);
        self.write_over(rt, ns, name, status, dry_run, checks, |current| {
            let mut patched = patch.apply_to(current)?;
            meta::check_body(rt, ns, &patched)?;
            if !pinned {
                meta::meta_mut(&mut patched).remove("resourceVersion");
            }
            Ok(patched)
        })
    }

    // Computes the new object from the current one and commits it, again on the latest object
    // when another write landed meanwhile and the new object names no version. Admission
    // hooks run outside the lock, so that they may read the store.
    #[allow(clippy::too_many_arguments)]
    fn write_over(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        status: bool,
        dry_run: bool,
        checks: Checks,
        make: impl Fn(&Value) -> Result<Value, StoreError>,
    ) -> Result<(Value, Vec<String>), StoreError> {
        let key = (scope(rt, ns), name.to_string());
        loop {
            let old = self
                .read()
                .objects
                .get(&rt.storage)
                .and_then(|m| m.get(&key).cloned())
                .ok_or_else(|| Self::not_found(rt, name))?;
            let mut new = make(&view(rt, &old))?;
            meta::check_url_name(&new, name)?;
            meta::strip_nulls(&mut new);
            // The whole result is decoded, so that a patch cannot store what a body could not.
            let warnings = schema::check(rt, &mut new, checks.fields)?;
            let mut new = storage_form(rt, new);
            let wanted = meta_str(&new, "resourceVersion")
                .unwrap_or_default()
                .to_string();
            if status {
                let mut merged = (*old).clone();
                merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                new = merged;
            } else if rt.status_subresource {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            new["apiVersion"] = json!(rt.stored_api_version());
            new["kind"] = json!(rt.kind);
            defaults::crd_status(rt, &mut new);
            immutable::keep_allocated(rt, &old, &mut new);
            immutable::check(rt, &old, &new)?;
            // A status write is validated by the status rules, which the sim does not
            // model: an object stored before these checks can still report its status.
            if checks.objects && !status {
                validate::check(rt, &new)?;
            }
            meta::carry_over(&old, &mut new);
            self.admit(Operation::Update, rt, &mut new)?;

            let mut inner = self.write();
            let Some(current) = inner
                .objects
                .get(&rt.storage)
                .and_then(|m| m.get(&key).cloned())
            else {
                return Err(Self::not_found(rt, name));
            };
            let current_version = meta_str(&current, "resourceVersion").unwrap_or_default();
            if !wanted.is_empty() && wanted != current_version {
                return Err(StoreError::Conflict {
                    resource: rt.qualified(),
                    name: name.into(),
                });
            }
            if !Arc::ptr_eq(&current, &old) {
                continue;
            }
            meta::meta_mut(&mut new).insert("resourceVersion".into(), json!(current_version));
            // As the real server does, a write that changes nothing is not stored and moves
            // no version, so watchers see no event.
            if dry_run || new == *old {
                return Ok((view(rt, &new), warnings));
            }
            let obj = inner.commit(rt, key, new, ChangeType::Modified, Some(old), &self.changes);
            // A CRD that gains a version serves it from now on.
            if rt.group == "apiextensions.k8s.io" {
                inner.registry.add_crd(&obj);
            }
            return Ok((view(rt, &obj), warnings));
        }
    }
}

// What the real server's field manager checks of an applied configuration before merging it:
// the URL's group version, a kind, the URL's name, and no field ownership of its own.
fn check_applied(rt: &ResourceType, body: &Value, name: &str) -> Result<(), StoreError> {
    let bad = |message: String| Err(StoreError::BadRequest { message });
    let version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if version != rt.api_version() {
        return bad(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            rt.api_version()
        ));
    }
    match body.get("kind").and_then(Value::as_str) {
        None | Some("") => return bad(format!("Object 'Kind' is missing in '{body}'")),
        Some(kind) if kind != rt.kind => {
            return bad(format!(
                "the kind {kind:?} of the applied object does not match {:?} of the URL",
                rt.kind
            ));
        }
        Some(_) => {}
    }
    if body
        .get("metadata")
        .is_some_and(|m| m.get("managedFields").is_some())
    {
        return bad("metadata.managedFields must be nil".into());
    }
    meta::check_url_name(body, name)
}
