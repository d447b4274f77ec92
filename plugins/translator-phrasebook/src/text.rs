//! Splitting text into words and gaps, building lookup keys, and carrying
//! the source's capitalisation over to a translation.

/// Whether a token is a word or the text between words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A run of letters and digits, with apostrophes inside it ("don't").
    Word,
    /// Everything else: spaces, punctuation, quotes, symbols.
    Gap,
}

/// A slice of the input text that is either a word or a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// Word or gap.
    pub kind: Kind,
    /// The text exactly as written.
    pub text: &'a str,
}

/// Splits `text` into alternating words and gaps that concatenate back to
/// `text` exactly, so whatever is not translated is reproduced byte for byte.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut current: Option<(Kind, usize)> = None;
    for (i, &(at, c)) in chars.iter().enumerate() {
        let kind = if c.is_alphanumeric() || is_inner_apostrophe(&chars, i) {
            Kind::Word
        } else {
            Kind::Gap
        };
        match current {
            Some((open, _)) if open == kind => {}
            Some((open, start)) => {
                tokens.push(Token {
                    kind: open,
                    text: &text[start..at],
                });
                current = Some((kind, at));
            }
            None => current = Some((kind, at)),
        }
    }
    if let Some((kind, start)) = current {
        tokens.push(Token {
            kind,
            text: &text[start..],
        });
    }
    tokens
}

/// An apostrophe between two letters belongs to the word ("don't", "l'eau");
/// anywhere else it is a quote and stays in the gap.
fn is_inner_apostrophe(chars: &[(usize, char)], i: usize) -> bool {
    let is_alnum_at = |j: usize| chars.get(j).is_some_and(|&(_, c)| c.is_alphanumeric());
    matches!(chars[i].1, '\'' | '\u{2019}') && i > 0 && is_alnum_at(i - 1) && is_alnum_at(i + 1)
}

/// Appends the normalised form of `token` to a lookup key: words lower-cased
/// with typographic apostrophes made plain, runs of whitespace in gaps
/// collapsed to one space. "Don’t  Worry" and "don't worry" share a key.
pub fn push_key(key: &mut String, token: Token<'_>) {
    match token.kind {
        Kind::Word => key.extend(
            token
                .text
                .chars()
                .map(|c| if c == '\u{2019}' { '\'' } else { c })
                .flat_map(char::to_lowercase),
        ),
        Kind::Gap => {
            let mut in_space = false;
            for c in token.text.chars() {
                if c.is_whitespace() {
                    if !in_space {
                        key.push(' ');
                    }
                    in_space = true;
                } else {
                    key.push(c);
                    in_space = false;
                }
            }
        }
    }
}

/// The lookup key of a whole term (a phrasebook cell or a glossary source)
/// and how many words it has.
///
/// A term must start and end with a word: text is matched word by word, so
/// leading or trailing punctuation could never be part of a match.
pub fn term_key(term: &str) -> Result<(String, usize), String> {
    let tokens = tokenize(term.trim());
    let starts_and_ends_with_word = tokens.first().is_some_and(|t| t.kind == Kind::Word)
        && tokens.last().is_some_and(|t| t.kind == Kind::Word);
    if !starts_and_ends_with_word {
        return Err(format!(
            "`{term}` must start and end with a letter or digit"
        ));
    }
    let mut key = String::new();
    for &token in &tokens {
        push_key(&mut key, token);
    }
    let words = tokens.iter().filter(|t| t.kind == Kind::Word).count();
    Ok((key, words))
}

/// Whether a word is a number ("3", "24", "B12"): such words are kept as they
/// are and never reported as untranslated.
pub fn has_digit(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
}

/// Whether `gap` ends a sentence, so the next word starts a new one.
pub fn ends_sentence(gap: &str) -> bool {
    gap.contains(['.', '!', '?', '\u{2026}'])
}

/// How the source words of a match were capitalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// Lower case (or mixed in a way that carries no signal): use the
    /// translation as the table writes it.
    AsWritten,
    /// First letter upper case ("Good morning"): upper-case the first letter
    /// of the translation.
    Capitalised,
    /// Every letter upper case, at least two of them ("FREE"): upper-case the
    /// whole translation.
    Upper,
}

/// The casing of the source words `words`.
pub fn casing_of(words: &[&str]) -> Casing {
    let letters = || {
        words
            .iter()
            .flat_map(|w| w.chars())
            .filter(|c| c.is_alphabetic())
    };
    if letters().count() >= 2 && letters().all(char::is_uppercase) {
        Casing::Upper
    } else if letters().next().is_some_and(char::is_uppercase) {
        Casing::Capitalised
    } else {
        Casing::AsWritten
    }
}

/// `target` with `casing` applied. Capitalisation only ever raises letters:
/// a table entry written with capitals ("Kaffee", "I") keeps them.
pub fn apply_casing(target: &str, casing: Casing) -> String {
    match casing {
        Casing::AsWritten => target.to_owned(),
        Casing::Upper => target.to_uppercase(),
        Casing::Capitalised => {
            let mut chars = target.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(text: &str) -> Vec<(Kind, &str)> {
        tokenize(text)
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn tokens_reassemble_the_text() {
        let text = "  \"Don’t stop,\" she said — 3 cups/day!  ";
        let joined: String = tokenize(text).iter().map(|t| t.text).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn apostrophes_inside_words_only() {
        assert_eq!(
            kinds_and_texts("'don't'"),
            vec![(Kind::Gap, "'"), (Kind::Word, "don't"), (Kind::Gap, "'")]
        );
        assert_eq!(
            kinds_and_texts("cold-brew"),
            vec![(Kind::Word, "cold"), (Kind::Gap, "-"), (Kind::Word, "brew")]
        );
    }

    #[test]
    fn keys_normalise_case_space_and_apostrophes() {
        assert_eq!(term_key("Don’t   Worry"), Ok(("don't worry".to_owned(), 2)));
        assert_eq!(term_key(" Café  Frío "), Ok(("café frío".to_owned(), 2)));
        assert!(term_key("Brightbrew®").is_err());
        assert!(term_key("  ").is_err());
    }

    #[test]
    fn casing_is_detected_and_applied() {
        assert_eq!(casing_of(&["Good", "morning"]), Casing::Capitalised);
        assert_eq!(casing_of(&["FREE"]), Casing::Upper);
        assert_eq!(casing_of(&["A"]), Casing::Capitalised);
        assert_eq!(casing_of(&["coffee"]), Casing::AsWritten);
        assert_eq!(
            apply_casing("buenos días", Casing::Capitalised),
            "Buenos días"
        );
        assert_eq!(apply_casing("gratis", Casing::Upper), "GRATIS");
        assert_eq!(apply_casing("Kaffee", Casing::AsWritten), "Kaffee");
    }
}
