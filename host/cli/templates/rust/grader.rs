//! {{name}}: a grader plugin. Turns a grade intent into a LUT: warmth tips
//! red against blue, contrast is an S-curve around mid grey, saturation
//! scales the distance from luma.

use kino_plugin_sdk::{FrameStats, GradeIntent, Grader, Lut3d, PluginError, Rgb, config_parsed};

struct Plugin;

impl Grader for Plugin {
    fn grade(_stats: FrameStats, intent: GradeIntent) -> Result<Lut3d, PluginError> {
        let size: u32 = config_parsed("size", 17)?;
        if !(2..=65).contains(&size) {
            return Err(PluginError::invalid_input(format!("size {size} is outside 2..=65")));
        }
        let (warm, contrast, saturation) = (intent.warmth, intent.contrast, intent.saturation);
        Ok(Lut3d::from_fn(size, |c| {
            let luma = c.luma();
            let sat = |v: f32| luma + (v - luma) * (1.0 + saturation);
            let curve = |v: f32| (0.5 + (v - 0.5) * (1.0 + contrast * 0.5)).clamp(0.0, 1.0);
            Rgb {
                r: curve(sat(c.r) + warm * 0.05),
                g: curve(sat(c.g)),
                b: curve(sat(c.b) - warm * 0.05),
            }
        }))
    }
}

kino_plugin_sdk::export_grader!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_plugin_sdk::ChannelStats;

    #[test]
    fn a_neutral_intent_is_the_identity() {
        let channel = ChannelStats { mean: 0.5, p01: 0.0, p50: 0.5, p99: 1.0 };
        let stats = FrameStats {
            red: channel,
            green: channel,
            blue: channel,
            luma_histogram: vec![],
        };
        let lut = Plugin::grade(stats, GradeIntent::neutral()).expect("a LUT");
        let c = lut.at(16, 0, 16);
        assert!((c.r - 1.0).abs() < 1e-5 && c.g.abs() < 1e-5, "{c:?}");
    }
}
