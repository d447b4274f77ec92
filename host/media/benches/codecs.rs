//! H.264 encoding and decoding on each device, side by side on the same
//! 1080p frames: libx264 `veryfast` crf 20 against NVENC, and FFmpeg's
//! software decoder against NVDEC, each from RGB24 frames in memory to an
//! MP4 and back (so the RGB↔YUV conversion and the transfers count), and
//! the ffmpeg CLI decoding the same file to RGB24 as the reference, in
//! software and through NVDEC.
//! Then HDR: a 10-bit HLG HEVC clip (made by the CLI's libx265) decoded
//! and tone mapped to BT.709 RGB24, beside the CLI's zscale + tonemap chain
//! doing the same.
//! Built with `--features cuda`, NVDEC's frames are made RGB (and tone
//! mapped) by the CUDA kernels on the GPU; the NVDEC rows say where.
//! Run with `cargo bench -p kino-media --bench codecs`; where there is no
//! GPU the NVENC and NVDEC rows say why, and where there is no `ffmpeg` on
//! the path its row does.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use kino_media::{Mp4Writer, RgbFrame, VideoDevice, VideoReader};

#[path = "../tests/support/hlg.rs"]
mod hlg;
#[path = "../tests/support/panning.rs"]
mod support;

const W: u32 = 1920;
const H: u32 = 1080;
const FPS: f64 = 30.0;
/// Frames encoded per run (10 s), drawn from [`DISTINCT`] generated ones.
const FRAMES: usize = 300;
const DISTINCT: usize = 30;

fn frame(i: usize) -> RgbFrame {
    support::frame(i, (W, H), 7.0, 160, FPS)
}

/// Encodes the frames on `device`: frames per second, and why the GPU
/// could not where it could not.
fn encode(device: VideoDevice, frames: &[RgbFrame], path: &Path) -> (f64, Option<String>) {
    let start = Instant::now();
    let mut writer = Mp4Writer::options(W, H, FPS)
        .on(device)
        .joinable()
        .create(path)
        .expect("writer");
    let fallback = writer.fallback().map(str::to_owned);
    for i in 0..FRAMES {
        writer
            .write_video_frame(&frames[i % frames.len()])
            .expect("encode");
    }
    writer.finish().expect("finish");
    (FRAMES as f64 / start.elapsed().as_secs_f64(), fallback)
}

/// Decodes `path` on `device`: frames per second, and why the GPU could
/// not where it could not.
fn decode(device: VideoDevice, path: &Path, frames: usize) -> (f64, Option<String>) {
    let start = Instant::now();
    let mut reader = VideoReader::open_on(device, path).expect("reader");
    let mut n = 0usize;
    while reader.next_frame().expect("decode").is_some() {
        n += 1;
    }
    assert_eq!(n, frames);
    (
        n as f64 / start.elapsed().as_secs_f64(),
        reader.fallback().map(str::to_owned),
    )
}

/// Where NVDEC's frames of `path` are made RGB: on the GPU (a `cuda`
/// build), or on the CPU and why. Also opens what a process opens once
/// (FFmpeg's CUDA device, the kernels' module), so the timed rows do not
/// count it.
fn nvdec_made_rgb(gpu: VideoDevice, path: &Path) -> String {
    let Ok(mut reader) = VideoReader::open_on(gpu, path) else {
        return String::new();
    };
    let _ = reader.next_frame();
    match reader.conversion_fallback() {
        None => "made RGB on the GPU".to_owned(),
        Some(why) => format!("made RGB on the CPU: {why}"),
    }
}

/// The ffmpeg CLI decoding `path` to RGB24 (thrown away: the null muxer)
/// through `filter`, in software or through NVDEC (`-hwaccel cuda`,
/// whose frames come down for the conversion): frames per second, or why
/// it could not run.
fn ffmpeg_decode(path: &Path, frames: usize, filter: &str, nvdec: bool) -> Result<f64, String> {
    let path = path.to_str().ok_or("a path that is not UTF-8")?;
    let hwaccel: &[&str] = if nvdec { &["-hwaccel", "cuda"] } else { &[] };
    let start = Instant::now();
    ffmpeg(
        &[
            hwaccel,
            &[
                "-i", path, "-vf", filter, "-pix_fmt", "rgb24", "-f", "null", "-",
            ],
        ]
        .concat(),
    )?;
    Ok(frames as f64 / start.elapsed().as_secs_f64())
}

/// Runs the ffmpeg CLI quietly; where it fails, its first words say why.
fn ffmpeg(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("no ffmpeg CLI ({e})"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = said.lines().take(3).collect();
        return Err(format!(
            "ffmpeg failed ({}): {}",
            out.status,
            lines.join(" / ")
        ));
    }
    Ok(())
}

/// HDR frames decoded and tone mapped per run.
const HDR_FRAMES: usize = 60;

/// The ffmpeg CLI's usual HDR-to-SDR chain, at the peak Kino takes for
/// HLG (1000 nits).
const TONE_MAP: &str = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
                        tonemap=tonemap=hable:desat=0:peak=10,zscale=t=bt709:m=bt709:r=full";

fn main() {
    kino_media::init().expect("ffmpeg");
    let dir = tempfile::tempdir().expect("tempdir");
    let frames: Vec<RgbFrame> = (0..DISTINCT).map(frame).collect();
    let gpu = VideoDevice::Cuda(0);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) / 1000;

    let x264 = dir.path().join("x264.mp4");
    let (cpu_fps, _) = encode(VideoDevice::Cpu, &frames, &x264);
    println!(
        "x264 veryfast crf {}, 1080p encode: {cpu_fps:.1} fps ({} kB)",
        kino_media::X264_CRF,
        size(&x264)
    );
    let nvenc = dir.path().join("nvenc.mp4");
    match encode(gpu, &frames, &nvenc) {
        (_, Some(why)) => println!("nvenc 1080p encode: skipped: {why}"),
        (fps, None) => println!(
            "nvenc {} cq {}, 1080p encode: {fps:.1} fps, {:.1}× x264 ({} kB)",
            kino_media::NVENC_PRESET,
            kino_media::NVENC_CQ,
            fps / cpu_fps,
            size(&nvenc)
        ),
    }

    let (sw_fps, _) = decode(VideoDevice::Cpu, &x264, FRAMES);
    println!("software 1080p decode to RGB: {sw_fps:.1} fps");
    match ffmpeg_decode(&x264, FRAMES, "null", false) {
        Ok(fps) => println!(
            "ffmpeg CLI 1080p decode to rgb24 (reference): {fps:.1} fps, ours {:.2}×",
            sw_fps / fps
        ),
        Err(why) => println!("ffmpeg CLI 1080p decode to rgb24: skipped: {why}"),
    }
    let made_rgb = nvdec_made_rgb(gpu, &x264);
    let nvdec = match decode(gpu, &x264, FRAMES) {
        (_, Some(why)) => {
            println!("nvdec 1080p decode to RGB: skipped: {why}");
            None
        }
        (fps, None) => {
            println!(
                "nvdec 1080p decode to RGB: {fps:.1} fps, {:.1}× software ({made_rgb})",
                fps / sw_fps
            );
            Some(fps)
        }
    };
    // FFmpeg's own way: NVDEC, each frame down as NV12, swscale to RGB24.
    match (ffmpeg_decode(&x264, FRAMES, "null", true), nvdec) {
        (Ok(fps), Some(ours)) => println!(
            "ffmpeg CLI nvdec 1080p decode to rgb24 (frames down, swscale): {fps:.1} fps, ours {:.2}×",
            ours / fps
        ),
        (Ok(fps), None) => {
            println!("ffmpeg CLI nvdec 1080p decode to rgb24 (frames down, swscale): {fps:.1} fps")
        }
        (Err(why), _) => println!("ffmpeg CLI nvdec 1080p decode to rgb24: skipped: {why}"),
    }

    let hlg = match hlg::clip(&dir.path().join("hlg.mp4"), (W, H), HDR_FRAMES) {
        Ok(clip) => clip,
        Err(why) => {
            println!("software HLG 1080p decode + tone map: skipped: {why}");
            return;
        }
    };
    let (ours, _) = decode(VideoDevice::Cpu, &hlg, HDR_FRAMES);
    match ffmpeg_decode(&hlg, HDR_FRAMES, TONE_MAP, false) {
        Ok(fps) => println!(
            "software HLG 1080p decode + tone map to RGB: {ours:.1} fps; ffmpeg CLI zscale + tonemap (reference): {fps:.1} fps, ours {:.1}×",
            ours / fps
        ),
        Err(why) => println!(
            "software HLG 1080p decode + tone map to RGB: {ours:.1} fps; ffmpeg CLI: skipped: {why}"
        ),
    }
    let made_rgb = nvdec_made_rgb(gpu, &hlg);
    match decode(gpu, &hlg, HDR_FRAMES) {
        (_, Some(why)) => println!("nvdec HLG 1080p decode + tone map: skipped: {why}"),
        (fps, None) => println!(
            "nvdec HLG 1080p decode + tone map to RGB: {fps:.1} fps, {:.1}× software ({made_rgb})",
            fps / ours
        ),
    }
}
