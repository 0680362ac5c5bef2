//! The identity primitives on a live cluster: the glue between Linkerd's rules as pure code
//! (`crate::linkerd`) and cluster access (`crate::cluster`). Each fetches the control-plane
//! objects, tells the layout, and reads, checks or changes through the cluster's retried,
//! preconditioned requests.
//!
//! | file         | concern                                                                |
//! |--------------|------------------------------------------------------------------------|
//! | `fetch.rs`   | control-plane objects into `ControlPlaneObjects`; meshed pods by page  |
//! | `upgrade.rs` | plan, refuse before any write, patch under `resourceVersion`, re-plan  |
//! | `check.rs`   | the identity checks and the data-plane check page by page              |
//! | `proxies.rs` | per meshed pod: anchors, proxy start time, readiness                   |
//! | `options.rs` | checked option maps of the script functions                            |
//! | `script.rs`  | the Rhai functions `layout`, `read_trust_anchors`, `upgrade`, …        |
//! | `command.rs` | `runner check`                                                         |

mod check;
mod command;
mod error;
mod fetch;
mod options;
mod proxies;
pub mod script;
mod upgrade;

pub use check::{CheckRequest, Checked, check};
pub use command::{CheckCommand, run_check};
pub use error::IdentityError;
pub use fetch::{MESHED_SELECTOR, Visit, control_plane, for_each_pod};
pub use proxies::{ProxyPod, ProxyReader, proxies};
pub use upgrade::{Changed, Material, UpgradeRequest, Upgraded, merge_patch, prepare, upgrade};

use crate::cluster::Cluster;
use crate::linkerd::{self, ControlPlaneObjects, Layout, TrustAnchors};

/// The control-plane namespace when none is named.
pub const DEFAULT_NAMESPACE: &str = "linkerd";

/// The control plane of `namespace` and its layout.
///
/// # Errors
///
/// A failed read, or objects whose layout cannot be told (no `linkerd-config`, say).
pub async fn layout(
    cluster: &Cluster,
    namespace: &str,
) -> Result<(ControlPlaneObjects, Layout), IdentityError> {
    let objects = control_plane(cluster, namespace).await?;
    let layout = linkerd::detect(&objects)?;
    Ok((objects, layout))
}

/// The trust anchors in effect in `namespace`, every other copy, and where they disagree.
///
/// # Errors
///
/// As [`layout`], and when the place in effect is absent or unreadable.
pub async fn trust_anchors(
    cluster: &Cluster,
    namespace: &str,
) -> Result<(Layout, TrustAnchors), IdentityError> {
    let (objects, layout) = layout(cluster, namespace).await?;
    let anchors = linkerd::read_trust_anchors(&objects, &layout)?;
    Ok((layout, anchors))
}
