//! runner: rotates the identity trust root of a Linkerd service mesh by running an editable Rhai
//! runbook against a cluster (or the built-in simulated one).
//!
//! | module     | what lives there                                                        |
//! |------------|-------------------------------------------------------------------------|
//! | `cli`      | the clap definitions and the dispatch of subcommands                    |
//! | `linkerd`  | where each Linkerd release keeps anchors and issuer, upgrades, checks   |
//! | `engine`   | the Rhai host: steps, parameters, journal, consent, dry-run, primitives |
//! | `output`   | operator-facing events, printed as human lines or JSON lines            |
//! | `pki`      | certificate generation, parsing, keys and canonical bundles             |
//! | `sim`      | the simulated Kubernetes API server                                     |

pub mod cli;
pub mod duration;
pub mod linkerd;
pub mod pki;
pub mod sim;
