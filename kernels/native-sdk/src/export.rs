//! What [`export_kernels!`](crate::export_kernels) expands to: the static
//! descriptors and the `extern "C"` entry points around a [`Kernel`].
//!
//! Not a stable API: only the macro uses it.

use std::any::Any;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};

use crate::abi::{self, KinoBuffer, KinoError, KinoFormat, KinoKernel, KinoKernelTable};
use crate::{AudioBlock, Format, Input, Kernel, Output, VideoFrame};

/// The descriptors of a library, in a static.
pub struct Descriptors<const N: usize>(pub [KinoKernel; N]);

// SAFETY: the descriptors are immutable and point only at `'static` data
// (C string literals and functions).
unsafe impl<const N: usize> Sync for Descriptors<N> {}

/// The table of a library, in a static.
pub struct Table(KinoKernelTable);

// SAFETY: as for `Descriptors`: immutable, pointing at a `'static` array.
unsafe impl Sync for Table {}

impl Table {
    /// The table of `descriptors`.
    pub const fn new(descriptors: &'static [KinoKernel]) -> Table {
        Table(KinoKernelTable {
            count: descriptors.len() as u32,
            kernels: descriptors.as_ptr(),
        })
    }

    /// What `kino_kernel_table` returns.
    pub const fn as_ptr(&'static self) -> *const KinoKernelTable {
        &self.0
    }
}

/// Whether `K::NAME` follows the naming rule.
pub const fn name_is_valid<K: Kernel>() -> bool {
    crate::is_valid_kernel_name(K::NAME.to_bytes())
}

/// Whether ABI 1 supports `K`'s kinds.
pub const fn kinds_are_supported<K: Kernel>() -> bool {
    crate::is_supported_pair(K::INPUT, K::OUTPUT)
}

/// Whether no two of `names` are equal.
pub const fn names_are_distinct(names: &[&CStr]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if bytes_equal(names[i].to_bytes(), names[j].to_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `K`'s descriptor.
pub const fn descriptor<K: Kernel>() -> KinoKernel {
    KinoKernel {
        name: K::NAME.as_ptr(),
        description: K::DESCRIPTION.as_ptr(),
        version: K::VERSION,
        input_kind: K::INPUT.raw(),
        output_kind: K::OUTPUT.raw(),
        create: Some(create::<K>),
        process: Some(process::<K>),
        destroy: Some(destroy::<K>),
    }
}

/// An instance as the host holds it.
struct Slot<K> {
    kernel: K,
    format: Format,
    /// Set when a call panicked: the kernel's state may be half-updated.
    poisoned: bool,
    /// JSON output that did not fit, kept for the host's next call with a
    /// larger buffer: (input, output).
    pending: Option<(Vec<u8>, Vec<u8>)>,
}

/// A failure on its way to the host: a status code and a message.
struct Failure(i32, String);

impl Failure {
    fn invalid(message: impl Into<String>) -> Failure {
        Failure(abi::KINO_ERR_INVALID, message.into())
    }
}

fn kernel_name<K: Kernel>() -> String {
    K::NAME.to_string_lossy().into_owned()
}

fn panic_message<K: Kernel>(payload: &(dyn Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    format!("kernel `{}` panicked: {what}", kernel_name::<K>())
}

/// Writes `message` into the host's error buffer, if it passed one.
fn report(error: *mut KinoError, message: &str) {
    // SAFETY: the host passes NULL or a valid, exclusive `kino_error`.
    if let Some(error) = unsafe { error.as_mut() } {
        error.set(message);
    }
}

/// A slice of `len` `T`s at `data`, or a failure if the pointer is NULL or
/// misaligned.
///
/// # Safety
/// When `data` is not NULL it must point at `len` valid `T`s, unaliased by
/// any `&mut` for `'a`.
unsafe fn lend<'a, T>(data: *const u8, len: usize, what: &str) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() || !(data as usize).is_multiple_of(align_of::<T>()) {
        return Err(Failure::invalid(format!(
            "the {what} buffer is NULL or misaligned"
        )));
    }
    // SAFETY: non-NULL and aligned, and valid for `len` by the caller.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<T>(), len) })
}

/// As [`lend`], mutable.
///
/// # Safety
/// When `data` is not NULL it must point at `len` valid `T`s that nothing
/// else accesses for `'a`.
unsafe fn lend_mut<'a, T>(data: *mut u8, len: usize, what: &str) -> Result<&'a mut [T], Failure> {
    if len == 0 {
        return Ok(&mut []);
    }
    if data.is_null() || !(data as usize).is_multiple_of(align_of::<T>()) {
        return Err(Failure::invalid(format!(
            "the {what} buffer is NULL or misaligned"
        )));
    }
    // SAFETY: non-NULL and aligned, and valid and exclusive by the caller.
    Ok(unsafe { std::slice::from_raw_parts_mut(data.cast::<T>(), len) })
}

/// `kino_kernel.create` for `K`.
///
/// # Safety
/// Called by the host as `kino_kernel.h` says: `format` and `error` valid,
/// `params_json` valid for `params_len` bytes.
pub unsafe extern "C" fn create<K: Kernel>(
    format: *const KinoFormat,
    params_json: *const c_char,
    params_len: usize,
    error: *mut KinoError,
) -> *mut c_void {
    let made = catch_unwind(AssertUnwindSafe(|| -> Result<*mut c_void, String> {
        // SAFETY: the host passes NULL or a valid format.
        let raw = unsafe { format.as_ref() }.ok_or("no format was given")?;
        let format = Format::from_raw(raw)?;
        if format.kind() != K::INPUT {
            return Err(format!(
                "kernel `{}` takes {} but the stream is {}",
                kernel_name::<K>(),
                K::INPUT,
                format.kind()
            ));
        }
        // SAFETY: the host passes `params_len` readable bytes.
        let bytes = unsafe { lend::<u8>(params_json.cast(), params_len, "params") }
            .map_err(|Failure(_, m)| m)?;
        let params =
            std::str::from_utf8(bytes).map_err(|e| format!("the params are not UTF-8: {e}"))?;
        let params = if params.trim().is_empty() {
            "{}"
        } else {
            params
        };
        let kernel = K::create(&format, params)?;
        let slot = Box::new(Slot {
            kernel,
            format,
            poisoned: false,
            pending: None,
        });
        Ok(Box::into_raw(slot).cast())
    }));
    match made {
        Ok(Ok(instance)) => instance,
        Ok(Err(message)) => {
            report(error, &message);
            ptr::null_mut()
        }
        Err(payload) => {
            report(error, &panic_message::<K>(&*payload));
            ptr::null_mut()
        }
    }
}

/// `kino_kernel.process` for `K`.
///
/// # Safety
/// Called by the host as `kino_kernel.h` says: `instance` made by
/// [`create`] for `K` and not destroyed, the buffers valid for their
/// lengths and capacities, nothing else using the instance.
pub unsafe extern "C" fn process<K: Kernel>(
    instance: *mut c_void,
    input: *const KinoBuffer,
    output: *mut KinoBuffer,
    error: *mut KinoError,
) -> i32 {
    let Some(slot) = NonNull::new(instance.cast::<Slot<K>>()) else {
        report(error, "no instance was given");
        return abi::KINO_ERR_INVALID;
    };
    // SAFETY: `create` made it, and the host uses it from one thread at a time.
    let slot = unsafe { &mut *slot.as_ptr() };
    if slot.poisoned {
        report(
            error,
            &format!(
                "kernel `{}` panicked earlier; this instance can't be used again",
                kernel_name::<K>()
            ),
        );
        return abi::KINO_ERR_PANIC;
    }
    // SAFETY: forwarded from the caller.
    let done = catch_unwind(AssertUnwindSafe(|| unsafe { run(slot, input, output) }));
    match done {
        Ok(Ok(status)) => status,
        Ok(Err(Failure(code, message))) => {
            report(error, &message);
            code
        }
        Err(payload) => {
            slot.poisoned = true;
            slot.pending = None;
            report(error, &panic_message::<K>(&*payload));
            abi::KINO_ERR_PANIC
        }
    }
}

/// The body of [`process`]: checks the buffers, lends them to the kernel.
///
/// # Safety
/// As for [`process`].
unsafe fn run<K: Kernel>(
    slot: &mut Slot<K>,
    input: *const KinoBuffer,
    output: *mut KinoBuffer,
) -> Result<i32, Failure> {
    // SAFETY: the host passes NULL or valid buffers.
    let (Some(input), Some(output)) = (unsafe { input.as_ref() }, unsafe { output.as_mut() })
    else {
        return Err(Failure::invalid("no input or output buffer was given"));
    };
    let failed = |message: String| Failure(abi::KINO_ERR_FAILED, message);
    match slot.format {
        Format::Video { width, height, .. } => {
            let bytes = slot.format.frame_bytes().unwrap_or(usize::MAX);
            if input.len != bytes || output.capacity < bytes {
                return Err(Failure::invalid(format!(
                    "a {width}x{height} frame is {bytes} bytes; got {} in, room for {} out",
                    input.len, output.capacity
                )));
            }
            // SAFETY: the host lends `len` bytes in and `capacity` out.
            let data = unsafe { lend::<u8>(input.data, bytes, "input") }?;
            // SAFETY: as above.
            let out = unsafe { lend_mut::<u8>(output.data, bytes, "output") }?;
            let frame = VideoFrame {
                index: input.index,
                width,
                height,
                data,
            };
            slot.kernel
                .process(Input::Video(frame), Output::Video(out))
                .map_err(failed)?;
            output.len = bytes;
        }
        Format::Audio {
            sample_rate,
            channels,
        } => {
            let sample = size_of::<f32>();
            let samples = input.len / sample;
            let frames = samples / usize::from(channels);
            if !input.len.is_multiple_of(sample)
                || !samples.is_multiple_of(usize::from(channels))
                || frames > abi::KINO_AUDIO_BLOCK_FRAMES
                || output.capacity < input.len
            {
                return Err(Failure::invalid(format!(
                    "an audio block is whole frames of {channels} f32 samples, at most {} frames; got {} bytes in, room for {} out",
                    abi::KINO_AUDIO_BLOCK_FRAMES,
                    input.len,
                    output.capacity
                )));
            }
            // SAFETY: the host lends `len` bytes in and `capacity` out.
            let samples_in = unsafe { lend::<f32>(input.data, samples, "input") }?;
            // SAFETY: as above.
            let samples_out = unsafe { lend_mut::<f32>(output.data, samples, "output") }?;
            let block = AudioBlock {
                first_frame: input.index,
                sample_rate,
                channels,
                samples: samples_in,
            };
            slot.kernel
                .process(Input::Audio(block), Output::Audio(samples_out))
                .map_err(failed)?;
            output.len = input.len;
        }
        Format::Json => {
            // SAFETY: the host lends `len` bytes in.
            let document = unsafe { lend::<u8>(input.data, input.len, "input") }?;
            let written = match slot.pending.take() {
                Some((previous, written)) if previous == document => written,
                _ => {
                    let mut written = Vec::new();
                    slot.kernel
                        .process(Input::Json(document), Output::Json(&mut written))
                        .map_err(failed)?;
                    written
                }
            };
            output.len = written.len();
            if written.len() > output.capacity {
                slot.pending = Some((document.to_vec(), written));
                return Ok(abi::KINO_ERR_NEED_SPACE);
            }
            // SAFETY: the host lends `capacity` bytes out.
            let out = unsafe { lend_mut::<u8>(output.data, written.len(), "output") }?;
            out.copy_from_slice(&written);
        }
    }
    Ok(abi::KINO_OK)
}

/// `kino_kernel.destroy` for `K`.
///
/// # Safety
/// `instance` was made by [`create`] for `K`, is not in use and is not
/// used again.
pub unsafe extern "C" fn destroy<K: Kernel>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: `create` made it with `Box::into_raw`; the host destroys it once.
    let slot = unsafe { Box::from_raw(instance.cast::<Slot<K>>()) };
    // A panicking `Drop` must not unwind into the host; nothing to report it to.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(slot)));
}
