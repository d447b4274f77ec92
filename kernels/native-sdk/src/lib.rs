//! `kino-kernel-sdk`: native kernels for Kino written in Rust, and the one
//! Rust definition of Kino's native kernel ABI (`kino_kernel.h`, version 1).
//!
//! A kernel library is a `cdylib` that implements [`Kernel`] for one type
//! per kernel and lists them in [`export_kernels!`], which generates the two
//! symbols the host looks for and the table of descriptors. Every call from
//! the host goes through a wrapper that checks the buffers against the
//! stream's format and catches panics: a panicking kernel answers an error
//! (`kernel `NAME` panicked: ...`) instead of aborting the host, and that
//! instance refuses further calls.
//!
//! ```standalone_crate
//! use std::ffi::CStr;
//! use kino_kernel_sdk::{export_kernels, Format, Input, Kernel, Kind, Output, Params};
//!
//! /// Multiplies every sample by a constant.
//! struct Gain {
//!     gain: f32,
//! }
//!
//! impl Kernel for Gain {
//!     const NAME: &'static CStr = c"gain";
//!     const DESCRIPTION: &'static CStr = c"multiplies every sample by `gain` (default 0.5)";
//!     const VERSION: u32 = 1;
//!     const INPUT: Kind = Kind::Audio;
//!     const OUTPUT: Kind = Kind::Audio;
//!
//!     fn create(_format: &Format, params: &str) -> Result<Self, String> {
//!         let params = Params::parse(params)?;
//!         params.deny_unknown(&["gain"])?;
//!         Ok(Gain { gain: params.number("gain", 0.5)? as f32 })
//!     }
//!
//!     fn process(&mut self, input: Input<'_>, output: Output<'_>) -> Result<(), String> {
//!         let (Input::Audio(block), Output::Audio(out)) = (input, output) else {
//!             return Err("gain: not an audio block".into());
//!         };
//!         for (o, i) in out.iter_mut().zip(block.samples) {
//!             *o = i * self.gain;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_kernels!(Gain);
//! # fn main() {}
//! ```
//!
//! Build it with `crate-type = ["cdylib"]` and the default `panic =
//! "unwind"` (with `panic = "abort"` a panic still kills the host), then
//! install the library with `kino kernel install`. Params arrive as the
//! stage's JSON object; [`Params`] reads flat objects of numbers, booleans
//! and strings, or use any JSON crate in your own library.
#![deny(missing_docs)]

pub mod abi;
#[doc(hidden)]
pub mod export;
pub mod params;

use std::ffi::CStr;
use std::fmt;

pub use params::{Params, Value};

/// The kind of a stream: what a kernel takes and what it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Packed RGB24 frames.
    Video,
    /// Interleaved 32-bit float samples.
    Audio,
    /// One UTF-8 JSON document.
    Json,
}

impl Kind {
    /// Its `KINO_KIND_*` value.
    pub const fn raw(self) -> u32 {
        match self {
            Kind::Video => abi::KINO_KIND_VIDEO,
            Kind::Audio => abi::KINO_KIND_AUDIO,
            Kind::Json => abi::KINO_KIND_JSON,
        }
    }

    /// The kind with `KINO_KIND_*` value `raw`, if there is one.
    pub const fn from_raw(raw: u32) -> Option<Kind> {
        match raw {
            abi::KINO_KIND_VIDEO => Some(Kind::Video),
            abi::KINO_KIND_AUDIO => Some(Kind::Audio),
            abi::KINO_KIND_JSON => Some(Kind::Json),
            _ => None,
        }
    }

    /// `"video"`, `"audio"` or `"json"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Json => "json",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pairs of kinds ABI 1 supports, in words, for error messages.
pub const SUPPORTED_PAIRS: &str = "video→video, audio→audio and json→json";

/// Whether ABI 1 supports a kernel from `input` to `output` (the same kind).
pub const fn is_supported_pair(input: Kind, output: Kind) -> bool {
    input.raw() == output.raw()
}

/// Whether `name` is a valid kernel name: lowercase ASCII letters, digits
/// and `-`, 1 to [`abi::KINO_KERNEL_NAME_MAX`] bytes.
pub const fn is_valid_kernel_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > abi::KINO_KERNEL_NAME_MAX {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The format of the stream an instance processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    /// Packed RGB24 frames, `width * 3` bytes per row, rows top to bottom.
    Video {
        /// Pixels per row.
        width: u32,
        /// Rows.
        height: u32,
        /// Frames per second.
        fps: f64,
    },
    /// Interleaved 32-bit float samples.
    Audio {
        /// Sample frames per second.
        sample_rate: u32,
        /// Samples per sample frame.
        channels: u16,
    },
    /// One UTF-8 JSON document.
    Json,
}

impl Format {
    /// The stream's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Format::Video { .. } => Kind::Video,
            Format::Audio { .. } => Kind::Audio,
            Format::Json => Kind::Json,
        }
    }

    /// Video: the bytes of one frame (`width * height * 3`), when it fits
    /// in memory; `None` for other kinds.
    pub fn frame_bytes(&self) -> Option<usize> {
        match *self {
            Format::Video { width, height, .. } => (width as usize)
                .checked_mul(height as usize)
                .and_then(|pixels| pixels.checked_mul(3)),
            _ => None,
        }
    }

    /// The `kino_format` the host passes to `create`.
    pub fn to_raw(&self) -> abi::KinoFormat {
        let mut raw = abi::KinoFormat {
            kind: self.kind().raw(),
            ..abi::KinoFormat::default()
        };
        match *self {
            Format::Video { width, height, fps } => {
                raw.width = width;
                raw.height = height;
                raw.fps = fps;
            }
            Format::Audio {
                sample_rate,
                channels,
            } => {
                raw.sample_rate = sample_rate;
                raw.channels = channels.into();
            }
            Format::Json => {}
        }
        raw
    }

    /// Reads and checks a `kino_format`: a known kind, a non-empty frame
    /// that fits in memory and a finite, positive frame rate for video, a
    /// sample rate and 1 to 65535 channels for audio.
    pub fn from_raw(raw: &abi::KinoFormat) -> Result<Format, String> {
        let kind = Kind::from_raw(raw.kind)
            .ok_or_else(|| format!("unknown stream kind {} in the format", raw.kind))?;
        let format = match kind {
            Kind::Video => Format::Video {
                width: raw.width,
                height: raw.height,
                fps: raw.fps,
            },
            Kind::Audio => Format::Audio {
                sample_rate: raw.sample_rate,
                channels: u16::try_from(raw.channels)
                    .map_err(|_| format!("{} audio channels is too many", raw.channels))?,
            },
            Kind::Json => Format::Json,
        };
        format.check()?;
        Ok(format)
    }

    /// Checks the format is usable (see [`Format::from_raw`]).
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Format::Video { width, height, fps } => {
                if width == 0 || height == 0 {
                    return Err(format!("video frames of {width}x{height} are empty"));
                }
                if self.frame_bytes().is_none_or(|b| b > isize::MAX as usize) {
                    return Err(format!("video frames of {width}x{height} are too large"));
                }
                if !(fps.is_finite() && fps > 0.0) {
                    return Err(format!("video frame rate {fps} is not a positive number"));
                }
            }
            Format::Audio {
                sample_rate,
                channels,
            } => {
                if sample_rate == 0 {
                    return Err("audio sample rate 0".to_owned());
                }
                if channels == 0 {
                    return Err("audio with 0 channels".to_owned());
                }
            }
            Format::Json => {}
        }
        Ok(())
    }
}

/// One frame of video, as a kernel sees it.
#[derive(Debug, Clone, Copy)]
pub struct VideoFrame<'a> {
    /// The frame number, from 0.
    pub index: u64,
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height * 3` bytes: RGB, rows top to bottom.
    pub data: &'a [u8],
}

/// One block of audio, as a kernel sees it.
#[derive(Debug, Clone, Copy)]
pub struct AudioBlock<'a> {
    /// The index in the stream of the block's first sample frame.
    pub first_frame: u64,
    /// Sample frames per second.
    pub sample_rate: u32,
    /// Samples per sample frame.
    pub channels: u16,
    /// Interleaved samples, `frames() * channels` of them.
    pub samples: &'a [f32],
}

impl AudioBlock<'_> {
    /// Sample frames in the block (at most [`abi::KINO_AUDIO_BLOCK_FRAMES`]).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }
}

/// What one call of [`Kernel::process`] gets: the variant of the kernel's
/// [`Kernel::INPUT`] kind.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// One frame.
    Video(VideoFrame<'a>),
    /// One block of at most 4096 sample frames.
    Audio(AudioBlock<'a>),
    /// The whole JSON document, UTF-8 (not checked by the SDK).
    Json(&'a [u8]),
}

/// Where one call of [`Kernel::process`] writes: the variant of the kernel's
/// [`Kernel::OUTPUT`] kind.
#[derive(Debug)]
pub enum Output<'a> {
    /// The output frame, the input's size; fill all of it.
    Video(&'a mut [u8]),
    /// The output block, the input's length; fill all of it.
    Audio(&'a mut [f32]),
    /// The output document, empty: push the bytes. The SDK hands them to
    /// the host, asking for a larger buffer when needed (without calling
    /// the kernel again).
    Json(&'a mut Vec<u8>),
}

/// A native kernel: one instance per pipeline node, used by one thread at a
/// time (so `&mut self` needs no lock), possibly moved between threads.
///
/// [`export_kernels!`] checks the constants at compile time.
pub trait Kernel: Sized + Send + 'static {
    /// The name pipelines use (`op = "native:NAME"`): lowercase ASCII
    /// letters, digits and `-`, 1 to 64 bytes.
    const NAME: &'static CStr;
    /// One line for `kino kernel list`.
    const DESCRIPTION: &'static CStr;
    /// Bump it whenever the output for the same input and params changes:
    /// the host's cache of stage outputs is keyed by it.
    const VERSION: u32;
    /// The kind of stream the kernel takes.
    const INPUT: Kind;
    /// The kind of stream the kernel makes (ABI 1: the same as `INPUT`).
    const OUTPUT: Kind;

    /// Makes an instance for a stream of `format` (always of kind
    /// [`Kernel::INPUT`]) with the stage's params, a JSON object (`{}` when
    /// the stage has none). An `Err` fails the stage with its message.
    fn create(format: &Format, params: &str) -> Result<Self, String>;

    /// Processes one frame, block or document. The SDK has checked the
    /// buffers against the format, and `output` is sized for the input.
    fn process(&mut self, input: Input<'_>, output: Output<'_>) -> Result<(), String>;
}

/// Exports kernel types (each implementing [`Kernel`]) from a `cdylib`:
/// generates `kino_kernel_abi_version`, `kino_kernel_table` and a static
/// descriptor per kernel whose entry points catch panics.
///
/// Invoke it once per library, at the crate root: `export_kernels!(Gain,
/// Delay);`. A name that breaks the naming rule, two kernels with one name
/// or an unsupported kind pair is a compile error:
///
/// ```compile_fail
/// use std::ffi::CStr;
/// use kino_kernel_sdk::{export_kernels, Format, Input, Kernel, Kind, Output};
///
/// struct Shouty;
///
/// impl Kernel for Shouty {
///     const NAME: &'static CStr = c"LOUD_NAME"; // uppercase and '_': refused
///     const DESCRIPTION: &'static CStr = c"";
///     const VERSION: u32 = 1;
///     const INPUT: Kind = Kind::Json;
///     const OUTPUT: Kind = Kind::Json;
///     fn create(_: &Format, _: &str) -> Result<Self, String> { Ok(Shouty) }
///     fn process(&mut self, _: Input<'_>, _: Output<'_>) -> Result<(), String> { Ok(()) }
/// }
///
/// export_kernels!(Shouty);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_kernels {
    ($($kernel:ty),+ $(,)?) => {
        const _: () = {
            $(
                assert!(
                    $crate::export::name_is_valid::<$kernel>(),
                    concat!(
                        "the NAME of `", stringify!($kernel),
                        "` must be 1 to 64 lowercase ASCII letters, digits or '-'"
                    )
                );
                assert!(
                    $crate::export::kinds_are_supported::<$kernel>(),
                    concat!(
                        "`", stringify!($kernel),
                        "`: ABI 1 supports video→video, audio→audio and json→json kernels"
                    )
                );
            )+
            assert!(
                $crate::export::names_are_distinct(&[$(<$kernel as $crate::Kernel>::NAME),+]),
                "two exported kernels have the same NAME"
            );
        };

        /// Kino's native kernel ABI version of this library.
        #[unsafe(no_mangle)]
        pub extern "C" fn kino_kernel_abi_version() -> u32 {
            $crate::abi::KINO_KERNEL_ABI_VERSION
        }

        /// The kernels of this library.
        #[unsafe(no_mangle)]
        pub extern "C" fn kino_kernel_table() -> *const $crate::abi::KinoKernelTable {
            static DESCRIPTORS: $crate::export::Descriptors<{ [$(stringify!($kernel)),+].len() }> =
                $crate::export::Descriptors([$($crate::export::descriptor::<$kernel>()),+]);
            static TABLE: $crate::export::Table = $crate::export::Table::new(&DESCRIPTORS.0);
            TABLE.as_ptr()
        }
    };
}

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in [Kind::Video, Kind::Audio, Kind::Json] {
            assert_eq!(Kind::from_raw(kind.raw()), Some(kind));
        }
        assert_eq!(Kind::from_raw(0), None);
        assert_eq!(Kind::from_raw(4), None);
        assert_eq!(Kind::Audio.to_string(), "audio");
    }

    #[test]
    fn names_follow_the_rule() {
        assert!(is_valid_kernel_name(b"unsharp-mask"));
        assert!(is_valid_kernel_name(b"a"));
        assert!(is_valid_kernel_name(&[b'x'; 64]));
        assert!(!is_valid_kernel_name(&[b'x'; 65]));
        assert!(!is_valid_kernel_name(b""));
        assert!(!is_valid_kernel_name(b"Unsharp"));
        assert!(!is_valid_kernel_name(b"un_sharp"));
        assert!(!is_valid_kernel_name(b"native:x"));
    }

    #[test]
    fn formats_round_trip_and_are_checked() {
        let formats = [
            Format::Video {
                width: 4,
                height: 2,
                fps: 24.0,
            },
            Format::Audio {
                sample_rate: 48_000,
                channels: 2,
            },
            Format::Json,
        ];
        for format in formats {
            assert_eq!(Format::from_raw(&format.to_raw()), Ok(format));
        }
        assert_eq!(formats[0].frame_bytes(), Some(24));
        let empty = Format::Video {
            width: 0,
            height: 2,
            fps: 24.0,
        };
        assert_eq!(
            Format::from_raw(&empty.to_raw()),
            Err("video frames of 0x2 are empty".to_owned())
        );
        let mut raw = formats[1].to_raw();
        raw.channels = 70_000;
        assert!(Format::from_raw(&raw).is_err());
        raw.kind = 9;
        assert_eq!(
            Format::from_raw(&raw),
            Err("unknown stream kind 9 in the format".to_owned())
        );
        let nan = Format::Video {
            width: 1,
            height: 1,
            fps: f64::NAN,
        };
        assert!(nan.check().is_err());
    }
}
