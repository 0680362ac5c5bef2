//! `--sim[=SCENARIO]`: the built-in simulated cluster, started in-process and reached through
//! the same kubeconfig, client and HTTPS as a real cluster, so that a rehearsal exercises the
//! code a real run uses.

use std::path::{Path, PathBuf};

use crate::sim::cluster::ClusterOptions;
use crate::sim::{SimHandle, SimOptions, SimServer, scenarios};

use super::api::Cluster;
use super::client::{self, ClientArgs};
use super::error::ClusterError;

/// A cluster that holds only the system namespaces, for runbooks that create what they need.
pub const EMPTY_SCENARIO: &str = "empty";

/// What `--sim` alone means: the current Linkerd layout with meshed applications.
pub const DEFAULT_SCENARIO: &str = scenarios::DEFAULT;

/// The scenarios the simulated cluster can start with: one per Linkerd layout and install
/// kind (see [`scenarios::NAMES`]), and an empty cluster.
pub fn scenario_names() -> impl Iterator<Item = &'static str> {
    scenarios::NAMES.into_iter().chain([EMPTY_SCENARIO])
}

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
    if let Some(known) = scenario_names().find(|known| *known == name) {
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
        known: scenario_names().map(str::to_owned).collect(),
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
    // The controllers (rollouts, the proxy injector, the identity controller, the mTLS model)
    // run for every scenario, so that a loaded `linkerd install` output behaves like the
    // built-in layouts.
    let (manifests, named) = match &scenario {
        Scenario::Named(name) if *name == EMPTY_SCENARIO => (Vec::new(), None),
        Scenario::Named(name) => (Vec::new(), Some((*name).to_owned())),
        Scenario::Manifest(path) => (vec![path.clone()], None),
    };
    let options = SimOptions {
        manifests,
        scenario: named,
        cluster: Some(ClusterOptions::default()),
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
        assert_eq!(scenario("default").unwrap(), Scenario::Named("edge"));
        assert_eq!(scenario("empty").unwrap(), Scenario::Named("empty"));
        assert_eq!(
            scenario("stable-2.8").unwrap(),
            Scenario::Named("stable-2.8")
        );
        let error = scenario("linkerd-2.99").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown simulated cluster scenario `linkerd-2.99`: the scenarios are edge, \
             stable-2.8, stable-2.10, stable-2.11, stable-2.12, helm, external-issuer, \
             expiring-root, empty, or a manifest file (.yaml, .yml, .json) to load"
        );
    }
}
