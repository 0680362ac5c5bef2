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

/// What every check after the first sees.
struct Context<'a> {
    layout: Layout,
    inputs: Inputs,
    now: OffsetDateTime,
    /// "trust roots" / "trust anchors", and the matching hint-anchor word.
    words: (&'a str, &'a str),
}

type Check = fn(&Context<'_>) -> CheckResult;

/// The checks after "certificate config is valid", in `linkerd check`'s order.
const CHECKS: [Check; 7] = [
    anchors_algorithm,
    anchors_time_valid,
    anchors_not_expiring,
    issuer_algorithm,
    issuer_time_valid,
    issuer_not_expiring,
    issuer_issued_by_anchor,
];

/// Runs the `linkerd-identity` section. A failed fatal check ends the section (the report
/// then stops there, as `linkerd check` does).
pub fn identity_section(objects: &ControlPlaneObjects, now: OffsetDateTime) -> Section {
    let config = CheckResult::new(
        "certificate config is valid",
        "l5d-identity-cert-config-valid",
        Severity::Fatal,
    );
    let found = detect(objects)
        .map_err(|e| chain_text(&e))
        .and_then(|layout| inputs(objects, &layout).map(|i| (layout, i)));
    let (layout, inputs) = match found {
        Ok(found) => found,
        Err(message) => return section(vec![config.fail(message)]),
    };
    let words = if layout.legacy_wording {
        ("trust roots", "roots")
    } else {
        ("trust anchors", "trustAnchors")
    };
    let context = Context {
        layout,
        inputs,
        now,
        words,
    };

    let mut checks = vec![config];
    for check in CHECKS {
        let result = check(&context);
        let stop = result.stops();
        checks.push(result);
        if stop {
            break;
        }
    }
    section(checks)
}

/// Fails `check` with the lines of `problems`, under `heading` when given.
fn fail_with(check: CheckResult, heading: Option<&str>, problems: Vec<String>) -> CheckResult {
    if problems.is_empty() {
        return check;
    }
    let body = problems.join("\n");
    check.fail(match heading {
        Some(heading) => format!("{heading}\n{body}"),
        None => body,
    })
}

fn anchors_algorithm(cx: &Context<'_>) -> CheckResult {
    let (word, hint) = cx.words;
    let check = CheckResult::new(
        &format!("{word} are using supported crypto algorithm"),
        &format!("l5d-identity-{hint}-use-supported-crypto"),
        Severity::Fatal,
    );
    let problems = cx
        .inputs
        .anchors
        .iter()
        .filter_map(|a| rules::anchor_algorithm_problem(a, cx.layout.era))
        .collect();
    fail_with(check, None, problems)
}

fn anchors_time_valid(cx: &Context<'_>) -> CheckResult {
    let (word, hint) = cx.words;
    let check = CheckResult::new(
        &format!("{word} are within their validity period"),
        &format!("l5d-identity-{hint}-are-time-valid"),
        Severity::Fatal,
    );
    let problems = cx
        .inputs
        .anchors
        .iter()
        .filter_map(|a| time_problem(a, cx.now))
        .collect();
    fail_with(check, Some("Invalid anchors:"), problems)
}

fn anchors_not_expiring(cx: &Context<'_>) -> CheckResult {
    let (word, hint) = cx.words;
    let check = CheckResult::new(
        &format!("{word} are valid for at least 60 days"),
        &format!("l5d-identity-{hint}-not-expiring-soon"),
        Severity::Warning,
    );
    let problems = cx
        .inputs
        .anchors
        .iter()
        .filter(|a| cx.now + EXPIRY_WARNING > a.not_after())
        .map(|a| {
            let expiry = show(a.not_after());
            format!("\t* {} {} will expire on {expiry}", a.serial(), name(a))
        })
        .collect();
    fail_with(check, Some("Anchors expiring soon:"), problems)
}

fn issuer_algorithm(cx: &Context<'_>) -> CheckResult {
    let check = CheckResult::new(
        "issuer cert is using supported crypto algorithm",
        "l5d-identity-issuer-cert-uses-supported-crypto",
        Severity::Fatal,
    );
    let problem = rules::issuer_algorithm_problem(&cx.inputs.issuer, cx.layout.era);
    fail_with(check, None, problem.into_iter().collect())
}

fn issuer_time_valid(cx: &Context<'_>) -> CheckResult {
    let check = CheckResult::new(
        "issuer cert is within its validity period",
        "l5d-identity-issuer-cert-is-time-valid",
        Severity::Fatal,
    );
    let problem = time_problem(&cx.inputs.issuer, cx.now);
    fail_with(
        check,
        Some("Invalid issuer:"),
        problem.into_iter().collect(),
    )
}

fn issuer_not_expiring(cx: &Context<'_>) -> CheckResult {
    let check = CheckResult::new(
        "issuer cert is valid for at least 60 days",
        "l5d-identity-issuer-cert-not-expiring-soon",
        Severity::Warning,
    );
    let not_after = cx.inputs.issuer.not_after();
    let problem = (cx.now + EXPIRY_WARNING > not_after)
        .then(|| format!("issuer certificate will expire on {}", show(not_after)));
    fail_with(check, None, problem.into_iter().collect())
}

/// Go's `Verify` of the issuer against the anchors; 2.7-2.9 also ask for the identity name.
fn issuer_issued_by_anchor(cx: &Context<'_>) -> CheckResult {
    let (word, hint) = if cx.layout.legacy_wording {
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
    let check = CheckResult::new(
        &format!("issuer cert is issued by the {word}"),
        hint,
        Severity::Error,
    );
    let Inputs {
        anchors,
        issuer,
        intermediates,
    } = &cx.inputs;
    let name = cx.layout.issuer_dns_name();
    let problem = match verify_chain(issuer, intermediates, anchors, cx.now) {
        Err(e) => Some(e.to_string()),
        Ok(_) if cx.layout.era.checks_issuer_name() && !rules::valid_for_name(issuer, &name) => {
            Some(format!(
                "certificate {} is not valid for {name}",
                issuer.describe()
            ))
        }
        Ok(_) => None,
    };
    fail_with(check, None, problem.into_iter().collect())
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
