//! The CUDA kernels beside their CPU twins on the same frames: 3D LUT
//! (including upload and download, and where that time goes) and RGB↔YUV
//! 4:2:0 and HLG P010 to SDR RGB (the tone map NVDEC's HDR frames take)
//! at 1080p and 4K; a camera move over a 4K still and a logo's
//! composite, a title's text and a karaoke caption at 1080p, and the three
//! together as a render node makes a frame (resident on the GPU); 2×
//! interpolation (flow estimate and in-between frame) at 1080p and 4K.
//! Each GPU output is checked against the CPU's. Then FFmpeg's CUDA
//! filters where one does a kernel's work (`ffmpeg_cuda`).
//!
//! `cargo bench -p kino-cuda --features cuda --bench gpu` (`scripts/gpu-check.sh`
//! runs it on a GPU machine). Without the feature or a GPU it prints the CPU
//! figures and why the GPU column is empty. Each figure is the median of
//! its runs.

use std::time::{Duration, Instant};

mod ffmpeg_cuda;

use kino_kernels::hdr::{ToSdr, Transfer, Yuv420View10};
use kino_kernels::interpolate::{FlowPair, Frame, Params};
use kino_kernels::lut::CubeLut;
use kino_kernels::scene::{self, CameraMove, Image, Shot, ShotSize};
use kino_kernels::subtitle::Cue;
use kino_kernels::text::{
    self, CaptionKind, DynamicCaption, DynamicLook, DynamicStyle, Font, Outline, Placement,
    RenderedText, TextBox, TextStyle,
};
use kino_kernels::words::DynamicCue;
use kino_kernels::yuv::{Chroma, Yuv420};

const ROUNDS: usize = 15;

fn main() {
    let lut = CubeLut::from_fn(33, |[r, g, b]| {
        let s = |x: f32| x * x * (3.0 - 2.0 * x);
        [s(r) * 1.04, s(g), s(b) * 0.92 + 0.03]
    })
    .expect("a 33³ LUT");
    println!(
        "CUDA kernels vs CPU: median of {ROUNDS} runs, {} CPU threads",
        rayon::current_num_threads()
    );
    println!(
        "{:<28} {:>12} {:>12} {:>10}  notes",
        "kernel", "CPU fps", "GPU fps", "speed-up"
    );
    for (name, width, height) in [("1080p", 1920, 1080), ("4K", 3840, 2160)] {
        let frame = picture(width, height);
        let cpu_lut = fps(|| {
            let mut f = frame.clone();
            lut.apply_rgb8(&mut f).expect("grade");
        });
        let cpu_yuv = fps(|| {
            Yuv420::from_rgb24(&frame, width, height);
        });
        let gpu = gpu::run(&lut, &frame, width, height);
        row(
            &format!("lut 33³ rgb8 {name}"),
            cpu_lut,
            gpu.lut,
            &gpu.lut_note,
        );
        // A run of frames, three in flight: from and to pageable memory
        // (each frame copied into and out of page-locked memory on every
        // core, as `kino lut apply` does), and from and to page-locked
        // memory (a producer and consumer that use it directly).
        for (how, (gpu_fps, note)) in gpu::lut_run(&lut, &frame) {
            row(
                &format!("lut 33³ {name} run {how}"),
                cpu_lut,
                gpu_fps,
                &note,
            );
        }
        row(
            &format!("rgb→yuv420 {name}"),
            cpu_yuv,
            gpu.yuv,
            &gpu.yuv_note,
        );
        let yuv = Yuv420::from_rgb24(&frame, width, height);
        let cpu_rgb = fps(|| {
            yuv.to_rgb24();
        });
        let (gpu_rgb, note) = gpu::rgb(&yuv);
        row(&format!("yuv420→rgb {name}"), cpu_rgb, gpu_rgb, &note);
        let hdr = P010::new(width, height);
        let to_sdr = ToSdr::new(Transfer::Hlg, 1000.0);
        let cpu_sdr = fps(|| {
            hdr.to_sdr(&to_sdr);
        });
        let (gpu_sdr, note) = gpu::to_sdr(&to_sdr, &hdr);
        row(&format!("hlg p010→sdr rgb {name}"), cpu_sdr, gpu_sdr, &note);
        row(
            &format!("lut+yuv420 {name}"),
            1.0 / (1.0 / cpu_lut + 1.0 / cpu_yuv),
            gpu.chain,
            "GPU: one upload, one download",
        );
    }
    // The scene renderer: an orbit (rotated) and a push-in (not) over a 4K
    // still into 1080p, and a 400×400 logo onto a 1080p frame.
    let still = image(3840, 2160);
    for (name, camera) in [
        ("orbit", CameraMove::Orbit),
        ("push-in", CameraMove::PushIn),
    ] {
        let shot = Shot::new(camera, ShotSize::Wide);
        let cpu = fps(|| {
            scene::ken_burns(&still, 1920, 1080, shot, 0.4).expect("camera");
        });
        let (gpu, note) = gpu::camera(&still, shot);
        row(&format!("camera {name} 4K→1080p"), cpu, gpu, &note);
    }
    let logo = image(400, 400);
    let base = Frame {
        width: 1920,
        height: 1080,
        data: picture(1920, 1080),
    };
    let cpu = fps(|| {
        let mut f = base.clone();
        scene::overlay(&mut f, &logo, 1400.0, 80.0, 1.0, 0.9).expect("overlay");
    });
    let (gpu, note) = gpu::overlay(&base, &logo);
    row("overlay 400² logo 1080p", cpu, gpu, &note);
    let style = TextStyle {
        outline: Some(Outline {
            width_px: 4.0,
            color: [0, 0, 0],
        }),
        background: Some(TextBox {
            color: [20, 20, 60],
            opacity: 0.6,
            padding_px: 16.0,
        }),
        ..TextStyle::new(72.0)
    };
    let font = Font::system_bold().expect("DejaVu Sans Bold (fonts-dejavu-core)");
    let title = text::layout(
        &font,
        "Kino grades in linear light\nand composites on the GPU",
        &style,
    )
    .expect("layout")
    .render();
    let at = title.position(1920, 1080, Placement::Bottom { margin_px: 108.0 });
    let cpu = fps(|| {
        let mut f = base.clone();
        title.draw(&mut f, at.0, at.1).expect("text");
    });
    let (gpu, note) = gpu::text(&base, &title, at);
    row("text title 1080p", cpu, gpu, &note);
    // A karaoke caption mid-cue: the edge inside a word, every frame.
    let cue = DynamicCue::proportional(&Cue::new(0, 3000, "Cold brew, ready when you are"));
    let look = DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined);
    let caption = DynamicCaption::new(&font, &cue, &look, 1920, 1080).expect("caption");
    let cpu = fps(|| {
        let mut f = base.clone();
        caption.draw(&mut f, 1234).expect("caption");
    });
    let (gpu, note) = gpu::caption(&base, &caption, 1234);
    row("karaoke caption 1080p", cpu, gpu, &note);
    // A render node's frame: the camera over the 4K still, the title and
    // the logo, as the ad's still scenes are drawn.
    let shot = Shot::new(CameraMove::PushIn, ShotSize::Wide);
    let cpu = fps(|| {
        let mut f = scene::ken_burns(&still, 1920, 1080, shot, 0.4).expect("camera");
        title.draw(&mut f, at.0, at.1).expect("text");
        scene::overlay(&mut f, &logo, 1400.0, 80.0, 1.0, 0.9).expect("overlay");
    });
    let (gpu, note) = gpu::scene_frame(&still, shot, &title, at, &logo);
    row("scene frame 4K→1080p", cpu, gpu, &note);
    // A 4K clip's frame framed into 1080p, as the ad's footage scenes are:
    // each frame a new picture, so its mip levels are made every time.
    let clip = Frame {
        width: 3840,
        height: 2160,
        data: picture(3840, 2160),
    };
    let shot = Shot::new(CameraMove::PushIn, ShotSize::ExtremeWide);
    let cpu = fps(|| {
        let image = Image::from_frame(&clip).expect("picture");
        scene::ken_burns(&image, 1920, 1080, shot, 0.4).expect("camera");
    });
    let (gpu, note) = gpu::footage_frame(&clip, shot);
    row("footage frame 4K→1080p", cpu, gpu, &note);
    // Interpolation at 2×: per pair of frames, the flow both ways and one
    // frame between them, on each device.
    for (name, width, height) in [("1080p", 1920, 1080), ("4K", 3840, 2160)] {
        let wide = picture(width + 8, height + 8);
        let crop = |dx: usize, dy: usize| Frame {
            width,
            height,
            data: (0..height)
                .flat_map(|y| {
                    let start = ((y + dy) * (width + 8) + dx) * 3;
                    wide[start..start + width * 3].to_vec()
                })
                .collect(),
        };
        let (a, b) = (crop(4, 4), crop(1, 2));
        let params = Params::default();
        let estimate = median(|| {
            let start = Instant::now();
            FlowPair::estimate(&a, &b, &params).expect("flow");
            start.elapsed()
        })
        .as_secs_f64();
        let pair = FlowPair::estimate(&a, &b, &params).expect("flow");
        let render = 1.0
            / fps(|| {
                pair.render(&a, &b, 0.5).expect("render");
            });
        let (gpu, note) = gpu::interpolate(&pair, &a, &b, &params);
        row(
            &format!("interpolate 2× {name}"),
            1.0 / (estimate + render),
            gpu,
            &format!(
                "new frames/s, flow + one frame a pair; CPU: flow {:.1} ms, frame {:.1} ms; {note}",
                estimate * 1e3,
                render * 1e3
            ),
        );
    }
    ffmpeg_cuda::rows();
}

/// A still with alpha.
fn image(width: usize, height: usize) -> Image {
    let rgba = picture(width, height)
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], p[0] | 0x80])
        .collect();
    Image::from_rgba(width, height, rgba).expect("an image")
}

fn row(name: &str, cpu: f64, gpu: Option<f64>, note: &str) {
    let (gpu_fps, speed_up) = match gpu {
        Some(g) => (format!("{g:.1}"), format!("{:.1}×", g / cpu)),
        None => ("—".to_owned(), "—".to_owned()),
    };
    println!("{name:<28} {cpu:>12.1} {gpu_fps:>12} {speed_up:>10}  {note}");
}

/// Frames a second: the median of `ROUNDS` timed calls (after one warm-up).
fn fps(mut f: impl FnMut()) -> f64 {
    1.0 / median(|| {
        let start = Instant::now();
        f();
        start.elapsed()
    })
    .as_secs_f64()
}

fn median(mut time: impl FnMut() -> Duration) -> Duration {
    time();
    let mut runs: Vec<Duration> = (0..ROUNDS).map(|_| time()).collect();
    runs.sort();
    runs[ROUNDS / 2]
}

/// A frame with gradients and noise, so no cache line repeats.
fn picture(width: usize, height: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    (0..width * height * 3)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((i / 3 % width * 255 / width) as u32 ^ (state & 31)) as u8
        })
        .collect()
}

/// A 10-bit picture as NVDEC decodes one (P010: each sample 6 bits up its
/// word, U and V interleaved), of in-range codes from a generator.
struct P010 {
    width: usize,
    height: usize,
    y: Vec<u16>,
    uv: Vec<u16>,
}

impl P010 {
    fn new(width: usize, height: usize) -> Self {
        let mut state = 0x2545_f491_u32;
        let mut code = move |lo: u32, span: u32| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((lo + state % span) as u16) << 6
        };
        Self {
            width,
            height,
            y: (0..width * height).map(|_| code(64, 877)).collect(),
            uv: (0..width.div_ceil(2) * 2 * height.div_ceil(2))
                .map(|_| code(64, 897))
                .collect(),
        }
    }

    fn view(&self) -> Yuv420View10<'_> {
        Yuv420View10 {
            y: &self.y,
            y_stride: self.width,
            chroma: Chroma::Interleaved {
                uv: &self.uv,
                stride: 2 * self.width.div_ceil(2),
            },
            shift: 6,
        }
    }

    fn to_sdr(&self, to_sdr: &ToSdr) -> Vec<u8> {
        let mut rgb = vec![0; self.width * self.height * 3];
        to_sdr.convert(self.view(), self.width, self.height, &mut rgb);
        rgb
    }
}

/// The GPU column.
struct GpuFigures {
    lut: Option<f64>,
    lut_note: String,
    yuv: Option<f64>,
    yuv_note: String,
    chain: Option<f64>,
}

impl GpuFigures {
    fn absent(why: String) -> Self {
        Self {
            lut: None,
            lut_note: format!("GPU: {why}"),
            yuv: None,
            yuv_note: String::new(),
            chain: None,
        }
    }
}

#[cfg(feature = "cuda")]
mod gpu {
    use super::*;
    use kino_cuda::gpu::{DeviceRgb, Gpu, LutRun, Phases};
    use kino_cuda::grading::copy_into;

    pub fn rgb(yuv: &Yuv420) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let (w, h) = (yuv.width, yuv.height);
        let exact = gpu.yuv420_to_rgb(yuv.view(), w, h).expect("GPU rgb") == yuv.to_rgb24();
        let fps = fps(|| {
            gpu.yuv420_to_rgb(yuv.view(), w, h).expect("GPU rgb");
        });
        (Some(fps), format!("bit-exact: {exact}"))
    }

    pub fn camera(still: &Image, shot: Shot) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let reference = scene::ken_burns(still, 1920, 1080, shot, 0.4).expect("camera");
        let plan = scene::camera_plan(still, shot, 0.4, 1920, 1080).expect("plan");
        let exact = gpu.camera_rgb8(&plan, 1920, 1080).expect("GPU camera") == reference.data;
        let fps = fps(|| {
            let plan = scene::camera_plan(still, shot, 0.4, 1920, 1080).expect("plan");
            gpu.camera_rgb8(&plan, 1920, 1080).expect("GPU camera");
        });
        (
            Some(fps),
            format!("bit-exact: {exact}; uploads the level every frame"),
        )
    }

    pub fn overlay(base: &Frame, logo: &Image) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let mut reference = base.clone();
        scene::overlay(&mut reference, logo, 1400.0, 80.0, 1.0, 0.9).expect("overlay");
        let plan = scene::overlay_plan(1920, 1080, logo, 1400.0, 80.0, 1.0, 0.9)
            .expect("plan")
            .expect("on the frame");
        let mut frame = base.data.clone();
        gpu.overlay_rgb8(&plan, &mut frame, 1920)
            .expect("GPU overlay");
        let exact = frame == reference.data;
        let fps = fps(|| {
            let mut frame = base.data.clone();
            gpu.overlay_rgb8(&plan, &mut frame, 1920)
                .expect("GPU overlay");
        });
        (Some(fps), format!("bit-exact: {exact}"))
    }

    pub fn text(base: &Frame, title: &RenderedText, (x, y): (i32, i32)) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let mut reference = base.clone();
        title.draw(&mut reference, x, y).expect("text");
        let plan = title.draw_plan(base.width, base.height, x, y);
        let mut frame = base.data.clone();
        gpu.text_rgb8(&plan, &mut frame, base.width)
            .expect("GPU text");
        let exact = frame == reference.data;
        let fps = fps(|| {
            let mut frame = base.data.clone();
            gpu.text_rgb8(&plan, &mut frame, base.width)
                .expect("GPU text");
        });
        (
            Some(fps),
            format!("bit-exact: {exact}; uploads the masks every call"),
        )
    }

    pub fn caption(base: &Frame, caption: &DynamicCaption, t_ms: u32) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let mut reference = base.clone();
        caption.draw(&mut reference, t_ms).expect("caption");
        let mut frame = base.data.clone();
        gpu.caption_rgb8(&caption.draw_plan(t_ms), &mut frame, base.width)
            .expect("GPU caption");
        let exact = frame == reference.data;
        let fps = fps(|| {
            let mut frame = base.data.clone();
            gpu.caption_rgb8(&caption.draw_plan(t_ms), &mut frame, base.width)
                .expect("GPU caption");
        });
        (
            Some(fps),
            format!("bit-exact: {exact}; uploads the masks and owners every call"),
        )
    }

    /// Camera, title and logo with the still, masks and logo resident and
    /// one download (`DeviceFrames`, as a render node makes its frames),
    /// beside the same three as separate calls.
    pub fn scene_frame(
        still: &Image,
        shot: Shot,
        title: &RenderedText,
        (x, y): (i32, i32),
        logo: &Image,
    ) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let (w, h) = (1920, 1080);
        let camera = scene::camera_plan(still, shot, 0.4, w, h).expect("camera plan");
        let text = title.draw_plan(w, h, x, y);
        let overlay = scene::overlay_plan(w, h, logo, 1400.0, 80.0, 1.0, 0.9)
            .expect("overlay plan")
            .expect("on the frame");
        let mut frames = kino_cuda::gpu::DeviceFrames::new(gpu.clone(), (w, h)).expect("frames");
        let mut out = vec![0; w * h * 3];
        let mut draw = |out: &mut Vec<u8>| {
            frames.camera(&camera).expect("camera");
            frames.text(&text).expect("text");
            frames.overlay(&overlay).expect("overlay");
            frames.download(out).expect("download");
        };
        draw(&mut out);
        let mut reference = scene::ken_burns(still, w, h, shot, 0.4).expect("camera");
        title.draw(&mut reference, x, y).expect("text");
        scene::overlay(&mut reference, logo, 1400.0, 80.0, 1.0, 0.9).expect("overlay");
        let exact = out == reference.data;
        let resident = fps(|| draw(&mut out));
        let separate = fps(|| {
            let mut f = gpu.camera_rgb8(&camera, w, h).expect("camera");
            gpu.text_rgb8(&text, &mut f, w).expect("text");
            gpu.overlay_rgb8(&overlay, &mut f, w).expect("overlay");
        });
        (
            Some(resident),
            format!(
                "bit-exact: {exact}; still, masks and logo resident, one download; as three calls {separate:.1} fps"
            ),
        )
    }

    /// A decoded 4K picture already on the GPU framed into 1080p by a
    /// node, its levels made there, one download; beside the way it went
    /// before: down, made an image and its levels on the CPU, the level
    /// up, framed, down.
    pub fn footage_frame(clip: &Frame, shot: Shot) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let (w, h) = (1920, 1080);
        let rgb = kino_cuda::gpu::DeviceRgb::upload(&gpu, clip).expect("picture up");
        let geometry = scene::camera_geometry((clip.width, clip.height), shot, 0.4, w, h)
            .expect("camera geometry");
        let mut frames = kino_cuda::gpu::DeviceFrames::new(gpu.clone(), (w, h)).expect("frames");
        let mut out = vec![0; w * h * 3];
        frames
            .camera_over_device(&rgb, &geometry)
            .expect("framed on the GPU");
        frames.download(&mut out).expect("download");
        let image = Image::from_frame(clip).expect("picture");
        let exact = out
            == scene::ken_burns(&image, w, h, shot, 0.4)
                .expect("camera")
                .data;
        let on_device = fps(|| {
            frames
                .camera_over_device(&rgb, &geometry)
                .expect("framed on the GPU");
            frames.download(&mut out).expect("download");
        });
        let round_trip = fps(|| {
            let down = rgb.download().expect("picture down");
            let image = Image::from_frame(&down).expect("picture");
            let plan = scene::camera_plan(&image, shot, 0.4, w, h).expect("camera plan");
            frames.camera_over(&plan).expect("framed");
            frames.download(&mut out).expect("download");
        });
        (
            Some(on_device),
            format!(
                "bit-exact: {exact}; level {} made on the GPU, one download; down, levels on the CPU and up: {round_trip:.1} fps",
                geometry.level
            ),
        )
    }

    /// Both frames up, the flow, one frame at t = 0.5 down, per pair; and
    /// how the two halves split.
    pub fn interpolate(
        pair: &FlowPair,
        a: &Frame,
        b: &Frame,
        params: &Params,
    ) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let size = (a.width, a.height);
        let flow = gpu
            .estimate_flow(&a.data, &b.data, size, params)
            .expect("GPU flow");
        let fields_exact = flow.pair().ab() == pair.ab() && flow.pair().ba() == pair.ba();
        let frame_exact = gpu.render_flow(&flow, 0.5).expect("GPU frame")
            == pair.render(a, b, 0.5).expect("render").data;
        let estimate = median(|| {
            let start = Instant::now();
            gpu.estimate_flow(&a.data, &b.data, size, params)
                .expect("GPU flow");
            start.elapsed()
        })
        .as_secs_f64();
        let render = 1.0
            / fps(|| {
                gpu.render_flow(&flow, 0.5).expect("GPU frame");
            });
        // As a node with its frames on the GPU would run it (a decoder's
        // pictures; the new frame left for the encoder): no transfers but
        // the fields coming down for the cut verdict.
        let (da, db) = (
            DeviceRgb::upload(&gpu, a).expect("upload"),
            DeviceRgb::upload(&gpu, b).expect("upload"),
        );
        let resident = median(|| {
            let start = Instant::now();
            let flow = gpu
                .estimate_flow_between(&da, &db, params)
                .expect("GPU flow");
            gpu.render_flow_to_device(&flow, 0.5).expect("GPU frame");
            start.elapsed()
        })
        .as_secs_f64();
        (
            Some(1.0 / (estimate + render)),
            format!(
                "GPU: flow {:.2} ms (both frames up), frame {:.2} ms (taps, blend, download); frames on the GPU: {:.1} fps ({:.2} ms); fields bit-exact: {fields_exact}, frame bit-exact: {frame_exact}",
                estimate * 1e3,
                render * 1e3,
                1.0 / resident,
                resident * 1e3
            ),
        )
    }

    /// The median of each phase over `ROUNDS` timed calls, and the share
    /// of the whole in transfers.
    fn phase_note(mut timed: impl FnMut() -> Phases) -> String {
        let phases: Vec<Phases> = (0..ROUNDS).map(|_| timed()).collect();
        let pick = |f: fn(&Phases) -> Duration| {
            let mut v: Vec<Duration> = phases.iter().map(f).collect();
            v.sort();
            v[v.len() / 2].as_secs_f64() * 1e3
        };
        let (up, kernel, down) = (
            pick(|p| p.upload),
            pick(|p| p.kernels),
            pick(|p| p.download),
        );
        let transfers = (up + down) / (up + kernel + down) * 100.0;
        format!(
            "upload {up:.2} ms, kernel {kernel:.3} ms, download {down:.2} ms: {transfers:.0}% in transfers"
        )
    }

    pub fn to_sdr(to_sdr: &ToSdr, hdr: &P010) -> (Option<f64>, String) {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return (None, format!("GPU: {why}")),
        };
        let (w, h) = (hdr.width, hdr.height);
        let exact = gpu
            .to_sdr_rgb8(to_sdr, hdr.view(), w, h)
            .expect("GPU tone map")
            == hdr.to_sdr(to_sdr);
        let fps = fps(|| {
            gpu.to_sdr_rgb8(to_sdr, hdr.view(), w, h)
                .expect("GPU tone map");
        });
        let phases = phase_note(|| {
            gpu.to_sdr_rgb8_timed(to_sdr, hdr.view(), w, h)
                .expect("GPU tone map")
                .1
        });
        (Some(fps), format!("bit-exact: {exact}; {phases}"))
    }

    /// Frames of a run to time.
    const RUN_FRAMES: usize = 60;

    pub fn lut_run(lut: &CubeLut, frame: &[u8]) -> [(&'static str, (Option<f64>, String)); 2] {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => {
                let why = format!("GPU: {why}");
                return [("pageable", (None, why.clone())), ("pinned", (None, why))];
            }
        };
        let plan = lut.rgb8_plan();
        let mut reference = frame.to_vec();
        lut.apply_rgb8(&mut reference).expect("grade");
        let mut run =
            LutRun::new(gpu, &plan, frame.len(), kino_cuda::grading::DEPTH).expect("a GPU run");
        let mut out = vec![0u8; frame.len()];
        let mut max_diff = 0;
        for _ in 0..2 {
            run.push(frame, |_| {}).expect("GPU run");
        }
        run.finish(|graded| {
            max_diff = graded
                .iter()
                .zip(&reference)
                .map(|(a, b)| a.abs_diff(*b))
                .fold(max_diff, u8::max);
        })
        .expect("GPU run");
        let pageable = fps(|| {
            for _ in 0..RUN_FRAMES {
                run.push(frame, |graded| copy_into(&mut out, graded))
                    .expect("GPU run");
            }
            run.finish(|graded| copy_into(&mut out, graded))
                .expect("GPU run");
        }) * RUN_FRAMES as f64;
        // Every slot holds the frame now: each push sends it up again as
        // it is, and the graded frames are left where they came down.
        let locked = fps(|| {
            for _ in 0..RUN_FRAMES {
                run.push_with(|_| {}, |_| {}).expect("GPU run");
            }
            run.finish(|_| {}).expect("GPU run");
        }) * RUN_FRAMES as f64;
        let note = format!(
            "max diff {max_diff}; {} in flight, {RUN_FRAMES} a run",
            kino_cuda::grading::DEPTH
        );
        [
            ("pageable", (Some(pageable), note.clone())),
            ("pinned", (Some(locked), note)),
        ]
    }

    pub fn run(lut: &CubeLut, frame: &[u8], width: usize, height: usize) -> GpuFigures {
        let gpu = match Gpu::get(0) {
            Ok(gpu) => gpu,
            Err(why) => return GpuFigures::absent(why.to_string()),
        };
        let plan = lut.rgb8_plan();
        let mut reference = frame.to_vec();
        lut.apply_rgb8(&mut reference).expect("grade");
        let graded = gpu.lut_rgb8(&plan, frame).expect("GPU grade");
        let max_diff = graded
            .iter()
            .zip(&reference)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        let lut_fps = fps(|| {
            gpu.lut_rgb8(&plan, frame).expect("GPU grade");
        });
        let phases = phase_note(|| gpu.lut_rgb8_timed(&plan, frame).expect("GPU grade").1);
        let reference_yuv = Yuv420::from_rgb24(frame, width, height);
        let mut yuv = Yuv420::new(width, height);
        gpu.rgb_to_yuv420(frame, width, height, yuv.planes())
            .expect("GPU yuv");
        let yuv_exact = yuv == reference_yuv;
        let yuv_fps = fps(|| {
            let mut out = Yuv420::new(width, height);
            gpu.rgb_to_yuv420(frame, width, height, out.planes())
                .expect("GPU yuv");
        });
        let chain = fps(|| {
            let mut out = Yuv420::new(width, height);
            gpu.grade_to_yuv420(&plan, frame, width, height, out.planes())
                .expect("GPU chain");
        });
        GpuFigures {
            lut: Some(lut_fps),
            lut_note: format!("max diff {max_diff}; {phases}"),
            yuv: Some(yuv_fps),
            yuv_note: format!("bit-exact: {yuv_exact}"),
            chain: Some(chain),
        }
    }
}

#[cfg(not(feature = "cuda"))]
mod gpu {
    use super::*;

    const NO_CUDA: &str = "GPU: this build has no CUDA";

    pub fn lut_run(_: &CubeLut, _: &[u8]) -> [(&'static str, (Option<f64>, String)); 2] {
        [
            ("pageable", (None, NO_CUDA.to_owned())),
            ("pinned", (None, NO_CUDA.to_owned())),
        ]
    }

    pub fn camera(_: &Image, _: Shot) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn to_sdr(_: &ToSdr, _: &P010) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn rgb(_: &Yuv420) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn overlay(_: &Frame, _: &Image) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn text(_: &Frame, _: &RenderedText, _: (i32, i32)) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn caption(_: &Frame, _: &DynamicCaption, _: u32) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn scene_frame(
        _: &Image,
        _: Shot,
        _: &RenderedText,
        _: (i32, i32),
        _: &Image,
    ) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn footage_frame(_: &Frame, _: Shot) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn interpolate(_: &FlowPair, _: &Frame, _: &Frame, _: &Params) -> (Option<f64>, String) {
        (None, NO_CUDA.to_owned())
    }

    pub fn run(_: &CubeLut, _: &[u8], _: usize, _: usize) -> GpuFigures {
        GpuFigures::absent("this build has no CUDA (`--features cuda`)".to_owned())
    }
}
