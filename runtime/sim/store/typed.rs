//! Typed access to the store with `k8s-openapi` types, for simulated controllers and tests.

use std::sync::Arc;

use k8s_openapi::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Patch, Store, StoreError};
use crate::sim::kinds::ResourceType;

impl Store {
    /// The registered resource of a `k8s-openapi` type.
    ///
    /// # Errors
    ///
    /// `BadRequest` when the sim does not serve the type.
    pub fn resource_of<K: Resource>(&self) -> Result<Arc<ResourceType>, StoreError> {
        self.registry()
            .lookup(K::GROUP, K::VERSION, K::URL_PATH_SEGMENT)
            .ok_or_else(|| StoreError::BadRequest {
                message: format!(
                    "the server could not find the requested resource {}",
                    K::KIND
                ),
            })
    }

    /// Reads one typed object.
    ///
    /// # Errors
    ///
    /// As [`Store::get`], and `BadRequest` when the stored object does not fit the type.
    pub fn get_typed<K: Resource + DeserializeOwned>(
        &self,
        ns: Option<&str>,
        name: &str,
    ) -> Result<K, StoreError> {
        let rt = self.resource_of::<K>()?;
        from_value(self.get(&rt, ns, name)?)
    }

    /// Lists every typed object of a namespace (all with `None`).
    ///
    /// # Errors
    ///
    /// `BadRequest` when a stored object does not fit the type.
    pub fn list_typed<K: Resource + DeserializeOwned>(
        &self,
        ns: Option<&str>,
    ) -> Result<Vec<K>, StoreError> {
        let rt = self.resource_of::<K>()?;
        let page = self.list(&rt, ns, &super::ListOptions::default())?;
        page.items
            .iter()
            .map(|i| {
                K::deserialize(i.as_ref()).map_err(|e| StoreError::BadRequest {
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Creates a typed object in its own namespace.
    ///
    /// # Errors
    ///
    /// As [`Store::create`].
    pub fn create_typed<K: Resource + Serialize + DeserializeOwned>(
        &self,
        obj: &K,
    ) -> Result<K, StoreError> {
        let rt = self.resource_of::<K>()?;
        let value = to_value(obj)?;
        let ns = super::meta::meta_str(&value, "namespace").map(String::from);
        from_value(self.create(&rt, ns.as_deref(), value, false)?)
    }

    /// Replaces a typed object (optimistic when it carries a `resourceVersion`).
    ///
    /// # Errors
    ///
    /// As [`Store::update`].
    pub fn update_typed<K: Resource + Serialize + DeserializeOwned>(
        &self,
        obj: &K,
        status: bool,
    ) -> Result<K, StoreError> {
        let rt = self.resource_of::<K>()?;
        let value = to_value(obj)?;
        let ns = super::meta::meta_str(&value, "namespace").map(String::from);
        let name = super::meta::meta_str(&value, "name")
            .unwrap_or_default()
            .to_string();
        from_value(self.update(&rt, ns.as_deref(), &name, value, status, false)?)
    }

    /// Patches a typed object.
    ///
    /// # Errors
    ///
    /// As [`Store::patch`].
    pub fn patch_typed<K: Resource + DeserializeOwned>(
        &self,
        ns: Option<&str>,
        name: &str,
        patch: &Patch,
        status: bool,
    ) -> Result<K, StoreError> {
        let rt = self.resource_of::<K>()?;
        from_value(self.patch(&rt, ns, name, patch, status, false)?)
    }

    /// Watches every object of a `k8s-openapi` type in a namespace (all with `None`), from
    /// `from` or, with `None`, from the current state; decode events with
    /// [`super::WatchEvent::decode`].
    ///
    /// # Errors
    ///
    /// As [`Store::watch`].
    pub fn watch_typed<K: Resource>(
        &self,
        ns: Option<&str>,
        from: Option<u64>,
    ) -> Result<super::Watch, StoreError> {
        let filter = super::WatchFilter {
            resource: self.resource_of::<K>()?,
            namespace: ns.map(String::from),
            labels: super::LabelSelector::default(),
            fields: super::FieldSelector::default(),
        };
        self.watch(filter, from)
    }
}

impl super::WatchEvent {
    /// The event's object as a `k8s-openapi` type.
    ///
    /// # Errors
    ///
    /// `BadRequest` when the object does not fit the type.
    pub fn decode<K: DeserializeOwned>(&self) -> Result<K, StoreError> {
        K::deserialize(self.object()).map_err(|e| StoreError::BadRequest {
            message: e.to_string(),
        })
    }
}

fn to_value<K: Serialize>(obj: &K) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(obj).map_err(|e| StoreError::BadRequest {
        message: e.to_string(),
    })
}

fn from_value<K: DeserializeOwned>(v: serde_json::Value) -> Result<K, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::BadRequest {
        message: e.to_string(),
    })
}
