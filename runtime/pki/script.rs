//! The Rhai bindings of the certificate code: `gen_cert`, `bundle`, `load_cert`, `load_certs`,
//! `load_ca`, `parse_certs`, and the script-visible types `Certificate`, `CertifiedKey` and
//! `Bundle` (their properties are in `accessors.rs`).
//!
//! Self-contained: the engine constructor calls [`register`] once, and the journal calls
//! [`to_journal`] / [`from_journal`] for the values these functions return.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};

use super::{Bundle, Certificate, CertifiedKey, PkiError, chain_text, files};

pub use super::journal::{JournalError, from_journal, to_journal};

/// What the certificate primitives need from the run.
#[derive(Debug, Clone)]
pub struct PkiEnv {
    /// Where `gen_cert(#{ write: "name" })` puts `name.crt` and `name.key`. In a dry-run the
    /// engine passes a temporary directory here, so nothing outside it is written.
    pub workdir: PathBuf,
    /// Whether this is a dry-run: generated keys then stay in memory (DESIGN §3), and the
    /// value carries the paths the real run would write.
    pub dry_run: bool,
    /// Where an earlier, interrupted run left its files: the real workdir, also in a dry-run,
    /// so that the dry-run predicts what the real run will do with them.
    pub earlier_files: PathBuf,
    /// Tells the operator something (a reused file); the engine routes it to the run's log.
    pub notify: Notify,
    /// In a dry-run, reports what was not done (the key files not written).
    pub would: Notify,
}

/// A message sink for [`PkiEnv::notify`].
#[derive(Clone)]
pub struct Notify(pub Arc<dyn Fn(&str) + Send + Sync>);

impl Notify {
    /// A sink that drops every message (tests that do not look).
    pub fn none() -> Self {
        Self(Arc::new(|_| {}))
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notify")
    }
}

pub(super) type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

/// Registers the certificate types and functions into `engine`.
pub fn register(engine: &mut Engine, env: PkiEnv) {
    super::accessors::register_types(engine);
    // Key paths end up in the journal; absolute ones still resolve when a resumed run starts
    // from another directory. `absolute` fails only for an empty path, kept as given.
    let workdir = std::path::absolute(&env.workdir).unwrap_or(env.workdir);
    let earlier_files = std::path::absolute(&env.earlier_files).unwrap_or(env.earlier_files);
    let env = Arc::new(PkiEnv {
        workdir,
        earlier_files,
        ..env
    });

    FuncRegistration::new("gen_cert")
        .with_volatility(true)
        .with_params_info(["options: map", "CertifiedKey"])
        .with_comments([
            "/// Generates an ECDSA P-256 key and certificate, in the shape `step certificate",
            "/// create --profile root-ca | intermediate-ca` gives (or a leaf, for tests).",
            "///",
            "/// Options: `profile` (\"root-ca\", \"intermediate-ca\", \"leaf\"), `cn`, `sans`",
            "/// (array of DNS names), `not_after` (a duration such as \"8760h\" or an RFC 3339",
            "/// time; default 10 years for CAs), `ca` (the signing CertifiedKey), `write` (file",
            "/// name: writes `<name>.crt` and `<name>.key`, mode 0600, into the workdir) and",
            "/// `overwrite` (default false). Files an interrupted run left are reused when the",
            "/// pair matches the request (subject, profile, SANs, signer), so a resumed rotation",
            "/// never makes a second root; files that do not match are an error.",
            "///",
            "/// ```rhai",
            "/// let root = gen_cert(#{ profile: \"root-ca\", cn: \"root.linkerd.cluster.local\",",
            "///                      write: \"ca-new\" });",
            "/// let issuer = gen_cert(#{ profile: \"intermediate-ca\",",
            "///                        cn: \"identity.linkerd.cluster.local\",",
            "///                        not_after: \"8760h\", ca: root, write: \"issuer-new\" });",
            "/// print(issuer.not_after);",
            "/// ```",
        ])
        .register_into_engine(engine, move |options: Map| -> ScriptResult<CertifiedKey> {
            super::gen_cert::gen_cert(&env, options)
        });

    FuncRegistration::new("load_cert")
        .with_volatility(true)
        .with_params_info(["path: string", "Certificate"])
        .with_comments([
            "/// Reads the first certificate of a PEM file (relative paths are from the",
            "/// current directory).",
            "///",
            "/// ```rhai",
            "/// let old = load_cert(\"ca.crt\");",
            "/// print(old.fingerprint);",
            "/// ```",
        ])
        .register_into_engine(engine, |path: &str| -> ScriptResult<Certificate> {
            let mut certs = read_certs(Path::new(path)).map_err(to_script)?;
            Ok(certs.remove(0))
        });

    FuncRegistration::new("load_certs")
        .with_volatility(true)
        .with_params_info(["path: string", "array"])
        .with_comments([
            "/// Reads every certificate of a PEM file, as an array of Certificate.",
            "///",
            "/// ```rhai",
            "/// let anchors = load_certs(\"trust-anchors.crt\");",
            "/// print(anchors.len());",
            "/// ```",
        ])
        .register_into_engine(engine, |path: &str| -> ScriptResult<Array> {
            let certs = read_certs(Path::new(path)).map_err(to_script)?;
            Ok(certs.into_iter().map(Dynamic::from).collect())
        });

    FuncRegistration::new("load_ca")
        .with_volatility(true)
        .with_params_info(["cert_path: string", "key_path: string", "CertifiedKey"])
        .with_comments([
            "/// Loads a CA certificate and its private key (SEC1 or PKCS#8 ECDSA P-256) so",
            "/// that `gen_cert` can sign with it. The key must belong to the certificate.",
            "///",
            "/// ```rhai",
            "/// let root = load_ca(\"ca.crt\", \"ca.key\");",
            "/// let issuer = gen_cert(#{ profile: \"intermediate-ca\",",
            "///                        cn: \"identity.linkerd.cluster.local\", ca: root });",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            |cert_path: &str, key_path: &str| -> ScriptResult<CertifiedKey> {
                load_ca(Path::new(cert_path), Path::new(key_path)).map_err(to_script)
            },
        );

    FuncRegistration::new("parse_certs")
        .with_params_info(["pem: string", "array"])
        .with_comments([
            "/// Reads every certificate of PEM text (CRLF, blank lines and stray spaces are",
            "/// tolerated; a block that is not a certificate is an error).",
            "///",
            "/// ```rhai",
            "/// let certs = parse_certs(configmap.data[\"ca-bundle.crt\"]);",
            "/// ```",
        ])
        .register_into_engine(engine, |pem: &str| -> ScriptResult<Array> {
            let certs = super::bundle::parse_certificates(pem, "PEM text").map_err(to_script)?;
            Ok(certs.into_iter().map(Dynamic::from).collect())
        });

    register_bundle(engine);
}

/// `bundle` with one to six arguments; Rhai has no variadic functions, and an array
/// argument covers longer lists.
fn register_bundle(engine: &mut Engine) {
    let comments = [
        "/// A canonical PEM bundle of CA certificates: new first, then old, duplicates",
        "/// dropped, every entry checked to be a CA. Items may be Certificate, CertifiedKey,",
        "/// Bundle, PEM text, a path to a PEM file, or arrays of those.",
        "///",
        "/// ```rhai",
        "/// let root = gen_cert(#{ profile: \"root-ca\", cn: \"root.linkerd.cluster.local\" });",
        "/// let both = bundle(root, load_certs(\"original-trust.crt\"));",
        "/// print(both.pem);",
        "/// ```",
    ];
    let registration = |params: &[&str]| {
        FuncRegistration::new("bundle")
            .with_volatility(true)
            .with_params_info(params.iter().copied().chain(["Bundle"]))
            .with_comments(comments)
    };
    registration(&["a: ?"]).register_into_engine(engine, |a: Dynamic| build_bundle(vec![a]));
    registration(&["a: ?", "b: ?"])
        .register_into_engine(engine, |a: Dynamic, b: Dynamic| build_bundle(vec![a, b]));
    registration(&["a: ?", "b: ?", "c: ?"])
        .register_into_engine(engine, |a: Dynamic, b: Dynamic, c: Dynamic| {
            build_bundle(vec![a, b, c])
        });
    registration(&["a: ?", "b: ?", "c: ?", "d: ?"])
        .register_into_engine(engine, |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| {
            build_bundle(vec![a, b, c, d])
        });
    registration(&["a: ?", "b: ?", "c: ?", "d: ?", "e: ?"]).register_into_engine(
        engine,
        |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic| {
            build_bundle(vec![a, b, c, d, e])
        },
    );
    registration(&["a: ?", "b: ?", "c: ?", "d: ?", "e: ?", "f: ?"]).register_into_engine(
        engine,
        |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, e: Dynamic, f: Dynamic| {
            build_bundle(vec![a, b, c, d, e, f])
        },
    );
}

fn read_certs(path: &Path) -> Result<Vec<Certificate>, PkiError> {
    let text = files::read_text(path)?;
    super::bundle::parse_certificates(&text, &path.display().to_string())
}

fn load_ca(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, PkiError> {
    let ca = CertifiedKey::load(cert_path, key_path)?;
    if !ca.cert().is_ca() {
        return Err(PkiError::NotCa {
            subject: ca.cert().subject().to_owned(),
            fingerprint: ca.cert().fingerprint().to_owned(),
        });
    }
    Ok(ca)
}

fn build_bundle(items: Vec<Dynamic>) -> ScriptResult<Bundle> {
    let mut certs = Vec::new();
    for item in items {
        collect_certs(item, &mut certs)?;
    }
    Bundle::build(&certs, &[]).map_err(to_script)
}

/// Flattens one `bundle` argument into certificates, in order.
fn collect_certs(item: Dynamic, into: &mut Vec<Certificate>) -> ScriptResult<()> {
    if let Some(cert) = item.read_lock::<Certificate>() {
        into.push(cert.clone());
    } else if let Some(pair) = item.read_lock::<CertifiedKey>() {
        into.push(pair.cert().clone());
    } else if let Some(bundle) = item.read_lock::<Bundle>() {
        into.extend(bundle.certs().iter().cloned());
    } else if item.is_array() {
        for inner in item.into_array().unwrap_or_default() {
            collect_certs(inner, into)?;
        }
    } else if item.is_string() {
        let text = item.into_string().unwrap_or_default();
        // PEM text starts a block; anything else is taken as the path of a PEM file.
        let certs = if text.contains("-----BEGIN") {
            super::bundle::parse_certificates(&text, "PEM text")
        } else {
            read_certs(Path::new(&text))
        };
        into.extend(certs.map_err(to_script)?);
    } else {
        return Err(format!(
            "bundle: cannot take a {} (expected Certificate, CertifiedKey, Bundle, PEM text, \
             a file path or an array of those)",
            type_name(&item)
        )
        .into());
    }
    Ok(())
}

/// The script-facing name of a value's type (Rhai's `type_name` gives Rust paths for ours).
pub fn type_name(value: &Dynamic) -> &'static str {
    if value.is::<Certificate>() {
        "Certificate"
    } else if value.is::<CertifiedKey>() {
        "CertifiedKey"
    } else if value.is::<Bundle>() {
        "Bundle"
    } else {
        value.type_name()
    }
}

/// A certificate error as a Rhai runtime error, with its whole chain of causes.
pub(super) fn to_script(error: PkiError) -> Box<EvalAltResult> {
    chain_text(&error).into()
}

#[cfg(test)]
#[path = "script_tests.rs"]
pub(super) mod tests;
