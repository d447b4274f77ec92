//! Whisper speech recognition in Rust: on the CPU through candle, or on
//! whatever device another runtime puts a [`network::Network`] on
//! (`kino_torch::whisper`: libtorch, on the CPU or a GPU).
//!
//! - [`ct2`]: reads CTranslate2 `model.bin` weights (what the model
//!   repository's Whisper models are).
//! - [`mel`]: the log-mel features the model hears.
//! - [`network`]: what decoding needs of a network, whichever runs it.
//! - [`model`]: the encoder/decoder network on candle, with a key/value
//!   cache and cross-attention weights on request.
//! - [`tokens`]: the vocabulary and its special tokens.
//! - [`decode`]: greedy decoding of one ≤30 s window with Whisper's
//!   timestamp rules, language detection, a no-speech check.
//! - [`align`]: word times by dynamic time warping over the alignment
//!   heads' cross-attention.
//! - [`windows`]: long audio cut at silences into windows the model takes.
//! - [`score`]: word error rate, to measure all of the above.
//!
//! [`Transcriber::transcribe`] hears one window; a caller runs windows in
//! parallel (the pipelines make each a cached node).

#![deny(missing_docs)]

pub mod align;
pub mod ct2;
pub mod decode;
pub mod mel;
pub mod model;
pub mod network;
pub mod score;
pub mod tokens;
pub mod windows;

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use kino_models::Installed;
use serde::{Deserialize, Serialize};

pub use decode::Options;
pub use network::Network;

/// What a window's speech said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The language heard (or the one asked for).
    pub language: String,
    /// Segments, in order; times in seconds from the window's start.
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// Tightens segment edges to the speech a voice-activity detector found
    /// (`regions` in seconds from the window's start): Whisper's timestamps
    /// and the first and last words' alignment run into the silence around
    /// speech by a few hundred ms, a detector's edges don't. A segment that
    /// starts before the first region it overlaps starts with it; one that
    /// ends after the last region it overlaps ends with it; its edge words
    /// follow.
    pub fn snap_to_speech(&mut self, regions: &[(f32, f32)]) {
        for seg in &mut self.segments {
            let overlapping: Vec<&(f32, f32)> = regions
                .iter()
                .filter(|(s, e)| *s < seg.end && *e > seg.start)
                .collect();
            let (Some(first), Some(last)) = (overlapping.first(), overlapping.last()) else {
                continue;
            };
            if first.0 > seg.start {
                seg.start = first.0;
            }
            if last.1 < seg.end {
                seg.end = last.1.max(seg.start);
            }
            for w in &mut seg.words {
                w.start = w.start.clamp(seg.start, seg.end);
                w.end = w.end.clamp(w.start, seg.end);
            }
        }
    }
}

/// One segment: a phrase the model timed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, seconds.
    pub start: f32,
    /// End, seconds.
    pub end: f32,
    /// Its text, trimmed.
    pub text: String,
    /// Its words with their times (within the segment's).
    pub words: Vec<Word>,
}

/// One word and when it was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// Start, seconds.
    pub start: f32,
    /// End, seconds.
    pub end: f32,
    /// The word, with its punctuation, without surrounding spaces.
    pub text: String,
}

/// A loaded Whisper model, ready to hear windows (shareable across threads).
pub struct Transcriber {
    network: Box<dyn Network>,
    vocabulary: tokens::Vocabulary,
    config: ModelConfig,
    name: String,
    languages: Vec<String>,
}

/// Builds candle's network on the CPU: [`Transcriber::load_with`]'s
/// default.
pub fn candle(variables: &ct2::Variables) -> Result<Box<dyn Network>> {
    Ok(Box::new(model::Whisper::new(variables)?))
}

/// The decoding settings CTranslate2 keeps beside the weights.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelConfig {
    /// (decoder layer, head) pairs whose cross-attention follows the audio.
    #[serde(default)]
    pub alignment_heads: Vec<(usize, usize)>,
    /// Tokens never sampled.
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens not sampled first.
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

impl Transcriber {
    /// Loads an installed Whisper model (`model.bin`, `config.json`,
    /// `vocabulary.txt`) on candle, on the CPU.
    pub fn load(installed: &Installed) -> Result<Self> {
        Self::load_with(installed, candle)
    }

    /// Loads an installed Whisper model on the network `build` makes of
    /// its weights.
    pub fn load_with(
        installed: &Installed,
        build: impl FnOnce(&ct2::Variables) -> Result<Box<dyn Network>>,
    ) -> Result<Self> {
        Self::load_files(
            &installed.file("model.bin")?,
            &installed.file("config.json")?,
            &installed.file("vocabulary.txt")?,
            installed.id(),
            installed.manifest.languages.clone(),
            build,
        )
    }

    /// Loads a model from its files, on the network `build` makes of its
    /// weights (`Transcriber::candle` for the CPU's).
    pub fn load_files(
        weights: &Path,
        config: &Path,
        vocabulary: &Path,
        name: String,
        languages: Vec<String>,
        build: impl FnOnce(&ct2::Variables) -> Result<Box<dyn Network>>,
    ) -> Result<Self> {
        let variables = ct2::Variables::read(weights)?;
        let network = build(&variables)
            .with_context(|| format!("building Whisper from {}", weights.display()))?;
        drop(variables);
        let n_vocab = network.dims().n_vocab;
        let vocabulary = tokens::Vocabulary::read(vocabulary)?;
        if vocabulary.len() != n_vocab {
            bail!(
                "{}: {} tokens, but the model has {n_vocab}",
                weights.display(),
                vocabulary.len(),
            );
        }
        let config: ModelConfig = serde_json::from_slice(
            &std::fs::read(config).with_context(|| format!("reading {}", config.display()))?,
        )
        .with_context(|| format!("parsing {}", config.display()))?;
        Ok(Self {
            network,
            vocabulary,
            config,
            name,
            languages,
        })
    }

    /// `name@version`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its network runs (`cpu (candle)`, `cuda:0 (libtorch)`).
    pub fn runs_on(&self) -> String {
        self.network.runs_on()
    }

    /// Whether it knows more than English (and so detects languages).
    pub fn is_multilingual(&self) -> bool {
        // English-only vocabularies lack one token (51864 vs 51865).
        self.network.dims().n_vocab >= 51_865
    }

    /// The languages it transcribes.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// Checks it can transcribe `language` (`None`: detect, which needs a
    /// multilingual model or means English).
    pub fn check_language(&self, language: Option<&str>) -> Result<()> {
        match language {
            Some(l) if !self.languages.iter().any(|x| x == l) => bail!(
                "model `{}` does not transcribe `{l}` (it knows {}){}",
                self.name,
                if self.languages.len() > 8 {
                    format!("{} languages", self.languages.len())
                } else {
                    self.languages.join(", ")
                },
                if self.is_multilingual() {
                    ""
                } else {
                    "; the multilingual whisper-base does"
                }
            ),
            _ => Ok(()),
        }
    }

    /// Hears one window of 16 kHz mono audio (at most 30 s).
    pub fn transcribe(&self, pcm: &[f32], options: &Options) -> Result<Transcript> {
        self.check_language(options.language.as_deref())?;
        if pcm.len() > mel::WINDOW_SAMPLES {
            bail!(
                "a window is at most 30 s; this one is {:.1} s (cut long audio with `windows`)",
                pcm.len() as f32 / mel::SAMPLE_RATE as f32
            );
        }
        decode::transcribe(self, pcm, options)
    }
}
