//! Linkerd's rules as pure code: where each release keeps its trust anchors and issuer, what
//! `linkerd upgrade` changes, and the identity checks. No I/O: the cluster layer fetches the
//! objects, hands them over as [`ControlPlaneObjects`], and sends the patches of a [`Plan`].
//!
//! | file           | concern                                                              |
//! |----------------|----------------------------------------------------------------------|
//! | `objects.rs`   | [`ControlPlaneObjects`], [`ObjectRef`], typed reads of fields          |
//! | `layout.rs`    | [`Layout`], [`Era`], [`IssuerScheme`], [`detect`]                    |
//! | `places.rs`    | [`Location`]: one place holding a copy, read and written             |
//! | `locate.rs`    | [`anchor_locations`]: every place a layout keeps the anchors         |
//! | `anchors.rs`   | [`read_trust_anchors`]: bundle in effect, copies, findings           |
//! | `rules.rs`     | algorithm and name rules per release                                 |
//! | `plan.rs`      | [`Plan`], [`ObjectChange`]: grouping writes into JSON patches        |
//! | `upgrade.rs`   | [`plan_anchors`], [`plan_issuer`] and their refusals                 |
//! | `check.rs`     | the `linkerd-identity` checks                                        |
//! | `dataplane.rs` | "data plane proxies certificate match CA"                            |
//! | `report.rs`    | [`Report`] and its `linkerd check` rendering                         |

mod anchors;
mod check;
mod dataplane;
mod error;
mod layout;
mod locate;
mod objects;
mod places;
mod plan;
mod report;
mod rules;
mod upgrade;

pub use anchors::{
    AnchorCopy, Finding, FindingKind, TrustAnchors, go_pem_problem, read_trust_anchors,
};
pub use check::{IDENTITY_SECTION, identity_section};
pub use dataplane::{
    DATA_PLANE_CHECK, DATA_PLANE_SECTION, DataPlaneCheck, StalePod, data_plane_section,
    reference_bundle,
};
pub use error::LinkerdError;
pub use layout::{Era, IssuerScheme, Layout, TRUST_ROOT_SHA_ANNOTATION, detect};
pub use locate::{anchor_locations, external_ca_location};
pub use objects::{
    ControlPlaneObjects, IDENTITY_DEPLOYMENT, ISSUER_SECRET, LINKERD_CONFIG, OVERRIDES, ObjectRef,
    PROXY_ANCHORS_ENV, TRUST_ROOTS,
};
pub use places::{Location, Slot};
pub use plan::{FieldChange, ObjectChange, Plan, PlanOptions, trust_root_sha256};
pub use report::{CheckResult, HINT_BASE, Report, Section, Severity, Status};
pub use rules::{
    anchor_algorithm_problem, issuer_algorithm_problem, leaf_chain_problem, valid_for_name,
};
pub use upgrade::{plan_anchors, plan_issuer};

use serde_json::Value;
use time::OffsetDateTime;

/// What `check` runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub now: OffsetDateTime,
    /// Add the data-plane check (`--proxy`).
    pub proxy: bool,
    /// Limit the data-plane check to one namespace (`-n`).
    pub namespace: Option<String>,
}

/// The identity checks, and with `proxy` the data-plane check over `pods`, as one report.
/// The data-plane check is not run after a fatal failure, as in `linkerd check`.
pub fn check(objects: &ControlPlaneObjects, pods: &[Value], options: &CheckOptions) -> Report {
    let identity = identity_section(objects, options.now);
    let stopped = identity.checks.iter().any(CheckResult::stops);
    let mut report = Report {
        sections: vec![identity],
        stale_pods: Vec::new(),
    };
    if !options.proxy || stopped {
        return report;
    }
    let reference = detect(objects).and_then(|layout| reference_bundle(objects, &layout));
    let section = match reference {
        Ok((_, bundle)) => {
            let (section, stale) = data_plane_section(&bundle, pods, options.namespace.as_deref());
            report.stale_pods = stale;
            section
        }
        Err(e) => data_plane_unavailable(&e),
    };
    report.sections.push(section);
    report
}

/// `linkerd check --proxy -n NS`'s `linkerd-data-plane` section when `NS` does not exist: its
/// fatal "data plane namespace exists" check fails, so no data-plane check runs after it (a
/// namespace that is not there would otherwise pass as one without stale pods).
pub fn data_plane_namespace_missing(namespace: &str) -> Section {
    Section {
        name: "linkerd-data-plane".into(),
        checks: vec![
            CheckResult::new(
                "data plane namespace exists",
                "l5d-data-plane-exists",
                Severity::Fatal,
            )
            .fail(format!("The \"{namespace}\" namespace does not exist")),
        ],
    }
}

/// The data-plane section when the bundle proxies are compared with cannot be read: the
/// check fails as a warning with the reason.
pub fn data_plane_unavailable(error: &LinkerdError) -> Section {
    Section {
        name: DATA_PLANE_SECTION.into(),
        checks: vec![
            CheckResult::new(
                DATA_PLANE_CHECK,
                "l5d-identity-data-plane-proxies-certs-match-ca",
                Severity::Warning,
            )
            .fail(crate::pki::chain_text(error)),
        ],
    }
}
