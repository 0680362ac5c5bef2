//! The functions a runbook declares itself with (`param`, `step`), reads earlier results with
//! (`output`), and the small helpers every runbook may use (`duration`, `log_info`, …).

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, Map, NativeCallContext};

use super::context::RunContext;
use super::params::{Overrides, Param, ParamKind};
use crate::duration;
use crate::output::Level;

/// The name of the call the runner appends to a runbook: once the top level has declared
/// everything, it runs the steps inside the same evaluation, so closures see the imports.
pub(crate) const MAIN: &str = "__runner_main";

/// Functions that may be called at the top level of a runbook; every other registered
/// function (the primitives) only inside a step.
pub(crate) const DECLARATIONS: &[&str] = &[
    "param",
    "step",
    "duration",
    "log_info",
    "log_warn",
    "is_dry_run",
    MAIN,
];

/// A step as the runbook declared it.
#[derive(Debug, Clone)]
pub struct StepDecl {
    pub name: String,
    pub description: String,
    pub changes_cluster: bool,
    /// Runs on every run, never skipped as finished in an earlier one: a step that reports
    /// on the cluster as it is now (a check) would otherwise repeat an old answer.
    pub every_run: bool,
    pub body: FnPtr,
    /// Where `step(...)` is, `file, line L, column C`: a limit error inside the step cannot
    /// say where it happened (Rhai moves it to the outermost call), so it names the step.
    pub declared_at: String,
}

/// What the top level of a runbook declared.
#[derive(Debug, Default)]
pub struct Declared {
    pub params: Vec<Param>,
    pub param_problems: Vec<String>,
    pub steps: Vec<StepDecl>,
}

/// Calls one step's body inside the runbook's evaluation.
pub(crate) type StepCaller<'a> = dyn FnMut(&FnPtr) -> Result<Dynamic, Box<EvalAltResult>> + 'a;

/// What runs once the runbook has declared its steps: a run, or `--list`.
pub(crate) type Driver =
    Box<dyn FnOnce(Declared, &mut StepCaller<'_>) -> Result<(), super::RunError> + Send>;

/// The mutable state behind the runbook-facing functions.
#[derive(Default)]
pub(crate) struct ScriptState {
    pub declaring: bool,
    pub current_step: Option<String>,
    pub step_started_at: Option<time::OffsetDateTime>,
    pub overrides: Overrides,
    pub declared: Declared,
    /// Outputs of finished steps, from this run or from the journal.
    pub outputs: HashMap<String, Dynamic>,
    /// The declared step names, kept for `output()`'s errors once the driver owns the steps.
    pub step_names: Vec<String>,
    pub driver: Option<Driver>,
    pub result: Option<Result<(), super::RunError>>,
}

impl std::fmt::Debug for ScriptState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptState")
            .field("declaring", &self.declaring)
            .field("current_step", &self.current_step)
            .finish_non_exhaustive()
    }
}

fn fail(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), rhai::Position::NONE).into()
}

/// Registers the runbook-facing functions and the `Duration` type.
pub(crate) fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    register_duration(engine);

    let c = Arc::clone(ctx);
    FuncRegistration::new("param")
        .with_params_info(["name: string", "default: ?", "description: string", "?"])
        .with_comments([
            "/// Declares a runbook parameter and returns its value in this run: the default, or",
            "/// what `--set`/`--values` gave, converted to the default's type (string, int, bool,",
            "/// list of strings, or `duration(...)`). Top level only.",
            "///",
            "/// ```rhai",
            "/// let trust_domain = param(\"trust_domain\", \"cluster.local\", \"Trust domain\");",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |name: &str, default: Dynamic, description: &str| {
                declare_param(&c, name, default, description, &Map::new())
            },
        );

    let c = Arc::clone(ctx);
    FuncRegistration::new("param")
        .with_params_info([
            "name: string",
            "default: ?",
            "description: string",
            "options: map",
            "?",
        ])
        .with_comments([
            "/// As `param(name, default, description)`. Options: `resumable: true` lets the value",
            "/// differ from the run that started the journal (a pause/finish switch); every other",
            "/// parameter must keep its value for a run to resume.",
            "///",
            "/// ```rhai",
            "/// let keep = param(\"keep_overlap\", false, \"Stop before stage 7\", #{ resumable: true });",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |name: &str, default: Dynamic, description: &str, options: Map| {
                declare_param(&c, name, default, description, &options)
            },
        );

    for with_options in [false, true] {
        let c = Arc::clone(ctx);
        let registration = FuncRegistration::new("step").with_comments([
            "/// Declares a named step; steps run in the order declared. The body's result (usually",
            "/// a map) is the step's output, recorded in the journal. Options: `changes_cluster:",
            "/// true` asks for consent before the step runs; `every_run: true` runs it on every",
            "/// run, also when the journal records it as finished (a check). Top level only.",
            "///",
            "/// ```rhai",
            "/// step(\"generate\", \"Generate the new root\", || #{ root: \"...\" });",
            "/// step(\"deploy\", \"Deploy the bundle\", #{ changes_cluster: true }, || { });",
            "/// ```",
        ]);
        if with_options {
            registration
                .with_params_info([
                    "name: string",
                    "description: string",
                    "options: map",
                    "body: Fn",
                    "()",
                ])
                .register_into_engine(
                    engine,
                    move |call: NativeCallContext,
                          name: &str,
                          description: &str,
                          options: Map,
                          body: FnPtr| {
                        declare_step(&c, &call, name, description, &options, body)
                    },
                );
        } else {
            registration
                .with_params_info(["name: string", "description: string", "body: Fn", "()"])
                .register_into_engine(
                    engine,
                    move |call: NativeCallContext, name: &str, description: &str, body: FnPtr| {
                        declare_step(&c, &call, name, description, &Map::new(), body)
                    },
                );
        }
    }

    let c = Arc::clone(ctx);
    FuncRegistration::new("output")
        .with_params_info(["step: string", "?"])
        .with_comments([
            "/// The output of an earlier step, from this run or from the journal of a previous one.",
            "///",
            "/// ```rhai",
            "/// let root = output(\"generate\").root;",
            "/// ```",
        ])
        .register_into_engine(engine, move |step: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            c.require_step("output")?;
            let state = c.lock_script();
            state.outputs.get(step).cloned().ok_or_else(|| {
                let known = state.step_names.iter().any(|s| s == step);
                fail(if known {
                    format!(
                        "step `{step}` has no output yet: it has not run in this run or an \
                         earlier one with this workdir"
                    )
                } else {
                    format!("there is no step `{step}`")
                })
            })
        });

    for (name, level) in [("log_info", Level::Info), ("log_warn", Level::Warn)] {
        let c = Arc::clone(ctx);
        FuncRegistration::new(name)
            .with_params_info(["message: string", "()"])
            .with_comments([
                "/// A message for the operator, shown in the run's output (warnings stand out).",
            ])
            .register_into_engine(engine, move |message: &str| c.log(level, message));
    }

    super::write_file::register(engine, ctx);

    let c = Arc::clone(ctx);
    FuncRegistration::new("is_dry_run")
        .with_params_info(["bool"])
        .with_comments(["/// True when the run is a dry-run (`--dry-run`): nothing is changed."])
        .register_into_engine(engine, move || c.dry_run());

    let c = Arc::clone(ctx);
    FuncRegistration::new(MAIN)
        .with_params_info(["()"])
        .register_into_engine(engine, move |call: NativeCallContext| run_driver(&c, &call));
}

fn register_duration(engine: &mut Engine) {
    engine.register_type_with_name::<time::Duration>("Duration");
    FuncRegistration::new("duration")
        .with_params_info(["text: string", "Duration"])
        .with_comments([
            "/// A duration such as `8760h`, `90d` or `1h30m`.",
            "///",
            "/// ```rhai",
            "/// let validity = duration(\"8760h\");",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            |text: &str| -> Result<time::Duration, Box<EvalAltResult>> {
                duration::parse(text).map_err(|error| fail(error.to_string()))
            },
        );
    engine.register_fn("to_string", |d: &mut time::Duration| duration::format(*d));
    engine.register_fn("to_debug", |d: &mut time::Duration| duration::format(*d));
    engine.register_fn("==", |a: time::Duration, b: time::Duration| a == b);
    engine.register_fn("!=", |a: time::Duration, b: time::Duration| a != b);
    engine.register_fn("<", |a: time::Duration, b: time::Duration| a < b);
    engine.register_fn(">", |a: time::Duration, b: time::Duration| a > b);
    engine.register_fn(
        "+",
        |a: time::Duration, b: time::Duration| -> Result<time::Duration, Box<EvalAltResult>> {
            a.checked_add(b).ok_or_else(|| {
                fail(format!(
                    "adding durations {} and {} overflows",
                    duration::format(a),
                    duration::format(b)
                ))
            })
        },
    );
    engine.register_get("seconds", |d: &mut time::Duration| d.whole_seconds());
}

fn declare_param(
    ctx: &RunContext,
    name: &str,
    default: Dynamic,
    description: &str,
    options: &Map,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let mut resumable = false;
    for (key, value) in options {
        match (key.as_str(), value.as_bool()) {
            ("resumable", Ok(flag)) => resumable = flag,
            ("resumable", Err(found)) => {
                return Err(fail(format!(
                    "param(\"{name}\"): option `resumable` must be a bool, not {found}"
                )));
            }
            (other, _) => {
                return Err(fail(format!(
                    "param(\"{name}\"): unknown option `{other}`; the known options are resumable"
                )));
            }
        }
    }
    let mut state = ctx.lock_script();
    if !state.declaring {
        return Err(fail(format!(
            "param(\"{name}\") must be declared at the top level of the runbook, not inside a step"
        )));
    }
    let Some(kind) = ParamKind::of(&default) else {
        return Err(fail(format!(
            "parameter `{name}` has a default of type {}: use a string, int, bool, list of strings or duration(...)",
            default.type_name()
        )));
    };
    if state.declared.params.iter().any(|p| p.name == name) {
        return Err(fail(format!("parameter `{name}` is declared twice")));
    }
    let value = match state.overrides.resolve(name, kind, &default) {
        Ok(value) => value,
        Err(problem) => {
            // Keep declaring so that every problem is reported at once.
            state.declared.param_problems.push(problem);
            default.clone()
        }
    };
    state.declared.params.push(Param {
        name: name.to_owned(),
        kind,
        default,
        description: description.to_owned(),
        value: value.clone(),
        resumable,
    });
    Ok(value)
}

fn declare_step(
    ctx: &RunContext,
    call: &NativeCallContext,
    name: &str,
    description: &str,
    options: &Map,
    body: FnPtr,
) -> Result<(), Box<EvalAltResult>> {
    let mut state = ctx.lock_script();
    if !state.declaring {
        return Err(fail(format!(
            "step(\"{name}\") must be declared at the top level of the runbook, not inside a step"
        )));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(fail(format!(
            "step name {name:?} may only hold letters, digits, `-` and `_`"
        )));
    }
    if state.declared.steps.iter().any(|s| s.name == name) {
        return Err(fail(format!("step `{name}` is declared twice")));
    }
    let (mut changes_cluster, mut every_run) = (false, false);
    for (key, value) in options {
        match (key.as_str(), value.as_bool()) {
            ("changes_cluster", Ok(flag)) => changes_cluster = flag,
            ("every_run", Ok(flag)) => every_run = flag,
            _ => {
                return Err(fail(format!(
                    "step `{name}`: unknown option `{key}` (known: changes_cluster: bool, \
                     every_run: bool)"
                )));
            }
        }
    }
    let position = call.call_position();
    let declared_at = format!(
        "{}, line {}, column {}",
        call.call_source().unwrap_or("runbook"),
        position.line().unwrap_or(0),
        position.position().unwrap_or(0)
    );
    state.declared.steps.push(StepDecl {
        name: name.to_owned(),
        description: description.to_owned(),
        changes_cluster,
        every_run,
        body,
        declared_at,
    });
    Ok(())
}

fn run_driver(ctx: &RunContext, call: &NativeCallContext) -> Result<(), Box<EvalAltResult>> {
    let (driver, declared) = {
        let mut state = ctx.lock_script();
        let Some(driver) = state.driver.take() else {
            return Err(fail(format!(
                "{MAIN} is called by the runner, not by runbooks"
            )));
        };
        state.declaring = false;
        state.step_names = state
            .declared
            .steps
            .iter()
            .map(|s| s.name.clone())
            .collect();
        (driver, std::mem::take(&mut state.declared))
    };
    let result = driver(declared, &mut |body: &FnPtr| {
        body.call_within_context::<Dynamic>(call, ())
    });
    ctx.lock_script().result = Some(result);
    Ok(())
}
