//! Piper (VITS) neural voices.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::phonemes::phonemize;
use crate::runtime::{SessionOptions, session};

const PAD: char = '_';
const BOS: char = '^';
const EOS: char = '$';

/// The parts of a Piper `voice.onnx.json` this crate reads.
#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    espeak: RawEspeak,
    inference: RawInference,
    #[serde(default = "espeak_type")]
    phoneme_type: String,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default = "one")]
    num_speakers: u32,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(Deserialize)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

fn espeak_type() -> String {
    "espeak".into()
}

fn one() -> u32 {
    1
}

/// A loaded Piper voice: the VITS model and its phoneme table.
///
/// `synthesize` takes `&self` and may be called from several threads; ONNX
/// Runtime's `Session::run` needs `&mut`, so calls on one voice are serialised
/// by a mutex (load a second voice for parallel synthesis).
pub struct PiperVoice {
    session: Mutex<Session>,
    model: PathBuf,
    sample_rate: u32,
    espeak_voice: String,
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
    /// Phoneme (one Unicode scalar) to its ids.
    ids: HashMap<char, Vec<i64>>,
    /// The model takes a speaker id (`sid`); speaker 0 is used.
    multi_speaker: bool,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice")
            .field("model", &self.model)
            .field("sample_rate", &self.sample_rate)
            .field("espeak_voice", &self.espeak_voice)
            .finish_non_exhaustive()
    }
}

impl PiperVoice {
    /// Loads a voice (`voice.onnx` and its `voice.onnx.json`) with the default
    /// [`SessionOptions`] (one intra-op thread).
    pub fn load(onnx: &Path, config_json: &Path) -> Result<Self> {
        Self::load_with(onnx, config_json, &SessionOptions::default())
    }

    /// Loads a voice with explicit session options.
    pub fn load_with(onnx: &Path, config_json: &Path, opts: &SessionOptions) -> Result<Self> {
        let config = read_config(config_json)?;
        let session = session(onnx, opts)?;
        let signature = |reason: String| Error::ModelSignature {
            path: onnx.to_path_buf(),
            reason,
        };
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for name in ["input", "input_lengths", "scales"] {
            if !inputs.contains(&name) {
                return Err(signature(format!("no input `{name}` (inputs: {inputs:?})")));
            }
        }
        let multi_speaker = inputs.contains(&"sid");
        if !session.outputs().iter().any(|o| o.name() == "output") {
            return Err(signature("no output `output`".into()));
        }
        Ok(Self {
            session: Mutex::new(session),
            model: onnx.to_path_buf(),
            sample_rate: config.sample_rate,
            espeak_voice: config.espeak_voice,
            noise_scale: config.noise_scale,
            length_scale: config.length_scale,
            noise_w: config.noise_w,
            ids: config.ids,
            multi_speaker,
        })
    }

    /// Replaces the voice's `noise_scale` and `noise_w` (from its JSON).
    /// With both 0 the model's internal noise is multiplied away and
    /// synthesis is deterministic (same text, same samples) at some cost in
    /// liveliness.
    pub fn with_noise(mut self, noise_scale: f32, noise_w: f32) -> Result<Self> {
        for (name, v) in [("noise_scale", noise_scale), ("noise_w", noise_w)] {
            if !(v.is_finite() && (0.0..=2.0).contains(&v)) {
                return Err(Error::InvalidArgument {
                    name,
                    value: v.to_string(),
                    reason: "must be between 0 and 2",
                });
            }
        }
        self.noise_scale = noise_scale;
        self.noise_w = noise_w;
        Ok(self)
    }

    /// The rate of the audio `synthesize` returns, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The espeak-ng voice that phonemizes text for this voice (`en-us`).
    pub fn espeak_voice(&self) -> &str {
        &self.espeak_voice
    }

    /// Speaks `text`: mono f32 PCM in [-1, 1] at [`sample_rate`](Self::sample_rate).
    /// `rate` > 1 speaks faster (the voice's `length_scale` is divided by it);
    /// it must lie in [0.25, 4]. Sentences are synthesised one by one and
    /// joined; text without words gives empty audio.
    ///
    /// The voice samples noise inside the model (VITS), so two calls on the
    /// same text give slightly different audio of about the same length,
    /// unless [`with_noise(0.0, 0.0)`](Self::with_noise) was set.
    pub fn synthesize(&self, text: &str, rate: f32) -> Result<Vec<f32>> {
        if !(0.25..=4.0).contains(&rate) {
            return Err(Error::InvalidArgument {
                name: "rate",
                value: rate.to_string(),
                reason: "must be between 0.25 and 4",
            });
        }
        let mut audio = Vec::new();
        for sentence in phonemize(text, &self.espeak_voice)? {
            let ids = self.ids_of(&sentence);
            audio.extend(self.infer(ids, rate)?);
        }
        Ok(audio)
    }

    /// The model input for `text`: one id sequence per sentence, as Piper
    /// builds it (for inspection and tests).
    pub fn phoneme_ids(&self, text: &str) -> Result<Vec<Vec<i64>>> {
        Ok(phonemize(text, &self.espeak_voice)?
            .iter()
            .map(|sentence| self.ids_of(sentence))
            .collect())
    }

    /// Piper's id sequence: `^`, then each phoneme's ids followed by the pad
    /// `_`, then `$` (piper-phonemize pads after `^` too).
    fn ids_of(&self, phonemes: &[char]) -> Vec<i64> {
        let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
        ids.extend(&self.ids[&BOS]);
        ids.extend(&self.ids[&PAD]);
        let mut unknown = 0usize;
        for p in phonemes {
            match self.ids.get(p) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.ids[&PAD]);
                }
                None => {
                    unknown += 1;
                    tracing::debug!(phoneme = %p, code = %format!("U+{:04X}", u32::from(*p)), "phoneme not in the voice's map, skipped");
                }
            }
        }
        ids.extend(&self.ids[&EOS]);
        if unknown > 0 {
            tracing::debug!(unknown, "skipped phonemes unknown to the voice");
        }
        ids
    }

    fn infer(&self, ids: Vec<i64>, rate: f32) -> Result<Vec<f32>> {
        let err = |e: ort::Error| Error::Inference {
            model: "piper",
            reason: e.to_string(),
        };
        let n = ids.len();
        let input = Tensor::from_array(([1usize, n], ids)).map_err(err)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(err)?;
        let scales = Tensor::from_array((
            [3usize],
            vec![self.noise_scale, self.length_scale / rate, self.noise_w],
        ))
        .map_err(err)?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = if self.multi_speaker {
            let sid = Tensor::from_array(([1usize], vec![0i64])).map_err(err)?;
            session.run(ort::inputs![
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales,
                "sid" => sid,
            ])
        } else {
            session.run(ort::inputs![
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales,
            ])
        }
        .map_err(err)?;
        let output = outputs.get("output").ok_or_else(|| Error::Inference {
            model: "piper",
            reason: "no output `output`".into(),
        })?;
        let (_, samples) = output.try_extract_tensor::<f32>().map_err(err)?;
        Ok(samples
            .iter()
            .map(|s| {
                if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect())
    }
}

struct Config {
    sample_rate: u32,
    espeak_voice: String,
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
    ids: HashMap<char, Vec<i64>>,
}

fn read_config(path: &Path) -> Result<Config> {
    let bad = |reason: String| Error::Config {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(Error::ModelMissing {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let raw: RawConfig = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if raw.phoneme_type != "espeak" {
        return Err(bad(format!(
            "phoneme_type {:?} is not supported (only \"espeak\")",
            raw.phoneme_type
        )));
    }
    if raw.audio.sample_rate == 0 {
        return Err(bad("audio.sample_rate is 0".into()));
    }
    let voice = raw.espeak.voice;
    if voice.is_empty()
        || voice.starts_with('-')
        || !voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/'))
    {
        return Err(bad(format!("espeak.voice {voice:?} is not a voice name")));
    }
    let inf = raw.inference;
    for (name, v) in [
        ("noise_scale", inf.noise_scale),
        ("length_scale", inf.length_scale),
        ("noise_w", inf.noise_w),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(bad(format!(
                "inference.{name} = {v} is not a finite value >= 0"
            )));
        }
    }
    if inf.length_scale == 0.0 {
        return Err(bad("inference.length_scale is 0".into()));
    }
    if raw.num_speakers == 0 {
        return Err(bad("num_speakers is 0".into()));
    }
    let mut ids = HashMap::new();
    for (phoneme, id) in raw.phoneme_id_map {
        let mut chars = phoneme.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !id.is_empty() => {
                ids.insert(c, id);
            }
            _ => tracing::debug!(
                ?phoneme,
                "phoneme_id_map entry skipped (not one character with ids)"
            ),
        }
    }
    for special in [PAD, BOS, EOS] {
        if !ids.contains_key(&special) {
            return Err(bad(format!("phoneme_id_map has no {special:?}")));
        }
    }
    Ok(Config {
        sample_rate: raw.audio.sample_rate,
        espeak_voice: voice,
        noise_scale: inf.noise_scale,
        length_scale: inf.length_scale,
        noise_w: inf.noise_w,
        ids,
    })
}
