//! Command-line definitions.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rotates the identity trust root of a Linkerd service mesh.
#[derive(Debug, Parser)]
#[command(name = "runner", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The simulated cluster.
    #[command(subcommand)]
    Sim(crate::sim::cli::SimCommand),
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Sim(cmd) => match crate::sim::cli::run(cmd) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(1)
            }
        },
    }
}
