//! runner: rotates the identity trust root of a Linkerd service mesh by running an editable Rhai
//! runbook against a cluster (or the built-in simulated one).
//!
//! | module     | what lives there                                                        |
//! |------------|-------------------------------------------------------------------------|
//! | `cluster`  | the kube client, retries, preconditioned writes, dry-run diffs, `k8s_*`  |
//! | `cli`      | the clap definitions and the dispatch of subcommands                    |
//! | `engine`   | the Rhai host: steps, parameters, journal, consent, dry-run, primitives |
//! | `error`    | the top-level error and the exit codes                                  |
//! | `identity` | the identity primitives on a cluster: layout, anchors, upgrade, check   |
//! | `linkerd`  | where each Linkerd release keeps anchors and issuer, upgrades, checks   |
//! | `output`   | operator-facing events, printed as human lines or JSON lines            |
//! | `pki`      | certificate generation, parsing, keys and canonical bundles             |
//! | `sim`      | the simulated Kubernetes API server                                     |

pub mod cli;
pub mod cluster;
pub mod duration;
pub mod engine;
pub mod error;
pub mod identity;
pub mod linkerd;
pub mod output;
pub mod pki;
pub mod sim;

pub use error::Error;
