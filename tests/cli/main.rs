//! The `runner` binary, driven through its command line (one test binary, one harness).

mod harness;

mod list;
