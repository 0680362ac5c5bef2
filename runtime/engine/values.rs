//! Script values as the journal stores them: Rhai `Dynamic` to JSON and back.
//!
//! Plain values map directly (maps, arrays, strings, numbers, booleans, `()` as null). Host
//! types are tagged objects: a `Duration` is `{"$type": "duration", "value": "8760h"}`, and the
//! certificate types are converted by `pki::script` in its own encoding. Any text that holds a
//! PEM private key is refused, so a key never lands in the journal.

use rhai::{Dynamic, Map};
use serde_json::{Map as JsonMap, Value};

use crate::duration;

const TYPE_TAG: &str = "$type";

/// A value that cannot be recorded in, or read back from, the journal.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// A script type the journal has no encoding for.
    #[error("output `{at}` is a {type_name}, which cannot be recorded in the journal")]
    Unsupported { at: String, type_name: String },
    /// A private key among the outputs.
    #[error("output `{at}` holds a private key, which is never recorded in the journal")]
    PrivateKey { at: String },
    /// A float that JSON cannot hold (NaN, infinity).
    #[error("output `{at}` is the number {value}, which JSON cannot hold")]
    NotFinite { at: String, value: f64 },
    /// A certificate value that cannot be recorded or read back.
    #[error("output `{at}`")]
    Certificate {
        at: String,
        #[source]
        source: crate::pki::script::JournalError,
    },
    /// A recorded value that does not decode.
    #[error("recorded value `{at}` is not valid: {reason}")]
    Invalid { at: String, reason: String },
}

/// Converts a step's outputs to the JSON recorded in the journal. `at` names the value in
/// errors, e.g. `generate.root`.
///
/// # Errors
///
/// When a value has no journal encoding or holds a private key.
pub fn to_json(value: &Dynamic, at: &str) -> Result<Value, ValueError> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(flag) = value.clone().try_cast::<bool>() {
        return Ok(Value::Bool(flag));
    }
    if let Ok(int) = value.as_int() {
        return Ok(Value::from(int));
    }
    if let Ok(float) = value.as_float() {
        return serde_json::Number::from_f64(float)
            .map(Value::Number)
            .ok_or(ValueError::NotFinite {
                at: at.to_owned(),
                value: float,
            });
    }
    if value.is_string() || value.is_char() {
        let text = value.to_string();
        if text.contains("PRIVATE KEY") {
            return Err(ValueError::PrivateKey { at: at.to_owned() });
        }
        return Ok(Value::String(text));
    }
    if let Some(duration) = value.clone().try_cast::<time::Duration>() {
        let mut tagged = JsonMap::new();
        tagged.insert(TYPE_TAG.into(), "duration".into());
        tagged.insert("value".into(), duration::format(duration).into());
        return Ok(Value::Object(tagged));
    }
    if let Some(array) = value.read_lock::<rhai::Array>() {
        let items = array
            .iter()
            .enumerate()
            .map(|(i, item)| to_json(item, &format!("{at}[{i}]")));
        return items.collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut object = JsonMap::new();
        for (key, item) in map.iter() {
            object.insert(key.to_string(), to_json(item, &format!("{at}.{key}"))?);
        }
        return Ok(Value::Object(object));
    }
    if let Some(converted) = crate::pki::script::to_journal(value) {
        let json = converted.map_err(|source| ValueError::Certificate {
            at: at.to_owned(),
            source,
        })?;
        if json.to_string().contains("PRIVATE KEY") {
            return Err(ValueError::PrivateKey { at: at.to_owned() });
        }
        return Ok(json);
    }
    Err(ValueError::Unsupported {
        at: at.to_owned(),
        type_name: value.type_name().to_owned(),
    })
}

/// Reads a recorded value back into the script value a later step receives.
///
/// # Errors
///
/// When a tagged value does not decode.
pub fn from_json(value: &Value, at: &str) -> Result<Dynamic, ValueError> {
    let invalid = |reason: String| ValueError::Invalid {
        at: at.to_owned(),
        reason,
    };
    Ok(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => Dynamic::from_bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(int) => Dynamic::from_int(int),
            None => Dynamic::from_float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Dynamic::from(text.clone()),
        Value::Array(items) => {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, v)| from_json(v, &format!("{at}[{i}]")));
            Dynamic::from_array(items.collect::<Result<_, _>>()?)
        }
        Value::Object(object) => {
            if let Some(converted) = crate::pki::script::from_journal(value) {
                return converted.map_err(|source| ValueError::Certificate {
                    at: at.into(),
                    source,
                });
            }
            if object.get(TYPE_TAG).and_then(Value::as_str) == Some("duration") {
                let text = object
                    .get("value")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let duration = duration::parse(text).map_err(|e| invalid(e.to_string()))?;
                return Ok(Dynamic::from(duration));
            }
            let mut map = Map::new();
            for (key, item) in object {
                map.insert(
                    key.as_str().into(),
                    from_json(item, &format!("{at}.{key}"))?,
                );
            }
            Dynamic::from_map(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_and_durations_round_trip() {
        let mut map = Map::new();
        map.insert("name".into(), Dynamic::from("root".to_owned()));
        map.insert("count".into(), Dynamic::from_int(3));
        map.insert("ok".into(), Dynamic::from_bool(true));
        map.insert(
            "validity".into(),
            Dynamic::from(time::Duration::hours(8760)),
        );
        map.insert(
            "list".into(),
            Dynamic::from_array(vec![Dynamic::from("a".to_owned())]),
        );
        let json = to_json(&Dynamic::from_map(map), "step").unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "root", "count": 3, "ok": true, "list": ["a"],
                "validity": {"$type": "duration", "value": "8760h"}})
        );
        let back = from_json(&json, "step").unwrap();
        assert_eq!(to_json(&back, "step").unwrap(), json);
    }

    #[test]
    fn refuses_private_keys_and_unknown_types() {
        let key = Dynamic::from("-----BEGIN PRIVATE KEY-----\nMII\n".to_owned());
        let error = to_json(&key, "generate.key").unwrap_err();
        assert_eq!(
            error.to_string(),
            "output `generate.key` holds a private key, which is never recorded in the journal"
        );
        let odd = Dynamic::from(std::time::Instant::now());
        assert!(matches!(
            to_json(&odd, "x"),
            Err(ValueError::Unsupported { .. })
        ));
    }
}
