//! A test-only `translator` that returns its input unchanged: it measures
//! the cost of the plugin boundary itself, with no work inside.

use kino_plugin_sdk::{LanguagePair, PluginError, Segment, TranslatedSegment, Translator};

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
        Ok(segments
            .into_iter()
            .map(|segment| TranslatedSegment {
                segment,
                untranslated: Vec::new(),
            })
            .collect())
    }
}

kino_plugin_sdk::export_translator!(Echo);
