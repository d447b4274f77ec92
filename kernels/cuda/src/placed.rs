//! Kernels placed by the pool: each runs on the GPU the pool leases when
//! there is one (and this build has CUDA), on the CPU otherwise or when the
//! GPU fails, and returns where it ran. The result is the same either way,
//! within the bounds the parity tests check.

use kino_kernels::interpolate::{FlowPair, Frame, InterpolateError, Params};
use kino_kernels::lut::{CubeLut, LutError};
use kino_kernels::scene::{self, Image, SceneError, Shot};
use kino_kernels::text::{DynamicCaption, PixelRect, Placement, RenderedText, TextError, TextPlan};

use crate::pool::{Pool, Ran};

/// Applies `lut` to a packed RGB24 frame. On the GPU the graded frame
/// replaces `frame` only once it is whole, so a GPU that fails midway leaves
/// the input for the CPU to grade.
pub fn lut_rgb8(pool: &Pool, lut: &CubeLut, frame: &mut Vec<u8>) -> Result<Ran, LutError> {
    if !frame.len().is_multiple_of(3) {
        return Err(LutError::BufferLength { len: frame.len() });
    }
    let bytes = lut_rgb8_device_bytes(frame.len(), lut.size());
    match pool.on_gpu(bytes, |ordinal| gpu::lut_rgb8(ordinal, lut, frame)) {
        Ok((graded, ran)) => {
            *frame = graded;
            Ok(ran)
        }
        Err(ran) => {
            lut.apply_rgb8(frame)?;
            Ok(ran)
        }
    }
}

/// Draws frame `t` of `shot` over `src` into `out` (its size is the
/// output's), as `scene::ken_burns_into`.
pub fn camera(
    pool: &Pool,
    src: &Image,
    shot: Shot,
    t: f32,
    out: &mut Frame,
) -> Result<Ran, SceneError> {
    let plan = scene::camera_plan(src, shot, t, out.width, out.height)?;
    let bytes = (plan.level.len() * 4 + plan.geometry.rows.len() * 8 + out.data.len()) as u64;
    let (width, height) = (out.width, out.height);
    match pool.on_gpu(bytes, |ordinal| gpu::camera(ordinal, &plan, width, height)) {
        Ok((drawn, ran)) => {
            out.data = drawn;
            Ok(ran)
        }
        Err(ran) => {
            scene::ken_burns_into(src, shot, t, out)?;
            Ok(ran)
        }
    }
}

/// Composites `img` onto `frame`, as `scene::overlay`; `None` when it
/// touches nothing (no call is made).
pub fn overlay(
    pool: &Pool,
    frame: &mut Frame,
    img: &Image,
    (x, y): (f32, f32),
    scale: f32,
    opacity: f32,
) -> Result<Option<Ran>, SceneError> {
    let Some(plan) = scene::overlay_plan(frame.width, frame.height, img, x, y, scale, opacity)?
    else {
        return Ok(None);
    };
    let [x0, y0, x1, y1] = plan.region;
    let bytes = (plan.level.len() * 4 + (x1 - x0) * (y1 - y0) * 3) as u64;
    let width = frame.width;
    // The GPU writes the frame only once it has finished, so a failure
    // leaves it for the CPU.
    match pool.on_gpu(bytes, |ordinal| {
        gpu::overlay(ordinal, &plan, &mut frame.data, width)
    }) {
        Ok(((), ran)) => Ok(Some(ran)),
        Err(ran) => {
            scene::overlay(frame, img, x, y, scale, opacity)?;
            Ok(Some(ran))
        }
    }
}

/// Composites `text` onto `frame` where `placement` puts it, as
/// `RenderedText::draw_placed`: returns the frame rectangle written, and
/// where it ran (`None` when it touches nothing: no call is made).
pub fn text(
    pool: &Pool,
    frame: &mut Frame,
    text: &RenderedText,
    placement: Placement,
) -> Result<(PixelRect, Option<Ran>), TextError> {
    frame.validate()?;
    let (x, y) = text.position(frame.width, frame.height, placement);
    let plan = text.draw_plan(frame.width, frame.height, x, y);
    let region = plan.region;
    if region.width == 0 || region.height == 0 {
        return Ok((region, None));
    }
    let bytes = text_device_bytes(&plan);
    let width = frame.width;
    // The GPU writes the frame only once it has finished, so a failure
    // leaves it for the CPU.
    match pool.on_gpu(bytes, |ordinal| {
        gpu::text(ordinal, &plan, &mut frame.data, width)
    }) {
        Ok(((), ran)) => Ok((region, Some(ran))),
        Err(ran) => {
            text.draw(frame, x, y)?;
            Ok((region, Some(ran)))
        }
    }
}

/// Composites `caption` at `t_ms` onto `frame` where it was laid out, as
/// `DynamicCaption::draw`: returns the frame rectangle written, and where
/// it ran (`None` when it touches nothing: no call is made).
pub fn dynamic_caption(
    pool: &Pool,
    frame: &mut Frame,
    caption: &DynamicCaption,
    t_ms: u32,
) -> Result<(PixelRect, Option<Ran>), TextError> {
    let plan = caption.draw_plan(t_ms);
    plan.check_frame(frame)?;
    let region = plan.text.region;
    if region.width == 0 || region.height == 0 {
        return Ok((region, None));
    }
    let bytes = text_device_bytes(&plan.text) + (plan.owner.len() * 4) as u64;
    let width = frame.width;
    // The GPU writes the frame only once it has finished, so a failure
    // leaves it for the CPU.
    match pool.on_gpu(bytes, |ordinal| {
        gpu::caption(ordinal, &plan, &mut frame.data, width)
    }) {
        Ok(((), ran)) => Ok((region, Some(ran))),
        Err(ran) => {
            plan.draw(frame)?;
            Ok((region, Some(ran)))
        }
    }
}

/// Device memory text compositing holds: the region, the masks and the
/// tables.
fn text_device_bytes(plan: &TextPlan<'_>) -> u64 {
    let region = plan.region.width as usize * plan.region.height as usize * 3;
    let masks = plan.fill.len() + plan.outline.map_or(0, <[u8]>::len);
    (region + masks + plan.to_srgb.len() + 1024) as u64
}

/// The frames at `times` (each in [0, 1]) between `a` and `b`, as
/// `FlowPair::estimate` and `FlowPair::render` draw them. On a GPU the pool
/// leases, the two frames go up once, the flow is estimated there and each
/// frame comes back as it is drawn; on the CPU otherwise, or when the GPU
/// fails (the CPU then estimates afresh). No device is asked (`None`) when
/// every time is 0 or 1: those frames are copies.
pub fn interpolate(
    pool: &Pool,
    (a, b): (&Frame, &Frame),
    params: &Params,
    times: &[f32],
) -> Result<(Vec<Frame>, Option<Ran>), InterpolateError> {
    a.validate()?;
    b.validate()?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(InterpolateError::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        });
    }
    params.validate()?;
    if let Some(&t) = times.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(InterpolateError::Time { t });
    }
    if times.iter().all(|&t| t == 0.0 || t == 1.0) {
        let copies = times
            .iter()
            .map(|&t| if t == 0.0 { a.clone() } else { b.clone() })
            .collect();
        return Ok((copies, None));
    }
    let bytes = interpolate_device_bytes(a.width, a.height);
    match pool.on_gpu(bytes, |ordinal| {
        gpu::interpolate(ordinal, (a, b), params, times)
    }) {
        Ok((frames, ran)) => Ok((frames, Some(ran))),
        Err(ran) => {
            let pair = FlowPair::estimate(a, b, params)?;
            let frames = times
                .iter()
                .map(|&t| pair.render(a, b, t))
                .collect::<Result<_, _>>()?;
            Ok((frames, Some(ran)))
        }
    }
}

/// Device memory an interpolation holds: the two frames and the one being
/// drawn, both pyramids (a quarter of the pixels as f32, and a third more
/// for the coarser levels), and the fields and taps, which are small beside
/// them.
fn interpolate_device_bytes(width: usize, height: usize) -> u64 {
    let pixels = (width * height) as u64;
    let pyramids = 2 * (pixels / 4 * 4) * 4 / 3;
    3 * pixels * 3 + pyramids + pixels / 2
}

/// Device memory a LUT call holds: the frame, the lattice (16 bytes a
/// point) and the tables.
fn lut_rgb8_device_bytes(frame_bytes: usize, size: usize) -> u64 {
    (frame_bytes + size.pow(3) * 16 + 3 * 256 * 8) as u64
}

#[cfg(feature = "cuda")]
mod gpu {
    use kino_kernels::interpolate::{Frame, Params};
    use kino_kernels::lut::CubeLut;
    use kino_kernels::scene::{CameraPlan, OverlayPlan};

    use crate::gpu::{Gpu, GpuError};

    pub(super) fn text(
        ordinal: usize,
        plan: &kino_kernels::text::TextPlan<'_>,
        frame: &mut [u8],
        width: usize,
    ) -> Result<(), GpuError> {
        Gpu::get(ordinal)?.text_rgb8(plan, frame, width)
    }

    pub(super) fn caption(
        ordinal: usize,
        plan: &kino_kernels::text::CaptionPlan<'_>,
        frame: &mut [u8],
        width: usize,
    ) -> Result<(), GpuError> {
        Gpu::get(ordinal)?.caption_rgb8(plan, frame, width)
    }

    /// The flow on the GPU, then each frame: drawn there, or a copy where
    /// the CPU would copy (t 0 or 1, or across a cut).
    pub(super) fn interpolate(
        ordinal: usize,
        (a, b): (&Frame, &Frame),
        params: &Params,
        times: &[f32],
    ) -> Result<Vec<Frame>, GpuError> {
        let gpu = Gpu::get(ordinal)?;
        let flow = gpu.estimate_flow(&a.data, &b.data, (a.width, a.height), params)?;
        times
            .iter()
            .map(|&t| {
                if t > 0.0 && t < 1.0 && !flow.pair().is_cut() {
                    Ok(Frame {
                        width: a.width,
                        height: a.height,
                        data: gpu.render_flow(&flow, t)?,
                    })
                } else {
                    flow.pair()
                        .render(a, b, t)
                        .map_err(|e| GpuError(format!("copying a frame: {e}")))
                }
            })
            .collect()
    }

    pub(super) fn lut_rgb8(
        ordinal: usize,
        lut: &CubeLut,
        frame: &[u8],
    ) -> Result<Vec<u8>, GpuError> {
        Gpu::get(ordinal)?.lut_rgb8(&lut.rgb8_plan(), frame)
    }

    pub(super) fn camera(
        ordinal: usize,
        plan: &CameraPlan<'_>,
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, GpuError> {
        Gpu::get(ordinal)?.camera_rgb8(plan, width, height)
    }

    pub(super) fn overlay(
        ordinal: usize,
        plan: &OverlayPlan<'_>,
        frame: &mut [u8],
        width: usize,
    ) -> Result<(), GpuError> {
        Gpu::get(ordinal)?.overlay_rgb8(plan, frame, width)
    }
}

/// A build without CUDA has no GPU half: the pool never leases it a GPU
/// (detection finds none), and a pool made with one anyway falls back.
#[cfg(not(feature = "cuda"))]
mod gpu {
    use kino_kernels::lut::CubeLut;
    use kino_kernels::scene::{CameraPlan, OverlayPlan};

    use kino_kernels::interpolate::{Frame, Params};

    const NO_CUDA: &str = "this build has no CUDA";

    pub(super) fn text(
        _: usize,
        _: &kino_kernels::text::TextPlan<'_>,
        _: &mut [u8],
        _: usize,
    ) -> Result<(), &'static str> {
        Err(NO_CUDA)
    }

    pub(super) fn caption(
        _: usize,
        _: &kino_kernels::text::CaptionPlan<'_>,
        _: &mut [u8],
        _: usize,
    ) -> Result<(), &'static str> {
        Err(NO_CUDA)
    }

    pub(super) fn interpolate(
        _: usize,
        _: (&Frame, &Frame),
        _: &Params,
        _: &[f32],
    ) -> Result<Vec<Frame>, &'static str> {
        Err(NO_CUDA)
    }

    pub(super) fn lut_rgb8(_: usize, _: &CubeLut, _: &[u8]) -> Result<Vec<u8>, &'static str> {
        Err(NO_CUDA)
    }

    pub(super) fn camera(
        _: usize,
        _: &CameraPlan<'_>,
        _: usize,
        _: usize,
    ) -> Result<Vec<u8>, &'static str> {
        Err(NO_CUDA)
    }

    pub(super) fn overlay(
        _: usize,
        _: &OverlayPlan<'_>,
        _: &mut [u8],
        _: usize,
    ) -> Result<(), &'static str> {
        Err(NO_CUDA)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::pool::{Choice, Gpu, Placement, RESERVE_BYTES};

    fn frame() -> Vec<u8> {
        (0..90u8).map(|i| i.wrapping_mul(37)).collect()
    }

    fn lut() -> CubeLut {
        CubeLut::from_fn(9, |[r, g, b]| [b, r * 0.5, g]).unwrap()
    }

    #[test]
    fn without_a_gpu_the_lut_runs_on_the_cpu() {
        let pool = Pool::new(&[], Choice::Auto, Some("no libcuda".into())).unwrap();
        let mut placed = frame();
        let ran = lut_rgb8(&pool, &lut(), &mut placed).unwrap();
        let mut reference = frame();
        lut().apply_rgb8(&mut reference).unwrap();
        assert_eq!(placed, reference);
        assert_eq!((ran.placement, ran.fallback), (Placement::Cpu, None));
    }

    /// On a CPU-only build a pool given a GPU leases it, the GPU half fails,
    /// and the CPU grades the untouched frame; on a GPU machine's `cuda`
    /// build ordinal 7 does not exist and fails the same way.
    #[test]
    fn a_failing_gpu_leaves_the_frame_to_the_cpu_and_says_why() {
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        let pool = Pool::new(&[gpu], Choice::Auto, None).unwrap();
        let mut placed = frame();
        let ran = lut_rgb8(&pool, &lut(), &mut placed).unwrap();
        let mut reference = frame();
        lut().apply_rgb8(&mut reference).unwrap();
        assert_eq!(placed, reference);
        assert_eq!(ran.placement, Placement::Cpu);
        let why = ran.fallback.unwrap();
        assert!(why.starts_with("cuda:7 failed: "), "{why}");
        assert_eq!(pool.stats().fallbacks, 1);
    }

    #[test]
    fn a_frame_of_partial_pixels_is_refused_before_any_device_is_asked() {
        let pool = Pool::new(&[], Choice::Auto, None).unwrap();
        let mut bad = vec![0u8; 10];
        assert!(matches!(
            lut_rgb8(&pool, &lut(), &mut bad),
            Err(LutError::BufferLength { len: 10 })
        ));
        assert_eq!(pool.stats().cpu_calls, 0);
    }

    #[test]
    fn the_camera_and_the_overlay_fall_back_to_the_cpu_with_its_result() {
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        let pool = Pool::new(&[gpu], Choice::Auto, None).unwrap();
        let rgba: Vec<u8> = (0..40 * 30 * 4).map(|i| (i * 7 % 256) as u8).collect();
        let still = Image::from_rgba(40, 30, rgba).unwrap();
        let shot = Shot::new(scene::CameraMove::Orbit, scene::ShotSize::Medium);
        let mut placed = Frame {
            width: 32,
            height: 18,
            data: vec![0; 32 * 18 * 3],
        };
        let ran = camera(&pool, &still, shot, 0.5, &mut placed).unwrap();
        assert_eq!(ran.placement, Placement::Cpu);
        assert!(ran.fallback.is_some());
        assert_eq!(placed, scene::ken_burns(&still, 32, 18, shot, 0.5).unwrap());

        let mut reference = placed.clone();
        scene::overlay(&mut reference, &still, 3.0, -4.0, 0.5, 0.7).unwrap();
        let ran = overlay(&pool, &mut placed, &still, (3.0, -4.0), 0.5, 0.7).unwrap();
        assert_eq!(ran.map(|r| r.placement), Some(Placement::Cpu));
        assert_eq!(placed, reference);
        // Off the frame: nothing to place.
        assert_eq!(
            overlay(&pool, &mut placed, &still, (100.0, 0.0), 1.0, 1.0).unwrap(),
            None
        );
        // A bad parameter is the CPU kernel's error, before any device.
        assert!(overlay(&pool, &mut placed, &still, (0.0, 0.0), 0.0, 1.0).is_err());
        assert!(camera(&pool, &still, shot, 1.5, &mut placed).is_err());
        assert_eq!(pool.stats().fallbacks, 2);
    }

    #[test]
    fn text_falls_back_to_the_cpu_and_text_off_the_frame_asks_no_device() {
        use kino_kernels::text::{Font, Placement as Where, TextStyle, layout};
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        let pool = Pool::new(&[gpu], Choice::Auto, None).unwrap();
        let font = Font::system_bold().unwrap();
        let title = layout(&font, "Kino", &TextStyle::new(24.0))
            .unwrap()
            .render();
        let blank = Frame {
            width: 96,
            height: 48,
            data: vec![40; 96 * 48 * 3],
        };
        let mut placed = blank.clone();
        let (rect, ran) = text(&pool, &mut placed, &title, Where::Center).unwrap();
        let mut reference = blank.clone();
        assert_eq!(
            title.draw_placed(&mut reference, Where::Center).unwrap(),
            rect
        );
        assert_eq!(placed, reference);
        assert_ne!(placed, blank, "the text is drawn");
        assert!(ran.unwrap().fallback.is_some());
        let off = Where::At { x: 500, y: 0 };
        assert_eq!(text(&pool, &mut placed, &title, off).unwrap().1, None);
        assert_eq!(pool.stats().fallbacks, 1);
    }

    #[test]
    fn a_dynamic_caption_falls_back_to_the_cpu_and_a_wrong_frame_is_refused() {
        use kino_kernels::subtitle::Cue;
        use kino_kernels::text::{CaptionKind, DynamicLook, DynamicStyle, Font};
        use kino_kernels::words::DynamicCue;
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        let pool = Pool::new(&[gpu], Choice::Auto, None).unwrap();
        let font = Font::system_bold().unwrap();
        let cue = DynamicCue::proportional(&Cue::new(0, 1000, "said word by word"));
        let look = DynamicLook::new(DynamicStyle::Karaoke, CaptionKind::Outlined);
        let caption = DynamicCaption::new(&font, &cue, &look, 160, 90).unwrap();
        let blank = Frame::new(160, 90, vec![30; 160 * 90 * 3]).unwrap();
        let mut placed = blank.clone();
        let (rect, ran) = dynamic_caption(&pool, &mut placed, &caption, 420).unwrap();
        let mut reference = blank.clone();
        assert_eq!(caption.draw(&mut reference, 420).unwrap(), rect);
        assert_eq!(placed, reference);
        assert_ne!(placed, blank, "the caption is drawn");
        assert!(ran.unwrap().fallback.is_some());
        let mut other = Frame::new(96, 54, vec![0; 96 * 54 * 3]).unwrap();
        let refused = dynamic_caption(&pool, &mut other, &caption, 420).unwrap_err();
        assert!(matches!(refused, TextError::FrameSize { .. }), "{refused}");
        assert_eq!(pool.stats().fallbacks, 1, "a refused frame asks no device");
    }

    #[test]
    fn interpolation_falls_back_to_the_cpu_and_copies_ask_no_device() {
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (64 << 20),
        };
        let pool = Pool::new(&[gpu], Choice::Auto, None).unwrap();
        let frame = |shift: usize| Frame {
            width: 48,
            height: 32,
            data: (0..48 * 32 * 3)
                .map(|i| ((i / 3 + shift) * 5 % 256) as u8)
                .collect(),
        };
        let (a, b) = (frame(0), frame(2));
        let params = Params::default();
        let pair = FlowPair::estimate(&a, &b, &params).unwrap();
        let (frames, ran) = interpolate(&pool, (&a, &b), &params, &[0.0, 0.25, 0.5, 1.0]).unwrap();
        assert_eq!(frames[0], a);
        assert_eq!(frames[1], pair.render(&a, &b, 0.25).unwrap());
        assert_eq!(frames[2], pair.render(&a, &b, 0.5).unwrap());
        assert_eq!(frames[3], b);
        assert!(ran.unwrap().fallback.is_some());
        let (copies, ran) = interpolate(&pool, (&a, &b), &params, &[1.0, 0.0]).unwrap();
        assert_eq!((copies, ran), (vec![b.clone(), a.clone()], None));
        assert_eq!(pool.stats().fallbacks, 1);
        // Bad input is refused before any device is asked.
        assert!(matches!(
            interpolate(&pool, (&a, &b), &params, &[0.5, 1.5]),
            Err(InterpolateError::Time { t }) if t == 1.5
        ));
        let small = Frame {
            width: 8,
            height: 8,
            data: vec![0; 8 * 8 * 3],
        };
        assert!(matches!(
            interpolate(&pool, (&a, &small), &params, &[0.5]),
            Err(InterpolateError::SizeMismatch { .. })
        ));
        assert_eq!(pool.stats().fallbacks, 1);
    }
}
