//! HDR to SDR throughput: `kino_kernels::hdr` against the ffmpeg CLI's
//! usual chain (zscale to linear light, BT.2020 to BT.709 primaries,
//! `tonemap=hable`, zscale to BT.709's curve) on the same 1080p 10-bit HLG
//! frames, plus how far the two outputs differ.
//!
//! Run with `cargo bench -p kino-kernels --bench hdr`. Needs the `ffmpeg`
//! CLI (with zscale) for the clip and the comparison. Ours converts the
//! clip held in memory; FFmpeg's wall time includes reading the raw clip
//! (from the page cache). Runs alternate, each figure is the median.

mod common;

use std::time::Instant;

use common::{
    BenchResult, ffmpeg_run, have_ffmpeg, path_str, print_diff, print_load, report,
    rgb24_to_file_and_null,
};
use kino_kernels::hdr::{ToSdr, Transfer, Yuv420View10};
use kino_kernels::yuv::Chroma;

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;
const FRAMES: usize = 30;
const LUMA: usize = WIDTH * HEIGHT;
const CHROMA: usize = LUMA / 4;
const FRAME_WORDS: usize = LUMA + 2 * CHROMA;
const THREADS: usize = 2;
const ROUNDS: usize = 5;

fn main() {
    if let Err(e) = run() {
        eprintln!("hdr bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    if !have_ffmpeg() {
        println!("hdr bench: skipped: no ffmpeg CLI on PATH (it makes the clip)");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.yuv");
    let ff_out = dir.path().join("ff.rgb");
    println!(
        "HDR bench: {FRAMES} frames of {WIDTH}x{HEIGHT} 10-bit HLG BT.2020 → BT.709 RGB24, Hable at 1000 nits"
    );
    print_load();
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
        "yuv420p10le",
        "-y",
        path_str(&input)?,
    ])?;
    let bytes = std::fs::read(&input)?;
    if bytes.len() != FRAMES * FRAME_WORDS * 2 {
        return Err(format!(
            "ffmpeg wrote {} bytes, expected {}",
            bytes.len(),
            FRAMES * FRAME_WORDS * 2
        )
        .into());
    }
    let clip: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();

    let size = format!("{WIDTH}x{HEIGHT}");
    let common = [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p10le",
        "-s",
        &size,
        "-i",
        path_str(&input)?,
        "-vf",
        "setparams=color_trc=arib-std-b67:color_primaries=bt2020:colorspace=bt2020nc:range=tv,\
         zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0:peak=10,\
         zscale=t=bt709:m=bt709:r=full,format=rgb24",
    ];
    let (to_file, to_null) = rgb24_to_file_and_null(&common, path_str(&ff_out)?);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()?;
    let to_sdr = ToSdr::new(Transfer::Hlg, 1000.0);
    let mut rgb = vec![0u8; FRAMES * LUMA * 3];
    let (mut ours, mut ff_file, mut ff_null) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        pool.install(|| {
            for (frame, out) in clip
                .chunks_exact(FRAME_WORDS)
                .zip(rgb.chunks_exact_mut(LUMA * 3))
            {
                let (y, uv) = frame.split_at(LUMA);
                let (u, v) = uv.split_at(CHROMA);
                let view = Yuv420View10 {
                    y,
                    y_stride: WIDTH,
                    chroma: Chroma::Planar {
                        u,
                        u_stride: WIDTH / 2,
                        v,
                        v_stride: WIDTH / 2,
                    },
                    shift: 0,
                };
                to_sdr.convert(view, WIDTH, HEIGHT, out);
            }
        });
        ours.push(start.elapsed());
        ff_file.push(ffmpeg_run(&to_file)?);
        ff_null.push(ffmpeg_run(&to_null)?);
    }
    let ours_fps = report(
        &format!("ours   ({THREADS} threads, in memory):"),
        FRAMES,
        &mut ours,
    );
    let ff_file_fps = report(
        "ffmpeg zscale+tonemap (rawvideo file output):",
        FRAMES,
        &mut ff_file,
    );
    let ff_null_fps = report(
        "ffmpeg zscale+tonemap (-f null output):",
        FRAMES,
        &mut ff_null,
    );
    println!(
        "ratio ours / ffmpeg (file output): {:7.2}x",
        ours_fps / ff_file_fps
    );
    println!(
        "ratio ours / ffmpeg (null output): {:7.2}x",
        ours_fps / ff_null_fps
    );

    print_diff(&rgb, &std::fs::read(&ff_out)?)
}
