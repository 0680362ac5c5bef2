//! The proxy injector: an admission hook that adds a `linkerd-proxy` container to pods
//! created in a namespace, or from a template, annotated `linkerd.io/inject: enabled`. The
//! proxy's trust anchors are the bundle the webhook reads from its mounted file at that
//! moment (LINKERD.md §1.F), inline and trimmed, plus one newline.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use super::control::{self, is_linkerd_object};
use super::mounts::Projection;
use crate::linkerd::{Era, PROXY_ANCHORS_ENV, TRUST_ROOT_SHA_ANNOTATION};
use crate::sim::Store;
use crate::sim::cluster::Kinds;
use crate::sim::kinds::ResourceType;
use crate::sim::store::{Admission, Change, Operation};

pub const INJECT_ANNOTATION: &str = "linkerd.io/inject";

/// What the webhook's mounted files say: the era, the control-plane namespace and the
/// bundle text, when Linkerd is installed.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectorView {
    pub era: Era,
    pub namespace: String,
    pub trust_domain: String,
    pub bundle: String,
}

/// The projection of the files the injector mounts.
pub struct InjectorFiles {
    pub kinds: Kinds,
}

impl Projection for InjectorFiles {
    type Content = Option<InjectorView>;

    fn concerns(&self, change: &Change) -> bool {
        is_linkerd_object(change)
    }

    fn read(&self, store: &Store) -> Self::Content {
        let objects = control::objects(store, &self.kinds);
        let (layout, bundle) = control::injector_bundle(&objects)?;
        Some(InjectorView {
            era: layout.era,
            namespace: layout.namespace,
            trust_domain: layout.trust_domain,
            bundle,
        })
    }
}

/// The webhook.
pub struct Injector {
    pub store: Store,
    pub kinds: Kinds,
    pub files: watch::Receiver<Option<InjectorView>>,
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn has_proxy(pod: &Value) -> bool {
    super::mtls::proxy_container(pod).is_some()
}

impl Injector {
    fn wants_proxy(&self, pod: &Value) -> bool {
        if has_proxy(pod) {
            return false;
        }
        match annotation(pod, INJECT_ANNOTATION) {
            Some("enabled") => true,
            Some(_) => false,
            None => {
                let ns = pod
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.store
                    .get(&self.kinds.namespace, None, ns)
                    .ok()
                    .is_some_and(|n| annotation(&n, INJECT_ANNOTATION) == Some("enabled"))
            }
        }
    }
}

impl Admission for Injector {
    fn admit(&self, op: Operation, rt: &ResourceType, pod: &mut Value) -> Result<(), String> {
        if op != Operation::Create || rt.kind != "Pod" || !rt.group.is_empty() {
            return Ok(());
        }
        if !self.wants_proxy(pod) {
            return Ok(());
        }
        // Without a control plane there is no webhook to call.
        // A webhook that has not seen the files yet reads them as a fresh mount would.
        let view = self.files.borrow().clone().or_else(|| {
            InjectorFiles {
                kinds: self.kinds.clone(),
            }
            .read(&self.store)
        });
        let Some(view) = view else {
            return Ok(());
        };
        inject(pod, &view);
        Ok(())
    }
}

/// The service account identity a proxy of `pod` asks for (LINKERD.md §4.5).
pub fn identity_name(pod: &Value, control_ns: &str, trust_domain: &str) -> String {
    let sa = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let ns = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    format!("{sa}.{ns}.serviceaccount.identity.{control_ns}.{trust_domain}")
}

fn inject(pod: &mut Value, view: &InjectorView) {
    let anchors = format!("{}\n", view.bundle.trim());
    let identity = identity_name(pod, &view.namespace, &view.trust_domain);
    let proxy = json!({
        "name": "linkerd-proxy",
        "image": "cr.l5d.io/linkerd/proxy:sim",
        "env": [
            { "name": "LINKERD2_PROXY_IDENTITY_DIR", "value": "/var/run/linkerd/identity/end-entity" },
            { "name": PROXY_ANCHORS_ENV, "value": anchors },
            { "name": "LINKERD2_PROXY_IDENTITY_LOCAL_NAME", "value": identity },
        ],
        "ports": [{ "containerPort": 4143, "name": "linkerd-proxy" }],
    });
    if let Some(containers) = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    {
        containers.insert(0, proxy);
    }
    let meta = &mut pod["metadata"];
    meta["labels"]["linkerd.io/control-plane-ns"] = json!(view.namespace);
    meta["annotations"]["linkerd.io/proxy-version"] = json!("sim");
    meta["annotations"]["linkerd.io/identity-mode"] = json!("default");
    // 2.12.1+ hash the bytes the webhook read (§1.C).
    if view.era == Era::C {
        let sha = hex::encode(Sha256::digest(view.bundle.as_bytes()));
        meta["annotations"][TRUST_ROOT_SHA_ANNOTATION] = json!(sha);
    }
}
