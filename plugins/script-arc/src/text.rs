//! Small text utilities shared by the writer and the scorer.
//!
//! Matching works on lowercase alphanumeric word sequences, so punctuation,
//! case and spacing never decide whether a phrase "appears" in a script.

/// Words too common to say anything about a brand or an audience.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
    "its", "of", "on", "or", "our", "per", "that", "the", "their", "them", "they", "this", "to",
    "who", "with", "you", "your",
];

/// The lowercase alphanumeric runs of `text`, in order.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `text` has at least one word in it (not just spaces or punctuation).
pub(crate) fn has_words(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Folds a simple English plural, so "professionals" matches "professional".
pub(crate) fn stem(word: &str) -> &str {
    match word.strip_suffix('s') {
        Some(base) if base.len() >= 3 && !base.ends_with('s') => base,
        _ => word,
    }
}

/// The distinct, stemmed words of `text` that carry meaning: no stopwords, no
/// one- or two-letter words (numbers are kept: "12 hours" is a fact).
pub(crate) fn content_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words(text) {
        let numeric = word.chars().all(|c| c.is_ascii_digit());
        if STOPWORDS.contains(&word.as_str()) || (word.chars().count() < 3 && !numeric) {
            continue;
        }
        let stemmed = stem(&word).to_owned();
        if !out.contains(&stemmed) {
            out.push(stemmed);
        }
    }
    out
}

/// Whether the word sequence `needle` occurs contiguously in `haystack`.
pub(crate) fn contains_phrase(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `text` trimmed, with its first letter capitalised when the first word is
/// all lowercase (so "brews in 12 hours" becomes "Brews in 12 hours" but a
/// name such as "iPhone" is left alone), ending in sentence punctuation.
pub(crate) fn sentence(text: &str) -> String {
    let trimmed = text.trim();
    let first_word_lower = trimmed
        .split_whitespace()
        .next()
        .is_some_and(|word| !word.chars().any(char::is_uppercase));
    let mut out = if first_word_lower {
        capitalize(trimmed)
    } else {
        trimmed.to_owned()
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// `text` with its first character in upper case.
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` trimmed, without trailing sentence punctuation, for embedding it
/// inside another sentence.
pub(crate) fn clause(text: &str) -> &str {
    text.trim().trim_end_matches(['.', '!', '?', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_ignore_case_and_punctuation() {
        assert_eq!(
            words("Order at Brightbrew.example, TODAY!"),
            ["order", "at", "brightbrew", "example", "today"]
        );
        assert!(!has_words(" ... "));
    }

    #[test]
    fn content_words_drop_stopwords_and_fold_plurals() {
        assert_eq!(
            content_words("busy young professionals who commute"),
            ["busy", "young", "professional", "commute"]
        );
        assert_eq!(content_words("brews in 12 hours"), ["brew", "12", "hour"]);
    }

    #[test]
    fn sentences_are_capitalised_and_punctuated() {
        assert_eq!(sentence(" brews in 12 hours "), "Brews in 12 hours.");
        assert_eq!(sentence("iPhone ready!"), "iPhone ready!");
        assert_eq!(clause("Order today."), "Order today");
    }
}
