//! `--sim[=SCENARIO]`: the built-in simulated cluster, started in-process and reached through
//! the same kubeconfig, client and HTTPS as a real cluster, so that a rehearsal exercises the
//! code a real run uses.

use std::path::{Path, PathBuf};

use crate::sim::{SimHandle, SimOptions, SimServer};

use super::api::Cluster;
use super::client::{self, ClientArgs};
use super::error::ClusterError;

/// The scenarios the simulated cluster can start with. `empty` holds only the system
/// namespaces; Linkerd scenarios come with the sim's controllers.
pub const SCENARIOS: &[&str] = &["empty"];

/// What `--sim` alone means.
pub const DEFAULT_SCENARIO: &str = "empty";

/// A running simulated cluster and a client for it. The server stops when this is dropped,
/// so keep it for as long as the run.
#[derive(Debug)]
pub struct SimCluster {
    pub sim: SimHandle,
    pub cluster: Cluster,
}

/// What the simulated cluster starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// A built-in scenario.
    Named(&'static str),
    /// A multi-document YAML file of objects (`kubectl get -o yaml` of a real cluster, a
    /// `linkerd install` output), loaded into an empty cluster.
    Manifest(PathBuf),
}

impl Scenario {
    /// `sim:NAME`, or `sim:FILE` for a manifest.
    pub fn target(&self) -> String {
        match self {
            Self::Named(name) => format!("sim:{name}"),
            Self::Manifest(path) => format!("sim:{}", path.display()),
        }
    }
}

/// Reads `--sim=VALUE`: a scenario name (`default` is the default one), or the path of a
/// manifest file.
///
/// # Errors
///
/// A value that is neither, with the list of scenarios.
pub fn scenario(value: &str) -> Result<Scenario, ClusterError> {
    let name = if value == "default" {
        DEFAULT_SCENARIO
    } else {
        value
    };
    if let Some(known) = SCENARIOS.iter().find(|known| **known == name) {
        return Ok(Scenario::Named(known));
    }
    let path = Path::new(value);
    let manifest = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    );
    if manifest && path.is_file() {
        return Ok(Scenario::Manifest(path.to_owned()));
    }
    Err(ClusterError::UnknownScenario {
        scenario: value.to_owned(),
        known: SCENARIOS.iter().map(|s| (*s).to_owned()).collect(),
    })
}

/// Starts the simulated cluster with `scenario` and connects to it through its kubeconfig.
/// The journal target is `sim:SCENARIO`: the port changes from run to run, the cluster's
/// content does not.
///
/// # Errors
///
/// An unknown scenario, a server that cannot start, or a client that cannot connect.
pub async fn start_sim(value: &str) -> Result<SimCluster, ClusterError> {
    let scenario = scenario(value)?;
    let manifests = match &scenario {
        Scenario::Named(_) => Vec::new(),
        Scenario::Manifest(path) => vec![path.clone()],
    };
    let options = SimOptions {
        manifests,
        ..SimOptions::default()
    };
    let sim = SimServer::start(options)
        .await
        .map_err(|source| ClusterError::Sim { source })?;
    let args = ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    let connected = client::connect(&args).await?;
    tracing::debug!(url = sim.url(), ?scenario, "simulated cluster started");
    let cluster = Cluster::new(connected.client, scenario.target());
    Ok(SimCluster { sim, cluster })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_scenario_lists_the_known_ones() {
        assert_eq!(scenario("default").unwrap(), Scenario::Named("empty"));
        let error = scenario("linkerd-2.99").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown simulated cluster scenario `linkerd-2.99`: the scenarios are empty, \
             or a manifest file (.yaml, .yml, .json) to load"
        );
    }
}
