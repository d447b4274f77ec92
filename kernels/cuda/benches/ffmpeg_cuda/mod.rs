//! FFmpeg's own CUDA filters where one does a kernel's work, run by the
//! `ffmpeg` CLI on GPU 0 in the same run as the bench's GPU column:
//! `scale_cuda` resizing a 4K frame to 1080p (the camera's push-in does
//! that and more) and `overlay_cuda` putting a 400² logo on a 1080p frame.
//!
//! Every frame is uploaded from host memory and downloaded again, as in
//! our GPU column, and a graph that only uploads and downloads the same
//! frames gives the transfers' share. FFmpeg's CUDA filters take YUV or
//! four-byte RGB, not RGB24, so each row's note names its layout.
//!
//! A graph's rate is the difference between a long and a short run of it,
//! over the extra frames: start-up (the CUDA context, the filter's module)
//! cancels out. The source is one `testsrc2` frame looped, so drawing it
//! costs nothing per frame. Where `ffmpeg` is missing, lacks the filters
//! or cannot open the GPU, the section says so and measures nothing.

use std::process::Command;
use std::time::{Duration, Instant};

/// Frames in the short and the long run of a graph.
const SHORT: u32 = 30;
const LONG: u32 = 330;
/// Runs of each length; the median is taken.
const RUNS: usize = 3;

/// A graph to time: its `lavfi` sources and its filters.
struct Graph {
    name: &'static str,
    sources: &'static [&'static str],
    filters: String,
    note: String,
}

/// Input `input`'s first frame in `format`, looped and uploaded, as
/// `[label]`.
fn uploaded(input: usize, format: &str, label: &str) -> String {
    format!("[{input}:v]format={format},loop=loop=-1:size=1,hwupload[{label}]")
}

/// The filters FFmpeg has on the GPU for our kernels' work, each with the
/// same frames only carried up and down.
fn graphs() -> Vec<(Graph, Graph)> {
    const UHD: &[&str] = &["testsrc2=size=3840x2160:rate=30"];
    const HD_AND_LOGO: &[&str] = &[
        "testsrc2=size=1920x1080:rate=30",
        "testsrc2=size=400x400:rate=30",
    ];
    let scale = |format: &'static str, bytes: &str| {
        (
            Graph {
                name: "ffmpeg scale_cuda 4K→1080p",
                sources: UHD,
                filters: format!(
                    "{};[up]scale_cuda=w=1920:h=1080:interp_algo=bilinear,hwdownload,format={format}",
                    uploaded(0, format, "up")
                ),
                note: format!(
                    "{format} ({bytes}), bilinear, 4K up and 1080p down; ours: camera push-in 4K→1080p"
                ),
            },
            Graph {
                name: "",
                sources: UHD,
                filters: format!(
                    "{};[up]hwdownload,format={format}",
                    uploaded(0, format, "up")
                ),
                note: format!("4K {format} up and down"),
            },
        )
    };
    vec![
        scale("bgr0", "4 B/px"),
        scale("yuv420p", "1.5 B/px"),
        (
            Graph {
                name: "ffmpeg overlay_cuda 1080p",
                sources: HD_AND_LOGO,
                filters: format!(
                    "{};{};[main][logo]overlay_cuda=x=1400:y=80,hwdownload,format=yuv420p",
                    uploaded(0, "yuv420p", "main"),
                    uploaded(1, "yuva420p", "logo")
                ),
                // (overlay_cuda puts an alpha logo only on planar 4:2:0)
                note: "yuv420p frame, yuva420p 400² logo, both up and the frame down; ours: overlay 400² logo 1080p"
                    .to_owned(),
            },
            Graph {
                name: "",
                sources: &["testsrc2=size=1920x1080:rate=30"],
                filters: format!(
                    "{};[main]hwdownload,format=yuv420p",
                    uploaded(0, "yuv420p", "main")
                ),
                note: "the 1080p yuv420p frame up and down".to_owned(),
            },
        ),
    ]
}

/// Prints a row per filter (in the bench's table layout: the GPU column
/// holds FFmpeg's rate), or why there are none.
pub fn rows() {
    println!(
        "FFmpeg's CUDA filters, the ffmpeg CLI on cuda:0 (GPU column), every frame up and down:"
    );
    if let Err(why) = usable() {
        println!("  not measured: {why}");
        return;
    }
    for (graph, transfers) in graphs() {
        let (fps, note) = match rate(&graph) {
            Ok(fps) => {
                let carried = match rate(&transfers) {
                    Ok(carried) => format!(
                        "{carried:.1} fps ({:.0}% of the time)",
                        100.0 * fps / carried
                    ),
                    Err(why) => why,
                };
                let note = format!("{}; {} alone: {carried}", graph.note, transfers.note);
                (format!("{fps:.1}"), note)
            }
            Err(why) => ("—".to_owned(), why),
        };
        println!(
            "{:<28} {:>12} {fps:>12} {:>10}  {note}",
            graph.name, "—", "—"
        );
    }
}

/// Whether `ffmpeg` is on the path with both filters and can open GPU 0.
fn usable() -> Result<(), String> {
    let filters = Command::new("ffmpeg")
        .args(["-hide_banner", "-filters"])
        .output()
        .map_err(|e| format!("no ffmpeg on the path ({e})"))?;
    let listed = String::from_utf8_lossy(&filters.stdout);
    for filter in ["scale_cuda", "overlay_cuda", "hwupload", "loop"] {
        if !listed.split_whitespace().any(|word| word == filter) {
            return Err(format!("this ffmpeg has no `{filter}` filter"));
        }
    }
    let graph = Graph {
        name: "",
        sources: &["testsrc2=size=64x64"],
        filters: format!("{};[up]hwdownload,format=nv12", uploaded(0, "nv12", "up")),
        note: String::new(),
    };
    run(&graph, 1).map(drop)
}

/// Frames a second `graph` adds per extra frame: the median long run less
/// the median short one.
fn rate(graph: &Graph) -> Result<f64, String> {
    let median = |frames| -> Result<Duration, String> {
        let mut times = (0..RUNS)
            .map(|_| run(graph, frames))
            .collect::<Result<Vec<_>, _>>()?;
        times.sort();
        Ok(times[RUNS / 2])
    };
    let (short, long) = (median(SHORT)?, median(LONG)?);
    let extra = long.saturating_sub(short).as_secs_f64();
    if extra <= 0.0 {
        return Err(format!(
            "{} more frames took no longer: too fast to tell",
            LONG - SHORT
        ));
    }
    Ok(f64::from(LONG - SHORT) / extra)
}

/// Runs `graph` for `frames` frames into the null muxer: its wall time,
/// or what ffmpeg said.
fn run(graph: &Graph, frames: u32) -> Result<Duration, String> {
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args(["-hide_banner", "-loglevel", "error", "-nostdin"]);
    ffmpeg.args(["-init_hw_device", "cuda=gpu:0", "-filter_hw_device", "gpu"]);
    for source in graph.sources {
        ffmpeg.args(["-f", "lavfi", "-i", source]);
    }
    ffmpeg.args(["-filter_complex", &graph.filters]);
    ffmpeg.args(["-frames:v", &frames.to_string(), "-f", "null", "-"]);
    let start = Instant::now();
    let out = ffmpeg
        .output()
        .map_err(|e| format!("ffmpeg did not start: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        // (its first lines say why; the last ones what gave up)
        let said = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = said.lines().take(4).collect();
        return Err(format!(
            "ffmpeg failed ({}): {}",
            out.status,
            lines.join(" / ")
        ));
    }
    Ok(took)
}
