//! The objects of one kind in one namespace, kept current by one watch: what a wait over many
//! objects reads instead of polling each of them.
//!
//! kube-runtime's watcher does the hard parts: a list first, a watch from the list's version,
//! a re-list when the server answers 410 (the version left its history), and a new watch
//! (with backoff) when a connection is cut or the server fails. This type only keeps the
//! snapshot and hands it over after each change.

use std::collections::BTreeMap;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};

use super::api::{Cluster, api};
use super::kinds::Kind;

/// A live snapshot of a collection, by object name.
pub struct CollectionWatch {
    kind: String,
    namespace: String,
    stream: BoxStream<'static, Result<Event<DynamicObject>, watcher::Error>>,
    objects: BTreeMap<String, DynamicObject>,
    /// Filled while a (re-)list runs, swapped in when it is complete.
    listing: Option<BTreeMap<String, DynamicObject>>,
    /// Whether a complete list has arrived; before it the snapshot means nothing.
    synced: bool,
}

impl CollectionWatch {
    /// Starts watching `kind` in `namespace`, optionally under a label selector.
    pub fn new(cluster: &Cluster, kind: &Kind, namespace: &str, selector: Option<&str>) -> Self {
        let mut config = watcher::Config::default();
        if let Some(selector) = selector.filter(|s| !s.is_empty()) {
            config = config.labels(selector);
        }
        let stream = watcher::watcher(api(cluster.client(), kind, Some(namespace)), config)
            .default_backoff()
            .boxed();
        Self {
            kind: kind.name().to_owned(),
            namespace: namespace.to_owned(),
            stream,
            objects: BTreeMap::new(),
            listing: None,
            synced: false,
        }
    }

    /// Waits for the next change to a listed collection and returns the snapshot after it.
    /// Watch failures are logged and retried inside; this only returns with a snapshot.
    pub async fn changed(&mut self) -> &BTreeMap<String, DynamicObject> {
        loop {
            let Some(event) = self.stream.next().await else {
                // The watcher's stream does not end; if it ever did, wait for the caller's
                // deadline rather than report a state that is no longer watched.
                std::future::pending::<()>().await;
                continue;
            };
            match event {
                Ok(Event::Init) => self.listing = Some(BTreeMap::new()),
                Ok(Event::InitApply(object)) => {
                    let name = object.metadata.name.clone().unwrap_or_default();
                    self.listing.get_or_insert_default().insert(name, object);
                }
                Ok(Event::InitDone) => {
                    self.objects = self.listing.take().unwrap_or_default();
                    self.synced = true;
                    return &self.objects;
                }
                Ok(Event::Apply(object)) => {
                    let name = object.metadata.name.clone().unwrap_or_default();
                    self.objects.insert(name, object);
                    if self.synced {
                        return &self.objects;
                    }
                }
                Ok(Event::Delete(object)) => {
                    let name = object.metadata.name.clone().unwrap_or_default();
                    self.objects.remove(&name);
                    if self.synced {
                        return &self.objects;
                    }
                }
                Err(error) => tracing::debug!(
                    kind = %self.kind,
                    namespace = %self.namespace,
                    %error,
                    "collection watch failed; re-establishing"
                ),
            }
        }
    }
}
