//! `gen_cert`: reads the script's options into a request, reuses or refuses what an
//! interrupted run left, and generates and writes the pair (in a dry-run, keeps it in memory).

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;
use rhai::{Dynamic, Map};

use super::reuse::{self, Existing};
use super::script::{PkiEnv, ScriptResult, to_script, type_name};
use super::{CertRequest, CertifiedKey, Profile, Validity, generate};

/// The option keys `gen_cert` accepts, in the order the error message lists them.
const GEN_CERT_OPTIONS: [&str; 7] = [
    "profile",
    "cn",
    "sans",
    "not_after",
    "ca",
    "write",
    "overwrite",
];

pub(super) fn gen_cert(env: &PkiEnv, options: Map) -> ScriptResult<CertifiedKey> {
    if let Some(unknown) = options
        .keys()
        .find(|k| !GEN_CERT_OPTIONS.contains(&k.as_str()))
    {
        return Err(format!(
            "gen_cert: unknown option {:?} (known options: {})",
            unknown.as_str(),
            GEN_CERT_OPTIONS.join(", ")
        )
        .into());
    }
    let text = |key: &str| -> ScriptResult<Option<String>> {
        match options.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v.clone().into_string().map(Some).map_err(|actual| {
                format!("gen_cert: option {key} must be a string, not {actual}").into()
            }),
        }
    };

    let profile_name = text("profile")?.ok_or("gen_cert: option profile is required")?;
    let profile = Profile::from_name(&profile_name).ok_or_else(|| {
        format!(
            "gen_cert: unknown profile {profile_name:?} (known profiles: {})",
            Profile::NAMES.join(", ")
        )
    })?;
    let cn = text("cn")?.ok_or("gen_cert: option cn is required")?;
    let mut request = CertRequest::new(profile, cn);
    if let Some(sans) = options.get("sans").filter(|v| !v.is_unit()) {
        request.sans = string_list(sans).map_err(|e| format!("gen_cert: option sans {e}"))?;
    }
    if let Some(not_after) = options.get("not_after").filter(|v| !v.is_unit()) {
        request.not_after = Some(validity(not_after)?);
    }
    let signer = match options.get("ca").filter(|v| !v.is_unit()) {
        None => None,
        Some(ca) => Some(
            ca.read_lock::<CertifiedKey>()
                .map(|c| c.clone())
                .ok_or_else(|| {
                    format!(
                        "gen_cert: option ca must be a CertifiedKey (a certificate with its \
                         key, from gen_cert or load_ca), not a {}",
                        type_name(ca)
                    )
                })?,
        ),
    };
    let overwrite = match options.get("overwrite") {
        None => false,
        Some(v) => v
            .as_bool()
            .map_err(|actual| format!("gen_cert: option overwrite must be a bool, not {actual}"))?,
    };

    let write = text("write")?;
    if let Some(name) = &write {
        check_file_name(name)?;
    }

    // Checked before any file is looked at or written: a bad validity is the request's fault.
    super::validity_of(&request).map_err(to_script)?;
    if let Some(ca) = &signer {
        if request.not_after.is_none() {
            // The default validity ends with the signer at the latest; a date the runbook
            // asked for is checked instead, so that the operator learns it cannot hold.
            let ends = ca.cert().not_after();
            let (_, default_end) = super::validity_of(&request).map_err(to_script)?;
            request.not_after = Some(Validity::Until(default_end.min(ends)));
        }
        super::check_within_signer(&request, ca).map_err(to_script)?;
    }
    let Some(name) = write else {
        return generate(&request, signer.as_ref()).map_err(to_script);
    };
    let earlier = if overwrite {
        Existing::Nothing
    } else {
        reuse::existing(&env.earlier_files, &name, &request, signer.as_ref()).map_err(to_script)?
    };
    if let Existing::Reusable(pair) = earlier {
        (env.notify.0)(&format!(
            "reusing {name}.crt from an interrupted run ({})",
            pair.cert().describe()
        ));
        return Ok(pair);
    }
    let generated = generate(&request, signer.as_ref()).map_err(to_script)?;
    if env.dry_run {
        let (cert_path, key_path) = reuse::paths(&env.earlier_files, &name);
        (env.would.0)(&format!(
            "write {} and {} (mode 0600); the dry-run keeps the key in memory",
            cert_path.display(),
            key_path.display()
        ));
        return Ok(generated.with_paths(Some(cert_path), Some(key_path)));
    }
    if matches!(earlier, Existing::KeyOnly) && env.earlier_files == env.workdir {
        // The key is written first: a key alone is a write that stopped before its
        // certificate, and that key never left the machine.
        (env.notify.0)(&format!(
            "replacing {name}.key, left without its certificate by an interrupted run"
        ));
        let (cert_path, key_path) = reuse::paths(&env.workdir, &name);
        generated.write_key(&key_path, true).map_err(to_script)?;
        generated.write_cert(&cert_path, false).map_err(to_script)?;
        return Ok(generated.with_paths(Some(cert_path), Some(key_path)));
    }
    generated
        .write(&env.workdir, &name, overwrite)
        .map_err(to_script)
}

/// `write:` names a file in the workdir, never a path elsewhere.
fn check_file_name(name: &str) -> ScriptResult<()> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.starts_with('.');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "gen_cert: option write must be a plain file name without a directory, not {name:?}"
        )
        .into())
    }
}

/// `not_after` as a duration text (`8760h`), an RFC 3339 time, or a duration value.
fn validity(value: &Dynamic) -> ScriptResult<Validity> {
    if let Some(duration) = value.read_lock::<::time::Duration>() {
        return Ok(Validity::For(*duration));
    }
    let text = value.clone().into_string().map_err(|actual| {
        format!("gen_cert: option not_after must be a duration or an RFC 3339 time, not {actual}")
    })?;
    if let Ok(at) = OffsetDateTime::parse(&text, &Rfc3339) {
        return Ok(Validity::Until(at));
    }
    crate::duration::parse(&text)
        .map(Validity::For)
        .map_err(|e| {
            format!("gen_cert: option not_after is neither an RFC 3339 time nor a duration: {e}")
                .into()
        })
}

fn string_list(value: &Dynamic) -> Result<Vec<String>, String> {
    let items = value
        .clone()
        .into_array()
        .map_err(|actual| format!("must be an array of strings, not {actual}"))?;
    items
        .into_iter()
        .map(|item| {
            item.into_string()
                .map_err(|actual| format!("must hold only strings, not {actual}"))
        })
        .collect()
}

#[cfg(test)]
#[path = "gen_cert_tests.rs"]
mod tests;
