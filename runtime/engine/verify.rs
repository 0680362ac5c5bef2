//! `verify_chain(cert, root)`: whether a certificate chains to a root, for runbooks that take
//! certificates from files and must refuse a pair that does not belong together before they
//! change anything (an issuer signed by another root fails only once it is deployed).

use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration};

use crate::pki::{Certificate, CertifiedKey};

/// The certificate of a `Certificate` or a `CertifiedKey`.
fn certificate(value: &Dynamic, what: &str) -> Result<Certificate, Box<EvalAltResult>> {
    if let Some(cert) = value.clone().try_cast::<Certificate>() {
        return Ok(cert);
    }
    if let Some(pair) = value.clone().try_cast::<CertifiedKey>() {
        return Ok(pair.cert().clone());
    }
    Err(format!(
        "verify_chain: {what} must be a Certificate or a CertifiedKey, not {}",
        value.type_name()
    )
    .into())
}

/// Registers `verify_chain`.
pub(crate) fn register(engine: &mut Engine) {
    FuncRegistration::new("verify_chain")
        .with_params_info([
            "cert: Certificate|CertifiedKey",
            "root: Certificate|CertifiedKey",
            "()",
        ])
        .with_comments([
            "/// Throws unless `cert` chains to `root` now, as Go's verifier (and so Linkerd's",
            "/// proxies) would judge it: signature, validity of both, CA and path-length",
            "/// constraints. The message names both certificates and the reason.",
            "///",
            "/// ```rhai",
            "/// verify_chain(load_ca(\"issuer.crt\", \"issuer.key\"), load_cert(\"ca.crt\"));",
            "/// ```",
        ])
        .register_into_engine(
            engine,
            |cert: Dynamic, root: Dynamic| -> Result<(), Box<EvalAltResult>> {
                let cert = certificate(&cert, "cert")?;
                let root = certificate(&root, "root")?;
                let now = time::OffsetDateTime::now_utc();
                crate::pki::verify_chain(&cert, &[], std::slice::from_ref(&root), now)
                    .map(|_| ())
                    .map_err(|error| {
                        format!(
                            "{} does not chain to {}: {error}",
                            cert.describe(),
                            root.describe()
                        )
                        .into()
                    })
            },
        );
}
