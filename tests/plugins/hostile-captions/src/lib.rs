//! A hostile `caption-style` plugin for the answer checks: the tenant
//! config key `mode` picks how its answer breaks the world's rules; any
//! other mode answers with a plain style per cue.

use kino_plugin_sdk::{BrandLook, CaptionStyle, CueStyle, PluginError, WordCue, config};

struct HostileCaptions;

impl CaptionStyle for HostileCaptions {
    fn style_cues(cues: Vec<WordCue>, _brand: BrandLook) -> Result<Vec<CueStyle>, PluginError> {
        let mut styles: Vec<CueStyle> = cues.iter().map(CueStyle::plain).collect();
        match config("mode").unwrap_or_default().as_str() {
            "wrong-count" => {
                styles.pop();
            }
            "wrong-index" => {
                if let Some(last) = styles.last_mut() {
                    last.index += 100;
                }
            }
            "short-emphasis" => {
                if let Some(last) = styles.last_mut() {
                    last.emphasis.pop();
                }
            }
            "nan-colour" => {
                if let Some(first) = styles.first_mut() {
                    first.highlight_color.g = f32::NAN;
                }
            }
            "panic" => panic!("hostile caption style panics on purpose"),
            _ => {}
        }
        Ok(styles)
    }
}

kino_plugin_sdk::export_caption_style!(HostileCaptions);
