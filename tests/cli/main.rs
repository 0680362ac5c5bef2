//! The `runner` binary, driven through its command line (one test binary, one harness).

mod harness;

mod errors;
mod list;
mod params;
