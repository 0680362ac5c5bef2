//! How `Certificate`, `CertifiedKey` and `Bundle` values are recorded in the run journal and
//! restored on a resumed run.
//!
//! The journal is JSON and may be read by people or copied around, so it never holds a
//! private key: a `CertifiedKey` is recorded as its certificate PEM and the *path* of its
//! key file, and restoring re-reads that file and checks it still belongs to the certificate.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rhai::Dynamic;
use serde_json::{Value, json};

use super::{Bundle, Certificate, CertifiedKey, PkiError, PrivateKey, files};

/// The key that marks a journal value as one of ours, with the kind as its value.
const MARKER: &str = "$pki";

/// Why a value could not be recorded in or restored from the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A generated key that exists only in memory cannot be recorded without recording it.
    #[error(
        "cannot record certified key {subject} in the journal: its private key was never \
         written to a file (pass `write: \"name\"` to gen_cert so that a resumed run can \
         reuse the key)"
    )]
    KeyNotWritten { subject: String },

    /// A journal entry that does not have the expected shape.
    #[error("journal entry of kind {kind:?} is malformed: {reason}")]
    Malformed { kind: String, reason: String },

    /// A key file others can read; a resumed run refuses to trust it.
    #[error(
        "key file {path} has mode {mode:o}, readable by others: restore mode 0600 \
         (chmod 600) if the key has not been exposed, or start over with a new key"
    )]
    LooseKeyMode { path: PathBuf, mode: u32 },

    /// The certificate or key behind an entry could not be read back.
    #[error("restoring {kind} from the journal")]
    Restore {
        kind: &'static str,
        #[source]
        source: PkiError,
    },
}

/// The journal form of `value`: `None` when it is not a certificate value (the engine then
/// records it itself), `Some(Err)` when it is one that cannot be recorded.
pub fn to_journal(value: &Dynamic) -> Option<Result<Value, JournalError>> {
    if let Some(cert) = value.read_lock::<Certificate>() {
        return Some(Ok(json!({
            MARKER: "certificate",
            "fingerprint": cert.fingerprint(),
            "pem": cert.to_pem(),
        })));
    }
    if let Some(bundle) = value.read_lock::<Bundle>() {
        return Some(Ok(json!({
            MARKER: "bundle",
            "fingerprints": bundle.fingerprints(),
            "pem": bundle.to_pem(),
        })));
    }
    if let Some(pair) = value.read_lock::<CertifiedKey>() {
        let Some(key_path) = pair.key_path() else {
            return Some(Err(JournalError::KeyNotWritten {
                subject: pair.cert().describe(),
            }));
        };
        return Some(Ok(json!({
            MARKER: "certified_key",
            "fingerprint": pair.cert().fingerprint(),
            "cert_pem": pair.cert().to_pem(),
            "cert_path": pair.cert_path().map(|p| p.display().to_string()),
            "key_path": key_path.display().to_string(),
        })));
    }
    None
}

/// The value recorded by [`to_journal`]: `None` when `value` is not one of ours.
pub fn from_journal(value: &Value) -> Option<Result<Dynamic, JournalError>> {
    let kind = value.get(MARKER)?.as_str()?;
    Some(restore(kind, value))
}

fn restore(kind: &str, value: &Value) -> Result<Dynamic, JournalError> {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| JournalError::Malformed {
                kind: kind.to_owned(),
                reason: format!("missing string field {name:?}"),
            })
    };
    let restored = |kind: &'static str| move |source| JournalError::Restore { kind, source };

    match kind {
        "certificate" => {
            let cert = Certificate::from_pem(field("pem")?, "the journal")
                .map_err(restored("a certificate"))?;
            check_fingerprint(kind, &cert, field("fingerprint")?)?;
            Ok(Dynamic::from(cert))
        }
        "bundle" => {
            let bundle =
                Bundle::parse(field("pem")?, "the journal").map_err(restored("a bundle"))?;
            let recorded: Vec<&str> = value
                .get("fingerprints")
                .and_then(Value::as_array)
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if bundle.fingerprints() != recorded {
                return Err(JournalError::Malformed {
                    kind: kind.to_owned(),
                    reason: format!(
                        "the bundle's fingerprints {:?} differ from the recorded {recorded:?}",
                        bundle.fingerprints()
                    ),
                });
            }
            Ok(Dynamic::from(bundle))
        }
        "certified_key" => {
            let cert = Certificate::from_pem(field("cert_pem")?, "the journal")
                .map_err(restored("a certified key"))?;
            check_fingerprint(kind, &cert, field("fingerprint")?)?;
            let key_path = PathBuf::from(field("key_path")?);
            check_key_mode(&key_path)?;
            let key_origin = key_path.display().to_string();
            let key = files::read_text(&key_path)
                .and_then(|text| PrivateKey::from_pem(&text, &key_origin))
                .map_err(restored("a certified key"))?;
            let mut pair =
                CertifiedKey::new(cert, key, &key_origin).map_err(restored("a certified key"))?;
            let cert_path = value.get("cert_path").and_then(Value::as_str);
            pair = pair.with_paths(cert_path.map(PathBuf::from), Some(key_path));
            Ok(Dynamic::from(pair))
        }
        other => Err(JournalError::Malformed {
            kind: other.to_owned(),
            reason: "unknown kind (expected certificate, bundle or certified_key)".to_owned(),
        }),
    }
}

fn check_fingerprint(kind: &str, cert: &Certificate, recorded: &str) -> Result<(), JournalError> {
    if cert.fingerprint() == recorded {
        return Ok(());
    }
    Err(JournalError::Malformed {
        kind: kind.to_owned(),
        reason: format!(
            "the certificate's fingerprint {} differs from the recorded {recorded}",
            cert.fingerprint()
        ),
    })
}

fn check_key_mode(path: &std::path::Path) -> Result<(), JournalError> {
    let metadata = std::fs::metadata(path).map_err(|source| JournalError::Restore {
        kind: "a certified key",
        source: PkiError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        },
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(JournalError::LooseKeyMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}
