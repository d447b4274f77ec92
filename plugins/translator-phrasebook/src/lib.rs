//! `kino-translator-phrasebook`: the reference `translator` plugin.
//!
//! An offline translator that needs no backend: a built-in phrasebook of a
//! few hundred everyday words and short phrases (greetings, numbers, days,
//! colours, common verbs, nouns and adjectives, the vocabulary of ads) for
//! en->es, en->fr, en->de and es->en, plus a per-tenant glossary. It is a
//! dependable fallback for an HTTP translator, not a replacement for one:
//! it translates word by word and does not reorder or inflect.
//!
//! How a segment is translated:
//!
//! - Text is split into words and gaps (spaces, punctuation, quotes,
//!   symbols). Gaps are copied unchanged, so punctuation stays in place.
//! - At each word the longest matching glossary term is used; failing that,
//!   the longest matching phrasebook entry ("good morning" before "good")
//!   that does not swallow the start of a glossary term. A phrase only
//!   matches across whitespace-separated words ("good, morning" is two
//!   words). Matching ignores case and typographic apostrophes.
//! - Capitalisation is carried over: a capitalised source ("Good morning")
//!   gives a capitalised translation, an all-caps one ("FREE") an all-caps
//!   translation. Translations are never lowered, so table entries written
//!   with capitals (German nouns, brand names) keep them. A term the table
//!   writes capitalised (English "I", "Monday") is always capitalised in the
//!   source, so it only capitalises its translation at a sentence start.
//! - Words with digits ("3", "B12") are kept as they are. Other words found
//!   in neither table pass through unchanged and are listed in the segment's
//!   `untranslated`, lower-cased, once each, in order of first appearance.
//! - Each output segment keeps the input's id, timing and speaker.
//!
//! Language tags are compared by their primary subtag, case-insensitively:
//! `en-US` -> `es-419` uses the en->es phrasebook.
//!
//! Configuration (optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `glossary` | empty | tenant terms: `source term = target term` entries separated by `;` or newlines |
//!
//! In the glossary, lines starting with `#` are comments and a later entry
//! for the same term replaces an earlier one.
//!
//! The glossary wins over the phrasebook and applies to every supported pair;
//! it does not add pairs. A malformed entry fails the call as invalid input
//! naming the entry. At most [`MAX_BATCH_SIZE`] segments are accepted per call.

mod dictionary;
mod phrasebook;
mod text;
mod translate;

use kino_plugin_sdk::{
    LanguagePair, PluginError, Segment, TranslatedSegment, Translator, config, log,
};

use crate::dictionary::Dictionary;
use crate::translate::PhraseTranslator;

/// The most segments one `translate` call accepts.
pub const MAX_BATCH_SIZE: u32 = 64;

/// The language pairs of the built-in phrasebook.
pub fn supported_pairs() -> Vec<LanguagePair> {
    phrasebook::PAIRS
        .iter()
        .map(|&(source, target)| LanguagePair {
            source: source.to_owned(),
            target: target.to_owned(),
        })
        .collect()
}

/// Translates `segments` from `source` to `target` with the built-in
/// phrasebook and the tenant's `glossary` (the entry format of the
/// `glossary` config key; `None` for none).
///
/// Returns one translated segment per input, in order, with id, timing and
/// speaker unchanged. An unsupported pair, a batch larger than
/// [`MAX_BATCH_SIZE`] or a malformed glossary is invalid input.
pub fn translate_segments(
    source: &str,
    target: &str,
    segments: Vec<Segment>,
    glossary: Option<&str>,
) -> Result<Vec<TranslatedSegment>, PluginError> {
    let (source, target) = (primary_subtag(source), primary_subtag(target));
    let phrasebook = match phrasebook::dictionary(&source, &target) {
        Some(Ok(phrasebook)) => phrasebook,
        Some(Err(why)) => {
            return Err(PluginError::internal(format!(
                "built-in phrasebook is broken: {why}"
            )));
        }
        None => return Err(unsupported_pair(&source, &target)),
    };
    if segments.len() > MAX_BATCH_SIZE as usize {
        return Err(PluginError::invalid_input(format!(
            "{} segments in one call, more than max-batch-size {MAX_BATCH_SIZE}",
            segments.len()
        )));
    }
    let glossary = Dictionary::from_entries(glossary.unwrap_or_default())
        .map_err(|why| PluginError::invalid_input(format!("config `glossary`: {why}")))?;
    let translator = PhraseTranslator {
        phrasebook,
        glossary: &glossary,
    };
    Ok(segments
        .into_iter()
        .map(|segment| {
            let translation = translator.translate(&segment.text);
            TranslatedSegment {
                segment: Segment {
                    text: translation.text,
                    ..segment
                },
                untranslated: translation.untranslated,
            }
        })
        .collect())
}

/// The primary language subtag of a BCP 47 tag, lower-cased: `en-US` -> `en`.
fn primary_subtag(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The error for a pair the phrasebook does not cover, listing those it does.
fn unsupported_pair(source: &str, target: &str) -> PluginError {
    let supported: Vec<String> = phrasebook::PAIRS
        .iter()
        .map(|(s, t)| format!("{s}->{t}"))
        .collect();
    PluginError::invalid_input(format!(
        "language pair {source}->{target} is not supported; supported pairs: {}",
        supported.join(", ")
    ))
}

struct Phrasebook;

impl Translator for Phrasebook {
    fn supported_pairs() -> Vec<LanguagePair> {
        supported_pairs()
    }

    fn max_batch_size() -> u32 {
        MAX_BATCH_SIZE
    }

    fn translate(
        source: String,
        target: String,
        segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError> {
        let count = segments.len();
        let glossary = config("glossary");
        let translated = translate_segments(&source, &target, segments, glossary.as_deref())?;
        let untranslated: usize = translated.iter().map(|t| t.untranslated.len()).sum();
        log::info(&format!(
            "translated {count} segments {source}->{target}; {untranslated} words left untranslated"
        ));
        Ok(translated)
    }
}

kino_plugin_sdk::export_translator!(Phrasebook);

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(id: &str, start_ms: u32, text: &str) -> Segment {
        Segment {
            id: id.to_owned(),
            start_ms,
            end_ms: start_ms + 1500,
            speaker: "narrator".to_owned(),
            text: text.to_owned(),
        }
    }

    fn translate_one(
        source: &str,
        target: &str,
        text: &str,
        glossary: Option<&str>,
    ) -> TranslatedSegment {
        let mut out = translate_segments(source, target, vec![segment("s1", 0, text)], glossary)
            .expect("translates");
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    fn invalid_input_message(result: Result<Vec<TranslatedSegment>, PluginError>) -> String {
        match result {
            Err(PluginError::InvalidInput(message)) => message,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn good_morning_family_in_three_languages() {
        let cases = [
            ("es", "Buenos días, familia!"),
            ("fr", "Bonjour, famille!"),
            ("de", "Guten Morgen, Familie!"),
        ];
        for (target, expected) in cases {
            let out = translate_one("en", target, "Good morning, family!", None);
            assert_eq!(out.segment.text, expected, "en->{target}");
            assert!(
                out.untranslated.is_empty(),
                "en->{target}: {:?}",
                out.untranslated
            );
        }
    }

    #[test]
    fn ad_copy_translates_word_by_word() {
        let out = translate_one("en", "es", "Order today: FREE coffee for the family.", None);
        assert_eq!(out.segment.text, "Pedir hoy: GRATIS café para el familia.");
        let back = translate_one("es", "en", "Buenos días. Café gratis, mañana.", None);
        assert_eq!(back.segment.text, "Good morning. Coffee free, tomorrow.");
    }

    #[test]
    fn ids_timings_and_order_are_preserved() {
        let segments = vec![
            segment("a", 0, "Thank you!"),
            Segment {
                speaker: String::new(),
                ..segment("b", 1500, "")
            },
            segment("c", 3000, "See you tomorrow."),
        ];
        let out = translate_segments("en", "es", segments.clone(), None).expect("translates");
        assert_eq!(out.len(), segments.len());
        for (translated, original) in out.iter().zip(&segments) {
            let s = &translated.segment;
            assert_eq!(
                (&s.id, s.start_ms, s.end_ms, &s.speaker),
                (
                    &original.id,
                    original.start_ms,
                    original.end_ms,
                    &original.speaker
                )
            );
        }
        let texts: Vec<&str> = out.iter().map(|t| t.segment.text.as_str()).collect();
        assert_eq!(texts, ["Gracias!", "", "Hasta mañana."]);
    }

    #[test]
    fn unknown_words_pass_through_and_are_flagged() {
        let out = translate_one("en", "fr", "The Zorblax bottle, 2 zorblax cups", None);
        assert_eq!(out.segment.text, "Le Zorblax bouteille, 2 zorblax tasses");
        assert_eq!(out.untranslated, ["zorblax"]);
    }

    #[test]
    fn glossary_overrides_the_phrasebook() {
        let glossary =
            "Brightbrew = Brightbrew; cold brew = café frío de la casa;\ncoffee = cafecito";
        let out = translate_one(
            "en",
            "es",
            "Brightbrew cold brew: good coffee",
            Some(glossary),
        );
        assert_eq!(
            out.segment.text,
            "Brightbrew café frío de la casa: bueno cafecito"
        );
        assert!(out.untranslated.is_empty());
    }

    #[test]
    fn malformed_glossary_entry_is_named() {
        let result = translate_segments(
            "en",
            "es",
            vec![segment("s1", 0, "hi")],
            Some("tea = té; coffee café"),
        );
        let message = invalid_input_message(result);
        assert!(message.contains("`coffee café`"), "{message}");
    }

    #[test]
    fn unsupported_pair_is_refused_with_the_supported_list() {
        let message = invalid_input_message(translate_segments(
            "fr",
            "de",
            vec![segment("s1", 0, "bonjour")],
            None,
        ));
        assert!(message.contains("fr->de"), "{message}");
        for pair in ["en->es", "en->fr", "en->de", "es->en"] {
            assert!(message.contains(pair), "{message}");
        }
        assert_eq!(supported_pairs().len(), 4);
    }

    #[test]
    fn region_subtags_are_ignored() {
        assert_eq!(
            translate_one("en-US", "ES_mx", "Thank you", None)
                .segment
                .text,
            "Gracias"
        );
    }

    #[test]
    fn batches_over_the_limit_are_refused() {
        let batch = |n: u32| {
            (0..n)
                .map(|i| segment(&format!("s{i}"), i * 1000, "hello"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            translate_segments("en", "de", batch(MAX_BATCH_SIZE), None).map(|v| v.len()),
            Ok(64)
        );
        let message = invalid_input_message(translate_segments(
            "en",
            "de",
            batch(MAX_BATCH_SIZE + 1),
            None,
        ));
        assert!(
            message.contains("65") && message.contains("64"),
            "{message}"
        );
    }

    #[test]
    fn capitalisation_and_punctuation_are_kept() {
        let out = translate_one("en", "de", "\"Hello,\" she said. NEW coffee? Yes!", None);
        assert_eq!(out.segment.text, "\"Hallo,\" sie said. NEU Kaffee? Ja!");
        assert_eq!(out.untranslated, ["said"]);
    }
}
