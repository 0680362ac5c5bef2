//! The journal: which steps of a runbook finished against which cluster, with their outputs,
//! so that a second run resumes after the last finished step and reuses what it produced.
//!
//! One file per runbook and target in `WORKDIR/journal/`, so runbooks and clusters can share a
//! workdir. Every save writes a temporary file, syncs it and renames it over the old one: a
//! kill at any moment leaves either the old or the new journal, both readable.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::summary::SummaryItem;

const VERSION: u32 = 1;

/// The workdir folder that holds the journals.
pub(crate) const DIR: &str = "journal";

/// The recorded state of one runbook against one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub version: u32,
    /// The runbook's file name: with `target`, what identifies the rotation to an operator.
    pub runbook: String,
    pub target: String,
    /// Where the runbook was when the journal was last saved, and the SHA-256 of its text:
    /// a re-clone or an edited runbook still resumes, and the run says what changed.
    #[serde(default)]
    pub runbook_path: String,
    #[serde(default)]
    pub runbook_sha256: String,
    /// The parameter values of the run that started this journal.
    pub params: BTreeMap<String, Value>,
    pub steps: Vec<FinishedStep>,
    /// The summary lines the finished steps contributed, so that a resumed or completed run
    /// still ends with them (the roots before and after, what was restarted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<SummaryItem>,
}

/// A step that finished, with what it produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FinishedStep {
    pub name: String,
    /// RFC 3339, UTC.
    pub finished_at: String,
    pub outputs: Value,
}

/// The journal of this run: read from one place, saved to another (the same one, except in a
/// dry-run, which reads the real journal and writes only to its temporary workdir).
#[derive(Debug)]
pub struct Journal {
    save_to: PathBuf,
    record: Record,
    notes: Vec<String>,
}

/// The absolute path of a runbook and the SHA-256 of its text (empty when unreadable: the
/// runbook was read moments ago, so this only loses the note, never the run).
fn identify(runbook: &Path) -> (String, String) {
    let path = std::fs::canonicalize(runbook)
        .or_else(|_| std::path::absolute(runbook))
        .unwrap_or_else(|_| runbook.to_path_buf());
    let sha256 = std::fs::read(runbook)
        .map(|text| hex::encode(Sha256::digest(&text)))
        .unwrap_or_default();
    (path.display().to_string(), sha256)
}

fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// Problems with the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("reading journal {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {path} is corrupted (remove it or run with --fresh to start over)")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("journal {path} has version {version}, this runner reads version {VERSION}")]
    Version { path: PathBuf, version: u32 },
    #[error(
        "journal {path} belongs to runbook {runbook} and target {target}, not to runbook \
         {this_runbook} and target {this_target} (move it away or use another --workdir)"
    )]
    Mismatch {
        path: PathBuf,
        runbook: String,
        target: String,
        this_runbook: String,
        this_target: String,
    },
    #[error(
        "journal {path} was recorded with other values for parameter(s) {}: run with the same values to resume, or with --fresh to start over",
        keys.join(", ")
    )]
    ParamsChanged { path: PathBuf, keys: Vec<String> },
    #[error(
        "journal {path} records finished step(s) {} of a run against {target}, but --sim starts \
         its simulated cluster anew on every run, so this one holds none of their changes: run \
         with --fresh to rehearse from the start (to rehearse an interruption, serve the cluster \
         with `runner sim serve` and run against its kubeconfig, which keeps its state)",
        steps.join(", ")
    )]
    SimStartedAnew {
        path: PathBuf,
        target: String,
        steps: Vec<String>,
    },
    #[error("writing journal {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("moving journal {path} aside")]
    MoveAside {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The name a journal knows a runbook by: its file name, the same in every checkout.
pub fn runbook_name(runbook: &Path) -> String {
    runbook.file_name().map_or_else(
        || runbook.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// Where the journal of `runbook` against `target` lives in `workdir`: keyed by the runbook's
/// file name and the target, not its path, so that a re-clone or another checkout using the
/// same workdir finds the rotation it started.
pub fn path_for(workdir: &Path, runbook: &Path, target: &str) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(runbook_name(runbook).as_bytes());
    hasher.update(b"\n");
    hasher.update(target.as_bytes());
    let key = hex::encode(&hasher.finalize()[..6]);
    let stem = runbook
        .file_stem()
        .map_or_else(|| "runbook".into(), |s| s.to_string_lossy());
    workdir.join(DIR).join(format!("{stem}.{key}.json"))
}

/// Moves a journal aside (`NAME.json.TIMESTAMP.bak`, the time in nanoseconds) so that `--fresh`
/// starts over without destroying what the old run recorded. An existing backup is never
/// replaced: a clash (two `--fresh` in the same instant) takes the next free `.N` suffix.
/// Returns the new name, or `None` if there was none.
///
/// # Errors
///
/// When the rename fails.
pub fn move_aside(path: &Path) -> Result<Option<PathBuf>, JournalError> {
    if !path.exists() {
        return Ok(None);
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let mut aside = path.with_extension(format!("json.{stamp}.bak"));
    let mut clash = 0;
    while aside.exists() {
        clash += 1;
        aside = path.with_extension(format!("json.{stamp}.{clash}.bak"));
    }
    std::fs::rename(path, &aside).map_err(|source| JournalError::MoveAside {
        path: path.to_owned(),
        source,
    })?;
    Ok(Some(aside))
}

// === impl Journal ===

impl Journal {
    /// Reads the journal at `read_from` (a new, empty one if there is none) for this runbook,
    /// target and parameters; saves will go to `save_to`.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is corrupted, belongs to another run, or was recorded
    /// with other parameter values.
    pub fn open(
        read_from: Option<&Path>,
        save_to: PathBuf,
        runbook: &str,
        target: &str,
        params: BTreeMap<String, Value>,
    ) -> Result<Self, JournalError> {
        let runbook_path = Path::new(runbook);
        let (this_path, this_sha256) = identify(runbook_path);
        let runbook = &runbook_name(runbook_path);
        let mut journal = Self::read(read_from, save_to, runbook, target, params)?;
        let record = &mut journal.record;
        if !record.runbook_path.is_empty() && record.runbook_path != this_path {
            journal.notes.push(format!(
                "the journal was recorded by {} at {}; resuming with {this_path}",
                record.runbook, record.runbook_path
            ));
        }
        if !record.runbook_sha256.is_empty() && record.runbook_sha256 != this_sha256 {
            journal.notes.push(format!(
                "runbook {runbook} changed since the journal was recorded (sha256 {} then, {} \
                 now); finished steps are not run again",
                short(&record.runbook_sha256),
                short(&this_sha256)
            ));
        }
        record.runbook_path = this_path;
        record.runbook_sha256 = this_sha256;
        Ok(journal)
    }

    /// What differs between the journal and this run without stopping it (another checkout,
    /// an edited runbook), for the operator.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn read(
        read_from: Option<&Path>,
        save_to: PathBuf,
        runbook: &str,
        target: &str,
        params: BTreeMap<String, Value>,
    ) -> Result<Self, JournalError> {
        let path = read_from.map(Path::to_path_buf).unwrap_or_default();
        let text = match read_from.map(std::fs::read_to_string) {
            Some(Ok(text)) => text,
            None => return Ok(Self::empty(save_to, runbook, target, params)),
            Some(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::empty(save_to, runbook, target, params));
            }
            Some(Err(source)) => return Err(JournalError::Read { path, source }),
        };

        let record: Record =
            serde_json::from_str(&text).map_err(|source| JournalError::Corrupt {
                path: path.clone(),
                source,
            })?;
        if record.version != VERSION {
            return Err(JournalError::Version {
                path,
                version: record.version,
            });
        }
        // Journals before file-name keys recorded the runbook's path as given.
        if record.target != target || runbook_name(Path::new(&record.runbook)) != runbook {
            return Err(JournalError::Mismatch {
                path,
                runbook: record.runbook,
                target: record.target,
                this_runbook: runbook.to_owned(),
                this_target: target.to_owned(),
            });
        }
        let keys: std::collections::BTreeSet<&String> = record
            .params
            .keys()
            .chain(params.keys())
            .filter(|key| record.params.get(*key) != params.get(*key))
            .collect();
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        if !keys.is_empty() {
            return Err(JournalError::ParamsChanged { path, keys });
        }
        Ok(Self {
            save_to,
            record,
            notes: Vec::new(),
        })
    }

    fn empty(
        save_to: PathBuf,
        runbook: &str,
        target: &str,
        params: BTreeMap<String, Value>,
    ) -> Self {
        let record = Record {
            version: VERSION,
            runbook: runbook.to_owned(),
            target: target.to_owned(),
            runbook_path: String::new(),
            runbook_sha256: String::new(),
            params,
            steps: Vec::new(),
            summary: Vec::new(),
        };
        Self {
            save_to,
            record,
            notes: Vec::new(),
        }
    }

    /// The recorded step `name`, if it finished.
    pub fn finished(&self, name: &str) -> Option<&FinishedStep> {
        self.record.steps.iter().find(|step| step.name == name)
    }

    /// Every finished step, in the order they finished.
    pub fn steps(&self) -> &[FinishedStep] {
        &self.record.steps
    }

    /// The summary lines recorded with the finished steps.
    pub fn summary(&self) -> &[SummaryItem] {
        &self.record.summary
    }

    /// Records a finished step, with the summary lines so far, and saves the journal
    /// atomically.
    ///
    /// # Errors
    ///
    /// When the journal cannot be written.
    pub fn record(
        &mut self,
        name: &str,
        outputs: Value,
        summary: Vec<SummaryItem>,
    ) -> Result<(), JournalError> {
        self.record.summary = summary;
        let finished_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.record.steps.retain(|step| step.name != name);
        self.record.steps.push(FinishedStep {
            name: name.to_owned(),
            finished_at,
            outputs,
        });
        self.save()
    }

    fn save(&self) -> Result<(), JournalError> {
        let path = &self.save_to;
        let write_error = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(write_error)?;
        let text = serde_json::to_string_pretty(&self.record).unwrap_or_default() + "\n";
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.as_file().sync_all().map_err(write_error)?;
        file.persist(path)
            .map_err(|error| write_error(error.error))?;
        // The rename is durable only once the directory entry is synced too.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(write_error)?;
        tracing::debug!(path = %path.display(), steps = self.record.steps.len(), "journal saved");
        Ok(())
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
