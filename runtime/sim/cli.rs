//! `runner sim …` subcommands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::SimError;
use super::cluster::{ClusterOptions, DEFAULT_SPEED};
use super::faults::FaultConfig;
use super::server::{SimOptions, SimServer};
use super::store::StoreOptions;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulated cluster for kubectl and other tools until stopped.
    Serve(ServeArgs),
}

fn share(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{text} is not a share between 0 and 1"))
    }
}

// A speed of 0, below or NaN would stop or break simulated time.
fn speed(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!(
            "{text} is not a speed: give a positive factor (1 is real time)"
        ))
    }
}

// Latencies are milliseconds, which the shared parser (d, h, m, s) does not spell.
fn duration(text: &str) -> Result<Duration, String> {
    if let Some(ms) = text.trim().strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("invalid duration {text:?}"));
    }
    let d = crate::duration::parse(text).map_err(|e| e.to_string())?;
    Duration::try_from(d).map_err(|_| format!("invalid duration {text:?}: negative"))
}

#[derive(Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0, env = "RUNNER_SIM_PORT")]
    pub port: u16,
    /// Write a kubeconfig for the server (server, CA, token, context) to this file.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Load the objects of a multi-document YAML file before serving (repeatable).
    #[arg(long = "manifests", value_name = "FILE")]
    pub manifests: Vec<PathBuf>,
    /// The bearer token clients must send; a random one by default.
    #[arg(long, env = "RUNNER_SIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve plain HTTP instead of HTTPS, on loopback and without a token (kubectl sends none
    /// over HTTP).
    #[arg(long)]
    pub plain_http: bool,
    /// Share of requests (0–1) answered 500.
    #[arg(long, value_name = "SHARE", value_parser = share, default_value = "0")]
    pub error_rate: f64,
    /// Share of requests (0–1) answered 429 with Retry-After.
    #[arg(long, value_name = "SHARE", value_parser = share, default_value = "0")]
    pub throttle_rate: f64,
    /// Retry-After seconds of an injected 429.
    #[arg(long, value_name = "SECONDS", default_value_t = 1)]
    pub retry_after: u32,
    /// Latency added to every request (e.g. 50ms).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub latency: Option<Duration>,
    /// Cut every watch after this long (e.g. 30s).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub watch_cut_after: Option<Duration>,
    /// Share of writes (0–1) answered 409 Conflict.
    #[arg(long, value_name = "SHARE", value_parser = share, default_value = "0")]
    pub conflict_rate: f64,
    /// Changes kept for watches from older versions; older ones get a 410 Expired watch event.
    #[arg(long, value_name = "CHANGES", default_value_t = 20_000)]
    pub history: usize,
    /// How many times faster than real time the simulated cluster runs (pod starts, kubelet
    /// refreshes, certificate renewals); 1 is real time.
    #[arg(long, value_name = "FACTOR", value_parser = speed, default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
    /// Load a built-in scenario: a Linkerd layout with meshed applications (edge,
    /// stable-2.8, stable-2.10, stable-2.11, stable-2.12, helm, external-issuer,
    /// expiring-root).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
}

// The token stays out of logs; the rest is what was asked for.
impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("port", &self.port)
            .field("kubeconfig_out", &self.kubeconfig_out)
            .field("manifests", &self.manifests)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("faults", &self.options().faults)
            .finish_non_exhaustive()
    }
}

impl ServeArgs {
    fn options(&self) -> SimOptions {
        SimOptions {
            port: self.port,
            token: self.token.clone(),
            tls: !self.plain_http,
            manifests: self.manifests.clone(),
            faults: FaultConfig {
                error_rate: self.error_rate,
                throttle_rate: self.throttle_rate,
                retry_after_secs: self.retry_after,
                latency: self.latency.unwrap_or_default(),
                watch_cut_after: self.watch_cut_after,
                conflict_rate: self.conflict_rate,
                conflict_every: 0,
            },
            store: StoreOptions {
                history: self.history,
            },
            kubeconfig_out: self.kubeconfig_out.clone(),
            scenario: self.scenario.clone(),
            cluster: Some(ClusterOptions {
                speed: self.speed,
                ..ClusterOptions::default()
            }),
        }
    }
}

/// Runs a `runner sim` subcommand.
///
/// # Errors
///
/// When the server cannot start.
pub fn run(cmd: SimCommand) -> Result<ExitCode, SimError> {
    match cmd {
        SimCommand::Serve(args) => {
            let rt =
                tokio::runtime::Runtime::new().map_err(|source| SimError::Runtime { source })?;
            rt.block_on(serve(args))
        }
    }
}

async fn serve(args: ServeArgs) -> Result<ExitCode, SimError> {
    let sim = SimServer::start(args.options()).await?;
    // The operator needs the address and where the kubeconfig is; both go to stderr so
    // that stdout stays free for tools.
    eprintln!("simulated API server listening on {}", sim.url());
    eprintln!("kubeconfig: {}", sim.kubeconfig_path().display());
    if sim.cluster().is_some() {
        eprintln!("failed meshed connections: {}/sim/failures", sim.url());
    }
    wait_for_stop().await;
    sim.shutdown(Duration::from_secs(1));
    // What an operator rehearsing a runbook wants to know last: did meshed traffic fail.
    if let Some(cluster) = sim.cluster() {
        eprint!("{}", cluster.linkerd().record.summary());
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        // Without a SIGTERM handler Ctrl-C still stops the server.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
