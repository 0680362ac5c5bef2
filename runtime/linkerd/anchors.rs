//! Reading the trust anchors (`read_trust_anchors`): the bundle in effect, every other copy,
//! and findings where they disagree or where Linkerd's own PEM reader would fail.

use std::collections::BTreeSet;

use serde::Serialize;

use super::LinkerdError;
use super::layout::{Era, Layout};
use super::locate;
use super::objects;
use super::objects::ControlPlaneObjects;
use super::places::Location;
use crate::pki::Bundle;

/// One copy of the anchors as found.
#[derive(Debug, Clone, Serialize)]
pub struct AnchorCopy {
    pub location: Location,
    /// Fingerprints in the order found (empty when unreadable).
    pub fingerprints: Vec<String>,
    /// The text is exactly the canonical PEM of its certificates.
    pub canonical: bool,
    /// Why the text cannot be read, by us or by Linkerd.
    pub problem: Option<String>,
}

/// What kind of trouble a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A copy holds another set of certificates than the bundle in effect.
    Disagrees,
    /// Linkerd's Go PEM reader would refuse this text (the component reading it fails).
    Unreadable,
    /// Same certificates, different text (order, line endings, blank lines, duplicates).
    NotCanonical,
    /// A place this layout reads the anchors from does not exist.
    Missing,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub location: String,
    pub message: String,
}

/// The anchors of a control plane.
#[derive(Debug, Clone, Serialize)]
pub struct TrustAnchors {
    /// Where the bundle in effect was read.
    pub source: Location,
    #[serde(skip)]
    pub bundle: Bundle,
    pub fingerprints: Vec<String>,
    pub copies: Vec<AnchorCopy>,
    pub findings: Vec<Finding>,
}

impl TrustAnchors {
    /// Whether every copy holds the same certificates as the bundle in effect.
    pub fn consistent(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.kind != FindingKind::Disagrees)
    }
}

/// Reads the anchors from the place the layout keeps them, and compares every other copy
/// with them as certificate sets.
///
/// # Errors
///
/// [`LinkerdError::MissingObject`] when the place in effect is absent;
/// [`LinkerdError::Certificates`] when its text holds no readable certificates.
pub fn read_trust_anchors(
    objects: &ControlPlaneObjects,
    layout: &Layout,
) -> Result<TrustAnchors, LinkerdError> {
    let mut locations = locate::anchor_locations(objects, layout);
    locations.extend(locate::external_ca_location(layout));
    let source = locations
        .first()
        .cloned()
        .ok_or_else(|| LinkerdError::MissingObject {
            object: format!("the trust anchors of linkerd {}", layout.era),
            why: "no object of this layout holds them".into(),
        })?;
    let text = source
        .read(objects)?
        .ok_or_else(|| LinkerdError::MissingObject {
            object: source.to_string(),
            why: format!(
                "linkerd {} keeps the trust anchors in effect there",
                layout.era
            ),
        })?;
    let bundle =
        Bundle::parse(&text, &source.to_string()).map_err(|e| LinkerdError::Certificates {
            object: source.object.to_string(),
            field: source.to_string(),
            source: e,
        })?;
    let wanted: BTreeSet<&str> = bundle.certs().iter().map(|c| c.fingerprint()).collect();

    let mut copies = Vec::new();
    let mut findings = Vec::new();
    if layout.era >= Era::C0 && objects.trust_roots.is_none() {
        let why = if layout.external_ca {
            "identity.externalCA is set, and whoever provides it has not created it yet"
        } else {
            "the identity controller and the proxy injector cannot start without it"
        };
        findings.push(Finding {
            kind: FindingKind::Missing,
            location: objects::describe("ConfigMap", &layout.namespace, objects::TRUST_ROOTS),
            message: format!(
                "linkerd {} reads the trust anchors from it: {why}",
                layout.era
            ),
        });
    }
    for location in locations {
        let Some(text) = location.read(objects)? else {
            continue;
        };
        let copy = inspect(location, &text);
        let place = copy.location.to_string();
        if let Some(problem) = &copy.problem {
            findings.push(Finding {
                kind: FindingKind::Unreadable,
                location: place.clone(),
                message: problem.clone(),
            });
        }
        let found: BTreeSet<&str> = copy.fingerprints.iter().map(String::as_str).collect();
        if !copy.fingerprints.is_empty() && found != wanted {
            findings.push(Finding {
                kind: FindingKind::Disagrees,
                location: place.clone(),
                message: describe_difference(&wanted, &found),
            });
        } else if !copy.canonical && copy.problem.is_none() && !only_final_newline(&text) {
            findings.push(Finding {
                kind: FindingKind::NotCanonical,
                location: place,
                message: "same certificates, but not in canonical PEM text (order, line endings, \
                          blank lines or duplicates differ); Linkerd compares proxies' bundles \
                          as text"
                    .into(),
            });
        }
        copies.push(copy);
    }
    Ok(TrustAnchors {
        source,
        fingerprints: bundle.fingerprints(),
        bundle,
        copies,
        findings,
    })
}

fn inspect(location: Location, text: &str) -> AnchorCopy {
    match Bundle::parse(text, &location.to_string()) {
        Ok(bundle) => AnchorCopy {
            canonical: bundle.to_pem() == text,
            fingerprints: bundle.fingerprints(),
            problem: go_pem_problem(text),
            location,
        },
        Err(e) => AnchorCopy {
            fingerprints: Vec::new(),
            canonical: false,
            problem: Some(crate::pki::chain_text(&e)),
            location,
        },
    }
}

/// Linkerd 2.13+ renders the config map without the final newline (`|-`); that alone is
/// how Linkerd itself writes it, not worth a finding.
fn only_final_newline(text: &str) -> bool {
    Bundle::parse(text, "copy").is_ok_and(|b| b.to_pem().strip_suffix('\n') == Some(text))
}

fn describe_difference(wanted: &BTreeSet<&str>, found: &BTreeSet<&str>) -> String {
    let short = |f: &&str| f.get(..16).unwrap_or(f).to_owned();
    let lacks: Vec<String> = wanted.difference(found).map(short).collect();
    let extra: Vec<String> = found.difference(wanted).map(short).collect();
    let mut parts = Vec::new();
    if !lacks.is_empty() {
        parts.push(format!("lacks {}", lacks.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("also holds {}", extra.join(", ")));
    }
    format!("differs from the bundle in effect: {}", parts.join("; "))
}

/// Why Go's `encoding/pem`, as Linkerd's `DecodePEMCertificates` loops over it, would fail
/// on `text`: anything after the last block beyond one line ending ends the loop with "not a
/// PEM certificate" (LINKERD.md §5.1).
pub fn go_pem_problem(text: &str) -> Option<String> {
    let Some(end) = text.rfind("-----END ") else {
        return Some("holds no PEM block".into());
    };
    let after_marker = &text[end..];
    let rest = match after_marker.find('\n') {
        Some(newline) => &after_marker[newline + 1..],
        None => "",
    };
    (!rest.is_empty()).then(|| {
        format!(
            "has {} byte(s) after the last PEM block (a blank line or trailing text): Linkerd \
             reads this as \"not a PEM certificate\"",
            rest.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::go_pem_problem;

    const BLOCK: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";

    #[test]
    fn go_accepts_one_line_ending_after_the_last_block_and_nothing_more() {
        assert_eq!(go_pem_problem(BLOCK), None);
        assert_eq!(go_pem_problem(&format!("{BLOCK}\n")), None);
        assert_eq!(go_pem_problem(&format!("{BLOCK}\r\n")), None);
        assert_eq!(go_pem_problem(&format!("{BLOCK}   \n")), None);
        assert!(go_pem_problem(&format!("{BLOCK}\n\n")).is_some());
        assert!(go_pem_problem(&format!("{BLOCK}\n# comment\n")).is_some());
        assert!(go_pem_problem(&format!("{BLOCK}\n  ")).is_some());
        assert!(go_pem_problem("no pem here").is_some());
    }
}
