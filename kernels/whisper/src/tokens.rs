//! Whisper's vocabulary: byte-level BPE tokens (one per line of
//! `vocabulary.txt`, the line number being the id) and the special tokens
//! that steer decoding. Only decoding is needed: prompts are special tokens.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, Result};

/// The vocabulary and its special tokens.
pub struct Vocabulary {
    tokens: Vec<String>,
    /// End of text.
    pub eot: u32,
    /// Start of transcript.
    pub sot: u32,
    /// The task token for transcription (multilingual models).
    pub transcribe: u32,
    /// Turns timestamps off (suppressed: Kino always wants times).
    pub no_timestamps: u32,
    /// The model's "no speech here" token (`<|nocaptions|>`).
    pub no_speech: u32,
    /// The first timestamp token, `<|0.00|>`; each next one is 20 ms later.
    pub timestamp_begin: u32,
    /// Language tokens by code (`en`), in the model's order.
    pub languages: Vec<(String, u32)>,
    byte_of: HashMap<char, u8>,
}

impl Vocabulary {
    /// Reads `vocabulary.txt`.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let tokens: Vec<String> = text.lines().map(str::to_owned).collect();
        let find = |t: &str| {
            tokens
                .iter()
                .position(|x| x == t)
                .map(|i| i as u32)
                .with_context(|| format!("{}: no `{t}` token", path.display()))
        };
        let sot = find("<|startoftranscript|>")?;
        let translate = find("<|translate|>")?;
        let languages = ((sot + 1)..translate)
            .map(|id| {
                let t = &tokens[id as usize];
                (
                    t.trim_start_matches("<|").trim_end_matches("|>").to_owned(),
                    id,
                )
            })
            .collect();
        Ok(Self {
            eot: find("<|endoftext|>")?,
            sot,
            transcribe: find("<|transcribe|>")?,
            no_timestamps: find("<|notimestamps|>")?,
            no_speech: find("<|nocaptions|>").or_else(|_| find("<|nospeech|>"))?,
            timestamp_begin: find("<|0.00|>")?,
            languages,
            tokens,
            byte_of: byte_decoder(),
        })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether it is empty (never, for a real model).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token of a language code.
    pub fn language(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, id)| *id)
    }

    /// Whether `id` is a timestamp.
    pub fn is_timestamp(&self, id: u32) -> bool {
        id >= self.timestamp_begin
    }

    /// Whether `id` is text (not special, not a timestamp).
    pub fn is_text(&self, id: u32) -> bool {
        id < self.eot
    }

    /// The time of a timestamp token, in seconds from the window's start.
    pub fn seconds(&self, id: u32) -> f32 {
        (id - self.timestamp_begin) as f32 * 0.02
    }

    /// The raw bytes text tokens stand for.
    pub fn bytes(&self, ids: &[u32]) -> Vec<u8> {
        ids.iter()
            .filter(|&&id| self.is_text(id))
            .filter_map(|&id| self.tokens.get(id as usize))
            .flat_map(|t| t.chars().filter_map(|c| self.byte_of.get(&c).copied()))
            .collect()
    }

    /// The text of a run of tokens (special ones dropped).
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.bytes(ids)).into_owned()
    }
}

/// Byte-level BPE writes each byte as a printable character: printable
/// Latin-1 bytes as themselves, the others as code points from 256 up.
fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 256u32;
    let mut map = HashMap::new();
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{fffd}');
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_characters_map_back_to_bytes() {
        let map = byte_decoder();
        assert_eq!(map.len(), 256);
        assert_eq!(map[&'Ġ'], b' ');
        assert_eq!(map[&'Ċ'], b'\n');
        assert_eq!(map[&'a'], b'a');
    }
}
