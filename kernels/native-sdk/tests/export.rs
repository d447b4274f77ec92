//! `export_kernels!` driven through the raw ABI, as a host would: the
//! table, the buffer checks, the JSON space protocol, caught panics.

use std::cell::Cell;
use std::ffi::{CStr, c_void};

use kino_kernel_sdk::abi::{self, KinoBuffer, KinoError, KinoKernel};
use kino_kernel_sdk::{Format, Input, Kernel, Kind, Output, Params, export_kernels};

/// Inverts RGB frames.
struct Invert;

impl Kernel for Invert {
    const NAME: &'static CStr = c"invert";
    const DESCRIPTION: &'static CStr = c"inverts every channel";
    const VERSION: u32 = 3;
    const INPUT: Kind = Kind::Video;
    const OUTPUT: Kind = Kind::Video;

    fn create(_: &Format, params: &str) -> Result<Self, String> {
        Params::parse(params)?.deny_unknown(&[])?;
        Ok(Invert)
    }

    fn process(&mut self, input: Input<'_>, output: Output<'_>) -> Result<(), String> {
        let (Input::Video(frame), Output::Video(out)) = (input, output) else {
            return Err("not video".into());
        };
        if frame.index == 13 {
            return Err("frame 13 is unlucky".into());
        }
        for (o, i) in out.iter_mut().zip(frame.data) {
            *o = 255 - i;
        }
        Ok(())
    }
}

thread_local! {
    static REPEAT_CALLS: Cell<usize> = const { Cell::new(0) };
}

/// Repeats the document `times` times in an array; panics on `"boom"`.
struct Repeat {
    times: usize,
}

impl Kernel for Repeat {
    const NAME: &'static CStr = c"repeat";
    const DESCRIPTION: &'static CStr = c"repeats a document";
    const VERSION: u32 = 1;
    const INPUT: Kind = Kind::Json;
    const OUTPUT: Kind = Kind::Json;

    fn create(_: &Format, params: &str) -> Result<Self, String> {
        let params = Params::parse(params)?;
        Ok(Repeat {
            times: params.number("times", 2.0)? as usize,
        })
    }

    fn process(&mut self, input: Input<'_>, output: Output<'_>) -> Result<(), String> {
        REPEAT_CALLS.with(|c| c.set(c.get() + 1));
        let (Input::Json(document), Output::Json(out)) = (input, output) else {
            return Err("not json".into());
        };
        if document == b"\"boom\"" {
            panic!("the document said boom");
        }
        out.push(b'[');
        for i in 0..self.times {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(document);
        }
        out.push(b']');
        Ok(())
    }
}

export_kernels!(Invert, Repeat);

fn descriptors() -> &'static [KinoKernel] {
    let table = kino_kernel_table();
    // SAFETY: the macro's static table.
    let table = unsafe { &*table };
    // SAFETY: `count` descriptors, static.
    unsafe { std::slice::from_raw_parts(table.kernels, table.count as usize) }
}

fn create(kernel: &KinoKernel, format: &Format, params: &str) -> Result<*mut c_void, String> {
    let mut error = KinoError::new();
    let create = kernel.create.expect("create");
    // SAFETY: the ABI's contract.
    let instance = unsafe {
        create(
            &format.to_raw(),
            params.as_ptr().cast(),
            params.len(),
            &mut error,
        )
    };
    if instance.is_null() {
        Err(error.text())
    } else {
        Ok(instance)
    }
}

fn process(
    kernel: &KinoKernel,
    instance: *mut c_void,
    input: &[u8],
    index: u64,
    output: &mut [u8],
) -> (i32, usize, String) {
    let process = kernel.process.expect("process");
    let input = KinoBuffer {
        data: input.as_ptr().cast_mut(),
        len: input.len(),
        capacity: input.len(),
        index,
    };
    let mut out = KinoBuffer {
        data: output.as_mut_ptr(),
        len: 0,
        capacity: output.len(),
        index,
    };
    let mut error = KinoError::new();
    // SAFETY: the ABI's contract.
    let status = unsafe { process(instance, &input, &mut out, &mut error) };
    (status, out.len, error.text())
}

fn destroy(kernel: &KinoKernel, instance: *mut c_void) {
    // SAFETY: made by this kernel's create, destroyed once.
    unsafe { kernel.destroy.expect("destroy")(instance) }
}

#[test]
fn the_table_describes_every_kernel() {
    assert_eq!(kino_kernel_abi_version(), abi::KINO_KERNEL_ABI_VERSION);
    let kernels = descriptors();
    assert_eq!(kernels.len(), 2);
    // SAFETY: static C strings.
    let name = |k: &KinoKernel| unsafe { CStr::from_ptr(k.name) }.to_str().expect("utf-8");
    assert_eq!(name(&kernels[0]), "invert");
    assert_eq!(name(&kernels[1]), "repeat");
    assert_eq!(kernels[0].version, 3);
    assert_eq!(
        (kernels[1].input_kind, kernels[1].output_kind),
        (abi::KINO_KIND_JSON, abi::KINO_KIND_JSON)
    );
    // SAFETY: as above.
    let description = unsafe { CStr::from_ptr(kernels[0].description) };
    assert_eq!(description, c"inverts every channel");
}

#[test]
fn video_frames_are_checked_and_processed() {
    let invert = &descriptors()[0];
    let format = Format::Video {
        width: 2,
        height: 1,
        fps: 30.0,
    };
    assert_eq!(
        create(invert, &format, r#"{"x": 1}"#).expect_err("refused"),
        "unknown param `x` (expected )"
    );
    assert_eq!(
        create(invert, &Format::Json, "").expect_err("refused"),
        "kernel `invert` takes video but the stream is json"
    );
    let instance = create(invert, &format, "").expect("created");
    let mut out = [0u8; 6];
    let (status, len, _) = process(invert, instance, &[0, 10, 20, 30, 40, 255], 0, &mut out);
    assert_eq!((status, len), (abi::KINO_OK, 6));
    assert_eq!(out, [255, 245, 235, 225, 215, 0]);

    let (status, _, message) = process(invert, instance, &[1, 2, 3], 1, &mut out);
    assert_eq!(status, abi::KINO_ERR_INVALID);
    assert_eq!(message, "a 2x1 frame is 6 bytes; got 3 in, room for 6 out");

    let (status, _, message) = process(invert, instance, &[0; 6], 13, &mut out);
    assert_eq!(
        (status, message.as_str()),
        (abi::KINO_ERR_FAILED, "frame 13 is unlucky")
    );
    destroy(invert, instance);
}

#[test]
fn json_that_does_not_fit_is_kept_for_the_next_call() {
    let repeat = &descriptors()[1];
    let instance = create(repeat, &Format::Json, r#"{"times": 3}"#).expect("created");
    let calls = || REPEAT_CALLS.with(Cell::get);
    let before = calls();
    let mut small = [0u8; 4];
    let (status, needed, _) = process(repeat, instance, b"12", 0, &mut small);
    assert_eq!((status, needed), (abi::KINO_ERR_NEED_SPACE, 10));
    let mut room = vec![0u8; needed];
    let (status, len, _) = process(repeat, instance, b"12", 0, &mut room);
    assert_eq!((status, len), (abi::KINO_OK, 10));
    assert_eq!(room, b"[12,12,12]");
    assert_eq!(calls() - before, 1, "the kernel ran once for both calls");

    // Another document is processed afresh.
    let (status, len, _) = process(repeat, instance, b"7", 0, &mut room);
    assert_eq!((status, &room[..len]), (abi::KINO_OK, &b"[7,7,7]"[..]));
    assert_eq!(calls() - before, 2);
    destroy(repeat, instance);
}

#[test]
fn a_panic_is_an_error_and_poisons_only_its_instance() {
    let repeat = &descriptors()[1];
    let instance = create(repeat, &Format::Json, "").expect("created");
    let mut out = [0u8; 64];
    let (status, _, message) = process(repeat, instance, b"\"boom\"", 0, &mut out);
    assert_eq!(status, abi::KINO_ERR_PANIC);
    assert_eq!(message, "kernel `repeat` panicked: the document said boom");
    let (status, _, message) = process(repeat, instance, b"1", 0, &mut out);
    assert_eq!(status, abi::KINO_ERR_PANIC);
    assert!(message.contains("panicked earlier"), "{message}");
    destroy(repeat, instance);

    let fresh = create(repeat, &Format::Json, "").expect("created");
    let (status, len, _) = process(repeat, fresh, b"1", 0, &mut out);
    assert_eq!((status, &out[..len]), (abi::KINO_OK, &b"[1,1]"[..]));
    destroy(repeat, fresh);
}

#[test]
fn null_pointers_are_refused_not_followed() {
    let invert = &descriptors()[0];
    let mut error = KinoError::new();
    // SAFETY: NULLs are what is being tested; the SDK must not follow them.
    let instance = unsafe {
        invert.create.expect("create")(std::ptr::null(), std::ptr::null(), 0, &mut error)
    };
    assert!(instance.is_null());
    assert_eq!(error.text(), "no format was given");
    // SAFETY: as above.
    let status = unsafe {
        invert.process.expect("process")(
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null_mut(),
            &mut error,
        )
    };
    assert_eq!(status, abi::KINO_ERR_INVALID);
    // SAFETY: destroy(NULL) is a no-op.
    unsafe { invert.destroy.expect("destroy")(std::ptr::null_mut()) };
}
