//! The errors of Linkerd layout detection, anchor reading and upgrade planning.

use crate::pki::PkiError;

/// What is wrong with the control-plane objects, or why a change is refused.
///
/// `object` fields name a Kubernetes object as `kind namespace/name`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkerdError {
    /// A control-plane object that the layout needs is absent.
    #[error("{object} is missing: {why}")]
    MissingObject { object: String, why: String },

    /// An object exists but lacks a field or holds something unreadable there.
    #[error("{object} field {field}: {problem}")]
    BadField {
        object: String,
        field: String,
        problem: String,
    },

    /// The objects describe two layouts at once.
    #[error("contradictory control plane: {what}")]
    Contradiction { what: String },

    /// Certificates or a key in an object that cannot be read.
    // The source (a PKI error) names the object and field it read; saying them again here
    // would print the place three times.
    #[error("unreadable certificates or key")]
    Certificates {
        object: String,
        field: String,
        #[source]
        source: PkiError,
    },

    /// A change refused before any write, with the reason and what to do instead.
    #[error("refusing to {action}: {reason}")]
    Refused { action: String, reason: String },

    /// A computed patch did not apply to the object it was made for.
    #[error("patch for {object} does not apply: {reason}")]
    Patch { object: String, reason: String },
}

impl LinkerdError {
    pub(crate) fn refused(action: &str, reason: impl Into<String>) -> Self {
        Self::Refused {
            action: action.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_field(object: &str, field: &str, problem: impl Into<String>) -> Self {
        Self::BadField {
            object: object.to_owned(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}
