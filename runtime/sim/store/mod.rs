//! The in-memory object store behind the simulated API server.
//!
//! It knows nothing of HTTP: the HTTP layer and the simulated controllers call the same
//! methods. Objects are `serde_json::Value`s kept in their stored form (core events for both
//! event APIs); every read returns the shape of the resource asked for. Every write gets the
//! next resource version, is recorded in a bounded history for watches, and is broadcast to
//! subscribers. Admission hooks may change an object before it is stored.

mod apply;
mod defaults;
mod events;
mod immutable;
mod inner;
mod label_grammar;
mod list;
pub mod meta;
mod patch;
pub mod schema;
pub mod select;
mod typed;
mod validate;
mod watch;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

pub use immutable::{FieldError, FieldErrorKind};
pub use list::{ListOptions, ListPage};
pub use patch::Patch;
pub use schema::FieldValidation;
pub use select::{FieldSelector, LabelSelector};
pub use watch::{Change, ChangeType, Watch, WatchEvent, WatchFilter};

use crate::sim::kinds::{Registry, ResourceType, StorageKey};
use meta::meta_str;
use watch::History;

/// Why the store refused a request; each maps to the `Status` the real server sends. The
/// messages are the real server's words (capitals included), which clients and operators
/// recognise and sometimes match.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    #[error(
        "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict { resource: String, name: String },
    #[error("{kind} \"{name}\" is invalid: {field}: Invalid value: {message}")]
    Invalid {
        kind: String,
        group: String,
        name: String,
        field: String,
        message: String,
    },
    /// Several refused fields at once, each with its own reason (`Forbidden`, `Invalid
    /// value`, `Required value`), as the real server's field validation reports them.
    #[error("{} \"{name}\" is invalid: {}", immutable::qualified(.kind, .group), immutable::summary(.errors))]
    Rejected {
        kind: String,
        group: String,
        name: String,
        errors: Vec<FieldError>,
    },
    #[error("{message}")]
    BadRequest { message: String },
    /// A read or watch from a version the store has not reached (504 on a real server).
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeVersion { requested: u64, current: u64 },
    #[error("the patch could not be applied: {message}")]
    PatchFailed { message: String },
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },
    #[error("namespaces \"{namespace}\" not found")]
    NamespaceNotFound { namespace: String },
    #[error("{resource} \"{name}\" is forbidden: {message}")]
    Forbidden {
        resource: String,
        name: String,
        message: String,
    },
    #[error("admission denied the request for {resource} \"{name}\": {message}")]
    Denied {
        resource: String,
        name: String,
        message: String,
    },
}

/// The operation an admission hook sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// A hook run on every create and update before the object is stored (the proxy injector
/// of the next issue is one). It receives the stored form and may change it.
pub trait Admission: Send + Sync {
    /// Changes `object` or refuses it with a reason.
    ///
    /// # Errors
    ///
    /// The reason the write is refused; the client receives it in a `Status`.
    fn admit(
        &self,
        op: Operation,
        resource: &ResourceType,
        object: &mut Value,
    ) -> Result<(), String>;
}

/// What must still hold for a delete to go ahead (`DeleteOptions.preconditions`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Options of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How many changes are kept for watches that start from an older version.
    pub history: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { history: 20_000 }
    }
}

type Objects = BTreeMap<(String, String), Arc<Value>>;

pub(crate) struct Inner {
    registry: Registry,
    version: u64,
    objects: HashMap<StorageKey, Objects>,
    /// Objects per resource and namespace, so that a page can say how many remain.
    per_namespace: HashMap<(StorageKey, String), usize>,
    history: History,
}

/// The store; cheap to clone, shared by the server and the simulated controllers.
#[derive(Clone)]
pub struct Store {
    inner: Arc<RwLock<Inner>>,
    changes: broadcast::Sender<Arc<Change>>,
    hooks: Arc<RwLock<Vec<Arc<dyn Admission>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("version", &self.resource_version())
            .finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new(StoreOptions::default())
    }
}

/// The object in the shape of `rt` (its apiVersion; events converted).
pub fn view(rt: &ResourceType, stored: &Value) -> Value {
    if rt.is_events_v1() {
        return events::to_events_v1(stored);
    }
    let mut out = stored.clone();
    out["apiVersion"] = json!(rt.api_version());
    out
}

/// Like [`view`], sharing the stored object when the shapes are the same.
pub fn view_shared(rt: &ResourceType, stored: &Arc<Value>) -> Arc<Value> {
    let same = !rt.is_events_v1()
        && stored.get("apiVersion").and_then(Value::as_str) == Some(rt.api_version().as_str());
    if same {
        Arc::clone(stored)
    } else {
        Arc::new(view(rt, stored))
    }
}

pub(super) fn storage_form(rt: &ResourceType, obj: Value) -> Value {
    if rt.is_events_v1() {
        events::from_events_v1(&obj)
    } else {
        obj
    }
}

/// How a write is checked. A client's request (the HTTP API) is validated as the real
/// server validates it; in-process writes (controllers, tests, `--manifests`) are trusted
/// to hold what they mean, drop unknown fields silently and skip the object validation of
/// `validate.rs`, so that a test may store a deliberately partial object.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checks {
    fields: FieldValidation,
    objects: bool,
}

impl Checks {
    const IN_PROCESS: Self = Self {
        fields: FieldValidation::Ignore,
        objects: false,
    };

    fn client(fields: FieldValidation) -> Self {
        Self {
            fields,
            objects: true,
        }
    }
}

impl Store {
    pub fn new(options: StoreOptions) -> Self {
        let (changes, _) = broadcast::channel(65_536);
        let inner = Inner {
            registry: Registry::default(),
            version: 1,
            objects: HashMap::new(),
            per_namespace: HashMap::new(),
            history: History::new(options.history.max(1)),
        };
        Self {
            inner: Arc::new(RwLock::new(inner)),
            changes,
            hooks: Arc::default(),
        }
    }

    // A panic while holding the lock leaves plain data behind; keep serving it.
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The resource types served now (built-in kinds and those of created CRDs).
    pub fn registry(&self) -> Registry {
        self.read().registry.clone()
    }

    /// The latest resource version.
    pub fn resource_version(&self) -> u64 {
        self.read().version
    }

    /// Adds a hook that sees every create and update before it is stored.
    pub fn add_admission(&self, hook: Arc<dyn Admission>) {
        self.hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hook);
    }

    /// Every committed change from now on, for controllers. A receiver that falls more than
    /// 65,536 changes behind gets `Lagged` and should read the current state again.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Forgets the watch history up to now: watches from older versions get `Expired`.
    pub fn compact(&self) {
        let mut inner = self.write();
        let v = inner.version;
        inner.history.compact(v);
    }

    pub(super) fn admit(
        &self,
        op: Operation,
        rt: &ResourceType,
        obj: &mut Value,
    ) -> Result<(), StoreError> {
        let hooks = self
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for hook in hooks {
            hook.admit(op, rt, obj)
                .map_err(|message| StoreError::Denied {
                    resource: rt.qualified(),
                    name: meta_str(obj, "name").unwrap_or_default().into(),
                    message,
                })?;
        }
        Ok(())
    }

    pub(super) fn not_found(rt: &ResourceType, name: &str) -> StoreError {
        StoreError::NotFound {
            resource: rt.qualified(),
            name: name.into(),
        }
    }

    /// Reads one object.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such object.
    pub fn get(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, StoreError> {
        let inner = self.read();
        let key = (scope(rt, ns), name.to_string());
        let obj = inner.objects.get(&rt.storage).and_then(|m| m.get(&key));
        obj.map(|o| view(rt, o))
            .ok_or_else(|| Self::not_found(rt, name))
    }

    /// Creates an object; with `dry_run` it is checked and answered but not stored.
    ///
    /// # Errors
    ///
    /// `BadRequest` for a body that does not fit the URL, `Invalid` for a bad name,
    /// `NamespaceNotFound`, `AlreadyExists`, or `Denied` by an admission hook.
    pub fn create(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        obj: Value,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        self.create_checked(rt, ns, obj, dry_run, Checks::IN_PROCESS)
            .map(|(created, _)| created)
    }

    /// Like [`Store::create`], with the request's `fieldValidation`; also returns the
    /// warnings for dropped unknown fields.
    ///
    /// # Errors
    ///
    /// As [`Store::create`], and `BadRequest` for an object its type cannot decode or, with
    /// `Strict`, an unknown field.
    pub fn create_validated(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        obj: Value,
        dry_run: bool,
        validation: FieldValidation,
    ) -> Result<(Value, Vec<String>), StoreError> {
        self.create_checked(rt, ns, obj, dry_run, Checks::client(validation))
    }

    pub(super) fn create_checked(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
        checks: Checks,
    ) -> Result<(Value, Vec<String>), StoreError> {
        meta::check_body(rt, ns, &obj)?;
        meta::strip_nulls(&mut obj);
        let warnings = schema::check(rt, &mut obj, checks.fields)?;
        let mut obj = storage_form(rt, obj);
        meta::strip_nulls(&mut obj);
        let ns = if rt.namespaced {
            ns.or(meta_str(&obj, "namespace")).map(String::from)
        } else {
            None
        };
        meta::fill_on_create(rt, ns.as_deref(), &mut obj);
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(meta::invalid(
                rt,
                &obj,
                "metadata.name",
                "name or generateName is required",
            ));
        }
        meta::check_name(rt, &obj, &name)?;
        if checks.objects {
            validate::check(rt, &obj)?;
        }
        defaults::crd_status(rt, &mut obj);
        self.admit(Operation::Create, rt, &mut obj)?;

        let mut inner = self.write();
        if let Some(ns) = &ns
            && !inner.has_namespace(ns)
        {
            return Err(StoreError::NamespaceNotFound {
                namespace: ns.clone(),
            });
        }
        let key = (ns.clone().unwrap_or_default(), name.clone());
        if inner
            .objects
            .get(&rt.storage)
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(StoreError::AlreadyExists {
                resource: rt.qualified(),
                name,
            });
        }
        if dry_run {
            return Ok((view(rt, &obj), warnings));
        }
        let obj = inner.commit(rt, key, obj, ChangeType::Added, None, &self.changes);
        if rt.group == "apiextensions.k8s.io" {
            inner.registry.add_crd(&obj);
        }
        if rt.group.is_empty() && rt.kind == "Namespace" {
            inner.fill_namespace(&name, &self.changes);
        }
        Ok((view(rt, &obj), warnings))
    }

    /// Deletes an object, the objects it owns (`ownerReferences`), and with a namespace
    /// everything in it.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such object.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        self.delete_if(rt, ns, name, &Preconditions::default(), dry_run)
    }

    /// Deletes an object as [`Store::delete`] does, if it still has the given uid and
    /// resource version.
    ///
    /// # Errors
    ///
    /// `NotFound`, or `Conflict` when a precondition does not hold.
    pub fn delete_if(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        self.delete_with_policy(rt, ns, name, pre, false, dry_run)
    }

    /// Deletes an object as [`Store::delete_if`] does; with `orphan`, what it owns stays and
    /// loses its owner reference (`propagationPolicy: Orphan`, `kubectl --cascade=orphan`).
    ///
    /// # Errors
    ///
    /// As [`Store::delete_if`].
    pub fn delete_with_policy(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        pre: &Preconditions,
        orphan: bool,
        dry_run: bool,
    ) -> Result<Value, StoreError> {
        // The real server's namespace lifecycle admission keeps these, whoever asks.
        if rt.storage.group.is_empty()
            && rt.plural == "namespaces"
            && matches!(name, "default" | "kube-system" | "kube-public")
        {
            return Err(StoreError::Forbidden {
                resource: rt.qualified(),
                name: name.into(),
                message: "this namespace may not be deleted".into(),
            });
        }
        let key = (scope(rt, ns), name.to_string());
        let mut inner = self.write();
        let Some(old) = inner
            .objects
            .get(&rt.storage)
            .and_then(|m| m.get(&key).cloned())
        else {
            return Err(Self::not_found(rt, name));
        };
        for (field, want) in [
            ("uid", &pre.uid),
            ("resourceVersion", &pre.resource_version),
        ] {
            if let Some(want) = want
                && meta_str(&old, field) != Some(want.as_str())
            {
                return Err(StoreError::Conflict {
                    resource: rt.qualified(),
                    name: name.into(),
                });
            }
        }
        if dry_run {
            return Ok(view(rt, &old));
        }
        if rt.group.is_empty() && rt.plural == "namespaces" {
            inner.delete_namespace_contents(name, &self.changes);
        }
        // The real server removes a CRD's objects before the CRD, then stops serving them.
        if rt.group == "apiextensions.k8s.io" {
            inner.delete_custom_resources(&old, &self.changes);
            inner.registry.remove_crd(&old);
        }
        let gone = inner.remove(rt, key, &self.changes);
        // Only workloads own objects here; skipping the scan keeps mass pod deletes linear.
        if matches!(rt.group.as_str(), "apps" | "batch") {
            if orphan {
                inner.orphan_dependents(&gone, &self.changes);
            } else {
                inner.delete_dependents(&gone, &self.changes);
            }
        }
        Ok(view(rt, &gone))
    }

    /// Starts a watch after `from` (a list's version), or with `None` from the current
    /// state, which is first delivered as `Added` events.
    ///
    /// # Errors
    ///
    /// `Expired` when `from` is older than the history kept.
    pub fn watch(&self, filter: WatchFilter, from: Option<u64>) -> Result<Watch, StoreError> {
        let inner = self.read();
        // Subscribing under the lock means no change falls between replay and live events.
        let live = self.changes.subscribe();
        match from {
            Some(v) if v < inner.history.compacted() => Err(StoreError::Expired {
                requested: v,
                oldest: inner.history.compacted(),
            }),
            Some(v) => {
                let replay = inner.history.since(v).cloned().collect();
                Ok(Watch::new(filter, Vec::new(), replay, live, v))
            }
            None => {
                let initial = inner
                    .scan(&filter.resource, filter.namespace.as_deref())
                    .filter(|o| filter.labels.matches(o))
                    .map(|o| view_shared(&filter.resource, o))
                    .filter(|o| filter.fields.is_empty() || filter.fields.matches(o))
                    .map(WatchEvent::Added)
                    .collect();
                Ok(Watch::new(filter, initial, Vec::new(), live, inner.version))
            }
        }
    }
}

pub(super) fn scope(rt: &ResourceType, ns: Option<&str>) -> String {
    if rt.namespaced {
        ns.unwrap_or_default().to_string()
    } else {
        String::new()
    }
}

pub(super) fn patch_pins_version(patch: &Patch) -> bool {
    match patch {
        Patch::Merge(p) | Patch::Strategic(p) | Patch::Apply { body: p, .. } => {
            meta_str(p, "resourceVersion").is_some()
        }
        // A JSON patch pins a version with a `test` op, which it checks itself.
        Patch::Json(_) => false,
    }
}

#[cfg(test)]
mod tests;
