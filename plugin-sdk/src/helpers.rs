//! Rust-friendly helpers on the WIT types.

use std::collections::BTreeSet;

use crate::types::{
    Asset, AssetKind, AssetPick, Brief, CaptionAnimation, CaptionPosition, ChannelStats, CueStyle,
    Fit, GradeIntent, Lut3d, PluginError, RateLimit, Rgb, ScoreCard, WordCue,
};

impl PluginError {
    /// The input cannot be processed; retrying it will fail again.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::InvalidInput(message.into())
    }

    /// A backend is unavailable right now; worth retrying.
    pub fn unavailable(message: impl Into<String>) -> Self {
        PluginError::Unavailable(message.into())
    }

    /// The backend throttled the call; retry after `retry_after_ms`.
    pub fn rate_limited(retry_after_ms: u64, message: impl Into<String>) -> Self {
        PluginError::RateLimited(RateLimit {
            retry_after_ms,
            message: message.into(),
        })
    }

    /// A bug or unexpected state in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        PluginError::Internal(message.into())
    }

    /// Whether the same call may succeed later: `unavailable` and `rate-limited` are retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PluginError::Unavailable(_) | PluginError::RateLimited(_)
        )
    }
}

impl Brief {
    /// The target length in milliseconds.
    pub fn target_length_ms(&self) -> u32 {
        self.target_length_s.saturating_mul(1000)
    }
}

impl ScoreCard {
    /// The mean of the four scores, in 0..=1.
    pub fn overall(&self) -> f32 {
        (self.brand_alignment + self.audience_relevance + self.call_to_action + self.narrative_flow)
            / 4.0
    }
}

impl Rgb {
    /// A colour from its components (0..=1).
    pub const fn new(r: f32, g: f32, b: f32) -> Self {
        Rgb { r, g, b }
    }

    /// Parses `#rrggbb` (or `rrggbb`) into a colour.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim().trim_start_matches('#');
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb::new(
            f32::from(channel(0)?) / 255.0,
            f32::from(channel(2)?) / 255.0,
            f32::from(channel(4)?) / 255.0,
        ))
    }

    /// Rec. 709 luma of the colour.
    pub fn luma(&self) -> f32 {
        0.2126 * self.r + 0.7152 * self.g + 0.0722 * self.b
    }

    /// HSV saturation: 0 for greys, 1 for pure hues.
    pub fn saturation(&self) -> f32 {
        let max = self.r.max(self.g).max(self.b);
        let min = self.r.min(self.g).min(self.b);
        if max > 0.0 { (max - min) / max } else { 0.0 }
    }

    /// White.
    pub const WHITE: Rgb = Rgb::new(1.0, 1.0, 1.0);
}

impl Asset {
    /// Whether a scene can show it: an image or footage (not a logo or a font).
    pub fn is_visual(&self) -> bool {
        matches!(self.kind, AssetKind::Image | AssetKind::Footage)
    }

    /// Whether it has tag `tag` (case ignored).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.trim().eq_ignore_ascii_case(tag))
    }

    /// How well the asset matches `text` (a scene's visual, say): each
    /// distinct content word of `text` counts 2 when it is one of the asset's
    /// tag words and 1 when it is in its name or description. Words are
    /// compared in lowercase, without a plural `s`; words under three
    /// letters and common function words (`the`, `with`, `shot`, ...) are
    /// left out. 0 means nothing in common.
    ///
    /// ```
    /// # use kino_plugin_sdk::{Asset, AssetKind};
    /// let pour = Asset {
    ///     name: "pour-over-ice".into(),
    ///     kind: AssetKind::Footage,
    ///     tags: vec!["in-use".into(), "kitchen".into()],
    ///     description: "Cold brew poured over ice".into(),
    ///     duration_ms: 6000,
    ///     width: 1920,
    ///     height: 1080,
    /// };
    /// // "kitchen" is a tag (2), "ice" is in the name (1).
    /// assert_eq!(pour.relevance("A kitchen counter with ice"), 3);
    /// assert_eq!(pour.relevance("A mountain at dawn"), 0);
    /// ```
    pub fn relevance(&self, text: &str) -> u32 {
        let tags: BTreeSet<String> = self.tags.iter().flat_map(|t| content_words(t)).collect();
        let other: BTreeSet<String> = content_words(&self.name)
            .chain(content_words(&self.description))
            .collect();
        content_words(text)
            .collect::<BTreeSet<_>>()
            .iter()
            .map(|w| {
                if tags.contains(w) {
                    2
                } else {
                    u32::from(other.contains(w))
                }
            })
            .sum()
    }
}

/// Words that say nothing about what an asset shows.
const FUNCTION_WORDS: &[&str] = &[
    "the", "and", "for", "with", "from", "into", "onto", "its", "their", "this", "that", "over",
    "under", "your", "you", "our", "are", "was", "just", "shot", "frame", "then", "where", "while",
    "beside", "side", "one", "two",
];

/// `text`'s content words: lowercase, a plural `s` dropped, short and
/// function words left out.
fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
        .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
}

impl AssetPick {
    /// Shows `asset` from its start at normal speed, filling the frame.
    pub fn of(asset: &Asset) -> Self {
        AssetPick {
            name: asset.name.clone(),
            in_ms: 0,
            speed_start: 1.0,
            speed_end: 1.0,
            fit: Fit::Cover,
        }
    }

    /// Starts footage `in_ms` into the clip.
    pub fn starting_at(mut self, in_ms: u32) -> Self {
        self.in_ms = in_ms;
        self
    }

    /// Ramps footage from speed `start` to `end` across the scene (1.0 normal).
    pub fn ramped(mut self, start: f32, end: f32) -> Self {
        self.speed_start = start;
        self.speed_end = end;
        self
    }

    /// Fits the asset into the frame as `fit` says.
    pub fn fitted(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }
}

impl CueStyle {
    /// A plain style for `cue`: the whole cue at once at the bottom, white
    /// text, a yellow highlight, no word emphasised.
    pub fn plain(cue: &WordCue) -> Self {
        CueStyle {
            index: cue.index,
            animation: CaptionAnimation::Still,
            position: CaptionPosition::Bottom,
            text_color: Rgb::WHITE,
            highlight_color: Rgb::new(1.0, 0.84, 0.0),
            emphasis: vec![false; cue.words.len()],
        }
    }
}

impl GradeIntent {
    /// A grade that changes nothing.
    pub fn neutral() -> Self {
        GradeIntent {
            warmth: 0.0,
            contrast: 0.0,
            saturation: 0.0,
            palette: Vec::new(),
            palette_strength: 0.0,
            look: "neutral".to_owned(),
        }
    }
}

impl ChannelStats {
    /// The spread between the black and white points.
    pub fn range(&self) -> f32 {
        (self.p99 - self.p01).max(0.0)
    }
}

impl Lut3d {
    /// The identity LUT with `size` points per axis over the 0..=1 domain.
    pub fn identity(size: u32) -> Self {
        Self::from_fn(size, |rgb| rgb)
    }

    /// A LUT with `size` points per axis over 0..=1, whose entry at lattice
    /// point `p` is `f(p)`. Entries are laid out red-fastest, as in `.cube`.
    pub fn from_fn(size: u32, mut f: impl FnMut(Rgb) -> Rgb) -> Self {
        let n = size as usize;
        let step = if size > 1 {
            1.0 / (size - 1) as f32
        } else {
            0.0
        };
        let mut table = Vec::with_capacity(n * n * n * 3);
        for b in 0..n {
            for g in 0..n {
                for r in 0..n {
                    let out = f(Rgb::new(r as f32 * step, g as f32 * step, b as f32 * step));
                    table.extend_from_slice(&[out.r, out.g, out.b]);
                }
            }
        }
        Lut3d {
            size,
            domain_min: Rgb::new(0.0, 0.0, 0.0),
            domain_max: Rgb::new(1.0, 1.0, 1.0),
            table,
        }
    }

    /// The output at lattice point (`r`, `g`, `b`).
    pub fn at(&self, r: u32, g: u32, b: u32) -> Rgb {
        let n = self.size as usize;
        let i = 3 * (r as usize + n * (g as usize + n * b as usize));
        Rgb::new(self.table[i], self.table[i + 1], self.table[i + 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_lut_is_red_fastest() {
        let lut = Lut3d::identity(3);
        assert_eq!(lut.table.len(), 27 * 3);
        assert_eq!(&lut.table[..6], &[0.0, 0.0, 0.0, 0.5, 0.0, 0.0]);
        assert_eq!(lut.at(0, 2, 1), Rgb::new(0.0, 1.0, 0.5));
    }

    #[test]
    fn hex_colours_parse() {
        assert_eq!(
            Rgb::from_hex("#ff0080"),
            Some(Rgb::new(1.0, 0.0, 128.0 / 255.0))
        );
        assert_eq!(Rgb::from_hex("nope"), None);
    }

    #[test]
    fn saturation_of_greys_and_hues() {
        assert_eq!(Rgb::new(0.5, 0.5, 0.5).saturation(), 0.0);
        assert_eq!(Rgb::new(0.0, 0.0, 0.0).saturation(), 0.0);
        assert_eq!(Rgb::new(1.0, 0.0, 0.0).saturation(), 1.0);
        assert!((Rgb::new(1.0, 0.5, 0.5).saturation() - 0.5).abs() < 1e-6);
    }

    #[test]
    fn picks_and_plain_styles() {
        let clip = Asset {
            name: "pour".into(),
            kind: AssetKind::Footage,
            tags: vec!["In-Use".into()],
            description: String::new(),
            duration_ms: 5000,
            width: 1920,
            height: 1080,
        };
        assert!(clip.is_visual() && clip.has_tag("in-use") && !clip.has_tag("product"));
        let pick = AssetPick::of(&clip)
            .starting_at(1200)
            .ramped(1.0, 2.0)
            .fitted(Fit::Contain);
        assert_eq!(
            (
                pick.name.as_str(),
                pick.in_ms,
                pick.speed_start,
                pick.speed_end,
                pick.fit
            ),
            ("pour", 1200, 1.0, 2.0, Fit::Contain)
        );
        let cue = WordCue {
            index: 4,
            start_ms: 0,
            end_ms: 900,
            text: "Two words".into(),
            words: vec![],
        };
        let style = CueStyle::plain(&cue);
        assert_eq!((style.index, style.emphasis.len()), (4, 0));
    }

    #[test]
    fn retryable_cases() {
        assert!(PluginError::unavailable("down").is_retryable());
        assert!(PluginError::rate_limited(10, "slow down").is_retryable());
        assert!(!PluginError::invalid_input("bad").is_retryable());
        assert!(!PluginError::internal("bug").is_retryable());
    }
}
