//! Native kernels against the ffmpeg CLI's filters on the same input. Run
//! with `cargo bench -p kino-tests --bench native`.
//!
//! The example kernels are built from their sources (the C one with `cc
//! -O2`, the Rust one with `cargo build --release`), loaded through the C
//! ABI and run the way a pipeline stage runs them:
//! 1. the ABI's cost per call: a 2x2 frame through `unsharp-mask`;
//! 2. `native:unsharp-mask` on a 10 s 1280x720 30 fps clip, decoded to
//!    RGB24, no encode: ours vs `ffmpeg -vf unsharp=5:5:0.8 -f null -`
//!    (ffmpeg filters YUV 4:2:0 planes, half the bytes of our RGB24: the
//!    same job, not the same maths), and with ffmpeg's filter on one thread;
//! 3. the same with the H.264 encode a stage does (libx264 veryfast crf 20);
//! 4. `native:noise-gate` on 10 min of 48 kHz stereo: ours (decode + gate)
//!    vs `ffmpeg -af agate -f null -`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kino_media::{Mp4Writer, RgbFrame, VideoReader};
use kino_native::{AUDIO_BLOCK_FRAMES, Format, Library};

fn ffmpeg(args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().expect("at least one run")
}

fn report(what: &str, ours: Duration, cli: Duration) {
    println!(
        "{what}: ours {:.3} s, ffmpeg CLI {:.3} s, ours/CLI = {:.2}",
        ours.as_secs_f64(),
        cli.as_secs_f64(),
        ours.as_secs_f64() / cli.as_secs_f64()
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Decodes `clip`, runs every frame through `kernel`, encodes into `out` if given.
fn unsharp(library: &Library, clip: &Path, out: Option<&Path>) -> (Duration, Duration, u64) {
    let start = Instant::now();
    let mut reader = VideoReader::open(clip).expect("open");
    let (width, height, fps) = (reader.width(), reader.height(), reader.fps());
    let kernel = library.handles().next().expect("a kernel");
    let mut instance = kernel
        .start(
            &Format::Video { width, height, fps },
            r#"{"amount": 0.8, "radius": 2}"#,
        )
        .expect("start");
    let mut writer = out.map(|o| Mp4Writer::create(o, width, height, fps, None).expect("writer"));
    let mut output = vec![0u8; width as usize * height as usize * 3];
    let (mut in_kernel, mut frames) = (Duration::ZERO, 0u64);
    while let Some(frame) = reader.next_frame().expect("decode") {
        let t = Instant::now();
        instance
            .video_frame(frames, &frame.data, &mut output)
            .expect("kernel");
        in_kernel += t.elapsed();
        if let Some(w) = writer.as_mut() {
            w.write_video_frame(&RgbFrame {
                width,
                height,
                pts_secs: frame.pts_secs,
                data: output.clone(),
            })
            .expect("encode");
        }
        frames += 1;
    }
    if let Some(w) = writer {
        w.finish().expect("finish");
    }
    (start.elapsed(), in_kernel, frames)
}

fn main() {
    kino_media::init().expect("ffmpeg init");
    let dir = tempfile::tempdir().expect("tempdir");
    let c = kino_native::testing::build_c_example(dir.path()).expect("building unsharp.c");
    let rust = kino_native::testing::build_noise_gate(dir.path()).expect("building the noise gate");
    let unsharp_lib = Library::load(&c).expect("load unsharp");
    let gate_lib = Library::load(&rust).expect("load noise gate");

    // 1. The cost of one call through the ABI, on a frame too small to matter.
    let kernel = unsharp_lib.handles().next().expect("a kernel");
    let mut tiny = kernel
        .start(
            &Format::Video {
                width: 2,
                height: 2,
                fps: 30.0,
            },
            "{}",
        )
        .expect("start");
    let (input, mut output) = ([0u8; 12], [0u8; 12]);
    let calls = 1_000_000u64;
    let start = Instant::now();
    for i in 0..calls {
        tiny.video_frame(i, &input, &mut output).expect("call");
    }
    println!(
        "ABI call (2x2 frame through unsharp-mask): {:.0} ns per call",
        start.elapsed().as_nanos() as f64 / calls as f64
    );

    let clip = dir.path().join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30:duration=10",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        path(&clip),
    ]);
    // 2. Decode + filter.
    let mut kernel_time = Duration::ZERO;
    let mut frames = 0;
    let ours = best_of(3, || {
        let (total, in_kernel, n) = unsharp(&unsharp_lib, &clip, None);
        (kernel_time, frames) = (in_kernel, n);
        total
    });
    let cli = best_of(3, || {
        ffmpeg(&[
            "-i",
            path(&clip),
            "-vf",
            "unsharp=5:5:0.8",
            "-f",
            "null",
            "-",
        ])
    });
    report("unsharp 720p30 x10 s, decode + filter", ours, cli);
    // Ours runs one frame on one thread (one instance, one node); ffmpeg's
    // unsharp also slices each frame across threads.
    let single = best_of(3, || {
        ffmpeg(&[
            "-i",
            path(&clip),
            "-filter_threads",
            "1",
            "-vf",
            "unsharp=5:5:0.8",
            "-f",
            "null",
            "-",
        ])
    });
    report("  the same, ffmpeg's filter on one thread", ours, single);
    println!(
        "  of which in the kernel: {:.3} s ({:.2} ms per frame, {frames} frames)",
        kernel_time.as_secs_f64(),
        kernel_time.as_secs_f64() * 1000.0 / frames as f64
    );
    // 3. With the encode a stage does.
    let out = dir.path().join("sharp.mp4");
    let ours = best_of(2, || unsharp(&unsharp_lib, &clip, Some(&out)).0);
    let cli = best_of(2, || {
        ffmpeg(&[
            "-i",
            path(&clip),
            "-vf",
            "unsharp=5:5:0.8",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            path(&out),
        ])
    });
    report(
        "unsharp 720p30 x10 s, decode + filter + H.264 encode",
        ours,
        cli,
    );

    // 4. The noise gate on 10 minutes of stereo.
    let wav = dir.path().join("noise.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:amplitude=0.2:sample_rate=48000:duration=600",
        "-ac",
        "2",
        "-c:a",
        "pcm_f32le",
        path(&wav),
    ]);
    let gate = gate_lib.handles().next().expect("a kernel");
    let ours = best_of(3, || {
        let start = Instant::now();
        let pcm = kino_media::decode_audio(&wav, 48_000, 2).expect("decode");
        let mut instance = gate
            .start(
                &Format::Audio {
                    sample_rate: 48_000,
                    channels: 2,
                },
                r#"{"threshold-db": -30}"#,
            )
            .expect("start");
        let mut out = vec![0f32; pcm.samples.len()];
        let block = AUDIO_BLOCK_FRAMES * 2;
        for (i, (from, to)) in pcm
            .samples
            .chunks(block)
            .zip(out.chunks_mut(block))
            .enumerate()
        {
            instance
                .audio_block((i * AUDIO_BLOCK_FRAMES) as u64, from, to)
                .expect("gate");
        }
        std::hint::black_box(&out);
        start.elapsed()
    });
    let cli = best_of(3, || {
        ffmpeg(&[
            "-i",
            path(&wav),
            "-af",
            "agate=threshold=0.0316",
            "-f",
            "null",
            "-",
        ])
    });
    report("noise gate, 10 min 48 kHz stereo, decode + gate", ours, cli);
}
