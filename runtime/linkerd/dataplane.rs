//! `linkerd-identity-data-plane` "data plane proxies certificate match CA" (LINKERD.md §3.4),
//! comparing certificate sets instead of text, including control-plane pods, and saying per
//! pod which anchors it lacks. Linear in the pods: each distinct env text is parsed once.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::LinkerdError;
use super::layout::{Era, Layout};
use super::objects::{self, ControlPlaneObjects, LINKERD_CONFIG, PROXY_ANCHORS_ENV, TRUST_ROOTS};
use super::places::{Location, Slot};
use super::report::{CheckResult, Section, Severity};
use crate::pki::{Bundle, Certificate};

pub const DATA_PLANE_SECTION: &str = "linkerd-identity-data-plane";
pub const DATA_PLANE_CHECK: &str = "data plane proxies certificate match CA";

/// A pod whose proxy does not trust exactly the current bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StalePod {
    pub namespace: String,
    pub name: String,
    /// Anchors of the bundle the proxy lacks, as `subject (sha256 prefix)`.
    pub lacks: Vec<String>,
    /// The same anchors by full sha256 fingerprint, for scripts to compare.
    pub missing: Vec<String>,
    /// Anchors the proxy trusts that the bundle no longer holds.
    pub extra: Vec<String>,
    /// Why the proxy's anchors could not be read, if they could not.
    pub problem: Option<String>,
}

/// The bundle proxies are compared with: the config map from 2.12, `linkerd-config` before.
///
/// # Errors
///
/// When that place is absent or holds no readable certificates.
pub fn reference_bundle(
    objects: &ControlPlaneObjects,
    layout: &Layout,
) -> Result<(Location, Bundle), LinkerdError> {
    let ns = layout.namespace.as_str();
    let location = match layout.era {
        Era::C => Location::new(
            "ConfigMap",
            ns,
            TRUST_ROOTS,
            Slot::ConfigText {
                key: "ca-bundle.crt".into(),
            },
        ),
        Era::A => Location::new(
            "ConfigMap",
            ns,
            LINKERD_CONFIG,
            Slot::ConfigJson {
                key: "global".into(),
                pointer: "/identityContext/trustAnchorsPem".into(),
            },
        ),
        Era::B1 => Location::new(
            "ConfigMap",
            ns,
            LINKERD_CONFIG,
            Slot::ConfigYaml {
                key: "values".into(),
                path: "global.identityTrustAnchorsPEM".into(),
            },
        ),
        Era::B2 | Era::C0 => Location::new(
            "ConfigMap",
            ns,
            LINKERD_CONFIG,
            Slot::ConfigYaml {
                key: "values".into(),
                path: "identityTrustAnchorsPEM".into(),
            },
        ),
    };
    let text = location
        .read(objects)?
        .ok_or_else(|| LinkerdError::MissingObject {
            object: location.to_string(),
            why: "the data-plane check compares proxies with it".into(),
        })?;
    let bundle =
        Bundle::parse(&text, &location.to_string()).map_err(|e| LinkerdError::Certificates {
            object: location.object.to_string(),
            field: location.to_string(),
            source: e,
        })?;
    Ok((location, bundle))
}

/// Compares every meshed pod (label `linkerd.io/control-plane-ns`) of `pods`, in `namespace`
/// when given, with `reference`. Returns the check's section and the stale pods.
pub fn data_plane_section(
    reference: &Bundle,
    pods: &[Value],
    namespace: Option<&str>,
) -> (Section, Vec<StalePod>) {
    let mut check = DataPlaneCheck::new(reference, namespace);
    for pod in pods {
        check.add_pod(pod);
    }
    check.finish()
}

/// Why a proxy's anchors differ from the reference.
#[derive(Clone)]
struct Difference {
    lacks: Vec<String>,
    missing: Vec<String>,
    extra: Vec<String>,
    problem: Option<String>,
}

/// `None` when a proxy's anchors text holds exactly the reference.
type Verdict = Option<Difference>;

/// The data-plane check fed page by page, so that a cluster's pods need not all be in memory
/// at once. Each distinct anchors text is parsed and compared once, whatever the pod count.
pub struct DataPlaneCheck<'a> {
    reference: &'a Bundle,
    namespace: Option<String>,
    verdicts: HashMap<String, Verdict>,
    stale: Vec<StalePod>,
}

impl<'a> DataPlaneCheck<'a> {
    pub fn new(reference: &'a Bundle, namespace: Option<&str>) -> Self {
        Self {
            reference,
            namespace: namespace.map(str::to_owned),
            verdicts: HashMap::new(),
            stale: Vec::new(),
        }
    }

    /// Compares one pod; pods that are not meshed or in another namespace are ignored.
    pub fn add_pod(&mut self, pod: &Value) {
        let meshed = pod
            .pointer("/metadata/labels/linkerd.io~1control-plane-ns")
            .is_some();
        let pod_ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !meshed || self.namespace.as_deref().is_some_and(|n| n != pod_ns) {
            return;
        }
        let Some(spec) = pod.get("spec") else {
            return;
        };
        for text in proxy_anchor_texts(spec) {
            if !self.verdicts.contains_key(text) {
                let verdict = compare(self.reference, text);
                self.verdicts.insert(text.to_owned(), verdict);
            }
            if let Some(Some(difference)) = self.verdicts.get(text) {
                let name = pod.pointer("/metadata/name").and_then(Value::as_str);
                let Difference {
                    lacks,
                    missing,
                    extra,
                    problem,
                } = difference.clone();
                self.stale.push(StalePod {
                    namespace: pod_ns.to_owned(),
                    name: name.unwrap_or_default().to_owned(),
                    lacks,
                    missing,
                    extra,
                    problem,
                });
                return;
            }
        }
    }

    /// The check's section and the stale pods.
    pub fn finish(self) -> (Section, Vec<StalePod>) {
        let stale = self.stale;
        let namespace = self.namespace.as_deref();
        let check = CheckResult::new(
            DATA_PLANE_CHECK,
            "l5d-identity-data-plane-proxies-certs-match-ca",
            Severity::Warning,
        );
        let check = if stale.is_empty() {
            check
        } else {
            let lines: Vec<String> = stale
                .iter()
                .map(|p| pod_line(p, namespace.is_some()))
                .collect();
            check.fail(format!(
                "Some pods do not have the current trust bundle and must be restarted:\n{}",
                lines.join("\n")
            ))
        };
        let section = Section {
            name: DATA_PLANE_SECTION.into(),
            checks: vec![check],
        };
        (section, stale)
    }
}

/// Compares one anchors text with the reference bundle.
fn compare(reference: &Bundle, text: &str) -> Verdict {
    let certs = match crate::pki::parse_certificates(text, "proxy env") {
        Ok(certs) => certs,
        Err(e) => {
            return Some(Difference {
                lacks: Vec::new(),
                missing: Vec::new(),
                extra: Vec::new(),
                problem: Some(crate::pki::chain_text(&e)),
            });
        }
    };
    let found: BTreeSet<&str> = certs.iter().map(Certificate::fingerprint).collect();
    let lacking: Vec<&Certificate> = reference
        .certs()
        .iter()
        .filter(|c| !found.contains(c.fingerprint()))
        .collect();
    let extra: Vec<String> = certs
        .iter()
        .filter(|c| !reference.contains(c))
        .map(Certificate::describe)
        .collect();
    (!lacking.is_empty() || !extra.is_empty()).then(|| Difference {
        lacks: lacking.iter().map(|c| c.describe()).collect(),
        missing: lacking.iter().map(|c| c.fingerprint().to_owned()).collect(),
        extra,
        problem: None,
    })
}

fn pod_line(pod: &StalePod, one_namespace: bool) -> String {
    let name = if one_namespace {
        pod.name.clone()
    } else {
        format!("{}/{}", pod.namespace, pod.name)
    };
    let mut why = Vec::new();
    if let Some(problem) = &pod.problem {
        why.push(format!("unreadable anchors: {problem}"));
    }
    if !pod.lacks.is_empty() {
        why.push(format!("lacks {}", pod.lacks.join(", ")));
    }
    if !pod.extra.is_empty() {
        why.push(format!("still trusts {}", pod.extra.join(", ")));
    }
    format!("\t* {name} ({})", why.join("; "))
}

/// The inline anchors of every `linkerd-proxy` container (init containers too: native
/// sidecars). A `valueFrom` entry is resolved when the container starts, so the pod spec
/// says nothing about what that proxy holds: it is not compared.
fn proxy_anchor_texts(spec: &Value) -> impl Iterator<Item = &str> {
    objects::containers(spec, "")
        .filter(|(_, c)| c.get("name").and_then(Value::as_str) == Some("linkerd-proxy"))
        .flat_map(|(_, c)| c.get("env").and_then(Value::as_array).into_iter().flatten())
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(PROXY_ANCHORS_ENV))
        .filter_map(|e| e.get("value").and_then(Value::as_str))
}
