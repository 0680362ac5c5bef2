//! Loading a runbook: read, compile, load its imports and check it, all before anything runs.
//! Errors name the file, the line and the column.

use std::path::{Path, PathBuf};

use rhai::{AST, ASTNode, Engine, EvalAltResult, Expr, Position, Stmt};

use super::context::RunContext;
use super::lint;

/// A compiled and checked runbook.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub path: PathBuf,
    /// The `//!` lines at the top of the file.
    pub description: String,
    pub ast: AST,
}

/// A runbook that cannot be run as written.
#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("reading runbook {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("syntax error in runbook {path}: {message} (line {line}, column {column})")]
    Syntax {
        path: PathBuf,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("in runbook {path}:\n{}", problems.join("\n"))]
    Check {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("in runbook {path}: {message}")]
    Failed { path: PathBuf, message: String },
    /// `--stdlib` names a folder that is not there: a silent fallback to the embedded modules
    /// would run a rotation with other code than the operator chose.
    #[error("--stdlib {dir}: no such folder")]
    StdlibMissing { dir: PathBuf },
}

/// The first-level message of a Rhai error, with the file and position where it happened:
/// `message (file, line L, column C)`.
pub fn describe(error: &EvalAltResult) -> String {
    let mut inner = error;
    let mut file = String::new();
    loop {
        match inner {
            EvalAltResult::ErrorInFunctionCall(_, source, next, _) => {
                if !source.is_empty() {
                    file = source.clone();
                }
                inner = next;
            }
            EvalAltResult::ErrorInModule(module, next, _) => {
                file = module.clone();
                inner = next;
            }
            _ => break,
        }
    }
    let position = inner.position();
    let message = match inner {
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        EvalAltResult::ErrorParsing(kind, _) => format!("syntax error: {kind}"),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("unknown function {signature}")
        }
        EvalAltResult::ErrorTerminated(..) => "cancelled".to_owned(),
        other => {
            // Rhai's own text ends with the position, which is added below in our words.
            let text = other.to_string();
            let suffix = format!(" ({position})");
            lowercase_first(text.strip_suffix(suffix.as_str()).unwrap_or(&text))
        }
    };
    let place = match (file.is_empty(), position.is_none()) {
        (true, true) => return message,
        (false, true) => format!(" ({file})"),
        (true, false) => format!(" (line {}, column {})", line(position), column(position)),
        (false, false) => format!(
            " ({file}, line {}, column {})",
            line(position),
            column(position)
        ),
    };
    message + place.as_str()
}

/// Like [`describe`] for an error that ended step `step`. Rhai moves a limit error (too many
/// operations, stack overflow) to the outermost call, so its position is the runner's and not
/// the loop's: it is named with the step and where the step is declared instead.
pub fn describe_in_step(error: &EvalAltResult, step: &super::host::StepDecl) -> String {
    let limit = match error.unwrap_inner() {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "too many operations (more than {}; a runaway loop?)",
            super::MAX_OPERATIONS
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "stack overflow (calls nested deeper than {}; a runaway recursion?)",
            super::MAX_CALL_LEVELS
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("{what} is too large"),
        _ => return describe(error),
    };
    format!(
        "{limit} somewhere in step `{}` ({})",
        step.name, step.declared_at
    )
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

fn line(position: Position) -> usize {
    position.line().unwrap_or(0)
}

fn column(position: Position) -> usize {
    position.position().unwrap_or(0)
}

/// Reads, compiles and checks the runbook at `path` and loads every module it imports.
///
/// # Errors
///
/// When the file cannot be read, has a syntax error, imports a module that is missing or
/// broken, calls a function that does not exist, or calls a primitive at the top level.
pub fn load(engine: &Engine, ctx: &RunContext, path: &Path) -> Result<Runbook, RunbookError> {
    if let Some(dir) = ctx.modules().stdlib_dir()
        && !dir.is_dir()
    {
        return Err(RunbookError::StdlibMissing {
            dir: dir.to_owned(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| RunbookError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut ast = engine
        .compile(&text)
        .map_err(|error| RunbookError::Syntax {
            path: path.to_owned(),
            message: error.err_type().to_string(),
            line: line(error.position()),
            column: column(error.position()),
        })?;
    ast.set_source(path.display().to_string());

    // Load imports now, so that a broken module fails the run before the first step.
    let mut imports = Vec::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, pos))) = nodes.last()
            && let Expr::StringConstant(module, _) = &x.0
        {
            imports.push((module.to_string(), *pos));
        }
        true
    });
    let source = path.display().to_string();
    for (module, pos) in imports {
        engine
            .module_resolver()
            .resolve(engine, Some(&source), &module, pos)
            .map_err(|error| RunbookError::Failed {
                path: path.to_owned(),
                message: describe(&error),
            })?;
    }

    let modules = ctx.modules();
    let mut problems: Vec<String> = lint::check(engine, &ast, modules)
        .into_iter()
        .chain(lint::top_level_returns(&text))
        .map(|p| {
            format!(
                "  - {} (line {}, column {})",
                p.message,
                line(p.position),
                column(p.position)
            )
        })
        .collect();
    for (name, module_ast) in modules.loaded_asts() {
        let source = module_ast.source().unwrap_or(&name).to_owned();
        problems.extend(
            lint::check(engine, &module_ast, modules)
                .into_iter()
                .map(|p| {
                    format!(
                        "  - {} ({source}, line {}, column {})",
                        p.message,
                        line(p.position),
                        column(p.position)
                    )
                }),
        );
    }
    if !problems.is_empty() {
        return Err(RunbookError::Check {
            path: path.to_owned(),
            problems,
        });
    }

    let description = text
        .lines()
        .map_while(|line| line.trim_start().strip_prefix("//!"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Runbook {
        path: path.to_owned(),
        description: description.trim().to_owned(),
        ast,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_error_names_the_step_and_where_it_is_declared() {
        let step = super::super::host::StepDecl {
            name: "spin".to_owned(),
            description: String::new(),
            changes_cluster: false,
            every_run: false,
            body: rhai::FnPtr::new("f").unwrap(),
            declared_at: "spin.rhai, line 3, column 1".to_owned(),
        };
        let error = EvalAltResult::ErrorTooManyOperations(Position::new(1, 1));
        assert_eq!(
            describe_in_step(&error, &step),
            "too many operations (more than 50000000; a runaway loop?) somewhere in step `spin` \
             (spin.rhai, line 3, column 1)"
        );
    }
}
