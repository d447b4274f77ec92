//! 3D-LUT throughput: `kino_kernels::lut` against FFmpeg's `lut3d` filter on a
//! 1080p RGB24 clip, plus how far the two outputs differ.
//!
//! Run with `cargo bench -p kino-kernels --bench lut`. Needs the `ffmpeg` CLI
//! for the clip and the comparison; without it, only our figures are printed
//! (on a synthetic clip).
//!
//! Ours grades the clip held in memory; FFmpeg's wall time includes reading
//! the raw clip (from the page cache) and, for the file variant, writing its
//! output. The runs alternate (ours, FFmpeg to file, FFmpeg to null, and
//! again) so that load from other processes falls on all three alike, and
//! each figure is the median of its runs.

mod common;

use std::time::Instant;

use common::{
    BenchResult, ffmpeg_run, have_ffmpeg, path_str, print_diff, print_load, report,
    rgb24_to_file_and_null,
};
use kino_kernels::lut::CubeLut;

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;
const FRAMES: usize = 60;
const FRAME_BYTES: usize = WIDTH * HEIGHT * 3;
const THREADS: usize = 2;
const ROUNDS: usize = 5;

fn main() {
    if let Err(e) = run() {
        eprintln!("lut bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.rgb");
    let cube = dir.path().join("grade.cube");
    let ff_out = dir.path().join("ff.rgb");
    let ffmpeg = have_ffmpeg();

    println!(
        "3D LUT bench: {FRAMES} frames of {WIDTH}x{HEIGHT} RGB24, 33^3 warm S-curve grade, tetrahedral"
    );
    print_load();
    let lut = warm_s_curve();
    std::fs::write(&cube, lut.to_cube_string())?;
    let lut = CubeLut::read(&cube)?;

    let clip = if ffmpeg {
        ffmpeg_run(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={WIDTH}x{HEIGHT}:rate=30"),
            "-frames:v",
            &FRAMES.to_string(),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-y",
            path_str(&input)?,
        ])?;
        let clip = std::fs::read(&input)?;
        if clip.len() != FRAMES * FRAME_BYTES {
            return Err(format!(
                "ffmpeg wrote {} bytes, expected {}",
                clip.len(),
                FRAMES * FRAME_BYTES
            )
            .into());
        }
        println!("clip: ffmpeg testsrc2");
        clip
    } else {
        println!("ffmpeg not found on PATH: measuring ours only, on a synthetic clip");
        synthetic_clip()
    };

    let filter = format!("lut3d=file={}:interp=tetrahedral", path_str(&cube)?);
    let size = format!("{WIDTH}x{HEIGHT}");
    let common = [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        &size,
        "-i",
        path_str(&input)?,
        "-vf",
        &filter,
    ];
    let (to_file, to_null) = rgb24_to_file_and_null(&common, path_str(&ff_out)?);

    // Ours: the whole clip in memory, graded frame by frame on a 2-thread pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()?;
    let mut work = clip.clone();
    let mut graded = None;
    let (mut ours, mut ff_file, mut ff_null) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        work.copy_from_slice(&clip);
        let start = Instant::now();
        pool.install(|| -> BenchResult<()> {
            for frame in work.chunks_exact_mut(FRAME_BYTES) {
                lut.apply_rgb8(frame)?;
            }
            Ok(())
        })?;
        ours.push(start.elapsed());
        if graded.is_none() {
            graded = Some(work.clone());
        }
        if ffmpeg {
            ff_file.push(ffmpeg_run(&to_file)?);
            ff_null.push(ffmpeg_run(&to_null)?);
        }
    }

    let ours_fps = report(
        &format!("ours   ({THREADS} threads, in memory):"),
        FRAMES,
        &mut ours,
    );
    if !ffmpeg {
        return Ok(());
    }
    let ff_file_fps = report("ffmpeg lut3d (rawvideo file output):", FRAMES, &mut ff_file);
    let ff_null_fps = report("ffmpeg lut3d (-f null output):", FRAMES, &mut ff_null);
    println!(
        "ratio ours / ffmpeg (file output):       {:7.2}x",
        ours_fps / ff_file_fps
    );
    println!(
        "ratio ours / ffmpeg (null output):       {:7.2}x",
        ours_fps / ff_null_fps
    );

    let theirs = std::fs::read(&ff_out)?;
    print_diff(&graded.ok_or("no graded output")?, &theirs)
}

/// A warm grade: an S-curve on luma-ish contrast, red lifted, blue pulled
/// down, a little extra saturation, so every lattice cell is different.
fn warm_s_curve() -> CubeLut {
    let s_curve = |x: f32| {
        let x = x.clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x) * 0.6 + x * 0.4
    };
    let lut = CubeLut::from_fn(33, |[r, g, b]| {
        let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let sat = 1.15;
        let (r, g, b) = (
            luma + (r - luma) * sat,
            luma + (g - luma) * sat,
            luma + (b - luma) * sat,
        );
        [
            (s_curve(r) * 1.06 + 0.015).min(1.0),
            s_curve(g) * 1.01 + 0.005,
            (s_curve(b) * 0.90).max(0.0),
        ]
    });
    match lut {
        Ok(lut) => lut,
        Err(e) => panic!("33 is a valid size: {e}"),
    }
}

fn synthetic_clip() -> Vec<u8> {
    let mut clip = vec![0u8; FRAMES * FRAME_BYTES];
    for (f, frame) in clip.chunks_exact_mut(FRAME_BYTES).enumerate() {
        for (i, px) in frame.chunks_exact_mut(3).enumerate() {
            let (x, y) = (i % WIDTH, i / WIDTH);
            px[0] = ((x + f * 4) * 255 / WIDTH) as u8;
            px[1] = (y * 255 / HEIGHT) as u8;
            px[2] = ((x ^ y) + f) as u8;
        }
    }
    clip
}
