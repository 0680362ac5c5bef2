//! Which places hold a copy of the trust anchors in each layout (LINKERD.md §2.4): the
//! place in effect first, then `linkerd-config`, the overrides, the inline proxy env of
//! control-plane Deployments and the identity container's own base64 copy.

use serde_json::Value;

use super::layout::{Era, IssuerScheme, Layout};
use super::objects::{
    self, ControlPlaneObjects, IDENTITY_DEPLOYMENT, ISSUER_SECRET, LINKERD_CONFIG, OVERRIDES,
    ObjectRef, PROXY_ANCHORS_ENV, TRUST_ROOTS,
};
use super::places::{IDENTITY_ARG, IDENTITY_ENV, Location, Slot};

/// Every place that holds the trust anchors in this layout, the one in effect first: the
/// place the identity controller and the injector take them from.
pub fn anchor_locations(objects: &ControlPlaneObjects, layout: &Layout) -> Vec<Location> {
    let ns = layout.namespace.as_str();
    let values = |path: &str| {
        Location::new(
            "ConfigMap",
            ns,
            LINKERD_CONFIG,
            Slot::ConfigYaml {
                key: "values".into(),
                path: path.into(),
            },
        )
    };
    let overrides = |path: &str| {
        Location::new(
            "Secret",
            ns,
            OVERRIDES,
            Slot::SecretYaml {
                key: OVERRIDES.into(),
                path: path.into(),
            },
        )
    };
    let mut places = match layout.era {
        Era::A => vec![Location::new(
            "ConfigMap",
            ns,
            LINKERD_CONFIG,
            Slot::ConfigJson {
                key: "global".into(),
                pointer: "/identityContext/trustAnchorsPem".into(),
            },
        )],
        Era::B1 => vec![
            values("global.identityTrustAnchorsPEM"),
            overrides("global.identityTrustAnchorsPEM"),
        ],
        Era::B2 => vec![
            values("identityTrustAnchorsPEM"),
            overrides("identityTrustAnchorsPEM"),
        ],
        Era::C0 | Era::C => vec![
            Location::new(
                "ConfigMap",
                ns,
                TRUST_ROOTS,
                Slot::ConfigText {
                    key: "ca-bundle.crt".into(),
                },
            ),
            values("identityTrustAnchorsPEM"),
            overrides("identityTrustAnchorsPEM"),
        ],
    };
    if objects.overrides.is_none() {
        places.retain(|p| p.object.name != OVERRIDES);
    }
    if objects.trust_roots.is_none() {
        places.retain(|p| p.object.name != TRUST_ROOTS);
    }
    places.extend(deployment_locations(objects, layout.era));
    places
}

/// The external issuer's `ca.crt`, a copy the runner reports but never writes.
pub fn external_ca_location(layout: &Layout) -> Option<Location> {
    (layout.scheme == IssuerScheme::KubernetesTls).then(|| {
        Location::new(
            "Secret",
            &layout.namespace,
            ISSUER_SECRET,
            Slot::SecretText {
                key: "ca.crt".into(),
            },
        )
    })
}

/// Inline proxy env of control-plane Deployments, and the identity container's own copy.
fn deployment_locations(objects: &ControlPlaneObjects, era: Era) -> Vec<Location> {
    let mut places = Vec::new();
    for deployment in &objects.deployments {
        let Some(target) = ObjectRef::of(deployment) else {
            continue;
        };
        let Some(spec) = deployment.pointer("/spec/template/spec") else {
            continue;
        };
        let is_identity = target.name == IDENTITY_DEPLOYMENT;
        for (path, container) in objects::containers(spec, "/spec/template/spec") {
            let name = container.get("name").and_then(Value::as_str);
            let envs = container.get("env").and_then(Value::as_array);
            for (i, env) in envs.into_iter().flatten().enumerate() {
                let env_name = env.get("name").and_then(Value::as_str);
                // Entries with `valueFrom` take the ConfigMap at container start: not a copy.
                if env.get("value").is_none() {
                    continue;
                }
                let pointer = format!("{path}/env/{i}/value");
                let base64 = match env_name {
                    Some(PROXY_ANCHORS_ENV) if name == Some("linkerd-proxy") => false,
                    Some(IDENTITY_ENV) if is_identity && era == Era::B2 => true,
                    _ => continue,
                };
                places.push(Location {
                    object: target.clone(),
                    slot: Slot::Field { pointer, base64 },
                });
            }
            if is_identity && era == Era::B1 {
                let args = container.get("args").and_then(Value::as_array);
                for (i, arg) in args.into_iter().flatten().enumerate() {
                    if arg.as_str().is_some_and(|a| a.starts_with(IDENTITY_ARG)) {
                        places.push(Location {
                            object: target.clone(),
                            slot: Slot::Arg {
                                pointer: format!("{path}/args/{i}"),
                                prefix: IDENTITY_ARG.into(),
                            },
                        });
                    }
                }
            }
        }
    }
    places
}
