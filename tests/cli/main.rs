//! The `runner` binary, driven through its command line (one test binary, one harness).

mod harness;

mod consent;
mod errors;
mod journal;
mod list;
mod params;
