//! `check` on a cluster: the `linkerd-identity` checks over the fetched control plane and,
//! with `proxy`, the data-plane check fed one page of pods at a time.

use time::OffsetDateTime;

use super::IdentityError;
use super::fetch::{self, Visit};
use crate::cluster::Cluster;
use crate::linkerd::{self, DataPlaneCheck, Layout, Report};

/// What `check` runs.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// Where the control plane lives (`linkerd`).
    pub control_plane_namespace: String,
    /// Add the data-plane check (`--proxy`).
    pub proxy: bool,
    /// Limit the data-plane check to one namespace (`-n`).
    pub namespace: Option<String>,
    pub now: OffsetDateTime,
}

impl CheckRequest {
    pub fn new(control_plane_namespace: &str, now: OffsetDateTime) -> Self {
        Self {
            control_plane_namespace: control_plane_namespace.to_owned(),
            proxy: false,
            namespace: None,
            now,
        }
    }
}

/// The report, and the layout when it could be told.
#[derive(Debug, Clone)]
pub struct Checked {
    pub layout: Option<Layout>,
    pub report: Report,
}

/// Runs the checks. A control plane that is missing or broken is a failed check in the
/// report, not an error: that is what `linkerd check` says too.
///
/// # Errors
///
/// Only when the cluster cannot be read.
pub async fn check(cluster: &Cluster, request: &CheckRequest) -> Result<Checked, IdentityError> {
    let objects = fetch::control_plane(cluster, &request.control_plane_namespace).await?;
    let layout = linkerd::detect(&objects).ok();
    let identity = linkerd::identity_section(&objects, request.now);
    let mut report = Report {
        sections: vec![identity],
        stale_pods: Vec::new(),
    };
    // As in `linkerd check`, nothing runs after a fatal failure.
    if !request.proxy || report.stopped() {
        return Ok(Checked { layout, report });
    }

    if let Some(namespace) = &request.namespace
        && !fetch::namespace_exists(cluster, namespace).await?
    {
        report
            .sections
            .push(linkerd::data_plane_namespace_missing(namespace));
        return Ok(Checked { layout, report });
    }
    let reference = linkerd::detect(&objects).and_then(|l| linkerd::reference_bundle(&objects, &l));
    let section = match reference {
        Ok((_, bundle)) => {
            let namespace = request.namespace.as_deref();
            let mut data_plane = DataPlaneCheck::new(&bundle, namespace);
            fetch::for_each_pod(cluster, namespace, |visit| match visit {
                Visit::Pod(pod) => data_plane.add_pod(pod),
                Visit::Restart => data_plane = DataPlaneCheck::new(&bundle, namespace),
            })
            .await?;
            let (section, stale) = data_plane.finish();
            report.stale_pods = stale;
            section
        }
        Err(e) => linkerd::data_plane_unavailable(&e),
    };
    report.sections.push(section);
    Ok(Checked { layout, report })
}
