//! Cluster access: choosing the cluster and building its client, retried reads, preconditioned
//! writes, dry-run diffs, and the script module that gives runbooks `k8s_get`, `k8s_list` and
//! `k8s_patch`.
//!
//! | module   | what lives there                                                          |
//! |----------|---------------------------------------------------------------------------|
//! | `client` | `--kubeconfig`/`KUBECONFIG`/in-cluster, `--context`, the journal target    |
//! | `kinds`  | the kinds a runbook may name and their API resources                       |
//! | `retry`  | backoff for 429/5xx/dropped connections, errors that name the request     |
//! | `retry_after` | a throttled answer's `Retry-After` header kept for the retry loop     |
//! | `api`    | [`Cluster`]: get, paginated list, patch with precondition and 409 re-read |
//! | `watch`  | waiting for an object's state through watches that re-establish        |
//! | `collection` | one kind in one namespace kept current by one watch (re-lists on 410) |
//! | `inventory` | which workloads are meshed; meshed pods no workload owns               |
//! | `rollout`, `rollout_status`, `rollout_ondelete` | `restart_ns`: restart and wait as kubectl does |
//! | `rollout_progress` | the progress bar, `rollout` output events, findings as warnings    |
//! | `events` | `wait_event`: a baseline, then new events or count bumps after a moment     |
//! | `script_rollout` | the Rhai functions `now`, `meshed_workloads`, `restart_ns`, `wait_event` |
//! | `script_options` | options maps checked against the keys a function knows               |
//! | `diff`   | field-by-field changes with secrets shown as fingerprints                 |
//! | `overlay`| a dry-run's predicted state, served to its later reads                    |
//! | `script` | the Rhai functions                                                        |
//! | `target` | `--sim[=SCENARIO]`: the built-in simulated cluster                        |

mod api;
pub mod client;
mod collection;
pub mod diff;
mod error;
pub mod events;
pub mod inventory;
pub mod kinds;
mod overlay;
pub mod retry;
mod retry_after;
pub mod rollout;
mod rollout_ondelete;
mod rollout_progress;
pub mod rollout_status;
pub mod script;
pub mod script_options;
pub mod script_rollout;
pub mod target;
mod watch;

pub use api::{Cluster, FIELD_MANAGER, Patched, WriteMode};
pub use client::{ClientArgs, Connected, connect};
pub use diff::FieldChange;
pub use error::ClusterError;
pub use kinds::Kind;
pub use retry::RetryPolicy;
