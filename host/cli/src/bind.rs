//! `kino run --bind/--config/--bindings`: which installed plugin (and config)
//! fills a slot for one local job.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use kino_pipeline::slots::JobBinding;

/// Collects a job's bindings: the file's first, then `--bind SLOT=PLUGIN`
/// and `--config SLOT.KEY=VALUE` over it.
pub fn job_bindings(
    file: Option<&Path>,
    binds: &[String],
    configs: &[String],
) -> Result<BTreeMap<String, JobBinding>> {
    let mut out = match file {
        Some(path) => read_file(path)?,
        None => BTreeMap::new(),
    };
    for bind in binds {
        let Some((slot, plugin)) = bind
            .split_once('=')
            .filter(|(s, p)| !s.is_empty() && !p.is_empty())
        else {
            bail!("--bind takes SLOT=PLUGIN (`director-style=my-director@^1`), not `{bind}`");
        };
        out.entry(slot.to_owned()).or_default().plugin = Some(plugin.to_owned());
    }
    for config in configs {
        let parsed = config
            .split_once('=')
            .and_then(|(key, value)| Some((key.split_once('.')?, value)));
        let Some(((slot, key), value)) =
            parsed.filter(|((s, k), _)| !s.is_empty() && !k.is_empty())
        else {
            bail!("--config takes SLOT.KEY=VALUE (`director-style.style=noir`), not `{config}`");
        };
        out.entry(slot.to_owned())
            .or_default()
            .config
            .insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// A bindings file:
///
/// ```toml
/// [director-style]
/// plugin = "my-director@^1"        # optional: the slot's default plugin otherwise
/// config = { style = "noir", contrast = 1.5 }
/// ```
fn read_file(path: &Path) -> Result<BTreeMap<String, JobBinding>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        plugin: Option<String>,
        #[serde(default)]
        config: BTreeMap<String, toml::Value>,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: BTreeMap<String, Raw> =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    raw.into_iter()
        .map(|(slot, raw)| {
            let config = raw
                .config
                .into_iter()
                .map(|(key, value)| {
                    let text = match value {
                        toml::Value::String(s) => s,
                        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                            value.to_string()
                        }
                        other => bail!(
                            "{}: [{slot}] config `{key}` is a {}; values are strings, numbers or booleans",
                            path.display(),
                            other.type_str()
                        ),
                    };
                    Ok((key, text))
                })
                .collect::<Result<_>>()?;
            Ok((
                slot,
                JobBinding {
                    plugin: raw.plugin,
                    config,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("bindings.toml");
        std::fs::write(
            &file,
            "[director-style]\nplugin = \"a@^1\"\nconfig = { style = \"calm\", contrast = 1.5 }\n",
        )?;
        let got = job_bindings(
            Some(&file),
            &["director-style=b@^2".into()],
            &[
                "director-style.style=noir".into(),
                "grader.look=warm=ish".into(),
            ],
        )?;
        let director = &got["director-style"];
        assert_eq!(director.plugin.as_deref(), Some("b@^2"));
        assert_eq!(director.config["style"], "noir");
        assert_eq!(director.config["contrast"], "1.5");
        assert_eq!(got["grader"].plugin, None);
        assert_eq!(got["grader"].config["look"], "warm=ish");
        Ok(())
    }

    #[test]
    fn malformed_flags_say_the_form() {
        let err = job_bindings(None, &["director-style".into()], &[]).expect_err("refused");
        assert!(err.to_string().contains("SLOT=PLUGIN"), "{err}");
        let err = job_bindings(None, &[], &["style=noir".into()]).expect_err("refused");
        assert!(err.to_string().contains("SLOT.KEY=VALUE"), "{err}");
    }
}
