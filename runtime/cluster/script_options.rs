//! The options map of a script function: unknown keys and wrong types are errors that name
//! the function, the key and what was expected, so that a typo in a runbook fails at once
//! instead of being ignored.

use std::time::Duration;

use rhai::{Array, Dynamic, Map};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::script::{ScriptResult, fail};

/// The options map of one call, checked against the keys the function knows.
pub struct Options<'a> {
    function: &'a str,
    map: Map,
}

impl<'a> Options<'a> {
    pub(super) fn new(function: &'a str, map: Map, known: &[&str]) -> ScriptResult<Self> {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(fail(format!(
                "{function}: unknown option `{key}`: the options are {}",
                known.join(", ")
            )));
        }
        Ok(Self { function, map })
    }

    fn wrong(&self, key: &str, wanted: &str, value: &Dynamic) -> Box<rhai::EvalAltResult> {
        fail(format!(
            "{}: option `{key}` is {wanted}, not {}",
            self.function,
            value.type_name()
        ))
    }

    pub(super) fn string(&self, key: &str) -> ScriptResult<Option<String>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v
                .clone()
                .into_string()
                .map(Some)
                .map_err(|_| self.wrong(key, "a string", v)),
        }
    }

    pub(super) fn bool(&self, key: &str) -> ScriptResult<Option<bool>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|_| self.wrong(key, "a bool", v)),
        }
    }

    pub(super) fn count(&self, key: &str) -> ScriptResult<Option<usize>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => match v.as_int() {
                Ok(n) => match usize::try_from(n) {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(fail(format!(
                        "{}: option `{key}` is a positive integer, not {n}",
                        self.function
                    ))),
                },
                Err(_) => Err(self.wrong(key, "a positive integer", v)),
            },
        }
    }

    pub(super) fn strings(&self, key: &str) -> ScriptResult<Option<Vec<String>>> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        let wanted = "an array of strings";
        let Some(items) = value.clone().try_cast::<Array>() else {
            return Err(self.wrong(key, wanted, value));
        };
        let list: Option<Vec<String>> = items.into_iter().map(|i| i.into_string().ok()).collect();
        list.map(Some).ok_or_else(|| self.wrong(key, wanted, value))
    }

    /// A `duration("10m")` value, or its text.
    pub(super) fn duration(&self, key: &str) -> ScriptResult<Option<Duration>> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        let parsed = if let Some(d) = value.clone().try_cast::<time::Duration>() {
            Ok(d)
        } else if let Ok(text) = value.clone().into_string() {
            crate::duration::parse(&text)
                .map_err(|e| fail(format!("{}: option `{key}`: {e}", self.function)))
        } else {
            Err(self.wrong(key, "a duration such as duration(\"5m\")", value))
        }?;
        Duration::try_from(parsed)
            .map(Some)
            .map_err(|_| fail(format!("{}: option `{key}` is negative", self.function)))
    }

    /// An RFC 3339 time such as `now()` returns.
    pub(super) fn time(&self, key: &str) -> ScriptResult<Option<OffsetDateTime>> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(Some)
            .map_err(|e| {
                fail(format!(
                    "{}: option `{key}` is not an RFC 3339 time such as \"2026-12-03T20:00:00Z\" \
                 ({text:?}: {e})",
                    self.function
                ))
            })
    }
}
