//! The two upgrades a rotation needs, as plans: new trust anchors, and a new issuer. Every
//! refusal happens here, before a plan exists, so nothing is written for a refused change.

use time::format_description::well_known::Rfc3339;

use super::LinkerdError;
use super::layout::{Era, IssuerScheme, Layout};
use super::locate;
use super::objects::{ControlPlaneObjects, ISSUER_SECRET, LINKERD_CONFIG, OVERRIDES};
use super::places::{Location, Slot};
use super::plan::{self, Content, Plan, PlanOptions, Write};
use super::rules;
use crate::pki::{Bundle, Certificate, PrivateKey, VerifyError, chain_text, verify_chain};

const ANCHORS_ACTION: &str = "deploy new trust anchors";
const ISSUER_ACTION: &str = "deploy a new issuer";

/// Plans writing `anchors` (canonical PEM, the same bytes everywhere) to every place the
/// layout keeps the trust anchors, and the 2.12+ hash annotation.
///
/// # Errors
///
/// [`LinkerdError::Refused`] when the install is Helm-managed and `allow_helm` is off, when
/// an anchor uses an algorithm the release rejects, or when the running issuer would not
/// chain to the new anchors; reading errors of the current objects.
///
/// # Caveats
///
/// A plan changes objects, not running processes: proxies keep the anchors they started
/// with until their pods are recreated, and in 2.11 nothing rolls by itself (see the notes).
/// The external issuer's `ca.crt` is never written.
pub fn plan_anchors(
    objects: &ControlPlaneObjects,
    layout: &Layout,
    anchors: &Bundle,
    options: &PlanOptions,
) -> Result<Plan, LinkerdError> {
    let mut notes = Vec::new();
    plan::helm_gate(layout, options, ANCHORS_ACTION, &mut notes)?;
    if anchors.is_empty() {
        return Err(LinkerdError::refused(ANCHORS_ACTION, "the bundle is empty"));
    }
    if let Some(problem) = anchors
        .certs()
        .iter()
        .find_map(|c| rules::anchor_algorithm_problem(c, layout.era))
    {
        return Err(LinkerdError::refused(ANCHORS_ACTION, problem));
    }

    for anchor in anchors.certs() {
        if !anchor.is_valid_at(options.now) {
            return Err(LinkerdError::refused(
                ANCHORS_ACTION,
                format!(
                    "trust anchor {} is not valid now (valid from {} to {}); `linkerd check` \
                     stops at an anchor outside its validity period",
                    anchor.describe(),
                    rfc3339(anchor.not_before()),
                    rfc3339(anchor.not_after())
                ),
            ));
        }
        if anchor.path_len() == Some(0) {
            return Err(LinkerdError::refused(
                ANCHORS_ACTION,
                format!(
                    "trust anchor {} has path length 0: it cannot sign an issuer that signs \
                     proxies' certificates",
                    anchor.describe()
                ),
            ));
        }
        if anchor.not_after() < options.now + time::Duration::days(60) {
            notes.push(format!(
                "trust anchor {} expires within 60 days: `linkerd check` warns about it",
                anchor.describe()
            ));
        }
    }

    let (issuer, intermediates) = running_issuer(objects, layout)?;
    if let Err(e) = chains(&issuer, &intermediates, anchors.certs(), options) {
        return Err(LinkerdError::refused(
            ANCHORS_ACTION,
            format!(
                "the new anchors no longer contain the root of the running issuer {} ({e}); \
                 keep its root in the bundle until a new issuer is deployed",
                issuer.describe()
            ),
        ));
    }

    let pem = anchors.to_pem();
    let mut writes: Vec<Write> = locate::anchor_locations(objects, layout)
        .into_iter()
        .map(|location| Write {
            location,
            text: pem.clone(),
            content: Content::Certificates,
        })
        .collect();
    if layout.era == Era::C {
        writes.extend(plan::hash_annotation_writes(objects, anchors));
    }
    if layout.scheme == IssuerScheme::KubernetesTls {
        notes.push(format!(
            "the external issuer's ca.crt in secret {}/{ISSUER_SECRET} is not written: the \
             issuer's owner (cert-manager) keeps it",
            layout.namespace
        ));
    }
    notes.extend(plan::era_notes(layout, true));
    plan::build(objects, ANCHORS_ACTION, writes, notes)
}

/// Plans writing a new issuer: `certs[0]` is the issuer, the rest its intermediates up to a
/// root, written after it in `crt.pem` (usually there are none: the CLI keeps only the first
/// certificate, but then an issuer below an intermediate could not be verified by proxies);
/// `key_pem` is written as SEC1 `EC PRIVATE KEY`.
///
/// # Errors
///
/// [`LinkerdError::Refused`] under an external issuer, on a Helm-managed install without
/// `allow_helm`, for an issuer that is not an ECDSA P-256 CA valid now, a key that does not
/// match it, an issuer that does not chain to the deployed anchors or (2.7-2.9) is not valid
/// for `identity.<ns>.<trust domain>`; reading errors of the current objects.
///
/// # Caveats
///
/// The chain is checked against the anchors as the objects hold them; the identity
/// controller checks against the anchors it read at start, so it must have restarted since
/// the bundle was deployed (the plan's notes say so), or it skips the new issuer.
pub fn plan_issuer(
    objects: &ControlPlaneObjects,
    layout: &Layout,
    certs: &[Certificate],
    key_pem: &str,
    options: &PlanOptions,
) -> Result<Plan, LinkerdError> {
    let refuse = |reason: String| LinkerdError::refused(ISSUER_ACTION, reason);
    if layout.scheme == IssuerScheme::KubernetesTls {
        return Err(refuse(format!(
            "the issuer scheme is kubernetes.io/tls: cert-manager (or another external issuer) \
             owns secret {}/{ISSUER_SECRET} and would overwrite a native change; rotate the \
             issuer through its Certificate instead (linkerd upgrade refuses this too)",
            layout.namespace
        )));
    }
    let mut notes = Vec::new();
    plan::helm_gate(layout, options, ISSUER_ACTION, &mut notes)?;
    let [issuer, intermediates @ ..] = certs else {
        return Err(refuse("no issuer certificate was given".into()));
    };

    if let Some(problem) = rules::issuer_algorithm_problem(issuer, layout.era) {
        return Err(refuse(problem));
    }
    if !issuer.is_ca() {
        return Err(refuse(format!(
            "issuer certificate {} is not a CA (it must be an intermediate CA)",
            issuer.describe()
        )));
    }
    let key =
        PrivateKey::from_pem(key_pem, "the new issuer key").map_err(|e| refuse(chain_text(&e)))?;
    if !key.matches(issuer) {
        return Err(refuse(format!(
            "the private key ({key}) is not the key of issuer certificate {}",
            issuer.describe()
        )));
    }
    // Every copy counts: the identity controller, `linkerd check` and the proxies each read
    // their own, and a copy the issuer does not chain to is an outage for its readers.
    for location in locate::anchor_locations(objects, layout) {
        let Some(text) = location.read(objects)? else {
            continue;
        };
        let anchors =
            crate::pki::parse_certificates(&text, &location.to_string()).map_err(|e| {
                refuse(format!(
                    "the deployed anchors at {location}: {}",
                    chain_text(&e)
                ))
            })?;
        let chain = verify_chain(issuer, intermediates, &anchors, options.now).map_err(|e| {
            refuse(format!(
                "issuer certificate {} does not chain to the deployed trust anchors at \
                 {location} ({e}); deploy a bundle holding its root first",
                issuer.describe(),
            ))
        })?;
        if let Some(problem) = rules::leaf_chain_problem(&chain) {
            return Err(refuse(problem));
        }
    }
    if layout.era.checks_issuer_name() && !rules::valid_for_name(issuer, &layout.issuer_dns_name())
    {
        return Err(refuse(format!(
            "linkerd {} requires the issuer to be valid for {} (a DNS SAN, or the common name \
             when there are no DNS SANs), and {} is not",
            layout.era,
            layout.issuer_dns_name(),
            issuer.describe()
        )));
    }

    notes.push(format!(
        "the identity controller checks a new issuer against the anchors it read when it \
         started: its pods must have started after the bundle holding the new root was \
         deployed; then wait for the IssuerUpdated event of deployment {}/linkerd-identity",
        layout.namespace
    ));
    let key_text = key.to_sec1_pem().map_err(|e| refuse(chain_text(&e)))?;
    let crt_text: String = certs.iter().map(Certificate::to_pem).collect();
    let expiry = rfc3339(issuer.not_after());
    plan::build(
        objects,
        ISSUER_ACTION,
        issuer_writes(objects, layout, crt_text, key_text, expiry),
        notes,
    )
}

fn issuer_writes(
    objects: &ControlPlaneObjects,
    layout: &Layout,
    crt: String,
    key: String,
    expiry: String,
) -> Vec<Write> {
    let ns = layout.namespace.as_str();
    let secret = |key: &str| {
        Location::new(
            "Secret",
            ns,
            ISSUER_SECRET,
            Slot::SecretText { key: key.into() },
        )
    };
    let mut writes = vec![
        write(secret("crt.pem"), &crt, Content::Certificates),
        write(secret("key.pem"), &key, Content::Key),
    ];
    if layout.era.has_expiry_annotation() {
        let pointer = "/metadata/annotations/linkerd.io~1identity-issuer-expiry".to_owned();
        let location = Location::new(
            "Secret",
            ns,
            ISSUER_SECRET,
            Slot::Field {
                pointer,
                base64: false,
            },
        );
        writes.push(write(location, &expiry, Content::Plain));
    }
    if layout.era >= Era::B1 && layout.era.has_expiry_annotation() {
        let values = Slot::ConfigYaml {
            key: "values".into(),
            path: "identity.issuer.crtExpiry".into(),
        };
        let location = Location::new("ConfigMap", ns, LINKERD_CONFIG, values);
        writes.push(write(location, &expiry, Content::Plain));
    }
    if layout.era >= Era::B1 {
        let values = Slot::ConfigYaml {
            key: "values".into(),
            path: "identity.issuer.tls.crtPEM".into(),
        };
        writes.push(write(
            Location::new("ConfigMap", ns, LINKERD_CONFIG, values),
            &crt,
            Content::Certificates,
        ));
    }
    if objects.overrides.is_some() {
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
        writes.push(write(
            overrides("identity.issuer.tls.crtPEM"),
            &crt,
            Content::Certificates,
        ));
        writes.push(write(
            overrides("identity.issuer.tls.keyPEM"),
            &key,
            Content::Key,
        ));
        if layout.era.has_expiry_annotation() {
            writes.push(write(
                overrides("identity.issuer.crtExpiry"),
                &expiry,
                Content::Plain,
            ));
        }
    }
    writes
}

fn write(location: Location, text: &str, content: Content) -> Write {
    Write {
        location,
        text: text.to_owned(),
        content,
    }
}

/// The issuer the identity controller runs with: the first certificate of `crt.pem` (or
/// `tls.crt` for an external issuer) and the chain after it.
pub(crate) fn running_issuer(
    objects: &ControlPlaneObjects,
    layout: &Layout,
) -> Result<(Certificate, Vec<Certificate>), LinkerdError> {
    let key = match layout.scheme {
        IssuerScheme::LinkerdTls => "crt.pem",
        IssuerScheme::KubernetesTls => "tls.crt",
    };
    let location = Location::new(
        "Secret",
        &layout.namespace,
        ISSUER_SECRET,
        Slot::SecretText { key: key.into() },
    );
    let text = location
        .read(objects)?
        .ok_or_else(|| LinkerdError::MissingObject {
            object: location.to_string(),
            why: "the identity controller reads its issuer certificate there".into(),
        })?;
    let mut certs = crate::pki::parse_certificates(&text, &location.to_string()).map_err(|e| {
        LinkerdError::Certificates {
            object: location.object.to_string(),
            field: format!("data.{key}"),
            source: e,
        }
    })?;
    let issuer = certs.remove(0);
    Ok((issuer, certs))
}

/// Whether `issuer` chains to `anchors`, ignoring an expired issuer: the question here is
/// which root signed it, not whether it is still usable.
fn chains(
    issuer: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    options: &PlanOptions,
) -> Result<(), VerifyError> {
    match verify_chain(issuer, intermediates, anchors, options.now) {
        Ok(_) => Ok(()),
        Err(VerifyError::NotValidAt { .. }) => {
            let inside = issuer.not_before() + time::Duration::seconds(1);
            verify_chain(issuer, intermediates, anchors, inside).map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// How Linkerd writes times (`linkerd.io/identity-issuer-expiry`, `crtExpiry`).
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
