//! Functions that let a runbook steer and explain a run: `would` (its own lines of the dry-run
//! plan, for gates and predictions no primitive makes), `stop_run` (end the run successfully
//! before a step, so that a later run starts there), and time: `time_cmp` (ordering RFC 3339
//! times, which string comparison gets wrong when the fractions differ in length),
//! `next_second` and `wait_until` (object times have whole seconds; a gate that asks "started
//! after" needs the restarts to begin in a later second).

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration, Position};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::context::RunContext;
use crate::output::Basis;

/// Thrown by `stop_run`: the step did not finish, and the run ends without failing. Carried as
/// the value of a runtime error, so that it passes through script functions unchanged.
#[derive(Debug, Clone)]
pub(crate) struct StopRun {
    pub reason: String,
}

impl StopRun {
    /// The request to stop, when `error` is one (at any depth of script function calls).
    pub(crate) fn from_error(error: &EvalAltResult) -> Option<Self> {
        match error.unwrap_inner() {
            EvalAltResult::ErrorRuntime(value, _) => value.read_lock::<Self>().map(|s| s.clone()),
            _ => None,
        }
    }
}

fn fail(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

fn basis(name: &str) -> Result<Basis, Box<EvalAltResult>> {
    match name {
        "exact" => Ok(Basis::Exact),
        "server-validated" => Ok(Basis::ServerValidated),
        "predicted" => Ok(Basis::Predicted),
        other => Err(fail(format!(
            "would: unknown basis \"{other}\": the bases are exact, server-validated, predicted"
        ))),
    }
}

/// Parses an RFC 3339 time, naming the function and the argument when it is not one.
fn parse(function: &str, text: &str) -> Result<OffsetDateTime, Box<EvalAltResult>> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        fail(format!(
            "{function}: \"{text}\" is not an RFC 3339 time such as 2026-12-03T20:00:00Z ({e})"
        ))
    })
}

pub(crate) fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    FuncRegistration::new("would")
        .with_params_info(["basis: string", "action: string", "()"])
        .with_comments([
            "/// In a dry-run, adds a line to the plan: what the real run would do and how sure the",
            "/// plan is of it (\"exact\", \"server-validated\" or \"predicted\"). Does nothing in a",
            "/// real run. Primitives report their own actions; this is for the runbook's gates and",
            "/// predictions.",
            "///",
            "/// ```rhai",
            "/// if is_dry_run() { would(\"predicted\", \"pass the gate: every pod trusts the new root\"); }",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |basis_name: &str, action: &str| -> Result<(), Box<EvalAltResult>> {
                c.require_step("would")?;
                let basis = basis(basis_name)?;
                if c.dry_run() {
                    c.would_as(basis, action);
                }
                Ok(())
            },
        );

    let c = Arc::clone(ctx);
    FuncRegistration::new("stop_run")
        .with_params_info(["reason: string", "()"])
        .with_comments([
            "/// Ends the run here without failing: this step is not recorded and later steps do",
            "/// not run, so the next run of the runbook starts with this step. For a pause the",
            "/// operator asked for, such as keeping both roots trusted for a while.",
            "///",
            "/// ```rhai",
            "/// if keep_overlap { stop_run(\"both roots stay trusted; run again to finish\"); }",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |reason: &str| -> Result<(), Box<EvalAltResult>> {
                c.require_step("stop_run")?;
                let stop = StopRun {
                    reason: reason.to_owned(),
                };
                Err(EvalAltResult::ErrorRuntime(Dynamic::from(stop), Position::NONE).into())
            },
        );

    FuncRegistration::new("next_second")
        .with_params_info(["time: string", "string"])
        .with_comments([
            "/// The first whole second after `time` (RFC 3339). Kubernetes records when a",
            "/// container started in whole seconds, so \"started after `time`\" can only be told",
            "/// for a start at or after this moment.",
            "///",
            "/// ```rhai",
            "/// let after = next_second(\"2026-12-03T20:00:00.25Z\");   // 2026-12-03T20:00:01Z",
            "/// ```",
        ])
        .register_into_engine(engine, |text: &str| -> Result<String, Box<EvalAltResult>> {
            let at = parse("next_second", text)?;
            let next = next_second(at);
            next.format(&Rfc3339)
                .map_err(|e| fail(format!("next_second: {e}")))
        });

    let c = Arc::clone(ctx);
    FuncRegistration::new("wait_until")
        .with_params_info(["time: string", "()"])
        .with_comments([
            "/// Waits until the clock has passed `time` (RFC 3339); Ctrl-C stops the wait. In a",
            "/// dry-run it waits for nothing and reports the wait as predicted.",
            "///",
            "/// ```rhai",
            "/// wait_until(next_second(changed_at));   // restarts then start after the change",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |text: &str| -> Result<(), Box<EvalAltResult>> {
                c.require_step("wait_until")?;
                let until = parse("wait_until", text)?;
                if c.dry_run() {
                    c.would_as(Basis::Predicted, format!("wait until {text}"));
                    return Ok(());
                }
                while OffsetDateTime::now_utc() < until {
                    if c.is_cancelled() {
                        return Err(EvalAltResult::ErrorTerminated(
                            "cancelled".into(),
                            Position::NONE,
                        )
                        .into());
                    }
                    let left = until - OffsetDateTime::now_utc();
                    let nap = left.clamp(time::Duration::ZERO, time::Duration::milliseconds(100));
                    std::thread::sleep(nap.unsigned_abs());
                }
                Ok(())
            },
        );

    FuncRegistration::new("time_cmp")
        .with_params_info(["a: string", "b: string", "int"])
        .with_comments([
            "/// Compares two RFC 3339 times: -1 when `a` is earlier, 0 when equal, 1 when later.",
            "///",
            "/// ```rhai",
            "/// if time_cmp(pod.proxy_started, changed_at) < 0 { print(\"started before\"); }",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            |a: &str, b: &str| -> Result<rhai::INT, Box<EvalAltResult>> {
                let (a, b) = (parse("time_cmp", a)?, parse("time_cmp", b)?);
                Ok(match a.cmp(&b) {
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                })
            },
        );
}

/// The first whole second strictly after `at`.
fn next_second(at: OffsetDateTime) -> OffsetDateTime {
    let floor = at.replace_nanosecond(0).unwrap_or(at);
    floor + time::Duration::SECOND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_by_instant_not_by_text() {
        let a = parse("t", "2026-12-03T20:00:00.5Z").unwrap();
        let b = parse("t", "2026-12-03T20:00:00Z").unwrap();
        assert!(a > b, "string order would say otherwise");
        let c = parse("t", "2026-12-03T21:00:00+01:00").unwrap();
        assert_eq!(b, c);
        let error = parse("time_cmp", "yesterday").unwrap_err().to_string();
        assert!(
            error.starts_with("Runtime error: time_cmp: \"yesterday\" is not an RFC 3339 time"),
            "{error}"
        );
    }

    #[test]
    fn the_next_second_is_whole_and_strictly_later() {
        let at = parse("t", "2026-12-03T20:00:00.25Z").unwrap();
        assert_eq!(next_second(at), parse("t", "2026-12-03T20:00:01Z").unwrap());
        let whole = parse("t", "2026-12-03T20:00:00Z").unwrap();
        assert_eq!(
            next_second(whole),
            parse("t", "2026-12-03T20:00:01Z").unwrap()
        );
    }

    #[test]
    fn an_unknown_basis_lists_the_known_ones() {
        let error = basis("likely").unwrap_err().to_string();
        assert!(
            error.contains(
                "unknown basis \"likely\": the bases are exact, server-validated, predicted"
            ),
            "{error}"
        );
        assert_eq!(basis("server-validated").unwrap(), Basis::ServerValidated);
    }
}
