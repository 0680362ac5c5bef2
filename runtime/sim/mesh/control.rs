//! Reading the simulated control plane: its objects as [`ControlPlaneObjects`], the detected
//! layout, and the places each simulated Linkerd process reads from in that layout
//! (LINKERD.md §1, §4.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::linkerd::{
    ControlPlaneObjects, Era, ISSUER_SECRET, LINKERD_CONFIG, Layout, Location, OVERRIDES, Slot,
    TRUST_ROOTS, detect,
};
use crate::sim::Store;
use crate::sim::cluster::Kinds;
use crate::sim::store::{Change, FieldSelector, ListOptions};

/// The label the control-plane components carry (`identity`, `destination`, …).
pub const COMPONENT_LABEL: &str = "linkerd.io/control-plane-component";

/// The control-plane namespace: where `linkerd-config` lives (`linkerd` when there is none).
pub fn namespace(store: &Store, kinds: &Kinds) -> String {
    let fields = FieldSelector::parse(
        &kinds.config_map,
        &format!("metadata.name={LINKERD_CONFIG}"),
    );
    let found = fields.ok().and_then(|fields| {
        let opts = ListOptions {
            fields,
            ..ListOptions::default()
        };
        let page = store.list(&kinds.config_map, None, &opts).ok()?;
        let first = page.items.first()?;
        first
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    found.unwrap_or_else(|| "linkerd".to_owned())
}

/// The control-plane objects as stored now.
pub fn objects(store: &Store, kinds: &Kinds) -> ControlPlaneObjects {
    let ns = namespace(store, kinds);
    let get = |rt, name: &str| store.get(rt, Some(&ns), name).ok();
    let deployments = store
        .list(&kinds.deployment, Some(&ns), &ListOptions::default())
        .map(|p| p.items.iter().map(|d| (**d).clone()).collect())
        .unwrap_or_default();
    ControlPlaneObjects {
        linkerd_config: get(&kinds.config_map, LINKERD_CONFIG),
        trust_roots: get(&kinds.config_map, TRUST_ROOTS),
        issuer_secret: get(&kinds.secret, ISSUER_SECRET),
        overrides: get(&kinds.secret, OVERRIDES),
        deployments,
        namespace: ns,
    }
}

/// Where the proxy injector reads the bundle it puts into new pods (§1.F): the mounted
/// `linkerd-config` in 2.7-2.10, the mounted trust-roots ConfigMap from 2.11.
pub fn injector_source(layout: &Layout) -> Location {
    let ns = layout.namespace.as_str();
    let config = |slot| Location::new("ConfigMap", ns, LINKERD_CONFIG, slot);
    match layout.era {
        Era::A => config(Slot::ConfigJson {
            key: "global".into(),
            pointer: "/identityContext/trustAnchorsPem".into(),
        }),
        Era::B1 => config(Slot::ConfigYaml {
            key: "values".into(),
            path: "global.identityTrustAnchorsPEM".into(),
        }),
        Era::B2 => config(Slot::ConfigYaml {
            key: "values".into(),
            path: "identityTrustAnchorsPEM".into(),
        }),
        Era::C0 | Era::C => Location::new(
            "ConfigMap",
            ns,
            TRUST_ROOTS,
            Slot::ConfigText {
                key: "ca-bundle.crt".into(),
            },
        ),
    }
}

/// The bundle the injector would read from the objects as they are now.
pub fn injector_bundle(objects: &ControlPlaneObjects) -> Option<(Layout, String)> {
    let layout = detect(objects).ok()?;
    let text = injector_source(&layout).read(objects).ok()??;
    Some((layout, text))
}

/// The trust anchors an identity process loads at start (§4.1): from its own container
/// arguments (2.9) or env (2.10), else from the mounted ConfigMap. Returns the text and
/// where it was read, for messages.
///
/// # Errors
///
/// A message as the controller logs it when it cannot read them, naming the place.
pub fn identity_anchors(
    objects: &ControlPlaneObjects,
    layout: &Layout,
    pod: &Value,
) -> Result<(String, String), String> {
    let container = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some("identity"))
        });
    let decode = |b64: &str, source: String| {
        STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|text| (text, source.clone()))
            .ok_or_else(|| {
                format!("Failed to read trust anchors: {source} is not base64 of a text")
            })
    };
    match layout.era {
        Era::B1 => {
            let arg = container
                .and_then(|c| c.get("args")?.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .find_map(|a| {
                    a.strip_prefix("-identity-trust-anchors-pem=")
                        .map(str::to_owned)
                });
            let source =
                "the -identity-trust-anchors-pem argument of container identity".to_owned();
            match arg {
                Some(b64) => decode(&b64, source),
                None => Err(format!("Failed to read trust anchors: {source} is missing")),
            }
        }
        Era::B2 => {
            let env = container
                .and_then(|c| c.get("env")?.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .find(|e| {
                    e.get("name").and_then(Value::as_str) == Some("LINKERD2_IDENTITY_TRUST_ANCHORS")
                })
                .and_then(|e| e.get("value")?.as_str().map(str::to_owned));
            let source = "the LINKERD2_IDENTITY_TRUST_ANCHORS env of container identity".to_owned();
            match env {
                Some(b64) => decode(&b64, source),
                None => Err(format!("Failed to read trust anchors: {source} is not set")),
            }
        }
        Era::A | Era::C0 | Era::C => {
            let place = injector_source(layout);
            let text = place
                .read(objects)
                .map_err(|e| format!("Failed to read trust anchors from {place}: {e}"))?
                .ok_or_else(|| format!("Failed to read trust anchors: {place} is missing"))?;
            Ok((text, place.to_string()))
        }
    }
}

/// Whether a change is to one of the objects Linkerd's processes read their identity
/// material from, or to the identity Deployment that tells the layout.
pub fn is_linkerd_object(change: &Change) -> bool {
    let name = change.name.as_str();
    match (
        change.storage.group.as_str(),
        change.storage.plural.as_str(),
    ) {
        ("", "configmaps") => name == LINKERD_CONFIG || name == TRUST_ROOTS,
        ("", "secrets") => name == ISSUER_SECRET,
        ("apps", "deployments") => name == crate::linkerd::IDENTITY_DEPLOYMENT,
        _ => false,
    }
}
