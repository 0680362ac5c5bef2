//! The simulated Kubernetes API server (DESIGN §6).

pub mod cli;

/// Errors of the simulated cluster.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A feature of the simulated cluster that is not built yet.
    #[error("{0} is not available yet")]
    NotAvailable(&'static str),
}
