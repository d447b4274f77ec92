//! Creative briefs as written in TOML files (see `examples/brief.toml`),
//! checked into the WIT `brief` the script strategy gets.
//!
//! The host checks a brief's size before any plugin sees it: a brief is a
//! page of text, and one that is not (a megabyte product name, ten thousand
//! facts) fails at once, saying which field is too long, instead of as a
//! plugin's deadline or memory trap after its retries.

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

/// The largest brief file, in bytes.
pub const MAX_BRIEF_BYTES: u64 = 64 * 1024;

/// The most characters of a short field (brand, product, call to action).
pub const MAX_NAME_CHARS: usize = 200;

/// The most characters of a descriptive field (audience, tone, objective)
/// and of one fact.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The most facts.
pub const MAX_FACTS: usize = 30;

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
        for (field, value, most) in [
            ("brand", &raw.brand, MAX_NAME_CHARS),
            ("product", &raw.product, MAX_NAME_CHARS),
            ("call-to-action", &raw.call_to_action, MAX_NAME_CHARS),
            ("audience", &raw.audience, MAX_TEXT_CHARS),
            ("tone", &raw.tone, MAX_TEXT_CHARS),
            ("objective", &raw.objective, MAX_TEXT_CHARS),
        ] {
            let chars = value.chars().count();
            if chars > most {
                bail!(
                    "`{field}` is {chars} characters long; a brief's `{field}` is at most {most}"
                );
            }
        }
        if raw.facts.len() > MAX_FACTS {
            bail!(
                "the brief has {} facts; at most {MAX_FACTS}",
                raw.facts.len()
            );
        }
        if let Some((i, chars)) = raw
            .facts
            .iter()
            .map(|f| f.chars().count())
            .enumerate()
            .find(|(_, chars)| *chars > MAX_TEXT_CHARS)
        {
            bail!(
                "fact {} is {chars} characters long; a fact is at most {MAX_TEXT_CHARS}",
                i + 1
            );
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
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > MAX_BRIEF_BYTES {
        bail!(
            "{}: the brief is {size} bytes; a brief is at most {MAX_BRIEF_BYTES} bytes",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_brief(&text, &path.display().to_string())
}

/// Parses and validates a brief's text; `origin` names it in errors (the
/// file, or where the text came from). The caller checks the size
/// ([`MAX_BRIEF_BYTES`]) of what it reads.
pub fn parse_brief(text: &str, origin: &str) -> Result<Brief> {
    let raw: RawBrief = toml::from_str(text).with_context(|| format!("parsing brief {origin}"))?;
    Brief::try_from(raw).with_context(|| format!("checking brief {origin}"))
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
            (
                good.replace(
                    "product = \"p\"",
                    &format!("product = \"{}\"", "p".repeat(201)),
                ),
                "`product` is 201 characters long; a brief's `product` is at most 200",
            ),
            (
                format!("{good}facts = [{}]\n", vec!["\"f\""; 31].join(", ")),
                "the brief has 31 facts; at most 30",
            ),
            (
                format!("{good}facts = [\"ok\", \"{}\"]\n", "f".repeat(1001)),
                "fact 2 is 1001 characters long",
            ),
            (
                format!("{good}# {}\n", "x".repeat(70_000)),
                "the brief is 70113 bytes; a brief is at most 65536 bytes",
            ),
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
