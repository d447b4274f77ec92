//! Kino's native kernels. Each has a CPU implementation that is the reference
//! every faster path is checked against.
//!
//! - [`diffusion`]: diffusion samplers (DDIM, DPM-Solver++(2M)), noise schedules, guidance, seeded noise
//! - [`hdr`]: HDR (PQ, HLG) and wide-gamut BT.2020 video to SDR BT.709, tone mapped as FFmpeg's zscale + tonemap chain
//! - [`interpolate`]: optical-flow frame interpolation (bidirectional, occlusion-aware, scene-cut aware)
//! - [`lut`]: `.cube` 3D LUTs (parser, tetrahedral application on 8-bit and float frames)
//! - [`mel`]: mel spectrograms as models were trained on them (Slaney filters; Wav2Lip's features)
//! - [`vocoder`]: mel spectrograms as vocoders take them, and Griffin-Lim back to audio
//! - [`stretch`]: WSOLA time-stretch of speech, pitch kept, exact output length
//! - [`mix`]: gain, sidechain ducking, summing without clipping, EBU R128 loudness
//! - [`separate`]: dialogue removal from stereo mixes (centre extraction in the speech band), for dubbing
//! - [`scene`]: scenes from stills: Ken Burns camera moves, backdrops, alpha overlays, transitions
//! - [`speech`]: text to speech through espeak-ng
//! - [`text`]: text with a real font (DejaVu by default): wrapping, kerning, outline and box styles, captions
//! - [`yuv`]: RGB24 to YUV 4:2:0 and back (BT.601 or BT.709, limited range; planar or NV12), around every encode and decode
//! - [`wav`]: reading and writing WAV files as f32 PCM
//! - [`subtitle`]: SRT and WebVTT parsing and writing
//! - [`captions`]: transcript segments to readable caption cues (line length, reading speed)
//! - [`dub`]: voice-over assembly: fitting speech to its windows, ducking, mixing, loudness
//! - [`beats`]: tempo, beats and downbeats of music (Ellis's dynamic programme); snapping cuts to beats
//! - [`words`]: word timing for dynamic (word-by-word) captions: estimated or from the transcript
//! - [`ass`]: ASS (Advanced SubStation Alpha) karaoke export and parsing of dynamic captions

#![deny(missing_docs)]

pub mod ass;
pub mod beats;
pub mod captions;
pub mod diffusion;
pub mod dub;
pub mod hdr;
pub mod interpolate;
pub mod lut;
pub mod mel;
pub mod mix;
pub mod scene;
pub mod separate;
pub mod speech;
pub mod stretch;
pub mod subtitle;
pub mod text;
pub mod vocoder;
pub mod wav;
pub mod words;
pub mod yuv;
