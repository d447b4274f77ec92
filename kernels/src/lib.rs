//! Kino's native kernels. Each has a CPU implementation that is the reference
//! every faster path is checked against.
//!
//! - [`device`]: which devices exist (CPU always, CUDA where the driver is present)
//! - [`interpolate`]: optical-flow frame interpolation (bidirectional, occlusion-aware, scene-cut aware)
//! - [`lut`]: `.cube` 3D LUTs (parser, tetrahedral application on 8-bit and float frames)
//! - [`stretch`]: WSOLA time-stretch of speech, pitch kept, exact output length
//! - [`mix`]: gain, sidechain ducking, summing without clipping, EBU R128 loudness
//! - [`speech`]: text to speech through espeak-ng
//! - [`wav`]: reading and writing WAV files as f32 PCM

#![deny(missing_docs)]

pub mod device;
pub mod interpolate;
pub mod lut;
pub mod mix;
pub mod speech;
pub mod stretch;
pub mod wav;
