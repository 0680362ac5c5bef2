//! Choosing the cluster and building its client, with kubectl's flags and precedence.
//!
//! The order follows kubert's `ClientArgs`: an explicit `--kubeconfig`, else the files named by
//! `KUBECONFIG`, else `~/.kube/config`; the in-cluster service account only when none of those
//! exists and no context was named. A kubeconfig the operator named and that is missing is an
//! error naming it: falling back to another cluster would act on the wrong one.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::ClusterError;

/// Which cluster to talk to, from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientArgs {
    /// `--kubeconfig PATH`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`.
    pub context: Option<String>,
}

/// A built client and the name of the cluster it reaches.
#[derive(Clone)]
pub struct Connected {
    pub client: kube::Client,
    /// `CONTEXT@SERVER`, or `in-cluster@SERVER`: keys the journal so that a journal from
    /// another cluster is not resumed against this one.
    pub target: String,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Where the kubeconfig comes from, in precedence order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Flag(PathBuf),
    Env(Vec<PathBuf>),
    Default(PathBuf),
    InCluster,
}

fn source(args: &ClientArgs) -> Source {
    if let Some(path) = &args.kubeconfig {
        return Source::Flag(path.clone());
    }
    let env: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !env.is_empty() {
        return Source::Env(env);
    }
    let default = std::env::home_dir().map(|home| home.join(".kube").join("config"));
    match default {
        Some(path) if path.exists() || args.context.is_some() => Source::Default(path),
        _ => Source::InCluster,
    }
}

fn read(paths: &[PathBuf]) -> Result<Kubeconfig, ClusterError> {
    let mut merged = Kubeconfig::default();
    for path in paths {
        if !path.exists() {
            return Err(ClusterError::KubeconfigMissing { path: path.clone() });
        }
        let read = Kubeconfig::read_from(path).and_then(|next| merged.clone().merge(next));
        merged = read.map_err(|source| ClusterError::KubeconfigRead {
            path: path.clone(),
            source,
        })?;
    }
    Ok(merged)
}

/// Connects to the cluster `args` names.
///
/// # Errors
///
/// A named kubeconfig that does not exist or does not parse, a context it does not hold
/// (the error lists those it holds), no configuration at all, or a client kube refuses.
pub async fn connect(args: &ClientArgs) -> Result<Connected, ClusterError> {
    let paths = match source(args) {
        Source::Flag(path) | Source::Default(path) => vec![path],
        Source::Env(paths) => paths,
        Source::InCluster => return in_cluster(),
    };
    let kubeconfig = read(&paths)?;
    let shown = display_paths(&paths);
    from_kubeconfig(kubeconfig, args.context.as_deref(), &shown).await
}

/// Builds a client from a parsed kubeconfig; `path` only names it in errors.
///
/// # Errors
///
/// See [`connect`].
pub async fn from_kubeconfig(
    kubeconfig: Kubeconfig,
    context: Option<&str>,
    path: &Path,
) -> Result<Connected, ClusterError> {
    let known: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    let chosen = context
        .map(str::to_owned)
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    if !known.contains(&chosen) {
        return Err(ClusterError::UnknownContext {
            context: chosen,
            path: path.to_owned(),
            known,
        });
    }
    let options = KubeConfigOptions {
        context: Some(chosen.clone()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| ClusterError::Config {
            target: format!("context {chosen} in {}", path.display()),
            source,
        })?;
    let target = format!("{chosen}@{}", config.cluster_url);
    build(config, target)
}

fn in_cluster() -> Result<Connected, ClusterError> {
    let config = kube::Config::incluster().map_err(|source| ClusterError::NoConfig { source })?;
    let target = format!("in-cluster@{}", config.cluster_url);
    build(config, target)
}

/// Builds the client of `config` the way every cluster, simulated or real, is reached: with
/// one retry loop, ours ([`super::retry`]), which is bounded in attempts and in time and logs
/// each retry. kube's own retry layer is off: nested inside ours it would multiply the
/// attempts (up to 16 per attempt of ours) and wait minutes outside our time budget.
///
/// # Errors
///
/// [`ClusterError::Client`] when kube refuses the configuration (TLS, proxy, headers).
pub fn build(mut config: kube::Config, target: String) -> Result<Connected, ClusterError> {
    // kube and rcgen both use ring; install it once so rustls never has to guess.
    let _ = rustls::crypto::ring::default_provider().install_default();
    config.default_retry = false;
    match kube::client::ClientBuilder::try_from(config) {
        Ok(builder) => {
            let client = builder
                .with_layer(&tower::util::AndThenLayer::new(
                    super::retry_after::carry_retry_after,
                ))
                .build();
            Ok(Connected { client, target })
        }
        Err(source) => Err(ClusterError::Client { target, source }),
    }
}

fn display_paths(paths: &[PathBuf]) -> PathBuf {
    std::env::join_paths(paths)
        .map(PathBuf::from)
        .unwrap_or_else(|_| paths.first().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_kubeconfig_wins_over_everything() {
        let args = ClientArgs {
            kubeconfig: Some("/x/kc".into()),
            context: None,
        };
        assert_eq!(source(&args), Source::Flag("/x/kc".into()));
    }

    #[test]
    fn a_missing_kubeconfig_is_named() {
        let error = read(&["/nonexistent/kc".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "kubeconfig /nonexistent/kc does not exist"
        );
    }
}
