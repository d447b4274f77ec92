//! The grade: frame statistics and a grade intent turned into one colour
//! transform, evaluated at every lattice point of the LUT.
//!
//! The steps run in this order, each clamped to 0..=1:
//!
//! 1. levels, 2. white balance (corrections derived from the statistics),
//! 3. palette pull, 4. warmth, 5. saturation (creative choices),
//! 6. contrast.
//!
//! Levels come first so white balance reads the cast from mid-tones already
//! stretched to their final place (stretching after white balance would
//! re-expand the channel it just lowered and undo it). Saturation comes
//! after the hue-changing steps so that saturation -1 is truly monochrome,
//! and contrast is a per-channel curve, which keeps greys grey, so it may
//! come last.

use kino_plugin_sdk::{ChannelStats, FrameStats, GradeIntent, Rgb};

use crate::color::{self, Rgb3};

/// How much of a colour cast white balance removes, as a fraction of the
/// cast in log space. Grey-world is a guess; leaving some of the cast keeps
/// a legitimately tinted scene (a sunset) from being neutralised.
const WHITE_BALANCE_STRENGTH: f32 = 0.8;

/// The largest factor white balance scales any channel by (or divides it by).
const MAX_WHITE_BALANCE_GAIN: f32 = 1.3;

/// Below this mid-tone level a frame is too dark for grey-world to read a
/// cast reliably: noise and black level dominate the ratios.
const MIN_GREY_FOR_WHITE_BALANCE: f32 = 0.05;

/// Luma histogram bins counted as mid-tones (luma ≈ 0.1..=0.9).
const MIDTONE_BINS: std::ops::RangeInclusive<usize> = 26..=229;

/// The mid-tone fraction at which white balance is trusted fully.
const MIDTONE_FRACTION_FOR_FULL_TRUST: f32 = 0.5;

/// The most a levels stretch multiplies a channel's range by.
const MAX_LEVELS_GAIN: f32 = 1.5;

/// A black-to-white range below this is a flat frame; stretching it would
/// only amplify noise.
const MIN_LEVELS_RANGE: f32 = 1e-3;

/// How far warmth ±1 scales red and blue (in opposite directions).
const WARMTH_GAIN: f32 = 0.1;

/// Chroma (|(B − Y, R − Y)|) above which a pixel is pulled toward the
/// palette with full strength; greyer pixels are pulled proportionally less.
const PALETTE_FULL_CHROMA: f32 = 0.25;

/// Palette colours with less chroma than this are greys: they have no hue to
/// pull toward and are ignored.
const PALETTE_MIN_CHROMA: f32 = 0.02;

/// The grade, ready to be evaluated at any colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The levels stretch, as `scale · x + offset` per channel.
    levels: [(f32, f32); 3],
    /// White balance gains per channel, applied after levels.
    white_balance: [f32; 3],
    /// Red and blue factors of the warmth shift.
    warmth: (f32, f32),
    /// Chroma factor: 0 greyscale, 1 unchanged, 2 doubled.
    saturation: f32,
    /// Palette hues (angles of their chroma vectors), greys left out.
    palette_hues: Vec<f32>,
    /// How strongly to pull toward the palette, 0..=1.
    palette_strength: f32,
    /// S-curve strength, -1..=1.
    contrast: f32,
}

impl Grade {
    /// The grade for frames with `stats` and the look `intent`. Both must
    /// have been validated; `white_balance` turns the cast correction on.
    pub fn new(stats: &FrameStats, intent: &GradeIntent, white_balance: bool) -> Self {
        let channels = [&stats.red, &stats.green, &stats.blue];
        let levels = channels.map(levels);
        // The mid-tone level of each channel (the average of its mean and
        // median), where the levels stretch puts it.
        let midtones = [0, 1, 2].map(|i| {
            let (scale, offset) = levels[i];
            (scale * (channels[i].mean + channels[i].p50) / 2.0 + offset).clamp(0.0, 1.0)
        });
        let white_balance = if white_balance {
            white_balance_gains(midtones, midtone_trust(&stats.luma_histogram))
        } else {
            [1.0; 3]
        };
        Grade {
            levels,
            white_balance,
            warmth: (
                1.0 + WARMTH_GAIN * intent.warmth,
                1.0 - WARMTH_GAIN * intent.warmth,
            ),
            saturation: 1.0 + intent.saturation,
            palette_hues: intent.palette.iter().filter_map(palette_hue).collect(),
            palette_strength: intent.palette_strength,
            contrast: intent.contrast,
        }
    }

    /// The graded colour of `input`, each component in 0..=1.
    pub fn apply(&self, input: Rgb) -> Rgb {
        let mut c = [input.r, input.g, input.b];
        c = color::clamp01([0, 1, 2].map(|i| self.levels[i].0 * c[i] + self.levels[i].1));
        c = color::clamp01([0, 1, 2].map(|i| self.white_balance[i] * c[i]));
        c = color::clamp01(self.pull_toward_palette(c));
        c = color::clamp01([c[0] * self.warmth.0, c[1], c[2] * self.warmth.1]);
        c = color::clamp01(self.saturate(c));
        c = c.map(|v| color::s_curve(v, self.contrast));
        let [r, g, b] = color::clamp01(c);
        Rgb::new(r, g, b)
    }

    /// Scales chroma around luma, which keeps brightness.
    fn saturate(&self, c: Rgb3) -> Rgb3 {
        if self.saturation == 1.0 {
            return c; // exactly unchanged, without rounding noise
        }
        let y = color::luma(c);
        c.map(|v| y + (v - y) * self.saturation)
    }

    /// Rotates the hue of `c` toward nearby palette hues, keeping its luma
    /// and chroma magnitude.
    ///
    /// Every palette hue pulls by its hue difference Δ, weighted by
    /// `((1 + cos Δ) / 2)²`: 1 at the same hue, ½ at about 65°, 0 at the
    /// opposite hue. The pulls are averaged (a weighted average once the
    /// weights sum past 1), so between two palette hues a colour is drawn to
    /// a blend of both instead of snapping to the nearer: the transform is
    /// continuous everywhere, and never rotates past the hue it pulls toward.
    /// The rotation is scaled by the colour's own saturation, so greys, which
    /// have no hue, stay put.
    fn pull_toward_palette(&self, c: Rgb3) -> Rgb3 {
        if self.palette_hues.is_empty() || self.palette_strength <= 0.0 {
            return c;
        }
        let y = color::luma(c);
        let chroma = color::chroma(c, y);
        let magnitude = chroma[0].hypot(chroma[1]);
        if magnitude <= f32::EPSILON {
            return c;
        }
        let hue = chroma[1].atan2(chroma[0]);
        let (mut pull, mut total_weight) = (0.0, 0.0);
        for &palette_hue in &self.palette_hues {
            let delta = color::wrap_angle(palette_hue - hue);
            let weight = ((1.0 + delta.cos()) / 2.0).powi(2);
            pull += weight * delta;
            total_weight += weight;
        }
        let saturation_weight = color::smoothstep(0.0, PALETTE_FULL_CHROMA, magnitude);
        let angle = self.palette_strength * saturation_weight * pull / f32::max(1.0, total_weight);
        color::from_luma_chroma(y, color::rotate(chroma, angle))
    }
}

/// The hue angle of a palette colour, or `None` for a grey.
fn palette_hue(colour: &Rgb) -> Option<f32> {
    let c = [colour.r, colour.g, colour.b];
    let chroma = color::chroma(c, color::luma(c));
    (chroma[0].hypot(chroma[1]) >= PALETTE_MIN_CHROMA).then(|| chroma[1].atan2(chroma[0]))
}

/// How far grey-world can be trusted for this frame, 0..=1, from the share
/// of mid-tone pixels in the luma histogram. The channel means only tell the
/// colour of the light when most of the frame is neither crushed nor
/// clipped. Without a histogram there is nothing to doubt, so full trust.
fn midtone_trust(histogram: &[u32]) -> f32 {
    let total: u64 = histogram.iter().map(|&n| u64::from(n)).sum();
    if total == 0 {
        return 1.0;
    }
    let midtones: u64 = histogram
        .get(MIDTONE_BINS)
        .unwrap_or_default()
        .iter()
        .map(|&n| u64::from(n))
        .sum();
    let fraction = midtones as f32 / total as f32;
    (fraction / MIDTONE_FRACTION_FOR_FULL_TRUST).min(1.0)
}

/// Per-channel gains that move the frame's mid-tones toward neutral grey
/// (grey-world: on average a scene is grey, so a channel whose mid-tones
/// sit above the others' is a cast).
///
/// `levels` are the channels' mid-tone levels. A channel's ideal gain
/// `grey / level` is softened to `(grey / level)^k` (k = strength × `trust`
/// ≤ 0.8) and clamped toward 1; both only shrink
/// the correction, so the ratio between any two channels moves toward 1 but
/// never past it: the grade never turns a blue cast into an orange one.
/// The gains are normalised to keep the luma of a grey unchanged; a channel
/// already at 1 and boosted stays at 1.
fn white_balance_gains(levels: [f32; 3], trust: f32) -> [f32; 3] {
    let grey = levels.iter().sum::<f32>() / 3.0;
    if grey < MIN_GREY_FOR_WHITE_BALANCE || levels.iter().any(|&level| level <= 0.0) {
        return [1.0; 3];
    }
    let exponent = WHITE_BALANCE_STRENGTH * trust;
    let gains = levels.map(|level| {
        (grey / level)
            .powf(exponent)
            .clamp(1.0 / MAX_WHITE_BALANCE_GAIN, MAX_WHITE_BALANCE_GAIN)
    });
    let grey_luma = color::luma(gains);
    gains.map(|gain| gain / grey_luma)
}

/// The levels stretch of one channel, as `(scale, offset)` of the map
/// `scale · x + offset`.
///
/// The channel's black and white points (p01 and p99) are
/// stretched toward 0 and 1, but by at most [`MAX_LEVELS_GAIN`] and never
/// compressed. When the stretch is capped, the unused headroom is shared
/// between the shadows and highlights in proportion to how much each had,
/// so the tonal placement of the frame stays where it was.
fn levels(stats: &ChannelStats) -> (f32, f32) {
    let (black, white) = (stats.p01, stats.p99);
    let range = white - black;
    if range < MIN_LEVELS_RANGE {
        return (1.0, 0.0);
    }
    let stretch = (1.0 / range).clamp(1.0, MAX_LEVELS_GAIN);
    let headroom = (1.0 - range * stretch).max(0.0);
    let (shadow_room, highlight_room) = (black, 1.0 - white);
    let out_black = if shadow_room + highlight_room > 0.0 {
        headroom * shadow_room / (shadow_room + highlight_room)
    } else {
        0.0
    };
    // out = (x − black) · stretch + out_black
    (stretch, out_black - black * stretch)
}
