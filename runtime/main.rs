use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    runner::cli::run(runner::cli::Cli::parse())
}
