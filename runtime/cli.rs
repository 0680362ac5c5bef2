//! Command-line definitions and the dispatch of commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Parser, Subcommand};

use crate::cluster;
use crate::engine::{self, ConsentMode, Overrides, RunOptions};
use crate::error::Error;
use crate::output::{Event, Format, Level, Output};

const EXIT_STATUS: &str =
    "Exit status: 0 success, 1 a step or check failed, 2 usage or runbook error.";

/// Rotates the identity trust root of a Linkerd service mesh by running a Rhai runbook.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `runner RUNBOOK` is `runner run RUNBOOK`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a runbook (the default command).
    Run(Box<RunArgs>),
    /// The identity checks, like `linkerd check --proxy`.
    Check(CheckArgs),
    /// Print the functions a runbook can call, with their signatures.
    Doc,
    /// The simulated cluster.
    #[command(subcommand)]
    Sim(crate::sim::cli::SimCommand),
}

/// Options of a run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The runbook to run, a `.rhai` file.
    #[arg(required = true, value_name = "RUNBOOK")]
    pub runbook: Option<PathBuf>,
    /// Change nothing: report what each step would do.
    #[arg(long)]
    pub dry_run: bool,
    /// Set a runbook parameter (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Read runbook parameters from a YAML or JSON file (repeatable; `--set` wins).
    #[arg(long, value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Print the steps and parameters with their defaults, and run nothing.
    #[arg(long)]
    pub list: bool,
    /// Run only these steps.
    #[arg(long, value_name = "STEP,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Do not run these steps.
    #[arg(long, value_name = "STEP,...", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Start at this step.
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// Where the journal and generated files live.
    #[arg(
        long,
        value_name = "DIR",
        env = "RUNNER_WORKDIR",
        default_value = ".runner"
    )]
    pub workdir: PathBuf,
    /// Start over although a journal exists (asks first).
    #[arg(long)]
    pub fresh: bool,
    /// Answer yes to confirmation prompts; needed to change a cluster without a terminal.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Human lines, or one JSON object per line.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "RUNNER_OUTPUT",
        default_value = "human"
    )]
    pub output: Format,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// A folder whose modules override the embedded stdlib.
    #[arg(long, value_name = "DIR", env = "RUNNER_STDLIB")]
    pub stdlib: Option<PathBuf>,
}

/// Which cluster a command talks to: the same flags for `run` and `check`.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file to use, as kubectl's flag.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use, as kubectl's flag.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Use the built-in simulated cluster (scenario `edge` by default, or a manifest file)
    /// instead; a run against it asks nothing.
    #[arg(
        long,
        value_name = "SCENARIO",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "default",
        conflicts_with_all = ["kubeconfig", "context"]
    )]
    pub sim: Option<String>,
}

/// Options of `runner check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 the checks passed, 1 a check failed (or a warning, with \
                        --warnings-as-errors) or the cluster could not be read, 2 usage error."
)]
pub struct CheckArgs {
    /// Also check that every meshed pod's proxy holds the current trust anchors.
    #[arg(long)]
    pub proxy: bool,
    /// Check only the proxies of this namespace.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,
    /// The namespace of the Linkerd control plane.
    #[arg(
        short = 'L',
        long = "linkerd-namespace",
        value_name = "NS",
        default_value = crate::identity::DEFAULT_NAMESPACE
    )]
    pub linkerd_namespace: String,
    /// Fail on warnings too.
    #[arg(long)]
    pub warnings_as_errors: bool,
    /// Human lines like `linkerd check`, or one JSON document.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "RUNNER_OUTPUT",
        default_value = "human"
    )]
    pub output: Format,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // A program reading `--output json` learns of a failure on stdout too, not only from the
    // exit status and stderr: errors before the first step (parameters, the kubeconfig, the
    // journal) emit no other event.
    let json = match &cli.command {
        None => cli.run.output == Format::Json,
        Some(Command::Run(args)) => args.output == Format::Json,
        Some(Command::Check(args)) => args.output == Format::Json,
        Some(Command::Doc | Command::Sim(_)) => false,
    };
    let result = match cli.command {
        None => run_runbook(cli.run),
        Some(Command::Run(args)) => run_runbook(*args),
        Some(Command::Check(args)) => check(args),
        Some(Command::Doc) => doc(),
        Some(Command::Sim(cmd)) => crate::sim::cli::run(cmd).map_err(Error::from),
    };
    result.unwrap_or_else(|error| {
        let message = error.chain();
        eprintln!("error: {message}");
        let code = error.code();
        if json {
            let event =
                serde_json::json!({"event": "error", "message": message, "exit_code": code});
            println!("{event}");
        }
        ExitCode::from(code)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })
}

fn run_runbook(args: RunArgs) -> Result<ExitCode, Error> {
    let overrides = Overrides::from_args(&args.values, &args.set)
        .map_err(|error| Error::Run(engine::RunError::Params(error)))?;
    let cancel = Arc::new(AtomicBool::new(false));
    let mut options = RunOptions {
        runbook: args.runbook.clone().unwrap_or_default(),
        workdir: args.workdir.clone(),
        dry_run: args.dry_run,
        list: args.list,
        only: args.only.clone(),
        skip: args.skip.clone(),
        from: args.from.clone(),
        fresh: args.fresh,
        consent: ConsentMode::detect(args.yes),
        target: "none".to_owned(),
        stdlib_dir: args.stdlib.clone(),
        overrides,
        cancel: Arc::clone(&cancel),
        cluster: None,
        summary_source: None,
    };
    let output = Arc::new(Output::stdout(args.output));

    let runtime = runtime()?;
    runtime.block_on(async move {
        // Kept until the run ends: dropping it stops the simulated cluster.
        // `--list` runs nothing, so it neither reads a kubeconfig nor starts the sim.
        let target = if args.list {
            None
        } else {
            cluster_target(&args.cluster).await?
        };
        if let Some(target) = &target {
            options.target = target.cluster().target().to_owned();
            let cluster = target.cluster().clone();
            // A dry-run's later steps read what its earlier (dry-run) writes would have left.
            options.cluster = Some(if args.dry_run {
                cluster.with_dry_run_overlay()
            } else {
                cluster
            });
        }
        if let Some(Target::Sim(sim)) = &target {
            // The sim's count of failed connections ends the summary: the proof that the
            // rehearsal cut no meshed traffic.
            if let Some(cluster) = sim.sim.cluster() {
                let record = cluster.linkerd().record.clone();
                options.summary_source = Some(engine::summary::sim_failures(record));
            }
            // Nothing real can change, so a rehearsal needs no confirmation.
            options.consent = ConsentMode::Yes;
            output.emit(Event::Log {
                step: None,
                level: Level::Info,
                message: format!(
                    "{}: the built-in simulated cluster; nothing real can change, so nothing is asked",
                    options.target
                ),
            });
        }

        // Ctrl-C stops the script at its next operation; the journal keeps what finished. A
        // second Ctrl-C quits at once, for a primitive or a prompt that does not return.
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if cancel.swap(true, Ordering::Relaxed) {
                    eprintln!("error: stopped by a second Ctrl-C");
                    std::process::exit(1);
                }
                eprintln!("stopping at the next operation (Ctrl-C again to quit now)");
            }
        });
        let handle = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || engine::run(options, output, handle));
        let result = match task.await {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(error)) => Err(Error::Run(error)),
            Err(source) => Err(Error::Panicked { source }),
        };
        drop(target);
        result
    })
}

/// The cluster a run acts on.
enum Target {
    Real(cluster::Cluster),
    Sim(Box<cluster::target::SimCluster>),
}

impl Target {
    fn cluster(&self) -> &cluster::Cluster {
        match self {
            Self::Real(cluster) => cluster,
            Self::Sim(sim) => &sim.cluster,
        }
    }
}

/// `--sim`, else the kubeconfig the flags and `KUBECONFIG` name. With nothing named and no
/// configuration found, the run has no cluster: runbooks that only make certificates still
/// run, and a cluster primitive says what is missing.
async fn cluster_target(args: &ClusterArgs) -> Result<Option<Target>, Error> {
    if let Some(scenario) = &args.sim {
        let sim = cluster::target::start_sim(scenario).await?;
        return Ok(Some(Target::Sim(Box::new(sim))));
    }
    let selection = cluster::ClientArgs {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    match cluster::connect(&selection).await {
        Ok(connected) => Ok(Some(Target::Real(cluster::Cluster::new(
            connected.client,
            connected.target,
        )))),
        Err(cluster::ClusterError::NoConfig { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// `runner check`: exit 0 when the checks pass, 1 when one fails.
fn check(args: CheckArgs) -> Result<ExitCode, Error> {
    let output = Output::stdout(args.output);
    let command = crate::identity::CheckCommand {
        request: crate::identity::CheckRequest {
            proxy: args.proxy,
            namespace: args.namespace.clone(),
            ..crate::identity::CheckRequest::new(
                &args.linkerd_namespace,
                time::OffsetDateTime::now_utc(),
            )
        },
        warnings_as_errors: args.warnings_as_errors,
    };
    runtime()?.block_on(async {
        let target = cluster_target(&args.cluster)
            .await?
            .ok_or(Error::NoCluster)?;
        let passed = crate::identity::run_check(target.cluster(), &command, &output)
            .await
            .map_err(|error| Error::Identity(Box::new(error)))?;
        Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn doc() -> Result<ExitCode, Error> {
    let runtime = runtime()?;
    let options = engine::ContextOptions {
        dry_run: true,
        ..engine::ContextOptions::new(".runner")
    };
    let output = Arc::new(Output::stdout(Format::Human));
    let ctx = engine::RunContext::new(options, Arc::clone(&output), runtime.handle().clone())
        .map_err(|error| Error::Run(error.into()))?;
    output.write_raw(&engine::doc::render(&engine::new(&ctx)));
    Ok(ExitCode::SUCCESS)
}
