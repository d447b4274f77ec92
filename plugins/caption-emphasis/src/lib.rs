//! `kino-caption-emphasis`: the reference `caption-style` plugin.
//!
//! Styles word-by-word captions for ads: every cue sits at the bottom in
//! white, animates as the tenant configures (`highlight` by default), and
//! the words that carry the message are emphasised — drawn in the highlight
//! colour and slightly larger by the host.
//!
//! A word is emphasised when it is, in this order of priority:
//!
//! 1. **the brand**: one of the words of the brand's name (`Brightbrew`,
//!    `Brightbrew's`), case ignored;
//! 2. **a number or a price**: it has a digit (`16`, `$4.99`, `12-hour`), a
//!    currency sign or a percent sign, or is a number word from `two` to
//!    `twenty`, a ten (`thirty` ... `ninety`), `hundred`, `thousand`,
//!    `million`, `billion`, `half` or `percent` (not `one`: it is more often
//!    a pronoun);
//! 3. **a name**: capitalised, at least two letters, and not the first word
//!    of a sentence (the first word of the captions, or one after a word
//!    ending in `.`, `!`, `?` or `…`); `I` and its contractions are not names;
//! 4. **a long word**: seven letters or more, except a few common long
//!    function words (`because`, `through`, `something`, ...).
//!
//! So that emphasis still stands out, a cue emphasises at most a third of
//! its words (rounded up, so at least one): the highest-priority ones, the
//! earlier first among equals.
//!
//! The highlight colour is the brand palette's most saturated colour among
//! those readable as caption text — luma at least 0.3 (not too dark over
//! video under the host's outline) and saturation at least 0.25 (distinct
//! from the white text). With no such colour (an empty, dark or grey
//! palette) it is a readable yellow, `#FFD500`.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `animation` | `highlight` | `still`, `highlight`, `pop` or `karaoke` (the manifest refuses any other value) |

use kino_plugin_sdk::{
    BrandLook, CaptionAnimation, CaptionPosition, CaptionStyle, CueStyle, PluginError, Rgb,
    WordCue, config, log,
};

/// The highlight colour when the palette has none readable: a warm yellow.
pub const FALLBACK_HIGHLIGHT: Rgb = Rgb::new(1.0, 0.835, 0.0);
/// The least luma a palette colour needs to be readable as caption text.
pub const MIN_LUMA: f32 = 0.3;
/// The least saturation a palette colour needs to stand out from white text.
pub const MIN_SATURATION: f32 = 0.25;
/// The animation when the tenant configures none.
pub const DEFAULT_ANIMATION: CaptionAnimation = CaptionAnimation::Highlight;

/// Why a word is emphasised, most important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// One of the words of the brand's name.
    Brand,
    /// A number, a price or a percentage.
    Number,
    /// A capitalised word that does not start a sentence.
    Name,
    /// A word of seven letters or more.
    Long,
}

/// Number words that carry a quantity (`one` is left out: it is more often
/// a pronoun than a number in ad copy).
const NUMBER_WORDS: &[&str] = &[
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "billion",
    "half",
    "percent",
];

/// Long words that carry no meaning of their own.
const LONG_FUNCTION_WORDS: &[&str] = &[
    "because",
    "through",
    "without",
    "another",
    "between",
    "however",
    "whether",
    "although",
    "already",
    "anything",
    "everything",
    "something",
    "nothing",
    "everyone",
    "someone",
    "yourself",
];

/// The animation named `name`.
pub fn parse_animation(name: &str) -> Result<CaptionAnimation, PluginError> {
    match name.trim() {
        "still" => Ok(CaptionAnimation::Still),
        "highlight" => Ok(CaptionAnimation::Highlight),
        "pop" => Ok(CaptionAnimation::Pop),
        "karaoke" => Ok(CaptionAnimation::Karaoke),
        other => Err(PluginError::invalid_input(format!(
            "config `animation` is `{other}`; expected still, highlight, pop or karaoke"
        ))),
    }
}

/// The highlight colour for `palette`: its most saturated readable colour
/// (the first among equals), else [`FALLBACK_HIGHLIGHT`].
pub fn highlight_color(palette: &[Rgb]) -> Rgb {
    palette
        .iter()
        .filter(|c| [c.r, c.g, c.b].iter().all(|v| (0.0..=1.0).contains(v)))
        .filter(|c| c.luma() >= MIN_LUMA && c.saturation() >= MIN_SATURATION)
        .fold(None::<Rgb>, |best, c| match best {
            Some(b) if b.saturation() >= c.saturation() => Some(b),
            _ => Some(*c),
        })
        .unwrap_or(FALLBACK_HIGHLIGHT)
}

/// The word's letters and digits, without surrounding punctuation or a
/// possessive `'s`.
fn core(word: &str) -> &str {
    let core = word.trim_matches(|c: char| !c.is_alphanumeric());
    core.strip_suffix("'s")
        .or_else(|| core.strip_suffix("\u{2019}s"))
        .unwrap_or(core)
}

/// Whether `word` ends a sentence (closing quotes and brackets ignored).
fn ends_sentence(word: &str) -> bool {
    word.trim_end_matches(['"', '\'', ')', ']', '\u{201d}', '\u{2019}'])
        .ends_with(['.', '!', '?', '\u{2026}'])
}

/// Why `word` carries meaning, if it does. `brand` holds the brand name's
/// words in lowercase; `starts_sentence` says whether the word opens one.
pub fn reason(word: &str, brand: &[String], starts_sentence: bool) -> Option<Reason> {
    let core = core(word);
    let lower = core.to_lowercase();
    if core.is_empty() && !word.contains(['$', '€', '£', '¥', '%']) {
        return None;
    }
    if !lower.is_empty() && brand.contains(&lower) {
        return Some(Reason::Brand);
    }
    if word
        .chars()
        .any(|c| c.is_ascii_digit() || "$€£¥%".contains(c))
        || NUMBER_WORDS.contains(&lower.as_str())
    {
        return Some(Reason::Number);
    }
    let letters = core.chars().filter(|c| c.is_alphabetic()).count();
    let is_i = lower == "i" || lower.starts_with("i'") || lower.starts_with("i\u{2019}");
    if !starts_sentence
        && letters >= 2
        && !is_i
        && core.chars().next().is_some_and(char::is_uppercase)
    {
        return Some(Reason::Name);
    }
    if letters >= 7 && !LONG_FUNCTION_WORDS.contains(&lower.as_str()) {
        return Some(Reason::Long);
    }
    None
}

/// The brand name's words, lowercase, for [`reason`].
pub fn brand_words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

/// One emphasis flag per word of each cue, cues read in order (a sentence
/// may run from one cue into the next).
pub fn emphasis(cues: &[WordCue], brand: &str) -> Vec<Vec<bool>> {
    let brand = brand_words(brand);
    let mut starts_sentence = true;
    cues.iter()
        .map(|cue| {
            let mut ranked: Vec<(Reason, usize)> = Vec::new();
            for (i, word) in cue.words.iter().enumerate() {
                if let Some(why) = reason(&word.text, &brand, starts_sentence) {
                    ranked.push((why, i));
                }
                starts_sentence = ends_sentence(&word.text);
            }
            // At most a third of the cue's words, rounded up: the most
            // important, the earlier first among equals.
            ranked.sort();
            let mut flags = vec![false; cue.words.len()];
            for &(_, i) in ranked.iter().take(cue.words.len().div_ceil(3)) {
                flags[i] = true;
            }
            flags
        })
        .collect()
}

/// Styles `cues` for `brand` with `animation`.
pub fn style(cues: &[WordCue], brand: &BrandLook, animation: CaptionAnimation) -> Vec<CueStyle> {
    let highlight = highlight_color(&brand.palette);
    cues.iter()
        .zip(emphasis(cues, &brand.name))
        .map(|(cue, emphasis)| CueStyle {
            index: cue.index,
            animation,
            position: CaptionPosition::Bottom,
            text_color: Rgb::WHITE,
            highlight_color: highlight,
            emphasis,
        })
        .collect()
}

struct CaptionEmphasis;

impl CaptionStyle for CaptionEmphasis {
    fn style_cues(cues: Vec<WordCue>, brand: BrandLook) -> Result<Vec<CueStyle>, PluginError> {
        let animation = match config("animation") {
            Some(name) => parse_animation(&name)?,
            None => DEFAULT_ANIMATION,
        };
        let styles = style(&cues, &brand, animation);
        let emphasised: usize = styles
            .iter()
            .map(|s| s.emphasis.iter().filter(|e| **e).count())
            .sum();
        log::debug(&format!(
            "styled {} cues, {emphasised} words emphasised",
            styles.len()
        ));
        Ok(styles)
    }
}

kino_plugin_sdk::export_caption_style!(CaptionEmphasis);

#[cfg(test)]
mod tests;
