//! NVENC and NVDEC against libx264 and the software decoder on the same
//! frames. Where there is no GPU (or no NVENC in this FFmpeg), each test
//! checks the fallback instead — the CPU's exact output, and the reason —
//! and prints why its GPU half was skipped. Built with `--features cuda`,
//! NVDEC's frames are made RGB on the GPU, to the same frames.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use kino_media::{Mp4Writer, Piece, RgbFrame, VideoDevice, VideoReader};

#[path = "support/hlg.rs"]
mod hlg;
#[path = "support/panning.rs"]
mod support;

const W: u32 = 640;
const H: u32 = 360;
const FPS: f64 = 24.0;
const FRAMES: usize = 48;
const GPU: VideoDevice = VideoDevice::Cuda(0);

fn frame(i: usize) -> RgbFrame {
    support::frame(i, (W, H), 3.0, 80, FPS)
}

/// A writer of a piece (no B-frames, so pieces join) on `device`.
fn piece_writer(device: VideoDevice, path: &Path) -> Mp4Writer {
    Mp4Writer::options(W, H, FPS)
        .on(device)
        .joinable()
        .create(path)
        .unwrap()
}

fn encode(mut writer: Mp4Writer) -> Mp4Writer {
    for i in 0..FRAMES {
        if i == FRAMES / 2 {
            writer.write_key_frame(&frame(i)).unwrap();
        } else {
            writer.write_video_frame(&frame(i)).unwrap();
        }
    }
    writer
}

fn decode(device: VideoDevice, path: &Path) -> (Vec<RgbFrame>, VideoReader) {
    let mut reader = VideoReader::open_on(device, path).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        frames.push(f);
    }
    (frames, reader)
}

/// Where a reader decoding on the GPU made its frames RGB. A `cuda` build
/// makes them RGB on the GPU that decoded them (its kernels are the CPU's
/// twins, so the frames are the same); any other says why not.
fn converted(reader: &VideoReader) -> String {
    match reader.conversion_fallback() {
        None => "made RGB on the GPU".to_owned(),
        Some(why) => {
            if cfg!(feature = "cuda") {
                panic!("a cuda build made NVDEC's frames RGB on the CPU: {why}");
            }
            format!("made RGB on the CPU: {why}")
        }
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Mean SSIM of the frames' luma (BT.601), over 8×8 windows every 4 px.
fn ssim(a: &RgbFrame, b: &RgbFrame) -> f64 {
    let luma = |f: &RgbFrame| -> Vec<f64> {
        f.data
            .chunks_exact(3)
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect()
    };
    let (ya, yb) = (luma(a), luma(b));
    let (w, h) = (a.width as usize, a.height as usize);
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut total, mut windows) = (0.0, 0);
    for y0 in (0..=h - 8).step_by(4) {
        for x0 in (0..=w - 8).step_by(4) {
            let at = |i: usize| (y0 + i / 8) * w + x0 + i % 8;
            let n = 64.0;
            let (ma, mb) = (
                (0..64).map(|i| ya[at(i)]).sum::<f64>() / n,
                (0..64).map(|i| yb[at(i)]).sum::<f64>() / n,
            );
            let (mut va, mut vb, mut cov) = (0.0, 0.0, 0.0);
            for i in 0..64 {
                let (da, db) = (ya[at(i)] - ma, yb[at(i)] - mb);
                va += da * da;
                vb += db * db;
                cov += da * db;
            }
            let (va, vb, cov) = (va / (n - 1.0), vb / (n - 1.0), cov / (n - 1.0));
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            windows += 1;
        }
    }
    total / f64::from(windows)
}

/// Mean PSNR and SSIM of `decoded` against the frames it was made from.
fn quality(decoded: &[RgbFrame]) -> (f64, f64) {
    assert_eq!(decoded.len(), FRAMES);
    let n = decoded.len() as f64;
    decoded
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(p, s), (i, d)| {
            let source = frame(i);
            (
                p + psnr(&source.data, &d.data) / n,
                s + ssim(&source, d) / n,
            )
        })
}

#[test]
fn nvenc_encodes_what_x264_does_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let (x264, nvenc) = (dir.path().join("x264.mp4"), dir.path().join("nvenc.mp4"));
    encode(piece_writer(VideoDevice::Cpu, &x264))
        .finish()
        .unwrap();
    let writer = encode(piece_writer(GPU, &nvenc));
    let (device, fallback) = (writer.device(), writer.fallback().map(str::to_owned));
    writer.finish().unwrap();

    if let Some(why) = fallback {
        // No NVENC here: the same libx264 video, byte for byte, and why.
        assert_eq!(device, VideoDevice::Cpu);
        assert!(why.starts_with("NVENC on cuda:0: "), "{why}");
        assert_eq!(
            std::fs::read(&x264).unwrap(),
            std::fs::read(&nvenc).unwrap()
        );
        println!("GPU half skipped: {why}");
        return;
    }
    assert_eq!(device, GPU);
    // The same stream layout: one H.264 stream, size, rate, frame count.
    let (a, b) = (
        kino_media::probe(&x264).unwrap(),
        kino_media::probe(&nvenc).unwrap(),
    );
    let (va, vb) = (a.video().unwrap(), b.video().unwrap());
    assert_eq!((vb.codec.as_str(), vb.width, vb.height), ("h264", W, H));
    assert_eq!(b.streams.len(), 1);
    assert!((va.fps - vb.fps).abs() < 1e-9, "{} vs {}", va.fps, vb.fps);
    let (x264_frames, _) = decode(VideoDevice::Cpu, &x264);
    let (nvenc_frames, _) = decode(VideoDevice::Cpu, &nvenc);
    let (x264_psnr, x264_ssim) = quality(&x264_frames);
    let (nvenc_psnr, nvenc_ssim) = quality(&nvenc_frames);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    println!(
        "nvenc vs source: PSNR {nvenc_psnr:.2} dB, SSIM {nvenc_ssim:.4}, {} bytes; \
         x264 veryfast: PSNR {x264_psnr:.2} dB, SSIM {x264_ssim:.4}, {} bytes",
        size(&nvenc),
        size(&x264)
    );
    assert!(nvenc_psnr >= x264_psnr - 3.0, "{nvenc_psnr} vs {x264_psnr}");
    assert!(nvenc_ssim >= 0.95, "{nvenc_ssim}");

    // The forced key frame is an IDR, and an NVENC piece joins an NVENC
    // video without re-encoding, not a libx264 one.
    let piece = Piece::open(&nvenc).unwrap();
    assert_eq!(piece.key_frames(), [0, FRAMES / 2]);
    let joined = piece_writer(GPU, &dir.path().join("j.mp4"));
    assert_eq!(joined.cannot_copy(&piece), None);
    let other = piece_writer(VideoDevice::Cpu, &dir.path().join("o.mp4"));
    assert!(other.cannot_copy(&piece).is_some());
}

#[test]
fn nvdec_decodes_what_the_software_decoder_does_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("x264.mp4");
    encode(piece_writer(VideoDevice::Cpu, &video))
        .finish()
        .unwrap();
    let (software, _) = decode(VideoDevice::Cpu, &video);
    let (hardware, mut reader) = decode(GPU, &video);
    assert_eq!(hardware.len(), software.len());
    if let Some(why) = reader.fallback() {
        assert_eq!(reader.device(), VideoDevice::Cpu);
        assert!(why.starts_with("NVDEC on cuda:0: "), "{why}");
        assert_eq!(hardware, software);
        println!("GPU half skipped: {why}");
        return;
    }
    assert_eq!(reader.device(), GPU);
    let made_rgb = converted(&reader);
    // H.264 decodes to the same YUV anywhere; NVDEC hands it over as NV12,
    // which the YUV kernel (the CPU's, or its GPU twin) converts as it
    // does planar.
    let mut worst = 0u8;
    for (h, s) in hardware.iter().zip(&software) {
        assert_eq!(
            (h.width, h.height, h.pts_secs),
            (s.width, s.height, s.pts_secs)
        );
        let diff = h.data.iter().zip(&s.data).map(|(a, b)| a.abs_diff(*b));
        worst = worst.max(diff.max().unwrap_or(0));
    }
    println!(
        "nvdec vs software decoder: {} frames, largest difference {worst} ({made_rgb})",
        hardware.len()
    );
    assert!(
        worst <= 1,
        "NVDEC's frames differ from software's by {worst}"
    );
    // Seeking to the start reopens on the same device.
    reader.seek(0.0).unwrap();
    assert_eq!(reader.device(), GPU);
    assert_eq!(reader.next_frame().unwrap().as_ref(), hardware.first());
}

/// A reader's pictures (what a render node frames) are its frames, and
/// stay on the GPU where NVDEC decoded them and the kernels made them RGB
/// there: only a `cuda` build on a GPU keeps them there.
#[test]
fn a_readers_pictures_are_its_frames_left_where_they_were_made() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("x264.mp4");
    encode(piece_writer(VideoDevice::Cpu, &video))
        .finish()
        .unwrap();
    for device in [VideoDevice::Cpu, GPU] {
        let (frames, _) = decode(device, &video);
        let mut reader = VideoReader::open_on(device, &video).unwrap();
        let kept = cfg!(feature = "cuda")
            && reader.device() == GPU
            && reader.conversion_fallback().is_none();
        let mut on_device = 0;
        for frame in &frames {
            let mut at = reader.next_picture().unwrap().expect("a picture a frame");
            assert_eq!(at.pts_secs, frame.pts_secs);
            let size = (frame.width as usize, frame.height as usize);
            assert_eq!(at.picture.size(), size);
            if at.picture.is_on_device() {
                on_device += 1;
            }
            let image = at.picture.image().unwrap();
            assert_eq!(image.to_frame().data, frame.data, "at {} s", frame.pts_secs);
            assert!(!at.picture.is_on_device(), "its pixels came down");
        }
        assert!(reader.next_picture().unwrap().is_none(), "the end");
        assert_eq!(
            on_device,
            if kept { frames.len() } else { 0 },
            "on {device}"
        );
        println!(
            "pictures read on {device}: {on_device} of {} left on the GPU",
            frames.len()
        );
    }
}

/// HDR through NVDEC: HEVC's 10 bits come down as P010 and are tone mapped
/// as the software decoder's planar 10 bits are, to the same frames.
#[test]
fn nvdec_reads_hdr_as_the_software_decoder_does_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let video = match hlg::clip(&dir.path().join("hlg.mp4"), (W, H), 12) {
        Ok(video) => video,
        Err(why) => {
            println!("hdr: skipped: {why}");
            return;
        }
    };
    let (software, _) = decode(VideoDevice::Cpu, &video);
    let (hardware, reader) = decode(GPU, &video);
    assert!(!software.is_empty());
    if let Some(why) = reader.fallback() {
        assert_eq!(hardware, software);
        println!("GPU half skipped: {why}");
        return;
    }
    let made_rgb = converted(&reader);
    let same = hardware
        .iter()
        .zip(&software)
        .filter(|(h, s)| h == s)
        .count();
    println!(
        "nvdec vs software decoder, HLG: {same} of {} frames the same ({made_rgb})",
        hardware.len()
    );
    assert_eq!(
        hardware, software,
        "HEVC decodes to the same samples anywhere"
    );
}
