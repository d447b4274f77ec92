//! {{name}}: a translator plugin. Translates word by word from a small
//! glossary, passing unknown words through and reporting them.

use kino_plugin_sdk::{LanguagePair, PluginError, Segment, TranslatedSegment, Translator, log};

struct Plugin;

/// (source word, English word), Spanish to English.
const GLOSSARY: &[(&str, &str)] = &[
    ("hola", "hello"),
    ("a", "to"),
    ("todos", "everyone"),
    ("gracias", "thanks"),
    ("por", "for"),
    ("venir", "coming"),
];

impl Translator for Plugin {
    fn supported_pairs() -> Vec<LanguagePair> {
        vec![LanguagePair {
            source: "es".into(),
            target: "en".into(),
        }]
    }

    fn max_batch_size() -> u32 {
        64
    }

    fn translate(
        source: String,
        target: String,
        segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError> {
        if (source.as_str(), target.as_str()) != ("es", "en") {
            return Err(PluginError::invalid_input(format!(
                "translates es -> en, not {source} -> {target}"
            )));
        }
        log::info(&format!("translating {} segments", segments.len()));
        Ok(segments
            .into_iter()
            .map(|segment| {
                let mut untranslated = Vec::new();
                let words: Vec<String> = segment
                    .text
                    .split_whitespace()
                    .map(|word| {
                        let lower = word.to_lowercase();
                        match GLOSSARY.iter().find(|(es, _)| *es == lower) {
                            Some((_, en)) => (*en).to_owned(),
                            None => {
                                untranslated.push(word.to_owned());
                                word.to_owned()
                            }
                        }
                    })
                    .collect();
                TranslatedSegment {
                    // Id and timing unchanged: the host checks.
                    segment: Segment {
                        text: words.join(" "),
                        ..segment
                    },
                    untranslated,
                }
            })
            .collect())
    }
}

kino_plugin_sdk::export_translator!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_known_words_and_reports_the_rest() {
        let out = Plugin::translate(
            "es".into(),
            "en".into(),
            vec![Segment {
                id: "s1".into(),
                start_ms: 0,
                end_ms: 900,
                speaker: String::new(),
                text: "hola amigos".into(),
            }],
        )
        .expect("translated");
        assert_eq!(out[0].segment.text, "hello amigos");
        assert_eq!(out[0].untranslated, ["amigos"]);
    }
}
