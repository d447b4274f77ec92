//! Calling a kernel: [`KernelHandle::start`] makes an [`Instance`], whose
//! methods lend the kernel host-owned buffers of the checked size, one call
//! at a time.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use kino_kernel_sdk::abi::{self, KinoBuffer, KinoError};

use crate::library::{Entry, Shared};
use crate::{Format, KernelError, KernelInfo};

/// The most sample frames in one [`Instance::audio_block`] call.
pub const AUDIO_BLOCK_FRAMES: usize = abi::KINO_AUDIO_BLOCK_FRAMES;

/// The largest JSON document a kernel may answer, in bytes.
pub const JSON_OUTPUT_LIMIT: usize = 64 << 20;

/// The first output buffer offered to a JSON kernel, at least.
const JSON_FIRST_CAPACITY: usize = 16 << 10;

/// How many times a JSON kernel may ask for a larger buffer in one call.
const JSON_MAX_GROWS: usize = 4;

/// One kernel of a loaded library; cheap to clone, shareable between
/// threads. It keeps its library loaded.
#[derive(Debug, Clone)]
pub struct KernelHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
}

impl KernelHandle {
    /// What the library says about the kernel.
    pub fn info(&self) -> &KernelInfo {
        &self.shared.kernels[self.index]
    }

    /// The sha256 (hex) of its library's file: with [`KernelInfo::version`],
    /// what identifies the kernel's behaviour.
    pub fn library_sha256(&self) -> &str {
        &self.shared.sha256
    }

    /// The path its library was loaded from.
    pub fn library_path(&self) -> &Path {
        &self.shared.path
    }

    fn error(&self, code: i32, message: impl Into<String>) -> KernelError {
        KernelError {
            kernel: self.info().name.clone(),
            code,
            message: message.into(),
        }
    }

    /// Makes an instance for a stream of `format` with the stage's params
    /// (`params_json`, a JSON object): the kernel's `create`.
    pub fn start(&self, format: &Format, params_json: &str) -> Result<Instance, KernelError> {
        let info = self.info();
        if format.kind() != info.input {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("it takes {} but was given {}", info.input, format.kind()),
            ));
        }
        format
            .check()
            .map_err(|reason| self.error(abi::KINO_ERR_INVALID, reason))?;
        let raw = format.to_raw();
        let create = self.entry().create;
        let instance = contain(&info.name, || {
            let mut error = KinoError::new();
            // SAFETY: the ABI's contract: a valid format, `params_len` bytes
            // of params, an error buffer, all valid for the call.
            let instance = unsafe {
                create(
                    &raw,
                    params_json.as_ptr().cast::<c_char>(),
                    params_json.len(),
                    &mut error,
                )
            };
            NonNull::new(instance).ok_or_else(|| {
                let message = error.text();
                self.error(
                    abi::KINO_ERR_FAILED,
                    if message.is_empty() {
                        "create returned no instance and no message".to_owned()
                    } else {
                        message
                    },
                )
            })
        })?;
        Ok(Instance {
            handle: self.clone(),
            format: *format,
            instance,
        })
    }

    fn entry(&self) -> Entry {
        self.shared.entries[self.index]
    }
}

/// Runs host-side code around a kernel call so that a panic in it (a bug
/// in this wrapper) becomes a [`KernelError`] rather than unwinding into
/// the caller's stage. Panics in Rust kernels are caught by the SDK on the
/// other side of the ABI.
fn contain<T>(
    kernel: &str,
    call: impl FnOnce() -> Result<T, KernelError>,
) -> Result<T, KernelError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Err(KernelError {
            kernel: kernel.to_owned(),
            code: abi::KINO_ERR_PANIC,
            message: format!("the host's call wrapper panicked: {what}"),
        })
    })
}

/// One instance of a kernel, for one stream: `destroy` runs on drop.
///
/// It may move between threads but is used by one at a time (`&mut self`),
/// as the ABI requires.
#[derive(Debug)]
pub struct Instance {
    handle: KernelHandle,
    format: Format,
    instance: NonNull<c_void>,
}

// SAFETY: the ABI lets an instance be called from any thread, one at a time;
// `&mut self` on every call (and no `Sync`) enforces one at a time.
unsafe impl Send for Instance {}

impl Instance {
    /// The kernel it runs.
    pub fn kernel(&self) -> &KernelHandle {
        &self.handle
    }

    /// The format of its stream.
    pub fn format(&self) -> &Format {
        &self.format
    }

    fn error(&self, code: i32, message: impl Into<String>) -> KernelError {
        self.handle.error(code, message)
    }

    /// One `process` call on host-owned buffers; returns the status and the
    /// output length the kernel reported.
    fn call(
        &mut self,
        index: u64,
        input: &[u8],
        output: &mut [u8],
        output_len: usize,
    ) -> Result<(i32, usize, String), KernelError> {
        let process = self.handle.entry().process;
        let instance = self.instance.as_ptr();
        let name = self.handle.info().name.clone();
        contain(&name, || {
            let input = KinoBuffer {
                // The kernel must not write through it (the header's rule).
                data: input.as_ptr().cast_mut(),
                len: input.len(),
                capacity: input.len(),
                index,
            };
            let mut out = KinoBuffer {
                data: output.as_mut_ptr(),
                len: output_len,
                capacity: output.len(),
                index,
            };
            let mut error = KinoError::new();
            // SAFETY: the instance is live and used by this thread only; the
            // buffers are valid for their lengths for the call.
            let status = unsafe { process(instance, &input, &mut out, &mut error) };
            Ok((status, out.len, error.text()))
        })
    }

    fn failed(&self, status: i32, message: String) -> KernelError {
        self.error(
            status,
            if message.is_empty() {
                format!("status {status} without a message")
            } else {
                message
            },
        )
    }

    /// Processes frame `index`: `input` and `output` are `width * height *
    /// 3` bytes of RGB24.
    pub fn video_frame(
        &mut self,
        index: u64,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), KernelError> {
        let Format::Video { width, height, .. } = self.format else {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("a video frame given to a {} stream", self.format.kind()),
            ));
        };
        let bytes = self.format.frame_bytes().unwrap_or(usize::MAX);
        if input.len() != bytes || output.len() != bytes {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!(
                    "a {width}x{height} RGB24 frame is {bytes} bytes; got {} in and {} out",
                    input.len(),
                    output.len()
                ),
            ));
        }
        let (status, len, message) = self.call(index, input, output, bytes)?;
        if status != abi::KINO_OK {
            return Err(self.failed(status, message));
        }
        if len != bytes {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("it set the output frame's length to {len}, expected {bytes}"),
            ));
        }
        Ok(())
    }

    /// Processes the block of audio starting at sample frame `first_frame`:
    /// `input` and `output` the same length, whole frames of interleaved
    /// samples, at most [`AUDIO_BLOCK_FRAMES`] frames.
    pub fn audio_block(
        &mut self,
        first_frame: u64,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<(), KernelError> {
        let Format::Audio { channels, .. } = self.format else {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("an audio block given to a {} stream", self.format.kind()),
            ));
        };
        let channels = usize::from(channels);
        if input.len() != output.len()
            || !input.len().is_multiple_of(channels)
            || input.len() / channels > AUDIO_BLOCK_FRAMES
        {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!(
                    "an audio block is the same number of samples in and out, whole frames of {channels} samples, at most {AUDIO_BLOCK_FRAMES} frames; got {} in and {} out",
                    input.len(),
                    output.len()
                ),
            ));
        }
        let bytes = std::mem::size_of_val(input);
        // SAFETY: f32 has no invalid bit patterns and u8 no alignment; the
        // views cover exactly the same memory for the call.
        let (input, output) = unsafe {
            (
                std::slice::from_raw_parts(input.as_ptr().cast::<u8>(), bytes),
                std::slice::from_raw_parts_mut(output.as_mut_ptr().cast::<u8>(), bytes),
            )
        };
        let (status, len, message) = self.call(first_frame, input, output, bytes)?;
        if status != abi::KINO_OK {
            return Err(self.failed(status, message));
        }
        if len != bytes {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("it set the output block's length to {len} bytes, expected {bytes}"),
            ));
        }
        Ok(())
    }

    /// Processes one JSON document and returns the kernel's. The output
    /// buffer grows when the kernel asks (`KINO_ERR_NEED_SPACE`), up to
    /// [`JSON_OUTPUT_LIMIT`].
    pub fn json(&mut self, input: &[u8]) -> Result<Vec<u8>, KernelError> {
        if self.format != Format::Json {
            return Err(self.error(
                abi::KINO_ERR_INVALID,
                format!("a JSON document given to a {} stream", self.format.kind()),
            ));
        }
        let mut capacity = input.len().clamp(JSON_FIRST_CAPACITY, JSON_OUTPUT_LIMIT);
        for _ in 0..=JSON_MAX_GROWS {
            let mut output = vec![0u8; capacity];
            let (status, len, message) = self.call(0, input, &mut output, 0)?;
            match status {
                abi::KINO_OK if len <= capacity => {
                    output.truncate(len);
                    return Ok(output);
                }
                abi::KINO_OK => {
                    return Err(self.error(
                        abi::KINO_ERR_INVALID,
                        format!("it reported {len} bytes of output in a buffer of {capacity}"),
                    ));
                }
                abi::KINO_ERR_NEED_SPACE if len > JSON_OUTPUT_LIMIT => {
                    return Err(self.error(
                        abi::KINO_ERR_NEED_SPACE,
                        format!(
                            "it needs {len} bytes of output, more than the limit of {JSON_OUTPUT_LIMIT}"
                        ),
                    ));
                }
                abi::KINO_ERR_NEED_SPACE if len <= capacity => {
                    return Err(self.error(
                        abi::KINO_ERR_NEED_SPACE,
                        format!(
                            "it asked for more space but needs {len} bytes, which the buffer of {capacity} holds"
                        ),
                    ));
                }
                abi::KINO_ERR_NEED_SPACE => capacity = len,
                _ => return Err(self.failed(status, message)),
            }
        }
        Err(self.error(
            abi::KINO_ERR_NEED_SPACE,
            format!("it asked for more space {} times", JSON_MAX_GROWS + 1),
        ))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let destroy = self.handle.entry().destroy;
        let instance = self.instance.as_ptr();
        // SAFETY: made by this kernel's `create`, not in use (`&mut self`),
        // destroyed once; the library stays loaded through `handle`.
        unsafe { destroy(instance) };
    }
}
