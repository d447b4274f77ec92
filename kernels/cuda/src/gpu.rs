//! The kernels on a CUDA GPU, through cudarc: the module compiled once per
//! process by NVRTC for the device's architecture, loaded once per device.
//!
//! Each call uploads its input once, runs its kernels back to back on the
//! device and downloads the result once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, CudaView, CudaViewMut, DeviceRepr,
    LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{CompileOptions, Ptx};
use kino_kernels::lut::Rgb8Plan;
use kino_kernels::scene::{CameraGeometry, CameraPlan, OverlayPlan};
use kino_kernels::text::{CaptionPlan, TextPlan};
use kino_kernels::yuv::{Chroma, Yuv420Planes, Yuv420View, plane_extent};

use crate::kernels::{self, Launch};

mod decoded;
mod interpolate;
mod lut_run;
mod node;
mod picture;
mod to_sdr;

pub use decoded::DecodedPicture;
pub use interpolate::DeviceFlow;
pub use lut_run::LutRun;
pub use node::DeviceFrames;
pub use picture::DeviceRgb;
pub use to_sdr::ToneMapTables;

/// Why a GPU call failed: the caller falls back to the CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuError(pub String);

impl std::fmt::Display for GpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GpuError {}

fn driver(what: &str) -> impl FnOnce(cudarc::driver::DriverError) -> GpuError + '_ {
    move |e| GpuError(format!("{what}: {e}"))
}

/// Compiles every kernel (`kernels::program`) to PTX for `arch` (e.g.
/// `compute_90`). Needs only NVRTC (`libnvrtc`), not a GPU.
pub fn compile(arch: &str) -> Result<Ptx, GpuError> {
    // SAFETY: only tries to dlopen the NVRTC library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(GpuError(
            "no NVRTC library (libnvrtc.so.12) on the library path: install the CUDA toolkit, or `make nvrtc` and add .kino/nvrtc/lib to LD_LIBRARY_PATH".to_owned(),
        ));
    }
    let mut options: Vec<String> = kernels::NVRTC_OPTIONS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    options.push(format!("--gpu-architecture={arch}"));
    cudarc::nvrtc::compile_ptx_with_opts(
        kernels::program(),
        CompileOptions {
            options,
            name: Some("kino.cu".to_owned()),
            ..Default::default()
        },
    )
    .map_err(|e| {
        GpuError(format!(
            "NVRTC could not compile Kino's kernels for {arch}: {e}"
        ))
    })
}

/// One GPU with Kino's kernels loaded.
#[derive(Debug)]
pub struct Gpu {
    ordinal: usize,
    context: Arc<CudaContext>,
    lut_rgb8: CudaFunction,
    to_sdr_rgb8: CudaFunction,
    rgb_to_yuv420: CudaFunction,
    yuv420_to_rgb: CudaFunction,
    camera_rgb8: CudaFunction,
    level_from_rgb8: CudaFunction,
    half_level: CudaFunction,
    overlay_rgb8: CudaFunction,
    warp_rgb8: CudaFunction,
    text_rgb8: CudaFunction,
    flow: FlowFunctions,
    /// Keeps the context's stream count above zero (see `open`).
    _idle: Arc<CudaStream>,
}

/// The flow estimate's kernels (`cu/flow.cu`).
#[derive(Debug)]
struct FlowFunctions {
    half_luma: CudaFunction,
    down: CudaFunction,
    cells: CudaFunction,
    median3: CudaFunction,
    histogram: CudaFunction,
    residual_rows: CudaFunction,
    warp_taps: CudaFunction,
}

impl Gpu {
    /// The GPU with this ordinal, opened (and its module compiled) on first
    /// use and kept for the life of the process.
    pub fn get(ordinal: usize) -> Result<Arc<Gpu>, GpuError> {
        static OPEN: OnceLock<Mutex<HashMap<usize, Arc<Gpu>>>> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(gpu) = open.get(&ordinal) {
            return Ok(gpu.clone());
        }
        let gpu = Arc::new(Self::open(ordinal)?);
        open.insert(ordinal, gpu.clone());
        Ok(gpu)
    }

    fn open(ordinal: usize) -> Result<Self, GpuError> {
        // SAFETY: only tries to dlopen the driver library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(GpuError(
                "no CUDA driver library (libcuda) on this machine".to_owned(),
            ));
        }
        let context =
            crate::driver::primary_context(ordinal).map_err(driver("opening the device"))?;
        // A stream held for the Gpu's life: cudarc synchronises the whole
        // context whenever a new stream takes the count of streams from
        // none to one, which with the per-call streams below would wait,
        // call after call, for every NVDEC and NVENC job sharing the
        // context.
        let idle = context.new_stream().map_err(driver("creating a stream"))?;
        let (major, minor) = context
            .compute_capability()
            .map_err(driver("reading the compute capability"))?;
        let arch = format!("compute_{major}{minor}");
        let compiling = Instant::now();
        let ptx = compile(&arch)?;
        let compiled = compiling.elapsed();
        let module = context
            .load_module(ptx)
            .map_err(driver("loading the kernels"))?;
        tracing::info!(
            "cuda:{ordinal}: Kino's kernels for {arch} compiled by NVRTC in {:.0} ms, loaded in {:.0} ms",
            compiled.as_secs_f64() * 1e3,
            (compiling.elapsed() - compiled).as_secs_f64() * 1e3
        );
        let function = |name: &str| {
            module
                .load_function(name)
                .map_err(|e| GpuError(format!("the module lacks {name}: {e}")))
        };
        Ok(Self {
            ordinal,
            lut_rgb8: function("kino_lut_rgb8")?,
            to_sdr_rgb8: function("kino_to_sdr_rgb8")?,
            rgb_to_yuv420: function("kino_rgb_to_yuv420")?,
            yuv420_to_rgb: function("kino_yuv420_to_rgb")?,
            camera_rgb8: function("kino_camera_rgb8")?,
            level_from_rgb8: function("kino_level_from_rgb8")?,
            half_level: function("kino_half_level")?,
            overlay_rgb8: function("kino_overlay_rgb8")?,
            warp_rgb8: function("kino_warp_rgb8")?,
            text_rgb8: function("kino_text_rgb8")?,
            flow: FlowFunctions {
                half_luma: function("kino_half_luma")?,
                down: function("kino_down")?,
                cells: function("kino_flow_cells")?,
                median3: function("kino_median3")?,
                histogram: function("kino_luma_histogram")?,
                residual_rows: function("kino_residual_rows")?,
                warp_taps: function("kino_warp_taps")?,
            },
            context,
            _idle: idle,
        })
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    fn stream(&self) -> Result<Arc<CudaStream>, GpuError> {
        self.context
            .new_stream()
            .map_err(driver("creating a stream"))
    }

    /// Applies a LUT to a packed RGB24 frame, as `CubeLut::apply_rgb8`
    /// does on the CPU, into a new frame.
    pub fn lut_rgb8(&self, plan: &Rgb8Plan<'_>, frame: &[u8]) -> Result<Vec<u8>, GpuError> {
        let stream = self.stream()?;
        let mut device = upload(&stream, frame)?;
        self.grade_on_device(&stream, plan, &mut device, frame.len() / 3)?;
        let graded = stream
            .clone_dtoh(&device)
            .map_err(driver("downloading the frame"))?;
        stream.synchronize().map_err(driver("finishing"))?;
        Ok(graded)
    }

    /// [`Gpu::lut_rgb8`] with each phase waited for and timed (upload of
    /// the frame and tables, the kernel, download), for benchmarks.
    pub fn lut_rgb8_timed(
        &self,
        plan: &Rgb8Plan<'_>,
        frame: &[u8],
    ) -> Result<(Vec<u8>, Phases), GpuError> {
        let stream = self.stream()?;
        let sync = |stream: &Arc<CudaStream>| stream.synchronize().map_err(driver("finishing"));
        let start = Instant::now();
        let mut device = upload(&stream, frame)?;
        let tables = Tables::upload(&stream, plan)?;
        sync(&stream)?;
        let uploaded = Instant::now();
        self.launch_lut(&stream, &tables, &mut device, frame.len() / 3)?;
        sync(&stream)?;
        let ran = Instant::now();
        let graded = stream
            .clone_dtoh(&device)
            .map_err(driver("downloading the frame"))?;
        sync(&stream)?;
        let phases = Phases {
            upload: uploaded - start,
            kernels: ran - uploaded,
            download: ran.elapsed(),
        };
        Ok((graded, phases))
    }

    /// Converts a `width × height` packed RGB24 picture to YUV 4:2:0, as
    /// `kino_kernels::yuv::rgb24_to_yuv420p` does on the CPU.
    pub fn rgb_to_yuv420(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        planes: Yuv420Planes<'_>,
    ) -> Result<(), GpuError> {
        let stream = self.stream()?;
        let device = upload(&stream, &rgb[..width * height * 3])?;
        self.yuv_on_device(&stream, &device, width, height, planes)
    }

    /// Converts a `width × height` YUV 4:2:0 picture (planar, or NV12) to
    /// packed RGB24, as `kino_kernels::yuv::yuv420_to_rgb24` does on the
    /// CPU: the planes up as they are (strides kept), one kernel, the
    /// frame down.
    pub fn yuv420_to_rgb(
        &self,
        yuv: Yuv420View<'_>,
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, GpuError> {
        let stream = self.stream()?;
        let n = |x: usize| u32::try_from(x).map_err(|_| GpuError("picture too large".to_owned()));
        let planes =
            DevicePlanes::upload(&stream, (yuv.y, yuv.y_stride), yuv.chroma, width, height)?;
        let mut rgb = stream
            .alloc_zeros::<u8>((width * height * 3).max(1))
            .map_err(driver("allocating the frame"))?;
        let (w32, h32) = (n(width)?, n(height)?);
        let [r_cr, g_cb, g_cr, b_cb] = yuv.matrix.to_rgb();
        let mut launch = stream.launch_builder(&self.yuv420_to_rgb);
        let v = planes.v();
        launch
            .arg(&planes.y)
            .arg(&planes.strides[0])
            .arg(&planes.u)
            .arg(&planes.strides[1])
            .arg(&v)
            .arg(&planes.strides[2])
            .arg(&planes.step)
            .arg(&r_cr)
            .arg(&g_cb)
            .arg(&g_cr)
            .arg(&b_cb)
            .arg(&mut rgb)
            .arg(&w32)
            .arg(&h32);
        // SAFETY: the arguments match the kernel's parameters in order and
        // type; every plane was uploaded through its last row's samples, and
        // the kernel writes only the `width × height` pixels of `rgb`.
        unsafe { launch.launch(config(kernels::yuv420_blocks(width, height))) }
            .map_err(driver("running kino_yuv420_to_rgb"))?;
        let mut frame = stream
            .clone_dtoh(&rgb)
            .map_err(driver("downloading the frame"))?;
        stream.synchronize().map_err(driver("finishing"))?;
        frame.truncate(width * height * 3);
        Ok(frame)
    }

    /// Draws a `width × height` frame of a camera move, as
    /// `kino_kernels::scene::ken_burns_into` does on the CPU.
    pub fn camera_rgb8(
        &self,
        plan: &CameraPlan<'_>,
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, GpuError> {
        let stream = self.stream()?;
        let level = stream
            .clone_htod(plan.level)
            .map_err(driver("uploading the still"))?;
        let mut out = stream
            .alloc_zeros::<u8>(width * height * 3)
            .map_err(driver("allocating the frame"))?;
        self.launch_camera(&stream, &plan.geometry, &level, &mut out, (width, height))?;
        let frame = stream
            .clone_dtoh(&out)
            .map_err(driver("downloading the frame"))?;
        stream.synchronize().map_err(driver("finishing"))?;
        Ok(frame)
    }

    /// Runs `kino_camera_rgb8` into `out` (`width × height` pixels) from a
    /// level already on the device.
    fn launch_camera(
        &self,
        stream: &Arc<CudaStream>,
        plan: &CameraGeometry,
        level: &CudaSlice<u32>,
        out: &mut CudaSlice<u8>,
        (width, height): (usize, usize),
    ) -> Result<(), GpuError> {
        if level.len() < plan.level_width * plan.level_height
            || plan.rows.len() < height
            || out.len() < width * height * 3
        {
            return Err(GpuError(
                "the camera plan does not fit its buffers".to_owned(),
            ));
        }
        let rows = stream
            .clone_htod(plan.rows.as_flattened())
            .map_err(driver("uploading the camera's rows"))?;
        let (lw, lh, w, h) = (
            size32(plan.level_width)?,
            size32(plan.level_height)?,
            size32(width)?,
            size32(height)?,
        );
        let rows_first = u32::from(plan.rows_first);
        let mut launch = stream.launch_builder(&self.camera_rgb8);
        launch
            .arg(level)
            .arg(&lw)
            .arg(&lh)
            .arg(&rows)
            .arg(&plan.du)
            .arg(&plan.dv)
            .arg(&rows_first)
            .arg(out)
            .arg(&w)
            .arg(&h);
        // SAFETY: the arguments match the kernel's parameters; it reads a
        // row start for each of `height` rows, level pixels clamped inside
        // the level (both checked above), and writes `width × height`
        // pixels of `out`, which holds them.
        unsafe { launch.launch(config(kernels::camera_rgb8(width, height))) }
            .map(drop)
            .map_err(driver("running kino_camera_rgb8"))
    }

    /// Composites an image onto a packed RGB24 frame `frame_width` pixels
    /// wide, as `kino_kernels::scene::overlay` does on the CPU. Only the
    /// plan's region goes up and comes back; the frame is written only
    /// once the GPU has finished.
    pub fn overlay_rgb8(
        &self,
        plan: &OverlayPlan<'_>,
        frame: &mut [u8],
        frame_width: usize,
    ) -> Result<(), GpuError> {
        self.on_region(frame, frame_width, plan.region, |stream, target| {
            let level = stream
                .clone_htod(plan.level)
                .map_err(driver("uploading the image"))?;
            self.launch_overlay(stream, plan, &level, target)
        })
    }

    /// Runs `launch` on a tight copy of the region `[x0, y0, x1, y1)` of a
    /// packed RGB24 frame `frame_width` pixels wide, and writes the region
    /// back once the GPU has finished (so a failure leaves the frame as it
    /// was).
    fn on_region(
        &self,
        frame: &mut [u8],
        frame_width: usize,
        region: [usize; 4],
        launch: impl FnOnce(&Arc<CudaStream>, Target<'_>) -> Result<(), GpuError>,
    ) -> Result<(), GpuError> {
        let stream = self.stream()?;
        let mut device = upload(&stream, &cut_region(frame, frame_width, region))?;
        launch(&stream, Target::tight(&mut device, region[2] - region[0]))?;
        let composited = stream
            .clone_dtoh(&device)
            .map_err(driver("downloading the region"))?;
        stream.synchronize().map_err(driver("finishing"))?;
        paste_region(frame, frame_width, region, &composited);
        Ok(())
    }

    /// Runs `kino_overlay_rgb8` over the plan's region of `target`, from a
    /// level already on the device.
    fn launch_overlay(
        &self,
        stream: &Arc<CudaStream>,
        plan: &OverlayPlan<'_>,
        level: &CudaSlice<u32>,
        mut target: Target<'_>,
    ) -> Result<(), GpuError> {
        if level.len() < plan.level_width * plan.level_height {
            return Err(GpuError("the overlay's level is short".to_owned()));
        }
        let [x0, y0, x1, y1] = plan.region;
        target.check(plan.region)?;
        let (stride, lw, lh) = (
            size32(target.stride)?,
            size32(plan.level_width)?,
            size32(plan.level_height)?,
        );
        let [rx0, ry0, rx1, ry1] = [size32(x0)?, size32(y0)?, size32(x1)?, size32(y1)?];
        let mut launch = stream.launch_builder(&self.overlay_rgb8);
        launch
            .arg(&mut target.at)
            .arg(&stride)
            .arg(level)
            .arg(&lw)
            .arg(&lh)
            .arg(&plan.x)
            .arg(&plan.y)
            .arg(&plan.step)
            .arg(&plan.opacity)
            .arg(&rx0)
            .arg(&ry0)
            .arg(&rx1)
            .arg(&ry1);
        // SAFETY: the arguments match the kernel's parameters; it writes
        // the region's pixels, which `target` holds (checked) at its
        // stride, and reads the level only inside its bounds.
        unsafe { launch.launch(config(kernels::overlay_rgb8(plan.region))) }
            .map(drop)
            .map_err(driver("running kino_overlay_rgb8"))
    }

    /// Composites rasterised text onto a packed RGB24 frame `frame_width`
    /// pixels wide, as `RenderedText::draw` does on the CPU. Only the
    /// plan's region goes up and comes back; the frame is written only once
    /// the GPU has finished.
    pub fn text_rgb8(
        &self,
        plan: &TextPlan<'_>,
        frame: &mut [u8],
        frame_width: usize,
    ) -> Result<(), GpuError> {
        self.composite_text(plan, None, &kernels::TextArgs::of(plan), frame, frame_width)
    }

    /// Composites a dynamic caption at one time onto a packed RGB24 frame
    /// `frame_width` pixels wide, as `DynamicCaption::draw` does on the CPU;
    /// as [`Gpu::text_rgb8`], with the word owning each pixel going up too.
    pub fn caption_rgb8(
        &self,
        plan: &CaptionPlan<'_>,
        frame: &mut [u8],
        frame_width: usize,
    ) -> Result<(), GpuError> {
        let args = kernels::TextArgs::of_caption(plan);
        self.composite_text(&plan.text, Some(plan.owner), &args, frame, frame_width)
    }

    fn composite_text(
        &self,
        plan: &TextPlan<'_>,
        owner: Option<&[u32]>,
        args: &kernels::TextArgs,
        frame: &mut [u8],
        frame_width: usize,
    ) -> Result<(), GpuError> {
        let [x0, y0, x1, y1] = args.region;
        if x0 == x1 || y0 == y1 {
            return Ok(());
        }
        self.on_region(frame, frame_width, args.region, |stream, target| {
            let masks = TextMasks::upload(stream, plan, owner)?;
            self.launch_text(stream, plan, args, &masks, target)
        })
    }

    /// Runs `kino_text_rgb8` over the plan's region of `target`, with the
    /// masks already on the device.
    fn launch_text(
        &self,
        stream: &Arc<CudaStream>,
        plan: &TextPlan<'_>,
        args: &kernels::TextArgs,
        masks: &TextMasks,
        mut target: Target<'_>,
    ) -> Result<(), GpuError> {
        let [x0, y0, x1, y1] = args.region;
        target.check(args.region)?;
        let up = |e| GpuError(format!("uploading the text's colours: {e}"));
        let states = stream.clone_htod(&args.states).map_err(up)?;
        let colours = stream.clone_htod(&args.colours).map_err(up)?;
        let state_count = size32(args.states.len() / 8)?;
        let (stride, mask_width) = (size32(target.stride)?, size32(plan.mask_width)?);
        let [rx0, ry0, rx1, ry1] = [size32(x0)?, size32(y0)?, size32(x1)?, size32(y1)?];
        let has_outline = u32::from(args.has_outline);
        let [bx0, by0, bx1, by1] = args.text_box;
        // No outline mask or owner map goes as a null pointer: eight zero
        // bytes.
        let null = 0u64;
        let mut launch = stream.launch_builder(&self.text_rgb8);
        launch
            .arg(&mut target.at)
            .arg(&stride)
            .arg(&rx0)
            .arg(&ry0)
            .arg(&rx1)
            .arg(&ry1)
            .arg(&plan.origin.0)
            .arg(&plan.origin.1)
            .arg(&mask_width)
            .arg(&masks.fill);
        match &masks.outline {
            Some(mask) => launch.arg(mask),
            None => launch.arg(&null),
        };
        match &masks.owner {
            Some(map) => launch.arg(map),
            None => launch.arg(&null),
        };
        launch
            .arg(&states)
            .arg(&state_count)
            .arg(&colours)
            .arg(&has_outline)
            .arg(&bx0)
            .arg(&by0)
            .arg(&bx1)
            .arg(&by1)
            .arg(&masks.to_linear)
            .arg(&masks.to_srgb);
        // SAFETY: the arguments match the kernel's parameters; it writes the
        // region's pixels, which `target` holds (checked) at its stride, and
        // reads the masks and owner map at the region's pixels, which they
        // cover (the region is their placement clipped to the frame);
        // `states` holds `state_count` ≥ 1 whole states and an owner past
        // them reads the last.
        unsafe { launch.launch(config(kernels::text_rgb8(args.region))) }
            .map(drop)
            .map_err(driver("running kino_text_rgb8"))
    }

    /// Grades a picture with a LUT and converts it to YUV 4:2:0: one upload,
    /// both kernels on the device, one download of the planes.
    pub fn grade_to_yuv420(
        &self,
        plan: &Rgb8Plan<'_>,
        rgb: &[u8],
        width: usize,
        height: usize,
        planes: Yuv420Planes<'_>,
    ) -> Result<(), GpuError> {
        let stream = self.stream()?;
        let mut device = upload(&stream, &rgb[..width * height * 3])?;
        self.grade_on_device(&stream, plan, &mut device, width * height)?;
        self.yuv_on_device(&stream, &device, width, height, planes)
    }

    /// Uploads the LUT's tables and runs `kino_lut_rgb8` over `frame`.
    fn grade_on_device(
        &self,
        stream: &Arc<CudaStream>,
        plan: &Rgb8Plan<'_>,
        frame: &mut CudaSlice<u8>,
        pixels: usize,
    ) -> Result<(), GpuError> {
        let tables = Tables::upload(stream, plan)?;
        self.launch_lut(stream, &tables, frame, pixels)
    }

    /// Runs `kino_lut_rgb8` over `frame` with tables already on the device.
    fn launch_lut(
        &self,
        stream: &Arc<CudaStream>,
        tables: &Tables,
        frame: &mut CudaSlice<u8>,
        pixels: usize,
    ) -> Result<(), GpuError> {
        let pixels32 = u32::try_from(pixels).map_err(|_| GpuError("frame too large".to_owned()))?;
        let mut launch = stream.launch_builder(&self.lut_rgb8);
        launch
            .arg(frame)
            .arg(&pixels32)
            .arg(&tables.offsets)
            .arg(&tables.fracs)
            .arg(&tables.lattice)
            .arg(&tables.size);
        // SAFETY: the arguments match the kernel's parameters in order and
        // type; it writes only the first `pixels` pixels of `frame`, and the
        // plan's offsets keep every lattice read inside size³ points.
        unsafe { launch.launch(config(kernels::lut_rgb8(pixels))) }
            .map(drop)
            .map_err(driver("running kino_lut_rgb8"))
    }

    fn yuv_on_device(
        &self,
        stream: &Arc<CudaStream>,
        rgb: &CudaSlice<u8>,
        width: usize,
        height: usize,
        planes: Yuv420Planes<'_>,
    ) -> Result<(), GpuError> {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let alloc = |n: usize| {
            stream
                .alloc_zeros::<u8>(n)
                .map_err(driver("allocating a plane"))
        };
        let (mut y, mut u, mut v) = (alloc(width * height)?, alloc(cw * ch)?, alloc(cw * ch)?);
        let n = |x: usize| u32::try_from(x).map_err(|_| GpuError("picture too large".to_owned()));
        let (w32, h32, cw32) = (n(width)?, n(height)?, n(cw)?);
        let mut launch = stream.launch_builder(&self.rgb_to_yuv420);
        launch
            .arg(rgb)
            .arg(&w32)
            .arg(&h32)
            .arg(&mut y)
            .arg(&w32)
            .arg(&mut u)
            .arg(&cw32)
            .arg(&mut v)
            .arg(&cw32);
        // SAFETY: the arguments match the kernel's parameters; the planes
        // are tight (stride = width) and sized for the picture.
        unsafe { launch.launch(config(kernels::yuv420_blocks(width, height))) }
            .map_err(driver("running kino_rgb_to_yuv420"))?;
        let download = |plane: &CudaSlice<u8>| {
            stream
                .clone_dtoh(plane)
                .map_err(driver("downloading a plane"))
        };
        let (ys, us, vs) = (download(&y)?, download(&u)?, download(&v)?);
        stream.synchronize().map_err(driver("finishing"))?;
        copy_rows(&ys, width, planes.y, planes.y_stride);
        copy_rows(&us, cw, planes.u, planes.u_stride);
        copy_rows(&vs, cw, planes.v, planes.v_stride);
        Ok(())
    }
}

fn size32(x: usize) -> Result<u32, GpuError> {
    u32::try_from(x).map_err(|_| GpuError(format!("{x} is too large for a kernel argument")))
}

/// Copies host bytes to a new device buffer.
fn upload(stream: &Arc<CudaStream>, bytes: &[u8]) -> Result<CudaSlice<u8>, GpuError> {
    stream
        .clone_htod(bytes)
        .map_err(driver("uploading the picture"))
}

/// A YUV 4:2:0 picture's planes on the device, each up to the end of its
/// last row's samples (no further: a decoder may end a plane there), with
/// their strides and chroma step as the kernels take them.
struct DevicePlanes<T> {
    y: CudaSlice<T>,
    /// U, or the interleaved chroma plane.
    u: CudaSlice<T>,
    /// V, unless it is `u`'s from its second sample.
    v: Option<CudaSlice<T>>,
    /// Samples from row to row: Y, U, V.
    strides: [u32; 3],
    /// Samples from one U (or V) to the next: 1 planar, 2 interleaved.
    step: u32,
}

impl<T: DeviceRepr + Copy> DevicePlanes<T> {
    /// Uploads a `width × height` picture's planes: interleaved chroma
    /// (NV12, P010) goes up once.
    fn upload(
        stream: &Arc<CudaStream>,
        (y, y_stride): (&[T], usize),
        chroma: Chroma<'_, T>,
        width: usize,
        height: usize,
    ) -> Result<Self, GpuError> {
        let n = |x: usize| u32::try_from(x).map_err(|_| GpuError("picture too large".to_owned()));
        let up = |plane: &[T], stride: usize, rows: usize, row: usize| {
            if rows > 1 && stride < row {
                return Err(GpuError(format!(
                    "a YUV plane's rows ({stride} samples apart) are shorter than a \
                     {width}×{height} picture's"
                )));
            }
            let samples = plane
                .get(..plane_extent(stride, rows, row).max(1))
                .ok_or_else(|| GpuError(format!("a YUV plane is smaller than {width}×{height}")))?;
            stream
                .clone_htod(samples)
                .map_err(driver("uploading the picture"))
        };
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let y_plane = up(y, y_stride, height, width)?;
        Ok(match chroma {
            Chroma::Planar {
                u,
                u_stride,
                v,
                v_stride,
            } => Self {
                y: y_plane,
                u: up(u, u_stride, ch, cw)?,
                v: Some(up(v, v_stride, ch, cw)?),
                strides: [n(y_stride)?, n(u_stride)?, n(v_stride)?],
                step: 1,
            },
            Chroma::Interleaved { uv, stride } => Self {
                y: y_plane,
                u: up(uv, stride, ch, 2 * cw)?,
                v: None,
                strides: [n(y_stride)?, n(stride)?, n(stride)?],
                step: 2,
            },
        })
    }

    /// V's plane as the kernels read it.
    fn v(&self) -> CudaView<'_, T> {
        match &self.v {
            Some(v) => v.slice(..),
            None => self.u.slice(1..),
        }
    }
}

/// Where a timed call's time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    /// Host to device.
    pub upload: Duration,
    /// The kernels.
    pub kernels: Duration,
    /// Device to host.
    pub download: Duration,
}

/// A LUT's tables and lattice on the device.
struct Tables {
    offsets: CudaSlice<u32>,
    fracs: CudaSlice<f32>,
    lattice: CudaSlice<f32>,
    size: u32,
}

impl Tables {
    fn upload(stream: &Arc<CudaStream>, plan: &Rgb8Plan<'_>) -> Result<Self, GpuError> {
        let up = |e| GpuError(format!("uploading the LUT: {e}"));
        Ok(Self {
            offsets: stream.clone_htod(plan.offsets.as_flattened()).map_err(up)?,
            fracs: stream.clone_htod(plan.fracs.as_flattened()).map_err(up)?,
            lattice: stream.clone_htod(plan.lattice.as_flattened()).map_err(up)?,
            size: plan.size as u32,
        })
    }
}

fn config(launch: Launch) -> LaunchConfig {
    let [gx, gy, gz] = launch.grid;
    let [bx, by, bz] = launch.block;
    LaunchConfig {
        grid_dim: (gx, gy, gz),
        block_dim: (bx, by, bz),
        shared_mem_bytes: 0,
    }
}

/// Where a region kernel writes: the pixel at the region's top-left corner
/// and the row stride in pixels. A tight copy of the region
/// ([`Target::tight`]) or the region in place in a whole frame on the
/// device ([`Target::in_frame`]).
struct Target<'a> {
    at: CudaViewMut<'a, u8>,
    stride: usize,
    /// Pixels from the region's corner to the end of the buffer.
    room: usize,
    /// The region's top-left corner, as the kernels are told it.
    corner: (usize, usize),
}

impl<'a> Target<'a> {
    /// A region held tight in `buffer`, `width` pixels a row; `corner` is
    /// set by [`Target::check`] from the region itself.
    fn tight(buffer: &'a mut CudaSlice<u8>, width: usize) -> Self {
        let room = buffer.len() / 3;
        Self {
            at: buffer.slice_mut(..),
            stride: width,
            room,
            corner: (usize::MAX, usize::MAX),
        }
    }

    /// The region `[x0, y0, x1, y1)` of a `width`-pixel-wide frame held
    /// whole in `frame`.
    fn in_frame(frame: &'a mut CudaSlice<u8>, width: usize, region: [usize; 4]) -> Self {
        let start = ((region[1] * width + region[0]) * 3).min(frame.len());
        let room = (frame.len() - start) / 3;
        Self {
            at: frame.slice_mut(start..),
            stride: width,
            room,
            corner: (region[0], region[1]),
        }
    }

    /// Whether `region` fits: its rows at the stride inside the buffer,
    /// and (in a frame) its corner where the target was cut.
    fn check(&mut self, [x0, y0, x1, y1]: [usize; 4]) -> Result<(), GpuError> {
        if self.corner == (usize::MAX, usize::MAX) {
            self.corner = (x0, y0);
        }
        let (w, h) = (x1 - x0, y1 - y0);
        let fits = self.corner == (x0, y0)
            && w <= self.stride
            && (h == 0 || (h - 1) * self.stride + w <= self.room);
        if fits {
            Ok(())
        } else {
            Err(GpuError(format!(
                "the region [{x0}, {y0}, {x1}, {y1}) is not inside its buffer"
            )))
        }
    }
}

/// A text plan's masks (and a caption's owner map) and the colour tables on
/// the device.
struct TextMasks {
    fill: CudaSlice<u8>,
    outline: Option<CudaSlice<u8>>,
    owner: Option<CudaSlice<u32>>,
    to_linear: CudaSlice<f32>,
    to_srgb: CudaSlice<u8>,
}

impl TextMasks {
    fn upload(
        stream: &Arc<CudaStream>,
        plan: &TextPlan<'_>,
        owner: Option<&[u32]>,
    ) -> Result<Self, GpuError> {
        let up = |e| GpuError(format!("uploading the text: {e}"));
        Ok(Self {
            fill: stream.clone_htod(plan.fill).map_err(up)?,
            outline: plan
                .outline
                .map(|o| stream.clone_htod(o))
                .transpose()
                .map_err(up)?,
            owner: owner
                .map(|o| stream.clone_htod(o))
                .transpose()
                .map_err(up)?,
            to_linear: stream.clone_htod(plan.to_linear).map_err(up)?,
            to_srgb: stream.clone_htod(plan.to_srgb).map_err(up)?,
        })
    }
}

/// The rows of the region `[x0, y0, x1, y1)` of a packed RGB24 frame
/// `frame_width` pixels wide, tight, so a kernel sees a frame of its own.
fn cut_region(frame: &[u8], frame_width: usize, [x0, y0, x1, y1]: [usize; 4]) -> Vec<u8> {
    let mut region = Vec::with_capacity((x1 - x0) * (y1 - y0) * 3);
    for y in y0..y1 {
        region.extend_from_slice(&frame[(y * frame_width + x0) * 3..(y * frame_width + x1) * 3]);
    }
    region
}

/// Writes a region [`cut_region`] took back into its frame.
fn paste_region(frame: &mut [u8], frame_width: usize, [x0, y0, x1, y1]: [usize; 4], tight: &[u8]) {
    let row = (x1 - x0) * 3;
    if row == 0 {
        return;
    }
    for (y, src) in (y0..y1).zip(tight.chunks_exact(row)) {
        frame[(y * frame_width + x0) * 3..(y * frame_width + x1) * 3].copy_from_slice(src);
    }
}

/// Copies a tight plane (`width` bytes a row) into one with `stride`.
fn copy_rows(tight: &[u8], width: usize, out: &mut [u8], stride: usize) {
    if width == 0 {
        return;
    }
    for (row, dst) in tight.chunks_exact(width).zip(out.chunks_mut(stride)) {
        dst[..width].copy_from_slice(row);
    }
}
