//! [`Report`]: the result of the identity checks as a value (serialisable, so a runbook can
//! assert on it) and its rendering in `linkerd check`'s format.

use std::fmt;

use serde::Serialize;

use super::dataplane::StalePod;

/// Where a check's hint lives: this base plus its anchor (LINKERD.md §3.1).
pub const HINT_BASE: &str = "https://linkerd.io/2/checks/#";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// A failed warning check (`‼`): reported, does not fail the run.
    Warning,
    /// A failed check (`×`).
    Error,
}

/// How a failure of the check counts (LINKERD.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stops every later check.
    Fatal,
    Error,
    Warning,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub description: String,
    pub hint_anchor: String,
    pub severity: Severity,
    pub status: Status,
    /// Why it failed, `linkerd check`'s wording where it has one.
    pub message: Option<String>,
}

impl CheckResult {
    pub(crate) fn new(description: &str, hint_anchor: &str, severity: Severity) -> Self {
        Self {
            description: description.to_owned(),
            hint_anchor: hint_anchor.to_owned(),
            severity,
            status: Status::Ok,
            message: None,
        }
    }

    /// Marks the check failed with `message`, as a warning or an error by its severity.
    pub(crate) fn fail(mut self, message: impl Into<String>) -> Self {
        self.status = match self.severity {
            Severity::Warning => Status::Warning,
            Severity::Fatal | Severity::Error => Status::Error,
        };
        self.message = Some(message.into());
        self
    }

    pub fn passed(&self) -> bool {
        self.status == Status::Ok
    }

    /// A failed fatal check: `linkerd check` runs nothing after it.
    pub fn stops(&self) -> bool {
        self.status == Status::Error && self.severity == Severity::Fatal
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub name: String,
    pub checks: Vec<CheckResult>,
}

/// The checks run, section by section. A fatal failure ends the report: the checks after it
/// were not run and are absent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub sections: Vec<Section>,
    /// The pods the data-plane check found stale, with the anchors each lacks.
    pub stale_pods: Vec<StalePod>,
}

impl Report {
    /// No check failed with an error (warnings allowed).
    pub fn success(&self) -> bool {
        self.checks().all(|c| c.status != Status::Error)
    }

    pub fn has_warnings(&self) -> bool {
        self.checks().any(|c| c.status == Status::Warning)
    }

    /// Whether a fatal check failed, so later checks did not run.
    pub fn stopped(&self) -> bool {
        self.checks().any(CheckResult::stops)
    }

    /// The check with this description, if it ran.
    pub fn check(&self, description: &str) -> Option<&CheckResult> {
        self.checks().find(|c| c.description == description)
    }

    pub fn checks(&self) -> impl Iterator<Item = &CheckResult> {
        self.sections.iter().flat_map(|s| s.checks.iter())
    }
}

/// Prints like `linkerd check`: a header per section, `√` / `×` / `‼` lines, then the
/// message and hint of each failure indented by four spaces, and the final status line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", section.name)?;
            writeln!(f, "{}", "-".repeat(section.name.chars().count()))?;
            for check in &section.checks {
                let mark = match check.status {
                    Status::Ok => '√',
                    Status::Warning => '‼',
                    Status::Error => '×',
                };
                writeln!(f, "{mark} {}", check.description)?;
                if check.passed() {
                    continue;
                }
                // Like `linkerd check`, only the first line is indented: later lines carry
                // their own tab (`\t* ns/pod`).
                if let Some(message) = &check.message {
                    writeln!(f, "    {message}")?;
                }
                writeln!(f, "    see {HINT_BASE}{} for hints", check.hint_anchor)?;
            }
        }
        writeln!(f)?;
        let mark = if self.success() { '√' } else { '×' };
        writeln!(f, "Status check results are {mark}")
    }
}
