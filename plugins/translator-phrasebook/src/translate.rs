//! Translating one piece of text with a phrasebook and a tenant glossary.

use crate::dictionary::{Dictionary, Entry};
use crate::text::{self, Casing, Kind, Token};

/// The translation of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The translated text, with gaps (spaces, punctuation, numbers) kept.
    pub text: String,
    /// Source words passed through untranslated: lower-cased, each once, in
    /// order of first appearance. Numbers are never listed.
    pub untranslated: Vec<String>,
}

/// Translates text word by word, longest match first.
pub struct PhraseTranslator<'a> {
    /// The built-in table for the language pair.
    pub phrasebook: &'a Dictionary,
    /// The tenant's terms; they win over the phrasebook.
    pub glossary: &'a Dictionary,
}

/// A match of table entries against the words starting at one position.
struct Match<'a> {
    /// How many words it covers.
    words: usize,
    /// The table entry.
    entry: &'a Entry,
}

impl PhraseTranslator<'_> {
    /// Translates `source`.
    pub fn translate(&self, source: &str) -> Translation {
        let tokens = text::tokenize(source);
        let word_at: Vec<usize> = (0..tokens.len())
            .filter(|&i| tokens[i].kind == Kind::Word)
            .collect();
        let glossary_starts = self.glossary_starts(&tokens, &word_at);

        let mut out = String::with_capacity(source.len());
        let mut untranslated: Vec<String> = Vec::new();
        let mut sentence_start = true;
        let mut next_token = 0;
        let mut word = 0;
        while word < word_at.len() {
            // Gaps before this word are copied as they are.
            for gap in &tokens[next_token..word_at[word]] {
                out.push_str(gap.text);
                sentence_start |= text::ends_sentence(gap.text);
            }
            let covered = match self.best_match(&tokens, &word_at, word, &glossary_starts) {
                Some(found) => {
                    let span = &tokens[word_at[word]..=word_at[word + found.words - 1]];
                    let casing = casing(span, found.entry, sentence_start);
                    out.push_str(&text::apply_casing(&found.entry.target, casing));
                    found.words
                }
                None => {
                    let written = tokens[word_at[word]].text;
                    out.push_str(written);
                    note_untranslated(&mut untranslated, written);
                    1
                }
            };
            sentence_start = false;
            next_token = word_at[word + covered - 1] + 1;
            word += covered;
        }
        for gap in &tokens[next_token..] {
            out.push_str(gap.text);
        }
        Translation {
            text: out,
            untranslated,
        }
    }

    /// The longest glossary match at word `word`, or else the longest
    /// phrasebook match that does not swallow the start of a glossary term:
    /// a tenant's term is never translated as part of a built-in phrase.
    fn best_match(
        &self,
        tokens: &[Token<'_>],
        word_at: &[usize],
        word: usize,
        glossary_starts: &[bool],
    ) -> Option<Match<'_>> {
        let max_words = self.glossary.max_words().max(self.phrasebook.max_words());
        let keys = span_keys(tokens, word_at, word, max_words);
        if let Some(found) = longest(self.glossary, &keys) {
            return Some(found);
        }
        let swallows_glossary_term =
            |words: usize| (word + 1..word + words).any(|w| glossary_starts[w]);
        (1..=keys.len())
            .rev()
            .filter(|&words| !swallows_glossary_term(words))
            .find_map(|words| {
                self.phrasebook
                    .get(&keys[words - 1])
                    .map(|entry| Match { words, entry })
            })
    }

    /// For each word, whether a glossary term starts there.
    fn glossary_starts(&self, tokens: &[Token<'_>], word_at: &[usize]) -> Vec<bool> {
        (0..word_at.len())
            .map(|word| {
                !self.glossary.is_empty()
                    && longest(
                        self.glossary,
                        &span_keys(tokens, word_at, word, self.glossary.max_words()),
                    )
                    .is_some()
            })
            .collect()
    }
}

/// How to capitalise the translation `entry` of the source words `span`.
///
/// A term the table writes capitalised ("I", "Monday") is capitalised
/// wherever it appears, so mid-sentence its capital carries no signal: "on
/// Monday" gives Spanish "el lunes", not "el Lunes".
fn casing(span: &[Token<'_>], entry: &Entry, sentence_start: bool) -> Casing {
    let words: Vec<&str> = span
        .iter()
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text)
        .collect();
    match text::casing_of(&words) {
        Casing::Capitalised if entry.source_capitalised && !sentence_start => Casing::AsWritten,
        casing => casing,
    }
}

/// The lookup keys of the spans of 1, 2, … `max_words` words starting at
/// word `word` (fewer near the end of the text); `keys[n - 1]` covers n words.
fn span_keys(
    tokens: &[Token<'_>],
    word_at: &[usize],
    word: usize,
    max_words: usize,
) -> Vec<String> {
    let last = word_at.len().min(word + max_words);
    let mut key = String::new();
    let mut keys = Vec::with_capacity(last.saturating_sub(word));
    for w in word..last {
        if w > word {
            // The gap between two words always sits right before the second.
            text::push_key(&mut key, tokens[word_at[w] - 1]);
        }
        text::push_key(&mut key, tokens[word_at[w]]);
        keys.push(key.clone());
    }
    keys
}

/// The entry of `dictionary` matching the most words among `keys`.
fn longest<'d>(dictionary: &'d Dictionary, keys: &[String]) -> Option<Match<'d>> {
    (1..=keys.len()).rev().find_map(|words| {
        dictionary
            .get(&keys[words - 1])
            .map(|entry| Match { words, entry })
    })
}

/// Records `word` as untranslated, unless it is a number or already listed.
fn note_untranslated(untranslated: &mut Vec<String>, word: &str) {
    if text::has_digit(word) {
        return;
    }
    let mut key = String::new();
    text::push_key(
        &mut key,
        Token {
            kind: Kind::Word,
            text: word,
        },
    );
    if !untranslated.contains(&key) {
        untranslated.push(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(phrasebook: &str, glossary: &str, source: &str) -> Translation {
        let phrasebook = Dictionary::from_entries(phrasebook).expect("valid phrasebook");
        let glossary = Dictionary::from_entries(glossary).expect("valid glossary");
        PhraseTranslator {
            phrasebook: &phrasebook,
            glossary: &glossary,
        }
        .translate(source)
    }

    const BOOK: &str = "good morning = buenos días; good = bueno; morning = mañana; I = yo; \
                        I'm = soy; free = gratis; coffee = café; the = el; on = el; \
                        Monday = lunes";

    #[test]
    fn longest_phrase_wins_and_gaps_are_kept() {
        let t = translate(BOOK, "", "  Good morning... \"coffee\"? 3 coffee!");
        assert_eq!(t.text, "  Buenos días... \"café\"? 3 café!");
        assert!(t.untranslated.is_empty());
    }

    #[test]
    fn phrases_do_not_span_punctuation() {
        assert_eq!(translate(BOOK, "", "good, morning").text, "bueno, mañana");
    }

    #[test]
    fn unknown_words_pass_through_once_each_lower_cased() {
        let t = translate(BOOK, "", "Zorp coffee, zorp Blix 42");
        assert_eq!(t.text, "Zorp café, zorp Blix 42");
        assert_eq!(t.untranslated, vec!["zorp", "blix"]);
    }

    #[test]
    fn always_capitalised_source_terms_only_capitalise_at_sentence_start() {
        assert_eq!(
            translate(BOOK, "", "Monday? On Monday").text,
            "Lunes? El lunes"
        );
    }

    #[test]
    fn all_caps_and_english_i() {
        assert_eq!(translate(BOOK, "", "FREE COFFEE").text, "GRATIS CAFÉ");
        assert_eq!(
            translate(BOOK, "", "I, the coffee. I").text,
            "Yo, el café. Yo"
        );
        assert_eq!(translate(BOOK, "", "coffee I coffee").text, "café yo café");
    }

    #[test]
    fn glossary_wins_even_inside_a_phrase() {
        let t = translate(
            BOOK,
            "morning = mañanita; Brightbrew = Brightbrew",
            "Good morning, Brightbrew",
        );
        assert_eq!(t.text, "Bueno mañanita, Brightbrew");
        assert!(t.untranslated.is_empty());
    }
}
