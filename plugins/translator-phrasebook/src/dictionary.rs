//! A translation table keyed by normalised source terms, and the
//! `source = target` entry format shared by the tenant glossary and the
//! built-in Spanish-to-English extras.

use std::collections::HashMap;

use crate::text::term_key;

/// The translation of one source term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The target text, as written.
    pub target: String,
    /// Whether the source term is written capitalised ("Monday", "I",
    /// "Brightbrew"): such a word is capitalised wherever it appears, so
    /// mid-sentence its capital does not ask for a capitalised translation.
    pub source_capitalised: bool,
}

impl Entry {
    fn new(source: &str, target: &str) -> Self {
        Entry {
            target: target.trim().to_owned(),
            source_capitalised: source
                .trim_start()
                .chars()
                .next()
                .is_some_and(char::is_uppercase),
        }
    }
}

/// Source terms (normalised with [`term_key`]) mapped to their translations.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    entries: HashMap<String, Entry>,
    /// The most words any source term has: how far a match may reach.
    max_words: usize,
}

impl Dictionary {
    /// Adds `source -> target`, replacing an earlier entry for the same term.
    pub fn insert(&mut self, source: &str, target: &str) -> Result<(), String> {
        let (key, words) = term_key(source)?;
        self.max_words = self.max_words.max(words);
        self.entries.insert(key, Entry::new(source, target));
        Ok(())
    }

    /// Adds `source -> target` unless the term already has an entry, so that
    /// earlier (more common) senses win when several map to the same term.
    pub fn insert_if_absent(&mut self, source: &str, target: &str) -> Result<(), String> {
        let (key, words) = term_key(source)?;
        self.max_words = self.max_words.max(words);
        self.entries
            .entry(key)
            .or_insert_with(|| Entry::new(source, target));
        Ok(())
    }

    /// The translation of the normalised term `key`.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// The most words any source term has (0 when empty).
    pub fn max_words(&self) -> usize {
        self.max_words
    }

    /// How many terms the table has.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no terms.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses `text` in the entry format (see [`parse_entries`]); a later
    /// entry for the same term replaces an earlier one.
    pub fn from_entries(text: &str) -> Result<Self, String> {
        let mut dictionary = Dictionary::default();
        for (entry, source, target) in parse_entries(text)? {
            dictionary
                .insert(source, target)
                .map_err(|why| format!("entry `{entry}`: source term {why}"))?;
        }
        Ok(dictionary)
    }
}

/// Splits `text` into `source = target` entries.
///
/// Entries are separated by `;` or newlines; blank entries and lines starting
/// with `#` are skipped. Yields `(entry, source, target)` with both terms
/// trimmed. An entry without exactly one `=`, or with an empty side, is an
/// error naming the entry.
pub fn parse_entries(text: &str) -> Result<Vec<(&str, &str, &str)>, String> {
    let mut entries = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
    {
        for entry in line
            .split(';')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let malformed =
                || format!("entry `{entry}` is not of the form `source term = target term`");
            let (source, target) = entry.split_once('=').ok_or_else(malformed)?;
            let (source, target) = (source.trim(), target.trim());
            if source.is_empty() || target.is_empty() || target.contains('=') {
                return Err(malformed());
            }
            entries.push((entry, source, target));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_on_semicolons_and_newlines() {
        let text = "Brightbrew = Brightbrew; cold brew = café frío;\n# a note\n oat milk=leche de avena \n\n";
        let parsed = parse_entries(text).expect("valid entries");
        assert_eq!(
            parsed,
            vec![
                ("Brightbrew = Brightbrew", "Brightbrew", "Brightbrew"),
                ("cold brew = café frío", "cold brew", "café frío"),
                ("oat milk=leche de avena", "oat milk", "leche de avena"),
            ]
        );
    }

    #[test]
    fn malformed_entries_are_named() {
        for bad in ["coffee", "= café", "coffee =", "a = b = c"] {
            let error = parse_entries(&format!("tea = té; {bad}")).expect_err(bad);
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
        let error =
            Dictionary::from_entries("Brightbrew® = Brightbrew®").expect_err("symbol at the end");
        assert!(error.contains("Brightbrew®"), "{error}");
    }

    #[test]
    fn lookups_are_normalised_and_later_entries_win() {
        let dictionary = Dictionary::from_entries("Cold  Brew = café frío; cold brew = cold brew")
            .expect("valid");
        assert_eq!(
            dictionary.get("cold brew").map(|e| e.target.as_str()),
            Some("cold brew")
        );
        assert_eq!(dictionary.max_words(), 2);
        assert_eq!(dictionary.len(), 1);
    }
}
