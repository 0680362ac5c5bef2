//! The errors of cluster access. Each names the object and what was being done to it.

use std::path::PathBuf;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `--kubeconfig` or `KUBECONFIG` named a file that is not there.
    #[error("kubeconfig {path} does not exist")]
    KubeconfigMissing { path: PathBuf },
    #[error("reading kubeconfig {path}")]
    KubeconfigRead {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error(
        "context `{context}` is not in kubeconfig {path}: its contexts are {}",
        list_or_none(known)
    )]
    UnknownContext {
        context: String,
        path: PathBuf,
        known: Vec<String>,
    },
    #[error(
        "no cluster to talk to: no --kubeconfig, no KUBECONFIG, no ~/.kube/config, and not \
         running inside a cluster"
    )]
    NoConfig {
        #[source]
        source: kube::config::InClusterError,
    },
    #[error("loading the cluster configuration of {target}")]
    Config {
        target: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("building the client of {target}")]
    Client {
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("unknown kind `{kind}`: the known kinds are {}", known.join(", "))]
    UnknownKind { kind: String, known: Vec<String> },
    #[error("{kind} is cluster-scoped: {action} it takes no namespace (got `{namespace}`)")]
    ClusterScoped {
        action: &'static str,
        kind: String,
        namespace: String,
    },
    /// The API server answered with an error `Status`.
    #[error("{action} {object}: {code} {reason}: {message}{}", attempts_note(*attempts))]
    Api {
        action: &'static str,
        object: String,
        code: u16,
        reason: String,
        message: String,
        attempts: u32,
    },
    /// RBAC refused the request: names what the service account is missing.
    #[error(
        "{action} {object}: 403 Forbidden: not allowed to {verb} {resource} in {}: {message}",
        scope(namespace.as_deref())
    )]
    Forbidden {
        action: &'static str,
        object: String,
        verb: &'static str,
        resource: String,
        namespace: Option<String>,
        /// The server's words, which name the user or service account refused.
        message: Box<str>,
    },
    /// The request did not get an answer (connection refused or dropped, TLS, timeout).
    #[error("{action} {object}{}", attempts_note(*attempts))]
    Transport {
        action: &'static str,
        object: String,
        attempts: u32,
        #[source]
        source: kube::Error,
    },
    /// Every re-read and re-applied write met a newer version.
    #[error("{action} {object}: 409 Conflict: still conflicting after {attempts} attempts")]
    Conflict {
        action: &'static str,
        object: String,
        attempts: u32,
    },
    #[error(
        "unknown simulated cluster scenario `{scenario}`: the scenarios are {}, or a manifest \
         file (.yaml, .yml, .json) to load",
        known.join(", ")
    )]
    UnknownScenario {
        scenario: String,
        known: Vec<String>,
    },
    #[error("starting the simulated cluster")]
    Sim {
        #[source]
        source: crate::sim::SimError,
    },
    /// No `--kubeconfig`, `--context` or `--sim`: a runbook called a cluster primitive.
    #[error("{function} needs a cluster: run with --kubeconfig/--context, KUBECONFIG, or --sim")]
    NoCluster { function: String },
    #[error("waiting for {object}: {what} did not happen within {timeout:?}")]
    Timeout {
        object: String,
        what: String,
        timeout: std::time::Duration,
    },
    /// The caller's function could not compute the change from the current object.
    #[error("computing the change to {object}: {message}")]
    Change { object: String, message: String },
}

impl ClusterError {
    /// The HTTP status the API server answered, when it answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Self::Api { code, .. } => Some(*code),
            Self::Forbidden { .. } => Some(403),
            Self::Conflict { .. } => Some(409),
            _ => None,
        }
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (gave up after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn scope(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("namespace {ns}"),
        None => "the cluster scope".to_owned(),
    }
}
