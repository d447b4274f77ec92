//! One node's frames on one GPU: what stays the same from frame to frame (a
//! still's mip levels, a logo, a title's masks, a LUT's tables) goes up the
//! first time a frame needs it and stays for the node; each frame goes up
//! once (or is drawn there by the camera), passes through the node's
//! kernels in place and comes down once.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream};
use kino_kernels::lut::Rgb8Plan;
use kino_kernels::scene::{CameraGeometry, CameraPlan, OverlayPlan, mip_size};
use kino_kernels::text::{CaptionPlan, TextPlan};

use super::{DeviceRgb, Gpu, GpuError, Tables, Target, TextMasks, driver};
use crate::kernels::TextArgs;
use crate::mips::{self, Buffer, LevelKernels};

/// A host slice borrowed for the node's life, known by its address and
/// length: while the borrow lasts it can be neither freed nor changed, so
/// the same key is the same data.
type Key = (usize, usize);

fn key<T>(data: &[T]) -> Key {
    (data.as_ptr() as usize, data.len())
}

/// A `width × height` frame on one GPU and the node's inputs resident
/// beside it. The inputs are borrowed for `'a`, which is what lets them
/// be uploaded once and found again by address.
pub struct DeviceFrames<'a> {
    gpu: Arc<Gpu>,
    stream: Arc<CudaStream>,
    size: (usize, usize),
    frame: CudaSlice<u8>,
    levels: HashMap<Key, CudaSlice<u32>>,
    luts: HashMap<Key, Tables>,
    texts: HashMap<(Key, Option<Key>), TextMasks>,
    /// The levels of the last picture passing through (a footage frame),
    /// overwritten by the next: the one sampled, or for a picture already
    /// on the GPU its even levels in the first and odd in the second.
    passing: [Option<CudaSlice<u32>>; 2],
    resident_bytes: u64,
    inputs: PhantomData<&'a ()>,
}

impl<'a> DeviceFrames<'a> {
    /// Room for a `width × height` RGB24 frame on `gpu`.
    pub fn new(gpu: Arc<Gpu>, (width, height): (usize, usize)) -> Result<Self, GpuError> {
        let stream = gpu.stream()?;
        let frame = stream
            .alloc_zeros::<u8>(width * height * 3)
            .map_err(driver("allocating the frame"))?;
        Ok(Self {
            gpu,
            stream,
            size: (width, height),
            frame,
            levels: HashMap::new(),
            luts: HashMap::new(),
            texts: HashMap::new(),
            passing: [None, None],
            resident_bytes: (width * height * 3) as u64,
            inputs: PhantomData,
        })
    }

    /// Bytes on the device: the frame and every resident input.
    pub fn resident_bytes(&self) -> u64 {
        self.resident_bytes
    }

    /// Whether a host buffer of `bytes` holds a frame of the node's size.
    fn check_length(&self, bytes: usize) -> Result<(), GpuError> {
        if bytes == self.frame.len() {
            return Ok(());
        }
        let (width, height) = self.size;
        Err(GpuError(format!(
            "{bytes} bytes for a {width}×{height} RGB24 frame"
        )))
    }

    /// Puts a host frame (packed RGB24, the node's size) on the device.
    pub fn upload(&mut self, frame: &[u8]) -> Result<(), GpuError> {
        self.check_length(frame.len())?;
        self.stream
            .memcpy_htod(frame, &mut self.frame)
            .map_err(driver("uploading the frame"))
    }

    /// Draws the frame a camera plan describes over its (resident) level.
    pub fn camera(&mut self, plan: &CameraPlan<'a>) -> Result<(), GpuError> {
        let level = resident(
            &mut self.levels,
            &mut self.resident_bytes,
            &self.stream,
            plan.level,
        )?;
        self.gpu.launch_camera(
            &self.stream,
            &plan.geometry,
            level,
            &mut self.frame,
            self.size,
        )
    }

    /// Draws the frame a camera plan describes over a picture of this frame
    /// alone: its level goes up into the node's one buffer for such
    /// pictures (made larger when one is), not into the resident inputs.
    pub fn camera_over(&mut self, plan: &CameraPlan<'_>) -> Result<(), GpuError> {
        let n = plan.level.len();
        let level = grown(
            &mut self.passing[0],
            n,
            &self.stream,
            &mut self.resident_bytes,
        )?;
        self.stream
            .memcpy_htod(plan.level, &mut level.slice_mut(..n))
            .map_err(driver("uploading a picture's level"))?;
        self.gpu.launch_camera(
            &self.stream,
            &plan.geometry,
            level,
            &mut self.frame,
            self.size,
        )
    }

    /// Draws the frame `geometry` describes over a picture already on this
    /// GPU (a decoded frame made RGB here): the picture becomes an opaque
    /// image's base level and is halved down to the level the camera
    /// samples, in the node's buffers for passing pictures, so nothing
    /// goes up. Nothing of the node reads the picture once this returns.
    pub fn camera_over_device(
        &mut self,
        picture: &DeviceRgb,
        geometry: &CameraGeometry,
    ) -> Result<(), GpuError> {
        let framed = self.frame_picture(picture, geometry);
        // The picture belongs to the stream that made it, which brings it
        // down (a fallback after a failed launch here) and frees it; cudarc
        // keeps one read event a buffer, so a later read there would hide
        // this stream's. Waiting here leaves no read of it in flight.
        let read = self
            .stream
            .synchronize()
            .map_err(driver("finishing the camera"));
        framed.and(read)
    }

    fn frame_picture(
        &mut self,
        picture: &DeviceRgb,
        geometry: &CameraGeometry,
    ) -> Result<(), GpuError> {
        let size = (picture.width(), picture.height());
        let k = geometry.level;
        if mip_size(size.0, size.1, k) != (geometry.level_width, geometry.level_height) {
            return Err(GpuError(format!(
                "a camera sampling a {}×{} level {k} of a {}×{} picture",
                geometry.level_width, geometry.level_height, size.0, size.1
            )));
        }
        let [even_room, odd_room] = mips::room(size);
        let [even, odd] = &mut self.passing;
        let even = grown(even, even_room, &self.stream, &mut self.resident_bytes)?;
        let odd = grown(odd, odd_room, &self.stream, &mut self.resident_bytes)?;
        let mut kernels = Levels {
            gpu: &self.gpu,
            stream: &self.stream,
            picture,
            buffers: [even, odd],
        };
        let made = mips::make(&mut kernels, size, k)?;
        let [even, odd] = kernels.buffers;
        let level = match made {
            Buffer::Even => even,
            Buffer::Odd => odd,
        };
        self.gpu
            .launch_camera(&self.stream, geometry, level, &mut self.frame, self.size)
    }

    /// Grades the frame with a LUT whose tables stay resident.
    pub fn grade(&mut self, plan: &Rgb8Plan<'a>) -> Result<(), GpuError> {
        let k = key(plan.lattice);
        if !self.luts.contains_key(&k) {
            let tables = Tables::upload(&self.stream, plan)?;
            self.resident_bytes += (plan.lattice.len() * 16 + 3 * 256 * 8) as u64;
            self.luts.insert(k, tables);
        }
        let pixels = self.size.0 * self.size.1;
        self.gpu
            .launch_lut(&self.stream, &self.luts[&k], &mut self.frame, pixels)
    }

    /// Composites text (its masks resident) onto the frame in place.
    pub fn text(&mut self, plan: &TextPlan<'a>) -> Result<(), GpuError> {
        self.composite(plan, None, &TextArgs::of(plan))
    }

    /// Composites a dynamic caption as its plan has it (masks and owner
    /// map resident; the words' states go up each time).
    pub fn caption(&mut self, plan: &CaptionPlan<'a>) -> Result<(), GpuError> {
        self.composite(&plan.text, Some(plan.owner), &TextArgs::of_caption(plan))
    }

    fn composite(
        &mut self,
        plan: &TextPlan<'a>,
        owner: Option<&'a [u32]>,
        args: &TextArgs,
    ) -> Result<(), GpuError> {
        let [x0, y0, x1, y1] = args.region;
        if x0 == x1 || y0 == y1 {
            return Ok(());
        }
        let k = (key(plan.fill), owner.map(key));
        if !self.texts.contains_key(&k) {
            let masks = TextMasks::upload(&self.stream, plan, owner)?;
            let bytes = plan.fill.len()
                + plan.outline.map_or(0, <[u8]>::len)
                + owner.map_or(0, |o| o.len() * 4)
                + plan.to_srgb.len()
                + 1024;
            self.resident_bytes += bytes as u64;
            self.texts.insert(k, masks);
        }
        let target = Target::in_frame(&mut self.frame, self.size.0, args.region);
        self.gpu
            .launch_text(&self.stream, plan, args, &self.texts[&k], target)
    }

    /// Composites an image (its level resident) onto the frame in place.
    pub fn overlay(&mut self, plan: &OverlayPlan<'a>) -> Result<(), GpuError> {
        let level = resident(
            &mut self.levels,
            &mut self.resident_bytes,
            &self.stream,
            plan.level,
        )?;
        let target = Target::in_frame(&mut self.frame, self.size.0, plan.region);
        self.gpu.launch_overlay(&self.stream, plan, level, target)
    }

    /// Brings the frame back into `out` (packed RGB24, the node's size) once
    /// every kernel queued on it has finished.
    pub fn download(&mut self, out: &mut [u8]) -> Result<(), GpuError> {
        self.check_length(out.len())?;
        self.stream
            .memcpy_dtoh(&self.frame, out)
            .map_err(driver("downloading the frame"))?;
        self.stream.synchronize().map_err(driver("finishing"))
    }
}

/// A picture's levels made on the node's GPU, in its two buffers.
struct Levels<'n> {
    gpu: &'n Gpu,
    stream: &'n Arc<CudaStream>,
    picture: &'n DeviceRgb,
    buffers: [&'n mut CudaSlice<u32>; 2],
}

impl LevelKernels for Levels<'_> {
    type Error = GpuError;

    fn base(&mut self) -> Result<(), GpuError> {
        self.gpu
            .launch_level_from_rgb8(self.stream, self.picture, self.buffers[0])
    }

    fn half(&mut self, from: Buffer, size: (usize, usize)) -> Result<(), GpuError> {
        let [even, odd] = &mut self.buffers;
        let (src, dst) = match from {
            Buffer::Even => (even, odd),
            Buffer::Odd => (odd, even),
        };
        self.gpu
            .launch_half_level(self.stream, src, size, dst)
            .map(drop)
    }
}

/// The buffer in `slot`, made (or remade larger) to hold `n` pixels; the
/// bytes it adds are counted in `bytes`.
fn grown<'s>(
    slot: &'s mut Option<CudaSlice<u32>>,
    n: usize,
    stream: &Arc<CudaStream>,
    bytes: &mut u64,
) -> Result<&'s mut CudaSlice<u32>, GpuError> {
    if slot.as_ref().is_some_and(|held| held.len() >= n) {
        return Ok(slot.as_mut().expect("held"));
    }
    let previous = slot.take().map_or(0, |held| held.len());
    let made = stream
        .alloc_zeros::<u32>(n)
        .map_err(driver("allocating a picture's level"))?;
    *bytes += ((n - previous) * 4) as u64;
    Ok(slot.insert(made))
}

/// `level` on the device: uploaded the first time, found by address after.
fn resident<'c>(
    cache: &'c mut HashMap<Key, CudaSlice<u32>>,
    bytes: &mut u64,
    stream: &Arc<CudaStream>,
    level: &[u32],
) -> Result<&'c CudaSlice<u32>, GpuError> {
    match cache.entry(key(level)) {
        std::collections::hash_map::Entry::Occupied(held) => Ok(held.into_mut()),
        std::collections::hash_map::Entry::Vacant(slot) => {
            let uploaded = stream
                .clone_htod(level)
                .map_err(driver("uploading an image level"))?;
            *bytes += (level.len() * 4) as u64;
            Ok(slot.insert(uploaded))
        }
    }
}
