//! `runner check`: the layout of the control plane and the identity checks, printed like
//! `linkerd check` or as one JSON document, with the verdict as the exit status.

use serde::Serialize;

use super::{CheckRequest, Checked, IdentityError};
use crate::cluster::Cluster;
use crate::linkerd::{Layout, Report};
use crate::output::{Format, Output};

/// One `runner check`.
#[derive(Debug, Clone)]
pub struct CheckCommand {
    pub request: CheckRequest,
    /// A failed warning check fails the command too.
    pub warnings_as_errors: bool,
}

#[derive(Serialize)]
struct Document<'a> {
    layout: Option<&'a Layout>,
    success: bool,
    report: &'a Report,
}

/// Runs the checks and prints them; returns whether they passed.
///
/// # Errors
///
/// When the cluster cannot be read.
pub async fn run_check(
    cluster: &Cluster,
    command: &CheckCommand,
    output: &Output,
) -> Result<bool, IdentityError> {
    let Checked { layout, report } = super::check(cluster, &command.request).await?;
    let passed = report.success() && !(command.warnings_as_errors && report.has_warnings());
    match output.format() {
        Format::Human => {
            let head = match &layout {
                Some(layout) => format!("{layout}\n"),
                None => format!(
                    "no linkerd layout could be told in namespace {}\n\n",
                    command.request.control_plane_namespace
                ),
            };
            output.write_raw(&head);
            output.write_raw(&report.to_string());
            if report.success() && !passed {
                output.write_raw("warnings count as errors (--warnings-as-errors)\n");
            }
        }
        Format::Json => {
            let document = Document {
                layout: layout.as_ref(),
                success: passed,
                report: &report,
            };
            let line = serde_json::to_string(&document).unwrap_or_default();
            output.write_raw(&(line + "\n"));
        }
    }
    Ok(passed)
}
