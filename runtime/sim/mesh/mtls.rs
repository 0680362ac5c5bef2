//! The mTLS model: every meshed pod's proxy holds its trust anchors (from its env at start)
//! and a leaf certificate from the identity controller (renewed at 70% of its lifetime on
//! the simulation clock). Two proxies talk when each one's anchors validate the other's
//! chain. A sampler keeps trying connections between meshed pods of each namespace and to
//! the control plane, and writes the failures to the [`FailureRecord`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::control::COMPONENT_LABEL;
use super::identity::{Identity, Leaf};
use super::injector::identity_name;
use super::record::{Failure, FailureRecord};
use crate::linkerd::PROXY_ANCHORS_ENV;
use crate::pki::{Certificate, VerifyError, parse_certificates, verify_chain};
use crate::sim::Store;
use crate::sim::cluster::{Kinds, PodHooks, SimClock, StartError};

/// Simulated time between two rounds of sampled connections.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Leaves renewed per round at most.
const RENEWALS_PER_ROUND: usize = 1000;
/// The proxy's container name in every release.
const PROXY_CONTAINER: &str = "linkerd-proxy";
/// Connections tried per namespace and round.
const PER_NAMESPACE: usize = 4;

/// One meshed pod's proxy.
#[derive(Clone)]
pub struct Proxy {
    pub anchors: Arc<Vec<Certificate>>,
    /// The anchors exactly as the env holds them.
    pub anchors_text: Arc<str>,
    pub identity: String,
    pub leaf: Leaf,
    pub control_plane: bool,
}

/// Every proxy of the simulated cluster.
pub struct Mesh {
    store: Store,
    kinds: Kinds,
    clock: SimClock,
    identity: Arc<Identity>,
    record: FailureRecord,
    proxies: Mutex<BTreeMap<(String, String), Proxy>>,
    parsed: Mutex<HashMap<String, Arc<Vec<Certificate>>>>,
}

/// The `linkerd-proxy` container: a native sidecar (init container) from edge-24.5.1, a
/// plain container before.
pub fn proxy_container(pod: &Value) -> Option<&Value> {
    ["/spec/initContainers", "/spec/containers"]
        .iter()
        .filter_map(|p| pod.pointer(p)?.as_array())
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER))
}

fn proxy_env(pod: &Value, name: &str) -> Option<Value> {
    let proxy = proxy_container(pod)?;
    proxy
        .get("env")?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .cloned()
}

fn reason(e: &VerifyError) -> String {
    match e {
        VerifyError::UnknownAuthority { .. } => "unknown issuer".into(),
        VerifyError::NotValidAt { .. } => format!("certificate expired or not yet valid: {e}"),
        other => other.to_string(),
    }
}

impl Mesh {
    pub fn new(
        store: Store,
        kinds: Kinds,
        clock: SimClock,
        identity: Arc<Identity>,
        record: FailureRecord,
    ) -> Self {
        Self {
            store,
            kinds,
            clock,
            identity,
            record,
            proxies: Mutex::default(),
            parsed: Mutex::default(),
        }
    }

    fn proxies(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Proxy>> {
        self.proxies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The proxy of a pod, as a test or a check sees it.
    pub fn proxy(&self, namespace: &str, pod: &str) -> Option<Proxy> {
        self.proxies()
            .get(&(namespace.to_owned(), pod.to_owned()))
            .cloned()
    }

    /// Every proxy, by namespace and pod name.
    pub fn all(&self) -> Vec<((String, String), Proxy)> {
        self.proxies()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The anchors the proxy container gets at start, with where they come from: its inline
    /// env, or the ConfigMap key the env refers to, read as it is now (env is resolved when
    /// the container starts). A reference that cannot be resolved keeps the container from
    /// being created, with the kubelet's message.
    fn anchors_of(&self, pod: &Value) -> Result<(String, String), StartError> {
        let config_error = |message: String| StartError::Config {
            container: PROXY_CONTAINER.to_owned(),
            message,
        };
        let env = proxy_env(pod, PROXY_ANCHORS_ENV)
            .ok_or_else(|| config_error(format!("the proxy has no {PROXY_ANCHORS_ENV} env")))?;
        if let Some(text) = env.get("value").and_then(Value::as_str) {
            return Ok((
                text.to_owned(),
                format!("the inline {PROXY_ANCHORS_ENV} env"),
            ));
        }
        let reference = env.pointer("/valueFrom/configMapKeyRef").ok_or_else(|| {
            config_error(format!(
                "{PROXY_ANCHORS_ENV} has neither a value nor a ConfigMap reference"
            ))
        })?;
        let (cm, key) = (
            reference
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            reference
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let object = self
            .store
            .get(&self.kinds.config_map, Some(ns), cm)
            .map_err(|_| config_error(format!("configmap \"{cm}\" not found")))?;
        let text = object
            .pointer(&format!(
                "/data/{}",
                key.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                config_error(format!("couldn't find key {key} in ConfigMap {ns}/{cm}"))
            })?;
        Ok((
            text.to_owned(),
            format!("ConfigMap {ns}/{cm} key {key} ({PROXY_ANCHORS_ENV})"),
        ))
    }

    fn parse(&self, text: &str) -> Result<Arc<Vec<Certificate>>, String> {
        let mut parsed = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(certs) = parsed.get(text) {
            return Ok(Arc::clone(certs));
        }
        let certs = Arc::new(
            parse_certificates(text, "trust anchors")
                .map_err(|e| format!("invalid trust anchors: {e}"))?,
        );
        parsed.insert(text.to_owned(), Arc::clone(&certs));
        Ok(certs)
    }

    /// Whether `client` and `server` complete a handshake now; the reason when not.
    pub fn handshake(client: &Proxy, server: &Proxy, at: OffsetDateTime) -> Result<(), String> {
        verify_chain(&server.leaf.cert, &server.leaf.chain, &client.anchors, at).map_err(|e| {
            format!(
                "{} (server certificate not trusted by the client)",
                reason(&e)
            )
        })?;
        verify_chain(&client.leaf.cert, &client.leaf.chain, &server.anchors, at).map_err(|e| {
            format!(
                "{} (client certificate not trusted by the server)",
                reason(&e)
            )
        })?;
        Ok(())
    }

    /// One round of sampled connections, and leaf renewals that are due.
    pub fn sample(&self) {
        let now = self.clock.now();
        let due: Vec<(String, String)> = self
            .proxies()
            .iter()
            .filter(|(_, p)| p.leaf.renew_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        // Renewals are spread over rounds so that one round stays short with 10,000 pods.
        for key in due.into_iter().take(RENEWALS_PER_ROUND) {
            let identity = self.proxies().get(&key).map(|p| p.identity.clone());
            if let Some(identity) = identity
                && let Ok(leaf) = self.identity.issue(&identity)
                && let Some(p) = self.proxies().get_mut(&key)
            {
                p.leaf = leaf;
            }
        }
        // Renewing takes real time, which the fast clock turns into minutes: a leaf renewed
        // just now must not look issued in the future.
        // The snapshot first: every leaf in it was issued before this `now`.
        let snapshot = self.all();
        let now = self.clock.now();
        let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut control = Vec::new();
        for (i, ((ns, _), p)) in snapshot.iter().enumerate() {
            by_ns.entry(ns.as_str()).or_default().push(i);
            if p.control_plane {
                control.push(i);
            }
        }
        let mut tried = 0;
        for members in by_ns.values() {
            for _ in 0..PER_NAMESPACE {
                let a = members[rand::random_range(0..members.len())];
                let b = if rand::random::<bool>() && !control.is_empty() {
                    control[rand::random_range(0..control.len())]
                } else {
                    members[rand::random_range(0..members.len())]
                };
                if a == b {
                    continue;
                }
                tried += 1;
                let ((from_ns, from), client) = &snapshot[a];
                let ((to_ns, to), server) = &snapshot[b];
                if let Err(reason) = Self::handshake(client, server, now) {
                    self.record.push(Failure {
                        at: crate::sim::store::meta::now_rfc3339(),
                        sim_time: now
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                        from: format!("{from_ns}/{from}"),
                        to: format!("{to_ns}/{to}"),
                        reason,
                    });
                }
            }
        }
        self.record.sampled(tried);
    }

    /// Samples until aborted.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.clock.sleep(SAMPLE_EVERY).await;
            self.sample();
        }
    }
}

impl PodHooks for Mesh {
    fn starting(&self, pod: &Value) -> Result<(), StartError> {
        if proxy_env(pod, PROXY_ANCHORS_ENV).is_none() {
            return Ok(());
        }
        // A proxy whose anchors do not parse exits.
        let (text, source) = self.anchors_of(pod)?;
        let anchors = self.parse(&text).map_err(|e| StartError::Crash {
            container: PROXY_CONTAINER.to_owned(),
            message: format!("{e}, read from {source}"),
        })?;
        let identity = proxy_env(pod, "LINKERD2_PROXY_IDENTITY_LOCAL_NAME")
            .and_then(|e| e.get("value")?.as_str().map(str::to_owned))
            .filter(|n| !n.contains("$("))
            .unwrap_or_else(|| identity_name(pod, "linkerd", "cluster.local"));
        let leaf = self
            .identity
            .issue(&identity)
            .map_err(|e| StartError::Waiting {
                container: PROXY_CONTAINER.to_owned(),
                message: format!("waiting for an identity certificate: {e}"),
            })?;
        let control_plane = pod
            .pointer("/metadata/labels")
            .and_then(|l| l.get(COMPONENT_LABEL))
            .is_some();
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.proxies().insert(
            (ns.to_owned(), name.to_owned()),
            Proxy {
                anchors,
                anchors_text: Arc::from(text.as_str()),
                identity,
                leaf,
                control_plane,
            },
        );
        Ok(())
    }

    fn stopped(&self, namespace: &str, name: &str) {
        self.proxies()
            .remove(&(namespace.to_owned(), name.to_owned()));
    }
}
