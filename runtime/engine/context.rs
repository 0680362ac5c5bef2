//! The run context that primitive registrations capture: whether this is a dry-run, where
//! files go, where events go, consent, and the tokio runtime to block on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{EvalAltResult, Position};

use super::consent::{Consent, ConsentError};
use super::host::ScriptState;
use super::modules::ModuleLoader;
use crate::cluster::Cluster;
use crate::output::{Basis, Event, Level, Output};

/// Everything a primitive needs to know about the run it is part of. Shared (`Arc`) by the
/// engine's registered functions, so it is `Send + Sync`.
#[derive(Debug)]
pub struct RunContext {
    dry_run: bool,
    workdir: PathBuf,
    /// The workdir the operator named, also in a dry-run (whose `workdir` is a scratch one).
    real_workdir: PathBuf,
    target: String,
    output: Arc<Output>,
    consent: Consent,
    handle: tokio::runtime::Handle,
    cancelled: Arc<AtomicBool>,
    /// Kept so that a dry-run's scratch workdir lives as long as the run.
    _scratch: Option<tempfile::TempDir>,
    modules: Arc<ModuleLoader>,
    cluster: Option<Cluster>,
    summary: super::summary::Summary,
    pub(crate) script: Mutex<ScriptState>,
}

/// What a [`RunContext`] is built from.
#[derive(Debug)]
pub struct ContextOptions {
    pub dry_run: bool,
    /// The workdir of a real run; a dry-run gets a temporary one instead.
    pub workdir: PathBuf,
    /// The cluster the run acts on: `none`, later a kube context/server or `sim:NAME`.
    pub target: String,
    pub consent: super::consent::ConsentMode,
    pub stdlib_dir: Option<PathBuf>,
    pub runbook_dir: PathBuf,
    /// Set (by Ctrl-C) to stop the script at its next operation.
    pub cancel: Arc<AtomicBool>,
    /// The cluster the primitives talk to; `None` when the run names none.
    pub cluster: Option<Cluster>,
}

impl ContextOptions {
    /// A real run in `workdir` against no cluster, refusing consent, with the embedded stdlib:
    /// the starting point for tests of primitives, which change what they need.
    pub fn new(workdir: impl Into<PathBuf>) -> Self {
        Self {
            dry_run: false,
            workdir: workdir.into(),
            target: "none".to_owned(),
            consent: super::consent::ConsentMode::Refuse,
            stdlib_dir: None,
            runbook_dir: PathBuf::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            cluster: None,
        }
    }
}

/// A dry-run's scratch directory could not be made.
#[derive(Debug, thiserror::Error)]
#[error("creating the temporary workdir of the dry-run")]
pub struct ScratchError {
    #[source]
    source: std::io::Error,
}

// === impl RunContext ===

impl RunContext {
    /// Builds the context of one run.
    ///
    /// # Errors
    ///
    /// When a dry-run cannot create its temporary workdir.
    pub fn new(
        options: ContextOptions,
        output: Arc<Output>,
        handle: tokio::runtime::Handle,
    ) -> Result<Arc<Self>, ScratchError> {
        let scratch = if options.dry_run {
            let dir = tempfile::Builder::new()
                .prefix("runner-dry-run-")
                .tempdir()
                .map_err(|source| ScratchError { source })?;
            Some(dir)
        } else {
            None
        };
        let real_workdir =
            std::path::absolute(&options.workdir).unwrap_or_else(|_| options.workdir.clone());
        let workdir = scratch
            .as_ref()
            .map_or(options.workdir, |dir| dir.path().to_path_buf());
        // Absolute, so that paths recorded in the journal still hold from another directory.
        let workdir = std::path::absolute(&workdir).unwrap_or(workdir);
        Ok(Arc::new(Self {
            dry_run: options.dry_run,
            workdir,
            real_workdir,
            consent: super::consent::Consent::new(options.consent, options.target.clone())
                .with_cancel(Arc::clone(&options.cancel)),
            target: options.target,
            output,
            handle,
            cancelled: options.cancel,
            _scratch: scratch,
            modules: Arc::new(ModuleLoader::new(options.stdlib_dir, options.runbook_dir)),
            cluster: options.cluster,
            summary: super::summary::Summary::default(),
            script: Mutex::new(ScriptState::default()),
        }))
    }

    /// True in a dry-run: primitives report what they would do and change nothing.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Where generated files go; a temporary directory in a dry-run.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The workdir the operator named, where earlier runs left their files; in a dry-run too.
    pub fn real_workdir(&self) -> &Path {
        &self.real_workdir
    }

    /// The cluster this run acts on, as recorded in the journal.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The cluster client of this run, if the run names a cluster.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The lines the runbook contributed to the end-of-run summary.
    pub fn summary(&self) -> &super::summary::Summary {
        &self.summary
    }

    /// The tokio runtime primitives block on (the script runs on a blocking thread).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// The loader behind `import`, shared with the engine.
    pub(crate) fn modules(&self) -> &Arc<ModuleLoader> {
        &self.modules
    }

    pub fn output(&self) -> &Arc<Output> {
        &self.output
    }

    /// Asks once per run before the first change to the cluster. A dry-run changes nothing,
    /// so it asks nothing: call this, then check [`RunContext::dry_run`] and report with
    /// [`RunContext::would`] instead of writing.
    ///
    /// # Errors
    ///
    /// When there is no terminal and no `--yes`, or the operator declines.
    pub fn ensure(&self, action: &str) -> Result<(), ConsentError> {
        if self.dry_run {
            return Ok(());
        }
        self.consent.ensure(action)
    }

    pub(crate) fn consent(&self) -> &Consent {
        &self.consent
    }

    /// The flag that Ctrl-C sets; the engine stops the script at its next operation.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The step running now, if any.
    pub fn current_step(&self) -> Option<String> {
        self.lock_script().current_step.clone()
    }

    /// When the step running now started; `None` at the top level. Waits default to
    /// "after this moment", so an event from an earlier step or run never satisfies them.
    pub fn step_started_at(&self) -> Option<time::OffsetDateTime> {
        self.lock_script().step_started_at
    }

    /// Reports what a mutating primitive would do in a dry-run, in the words a real run logs.
    /// Files and local effects are exact; a primitive that writes to the cluster or waits says
    /// how it knows with [`RunContext::would_as`].
    pub fn would(&self, action: impl Into<String>) {
        self.would_as(Basis::Exact, action);
    }

    /// Reports a dry-run action with how sure the plan is of it.
    pub fn would_as(&self, basis: Basis, action: impl Into<String>) {
        let step = self.current_step();
        self.output.emit(Event::Would {
            step,
            action: action.into(),
            basis,
        });
    }

    /// A message for the operator, attributed to the running step.
    pub fn log(&self, level: Level, message: impl Into<String>) {
        let step = self.current_step();
        // Scripts may print anything; the log must not carry a key the output would redact.
        let message = crate::output::redact_private_keys(&message.into());
        // The operator already sees the message in the output; the log keeps it for
        // diagnostics at info, so that a default (warn) log stays quiet.
        match level {
            Level::Warn | Level::Info => {
                tracing::info!(step = step.as_deref(), ?level, "{message}")
            }
            Level::Debug => tracing::debug!(step = step.as_deref(), "{message}"),
        }
        self.output.emit(Event::Log {
            step,
            level,
            message,
        });
    }

    /// Refuses a call made while the runbook's top level is still declaring steps: primitives
    /// act only inside steps, so that `--list` and parameter errors never change anything.
    ///
    /// # Errors
    ///
    /// When called outside a step.
    pub fn require_step(&self, function: &str) -> Result<(), Box<EvalAltResult>> {
        if self.lock_script().current_step.is_some() {
            return Ok(());
        }
        Err(EvalAltResult::ErrorRuntime(
            format!(
                "{function} can only be called inside a step, not at the top level of a runbook"
            )
            .into(),
            Position::NONE,
        )
        .into())
    }

    pub(crate) fn lock_script(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        self.script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

// Primitive registrations capture the context in `Send + Sync` closures (rhai `sync`).
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<RunContext>();
};
