//! Runbook parameters: declared with a default and a description, overridden by `--set
//! KEY=VALUE` and `--values FILE`, converted to the type of the default.
//!
//! Every problem (unknown keys, bad values) is collected and reported in one error that lists
//! the known keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rhai::Dynamic;
use serde_json::Value;

use crate::duration;

/// The type of a parameter, taken from its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    Int,
    Bool,
    Duration,
    /// A list of strings, written `a,b` on the command line.
    List,
}

impl ParamKind {
    /// The kind of a default value, or `None` for a type parameters cannot have.
    pub fn of(default: &Dynamic) -> Option<Self> {
        if default.is_string() {
            Some(Self::String)
        } else if default.is_int() {
            Some(Self::Int)
        } else if default.is_bool() {
            Some(Self::Bool)
        } else if default.is::<time::Duration>() {
            Some(Self::Duration)
        } else if let Some(items) = default.read_lock::<rhai::Array>() {
            items.iter().all(Dynamic::is_string).then_some(Self::List)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Bool => "bool",
            Self::Duration => "duration",
            Self::List => "list",
        }
    }

    /// Converts a value from `--set` (always text) or `--values` (any YAML/JSON value) to
    /// this kind. Text is read as `--set` reads it; any other value must already have the
    /// kind's type: a list, a map or null is never turned into text.
    fn convert(self, raw: &Value) -> Result<Dynamic, String> {
        let text = match raw {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) if matches!(self, Self::Int) => number.to_string(),
            Value::Bool(flag) if matches!(self, Self::Bool) => flag.to_string(),
            Value::Array(items) if matches!(self, Self::List) => {
                return list_items(items);
            }
            other => {
                return Err(format!(
                    "expected {}, got {}",
                    self.expected(),
                    describe(other)
                ));
            }
        };
        match self {
            Self::String => Ok(Dynamic::from(text)),
            Self::Int => text
                .parse::<i64>()
                .map(Dynamic::from_int)
                .map_err(|_| format!("expected a whole number, got {text:?}")),
            Self::Bool => match text.as_str() {
                "true" => Ok(Dynamic::TRUE),
                "false" => Ok(Dynamic::FALSE),
                _ => Err(format!("expected true or false, got {text:?}")),
            },
            Self::Duration => match duration::parse(&text) {
                // Parameters are validities and timeouts, for which zero is a mistake.
                Ok(zero) if zero.is_zero() => Err(format!(
                    "expected a duration longer than zero, got {text:?}"
                )),
                Ok(duration) => Ok(Dynamic::from(duration)),
                Err(error) => Err(error.to_string()),
            },
            // `a,b`; also `[a, b]`, YAML's flow form as a values file writes it, rather than
            // items named `[a` and `b]`.
            Self::List => Ok(Dynamic::from_array(
                text.trim()
                    .strip_prefix('[')
                    .and_then(|inner| inner.strip_suffix(']'))
                    .unwrap_or(&text)
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Dynamic::from(item.to_owned()))
                    .collect(),
            )),
        }
    }

    /// What a value of this kind looks like, for errors.
    fn expected(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Int => "a whole number",
            Self::Bool => "true or false",
            Self::Duration => "a duration such as 8760h",
            Self::List => "a list of strings",
        }
    }
}

/// A list from `--values`: every item a string.
fn list_items(items: &[Value]) -> Result<Dynamic, String> {
    let mut list = rhai::Array::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item {
            Value::String(text) => list.push(Dynamic::from(text.clone())),
            other => {
                return Err(format!(
                    "expected a list of strings, but item {index} is {}",
                    describe(other)
                ));
            }
        }
    }
    Ok(Dynamic::from_array(list))
}

/// A value from `--values` with its YAML/JSON type, for errors: `the list ["a","b"]`.
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "the bool",
        Value::Number(_) => "the number",
        Value::String(_) => "the string",
        Value::Array(_) => "the list",
        Value::Object(_) => "the map",
    };
    format!("{kind} {value}")
}

/// A declared parameter and the value this run gives it.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub default: Dynamic,
    pub description: String,
    pub value: Dynamic,
    /// May change between runs of one journal (declared with `#{ resumable: true }`).
    pub resumable: bool,
}

/// Where an override came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Set,
    Values(PathBuf),
}

/// Parameter values given on the command line, not yet checked against the runbook.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    entries: BTreeMap<String, (Value, Origin)>,
}

/// Problems with the parameters of a run.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// A `--set` argument without `=`.
    #[error("--set {arg:?} is not KEY=VALUE")]
    NotKeyValue { arg: String },
    /// A `--values` file that cannot be read.
    #[error("reading parameter values from {path}")]
    ReadValues {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `--values` file that is not a YAML or JSON map.
    #[error("parameter values file {path} is not a YAML or JSON map: {reason}")]
    ParseValues { path: PathBuf, reason: String },
    /// Unknown keys and bad values, all of them.
    #[error("invalid runbook parameters:\n{}\nknown parameters: {}", bullets(problems), known.join(", "))]
    Invalid {
        problems: Vec<String>,
        known: Vec<String>,
    },
}

fn bullets(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|line| format!("  - {line}")).collect();
    lines.join("\n")
}

// === impl Overrides ===

impl Overrides {
    /// Reads `--values` files in order, then `--set` arguments, later ones winning.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or parsed, or a `--set` has no `=`.
    pub fn from_args(values: &[PathBuf], sets: &[String]) -> Result<Self, ParamError> {
        let mut overrides = Self::default();
        for path in values {
            overrides.read_file(path)?;
        }
        for arg in sets {
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| ParamError::NotKeyValue { arg: arg.clone() })?;
            overrides
                .entries
                .insert(key.trim().to_owned(), (Value::from(value), Origin::Set));
        }
        Ok(overrides)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ParamError> {
        let text = std::fs::read_to_string(path).map_err(|source| ParamError::ReadValues {
            path: path.to_owned(),
            source,
        })?;
        let parse_error = |reason: String| ParamError::ParseValues {
            path: path.to_owned(),
            reason,
        };
        // YAML is a superset of JSON, and strict booleans keep `yes`/`on` strings.
        let options =
            serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true };
        let value: Value = serde_saphyr::from_str_with_options(&text, options)
            .map_err(|error| parse_error(error.to_string()))?;
        let Value::Object(map) = value else {
            return Err(parse_error("the top level is not a map".to_owned()));
        };
        for (key, value) in map {
            self.entries
                .insert(key, (value, Origin::Values(path.to_owned())));
        }
        Ok(())
    }

    /// The value declared parameter `name` gets: its override converted, or the default.
    pub(crate) fn resolve(
        &self,
        name: &str,
        kind: ParamKind,
        default: &Dynamic,
    ) -> Result<Dynamic, String> {
        let Some((raw, origin)) = self.entries.get(name) else {
            return Ok(default.clone());
        };
        kind.convert(raw).map_err(|reason| {
            let from = match origin {
                Origin::Set => "--set".to_owned(),
                Origin::Values(path) => format!("--values {}", path.display()),
            };
            format!("parameter `{name}` ({} from {from}): {reason}", kind.name())
        })
    }

    /// Keys that no declared parameter has.
    pub(crate) fn unknown<'a>(&'a self, declared: &'a [Param]) -> impl Iterator<Item = &'a str> {
        self.entries
            .keys()
            .filter(|key| !declared.iter().any(|param| &param.name == *key))
            .map(String::as_str)
    }
}

/// The JSON a parameter value is recorded as in the journal, and compared with on resume.
pub fn to_json(value: &Dynamic) -> Value {
    match value.clone().try_cast::<time::Duration>() {
        Some(duration) => Value::from(duration::format(duration)),
        None => super::values::to_json(value, "parameter").unwrap_or(Value::Null),
    }
}

/// How a value reads in `--list`: strings quoted, lists as `a,b`, durations as `8760h`.
pub fn display(value: &Dynamic) -> String {
    match to_json(value) {
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        Value::String(text) if value.is_string() => format!("{text:?}"),
        Value::String(text) => text,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_the_type_of_the_default() {
        let text = |s: &str| Value::from(s);
        assert_eq!(
            ParamKind::Int.convert(&text("42")).unwrap().as_int(),
            Ok(42)
        );
        assert!(
            ParamKind::Bool
                .convert(&text("true"))
                .unwrap()
                .as_bool()
                .unwrap()
        );
        let duration = ParamKind::Duration.convert(&text("8760h")).unwrap();
        assert_eq!(
            duration.cast::<time::Duration>(),
            time::Duration::hours(8760)
        );
        let list = ParamKind::List.convert(&text("a, b,")).unwrap();
        assert_eq!(display(&list), "[a,b]");
        assert_eq!(
            ParamKind::Duration.convert(&text("soon")).unwrap_err(),
            "invalid duration \"soon\": a unit without a number \
             (expected a number with a unit d, h, m or s, like 8760h or 1h30m)"
        );
        assert_eq!(
            ParamKind::Int.convert(&Value::from(7)).unwrap().as_int(),
            Ok(7)
        );
    }

    #[test]
    fn values_of_another_type_are_refused_not_turned_into_text() {
        let json = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        for (kind, value, error) in [
            (
                ParamKind::String,
                "[\"a\",\"b\"]",
                "expected a string, got the list [\"a\",\"b\"]",
            ),
            (ParamKind::String, "null", "expected a string, got null"),
            (
                ParamKind::String,
                "5",
                "expected a string, got the number 5",
            ),
            (
                ParamKind::Int,
                "1.5",
                "expected a whole number, got \"1.5\"",
            ),
            (
                ParamKind::Bool,
                "1",
                "expected true or false, got the number 1",
            ),
            (
                ParamKind::Duration,
                "\"0s\"",
                "expected a duration longer than zero, got \"0s\"",
            ),
            (
                ParamKind::List,
                "[\"a\", 1]",
                "expected a list of strings, but item 1 is the number 1",
            ),
            (
                ParamKind::List,
                "{}",
                "expected a list of strings, got the map {}",
            ),
        ] {
            assert_eq!(kind.convert(&json(value)).unwrap_err(), error, "{value}");
        }
    }
}
