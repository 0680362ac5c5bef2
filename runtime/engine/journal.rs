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

const VERSION: u32 = 1;

/// The workdir folder that holds the journals.
pub(crate) const DIR: &str = "journal";

/// The recorded state of one runbook against one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub version: u32,
    pub runbook: String,
    pub target: String,
    /// The parameter values of the run that started this journal.
    pub params: BTreeMap<String, Value>,
    pub steps: Vec<FinishedStep>,
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
    #[error("journal {path} belongs to runbook {runbook} and target {target}, not this run")]
    Mismatch {
        path: PathBuf,
        runbook: String,
        target: String,
    },
    #[error(
        "journal {path} was recorded with other values for parameter(s) {}: run with the same values to resume, or with --fresh to start over",
        keys.join(", ")
    )]
    ParamsChanged { path: PathBuf, keys: Vec<String> },
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

/// Where the journal of `runbook` against `target` lives in `workdir`.
pub fn path_for(workdir: &Path, runbook: &Path, target: &str) -> PathBuf {
    let canonical = std::fs::canonicalize(runbook).unwrap_or_else(|_| runbook.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(canonical.to_string_lossy().as_bytes());
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
        if record.target != target {
            return Err(JournalError::Mismatch {
                path,
                runbook: record.runbook,
                target: record.target,
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
        Ok(Self { save_to, record })
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
            params,
            steps: Vec::new(),
        };
        Self { save_to, record }
    }

    /// The recorded step `name`, if it finished.
    pub fn finished(&self, name: &str) -> Option<&FinishedStep> {
        self.record.steps.iter().find(|step| step.name == name)
    }

    /// Every finished step, in the order they finished.
    pub fn steps(&self) -> &[FinishedStep] {
        &self.record.steps
    }

    /// Records a finished step and saves the journal atomically.
    ///
    /// # Errors
    ///
    /// When the journal cannot be written.
    pub fn record(&mut self, name: &str, outputs: Value) -> Result<(), JournalError> {
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
mod tests {
    use super::*;

    fn params(value: &str) -> BTreeMap<String, Value> {
        BTreeMap::from([("trust_domain".to_owned(), Value::from(value))])
    }

    #[test]
    fn records_survive_a_reopen_and_refuse_other_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal").join("x.json");
        let mut journal =
            Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("a")).unwrap();
        journal
            .record("generate", serde_json::json!({"root": "fp"}))
            .unwrap();

        let again =
            Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("a")).unwrap();
        assert_eq!(
            again.finished("generate").unwrap().outputs,
            serde_json::json!({"root": "fp"})
        );

        let error =
            Journal::open(Some(&path), path.clone(), "x.rhai", "none", params("b")).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "journal {} was recorded with other values for parameter(s) trust_domain: run with \
                 the same values to resume, or with --fresh to start over",
                path.display()
            )
        );
    }

    #[test]
    fn a_reader_never_sees_a_half_written_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal").join("x.json");
        let mut journal = Journal::open(None, path.clone(), "x.rhai", "none", params("a")).unwrap();
        journal
            .record("step-0", serde_json::json!({"n": 0}))
            .unwrap();

        let reader_path = path.clone();
        let reader = std::thread::spawn(move || {
            let mut reads = 0;
            while reads < 2_000 {
                let text = std::fs::read_to_string(&reader_path).unwrap();
                serde_json::from_str::<Record>(&text).expect("a whole journal");
                reads += 1;
            }
        });
        for n in 1..200 {
            let outputs = serde_json::json!({"n": n, "padding": "x".repeat(4096)});
            journal.record(&format!("step-{n}"), outputs).unwrap();
        }
        reader.join().unwrap();

        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "temporary files were left behind");
    }

    #[test]
    fn keys_differ_by_runbook_and_target() {
        let workdir = Path::new("/w");
        let a = path_for(workdir, Path::new("a.rhai"), "none");
        assert_ne!(a, path_for(workdir, Path::new("b.rhai"), "none"));
        assert_ne!(a, path_for(workdir, Path::new("a.rhai"), "sim:x"));
        assert_eq!(a, path_for(workdir, Path::new("a.rhai"), "none"));
    }
}
