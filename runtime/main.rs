//! The `runner` binary: parse arguments, set up diagnostic logs, run.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    // Diagnostics go to stderr, quiet unless RUST_LOG asks; stdout is the run's output.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(runner::output::redacting_stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    runner::cli::run(cli)
}
