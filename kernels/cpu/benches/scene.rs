//! Scene rendering throughput: `kino_kernels::scene::ken_burns` at 1080p
//! against FFmpeg's `zoompan` filter on the same still and frame count, plus
//! the cost of a burned-in caption per frame.
//!
//! Run with `cargo bench -p kino-kernels --bench scene`. Needs the `ffmpeg`
//! CLI for the source still and the comparison; without it, only our
//! figures are printed (on a synthetic still).
//!
//! Ours renders into memory on a 2-thread pool. FFmpeg's wall time includes
//! decoding the looped PNG for every frame (that is how `-loop 1` works), so
//! a `-vf null` run on the same input is printed as its floor. zoompan
//! renders one zoom step per frame without rotation; our figures are given
//! for a push-in (no rotation) and an orbit (rotated sampling). Each figure
//! is the median of its runs, and the runs alternate so that load from
//! other processes falls on both alike.

mod common;

use std::time::{Duration, Instant};

use common::{BenchResult, ffmpeg_run, have_ffmpeg, path_str, print_load, report};
use kino_kernels::interpolate::Frame;
use kino_kernels::scene::{CameraMove, Image, Shot, ShotSize, ken_burns};
use kino_kernels::text::{self, CaptionKind, Font};

const WIDTH: usize = 1920;
const HEIGHT: usize = 1080;
/// The still is larger than the output, as a product plate would be.
const SRC_WIDTH: usize = 2400;
const SRC_HEIGHT: usize = 1350;
const FRAMES: usize = 90;
const THREADS: usize = 2;
const ROUNDS: usize = 5;
const CAPTION: &str =
    "Brightbrew cold brew concentrate: sixteen cups per bottle, brewed for twelve hours";

fn main() {
    if let Err(e) = run() {
        eprintln!("scene bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let still = dir.path().join("still.png");
    let ffmpeg = have_ffmpeg();

    println!(
        "scene bench: {FRAMES} frames of {WIDTH}x{HEIGHT} from a {SRC_WIDTH}x{SRC_HEIGHT} still, {THREADS} threads"
    );
    print_load();

    let src = if ffmpeg {
        ffmpeg_run(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={SRC_WIDTH}x{SRC_HEIGHT}"),
            "-frames:v",
            "1",
            "-y",
            path_str(&still)?,
        ])?;
        println!("still: ffmpeg testsrc2, PNG");
        Image::load(&still)?
    } else {
        println!("ffmpeg not found on PATH: measuring ours only, on a synthetic still");
        synthetic_still()?
    };

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()?;
    let render = |m: CameraMove| -> BenchResult<Duration> {
        let shot = Shot::new(m, ShotSize::Wide);
        let start = Instant::now();
        pool.install(|| -> BenchResult<()> {
            for i in 0..FRAMES {
                let t = i as f32 / (FRAMES - 1) as f32;
                let frame = ken_burns(&src, WIDTH, HEIGHT, shot, t)?;
                std::hint::black_box(&frame);
            }
            Ok(())
        })?;
        Ok(start.elapsed())
    };
    // Build the mipmap outside the timing: it is made once per still.
    render(CameraMove::PushIn)?;

    // zoompan: the same push-in, 1.0 -> 1.25 over the clip, centred.
    let step = 0.25 / (FRAMES - 1) as f32;
    let zoompan = format!(
        "zoompan=z='min(zoom+{step:.6},1.25)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={FRAMES}:s={WIDTH}x{HEIGHT}:fps=30"
    );
    let threads = THREADS.to_string();
    let ff = |vf: &str| -> BenchResult<Duration> {
        ffmpeg_run(&[
            "-threads",
            &threads,
            "-filter_threads",
            &threads,
            "-loop",
            "1",
            "-i",
            path_str(&still)?,
            "-vf",
            vf,
            "-frames:v",
            &FRAMES.to_string(),
            "-f",
            "null",
            "-",
        ])
    };

    let (mut push, mut orbit, mut ff_zoom, mut ff_null) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        push.push(render(CameraMove::PushIn)?);
        orbit.push(render(CameraMove::Orbit)?);
        if ffmpeg {
            ff_zoom.push(ff(&zoompan)?);
            ff_null.push(ff("null")?);
        }
    }
    let ours = report("ours ken_burns push-in (rgb24):", FRAMES, &mut push);
    report("ours ken_burns orbit (rotated):", FRAMES, &mut orbit);
    if ffmpeg {
        let theirs = report("ffmpeg zoompan push-in (yuv420p):", FRAMES, &mut ff_zoom);
        report("ffmpeg -vf null (PNG decode floor):", FRAMES, &mut ff_null);
        println!(
            "ratio ours push-in / ffmpeg zoompan: {:7.2}x",
            ours / theirs
        );
    }

    // Captions: a two-line caption on a 1080p frame, rendered from scratch
    // each frame (layout, rasterise, composite) and drawn from a cached
    // render (what a caption held over many frames costs after its first).
    match Font::system_bold() {
        Ok(font) => pool.install(|| caption_bench(&font))?,
        Err(e) => println!("captions skipped: {e}"),
    }
    Ok(())
}

fn caption_bench(font: &Font) -> BenchResult<()> {
    const CAPTION_FRAMES: usize = 60;
    let blank = Frame::new(WIDTH, HEIGHT, vec![90; WIDTH * HEIGHT * 3])?;
    for kind in [CaptionKind::Boxed, CaptionKind::Outlined] {
        let mut frame = blank.clone();
        let (mut full, mut cached) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..CAPTION_FRAMES {
                text::draw_caption(&mut frame, font, CAPTION, kind)?;
            }
            full.push(start.elapsed());
            let rendered = text::render_caption(font, CAPTION, kind, WIDTH, HEIGHT)?;
            let start = Instant::now();
            for _ in 0..CAPTION_FRAMES {
                rendered.draw_placed(&mut frame, text::caption_placement(HEIGHT))?;
            }
            cached.push(start.elapsed());
        }
        let per_frame = |times: &mut Vec<Duration>| {
            times.sort();
            times[times.len() / 2].as_secs_f64() * 1000.0 / CAPTION_FRAMES as f64
        };
        println!(
            "draw_caption {kind:?}: {:.2} ms/frame from scratch, {:.2} ms/frame from a cached render",
            per_frame(&mut full),
            per_frame(&mut cached)
        );
    }
    Ok(())
}

fn synthetic_still() -> BenchResult<Image> {
    let mut rgba = Vec::with_capacity(SRC_WIDTH * SRC_HEIGHT * 4);
    for y in 0..SRC_HEIGHT {
        for x in 0..SRC_WIDTH {
            rgba.extend_from_slice(&[
                (x * 255 / SRC_WIDTH) as u8,
                (y * 255 / SRC_HEIGHT) as u8,
                ((x ^ y) & 0xFF) as u8,
                255,
            ]);
        }
    }
    Ok(Image::from_rgba(SRC_WIDTH, SRC_HEIGHT, rgba)?)
}
