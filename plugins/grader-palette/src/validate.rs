//! Checking the host's statistics and the scene's grade intent before any
//! of them reach the colour maths, so a bad value is reported by name
//! instead of turning into a LUT full of NaN.

use kino_plugin_sdk::{ChannelStats, FrameStats, GradeIntent, PluginError, Rgb};

/// How many bins a luma histogram has, when there is one.
pub const HISTOGRAM_BINS: usize = 256;

/// The most palette colours a grade accepts. Every colour is visited at each
/// of up to 65³ lattice points, so the palette size bounds the work.
pub const MAX_PALETTE: usize = 64;

/// Statistics may overshoot 0..=1 by this much (float rounding in the
/// host's averaging); the overshoot is clamped away.
const STATS_TOLERANCE: f32 = 1e-3;

/// Checks `stats` and returns them with tiny overshoots clamped into 0..=1.
pub fn stats(stats: &FrameStats) -> Result<FrameStats, PluginError> {
    let histogram = &stats.luma_histogram;
    if !histogram.is_empty() && histogram.len() != HISTOGRAM_BINS {
        return Err(PluginError::invalid_input(format!(
            "stats.luma-histogram has {} bins; expected {HISTOGRAM_BINS} or none",
            histogram.len()
        )));
    }
    Ok(FrameStats {
        red: channel("stats.red", &stats.red)?,
        green: channel("stats.green", &stats.green)?,
        blue: channel("stats.blue", &stats.blue)?,
        luma_histogram: histogram.clone(),
    })
}

/// Checks one channel's statistics: each in 0..=1, black point not above
/// white point.
fn channel(name: &str, stats: &ChannelStats) -> Result<ChannelStats, PluginError> {
    let value = |field: &str, v: f32| -> Result<f32, PluginError> {
        if v.is_finite() && (-STATS_TOLERANCE..=1.0 + STATS_TOLERANCE).contains(&v) {
            Ok(v.clamp(0.0, 1.0))
        } else {
            Err(PluginError::invalid_input(format!(
                "{name}.{field} must be in 0..=1, got {v}"
            )))
        }
    };
    let checked = ChannelStats {
        mean: value("mean", stats.mean)?,
        p01: value("p01", stats.p01)?,
        p50: value("p50", stats.p50)?,
        p99: value("p99", stats.p99)?,
    };
    if checked.p01 > checked.p99 {
        return Err(PluginError::invalid_input(format!(
            "{name}.p01 ({}) is above {name}.p99 ({})",
            checked.p01, checked.p99
        )));
    }
    Ok(checked)
}

/// Checks that every number in `intent` is finite and in its documented range.
pub fn intent(intent: &GradeIntent) -> Result<(), PluginError> {
    in_range("intent.warmth", intent.warmth, -1.0, 1.0)?;
    in_range("intent.contrast", intent.contrast, -1.0, 1.0)?;
    in_range("intent.saturation", intent.saturation, -1.0, 1.0)?;
    in_range("intent.palette-strength", intent.palette_strength, 0.0, 1.0)?;
    if intent.palette.len() > MAX_PALETTE {
        return Err(PluginError::invalid_input(format!(
            "intent.palette has {} colours; at most {MAX_PALETTE} are accepted",
            intent.palette.len()
        )));
    }
    for (i, colour) in intent.palette.iter().enumerate() {
        palette_colour(i, colour)?;
    }
    Ok(())
}

fn palette_colour(index: usize, colour: &Rgb) -> Result<(), PluginError> {
    for (component, value) in [("r", colour.r), ("g", colour.g), ("b", colour.b)] {
        in_range(
            &format!("intent.palette[{index}].{component}"),
            value,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn in_range(field: &str, value: f32, min: f32, max: f32) -> Result<(), PluginError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(PluginError::invalid_input(format!(
            "{field} must be in {min}..={max}, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neutral_channel() -> ChannelStats {
        ChannelStats {
            mean: 0.5,
            p01: 0.0,
            p50: 0.5,
            p99: 1.0,
        }
    }

    fn neutral_stats() -> FrameStats {
        FrameStats {
            red: neutral_channel(),
            green: neutral_channel(),
            blue: neutral_channel(),
            luma_histogram: Vec::new(),
        }
    }

    fn message(result: Result<impl std::fmt::Debug, PluginError>) -> String {
        match result {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    /// Makes one field of an intent invalid.
    type Spoil = fn(&mut GradeIntent);

    #[test]
    fn bad_intent_values_are_named() {
        let cases: [(&str, Spoil); 5] = [
            ("intent.warmth", |i| i.warmth = f32::NAN),
            ("intent.contrast", |i| i.contrast = 1.5),
            ("intent.saturation", |i| i.saturation = f32::NEG_INFINITY),
            ("intent.palette-strength", |i| i.palette_strength = -0.1),
            ("intent.palette[1].g", |i| {
                i.palette = vec![Rgb::new(0.1, 0.2, 0.3), Rgb::new(0.5, 2.0, 0.5)]
            }),
        ];
        for (field, spoil) in cases {
            let mut bad = GradeIntent::neutral();
            spoil(&mut bad);
            let text = message(intent(&bad));
            assert!(text.contains(field), "{field}: {text}");
        }
        assert_eq!(intent(&GradeIntent::neutral()), Ok(()));
    }

    #[test]
    fn histogram_must_have_256_bins_or_none() {
        let mut with_bins = neutral_stats();
        with_bins.luma_histogram = vec![1; HISTOGRAM_BINS];
        assert!(stats(&with_bins).is_ok());
        with_bins.luma_histogram = vec![1; 100];
        assert!(message(stats(&with_bins)).contains("luma-histogram"));
    }

    #[test]
    fn bad_stats_are_named_and_overshoot_is_clamped() {
        let mut bad = neutral_stats();
        bad.green.mean = f32::NAN;
        assert!(message(stats(&bad)).contains("stats.green.mean"));
        let mut inverted = neutral_stats();
        inverted.blue.p01 = 0.9;
        inverted.blue.p99 = 0.1;
        assert!(message(stats(&inverted)).contains("stats.blue.p01"));
        let mut overshoot = neutral_stats();
        overshoot.red.p99 = 1.000_2;
        assert_eq!(stats(&overshoot).map(|s| s.red.p99), Ok(1.0));
    }
}
