//! CLIP's byte-level BPE tokenizer, as Stable Diffusion's text encoder was
//! trained on it: lowercased text split into words, contractions, single
//! digits and runs of punctuation; each word's bytes mapped to printable
//! characters, `</w>` on its last, merged pair by pair in `merges.txt`'s
//! order; then `<|startoftext|>`, at most `length - 2` tokens,
//! `<|endoftext|>`, padded to `length`.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

const START: &str = "<|startoftext|>";
const END: &str = "<|endoftext|>";

/// A loaded vocabulary and merge table.
#[derive(Debug, Clone)]
pub struct ClipTokenizer {
    vocab: HashMap<String, i64>,
    /// Merge rank of each pair (lower merges first).
    ranks: HashMap<(String, String), usize>,
    /// The character each byte stands for.
    byte_chars: [char; 256],
    start: i64,
    end: i64,
    pad: i64,
}

impl ClipTokenizer {
    /// Loads `vocab.json` and `merges.txt` from `dir` (a Hugging Face
    /// `tokenizer/` folder). The padding token is `special_tokens_map.json`'s
    /// `pad_token` where there is one (Stable Diffusion 2 pads with `!`),
    /// else `<|endoftext|>` (1.x).
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|_| Error::ModelMissing { path })
        };
        let config = |name: &str, reason: String| Error::Config {
            path: dir.join(name),
            reason,
        };
        let vocab: HashMap<String, i64> = serde_json::from_str(&read("vocab.json")?)
            .map_err(|e| config("vocab.json", e.to_string()))?;
        let mut ranks = HashMap::new();
        for (i, line) in read("merges.txt")?
            .lines()
            .filter(|l| !l.starts_with("#version") && !l.trim().is_empty())
            .enumerate()
        {
            let (a, b) = line.split_once(' ').ok_or_else(|| {
                config(
                    "merges.txt",
                    format!("line {}: `{line}` is not a pair", i + 1),
                )
            })?;
            ranks.insert((a.to_owned(), b.to_owned()), i);
        }
        let id = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| config("vocab.json", format!("it has no `{token}`")))
        };
        let (start, end) = (id(START)?, id(END)?);
        let pad = match std::fs::read_to_string(dir.join("special_tokens_map.json")) {
            Ok(text) => {
                let map: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| config("special_tokens_map.json", e.to_string()))?;
                match map.get("pad_token") {
                    Some(serde_json::Value::String(t)) => id(t)?,
                    Some(other) => match other.get("content").and_then(|c| c.as_str()) {
                        Some(t) => id(t)?,
                        None => end,
                    },
                    None => end,
                }
            }
            Err(_) => end,
        };
        Ok(Self {
            vocab,
            ranks,
            byte_chars: byte_chars(),
            start,
            end,
            pad,
        })
    }

    /// `text` as `length` token ids: start, the text's tokens (cut to fit),
    /// end, padding. A piece the vocabulary lacks (possible only with a
    /// vocabulary that does not cover every byte) is an error naming it.
    pub fn encode(&self, text: &str, length: usize) -> Result<Vec<i64>> {
        let mut ids = vec![self.start];
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for word in words(&text.to_lowercase()) {
            if ids.len() >= length.saturating_sub(1) {
                break;
            }
            for piece in self.bpe(&word) {
                let id = self
                    .vocab
                    .get(&piece)
                    .copied()
                    .ok_or_else(|| Error::Config {
                        path: "vocab.json".into(),
                        reason: format!("no token for `{piece}` (from `{word}`)"),
                    })?;
                ids.push(id);
            }
        }
        ids.truncate(length.saturating_sub(1).max(1));
        ids.push(self.end);
        ids.resize(length.max(ids.len()), self.pad);
        ids.truncate(length);
        Ok(ids)
    }

    /// A word's BPE pieces.
    fn bpe(&self, word: &str) -> Vec<String> {
        let chars: Vec<char> = word.bytes().map(|b| self.byte_chars[b as usize]).collect();
        let mut parts: Vec<String> = chars.iter().map(char::to_string).collect();
        if let Some(last) = parts.last_mut() {
            last.push_str("</w>");
        }
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, p)| {
                    self.ranks
                        .get(&(p[0].clone(), p[1].clone()))
                        .map(|&r| (r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let (a, b) = (parts[i].clone(), parts[i + 1].clone());
            // Merge every occurrence of the pair, left to right.
            let mut merged = Vec::with_capacity(parts.len());
            let mut i = 0;
            while i < parts.len() {
                if i + 1 < parts.len() && parts[i] == a && parts[i + 1] == b {
                    merged.push(format!("{a}{b}"));
                    i += 2;
                } else {
                    merged.push(parts[i].clone());
                    i += 1;
                }
            }
            parts = merged;
        }
        parts
    }
}

/// GPT-2's reversible map from bytes to printable characters: printable
/// Latin-1 bytes stand for themselves, the rest for code points from 256 up.
fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in out.iter_mut().enumerate() {
        let printable = matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).expect("below the surrogates");
    }
    out
}

/// CLIP's pre-tokenisation of lowercased text: the special tokens,
/// contractions (`'s 't 're 've 'm 'll 'd`), runs of letters, single digits,
/// runs of anything else that is not a space.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let special = [START, END].into_iter().find(|s| rest.starts_with(s));
        let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
            .into_iter()
            .find(|s| rest.starts_with(s));
        let len = if let Some(s) = special.or(contraction) {
            s.len()
        } else if c.is_alphabetic() {
            rest.find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len())
        } else if c.is_numeric() {
            c.len_utf8()
        } else {
            rest.find(|c: char| c.is_whitespace() || c.is_alphanumeric())
                .unwrap_or(rest.len())
        };
        out.push(rest[..len].to_owned());
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary in CLIP's shape: every byte's character alone and
    /// ending a word, a few merges, the special tokens.
    fn tiny(dir: &Path, merges: &[&str]) -> ClipTokenizer {
        let mut vocab: Vec<String> = byte_chars().iter().map(char::to_string).collect();
        vocab.extend(byte_chars().iter().map(|c| format!("{c}</w>")));
        for m in merges {
            vocab.push(m.replace(' ', ""));
        }
        vocab.extend([START.to_owned(), END.to_owned()]);
        let map: serde_json::Map<String, serde_json::Value> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, serde_json::json!(i)))
            .collect();
        std::fs::write(
            dir.join("vocab.json"),
            serde_json::to_string(&map).expect("json"),
        )
        .expect("write");
        std::fs::write(
            dir.join("merges.txt"),
            format!("#version: 0.2\n{}\n", merges.join("\n")),
        )
        .expect("write");
        ClipTokenizer::load(dir).expect("load")
    }

    #[test]
    fn words_split_as_clip_splits_them() {
        assert_eq!(
            words("a cat's 42 hats!! <|endoftext|>"),
            ["a", "cat", "'s", "4", "2", "hats", "!!", "<|endoftext|>"]
        );
    }

    #[test]
    fn merges_apply_by_rank_and_the_sequence_is_framed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tok = tiny(dir.path(), &["c a", "ca t</w>", "a t</w>"]);
        let id = |t: &str| tok.vocab[t];
        let ids = tok.encode("  A CAT, at ", 10).expect("encode");
        assert_eq!(
            ids,
            [
                tok.start,
                id("a</w>"),
                id("cat</w>"),
                id(",</w>"),
                id("at</w>"),
                tok.end,
                tok.end,
                tok.end,
                tok.end,
                tok.end
            ]
        );
        // Cut to fit, the end token kept.
        let short = tok.encode("cat cat cat cat", 4).expect("encode");
        assert_eq!(short, [tok.start, id("cat</w>"), id("cat</w>"), tok.end]);
        // Bytes outside ASCII go through their printable stand-ins.
        assert_eq!(tok.encode("é", 4).expect("encode").len(), 4);
    }

    #[test]
    fn a_missing_special_token_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("vocab.json"), r#"{"a": 0}"#).expect("write");
        std::fs::write(dir.path().join("merges.txt"), "").expect("write");
        let err = ClipTokenizer::load(dir.path())
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("<|startoftext|>") && err.contains("vocab.json"),
            "{err}"
        );
    }
}
