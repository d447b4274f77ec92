//! The C side: the unsharp example, libraries that break the ABI's rules,
//! the JSON protocol, and the header's layout as the C compiler sees it.

use std::path::Path;

use kino_native::abi;
use kino_native::{Format, KernelError, Kind, Library, NativeError, NativeKernels};

use crate::build_c;

/// Stub entry points and a table macro for test libraries.
const PREAMBLE: &str = r#"
#include <string.h>
#include "kino_kernel.h"

static int instance_token;

static void *test_create(const kino_format *format, const char *params, size_t len,
                         kino_error *error) {
    (void)format; (void)params; (void)len; (void)error;
    return &instance_token;
}

static int32_t test_process(void *instance, const kino_buffer *input, kino_buffer *output,
                            kino_error *error) {
    (void)instance; (void)error;
    if (output->capacity < input->len) return KINO_ERR_INVALID;
    if (input->len > 0) memcpy(output->data, input->data, input->len);
    output->len = input->len;
    return KINO_OK;
}

static void test_destroy(void *instance) { (void)instance; }

#define KERNEL(name, in, out) \
    { name, "a test kernel", 1, in, out, test_create, test_process, test_destroy }

#define EXPORT_TABLE(...) \
    static const kino_kernel kernels[] = { __VA_ARGS__ }; \
    static const struct kino_kernel_table table = \
        { sizeof kernels / sizeof kernels[0], kernels }; \
    uint32_t kino_kernel_abi_version(void) { return KINO_KERNEL_ABI_VERSION; } \
    const struct kino_kernel_table *kino_kernel_table(void) { return &table; }
"#;

fn library(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    build_c(dir, name, &format!("{PREAMBLE}\n{body}\n"))
}

const WIDTH: u32 = 16;
const HEIGHT: u32 = 8;

fn video() -> Format {
    Format::Video {
        width: WIDTH,
        height: HEIGHT,
        fps: 25.0,
    }
}

/// A frame whose pixel (x, y) is `color(x, y)` in all three channels.
fn frame(color: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    (0..HEIGHT)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .flat_map(|(x, y)| [color(x, y); 3])
        .collect()
}

fn unsharp() -> (tempfile::TempDir, NativeKernels) {
    let dir = tempfile::tempdir().expect("temp dir");
    kino_native::testing::build_c_example(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let kernels = NativeKernels::load_dir(dir.path()).expect("the example loads");
    (dir, kernels)
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn the_unsharp_example_loads_and_describes_itself() {
    let (dir, kernels) = unsharp();
    let list = kernels.list();
    assert_eq!(list.len(), 1);
    let (info, path) = &list[0];
    assert_eq!(info.name, "unsharp-mask");
    assert_eq!((info.input, info.output), (Kind::Video, Kind::Video));
    assert_eq!(info.version, 2);
    assert!(info.description.starts_with("unsharp mask"));
    assert_eq!(path, &dir.path().join("libunsharp.so"));
    let handle = kernels.get("unsharp-mask").expect("by name");
    let bytes = std::fs::read(path).expect("read");
    assert_eq!(
        handle.library_sha256(),
        Library::load(path).expect("loads").sha256()
    );
    assert_eq!(handle.library_sha256().len(), 64);
    assert!(!bytes.is_empty());
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn unsharp_overshoots_an_edge_and_keeps_a_flat_frame() {
    let (_dir, kernels) = unsharp();
    let kernel = kernels.get("unsharp-mask").expect("loaded");
    let mut instance = kernel.start(&video(), "{}").expect("default params");

    let flat = frame(|_, _| 117);
    let mut out = vec![0u8; flat.len()];
    instance
        .video_frame(0, &flat, &mut out)
        .expect("flat frame");
    assert_eq!(out, flat);

    // A vertical step from 50 to 200 between x = 7 and x = 8.
    let step = frame(|x, _| if x < 8 { 50 } else { 200 });
    instance
        .video_frame(1, &step, &mut out)
        .expect("step frame");
    let at = |out: &[u8], x: u32, y: u32| out[((y * WIDTH + x) * 3) as usize];
    for y in 0..HEIGHT {
        // Radius 1, amount 1: the box mean beside the edge is 100 or 150.
        assert_eq!(at(&out, 7, y), 0, "undershoot on the dark side");
        assert_eq!(at(&out, 8, y), 250, "overshoot on the bright side");
        assert_eq!(at(&out, 2, y), 50);
        assert_eq!(at(&out, 13, y), 200);
    }

    let mut gentle = kernel
        .start(&video(), r#"{"amount": 0.5, "radius": 2}"#)
        .expect("params");
    gentle.video_frame(0, &step, &mut out).expect("step frame");
    let (dark, bright) = (at(&out, 7, 0), at(&out, 8, 0));
    assert!(dark < 50 && dark > 0, "{dark}");
    assert!(bright > 200 && bright < 250, "{bright}");
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn unsharp_refuses_bad_params_naming_them() {
    let (_dir, kernels) = unsharp();
    let kernel = kernels.get("unsharp-mask").expect("loaded");
    for (params, expected) in [
        (r#"{"amount": "lots"}"#, "param `amount` must be a number"),
        (
            r#"{"amount": 11}"#,
            "param `amount` must be a number from 0 to 10",
        ),
        (
            r#"{"radius": 2.5}"#,
            "param `radius` must be a whole number",
        ),
        (r#"{"sharpness": 1}"#, "unknown param `sharpness`"),
        (r#"{"amount": }"#, "malformed params at byte"),
        (r#"[1]"#, "params must be a JSON object"),
        (r#"{"fail": "yes"}"#, "param `fail` must be true or false"),
    ] {
        let error = kernel.start(&video(), params).expect_err(params);
        assert_eq!(error.kernel, "unsharp-mask");
        assert_eq!(error.code, abi::KINO_ERR_FAILED);
        assert!(
            error.message.starts_with("unsharp-mask: ") && error.message.contains(expected),
            "{params}: {error}"
        );
    }
    // Nested values are skipped by the scanner, then refused by name.
    let error = kernel
        .start(&video(), r#"{"radius": {"x": [1, "]"]}}"#)
        .expect_err("nested");
    assert!(error.message.contains("`radius`"), "{error}");
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn a_failing_frame_is_an_error_with_the_kernels_message() {
    let (_dir, kernels) = unsharp();
    let kernel = kernels.get("unsharp-mask").expect("loaded");
    let mut instance = kernel
        .start(&video(), r#"{"fail": true}"#)
        .expect("created");
    let input = frame(|_, _| 9);
    let mut out = vec![0u8; input.len()];
    let error = instance
        .video_frame(0, &input, &mut out)
        .expect_err("fails");
    assert_eq!(
        error,
        KernelError {
            kernel: "unsharp-mask".to_owned(),
            code: abi::KINO_ERR_FAILED,
            message: "unsharp-mask: asked to fail".to_owned(),
        }
    );
    assert_eq!(
        error.to_string(),
        "native kernel `unsharp-mask` failed (code 1): unsharp-mask: asked to fail"
    );
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn the_host_checks_sizes_and_kinds_before_calling() {
    let (_dir, kernels) = unsharp();
    let kernel = kernels.get("unsharp-mask").expect("loaded");
    let audio = Format::Audio {
        sample_rate: 48_000,
        channels: 2,
    };
    let error = kernel.start(&audio, "{}").expect_err("wrong kind");
    assert_eq!(error.code, abi::KINO_ERR_INVALID);
    assert!(error.message.contains("takes video"), "{error}");
    let empty = Format::Video {
        width: 0,
        height: 8,
        fps: 25.0,
    };
    assert!(kernel.start(&empty, "{}").is_err());

    let mut instance = kernel.start(&video(), "{}").expect("created");
    let short = vec![0u8; 10];
    let mut out = vec![0u8; 10];
    let error = instance
        .video_frame(0, &short, &mut out)
        .expect_err("short");
    assert_eq!(error.code, abi::KINO_ERR_INVALID);
    assert!(error.message.contains("is 384 bytes"), "{error}");
    let mut samples = [0f32; 4];
    assert!(
        instance
            .audio_block(0, &[0.0; 4], &mut samples)
            .is_err_and(|e| e.message.contains("given to a video stream"))
    );
    assert!(instance.json(b"{}").is_err());
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn a_library_of_another_abi_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = library(
        dir.path(),
        "future",
        r#"
#undef KINO_KERNEL_ABI_VERSION
#define KINO_KERNEL_ABI_VERSION 2
EXPORT_TABLE(KERNEL("future", KINO_KIND_VIDEO, KINO_KIND_VIDEO))
"#,
    );
    let error = Library::load(&path).expect_err("refused");
    match &error {
        NativeError::AbiVersion {
            library,
            found,
            expected,
        } => {
            assert_eq!(library, &path);
            assert_eq!((*found, *expected), (2, 1));
        }
        other => panic!("wrong error: {other}"),
    }
    assert_eq!(
        error.to_string(),
        format!(
            "{}: kernel ABI version 2, expected 1 (rebuild it against this host's kino_kernel.h)",
            path.display()
        )
    );
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn a_library_without_its_table_is_refused_naming_the_symbol() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = library(
        dir.path(),
        "tableless",
        "uint32_t kino_kernel_abi_version(void) { return KINO_KERNEL_ABI_VERSION; }",
    );
    let error = Library::load(&path).expect_err("refused");
    assert!(
        matches!(&error, NativeError::MissingSymbol { library, symbol: "kino_kernel_table" } if library == &path),
        "{error}"
    );
    assert!(error.to_string().contains("tableless"), "{error}");

    // Not a shared library at all.
    let junk = dir.path().join("libjunk.so");
    std::fs::write(&junk, b"\x7fELF but not really").expect("write");
    let error = Library::load(&junk).expect_err("refused");
    assert!(matches!(error, NativeError::Open { .. }), "{error}");
    assert!(error.to_string().contains("libjunk.so"), "{error}");
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn an_unsupported_kind_pair_is_refused_with_the_supported_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = library(
        dir.path(),
        "captioner",
        r#"EXPORT_TABLE(KERNEL("frames-to-json", KINO_KIND_VIDEO, KINO_KIND_JSON))"#,
    );
    let error = Library::load(&path).expect_err("refused");
    assert!(
        matches!(&error, NativeError::UnsupportedKinds { kernel, input: Kind::Video, output: Kind::Json, .. } if kernel == "frames-to-json"),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("libcaptioner.so"), "{message}");
    assert!(
        message.contains(
            "kernel `frames-to-json` is video→json, which ABI 1 does not support: it supports video→video, audio→audio and json→json"
        ),
        "{message}"
    );

    let path = library(
        dir.path(),
        "unknown-kind",
        r#"EXPORT_TABLE(KERNEL("odd", 7, 7))"#,
    );
    let error = Library::load(&path).expect_err("refused");
    assert!(error.to_string().contains("input kind is 7"), "{error}");
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn bad_descriptors_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body, expected) in [
        (
            "badname",
            r#"EXPORT_TABLE(KERNEL("Unsharp_Mask", KINO_KIND_VIDEO, KINO_KIND_VIDEO))"#,
            "kernel name `Unsharp_Mask` is not valid: expected 1 to 64 lowercase ASCII letters, digits or '-'",
        ),
        (
            "emptyname",
            r#"EXPORT_TABLE(KERNEL("", KINO_KIND_VIDEO, KINO_KIND_VIDEO))"#,
            "kernel name `` is not valid",
        ),
        (
            "nullname",
            r#"EXPORT_TABLE(KERNEL(NULL, KINO_KIND_VIDEO, KINO_KIND_VIDEO))"#,
            "kernel #0: its name is NULL",
        ),
        (
            "twice",
            r#"EXPORT_TABLE(KERNEL("same", KINO_KIND_AUDIO, KINO_KIND_AUDIO),
                            KERNEL("same", KINO_KIND_AUDIO, KINO_KIND_AUDIO))"#,
            "exports kernel `same` twice",
        ),
        (
            "noprocess",
            r#"EXPORT_TABLE({ "no-process", "", 1, KINO_KIND_JSON, KINO_KIND_JSON,
                              test_create, NULL, NULL })"#,
            "kernel #0 `no-process`: `process`, `destroy` are NULL, expected functions",
        ),
        (
            "nulltable",
            r#"uint32_t kino_kernel_abi_version(void) { return KINO_KERNEL_ABI_VERSION; }
               const struct kino_kernel_table *kino_kernel_table(void) { return NULL; }"#,
            "bad kernel table: kino_kernel_table() returned NULL",
        ),
    ] {
        let path = library(dir.path(), name, body);
        let error = Library::load(&path).expect_err(name);
        let message = error.to_string();
        assert!(
            message.starts_with(&path.display().to_string()) && message.contains(expected),
            "{name}: {message}"
        );
    }
    let long = "x".repeat(65);
    let path = library(
        dir.path(),
        "longname",
        &format!(r#"EXPORT_TABLE(KERNEL("{long}", KINO_KIND_VIDEO, KINO_KIND_VIDEO))"#),
    );
    assert!(matches!(
        Library::load(&path),
        Err(NativeError::InvalidName { .. })
    ));
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn two_libraries_with_one_kernel_name_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = r#"EXPORT_TABLE(KERNEL("echo", KINO_KIND_AUDIO, KINO_KIND_AUDIO))"#;
    let first = library(dir.path(), "a-echo", body);
    let second = library(dir.path(), "b-echo", body);
    for leftover in ["a-echo.c", "b-echo.c"] {
        std::fs::remove_file(dir.path().join(leftover)).expect("remove");
    }
    let error = NativeKernels::load_dir(dir.path()).expect_err("refused");
    assert!(
        matches!(&error, NativeError::DuplicateKernel { kernel, first: f, second: s }
            if kernel == "echo" && f == &first && s == &second),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("liba-echo.so") && message.contains("libb-echo.so"));

    // One of them alone is fine, and copies its input.
    std::fs::remove_file(&second).expect("remove");
    let kernels = NativeKernels::load_dir(dir.path()).expect("one library");
    let mut echo = kernels
        .get("echo")
        .expect("echo")
        .start(
            &Format::Audio {
                sample_rate: 8000,
                channels: 2,
            },
            "",
        )
        .expect("created");
    let input = [0.25f32, -0.5, 1.0, 0.0];
    let mut output = [9f32; 4];
    echo.audio_block(0, &input, &mut output).expect("copied");
    assert_eq!(output, input);
    let error = echo
        .audio_block(0, &[0.0; 3], &mut [0.0; 3])
        .expect_err("half a frame");
    assert!(
        error.message.contains("whole frames of 2 samples"),
        "{error}"
    );
    let big = vec![0f32; 2 * (kino_native::AUDIO_BLOCK_FRAMES + 1)];
    let mut out = big.clone();
    assert!(echo.audio_block(0, &big, &mut out).is_err());
}

/// JSON kernels: one that answers `[input,input]` (asking for space when it
/// needs it), and three that break the protocol.
const JSON_KERNELS: &str = r#"
static int32_t doubler(void *instance, const kino_buffer *in, kino_buffer *out, kino_error *e) {
    size_t need = in->len * 2 + 3;
    (void)instance; (void)e;
    if (out->capacity < need) { out->len = need; return KINO_ERR_NEED_SPACE; }
    out->data[0] = '[';
    memcpy(out->data + 1, in->data, in->len);
    out->data[1 + in->len] = ',';
    memcpy(out->data + 2 + in->len, in->data, in->len);
    out->data[need - 1] = ']';
    out->len = need;
    return KINO_OK;
}
static int32_t liar(void *instance, const kino_buffer *in, kino_buffer *out, kino_error *e) {
    (void)instance; (void)in; (void)e;
    out->len = out->capacity + 1;
    return KINO_OK;
}
static int32_t greedy(void *instance, const kino_buffer *in, kino_buffer *out, kino_error *e) {
    (void)instance; (void)in; (void)e;
    out->len = (size_t)1 << 30;
    return KINO_ERR_NEED_SPACE;
}
static int32_t stubborn(void *instance, const kino_buffer *in, kino_buffer *out, kino_error *e) {
    (void)instance; (void)in; (void)e;
    out->len = out->capacity;
    return KINO_ERR_NEED_SPACE;
}
static int32_t silent(void *instance, const kino_buffer *in, kino_buffer *out, kino_error *e) {
    (void)instance; (void)in; (void)out; (void)e;
    return 42;
}
#define JSON_KERNEL(name, process) \
    { name, "", 1, KINO_KIND_JSON, KINO_KIND_JSON, test_create, process, test_destroy }
EXPORT_TABLE(JSON_KERNEL("doubler", doubler), JSON_KERNEL("liar", liar),
             JSON_KERNEL("greedy", greedy), JSON_KERNEL("stubborn", stubborn),
             JSON_KERNEL("silent", silent))
"#;

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn json_output_grows_on_request_within_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = library(dir.path(), "json", JSON_KERNELS);
    let library = Library::load(&path).expect("loads");
    let kernels = NativeKernels::from_libraries([library]).expect("kernels");
    let start = |name: &str| {
        kernels
            .get(name)
            .expect(name)
            .start(&Format::Json, "{}")
            .expect("created")
    };

    let mut doubler = start("doubler");
    assert_eq!(doubler.json(b"1").expect("small"), b"[1,1]");
    // Larger than the first buffer offered: the host grows it and asks again.
    let big = format!("\"{}\"", "a".repeat(40_000));
    let doubled = doubler.json(big.as_bytes()).expect("grown");
    assert_eq!(doubled, format!("[{big},{big}]").into_bytes());

    let error = start("liar").json(b"{}").expect_err("lies");
    assert!(
        error.message.contains("bytes of output in a buffer of"),
        "{error}"
    );
    let error = start("greedy").json(b"{}").expect_err("greedy");
    assert!(error.message.contains("more than the limit"), "{error}");
    let error = start("stubborn").json(b"{}").expect_err("stubborn");
    assert!(error.message.contains("which the buffer of"), "{error}");
    let error = start("silent").json(b"{}").expect_err("silent");
    assert_eq!(error.code, 42);
    assert_eq!(error.message, "status 42 without a message");
}

#[test]
#[cfg_attr(missing = "cc", ignore = "needs a C compiler (cc)")]
fn the_header_layout_matches_the_rust_mirror() {
    use std::mem::{offset_of, size_of};
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("layout.c");
    std::fs::write(
        &source,
        r#"
#include <stdio.h>
#include <stddef.h>
#include "kino_kernel.h"
#define SHOW(x) printf("%zu\n", (size_t)(x))
int main(void) {
    SHOW(sizeof(kino_format)); SHOW(offsetof(kino_format, channels));
    SHOW(offsetof(kino_format, fps));
    SHOW(sizeof(kino_buffer)); SHOW(offsetof(kino_buffer, len));
    SHOW(offsetof(kino_buffer, capacity)); SHOW(offsetof(kino_buffer, index));
    SHOW(sizeof(kino_error));
    SHOW(sizeof(kino_kernel)); SHOW(offsetof(kino_kernel, version));
    SHOW(offsetof(kino_kernel, output_kind)); SHOW(offsetof(kino_kernel, create));
    SHOW(offsetof(kino_kernel, process)); SHOW(offsetof(kino_kernel, destroy));
    SHOW(sizeof(struct kino_kernel_table)); SHOW(offsetof(struct kino_kernel_table, kernels));
    return 0;
}
"#,
    )
    .expect("write");
    let program = dir.path().join("layout");
    let status = std::process::Command::new(kino_native::testing::c_compiler())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(kino_native::testing::include_dir())
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .status()
        .expect("running cc");
    assert!(status.success(), "the header compiles cleanly as C99");
    let output = std::process::Command::new(&program)
        .output()
        .expect("running it");
    let c: Vec<usize> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.parse().expect("a number"))
        .collect();
    let rust = vec![
        size_of::<abi::KinoFormat>(),
        offset_of!(abi::KinoFormat, channels),
        offset_of!(abi::KinoFormat, fps),
        size_of::<abi::KinoBuffer>(),
        offset_of!(abi::KinoBuffer, len),
        offset_of!(abi::KinoBuffer, capacity),
        offset_of!(abi::KinoBuffer, index),
        size_of::<abi::KinoError>(),
        size_of::<abi::KinoKernel>(),
        offset_of!(abi::KinoKernel, version),
        offset_of!(abi::KinoKernel, output_kind),
        offset_of!(abi::KinoKernel, create),
        offset_of!(abi::KinoKernel, process),
        offset_of!(abi::KinoKernel, destroy),
        size_of::<abi::KinoKernelTable>(),
        offset_of!(abi::KinoKernelTable, kernels),
    ];
    assert_eq!(c, rust);
}
