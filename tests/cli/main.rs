//! The `runner` binary, driven through its command line (one test binary, one harness).

mod harness;

mod consent;
mod doc;
mod dry_run;
mod errors;
mod interrupted;
mod journal;
mod keys;
mod limits;
mod list;
mod modules;
mod params;
mod write_file;
