//! The summary printed at the end of a run: facts the runbook contributes with
//! `summary(key, value)` (the roots before and after, what was restarted) and facts the host
//! adds from what only it can see (the simulated cluster's failed connections).
//!
//! The runbook knows what it rotated; the host knows what the cluster recorded. Neither can
//! produce the other's lines, so both feed one list, printed once after the last step.

use std::sync::{Arc, Mutex};

use rhai::{Dynamic, Engine, FuncRegistration};
use serde::{Deserialize, Serialize};

use super::context::RunContext;

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryItem {
    pub key: String,
    pub value: String,
}

impl SummaryItem {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The lines a runbook contributed during a run, in the order of their first contribution;
/// a key given again replaces its value (a resumed step says the same thing once).
#[derive(Debug, Default)]
pub struct Summary {
    items: Mutex<Vec<SummaryItem>>,
}

impl Summary {
    /// Sets `key` to `value`, keeping the key's place when it was set before.
    pub fn set(&self, key: &str, value: String) {
        let mut items = self.lock();
        match items.iter_mut().find(|item| item.key == key) {
            Some(item) => item.value = value,
            None => items.push(SummaryItem::new(key, value)),
        }
    }

    /// The lines so far.
    pub fn items(&self) -> Vec<SummaryItem> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SummaryItem>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Lines the host adds at the end of a run, computed then (so that they count everything
/// that happened during the run).
#[derive(Clone)]
pub struct SummarySource(Arc<dyn Fn() -> Vec<SummaryItem> + Send + Sync>);

impl SummarySource {
    pub fn new(lines: impl Fn() -> Vec<SummaryItem> + Send + Sync + 'static) -> Self {
        Self(Arc::new(lines))
    }

    pub fn lines(&self) -> Vec<SummaryItem> {
        (self.0)()
    }
}

impl std::fmt::Debug for SummarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SummarySource")
    }
}

/// The summary's lines of the simulated cluster's failure record: how many connections were
/// sampled and failed, and when some failed, between which namespaces and why.
pub fn sim_failures(record: crate::sim::mesh::FailureRecord) -> SummarySource {
    SummarySource::new(move || {
        let failed = record.failed();
        let mut value = format!("{failed} of {} sampled", record.connections());
        if failed > 0 {
            let mut reasons: Vec<String> = Vec::new();
            for failure in record.failures() {
                let ns = |pod: &str| pod.split('/').next().unwrap_or_default().to_owned();
                let line = format!(
                    "{} -> {}: {}",
                    ns(&failure.from),
                    ns(&failure.to),
                    failure.reason
                );
                if !reasons.contains(&line) {
                    reasons.push(line);
                }
            }
            value.push_str(&format!(" ({})", reasons.join("; ")));
        }
        vec![SummaryItem::new("failed connections (sim)", value)]
    })
}

/// A script value as one summary line: lists joined with commas, text as it is.
fn render(value: &Dynamic) -> String {
    if let Some(items) = value.read_lock::<rhai::Array>() {
        return items.iter().map(render).collect::<Vec<_>>().join(", ");
    }
    value.to_string()
}

/// Registers `summary(key, value)`.
pub(crate) fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    FuncRegistration::new("summary")
        .with_params_info(["key: string", "value: ?", "()"])
        .with_comments([
            "/// Adds a line to the summary printed at the end of the run (a key set again is",
            "/// replaced). Lists print comma-separated. Never pass a private key: the summary is",
            "/// output like any other.",
            "///",
            "/// ```rhai",
            "/// summary(\"new root\", `${root.fingerprint} (until ${root.not_after})`);",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |key: &str, value: Dynamic| -> Result<(), Box<rhai::EvalAltResult>> {
                c.require_step("summary")?;
                c.summary().set(key, render(&value));
                Ok(())
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_again_keeps_its_place_and_takes_the_new_value() {
        let summary = Summary::default();
        summary.set("new root", "a".into());
        summary.set("restarts", "emojivoto: 4".into());
        summary.set("new root", "b".into());
        assert_eq!(
            summary.items(),
            vec![
                SummaryItem::new("new root", "b"),
                SummaryItem::new("restarts", "emojivoto: 4")
            ]
        );
    }

    #[test]
    fn lists_render_comma_separated() {
        let list = Dynamic::from_array(vec!["a".into(), "b".into()]);
        assert_eq!(render(&list), "a, b");
        assert_eq!(render(&Dynamic::from(3_i64)), "3");
    }

    #[test]
    fn the_sim_source_counts_failures_and_names_their_reasons() {
        let record = crate::sim::mesh::FailureRecord::default();
        let source = sim_failures(record.clone());
        assert_eq!(
            source.lines(),
            vec![SummaryItem::new(
                "failed connections (sim)",
                "0 of 0 sampled"
            )]
        );
    }
}
