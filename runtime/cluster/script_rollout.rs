//! The script-facing rollout and event functions: `now`, `meshed_workloads`, `restart_ns`
//! and `wait_event`.
//!
//! Options are object maps; an unknown key or a wrong type is an error naming the function,
//! the key and the known keys. Each function acts only inside a step and needs a cluster.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, FuncRegistration, Map};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::api::WriteMode;
use super::error::ClusterError;
use super::events::{self, EventWait};
use super::inventory::Filter;
use super::rollout_progress;
use super::rollout_status::WORKLOAD_KINDS;
use super::script::{ScriptResult, block, fail, to_script};
use super::script_options::Options;
use crate::engine::RunContext;

/// What a rollout or an event wait may take when the script says nothing.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_CONCURRENCY: usize = 4;

/// The RFC 3339 text of a moment, in UTC with nanoseconds.
pub fn format_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn cluster<'a>(ctx: &'a RunContext, function: &str) -> ScriptResult<&'a super::Cluster> {
    ctx.require_step(function)?;
    ctx.cluster().ok_or_else(|| {
        super::script::cluster_error(&ClusterError::NoCluster {
            function: function.to_owned(),
        })
    })
}

/// `"deploy"`, `"Deployment"`, `"deployments"` → `Deployment`.
fn workload_kinds(function: &str, names: Option<Vec<String>>) -> ScriptResult<Vec<&'static str>> {
    let mut kinds = Vec::new();
    for name in names.unwrap_or_default() {
        let found = match name.to_ascii_lowercase().as_str() {
            "deployment" | "deployments" | "deploy" => "Deployment",
            "statefulset" | "statefulsets" | "sts" => "StatefulSet",
            "daemonset" | "daemonsets" | "ds" => "DaemonSet",
            _ => {
                return Err(fail(format!(
                    "{function}: unknown kind `{name}` in `kinds`: the kinds are {}",
                    WORKLOAD_KINDS.join(", ")
                )));
            }
        };
        kinds.push(found);
    }
    Ok(kinds)
}

fn namespaces_of(function: &str, value: &Dynamic) -> ScriptResult<Vec<String>> {
    if let Ok(one) = value.clone().into_string() {
        return namespaces_of(function, &Dynamic::from_array(vec![one.into()]));
    }
    let wrong = || {
        fail(format!(
            "{function}: the namespace is a string or an array of strings, not {}",
            value.type_name()
        ))
    };
    let items = value.clone().try_cast::<Array>().ok_or_else(wrong)?;
    let names: Vec<String> = items
        .into_iter()
        .map(|i| i.into_string().map_err(|_| wrong()))
        .collect::<ScriptResult<_>>()?;
    // Caught here, not by the client: kube's own words for it name no namespace or function.
    if names.iter().any(String::is_empty) {
        return Err(fail(format!("{function}: a namespace name is empty")));
    }
    Ok(names)
}

/// Registers `now`, `meshed_workloads`, `restart_ns` and `wait_event`.
pub fn register(engine: &mut Engine, ctx: &Arc<RunContext>) {
    FuncRegistration::new("now")
        .with_volatility(true)
        .with_params_info(["string"])
        .with_comments([
            "/// The current time as an RFC 3339 UTC string, for `wait_event`'s `after`.",
            "///",
            "/// ```rhai",
            "/// let before = now();",
            "/// ```",
        ])
        .register_into_engine(engine, || format_time(OffsetDateTime::now_utc()));

    let c = Arc::clone(ctx);
    let inventory = move |options: Map| -> ScriptResult<Dynamic> {
        let function = "meshed_workloads";
        let cluster = cluster(&c, function)?;
        let options = Options::new(function, options, &["namespaces", "selector", "kinds"])?;
        let filter = Filter {
            namespaces: options.strings("namespaces")?,
            selector: options.string("selector")?,
            kinds: workload_kinds(function, options.strings("kinds")?)?,
        };
        let found = block(&c, cluster.meshed_workloads(&filter))?;
        let workloads: Vec<_> = found
            .workloads
            .iter()
            .map(
                |w| serde_json::json!({ "kind": w.kind, "namespace": w.namespace, "name": w.name }),
            )
            .collect();
        to_script(&serde_json::json!({
            "namespaces": found.namespaces,
            "workloads": workloads,
            "findings": found.findings,
        }))
    };
    let all = inventory.clone();
    FuncRegistration::new("meshed_workloads")
        .with_volatility(true)
        .with_params_info(["options: map", "Map"])
        .with_comments([
            "/// The meshed Deployments, StatefulSets and DaemonSets (template or namespace",
            "/// annotated `linkerd.io/inject: enabled`, a `linkerd-proxy` in the template or in",
            "/// their pods) and the findings a restart cannot fix (paused, `OnDelete`, bare",
            "/// meshed pods). Options: `namespaces` (default: all), `selector`, `kinds`.",
            "/// Returns `#{ namespaces, workloads: [#{ kind, namespace, name }], findings }`.",
            "///",
            "/// ```rhai",
            "/// let mesh = meshed_workloads();",
            "/// restart_ns(mesh.namespaces);",
            "/// ```",
        ])
        .register_into_engine(engine, inventory);
    FuncRegistration::new("meshed_workloads")
        .with_volatility(true)
        .with_params_info(["Map"])
        .with_comments(["/// The meshed workloads of every namespace."])
        .register_into_engine(engine, move || all(Map::new()));

    let c = Arc::clone(ctx);
    let restart = move |namespaces: Dynamic, options: Map| -> ScriptResult<Dynamic> {
        restart_ns(&c, &namespaces, options)
    };
    let restart_plain = restart.clone();
    FuncRegistration::new("restart_ns")
        .with_volatility(true)
        .with_params_info(["namespace: string | array", "options: map", "Map"])
        .with_comments([
            "/// Restarts the meshed Deployments, StatefulSets and DaemonSets of the namespaces",
            "/// as `kubectl rollout restart` does, then waits until every rollout is complete.",
            "/// Paused Deployments, `OnDelete` workloads and bare meshed pods are reported as",
            "/// findings and not waited on. Options: `selector`, `kinds`, `timeout` (per",
            "/// workload, default 5m), `concurrency` (namespaces at once, default 4),",
            "/// `restart_on_delete` (delete `OnDelete` pods one at a time). Throws, naming the",
            "/// workloads, when a rollout fails or times out.",
            "/// Returns `#{ restarted: [#{ kind, namespace, name, status, seconds }], findings }`.",
            "///",
            "/// ```rhai",
            "/// restart_ns([\"emojivoto\", \"books\"], #{ timeout: duration(\"10m\") });",
            "/// ```",
        ])
        .register_into_engine(engine, restart);
    FuncRegistration::new("restart_ns")
        .with_volatility(true)
        .with_params_info(["namespace: string | array", "Map"])
        .with_comments(["/// `restart_ns(namespace, #{})`."])
        .register_into_engine(engine, move |namespaces: Dynamic| {
            restart_plain(namespaces, Map::new())
        });

    let c = Arc::clone(ctx);
    FuncRegistration::new("wait_event")
        .with_volatility(true)
        .with_params_info(["options: map", "Map"])
        .with_comments([
            "/// Waits for an event by `namespace` and `reason` (optionally the involved `kind`",
            "/// and `name`) that happened after `after` (default: the start of this step).",
            "/// Fails at once on a `fail_on` reason (for `IssuerUpdated` by default",
            "/// `IssuerUpdateSkipped` and `IssuerValidationFailed`) with the event's message,",
            "/// and at `timeout` (default 5m) with what it saw. `per_replica: true` waits for",
            "/// one event per ready replica of the Deployment `name`.",
            "/// Returns `#{ reason, message, type, count, time, object, events }`.",
            "///",
            "/// ```rhai",
            "/// wait_event(#{ namespace: \"linkerd\", reason: \"IssuerUpdated\",",
            "///              kind: \"Deployment\", name: \"linkerd-identity\" });",
            "/// ```",
        ])
        .register_into_engine(engine, move |options: Map| wait_event(&c, options));
}

fn restart_ns(ctx: &RunContext, namespaces: &Dynamic, options: Map) -> ScriptResult<Dynamic> {
    let function = "restart_ns";
    let cluster = cluster(ctx, function)?;
    let names = namespaces_of(function, namespaces)?;
    let known = [
        "selector",
        "kinds",
        "timeout",
        "concurrency",
        "restart_on_delete",
    ];
    let options = Options::new(function, options, &known)?;
    let restart = super::rollout::RestartOptions {
        filter: Filter {
            namespaces: Some(names.clone()),
            selector: options.string("selector")?,
            kinds: workload_kinds(function, options.strings("kinds")?)?,
        },
        timeout: options.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT),
        concurrency: options.count("concurrency")?.unwrap_or(DEFAULT_CONCURRENCY),
        restart_on_delete: options.bool("restart_on_delete")?.unwrap_or(false),
        mode: if ctx.dry_run() {
            WriteMode::DryRun
        } else {
            WriteMode::Apply
        },
        marker: format_time(OffsetDateTime::now_utc()),
    };
    ctx.ensure(&format!(
        "restart the meshed workloads of {}",
        names.join(", ")
    ))
    .map_err(|e| fail(crate::pki::chain_text(&e)))?;
    rollout_progress::run(ctx, cluster, &restart)
}

fn wait_event(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    let function = "wait_event";
    let cluster = cluster(ctx, function)?;
    let known = [
        "namespace",
        "reason",
        "kind",
        "name",
        "after",
        "timeout",
        "fail_on",
        "per_replica",
    ];
    let options = Options::new(function, options, &known)?;
    let required = |key: &str| -> ScriptResult<String> {
        options
            .string(key)?
            .ok_or_else(|| fail(format!("{function}: option `{key}` is required")))
    };
    let reason = required("reason")?;
    let wait = EventWait {
        namespace: required("namespace")?,
        fail_on: options
            .strings("fail_on")?
            .unwrap_or_else(|| events::default_failures(&reason)),
        reason,
        kind: options.string("kind")?,
        name: options.string("name")?,
        after: options
            .time("after")?
            .or_else(|| ctx.step_started_at())
            .unwrap_or_else(OffsetDateTime::now_utc),
        timeout: options.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT),
        per_replica: options.bool("per_replica")?.unwrap_or(false),
    };
    let about = match (&wait.kind, &wait.name) {
        (Some(kind), Some(name)) => format!(" on {kind} {}/{name}", wait.namespace),
        (None, Some(name)) => format!(" on {}/{name}", wait.namespace),
        _ => format!(" in namespace {}", wait.namespace),
    };
    if ctx.dry_run() {
        ctx.would_as(
            crate::output::Basis::Predicted,
            format!("wait for event {}{about}", wait.reason),
        );
        return to_script(&serde_json::json!({
            "predicted": true,
            "reason": wait.reason,
            "namespace": wait.namespace,
        }));
    }
    let found = block(ctx, events::wait_event(cluster, &wait, ctx.cancel_flag()))?;
    let latest = found
        .first()
        .cloned()
        .ok_or_else(|| fail(format!("{function}: no event")))?;
    ctx.log(
        crate::output::Level::Info,
        format!(
            "event {}{about}: {} ({})",
            latest.reason, latest.message, latest.time
        ),
    );
    to_script(&serde_json::json!({
        "reason": latest.reason,
        "message": latest.message,
        "type": latest.type_,
        "count": latest.count,
        "time": latest.time,
        "object": latest.object,
        "events": found,
    }))
}
