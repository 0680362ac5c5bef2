//! The identity controller (LINKERD.md §4): each running replica loads the trust anchors once
//! at start, loads the issuer and checks it against them (a failure crash-loops the pod),
//! reloads the issuer when its mounted Secret changes (`IssuerUpdated` or
//! `IssuerUpdateSkipped`, one per replica), and issues leaf certificates, refusing them with
//! `IssuerValidationFailed` when the current issuer no longer verifies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use super::control::{self, COMPONENT_LABEL, is_linkerd_object};
use super::events::Recorder;
use super::mounts::Projection;
use crate::linkerd::{Era, IDENTITY_DEPLOYMENT, ISSUER_SECRET, IssuerScheme, go_pem_problem};
use crate::pki::{
    CertRequest, Certificate, CertifiedKey, Profile, Validity, VerifyError, generate,
    parse_certificates, verify_chain,
};
use crate::sim::Store;
use crate::sim::cluster::{Kinds, PodHooks, SimClock, StartError};
use crate::sim::store::Change;

/// The issuance lifetime and clock skew allowance of Linkerd's defaults (§1.E).
pub const LEAF_LIFETIME: Duration = Duration::hours(24);
const CLOCK_SKEW: Duration = Duration::seconds(20);

/// The issuer Secret's keys as the kubelet projects them into the identity pods' volume:
/// every key a file, whatever the scheme. `Debug` shows the names only.
#[derive(Clone, PartialEq)]
pub struct IssuerVolume(BTreeMap<String, String>);

impl std::fmt::Debug for IssuerVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Where the identity controller mounts the issuer Secret.
const ISSUER_DIR: &str = "/var/run/linkerd/identity/issuer";

impl IssuerVolume {
    /// The files a controller of `scheme` reads (LINKERD.md §1.D).
    ///
    /// # Errors
    ///
    /// A missing file, as Go's `ReadFile` reports it.
    fn files(&self, scheme: IssuerScheme) -> Result<IssuerFiles, String> {
        let (crt, key) = match scheme {
            IssuerScheme::LinkerdTls => ("crt.pem", "key.pem"),
            IssuerScheme::KubernetesTls => ("tls.crt", "tls.key"),
        };
        let read = |name: &str| {
            self.0.get(name).cloned().ok_or_else(|| {
                format!(
                    "failed to read CA from disk: open {ISSUER_DIR}/{name}: no such file or \
                     directory (Secret {ISSUER_SECRET} has no key {name})"
                )
            })
        };
        Ok(IssuerFiles {
            crt_name: crt,
            crt: read(crt)?,
            key: read(key)?,
        })
    }
}

/// The two files an identity controller loads. `Debug` leaves the key out.
#[derive(Clone)]
pub struct IssuerFiles {
    crt_name: &'static str,
    crt: String,
    key: String,
}

impl std::fmt::Debug for IssuerFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerFiles")
            .field(self.crt_name, &self.crt)
            .finish_non_exhaustive()
    }
}

/// The projection of the issuer Secret of the control-plane namespace.
pub struct IssuerSecret {
    pub kinds: Kinds,
}

impl Projection for IssuerSecret {
    type Content = Option<IssuerVolume>;

    fn concerns(&self, change: &Change) -> bool {
        is_linkerd_object(change)
    }

    fn read(&self, store: &Store) -> Self::Content {
        let ns = control::namespace(store, &self.kinds);
        let secret = store
            .get(&self.kinds.secret, Some(&ns), ISSUER_SECRET)
            .ok()?;
        let data = secret
            .get("data")
            .and_then(Value::as_object)
            .map(|data| {
                data.iter()
                    .filter_map(|(k, v)| {
                        let bytes = STANDARD.decode(v.as_str()?).ok()?;
                        Some((k.clone(), String::from_utf8_lossy(&bytes).into_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(IssuerVolume(data))
    }
}

/// A loaded issuer: the certificate with its key, and the chain `crt.pem` carries after it.
#[derive(Clone)]
pub struct Issuer {
    pub key: CertifiedKey,
    pub chain: Vec<Certificate>,
}

impl Issuer {
    fn load(files: &IssuerFiles) -> Result<Self, String> {
        // Go's PEM decoding fails on anything after the last block but one line ending
        // (LINKERD.md §5.1), the issuer's certificate file as much as the anchors.
        if let Some(problem) = go_pem_problem(&files.crt) {
            return Err(format!(
                "failed to read CA from disk: {} {problem}",
                files.crt_name
            ));
        }
        let key = CertifiedKey::from_pem(&files.crt, &files.key, "issuer").map_err(|e| {
            format!(
                "failed to read CA from disk: {}",
                crate::pki::chain_text(&e)
            )
        })?;
        let mut chain = parse_certificates(&files.crt, "issuer").map_err(|e| e.to_string())?;
        chain.remove(0);
        Ok(Self { key, chain })
    }
}

/// One running replica.
struct Process {
    era: Era,
    expected_name: String,
    anchors: Vec<Certificate>,
    issuer: Issuer,
    scheme: IssuerScheme,
    /// The volume as this replica last saw it.
    volume: Option<IssuerVolume>,
    recorder: Recorder,
    deployment: Value,
}

/// A leaf certificate a proxy holds, with the chain it presents (issuer and intermediates).
#[derive(Clone)]
pub struct Leaf {
    pub cert: Certificate,
    pub chain: Vec<Certificate>,
    pub renew_at: OffsetDateTime,
}

/// Every identity replica of the simulated cluster.
pub struct Identity {
    store: Store,
    kinds: Kinds,
    clock: SimClock,
    files: watch::Receiver<Option<IssuerVolume>>,
    processes: Mutex<BTreeMap<String, Process>>,
    next: std::sync::atomic::AtomicUsize,
}

fn x509_text(e: &VerifyError) -> String {
    match e {
        VerifyError::UnknownAuthority { .. } => {
            "x509: certificate signed by unknown authority".into()
        }
        VerifyError::NotValidAt { .. } => {
            format!("x509: certificate has expired or is not yet valid: {e}")
        }
        other => format!("x509: {other}"),
    }
}

fn is_identity_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/labels")
        .and_then(|l| l.get(COMPONENT_LABEL))
        .and_then(Value::as_str)
        == Some("identity")
}

impl Identity {
    pub fn new(
        store: Store,
        kinds: Kinds,
        clock: SimClock,
        files: watch::Receiver<Option<IssuerVolume>>,
    ) -> Self {
        Self {
            store,
            kinds,
            clock,
            files,
            processes: Mutex::default(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Process>> {
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What a replica does at start; an error is its fatal log line.
    fn load(&self, pod: &Value) -> Result<Process, String> {
        let objects = control::objects(&self.store, &self.kinds);
        let layout = crate::linkerd::detect(&objects)
            .map_err(|e| format!("failed to read the configuration: {e}"))?;
        let (text, source) = control::identity_anchors(&objects, &layout, pod)?;
        if let Some(problem) = go_pem_problem(&text) {
            return Err(format!("Failed to read trust anchors: {source} {problem}"));
        }
        let anchors = parse_certificates(&text, "trust anchors")
            .map_err(|e| format!("Failed to read trust anchors from {source}: {e}"))?;
        // At start the volume holds the Secret as it is now.
        let scheme = layout.scheme;
        let volume = IssuerSecret {
            kinds: self.kinds.clone(),
        }
        .read(&self.store);
        let files = volume
            .as_ref()
            .ok_or_else(|| {
                format!(
                    "failed to read CA from disk: Secret {}/{ISSUER_SECRET} is missing: the pod \
                     cannot mount it",
                    layout.namespace
                )
            })?
            .files(scheme)?;
        let expected_name = layout.issuer_dns_name();
        let issuer = Issuer::load(&files)?;
        verify_issuer(
            &issuer,
            &anchors,
            layout.era,
            &expected_name,
            self.clock.now(),
        )?;
        let ns = layout.namespace.clone();
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": ns,
            "name": IDENTITY_DEPLOYMENT,
        });
        Ok(Process {
            era: layout.era,
            expected_name,
            anchors,
            issuer,
            scheme,
            volume,
            recorder: Recorder::new(
                self.store.clone(),
                self.kinds.clone(),
                self.clock.clone(),
                "linkerd-identity",
            ),
            deployment,
        })
    }

    /// Reloads the issuer in every running replica after the mounted Secret changed. A
    /// Secret that is gone changes no file: the kubelet keeps what it projected last.
    pub fn reload(&self, volume: Option<&IssuerVolume>) {
        let Some(volume) = volume else {
            return;
        };
        let now = self.clock.now();
        for process in self.processes().values_mut() {
            if process.volume.as_ref() == Some(volume) {
                continue;
            }
            process.volume = Some(volume.clone());
            let loaded = volume
                .files(process.scheme)
                .and_then(|files| Issuer::load(&files))
                .and_then(|issuer| {
                    verify_issuer(
                        &issuer,
                        &process.anchors,
                        process.era,
                        &process.expected_name,
                        now,
                    )?;
                    Ok(issuer)
                });
            match loaded {
                Ok(issuer) => {
                    process.issuer = issuer;
                    process.recorder.record(
                        &process.deployment,
                        "Normal",
                        "IssuerUpdated",
                        "Updated identity issuer",
                    );
                }
                Err(e) => {
                    let message =
                        format!("Skipping issuer update as certs could not be read from disk: {e}");
                    process.recorder.record(
                        &process.deployment,
                        "Warning",
                        "IssuerUpdateSkipped",
                        &message,
                    );
                }
            }
        }
    }

    /// Runs the issuer watch until the mount ends.
    pub async fn watch(self: Arc<Self>) {
        let mut files = self.files.clone();
        while files.changed().await.is_ok() {
            let current = files.borrow_and_update().clone();
            self.reload(current.as_ref());
        }
    }

    /// A certificate request of a proxy for `identity`, answered by one running replica.
    ///
    /// # Errors
    ///
    /// When no replica runs, or the replica's issuer no longer verifies (it then records
    /// `IssuerValidationFailed`), or signing fails.
    pub fn issue(&self, identity: &str) -> Result<Leaf, String> {
        let now = self.clock.now();
        let processes = self.processes();
        if processes.is_empty() {
            return Err("no identity controller is running".into());
        }
        let pick = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % processes.len();
        let Some(process) = processes.values().nth(pick) else {
            return Err("no identity controller is running".into());
        };
        let issuer_cert = process.issuer.key.cert();
        if let Err(e) = verify_chain(issuer_cert, &process.issuer.chain, &process.anchors, now) {
            let message = format!("{} - CSR Identity : {identity}", x509_text(&e));
            process.recorder.record(
                &process.deployment,
                "Warning",
                "IssuerValidationFailed",
                &message,
            );
            return Err(message);
        }
        let earliest = process
            .issuer
            .chain
            .iter()
            .map(Certificate::not_after)
            .fold(issuer_cert.not_after(), std::cmp::min);
        let mut request = CertRequest::new(Profile::Leaf, identity);
        request.sans = vec![identity.to_owned()];
        request.not_before = Some(now - CLOCK_SKEW);
        let until = std::cmp::min(now + LEAF_LIFETIME + CLOCK_SKEW, earliest);
        request.not_after = Some(Validity::Until(until));
        let leaf = generate(&request, Some(&process.issuer.key))
            .map_err(|e| crate::pki::chain_text(&e))?;
        let mut chain = vec![issuer_cert.clone()];
        chain.extend(process.issuer.chain.iter().cloned());
        let lifetime = until - now;
        Ok(Leaf {
            cert: leaf.cert().clone(),
            chain,
            renew_at: now + lifetime * 0.7,
        })
    }
}

fn verify_issuer(
    issuer: &Issuer,
    anchors: &[Certificate],
    era: Era,
    name: &str,
    now: OffsetDateTime,
) -> Result<(), String> {
    verify_chain(issuer.key.cert(), &issuer.chain, anchors, now).map_err(|e| {
        format!(
            "failed to verify issuer credentials for '{name}' with trust anchors: {}",
            x509_text(&e)
        )
    })?;
    // 2.7-2.9 verify for the name `identity.<ns>.<trust domain>` (LINKERD.md §5.2).
    if era.checks_issuer_name() && !crate::linkerd::valid_for_name(issuer.key.cert(), name) {
        return Err(format!(
            "failed to verify issuer credentials for '{name}' with trust anchors: x509: certificate is not valid for {name}"
        ));
    }
    if era >= Era::C0 && !issuer.key.cert().is_ca() {
        return Err(
            "failed to verify issuer certificate: it must be an intermediate-CA, but it is not"
                .into(),
        );
    }
    Ok(())
}

impl PodHooks for Identity {
    fn starting(&self, pod: &Value) -> Result<(), StartError> {
        if !is_identity_pod(pod) {
            return Ok(());
        }
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match self.load(pod) {
            Ok(process) => {
                self.processes().insert(name, process);
                Ok(())
            }
            Err(message) => {
                self.processes().remove(&name);
                Err(StartError::Crash {
                    container: "identity".to_owned(),
                    message,
                })
            }
        }
    }

    fn stopped(&self, _namespace: &str, name: &str) {
        self.processes().remove(name);
    }
}
