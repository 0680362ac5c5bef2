//! The top-level error of a `runner` command and its exit code.

use crate::engine::RunError;
use crate::sim::SimError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Cluster(Box<crate::cluster::ClusterError>),
    /// `runner check` against a cluster that cannot be read.
    #[error("runner check")]
    Identity(#[source] Box<crate::identity::IdentityError>),
    /// A command that needs a cluster found none.
    #[error("no cluster: pass --kubeconfig, --context or --sim (or set KUBECONFIG)")]
    NoCluster,
    /// An option or command whose part of the runner is not built yet.
    #[error("{what} is not available yet")]
    NotAvailable { what: String },
    #[error("starting the async runtime")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("the run stopped unexpectedly")]
    Panicked {
        #[source]
        source: tokio::task::JoinError,
    },
}

impl From<crate::cluster::ClusterError> for Error {
    fn from(error: crate::cluster::ClusterError) -> Self {
        Self::Cluster(Box::new(error))
    }
}

impl Error {
    /// The exit status (DESIGN §3): 0 success, 1 a step or check failed, 2 usage or runbook
    /// error.
    pub fn code(&self) -> u8 {
        match self {
            Self::Run(error) => error.code(),
            // A manifest named on the command line that cannot be read is a usage error.
            Self::Sim(
                SimError::ReadManifest { .. }
                | SimError::ParseManifest { .. }
                | SimError::LoadObject { .. },
            ) => 2,
            Self::Sim(_) | Self::Panicked { .. } | Self::Identity(_) => 1,
            // The run could not reach its cluster, so it did not start.
            Self::NotAvailable { .. }
            | Self::Runtime { .. }
            | Self::Cluster(_)
            | Self::NoCluster => 2,
        }
    }

    /// The message and its chain of causes, `a: b: c`, as printed for the operator. A runbook
    /// may `throw` anything, so the text passes through the same redaction as the output.
    pub fn chain(&self) -> String {
        crate::output::redact_private_keys(&crate::pki::chain_text(self))
    }
}
