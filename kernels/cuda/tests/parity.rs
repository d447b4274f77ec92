//! Each CUDA kernel against its CPU reference in `kino-kernels`, on the same
//! input: emulated on the CPU (`kino-cuda-emu`, the kernel's own source
//! compiled as C++) everywhere, and on the GPU too where this is a `cuda`
//! build on a machine with one (otherwise that half says why it is skipped).
//!
//! Bounds, from the GPU issue: LUT within 1 level of `apply_rgb8` (and
//! bit-exact with its portable kernel), colour conversion bit-exact.
#![allow(clippy::unwrap_used)]

use kino_cuda::Picture;
use kino_cuda::flow::{self, FlowKernels, Side};
use kino_cuda::mips::{self, Buffer, LevelKernels};
use kino_cuda::node::{Layers, Logo, NodeFrames};
use kino_kernels::hdr::{ToSdr, Transfer, Yuv420View10};
use kino_kernels::interpolate::{
    CUT_HISTOGRAM_BINS, FlowGrid, FlowLevel, FlowPair, Frame, Params, WARP_BLOCK, WarpPlan,
    flow_levels,
};
use kino_kernels::lut::{CubeLut, parse_cube};
use kino_kernels::scene::{self, CameraMove, Image, Shot, ShotSize};
use kino_kernels::subtitle::Cue;
use kino_kernels::text::{
    self, CaptionKind, CaptionPlan, DynamicCaption, DynamicLook, DynamicStyle, Font, Outline,
    RenderedText, TextBox, TextStyle,
};
use kino_kernels::words::DynamicCue;
use kino_kernels::yuv::{Chroma, Matrix, Yuv420, Yuv420View, yuv420_to_rgb24};

/// A deterministic picture that holds every level of every channel, with
/// gradients, hard edges and noise.
fn picture(width: usize, height: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            let px = match (y * 4 / height.max(1)) % 4 {
                0 => [
                    (i % 256) as u8,
                    ((i / 256) % 256) as u8,
                    (255 - i % 256) as u8,
                ],
                1 => [
                    (x * 255 / width.max(1)) as u8,
                    (y * 255 / height.max(1)) as u8,
                    128,
                ],
                2 => {
                    let on = (x / 8 + y / 8) % 2 == 0;
                    [if on { 255 } else { 0 }, 0, if on { 0 } else { 255 }]
                }
                _ => {
                    let n = noise();
                    [n as u8, (n >> 8) as u8, (n >> 16) as u8]
                }
            };
            rgb.extend_from_slice(&px);
        }
    }
    rgb
}

/// LUTs that exercise what the 8-bit tables fold in: plain, a domain that
/// is not [0, 1] (with inputs outside it), a shaper, values outside [0, 1]
/// (out-of-range outputs saturate, and the lattice is too wide for the
/// 16-bit SIMD copy), and the smallest and a large lattice.
fn luts() -> Vec<(&'static str, CubeLut)> {
    let warm = |[r, g, b]: [f32; 3]| [(r * 1.1 + 0.02).powf(0.9), g * 0.95 + 0.01, b * 0.8];
    let mut luts = vec![
        ("warm 33", CubeLut::from_fn(33, warm).unwrap()),
        (
            "size 2",
            CubeLut::from_fn(2, |[r, g, b]| [g, b, r]).unwrap(),
        ),
        (
            "wide values 17",
            // Smooth everywhere but the white corner, which sends the
            // range past 16.
            CubeLut::from_fn(17, |[r, g, b]| {
                if r.min(g).min(b) == 1.0 {
                    [20.0, -5.0, 20.0]
                } else {
                    [(3.0 * r + g).sin() * 0.5 + 0.5, g * g, (b + r) * 0.5]
                }
            })
            .unwrap(),
        ),
        ("identity 65", CubeLut::identity(65).unwrap()),
    ];
    let mut text = String::from(
        "TITLE \"domain and shaper\"\nDOMAIN_MIN 0.1 0.0 -0.2\nDOMAIN_MAX 0.9 1.0 1.2\nLUT_1D_SIZE 9\nLUT_3D_SIZE 5\n",
    );
    for i in 0..9 {
        let x = i as f32 / 8.0;
        text.push_str(&format!("{} {} {}\n", x.powf(2.2), x.sqrt(), x));
    }
    for b in 0..5 {
        for g in 0..5 {
            for r in 0..5 {
                let [r, g, b] = [r, g, b].map(|v| v as f32 / 4.0);
                text.push_str(&format!("{} {} {}\n", (r + g) / 2.0, g * g, 1.0 - b));
            }
        }
    }
    luts.push(("domain + shaper", parse_cube(&text).unwrap()));
    luts
}

/// The largest per-sample difference and how many samples differ.
fn compare(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0, 0), |(max, n), (&x, &y)| {
        let d = x.abs_diff(y);
        (max.max(d), n + usize::from(d != 0))
    })
}

#[test]
fn lut_kernel_matches_the_cpu_lut_within_one_level() {
    let (width, height) = (321, 179);
    let input = picture(width, height);
    for (name, lut) in luts() {
        let mut reference = input.clone();
        lut.apply_rgb8(&mut reference).unwrap();
        let plan = lut.rgb8_plan();
        let mut emulated = input.clone();
        let launch = kino_cuda::kernels::lut_rgb8(width * height);
        kino_cuda_emu::lut_rgb8(
            launch.grid,
            launch.block,
            &mut emulated,
            &plan.offsets,
            &plan.fracs,
            plan.lattice,
            plan.size,
        );
        let (max, differing) = compare(&emulated, &reference);
        println!(
            "lut {name}: emulated kernel vs CPU: max diff {max}, {differing}/{} samples differ",
            input.len()
        );
        assert!(
            max <= 1,
            "{name}: the kernel is {max} levels from the CPU LUT"
        );
        // The portable CPU kernel computes the same f32 operations in the
        // same order: bit for bit.
        let mut portable = input.clone();
        lut.apply_rgb8_portable(&mut portable).unwrap();
        assert!(
            emulated == portable,
            "{name}: the kernel differs from the portable CPU kernel"
        );
        gpu::lut(name, &lut, &input, &reference, &portable);
    }
}

/// A run of frames graded with frames in flight (`kino_cuda::grading`):
/// every frame comes back once, in order, within a level of the CPU LUT.
#[test]
fn a_graded_run_hands_back_every_frame_in_order_within_one_level() {
    let (width, height) = (160, 90);
    let lut = CubeLut::from_fn(17, |[r, g, b]| [g, (b * 1.3).min(1.0), r * r]).unwrap();
    let frames: Vec<Vec<u8>> = (0..7)
        .map(|i| {
            let mut data = picture(width, height);
            data.rotate_left(i * 3 * 17);
            data
        })
        .collect();
    let references: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut graded = f.clone();
            lut.apply_rgb8(&mut graded).unwrap();
            graded
        })
        .collect();
    let pool = std::sync::Arc::new(kino_cuda::Pool::from_env().unwrap());
    let mut grading = kino_cuda::grading::Grading::new(&pool, &lut, width * height * 3);
    let mut out = Vec::new();
    for frame in &frames {
        out.extend(grading.push(frame.clone()).unwrap());
    }
    out.extend(grading.finish().unwrap());
    assert_eq!(out.len(), frames.len());
    for (i, ((graded, ran), reference)) in out.iter().zip(&references).enumerate() {
        let (max, differing) = compare(graded, reference);
        assert!(
            max <= 1,
            "frame {i}, graded on {ran}: {differing} samples differ (max {max})"
        );
    }
    println!("graded run: {}", out[0].1);
    gpu::lut_run(&lut, &frames, &references, &out);
}

#[test]
fn yuv_kernel_matches_the_cpu_conversion_exactly() {
    for (width, height) in [(320, 180), (321, 179), (1, 1), (2, 3), (67, 2)] {
        let rgb = picture(width, height);
        let reference = Yuv420::from_rgb24(&rgb, width, height);
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        // Padded strides, so a kernel writing a row too far would show.
        let (ys, cs) = (width + 3, cw + 5);
        let (mut y, mut u, mut v) = (
            vec![0u8; ys * height],
            vec![0u8; cs * ch],
            vec![0u8; cs * ch],
        );
        let launch = kino_cuda::kernels::yuv420_blocks(width, height);
        kino_cuda_emu::rgb_to_yuv420(
            launch.grid,
            launch.block,
            &rgb,
            width,
            height,
            (&mut y, ys),
            (&mut u, cs),
            (&mut v, cs),
        );
        let emulated = Yuv420 {
            width,
            height,
            y: tight(&y, width, ys),
            u: tight(&u, cw, cs),
            v: tight(&v, cw, cs),
        };
        assert!(
            emulated == reference,
            "{width}×{height}: the kernel's planes differ from the CPU's"
        );
        for (plane, stride, w) in [(&y, ys, width), (&u, cs, cw), (&v, cs, cw)] {
            assert!(
                plane
                    .chunks(stride)
                    .all(|row| row[w..].iter().all(|&b| b == 0)),
                "{width}×{height}: padding written"
            );
        }
        gpu::yuv(&rgb, width, height, &reference);
    }
    println!("rgb→yuv420: emulated kernel identical to the CPU conversion at 5 sizes");
}

#[test]
fn yuv_to_rgb_kernel_matches_the_cpu_conversion_exactly() {
    let sizes: [(usize, usize); 5] = [(320, 180), (321, 179), (1, 1), (2, 3), (67, 2)];
    for (width, height) in sizes {
        // Every byte value in every plane (foot- and headroom included, so
        // the clamps are exercised), with padded rows.
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let (ys, cs) = (width + 3, 2 * cw + 5);
        let bytes = picture(ys, height + 3 * ch);
        let (y, chroma) = bytes.split_at(ys * height);
        let (u, v) = chroma.split_at(cs * ch);
        let layouts = [
            (
                "planar",
                Chroma::Planar {
                    u,
                    u_stride: cs,
                    v,
                    v_stride: cs,
                },
                1,
            ),
            ("nv12", Chroma::Interleaved { uv: u, stride: cs }, 2),
        ];
        for ((layout, view, step), matrix) in layouts
            .into_iter()
            .flat_map(|l| [(l, Matrix::Bt601), (l, Matrix::Bt709)])
        {
            let layout = format!("{layout} {matrix:?}");
            let yuv = Yuv420View {
                y,
                y_stride: ys,
                chroma: view,
                matrix,
            };
            let mut reference = vec![0u8; width * height * 3];
            yuv420_to_rgb24(yuv, width, height, &mut reference);
            let (u_plane, v_plane) = match view {
                Chroma::Planar { .. } => (u, v),
                Chroma::Interleaved { .. } => (u, &u[1..]),
            };
            let launch = kino_cuda::kernels::yuv420_blocks(width, height);
            let mut emulated = vec![7u8; width * height * 3 + 5];
            kino_cuda_emu::yuv420_to_rgb(
                launch.grid,
                launch.block,
                (y, ys),
                (u_plane, cs),
                (v_plane, cs),
                step,
                matrix.to_rgb(),
                width,
                height,
                &mut emulated,
            );
            assert_eq!(
                emulated[width * height * 3..],
                [7; 5],
                "{width}×{height} {layout}: wrote past the frame"
            );
            emulated.truncate(width * height * 3);
            let (max, differing) = compare(&emulated, &reference);
            assert_eq!(
                differing, 0,
                "{width}×{height} {layout}: the kernel differs from the CPU (max {max})"
            );
            gpu::rgb(yuv, width, height, &reference);
        }
    }
    println!(
        "yuv420→rgb (planar and NV12, BT.601 and BT.709): emulated kernel identical to the CPU at 5 sizes"
    );
}

/// 10-bit codes from a small deterministic generator, each `shift` bits
/// up its word: every code, out-of-range ones (below 64, above 940)
/// included.
fn codes10(n: usize, seed: u32, shift: u32) -> Vec<u16> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((state >> 7) as u16 & 0x3ff) << shift
        })
        .collect()
}

#[test]
fn tone_map_kernel_matches_the_cpu_conversion_exactly() {
    let transfers = [
        (Transfer::Pq, 1000.0),
        (Transfer::Pq, 4000.0),
        (Transfer::Hlg, 1000.0),
        (Transfer::Sdr, 1000.0),
    ];
    let sizes: [(usize, usize); 5] = [(64, 36), (37, 23), (1, 1), (2, 3), (67, 2)];
    for (width, height) in sizes {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        // Padded rows (strides past the samples, as decoders lay planes
        // out), the padding's words being garbage the kernel must not read.
        let (ys, cs) = (width + 5, cw + 3);
        for shift in [0, 6] {
            let y = codes10(ys * height, 11, shift);
            let u = codes10(cs * ch, 12, shift);
            let v = codes10(cs * ch, 13, shift);
            // P010: U and V interleaved, one plane.
            let uv: Vec<u16> = u.iter().zip(&v).flat_map(|(&u, &v)| [u, v]).collect();
            let layouts = [
                (
                    "planar",
                    Chroma::Planar {
                        u: &u,
                        u_stride: cs,
                        v: &v,
                        v_stride: cs,
                    },
                    (&u[..], &v[..], cs, 1),
                ),
                (
                    "interleaved",
                    Chroma::Interleaved {
                        uv: &uv,
                        stride: 2 * cs,
                    },
                    (&uv[..], &uv[1..], 2 * cs, 2),
                ),
            ];
            for ((layout, chroma, (u_plane, v_plane, stride, step)), (transfer, peak)) in
                layouts.into_iter().flat_map(|l| transfers.map(|t| (l, t)))
            {
                let what = format!("{width}×{height} {layout} shift {shift} {transfer:?} {peak}");
                let yuv = Yuv420View10 {
                    y: &y,
                    y_stride: ys,
                    chroma,
                    shift,
                };
                let to_sdr = ToSdr::new(transfer, peak);
                let mut reference = vec![0u8; width * height * 3];
                to_sdr.convert(yuv, width, height, &mut reference);
                let plan = to_sdr.plan();
                let launch = kino_cuda::kernels::to_sdr_rgb8(width, height);
                let mut emulated = vec![7u8; width * height * 3 + 5];
                kino_cuda_emu::to_sdr_rgb8(
                    launch.grid,
                    launch.block,
                    (&y, ys),
                    (u_plane, stride),
                    (v_plane, stride),
                    (step, shift),
                    kino_cuda_emu::ToSdrTables {
                        light: plan.light,
                        levels: plan.levels,
                        boundaries: plan.boundaries,
                    },
                    &kino_cuda::kernels::to_sdr_args(&plan),
                    (width, height),
                    &mut emulated,
                );
                assert_eq!(
                    emulated[width * height * 3..],
                    [7; 5],
                    "{what}: wrote past the frame"
                );
                emulated.truncate(width * height * 3);
                let (max, differing) = compare(&emulated, &reference);
                assert_eq!(
                    differing, 0,
                    "{what}: the kernel differs from the CPU (max {max})"
                );
                gpu::to_sdr(&to_sdr, yuv, width, height, &reference);
            }
        }
    }
    println!(
        "tone map: 10-bit BT.2020 → SDR RGB (PQ, HLG, SDR; planar and P010), emulated kernel identical to the CPU at 5 sizes"
    );
}

/// A still with detail at every scale, and an alpha channel that fades
/// and cuts (so compositing and premultiplication are exercised).
fn still(width: usize, height: usize) -> Image {
    let rgb = picture(width, height);
    let rgba = rgb
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, px)| {
            let (x, y) = (i % width, i / width);
            let alpha = if x < width / 10 {
                0
            } else {
                ((x + 2 * y) % 256) as u8 | 0x40
            };
            [px[0], px[1], px[2], alpha]
        })
        .collect();
    Image::from_rgba(width, height, rgba).unwrap()
}

const MOVES: [CameraMove; 8] = [
    CameraMove::Locked,
    CameraMove::PushIn,
    CameraMove::PullOut,
    CameraMove::PanLeft,
    CameraMove::PanRight,
    CameraMove::TiltUp,
    CameraMove::Handheld,
    CameraMove::Orbit,
];

#[test]
fn camera_kernel_matches_the_cpu_camera_exactly() {
    // A source much larger than the output (mip levels), and one smaller
    // (magnified); every move, rotated and not, at its start, middle and end.
    let sources = [
        (still(1700, 1100), (200, 112)),
        (still(150, 90), (256, 144)),
    ];
    let mut frames = 0;
    for (src, (width, height)) in &sources {
        for (m, camera) in MOVES.into_iter().enumerate() {
            let size = [ShotSize::ExtremeWide, ShotSize::Medium, ShotSize::CloseUp][m % 3];
            let shot = Shot::new(camera, size);
            for t in [0.0, 0.37, 1.0] {
                let reference = scene::ken_burns(src, *width, *height, shot, t).unwrap();
                let plan = scene::camera_plan(src, shot, t, *width, *height).unwrap();
                let emulated = emulated_camera(plan.level, &plan.geometry, (*width, *height));
                let (max, differing) = compare(&emulated, &reference.data);
                assert_eq!(
                    differing, 0,
                    "{camera:?} at t={t}: the kernel differs from the CPU in {differing} samples (max {max})"
                );
                gpu::camera(src, shot, t, &reference);
                frames += 1;
            }
        }
    }
    println!(
        "camera: emulated kernel identical to the CPU on {frames} frames (8 moves, 3 shot sizes, mips and magnification)"
    );
}

/// The camera kernel emulated over `level` as `geometry` samples it.
fn emulated_camera(
    level: &[u32],
    geometry: &scene::CameraGeometry,
    (width, height): (usize, usize),
) -> Vec<u8> {
    let launch = kino_cuda::kernels::camera_rgb8(width, height);
    let mut emulated = vec![0u8; width * height * 3];
    kino_cuda_emu::camera_rgb8(
        launch.grid,
        launch.block,
        kino_cuda_emu::Level {
            px: level,
            width: geometry.level_width,
            height: geometry.level_height,
        },
        &geometry.rows,
        (geometry.du, geometry.dv),
        geometry.rows_first,
        &mut emulated,
        (width, height),
    );
    emulated
}

/// The level kernels emulated over a picture, in two buffers as a node's.
struct EmulatedLevels<'a> {
    picture: &'a Frame,
    buffers: [Vec<u32>; 2],
}

impl<'a> EmulatedLevels<'a> {
    fn new(picture: &'a Frame) -> Self {
        let room = mips::room((picture.width, picture.height));
        Self {
            picture,
            buffers: room.map(|pixels| vec![0; pixels]),
        }
    }

    /// The first `pixels` of `buffer`.
    fn level(&self, buffer: Buffer, pixels: usize) -> Vec<u32> {
        let i = usize::from(buffer == Buffer::Odd);
        self.buffers[i][..pixels].to_vec()
    }
}

impl LevelKernels for EmulatedLevels<'_> {
    type Error = std::convert::Infallible;

    fn base(&mut self) -> Result<(), Self::Error> {
        let (w, h) = (self.picture.width, self.picture.height);
        let launch = kino_cuda::kernels::level(w, h);
        let [even, _] = &mut self.buffers;
        kino_cuda_emu::level_from_rgb8(launch.grid, launch.block, &self.picture.data, (w, h), even);
        Ok(())
    }

    fn half(&mut self, from: Buffer, (w, h): (usize, usize)) -> Result<(), Self::Error> {
        let [even, odd] = &mut self.buffers;
        let (src, dst) = match from {
            Buffer::Even => (even, odd),
            Buffer::Odd => (odd, even),
        };
        let half = (w.div_ceil(2), h.div_ceil(2));
        let launch = kino_cuda::kernels::level(half.0, half.1);
        let src = kino_cuda_emu::Level {
            px: src,
            width: w,
            height: h,
        };
        kino_cuda_emu::half_level(launch.grid, launch.block, src, dst, half);
        Ok(())
    }
}

#[test]
fn a_decoded_pictures_levels_made_on_the_device_are_the_cpus() {
    // Odd sizes and even, framed at the base and down to level 4; each
    // picture's levels made by the kernels as a node on a GPU makes them,
    // and the camera framing the level it samples.
    let cases = [
        ((1001, 577), (200, 112)),
        ((150, 90), (256, 144)),
        ((1920, 1080), (112, 64)),
        ((3, 1), (16, 9)),
    ];
    let mut levels = 0;
    for ((w, h), out) in cases {
        let frame = Frame {
            width: w,
            height: h,
            data: picture(w, h),
        };
        let image = Image::from_frame(&frame).unwrap();
        let mut made = Vec::new();
        for k in 0..=scene::mip_levels(w, h) {
            let mut kernels = EmulatedLevels::new(&frame);
            let buffer = mips::make(&mut kernels, (w, h), k).unwrap();
            let (lw, lh) = scene::mip_size(w, h, k);
            let level = kernels.level(buffer, lw * lh);
            assert_eq!(
                Some((lw, lh, level.as_slice())),
                image.mip(k),
                "level {k} of {w}×{h}"
            );
            made.push(level);
            levels += 1;
        }
        for (m, camera) in MOVES.into_iter().enumerate() {
            let shot = Shot::new(camera, [ShotSize::Wide, ShotSize::CloseUp][m % 2]);
            let t = m as f32 / 7.0;
            let geometry = scene::camera_geometry((w, h), shot, t, out.0, out.1).unwrap();
            let emulated = emulated_camera(&made[geometry.level], &geometry, out);
            let reference = scene::ken_burns(&image, out.0, out.1, shot, t).unwrap();
            let (max, differing) = compare(&emulated, &reference.data);
            assert_eq!(
                differing, 0,
                "{w}×{h} {camera:?}: the kernels differ from the CPU in {differing} samples (max {max})"
            );
        }
    }
    println!(
        "decoded pictures: {levels} mip levels made by the kernels identical to the CPU's, and framed identically"
    );
}

#[test]
fn overlay_kernel_matches_the_cpu_composite_exactly() {
    let (width, height) = (320, 180);
    let base = Frame {
        width,
        height,
        data: picture(width, height),
    };
    let logo = still(97, 61);
    // Inside, clipped at every edge, shrunk onto a mip level, enlarged, faded.
    let cases = [
        (20.0, 30.0, 1.0, 1.0),
        (-30.5, -12.25, 1.5, 0.8),
        (250.0, 140.0, 2.0, 1.0),
        (100.3, 50.7, 0.2, 0.45),
        (10.0, 10.0, 3.7, 0.1),
    ];
    for (x, y, scale, opacity) in cases {
        let mut reference = base.clone();
        scene::overlay(&mut reference, &logo, x, y, scale, opacity).unwrap();
        let plan = scene::overlay_plan(width, height, &logo, x, y, scale, opacity)
            .unwrap()
            .expect("the logo is on the frame");
        let mut emulated = base.data.clone();
        let launch = kino_cuda::kernels::overlay_rgb8(plan.region);
        kino_cuda_emu::overlay_rgb8(
            launch.grid,
            launch.block,
            &mut emulated,
            width,
            kino_cuda_emu::Level {
                px: plan.level,
                width: plan.level_width,
                height: plan.level_height,
            },
            (plan.x, plan.y),
            plan.step,
            plan.opacity,
            plan.region,
        );
        let (max, differing) = compare(&emulated, &reference.data);
        assert_eq!(
            differing, 0,
            "overlay at ({x}, {y}) ×{scale} @{opacity}: {differing} samples differ (max {max})"
        );
        assert_ne!(reference.data, base.data, "the case composites something");
        gpu::overlay(&base, &logo, (x, y, scale, opacity), &reference);
    }
    println!(
        "overlay: emulated kernel identical to the CPU in {} placements",
        cases.len()
    );
}

#[test]
fn warp_kernel_matches_the_cpu_interpolation_exactly() {
    // Two frames of a scene moving 3 px right and 2 px down, odd-sized so
    // the last blocks are partial; the flow is the CPU's, the blend the
    // kernel's.
    let (width, height) = (203, 117);
    let scene = picture(width + 8, height + 8);
    let crop = |dx, dy| crop(&scene, width + 8, (width, height), (dx, dy));
    let (a, b) = (crop(4, 4), crop(1, 2));
    let pair = FlowPair::estimate(&a, &b, &Params::default()).unwrap();
    assert!(!pair.is_cut(), "the pair is one scene");
    for t in [0.25, 0.5, 0.8] {
        let reference = pair.render(&a, &b, t).unwrap();
        let plan = pair.warp_plan(t).expect("a morph");
        let words = kino_cuda::kernels::warp_taps(&plan);
        let taps: Vec<[kino_cuda_emu::WarpTap; 2]> = words
            .chunks_exact(12)
            .map(|c| {
                let tap = |o: usize| -> kino_cuda_emu::WarpTap { c[o..o + 6].try_into().unwrap() };
                [tap(0), tap(6)]
            })
            .collect();
        let launch = kino_cuda::kernels::warp_rgb8(width, height);
        let mut emulated = vec![0u8; width * height * 3];
        kino_cuda_emu::warp_rgb8(
            launch.grid,
            launch.block,
            (&a.data, &b.data),
            &taps,
            plan.blocks_x,
            WARP_BLOCK,
            &mut emulated,
            (width, height),
        );
        let (max, differing) = compare(&emulated, &reference.data);
        assert_eq!(
            differing, 0,
            "t={t}: {differing} samples differ (max {max})"
        );
        gpu::warp(&plan, &a, &b, &reference);
    }
    assert!(pair.warp_plan(0.0).is_none() && pair.warp_plan(1.0).is_none());
    println!("warp: emulated kernel identical to the CPU interpolation at t = 0.25, 0.5, 0.8");
}

#[test]
fn text_kernel_composites_exactly_as_the_cpu() {
    let font = Font::system_bold().unwrap();
    let (width, height) = (320, 180);
    let base = Frame {
        width,
        height,
        data: picture(width, height),
    };
    let style = |outline: bool, boxed: Option<f32>| TextStyle {
        color: [250, 214, 40],
        outline: outline.then_some(Outline {
            width_px: 3.0,
            color: [10, 20, 90],
        }),
        background: boxed.map(|opacity| TextBox {
            color: [200, 30, 60],
            opacity,
            padding_px: 9.0,
        }),
        ..TextStyle::new(40.0)
    };
    let render = |s: &TextStyle| -> RenderedText {
        text::layout(&font, "Kino grades\nin linear light", s)
            .unwrap()
            .render()
    };
    let cases = [
        ("fill", render(&style(false, None)), (20, 30)),
        ("outline", render(&style(true, None)), (40, 60)),
        ("box", render(&style(false, Some(0.6))), (10, 10)),
        (
            "outline and box, off the top left",
            render(&style(true, Some(0.8))),
            (-60, -25),
        ),
        (
            "solid box, off the bottom right",
            render(&style(true, Some(1.0))),
            (200, 120),
        ),
    ];
    for (name, rendered, (x, y)) in &cases {
        let mut reference = base.clone();
        rendered.draw(&mut reference, *x, *y).unwrap();
        assert_ne!(reference, base, "{name}: the case draws something");
        let plan = rendered.draw_plan(width, height, *x, *y);
        let args = kino_cuda::kernels::TextArgs::of(&plan);
        let launch = kino_cuda::kernels::text_rgb8(args.region);
        let mut emulated = base.data.clone();
        kino_cuda_emu::text_rgb8(
            launch.grid,
            launch.block,
            &mut emulated,
            width,
            args.region,
            &kino_cuda_emu::Text {
                origin: plan.origin,
                mask_width: plan.mask_width,
                fill: plan.fill,
                outline: plan.outline,
                owner: None,
                states: &args.states,
                colours: args.colours,
                has_outline: args.has_outline,
                text_box: args.text_box,
                to_linear: plan.to_linear,
                to_srgb: plan.to_srgb,
            },
        );
        let (max, differing) = compare(&emulated, &reference.data);
        assert_eq!(
            differing, 0,
            "{name}: {differing} samples differ (max {max})"
        );
        gpu::text(name, rendered, (*x, *y), &base, &reference);
    }
    println!(
        "text: emulated kernel identical to the CPU in {} placements",
        cases.len()
    );
}

/// Every dynamic style, boxed and outlined, at times before, inside and
/// after its words (a karaoke edge mid-word, a word popping in, a word
/// not shown yet), with emphasis: the kernel draws each frame exactly as
/// `DynamicCaption::draw` does.
#[test]
fn caption_kernel_animates_words_exactly_as_the_cpu() {
    let font = Font::system_bold().unwrap();
    let (width, height) = (320, 180);
    let base = Frame {
        width,
        height,
        data: picture(width, height),
    };
    let mut cue = DynamicCue::proportional(&Cue::new(0, 2400, "Cold brew, ready when you are"));
    cue.emphasis = vec![false, true, false, false, false, false];
    let mut cases = 0;
    for style in [
        DynamicStyle::Highlight,
        DynamicStyle::Pop,
        DynamicStyle::Karaoke,
    ] {
        for kind in [CaptionKind::Boxed, CaptionKind::Outlined] {
            let look = DynamicLook::new(style, kind);
            let caption = DynamicCaption::new(&font, &cue, &look, width, height).unwrap();
            for t_ms in [0, 130, 610, 1250, 1999, 2400] {
                let name = format!("{style:?} {kind:?} at {t_ms} ms");
                let mut reference = base.clone();
                caption.draw(&mut reference, t_ms).unwrap();
                assert_ne!(reference, base, "{name}: the case draws something");
                caption_case(&name, &caption.draw_plan(t_ms), &base, &reference);
                cases += 1;
            }
            // No style half-shows a word yet; the kernel scales coverage by
            // a fractional alpha as the CPU does.
            let mut plan = caption.draw_plan(700);
            for (k, state) in plan.states.iter_mut().enumerate() {
                state.alpha = [0.5, 0.0, 0.25][k % 3];
            }
            let mut reference = base.clone();
            plan.draw(&mut reference).unwrap();
            caption_case(&format!("{kind:?} half-shown"), &plan, &base, &reference);
        }
    }
    println!("captions: emulated kernel identical to the CPU in {cases} styles × times");
}

/// The kernel, emulated and on the GPU, draws `plan` over `base` as
/// `reference`.
fn caption_case(name: &str, plan: &CaptionPlan<'_>, base: &Frame, reference: &Frame) {
    let args = kino_cuda::kernels::TextArgs::of_caption(plan);
    let launch = kino_cuda::kernels::text_rgb8(args.region);
    let mut emulated = base.data.clone();
    kino_cuda_emu::text_rgb8(
        launch.grid,
        launch.block,
        &mut emulated,
        base.width,
        args.region,
        &kino_cuda_emu::Text {
            origin: plan.text.origin,
            mask_width: plan.text.mask_width,
            fill: plan.text.fill,
            outline: plan.text.outline,
            owner: Some(plan.owner),
            states: &args.states,
            colours: args.colours,
            has_outline: args.has_outline,
            text_box: args.text_box,
            to_linear: plan.text.to_linear,
            to_srgb: plan.text.to_srgb,
        },
    );
    let (max, differing) = compare(&emulated, &reference.data);
    assert_eq!(
        differing, 0,
        "{name}: {differing} samples differ (max {max})"
    );
    gpu::caption(name, plan, base, reference);
}

/// A render node's frames made on the device the pool gives the node (a
/// GPU where there is one: the still, logo, title and LUT resident, one
/// download a frame) against the CPU kernels one call at a time: camera
/// frames of a graded still bit for bit, a given frame graded within a
/// level (the LUT's bound).
#[test]
fn a_render_nodes_frames_match_the_cpu_kernels_one_by_one() {
    let pool = std::sync::Arc::new(kino_cuda::Pool::from_env().unwrap());
    let (width, height) = (640, 360);
    let (still, logo) = (still(1200, 700), still(120, 80));
    let lut = luts().remove(0).1;
    let font = Font::system_bold().unwrap();
    let title = text::layout(&font, "Cold brew, ready", &TextStyle::new(36.0))
        .unwrap()
        .render();
    let placement = text::Placement::Bottom { margin_px: 30.0 };
    let layers = Layers {
        lut: Some(&lut),
        title: Some((&title, placement)),
        logo: Some(Logo {
            image: &logo,
            at: (500.0, 16.0),
            scale: 0.8,
            opacity: 0.9,
        }),
    };
    let layered = |frame: &mut Frame, graded: bool| {
        if !graded {
            lut.apply_rgb8(&mut frame.data).unwrap();
        }
        title.draw_placed(frame, placement).unwrap();
        scene::overlay(frame, &logo, 500.0, 16.0, 0.8, 0.9).unwrap();
    };
    let mut node = NodeFrames::new(&pool, (width, height), layers, &[&still]);
    let mut placements = Vec::new();
    for (m, camera) in MOVES.into_iter().enumerate() {
        let shot = Shot::new(camera, ShotSize::Medium);
        let t = [0.0, 0.5, 1.0][m % 3];
        let (frame, ran) = node.camera(&still, shot, t, true).unwrap();
        let mut reference = scene::ken_burns(&still, width, height, shot, t).unwrap();
        layered(&mut reference, true);
        let (max, differing) = compare(&frame.data, &reference.data);
        assert_eq!(
            differing, 0,
            "{camera:?} at t={t} on {}: {differing} samples differ (max {max})",
            ran.placement
        );
        placements.push(ran);
    }
    let mut given = Frame {
        width,
        height,
        data: picture(width, height),
    };
    let mut reference = given.clone();
    placements.push(node.finish(&mut given, false).unwrap());
    layered(&mut reference, false);
    let (max, differing) = compare(&given.data, &reference.data);
    assert!(max <= 1, "a given frame is {max} levels from the CPU's");
    match pool.no_gpu() {
        Some(why) => println!("node frames: on the CPU ({why}); the GPU half is skipped"),
        None => {
            assert!(
                placements
                    .iter()
                    .all(|r| matches!(r.placement, kino_cuda::Placement::Cuda(_))),
                "every frame on the GPU: {placements:?}"
            );
            println!(
                "node frames on the GPU: {} camera frames identical to the CPU; a graded frame within {max} level ({differing} samples differ)",
                MOVES.len()
            );
        }
    }
}

/// Footage through a render node: each clip frame's picture goes up once,
/// is framed by the camera and graded there and comes down once, as the
/// CPU kernels make it one call at a time; a picture larger than the
/// node's room for one is framed on the CPU, saying so, and the node's
/// next frame is back on its device.
#[test]
fn footage_passing_through_a_node_matches_the_cpu_kernels() {
    let pool = std::sync::Arc::new(kino_cuda::Pool::from_env().unwrap());
    let (width, height) = (640, 360);
    let lut = luts().remove(0).1;
    let layers = Layers {
        lut: Some(&lut),
        ..Layers::default()
    };
    let mut node = NodeFrames::new(&pool, (width, height), layers, &[]).with_passing((480, 270));
    // A clip's frames (each a different picture), and one too large.
    let clip = |i: usize, (w, h): (usize, usize)| {
        let mut data = picture(w, h);
        data.rotate_left(i * 3 * 97);
        Image::from_frame(&Frame {
            width: w,
            height: h,
            data,
        })
        .unwrap()
    };
    let sizes = [(480, 270), (480, 270), (720, 405), (480, 270)];
    let mut worst = 0;
    for (i, size) in sizes.into_iter().enumerate() {
        let picture = clip(i, size);
        let shot = Shot::new(MOVES[i * 2 + 1], ShotSize::Wide);
        let t = i as f32 / 3.0;
        let mut passing = Picture::from(picture.clone());
        let (frame, ran) = node.camera_over(&mut passing, shot, t, false).unwrap();
        let mut reference = scene::ken_burns(&picture, width, height, shot, t).unwrap();
        lut.apply_rgb8(&mut reference.data).unwrap();
        let (max, differing) = compare(&frame.data, &reference.data);
        assert!(
            max <= 1,
            "a {size:?} picture on {}: {differing} samples differ (max {max})",
            ran.placement
        );
        worst = worst.max(max);
        let on_gpu = matches!(ran.placement, kino_cuda::Placement::Cuda(_));
        match pool.no_gpu() {
            Some(_) => assert!(!on_gpu),
            None if size == (720, 405) => {
                assert!(!on_gpu, "a picture past the node's room");
                let why = ran.cpu_because.unwrap_or_default();
                assert!(
                    why.contains("passing through a node with room for"),
                    "{why}"
                );
            }
            None => assert!(on_gpu, "frame {i} on {}", ran.placement),
        }
    }
    match pool.no_gpu() {
        Some(why) => println!("footage frames: on the CPU ({why}); the GPU half is skipped"),
        None => println!(
            "node frames on the GPU: footage framed and graded within {worst} level of the CPU, \
             a picture past the node's room on the CPU"
        ),
    }
    gpu::footage_on_device(&lut);
}

/// The flow kernels run by the emulator over a pair of frames, through the
/// same sequence of launches (`flow::estimate`) the GPU runs.
struct Emulated<'a> {
    a: &'a Frame,
    b: &'a Frame,
}

impl FlowKernels for Emulated<'_> {
    type Plane = Vec<f32>;
    type Field = Vec<[f32; 2]>;
    type Error = std::convert::Infallible;

    fn half_luma(&mut self, frame: Side, base: &FlowLevel) -> Result<Vec<f32>, Self::Error> {
        let f = match frame {
            Side::A => self.a,
            Side::B => self.b,
        };
        let mut out = vec![0.0; base.width * base.height];
        let l = kino_cuda::kernels::plane(base.width, base.height);
        kino_cuda_emu::half_luma(
            l.grid,
            l.block,
            &f.data,
            (f.width, f.height),
            &mut out,
            (base.width, base.height),
        );
        Ok(out)
    }

    fn down(
        &mut self,
        plane: &Vec<f32>,
        from: &FlowLevel,
        to: &FlowLevel,
    ) -> Result<Vec<f32>, Self::Error> {
        let mut out = vec![0.0; to.width * to.height];
        let l = kino_cuda::kernels::plane(to.width, to.height);
        kino_cuda_emu::down(
            l.grid,
            l.block,
            emu_plane(plane, from),
            &mut out,
            (to.width, to.height),
        );
        Ok(out)
    }

    fn histogram(
        &mut self,
        plane: &Vec<f32>,
        _: &FlowLevel,
    ) -> Result<[u32; CUT_HISTOGRAM_BINS], Self::Error> {
        let mut bins = [0; CUT_HISTOGRAM_BINS];
        let l = kino_cuda::kernels::luma_histogram(plane.len());
        kino_cuda_emu::luma_histogram(l.grid, l.block, plane, &mut bins);
        Ok(bins)
    }

    fn cells(
        &mut self,
        (src, dst): (&Vec<f32>, &Vec<f32>),
        coarse: Option<(&Vec<[f32; 2]>, &FlowLevel)>,
        level: &FlowLevel,
        params: &Params,
    ) -> Result<Vec<[f32; 2]>, Self::Error> {
        let mut out = vec![[0.0; 2]; level.cols * level.rows];
        let l = kino_cuda::kernels::flow_cells(level.cols, level.rows);
        kino_cuda_emu::flow_cells(
            l.grid,
            l.block,
            (emu_plane(src, level), emu_plane(dst, level)),
            coarse.map(|(field, c)| emu_field(field, c, params.block)),
            params.block,
            (level.cols, level.rows),
            (level.radius, params.iterations),
            &mut out,
        );
        Ok(out)
    }

    fn median(
        &mut self,
        raw: &Vec<[f32; 2]>,
        level: &FlowLevel,
    ) -> Result<Vec<[f32; 2]>, Self::Error> {
        let mut out = vec![[0.0; 2]; raw.len()];
        let l = kino_cuda::kernels::median3(level.cols, level.rows);
        kino_cuda_emu::median3(l.grid, l.block, raw, (level.cols, level.rows), &mut out);
        Ok(out)
    }

    fn residual(
        &mut self,
        (p0, p1): (&Vec<f32>, &Vec<f32>),
        ab: &Vec<[f32; 2]>,
        base: &FlowLevel,
        block: usize,
    ) -> Result<Vec<f64>, Self::Error> {
        let mut sums = vec![0.0; base.height.div_ceil(2)];
        let l = kino_cuda::kernels::residual_rows(base.height);
        kino_cuda_emu::residual_rows(
            l.grid,
            l.block,
            (emu_plane(p0, base), emu_plane(p1, base)),
            emu_field(ab, base, block),
            &mut sums,
        );
        Ok(sums)
    }
}

fn emu_plane<'a>(d: &'a [f32], level: &FlowLevel) -> kino_cuda_emu::Plane<'a> {
    kino_cuda_emu::Plane {
        d,
        width: level.width,
        height: level.height,
    }
}

fn emu_field<'a>(v: &'a [[f32; 2]], level: &FlowLevel, cell: usize) -> kino_cuda_emu::Field<'a> {
    kino_cuda_emu::Field {
        v,
        cols: level.cols,
        rows: level.rows,
        cell,
    }
}

/// A field's vectors as bits, so -0.0 and 0.0 (or two NaNs) are told apart.
fn bits(grid: &FlowGrid) -> Vec<[u32; 2]> {
    grid.vectors
        .iter()
        .map(|v| [v[0].to_bits(), v[1].to_bits()])
        .collect()
}

/// A smooth texture shifted by `(dx, dy)` with a bright square moving
/// `(sx, sy)` over it: flow that is fractional, varies across the frame and
/// occludes.
fn moving_scene(width: usize, height: usize, (dx, dy): (f32, f32), (sx, sy): (f32, f32)) -> Frame {
    let mut data = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 - dx, y as f32 - dy);
            let base =
                128.0 + 60.0 * (u / 7.0).sin() * (v / 5.0).cos() + 40.0 * ((u + v) / 11.0).sin();
            let (qx, qy) = (
                x as f32 - sx - width as f32 * 0.4,
                y as f32 - sy - height as f32 * 0.4,
            );
            let inside = (0.0..width as f32 * 0.2).contains(&qx)
                && (0.0..height as f32 * 0.25).contains(&qy);
            let l = if inside { 230.0 } else { base };
            data.extend_from_slice(&[l as u8, (l * 0.8) as u8, (255.0 - l) as u8]);
        }
    }
    Frame {
        width,
        height,
        data,
    }
}

/// A warp plan's taps as the emulator's launchers take them.
fn tap_pairs(words: &[u32]) -> Vec<[kino_cuda_emu::WarpTap; 2]> {
    words
        .chunks_exact(12)
        .map(|c| {
            let tap = |o: usize| -> kino_cuda_emu::WarpTap { c[o..o + 6].try_into().unwrap() };
            [tap(0), tap(6)]
        })
        .collect()
}

#[test]
fn flow_kernels_estimate_the_cpus_fields_and_warp_exactly() {
    let (width, height) = (203, 117);
    let scene = picture(width + 8, height + 8);
    let crop = |dx, dy| crop(&scene, width + 8, (width, height), (dx, dy));
    let single_level = Params {
        levels: 1,
        search_radius: 6,
        iterations: 0,
        ..Params::default()
    };
    let fine = Params {
        block: 3,
        iterations: 8,
        ..Params::default()
    };
    let smooth = |d, s| moving_scene(320, 180, d, s);
    let cases: Vec<(&str, Frame, Frame, Params, bool)> = vec![
        (
            "edges and noise",
            crop(4, 4),
            crop(1, 2),
            Params::default(),
            false,
        ),
        (
            "smooth pan, occluding square",
            smooth((0.0, 0.0), (0.0, 0.0)),
            smooth((5.5, -3.25), (-6.0, 4.0)),
            Params::default(),
            false,
        ),
        (
            "one level, wide search, no Lucas–Kanade",
            smooth((0.0, 0.0), (0.0, 0.0)),
            smooth((3.0, 2.0), (2.0, 0.0)),
            single_level,
            false,
        ),
        (
            "fine grid, many steps",
            smooth((0.0, 0.0), (0.0, 0.0)),
            smooth((-2.5, 1.5), (4.0, -3.0)),
            fine,
            false,
        ),
        (
            "smaller than a patch",
            smooth((0.0, 0.0), (0.0, 0.0)).resized(9, 7),
            smooth((1.0, 1.0), (0.0, 0.0)).resized(9, 7),
            Params::default(),
            false,
        ),
        (
            "a cut",
            crop(0, 0),
            smooth((0.0, 0.0), (0.0, 0.0)).resized(width, height),
            Params::default(),
            true,
        ),
    ];
    for (name, a, b, params, cut) in cases {
        let cpu = FlowPair::estimate(&a, &b, &params).unwrap();
        assert_eq!(cpu.is_cut(), cut, "{name}: the CPU's cut verdict");
        let levels = flow_levels(a.width, a.height, &params);
        let Ok(estimate) = flow::estimate(&mut Emulated { a: &a, b: &b }, &levels, &params);
        let to_grid = |v: &[[f32; 2]]| flow::grid(v.as_flattened(), &levels[0], params.block);
        let emulated = FlowPair::from_fields(
            (a.width, a.height),
            to_grid(&estimate.ab),
            to_grid(&estimate.ba),
            &estimate.evidence,
            &params,
        )
        .unwrap();
        assert_eq!(bits(emulated.ab()), bits(cpu.ab()), "{name}: A→B differs");
        assert_eq!(bits(emulated.ba()), bits(cpu.ba()), "{name}: B→A differs");
        assert_eq!(emulated.is_cut(), cut, "{name}: the kernels' cut verdict");
        // (A frame smaller than a patch has too little to match.)
        let moves = cpu.ab().vectors.iter().any(|v| v[0] != 0.0 || v[1] != 0.0);
        assert!(moves || cut || a.width < 16, "{name}: the case has motion");
        for t in [0.3, 0.5, 0.7] {
            let Some(plan) = cpu.warp_plan(t) else {
                assert!(cut, "{name}: a morph at t={t}");
                continue;
            };
            let mut taps = vec![[[0; 6]; 2]; plan.taps.len()];
            let l = kino_cuda::kernels::warp_plan(a.width, a.height);
            kino_cuda_emu::warp_taps(
                l.grid,
                l.block,
                (
                    emu_field(&estimate.ab, &levels[0], params.block),
                    emu_field(&estimate.ba, &levels[0], params.block),
                ),
                (a.width, a.height),
                flow::warp_time_args(&emulated.warp_time(t)),
                &mut taps,
            );
            assert_eq!(
                taps,
                tap_pairs(&kino_cuda::kernels::warp_taps(&plan)),
                "{name}: the taps at t={t} differ"
            );
            let l = kino_cuda::kernels::warp_rgb8(a.width, a.height);
            let mut frame = vec![0u8; a.data.len()];
            kino_cuda_emu::warp_rgb8(
                l.grid,
                l.block,
                (&a.data, &b.data),
                &taps,
                plan.blocks_x,
                WARP_BLOCK,
                &mut frame,
                (a.width, a.height),
            );
            assert_eq!(frame, cpu.render(&a, &b, t).unwrap().data, "{name}: t={t}");
        }
        gpu::flow(name, &a, &b, &params, &cpu);
        println!(
            "flow {name}: emulated kernels identical to the CPU ({} levels)",
            levels.len()
        );
    }
}

/// The `width × height` window at `(dx, dy)` of an RGB24 scene
/// `scene_width` pixels wide: two windows are the scene moving.
fn crop(
    scene: &[u8],
    scene_width: usize,
    (width, height): (usize, usize),
    (dx, dy): (usize, usize),
) -> Frame {
    Frame {
        width,
        height,
        data: (0..height)
            .flat_map(|y| {
                let start = ((y + dy) * scene_width + dx) * 3;
                scene[start..start + width * 3].to_vec()
            })
            .collect(),
    }
}

fn tight(plane: &[u8], width: usize, stride: usize) -> Vec<u8> {
    plane
        .chunks(stride)
        .flat_map(|row| &row[..width])
        .copied()
        .collect()
}

/// The same checks on a real GPU.
#[cfg(feature = "cuda")]
mod gpu {
    use std::sync::Arc;

    use kino_cuda::gpu::{DeviceRgb, Gpu, LutRun};

    use super::*;

    /// cuda:0, or why there is none (printed once per check).
    fn device() -> Option<Arc<Gpu>> {
        match Gpu::get(0) {
            Ok(gpu) => Some(gpu),
            Err(why) => {
                println!("GPU half skipped: {why}");
                None
            }
        }
    }

    /// Footage a decoder left on the GPU: framed by a node there (its
    /// levels made there), within a level of the CPU (the grade), nothing
    /// coming down; one past the node's room comes down first.
    pub fn footage_on_device(lut: &CubeLut) {
        let Some(gpu) = device() else { return };
        let pool = Arc::new(kino_cuda::Pool::from_env().unwrap());
        let layers = Layers {
            lut: Some(lut),
            ..Layers::default()
        };
        let (width, height) = (640, 360);
        let mut node =
            NodeFrames::new(&pool, (width, height), layers, &[]).with_passing((1280, 720));
        // The base level, levels 1 and 2 of odd sizes, and one too large.
        let cases = [
            ((1280, 720), ShotSize::Wide),
            ((1001, 577), ShotSize::ExtremeWide),
            ((1280, 720), ShotSize::ExtremeWide),
            ((2560, 1440), ShotSize::Wide),
        ];
        for (i, ((w, h), size)) in cases.into_iter().enumerate() {
            let mut data = picture(w, h);
            data.rotate_left(i * 3 * 89);
            let frame = Frame {
                width: w,
                height: h,
                data,
            };
            let mut passing = Picture::on_device(DeviceRgb::upload(&gpu, &frame).unwrap());
            let shot = Shot::new(MOVES[i * 2], size);
            let t = i as f32 / 3.0;
            let (out, ran) = node.camera_over(&mut passing, shot, t, false).unwrap();
            let image = Image::from_frame(&frame).unwrap();
            let mut reference = scene::ken_burns(&image, width, height, shot, t).unwrap();
            lut.apply_rgb8(&mut reference.data).unwrap();
            let (max, differing) = compare(&out.data, &reference.data);
            assert!(
                max <= 1,
                "a {w}×{h} picture on the GPU, framed on {}: {differing} samples differ (max {max})",
                ran.placement
            );
            assert_eq!(
                ran.placement,
                kino_cuda::Placement::Cuda(0),
                "{:?}",
                ran.cpu_because
            );
            assert_eq!(
                passing.is_on_device(),
                w * h <= 1280 * 720,
                "only a picture past the node's room comes down ({w}×{h})"
            );
        }
        println!(
            "footage on the GPU: framed (levels 0 to 2 made there) and graded within 1 level of the CPU, \
             a picture past the node's room brought down"
        );
    }

    pub fn lut(name: &str, lut: &CubeLut, input: &[u8], reference: &[u8], portable: &[u8]) {
        let Some(gpu) = device() else { return };
        let frame = gpu.lut_rgb8(&lut.rgb8_plan(), input).unwrap();
        let (max, differing) = compare(&frame, reference);
        let (_, off_portable) = compare(&frame, portable);
        println!(
            "lut {name}: GPU vs CPU: max diff {max}, {differing} samples differ; {off_portable} differ from the portable kernel"
        );
        assert!(max <= 1, "{name}: the GPU is {max} levels from the CPU LUT");
    }

    /// The run on the GPU where there is one (what the pool chose), and
    /// `LutRun` itself at each depth, with frames written straight into
    /// its page-locked memory too.
    pub fn lut_run(
        lut: &CubeLut,
        frames: &[Vec<u8>],
        references: &[Vec<u8>],
        pooled: &[kino_cuda::grading::Graded],
    ) {
        let Some(gpu) = device() else { return };
        for (_, ran) in pooled {
            assert_eq!(ran.placement, kino_cuda::Placement::Cuda(0), "{ran}");
        }
        let bytes = frames[0].len();
        for depth in 1..=4 {
            let mut run = LutRun::new(gpu.clone(), &lut.rgb8_plan(), bytes, depth).unwrap();
            let mut back: Vec<Vec<u8>> = Vec::new();
            for (i, frame) in frames.iter().enumerate() {
                let keep = |graded: &[u8]| back.push(graded.to_vec());
                if i % 2 == 0 {
                    run.push(frame, keep).unwrap();
                } else {
                    run.push_with(|input| input.copy_from_slice(frame), keep)
                        .unwrap();
                }
                assert_eq!(
                    run.in_flight(),
                    (i + 1).min(depth),
                    "depth {depth}, frame {i}"
                );
            }
            run.finish(|graded| back.push(graded.to_vec())).unwrap();
            assert_eq!(run.in_flight(), 0);
            assert_eq!(back.len(), frames.len(), "depth {depth}");
            for (i, (graded, reference)) in back.iter().zip(references).enumerate() {
                let (max, differing) = compare(graded, reference);
                assert!(
                    max <= 1,
                    "depth {depth}, frame {i}: {differing} samples differ (max {max})"
                );
            }
            // A frame of another size is refused, and the run goes on.
            assert!(run.push(&frames[0][3..], |_| {}).is_err());
            run.push(&frames[0], |_| {}).unwrap();
            let mut last = Vec::new();
            run.finish(|graded| last = graded.to_vec()).unwrap();
            assert!(compare(&last, &references[0]).0 <= 1);
        }
        println!(
            "graded run on the GPU: every frame back in order at depths 1 to 4, within 1 level"
        );
    }

    pub fn text(
        name: &str,
        rendered: &RenderedText,
        (x, y): (i32, i32),
        base: &Frame,
        reference: &Frame,
    ) {
        let Some(gpu) = device() else { return };
        let plan = rendered.draw_plan(base.width, base.height, x, y);
        let mut frame = base.data.clone();
        gpu.text_rgb8(&plan, &mut frame, base.width).unwrap();
        let (max, differing) = compare(&frame, &reference.data);
        assert_eq!(
            differing, 0,
            "text {name}: the GPU differs from the CPU (max {max})"
        );
    }

    pub fn caption(name: &str, plan: &CaptionPlan<'_>, base: &Frame, reference: &Frame) {
        let Some(gpu) = device() else { return };
        let mut frame = base.data.clone();
        gpu.caption_rgb8(plan, &mut frame, base.width).unwrap();
        let (max, differing) = compare(&frame, &reference.data);
        assert_eq!(
            differing, 0,
            "caption {name}: the GPU differs from the CPU (max {max})"
        );
    }

    pub fn flow(name: &str, a: &Frame, b: &Frame, params: &Params, cpu: &FlowPair) {
        let Some(gpu) = device() else { return };
        let flow = gpu
            .estimate_flow(&a.data, &b.data, (a.width, a.height), params)
            .unwrap();
        let pair = flow.pair();
        assert_eq!(
            bits(pair.ab()),
            bits(cpu.ab()),
            "{name}: A→B differs on the GPU"
        );
        assert_eq!(
            bits(pair.ba()),
            bits(cpu.ba()),
            "{name}: B→A differs on the GPU"
        );
        assert_eq!(pair.is_cut(), cpu.is_cut(), "{name}: the GPU's cut verdict");
        for t in [0.3, 0.5, 0.7] {
            let Some(plan) = cpu.warp_plan(t) else {
                assert!(
                    gpu.render_flow(&flow, t).is_err(),
                    "{name}: no warp across a cut"
                );
                continue;
            };
            let taps = gpu.warp_taps(&flow, t).unwrap();
            assert_eq!(
                taps,
                kino_cuda::kernels::warp_taps(&plan),
                "{name}: GPU taps at t={t}"
            );
            let frame = gpu.render_flow(&flow, t).unwrap();
            let (max, differing) = compare(&frame, &cpu.render(a, b, t).unwrap().data);
            assert_eq!(
                differing, 0,
                "{name}: the GPU's frame at t={t} differs (max {max})"
            );
        }
        // The same pair from pictures already on the GPU, the frame left
        // there: the same fields and frame.
        let (da, db) = (
            DeviceRgb::upload(&gpu, a).unwrap(),
            DeviceRgb::upload(&gpu, b).unwrap(),
        );
        let between = gpu.estimate_flow_between(&da, &db, params).unwrap();
        assert_eq!(
            (bits(between.pair().ab()), bits(between.pair().ba())),
            (bits(cpu.ab()), bits(cpu.ba())),
            "{name}: the flow between pictures on the GPU"
        );
        if !cpu.is_cut() {
            let frame = gpu.render_flow_to_device(&between, 0.5).unwrap();
            assert_eq!(
                frame.download().unwrap().data,
                cpu.render(a, b, 0.5).unwrap().data,
                "{name}: the frame left on the GPU"
            );
        }
        // A pair of two sizes is refused before any kernel runs.
        let small = DeviceRgb::upload(
            &gpu,
            &Frame {
                width: 2,
                height: 2,
                data: vec![0; 12],
            },
        )
        .unwrap();
        let refused = gpu.estimate_flow_between(&da, &small, params).unwrap_err();
        assert!(refused.0.contains("one size"), "{refused}");
    }

    pub fn warp(plan: &WarpPlan, a: &Frame, b: &Frame, reference: &Frame) {
        let Some(gpu) = device() else { return };
        let frame = gpu
            .warp_rgb8(plan, &a.data, &b.data, a.width, a.height)
            .unwrap();
        let (max, differing) = compare(&frame, &reference.data);
        assert_eq!(
            differing, 0,
            "warp: the GPU differs from the CPU (max {max})"
        );
    }

    pub fn camera(src: &Image, shot: Shot, t: f32, reference: &Frame) {
        let Some(gpu) = device() else { return };
        let plan = scene::camera_plan(src, shot, t, reference.width, reference.height).unwrap();
        let frame = gpu
            .camera_rgb8(&plan, reference.width, reference.height)
            .unwrap();
        let (max, differing) = compare(&frame, &reference.data);
        assert_eq!(
            differing, 0,
            "{shot:?} at t={t}: the GPU differs from the CPU (max {max})"
        );
    }

    pub fn overlay(
        base: &Frame,
        img: &Image,
        (x, y, scale, opacity): (f32, f32, f32, f32),
        reference: &Frame,
    ) {
        let Some(gpu) = device() else { return };
        let plan = scene::overlay_plan(base.width, base.height, img, x, y, scale, opacity)
            .unwrap()
            .expect("on the frame");
        let mut frame = base.data.clone();
        gpu.overlay_rgb8(&plan, &mut frame, base.width).unwrap();
        let (max, differing) = compare(&frame, &reference.data);
        assert_eq!(
            differing, 0,
            "overlay at ({x}, {y}): the GPU differs from the CPU (max {max})"
        );
    }

    pub fn to_sdr(
        to_sdr: &ToSdr,
        yuv: Yuv420View10<'_>,
        width: usize,
        height: usize,
        reference: &[u8],
    ) {
        let Some(gpu) = device() else { return };
        let rgb = gpu.to_sdr_rgb8(to_sdr, yuv, width, height).unwrap();
        let (max, differing) = compare(&rgb, reference);
        assert_eq!(
            differing,
            0,
            "{width}×{height} {:?}: the GPU's tone map differs from the CPU's (max {max})",
            to_sdr.transfer()
        );
        println!("tone map: GPU identical to the CPU");
    }

    pub fn rgb(yuv: Yuv420View<'_>, width: usize, height: usize, reference: &[u8]) {
        let Some(gpu) = device() else { return };
        let rgb = gpu.yuv420_to_rgb(yuv, width, height).unwrap();
        let (max, differing) = compare(&rgb, reference);
        assert_eq!(
            differing, 0,
            "{width}×{height}: the GPU's RGB differs from the CPU's (max {max})"
        );
    }

    pub fn yuv(rgb: &[u8], width: usize, height: usize, reference: &Yuv420) {
        let Some(gpu) = device() else { return };
        let mut out = Yuv420::new(width, height);
        gpu.rgb_to_yuv420(rgb, width, height, out.planes()).unwrap();
        assert!(
            out == *reference,
            "{width}×{height}: the GPU's planes differ from the CPU's"
        );
    }
}

#[cfg(not(feature = "cuda"))]
mod gpu {
    use super::*;

    pub fn camera(_: &Image, _: Shot, _: f32, _: &Frame) {}

    pub fn footage_on_device(_: &CubeLut) {}

    pub fn to_sdr(_: &ToSdr, _: Yuv420View10<'_>, _: usize, _: usize, _: &[u8]) {}

    pub fn warp(_: &WarpPlan, _: &Frame, _: &Frame, _: &Frame) {}

    pub fn flow(_: &str, _: &Frame, _: &Frame, _: &Params, _: &FlowPair) {}

    pub fn text(_: &str, _: &RenderedText, _: (i32, i32), _: &Frame, _: &Frame) {}

    pub fn caption(_: &str, _: &CaptionPlan<'_>, _: &Frame, _: &Frame) {}

    pub fn overlay(_: &Frame, _: &Image, _: (f32, f32, f32, f32), _: &Frame) {}

    pub fn lut(_: &str, _: &CubeLut, _: &[u8], _: &[u8], _: &[u8]) {
        println!("GPU half skipped: this build has no CUDA (`--features cuda`)");
    }

    pub fn lut_run(_: &CubeLut, _: &[Vec<u8>], _: &[Vec<u8>], _: &[kino_cuda::grading::Graded]) {}

    pub fn yuv(_: &[u8], _: usize, _: usize, _: &Yuv420) {}

    pub fn rgb(_: Yuv420View<'_>, _: usize, _: usize, _: &[u8]) {}
}
