//! [`Layout`]: which Linkerd release family runs, told from the shapes of its objects
//! (LINKERD.md §7.1), with its issuer scheme and who owns the install.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::LinkerdError;
use super::objects::{
    self, ControlPlaneObjects, IDENTITY_DEPLOYMENT, ISSUER_SECRET, LINKERD_CONFIG, OVERRIDES,
    TRUST_ROOTS, config_data, describe, str_at,
};

/// The annotation 2.12+ puts on the identity, destination and proxy-injector pod templates.
pub const TRUST_ROOT_SHA_ANNOTATION: &str = "linkerd.io/trust-root-sha256";

/// The release families that keep anchors and issuer differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Era {
    /// 2.7 and 2.8: `linkerd-config` `global` JSON.
    #[serde(rename = "2.7-2.8")]
    A,
    /// 2.9: `values` YAML with a `global` map, overrides Secret, identity arg in base64.
    #[serde(rename = "2.9")]
    B1,
    /// 2.10: flat `values`, identity env in base64.
    #[serde(rename = "2.10")]
    B2,
    /// 2.11: ConfigMap `linkerd-identity-trust-roots`, nothing rolls on a bundle change.
    #[serde(rename = "2.11")]
    C0,
    /// 2.12 and later: as 2.11 plus the `linkerd.io/trust-root-sha256` annotation.
    #[serde(rename = "2.12+")]
    C,
}

impl Era {
    pub fn releases(self) -> &'static str {
        match self {
            Self::A => "2.7-2.8",
            Self::B1 => "2.9",
            Self::B2 => "2.10",
            Self::C0 => "2.11",
            Self::C => "2.12+",
        }
    }

    /// RSA trust anchors are accepted from 2.12 (LINKERD.md §3.3).
    pub fn accepts_rsa_anchors(self) -> bool {
        self == Self::C
    }

    /// 2.7-2.9 verify the issuer for the name `identity.<ns>.<trust domain>` (§5.2).
    pub fn checks_issuer_name(self) -> bool {
        self <= Self::B1
    }

    /// 2.7-2.10 compare control-plane pods in the data-plane check too (§3.4).
    pub fn data_plane_check_skips_control_plane(self) -> bool {
        self >= Self::C0
    }

    /// Eras whose issuer Secret carries `linkerd.io/identity-issuer-expiry`.
    pub fn has_expiry_annotation(self) -> bool {
        self <= Self::C0
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.releases())
    }
}

/// Who issues the identity issuer certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IssuerScheme {
    /// Linkerd's own Secret with `crt.pem` / `key.pem`.
    #[serde(rename = "linkerd.io/tls")]
    LinkerdTls,
    /// An external issuer (cert-manager) with `tls.crt` / `tls.key` / `ca.crt`.
    #[serde(rename = "kubernetes.io/tls")]
    KubernetesTls,
}

impl IssuerScheme {
    pub fn name(self) -> &'static str {
        match self {
            Self::LinkerdTls => "linkerd.io/tls",
            Self::KubernetesTls => "kubernetes.io/tls",
        }
    }
}

/// How a Linkerd control plane keeps its identity material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub era: Era,
    pub namespace: String,
    pub scheme: IssuerScheme,
    /// `identity.externalCA`: the trust-roots ConfigMap is managed outside Linkerd.
    pub external_ca: bool,
    pub trust_domain: String,
    /// Why the install looks Helm-managed (empty when it does not).
    pub helm_evidence: Vec<String>,
    /// The `linkerd.io/created-by` annotation of `linkerd-config`, when set.
    pub created_by: Option<String>,
    /// `linkerd check` of this release says "trust roots" (before 2.8).
    pub legacy_wording: bool,
}

impl Layout {
    pub fn helm_managed(&self) -> bool {
        !self.helm_evidence.is_empty()
    }

    /// The identity name 2.7-2.9 require of the issuer.
    pub fn issuer_dns_name(&self) -> String {
        format!("identity.{}.{}", self.namespace, self.trust_domain)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "linkerd {} in namespace {}", self.era, self.namespace)?;
        writeln!(f, "  issuer scheme:  {}", self.scheme.name())?;
        writeln!(f, "  external CA:    {}", self.external_ca)?;
        writeln!(f, "  trust domain:   {}", self.trust_domain)?;
        let owner = if self.helm_managed() {
            format!("helm ({})", self.helm_evidence.join("; "))
        } else {
            "linkerd CLI".to_owned()
        };
        writeln!(f, "  installed by:   {owner}")?;
        if let Some(created_by) = &self.created_by {
            writeln!(f, "  created by:     {created_by}")?;
        }
        Ok(())
    }
}

/// Tells the layout from the objects' shapes.
///
/// # Errors
///
/// [`LinkerdError::MissingObject`] without `linkerd-config`, without an issuer Secret, or
/// (2.9+) without readable values; [`LinkerdError::Contradiction`] when the objects mix
/// layouts; [`LinkerdError::BadField`] for unreadable JSON or YAML.
pub fn detect(objects: &ControlPlaneObjects) -> Result<Layout, LinkerdError> {
    let ns = objects.namespace.as_str();
    let config_name = describe("ConfigMap", ns, LINKERD_CONFIG);
    let config = objects
        .linkerd_config
        .as_ref()
        .ok_or_else(|| LinkerdError::MissingObject {
            object: config_name.clone(),
            why: "every Linkerd release from 2.7 keeps its configuration there".into(),
        })?;

    let global = config_data(config, "global");
    let values = config_data(config, "values");
    let (era, scheme, external_ca, trust_domain) = match (global, values) {
        (Some(_), Some(_)) => {
            return Err(LinkerdError::Contradiction {
                what: format!(
                    "{config_name} holds both `global` (2.7-2.8) and `values` (2.9+) data"
                ),
            });
        }
        (None, None) => {
            return Err(LinkerdError::bad_field(
                &config_name,
                "data",
                "holds neither `global` (2.7-2.8) nor `values` (2.9+)",
            ));
        }
        (Some(text), None) => {
            let global: Value = serde_json::from_str(text).map_err(|e| {
                LinkerdError::bad_field(&config_name, "data.global", format!("not JSON: {e}"))
            })?;
            if objects.trust_roots.is_some() {
                return Err(LinkerdError::Contradiction {
                    what: format!(
                        "{config_name} has the 2.7-2.8 `global` data, but {} (2.11+) exists",
                        describe("ConfigMap", ns, TRUST_ROOTS)
                    ),
                });
            }
            let scheme = str_at(&global, "identityContext.scheme").unwrap_or_default();
            let domain = str_at(&global, "identityContext.trustDomain").unwrap_or("cluster.local");
            (Era::A, scheme.to_owned(), false, domain.to_owned())
        }
        (None, Some(text)) => {
            let values = objects::parse_yaml(text, &config_name, "data.values")?;
            let era = values_era(objects, &values);
            let scheme = str_at(&values, "identity.issuer.scheme").unwrap_or_default();
            // 2.11 and 2.12 render it under `identity.issuer`, later charts under `identity`.
            let external = ["/identity/externalCA", "/identity/issuer/externalCA"]
                .iter()
                .any(|p| values.pointer(p).and_then(Value::as_bool) == Some(true));
            let domain = str_at(&values, "identityTrustDomain")
                .or_else(|| str_at(&values, "global.identityTrustDomain"))
                .unwrap_or("cluster.local");
            (era, scheme.to_owned(), external, domain.to_owned())
        }
    };

    let scheme = match scheme.as_str() {
        "" | "linkerd.io/tls" => IssuerScheme::LinkerdTls,
        "kubernetes.io/tls" => IssuerScheme::KubernetesTls,
        other => {
            return Err(LinkerdError::bad_field(
                &config_name,
                "identity issuer scheme",
                format!("{other:?} is neither linkerd.io/tls nor kubernetes.io/tls"),
            ));
        }
    };
    if objects.issuer_secret.is_none() {
        return Err(LinkerdError::MissingObject {
            object: describe("Secret", ns, ISSUER_SECRET),
            why: format!(
                "the identity controller reads its issuer from it ({})",
                scheme.name()
            ),
        });
    }
    if objects.deployment(IDENTITY_DEPLOYMENT).is_none() {
        return Err(LinkerdError::MissingObject {
            object: describe("Deployment", ns, IDENTITY_DEPLOYMENT),
            why: "it runs the identity controller of every release".into(),
        });
    }

    let created_by = config
        .pointer("/metadata/annotations/linkerd.io~1created-by")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // The shapes of 2.7 and 2.8 are the same; only the recorded CLI version tells them apart.
    let cli_version = config_data(config, "install")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|install| install.get("cliVersion")?.as_str().map(str::to_owned));
    let before_2_8 = |v: &str| v.contains("stable-2.7.") || v.contains("stable-2.6.");
    let legacy_wording = era == Era::A
        && (created_by.as_deref().is_some_and(before_2_8)
            || cli_version.as_deref().is_some_and(before_2_8));
    Ok(Layout {
        era,
        namespace: ns.to_owned(),
        scheme,
        external_ca,
        trust_domain,
        helm_evidence: helm_evidence(objects, era),
        created_by,
        legacy_wording,
    })
}

/// 2.9 nests the anchors under `global`; 2.11 adds the trust-roots ConfigMap (or, with an
/// external CA, proxies that read it); 2.12 adds the hash annotation.
fn values_era(objects: &ControlPlaneObjects, values: &Value) -> Era {
    if values.pointer("/global/identityTrustAnchorsPEM").is_some() {
        return Era::B1;
    }
    let templates = || {
        objects
            .deployments
            .iter()
            .filter_map(|d| d.pointer("/spec/template"))
    };
    let hashed = templates().any(|t| {
        t.pointer("/metadata/annotations")
            .and_then(|a| a.get(TRUST_ROOT_SHA_ANNOTATION))
            .is_some()
    });
    let reads_cm = templates().any(|t| t.to_string().contains(TRUST_ROOTS));
    match (objects.trust_roots.is_some() || reads_cm, hashed) {
        (_, true) => Era::C,
        (true, false) => Era::C0,
        (false, false) => Era::B2,
    }
}

/// LINKERD.md §2.5: no overrides Secret from 2.9, Helm's labels and annotations, or
/// `created-by: linkerd/helm`.
fn helm_evidence(objects: &ControlPlaneObjects, era: Era) -> Vec<String> {
    let mut evidence = Vec::new();
    if era >= Era::B1 && objects.overrides.is_none() {
        evidence.push(format!(
            "no {} (the CLI always writes it)",
            describe("Secret", &objects.namespace, OVERRIDES)
        ));
    }
    let helm_marked = |o: &Value| {
        o.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
            .and_then(Value::as_str)
            == Some("Helm")
            || o.pointer("/metadata/annotations/meta.helm.sh~1release-name")
                .is_some()
    };
    let created_by_helm = |o: &Value| {
        o.pointer("/metadata/annotations/linkerd.io~1created-by")
            .and_then(Value::as_str)
            .is_some_and(|c| c.starts_with("linkerd/helm"))
    };
    if let Some(o) = objects.iter().find(|o| helm_marked(o)) {
        let name = objects::ObjectRef::of(o)
            .map(|r| r.to_string())
            .unwrap_or_default();
        evidence.push(format!(
            "{name} carries Helm's managed-by label or release annotation"
        ));
    }
    if let Some(o) = objects.iter().find(|o| created_by_helm(o)) {
        let name = objects::ObjectRef::of(o)
            .map(|r| r.to_string())
            .unwrap_or_default();
        evidence.push(format!(
            "{name} is annotated linkerd.io/created-by: linkerd/helm"
        ));
    }
    evidence
}
