//! A test-only `translator` that returns its input unchanged: it measures
//! the cost of the plugin boundary itself, with no work inside. With config
//! `mode = change-ids` it breaks the world's rules instead.

use kino_plugin_sdk::{LanguagePair, PluginError, Segment, TranslatedSegment, Translator, config};

struct Echo;

impl Translator for Echo {
    fn supported_pairs() -> Vec<LanguagePair> {
        Vec::new()
    }

    fn max_batch_size() -> u32 {
        u32::MAX
    }

    fn translate(
        _source: String,
        _target: String,
        segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError> {
        let change_ids = config("mode").as_deref() == Some("change-ids");
        Ok(segments
            .into_iter()
            .map(|mut segment| {
                if change_ids {
                    segment.id.push_str("-changed");
                }
                TranslatedSegment {
                    segment,
                    untranslated: Vec::new(),
                }
            })
            .collect())
    }
}

kino_plugin_sdk::export_translator!(Echo);
