//! Text to IPA phonemes with espeak-ng, shaped the way Piper's phonemizer
//! (piper-phonemize) shapes them: clause by clause, each clause followed by
//! its punctuation (`,` `:` `;` then a space; `.` `?` `!` end a sentence),
//! language-switch flags like `(fr)` removed, and the result in Unicode NFD so
//! that combining marks are phonemes of their own.

use std::io::Write;
use std::process::{Command, Stdio};

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// One clause of the input text and the punctuation that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    text: String,
    terminator: Option<char>,
}

/// Splits text where espeak-ng ends a clause: one of `.,;:!?` (a run of them)
/// followed by whitespace or the end of the text. The terminator is the first
/// mark of the run (`?!` is `?`, as in Piper); an ellipsis (`..`, `...`)
/// ends a clause without punctuation, as espeak-ng reports it.
fn clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let is_punct = |c: char| matches!(c, '.' | ',' | ';' | ':' | '!' | '?');
    let mut out = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_punct(c) {
            let mut j = i;
            while j < chars.len() && is_punct(chars[j]) {
                j += 1;
            }
            if j == chars.len() || chars[j].is_whitespace() {
                let run = &chars[i..j];
                let ellipsis = run.len() > 1 && run.iter().all(|&c| c == '.');
                let terminator = if ellipsis { None } else { run.first().copied() };
                current.extend(run);
                out.push(Clause {
                    text: std::mem::take(&mut current),
                    terminator,
                });
                i = j;
                continue;
            }
            current.extend(&chars[i..j]);
            i = j;
            continue;
        }
        current.push(c);
        i += 1;
    }
    if !current.trim().is_empty() {
        out.push(Clause {
            text: current,
            terminator: None,
        });
    }
    out.retain(|c| c.text.chars().any(char::is_alphanumeric));
    out
}

/// Runs `espeak-ng -q --ipa -v VOICE` on `text` and returns its output lines
/// (one per clause espeak-ng found), without empty lines.
fn espeak_lines(text: &str, voice: &str) -> Result<Vec<String>> {
    let err = |reason: String| Error::Espeak {
        voice: voice.to_string(),
        reason,
    };
    let mut child = Command::new("espeak-ng")
        .args(["-q", "--ipa", "-b", "1", "--stdin", "-v", voice])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run espeak-ng: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| err(format!("writing to espeak-ng: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for espeak-ng: {e}")))?;
    if !output.status.success() {
        return Err(err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let stdout = String::from_utf8(output.stdout)
        .map_err(|_| err("espeak-ng wrote invalid UTF-8".into()))?;
    Ok(stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Removes espeak-ng's language-switch flags, e.g. `(fr)` and `(en)`.
fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut depth = 0usize;
    for c in phonemes.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Phonemizes `text` into sentences, each a list of phonemes (one Unicode
/// scalar each, NFD), ready for a voice's `phoneme_id_map`.
pub(crate) fn phonemize(text: &str, voice: &str) -> Result<Vec<Vec<char>>> {
    let clauses = clauses(text);
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    // One espeak-ng run for the whole text; where espeak-ng split the text
    // differently from us (abbreviations, dashes, brackets), one run per
    // clause, so every clause keeps its own punctuation.
    let joined: String = clauses
        .iter()
        .map(|c| c.text.trim())
        .collect::<Vec<_>>()
        .join(" ");
    let mut per_clause = espeak_lines(&joined, voice)?;
    if per_clause.len() != clauses.len() {
        per_clause = clauses
            .iter()
            .map(|c| espeak_lines(&c.text, voice).map(|lines| lines.join(" ")))
            .collect::<Result<_>>()?;
    }
    let mut sentences = Vec::new();
    let mut sentence = String::new();
    for (clause, phonemes) in clauses.iter().zip(per_clause) {
        let phonemes = strip_language_flags(&phonemes);
        if phonemes.trim().is_empty() {
            continue;
        }
        sentence.push_str(phonemes.trim());
        match clause.terminator {
            Some(p @ ('.' | '?' | '!')) => {
                sentence.push(p);
                sentences.push(std::mem::take(&mut sentence));
            }
            Some(p @ (',' | ':' | ';')) => {
                sentence.push(p);
                sentence.push(' ');
            }
            _ => sentence.push(' '),
        }
    }
    if !sentence.trim().is_empty() {
        sentences.push(sentence.trim_end().to_string());
    }
    Ok(sentences
        .into_iter()
        .map(|s| s.trim_end().nfd().collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_clauses_at_punctuation_followed_by_space() {
        let c = clauses("Hello, world. It costs 3.5 dollars?! Yes");
        assert_eq!(clauses("Well... no")[0].terminator, None);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.text.trim().to_string(), c.terminator))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Hello,".into(), Some(',')),
                ("world.".into(), Some('.')),
                ("It costs 3.5 dollars?!".into(), Some('?')),
                ("Yes".into(), None),
            ]
        );
    }

    #[test]
    fn drops_clauses_without_words() {
        assert!(clauses("... !").is_empty());
        assert!(clauses("").is_empty());
    }

    #[test]
    fn strips_language_flags() {
        assert_eq!(strip_language_flags("(fr)bɔ̃ʒuʁ(en) hi"), "bɔ̃ʒuʁ hi");
    }
}
