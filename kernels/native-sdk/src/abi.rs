//! The `#[repr(C)]` mirror of `kernels/native/include/kino_kernel.h`, ABI
//! version 1: the one Rust definition of the ABI, used by the host's loader
//! (`kino-native`) and by [`export_kernels!`](crate::export_kernels).
//!
//! Names follow the header: `KINO_*` constants keep their C names, and each
//! `kino_*` type is its CamelCase twin ([`KinoFormat`] is `kino_format`).
//! The header is the contract; a test reads it and checks that the constants
//! here equal its `#define`s.

use std::ffi::{c_char, c_void};

/// The ABI version this crate implements (`KINO_KERNEL_ABI_VERSION`).
pub const KINO_KERNEL_ABI_VERSION: u32 = 1;

/// Packed RGB24 frames (`KINO_KIND_VIDEO`).
pub const KINO_KIND_VIDEO: u32 = 1;
/// Interleaved 32-bit float samples (`KINO_KIND_AUDIO`).
pub const KINO_KIND_AUDIO: u32 = 2;
/// One UTF-8 JSON document (`KINO_KIND_JSON`).
pub const KINO_KIND_JSON: u32 = 3;

/// Done; the output is complete (`KINO_OK`).
pub const KINO_OK: i32 = 0;
/// The kernel failed; the message says why (`KINO_ERR_FAILED`).
pub const KINO_ERR_FAILED: i32 = 1;
/// The input or its format is not valid for the kernel (`KINO_ERR_INVALID`).
pub const KINO_ERR_INVALID: i32 = 2;
/// JSON output only: `output.len` holds the bytes needed (`KINO_ERR_NEED_SPACE`).
pub const KINO_ERR_NEED_SPACE: i32 = 3;
/// A Rust kernel panicked; the SDK caught it (`KINO_ERR_PANIC`).
pub const KINO_ERR_PANIC: i32 = 4;

/// The most sample frames in one audio block (`KINO_AUDIO_BLOCK_FRAMES`).
pub const KINO_AUDIO_BLOCK_FRAMES: usize = 4096;
/// The size of [`KinoError::message`], NUL included (`KINO_ERROR_MESSAGE_LEN`).
pub const KINO_ERROR_MESSAGE_LEN: usize = 512;
/// The longest kernel name in bytes (`KINO_KERNEL_NAME_MAX`).
pub const KINO_KERNEL_NAME_MAX: usize = 64;

/// The exported symbol returning the library's ABI version, NUL-terminated.
pub const ABI_VERSION_SYMBOL: &[u8] = b"kino_kernel_abi_version\0";
/// The exported symbol returning the library's [`KinoKernelTable`], NUL-terminated.
pub const TABLE_SYMBOL: &[u8] = b"kino_kernel_table\0";

/// `kino_format`: the format of the stream an instance processes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KinoFormat {
    /// `KINO_KIND_*`.
    pub kind: u32,
    /// Video: pixels per row; 0 otherwise.
    pub width: u32,
    /// Video: rows; 0 otherwise.
    pub height: u32,
    /// Audio: sample frames per second; 0 otherwise.
    pub sample_rate: u32,
    /// Audio: samples per sample frame; 0 otherwise.
    pub channels: u32,
    /// Always 0.
    pub reserved: u32,
    /// Video: frames per second; 0 otherwise.
    pub fps: f64,
}

/// `kino_buffer`: memory owned by the host, lent for one call.
#[repr(C)]
#[derive(Debug)]
pub struct KinoBuffer {
    /// The bytes (audio: `f32` samples, interleaved, aligned for `f32`).
    pub data: *mut u8,
    /// Bytes in use.
    pub len: usize,
    /// Bytes available at `data`.
    pub capacity: usize,
    /// Video: the frame number; audio: the block's first sample frame; JSON: 0.
    pub index: u64,
}

/// `kino_error`: where a kernel writes a NUL-terminated UTF-8 message.
#[repr(C)]
#[derive(Clone)]
pub struct KinoError {
    /// The message, NUL-terminated.
    pub message: [c_char; KINO_ERROR_MESSAGE_LEN],
}

impl KinoError {
    /// An empty message (all zeros), as the host passes it.
    pub const fn new() -> Self {
        KinoError {
            message: [0; KINO_ERROR_MESSAGE_LEN],
        }
    }

    /// The message up to the first NUL, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self
            .message
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Writes `message`, cut at a character boundary to fit, and a NUL.
    pub fn set(&mut self, message: &str) {
        let mut end = message.len().min(KINO_ERROR_MESSAGE_LEN - 1);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        for (slot, &byte) in self.message.iter_mut().zip(&message.as_bytes()[..end]) {
            *slot = byte as c_char;
        }
        self.message[end] = 0;
    }
}

impl Default for KinoError {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for KinoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KinoError")
            .field("message", &self.text())
            .finish()
    }
}

/// `kino_kernel.create`.
pub type CreateFn = unsafe extern "C" fn(
    format: *const KinoFormat,
    params_json: *const c_char,
    params_len: usize,
    error: *mut KinoError,
) -> *mut c_void;

/// `kino_kernel.process`.
pub type ProcessFn = unsafe extern "C" fn(
    instance: *mut c_void,
    input: *const KinoBuffer,
    output: *mut KinoBuffer,
    error: *mut KinoError,
) -> i32;

/// `kino_kernel.destroy`.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// The type of the exported `kino_kernel_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;

/// The type of the exported `kino_kernel_table`.
pub type TableFn = unsafe extern "C" fn() -> *const KinoKernelTable;

/// `kino_kernel`: one kernel, described by its library.
///
/// The function pointers are `Option`s because a library may leave them
/// NULL; the host refuses such a descriptor at load.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KinoKernel {
    /// The kernel's name, NUL-terminated.
    pub name: *const c_char,
    /// One line describing it, NUL-terminated.
    pub description: *const c_char,
    /// Bumped by the author when the output changes.
    pub version: u32,
    /// `KINO_KIND_*` of the input.
    pub input_kind: u32,
    /// `KINO_KIND_*` of the output.
    pub output_kind: u32,
    /// Makes an instance.
    pub create: Option<CreateFn>,
    /// Processes one unit of input.
    pub process: Option<ProcessFn>,
    /// Frees an instance.
    pub destroy: Option<DestroyFn>,
}

/// `struct kino_kernel_table`: every kernel of a library.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct KinoKernelTable {
    /// Entries in `kernels`.
    pub count: u32,
    /// `count` descriptors.
    pub kernels: *const KinoKernel,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../../native/include/kino_kernel.h");

    fn define(name: &str) -> i64 {
        let line = HEADER
            .lines()
            .find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some("#define") && words.next() == Some(name)
            })
            .unwrap_or_else(|| panic!("the header defines {name}"));
        line.split_whitespace()
            .nth(2)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} is a number in `{line}`"))
    }

    #[test]
    fn constants_equal_the_header() {
        let pairs: [(&str, i64); 12] = [
            ("KINO_KERNEL_ABI_VERSION", KINO_KERNEL_ABI_VERSION.into()),
            ("KINO_KIND_VIDEO", KINO_KIND_VIDEO.into()),
            ("KINO_KIND_AUDIO", KINO_KIND_AUDIO.into()),
            ("KINO_KIND_JSON", KINO_KIND_JSON.into()),
            ("KINO_OK", KINO_OK.into()),
            ("KINO_ERR_FAILED", KINO_ERR_FAILED.into()),
            ("KINO_ERR_INVALID", KINO_ERR_INVALID.into()),
            ("KINO_ERR_NEED_SPACE", KINO_ERR_NEED_SPACE.into()),
            ("KINO_ERR_PANIC", KINO_ERR_PANIC.into()),
            ("KINO_AUDIO_BLOCK_FRAMES", KINO_AUDIO_BLOCK_FRAMES as i64),
            ("KINO_ERROR_MESSAGE_LEN", KINO_ERROR_MESSAGE_LEN as i64),
            ("KINO_KERNEL_NAME_MAX", KINO_KERNEL_NAME_MAX as i64),
        ];
        for (name, value) in pairs {
            assert_eq!(define(name), value, "{name}");
        }
        // The symbols are spelled as in the header's prototypes.
        for symbol in [ABI_VERSION_SYMBOL, TABLE_SYMBOL] {
            let name = std::str::from_utf8(&symbol[..symbol.len() - 1]).expect("ascii");
            assert!(
                HEADER.contains(&format!("{name}(void);")),
                "the header declares {name}"
            );
        }
    }

    #[test]
    fn layout_is_c_layout() {
        // The C compiler's view is checked by kino-native's tests; here the
        // sizes the header implies on any LP64 or ILP32 target.
        assert_eq!(std::mem::size_of::<KinoFormat>(), 32);
        assert_eq!(std::mem::offset_of!(KinoFormat, fps), 24);
        assert_eq!(std::mem::size_of::<KinoError>(), KINO_ERROR_MESSAGE_LEN);
        assert_eq!(
            std::mem::size_of::<Option<CreateFn>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn error_messages_are_cut_at_a_character_boundary() {
        let mut error = KinoError::new();
        error.set("kernel `x` failed");
        assert_eq!(error.text(), "kernel `x` failed");
        let long = "é".repeat(400); // 800 bytes
        error.set(&long);
        let text = error.text();
        assert_eq!(text.len(), 510);
        assert!(text.chars().all(|c| c == 'é'));
        error.set("");
        assert_eq!(error.text(), "");
    }
}
