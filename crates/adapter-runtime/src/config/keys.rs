//! Reading one configuration file (YAML, top-level mapping) key by key, with errors that name
//! the file and the key. Every known key is taken out of the mapping as it is read; what is
//! left at the end is an unknown key, refused with a suggestion when only the case differs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::ConfigError;

/// The keys of one file, consumed as they are read.
#[derive(Debug)]
pub(crate) struct Keys {
    source: String,
    map: BTreeMap<String, Value>,
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

impl Keys {
    /// Parses `text` (an empty file is an empty mapping). `source` names the file in errors.
    pub(crate) fn parse(source: &str, text: &str) -> Result<Keys, ConfigError> {
        let source = source.to_owned();
        if text.trim().is_empty() {
            return Ok(Keys {
                source,
                map: BTreeMap::new(),
            });
        }
        // YAML 1.2 booleans only: `y`, `no`, `on`... stay strings (a host named `on` is a
        // host); duplicate keys are an error (serde-saphyr's default).
        let options = serde_saphyr::options! { strict_booleans: true };
        let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|error| {
            ConfigError::Syntax {
                source_name: source.clone(),
                message: error.to_string(),
            }
        })?;
        let map = match value {
            Value::Null => BTreeMap::new(),
            Value::Object(map) => map.into_iter().collect(),
            other => {
                return Err(ConfigError::Syntax {
                    source_name: source,
                    message: format!("the file must be a mapping of keys, not {other}"),
                });
            }
        };
        Ok(Keys { source, map })
    }

    /// The file's name, as errors give it.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// An error about `key`.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            source_name: self.source.clone(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// Takes `key` out (a YAML `null` counts as absent).
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|value| !value.is_null())
    }

    pub(crate) fn bool(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(value),
            Some(Value::String(text)) if text == "true" || text == "false" => Ok(text == "true"),
            Some(other) => Err(self.invalid(
                key,
                format!("expected true or false, found {}", describe(&other)),
            )),
        }
    }

    /// An integer in `min..=max`; strings of digits are accepted (YAML quoting).
    pub(crate) fn integer(
        &mut self,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let value = match self.take(key) {
            None => return Ok(default),
            Some(Value::Number(number)) => number.as_u64(),
            Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(value) => Err(self.invalid(
                key,
                format!("{value} is out of range (allowed {min} to {max})"),
            )),
            None => Err(self.invalid(key, format!("expected a whole number from {min} to {max}"))),
        }
    }

    /// Whole seconds in `min..=max`.
    pub(crate) fn seconds(
        &mut self,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.integer(key, default, min, max)
            .map(Duration::from_secs)
    }

    /// A TCP port (1 to 65535).
    pub(crate) fn port(&mut self, key: &str, default: u16) -> Result<u16, ConfigError> {
        let port = self.integer(key, u64::from(default), 1, 65535)?;
        u16::try_from(port).map_err(|_| self.invalid(key, "not a port"))
    }

    /// A number greater than 0 (floats and integers).
    pub(crate) fn positive_number(&mut self, key: &str, default: f64) -> Result<f64, ConfigError> {
        let value = match self.take(key) {
            None => return Ok(default),
            Some(Value::Number(number)) => number.as_f64(),
            Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(value) if value.is_finite() && value > 0.0 => Ok(value),
            _ => Err(self.invalid(key, "expected a number greater than 0")),
        }
    }

    /// A string; numbers are accepted as their text; an empty string counts as absent.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(other) => Err(self.invalid(
                key,
                format!("expected a string, found {}", describe(&other)),
            )),
        }
    }

    /// A list of strings; one string is a list of one (commas separate items in it).
    pub(crate) fn strings(&mut self, key: &str) -> Result<Vec<String>, ConfigError> {
        let items = match self.take(key) {
            None => return Ok(Vec::new()),
            Some(Value::String(text)) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (index, item) in items.into_iter().enumerate() {
                    match item {
                        Value::String(text) if !text.trim().is_empty() => {
                            out.push(text.trim().to_owned());
                        }
                        other => {
                            return Err(self.invalid(
                                key,
                                format!(
                                    "item {index} must be a non-empty string, found {}",
                                    describe(&other)
                                ),
                            ));
                        }
                    }
                }
                out
            }
            Some(other) => {
                return Err(self.invalid(
                    key,
                    format!("expected a list of strings, found {}", describe(&other)),
                ));
            }
        };
        Ok(items)
    }

    /// One of `choices` (compared case-insensitively; the canonical spelling is returned).
    pub(crate) fn choice(
        &mut self,
        key: &str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        let Some(text) = self.string(key)? else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|choice| choice.eq_ignore_ascii_case(&text))
            .copied()
            .ok_or_else(|| {
                self.invalid(
                    key,
                    format!("{text:?} is not one of {}", choices.join(", ")),
                )
            })
    }

    /// A nested mapping, as its own [`Keys`] (source `file` key `key`).
    pub(crate) fn nested(&mut self, key: &str) -> Result<Keys, ConfigError> {
        let source = format!("{} (under {key})", self.source);
        match self.take(key) {
            None => Ok(Keys {
                source,
                map: BTreeMap::new(),
            }),
            Some(Value::Object(map)) => Ok(Keys {
                source,
                map: map.into_iter().collect(),
            }),
            Some(other) => Err(self.invalid(
                key,
                format!("expected a mapping, found {}", describe(&other)),
            )),
        }
    }

    /// Drops `keys` (VMware keys accepted for compatibility that have no effect here).
    pub(crate) fn ignore(&mut self, keys: &[&str]) {
        for key in keys {
            if let Some(value) = self.take(key) {
                tracing::debug!(source = %self.source, key, value = %describe(&value),
                    "configuration key accepted for compatibility; it has no effect");
            }
        }
    }

    /// Fails on the first key nobody read (`known` lists every key of the file, for the
    /// suggestion).
    pub(crate) fn finish(self, known: &[&str]) -> Result<(), ConfigError> {
        let Some(key) = self.map.keys().next() else {
            return Ok(());
        };
        let suggestion = known
            .iter()
            .find(|candidate| candidate.eq_ignore_ascii_case(key))
            .map(|candidate| format!(" (did you mean {candidate}?)"))
            .unwrap_or_default();
        Err(ConfigError::UnknownKey {
            source_name: self.source,
            key: key.clone(),
            suggestion,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_with_their_types() {
        let mut keys = Keys::parse(
            "f.conf",
            "a: true\nb: 7\nc: \"8\"\nd: 2.5\ne: [nsx1, nsx2]\nf: nsx1, nsx2\ng: ''\nh: 12\n",
        )
        .unwrap();
        assert!(keys.bool("a", false).unwrap());
        assert_eq!(keys.integer("b", 0, 0, 10).unwrap(), 7);
        assert_eq!(keys.integer("c", 0, 0, 10).unwrap(), 8);
        assert_eq!(keys.positive_number("d", 1.0).unwrap(), 2.5);
        assert_eq!(keys.strings("e").unwrap(), ["nsx1", "nsx2"]);
        assert_eq!(keys.strings("f").unwrap(), ["nsx1", "nsx2"]);
        assert_eq!(keys.string("g").unwrap(), None);
        assert_eq!(keys.string("h").unwrap().as_deref(), Some("12"));
        keys.finish(&[]).unwrap();
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let mut keys = Keys::parse("f.conf", "a: maybe\nb: 99\nc: -1\nd: 0\ne: {x: 1}\n").unwrap();
        let error = keys.bool("a", false).unwrap_err().to_string();
        assert!(
            error.contains("f.conf") && error.contains("key a"),
            "{error}"
        );
        let error = keys.integer("b", 0, 0, 10).unwrap_err().to_string();
        assert!(
            error.contains("key b") && error.contains("out of range"),
            "{error}"
        );
        let error = keys.integer("c", 0, 0, 10).unwrap_err().to_string();
        assert!(error.contains("key c"), "{error}");
        let error = keys.positive_number("d", 1.0).unwrap_err().to_string();
        assert!(error.contains("key d"), "{error}");
        let error = keys.strings("e").unwrap_err().to_string();
        assert!(error.contains("key e"), "{error}");
    }

    #[test]
    fn yaml_1_1_booleans_are_strings_and_duplicates_are_refused() {
        let mut keys = Keys::parse("f.conf", "a: [y, on]\nb: yes\n").unwrap();
        assert_eq!(keys.strings("a").unwrap(), ["y", "on"]);
        let error = keys.bool("b", false).unwrap_err().to_string();
        assert!(error.contains("key b"), "{error}");
        assert!(matches!(
            Keys::parse("f.conf", "a: 1\na: 2\n"),
            Err(ConfigError::Syntax { .. })
        ));
    }

    #[test]
    fn unknown_keys_are_refused_with_a_suggestion() {
        let keys = Keys::parse("f.conf", "nsxmanagers: [a]\n").unwrap();
        let error = keys.finish(&["NSXManagers"]).unwrap_err().to_string();
        assert_eq!(
            error,
            "f.conf: unknown key nsxmanagers (did you mean NSXManagers?)"
        );
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_refused() {
        assert!(matches!(
            Keys::parse("f.conf", "- a\n- b\n"),
            Err(ConfigError::Syntax { .. })
        ));
        assert!(matches!(
            Keys::parse("f.conf", "a: [unclosed\n"),
            Err(ConfigError::Syntax { .. })
        ));
        assert!(Keys::parse("f.conf", "# only a comment\n").is_ok());
    }
}
