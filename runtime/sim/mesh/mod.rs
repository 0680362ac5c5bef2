//! Linkerd inside the simulated cluster (LINKERD.md §1.F, §4): the proxy injector, the
//! identity controller, the mTLS model between proxies and the record of failed connections.
//! They read the control plane's objects as stored, whichever layout they have, so that a
//! built-in scenario and a loaded `linkerd install` output behave the same.
//!
//! | file          | concern                                                              |
//! |---------------|----------------------------------------------------------------------|
//! | `control.rs`  | the control-plane objects and where each process reads in each layout |
//! | `mounts.rs`   | files projected from objects, with the kubelet's refresh delay      |
//! | `injector.rs` | the proxy injector (an admission hook)                              |
//! | `events.rs`   | event recording with client-go's correlation and rate limit         |
//! | `identity.rs` | identity replicas: anchors at start, issuer reloads, leaf issuance  |
//! | `mtls.rs`     | proxies, handshakes, the traffic sampler                            |
//! | `record.rs`   | [`FailureRecord`] and its HTTP endpoint                             |

mod control;
mod events;
mod identity;
mod injector;
mod mounts;
mod mtls;
mod record;

use std::sync::Arc;
use std::time::Duration;

pub use identity::{Identity, LEAF_LIFETIME, Leaf};
pub use injector::INJECT_ANNOTATION;
pub use mtls::{Mesh, Proxy};
pub use record::{Failure, FailureRecord, routes};

use crate::sim::Store;
use crate::sim::cluster::kubelet_hooks::Kubelet;
use crate::sim::cluster::{Kinds, SimClock};

/// The running Linkerd model of a cluster.
#[derive(Clone)]
pub struct Linkerd {
    pub record: FailureRecord,
    pub mesh: Arc<Mesh>,
    pub identity: Arc<Identity>,
}

impl std::fmt::Debug for Linkerd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linkerd")
            .field("failed", &self.record.failed())
            .finish_non_exhaustive()
    }
}

/// Starts the injector, the identity controller and the traffic sampler; returns them with
/// the tasks to abort when the cluster stops.
pub(crate) fn start(
    store: &Store,
    kinds: &Kinds,
    clock: &SimClock,
    kubelet: &Kubelet,
    refresh: Duration,
) -> (Linkerd, Vec<tokio::task::JoinHandle<()>>) {
    let mut tasks = Vec::new();
    let (files, task) = mounts::mount(
        store,
        clock,
        refresh,
        injector::InjectorFiles {
            kinds: kinds.clone(),
        },
    );
    tasks.push(task);
    store.add_admission(Arc::new(injector::Injector {
        store: store.clone(),
        kinds: kinds.clone(),
        files,
    }));
    let (issuer, task) = mounts::mount(
        store,
        clock,
        refresh,
        identity::IssuerSecret {
            kinds: kinds.clone(),
        },
    );
    tasks.push(task);
    let identity = Arc::new(Identity::new(
        store.clone(),
        kinds.clone(),
        clock.clone(),
        issuer,
    ));
    tasks.push(tokio::spawn(Arc::clone(&identity).watch()));
    let record = FailureRecord::default();
    let mesh = Arc::new(Mesh::new(
        store.clone(),
        kinds.clone(),
        clock.clone(),
        Arc::clone(&identity),
        record.clone(),
    ));
    tasks.push(tokio::spawn(Arc::clone(&mesh).run()));
    // The identity replicas must be loaded before their own proxies ask them for a leaf.
    kubelet.add_hooks(identity.clone());
    kubelet.add_hooks(mesh.clone());
    (
        Linkerd {
            record,
            mesh,
            identity,
        },
        tasks,
    )
}
