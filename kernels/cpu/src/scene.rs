//! Scenes rendered from still assets: Ken Burns camera moves over an image,
//! palette backdrops, alpha compositing of product shots and logos, and the
//! transitions between scenes. Frames are packed RGB24
//! ([`crate::interpolate::Frame`]).
//!
//! # Camera
//!
//! [`ken_burns`] frames the source with a crop window of the output's aspect
//! ratio. The [`ShotSize`] sets how much of the image the window shows (an
//! extreme wide shot is the largest window that fits, a close-up a smaller
//! one); the [`CameraMove`] moves, scales or rotates it through the scene,
//! eased with smoothstep so every move starts and ends at rest. Before
//! sampling, the window (rotated if it is) is shrunk and then pushed back
//! inside the image until all four corners lie on it, so the output is
//! always covered: no black bars, whatever the source's aspect ratio.
//!
//! # Sampling
//!
//! Images are held as premultiplied RGBA (so filtering never bleeds the
//! colour of transparent pixels), one `u32` per pixel. Each output pixel is
//! a bilinear sample in 16.16 fixed point, the two channel pairs filtered at
//! once in one register (8-bit weights). When the window is much larger than
//! the output, sampling the full image would alias, so the sample is taken
//! from a mipmap level (2x2 box-filtered halvings, each built on first use and
//! kept with the image) chosen to bring the scale near 1. Rows are rendered
//! in parallel on the current rayon pool. A window that is not rotated
//! reads the same source columns on every row: those are worked out once
//! per frame, and the rows sampled eight pixels at a time where the CPU has
//! AVX2, writing the same bytes as the scalar path (`scene/resample.rs`).
//!
//! # Colour
//!
//! Compositing ([`overlay`]) and transitions mix the sRGB-encoded values, as
//! image editors and FFmpeg's `overlay`/`xfade` do: a logo's alpha was
//! designed to look right that way, and a crossfade at its midpoint is then
//! the plain average of the two frames. (Text uses linear light instead; see
//! [`crate::text`] for why.) The backdrop gradient is interpolated in linear
//! light, where mixes of saturated colours do not go muddy, and dithered so
//! it does not band after encoding.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::interpolate::{Frame, InterpolateError};

mod resample;

/// Largest image side accepted, in pixels (fixed-point sampling positions
/// must fit in 32 bits).
pub const MAX_SIDE: usize = 16384;

/// Why a scene could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SceneError {
    /// An image file could not be read.
    #[error("cannot read image {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image file could not be decoded.
    #[error("cannot decode image {} (PNG or JPEG expected): {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An image or output size that is zero or too large.
    #[error("{what} size {width}x{height} is outside 1..={MAX_SIDE} per side")]
    Size {
        /// What has the size.
        what: &'static str,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
    },
    /// An RGBA buffer whose length does not match its size.
    #[error("rgba buffer holds {len} bytes, expected {expected} for {width}x{height}")]
    BufferLength {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Bytes in the buffer.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A parameter outside its allowed range.
    #[error("{name} = {value} is outside {allowed}")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: f32,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// A malformed frame, or two frames of different sizes.
    #[error(transparent)]
    Frame(#[from] InterpolateError),
}

fn param(
    name: &'static str,
    value: f32,
    ok: bool,
    allowed: &'static str,
) -> Result<(), SceneError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(SceneError::Param {
            name,
            value,
            allowed,
        })
    }
}

fn check_size(what: &'static str, width: usize, height: usize) -> Result<(), SceneError> {
    if (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height) {
        Ok(())
    } else {
        Err(SceneError::Size {
            what,
            width,
            height,
        })
    }
}

/// How the camera moves through a scene (mirrors the WIT `camera-move`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CameraMove {
    /// No movement.
    #[default]
    Locked,
    /// Zooms in towards the centre.
    PushIn,
    /// Zooms out from the centre.
    PullOut,
    /// The camera turns left: content slides right.
    PanLeft,
    /// The camera turns right: content slides left.
    PanRight,
    /// The camera tilts up: content slides down.
    TiltUp,
    /// A small, smooth, deterministic shake, as a hand-held camera.
    Handheld,
    /// A slight rotation with a sideways drift, as a camera circling the
    /// subject.
    Orbit,
}

impl CameraMove {
    /// Every move, in declaration order.
    pub const ALL: [CameraMove; 8] = [
        CameraMove::Locked,
        CameraMove::PushIn,
        CameraMove::PullOut,
        CameraMove::PanLeft,
        CameraMove::PanRight,
        CameraMove::TiltUp,
        CameraMove::Handheld,
        CameraMove::Orbit,
    ];

    /// Whether the camera frames the same window all through the scene, so
    /// every frame of a still under it is the same picture.
    pub fn is_static(self) -> bool {
        self == CameraMove::Locked
    }
}

/// How much of the image a shot shows (mirrors the WIT `shot-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShotSize {
    /// The whole image (the largest window that fits).
    ExtremeWide,
    /// 1/1.15 of it in each dimension.
    #[default]
    Wide,
    /// 1/1.35.
    Medium,
    /// 1/1.7.
    CloseUp,
    /// 1/2.2.
    ExtremeCloseUp,
}

impl ShotSize {
    /// Every size, widest first.
    pub const ALL: [ShotSize; 5] = [
        ShotSize::ExtremeWide,
        ShotSize::Wide,
        ShotSize::Medium,
        ShotSize::CloseUp,
        ShotSize::ExtremeCloseUp,
    ];

    /// Magnification relative to the largest window that fits.
    pub fn zoom(self) -> f32 {
        match self {
            ShotSize::ExtremeWide => 1.0,
            ShotSize::Wide => 1.15,
            ShotSize::Medium => 1.35,
            ShotSize::CloseUp => 1.7,
            ShotSize::ExtremeCloseUp => 2.2,
        }
    }
}

/// How one scene gives way to the next (mirrors the WIT `transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transition {
    /// The first frame until halfway, then the second.
    #[default]
    Cut,
    /// A linear mix of the two.
    Crossfade,
    /// The first fades to black by halfway, then the second fades in.
    DipToBlack,
    /// Both slide left at speed, the second following the first, with
    /// horizontal motion blur proportional to the speed.
    WhipPan,
    /// The second is revealed behind a vertical edge moving left to right.
    Wipe,
}

/// A shot: camera move and framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shot {
    /// How the camera moves.
    pub camera_move: CameraMove,
    /// How much of the image it shows.
    pub shot_size: ShotSize,
}

impl Shot {
    /// A shot of `shot_size` with `camera_move`.
    pub fn new(camera_move: CameraMove, shot_size: ShotSize) -> Self {
        Self {
            camera_move,
            shot_size,
        }
    }
}

/// One level of an image: premultiplied RGBA, one little-endian `u32` per
/// pixel (`R | G << 8 | B << 16 | A << 24`).
#[derive(Debug, Clone)]
struct Level {
    width: usize,
    height: usize,
    px: Vec<u32>,
}

impl Level {
    /// The next mipmap level: each pixel the mean of a 2x2 block, each
    /// channel rounded half up (the last row or column repeated when the
    /// size is odd).
    fn half(&self) -> Level {
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut px = vec![0u32; w * h];
        px.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let top = &self.px[(2 * y).min(self.height - 1) * self.width..][..self.width];
            let bottom = &self.px[(2 * y + 1).min(self.height - 1) * self.width..][..self.width];
            for (x, out) in row.iter_mut().enumerate() {
                let x0 = 2 * x;
                let x1 = (x0 + 1).min(self.width - 1);
                *out = mean4([top[x0], top[x1], bottom[x0], bottom[x1]]);
            }
        });
        Level {
            width: w,
            height: h,
            px,
        }
    }
}

/// The per-channel mean of four RGBA pixels, each rounded half up:
/// `(a + b + c + d + 2) / 4` for every byte. Two channels are summed at
/// once in 16-bit lanes (four bytes sum to at most 1020, so no lane
/// carries into the next).
fn mean4(taps: [u32; 4]) -> u32 {
    const LANES: u32 = 0x00FF_00FF;
    const HALF: u32 = 0x0002_0002;
    let (mut even, mut odd) = (HALF, HALF);
    for p in taps {
        even += p & LANES;
        odd += (p >> 8) & LANES;
    }
    ((even >> 2) & LANES) | (((odd >> 2) & LANES) << 8)
}

/// An RGBA8 still (a product shot, a logo, a rendered backdrop), held
/// premultiplied for filtering.
#[derive(Debug, Clone)]
pub struct Image {
    base: Level,
    opaque: bool,
    /// Levels 1.. of the mipmap, each built on first use (from the one
    /// above it), so a camera sampling level 1 makes no others.
    mips: Box<[OnceLock<Level>]>,
}

impl Image {
    /// Reads and decodes a PNG or JPEG file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SceneError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SceneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let decoded = image::load_from_memory(&bytes).map_err(|e| SceneError::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let rgba = decoded.into_rgba8();
        let (w, h) = (rgba.width() as usize, rgba.height() as usize);
        Self::from_rgba(w, h, rgba.into_raw())
    }

    /// An image from straight (not premultiplied) RGBA8 bytes, row-major.
    pub fn from_rgba(width: usize, height: usize, rgba: Vec<u8>) -> Result<Self, SceneError> {
        check_size("image", width, height)?;
        let expected = width * height * 4;
        if rgba.len() != expected {
            return Err(SceneError::BufferLength {
                width,
                height,
                len: rgba.len(),
                expected,
            });
        }
        let px: Vec<u32> = rgba
            .chunks_exact(4)
            .map(|p| {
                let a = u32::from(p[3]);
                let pm = |c: u8| (u32::from(c) * a + 127) / 255;
                pm(p[0]) | pm(p[1]) << 8 | pm(p[2]) << 16 | a << 24
            })
            .collect();
        let opaque = rgba.chunks_exact(4).all(|p| p[3] == 255);
        Ok(Self::from_level(Level { width, height, px }, opaque))
    }

    /// An opaque image of a frame (for example a [`backdrop`] with a product
    /// composited on it, to move the camera over).
    pub fn from_frame(frame: &Frame) -> Result<Self, SceneError> {
        frame.validate()?;
        check_size("image", frame.width, frame.height)?;
        let px = frame
            .data
            .par_chunks_exact(3)
            .map(|p| u32::from(p[0]) | u32::from(p[1]) << 8 | u32::from(p[2]) << 16 | 0xFF << 24)
            .collect();
        Ok(Self::from_level(
            Level {
                width: frame.width,
                height: frame.height,
                px,
            },
            true,
        ))
    }

    /// The image over black as an RGB24 frame (for an opaque image, its
    /// pixels).
    pub fn to_frame(&self) -> Frame {
        let data = self
            .base
            .px
            .iter()
            .flat_map(|p| {
                let [r, g, b, _] = p.to_le_bytes();
                [r, g, b]
            })
            .collect();
        Frame {
            width: self.width(),
            height: self.height(),
            data,
        }
    }

    fn from_level(base: Level, opaque: bool) -> Self {
        let levels = mip_levels(base.width, base.height);
        Self {
            base,
            opaque,
            mips: (0..levels).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.base.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.base.height
    }

    /// Whether every pixel has alpha 255.
    pub fn is_opaque(&self) -> bool {
        self.opaque
    }

    /// The pixel at `(x, y)` as premultiplied RGBA.
    pub fn premultiplied(&self, x: usize, y: usize) -> Option<[u8; 4]> {
        if x < self.width() && y < self.height() {
            Some(self.base.px[y * self.width() + x].to_le_bytes())
        } else {
            None
        }
    }

    /// The level to sample when one output pixel spans `scale` source pixels,
    /// and that level's size relative to the base (see [`mip_level`]).
    fn level(&self, scale: f32) -> (&Level, f32) {
        let k = mip_level(self.width(), self.height(), scale);
        (self.level_at(k), 1.0 / (1u32 << k) as f32)
    }

    /// Level `k` of the mipmap (0 is the base), the levels built on first
    /// use. `k` is at most [`mip_levels`] of the image's size.
    fn level_at(&self, k: usize) -> &Level {
        match k.min(self.mips.len()) {
            0 => &self.base,
            k => self.mips[k - 1].get_or_init(|| self.level_at(k - 1).half()),
        }
    }

    /// Level `k` of the mipmap (0 is the base): its width, height and
    /// pixels (premultiplied RGBA, one little-endian `u32` a pixel), as
    /// the camera samples them; `None` past the 1×1 level.
    pub fn mip(&self, k: usize) -> Option<(usize, usize, &[u32])> {
        (k <= mip_levels(self.width(), self.height())).then(|| {
            let level = self.level_at(k);
            (level.width, level.height, level.px.as_slice())
        })
    }
}

/// How many levels a `width × height` image's mipmap has below its base:
/// each halves the last (rounding up) until one is 1×1, and there is at
/// least one.
pub fn mip_levels(width: usize, height: usize) -> usize {
    let (mut w, mut h, mut n) = (width, height, 0);
    loop {
        (w, h, n) = (w.div_ceil(2), h.div_ceil(2), n + 1);
        if w <= 1 && h <= 1 {
            return n;
        }
    }
}

/// The size of level `k` of a `width × height` image's mipmap (0 is the
/// base): halved `k` times, rounding up.
pub fn mip_size(width: usize, height: usize, k: usize) -> (usize, usize) {
    (0..k).fold((width, height), |(w, h), _| (w.div_ceil(2), h.div_ceil(2)))
}

/// The level sampled when one output pixel spans `scale` pixels of a
/// `width × height` image: the base below √2, else the nearest power of
/// two to `scale`, so the sampling scale stays within 0.71..1.41.
fn mip_level(width: usize, height: usize, scale: f32) -> usize {
    if scale < std::f32::consts::SQRT_2 {
        return 0;
    }
    (scale.log2().round() as usize).clamp(1, mip_levels(width, height))
}

/// Smoothstep easing: starts and ends at rest.
fn ease(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// A crop window on the source: centre, width (height follows the output
/// aspect ratio) and rotation, in base-level pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    cx: f32,
    cy: f32,
    width: f32,
    angle: f32,
}

/// Extra magnification a push-in ends at (and a pull-out starts from).
const PUSH_ZOOM: f32 = 1.25;
/// Largest travel of a pan or tilt, as a fraction of the window.
const PAN_TRAVEL: f32 = 0.3;
/// Smallest magnification for moves that need room to travel in.
const MOVE_ZOOM: f32 = 1.2;

fn window(src_w: f32, src_h: f32, aspect: f32, shot: Shot, t: f32) -> Window {
    let e = ease(t);
    let cover_w = src_w.min(src_h * aspect);
    let z = shot.shot_size.zoom();
    let (mut cx, mut cy, mut angle) = (src_w / 2.0, src_h / 2.0, 0.0f32);
    let zoom = match shot.camera_move {
        CameraMove::Locked => z,
        CameraMove::PushIn => z * lerp(1.0, PUSH_ZOOM, e),
        CameraMove::PullOut => z * lerp(PUSH_ZOOM, 1.0, e),
        CameraMove::PanLeft | CameraMove::PanRight => {
            let zoom = z.max(MOVE_ZOOM);
            let w = cover_w / zoom;
            let travel = (src_w - w).min(PAN_TRAVEL * w) * 0.95;
            let s = if shot.camera_move == CameraMove::PanLeft {
                lerp(0.5, -0.5, e)
            } else {
                lerp(-0.5, 0.5, e)
            };
            cx += travel * s;
            zoom
        }
        CameraMove::TiltUp => {
            let zoom = z.max(MOVE_ZOOM);
            let h = cover_w / zoom / aspect;
            let travel = (src_h - h).min(PAN_TRAVEL * h) * 0.95;
            cy += travel * lerp(0.5, -0.5, e);
            zoom
        }
        CameraMove::Handheld => {
            // Incommensurate sines: smooth, never quite repeating within a
            // scene, and the same for the same t.
            let tau = std::f32::consts::TAU;
            let w = cover_w / z;
            let shake = |f1: f32, p1: f32, f2: f32, p2: f32| {
                (tau * f1 * t + p1).sin() * 0.7 + (tau * f2 * t + p2).sin() * 0.3
            };
            cx += w * 0.010 * shake(1.3, 0.4, 3.7, 2.1);
            cy += w * 0.007 * shake(1.7, 1.9, 4.3, 0.3);
            angle = 0.004 * shake(0.9, 2.6, 2.9, 1.2);
            z * 1.06
        }
        CameraMove::Orbit => {
            let zoom = z * 1.12;
            let w = cover_w / zoom;
            angle = lerp(-0.035, 0.035, e);
            cx += (src_w - w).min(0.12 * w) * 0.5 * lerp(-1.0, 1.0, e);
            zoom
        }
    };
    let mut width = cover_w / zoom;
    // Keep the rotated window on the image: shrink it until its bounding box
    // fits, then move it back inside.
    let (sin, cos) = (angle.abs().sin(), angle.abs().cos());
    let height = width / aspect;
    let (bw, bh) = (width * cos + height * sin, width * sin + height * cos);
    let fit = (src_w / bw).min(src_h / bh).min(1.0);
    width *= fit;
    let (bw, bh) = (bw * fit, bh * fit);
    cx = cx.clamp(bw / 2.0, src_w - bw / 2.0);
    cy = cy.clamp(bh / 2.0, src_h - bh / 2.0);
    Window {
        cx,
        cy,
        width,
        angle,
    }
}

/// Renders the frame at time `t` (0 at the scene's start, 1 at its end) of
/// `shot` over `src`: a `out_w x out_h` view of the image that always covers
/// the frame (see the module docs). Transparent parts of `src` show black;
/// composite an image with alpha over a [`backdrop`] first.
pub fn ken_burns(
    src: &Image,
    out_w: usize,
    out_h: usize,
    shot: Shot,
    t: f32,
) -> Result<Frame, SceneError> {
    check_size("output", out_w, out_h)?;
    let mut frame = Frame {
        width: out_w,
        height: out_h,
        data: vec![0u8; out_w * out_h * 3],
    };
    ken_burns_into(src, shot, t, &mut frame)?;
    Ok(frame)
}

/// [`ken_burns`] into an existing frame (its size is the output size), so a
/// scene's frames can reuse one buffer.
pub fn ken_burns_into(src: &Image, shot: Shot, t: f32, out: &mut Frame) -> Result<(), SceneError> {
    out.validate()?;
    let (out_w, out_h) = (out.width, out.height);
    let s = sampling((src.width(), src.height()), shot, t, out_w, out_h)?;
    let level = src.level_at(s.level);
    let rows = out.data.par_chunks_mut(out_w * 3).enumerate();
    if !s.rotated {
        // Every row samples the same columns (du_dy is 0).
        let columns = resample::Columns::new(level, s.u_at(s.oy0), s.du_dx, out_w);
        let max_v = (level.height as i32 - 1) << 16;
        rows.for_each_init(Vec::new, |tmp, (y, row)| {
            let cv = ((s.v_at(y as f32 + s.oy0) * FIX) as i32).clamp(0, max_v);
            let y0 = (cv >> 16) as usize;
            let y1 = (y0 + 1).min(level.height - 1);
            columns.sample_row(level, y0, y1, ((cv >> 8) & 0xFF) as u32, row, tmp);
        });
    } else {
        rows.for_each(|(y, row)| {
            let oy = y as f32 + s.oy0;
            sample_row_rgb(level, s.u_at(oy), s.v_at(oy), s.du_dx, s.dv_dx, row);
        });
    }
    Ok(())
}

/// Where a camera frame samples its source: the mip level, and the level
/// position of output pixel (x, y)'s centre,
/// `centre + R(angle) * ((x + 0.5 - out_w/2) * scale, (y + 0.5 - out_h/2) * scale)`.
struct Sampling {
    /// The mip level (0 is the base).
    level: usize,
    cx: f32,
    cy: f32,
    ox: f32,
    oy0: f32,
    du_dx: f32,
    dv_dx: f32,
    du_dy: f32,
    dv_dy: f32,
    rotated: bool,
}

impl Sampling {
    // Pixel-centre convention: continuous position p samples around index
    // p - 0.5.
    fn u_at(&self, oy: f32) -> f32 {
        self.cx + self.ox * self.du_dx + oy * self.du_dy - 0.5
    }

    fn v_at(&self, oy: f32) -> f32 {
        self.cy + self.ox * self.dv_dx + oy * self.dv_dy - 0.5
    }
}

/// How a camera frame samples a `width × height` source: only the source's
/// size matters, not its pixels.
fn sampling(
    (width, height): (usize, usize),
    shot: Shot,
    t: f32,
    out_w: usize,
    out_h: usize,
) -> Result<Sampling, SceneError> {
    check_size("output", out_w, out_h)?;
    param("t", t, (0.0..=1.0).contains(&t), "0..=1")?;
    let win = window(
        width as f32,
        height as f32,
        out_w as f32 / out_h as f32,
        shot,
        t,
    );
    let scale = win.width / out_w as f32;
    let level = mip_level(width, height, scale);
    let k = 1.0 / (1u32 << level) as f32;
    let s = scale * k;
    let (sin, cos) = win.angle.sin_cos();
    Ok(Sampling {
        level,
        cx: win.cx * k,
        cy: win.cy * k,
        ox: 0.5 - out_w as f32 / 2.0,
        oy0: 0.5 - out_h as f32 / 2.0,
        du_dx: s * cos,
        dv_dx: s * sin,
        du_dy: -s * sin,
        dv_dy: s * cos,
        rotated: win.angle != 0.0,
    })
}

/// A frame of a camera move as [`ken_burns_into`] samples it, for its GPU
/// twin: the mip level's pixels (premultiplied RGBA, one little-endian
/// `u32` a pixel) and where the frame samples them ([`CameraGeometry`]).
#[derive(Debug, Clone)]
pub struct CameraPlan<'a> {
    /// The level's pixels, row-major.
    pub level: &'a [u32],
    /// Which level, and the 16.16 positions.
    pub geometry: CameraGeometry,
}

/// Where a camera frame samples its source's mip level: for each output
/// row, the 16.16 fixed-point level position of its first pixel; each next
/// pixel steps by `(du, dv)`, clamped to the level. A sample blends its
/// four taps across then down, except where the window is not rotated
/// (`rows_first`): there the two source rows are blended first, then the
/// taps across, as the CPU's column path does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraGeometry {
    /// The mip level sampled: 0 is the base, `k` the base halved `k` times
    /// ([`mip_size`]).
    pub level: usize,
    /// The level's width.
    pub level_width: usize,
    /// The level's height.
    pub level_height: usize,
    /// Per output row, `[u, v]` of its first pixel (16.16).
    pub rows: Vec<[i32; 2]>,
    /// Step along a row, 16.16.
    pub du: i32,
    /// Step along a row, 16.16.
    pub dv: i32,
    /// Blend rows before columns.
    pub rows_first: bool,
}

/// The plan of frame `t` of `shot` over `src` at `out_w × out_h` (see
/// [`CameraPlan`]).
pub fn camera_plan(
    src: &Image,
    shot: Shot,
    t: f32,
    out_w: usize,
    out_h: usize,
) -> Result<CameraPlan<'_>, SceneError> {
    let geometry = camera_geometry((src.width(), src.height()), shot, t, out_w, out_h)?;
    Ok(CameraPlan {
        level: &src.level_at(geometry.level).px,
        geometry,
    })
}

/// Where frame `t` of `shot` at `out_w × out_h` samples a `width × height`
/// source, whose pixels may be elsewhere (on a GPU; see
/// [`CameraGeometry`]).
pub fn camera_geometry(
    (width, height): (usize, usize),
    shot: Shot,
    t: f32,
    out_w: usize,
    out_h: usize,
) -> Result<CameraGeometry, SceneError> {
    check_size("image", width, height)?;
    let s = sampling((width, height), shot, t, out_w, out_h)?;
    let (level_width, level_height) = mip_size(width, height, s.level);
    let rows = (0..out_h)
        .map(|y| {
            let oy = y as f32 + s.oy0;
            [(s.u_at(oy) * FIX) as i32, (s.v_at(oy) * FIX) as i32]
        })
        .collect();
    Ok(CameraGeometry {
        level: s.level,
        level_width,
        level_height,
        rows,
        du: (s.du_dx * FIX) as i32,
        dv: (s.dv_dx * FIX) as i32,
        rows_first: !s.rotated,
    })
}

const FIX: f32 = 65536.0;

/// Bilinear blend of four packed pixels with 8-bit weights.
#[inline(always)]
fn bilerp(p00: u32, p01: u32, p10: u32, p11: u32, fx: u32, fy: u32) -> u32 {
    use resample::lerp2;
    lerp2(lerp2(p00, p01, fx), lerp2(p10, p11, fx), fy)
}

/// Samples one output row along `(u, v) + x * (du, dv)` (level pixel
/// indices), clamping at the edges, and writes RGB (premultiplied, that is
/// over black).
fn sample_row_rgb(level: &Level, u: f32, v: f32, du: f32, dv: f32, row: &mut [u8]) {
    let (w, h) = (level.width as i32, level.height as i32);
    let max_u = (w - 1) << 16;
    let max_v = (h - 1) << 16;
    let mut uf = (u * FIX) as i32;
    let mut vf = (v * FIX) as i32;
    let duf = (du * FIX) as i32;
    let dvf = (dv * FIX) as i32;
    let px = &level.px;
    for out in row.chunks_exact_mut(3) {
        let cu = uf.clamp(0, max_u);
        let cv = vf.clamp(0, max_v);
        let (ix, iy) = (cu >> 16, cv >> 16);
        let fx = ((cu >> 8) & 0xFF) as u32;
        let fy = ((cv >> 8) & 0xFF) as u32;
        let x1 = (ix + 1).min(w - 1) as usize;
        let y1 = (iy + 1).min(h - 1) as usize;
        let (ix, iy) = (ix as usize, iy as usize);
        let r0 = iy * level.width;
        let r1 = y1 * level.width;
        let p = bilerp(px[r0 + ix], px[r0 + x1], px[r1 + ix], px[r1 + x1], fx, fy);
        out[0] = p as u8;
        out[1] = (p >> 8) as u8;
        out[2] = (p >> 16) as u8;
        uf += duf;
        vf += dvf;
    }
}

/// A backdrop gradient of `w x h` from `palette`: the colours spread evenly
/// along a diagonal from the top-left, mixed in linear light, with a soft
/// vignette and dithering against banding. An empty palette gives a neutral
/// dark grey.
pub fn backdrop(palette: &[[u8; 3]], w: usize, h: usize) -> Result<Frame, SceneError> {
    check_size("backdrop", w, h)?;
    let default = [[46, 46, 52], [18, 18, 22]];
    let palette = if palette.is_empty() {
        &default[..]
    } else {
        palette
    };
    let decode = |c: u8| {
        let v = f32::from(c) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let stops: Vec<[f32; 3]> = palette.iter().map(|c| c.map(decode)).collect();
    // Colour along the diagonal, 1024 steps, already in linear light.
    const STEPS: usize = 1024;
    let ramp: Vec<[f32; 3]> = (0..STEPS)
        .map(|i| {
            let p = i as f32 / (STEPS - 1) as f32 * (stops.len() - 1) as f32;
            let j = (p as usize).min(stops.len() - 1);
            let k = (j + 1).min(stops.len() - 1);
            let f = p - j as f32;
            [0, 1, 2].map(|c| lerp(stops[j][c], stops[k][c], f))
        })
        .collect();
    let encode = encode_table();
    let (fw, fh) = (w as f32, h as f32);
    // Gradient axis: 30 degrees below horizontal.
    let (ax, ay) = (0.866f32, 0.5f32);
    let span = fw * ax + fh * ay;
    let mut data = vec![0u8; w * h * 3];
    data.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        let fy = y as f32 + 0.5;
        let ny = fy / fh - 0.5;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let fx = x as f32 + 0.5;
            let p = ((fx * ax + fy * ay) / span * (STEPS - 1) as f32) as usize;
            let c = ramp[p.min(STEPS - 1)];
            let nx = fx / fw - 0.5;
            let vignette = 1.0 - 0.35 * (nx * nx + ny * ny) * 2.0;
            // A cheap hash of the position: dither noise in [0, 1).
            let hash = (x as u32).wrapping_mul(0x9E37_79B1) ^ (y as u32).wrapping_mul(0x85EB_CA77);
            let hash = hash ^ (hash >> 15);
            let noise = (hash.wrapping_mul(0x2C1B_3C6D) >> 8) as f32 / (1u32 << 24) as f32;
            for k in 0..3 {
                let lin = (c[k] * vignette).clamp(0.0, 1.0);
                let s = encode[(lin * ENCODE_MAX as f32) as usize] * 255.0 + noise;
                px[k] = s.min(255.0) as u8;
            }
        }
    });
    Ok(Frame {
        width: w,
        height: h,
        data,
    })
}

const ENCODE_MAX: usize = 4095;

/// Linear light -> sRGB-encoded value in 0..=1, 4096 steps.
fn encode_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=ENCODE_MAX)
            .map(|i| {
                let l = i as f32 / ENCODE_MAX as f32;
                if l <= 0.003_130_8 {
                    l * 12.92
                } else {
                    1.055 * l.powf(1.0 / 2.4) - 0.055
                }
            })
            .collect()
    })
}

/// Composites `img` onto `frame` with its top-left corner at `(x, y)`,
/// scaled by `scale` (filtered: mipmapped when shrinking, bilinear) and
/// faded by `opacity` (0..=1). Parts outside the frame are clipped; an
/// opacity of 0 leaves the frame untouched.
pub fn overlay(
    frame: &mut Frame,
    img: &Image,
    x: f32,
    y: f32,
    scale: f32,
    opacity: f32,
) -> Result<(), SceneError> {
    frame.validate()?;
    let Some(plan) = overlay_plan(frame.width, frame.height, img, x, y, scale, opacity)? else {
        return Ok(());
    };
    let OverlayPlan {
        level,
        level_width,
        level_height,
        step,
        opacity: op,
        region: [x0, y0, x1, y1],
        ..
    } = plan;
    let (lw, lh) = (level_width as i64, level_height as i64);
    let stride = frame.width * 3;
    frame.data[y0 * stride..y1 * stride]
        .par_chunks_mut(stride)
        .enumerate()
        .for_each(|(i, row)| {
            let fy = (y0 + i) as f32 + 0.5;
            let v = (fy - y) * step - 0.5;
            let vf = (v * FIX).round() as i64;
            let (iy, fy8) = (vf >> 16, ((vf >> 8) & 0xFF) as u32);
            // Outside the image is transparent, so edges are anti-aliased.
            let tap = |xx: i64, yy: i64| -> u32 {
                if xx >= 0 && yy >= 0 && xx < lw && yy < lh {
                    level[(yy * lw + xx) as usize]
                } else {
                    0
                }
            };
            for fx in x0..x1 {
                let u = (fx as f32 + 0.5 - x) * step - 0.5;
                let uf = (u * FIX).round() as i64;
                let (ix, fx8) = (uf >> 16, ((uf >> 8) & 0xFF) as u32);
                let p = bilerp(
                    tap(ix, iy),
                    tap(ix + 1, iy),
                    tap(ix, iy + 1),
                    tap(ix + 1, iy + 1),
                    fx8,
                    fy8,
                );
                if p == 0 {
                    continue;
                }
                let a = (p >> 24) * op; // 0..=255*256
                let px = &mut row[fx * 3..fx * 3 + 3];
                for (c, d) in px.iter_mut().enumerate() {
                    let s = ((p >> (8 * c)) & 0xFF) * op;
                    // d * (1 - a) + s, in 1/(255*256) units.
                    let v = u32::from(*d) * (255 * 256 - a) / 255 + s;
                    *d = ((v + 128) >> 8).min(255) as u8;
                }
            }
        });
    Ok(())
}

/// An [`overlay`] as it composites, for its GPU twin: the mip level it
/// samples (premultiplied RGBA, one little-endian `u32` a pixel), the
/// image's top-left corner on the frame, level pixels per frame pixel, the
/// opacity in 256ths, and the frame region `[x0, y0, x1, y1)` it touches.
#[derive(Debug, Clone)]
pub struct OverlayPlan<'a> {
    /// The level's pixels, row-major.
    pub level: &'a [u32],
    /// The level's width.
    pub level_width: usize,
    /// The level's height.
    pub level_height: usize,
    /// The image's left edge on the frame.
    pub x: f32,
    /// The image's top edge on the frame.
    pub y: f32,
    /// Level pixels per frame pixel.
    pub step: f32,
    /// Opacity, 0..=256.
    pub opacity: u32,
    /// The frame pixels touched: columns `x0..x1`, rows `y0..y1`.
    pub region: [usize; 4],
}

/// The plan of an [`overlay`] onto a `frame_w × frame_h` frame; `None` when
/// it touches nothing (fully transparent, or off the frame).
pub fn overlay_plan(
    frame_w: usize,
    frame_h: usize,
    img: &Image,
    x: f32,
    y: f32,
    scale: f32,
    opacity: f32,
) -> Result<Option<OverlayPlan<'_>>, SceneError> {
    param("x", x, true, "finite values")?;
    param("y", y, true, "finite values")?;
    param("scale", scale, scale > 0.0 && scale <= 64.0, "(0, 64]")?;
    param("opacity", opacity, (0.0..=1.0).contains(&opacity), "0..=1")?;
    if opacity == 0.0 {
        return Ok(None);
    }
    let (level, k) = img.level(1.0 / scale);
    let x0 = x.floor().max(0.0) as usize;
    let y0 = y.floor().max(0.0) as usize;
    let x1 = ((x + img.width() as f32 * scale).ceil().max(0.0) as usize).min(frame_w);
    let y1 = ((y + img.height() as f32 * scale).ceil().max(0.0) as usize).min(frame_h);
    if x0 >= x1 || y0 >= y1 {
        return Ok(None);
    }
    Ok(Some(OverlayPlan {
        level: &level.px,
        level_width: level.width,
        level_height: level.height,
        x,
        y,
        step: k / scale,
        opacity: (opacity * 256.0).round() as u32,
        region: [x0, y0, x1, y1],
    }))
}

/// Where to put a logo: the frame corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    #[default]
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    BottomRight,
}

/// Composites `logo` in a corner of `frame`, `height_frac` of the frame's
/// height tall (aspect ratio kept), `margin_frac` of the height from both
/// edges, at `opacity`.
pub fn overlay_corner(
    frame: &mut Frame,
    logo: &Image,
    corner: Corner,
    height_frac: f32,
    margin_frac: f32,
    opacity: f32,
) -> Result<(), SceneError> {
    let (x, y, scale) = corner_placement(
        frame.width,
        frame.height,
        logo,
        corner,
        height_frac,
        margin_frac,
    )?;
    overlay(frame, logo, x, y, scale, opacity)
}

/// Where [`overlay_corner`] puts `logo` on a `frame_w × frame_h` frame: its
/// top-left corner and scale, for [`overlay`].
pub fn corner_placement(
    frame_w: usize,
    frame_h: usize,
    logo: &Image,
    corner: Corner,
    height_frac: f32,
    margin_frac: f32,
) -> Result<(f32, f32, f32), SceneError> {
    param(
        "height_frac",
        height_frac,
        height_frac > 0.0 && height_frac <= 1.0,
        "(0, 1]",
    )?;
    param(
        "margin_frac",
        margin_frac,
        (0.0..=0.5).contains(&margin_frac),
        "0..=0.5",
    )?;
    let fh = frame_h as f32;
    let scale = height_frac * fh / logo.height() as f32;
    let (w, h) = (logo.width() as f32 * scale, logo.height() as f32 * scale);
    let m = (margin_frac * fh).round();
    let (x, y) = match corner {
        Corner::TopLeft => (m, m),
        Corner::TopRight => (frame_w as f32 - m - w, m),
        Corner::BottomLeft => (m, fh - m - h),
        Corner::BottomRight => (frame_w as f32 - m - w, fh - m - h),
    };
    Ok((x.round(), y.round(), scale))
}

/// A product plate: `product` centred on a [`backdrop`] of `palette`,
/// scaled to fit `fill` (0..=1) of the plate's height and width, over a
/// soft shadow so it does not look pasted on. Move the camera over the
/// result with [`ken_burns`]; make it larger than the output (say 1.25x)
/// so close shots stay sharp.
pub fn product_plate(
    product: &Image,
    palette: &[[u8; 3]],
    w: usize,
    h: usize,
    fill: f32,
) -> Result<Image, SceneError> {
    param("fill", fill, fill > 0.0 && fill <= 1.0, "(0, 1]")?;
    let mut plate = backdrop(palette, w, h)?;
    let scale =
        (fill * h as f32 / product.height() as f32).min(fill * w as f32 / product.width() as f32);
    let (pw, ph) = (
        product.width() as f32 * scale,
        product.height() as f32 * scale,
    );
    let (x, y) = ((w as f32 - pw) / 2.0, (h as f32 - ph) / 2.0);
    // Shadow: the product's alpha, blurred by a much smaller mip level,
    // darkened and dropped slightly down and right.
    let shadow = shadow_of(product);
    let offset = ph * 0.03;
    overlay(
        &mut plate,
        &shadow,
        x + offset,
        y + offset * 1.5,
        scale,
        0.45,
    )?;
    overlay(&mut plate, product, x, y, scale, 1.0)?;
    Image::from_frame(&plate)
}

/// A black silhouette of `img` with its edges blurred (three box passes of
/// a radius of 1.5% of its size).
fn shadow_of(img: &Image) -> Image {
    let (w, h) = (img.width(), img.height());
    let mut alpha: Vec<f32> = img.base.px.iter().map(|p| (p >> 24) as f32).collect();
    let r = ((w.max(h) as f32) * 0.015).ceil().max(1.0) as usize;
    let mut tmp = vec![0.0f32; w * h];
    for _ in 0..3 {
        box_blur(&alpha, &mut tmp, w, h, r, true);
        box_blur(&tmp, &mut alpha, w, h, r, false);
    }
    let px = alpha
        .iter()
        .map(|&a| (a.round().clamp(0.0, 255.0) as u32) << 24)
        .collect();
    Image::from_level(
        Level {
            width: w,
            height: h,
            px,
        },
        false,
    )
}

/// One box-blur pass along rows (`horizontal`) or columns, zero outside.
fn box_blur(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize, horizontal: bool) {
    let norm = 1.0 / (2 * r + 1) as f32;
    let (n, lines, stride, step) = if horizontal {
        (w, h, w, 1)
    } else {
        (h, w, 1, w)
    };
    for line in 0..lines {
        let base = line * stride;
        let mut acc = 0.0f32;
        for i in 0..=r.min(n - 1) {
            acc += src[base + i * step];
        }
        for i in 0..n {
            dst[base + i * step] = acc * norm;
            if i + r + 1 < n {
                acc += src[base + (i + r + 1) * step];
            }
            if i >= r {
                acc -= src[base + (i - r) * step];
            }
        }
    }
}

/// The frame `t` (0..=1) of the way through a transition from `a` to `b`.
/// At `t = 0` the result is exactly `a`, at `t = 1` exactly `b`.
pub fn transition(a: &Frame, b: &Frame, kind: Transition, t: f32) -> Result<Frame, SceneError> {
    a.validate()?;
    b.validate()?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(InterpolateError::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        }
        .into());
    }
    param("t", t, (0.0..=1.0).contains(&t), "0..=1")?;
    if t == 0.0 {
        return Ok(a.clone());
    }
    if t == 1.0 {
        return Ok(b.clone());
    }
    let (w, h) = (a.width, a.height);
    let mut data = vec![0u8; w * h * 3];
    let stride = w * 3;
    let rows = data
        .par_chunks_mut(stride)
        .zip(a.data.par_chunks(stride).zip(b.data.par_chunks(stride)));
    match kind {
        Transition::Cut => return Ok(if t < 0.5 { a.clone() } else { b.clone() }),
        Transition::Crossfade => {
            let wb = (t * 256.0).round() as u32;
            mix_rows(rows, 256 - wb, wb);
        }
        Transition::DipToBlack => {
            if t < 0.5 {
                mix_rows(rows, ((1.0 - 2.0 * t) * 256.0).round() as u32, 0);
            } else {
                mix_rows(rows, 0, ((2.0 * t - 1.0) * 256.0).round() as u32);
            }
        }
        Transition::Wipe => {
            let edge = t * w as f32;
            rows.for_each(|(out, (ra, rb))| {
                for x in 0..w {
                    // Share of the pixel [x, x+1) left of the edge: b's.
                    let f = ((edge - x as f32).clamp(0.0, 1.0) * 256.0).round() as u32;
                    for c in 0..3 {
                        let i = x * 3 + c;
                        out[i] = ((u32::from(ra[i]) * (256 - f) + u32::from(rb[i]) * f + 128) >> 8)
                            as u8;
                    }
                }
            });
        }
        Transition::WhipPan => {
            // Smootherstep position: fast through the middle, at rest at the
            // ends; blur length follows its speed (30 t^2 (1-t)^2, 1.875 at
            // the middle), up to 8% of the width.
            let e = t * t * t * (t * (t * 6.0 - 15.0) + 10.0);
            let speed = 30.0 * t * t * (1.0 - t) * (1.0 - t) / 1.875;
            let shift = (e * w as f32).round() as usize;
            let radius = (speed * 0.08 * w as f32).round() as usize;
            rows.for_each_init(
                || (vec![0u8; stride], vec![0u32; stride + 3]),
                |(line, prefix), (out, (ra, rb))| {
                    // Content moves left: frame x shows a[x + shift], then b.
                    let split = w - shift.min(w);
                    line[..split * 3].copy_from_slice(&ra[shift * 3..]);
                    line[split * 3..].copy_from_slice(&rb[..shift * 3]);
                    box_blur_row(line, prefix, radius, out);
                },
            );
        }
    }
    Ok(Frame {
        width: w,
        height: h,
        data,
    })
}

type Rows<'a> = rayon::iter::Zip<
    rayon::slice::ChunksMut<'a, u8>,
    rayon::iter::Zip<rayon::slice::Chunks<'a, u8>, rayon::slice::Chunks<'a, u8>>,
>;

/// `out = (a * wa + b * wb) / 256`, rounded.
fn mix_rows(rows: Rows<'_>, wa: u32, wb: u32) {
    rows.for_each(|(out, (ra, rb))| {
        for ((o, &x), &y) in out.iter_mut().zip(ra).zip(rb) {
            *o = ((u32::from(x) * wa + u32::from(y) * wb + 128) >> 8).min(255) as u8;
        }
    });
}

/// Horizontal box blur of one RGB row of radius `r` (edges clamped), via a
/// running prefix sum so its cost does not depend on `r`.
fn box_blur_row(line: &[u8], prefix: &mut [u32], r: usize, out: &mut [u8]) {
    let w = line.len() / 3;
    if r == 0 {
        out.copy_from_slice(line);
        return;
    }
    // prefix[3 * (i + 1) + c] = sum of line[0..=i] channel c.
    prefix[..3].fill(0);
    for i in 0..w {
        for c in 0..3 {
            prefix[3 * (i + 1) + c] = prefix[3 * i + c] + u32::from(line[3 * i + c]);
        }
    }
    for x in 0..w {
        let lo = x.saturating_sub(r);
        let hi = (x + r).min(w - 1);
        let n = (hi - lo + 1) as u32;
        for c in 0..3 {
            let sum = prefix[3 * (hi + 1) + c] - prefix[3 * lo + c];
            out[3 * x + c] = ((sum + n / 2) / n) as u8;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A source where red is x / 2 and green is y (so the colour at an output
    /// pixel says which source pixel it shows) and blue is 255 everywhere.
    fn coords_image(w: usize, h: usize) -> Image {
        let mut rgba = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                rgba.extend_from_slice(&[(x / 2).min(255) as u8, y.min(255) as u8, 255, 255]);
            }
        }
        Image::from_rgba(w, h, rgba).unwrap()
    }

    fn at(f: &Frame, x: usize, y: usize) -> [u8; 3] {
        let i = (y * f.width + x) * 3;
        [f.data[i], f.data[i + 1], f.data[i + 2]]
    }

    fn solid(w: usize, h: usize, c: [u8; 3]) -> Frame {
        Frame::new(w, h, c.repeat(w * h)).unwrap()
    }

    fn noise_frame(w: usize, h: usize, seed: u32) -> Frame {
        let mut s = seed;
        let data = (0..w * h * 3)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 24) as u8
            })
            .collect();
        Frame::new(w, h, data).unwrap()
    }

    #[test]
    fn a_camera_frame_is_planned_from_its_sources_size_alone() {
        // Odd sizes, and shots that sample the base and levels 1 to 3.
        for (w, h, out) in [
            (640, 360, (320, 180)),
            (1001, 777, (120, 68)),
            (33, 9, (16, 8)),
        ] {
            let img = Image::from_frame(&noise_frame(w, h, 3)).unwrap();
            assert_eq!(mip_size(w, h, 0), (w, h));
            for move_ in [CameraMove::PushIn, CameraMove::Orbit, CameraMove::Locked] {
                for t in [0.0, 0.5, 1.0] {
                    let shot = Shot::new(move_, ShotSize::Wide);
                    let plan = camera_plan(&img, shot, t, out.0, out.1).unwrap();
                    let sized = camera_geometry((w, h), shot, t, out.0, out.1).unwrap();
                    assert_eq!(plan.geometry, sized, "{w}×{h} {move_:?} at {t}");
                    let (lw, lh, px) = img.mip(sized.level).unwrap();
                    assert_eq!((lw, lh), (sized.level_width, sized.level_height));
                    assert_eq!(px, plan.level);
                }
            }
            let levels = mip_levels(w, h);
            assert_eq!(img.mip(levels).map(|(w, h, _)| (w, h)), Some((1, 1)));
            assert!(img.mip(levels + 1).is_none(), "nothing past 1×1");
            for k in 1..=levels {
                let (lw, lh, _) = img.mip(k).unwrap();
                assert_eq!(mip_size(w, h, k), (lw, lh), "level {k} of {w}×{h}");
            }
        }
        assert_eq!(
            mip_levels(1, 1),
            1,
            "a 1×1 image still has one level below it"
        );
        assert!(matches!(
            camera_geometry((0, 10), Shot::default(), 0.0, 8, 8),
            Err(SceneError::Size { what: "image", .. })
        ));
    }

    #[test]
    fn push_in_ends_on_a_smaller_centred_region() {
        let src = coords_image(510, 256);
        let shot = Shot::new(CameraMove::PushIn, ShotSize::Wide);
        let span = |f: &Frame| {
            let mid = f.height / 2;
            let left = at(f, 0, mid)[0] as i32;
            let right = at(f, f.width - 1, mid)[0] as i32;
            (left, right)
        };
        let f0 = ken_burns(&src, 320, 180, shot, 0.0).unwrap();
        let f1 = ken_burns(&src, 320, 180, shot, 1.0).unwrap();
        let (l0, r0) = span(&f0);
        let (l1, r1) = span(&f1);
        assert!(l1 > l0 && r1 < r0, "t=0 {l0}..{r0}, t=1 {l1}..{r1}");
        // Zoom 1.15 -> 1.15 * 1.25 of a 455.1x256 cover window: the span
        // shrinks by 1.25.
        let ratio = (r0 - l0) as f32 / (r1 - l1) as f32;
        assert!((ratio - 1.25).abs() < 0.05, "{ratio}");
        // Centred on the source centre (x 255 -> red 127).
        assert!(((l1 + r1) / 2 - 127).abs() <= 1);
        // Compare with a crop: the t=1 window is 255/1.4375 = 178.1 rows tall
        // around row 128, so the top output row shows about row 39.
        let top = at(&f1, 160, 0)[1] as i32;
        assert!((top - 39).abs() <= 1, "{top}");
        let pull = Shot::new(CameraMove::PullOut, ShotSize::Wide);
        let (pl0, pr0) = span(&ken_burns(&src, 320, 180, pull, 0.0).unwrap());
        let (pl1, pr1) = span(&ken_burns(&src, 320, 180, pull, 1.0).unwrap());
        assert!(pr1 - pl1 > pr0 - pl0);
    }

    #[test]
    fn pans_and_tilts_move_content_the_right_way() {
        let src = coords_image(510, 256);
        let centre = |m: CameraMove, t: f32| {
            let f = ken_burns(&src, 320, 180, Shot::new(m, ShotSize::Wide), t).unwrap();
            let [r, g, _] = at(&f, 160, 90);
            (r as i32, g as i32)
        };
        // Pan left: the camera looks further left, so the centre shows a
        // smaller x (and content slides right).
        assert!(centre(CameraMove::PanLeft, 1.0).0 < centre(CameraMove::PanLeft, 0.0).0 - 10);
        assert!(centre(CameraMove::PanRight, 1.0).0 > centre(CameraMove::PanRight, 0.0).0 + 10);
        assert!(centre(CameraMove::TiltUp, 1.0).1 < centre(CameraMove::TiltUp, 0.0).1 - 5);
        // Eased: at rest at both ends.
        let step0 = centre(CameraMove::PanRight, 0.02).0 - centre(CameraMove::PanRight, 0.0).0;
        let step_mid = centre(CameraMove::PanRight, 0.52).0 - centre(CameraMove::PanRight, 0.5).0;
        assert!(step0.abs() < step_mid.abs(), "{step0} {step_mid}");
    }

    #[test]
    fn every_shot_covers_the_frame() {
        // Blue is 255 on every source pixel: any uncovered (black) or
        // edge-blended output pixel would show less.
        for (sw, sh) in [(510, 256), (300, 600), (640, 360), (97, 61)] {
            let src = coords_image(sw, sh);
            for m in CameraMove::ALL {
                for s in ShotSize::ALL {
                    for t in [0.0, 0.13, 0.5, 0.77, 1.0] {
                        let f = ken_burns(&src, 192, 108, Shot::new(m, s), t).unwrap();
                        assert!(
                            f.data.chunks_exact(3).all(|p| p[2] == 255),
                            "{m:?} {s:?} t={t} on {sw}x{sh}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn orbit_rotates_and_handheld_is_deterministic() {
        let src = coords_image(510, 256);
        let orbit = ken_burns(
            &src,
            320,
            180,
            Shot::new(CameraMove::Orbit, ShotSize::Medium),
            0.0,
        )
        .unwrap();
        // Rotated: the middle row's green (source y) changes along it.
        let g_left = at(&orbit, 10, 90)[1] as i32;
        let g_right = at(&orbit, 309, 90)[1] as i32;
        assert!((g_left - g_right).abs() >= 3, "{g_left} {g_right}");
        let shot = Shot::new(CameraMove::Handheld, ShotSize::Medium);
        let a = ken_burns(&src, 320, 180, shot, 0.4).unwrap();
        let b = ken_burns(&src, 320, 180, shot, 0.4).unwrap();
        let c = ken_burns(&src, 320, 180, shot, 0.6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn only_a_static_camera_frames_the_same_picture_throughout() {
        let src = coords_image(510, 256);
        for m in CameraMove::ALL {
            let shot = Shot::new(m, ShotSize::Medium);
            let first = ken_burns(&src, 160, 90, shot, 0.0).unwrap();
            let later = ken_burns(&src, 160, 90, shot, 0.7).unwrap();
            assert_eq!(first == later, m.is_static(), "{m:?}");
        }
    }

    #[test]
    fn an_opaque_image_round_trips_through_a_frame() {
        let src = coords_image(31, 17);
        let frame = src.to_frame();
        assert_eq!((frame.width, frame.height), (31, 17));
        assert_eq!(Image::from_frame(&frame).unwrap().to_frame(), frame);
        assert_eq!(
            at(&frame, 30, 16)[..],
            src.premultiplied(30, 16).unwrap()[..3]
        );
    }

    #[test]
    fn a_mip_pixel_is_each_channels_mean_rounded_half_up() {
        let naive = |taps: [u32; 4]| {
            (0..4).fold(0u32, |v, c| {
                let sum: u32 = taps.iter().map(|p| (p >> (8 * c)) & 0xFF).sum();
                v | ((sum + 2) / 4) << (8 * c)
            })
        };
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u32
        };
        let extremes = [
            [u32::MAX; 4],
            [0; 4],
            [u32::MAX, 0, u32::MAX, 0],
            [0x0201_0302; 4],
        ];
        for taps in extremes
            .into_iter()
            .chain((0..100_000).map(|_| [next(), next(), next(), next()]))
        {
            assert_eq!(mean4(taps), naive(taps), "{taps:08x?}");
        }
    }

    #[test]
    fn mip_levels_are_made_only_down_to_the_one_asked_for() {
        let frame = Frame {
            width: 37,
            height: 21,
            data: (0..37 * 21 * 3).map(|i| (i * 7 % 251) as u8).collect(),
        };
        let lazy = Image::from_frame(&frame).expect("image");
        assert_eq!(lazy.mip(2).map(|(w, h, _)| (w, h)), Some((10, 6)));
        let made: Vec<bool> = lazy.mips.iter().map(|l| l.get().is_some()).collect();
        assert_eq!(made, [true, true, false, false, false, false]);
        // Each level is the one below it halved, whichever is asked first.
        let eager = Image::from_frame(&frame).expect("image");
        for k in (0..=mip_levels(37, 21)).rev() {
            assert_eq!(lazy.mip(k), eager.mip(k), "level {k}");
        }
        assert_eq!(lazy.mip(7), None);
    }

    #[test]
    fn downscaling_uses_the_mipmap() {
        // A 1-pixel checkerboard shrunk 8x must come out flat grey, not
        // aliased into stripes.
        let (w, h) = (1280, 720);
        let mut rgba = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                let v = if (x + y) % 2 == 0 { 255 } else { 0 };
                rgba.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let src = Image::from_rgba(w, h, rgba).unwrap();
        let f = ken_burns(
            &src,
            160,
            90,
            Shot::new(CameraMove::Locked, ShotSize::ExtremeWide),
            0.5,
        )
        .unwrap();
        assert!(f.data.iter().all(|&v| (120..=135).contains(&v)));
    }

    #[test]
    fn transitions_start_at_a_and_end_at_b() {
        let a = noise_frame(64, 36, 1);
        let b = noise_frame(64, 36, 2);
        for kind in [
            Transition::Cut,
            Transition::Crossfade,
            Transition::DipToBlack,
            Transition::WhipPan,
            Transition::Wipe,
        ] {
            assert_eq!(transition(&a, &b, kind, 0.0).unwrap(), a, "{kind:?}");
            assert_eq!(transition(&a, &b, kind, 1.0).unwrap(), b, "{kind:?}");
        }
        assert_eq!(transition(&a, &b, Transition::Cut, 0.49).unwrap(), a);
        assert_eq!(transition(&a, &b, Transition::Cut, 0.5).unwrap(), b);
    }

    #[test]
    fn crossfade_midpoint_is_the_average_and_dip_is_black() {
        let a = noise_frame(64, 36, 3);
        let b = noise_frame(64, 36, 4);
        let mid = transition(&a, &b, Transition::Crossfade, 0.5).unwrap();
        for ((&m, &x), &y) in mid.data.iter().zip(&a.data).zip(&b.data) {
            let avg = (i32::from(x) + i32::from(y)) / 2;
            assert!((i32::from(m) - avg).abs() <= 1);
        }
        let dip = transition(&a, &b, Transition::DipToBlack, 0.5).unwrap();
        assert!(dip.data.iter().all(|&v| v == 0));
        // Before the middle only a shows, dimmed; after it only b.
        let early = transition(&a, &b, Transition::DipToBlack, 0.25).unwrap();
        for (&e, &x) in early.data.iter().zip(&a.data) {
            assert!((i32::from(e) - i32::from(x) / 2).abs() <= 1);
        }
    }

    #[test]
    fn wipe_and_whip_pan_move_left_to_right() {
        let a = solid(100, 10, [200, 0, 0]);
        let b = solid(100, 10, [0, 0, 200]);
        let wipe = transition(&a, &b, Transition::Wipe, 0.3).unwrap();
        assert_eq!(at(&wipe, 10, 5), [0, 0, 200]);
        assert_eq!(at(&wipe, 29, 5), [0, 0, 200]);
        assert_eq!(at(&wipe, 30, 5), [200, 0, 0]);
        assert_eq!(at(&wipe, 90, 5), [200, 0, 0]);
        // Whip pan: b enters from the right; halfway, the left is a's and the
        // right b's, with a blurred seam between.
        let whip = transition(&a, &b, Transition::WhipPan, 0.5).unwrap();
        assert_eq!(at(&whip, 0, 5), [200, 0, 0]);
        assert_eq!(at(&whip, 99, 5), [0, 0, 200]);
        let seam = at(&whip, 50, 5);
        assert!(seam[0] > 50 && seam[2] > 50, "{seam:?}");
        let early = transition(&a, &b, Transition::WhipPan, 0.2).unwrap();
        let b_cols = (0..100).filter(|&x| at(&early, x, 5)[2] > 100).count();
        assert!(b_cols > 0 && b_cols < 50, "{b_cols}");
        assert!(at(&early, 99, 5)[2] > 100);
    }

    #[test]
    fn transition_rejects_mismatched_sizes() {
        let a = solid(10, 10, [0; 3]);
        let b = solid(12, 10, [0; 3]);
        assert!(matches!(
            transition(&a, &b, Transition::Crossfade, 0.5),
            Err(SceneError::Frame(InterpolateError::SizeMismatch { .. }))
        ));
    }

    #[test]
    fn overlay_composites_alpha() {
        let base = noise_frame(40, 30, 5);
        // Opaque red left half, 50% green right half, 4x4.
        let mut rgba = Vec::new();
        for _ in 0..4 {
            rgba.extend_from_slice(&[
                255, 0, 0, 255, 255, 0, 0, 255, 0, 255, 0, 128, 0, 255, 0, 128,
            ]);
        }
        let img = Image::from_rgba(4, 4, rgba).unwrap();
        assert!(!img.is_opaque());
        let mut f = base.clone();
        overlay(&mut f, &img, 10.0, 10.0, 1.0, 0.0).unwrap();
        assert_eq!(f, base, "opacity 0 changes nothing");
        overlay(&mut f, &img, 10.0, 10.0, 1.0, 1.0).unwrap();
        assert_eq!(at(&f, 10, 10), [255, 0, 0]);
        assert_eq!(at(&f, 11, 12), [255, 0, 0]);
        let under = at(&base, 13, 11);
        let got = at(&f, 13, 11);
        assert!(
            (i32::from(got[1]) - (128 + i32::from(under[1]) * 127 / 255)).abs() <= 1,
            "{got:?} over {under:?}"
        );
        assert!((i32::from(got[0]) - i32::from(under[0]) * 127 / 255).abs() <= 1);
        // Outside the image nothing changed.
        for y in 0..30 {
            for x in 0..40 {
                if !(10..14).contains(&x) || !(10..14).contains(&y) {
                    assert_eq!(at(&f, x, y), at(&base, x, y), "({x}, {y})");
                }
            }
        }
        // Partly off the frame: clipped, no panic.
        overlay(&mut f, &img, -2.0, 28.0, 3.0, 0.5).unwrap();
        overlay(&mut f, &img, 100.0, 100.0, 1.0, 1.0).unwrap();
    }

    #[test]
    fn backdrop_follows_the_palette() {
        let f = backdrop(&[[255, 0, 0], [0, 0, 255]], 400, 200).unwrap();
        let tl = at(&f, 2, 2);
        let br = at(&f, 397, 197);
        assert!(tl[0] > 150 && tl[2] < 60, "{tl:?}");
        assert!(br[2] > 150 && br[0] < 60, "{br:?}");
        assert!(backdrop(&[], 10, 10).is_ok());
        assert!(matches!(backdrop(&[], 0, 10), Err(SceneError::Size { .. })));
    }

    #[test]
    fn product_plate_centres_the_product() {
        let mut rgba = vec![0u8; 20 * 40 * 4];
        for p in rgba.chunks_exact_mut(4) {
            p.copy_from_slice(&[250, 250, 250, 255]);
        }
        let product = Image::from_rgba(20, 40, rgba).unwrap();
        let plate = product_plate(&product, &[[10, 10, 60]], 200, 100, 0.8).unwrap();
        assert!(plate.is_opaque());
        assert_eq!(plate.premultiplied(100, 50).unwrap(), [250, 250, 250, 255]);
        assert!(plate.premultiplied(10, 50).unwrap()[0] < 100);
    }

    #[test]
    fn corrupt_or_missing_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("product.png");
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0x13; 64]);
        std::fs::write(&bad, &bytes).unwrap();
        match Image::load(&bad) {
            Err(e @ SceneError::Decode { .. }) => {
                assert!(e.to_string().contains("product.png"), "{e}")
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let missing = dir.path().join("logo.png");
        match Image::load(&missing) {
            Err(e @ SceneError::Io { .. }) => assert!(e.to_string().contains("logo.png"), "{e}"),
            other => panic!("expected an io error, got {other:?}"),
        }
    }

    #[test]
    fn png_round_trip_keeps_alpha() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let img = image::RgbaImage::from_raw(2, 1, vec![255, 0, 0, 255, 0, 0, 255, 0]).unwrap();
        img.save(&path).unwrap();
        let loaded = Image::load(&path).unwrap();
        assert_eq!((loaded.width(), loaded.height()), (2, 1));
        assert_eq!(loaded.premultiplied(0, 0), Some([255, 0, 0, 255]));
        assert_eq!(loaded.premultiplied(1, 0), Some([0, 0, 0, 0]));
        assert!(!loaded.is_opaque());
    }

    #[test]
    fn shipped_example_assets_load_with_alpha() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/assets");
        for (name, size) in [("product.png", (600, 1000)), ("logo.png", (460, 120))] {
            let img = Image::load(dir.join(name)).unwrap();
            assert_eq!((img.width(), img.height()), size, "{name}");
            assert!(!img.is_opaque(), "{name} should have transparency");
            // Transparent corners, opaque middle of the mark.
            assert_eq!(img.premultiplied(0, 0).unwrap()[3], 0, "{name}");
        }
        let product = Image::load(dir.join("product.png")).unwrap();
        assert_eq!(product.premultiplied(300, 700).unwrap()[3], 255);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let src = coords_image(64, 36);
        assert!(matches!(
            ken_burns(&src, 0, 10, Shot::default(), 0.5),
            Err(SceneError::Size { .. })
        ));
        assert!(matches!(
            ken_burns(&src, 10, 10, Shot::default(), f32::NAN),
            Err(SceneError::Param { name: "t", .. })
        ));
        let mut f = solid(4, 4, [0; 3]);
        assert!(overlay(&mut f, &src, 0.0, 0.0, 1.0, 1.5).is_err());
    }
}
