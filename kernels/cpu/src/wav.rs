//! Reading and writing WAV files as interleaved `f32` PCM.
//!
//! Reading is done by a small RIFF/WAVE parser of our own so that every
//! failure is an error naming the source and the problem (never a panic), and
//! so that WAV streams written to a pipe (whose writer could not seek back to
//! fill in the data length, e.g. `espeak-ng --stdout` or `ffmpeg -f wav pipe:1`)
//! can be decoded. Supported sample formats: 8/16/24/32-bit integer PCM and
//! 32/64-bit IEEE float, plain or `WAVE_FORMAT_EXTENSIBLE`. RF64 is not
//! supported.
//!
//! Writing goes through `hound`: [`write_wav`] writes 32-bit float (lossless,
//! keeps samples above full scale), [`write_wav_pcm16`] writes 16-bit integer
//! PCM with TPDF dither for players that need integer audio.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Errors from reading, decoding or writing WAV audio.
#[derive(Debug, Error)]
pub enum WavError {
    /// The file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data is not a well-formed WAV stream.
    #[error("{origin}: not a valid wav file: {reason}")]
    Invalid {
        /// The file path, or `in-memory wav` for bytes.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The data chunk declares more audio than the file holds.
    #[error(
        "{origin}: truncated wav: the data chunk declares {declared} bytes but only {present} are present"
    )]
    Truncated {
        /// The file path, or `in-memory wav` for bytes.
        origin: String,
        /// Bytes of audio the data chunk declares.
        declared: u64,
        /// Bytes of audio actually present.
        present: u64,
    },
    /// A WAV encoding this module does not decode.
    #[error("{origin}: unsupported wav sample format: {what}")]
    Unsupported {
        /// The file path, or `in-memory wav` for bytes.
        origin: String,
        /// The format, e.g. `12-bit integer` or `format tag 0x0055`.
        what: String,
    },
    /// The [`Pcm`] handed to a writer is inconsistent.
    #[error("invalid pcm: {0}")]
    InvalidPcm(String),
    /// Writing the file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
}

/// Interleaved `f32` PCM audio; full scale is ±1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels per frame.
    pub channels: u16,
    /// Samples, interleaved by frame (`L R L R ...` for stereo).
    pub samples: Vec<f32>,
}

impl Pcm {
    /// Number of frames (samples per channel); 0 when `channels` is 0.
    pub fn frames(&self) -> usize {
        if self.channels == 0 {
            0
        } else {
            self.samples.len() / usize::from(self.channels)
        }
    }

    /// Duration in seconds; 0 when `sample_rate` is 0.
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames() as f64 / f64::from(self.sample_rate)
        }
    }

    /// Checks that the rate and channel count are non-zero and that the
    /// sample count is a whole number of frames.
    pub fn validate(&self) -> Result<(), WavError> {
        if self.sample_rate == 0 {
            return Err(WavError::InvalidPcm("sample rate 0".into()));
        }
        if self.channels == 0 {
            return Err(WavError::InvalidPcm("0 channels".into()));
        }
        if !self
            .samples
            .len()
            .is_multiple_of(usize::from(self.channels))
        {
            return Err(WavError::InvalidPcm(format!(
                "{} samples is not a whole number of {}-channel frames",
                self.samples.len(),
                self.channels
            )));
        }
        Ok(())
    }

    /// Downmixes to one channel by averaging the channels of each frame.
    /// A mono `Pcm` is returned as a copy.
    pub fn to_mono(&self) -> Pcm {
        let ch = usize::from(self.channels.max(1));
        let samples = if ch == 1 {
            self.samples.clone()
        } else {
            let scale = 1.0 / ch as f32;
            self.samples
                .chunks_exact(ch)
                .map(|frame| frame.iter().sum::<f32>() * scale)
                .collect()
        };
        Pcm {
            sample_rate: self.sample_rate,
            channels: 1,
            samples,
        }
    }

    /// Resamples to `to_rate` by linear interpolation between neighbouring
    /// frames.
    ///
    /// This is deliberately simple: there is no anti-aliasing filter, so
    /// downsampling folds content above the new Nyquist frequency back into
    /// the band and upsampling slightly dulls the top octave. It is fine for
    /// speech analysis and alignment, not for delivery-quality conversion.
    /// The output has `round(frames * to_rate / sample_rate)` frames. A
    /// `to_rate` of 0, a source rate of 0 or an equal rate returns a copy.
    pub fn resample_linear(&self, to_rate: u32) -> Pcm {
        if to_rate == 0 || self.sample_rate == 0 || to_rate == self.sample_rate {
            return self.clone();
        }
        let ch = usize::from(self.channels.max(1));
        let in_frames = self.samples.len() / ch;
        let ratio = f64::from(self.sample_rate) / f64::from(to_rate);
        let out_frames = (in_frames as f64 / ratio).round() as usize;
        let mut samples = Vec::with_capacity(out_frames * ch);
        for i in 0..out_frames {
            let pos = i as f64 * ratio;
            let i0 = (pos.floor() as usize).min(in_frames.saturating_sub(1));
            let i1 = (i0 + 1).min(in_frames.saturating_sub(1));
            let t = (pos - i0 as f64).clamp(0.0, 1.0) as f32;
            for c in 0..ch {
                let a = self.samples[i0 * ch + c];
                let b = self.samples[i1 * ch + c];
                samples.push(a + (b - a) * t);
            }
        }
        Pcm {
            sample_rate: to_rate,
            channels: self.channels,
            samples,
        }
    }
}

/// Reads a WAV file into `f32` PCM (see the module docs for the formats).
///
/// A file that is not WAV, is truncated, or uses an unsupported encoding
/// gives an error naming the file and the problem.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Pcm, WavError> {
    read_wav_format(path).map(|(pcm, _)| pcm)
}

/// Reads a WAV file as [`read_wav`] does, and says how it stored its
/// samples, so a tool can write its result the same way.
pub fn read_wav_format(path: impl AsRef<Path>) -> Result<(Pcm, SampleFormat), WavError> {
    let path = path.as_ref();
    let io_err = |source| WavError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let total = file.metadata().map_err(io_err)?.len();
    decode(BufReader::new(file), total, &path.display().to_string())
}

/// Reads `frames` frames starting at frame `start` of a 32-bit float WAV
/// file (what [`write_wav`] writes), seeking past the rest: a window of a
/// long recording costs its own length, not the recording's. Fewer frames
/// come back when the file ends first.
pub fn read_wav_range(
    path: impl AsRef<Path>,
    start: usize,
    frames: usize,
) -> Result<Pcm, WavError> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let invalid = |e: hound::Error| WavError::Invalid {
        origin: origin.clone(),
        reason: e.to_string(),
    };
    let mut reader = hound::WavReader::open(path).map_err(invalid)?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Float || spec.bits_per_sample != 32 {
        return Err(WavError::Unsupported {
            origin,
            what: format!(
                "{}-bit {:?} (ranged reads take the 32-bit float files Kino writes)",
                spec.bits_per_sample, spec.sample_format
            ),
        });
    }
    let total = reader.duration() as usize;
    let start = start.min(total);
    reader
        .seek(u32::try_from(start).unwrap_or(u32::MAX))
        .map_err(|e| WavError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    let channels = usize::from(spec.channels);
    let wanted = frames.min(total - start) * channels;
    let samples = reader
        .samples::<f32>()
        .take(wanted)
        .collect::<Result<Vec<f32>, _>>()
        .map_err(invalid)?;
    if samples.len() < wanted {
        return Err(WavError::Truncated {
            origin,
            declared: (wanted * 4) as u64,
            present: (samples.len() * 4) as u64,
        });
    }
    Ok(Pcm {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        samples,
    })
}

/// Decodes a WAV file held in memory (see the module docs for the formats).
///
/// A data chunk whose length is a streaming placeholder (0, or at least
/// `0x7FFF0000`, as written by tools streaming to a pipe) is taken to run to
/// the end of the bytes; any other data chunk longer than the bytes present is
/// an error.
pub fn decode_wav_bytes(bytes: &[u8]) -> Result<Pcm, WavError> {
    decode(bytes, bytes.len() as u64, "in-memory wav").map(|(pcm, _)| pcm)
}

/// How a WAV file stores its samples: what [`read_wav_format`] reports and
/// [`write_wav_as`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Integer PCM in containers of 8, 16, 24 or 32 bits.
    Int(u16),
    /// 32-bit IEEE float (64-bit float files are written back as this).
    Float32,
}

impl SampleFormat {
    /// 16-bit integer PCM, what every reader takes.
    pub const PCM16: SampleFormat = SampleFormat::Int(16);
}

impl std::fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleFormat::Int(8) => f.write_str("u8"),
            SampleFormat::Int(bits) => write!(f, "s{bits}"),
            SampleFormat::Float32 => f.write_str("f32"),
        }
    }
}

impl std::str::FromStr for SampleFormat {
    type Err = String;

    /// `u8`, `s16`, `s24`, `s32` or `f32`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "u8" => Ok(SampleFormat::Int(8)),
            "s16" => Ok(SampleFormat::Int(16)),
            "s24" => Ok(SampleFormat::Int(24)),
            "s32" => Ok(SampleFormat::Int(32)),
            "f32" => Ok(SampleFormat::Float32),
            other => Err(format!(
                "a sample format is u8, s16, s24, s32 or f32, not `{other}`"
            )),
        }
    }
}

/// Writes `pcm` in `format`: [`write_wav`] for float, [`write_wav_pcm16`]'s
/// dithered rounding for integers of any width (clipping beyond full scale).
/// Integer files of 8 and 16 bits with one or two channels get the plain
/// `WAVE_FORMAT_PCM` header every reader takes (Python's `wave` included).
pub fn write_wav_as(
    path: impl AsRef<Path>,
    pcm: &Pcm,
    format: SampleFormat,
) -> Result<(), WavError> {
    match format {
        SampleFormat::Float32 => write_wav(path, pcm),
        SampleFormat::Int(bits @ (8 | 16 | 24 | 32)) => write_int(path.as_ref(), pcm, bits),
        SampleFormat::Int(bits) => Err(WavError::InvalidPcm(format!(
            "{bits}-bit integer samples cannot be written (8, 16, 24 or 32)"
        ))),
    }
}

/// Writes `pcm` as a 32-bit IEEE float WAV file.
///
/// Float is lossless for `f32` PCM and keeps samples beyond full scale, which
/// makes it the right format for intermediate files; use [`write_wav_pcm16`]
/// for an integer file.
pub fn write_wav(path: impl AsRef<Path>, pcm: &Pcm) -> Result<(), WavError> {
    pcm.validate()?;
    let path = path.as_ref();
    let spec = hound::WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let wrap = |source| WavError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(wrap)?;
    for &s in &pcm.samples {
        writer.write_sample(s).map_err(wrap)?;
    }
    writer.finalize().map_err(wrap)
}

/// Writes `pcm` as a 16-bit integer PCM WAV file.
///
/// Samples are scaled by 32767, given TPDF dither (the sum of two independent
/// uniform values of ±0.5 LSB each, from a fixed-seed generator so output is
/// reproducible), rounded and clamped to the 16-bit range, so anything beyond
/// full scale is clipped. Exact digital silence stays silent (no dither is
/// added to a zero sample).
pub fn write_wav_pcm16(path: impl AsRef<Path>, pcm: &Pcm) -> Result<(), WavError> {
    write_int(path.as_ref(), pcm, 16)
}

/// Integer PCM of `bits` (8, 16, 24 or 32) with TPDF dither; see
/// [`write_wav_pcm16`].
fn write_int(path: &Path, pcm: &Pcm, bits: u16) -> Result<(), WavError> {
    pcm.validate()?;
    let spec = hound::WavSpec {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let wrap = |source| WavError::Write {
        path: path.to_path_buf(),
        source,
    };
    let full = f64::from((1u32 << (bits - 1)) - 1);
    let mut writer = hound::WavWriter::create(path, spec).map_err(wrap)?;
    let mut rng = XorShift32(0x9E37_79B9);
    for &s in &pcm.samples {
        let q = if s == 0.0 {
            0
        } else {
            let dither = rng.uniform_half() + rng.uniform_half();
            (f64::from(s) * full + dither)
                .round()
                .clamp(-full - 1.0, full) as i32
        };
        // hound takes 8-bit samples as signed and writes them offset (unsigned).
        match bits {
            8 => writer.write_sample(q as i8),
            16 => writer.write_sample(q as i16),
            _ => writer.write_sample(q),
        }
        .map_err(wrap)?;
    }
    writer.finalize().map_err(wrap)
}

/// Tiny deterministic generator for dither.
struct XorShift32(u32);

impl XorShift32 {
    /// Uniform in [-0.5, 0.5).
    fn uniform_half(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        f64::from(x) / 4_294_967_296.0 - 0.5
    }
}

/// The sample encoding of a data chunk.
#[derive(Clone, Copy)]
enum Encoding {
    Int,
    Float,
}

/// Placeholder data lengths written by streaming writers that cannot seek.
fn is_streaming_placeholder(len: u32) -> bool {
    len == 0 || len >= 0x7FFF_0000
}

const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Reads exactly `buf.len()` bytes, mapping a short read to a message.
fn read_exact(r: &mut impl Read, buf: &mut [u8], origin: &str, what: &str) -> Result<(), WavError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            WavError::Invalid {
                origin: origin.to_string(),
                reason: format!("file ends inside the {what}"),
            }
        } else {
            WavError::Invalid {
                origin: origin.to_string(),
                reason: format!("read error in the {what}: {e}"),
            }
        }
    })
}

/// Discards `n` bytes.
fn skip(r: &mut impl Read, n: u64, origin: &str, what: &str) -> Result<(), WavError> {
    let copied =
        std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| WavError::Invalid {
            origin: origin.to_string(),
            reason: format!("read error in the {what}: {e}"),
        })?;
    if copied != n {
        return Err(WavError::Invalid {
            origin: origin.to_string(),
            reason: format!("file ends inside the {what}"),
        });
    }
    Ok(())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Format details from the `fmt ` chunk.
struct Format {
    encoding: Encoding,
    channels: u16,
    sample_rate: u32,
    /// Container bytes per sample (integer samples are left-justified in
    /// it, so they are scaled by the container size whatever the valid bits).
    bytes: usize,
}

impl Format {
    /// How to write samples back the way this file stored them.
    fn sample_format(&self) -> SampleFormat {
        match self.encoding {
            Encoding::Int => SampleFormat::Int(self.bytes as u16 * 8),
            Encoding::Float => SampleFormat::Float32,
        }
    }
}

fn parse_fmt(body: &[u8], origin: &str) -> Result<Format, WavError> {
    let invalid = |reason: String| WavError::Invalid {
        origin: origin.to_string(),
        reason,
    };
    if body.len() < 16 {
        return Err(invalid(format!(
            "fmt chunk is {} bytes, expected at least 16",
            body.len()
        )));
    }
    let mut tag = u16_at(body, 0);
    let channels = u16_at(body, 2);
    let sample_rate = u32_at(body, 4);
    let block_align = u16_at(body, 12);
    let container_bits = u16_at(body, 14);
    let mut bits = container_bits;
    if tag == 0xFFFE {
        if body.len() < 40 {
            return Err(invalid(format!(
                "extensible fmt chunk is {} bytes, expected 40",
                body.len()
            )));
        }
        let valid = u16_at(body, 18);
        if valid != 0 {
            bits = valid;
        }
        if body[26..40] != GUID_TAIL {
            return Err(WavError::Unsupported {
                origin: origin.to_string(),
                what: "extensible sub-format with a non-standard guid".into(),
            });
        }
        tag = u16_at(body, 24);
    }
    if channels == 0 {
        return Err(invalid("fmt chunk declares 0 channels".into()));
    }
    if sample_rate == 0 {
        return Err(invalid("fmt chunk declares sample rate 0".into()));
    }
    let encoding = match tag {
        1 => Encoding::Int,
        3 => Encoding::Float,
        other => {
            return Err(WavError::Unsupported {
                origin: origin.to_string(),
                what: format!("format tag 0x{other:04x} (only integer pcm and float are decoded)"),
            });
        }
    };
    let bytes = usize::from(container_bits).div_ceil(8);
    let supported = match encoding {
        Encoding::Int => matches!(bytes, 1..=4) && bits >= 1 && usize::from(bits) <= bytes * 8,
        Encoding::Float => (bytes == 4 && bits == 32) || (bytes == 8 && bits == 64),
    };
    if !supported {
        let kind = match encoding {
            Encoding::Int => "integer",
            Encoding::Float => "float",
        };
        return Err(WavError::Unsupported {
            origin: origin.to_string(),
            what: format!("{bits}-bit {kind} in {container_bits}-bit containers"),
        });
    }
    if usize::from(block_align) != bytes * usize::from(channels) {
        return Err(invalid(format!(
            "block align {block_align} does not match {channels} channels of {bytes} bytes"
        )));
    }
    Ok(Format {
        encoding,
        channels,
        sample_rate,
        bytes,
    })
}

/// Parses a RIFF/WAVE stream of `total` bytes from `r`.
fn decode(mut r: impl Read, total: u64, origin: &str) -> Result<(Pcm, SampleFormat), WavError> {
    let invalid = |reason: &str| WavError::Invalid {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    if total < 12 {
        return Err(invalid(&format!(
            "{total} bytes is too short for a riff header"
        )));
    }
    let mut header = [0u8; 12];
    read_exact(&mut r, &mut header, origin, "riff header")?;
    if &header[0..4] == b"RF64" {
        return Err(WavError::Unsupported {
            origin: origin.to_string(),
            what: "rf64 (wav larger than 4 gib)".into(),
        });
    }
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(invalid("no riff/wave header"));
    }
    let mut pos: u64 = 12;
    let mut format: Option<Format> = None;
    loop {
        if total - pos < 8 {
            return Err(invalid("no data chunk"));
        }
        let mut ch = [0u8; 8];
        read_exact(&mut r, &mut ch, origin, "chunk header")?;
        pos += 8;
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let len = u32_at(&ch, 4);
        match &id {
            b"fmt " => {
                if u64::from(len) > total - pos || len > 1024 {
                    return Err(invalid(&format!("fmt chunk of {len} bytes")));
                }
                let mut body = vec![0u8; len as usize];
                read_exact(&mut r, &mut body, origin, "fmt chunk")?;
                pos += u64::from(len);
                format = Some(parse_fmt(&body, origin)?);
                if len % 2 == 1 && pos < total {
                    skip(&mut r, 1, origin, "fmt chunk")?;
                    pos += 1;
                }
            }
            b"data" => {
                let Some(fmt) = format else {
                    return Err(invalid("data chunk before the fmt chunk"));
                };
                let present = total - pos;
                let block = (fmt.bytes * usize::from(fmt.channels)) as u64;
                let declared = u64::from(len);
                let n = if declared <= present {
                    declared
                } else if is_streaming_placeholder(len) {
                    present
                } else {
                    return Err(WavError::Truncated {
                        origin: origin.to_string(),
                        declared,
                        present,
                    });
                };
                // Whole frames only: a trailing partial frame (which a
                // streaming writer may leave) is dropped.
                let n = n - n % block;
                return Ok((read_samples(r, &fmt, n, origin)?, fmt.sample_format()));
            }
            _ => {
                let padded = u64::from(len) + u64::from(len % 2);
                if padded > total - pos {
                    return Err(invalid(&format!(
                        "{} chunk of {len} bytes runs past the end of the file",
                        String::from_utf8_lossy(&id).trim_end()
                    )));
                }
                skip(&mut r, padded, origin, "chunk")?;
                pos += padded;
            }
        }
    }
}

/// Reads `n` bytes of sample data (a whole number of frames) and converts.
fn read_samples(r: impl Read, fmt: &Format, n: u64, origin: &str) -> Result<Pcm, WavError> {
    let count = (n / fmt.bytes as u64) as usize;
    let mut samples = Vec::with_capacity(count);
    let mut r = r.take(n);
    let mut buf = vec![0u8; 64 * 1024 - (64 * 1024) % fmt.bytes];
    let mut filled = 0usize;
    let scale = match fmt.encoding {
        Encoding::Int => 1.0 / (1u64 << (fmt.bytes * 8 - 1)) as f64,
        Encoding::Float => 1.0,
    };
    loop {
        let got = r.read(&mut buf[filled..]).map_err(|e| WavError::Invalid {
            origin: origin.to_string(),
            reason: format!("read error in the data chunk: {e}"),
        })?;
        filled += got;
        let whole = filled - filled % fmt.bytes;
        for s in buf[..whole].chunks_exact(fmt.bytes) {
            samples.push(convert(s, fmt, scale));
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        if got == 0 {
            break;
        }
    }
    if samples.len() != count {
        return Err(WavError::Truncated {
            origin: origin.to_string(),
            declared: n,
            present: (samples.len() * fmt.bytes + filled) as u64,
        });
    }
    Ok(Pcm {
        sample_rate: fmt.sample_rate,
        channels: fmt.channels,
        samples,
    })
}

/// Converts one little-endian sample to `f32`.
fn convert(s: &[u8], fmt: &Format, scale: f64) -> f32 {
    match (fmt.encoding, fmt.bytes) {
        // 8-bit WAV is unsigned with a 128 offset.
        (Encoding::Int, 1) => (f64::from(i16::from(s[0]) - 128) * scale) as f32,
        (Encoding::Int, 2) => (f64::from(i16::from_le_bytes([s[0], s[1]])) * scale) as f32,
        (Encoding::Int, 3) => {
            let v = i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8;
            (f64::from(v) * scale) as f32
        }
        (Encoding::Int, _) => {
            (f64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])) * scale) as f32
        }
        (Encoding::Float, 4) => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        (Encoding::Float, _) => {
            f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]) as f32
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sine(rate: u32, channels: u16, secs: f64) -> Pcm {
        let frames = (f64::from(rate) * secs) as usize;
        let mut samples = Vec::new();
        for i in 0..frames {
            for c in 0..channels {
                let t = i as f64 / f64::from(rate);
                let f = 440.0 * f64::from(c + 1);
                samples.push((0.5 * (2.0 * std::f64::consts::PI * f * t).sin()) as f32);
            }
        }
        Pcm {
            sample_rate: rate,
            channels,
            samples,
        }
    }

    #[test]
    fn float_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let mut pcm = sine(48_000, 2, 0.25);
        pcm.samples[0] = 1.5; // beyond full scale survives
        write_wav(&path, &pcm).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!(back, pcm);
        assert_eq!(back.frames(), 12_000);
        assert!((back.duration_secs() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_range_reads_exactly_those_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let pcm = sine(16_000, 2, 1.0);
        write_wav(&path, &pcm).unwrap();
        let part = read_wav_range(&path, 4_000, 2_500).unwrap();
        assert_eq!(part.channels, 2);
        assert_eq!(part.samples, pcm.samples[8_000..13_000]);
        // Past the end: what there is.
        assert_eq!(
            read_wav_range(&path, 15_000, 5_000).unwrap().frames(),
            1_000
        );
        assert_eq!(read_wav_range(&path, 20_000, 5).unwrap().frames(), 0);
        // Integer files are refused by name.
        let int = dir.path().join("i.wav");
        write_wav_pcm16(&int, &pcm).unwrap();
        let err = read_wav_range(&int, 0, 10).unwrap_err().to_string();
        assert!(err.contains("i.wav") && err.contains("16-bit"), "{err}");
    }

    #[test]
    fn pcm16_round_trip_within_dither() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.wav");
        let pcm = sine(44_100, 1, 0.1);
        write_wav_pcm16(&path, &pcm).unwrap();
        let back = read_wav(&path).unwrap();
        assert_eq!(back.sample_rate, 44_100);
        assert_eq!(back.channels, 1);
        assert_eq!(back.samples.len(), pcm.samples.len());
        for (a, b) in pcm.samples.iter().zip(&back.samples) {
            assert!((a - b).abs() <= 3.0 / 32768.0, "{a} vs {b}");
        }
    }

    #[test]
    fn each_sample_format_is_written_and_read_back_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let pcm = sine(22_050, 2, 0.05);
        for format in ["u8", "s16", "s24", "s32", "f32"] {
            let format: SampleFormat = format.parse().unwrap();
            let path = dir.path().join(format!("{format}.wav"));
            write_wav_as(&path, &pcm, format).unwrap();
            let (back, read_as) = read_wav_format(&path).unwrap();
            assert_eq!(read_as, format);
            assert_eq!((back.sample_rate, back.channels), (22_050, 2));
            let lsb = match format {
                SampleFormat::Int(bits) => 1.0 / (1u64 << (bits - 1)) as f32,
                SampleFormat::Float32 => 0.0,
            };
            for (a, b) in pcm.samples.iter().zip(&back.samples) {
                assert!((a - b).abs() <= 2.5 * lsb + 1e-7, "{format}: {a} vs {b}");
            }
        }
        // Plain PCM (format tag 1) where that is allowed, for readers that
        // take nothing else.
        let bytes = std::fs::read(dir.path().join("s16.wav")).unwrap();
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1);
        assert!("s12".parse::<SampleFormat>().unwrap_err().contains("s16"));
    }

    #[test]
    fn reads_24_and_32_bit_int() {
        let dir = tempfile::tempdir().unwrap();
        for bits in [8u16, 16, 24, 32] {
            let path = dir.path().join(format!("i{bits}.wav"));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 22_050,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let full = (1i64 << (bits - 1)) as f64;
            let values = [0.0, 0.5, -0.5, -1.0, 0.25, 0.999];
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for v in values {
                let q = (v * full).round().min(full - 1.0) as i32;
                if bits == 8 {
                    w.write_sample(q as i8).unwrap();
                } else {
                    w.write_sample(q).unwrap();
                }
            }
            w.finalize().unwrap();
            let back = read_wav(&path).unwrap();
            assert_eq!(back.channels, 2);
            assert_eq!(back.sample_rate, 22_050);
            for (v, b) in values.iter().zip(&back.samples) {
                assert!(
                    (*v as f32 - b).abs() <= 2.0 / full as f32,
                    "{bits}: {v} vs {b}"
                );
            }
        }
    }

    #[test]
    fn truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write_wav(&path, &sine(8_000, 1, 0.5)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_wav(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, WavError::Truncated { .. }), "{msg}");
        assert!(
            msg.contains("cut.wav") && msg.contains("truncated"),
            "{msg}"
        );

        // Cut inside the header.
        std::fs::write(&path, &bytes[..30]).unwrap();
        let msg = read_wav(&path).unwrap_err().to_string();
        assert!(msg.contains("cut.wav"), "{msg}");
    }

    #[test]
    fn non_wav_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.wav");
        std::fs::write(&path, b"this is not a wav file at all, just some text").unwrap();
        let msg = read_wav(&path).unwrap_err().to_string();
        assert!(msg.contains("text.wav") && msg.contains("riff"), "{msg}");

        let msg = read_wav(dir.path().join("nope.wav"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nope.wav"), "{msg}");

        assert!(decode_wav_bytes(b"").is_err());
        assert!(decode_wav_bytes(b"RIFF\0\0\0\0WAVE").is_err());
        for cut in 0..44 {
            // Every prefix of a header fails cleanly.
            let mut bytes = Vec::new();
            bytes.extend_from_slice(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0");
            bytes.extend_from_slice(&8000u32.to_le_bytes());
            bytes.extend_from_slice(&16000u32.to_le_bytes());
            bytes.extend_from_slice(b"\x02\0\x10\0data\x04\0\0\0");
            assert!(decode_wav_bytes(&bytes[..cut]).is_err(), "prefix {cut}");
        }
    }

    #[test]
    fn streamed_placeholder_length_reads_to_the_end() {
        // What `espeak-ng --stdout` writes: data length 0x7ffff000.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\0\0\0\x01\0\x01\0");
        bytes.extend_from_slice(&22_050u32.to_le_bytes());
        bytes.extend_from_slice(&44_100u32.to_le_bytes());
        bytes.extend_from_slice(b"\x02\0\x10\0data\x00\xf0\xff\x7f");
        for v in [0i16, 16384, -16384, 32767] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(7); // a trailing partial sample is dropped
        let pcm = decode_wav_bytes(&bytes).unwrap();
        assert_eq!(pcm.sample_rate, 22_050);
        assert_eq!(pcm.samples, vec![0.0, 0.5, -0.5, 32767.0 / 32768.0]);
    }

    #[test]
    fn mono_downmix_averages_channels() {
        let pcm = Pcm {
            sample_rate: 48_000,
            channels: 2,
            samples: vec![1.0, 0.0, 0.5, 0.5, -1.0, 1.0],
        };
        let mono = pcm.to_mono();
        assert_eq!(mono.channels, 1);
        assert_eq!(mono.sample_rate, 48_000);
        assert_eq!(mono.samples, vec![0.5, 0.5, 0.0]);
        assert_eq!(mono.to_mono(), mono);
    }

    #[test]
    fn linear_resample_keeps_duration_and_shape() {
        let pcm = sine(48_000, 1, 1.0);
        let down = pcm.resample_linear(16_000);
        assert_eq!(down.sample_rate, 16_000);
        assert_eq!(down.frames(), 16_000);
        // Every third input sample lands exactly on an output sample.
        for i in 0..100 {
            assert!((down.samples[i] - pcm.samples[3 * i]).abs() < 1e-6);
        }
        let up = down.resample_linear(48_000);
        assert_eq!(up.frames(), 48_000);
        let ramp = Pcm {
            sample_rate: 2,
            channels: 1,
            samples: vec![0.0, 1.0],
        };
        assert_eq!(ramp.resample_linear(4).samples, vec![0.0, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn invalid_pcm_is_rejected_by_writers() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Pcm {
            sample_rate: 48_000,
            channels: 2,
            samples: vec![0.0; 3],
        };
        let msg = write_wav(dir.path().join("x.wav"), &bad)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("3 samples"), "{msg}");
        let zero_rate = Pcm {
            sample_rate: 0,
            channels: 1,
            samples: vec![],
        };
        assert!(write_wav_pcm16(dir.path().join("y.wav"), &zero_rate).is_err());
    }
}
