//! The script-facing cluster functions: `k8s_get`, `k8s_list` and `k8s_patch`.
//!
//! Each blocks on the run's tokio handle (the script runs on a blocking thread) and acts only
//! inside a step. `k8s_patch` asks consent once per run, and in a dry-run sends a server-side
//! dry-run and reports the diff instead of writing.

use std::future::Future;
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};
use serde_json::Value;

use super::api::{Cluster, WriteMode};
use super::diff;
use super::error::ClusterError;
use super::kinds::{self, Kind};
use crate::engine::RunContext;
use crate::output::{Event, Level};

pub(super) type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn fail(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), rhai::Position::NONE).into()
}

pub(super) fn cluster_error(error: &ClusterError) -> Box<EvalAltResult> {
    fail(crate::pki::chain_text(error))
}

/// The run's cluster and the kind, or the error a script sees.
fn prepare<'a>(
    ctx: &'a RunContext,
    function: &str,
    kind: &str,
) -> ScriptResult<(&'a Cluster, Kind)> {
    ctx.require_step(function)?;
    let cluster = ctx.cluster().ok_or_else(|| {
        cluster_error(&ClusterError::NoCluster {
            function: function.to_owned(),
        })
    })?;
    let kind = kinds::lookup(kind).map_err(|e| cluster_error(&e))?;
    Ok((cluster, kind))
}

/// `""` is no namespace: all namespaces for a list, a cluster-scoped object otherwise.
fn namespace(ns: &str) -> Option<&str> {
    Some(ns).filter(|ns| !ns.is_empty())
}

/// Blocks on a cluster request, giving up when Ctrl-C cancels the run: retries and backoff
/// may otherwise hold a step for half a minute after the operator asked it to stop.
pub(crate) fn block<T, E: std::error::Error + 'static>(
    ctx: &RunContext,
    request: impl Future<Output = Result<T, E>>,
) -> ScriptResult<T> {
    let cancelled = async {
        while !ctx.is_cancelled() {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    ctx.handle().block_on(async {
        tokio::select! {
            result = request => result.map_err(|e| fail(crate::pki::chain_text(&e))),
            () = cancelled => Err(terminated()),
        }
    })
}

pub(super) fn terminated() -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated("cancelled".into(), rhai::Position::NONE).into()
}

/// How often a blocked request looks at the cancellation flag.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(100);

pub(super) fn to_script(value: &impl serde::Serialize) -> ScriptResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

/// Registers the cluster functions, capturing the run context.
pub fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    FuncRegistration::new("k8s_get")
        .with_volatility(true)
        .with_params_info(["kind: string", "namespace: string", "name: string", "?"])
        .with_comments([
            "/// Reads one object as a map (`metadata`, `data`, `spec`…), or `()` when it does",
            "/// not exist. `namespace` is \"\" for cluster-scoped kinds such as Namespace.",
            "///",
            "/// ```rhai",
            "/// let cm = k8s_get(\"ConfigMap\", \"linkerd\", \"linkerd-identity-trust-roots\");",
            "/// if cm != () { print(cm.data[\"ca-bundle.crt\"]); }",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |kind: &str, ns: &str, name: &str| -> ScriptResult<Dynamic> {
                let (cluster, kind) = prepare(&c, "k8s_get", kind)?;
                match block(&c, cluster.get(&kind, namespace(ns), name))? {
                    Some(object) => to_script(&object),
                    None => Ok(Dynamic::UNIT),
                }
            },
        );

    let c = Arc::clone(ctx);
    let list = move |kind: &str, ns: &str, options: Map| -> ScriptResult<Array> {
        let (cluster, kind) = prepare(&c, "k8s_list", kind)?;
        let selector = match options.get("selector") {
            None => None,
            Some(value) => Some(value.clone().into_string().map_err(|t| {
                fail(format!(
                    "k8s_list: `selector` is a string such as \"app=web\", not {t}"
                ))
            })?),
        };
        if let Some(key) = options.keys().find(|k| k.as_str() != "selector") {
            return Err(fail(format!(
                "k8s_list: unknown option `{key}`: the options are selector"
            )));
        }
        block(&c, cluster.list(&kind, namespace(ns), selector.as_deref()))?
            .iter()
            .map(to_script)
            .collect()
    };
    let list_all = list.clone();
    FuncRegistration::new("k8s_list")
        .with_volatility(true)
        .with_params_info(["kind: string", "namespace: string", "options: map", "array"])
        .with_comments([
            "/// Lists objects as an array of maps, page by page. `namespace` \"\" lists every",
            "/// namespace. Options: `selector`, a label selector (\"app=web,tier!=db\").",
            "///",
            "/// ```rhai",
            "/// let pods = k8s_list(\"Pod\", \"emojivoto\", #{ selector: \"app=web\" });",
            "/// print(pods.len());",
            "/// ```",
        ])
        .register_into_engine(engine, list);
    FuncRegistration::new("k8s_list")
        .with_volatility(true)
        .with_params_info(["kind: string", "namespace: string", "array"])
        .with_comments(["/// Lists every object of a kind in a namespace (\"\" for all)."])
        .register_into_engine(engine, move |kind: &str, ns: &str| {
            list_all(kind, ns, Map::new())
        });

    let c = Arc::clone(ctx);
    FuncRegistration::new("k8s_patch")
        .with_volatility(true)
        .with_params_info([
            "kind: string",
            "namespace: string",
            "name: string",
            "patch: map",
            "Map",
        ])
        .with_comments([
            "/// Changes an object with a JSON merge patch and returns the object after it.",
            "/// Asks consent once per run. The patch applies to the version it was read at; on a",
            "/// conflict with another writer the object is read again and the patch re-applied.",
            "/// In a dry-run the server checks the patch and stores nothing, and the run prints",
            "/// the changed fields (secret values as fingerprints).",
            "///",
            "/// ```rhai",
            "/// k8s_patch(\"ConfigMap\", \"linkerd\", \"linkerd-identity-trust-roots\",",
            "///           #{ data: #{ \"ca-bundle.crt\": bundle_pem } });",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            move |kind: &str, ns: &str, name: &str, patch: Map| -> ScriptResult<Dynamic> {
                patch_object(&c, kind, ns, name, patch)
            },
        );
}

fn patch_object(
    ctx: &RunContext,
    kind: &str,
    ns: &str,
    name: &str,
    patch: Map,
) -> ScriptResult<Dynamic> {
    let (cluster, kind) = prepare(ctx, "k8s_patch", kind)?;
    let patch: Value = rhai::serde::from_dynamic(&Dynamic::from_map(patch))?;
    let object = kind.object(namespace(ns), name);
    ctx.ensure(&format!("patch {object}"))
        .map_err(|e| fail(crate::pki::chain_text(&e)))?;
    let mode = if ctx.dry_run() {
        WriteMode::DryRun
    } else {
        WriteMode::Apply
    };

    // A merge patch is the same on every state, so re-reading after a conflict re-applies it
    // to the newer object; an object already as wanted is not written at all.
    let change = |current: &kube::api::DynamicObject| -> Result<Option<Value>, String> {
        let mut merged = serde_json::to_value(current).map_err(|e| e.to_string())?;
        let before = merged.clone();
        json_patch::merge(&mut merged, &patch);
        Ok((merged != before).then(|| patch.clone()))
    };
    let patched = block(ctx, cluster.patch(&kind, namespace(ns), name, mode, change))?;

    let summary = match patched.changes.len() {
        0 => format!("patch {object}: no change"),
        1 => format!("patch {object}: 1 field"),
        n => format!("patch {object}: {n} fields"),
    };
    if ctx.dry_run() {
        ctx.would_as(crate::output::Basis::ServerValidated, summary);
    } else {
        ctx.log(Level::Info, summary.replacen("patch", "patched", 1));
    }
    if !patched.changes.is_empty() {
        ctx.output().emit(Event::Diff {
            step: ctx.current_step(),
            object,
            dry_run: ctx.dry_run(),
            changes: patched.changes.clone(),
        });
        tracing::debug!(changes = %diff::render(&patched.changes), "patch diff");
    }
    to_script(&patched.object)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::engine::ContextOptions;
    use crate::output::{Format, Output};
    use crate::sim::{FaultConfig, SimOptions, SimServer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ctrl_c_stops_a_request_that_is_still_retrying() {
        // Every request fails, so the read would retry for half a minute.
        let options = SimOptions {
            faults: FaultConfig {
                error_rate: 1.0,
                ..FaultConfig::default()
            },
            ..SimOptions::default()
        };
        let sim = SimServer::start(options).await.unwrap();
        let cluster = Cluster::new(sim.client().await.unwrap(), "sim");
        let dir = tempfile::tempdir().unwrap();
        let options = ContextOptions {
            cluster: Some(cluster),
            ..ContextOptions::new(dir.path())
        };
        let output = Arc::new(Output::new(Format::Json, Box::new(std::io::sink())));
        let ctx = RunContext::new(options, output, tokio::runtime::Handle::current()).unwrap();
        ctx.lock_script().current_step = Some("read".into());

        let cancel = ctx.cancel_flag();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        let engine_ctx = Arc::clone(&ctx);
        let result = tokio::task::spawn_blocking(move || {
            let engine = crate::engine::new(&engine_ctx);
            engine.eval::<Dynamic>(r#"k8s_get("ConfigMap", "default", "x")"#)
        })
        .await
        .unwrap();

        let error = result.unwrap_err();
        assert!(
            matches!(error.unwrap_inner(), EvalAltResult::ErrorTerminated(..)),
            "{error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(sim.counts().get("injected", "500") >= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_patch_without_consent_writes_nothing() {
        let sim = SimServer::start(SimOptions::default()).await.unwrap();
        let cluster = Cluster::new(sim.client().await.unwrap(), "sim");
        let dir = tempfile::tempdir().unwrap();
        // A real run with no terminal and no --yes.
        let options = ContextOptions {
            cluster: Some(cluster),
            ..ContextOptions::new(dir.path())
        };
        let output = Arc::new(Output::new(Format::Json, Box::new(std::io::sink())));
        let ctx = RunContext::new(options, output, tokio::runtime::Handle::current()).unwrap();
        ctx.lock_script().current_step = Some("patch".into());

        let engine_ctx = Arc::clone(&ctx);
        let result = tokio::task::spawn_blocking(move || {
            let engine = crate::engine::new(&engine_ctx);
            engine.eval::<Dynamic>(
                r#"k8s_patch("Namespace", "", "default", #{ metadata: #{ labels: #{ a: "b" } } })"#,
            )
        })
        .await
        .unwrap();

        let error = result.unwrap_err().to_string();
        assert!(
            error.contains(
                "refusing to patch Namespace default without confirmation: there is no terminal \
                 to ask on; pass --yes to proceed"
            ),
            "{error}"
        );
        assert_eq!(sim.counts().writes(), 0);
        assert_eq!(sim.counts().get("get", "namespaces"), 0);
    }
}
