//! Frame interpolation at 720p, 2x: `kino_kernels::interpolate` against
//! FFmpeg's `minterpolate` (`mi_mode=mci`), speed and quality.
//!
//! Run with `cargo bench -p kino-kernels --bench interpolate`. Needs the
//! `ffmpeg` CLI for the clip and the comparison.
//!
//! A 4 s, 30 fps 1280x720 `testsrc2` clip is generated. The even frames are
//! the input (15 fps); the odd frames are rebuilt at t = 0.5 from their
//! neighbours and compared (PSNR over RGB, mean over frames) with the true odd
//! frames. Ours runs on 2 rayon threads over frames held in memory;
//! `minterpolate` runs with `-threads 2` and its wall time includes reading
//! the raw input and writing the raw output.
//!
//! `INTERP_BLOCK`, `INTERP_ITERS` and `INTERP_LEVELS` override the matching
//! [`Params`] fields for experiments.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use kino_kernels::interpolate::{FlowPair, Frame, Params};

const WIDTH: usize = 1280;
const HEIGHT: usize = 720;
const FRAMES: usize = 120;
const FRAME_BYTES: usize = WIDTH * HEIGHT * 3;
const THREADS: usize = 2;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("interpolate bench failed: {e}");
        std::process::exit(1);
    }
}

fn ffmpeg(args: &[&str]) -> BenchResult<()> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("ffmpeg {args:?} failed: {status}").into());
    }
    Ok(())
}

fn read_frames(path: &Path) -> BenchResult<Vec<Frame>> {
    let raw = std::fs::read(path)?;
    Ok(raw
        .chunks_exact(FRAME_BYTES)
        .map(|c| Frame {
            width: WIDTH,
            height: HEIGHT,
            data: c.to_vec(),
        })
        .collect())
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn run() -> BenchResult<()> {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        println!("ffmpeg not found; the interpolate bench needs it for its clip");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let clip_path = dir.path().join("clip.rgb");
    let even_path = dir.path().join("even.rgb");
    let mi_path = dir.path().join("mi.rgb");
    println!(
        "interpolate bench: {FRAMES} frames of {WIDTH}x{HEIGHT} testsrc2 at 30 fps; even frames in, odd frames rebuilt at t = 0.5"
    );
    ffmpeg(&[
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
        &clip_path.to_string_lossy(),
    ])?;
    let clip = read_frames(&clip_path)?;
    if clip.len() != FRAMES {
        return Err(format!("expected {FRAMES} frames, got {}", clip.len()).into());
    }
    let even: Vec<&Frame> = clip.iter().step_by(2).collect();
    let mut even_raw = Vec::with_capacity(even.len() * FRAME_BYTES);
    for f in &even {
        even_raw.extend_from_slice(&f.data);
    }
    std::fs::write(&even_path, &even_raw)?;
    // Odd frames 2k+1 with both neighbours present.
    let pairs = even.len() - 1;

    // (a) Ours.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()?;
    let mut params = Params::default();
    if let Some(b) = std::env::var("INTERP_BLOCK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.block = b;
    }
    if let Some(b) = std::env::var("INTERP_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.iterations = b;
    }
    if let Some(b) = std::env::var("INTERP_LEVELS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        params.levels = b;
    }
    let start = Instant::now();
    let ours: Vec<(Frame, bool)> = pool.install(|| {
        (0..pairs)
            .map(|k| {
                let pair = FlowPair::estimate(even[k], even[k + 1], &params)?;
                Ok((pair.render(even[k], even[k + 1], 0.5)?, pair.is_cut()))
            })
            .collect::<Result<_, kino_kernels::interpolate::InterpolateError>>()
    })?;
    let ours_s = start.elapsed().as_secs_f64();
    let ours_psnr = (0..pairs)
        .map(|k| psnr(&ours[k].0.data, &clip[2 * k + 1].data))
        .sum::<f64>()
        / pairs as f64;
    {
        let t0 = Instant::now();
        let pairs_est: Vec<FlowPair> = pool.install(|| {
            (0..10)
                .filter_map(|k| FlowPair::estimate(even[k], even[k + 1], &params).ok())
                .collect()
        });
        let t1 = Instant::now();
        pool.install(|| {
            for (k, p) in pairs_est.iter().enumerate() {
                let _ = p.render(even[k], even[k + 1], 0.5);
            }
        });
        println!(
            "split: estimate {:.1} ms, render {:.1} ms per frame",
            (t1 - t0).as_secs_f64() * 100.0,
            t1.elapsed().as_secs_f64() * 100.0
        );
    }
    let cuts = ours.iter().filter(|o| o.1).count();

    // (b) minterpolate.
    let start = Instant::now();
    ffmpeg(&[
        "-threads",
        &THREADS.to_string(),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        &format!("{WIDTH}x{HEIGHT}"),
        "-r",
        "15",
        "-i",
        &even_path.to_string_lossy(),
        "-filter_threads",
        &THREADS.to_string(),
        "-vf",
        "minterpolate=fps=30:mi_mode=mci",
        "-threads",
        &THREADS.to_string(),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        &mi_path.to_string_lossy(),
    ])?;
    let mi_s = start.elapsed().as_secs_f64();
    let mi = read_frames(&mi_path)?;
    // Output frame 2k is input k; 2k+1 is the midpoint. Check the alignment
    // on the even outputs before scoring the odd ones.
    let even_check = (0..pairs.min(mi.len() / 2))
        .map(|k| psnr(&mi[2 * k].data, &even[k].data))
        .sum::<f64>()
        / pairs.min(mi.len() / 2).max(1) as f64;
    let mi_pairs = pairs.min(mi.len().saturating_sub(1) / 2);
    let mi_psnr = (0..mi_pairs)
        .map(|k| psnr(&mi[2 * k + 1].data, &clip[2 * k + 1].data))
        .sum::<f64>()
        / mi_pairs.max(1) as f64;
    let mi_generated = mi.len().saturating_sub(even.len());

    // (c) Blend.
    let blend_psnr = (0..pairs)
        .map(|k| {
            let b: Vec<u8> = even[k]
                .data
                .iter()
                .zip(&even[k + 1].data)
                .map(|(&x, &y)| (u16::from(x) + u16::from(y)).div_ceil(2) as u8)
                .collect();
            psnr(&b, &clip[2 * k + 1].data)
        })
        .sum::<f64>()
        / pairs as f64;

    let ours_fps = pairs as f64 / ours_s;
    let mi_fps = mi_generated.max(1) as f64 / mi_s;
    println!(
        "ours:         {pairs} frames in {ours_s:.2} s = {ours_fps:.1} interpolated frames/s ({THREADS} threads), PSNR {ours_psnr:.2} dB, cuts {cuts}"
    );
    println!(
        "minterpolate: {} output frames ({mi_generated} new) in {mi_s:.2} s = {mi_fps:.2} interpolated frames/s (-threads {THREADS}), PSNR {mi_psnr:.2} dB over {mi_pairs} odd frames (even outputs vs inputs: {even_check:.2} dB)",
        mi.len()
    );
    println!("blend:        PSNR {blend_psnr:.2} dB");
    println!(
        "speed ratio ours / minterpolate: {:.1}x (per interpolated frame; minterpolate's time includes raw I/O and its copied frames)",
        ours_fps / mi_fps
    );
    Ok(())
}
