//! Ready-made simulated clusters (`--sim=NAME`, `sim serve --scenario NAME`): a Linkerd
//! control plane in one layout, built by our own code with freshly generated certificates,
//! and meshed applications in several namespaces (Deployments, a StatefulSet, a DaemonSet,
//! and an unmeshed namespace).
//!
//! | file               | concern                                                       |
//! |--------------------|---------------------------------------------------------------|
//! | `control_plane.rs` | the layout's objects: config maps, Secrets, Deployments       |
//! | `apps.rs`          | the applications                                              |

mod apps;
mod control_plane;

use serde_json::Value;
use time::Duration;

use crate::pki::{CertRequest, CertifiedKey, PkiError, Profile, Validity, generate};
use crate::sim::Store;
use crate::sim::load;

/// Every scenario name; the first is the default.
pub const NAMES: [&str; 8] = [
    "edge",
    "stable-2.8",
    "stable-2.10",
    "stable-2.11",
    "stable-2.12",
    "helm",
    "external-issuer",
    "expiring-root",
];

/// The scenario `--sim` uses without a name.
pub const DEFAULT: &str = "edge";

/// Errors of building or loading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario {name:?}: the scenarios are {}", NAMES.join(", "))]
    Unknown { name: String },
    #[error("generating the certificates of scenario {name}")]
    Certificates {
        name: String,
        #[source]
        source: PkiError,
    },
    #[error("loading {object} of scenario {name}: {message}")]
    Load {
        name: String,
        object: String,
        message: String,
    },
}

/// The release family a scenario's control plane has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    Stable28,
    Stable210,
    Stable211,
    Stable212,
    Edge,
}

/// What a scenario is made of.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    pub release: Release,
    pub helm: bool,
    pub external_issuer: bool,
    /// How long the trust root is valid.
    pub root_validity: Duration,
}

impl Flavor {
    /// The flavor of a scenario name.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Unknown`] for a name not in [`NAMES`].
    pub fn of(name: &str) -> Result<Self, ScenarioError> {
        let plain = |release| Self {
            release,
            helm: false,
            external_issuer: false,
            root_validity: Duration::days(3650),
        };
        Ok(match name {
            "edge" => plain(Release::Edge),
            "stable-2.8" => plain(Release::Stable28),
            "stable-2.10" => plain(Release::Stable210),
            "stable-2.11" => plain(Release::Stable211),
            "stable-2.12" => plain(Release::Stable212),
            "helm" => Self {
                helm: true,
                ..plain(Release::Edge)
            },
            "external-issuer" => Self {
                external_issuer: true,
                ..plain(Release::Edge)
            },
            "expiring-root" => Self {
                root_validity: Duration::days(20),
                ..plain(Release::Edge)
            },
            other => {
                return Err(ScenarioError::Unknown {
                    name: other.to_owned(),
                });
            }
        })
    }
}

/// The certificates a scenario starts with. `Debug` shows no key.
pub struct Identity {
    pub root: CertifiedKey,
    pub issuer: CertifiedKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("root", &self.root.cert().subject())
            .field("issuer", &self.issuer.cert().subject())
            .finish()
    }
}

fn certificates(name: &str, flavor: &Flavor) -> Result<Identity, ScenarioError> {
    let wrap = |source| ScenarioError::Certificates {
        name: name.to_owned(),
        source,
    };
    let mut root = CertRequest::new(Profile::RootCa, "root.linkerd.cluster.local");
    root.not_after = Some(Validity::For(flavor.root_validity));
    let root = generate(&root, None).map_err(wrap)?;
    let mut issuer = CertRequest::new(Profile::IntermediateCa, "identity.linkerd.cluster.local");
    // The docs' 8760h, but never beyond the root.
    issuer.not_after = Some(Validity::Until(std::cmp::min(
        root.cert().not_after(),
        root.cert().not_before() + Duration::hours(8760),
    )));
    let issuer = generate(&issuer, Some(&root)).map_err(wrap)?;
    Ok(Identity { root, issuer })
}

/// The objects of scenario `name`, in the order they are created, with its certificates.
///
/// # Errors
///
/// An unknown name, or certificates that cannot be generated.
pub fn build(name: &str) -> Result<(Vec<Value>, Identity), ScenarioError> {
    let flavor = Flavor::of(name)?;
    let identity = certificates(name, &flavor)?;
    let mut objects = control_plane::objects(&flavor, &identity).map_err(|source| {
        ScenarioError::Certificates {
            name: name.to_owned(),
            source,
        }
    })?;
    objects.extend(apps::objects());
    Ok((objects, identity))
}

/// Builds scenario `name` and creates its objects in `store`; returns its certificates
/// (the root key lets tests play the operator).
///
/// # Errors
///
/// As [`build`], or when the store refuses an object.
pub fn load(store: &Store, name: &str) -> Result<Identity, ScenarioError> {
    let (objects, identity) = build(name)?;
    for obj in objects {
        let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let object = format!(
            "{kind} {}/{}",
            obj["metadata"]["namespace"].as_str().unwrap_or_default(),
            obj["metadata"]["name"].as_str().unwrap_or_default()
        );
        let fail = |message: String| ScenarioError::Load {
            name: name.to_owned(),
            object: object.clone(),
            message,
        };
        let rt = store
            .registry()
            .by_kind(&api_version, &kind)
            .ok_or_else(|| fail(format!("the sim does not serve {api_version} {kind}")))?;
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_owned);
        if let Some(ns) = &ns {
            load::ensure_namespace(store, ns).map_err(|e| fail(e.to_string()))?;
        }
        match store.create(&rt, ns.as_deref(), obj, false) {
            Ok(_) | Err(crate::sim::store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    Ok(identity)
}
