//! Consent: a run that can change a cluster asks once, before the first change.
//!
//! Three states, decided once per run from `--yes` and whether stdin is a terminal:
//! `--yes` proceeds, a terminal is asked (only `y` or `yes` accepts), and with neither the run
//! refuses with a message that names `--yes`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How consent is obtained in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentMode {
    /// `--yes`: every question is answered yes.
    Yes,
    /// A terminal: ask on stderr, read the answer from stdin.
    Ask,
    /// No terminal and no `--yes`: refuse.
    Refuse,
}

impl ConsentMode {
    /// The mode for this process: `--yes`, else a terminal on stdin, else refusal.
    pub fn detect(yes: bool) -> Self {
        if yes {
            Self::Yes
        } else if std::io::stdin().is_terminal() {
            Self::Ask
        } else {
            Self::Refuse
        }
    }
}

/// Why consent was not given.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// No terminal to ask on and no `--yes`.
    #[error(
        "refusing to {action} without confirmation: there is no terminal to ask on; pass --yes to proceed"
    )]
    NoTerminal { action: String },
    /// The operator answered something other than `y` or `yes`.
    #[error("not confirmed: did not {action}")]
    Declined { action: String },
    /// Ctrl-C while the question waited for an answer: nothing was run.
    #[error("cancelled at the confirmation: did not {action}")]
    Cancelled { action: String },
    /// The answer could not be read.
    #[error("reading the answer to the confirmation")]
    Read {
        #[source]
        source: std::io::Error,
    },
}

/// Asks at most once per run for changes to the cluster; other questions (such as `--fresh`)
/// are asked each time through [`Consent::ask`].
#[derive(Debug)]
pub struct Consent {
    mode: ConsentMode,
    target: String,
    granted: Mutex<bool>,
    /// Set by Ctrl-C; a question waiting for its answer stops at once when it is.
    cancel: Arc<AtomicBool>,
}

// === impl Consent ===

impl Consent {
    pub fn new(mode: ConsentMode, target: impl Into<String>) -> Self {
        Self {
            mode,
            target: target.into(),
            granted: Mutex::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same consent, stopping a waiting question when `cancel` is set (Ctrl-C).
    #[must_use]
    pub fn with_cancel(self, cancel: Arc<AtomicBool>) -> Self {
        Self { cancel, ..self }
    }

    /// Ensures the operator agreed to change the cluster, asking on the first call only.
    /// `action` completes the sentence "about to …", e.g. `run step "deploy"`.
    ///
    /// # Errors
    ///
    /// When there is no terminal and no `--yes`, or the operator declines.
    pub fn ensure(&self, action: &str) -> Result<(), ConsentError> {
        let mut granted = self
            .granted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *granted {
            return Ok(());
        }
        let question = format!(
            "runner is about to {action}, which changes the cluster (target {}).",
            self.target
        );
        self.ask(&question, action)?;
        *granted = true;
        Ok(())
    }

    /// Asks one yes/no question, whatever was answered before.
    ///
    /// # Errors
    ///
    /// When there is no terminal and no `--yes`, or the operator declines.
    pub fn ask(&self, question: &str, action: &str) -> Result<(), ConsentError> {
        match self.mode {
            ConsentMode::Yes => Ok(()),
            ConsentMode::Refuse => Err(ConsentError::NoTerminal {
                action: action.to_owned(),
            }),
            ConsentMode::Ask => {
                let mut stderr = std::io::stderr().lock();
                // The prompt is best effort: the answer read below is what counts.
                let _ = write!(stderr, "{question}\nContinue? [y/N] ");
                let _ = stderr.flush();
                drop(stderr);
                self.answer(action, || {
                    let mut answer = String::new();
                    std::io::stdin().lock().read_line(&mut answer)?;
                    Ok(answer)
                })
            }
        }
    }

    /// Waits for `read`'s answer, or for Ctrl-C. A blocking read cannot be interrupted, so it
    /// runs on its own thread, which a cancelled question leaves behind (the run then ends).
    fn answer(
        &self,
        action: &str,
        read: impl FnOnce() -> std::io::Result<String> + Send + 'static,
    ) -> Result<(), ConsentError> {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || send.send(read()));
        loop {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(ConsentError::Cancelled {
                    action: action.to_owned(),
                });
            }
            match receive.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(answer)) if is_yes(&answer) => return Ok(()),
                Ok(Ok(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ConsentError::Declined {
                        action: action.to_owned(),
                    });
                }
                Ok(Err(source)) => return Err(ConsentError::Read { source }),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_y_or_yes() {
        for answer in ["y\n", "yes\n", " Y \n", "YES"] {
            assert!(is_yes(answer), "{answer:?}");
        }
        for answer in ["", "\n", "n\n", "yep\n", "sure"] {
            assert!(!is_yes(answer), "{answer:?}");
        }
    }

    #[test]
    fn ctrl_c_stops_a_question_that_waits_for_its_answer() {
        let cancel = Arc::new(AtomicBool::new(false));
        let consent = Consent::new(ConsentMode::Ask, "none").with_cancel(Arc::clone(&cancel));
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            cancel.store(true, Ordering::Relaxed);
        });
        let started = std::time::Instant::now();
        // An answer that never comes, as a terminal nobody types into.
        let error = consent
            .answer("start over", || {
                std::thread::sleep(Duration::from_secs(3600));
                Ok("y\n".to_owned())
            })
            .unwrap_err();
        setter.join().unwrap();
        assert!(matches!(error, ConsentError::Cancelled { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let consent = Consent::new(ConsentMode::Ask, "none");
        assert!(consent.answer("go", || Ok("yes\n".to_owned())).is_ok());
        assert!(consent.answer("go", || Ok("\n".to_owned())).is_err());
    }

    #[test]
    fn yes_asks_nothing_and_refuse_names_the_flag() {
        let consent = Consent::new(ConsentMode::Yes, "none");
        assert!(consent.ensure("run step \"deploy\"").is_ok());

        let consent = Consent::new(ConsentMode::Refuse, "none");
        let error = consent.ensure("run step \"deploy\"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "refusing to run step \"deploy\" without confirmation: there is no terminal to ask \
             on; pass --yes to proceed"
        );
    }
}
