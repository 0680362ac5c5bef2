//! `runner sim …` subcommands.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::SimError;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve the simulated cluster for kubectl and other tools until stopped.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a `runner sim` subcommand.
///
/// # Errors
///
/// When the server cannot start.
pub fn run(cmd: SimCommand) -> Result<ExitCode, SimError> {
    match cmd {
        SimCommand::Serve(_) => Err(SimError::NotAvailable("runner sim serve")),
    }
}
