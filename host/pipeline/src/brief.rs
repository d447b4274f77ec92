//! Creative briefs as written in TOML files (see `examples/brief.toml`),
//! checked into the WIT `brief` the script strategy gets.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use kino_runtime::types::{Brief, BriefMode};

/// A brief as written in a TOML file; validated into a [`Brief`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBrief {
    brand: String,
    product: String,
    audience: String,
    tone: String,
    objective: String,
    #[serde(default)]
    facts: Vec<String>,
    call_to_action: String,
    target_length_s: u32,
    #[serde(default = "default_mode")]
    mode: String,
}

fn default_mode() -> String {
    "ad-creative".to_owned()
}

impl TryFrom<RawBrief> for Brief {
    type Error = anyhow::Error;

    fn try_from(raw: RawBrief) -> Result<Self> {
        let mode = match raw.mode.as_str() {
            "ad-creative" => BriefMode::AdCreative,
            "music-video" => BriefMode::MusicVideo,
            other => bail!("mode must be `ad-creative` or `music-video`, not `{other}`"),
        };
        for (field, value) in [
            ("brand", &raw.brand),
            ("product", &raw.product),
            ("call-to-action", &raw.call_to_action),
        ] {
            if value.trim().is_empty() {
                bail!("`{field}` must not be empty");
            }
        }
        if !(5..=600).contains(&raw.target_length_s) {
            bail!(
                "target-length-s must be between 5 and 600 seconds, not {}",
                raw.target_length_s
            );
        }
        Ok(Brief {
            brand: raw.brand,
            product: raw.product,
            audience: raw.audience,
            tone: raw.tone,
            objective: raw.objective,
            facts: raw.facts,
            call_to_action: raw.call_to_action,
            target_length_s: raw.target_length_s,
            mode,
        })
    }
}

/// Reads and validates a brief file.
pub fn read_brief(path: &Path) -> Result<Brief> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawBrief =
        toml::from_str(&text).with_context(|| format!("parsing brief {}", path.display()))?;
    Brief::try_from(raw).with_context(|| format!("checking brief {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_briefs_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = "brand = \"b\"\nproduct = \"p\"\naudience = \"a\"\ntone = \"t\"\nobjective = \"o\"\ncall-to-action = \"c\"\ntarget-length-s = 30\n";
        for (body, expected) in [
            ("brand = \"X\"\n".to_owned(), "missing field"),
            (
                good.replace("brand = \"b\"", "brand = \"\""),
                "`brand` must not be empty",
            ),
            (format!("{good}mood = \"x\"\n"), "unknown field `mood`"),
            (format!("{good}mode = \"opera\"\n"), "mode must be"),
            (good.replace("30", "3"), "between 5 and 600"),
        ] {
            let path = dir.path().join("brief.toml");
            std::fs::write(&path, &body).expect("write");
            let error = format!("{:#}", read_brief(&path).expect_err(&body));
            assert!(error.contains(expected), "{error}");
            assert!(error.contains("brief.toml"), "the file is named: {error}");
        }
        std::fs::write(dir.path().join("ok.toml"), good).expect("write");
        assert_eq!(
            read_brief(&dir.path().join("ok.toml"))
                .expect("valid")
                .brand,
            "b"
        );
    }
}
