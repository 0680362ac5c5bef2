//! How `restart_ns` shows its progress and reports its outcome: a progress bar (indicatif,
//! on stderr) when stdout is a terminal with human output, a `rollout` event per change of a
//! workload's phase in JSON output, findings as warnings before anything is restarted, and a
//! dry-run's patches as diffs.

use std::io::IsTerminal as _;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rhai::Dynamic;

use super::Cluster;
use super::inventory::Finding;
use super::rollout::{self, Phase, RestartOptions, Restarted};
use super::script::{ScriptResult, block, fail, terminated, to_script};
use crate::engine::RunContext;
use crate::output::{Basis, Event, Format, Level};

fn bar(ctx: &RunContext) -> Option<ProgressBar> {
    let shown = ctx.output().format() == Format::Human && std::io::stdout().is_terminal();
    shown.then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("  {bar:30} {pos}/{len} rollouts {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    })
}

/// Restarts, shows progress, and turns the report into the script's value.
pub(super) fn run(
    ctx: &RunContext,
    cluster: &Cluster,
    options: &RestartOptions,
) -> ScriptResult<Dynamic> {
    let bar = bar(ctx);
    let output = Arc::clone(ctx.output());
    let step = ctx.current_step();
    let shown = bar.clone();
    let progress: rollout::ProgressFn = Arc::new(move |entry: &Restarted| {
        if let Some(bar) = &shown {
            match entry.phase {
                Phase::Rolling if entry.message == "restarted" => bar.inc_length(1),
                Phase::Rolling => bar.set_message(format!("{}: {}", entry.object(), entry.message)),
                _ => bar.inc(1),
            }
        }
        let event = Event::Rollout {
            step: step.clone(),
            object: entry.object(),
            status: entry.phase.label().to_owned(),
            message: entry.message.clone(),
            seconds: (entry.seconds * 1000.0).round() / 1000.0,
        };
        match &shown {
            Some(bar) => bar.suspend(|| output.emit(event)),
            None => output.emit(event),
        }
    });
    let warn = |findings: &[Finding]| {
        for f in findings {
            let text = format!("{} {}/{}: {}", f.kind, f.namespace, f.name, f.problem);
            ctx.log(Level::Warn, text);
        }
    };
    let restarting = rollout::restart(cluster, options, progress, ctx.cancel_flag(), &warn);
    let report = block(ctx, restarting);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report?;

    if ctx.is_cancelled() || report.restarted.iter().any(|r| r.phase == Phase::Cancelled) {
        return Err(terminated());
    }
    if ctx.dry_run() {
        for entry in &report.restarted {
            if entry.phase == Phase::Failed {
                continue;
            }
            ctx.would_as(
                Basis::ServerValidated,
                format!("restart {}", entry.object()),
            );
            if !entry.changes.is_empty() {
                ctx.output().emit(Event::Diff {
                    step: ctx.current_step(),
                    object: entry.object(),
                    dry_run: true,
                    changes: entry.changes.clone(),
                });
            }
        }
        let rolling = report
            .restarted
            .iter()
            .filter(|r| r.phase == Phase::DryRun)
            .count();
        if rolling > 0 {
            ctx.would_as(
                Basis::Predicted,
                format!("wait for {rolling} rollout(s) to complete"),
            );
        }
    }
    let failed: Vec<String> = report
        .restarted
        .iter()
        .filter(|r| matches!(r.phase, Phase::Failed | Phase::TimedOut))
        .map(|r| {
            format!(
                "{} {} after {:.1}s ({})",
                r.object(),
                r.phase.label(),
                r.seconds,
                r.message
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(fail(format!(
            "restart_ns: {} of {} rollouts did not complete: {}",
            failed.len(),
            report.restarted.len(),
            failed.join("; ")
        )));
    }
    if !ctx.dry_run() {
        ctx.log(
            Level::Info,
            format!("restarted {} workload(s)", report.restarted.len()),
        );
    }
    let restarted: Vec<_> = report
        .restarted
        .iter()
        .map(|r| {
            serde_json::json!({
                "kind": r.kind,
                "namespace": r.namespace,
                "name": r.name,
                "status": r.phase.label(),
                "seconds": r.seconds,
                "message": r.message,
            })
        })
        .collect();
    to_script(&serde_json::json!({ "restarted": restarted, "findings": report.findings }))
}
