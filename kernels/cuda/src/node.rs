//! A render node's frames, each drawn (a camera move over a still, or over
//! a footage frame passing through) or given, then graded and overlaid
//! with the node's title and logo.
//!
//! On a GPU the node holds room for its frame and its inputs for as long as
//! it runs ([`Pool::hold_node`]: a node waits for room that calls and other
//! nodes hold, so concurrent nodes queue for the GPU): the still's and the logo's levels, the title's
//! masks and the LUT's tables go up the first time a frame needs them and
//! stay, and each frame goes up once (or is drawn there) and comes down
//! once, however many layers it gets; a footage frame's picture goes up
//! once and is framed there by the camera. Placed calls one by one
//! ([`crate::placed`]) would upload the still's level and download the
//! frame for every kernel. A GPU error runs that frame, and the rest of the
//! node, on the CPU; either way a frame is what the CPU kernels make of it.

use std::fmt;
use std::sync::Arc;

use kino_kernels::interpolate::Frame;
use kino_kernels::lut::{CubeLut, LutError, Rgb8Plan};
use kino_kernels::scene::{self, CameraGeometry, CameraPlan, Image, OverlayPlan, SceneError, Shot};
use kino_kernels::text::{Placement, RenderedText, TextError, TextPlan};

use crate::picture::{Picture, PictureError};
use crate::pool::{Pool, Ran, Resident};

/// What a node draws over each frame's picture, in this order: the grade
/// (for pictures not graded yet), the title, the logo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<'a> {
    /// The grade.
    pub lut: Option<&'a CubeLut>,
    /// Text and where it goes.
    pub title: Option<(&'a RenderedText, Placement)>,
    /// An image composited over everything.
    pub logo: Option<Logo<'a>>,
}

/// An image placed on the frame, as `scene::overlay` takes it.
#[derive(Debug, Clone, Copy)]
pub struct Logo<'a> {
    /// The image.
    pub image: &'a Image,
    /// Its top-left corner on the frame.
    pub at: (f32, f32),
    /// Frame pixels per image pixel.
    pub scale: f32,
    /// 0..=1.
    pub opacity: f32,
}

/// Why a frame could not be made: bad input, whatever the device.
#[derive(Debug)]
pub enum FrameError {
    /// The camera move or the logo.
    Scene(SceneError),
    /// The title.
    Text(TextError),
    /// The grade.
    Lut(LutError),
    /// A picture on a GPU that could not come down for the CPU.
    Picture(PictureError),
    /// A given frame is not the node's size.
    Size {
        /// The node's frame size.
        expected: (usize, usize),
        /// The frame's.
        got: (usize, usize),
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Scene(e) => write!(f, "{e}"),
            FrameError::Text(e) => write!(f, "{e}"),
            FrameError::Lut(e) => write!(f, "{e}"),
            FrameError::Picture(e) => write!(f, "{e}"),
            FrameError::Size { expected, got } => write!(
                f,
                "a {}×{} frame for a {}×{} node",
                got.0, got.1, expected.0, expected.1
            ),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Scene(e) => Some(e),
            FrameError::Text(e) => Some(e),
            FrameError::Lut(e) => Some(e),
            FrameError::Picture(e) => Some(e),
            FrameError::Size { .. } => None,
        }
    }
}

impl From<SceneError> for FrameError {
    fn from(e: SceneError) -> Self {
        FrameError::Scene(e)
    }
}

impl From<TextError> for FrameError {
    fn from(e: TextError) -> Self {
        FrameError::Text(e)
    }
}

impl From<PictureError> for FrameError {
    fn from(e: PictureError) -> Self {
        FrameError::Picture(e)
    }
}

impl From<LutError> for FrameError {
    fn from(e: LutError) -> Self {
        FrameError::Lut(e)
    }
}

/// A render node's frames of one size, on the device the pool gives it
/// for the whole node.
pub struct NodeFrames<'a> {
    pool: &'a Arc<Pool>,
    layers: Layers<'a>,
    size: (usize, usize),
    /// Room to hold on a GPU: the frame and every input at its largest.
    bytes: u64,
    /// Of which for pictures passing through (a footage frame).
    passing: Passing,
    device: Device<'a>,
}

/// The room a node holds for pictures passing through it, a frame at a
/// time: the pixels of the largest decoded picture, and the two buffers its
/// levels are made in ([`crate::mips::room`], which depends on the shape,
/// not only the pixels).
#[derive(Debug, Default, Clone, Copy)]
struct Passing {
    pixels: usize,
    levels: [usize; 2],
    /// The bytes held for them: the level buffers, and two RGB24 pictures
    /// as the decoder leaves them (the one framed and the next).
    bytes: u64,
}

impl Passing {
    /// Whether a `width × height` picture's levels fit the room.
    fn holds(&self, (width, height): (usize, usize)) -> bool {
        let [even, odd] = crate::mips::room((width, height));
        width * height <= self.pixels && even <= self.levels[0] && odd <= self.levels[1]
    }

    /// Grows the room to hold a `width × height` picture too.
    fn make_room(&mut self, (width, height): (usize, usize)) {
        let [even, odd] = crate::mips::room((width, height));
        self.pixels = self.pixels.max(width * height);
        self.levels = [self.levels[0].max(even), self.levels[1].max(odd)];
        self.bytes = ((self.levels[0] + self.levels[1]) * 4 + 2 * self.pixels * 3) as u64;
    }
}

/// Where the node's frames are made.
enum Device<'a> {
    /// Not asked yet (the first frame asks).
    Unplaced,
    /// A GPU, with the room held and the frames and inputs on it.
    Gpu(Resident, Box<gpu::Frames<'a>>),
    /// The CPU, and why.
    Cpu(String),
}

impl fmt::Debug for NodeFrames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let device = match &self.device {
            Device::Unplaced => "unplaced".to_owned(),
            Device::Gpu(resident, _) => format!("cuda:{}", resident.ordinal()),
            Device::Cpu(why) => format!("cpu ({why})"),
        };
        f.debug_struct("NodeFrames")
            .field("size", &self.size)
            .field("bytes", &self.bytes)
            .field("device", &device)
            .finish_non_exhaustive()
    }
}

/// Where a frame's picture comes from.
enum Source<'a, 'f> {
    /// A camera move over a still borrowed for the node.
    Camera(&'a Image, Shot, f32),
    /// A camera move over a picture of this frame alone.
    Passing(&'f Image, Shot, f32),
    /// A camera move over a picture of this frame alone, on the node's GPU.
    OnDevice(&'f mut Picture, Shot, f32, CameraGeometry),
    /// A picture already made, in `frame`.
    Given(&'f mut Frame),
}

impl<'a> NodeFrames<'a> {
    /// Frames of `width × height` with `layers` over them; `stills` are the
    /// images camera moves will be drawn over (their room is held with the
    /// frame's). No device is asked until the first frame.
    pub fn new(
        pool: &'a Arc<Pool>,
        (width, height): (usize, usize),
        layers: Layers<'a>,
        stills: &[&Image],
    ) -> Self {
        // An image's levels: its pixels and a third more for the mipmap.
        let levels = |img: &Image| (img.width() * img.height() * 4 * 4 / 3) as u64;
        let frame = (width * height * 3) as u64;
        let lut = layers
            .lut
            .map_or(0, |l| (l.size().pow(3) * 16 + 6144) as u64);
        let title = layers.title.map_or(0, |(t, _)| {
            let b = t.bounds;
            (b.width as usize * b.height as usize * 2 + (16 << 10) + 1024) as u64
        });
        let logo = layers.logo.map_or(0, |l| levels(l.image));
        let stills: u64 = stills.iter().map(|s| levels(s)).sum();
        Self {
            pool,
            layers,
            size: (width, height),
            bytes: frame + lut + title + logo + stills,
            passing: Passing::default(),
            device: Device::Unplaced,
        }
    }

    /// Room for pictures of up to `width × height` passing through the node
    /// a frame at a time ([`NodeFrames::camera_over`]: a clip's frames):
    /// on a GPU, the level the camera samples, or for a picture decoded
    /// there the two buffers its levels are made in ([`crate::mips`]),
    /// and two RGB24 pictures as the decoder leaves them (the one framed
    /// and the next).
    pub fn with_passing(mut self, size: (usize, usize)) -> Self {
        let held = self.passing.bytes;
        self.passing.make_room(size);
        self.bytes += self.passing.bytes - held;
        self
    }

    /// Frame `t` of `shot` over `still` (one of the node's stills: its
    /// levels stay on the GPU), with the layers; `graded` says the still
    /// has been graded already (the grade is skipped).
    pub fn camera(
        &mut self,
        still: &'a Image,
        shot: Shot,
        t: f32,
        graded: bool,
    ) -> Result<(Frame, Ran), FrameError> {
        self.drawn(Source::Camera(still, shot, t), graded)
    }

    /// Frame `t` of `shot` over `picture`, a picture of this frame alone (a
    /// footage frame), with the layers; `graded` says the picture has been
    /// graded already. On a GPU, a picture in host memory goes up for this
    /// frame and is not kept; one on the node's GPU is framed there (its
    /// mip levels made there too), and one on another GPU comes down
    /// first. A picture larger than the node's room for one
    /// ([`NodeFrames::with_passing`]) is framed on the CPU.
    pub fn camera_over(
        &mut self,
        picture: &mut Picture,
        shot: Shot,
        t: f32,
        graded: bool,
    ) -> Result<(Frame, Ran), FrameError> {
        if picture.is_on_device() {
            let (width, height) = picture.size();
            let geometry =
                scene::camera_geometry((width, height), shot, t, self.size.0, self.size.1)?;
            self.place();
            if self.frames_on_gpu_of(picture) && self.passing.holds((width, height)) {
                return self.drawn(Source::OnDevice(picture, shot, t, geometry), graded);
            }
        }
        let image = picture.image()?;
        self.drawn(Source::Passing(image, shot, t), graded)
    }

    /// Whether the node's frames are on the GPU `picture` is on.
    fn frames_on_gpu_of(&self, picture: &Picture) -> bool {
        #[cfg(feature = "cuda")]
        if let (Device::Gpu(resident, _), Some(rgb)) = (&self.device, picture.device()) {
            return resident.ordinal() == rgb.ordinal();
        }
        let _ = picture;
        false
    }

    /// Asks the pool for the node's device, the first time.
    fn place(&mut self) {
        if !matches!(self.device, Device::Unplaced) {
            return;
        }
        self.device = match self.pool.hold_node(self.bytes) {
            Some(resident) => match gpu::Frames::open(resident.ordinal(), self.size) {
                Ok(frames) => Device::Gpu(resident, Box::new(frames)),
                Err(why) => Device::Cpu(format!("cuda:{} failed: {why}", resident.ordinal())),
            },
            None => Device::Cpu(self.pool.no_gpu().map_or_else(
                || {
                    format!(
                        "no GPU has {} MiB for the node beside its loaded models",
                        self.bytes >> 20
                    )
                },
                str::to_owned,
            )),
        };
    }

    /// A new frame the camera draws from `source`, with the layers.
    fn drawn(&mut self, source: Source<'a, '_>, graded: bool) -> Result<(Frame, Ran), FrameError> {
        let (width, height) = self.size;
        let mut frame = Frame {
            width,
            height,
            data: vec![0; width * height * 3],
        };
        let ran = self.make(source, &mut frame, graded)?;
        Ok((frame, ran))
    }

    /// `frame` (the node's size) with the layers; `graded` says it has been
    /// graded already.
    pub fn finish(&mut self, frame: &mut Frame, graded: bool) -> Result<Ran, FrameError> {
        frame.validate().map_err(SceneError::from)?;
        if (frame.width, frame.height) != self.size {
            return Err(FrameError::Size {
                expected: self.size,
                got: (frame.width, frame.height),
            });
        }
        let mut out = Frame {
            width: frame.width,
            height: frame.height,
            data: Vec::new(),
        };
        let ran = self.make(Source::Given(frame), &mut out, graded)?;
        if !out.data.is_empty() {
            *frame = out;
        }
        Ok(ran)
    }

    /// Makes the frame into `out` on the node's device (a given frame is
    /// composited in place on the CPU, leaving `out` empty).
    fn make(
        &mut self,
        source: Source<'a, '_>,
        out: &mut Frame,
        graded: bool,
    ) -> Result<Ran, FrameError> {
        let (width, height) = self.size;
        // The plans first: bad input is refused before any device is asked.
        let camera = match &source {
            Source::Camera(still, shot, t) => {
                Some(scene::camera_plan(still, *shot, *t, width, height)?)
            }
            Source::Passing(..) | Source::OnDevice(..) | Source::Given(_) => None,
        };
        let passing = match &source {
            Source::Passing(picture, shot, t) => {
                Some(scene::camera_plan(picture, *shot, *t, width, height)?)
            }
            Source::Camera(..) | Source::OnDevice(..) | Source::Given(_) => None,
        };
        // A picture the node has no room for is framed on the CPU (the
        // node keeps its device for the next).
        let too_large = passing
            .as_ref()
            .map(|p| p.level.len())
            .filter(|&pixels| pixels > self.passing.levels[0]);
        let lut = self.layers.lut.filter(|_| !graded);
        let title = self.layers.title.map(|(text, placement)| {
            let (x, y) = text.position(width, height, placement);
            (text, (x, y), text.draw_plan(width, height, x, y))
        });
        let logo = match self.layers.logo {
            Some(l) => {
                scene::overlay_plan(width, height, l.image, l.at.0, l.at.1, l.scale, l.opacity)?
                    .map(|plan| (l, plan))
            }
            None => None,
        };
        self.place();
        let fallback = match &mut self.device {
            Device::Gpu(resident, frames) if too_large.is_none() => {
                let lut_plan = lut.map(CubeLut::rgb8_plan);
                let plans = Plans {
                    camera: camera.as_ref(),
                    passing: passing.as_ref(),
                    lut: lut_plan.as_ref(),
                    title: title.as_ref().map(|(_, _, plan)| plan),
                    logo: logo.as_ref().map(|(_, plan)| plan),
                };
                let input = match &source {
                    Source::Given(frame) => Input::Given(frame.data.as_slice()),
                    Source::OnDevice(picture, _, _, geometry) => Input::OnDevice(picture, geometry),
                    Source::Camera(..) | Source::Passing(..) => Input::Planned,
                };
                let mut data = vec![0; width * height * 3];
                match self
                    .pool
                    .on_resident(resident, |_| frames.run(input, &plans, &mut data))
                {
                    Ok(((), ran)) => {
                        out.data = data;
                        return Ok(ran);
                    }
                    Err(ran) => Some(ran),
                }
            }
            Device::Gpu(..) | Device::Cpu(_) | Device::Unplaced => None,
        };
        let ran = match fallback {
            Some(ran) => {
                // The rest of the node runs on the CPU; the room goes back.
                let why = ran.fallback.clone().unwrap_or_default();
                self.device = Device::Cpu(format!("an earlier frame's GPU failed: {why}"));
                ran
            }
            None => {
                let why = match (&self.device, too_large) {
                    (Device::Gpu(..), Some(pixels)) => format!(
                        "a picture of {:.1} MiB passing through a node with room for {:.1} MiB",
                        (pixels * 4) as f64 / f64::from(1 << 20),
                        (self.passing.levels[0] * 4) as f64 / f64::from(1 << 20)
                    ),
                    (Device::Cpu(why), _) => why.clone(),
                    _ => String::new(),
                };
                self.pool.on_cpu(why)
            }
        };
        let frame = match source {
            Source::Camera(still, shot, t) => {
                scene::ken_burns_into(still, shot, t, out)?;
                out
            }
            Source::Passing(picture, shot, t) => {
                scene::ken_burns_into(picture, shot, t, out)?;
                out
            }
            Source::OnDevice(picture, shot, t, _) => {
                scene::ken_burns_into(picture.image()?, shot, t, out)?;
                out
            }
            Source::Given(frame) => frame,
        };
        if let Some(lut) = lut {
            lut.apply_rgb8(&mut frame.data)?;
        }
        if let Some((text, (x, y), _)) = title {
            text.draw(frame, x, y)?;
        }
        if let Some((l, _)) = logo {
            scene::overlay(frame, l.image, l.at.0, l.at.1, l.scale, l.opacity)?;
        }
        Ok(ran)
    }
}

/// Where a frame's picture is, for the GPU: planned by the camera (see
/// [`Plans`]), given in host memory, or on the node's GPU.
// Read only where the GPU half is built.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
enum Input<'p> {
    Planned,
    Given(&'p [u8]),
    OnDevice(&'p Picture, &'p CameraGeometry),
}

/// One frame's work, planned on the host, for the GPU.
// Read only where the GPU half is built.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
struct Plans<'p, 'a> {
    camera: Option<&'p CameraPlan<'a>>,
    /// A camera move over a picture of this frame alone.
    passing: Option<&'p CameraPlan<'p>>,
    lut: Option<&'p Rgb8Plan<'a>>,
    title: Option<&'p TextPlan<'a>>,
    logo: Option<&'p OverlayPlan<'a>>,
}

#[cfg(feature = "cuda")]
mod gpu {
    use super::{Input, Plans};
    use crate::gpu::{DeviceFrames, Gpu, GpuError};

    pub(super) struct Frames<'a>(DeviceFrames<'a>);

    impl<'a> Frames<'a> {
        pub fn open(ordinal: usize, size: (usize, usize)) -> Result<Self, GpuError> {
            DeviceFrames::new(Gpu::get(ordinal)?, size).map(Self)
        }

        /// The picture (`given` up, the camera's, or one on this GPU
        /// framed), the layers, and the frame down into `out`.
        pub fn run(
            &mut self,
            input: Input<'_>,
            plans: &Plans<'_, 'a>,
            out: &mut [u8],
        ) -> Result<(), GpuError> {
            let frames = &mut self.0;
            match (input, plans.camera, plans.passing) {
                (Input::Given(data), ..) => frames.upload(data)?,
                (Input::OnDevice(picture, geometry), ..) => {
                    let rgb = picture
                        .device()
                        .ok_or_else(|| GpuError("a picture not on a GPU".to_owned()))?;
                    frames.camera_over_device(rgb, geometry)?;
                }
                (Input::Planned, Some(camera), _) => frames.camera(camera)?,
                (Input::Planned, None, Some(passing)) => frames.camera_over(passing)?,
                (Input::Planned, None, None) => {
                    return Err(GpuError("a frame with no picture".to_owned()));
                }
            }
            if let Some(lut) = plans.lut {
                frames.grade(lut)?;
            }
            if let Some(title) = plans.title {
                frames.text(title)?;
            }
            if let Some(logo) = plans.logo {
                frames.overlay(logo)?;
            }
            frames.download(out)
        }
    }
}

/// A build without CUDA: the pool never holds a GPU for it (detection
/// finds none), and a pool made with one anyway is answered with an error.
#[cfg(not(feature = "cuda"))]
mod gpu {
    use std::marker::PhantomData;

    use super::{Input, Plans};

    pub(super) struct Frames<'a>(std::convert::Infallible, PhantomData<&'a ()>);

    impl<'a> Frames<'a> {
        pub fn open(_: usize, _: (usize, usize)) -> Result<Self, &'static str> {
            Err("this build has no CUDA")
        }

        pub fn run(
            &mut self,
            _: Input<'_>,
            _: &Plans<'_, 'a>,
            _: &mut [u8],
        ) -> Result<(), &'static str> {
            match self.0 {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use kino_kernels::scene::{CameraMove, ShotSize};
    use kino_kernels::text::{Font, TextStyle, layout};

    use super::*;
    use crate::pool::{Choice, Gpu, Placement as Device, RESERVE_BYTES};

    fn image(width: usize, height: usize, seed: u8) -> Image {
        let rgba = (0..width * height * 4)
            .map(|i| {
                if i % 4 == 3 {
                    if seed == 0 { 255 } else { (i / 4 % 256) as u8 }
                } else {
                    ((i * 7 + usize::from(seed) * 31) % 251) as u8
                }
            })
            .collect();
        Image::from_rgba(width, height, rgba).unwrap()
    }

    /// The CPU kernels one call at a time: what `render_scene` did before.
    fn reference(frame: &mut Frame, layers: &Layers<'_>, graded: bool) {
        if !graded {
            layers.lut.unwrap().apply_rgb8(&mut frame.data).unwrap();
        }
        let (title, placement) = layers.title.unwrap();
        title.draw_placed(frame, placement).unwrap();
        let l = layers.logo.unwrap();
        scene::overlay(frame, l.image, l.at.0, l.at.1, l.scale, l.opacity).unwrap();
    }

    #[test]
    fn passing_room_is_held_for_a_pictures_shape_not_only_its_pixels() {
        let mut room = Passing::default();
        room.make_room((3, 2));
        assert!(room.holds((3, 2)) && room.holds((2, 3)) && room.holds((1, 1)));
        // As many pixels, but its first level (3×1) is larger than 3×2's
        // (2×1): the odd buffer would be short.
        assert!(!room.holds((6, 1)));
        let held = room.bytes;
        room.make_room((6, 1));
        assert!(room.holds((6, 1)) && room.holds((3, 2)));
        assert_eq!(room.levels, [6, 3]);
        assert_eq!(room.bytes, held + 4);
        // A smaller picture changes nothing.
        room.make_room((2, 2));
        assert_eq!(room.bytes, held + 4);
    }

    #[test]
    fn frames_are_the_cpu_kernels_one_after_another_and_the_room_goes_back() {
        let gpu = Gpu {
            ordinal: 7,
            free_memory: RESERVE_BYTES + (256 << 20),
        };
        let pool = Arc::new(Pool::new(&[gpu], Choice::Auto, None).unwrap());
        let (still, logo) = (image(200, 120, 0), image(40, 20, 9));
        let lut = CubeLut::from_fn(9, |[r, g, b]| [g, b * 0.8, r]).unwrap();
        let font = Font::system_bold().unwrap();
        let title = layout(&font, "Kino", &TextStyle::new(20.0))
            .unwrap()
            .render();
        let layers = Layers {
            lut: Some(&lut),
            title: Some((&title, Placement::Bottom { margin_px: 8.0 })),
            logo: Some(Logo {
                image: &logo,
                at: (110.0, 6.0),
                scale: 0.9,
                opacity: 0.8,
            }),
        };
        let shot = Shot::new(CameraMove::PushIn, ShotSize::Medium);
        let mut node = NodeFrames::new(&pool, (160, 90), layers, &[&still]);
        for (i, t) in [0.0, 0.4, 1.0].into_iter().enumerate() {
            let (frame, ran) = node.camera(&still, shot, t, i == 1).unwrap();
            let mut expected = Frame {
                width: 160,
                height: 90,
                data: vec![0; 160 * 90 * 3],
            };
            scene::ken_burns_into(&still, shot, t, &mut expected).unwrap();
            reference(&mut expected, &layers, i == 1);
            assert_eq!(frame, expected, "camera frame at t = {t}");
            // This build has no CUDA, or the host no cuda:7: the node asked
            // once, and runs on the CPU saying why.
            assert_eq!(ran.placement, Device::Cpu);
            assert!(ran.cpu_because.unwrap().starts_with("cuda:7 failed"));
        }
        assert_eq!(pool.resident(), [(7, 0)], "no room is kept for a CPU node");
        let mut given = Frame {
            width: 160,
            height: 90,
            data: (0..160 * 90 * 3).map(|i| (i % 253) as u8).collect(),
        };
        let mut expected = given.clone();
        node.finish(&mut given, false).unwrap();
        reference(&mut expected, &layers, false);
        assert_eq!(given, expected, "a given frame graded and overlaid");
        assert_eq!(pool.stats().cpu_calls, 4);
        assert_eq!(pool.stats().fallbacks, 0);
    }

    #[test]
    fn a_frame_of_another_size_is_refused_before_any_device_is_asked() {
        let pool = Arc::new(Pool::new(&[], Choice::Auto, Some("no libcuda".into())).unwrap());
        let mut node = NodeFrames::new(&pool, (64, 36), Layers::default(), &[]);
        let mut wrong = Frame {
            width: 32,
            height: 18,
            data: vec![0; 32 * 18 * 3],
        };
        let refused = node.finish(&mut wrong, false).unwrap_err();
        assert_eq!(refused.to_string(), "a 32×18 frame for a 64×36 node");
        let mut torn = Frame {
            width: 64,
            height: 36,
            data: vec![0; 100],
        };
        assert!(matches!(
            node.finish(&mut torn, false),
            Err(FrameError::Scene(_))
        ));
        assert_eq!(pool.stats(), Default::default(), "nothing ran");
        let mut fine = Frame {
            width: 64,
            height: 36,
            data: vec![5; 64 * 36 * 3],
        };
        let ran = node.finish(&mut fine, true).unwrap();
        assert_eq!(ran.cpu_because.as_deref(), Some("no libcuda"));
        assert_eq!(fine.data, vec![5; 64 * 36 * 3], "no layers: unchanged");
    }
}
