//! The one harness of the command-line tests: a builder that writes runbooks into a temporary
//! directory, runs the binary there and compares whole outputs (indentation removed), printing
//! both texts on a mismatch.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// One invocation of `runner`, in its own temporary directory unless [`Run::in_dir`] shares one.
pub struct Run {
    dir: Dir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    status: i32,
}

enum Dir {
    Owned(tempfile::TempDir),
    Shared(PathBuf),
}

/// What a run printed, for further assertions.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn new() -> Self {
        Self::with_dir(Dir::Owned(
            tempfile::tempdir().expect("temporary directory"),
        ))
    }

    /// Runs in `dir`, so that several runs share a workdir.
    pub fn in_dir(dir: &Path) -> Self {
        Self::with_dir(Dir::Shared(dir.to_owned()))
    }

    fn with_dir(dir: Dir) -> Self {
        Self {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            status: 0,
        }
    }

    pub fn dir(&self) -> &Path {
        match &self.dir {
            Dir::Owned(dir) => dir.path(),
            Dir::Shared(dir) => dir,
        }
    }

    /// Writes `text` (indentation removed) to the file `name` in the run's directory.
    pub fn file(self, name: &str, text: &str) -> Self {
        let path = self.dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, unindent(text)).unwrap();
        self
    }

    /// Writes the runbook `name` and passes it as the argument.
    pub fn runbook(self, name: &str, text: &str) -> Self {
        self.file(name, text).arg(name)
    }

    /// Passes the shipped runbook `runbooks/NAME` as the argument.
    pub fn shipped(self, name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .join(name);
        self.arg(path.to_str().unwrap())
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    /// The whole expected stdout, indentation removed.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Some(unindent(text));
        self
    }

    /// The whole expected stderr, indentation removed.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Some(unindent(text));
        self
    }

    pub fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }

    /// Runs and checks the status and the expected texts.
    #[track_caller]
    pub fn run(self) -> Output {
        let mut command = Command::cargo_bin("runner").expect("the runner binary");
        command
            .current_dir(self.dir())
            .args(&self.args)
            .env_remove("RUST_LOG");
        command
            .env_remove("RUNNER_WORKDIR")
            .env_remove("RUNNER_OUTPUT")
            .env_remove("RUNNER_STDLIB");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.write_stdin(self.stdin.clone().unwrap_or_default());
        let out = command.output().expect("running runner");
        let output = Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let status = out.status.code().unwrap_or(-1);
        let context = format!(
            "runner {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            output.stdout,
            output.stderr
        );
        assert_eq!(status, self.status, "exit status of {context}");
        if let Some(expected) = &self.stdout {
            assert_text(expected, &output.stdout, "stdout", &context);
        }
        if let Some(expected) = &self.stderr {
            assert_text(expected, &output.stderr, "stderr", &context);
        }
        output
    }
}

#[track_caller]
fn assert_text(expected: &str, actual: &str, what: &str, context: &str) {
    if expected != actual {
        panic!("{what} differs\n--- expected ---\n{expected}--- actual ---\n{actual}\n{context}");
    }
}

/// Removes the common indentation and a leading newline, so that expected texts can be
/// written indented in the test.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: String = text
        .lines()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The workdir's journal files.
pub fn journals(workdir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(workdir.join("journal")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}
