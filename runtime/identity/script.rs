//! The script-facing identity primitives: `layout`, `read_trust_anchors`, `upgrade`, `check`
//! and `proxies`. Each acts only inside a step, blocks on the run's runtime (Ctrl-C stops
//! it), reads for real also in a dry-run, and turns `upgrade`'s writes into server-side
//! dry-runs there.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};
use time::OffsetDateTime;

use super::options::Options;
use super::{CheckRequest, IdentityError, UpgradeRequest};
use super::{material, values};
use crate::cluster::script::block;
use crate::cluster::{Cluster, ClusterError, WriteMode};
use crate::engine::RunContext;
use crate::linkerd::Report;
use crate::output::{Basis, Event, Format, Level};
use crate::pki::chain_text;

type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), rhai::Position::NONE).into()
}

/// The run's cluster, once the call is known to be inside a step.
fn cluster<'a>(ctx: &'a RunContext, function: &str) -> ScriptResult<&'a Cluster> {
    ctx.require_step(function)?;
    ctx.cluster().ok_or_else(|| {
        let error = ClusterError::NoCluster {
            function: function.to_owned(),
        };
        fail(chain_text(&error))
    })
}

/// Blocks on an identity request with Ctrl-C honoured; errors name the function.
fn run<T>(
    ctx: &RunContext,
    function: &str,
    request: impl Future<Output = Result<T, IdentityError>>,
) -> ScriptResult<T> {
    let result = block(ctx, async { Ok::<_, ClusterError>(request.await) })?;
    result.map_err(|e| fail(format!("{function}: {}", chain_text(&e))))
}

/// Registers `name(options)` and `name()`, which is `name(#{})`.
fn register(
    engine: &mut Engine,
    name: &str,
    returns: &str,
    comments: &[&str],
    f: impl Fn(Map) -> ScriptResult<Dynamic> + Send + Sync + Clone + 'static,
) {
    let without = f.clone();
    FuncRegistration::new(name)
        .with_volatility(true)
        .with_params_info(["options: map", returns])
        .with_comments(comments.iter().copied())
        .register_into_engine(engine, move |options: Map| f(options));
    FuncRegistration::new(name)
        .with_volatility(true)
        .with_params_info([returns])
        .with_comments([format!("/// `{name}(#{{}})`: every option at its default.").as_str()])
        .register_into_engine(engine, move || without(Map::new()));
}

/// Registers the identity primitives, capturing the run context.
pub fn register_all(engine: &mut Engine, ctx: &Arc<RunContext>) {
    let c = Arc::clone(ctx);
    register(
        engine,
        "layout",
        "Map",
        &[
            "/// How the Linkerd control plane keeps its identity material, told from its objects:",
            "/// `#{ era, releases, namespace, scheme, external_ca, helm, helm_evidence,",
            "/// trust_domain }`. Option: `namespace` (the control plane's, default \"linkerd\").",
            "///",
            "/// ```rhai",
            "/// let l = layout();",
            "/// if l.helm { print(`helm-managed: ${l.helm_evidence}`); }",
            "/// ```",
        ],
        move |options| layout_fn(&c, options),
    );

    let c = Arc::clone(ctx);
    register(
        engine,
        "read_trust_anchors",
        "Map",
        &[
            "/// The trust anchors the cluster uses now, from the place its layout keeps them:",
            "/// `#{ certs, bundle, fingerprints, consistent, findings }`. `findings` lists copies",
            "/// that disagree or that Linkerd could not read (each `#{ kind, place, message }`),",
            "/// also logged as warnings. Option: `namespace` (default \"linkerd\").",
            "///",
            "/// ```rhai",
            "/// let current = read_trust_anchors();",
            "/// let both = bundle(new_root, current.certs);",
            "/// ```",
        ],
        move |options| read_fn(&c, options),
    );

    let c = Arc::clone(ctx);
    register(
        engine,
        "upgrade",
        "Map",
        &[
            "/// What `linkerd upgrade` with the identity flags changes, done natively in every",
            "/// place the layout keeps it. Options: `trust_anchors` (Bundle, Certificate or array)",
            "/// or `issuer` (a gen_cert result, a Certificate or an array issuer-first) with",
            "/// `issuer_key` (PEM text or a file, SEC1 or PKCS#8; not needed with a gen_cert",
            "/// result); `namespace`; `allow_helm` to patch a Helm-managed install anyway.",
            "/// Refuses before any write what Linkerd would reject. Returns",
            "/// `#{ changed: [#{ object, fields }], notes, dry_run }`.",
            "///",
            "/// ```rhai",
            "/// upgrade(#{ trust_anchors: bundle(new_root, read_trust_anchors().certs) });",
            "/// upgrade(#{ issuer: new_issuer });",
            "/// ```",
        ],
        move |options| upgrade_fn(&c, options),
    );

    let c = Arc::clone(ctx);
    register(
        engine,
        "check",
        "Map",
        &[
            "/// The `linkerd-identity` checks and, with `proxy: true`, the data-plane check, printed",
            "/// like `linkerd check`. Options: `proxy`, `namespace` (limits the data-plane check;",
            "/// one that does not exist fails \"data plane namespace exists\"),",
            "/// `control_plane_namespace` (default \"linkerd\"), `warnings_as_errors`. Returns",
            "/// `#{ success, warnings, checks: [#{ section, description, status, message, hint }],",
            "/// stale_pods: [#{ namespace, name, missing }] }`; it does not throw on a failed check.",
            "///",
            "/// ```rhai",
            "/// let report = check(#{ proxy: true });",
            "/// if !report.success { throw `${report.stale_pods.len()} pods lack the bundle`; }",
            "/// ```",
        ],
        move |options| check_fn(&c, options),
    );

    let c = Arc::clone(ctx);
    register(
        engine,
        "proxies",
        "array",
        &[
            "/// Every pod with a `linkerd-proxy` container: `#{ namespace, name, control_plane,",
            "/// owner, anchors, proxy_started, ready }`, where `anchors` are the fingerprints the",
            "/// proxy trusts and `proxy_started` the time its container started (or `()`).",
            "/// Option: `namespaces`, an array (default: every namespace); one that does not",
            "/// exist is an error.",
            "///",
            "/// ```rhai",
            "/// let stale = proxies().filter(|p| !p.anchors.contains(new_root.fingerprint));",
            "/// ```",
        ],
        move |options| proxies_fn(&c, options),
    );
}

fn layout_fn(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    const F: &str = "layout";
    let options = Options::new(F, options, &["namespace"]).map_err(fail)?;
    let namespace = options.namespace("namespace").map_err(fail)?;
    let cluster = cluster(ctx, F)?;
    let (_, layout) = run(ctx, F, super::layout(cluster, &namespace))?;
    Ok(values::layout_map(&layout).into())
}

fn read_fn(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    const F: &str = "read_trust_anchors";
    let options = Options::new(F, options, &["namespace"]).map_err(fail)?;
    let namespace = options.namespace("namespace").map_err(fail)?;
    let cluster = cluster(ctx, F)?;
    let (_, anchors) = run(ctx, F, super::trust_anchors(cluster, &namespace))?;
    for finding in &anchors.findings {
        ctx.log(
            Level::Warn,
            format!("trust anchors at {}: {}", finding.location, finding.message),
        );
    }
    Ok(values::anchors_map(&anchors).into())
}

fn upgrade_fn(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    const F: &str = "upgrade";
    const KNOWN: [&str; 5] = [
        "trust_anchors",
        "issuer",
        "issuer_key",
        "namespace",
        "allow_helm",
    ];
    let options = Options::new(F, options, &KNOWN).map_err(fail)?;
    let material = material::material(&options)?;
    let request = UpgradeRequest {
        namespace: options.namespace("namespace").map_err(fail)?,
        material,
        allow_helm: options.bool("allow_helm").map_err(fail)?,
        now: OffsetDateTime::now_utc(),
    };
    let cluster = cluster(ctx, F)?;

    // Every refusal comes before consent is asked, so a refused change asks nothing.
    let prepared = run(ctx, F, super::prepare(cluster, &request))?;
    let action = prepared.plan.action.clone();
    if !prepared.plan.changes.is_empty() {
        ctx.ensure(&format!("{action} in namespace {}", request.namespace))
            .map_err(|e| fail(chain_text(&e)))?;
    }
    let mode = if ctx.dry_run() {
        WriteMode::DryRun
    } else {
        WriteMode::Apply
    };
    let done = run(ctx, F, super::apply(cluster, &request, prepared, mode))?;

    let mut changed = Array::new();
    for change in &done.changed {
        let summary = format!("{}: {}", change.object, change.fields.join(", "));
        if ctx.dry_run() {
            ctx.would_as(Basis::ServerValidated, format!("patch {summary}"));
        } else {
            ctx.log(Level::Info, format!("patched {summary}"));
        }
        if !change.diff.is_empty() {
            ctx.output().emit(Event::Diff {
                step: ctx.current_step(),
                object: change.object.clone(),
                dry_run: ctx.dry_run(),
                changes: change.diff.clone(),
            });
        }
        let mut m = Map::new();
        m.insert("object".into(), change.object.clone().into());
        let fields: Array = change.fields.iter().map(|f| f.clone().into()).collect();
        m.insert("fields".into(), fields.into());
        changed.push(m.into());
    }
    if done.changed.is_empty() {
        ctx.log(Level::Info, format!("{action}: already in place"));
    }
    for note in &done.notes {
        ctx.log(Level::Info, format!("note: {note}"));
    }
    let mut map = Map::new();
    map.insert("changed".into(), changed.into());
    let notes: Array = done.notes.iter().map(|n| n.clone().into()).collect();
    map.insert("notes".into(), notes.into());
    map.insert("dry_run".into(), ctx.dry_run().into());
    Ok(map.into())
}

fn check_fn(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    const F: &str = "check";
    const KNOWN: [&str; 4] = [
        "proxy",
        "namespace",
        "control_plane_namespace",
        "warnings_as_errors",
    ];
    let options = Options::new(F, options, &KNOWN).map_err(fail)?;
    let request = CheckRequest {
        control_plane_namespace: options.namespace("control_plane_namespace").map_err(fail)?,
        proxy: options.bool("proxy").map_err(fail)?,
        namespace: options
            .string("namespace")
            .map_err(fail)?
            .filter(|n| !n.is_empty()),
        now: OffsetDateTime::now_utc(),
    };
    let strict = options.bool("warnings_as_errors").map_err(fail)?;
    let cluster = cluster(ctx, F)?;
    let checked = run(ctx, F, super::check(cluster, &request))?;
    print_report(ctx, &checked.report);
    Ok(values::report_map(&checked.report, strict).into())
}

/// Prints the report as `linkerd check` does, or as one log event in JSON output.
fn print_report(ctx: &RunContext, report: &Report) {
    let text = report.to_string();
    match ctx.output().format() {
        Format::Human => ctx.output().write_raw(&text),
        Format::Json => {
            let level = if report.success() && !report.has_warnings() {
                Level::Info
            } else {
                Level::Warn
            };
            ctx.log(level, text);
        }
    }
}

fn proxies_fn(ctx: &RunContext, options: Map) -> ScriptResult<Dynamic> {
    const F: &str = "proxies";
    let options = Options::new(F, options, &["namespaces"]).map_err(fail)?;
    let namespaces = options.strings("namespaces").map_err(fail)?;
    let cluster = cluster(ctx, F)?;
    let pods = run(ctx, F, super::proxies(cluster, &namespaces))?;
    let list: Array = pods.iter().map(values::proxy_map).collect();
    Ok(list.into())
}
