//! Reading a primitive's options map: every key known, every value of the right type, and
//! errors that name the function, the key and what it accepts.

use rhai::{Dynamic, Map};

use crate::pki::script::type_name;

/// A primitive's options, checked against the keys it knows.
pub struct Options<'a> {
    function: &'a str,
    map: Map,
}

impl<'a> Options<'a> {
    /// Refuses a key not in `known`, naming the known ones.
    pub fn new(function: &'a str, map: Map, known: &[&str]) -> Result<Self, String> {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "{function}: unknown option `{key}`: the options are {}",
                known.join(", ")
            ));
        }
        Ok(Self { function, map })
    }

    fn wrong(&self, key: &str, wanted: &str, value: &Dynamic) -> String {
        format!(
            "{}: option `{key}` must be {wanted}, not {}",
            self.function,
            type_name(value)
        )
    }

    /// The raw value of `key`; `()` counts as absent.
    pub fn value(&self, key: &str) -> Option<Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit()).cloned()
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.value(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(v.into_string().ok()),
            Some(v) => Err(self.wrong(key, "a string", &v)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool, String> {
        match self.value(key) {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .map_err(|_| self.wrong(key, "true or false", &v)),
        }
    }

    /// A list of strings; a single string counts as a list of one.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        let Some(value) = self.value(key) else {
            return Ok(Vec::new());
        };
        if value.is_string() {
            return Ok(vec![value.into_string().unwrap_or_default()]);
        }
        let wanted = "an array of strings";
        let Some(items) = value.clone().try_cast::<rhai::Array>() else {
            return Err(self.wrong(key, wanted, &value));
        };
        items
            .into_iter()
            .map(|item| {
                item.clone()
                    .into_string()
                    .map_err(|_| self.wrong(key, wanted, &item))
            })
            .collect()
    }

    /// The control-plane namespace option, `linkerd` by default.
    pub fn namespace(&self, key: &str) -> Result<String, String> {
        Ok(self
            .string(key)?
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| super::DEFAULT_NAMESPACE.to_owned()))
    }
}
