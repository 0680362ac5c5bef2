//! The identity controller (LINKERD.md §4): each running replica loads the trust anchors once
//! at start, loads the issuer and checks it against them (a failure crash-loops the pod),
//! reloads the issuer when its mounted Secret changes (`IssuerUpdated` or
//! `IssuerUpdateSkipped`, one per replica), and issues leaf certificates, refusing them with
//! `IssuerValidationFailed` when the current issuer no longer verifies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use super::control::{self, COMPONENT_LABEL, is_linkerd_object};
use super::events::Recorder;
use super::mounts::Projection;
use crate::linkerd::{Era, IDENTITY_DEPLOYMENT, go_pem_problem};
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

/// The issuer files as the identity pods see them mounted. `Debug` leaves the key out.
#[derive(Clone, PartialEq)]
pub struct IssuerFiles {
    pub scheme: crate::linkerd::IssuerScheme,
    pub crt: String,
    key: String,
}

impl std::fmt::Debug for IssuerFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerFiles")
            .field("scheme", &self.scheme)
            .field("crt", &self.crt)
            .finish_non_exhaustive()
    }
}

/// The projection of the issuer Secret.
pub struct IssuerSecret {
    pub kinds: Kinds,
}

impl Projection for IssuerSecret {
    type Content = Option<IssuerFiles>;

    fn concerns(&self, change: &Change) -> bool {
        is_linkerd_object(change)
    }

    fn read(&self, store: &Store) -> Self::Content {
        let objects = control::objects(store, &self.kinds);
        let scheme = crate::linkerd::detect(&objects).ok()?.scheme;
        let (crt, key) = control::issuer_files(&objects, scheme)?;
        Some(IssuerFiles { scheme, crt, key })
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
    files: Option<IssuerFiles>,
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
    files: watch::Receiver<Option<IssuerFiles>>,
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
        files: watch::Receiver<Option<IssuerFiles>>,
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
        let text = control::identity_anchors(&objects, &layout, pod)?;
        if let Some(problem) = go_pem_problem(&text) {
            return Err(format!("Failed to read trust anchors: {problem}"));
        }
        let anchors = parse_certificates(&text, "trust anchors")
            .map_err(|e| format!("Failed to read trust anchors: {e}"))?;
        // At start the volume holds the Secret as it is now.
        let scheme = layout.scheme;
        let (crt, key) = control::issuer_files(&objects, scheme)
            .ok_or("failed to read CA from disk: the issuer files are missing")?;
        let files = IssuerFiles { scheme, crt, key };
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
        let instance = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(Process {
            era: layout.era,
            expected_name,
            anchors,
            issuer,
            files: Some(files),
            recorder: Recorder::new(
                self.store.clone(),
                self.kinds.clone(),
                self.clock.clone(),
                "linkerd-identity",
                instance,
            ),
            deployment,
        })
    }

    /// Reloads the issuer in every running replica after the mounted Secret changed.
    pub fn reload(&self, files: Option<&IssuerFiles>) {
        let now = self.clock.now();
        for process in self.processes().values_mut() {
            if process.files.as_ref() == files {
                continue;
            }
            process.files = files.cloned();
            let loaded = files
                .ok_or_else(|| {
                    "failed to read CA from disk: the issuer files are missing".to_owned()
                })
                .and_then(Issuer::load)
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
            Err(e) => {
                self.processes().remove(&name);
                Err(StartError::Crash(e))
            }
        }
    }

    fn stopped(&self, _namespace: &str, name: &str) {
        self.processes().remove(name);
    }
}
