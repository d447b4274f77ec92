//! `kino lut apply` and `kino interpolate` on real MP4 files.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use indicatif::ProgressBar;
use kino::tools::{self, FrameRateTarget};
use kino_media as media;
use kino_media::VideoReader;

fn fixture(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("in.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=15",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "2",
        ])
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success());
    path
}

fn frames(path: &Path) -> Vec<Vec<u8>> {
    let mut reader = VideoReader::open(path).expect("open");
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame().expect("decode") {
        frames.push(frame.data);
    }
    frames
}

fn mean(channel: usize, frame: &[u8]) -> f64 {
    let values: Vec<f64> = frame
        .iter()
        .skip(channel)
        .step_by(3)
        .map(|&v| f64::from(v))
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn lut_apply_grades_every_frame_and_keeps_the_audio() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = fixture(dir.path());
    // A LUT that sets blue to zero and keeps red and green.
    let mut cube = String::from("LUT_3D_SIZE 2\n");
    for _blue in 0..2 {
        for g in 0..2 {
            for r in 0..2 {
                cube.push_str(&format!("{r} {g} 0\n"));
            }
        }
    }
    let lut = dir.path().join("no-blue.cube");
    std::fs::write(&lut, cube).expect("write lut");
    let output = dir.path().join("graded.mp4");
    // A pool with a GPU that cannot be opened (cuda:7, here or on a GPU
    // machine): the run's GPU fails to open, and the CPU grades every frame.
    let gpu = kino_cuda::pool::Gpu {
        ordinal: 7,
        free_memory: kino_cuda::pool::RESERVE_BYTES + (256 << 20),
    };
    let devices =
        Arc::new(kino_cuda::Pool::new(&[gpu], kino_cuda::Choice::Auto, None).expect("pool"));
    let (written, tally) =
        tools::lut_apply_file(&lut, &input, &output, &devices, &ProgressBar::hidden())
            .expect("lut apply");

    let before = frames(&input);
    let after = frames(&output);
    assert_eq!(written, before.len());
    assert_eq!(tally.summary().as_deref(), Some("cpu"));
    let fallbacks: Vec<&str> = tally.fallbacks().collect();
    assert!(
        fallbacks.len() == 1 && fallbacks[0].starts_with("cuda:7 failed"),
        "{fallbacks:?}"
    );
    let stats = devices.stats();
    assert_eq!((stats.fallbacks, stats.cpu_calls), (1, written as u64));
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        assert!(mean(2, a) < 12.0, "blue removed: {}", mean(2, a));
        assert!((mean(0, a) - mean(0, b)).abs() < 6.0, "red kept");
    }
    let info = media::probe(&output).expect("probe");
    assert!(info.audio().is_some(), "audio kept");
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn interpolate_doubles_the_frame_rate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = fixture(dir.path());
    let output = dir.path().join("x2.mp4");
    let devices = kino_cuda::Pool::new(&[], kino_cuda::Choice::Cpu, None).expect("pool");
    let (written, tally) = tools::interpolate_file(
        &input,
        &output,
        FrameRateTarget::Factor(2),
        &devices,
        &ProgressBar::hidden(),
    )
    .expect("interpolate");
    // Every in-between frame's warp went through the pool, to the CPU.
    assert_eq!(tally.summary().as_deref(), Some("cpu"));
    assert!(devices.stats().cpu_calls > 0);
    let source = frames(&input).len();
    assert_eq!(written, 2 * source - 1);
    let info = media::probe(&output).expect("probe");
    let video = info.video().expect("video");
    assert!((video.fps - 30.0).abs() < 0.01, "{}", video.fps);
    assert!(info.audio().is_some());
    assert_eq!(frames(&output).len(), written);

    let error = tools::interpolate_file(
        &dir.path().join("missing.mp4"),
        &output,
        FrameRateTarget::Factor(2),
        &devices,
        &ProgressBar::hidden(),
    )
    .expect_err("a missing input");
    assert!(format!("{error:#}").contains("missing.mp4"));
}
