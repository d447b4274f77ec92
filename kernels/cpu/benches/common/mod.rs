//! Helpers the kernel benchmarks share: running the `ffmpeg` CLI beside our
//! kernels on the same input, and reporting timings.
//!
//! Each bench includes this with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a benchmark step returns.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Prints the load average before a run: a busy machine makes every figure
/// after it lower.
pub fn print_load() {
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "load average before: {} ({} CPUs)",
            load.join(" "),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
}

/// Whether the `ffmpeg` CLI is installed (its half of a comparison is
/// skipped, with a message, where it is not).
pub fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs ffmpeg quietly and returns its wall time.
pub fn ffmpeg_run(args: &[&str]) -> BenchResult<Duration> {
    let start = Instant::now();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(args)
        .output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "ffmpeg {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(elapsed)
}

/// A temporary path as the `&str` a command line wants.
pub fn path_str(p: &Path) -> BenchResult<&str> {
    p.to_str()
        .ok_or_else(|| format!("non-UTF-8 temp path {}", p.display()).into())
}

/// Prints one line of figures for runs of `frames` frames each (`times` is
/// sorted in place) and returns the median's frames per second.
pub fn report(label: &str, frames: usize, times: &mut [Duration]) -> f64 {
    let runs: Vec<String> = times
        .iter()
        .map(|t| format!("{:.3}", t.as_secs_f64()))
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let fps = frames as f64 / median.as_secs_f64();
    println!(
        "{label:<40} {fps:7.1} frames/s  (median of {}: {:.3} s; runs {})",
        times.len(),
        median.as_secs_f64(),
        runs.join(" ")
    );
    fps
}

/// The two ways a bench runs the CLI on `input` (its options up to and
/// including the filter): writing raw RGB24 to `out` (kept, to compare),
/// and to `-f null` (FFmpeg's time without the write).
pub fn rgb24_to_file_and_null<'a>(input: &[&'a str], out: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let to_file = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", out];
    (
        input.iter().chain(&to_file).copied().collect(),
        input.iter().chain(&["-f", "null", "-"]).copied().collect(),
    )
}

/// Prints how far our 8-bit output is from FFmpeg's on the same frames.
pub fn print_diff(ours: &[u8], theirs: &[u8]) -> BenchResult<()> {
    if theirs.len() != ours.len() {
        return Err(format!(
            "ffmpeg output is {} bytes, ours {}",
            theirs.len(),
            ours.len()
        )
        .into());
    }
    let (mut sum, mut max, mut differing, mut ours_higher) = (0u64, 0u8, 0u64, 0u64);
    for (a, b) in ours.iter().zip(theirs) {
        let d = a.abs_diff(*b);
        sum += u64::from(d);
        max = max.max(d);
        differing += u64::from(d != 0);
        ours_higher += u64::from(a > b);
    }
    let n = ours.len() as f64;
    println!(
        "ours vs ffmpeg output: mean abs diff {:.4} levels, max diff {} levels, {:.2}% of samples differ ({:.2}% ours higher)",
        sum as f64 / n,
        max,
        100.0 * differing as f64 / n,
        100.0 * ours_higher as f64 / n
    );
    Ok(())
}
