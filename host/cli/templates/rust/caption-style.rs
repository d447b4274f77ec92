//! {{name}}: a caption-style plugin. Shows each cue at the bottom in white,
//! animated as its `animation` config says, and emphasises the numbers (a
//! word with a digit or a currency sign) in the brand's first colour.

use kino_plugin_sdk::{
    BrandLook, CaptionAnimation, CaptionStyle, CueStyle, PluginError, Rgb, WordCue, config, log,
};

struct Plugin;

impl CaptionStyle for Plugin {
    fn style_cues(cues: Vec<WordCue>, brand: BrandLook) -> Result<Vec<CueStyle>, PluginError> {
        let animation = match config("animation").as_deref().unwrap_or("highlight") {
            "still" => CaptionAnimation::Still,
            "highlight" => CaptionAnimation::Highlight,
            "pop" => CaptionAnimation::Pop,
            "karaoke" => CaptionAnimation::Karaoke,
            other => {
                return Err(PluginError::invalid_input(format!("unknown animation `{other}`")));
            }
        };
        let highlight = brand.palette.first().copied().unwrap_or(Rgb::new(1.0, 0.84, 0.0));
        log::info(&format!("styling {} cues for {}", cues.len(), brand.name));
        // One style per cue, in order, with one emphasis flag per word.
        Ok(cues
            .iter()
            .map(|cue| CueStyle {
                animation,
                highlight_color: highlight,
                emphasis: cue
                    .words
                    .iter()
                    .map(|w| w.text.contains(|c: char| c.is_ascii_digit() || "$€£%".contains(c)))
                    .collect(),
                ..CueStyle::plain(cue)
            })
            .collect())
    }
}

kino_plugin_sdk::export_caption_style!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_plugin_sdk::{TimedWord, testing};

    fn cue(text: &str) -> WordCue {
        WordCue {
            index: 3,
            start_ms: 0,
            end_ms: 2000,
            text: text.into(),
            words: text
                .split_whitespace()
                .map(|w| TimedWord { text: w.into(), start_ms: 0, end_ms: 100 })
                .collect(),
        }
    }

    #[test]
    fn numbers_stand_out_in_the_brand_colour() {
        testing::set_config([("animation", "pop")]);
        let orange = Rgb::new(0.95, 0.55, 0.16);
        let brand = BrandLook { name: "Acme".into(), palette: vec![orange], font: String::new() };
        let styles = Plugin::style_cues(vec![cue("only $4.99 today")], brand).expect("styled");
        assert_eq!(styles.len(), 1);
        assert_eq!(styles[0].index, 3);
        assert_eq!(styles[0].emphasis, [false, true, false]);
        assert_eq!(styles[0].highlight_color, orange);
        assert_eq!(styles[0].animation, CaptionAnimation::Pop);
    }
}
