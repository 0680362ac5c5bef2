//! The `linkerd-identity` checks (LINKERD.md §3.2) with `linkerd check`'s names, data
//! sources, conditions, severities and hint anchors for the detected release.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::anchors::go_pem_problem;
use super::layout::{Era, IssuerScheme, Layout, detect};
use super::objects::{ControlPlaneObjects, ISSUER_SECRET, LINKERD_CONFIG};
use super::places::{Location, Slot};
use super::report::{CheckResult, Section, Severity};
use super::rules;
use crate::pki::{Bundle, Certificate, PrivateKey, chain_text, verify_chain};

/// `expirationWarningThresholdInDays` of Linkerd's check.
const EXPIRY_WARNING: Duration = Duration::days(60);
pub const IDENTITY_SECTION: &str = "linkerd-identity";

/// What the checks read: anchors and issuer from the places `linkerd check` reads them.
struct Inputs {
    anchors: Vec<Certificate>,
    issuer: Certificate,
    intermediates: Vec<Certificate>,
}

/// Runs the `linkerd-identity` section. A failed fatal check ends the section (the report
/// then stops there, as `linkerd check` does).
pub fn identity_section(objects: &ControlPlaneObjects, now: OffsetDateTime) -> Section {
    let layout = detect(objects);
    let legacy = layout.as_ref().is_ok_and(|l| l.legacy_wording);
    let (anchor_word, anchor_hint) = if legacy {
        ("trust roots", "roots")
    } else {
        ("trust anchors", "trustAnchors")
    };
    let mut checks = Vec::new();
    let config = CheckResult::new(
        "certificate config is valid",
        "l5d-identity-cert-config-valid",
        Severity::Fatal,
    );
    let inputs = layout
        .map_err(|e| chain_text(&e))
        .and_then(|layout| inputs(objects, &layout).map(|i| (layout, i)));
    let (layout, inputs) = match inputs {
        Ok(found) => {
            checks.push(config);
            found
        }
        Err(message) => {
            checks.push(config.fail(message));
            return section(checks);
        }
    };

    let check = |what: &str, hint: String, severity| CheckResult::new(what, &hint, severity);
    let fatal_anchor = |checks: &mut Vec<CheckResult>, result: CheckResult| {
        let stop = result.stops();
        checks.push(result);
        stop
    };

    let algo = check(
        &format!("{anchor_word} are using supported crypto algorithm"),
        format!("l5d-identity-{anchor_hint}-use-supported-crypto"),
        Severity::Fatal,
    );
    let problems: Vec<String> = inputs
        .anchors
        .iter()
        .filter_map(|a| rules::anchor_algorithm_problem(a, layout.era))
        .collect();
    let algo = if problems.is_empty() {
        algo
    } else {
        algo.fail(problems.join("\n"))
    };
    if fatal_anchor(&mut checks, algo) {
        return section(checks);
    }

    let timely = check(
        &format!("{anchor_word} are within their validity period"),
        format!("l5d-identity-{anchor_hint}-are-time-valid"),
        Severity::Fatal,
    );
    let invalid: Vec<String> = inputs
        .anchors
        .iter()
        .filter_map(|a| time_problem(a, now))
        .collect();
    let timely = if invalid.is_empty() {
        timely
    } else {
        timely.fail(format!("Invalid anchors:\n{}", invalid.join("\n")))
    };
    if fatal_anchor(&mut checks, timely) {
        return section(checks);
    }

    let soon = check(
        &format!("{anchor_word} are valid for at least 60 days"),
        format!("l5d-identity-{anchor_hint}-not-expiring-soon"),
        Severity::Warning,
    );
    let expiring: Vec<String> = inputs
        .anchors
        .iter()
        .filter(|a| now + EXPIRY_WARNING > a.not_after())
        .map(|a| {
            format!(
                "\t* {} {} will expire on {}",
                a.serial(),
                name(a),
                show(a.not_after())
            )
        })
        .collect();
    checks.push(if expiring.is_empty() {
        soon
    } else {
        soon.fail(format!("Anchors expiring soon:\n{}", expiring.join("\n")))
    });

    let issuer = &inputs.issuer;
    let algo = check(
        "issuer cert is using supported crypto algorithm",
        "l5d-identity-issuer-cert-uses-supported-crypto".into(),
        Severity::Fatal,
    );
    let algo = match rules::issuer_algorithm_problem(issuer, layout.era) {
        None => algo,
        Some(problem) => algo.fail(problem),
    };
    if fatal_anchor(&mut checks, algo) {
        return section(checks);
    }

    let timely = check(
        "issuer cert is within its validity period",
        "l5d-identity-issuer-cert-is-time-valid".into(),
        Severity::Fatal,
    );
    let timely = match time_problem(issuer, now) {
        None => timely,
        Some(problem) => timely.fail(format!("Invalid issuer:\n{problem}")),
    };
    if fatal_anchor(&mut checks, timely) {
        return section(checks);
    }

    let soon = check(
        "issuer cert is valid for at least 60 days",
        "l5d-identity-issuer-cert-not-expiring-soon".into(),
        Severity::Warning,
    );
    checks.push(if now + EXPIRY_WARNING > issuer.not_after() {
        soon.fail(format!(
            "issuer certificate will expire on {}",
            show(issuer.not_after())
        ))
    } else {
        soon
    });

    let (word, hint) = if legacy {
        (
            "trust root",
            "l5d-identity-issuer-cert-issued-by-trust-root",
        )
    } else {
        (
            "trust anchor",
            "l5d-identity-issuer-cert-issued-by-trust-anchor",
        )
    };
    let issued = check(
        &format!("issuer cert is issued by the {word}"),
        hint.into(),
        Severity::Error,
    );
    let verdict = verify_chain(issuer, &inputs.intermediates, &inputs.anchors, now)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            let name = layout.issuer_dns_name();
            if layout.era.checks_issuer_name() && !rules::valid_for_name(issuer, &name) {
                Err(format!(
                    "certificate {} is not valid for {name}",
                    issuer.describe()
                ))
            } else {
                Ok(())
            }
        });
    checks.push(match verdict {
        Ok(()) => issued,
        Err(e) => issued.fail(e),
    });
    section(checks)
}

fn section(checks: Vec<CheckResult>) -> Section {
    Section {
        name: IDENTITY_SECTION.into(),
        checks,
    }
}

/// Reads anchors and issuer as `checkCertificatesConfig` does: anchors from `linkerd-config`
/// (not the 2.11+ config map), or from the external issuer's `ca.crt`; the issuer pair from
/// the Secret, key matching certificate.
fn inputs(objects: &ControlPlaneObjects, layout: &Layout) -> Result<Inputs, String> {
    let ns = layout.namespace.as_str();
    let config_anchors = match layout.era {
        Era::A => Slot::ConfigJson {
            key: "global".into(),
            pointer: "/identityContext/trustAnchorsPem".into(),
        },
        Era::B1 => values_slot("global.identityTrustAnchorsPEM"),
        _ => values_slot("identityTrustAnchorsPEM"),
    };
    let config_anchors = Location::new("ConfigMap", ns, LINKERD_CONFIG, config_anchors);
    let secret = |key: &str| {
        Location::new(
            "Secret",
            ns,
            ISSUER_SECRET,
            Slot::SecretText { key: key.into() },
        )
    };
    let (anchors_at, crt_at, key_at) = match layout.scheme {
        IssuerScheme::LinkerdTls => (config_anchors.clone(), secret("crt.pem"), secret("key.pem")),
        IssuerScheme::KubernetesTls => (secret("ca.crt"), secret("tls.crt"), secret("tls.key")),
    };
    let read = |at: &Location| -> Result<String, String> {
        at.read(objects)
            .map_err(|e| chain_text(&e))?
            .ok_or_else(|| format!("{at} is missing"))
    };

    let anchors_text = read(&anchors_at)?;
    if let Some(problem) = go_pem_problem(&anchors_text) {
        return Err(format!("{anchors_at} {problem}"));
    }
    let anchors = crate::pki::parse_certificates(&anchors_text, &anchors_at.to_string())
        .map_err(|e| chain_text(&e))?;
    let crt_text = read(&crt_at)?;
    let mut certs = crate::pki::parse_certificates(&crt_text, &crt_at.to_string())
        .map_err(|e| chain_text(&e))?;
    let issuer = certs.remove(0);
    let key =
        PrivateKey::from_pem(&read(&key_at)?, &key_at.to_string()).map_err(|e| chain_text(&e))?;
    if !key.matches(&issuer) {
        return Err(format!(
            "{key_at} does not hold the key of {}",
            issuer.describe()
        ));
    }

    // 2.7-2.9 also required the config's anchors to be the external issuer's ca.crt.
    if layout.scheme == IssuerScheme::KubernetesTls && layout.era <= Era::B1 {
        let config_text = read(&config_anchors)?;
        let same = Bundle::parse(&config_text, "config")
            .ok()
            .map(|b| b.fingerprints())
            == Bundle::from_certs(anchors.clone())
                .ok()
                .map(|b| b.fingerprints());
        if !same {
            return Err(format!("{config_anchors} differs from {anchors_at}"));
        }
    }
    Ok(Inputs {
        anchors,
        issuer,
        intermediates: certs,
    })
}

fn values_slot(path: &str) -> Slot {
    Slot::ConfigYaml {
        key: "values".into(),
        path: path.into(),
    }
}

fn name(cert: &Certificate) -> &str {
    cert.common_name().unwrap_or(cert.subject())
}

fn show(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// `linkerd check`'s wording for a certificate outside its validity period.
fn time_problem(cert: &Certificate, now: OffsetDateTime) -> Option<String> {
    if now > cert.not_after() {
        Some(format!(
            "\t* {} {} not valid anymore. Expired on {}",
            cert.serial(),
            name(cert),
            show(cert.not_after())
        ))
    } else if now < cert.not_before() {
        Some(format!(
            "\t* {} {} not valid before: {}",
            cert.serial(),
            name(cert),
            show(cert.not_before())
        ))
    } else {
        None
    }
}
