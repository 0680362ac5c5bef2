//! Generation of root CAs, intermediate CAs and leaves in the shapes `step certificate create`
//! gives (`--profile root-ca`, `--profile intermediate-ca`).

use ::time::format_description::well_known::Rfc3339;
use ::time::{Duration, OffsetDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SerialNumber,
};

use super::certified::SharedKey;
use super::{Certificate, CertifiedKey, PkiError, PrivateKey};

/// The kind of certificate to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Self-signed, CA:TRUE pathlen 1, keyCertSign + cRLSign; 10 years by default.
    RootCa,
    /// Signed by a CA, CA:TRUE pathlen 0, keyCertSign + cRLSign; 10 years by default (the
    /// Linkerd docs pass `--not-after 8760h`).
    IntermediateCa,
    /// An end-entity certificate for tests and the simulated proxies: CA:FALSE,
    /// digitalSignature, serverAuth + clientAuth; 24 hours by default (Linkerd's issuance
    /// lifetime). Like every profile, not clamped to the signer's `not_after`: Linkerd clamps
    /// leaves, so a caller that models it passes [`Validity::Until`].
    Leaf,
}

impl Profile {
    /// The names scripts use, in order.
    pub const NAMES: [&'static str; 3] = ["root-ca", "intermediate-ca", "leaf"];

    /// Reads a profile name as `step` spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "root-ca" => Some(Self::RootCa),
            "intermediate-ca" => Some(Self::IntermediateCa),
            "leaf" => Some(Self::Leaf),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RootCa => "root-ca",
            Self::IntermediateCa => "intermediate-ca",
            Self::Leaf => "leaf",
        }
    }

    /// step's default validity: `24*365*10` hours for both CA profiles.
    pub fn default_validity(self) -> Duration {
        match self {
            Self::RootCa | Self::IntermediateCa => Duration::hours(24 * 365 * 10),
            Self::Leaf => Duration::hours(24),
        }
    }
}

/// When a certificate stops being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// This long after `not_before`.
    For(Duration),
    /// At this moment.
    Until(OffsetDateTime),
}

/// What to generate. Build with [`CertRequest::new`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    pub profile: Profile,
    /// The subject's common name (the whole subject: no other attributes are set).
    pub common_name: String,
    /// DNS names or IP addresses for the subject alternative name extension.
    pub sans: Vec<String>,
    /// Defaults to now, truncated to the second.
    pub not_before: Option<OffsetDateTime>,
    /// Defaults to the profile's [`Profile::default_validity`].
    pub not_after: Option<Validity>,
}

impl CertRequest {
    pub fn new(profile: Profile, common_name: impl Into<String>) -> Self {
        Self {
            profile,
            common_name: common_name.into(),
            sans: Vec::new(),
            not_before: None,
            not_after: None,
        }
    }
}

/// Generates a key and a certificate for `request`, self-signed for a root (or a leaf
/// without signer), otherwise signed by `signer`.
///
/// Every certificate gets an explicit subject, a random 128-bit serial, explicit validity
/// and, when signed by a CA, an authority key identifier (without it OpenSSL takes an
/// intermediate that shares its root's subject for self-signed).
///
/// # Errors
///
/// [`PkiError::Request`] when the profile and signer do not fit together, the validity ends
/// before it starts, or a SAN is not a valid name; [`PkiError::NotCa`] when the signer is not
/// a CA; [`PkiError::Generate`] when signing fails.
pub fn generate(
    request: &CertRequest,
    signer: Option<&CertifiedKey>,
) -> Result<CertifiedKey, PkiError> {
    let refuse = |reason: String| PkiError::Request {
        cn: request.common_name.clone(),
        reason,
    };
    let profile = request.profile;
    if request.common_name.trim().is_empty() {
        return Err(refuse("the common name is empty".into()));
    }
    match (profile, signer) {
        (Profile::RootCa, Some(_)) => {
            return Err(refuse(
                "a root-ca is self-signed: do not pass a signing CA".into(),
            ));
        }
        (Profile::IntermediateCa, None) => {
            return Err(refuse("an intermediate-ca needs a signing CA".into()));
        }
        _ => {}
    }
    let issuer = match signer {
        Some(ca) => Some(signing_issuer(ca, profile).map_err(|e| match e {
            SignerProblem::NotCa => PkiError::NotCa {
                subject: ca.cert().subject().to_owned(),
                fingerprint: ca.cert().fingerprint().to_owned(),
            },
            SignerProblem::PathLen => refuse(format!(
                "the signing CA {} has path length 0 and cannot sign another CA",
                ca.cert().describe()
            )),
        })?),
        None => None,
    };

    let (not_before, not_after) = validity_of(request)?;

    let mut params = CertificateParams::new(request.sans.clone())
        .map_err(|e| refuse(format!("invalid subject alternative name: {e}")))?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, request.common_name.as_str());
    params.distinguished_name = subject;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial());
    params.use_authority_key_identifier_extension = issuer.is_some();
    match profile {
        Profile::RootCa | Profile::IntermediateCa => {
            let path_len = if profile == Profile::RootCa { 1 } else { 0 };
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        Profile::Leaf => {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
    }

    let key = PrivateKey::generate()?;
    let generated = match issuer {
        Some(issuer) => params.signed_by(key.pair().as_ref(), issuer),
        None => params.self_signed(key.pair().as_ref()),
    }
    .map_err(|source| PkiError::Generate {
        cn: request.common_name.clone(),
        source,
    })?;
    let cert = Certificate::from_der(generated.der().to_vec(), "a generated certificate")?;
    CertifiedKey::new(cert, key, "a generated key")
}

/// The validity period `request` asks for, checked: a positive duration, ending within what
/// an X.509 time can hold, after it starts.
///
/// # Errors
///
/// [`PkiError::Request`] naming the problem; never a panic, whatever the input.
pub fn validity_of(request: &CertRequest) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let refuse = |reason: String| PkiError::Request {
        cn: request.common_name.clone(),
        reason,
    };
    let not_before = request
        .not_before
        .unwrap_or_else(|| now_in_seconds(OffsetDateTime::now_utc()));
    let not_after = match request
        .not_after
        .unwrap_or(Validity::For(request.profile.default_validity()))
    {
        Validity::For(duration) if !duration.is_positive() => {
            return Err(refuse(format!(
                "the validity {} is not longer than zero",
                crate::duration::format(duration)
            )));
        }
        Validity::For(duration) => not_before
            .checked_add(duration)
            .filter(|at| at.year() <= 9999)
            .ok_or_else(|| {
                refuse(format!(
                    "the validity {} from {} ends after the year 9999",
                    crate::duration::format(duration),
                    show(not_before)
                ))
            })?,
        Validity::Until(at) => at,
    };
    if not_after <= not_before {
        return Err(refuse(format!(
            "not_after {} is not after not_before {}",
            show(not_after),
            show(not_before)
        )));
    }
    Ok((not_before, not_after))
}

/// Refuses a request whose certificate would outlive `signer`. Kept out of [`generate`] so
/// that tests can still build such chains on purpose; `gen_cert` applies it to what an
/// operator asks for.
///
/// # Errors
///
/// [`PkiError::Request`] naming both dates.
pub fn check_within_signer(request: &CertRequest, signer: &CertifiedKey) -> Result<(), PkiError> {
    let (_, not_after) = validity_of(request)?;
    let ends = signer.cert().not_after();
    if not_after <= ends {
        return Ok(());
    }
    // A certificate is not trusted past its signer's end: proxies would fail then, long
    // before the date asked for.
    Err(PkiError::Request {
        cn: request.common_name.clone(),
        reason: format!(
            "it would be valid until {}, after its signing CA {} ends on {}",
            show(not_after),
            signer.cert().describe(),
            show(ends)
        ),
    })
}

fn show(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

enum SignerProblem {
    NotCa,
    PathLen,
}

fn signing_issuer(
    ca: &CertifiedKey,
    profile: Profile,
) -> Result<&Issuer<'static, SharedKey>, SignerProblem> {
    let issuer = ca.issuer().ok_or(SignerProblem::NotCa)?;
    if profile != Profile::Leaf && ca.cert().path_len() == Some(0) {
        return Err(SignerProblem::PathLen);
    }
    Ok(issuer)
}

/// X.509 times have whole seconds; truncating up front keeps the value a script reads back
/// equal to the one it asked for.
fn now_in_seconds(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_nanosecond(0).unwrap_or(now)
}

/// 16 random bytes with the top bit cleared (serials are positive) and the next bit set, so
/// the DER integer is always exactly 16 bytes without a leading zero.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}
