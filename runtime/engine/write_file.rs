//! `write_file`: text files a runbook writes into the workdir, which also holds the journal and
//! generated keys, so a write never replaces a file unless asked and never touches those.

use std::sync::Arc;

use rhai::{Engine, EvalAltResult, FuncRegistration, Map};

use super::context::RunContext;

fn fail(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), rhai::Position::NONE).into()
}

/// Registers both forms of `write_file`.
pub(crate) fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    FuncRegistration::new("write_file")
        .with_params_info(["name: string", "text: string", "string"])
        .with_comments([
            "/// Writes text (a certificate bundle, say) to a new file in the workdir and returns its",
            "/// path. Refuses a file that exists (see the form with options), a name with a path",
            "/// separator or a leading dot, key files (`*.key`), the journal, and private keys:",
            "/// `gen_cert(#{ write: ... })` writes those, with mode 0600.",
            "///",
            "/// ```rhai",
            "/// let path = write_file(\"bundle.crt\", anchors.pem);",
            "/// ```",
        ])
        .register_into_engine(engine, move |name: &str, text: &str| {
            write_file(&c, name, text, false)
        });

    let c = Arc::clone(ctx);
    FuncRegistration::new("write_file")
        .with_params_info(["name: string", "text: string", "options: map", "string"])
        .with_comments([
            "/// As `write_file(name, text)`; `overwrite: true` replaces an existing file (never a",
            "/// key file or the journal).",
            "///",
            "/// ```rhai",
            "/// write_file(\"bundle.crt\", anchors.pem, #{ overwrite: true });",
            "/// ```",
        ])
        .register_into_engine(engine, move |name: &str, text: &str, options: Map| {
            let overwrite = write_options(&options)?;
            write_file(&c, name, text, overwrite)
        });
}

/// Reads `write_file`'s options: only `overwrite`, a bool.
fn write_options(options: &Map) -> Result<bool, Box<EvalAltResult>> {
    let mut overwrite = false;
    for (key, value) in options {
        match (key.as_str(), value.as_bool()) {
            ("overwrite", Ok(flag)) => overwrite = flag,
            ("overwrite", Err(kind)) => {
                return Err(fail(format!(
                    "write_file: option `overwrite` must be a bool, not {kind}"
                )));
            }
            (other, _) => {
                return Err(fail(format!(
                    "write_file: unknown option `{other}` (known: overwrite)"
                )));
            }
        }
    }
    Ok(overwrite)
}

/// Why `name` may not be written by a runbook, if it may not: the workdir also holds the
/// journal and generated keys, which a typo in a runbook must never destroy.
fn refused_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.contains(['/', '\\']) {
        Some("is not a plain file name (no path separators)")
    } else if name.starts_with('.') {
        Some("starts with a dot (hidden files and `..` are refused)")
    } else if name == super::journal::DIR {
        Some("is the journal's folder")
    } else if name.ends_with(".key") {
        Some("is a key file, which only `gen_cert` writes")
    } else {
        None
    }
}

fn write_file(
    ctx: &RunContext,
    name: &str,
    text: &str,
    overwrite: bool,
) -> Result<String, Box<EvalAltResult>> {
    ctx.require_step("write_file")?;
    if let Some(reason) = refused_name(name) {
        return Err(fail(format!("write_file: {name:?} {reason}")));
    }
    if text.contains("PRIVATE KEY") {
        return Err(fail(format!(
            "write_file: refusing to write a private key to {name}"
        )));
    }
    // In a dry-run the workdir is a temporary directory, so this writes nothing that stays.
    let path = ctx.workdir().join(name);
    // The same text again is what a step interrupted after its write, then run again, writes:
    // nothing to replace, and no reason to stop a resumed rotation.
    if std::fs::read(&path).is_ok_and(|on_disk| on_disk == text.as_bytes()) {
        return Ok(path.display().to_string());
    }
    let written = std::fs::create_dir_all(ctx.workdir())
        .map_err(|error| format!("creating {}: {error}", ctx.workdir().display()))
        .and_then(|()| {
            crate::pki::write_new(&path, text.as_bytes(), 0o644, overwrite).map_err(|error| {
                match error {
                    crate::pki::PkiError::FileExists { .. } => format!(
                        "{} exists (pass #{{ overwrite: true }} to replace it)",
                        path.display()
                    ),
                    other => crate::pki::chain_text(&other),
                }
            })
        });
    written.map_err(|message| fail(format!("write_file: {message}")))?;
    if ctx.dry_run() {
        // The plan names every file a real run leaves in the workdir, not only cluster writes.
        let real = ctx.real_workdir().join(name);
        let verb = if real.exists() { "replace" } else { "write" };
        ctx.would(format!(
            "{verb} {} ({} bytes; the dry-run writes it to a scratch folder)",
            real.display(),
            text.len()
        ));
    }
    Ok(path.display().to_string())
}
