//! One run of a runbook: load, declare, choose steps, resume from the journal, run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rhai::{Dynamic, EvalAltResult};
use tracing::info_span;

use super::consent::ConsentMode;
use super::context::{ContextOptions, RunContext};
use super::flow::StopRun;
use super::host::{Declared, MAIN, StepCaller, StepDecl};
use super::journal::{self, Journal};
use super::params::{self, Overrides, ParamError};
use super::runbook::{self, RunbookError};
use super::{RunError, values};
use crate::output::{self, Event, Format, Output};

/// What the command line asks of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub runbook: PathBuf,
    pub workdir: PathBuf,
    pub dry_run: bool,
    pub list: bool,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub from: Option<String>,
    pub fresh: bool,
    pub consent: ConsentMode,
    /// The cluster the run acts on; keys the journal.
    pub target: String,
    pub stdlib_dir: Option<PathBuf>,
    pub overrides: Overrides,
    pub cancel: Arc<AtomicBool>,
    /// The cluster the run acts on, if any; `target` names it.
    pub cluster: Option<crate::cluster::Cluster>,
    /// Lines the host adds to the end-of-run summary (the simulated cluster's failures).
    pub summary_source: Option<super::SummarySource>,
}

/// Runs a runbook (or lists it, with `list`). Call it from a blocking thread: primitives block
/// on `handle`.
///
/// # Errors
///
/// See [`RunError`]; [`RunError::code`] gives the exit code.
pub fn run(
    options: RunOptions,
    output: Arc<Output>,
    handle: tokio::runtime::Handle,
) -> Result<(), RunError> {
    let ctx = RunContext::new(
        ContextOptions {
            dry_run: options.dry_run,
            workdir: options.workdir.clone(),
            target: options.target.clone(),
            consent: options.consent,
            stdlib_dir: options.stdlib_dir.clone(),
            runbook_dir: super::runbook_dir(&options.runbook),
            cancel: Arc::clone(&options.cancel),
            cluster: options.cluster.clone(),
        },
        output,
        handle,
    )?;
    let engine = super::new(&ctx);
    let _span = info_span!("runbook", path = %options.runbook.display()).entered();
    let loaded = runbook::load(&engine, &ctx, &options.runbook)?;

    let main = engine
        .compile(format!("{MAIN}();"))
        .map_err(|error| RunbookError::Failed {
            path: options.runbook.clone(),
            message: error.to_string(),
        })?;
    let mut ast = loaded.ast.merge(&main);
    ast.set_source(loaded.path.display().to_string());
    {
        let mut state = ctx.lock_script();
        state.overrides = options.overrides.clone();
        state.declaring = true;
        let driver_ctx = Arc::clone(&ctx);
        let description = loaded.description.clone();
        state.driver = Some(Box::new(move |declared, call| {
            drive(&driver_ctx, &options, &description, declared, call)
        }));
    }

    let evaluated = engine.run_ast(&ast);
    let result = ctx.lock_script().result.take();
    match (evaluated, result) {
        (_, Some(result)) => result,
        (Err(error), None) => Err(RunbookError::Failed {
            path: loaded.path,
            message: runbook::describe(&error),
        }
        .into()),
        (Ok(()), None) => Err(RunError::Incomplete { path: loaded.path }),
    }
}

fn drive(
    ctx: &Arc<RunContext>,
    options: &RunOptions,
    description: &str,
    declared: Declared,
    call: &mut StepCaller<'_>,
) -> Result<(), RunError> {
    let Declared {
        params,
        mut param_problems,
        steps,
    } = declared;
    param_problems.extend(
        options
            .overrides
            .unknown(&params)
            .map(|key| format!("unknown parameter `{key}`")),
    );
    if !param_problems.is_empty() {
        let known = params.iter().map(|p| p.name.clone()).collect();
        return Err(ParamError::Invalid {
            problems: param_problems,
            known,
        }
        .into());
    }
    let selected = select(options, &steps)?;
    if options.list {
        list(ctx.output(), options, description, &steps, &params);
        return Ok(());
    }

    let runbook_name = options.runbook.display().to_string();
    let values: BTreeMap<_, _> = params
        .iter()
        .map(|p| (p.name.clone(), params::to_json(&p.value)))
        .collect();
    // A parameter declared `resumable` may change between runs (keep_overlap: pause, then
    // finish), so the journal neither records nor compares it.
    let pinned: BTreeMap<_, _> = values
        .iter()
        .filter(|(name, _)| !params.iter().any(|p| &p.name == *name && p.resumable))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // Held until the run ends, also when it fails: released by the system even on SIGKILL.
    let _workdir_lock = if options.dry_run {
        None
    } else {
        Some(lock_workdir(&options.workdir)?)
    };
    let journal_path = journal::path_for(&options.workdir, &options.runbook, &options.target);
    if options.fresh && !options.dry_run && journal_path.exists() {
        let question = format!(
            "--fresh starts {runbook_name} over: journal {} is moved aside.",
            journal_path.display()
        );
        ctx.consent().ask(&question, "start over")?;
        if let Some(aside) = journal::move_aside(&journal_path)? {
            let (from, to) = (journal_path.display(), aside.display());
            ctx.log(
                output::Level::Info,
                format!("--fresh: moved journal {from} to {to}"),
            );
        }
    }
    let read_from = (!options.fresh).then_some(journal_path.as_path());
    let save_to = if options.dry_run {
        journal::path_for(ctx.workdir(), &options.runbook, &options.target)
    } else {
        journal_path.clone()
    };
    let mut journal = Journal::open(read_from, save_to, &runbook_name, &options.target, pinned)?;
    for note in journal.notes() {
        ctx.log(output::Level::Warn, note.clone());
    }
    for finished in journal.steps() {
        let value = values::from_json(&finished.outputs, &finished.name).map_err(|source| {
            RunError::Recorded {
                path: journal_path.clone(),
                source: Box::new(source),
            }
        })?;
        ctx.lock_script()
            .outputs
            .insert(finished.name.clone(), value);
    }
    for item in journal.summary() {
        ctx.summary().set(&item.key, item.value.clone());
    }
    let pending: Vec<&str> = steps
        .iter()
        .zip(&selected)
        .filter(|(step, chosen)| **chosen && !done(&journal, step))
        .map(|(step, _)| step.name.as_str())
        .collect();
    if let Some(last) = journal.steps().last() {
        refuse_a_new_sim(options, &journal, &steps, &pending, &journal_path)?;
        if pending.is_empty() {
            ctx.log(
                output::Level::Info,
                format!(
                    "journal {} records every {}step of {runbook_name} against {} as finished, \
                     the last at {}: nothing is left to do (--fresh starts it over)",
                    journal_path.display(),
                    if selected.iter().all(|chosen| *chosen) {
                        ""
                    } else {
                        "selected "
                    },
                    options.target,
                    last.finished_at
                ),
            );
        }
    }

    // Ask before the first step, not half way: a refusal then leaves nothing done.
    if !options.dry_run {
        let first_change = steps
            .iter()
            .zip(&selected)
            .find(|(step, chosen)| **chosen && step.changes_cluster && !done(&journal, step));
        if let Some((step, _)) = first_change {
            ctx.ensure(&format!("run step `{}`", step.name))?;
        }
    }

    create_workdir(ctx.workdir())?;

    let out = ctx.output();
    out.emit(Event::RunStarted {
        runbook: runbook_name,
        target: options.target.clone(),
        // A dry-run's files go to its scratch directory: say so.
        workdir: if options.dry_run {
            ctx.workdir()
        } else {
            options.workdir.as_path()
        }
        .display()
        .to_string(),
        dry_run: options.dry_run,
        params: serde_json::to_value(&values).unwrap_or_default(),
    });
    let (mut ran, mut skipped) = (0, 0);
    let mut stopped: Option<StopRun> = None;
    for (step, chosen) in steps.iter().zip(selected) {
        let reason = if !chosen {
            Some("not selected")
        } else if done(&journal, step) {
            Some("finished in an earlier run (outputs reused from the journal)")
        } else {
            None
        };
        if let Some(reason) = reason {
            out.emit(Event::StepSkipped {
                step: step.name.clone(),
                reason: reason.to_owned(),
            });
            skipped += 1;
            continue;
        }
        if let Some(stop) = &stopped {
            out.emit(Event::StepSkipped {
                step: step.name.clone(),
                reason: format!("the run stopped before it: {}", stop.reason),
            });
            skipped += 1;
            continue;
        }
        match run_step(ctx, options, step, call, &mut journal) {
            Ok(Finished::Done) => ran += 1,
            Ok(Finished::Stopped(stop)) => {
                skipped += 1;
                stopped = Some(stop);
            }
            Err(error) => {
                emit_summary(ctx, options);
                out.emit(Event::RunFinished {
                    ran,
                    skipped,
                    failed: true,
                });
                return Err(error);
            }
        }
    }
    emit_summary(ctx, options);
    out.emit(Event::RunFinished {
        ran,
        skipped,
        failed: false,
    });
    Ok(())
}

/// `--sim` starts its cluster from the scenario on every run: steps that changed the cluster in
/// an earlier run did not change this one, so continuing after them would act on a cluster
/// that is not where the journal says. Refused, unless nothing is left to run.
fn refuse_a_new_sim(
    options: &RunOptions,
    journal: &Journal,
    steps: &[StepDecl],
    pending: &[&str],
    journal_path: &std::path::Path,
) -> Result<(), RunError> {
    // `sim:SCENARIO` is the target of `--sim` (cluster::target::Scenario::target); a kubeconfig
    // target, `runner sim serve`'s included, is `CONTEXT@URL` and keeps its state.
    if !options.target.starts_with("sim:") || pending.is_empty() {
        return Ok(());
    }
    let changed: Vec<String> = journal
        .steps()
        .iter()
        .filter(|finished| {
            steps
                .iter()
                .any(|step| step.name == finished.name && step.changes_cluster)
        })
        .map(|finished| finished.name.clone())
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(journal::JournalError::SimStartedAnew {
        path: journal_path.to_owned(),
        target: options.target.clone(),
        steps: changed,
    }
    .into())
}

/// The end-of-run summary, when the runbook or the host has something to say.
fn emit_summary(ctx: &RunContext, options: &RunOptions) {
    let mut items = ctx.summary().items();
    if let Some(source) = &options.summary_source {
        items.extend(source.lines());
    }
    if !items.is_empty() {
        ctx.output().emit(Event::Summary { items });
    }
}

/// How a step that did not fail ended.
enum Finished {
    /// Finished and recorded.
    Done,
    /// The runbook asked to end the run before this step finished (`stop_run`).
    Stopped(StopRun),
}

fn run_step(
    ctx: &Arc<RunContext>,
    options: &RunOptions,
    step: &StepDecl,
    call: &mut StepCaller<'_>,
    journal: &mut Journal,
) -> Result<Finished, RunError> {
    let _span = info_span!("step", name = %step.name).entered();
    let out = ctx.output();
    if step.changes_cluster && !options.dry_run {
        ctx.ensure(&format!("run step `{}`", step.name))?;
    }
    out.emit(Event::StepStarted {
        step: step.name.clone(),
        description: step.description.clone(),
    });
    {
        let mut script = ctx.lock_script();
        script.current_step = Some(step.name.clone());
        script.step_started_at = Some(time::OffsetDateTime::now_utc());
    }
    if step.changes_cluster && options.dry_run {
        ctx.would(format!(
            "run step `{}`, which changes the cluster (dry-run: primitives only report)",
            step.name
        ));
    }

    let result: Result<Dynamic, Box<EvalAltResult>> = call(&step.body);
    {
        let mut script = ctx.lock_script();
        script.current_step = None;
        script.step_started_at = None;
    }

    let fail = |message: String| {
        out.emit(Event::StepFailed {
            step: step.name.clone(),
            error: message.clone(),
        });
        tracing::debug!(step = %step.name, error = %message, "step failed");
    };
    let value = match result {
        Ok(value) => value,

        Err(error)
            if ctx.is_cancelled()
                || matches!(error.unwrap_inner(), EvalAltResult::ErrorTerminated(..)) =>
        {
            fail("cancelled".to_owned());
            return Err(RunError::Cancelled {
                step: step.name.clone(),
            });
        }
        Err(error) => {
            if let Some(stop) = StopRun::from_error(&error) {
                out.emit(Event::StepSkipped {
                    step: step.name.clone(),
                    reason: format!("the run stops here, as the runbook asked: {}", stop.reason),
                });
                return Ok(Finished::Stopped(stop));
            }
            let message = runbook::describe_in_step(&error, step);
            fail(message.clone());
            return Err(RunError::StepFailed {
                step: step.name.clone(),
                message,
            });
        }
    };
    let outputs = match values::to_json(&value, &step.name) {
        Ok(outputs) => outputs,
        Err(source) => {
            fail(source.to_string());
            return Err(RunError::Outputs {
                step: step.name.clone(),
                source: Box::new(source),
            });
        }
    };
    journal.record(&step.name, outputs.clone(), ctx.summary().items())?;
    tracing::debug!("step finished");
    ctx.lock_script().outputs.insert(step.name.clone(), value);
    out.emit(Event::StepFinished {
        step: step.name.clone(),
        outputs,
    });
    Ok(Finished::Done)
}

/// Creates the workdir, readable by its owner only: generated keys live there. Only now, once
/// every check passed, so that a refused run writes nothing.
fn create_workdir(dir: &std::path::Path) -> Result<(), RunError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| RunError::Workdir {
        path: dir.to_owned(),
        source,
    })
}

/// Whether an earlier run finished `step`, so that this one skips it and reuses its outputs.
fn done(journal: &Journal, step: &StepDecl) -> bool {
    !step.every_run && journal.finished(&step.name).is_some()
}

/// Creates the workdir and takes its lock, before the journal is read: two runs in one
/// workdir would read the same journal, both generate or restart, and overwrite each other's
/// records. A second run is refused at once rather than queued behind the first.
fn lock_workdir(dir: &std::path::Path) -> Result<std::fs::File, RunError> {
    create_workdir(dir)?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| RunError::WorkdirLock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(RunError::WorkdirBusy {
            workdir: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(RunError::WorkdirLock { path, source }),
    }
}

/// Which declared steps run: `--from` onwards, only those in `--only` (if given), minus
/// `--skip`. Unknown names are reported together with the known ones.
fn select(options: &RunOptions, steps: &[StepDecl]) -> Result<Vec<bool>, RunError> {
    let split = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .flat_map(|n| n.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (only, skip) = (split(&options.only), split(&options.skip));
    let known: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
    for (option, given, names) in [
        ("--only", &options.only, &only),
        ("--skip", &options.skip, &skip),
    ] {
        if !given.is_empty() && names.is_empty() {
            return Err(RunError::NoStepNamed {
                option,
                runbook: options.runbook.display().to_string(),
                known,
            });
        }
    }
    let mut unknown: Vec<String> = only
        .iter()
        .chain(&skip)
        .chain(options.from.as_ref())
        .filter(|name| !known.contains(name))
        .cloned()
        .collect();
    unknown.dedup();
    if !unknown.is_empty() {
        let runbook = options.runbook.display().to_string();
        return Err(RunError::UnknownSteps {
            runbook,
            unknown,
            known,
        });
    }
    let start = options
        .from
        .as_ref()
        .and_then(|from| known.iter().position(|n| n == from))
        .unwrap_or(0);
    let selected: Vec<bool> = known
        .iter()
        .enumerate()
        .map(|(i, name)| {
            i >= start && (only.is_empty() || only.contains(name)) && !skip.contains(name)
        })
        .collect();
    // A runbook without steps has nothing to choose from; otherwise choosing nothing is a
    // mistake in the options, not a successful run.
    if !known.is_empty() && !selected.contains(&true) {
        return Err(RunError::NothingSelected {
            runbook: options.runbook.display().to_string(),
        });
    }
    Ok(selected)
}

fn list(
    out: &Output,
    options: &RunOptions,
    description: &str,
    steps: &[StepDecl],
    params: &[params::Param],
) {
    let runbook = options.runbook.display().to_string();
    if out.format() == Format::Json {
        out.emit(Event::ListRunbook {
            runbook,
            description: description.to_owned(),
        });
        for step in steps {
            out.emit(Event::ListStep {
                step: step.name.clone(),
                description: step.description.clone(),
                changes_cluster: step.changes_cluster,
            });
        }
        for param in params {
            out.emit(Event::ListParam {
                name: param.name.clone(),
                kind: param.kind.name().to_owned(),
                default: params::to_json(&param.default),
                description: param.description.clone(),
            });
        }
        return;
    }
    out.emit(Event::ListRunbook {
        runbook,
        description: description.to_owned(),
    });
    let steps: Vec<_> = steps
        .iter()
        .map(|s| (s.name.clone(), s.description.clone(), s.changes_cluster))
        .collect();
    let params: Vec<_> = params
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                params::display(&p.default),
                p.description.clone(),
            )
        })
        .collect();
    out.write_raw(&output::list_table(&steps, &params));
}
