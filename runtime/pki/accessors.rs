//! What a script can read from `Certificate`, `CertifiedKey` and `Bundle` values, and how
//! they print. Nothing here reaches a private key: a `CertifiedKey` prints its certificate's
//! subject and fingerprint and says the key is redacted.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;
use rhai::{Array, Dynamic, Engine, FuncRegistration};

use super::{Bundle, Certificate, CertifiedKey};

/// Registers the three types with their script names, properties and printing.
pub(super) fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Certificate>("Certificate")
        .register_type_with_name::<CertifiedKey>("CertifiedKey")
        .register_type_with_name::<Bundle>("Bundle");

    certificate_properties::<Certificate>(engine, "Certificate", |c| c);
    certificate_properties::<CertifiedKey>(engine, "CertifiedKey", CertifiedKey::cert);

    getter(
        engine,
        "pem",
        "Certificate",
        "string",
        "The certificate as PEM text.",
        |c: &mut Certificate| c.to_pem(),
    );
    getter(
        engine,
        "cert",
        "CertifiedKey",
        "Certificate",
        "The certificate alone, without its key.",
        |k: &mut CertifiedKey| k.cert().clone(),
    );
    getter(
        engine,
        "cert_path",
        "CertifiedKey",
        "?",
        "Where the certificate file is, or () when it was not written.",
        |k: &mut CertifiedKey| path_value(k.cert_path()),
    );
    getter(
        engine,
        "key_path",
        "CertifiedKey",
        "?",
        "Where the key file (mode 0600) is, or () when it was not written.",
        |k: &mut CertifiedKey| path_value(k.key_path()),
    );

    getter(
        engine,
        "pem",
        "Bundle",
        "string",
        "The canonical PEM text of the bundle.",
        |b: &mut Bundle| b.to_pem(),
    );
    getter(
        engine,
        "certs",
        "Bundle",
        "array",
        "The certificates, new first.",
        |b: &mut Bundle| -> Array { b.certs().iter().cloned().map(Dynamic::from).collect() },
    );
    getter(
        engine,
        "fingerprints",
        "Bundle",
        "array",
        "SHA-256 fingerprints of the certificates, in order.",
        |b: &mut Bundle| -> Array { b.fingerprints().into_iter().map(Dynamic::from).collect() },
    );
    getter(
        engine,
        "len",
        "Bundle",
        "int",
        "How many certificates the bundle holds.",
        |b: &mut Bundle| b.len() as rhai::INT,
    );
    FuncRegistration::new("len")
        .with_params_info(["bundle: Bundle", "int"])
        .with_comments(["/// How many certificates the bundle holds."])
        .register_into_engine(engine, |b: &mut Bundle| b.len() as rhai::INT);

    equality::<Certificate>(engine, "Certificate");
    equality::<Bundle>(engine, "Bundle");

    printing(engine, "Certificate", |c: &mut Certificate| c.describe());
    printing(engine, "CertifiedKey", |k: &mut CertifiedKey| k.to_string());
    printing(engine, "Bundle", |b: &mut Bundle| {
        let entries: Vec<String> = b.certs().iter().map(Certificate::describe).collect();
        format!("bundle of {} [{}]", b.len(), entries.join(", "))
    });
}

/// The certificate facts, on any type that has a certificate.
fn certificate_properties<T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    type_name: &str,
    cert: fn(&T) -> &Certificate,
) {
    getter(
        engine,
        "subject",
        type_name,
        "string",
        "The subject, e.g. `CN=identity.linkerd.cluster.local`.",
        move |v: &mut T| cert(v).subject().to_owned(),
    );
    getter(
        engine,
        "cn",
        type_name,
        "?",
        "The subject's common name, or () when it has none.",
        move |v: &mut T| match cert(v).common_name() {
            Some(cn) => Dynamic::from(cn.to_owned()),
            None => Dynamic::UNIT,
        },
    );
    getter(
        engine,
        "issuer",
        type_name,
        "string",
        "The issuer's name.",
        move |v: &mut T| cert(v).issuer().to_owned(),
    );
    getter(
        engine,
        "serial",
        type_name,
        "string",
        "The serial number, lowercase hex.",
        move |v: &mut T| cert(v).serial().to_owned(),
    );
    getter(
        engine,
        "not_before",
        type_name,
        "string",
        "Start of validity, RFC 3339.",
        move |v: &mut T| rfc3339(cert(v).not_before()),
    );
    getter(
        engine,
        "not_after",
        type_name,
        "string",
        "End of validity, RFC 3339.",
        move |v: &mut T| rfc3339(cert(v).not_after()),
    );
    getter(
        engine,
        "fingerprint",
        type_name,
        "string",
        "SHA-256 of the DER, lowercase hex.",
        move |v: &mut T| cert(v).fingerprint().to_owned(),
    );
    getter(
        engine,
        "key_algorithm",
        type_name,
        "string",
        "e.g. `ecdsa-p256`, `ecdsa-p384`, `rsa-2048`.",
        move |v: &mut T| cert(v).key_algorithm().to_string(),
    );
    getter(
        engine,
        "signature_algorithm",
        type_name,
        "string",
        "Go's name, e.g. `ECDSA-SHA256`, `SHA256-RSA`.",
        move |v: &mut T| cert(v).signature_algorithm().to_string(),
    );
    getter(
        engine,
        "is_ca",
        type_name,
        "bool",
        "Whether basic constraints say CA:TRUE.",
        move |v: &mut T| cert(v).is_ca(),
    );
    getter(
        engine,
        "path_len",
        type_name,
        "?",
        "The path length constraint, or () when absent.",
        move |v: &mut T| match cert(v).path_len() {
            Some(n) => Dynamic::from(rhai::INT::from(n)),
            None => Dynamic::UNIT,
        },
    );
    getter(
        engine,
        "dns_sans",
        type_name,
        "array",
        "The DNS subject alternative names.",
        move |v: &mut T| -> Array {
            cert(v)
                .dns_sans()
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect()
        },
    );
}

fn getter<T: Clone + Send + Sync + 'static, R: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    property: &str,
    type_name: &str,
    returns: &str,
    doc: &str,
    read: impl Fn(&mut T) -> R + Send + Sync + 'static,
) {
    FuncRegistration::new_getter(property)
        .with_params_info([format!("value: {type_name}"), returns.to_owned()])
        .with_comments([format!("/// {doc}")])
        .register_into_engine(engine, read);
}

/// `==` and `!=`: certificates are equal when their DER is; bundles when they hold the same
/// certificates in the same order (so the same canonical PEM).
fn equality<T: Clone + PartialEq + Send + Sync + 'static>(engine: &mut Engine, type_name: &str) {
    let params = [
        format!("a: {type_name}"),
        format!("b: {type_name}"),
        "bool".to_owned(),
    ];
    FuncRegistration::new("==")
        .with_params_info(&params)
        .with_comments(["/// Whether both hold the same certificates."])
        .register_into_engine(engine, |a: &mut T, b: T| *a == b);
    FuncRegistration::new("!=")
        .with_params_info(&params)
        .with_comments(["/// Whether they differ."])
        .register_into_engine(engine, |a: &mut T, b: T| *a != b);
}

/// `to_string` is what `print` and string interpolation use; `to_debug` is `debug`'s.
fn printing<T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    type_name: &str,
    show: fn(&mut T) -> String,
) {
    for name in ["to_string", "to_debug"] {
        FuncRegistration::new(name)
            .with_params_info([format!("value: {type_name}"), "string".to_owned()])
            .with_comments(["/// The subject and fingerprint; a private key is never shown."])
            .register_into_engine(engine, show);
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn path_value(path: Option<&std::path::Path>) -> Dynamic {
    match path {
        Some(p) => Dynamic::from(p.display().to_string()),
        None => Dynamic::UNIT,
    }
}
