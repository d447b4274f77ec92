//! The config schema a plugin declares, and checking config against it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::RegistryError;

/// The type of a config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigType {
    /// Any text.
    String,
    /// A 64-bit signed integer.
    Integer,
    /// A finite 64-bit float (integers are accepted).
    Number,
    /// `true` or `false`.
    Boolean,
}

impl ConfigType {
    /// The type's name as written in a manifest.
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::String => "string",
            ConfigType::Integer => "integer",
            ConfigType::Number => "number",
            ConfigType::Boolean => "boolean",
        }
    }

    /// Parses `text` as a value of this type.
    pub fn parse(self, text: &str) -> Option<ConfigValue> {
        match self {
            ConfigType::String => Some(ConfigValue::String(text.to_owned())),
            ConfigType::Integer => text.trim().parse().ok().map(ConfigValue::Integer),
            ConfigType::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(ConfigValue::Number),
            ConfigType::Boolean => match text.trim() {
                "true" => Some(ConfigValue::Boolean(true)),
                "false" => Some(ConfigValue::Boolean(false)),
                _ => None,
            },
        }
    }

    /// Converts a TOML value to this type, if it has it.
    pub(crate) fn convert_toml(self, value: &toml::Value) -> Option<ConfigValue> {
        match (self, value) {
            (ConfigType::String, toml::Value::String(s)) => Some(ConfigValue::String(s.clone())),
            (ConfigType::Integer, toml::Value::Integer(i)) => Some(ConfigValue::Integer(*i)),
            (ConfigType::Number, toml::Value::Float(f)) if f.is_finite() => {
                Some(ConfigValue::Number(*f))
            }
            #[allow(clippy::cast_precision_loss)]
            (ConfigType::Number, toml::Value::Integer(i)) => Some(ConfigValue::Number(*i as f64)),
            (ConfigType::Boolean, toml::Value::Boolean(b)) => Some(ConfigValue::Boolean(*b)),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed config value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// Text.
    String(String),
    /// An integer.
    Integer(i64),
    /// A finite float.
    Number(f64),
    /// A boolean.
    Boolean(bool),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::String(s) => f.write_str(s),
            ConfigValue::Integer(i) => write!(f, "{i}"),
            ConfigValue::Number(n) => write!(f, "{n}"),
            ConfigValue::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// One `[[config]]` entry of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    /// The key: lowercase ascii letters, digits, `-` and `_`, starting with a letter.
    pub key: String,
    /// The value's type.
    pub ty: ConfigType,
    /// The default, of type `ty`; never set on a required entry.
    pub default: Option<ConfigValue>,
    /// What the key is for.
    pub description: String,
    /// Whether a value must be given (then there is no default).
    pub required: bool,
    /// The values a string key may take (`values = [...]`); empty allows any.
    pub values: Vec<String>,
}

pub(crate) fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks `given` against `schema`; returns the values with defaults filled in,
/// each normalised through its type (so `" 3"` for an integer becomes `"3"`).
pub(crate) fn validate(
    plugin: &str,
    schema: &[ConfigEntry],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, RegistryError> {
    if let Some(key) = given.keys().find(|k| !schema.iter().any(|e| &e.key == *k)) {
        return Err(RegistryError::UnknownConfigKey {
            plugin: plugin.to_owned(),
            key: key.clone(),
        });
    }
    let mut out = BTreeMap::new();
    for entry in schema {
        let value = match (given.get(&entry.key), &entry.default) {
            (Some(text), _) => {
                entry
                    .ty
                    .parse(text)
                    .ok_or_else(|| RegistryError::InvalidConfigValue {
                        plugin: plugin.to_owned(),
                        key: entry.key.clone(),
                        value: text.clone(),
                        expected: entry.ty.name(),
                    })?
            }
            (None, Some(default)) => default.clone(),
            (None, None) if entry.required => {
                return Err(RegistryError::MissingConfig {
                    plugin: plugin.to_owned(),
                    key: entry.key.clone(),
                });
            }
            (None, None) => continue,
        };
        if let ConfigValue::String(text) = &value
            && !entry.values.is_empty()
            && !entry.values.contains(text)
        {
            return Err(RegistryError::ConfigValueNotAllowed {
                plugin: plugin.to_owned(),
                key: entry.key.clone(),
                value: text.clone(),
                allowed: entry.values.clone().into(),
            });
        }
        out.insert(entry.key.clone(), value.to_string());
    }
    Ok(out)
}
