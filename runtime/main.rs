//! The `runner` binary: parse arguments, set up diagnostic logs, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    // Diagnostics go to stderr, quiet unless RUST_LOG asks; stdout is the run's output.
    // kube's client logs every failed attempt as an error of its own, which our retries and
    // final error already cover: without RUST_LOG an unreachable server would print a line
    // per attempt.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,kube_client=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(runner::output::redacting_stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    runner::cli::run(cli)
}
