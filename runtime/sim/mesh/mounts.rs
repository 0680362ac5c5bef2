//! Files the kubelet projects from ConfigMaps and Secrets into running pods. A change reaches
//! the file only after the kubelet's refresh delay (sync period plus cache TTL; LINKERD.md
//! §1.F, §4.2): always the whole delay, the worst case, so that a runbook that does not
//! wait long enough is caught. A rewrite with the same content changes nothing, so readers
//! see no event.
//! A newly created object is visible at once: a pod that mounts it later starts with it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::sim::Store;
use crate::sim::cluster::SimClock;
use crate::sim::store::{Change, ChangeType};

/// What a mount projects: which changes concern it and how to read the content.
pub trait Projection: Send + Sync + 'static {
    type Content: PartialEq + Clone + Send + Sync + 'static;
    fn concerns(&self, change: &Change) -> bool;
    fn read(&self, store: &Store) -> Self::Content;
}

/// Starts a mount; the receiver sees the projected content and its changes.
pub fn mount<P: Projection>(
    store: &Store,
    clock: &SimClock,
    refresh: Duration,
    projection: P,
) -> (watch::Receiver<P::Content>, tokio::task::JoinHandle<()>) {
    let projection = Arc::new(projection);
    let (tx, rx) = watch::channel(projection.read(store));
    let tx = Arc::new(tx);
    let mut changes = store.subscribe();
    let (store, clock) = (store.clone(), clock.clone());
    let task = tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    publish(&tx, projection.read(&store));
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if !projection.concerns(&change) {
                continue;
            }
            if change.kind == ChangeType::Added {
                publish(&tx, projection.read(&store));
                continue;
            }
            // What the object holds now reaches the files one refresh later, whatever
            // changes in between: the pessimistic end of the kubelet's delay.
            let content = projection.read(&store);
            let (tx, clock) = (Arc::clone(&tx), clock.clone());
            tokio::spawn(async move {
                clock.sleep(refresh).await;
                publish(&tx, content);
            });
        }
    });
    (rx, task)
}

fn publish<T: PartialEq>(tx: &watch::Sender<T>, content: T) {
    tx.send_if_modified(|current| {
        if *current == content {
            false
        } else {
            *current = content;
            true
        }
    });
}
