//! What `upgrade`'s options ask to deploy: certificates from the script's values, and the
//! issuer key from a gen_cert result, PEM text or a file. The key is never echoed.

use rhai::{Dynamic, EvalAltResult};

use super::Material;
use super::options::Options;
use crate::pki::{Bundle, Certificate, CertifiedKey, chain_text};

type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into().into(), rhai::Position::NONE).into()
}

/// What `upgrade`'s options ask to deploy.
pub(super) fn material(options: &Options<'_>) -> ScriptResult<Material> {
    let anchors = options.value("trust_anchors");
    let issuer = options.value("issuer");
    match (anchors, issuer) {
        (Some(_), Some(_)) => Err(fail(
            "upgrade: give either `trust_anchors` or `issuer`, not both: deploy the bundle, \
             restart, then rotate the issuer",
        )),
        (None, None) => Err(fail(
            "upgrade: give `trust_anchors` (a Bundle) or `issuer` (a gen_cert result)",
        )),
        (Some(value), None) => {
            if options.value("issuer_key").is_some() {
                return Err(fail(
                    "upgrade: `issuer_key` goes with `issuer`, not with `trust_anchors`",
                ));
            }
            let certs = certificates("trust_anchors", value)?;
            let bundle = Bundle::build(&certs, &[]).map_err(|e| {
                fail(format!(
                    "upgrade: option `trust_anchors`: {}",
                    chain_text(&e)
                ))
            })?;
            Ok(Material::Anchors(bundle))
        }
        (None, Some(value)) => {
            let own_key = value
                .read_lock::<CertifiedKey>()
                .map(|pair| pair.key().to_sec1_pem());
            let certs = certificates("issuer", value)?;
            let key_pem = match (options.string("issuer_key").map_err(fail)?, own_key) {
                (Some(given), _) => key_text(&given)?,
                (None, Some(own)) => {
                    own.map_err(|e| fail(format!("upgrade: {}", chain_text(&e))))?
                }
                (None, None) => {
                    return Err(fail(
                        "upgrade: option `issuer_key` is required when `issuer` is a \
                         certificate without its key (give the PEM text or the key file)",
                    ));
                }
            };
            Ok(Material::Issuer { certs, key_pem })
        }
    }
}

/// Certificates from a Certificate, a gen_cert result, a Bundle or an array of those.
fn certificates(key: &str, value: Dynamic) -> ScriptResult<Vec<Certificate>> {
    let wanted = "a Certificate, a gen_cert result, a Bundle or an array of those";
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(item) = stack.pop() {
        if let Some(cert) = item.read_lock::<Certificate>() {
            out.push(cert.clone());
        } else if let Some(pair) = item.read_lock::<CertifiedKey>() {
            out.push(pair.cert().clone());
        } else if let Some(bundle) = item.read_lock::<Bundle>() {
            out.extend(bundle.certs().iter().cloned());
        } else if item.is_array() {
            let mut items = item.into_array().unwrap_or_default();
            items.reverse();
            stack.extend(items);
        } else {
            return Err(fail(format!(
                "upgrade: option `{key}` must be {wanted}, not {}",
                crate::pki::script::type_name(&item)
            )));
        }
    }
    if out.is_empty() {
        return Err(fail(format!(
            "upgrade: option `{key}` holds no certificate"
        )));
    }
    Ok(out)
}

/// The key PEM: the text itself, or the file it names. Never echoed in errors.
fn key_text(given: &str) -> ScriptResult<String> {
    if given.contains("-----BEGIN") {
        return Ok(given.to_owned());
    }
    crate::pki::read_text(std::path::Path::new(given))
        .map_err(|e| fail(format!("upgrade: option `issuer_key`: {}", chain_text(&e))))
}
