//! Silero voice-activity detection (v5/v6 ONNX models).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::{SessionOptions, session};

/// The rate Silero runs at here.
pub const VAD_SAMPLE_RATE: u32 = 16_000;
/// Samples per frame: one probability per 512 samples (32 ms) at 16 kHz.
pub const VAD_FRAME: usize = 512;
/// Samples of the previous frame the model sees before each frame (as in
/// silero-vad's own wrapper).
const CONTEXT: usize = 64;
/// The recurrent state: [2, 1, 128].
const STATE: usize = 2 * 128;

/// A stretch of speech, in samples `[start, end)` at 16 kHz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// First sample of speech.
    pub start: usize,
    /// One past the last sample of speech.
    pub end: usize,
}

/// How frame probabilities become regions.
///
/// Defaults: `threshold` 0.5, `min_speech_ms` 250, `min_silence_ms` 100,
/// `pad_ms` 30.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadOptions {
    /// Speech starts at a frame whose probability is at least this; it ends
    /// once the probability stays below `threshold - 0.15` for
    /// `min_silence_ms`.
    pub threshold: f32,
    /// Shorter regions are dropped.
    pub min_speech_ms: u32,
    /// Silence that must pass before a region ends.
    pub min_silence_ms: u32,
    /// Added to each side of a region (split between neighbours that are
    /// closer than twice this), clamped to the audio.
    pub pad_ms: u32,
}

impl Default for VadOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_speech_ms: 250,
            min_silence_ms: 100,
            pad_ms: 30,
        }
    }
}

/// A loaded Silero VAD model.
///
/// Methods take `&self` and may be called from several threads: each call
/// carries its own recurrent state, and the session (whose `run` needs `&mut`)
/// sits behind a mutex, so concurrent calls on one model take turns.
pub struct SileroVad {
    session: Mutex<Session>,
    model: PathBuf,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl SileroVad {
    /// Loads `silero_vad.onnx` with one intra-op thread.
    pub fn load(onnx: &Path) -> Result<Self> {
        Self::load_with(onnx, &SessionOptions::default())
    }

    /// Loads the model with explicit session options.
    pub fn load_with(onnx: &Path, opts: &SessionOptions) -> Result<Self> {
        let session = session(onnx, opts)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if inputs != ["input", "state", "sr"] || outputs != ["output", "stateN"] {
            return Err(Error::ModelSignature {
                path: onnx.to_path_buf(),
                reason: format!(
                    "expected inputs [input, state, sr] and outputs [output, stateN] (silero v5/v6), got {inputs:?} and {outputs:?}"
                ),
            });
        }
        Ok(Self {
            session: Mutex::new(session),
            model: onnx.to_path_buf(),
        })
    }

    /// The speech probability of each 512-sample (32 ms) frame of 16 kHz mono
    /// audio; a last partial frame is padded with zeros.
    pub fn probabilities(&self, pcm_16k: &[f32]) -> Result<Vec<f32>> {
        let err = |e: ort::Error| Error::Inference {
            model: "silero-vad",
            reason: e.to_string(),
        };
        let missing = |name: &str| Error::Inference {
            model: "silero-vad",
            reason: format!("no output `{name}`"),
        };
        let mut state = vec![0f32; STATE];
        let mut window = vec![0f32; CONTEXT + VAD_FRAME];
        let mut probs = Vec::with_capacity(pcm_16k.len().div_ceil(VAD_FRAME));
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        for frame in pcm_16k.chunks(VAD_FRAME) {
            // The context is the last 64 samples the model saw.
            window.copy_within(VAD_FRAME.., 0);
            let body = &mut window[CONTEXT..];
            body[..frame.len()].copy_from_slice(frame);
            body[frame.len()..].fill(0.0);
            for s in body.iter_mut() {
                if !s.is_finite() {
                    *s = 0.0;
                }
            }
            let input =
                Tensor::from_array(([1usize, CONTEXT + VAD_FRAME], window.clone())).map_err(err)?;
            let state_in = Tensor::from_array(([2usize, 1, 128], state.clone())).map_err(err)?;
            let sr = Tensor::from_array(((), vec![i64::from(VAD_SAMPLE_RATE)])).map_err(err)?;
            let outputs = session
                .run(ort::inputs!["input" => input, "state" => state_in, "sr" => sr])
                .map_err(err)?;
            let (_, p) = outputs
                .get("output")
                .ok_or_else(|| missing("output"))?
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            probs.push(p.first().copied().unwrap_or(0.0));
            let (_, s) = outputs
                .get("stateN")
                .ok_or_else(|| missing("stateN"))?
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            if s.len() != STATE {
                return Err(Error::Inference {
                    model: "silero-vad",
                    reason: format!("stateN has {} values, expected {STATE}", s.len()),
                });
            }
            state.copy_from_slice(s);
        }
        Ok(probs)
    }

    /// The speech regions of 16 kHz mono audio, in samples.
    pub fn speech_regions(&self, pcm_16k: &[f32], opts: &VadOptions) -> Result<Vec<Region>> {
        if !(opts.threshold > 0.0 && opts.threshold < 1.0) {
            return Err(Error::InvalidArgument {
                name: "threshold",
                value: opts.threshold.to_string(),
                reason: "must be between 0 and 1",
            });
        }
        let probs = self.probabilities(pcm_16k)?;
        Ok(regions(&probs, pcm_16k.len(), opts))
    }
}

fn samples(ms: u32) -> usize {
    (u64::from(ms) * u64::from(VAD_SAMPLE_RATE) / 1000) as usize
}

/// Frame probabilities to padded regions: silero-vad's `get_speech_timestamps`.
fn regions(probs: &[f32], len: usize, opts: &VadOptions) -> Vec<Region> {
    let neg = (opts.threshold - 0.15).max(0.01);
    let min_speech = samples(opts.min_speech_ms);
    let min_silence = samples(opts.min_silence_ms);
    let pad = samples(opts.pad_ms);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut silence_from: Option<usize> = None;
    for (i, &p) in probs.iter().enumerate() {
        let at = i * VAD_FRAME;
        if p >= opts.threshold {
            silence_from = None;
            if start.is_none() {
                start = Some(at);
            }
        } else if p < neg
            && let Some(s) = start
        {
            let quiet = *silence_from.get_or_insert(at);
            if at - quiet >= min_silence {
                if quiet - s > min_speech {
                    out.push(Region {
                        start: s,
                        end: quiet,
                    });
                }
                start = None;
                silence_from = None;
            }
        }
    }
    if let Some(s) = start
        && len.saturating_sub(s) > min_speech
    {
        out.push(Region { start: s, end: len });
    }
    // Pad, sharing the gap between close neighbours.
    let raw = out.clone();
    let share = |gap: usize| if gap < 2 * pad { gap / 2 } else { pad };
    for (i, r) in out.iter_mut().enumerate() {
        r.start = match i.checked_sub(1).map(|p| raw[p]) {
            Some(prev) => raw[i].start - share(raw[i].start - prev.end),
            None => raw[i].start.saturating_sub(pad),
        };
        r.end = match raw.get(i + 1) {
            Some(next) => raw[i].end + share(next.start - raw[i].end),
            None => (raw[i].end + pad).min(len),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(pattern: &[(f32, usize)]) -> Vec<f32> {
        pattern
            .iter()
            .flat_map(|&(p, n)| std::iter::repeat_n(p, n))
            .collect()
    }

    #[test]
    fn one_region_with_hysteresis_and_padding() {
        // 10 silent frames, 20 speech, 2 "uncertain" (0.4 is above 0.35), 20 silent.
        let probs = frames(&[(0.0, 10), (0.9, 20), (0.4, 2), (0.0, 20)]);
        let len = probs.len() * VAD_FRAME;
        let r = regions(&probs, len, &VadOptions::default());
        let pad = samples(30);
        assert_eq!(
            r,
            vec![Region {
                start: 10 * VAD_FRAME - pad,
                end: 32 * VAD_FRAME + pad
            }]
        );
    }

    #[test]
    fn short_bursts_and_short_gaps() {
        // A 3-frame burst (96 ms < 250 ms) is dropped; a 2-frame gap (64 ms <
        // 100 ms) does not split a region.
        let probs = frames(&[
            (0.0, 10),
            (0.9, 3),
            (0.0, 10),
            (0.9, 10),
            (0.0, 2),
            (0.9, 10),
            (0.0, 10),
        ]);
        let len = probs.len() * VAD_FRAME;
        let r = regions(&probs, len, &VadOptions::default());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].start, 23 * VAD_FRAME - samples(30));
        assert_eq!(r[0].end, 45 * VAD_FRAME + samples(30));
    }

    #[test]
    fn speech_to_the_end_is_clamped() {
        let probs = frames(&[(0.0, 5), (0.9, 20)]);
        let len = probs.len() * VAD_FRAME - 100;
        let r = regions(&probs, len, &VadOptions::default());
        assert_eq!(
            r,
            vec![Region {
                start: 5 * VAD_FRAME - samples(30),
                end: len
            }]
        );
    }

    #[test]
    fn close_regions_share_the_gap() {
        let opts = VadOptions {
            min_silence_ms: 30,
            pad_ms: 100,
            ..VadOptions::default()
        };
        let probs = frames(&[(0.0, 10), (0.9, 10), (0.0, 3), (0.9, 10), (0.0, 10)]);
        let r = regions(&probs, probs.len() * VAD_FRAME, &opts);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].end, r[1].start);
    }
}
