//! Rust-friendly helpers on the WIT types.

use crate::types::{
    Brief, ChannelStats, GradeIntent, Lut3d, PluginError, RateLimit, Rgb, ScoreCard,
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
    fn retryable_cases() {
        assert!(PluginError::unavailable("down").is_retryable());
        assert!(PluginError::rate_limited(10, "slow down").is_retryable());
        assert!(!PluginError::invalid_input("bad").is_retryable());
        assert!(!PluginError::internal("bug").is_retryable());
    }
}
