//! Piper neural voices, Silero voice-activity detection, Wav2Lip-class
//! lip-sync and Stable-Diffusion-class image generation on ONNX Runtime.
//!
//! ONNX Runtime is a shared library loaded at run time ([`init_runtime`]),
//! once per process, before any model is loaded.
//!
//! ```no_run
//! use std::path::Path;
//! use kino_onnx::{PiperVoice, SileroVad, VadOptions, init_runtime};
//!
//! # fn main() -> kino_onnx::Result<()> {
//! let models = Path::new(".kino/models");
//! init_runtime(&models.join("onnxruntime/1.31.1/libonnxruntime.so"))?;
//! let voice = PiperVoice::load(
//!     &models.join("piper-en_US-joe-medium/1/voice.onnx"),
//!     &models.join("piper-en_US-joe-medium/1/voice.onnx.json"),
//! )?;
//! let pcm = voice.synthesize("Hello there.", 1.0)?; // at voice.sample_rate()
//! let vad = SileroVad::load(&models.join("silero-vad/6.2.3/silero_vad.onnx"))?;
//! let speech = vad.speech_regions(&vec![0.0; 16_000], &VadOptions::default())?;
//! assert!(speech.is_empty());
//! # let _ = pcm;
//! # Ok(())
//! # }
//! ```

mod clip;
mod diffusion;
mod error;
mod lipsync;
mod phonemes;
mod piper;
mod runtime;
mod vad;

pub use clip::ClipTokenizer;
pub use diffusion::{Diffusion, Networks as DiffusionNetworks, Request as DiffusionRequest};
pub use error::{Error, Result};
pub use lipsync::{FaceBox, LipSync};
pub use piper::PiperVoice;
pub use runtime::{SessionOptions, gpu_for, init_runtime, runtime_library};
pub use vad::{Region, SileroVad, VAD_FRAME, VAD_SAMPLE_RATE, VadOptions};
