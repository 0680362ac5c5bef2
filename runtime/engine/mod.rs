//! The Rhai host: one engine constructor ([`new`]) for the binary and every test, and the
//! run of a runbook ([`run`]): compile and check, declare, choose steps, resume from the
//! journal, ask consent, run.
//!
//! A runbook's top level only declares (`param`, `step`, `import`); the runner appends one
//! call that runs the chosen steps inside the same evaluation, so that step closures see the
//! runbook's imports and captured variables. See `docs/runbooks.md` for the runbook API.

mod consent;
mod context;
pub mod doc;
mod flow;
mod host;
pub mod journal;
mod lint;
mod modules;
pub mod params;
mod run;
pub mod runbook;
pub mod summary;
pub mod values;
mod verify;
mod write_file;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rhai::Engine;

pub use consent::{Consent, ConsentError, ConsentMode};
pub use context::{ContextOptions, RunContext, ScratchError};
pub use host::{Declared, StepDecl};
pub use journal::JournalError;
pub use modules::{ModuleLoader, runbook_dir};
pub use params::{Overrides, ParamError};
pub use run::{RunOptions, run};
pub use runbook::{Runbook, RunbookError};
pub use summary::{Summary, SummaryItem, SummarySource};
pub use values::ValueError;

use crate::output::Level;

/// Operations one run may take. Primitives that wait (rollouts, events) block natively and
/// cost one operation, so only a runaway loop in the script reaches this.
const MAX_OPERATIONS: u64 = 50_000_000;
/// Function-call nesting; runbooks are flat, deep recursion is a bug.
const MAX_CALL_LEVELS: usize = 48;

/// Builds the engine of a run: limits, `print`/`debug` routed to the run's output, Ctrl-C
/// cancellation, `import` resolution, the runbook-facing functions and every primitive module.
pub fn new(ctx: &Arc<RunContext>) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(16 << 20)
        .set_max_array_size(100_000)
        .set_max_map_size(100_000)
        .set_max_modules(64)
        .set_strict_variables(true)
        .set_module_resolver(modules::SharedLoader(Arc::clone(ctx.modules())));

    let c = Arc::clone(ctx);
    engine.on_print(move |text| c.log(Level::Info, text));
    let c = Arc::clone(ctx);
    engine.on_debug(move |text, _source, _position| c.log(Level::Debug, text));
    let cancel = ctx.cancel_flag();
    engine.on_progress(move |_| cancel.load(Ordering::Relaxed).then(|| "cancelled".into()));

    host::register(&mut engine, ctx);
    flow::register(&mut engine, ctx);
    summary::register(&mut engine, ctx);
    verify::register(&mut engine);
    register_primitives(&mut engine, ctx);
    engine
}

/// Registers each primitive module: one call per module.
fn register_primitives(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    let w = Arc::clone(ctx);
    let pki = crate::pki::script::PkiEnv {
        workdir: ctx.workdir().to_path_buf(),
        dry_run: ctx.dry_run(),
        earlier_files: ctx.real_workdir().to_path_buf(),
        notify: crate::pki::script::Notify(Arc::new(move |text| c.log(Level::Info, text))),
        would: crate::pki::script::Notify(Arc::new(move |text| w.would(text))),
    };
    crate::pki::script::register(engine, pki);
    crate::cluster::script::register(engine, ctx);
    crate::identity::script::register_all(engine, ctx);
    crate::cluster::script_rollout::register(engine, ctx);
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runbook(#[from] RunbookError),
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error(transparent)]
    Scratch(#[from] ScratchError),
    #[error(
        "unknown step(s) {}: the steps of {runbook} are {}",
        unknown.join(", "),
        known.join(", ")
    )]
    UnknownSteps {
        runbook: String,
        unknown: Vec<String>,
        known: Vec<String>,
    },
    /// `--only` or `--skip` given without a step name (`--only ,`): running every step
    /// instead would do far more than asked.
    #[error("{option} names no step: the steps of {runbook} are {}", known.join(", "))]
    NoStepNamed {
        option: &'static str,
        runbook: String,
        known: Vec<String>,
    },
    #[error("--only, --skip and --from together leave no step of {runbook} to run")]
    NothingSelected { runbook: String },
    #[error("step `{step}` failed: {message}")]
    StepFailed { step: String, message: String },
    #[error("recording the outputs of step `{step}`")]
    Outputs {
        step: String,
        #[source]
        source: Box<ValueError>,
    },
    #[error("reading the outputs recorded in journal {path}")]
    Recorded {
        path: std::path::PathBuf,
        #[source]
        source: Box<ValueError>,
    },
    #[error("creating workdir {path}")]
    Workdir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("locking {path}")]
    WorkdirLock {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another runner is using workdir {workdir}: wait until it finishes, or give this run \
         another --workdir"
    )]
    WorkdirBusy { workdir: std::path::PathBuf },
    #[error("cancelled during step `{step}`")]
    Cancelled { step: String },
    #[error(
        "runbook {path} stopped before the runner could run its steps (a `return` or `exit` at the top level?)"
    )]
    Incomplete { path: std::path::PathBuf },
}

impl RunError {
    /// The exit code: 1 when a step failed or was stopped, 2 when the run could not start
    /// (usage, runbook, parameters, journal, consent).
    pub fn code(&self) -> u8 {
        match self {
            Self::StepFailed { .. } | Self::Outputs { .. } | Self::Cancelled { .. } => 1,
            Self::Journal(JournalError::Write { .. }) => 1,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::output::{Format, Output};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_engine_has_limits_and_prints_to_the_output() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let buffer = Buffer::default();
        let output = Arc::new(Output::new(Format::Json, Box::new(buffer.clone())));
        let ctx = RunContext::new(
            ContextOptions::new("unused"),
            output,
            runtime.handle().clone(),
        )
        .unwrap();
        let engine = new(&ctx);
        assert_eq!(engine.max_operations(), MAX_OPERATIONS);
        assert_eq!(engine.max_call_levels(), MAX_CALL_LEVELS);

        engine.run(r#"print("hello"); debug("details");"#).unwrap();
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"event\":\"log\",\"step\":null,\"level\":\"info\",\"message\":\"hello\"}\n\
             {\"event\":\"log\",\"step\":null,\"level\":\"debug\",\"message\":\"\\\"details\\\"\"}\n"
        );
    }
}
