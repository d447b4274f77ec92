//! `kino-grader-palette`: the reference `grader` plugin.
//!
//! Turns a frame's statistics and a scene's grade intent into a 3D LUT. The
//! transform baked into the LUT runs, in order:
//!
//! 1. **Levels**: each channel's p01/p99 are stretched toward 0/1, by at most
//!    1.5×, never compressed.
//! 2. **White balance** (grey-world on the mid-tones): per-channel gains from
//!    the channel means and medians move a colour cast toward neutral. The
//!    correction is softened and capped so it never overshoots into the
//!    opposite cast, trusted less when the luma histogram shows few
//!    mid-tones, and normalised to keep a grey's brightness.
//! 3. **Palette pull**: when `intent.palette` is non-empty, each colour's hue
//!    is rotated toward nearby palette hues by `intent.palette-strength`,
//!    weighted by hue closeness and the colour's saturation, keeping luma.
//!    The pull blends smoothly between palette colours: no seams.
//! 4. **Warmth**: `intent.warmth` > 0 raises red and lowers blue (by up to
//!    10 %), < 0 the reverse.
//! 5. **Saturation** around Rec. 709 luma: `intent.saturation` -1 is
//!    greyscale, +1 doubles chroma.
//! 6. **Contrast**: an S-curve pivoting at mid-grey (0.5), strength
//!    `intent.contrast` (-1 flat .. 1 punchy, 0 none), monotonic, 0 and 1
//!    fixed.
//!
//! Every step clamps to 0..=1. The LUT spans the 0..=1 domain, red index
//! fastest, and is deterministic: the same inputs give the same table.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `size` | 33 | points per LUT axis, 2..=65 |
//! | `white-balance` | `on` | `on` or `off`: correct the frame's colour cast |
//!
//! Invalid input (reported naming the field): an intent value that is NaN
//! or outside its range, more than 64 palette colours, statistics outside
//! 0..=1 or with p01 above p99, a luma histogram that is neither empty nor
//! 256 bins, and a `size` or `white-balance` the table above does not allow.

mod color;
mod grade;
mod validate;

use kino_plugin_sdk::{
    FrameStats, GradeIntent, Grader, Lut3d, PluginError, config, config_parsed, log,
};

pub use crate::grade::Grade;

/// LUT points per axis unless the tenant configures `size`.
pub const DEFAULT_SIZE: u32 = 33;

/// The LUT sizes the `size` key accepts. 65³ entries is the largest table
/// common tools load; below 2 there is no table.
pub const SIZES: std::ops::RangeInclusive<u32> = 2..=65;

/// The tenant's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Points per LUT axis.
    pub size: u32,
    /// Whether to correct the frame's colour cast.
    pub white_balance: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            size: DEFAULT_SIZE,
            white_balance: true,
        }
    }
}

impl Settings {
    /// Reads the settings from the tenant's configuration.
    fn from_config() -> Result<Self, PluginError> {
        let white_balance = match config("white-balance")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("on" | "true") => true,
            Some("off" | "false") => false,
            Some(other) => {
                return Err(PluginError::invalid_input(format!(
                    "config `white-balance` must be `on` or `off`, not `{other}`"
                )));
            }
        };
        Ok(Settings {
            size: config_parsed("size", DEFAULT_SIZE)?,
            white_balance,
        })
    }
}

/// Computes the LUT that gives frames with `stats` the look `intent` asks
/// for, under `settings`. Inputs are validated first; see the crate docs.
pub fn grade(
    stats: &FrameStats,
    intent: &GradeIntent,
    settings: Settings,
) -> Result<Lut3d, PluginError> {
    if !SIZES.contains(&settings.size) {
        return Err(PluginError::invalid_input(format!(
            "config `size` must be in {}..={}, got {}",
            SIZES.start(),
            SIZES.end(),
            settings.size
        )));
    }
    let stats = validate::stats(stats)?;
    validate::intent(intent)?;
    let grade = Grade::new(&stats, intent, settings.white_balance);
    Ok(Lut3d::from_fn(settings.size, |rgb| grade.apply(rgb)))
}

struct Palette;

impl Grader for Palette {
    fn grade(stats: FrameStats, intent: GradeIntent) -> Result<Lut3d, PluginError> {
        let settings = Settings::from_config()?;
        let lut = grade(&stats, &intent, settings)?;
        log::info(&format!(
            "graded look `{}`: {}-point LUT, white balance {}, {} palette colours",
            intent.look,
            settings.size,
            if settings.white_balance { "on" } else { "off" },
            intent.palette.len()
        ));
        Ok(lut)
    }
}

kino_plugin_sdk::export_grader!(Palette);

#[cfg(test)]
mod tests {
    use kino_plugin_sdk::{ChannelStats, Rgb};

    use super::*;

    const MID: u32 = DEFAULT_SIZE / 2;

    fn channel(mean: f32, p01: f32, p99: f32) -> ChannelStats {
        ChannelStats {
            mean,
            p01,
            p50: mean,
            p99,
        }
    }

    fn stats(red: ChannelStats, green: ChannelStats, blue: ChannelStats) -> FrameStats {
        FrameStats {
            red,
            green,
            blue,
            luma_histogram: Vec::new(),
        }
    }

    fn neutral_stats() -> FrameStats {
        stats(
            channel(0.5, 0.0, 1.0),
            channel(0.5, 0.0, 1.0),
            channel(0.5, 0.0, 1.0),
        )
    }

    fn intent(edit: impl FnOnce(&mut GradeIntent)) -> GradeIntent {
        let mut intent = GradeIntent::neutral();
        edit(&mut intent);
        intent
    }

    fn lut(stats: &FrameStats, intent: &GradeIntent) -> Lut3d {
        grade(stats, intent, Settings::default()).expect("valid inputs")
    }

    /// Every lattice point as (input, output).
    fn entries(lut: &Lut3d) -> impl Iterator<Item = (Rgb, Rgb)> + '_ {
        let step = 1.0 / (lut.size - 1) as f32;
        let n = lut.size;
        (0..n).flat_map(move |b| {
            (0..n).flat_map(move |g| {
                (0..n).map(move |r| {
                    (
                        Rgb::new(r as f32 * step, g as f32 * step, b as f32 * step),
                        lut.at(r, g, b),
                    )
                })
            })
        })
    }

    fn hue(c: Rgb) -> f32 {
        let y = c.luma();
        (c.r - y).atan2(c.b - y)
    }

    fn hue_distance(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(std::f32::consts::TAU);
        d.min(std::f32::consts::TAU - d)
    }

    #[test]
    fn neutral_inputs_give_the_identity() {
        for histogram in [Vec::new(), vec![100; 256]] {
            let stats = FrameStats {
                luma_histogram: histogram,
                ..neutral_stats()
            };
            let lut = lut(&stats, &GradeIntent::neutral());
            assert_eq!((lut.size, lut.table.len()), (33, 33 * 33 * 33 * 3));
            assert_eq!(
                (lut.domain_min, lut.domain_max),
                (Rgb::new(0.0, 0.0, 0.0), Rgb::new(1.0, 1.0, 1.0))
            );
            let worst = entries(&lut)
                .map(|(i, o)| {
                    (i.r - o.r)
                        .abs()
                        .max((i.g - o.g).abs())
                        .max((i.b - o.b).abs())
                })
                .fold(0.0, f32::max);
            assert!(worst < 1e-3, "max abs error {worst}");
        }
    }

    #[test]
    fn warmth_raises_red_and_lowers_blue_at_mid_grey() {
        let warm = lut(&neutral_stats(), &intent(|i| i.warmth = 0.6)).at(MID, MID, MID);
        assert!(warm.r > 0.52 && warm.b < 0.48, "{warm:?}");
        let cool = lut(&neutral_stats(), &intent(|i| i.warmth = -0.6)).at(MID, MID, MID);
        assert!(cool.r < 0.48 && cool.b > 0.52, "{cool:?}");
    }

    #[test]
    fn saturation_minus_one_is_greyscale() {
        let lut = lut(&neutral_stats(), &intent(|i| i.saturation = -1.0));
        for (input, out) in entries(&lut) {
            assert!(
                (out.r - out.g).abs() < 1e-4 && (out.g - out.b).abs() < 1e-4,
                "{input:?} -> {out:?}"
            );
            assert!((out.g - input.luma()).abs() < 1e-4, "{input:?} -> {out:?}");
        }
    }

    #[test]
    fn saturation_plus_one_adds_chroma() {
        let grade = Grade::new(&neutral_stats(), &intent(|i| i.saturation = 1.0), true);
        let input = Rgb::new(0.6, 0.45, 0.4);
        let out = grade.apply(input);
        assert!(out.r - out.b > 1.8 * (input.r - input.b), "{out:?}");
        assert!((out.luma() - input.luma()).abs() < 1e-4);
    }

    #[test]
    fn contrast_darkens_shadows_and_brightens_highlights() {
        let lut = lut(&neutral_stats(), &intent(|i| i.contrast = 0.8));
        for i in 1..DEFAULT_SIZE - 1 {
            let x = i as f32 / (DEFAULT_SIZE - 1) as f32;
            let out = lut.at(i, i, i);
            match i.cmp(&MID) {
                std::cmp::Ordering::Less => assert!(out.g < x - 1e-4, "{x} -> {out:?}"),
                std::cmp::Ordering::Equal => assert!((out.g - x).abs() < 1e-5),
                std::cmp::Ordering::Greater => assert!(out.g > x + 1e-4, "{x} -> {out:?}"),
            }
        }
        let flat = lut_at_quarter(-0.8);
        assert!(flat > 0.25, "{flat}");
    }

    fn lut_at_quarter(contrast: f32) -> f32 {
        let lut = grade(
            &neutral_stats(),
            &intent(|i| i.contrast = contrast),
            Settings {
                size: 5,
                white_balance: true,
            },
        )
        .expect("valid");
        lut.at(1, 1, 1).g
    }

    #[test]
    fn blue_cast_is_reduced_but_not_reversed() {
        let cast = stats(
            channel(0.40, 0.0, 1.0),
            channel(0.45, 0.0, 1.0),
            channel(0.60, 0.0, 1.0),
        );
        let mid = lut(&cast, &GradeIntent::neutral()).at(MID, MID, MID);
        assert!(mid.b < 0.48 && mid.r > 0.5, "{mid:?}");
        // The cast's mid-tones, corrected, are nearer neutral but still bluish.
        let grade = Grade::new(&cast, &GradeIntent::neutral(), true);
        let corrected = grade.apply(Rgb::new(0.40, 0.45, 0.60));
        assert!(corrected.b > corrected.r, "overcorrected: {corrected:?}");
        assert!(corrected.b - corrected.r < 0.60 - 0.40, "{corrected:?}");
        // Switched off, it leaves the cast alone.
        let off = grade_with(
            &cast,
            Settings {
                white_balance: false,
                ..Settings::default()
            },
        );
        assert!((off.at(MID, MID, MID).b - 0.5).abs() < 1e-5);
    }

    fn grade_with(stats: &FrameStats, settings: Settings) -> Lut3d {
        grade(stats, &GradeIntent::neutral(), settings).expect("valid")
    }

    #[test]
    fn narrow_range_is_stretched_by_at_most_one_and_a_half() {
        let flat = stats(
            channel(0.5, 0.3, 0.7),
            channel(0.5, 0.3, 0.7),
            channel(0.5, 0.3, 0.7),
        );
        let grade = Grade::new(&flat, &GradeIntent::neutral(), true);
        let (low, high) = (
            grade.apply(Rgb::new(0.3, 0.3, 0.3)),
            grade.apply(Rgb::new(0.7, 0.7, 0.7)),
        );
        assert!((high.g - low.g - 0.6).abs() < 1e-4, "{low:?} {high:?}");
        assert!(
            (low.g - 0.2).abs() < 1e-4,
            "headroom shared evenly: {low:?}"
        );
    }

    #[test]
    fn palette_pull_moves_colours_toward_the_palette_hue() {
        let orange = Rgb::new(1.0, 0.55, 0.1);
        let pulled = intent(|i| {
            i.palette = vec![orange];
            i.palette_strength = 0.8;
        });
        let grade = Grade::new(&neutral_stats(), &pulled, true);
        let red = Rgb::new(0.8, 0.25, 0.3);
        let out = grade.apply(red);
        assert!(
            hue_distance(hue(out), hue(orange)) < hue_distance(hue(red), hue(orange)) - 0.1,
            "{out:?}"
        );
        assert!((out.luma() - red.luma()).abs() < 1e-3, "luma kept: {out:?}");
        // Greys have no hue and are left alone; strength 0 changes nothing.
        let grey = grade.apply(Rgb::new(0.4, 0.4, 0.4));
        assert!(
            [grey.r, grey.g, grey.b]
                .iter()
                .all(|v| (v - 0.4).abs() < 1e-5),
            "{grey:?}"
        );
        let idle = Grade::new(
            &neutral_stats(),
            &intent(|i| i.palette = vec![orange]),
            true,
        );
        assert_eq!(idle.apply(red), grade_identity().apply(red));
    }

    fn grade_identity() -> Grade {
        Grade::new(&neutral_stats(), &GradeIntent::neutral(), true)
    }

    #[test]
    fn palette_pull_has_no_seams() {
        let two_hues = intent(|i| {
            i.palette = vec![Rgb::new(0.9, 0.2, 0.1), Rgb::new(0.1, 0.3, 0.9)];
            i.palette_strength = 1.0;
        });
        let lut = grade(
            &neutral_stats(),
            &two_hues,
            Settings {
                size: 65,
                white_balance: true,
            },
        )
        .expect("valid");
        // Neighbouring lattice points are 1/64 apart; a seam would be a jump
        // much larger than the step.
        let n = lut.size;
        for b in 0..n {
            for g in 0..n {
                for r in 1..n {
                    let (a, c) = (lut.at(r - 1, g, b), lut.at(r, g, b));
                    let jump = (a.r - c.r)
                        .abs()
                        .max((a.g - c.g).abs())
                        .max((a.b - c.b).abs());
                    assert!(jump < 0.12, "jump {jump} at ({r},{g},{b}): {a:?} -> {c:?}");
                }
            }
        }
    }

    #[test]
    fn neutral_case_is_monotonic_in_each_channel() {
        let looks = [
            GradeIntent::neutral(),
            intent(|i| {
                i.contrast = 1.0;
                i.warmth = 0.5;
            }),
            intent(|i| i.contrast = -1.0),
        ];
        for look in looks {
            let lut = lut(&neutral_stats(), &look);
            let n = lut.size;
            for a in 0..n {
                for b in 0..n {
                    for i in 1..n {
                        assert!(lut.at(i, a, b).r >= lut.at(i - 1, a, b).r);
                        assert!(lut.at(a, i, b).g >= lut.at(a, i - 1, b).g);
                        assert!(lut.at(a, b, i).b >= lut.at(a, b, i - 1).b);
                    }
                }
            }
        }
    }

    #[test]
    fn every_value_stays_in_range() {
        let extreme = intent(|i| {
            i.warmth = 1.0;
            i.contrast = 1.0;
            i.saturation = 1.0;
            i.palette = vec![Rgb::new(0.0, 1.0, 1.0), Rgb::new(1.0, 0.0, 1.0)];
            i.palette_strength = 1.0;
        });
        let cast = stats(
            channel(0.2, 0.1, 0.5),
            channel(0.3, 0.05, 0.9),
            channel(0.7, 0.2, 1.0),
        );
        let lut = lut(&cast, &extreme);
        assert!(lut.table.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn is_deterministic() {
        let look = intent(|i| {
            i.palette = vec![Rgb::new(0.2, 0.6, 0.5)];
            i.palette_strength = 0.5;
            i.warmth = -0.3;
        });
        assert_eq!(lut(&neutral_stats(), &look), lut(&neutral_stats(), &look));
    }

    #[test]
    fn size_is_configurable_within_bounds() {
        assert_eq!(
            grade_with(
                &neutral_stats(),
                Settings {
                    size: 2,
                    white_balance: true
                }
            )
            .table
            .len(),
            24
        );
        for size in [0, 1, 66] {
            let result = grade(
                &neutral_stats(),
                &GradeIntent::neutral(),
                Settings {
                    size,
                    white_balance: true,
                },
            );
            assert!(
                matches!(result, Err(PluginError::InvalidInput(m)) if m.contains("size")),
                "size {size}"
            );
        }
    }

    #[test]
    fn invalid_inputs_are_refused() {
        let refused = |stats: &FrameStats, intent: &GradeIntent| match grade(
            stats,
            intent,
            Settings::default(),
        ) {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid input, got {other:?}"),
        };
        let nan = intent(|i| i.saturation = f32::NAN);
        assert!(refused(&neutral_stats(), &nan).contains("intent.saturation"));
        let short = FrameStats {
            luma_histogram: vec![0; 255],
            ..neutral_stats()
        };
        assert!(refused(&short, &GradeIntent::neutral()).contains("luma-histogram"));
    }
}
