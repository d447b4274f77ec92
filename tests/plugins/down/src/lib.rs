//! A test-only `translator` whose backend is always down: every translation
//! is a retryable `unavailable` error, so tests can drive fallback policies.

use kino_plugin_sdk::{LanguagePair, PluginError, Segment, TranslatedSegment, Translator};

struct Down;

impl Translator for Down {
    fn supported_pairs() -> Vec<LanguagePair> {
        Vec::new()
    }

    fn max_batch_size() -> u32 {
        16
    }

    fn translate(
        _source: String,
        _target: String,
        _segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError> {
        Err(PluginError::unavailable("the translation backend is down"))
    }
}

kino_plugin_sdk::export_translator!(Down);
