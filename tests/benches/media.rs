//! Media I/O benchmarks against the ffmpeg CLI. Run with
//! `cargo bench -p kino-tests --bench media`.
//!
//! On one generated 10 s 1280x720 30 fps H.264 clip:
//! 1. decode to RGB24: `VideoReader` vs `ffmpeg -i clip.mp4 -f rawvideo
//!    -pix_fmt rgb24 -y /dev/null`;
//! 2. encode RGB24 frames read from a raw file: `Mp4Writer` vs `ffmpeg -f
//!    rawvideo ... -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p
//!    out.mp4` (both yuv420p).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kino_media as media;
use kino_media::{Mp4Writer, RgbFrame, VideoReader};

const W: u32 = 1280;
const H: u32 = 720;
const FPS: u32 = 30;

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

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn report(what: &str, ours: Duration, cli: Duration) {
    println!(
        "{what}: ours {:.3} s, ffmpeg CLI {:.3} s, ours/CLI = {:.2}",
        ours.as_secs_f64(),
        cli.as_secs_f64(),
        ours.as_secs_f64() / cli.as_secs_f64()
    );
}

fn best_of<F: FnMut() -> Duration>(runs: usize, mut f: F) -> Duration {
    (0..runs).map(|_| f()).min().expect("at least one run")
}

fn main() {
    media::init().expect("ffmpeg init");
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = dir.path().join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={W}x{H}:rate={FPS}"),
        "-t",
        "10",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        path_str(&clip),
    ]);

    // 1. Decode to RGB24.
    let ours = best_of(3, || {
        let start = Instant::now();
        let mut r = VideoReader::open(&clip).expect("open");
        let mut n = 0;
        while let Some(f) = r.next_frame().expect("decode") {
            std::hint::black_box(&f.data);
            n += 1;
        }
        assert_eq!(n, 300);
        start.elapsed()
    });
    let cli = best_of(3, || {
        ffmpeg(&[
            "-i",
            path_str(&clip),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "/dev/null",
        ])
    });
    report("decode 300 frames 1280x720 to rgb24", ours, cli);

    // 2. Encode RGB24 frames (from a raw file, for both) to H.264 MP4.
    let raw = dir.path().join("frames.rgb");
    ffmpeg(&[
        "-i",
        path_str(&clip),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        path_str(&raw),
    ]);
    let ours_out = dir.path().join("ours.mp4");
    let ours = best_of(2, || {
        let start = Instant::now();
        let mut input = BufReader::with_capacity(1 << 22, File::open(&raw).expect("open raw"));
        let mut w = Mp4Writer::create(&ours_out, W, H, f64::from(FPS), None).expect("create");
        let size = (W * H * 3) as usize;
        let mut frame = RgbFrame {
            width: W,
            height: H,
            pts_secs: 0.0,
            data: vec![0; size],
        };
        let mut n = 0;
        while input.read_exact(&mut frame.data).is_ok() {
            w.write_video_frame(&frame).expect("encode");
            n += 1;
        }
        w.finish().expect("finish");
        assert_eq!(n, 300);
        start.elapsed()
    });
    let cli_out = dir.path().join("cli.mp4");
    let size = format!("{W}x{H}");
    let rate = FPS.to_string();
    let cli = best_of(2, || {
        ffmpeg(&[
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            &size,
            "-r",
            &rate,
            "-i",
            path_str(&raw),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "20",
            // Without this the CLI picks yuv444p for rgb24 input.
            "-pix_fmt",
            "yuv420p",
            path_str(&cli_out),
        ])
    });
    report("encode 300 frames 1280x720 rgb24 to h264", ours, cli);
    let size_of = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "output sizes: ours {} bytes, ffmpeg CLI {} bytes",
        size_of(&ours_out),
        size_of(&cli_out)
    );
}
