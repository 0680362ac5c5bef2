//! The script values the identity primitives return: plain maps of strings, booleans and
//! arrays, and certificates as the `Certificate` and `Bundle` values `bundle(..)` takes.

use rhai::{Array, Dynamic, Map};

use super::ProxyPod;
use crate::linkerd::{Layout, Report, Status, TrustAnchors};

fn strings(items: &[String]) -> Dynamic {
    let array: Array = items.iter().map(|s| s.clone().into()).collect();
    array.into()
}

pub(super) fn layout_map(layout: &Layout) -> Map {
    let mut map = Map::new();
    map.insert("era".into(), layout.era.releases().into());
    map.insert("releases".into(), releases(layout).into());
    map.insert("namespace".into(), layout.namespace.clone().into());
    map.insert("scheme".into(), layout.scheme.name().into());
    map.insert("external_ca".into(), layout.external_ca.into());
    map.insert("helm".into(), layout.helm_managed().into());
    map.insert("helm_evidence".into(), strings(&layout.helm_evidence));
    map.insert("trust_domain".into(), layout.trust_domain.clone().into());
    map
}

fn releases(layout: &Layout) -> &'static str {
    use crate::linkerd::Era;
    match layout.era {
        Era::A => "stable-2.7 and stable-2.8",
        Era::B1 => "stable-2.9",
        Era::B2 => "stable-2.10",
        Era::C0 => "stable-2.11",
        Era::C => "stable-2.12 and later, edge releases",
    }
}

pub(super) fn anchors_map(anchors: &TrustAnchors) -> Map {
    let mut map = Map::new();
    let certs: Array = anchors
        .bundle
        .certs()
        .iter()
        .cloned()
        .map(Dynamic::from)
        .collect();
    map.insert("certs".into(), certs.into());
    map.insert("bundle".into(), Dynamic::from(anchors.bundle.clone()));
    map.insert("fingerprints".into(), strings(&anchors.fingerprints));
    map.insert("consistent".into(), anchors.consistent().into());
    map.insert("source".into(), anchors.source.to_string().into());
    let findings: Array = anchors
        .findings
        .iter()
        .map(|f| {
            let mut m = Map::new();
            m.insert(
                "kind".into(),
                rhai::serde::to_dynamic(f.kind).unwrap_or_default(),
            );
            m.insert("place".into(), f.location.clone().into());
            m.insert("message".into(), f.message.clone().into());
            Dynamic::from_map(m)
        })
        .collect();
    map.insert("findings".into(), findings.into());
    map
}

/// The report as a script value; `success` counts warnings as failures when `strict`.
pub(super) fn report_map(report: &Report, strict: bool) -> Map {
    let mut checks = Array::new();
    for section in &report.sections {
        for check in &section.checks {
            let mut m = Map::new();
            m.insert("section".into(), section.name.clone().into());
            m.insert("description".into(), check.description.clone().into());
            let status = match check.status {
                Status::Ok => "ok",
                Status::Warning => "warning",
                Status::Error => "error",
            };
            m.insert("status".into(), status.into());
            m.insert(
                "message".into(),
                check.message.clone().unwrap_or_default().into(),
            );
            let hint = format!("{}{}", crate::linkerd::HINT_BASE, check.hint_anchor);
            m.insert("hint".into(), hint.into());
            checks.push(m.into());
        }
    }
    let stale: Array = report
        .stale_pods
        .iter()
        .map(|pod| {
            let mut m = Map::new();
            m.insert("namespace".into(), pod.namespace.clone().into());
            m.insert("name".into(), pod.name.clone().into());
            m.insert("missing".into(), strings(&pod.missing));
            let problem = pod.problem.clone().map_or(Dynamic::UNIT, Dynamic::from);
            m.insert("problem".into(), problem);
            Dynamic::from_map(m)
        })
        .collect();
    let warnings = report.has_warnings();
    let mut map = Map::new();
    map.insert(
        "success".into(),
        (report.success() && !(strict && warnings)).into(),
    );
    map.insert("warnings".into(), warnings.into());
    map.insert("checks".into(), checks.into());
    map.insert("stale_pods".into(), stale.into());
    map
}

pub(super) fn proxy_map(pod: &ProxyPod) -> Dynamic {
    let mut m = Map::new();
    m.insert("namespace".into(), pod.namespace.clone().into());
    m.insert("name".into(), pod.name.clone().into());
    m.insert("control_plane".into(), pod.control_plane.into());
    m.insert("owner".into(), pod.owner.clone().into());
    m.insert("anchors".into(), strings(&pod.anchors));
    let started = pod
        .proxy_started
        .clone()
        .map_or(Dynamic::UNIT, Dynamic::from);
    m.insert("proxy_started".into(), started);
    m.insert("ready".into(), pod.ready.into());
    Dynamic::from_map(m)
}
