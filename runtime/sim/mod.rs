//! The simulated Kubernetes API server (DESIGN §6).
//!
//! | module   | what lives there                                                      |
//! |----------|-----------------------------------------------------------------------|
//! | `kinds`  | the resource types served and discovery data                          |
//! | `store`  | the in-memory objects, versions, watches, patches, admission hooks    |
//! | `http`   | routing, content types, protobuf bodies, `Status` answers             |
//! | `faults` | injected errors, latency, cut watches, request counters               |
//! | `server` | `SimServer::start`: TLS, token, kubeconfig                            |
//! | `load`   | loading multi-document YAML manifests                                 |
//! | `cli`    | `runner sim serve`                                                    |
//! | `scenarios` | built-in clusters per Linkerd layout with meshed applications     |
//! | `mesh`   | Linkerd inside: injector, identity controller, mTLS, failure record    |
//! | `cluster`| controllers, kubelet, Linkerd's behaviour: what makes it a cluster     |

pub mod cli;
pub mod cluster;
pub mod faults;
pub mod http;
pub mod kinds;
pub mod load;
pub mod mesh;
pub mod scenarios;
pub mod server;
pub mod store;

pub use faults::{FaultConfig, Faults, RequestCounts};
pub use server::{SimHandle, SimOptions, SimServer};
pub use store::Store;

/// Errors of the simulated cluster.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("binding the simulated API server to {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("generating the simulated cluster's TLS certificates")]
    Certificates {
        #[source]
        source: rcgen::Error,
    },
    #[error("loading the simulated cluster's TLS configuration")]
    Tls {
        #[source]
        source: std::io::Error,
    },
    #[error("writing the kubeconfig {path}")]
    WriteKubeconfig {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading manifest {path}")]
    ReadManifest {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing manifest {path}: {message}")]
    ParseManifest {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("loading {kind} {name} from manifest {path}: {message}")]
    LoadObject {
        path: std::path::PathBuf,
        kind: String,
        name: String,
        message: String,
    },
    #[error("creating the system namespaces")]
    SystemNamespaces {
        #[source]
        source: store::StoreError,
    },
    #[error("starting the async runtime of the simulated cluster")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("starting the simulated controllers")]
    Cluster {
        #[source]
        source: cluster::ClusterError,
    },
    #[error("loading the scenario")]
    Scenario {
        #[source]
        source: scenarios::ScenarioError,
    },
    #[error("serving the simulated API server")]
    Serve {
        #[source]
        source: std::io::Error,
    },
}
