//! The errors of the identity primitives on a cluster.

use crate::cluster::ClusterError;
use crate::linkerd::LinkerdError;

/// Why reading, checking or upgrading a control plane on a cluster failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A request to the cluster failed (it names the object and the verb).
    #[error(transparent)]
    Cluster(Box<ClusterError>),

    /// Linkerd's rules refused the objects or the change (it names the object and why).
    #[error(transparent)]
    Linkerd(Box<LinkerdError>),

    /// A namespace the caller named is not in the cluster.
    #[error("namespace {namespace} does not exist")]
    NoNamespace { namespace: String },

    /// A page of a list could not be read as a list of objects.
    #[error("listing {resource}: the answer is not a list of objects: {problem}")]
    BadList { resource: String, problem: String },
}

// Boxed: both are large, and every `Result` of this module would carry their size.
impl From<ClusterError> for IdentityError {
    fn from(error: ClusterError) -> Self {
        Self::Cluster(Box::new(error))
    }
}

impl From<LinkerdError> for IdentityError {
    fn from(error: LinkerdError) -> Self {
        Self::Linkerd(Box::new(error))
    }
}
