//! `kino-plugin.toml`: what a plugin is, what it needs and how it is configured.
//!
//! ```toml
//! format = 1
//!
//! [plugin]
//! name = "director-noir"
//! version = "1.2.0"
//! world = "kino:stage/director-style@0.1.0"
//! description = "Hard shadows, low angles"
//! authors = ["Ada <ada@example.com>"]
//! license = "Apache-2.0"              # optional
//!
//! [capabilities]                      # optional
//! outbound-hosts = ["https://api.example.com", "https://*.cdn.example.com:8443"]
//!
//! [limits]                            # optional; defaults 64MiB, 2000 ms, 10^10 fuel
//! memory = "64MiB"                    # or bytes as an integer; 1MiB..=1GiB
//! timeout-ms = 2000                   # per call; 1..=60000
//! fuel = 10_000_000_000               # per call, wasm instructions (roughly); 10^5..=10^12
//!
//! [[config]]
//! key = "contrast"
//! type = "number"                     # string | integer | number | boolean
//! default = 1.5
//! description = "How hard the shadows are"
//! required = false                    # a required key has no default
//!
//! [[config]]
//! key = "mood"
//! type = "string"
//! default = "dark"
//! values = ["dark", "darker"]         # optional, string keys only: the values allowed
//! ```

mod config;
mod origin;

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

pub use config::{ConfigEntry, ConfigType, ConfigValue};
pub use origin::{Origin, Scheme};

use crate::{ManifestError, PluginName, RegistryError, WorldRef};

/// The manifest's file name inside a package.
pub const MANIFEST_FILE: &str = "kino-plugin.toml";

/// The manifest format this crate reads (`format = 1`).
pub const FORMAT: i64 = 1;

/// The smallest memory limit a manifest may ask for (1 MiB).
pub const MIN_MEMORY_BYTES: u64 = 1 << 20;
/// The largest memory limit a manifest may ask for (1 GiB).
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// The memory limit when a manifest gives none (64 MiB).
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;
/// The largest per-call timeout a manifest may ask for (60 s).
pub const MAX_TIMEOUT_MS: u32 = 60_000;
/// The per-call timeout when a manifest gives none (2 s).
pub const DEFAULT_TIMEOUT_MS: u32 = 2_000;
/// The smallest per-call fuel budget a manifest may ask for.
pub const MIN_FUEL: u64 = 100_000;
/// The largest per-call fuel budget a manifest may ask for.
pub const MAX_FUEL: u64 = 1_000_000_000_000;
/// The per-call fuel budget when a manifest gives none: more than any call
/// can burn within the largest deadline on today's CPUs' wasm throughput
/// would need to be a bug, yet a fixed, deterministic ceiling.
pub const DEFAULT_FUEL: u64 = 10_000_000_000;

/// A validated `kino-plugin.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    name: PluginName,
    version: semver::Version,
    world: WorldRef,
    description: String,
    authors: Vec<String>,
    license: Option<String>,
    outbound_hosts: Vec<Origin>,
    limits: Limits,
    config: Vec<ConfigEntry>,
}

/// The resource limits a plugin asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory an instance may use, in bytes.
    pub memory_bytes: u64,
    /// The deadline of one call, in milliseconds.
    pub timeout_ms: u32,
    /// The fuel (wasm instructions, roughly) one call may burn: unlike the
    /// deadline, the same input always burns the same fuel.
    pub fuel: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            fuel: DEFAULT_FUEL,
        }
    }
}

#[derive(Deserialize)]
struct RawFormat {
    format: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[allow(dead_code)]
    format: toml::Value,
    plugin: RawPlugin,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: Vec<RawConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: PluginName,
    version: Spanned<String>,
    world: WorldRef,
    description: String,
    #[serde(default)]
    authors: Vec<String>,
    license: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCapabilities {
    #[serde(default)]
    outbound_hosts: Vec<Origin>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    memory: Option<Spanned<toml::Value>>,
    timeout_ms: Option<Spanned<i64>>,
    fuel: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    key: Spanned<String>,
    #[serde(rename = "type")]
    ty: ConfigType,
    default: Option<Spanned<toml::Value>>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: Option<Spanned<bool>>,
    #[serde(default)]
    values: Option<Spanned<Vec<String>>>,
}

/// Where errors in one manifest text are reported.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn error(
        &self,
        span: Option<Range<usize>>,
        field: Option<String>,
        message: String,
    ) -> RegistryError {
        let (line, column) = match &span {
            Some(span) => line_col(self.text, span.start),
            None => (0, 0),
        };
        let field = field.or_else(|| span.and_then(|s| field_at(self.text, s.start)));
        ManifestError {
            file: self.file.to_owned(),
            line,
            column,
            field,
            message,
        }
        .into()
    }

    fn toml_error(&self, e: &toml::de::Error) -> RegistryError {
        self.error(e.span(), None, e.message().trim_end().to_owned())
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Best effort: the dotted field at byte `offset`, from the last table header
/// before it and the key on its line (`plugin.name`, `config[2].type`).
fn field_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim();
    if line.starts_with('[') {
        // A table header: the error is about the table itself.
        let name = line.trim_matches(|c| c == '[' || c == ']').trim();
        return (!name.is_empty()).then(|| name.to_owned());
    }
    let key = line.split_once('=')?.0.trim();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let mut table: Option<String> = None;
    let mut arrays: BTreeMap<String, usize> = BTreeMap::new();
    for l in before[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l
            .strip_prefix("[[")
            .and_then(|r| r.split_once("]]"))
            .map(|(n, _)| n.trim())
        {
            let n = arrays.entry(name.to_owned()).or_insert(0);
            *n += 1;
            table = Some(format!("{name}[{}]", *n));
        } else if let Some(name) = l
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(n, _)| n.trim())
        {
            table = Some(name.to_owned());
        }
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

fn parse_memory(value: &toml::Value) -> Result<u64, String> {
    let bytes = match value {
        toml::Value::Integer(i) => {
            u64::try_from(*i).map_err(|_| "must not be negative".to_owned())?
        }
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("`{s}` is not a size such as \"64MiB\""))?;
            let mult: u64 = match unit.trim() {
                "" | "B" => 1,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                other => {
                    return Err(format!("unknown unit `{other}`: use B, KiB, MiB or GiB"));
                }
            };
            n.checked_mul(mult)
                .ok_or_else(|| format!("`{s}` is too large"))?
        }
        other => {
            return Err(format!(
                "expected a size such as \"64MiB\" or a number of bytes, found {}",
                other.type_str()
            ));
        }
    };
    if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&bytes) {
        return Err(format!(
            "{bytes} bytes is out of range: must be 1MiB..=1GiB"
        ));
    }
    Ok(bytes)
}

impl Manifest {
    /// Parses and validates manifest `text`; errors name `file`, the line and the field.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, RegistryError> {
        let src = Source { file, text };
        // The format version first, so a newer manifest gets a clear message
        // instead of a complaint about a field this version does not know.
        let format: RawFormat = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        match format.format {
            None => {
                return Err(src.error(
                    None,
                    Some("format".into()),
                    format!("missing manifest format version: add `format = {FORMAT}` at the top"),
                ));
            }
            Some(f) => match f.get_ref() {
                toml::Value::Integer(FORMAT) => {}
                toml::Value::Integer(n) => {
                    return Err(src.error(
                        Some(f.span()),
                        Some("format".into()),
                        format!("unsupported manifest format {n}: this version of kino reads format {FORMAT}; upgrade kino"),
                    ));
                }
                other => {
                    return Err(src.error(
                        Some(f.span()),
                        Some("format".into()),
                        format!(
                            "expected an integer such as {FORMAT}, found {}",
                            other.type_str()
                        ),
                    ));
                }
            },
        }
        let raw: RawManifest = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        Self::validate(raw, &src)
    }

    fn validate(raw: RawManifest, src: &Source<'_>) -> Result<Manifest, RegistryError> {
        let v = &raw.plugin.version;
        let version = semver::Version::parse(v.get_ref()).map_err(|e| {
            src.error(
                Some(v.span()),
                Some("plugin.version".into()),
                format!(
                    "invalid version `{}`: {e} (expected semver such as 1.2.0)",
                    v.get_ref()
                ),
            )
        })?;
        let mut limits = Limits::default();
        if let Some(memory) = &raw.limits.memory {
            limits.memory_bytes = parse_memory(memory.get_ref())
                .map_err(|m| src.error(Some(memory.span()), Some("limits.memory".into()), m))?;
        }
        if let Some(t) = &raw.limits.timeout_ms {
            limits.timeout_ms = u32::try_from(*t.get_ref())
                .ok()
                .filter(|t| (1..=MAX_TIMEOUT_MS).contains(t))
                .ok_or_else(|| {
                    src.error(
                        Some(t.span()),
                        Some("limits.timeout-ms".into()),
                        format!(
                            "{} is out of range: must be 1..={MAX_TIMEOUT_MS}",
                            t.get_ref()
                        ),
                    )
                })?;
        }
        if let Some(f) = &raw.limits.fuel {
            limits.fuel = u64::try_from(*f.get_ref())
                .ok()
                .filter(|f| (MIN_FUEL..=MAX_FUEL).contains(f))
                .ok_or_else(|| {
                    src.error(
                        Some(f.span()),
                        Some("limits.fuel".into()),
                        format!(
                            "{} is out of range: must be {MIN_FUEL}..={MAX_FUEL}",
                            f.get_ref()
                        ),
                    )
                })?;
        }
        let mut config: Vec<ConfigEntry> = Vec::with_capacity(raw.config.len());
        for (i, c) in raw.config.into_iter().enumerate() {
            let field = |f: &str| Some(format!("config[{}].{f}", i + 1));
            let key = c.key.get_ref();
            if !config::valid_key(key) {
                return Err(src.error(
                    Some(c.key.span()),
                    field("key"),
                    format!("invalid config key `{key}`: use 1 to 64 lowercase ascii letters, digits, `-` and `_`, starting with a letter"),
                ));
            }
            if config.iter().any(|e| &e.key == key) {
                return Err(src.error(
                    Some(c.key.span()),
                    field("key"),
                    format!("duplicate config key `{key}`"),
                ));
            }
            let required = c.required.as_ref().is_some_and(|r| *r.get_ref());
            let default = match &c.default {
                None => None,
                Some(_) if required => {
                    let span = c.required.as_ref().map(Spanned::span);
                    return Err(src.error(
                        span,
                        field("required"),
                        format!("config key `{key}` is required and so may not have a default"),
                    ));
                }
                Some(d) => Some(c.ty.convert_toml(d.get_ref()).ok_or_else(|| {
                    src.error(
                        Some(d.span()),
                        field("default"),
                        format!(
                            "default for `{key}` must be of type {}, found {}",
                            c.ty,
                            d.get_ref().type_str()
                        ),
                    )
                })?),
            };
            let values = match c.values {
                None => Vec::new(),
                Some(values) => {
                    let span = values.span();
                    let values = values.into_inner();
                    if c.ty != ConfigType::String {
                        return Err(src.error(
                            Some(span),
                            field("values"),
                            format!(
                                "`values` lists the strings `{key}` may take, but it is of type {}",
                                c.ty
                            ),
                        ));
                    }
                    if values.is_empty() {
                        return Err(src.error(
                            Some(span),
                            field("values"),
                            format!("`values` of `{key}` is empty: list the allowed strings, or leave it out to allow any"),
                        ));
                    }
                    if let (Some(ConfigValue::String(d)), Some(raw)) = (&default, &c.default)
                        && !values.contains(d)
                    {
                        return Err(src.error(
                            Some(raw.span()),
                            field("default"),
                            format!(
                                "default `{d}` of `{key}` is not one of its values: {}",
                                values.join(", ")
                            ),
                        ));
                    }
                    values
                }
            };
            config.push(ConfigEntry {
                key: c.key.into_inner(),
                ty: c.ty,
                default,
                description: c.description,
                required,
                values,
            });
        }
        Ok(Manifest {
            name: raw.plugin.name,
            version,
            world: raw.plugin.world,
            description: raw.plugin.description,
            authors: raw.plugin.authors,
            license: raw.plugin.license,
            outbound_hosts: raw.capabilities.outbound_hosts,
            limits,
            config,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &PluginName {
        &self.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The world it implements.
    pub fn world(&self) -> &WorldRef {
        &self.world
    }

    /// Its one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Its authors.
    pub fn authors(&self) -> &[String] {
        &self.authors
    }

    /// Its license (an SPDX expression), if given.
    pub fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }

    /// The origins it asks to reach; the operator still has to grant them.
    pub fn outbound_hosts(&self) -> &[Origin] {
        &self.outbound_hosts
    }

    /// Its resource limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Its config schema, in manifest order.
    pub fn config(&self) -> &[ConfigEntry] {
        &self.config
    }

    /// Checks `given` config against the schema: refuses unknown keys, missing
    /// required keys and values of the wrong type; returns the config with
    /// defaults filled in.
    pub fn validate_config(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, RegistryError> {
        config::validate(self.name.as_str(), &self.config, given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
format = 1

[plugin]
name = "director-noir"
version = "1.2.0"
world = "kino:stage/director-style@0.1.0"
description = "noir"
authors = ["a"]

[capabilities]
outbound-hosts = ["https://api.example.com"]

[limits]
memory = "32MiB"
timeout-ms = 500
fuel = 5_000_000

[[config]]
key = "contrast"
type = "number"
default = 2

[[config]]
key = "api-key"
type = "string"
required = true

[[config]]
key = "mood"
type = "string"
default = "dark"
values = ["dark", "darker"]
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD, "kino-plugin.toml").expect("valid");
        assert_eq!(m.name().as_str(), "director-noir");
        assert_eq!(m.version(), &semver::Version::new(1, 2, 0));
        assert_eq!(m.limits().memory_bytes, 32 << 20);
        assert_eq!(m.limits().timeout_ms, 500);
        assert_eq!(m.limits().fuel, 5_000_000);
        assert_eq!(m.config()[0].default, Some(ConfigValue::Number(2.0)));
        assert_eq!(m.outbound_hosts().len(), 1);
    }

    #[test]
    fn config_validation() {
        let m = Manifest::parse(GOOD, "kino-plugin.toml").expect("valid");
        let mut given = BTreeMap::new();
        assert!(matches!(
            m.validate_config(&given),
            Err(RegistryError::MissingConfig { key, .. }) if key == "api-key"
        ));
        given.insert("api-key".to_owned(), "s3cret".to_owned());
        let filled = m.validate_config(&given).expect("valid");
        assert_eq!(filled.get("contrast").map(String::as_str), Some("2"));
        given.insert("contrast".to_owned(), "high".to_owned());
        assert!(matches!(
            m.validate_config(&given),
            Err(RegistryError::InvalidConfigValue { key, .. }) if key == "contrast"
        ));
        given.insert("contrast".to_owned(), "0.5".to_owned());
        assert_eq!(
            m.validate_config(&given)
                .expect("valid")
                .get("contrast")
                .map(String::as_str),
            Some("0.5")
        );
        assert_eq!(filled.get("mood").map(String::as_str), Some("dark"));
        given.insert("mood".to_owned(), "darker".to_owned());
        assert!(m.validate_config(&given).is_ok());
        given.insert("mood".to_owned(), "sunny".to_owned());
        let err = m.validate_config(&given).expect_err("not an allowed value");
        assert!(matches!(&err, RegistryError::ConfigValueNotAllowed { key, .. } if key == "mood"));
        assert_eq!(
            err.to_string(),
            "director-noir: config key `mood` = `sunny` is not one of dark, darker"
        );
        given.insert("mood".to_owned(), "dark".to_owned());
        given.insert("colour".to_owned(), "red".to_owned());
        assert!(matches!(
            m.validate_config(&given),
            Err(RegistryError::UnknownConfigKey { key, .. }) if key == "colour"
        ));
    }

    #[test]
    fn config_values_are_for_strings_and_hold_the_default() {
        for (from, to, problem) in [
            ("values = [\"dark\", \"darker\"]", "values = []", "is empty"),
            (
                "default = \"dark\"\nvalues",
                "default = \"light\"\nvalues",
                "default `light` of `mood` is not one of its values",
            ),
            (
                "type = \"string\"\ndefault = \"dark\"",
                "type = \"integer\"\ndefault = 1",
                "it is of type integer",
            ),
        ] {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            let err = Manifest::parse(&text, "kino-plugin.toml").expect_err(problem);
            let message = err.to_string();
            assert!(message.contains("config[3]."), "{message}");
            assert!(message.contains(problem), "{message}");
        }
    }

    #[test]
    fn fuel_out_of_range_names_the_field() {
        let text = GOOD.replace("fuel = 5_000_000", "fuel = 10");
        let err = Manifest::parse(&text, "kino-plugin.toml").expect_err("too little fuel");
        let message = err.to_string();
        assert!(message.contains("limits.fuel"), "{message}");
        assert!(message.contains("out of range"), "{message}");
        let text = GOOD.replace("fuel = 5_000_000\n", "");
        let m = Manifest::parse(&text, "kino-plugin.toml").expect("valid");
        assert_eq!(m.limits().fuel, DEFAULT_FUEL);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(
            parse_memory(&toml::Value::String("1GiB".into())),
            Ok(1 << 30)
        );
        assert_eq!(parse_memory(&toml::Value::Integer(2 << 20)), Ok(2 << 20));
        assert!(parse_memory(&toml::Value::String("2GiB".into())).is_err());
        assert!(parse_memory(&toml::Value::String("64MB".into())).is_err());
        assert!(parse_memory(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
