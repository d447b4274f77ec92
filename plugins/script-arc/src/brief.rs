//! Checking a brief once, so the writer and the scorer work on clean fields.

use kino_plugin_sdk::{Brief, BriefMode, PluginError};

use crate::text;

/// The shortest target length supported, in seconds: the three scenes of the
/// shortest arc (opening, middle, call to action) at 1.5 s each need 4.5 s.
pub const MIN_TARGET_S: u32 = 5;

/// A brief whose required fields are present: text trimmed, empty and
/// duplicate facts removed, the target length in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BriefView<'a> {
    pub brand: &'a str,
    pub product: &'a str,
    pub audience: &'a str,
    pub tone: &'a str,
    pub objective: &'a str,
    pub facts: Vec<&'a str>,
    pub call_to_action: &'a str,
    pub target_ms: u32,
    pub music_video: bool,
}

impl<'a> BriefView<'a> {
    /// Checks `brief`: `brand`, `product` and `call-to-action` must have words
    /// in them and the target must be at least [`MIN_TARGET_S`].
    pub fn new(brief: &'a Brief) -> Result<Self, PluginError> {
        let brand = required("brand", &brief.brand)?;
        let product = required("product", &brief.product)?;
        let call_to_action = required("call-to-action", &brief.call_to_action)?;
        Ok(Self {
            brand,
            product,
            audience: brief.audience.trim(),
            tone: brief.tone.trim(),
            objective: brief.objective.trim(),
            facts: distinct_facts(&brief.facts),
            call_to_action,
            target_ms: target_ms(brief.target_length_s)?,
            music_video: brief.mode == BriefMode::MusicVideo,
        })
    }
}

/// The trimmed value of a field the script cannot do without.
fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, PluginError> {
    if text::has_words(value) {
        Ok(value.trim())
    } else {
        Err(PluginError::invalid_input(format!(
            "brief field `{field}` is empty"
        )))
    }
}

/// The facts worth stating, each once: a fact listed twice (ignoring case and
/// punctuation) would otherwise be claimed twice in one script.
fn distinct_facts(facts: &[String]) -> Vec<&str> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for fact in facts {
        let key = text::words(fact);
        if key.is_empty() || seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(fact.trim());
    }
    out
}

/// The target length in milliseconds, refusing lengths too short to hold an
/// arc or too long to count in a `u32` of milliseconds.
fn target_ms(target_length_s: u32) -> Result<u32, PluginError> {
    if target_length_s < MIN_TARGET_S {
        return Err(PluginError::invalid_input(format!(
            "brief field `target-length-s` is {target_length_s}; the shortest supported length is {MIN_TARGET_S} s"
        )));
    }
    target_length_s.checked_mul(1000).ok_or_else(|| {
        PluginError::invalid_input(format!(
            "brief field `target-length-s` is {target_length_s}, too long to time in milliseconds"
        ))
    })
}
