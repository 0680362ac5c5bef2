//! Operator-facing output: every event of a run goes through [`Output::emit`], which prints it
//! as a human line (the default) or as one JSON object per line (`--output json`).
//!
//! Diagnostic logs are a separate channel (`tracing`, on stderr): nothing here writes logs, and
//! nothing else in the crate writes to stdout.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

mod redact;

use redact::redact_strings;
pub use redact::{RedactingWriter, redact_private_keys, redacting_stderr};

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Step headers, results and √/× marks, like `linkerd check`.
    Human,
    /// One JSON object per line with an `event` field; nothing else on stdout.
    Json,
}

/// One thing that happened during a run, in the order it happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A runbook run begins.
    RunStarted {
        runbook: String,
        target: String,
        workdir: String,
        dry_run: bool,
        /// The parameter values of this run.
        params: Value,
    },
    /// A step begins.
    StepStarted { step: String, description: String },
    /// A step is not run, with the reason.
    StepSkipped { step: String, reason: String },
    /// A message from the runbook (`print`, `log_info`, `log_warn`) or from a primitive.
    Log {
        step: Option<String>,
        level: Level,
        message: String,
    },
    /// In a dry-run, what a primitive would have done.
    Would {
        step: Option<String>,
        action: String,
        /// How sure the plan is of this part.
        basis: Basis,
    },
    /// The fields a write changed, or in a dry-run would change; secret values appear only
    /// as fingerprints.
    Diff {
        step: Option<String>,
        object: String,
        dry_run: bool,
        changes: Vec<crate::cluster::FieldChange>,
    },
    /// A workload restarted by `restart_ns` changed phase or what its rollout waits for.
    Rollout {
        step: Option<String>,
        /// `Deployment emojivoto/web`.
        object: String,
        /// `rolling`, `complete`, `dry-run`, `failed`, `timed out`, `cancelled`.
        status: String,
        message: String,
        /// Since the workload's restart.
        seconds: f64,
    },
    /// A step finished; its outputs as recorded in the journal.
    StepFinished { step: String, outputs: Value },
    /// A step failed.
    StepFailed { step: String, error: String },
    /// The end-of-run summary: lines from the runbook (`summary(key, value)`) and the host.
    Summary {
        items: Vec<crate::engine::SummaryItem>,
    },
    /// The run ended.
    RunFinished {
        ran: usize,
        skipped: usize,
        failed: bool,
    },
    /// `--list`: the runbook's description.
    ListRunbook {
        runbook: String,
        description: String,
    },
    /// `--list`: one step.
    ListStep {
        step: String,
        description: String,
        changes_cluster: bool,
    },
    /// `--list`: one parameter with its default.
    ListParam {
        name: String,
        kind: String,
        default: Value,
        description: String,
    },
}

/// How a dry-run knows what it reports: the three kinds of certainty a plan mixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Read from the cluster or computed from what was read: the real run does the same.
    Exact,
    /// The API server accepted the write as a server-side dry-run (`dryRun=All`).
    ServerValidated,
    /// What a wait or a controller is expected to do; nothing could confirm it in advance.
    Predicted,
}

impl Basis {
    /// The word the human output shows beside the action.
    pub fn label(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::ServerValidated => "server-validated",
            Self::Predicted => "predicted",
        }
    }
}

/// The level of a [`Event::Log`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Debug,
}

/// The sink every event goes through.
pub struct Output {
    format: Format,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

// === impl Output ===

impl Output {
    /// Output to stdout in the given format.
    pub fn stdout(format: Format) -> Self {
        Self::new(format, Box::new(std::io::stdout()))
    }

    /// Output to any writer (tests, `runner doc`).
    pub fn new(format: Format, out: Box<dyn Write + Send>) -> Self {
        Self {
            format,
            out: Mutex::new(out),
        }
    }

    /// The format events are printed in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Prints one event. A closed stdout is not a reason to stop a rotation half way, so write
    /// errors are logged and otherwise ignored.
    pub fn emit(&self, event: Event) {
        match self.format {
            Format::Human => self.write_raw(&human(&event)),
            Format::Json => {
                let mut line = serde_json::to_string(&event).unwrap_or_default();
                if line.contains("PRIVATE KEY") {
                    // Redact inside the strings, before JSON escaping adds its own backslashes
                    // (the label itself is never escaped, so the test above finds every key).
                    let mut value = serde_json::to_value(&event).unwrap_or_default();
                    redact_strings(&mut value);
                    line = value.to_string();
                }
                self.write_raw(&(line + "\n"));
            }
        }
    }

    /// Writes text that is not an event (the `--list` tables) through the same sink.
    pub fn write_raw(&self, text: &str) {
        let text = redact_private_keys(text);
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::debug!(%error, "writing output");
        }
    }
}

fn human(event: &Event) -> String {
    match event {
        Event::RunStarted {
            runbook,
            target,
            workdir,
            dry_run,
            ..
        } => {
            if *dry_run {
                // The scratch folder goes with the process: say so, so nobody looks for it.
                format!(
                    "dry run of {runbook} (target {target}, temporary workdir {workdir}, \
                     removed when the run ends)\n"
                )
            } else {
                format!("running {runbook} (target {target}, workdir {workdir})\n")
            }
        }
        Event::StepStarted { step, description } => format!("\n{step}: {description}\n"),
        Event::StepSkipped { step, reason } => format!("- {step}: skipped, {reason}\n"),
        Event::Log {
            level: Level::Warn,
            message,
            ..
        } => format!("  ‼ {message}\n"),
        Event::Log { message, .. } => format!("  {message}\n"),
        Event::Would { action, basis, .. } => format!("  would {action} [{}]\n", basis.label()),
        Event::Diff { changes, .. } => crate::cluster::diff::render(changes),
        // Only the end of each workload's rollout: the progress in between is the bar's.
        Event::Rollout {
            object,
            status,
            message,
            seconds,
            ..
        } => match status.as_str() {
            "rolling" | "dry-run" => String::new(),
            "complete" => format!("  √ {object} rolled out ({seconds:.1}s)\n"),
            _ => format!("  × {object} {status} after {seconds:.1}s: {message}\n"),
        },
        Event::StepFinished { step, outputs } => {
            let mut text = format!("√ {step}\n");
            if let Value::Object(fields) = outputs {
                for (key, value) in fields {
                    let value = summarize(value);
                    text.push_str(&format!("  {key}: {value}\n"));
                }
            }
            text
        }
        Event::StepFailed { step, error } => format!("× {step}: {error}\n"),
        Event::Summary { items } => {
            let width = items
                .iter()
                .map(|i| i.key.chars().count())
                .max()
                .unwrap_or(0);
            let mut text = String::from("\nsummary:\n");
            for item in items {
                text.push_str(&format!("  {:width$}  {}\n", item.key, item.value));
            }
            text
        }
        Event::RunFinished {
            ran,
            skipped,
            failed,
        } => {
            let verdict = if *failed { "failed" } else { "done" };
            format!("\n{verdict}: {ran} step(s) run, {skipped} skipped\n")
        }
        Event::ListRunbook {
            runbook,
            description,
        } if description.is_empty() => {
            format!("{runbook}\n")
        }
        Event::ListRunbook {
            runbook,
            description,
        } => format!("{runbook}\n  {description}\n"),
        Event::ListStep { .. } | Event::ListParam { .. } => {
            // `--list` prints aligned tables, which need every row at once: see `list_table`.
            String::new()
        }
    }
}

/// One line for a recorded output: host values by what identifies them (a certificate by its
/// fingerprint and file), not by their whole PEM.
fn summarize(value: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) if map.contains_key("$type") => {
            text(map.get("value")).unwrap_or_else(|| value.to_string())
        }
        Value::Object(map) if map.contains_key("$pki") => {
            let kind = text(map.get("$pki")).unwrap_or_default();
            let ids = match (map.get("fingerprint"), map.get("fingerprints")) {
                (Some(one), _) => text(Some(one)).unwrap_or_default(),
                (None, Some(Value::Array(all))) => all
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            match text(map.get("cert_path")) {
                Some(path) => format!("{kind} {ids} ({path})"),
                None => format!("{kind} {ids}"),
            }
        }
        other => other.to_string(),
    }
}

/// Renders `--list` as aligned columns: the steps, then the parameters with their defaults.
pub fn list_table(steps: &[(String, String, bool)], params: &[(String, String, String)]) -> String {
    let mut text = String::from("\nSteps:\n");
    let width = steps.iter().map(|(name, ..)| name.len()).max().unwrap_or(0);
    for (name, description, changes_cluster) in steps {
        let mark = if *changes_cluster {
            " [changes the cluster]"
        } else {
            ""
        };
        text.push_str(&format!("  {name:width$}  {description}{mark}\n"));
    }
    text.push_str("\nParameters:\n");
    if params.is_empty() {
        text.push_str("  (none)\n");
    }
    let name_width = params
        .iter()
        .map(|(name, ..)| name.len())
        .max()
        .unwrap_or(0);
    let default_width = params
        .iter()
        .map(|(_, default, _)| default.len())
        .max()
        .unwrap_or(0);
    for (name, default, description) in params {
        text.push_str(&format!(
            "  {name:name_width$} = {default:default_width$}  {description}\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_events_stay_valid_json_when_redacted() {
        for form in super::redact::tests::key_forms() {
            let buffer = std::sync::Arc::new(Mutex::new(Vec::new()));
            let output = Output::new(Format::Json, Box::new(SharedBuffer(buffer.clone())));
            output.emit(Event::StepFailed {
                step: "s".into(),
                error: format!("x {form} y"),
            });
            let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
            assert!(!text.contains(super::redact::tests::BODY), "{text}");
            let value: Value = serde_json::from_str(&text).expect(&text);
            assert_eq!(value["event"], "step_failed");
        }
    }

    #[test]
    fn json_events_redact_keys_inside_strings() {
        let buffer = std::sync::Arc::new(Mutex::new(Vec::new()));
        let output = Output::new(Format::Json, Box::new(SharedBuffer(buffer.clone())));
        output.emit(Event::StepFailed {
            step: "s".into(),
            error: "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n".into(),
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "{\"error\":\"[redacted private key]\\n\",\"event\":\"step_failed\",\"step\":\"s\"}\n"
        );
    }

    struct SharedBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_events_are_one_line_with_an_event_field() {
        let event = Event::StepSkipped {
            step: "generate".into(),
            reason: "finished".into(),
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(
            line,
            r#"{"event":"step_skipped","step":"generate","reason":"finished"}"#
        );
    }
}
