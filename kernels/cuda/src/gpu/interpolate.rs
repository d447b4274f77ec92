//! Interpolation on a GPU: the flow estimate's kernels (`cu/flow.cu`) run
//! in the order `crate::flow` writes once for every device, over a pair of
//! frames uploaded once, and the in-between frames warped from it.

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, PushKernelArg};
use kino_kernels::interpolate::{
    CUT_HISTOGRAM_BINS, FlowLevel, FlowPair, Params, WARP_BLOCK, WarpPlan, flow_levels,
};

use super::{DeviceRgb, FlowFunctions, Gpu, GpuError, config, driver, size32, upload};
use crate::flow::{self, FlowKernels, Side};
use crate::kernels;

impl Gpu {
    /// Draws an in-between frame of two `width × height` frames through a
    /// warp plan, as `FlowPair::render` does on the CPU.
    pub fn warp_rgb8(
        &self,
        plan: &WarpPlan,
        a: &[u8],
        b: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, GpuError> {
        let blocks = plan.blocks_x * height.div_ceil(WARP_BLOCK);
        if plan.blocks_x < width.div_ceil(WARP_BLOCK) || plan.taps.len() < blocks {
            return Err(GpuError(format!(
                "the warp plan has {} blocks, {} a row, too few for {width}×{height}",
                plan.taps.len(),
                plan.blocks_x
            )));
        }
        let stream = self.stream()?;
        let bytes = width * height * 3;
        let (a, b) = (upload(&stream, &a[..bytes])?, upload(&stream, &b[..bytes])?);
        let taps = stream
            .clone_htod(&kernels::warp_taps(plan))
            .map_err(driver("uploading the warp"))?;
        let frame = self.warp((&a, &b), &taps, plan.blocks_x, &stream, (width, height))?;
        download(&stream, &frame)
    }

    /// Uploads two `width × height` RGB24 frames and estimates the flow
    /// between them on the device, as `FlowPair::estimate` does on the CPU;
    /// the frames and fields stay there for [`Gpu::render_flow`].
    pub fn estimate_flow(
        &self,
        a: &[u8],
        b: &[u8],
        (width, height): (usize, usize),
        params: &Params,
    ) -> Result<DeviceFlow, GpuError> {
        let bytes = width * height * 3;
        if width == 0 || height == 0 || a.len() < bytes || b.len() < bytes {
            return Err(GpuError(format!(
                "frames of {} and {} bytes are not {width}×{height} RGB24",
                a.len(),
                b.len()
            )));
        }
        let stream = self.stream()?;
        let (a, b) = (upload(&stream, &a[..bytes])?, upload(&stream, &b[..bytes])?);
        self.estimate_flow_of(stream, (a, b), (width, height), params)
    }

    /// Estimates the flow between two pictures already on this GPU (a
    /// decoder's, or an earlier pair's second frame), as
    /// [`Gpu::estimate_flow`] does with frames from the host: the pictures
    /// are copied on the device, nothing goes up.
    pub fn estimate_flow_between(
        &self,
        a: &DeviceRgb,
        b: &DeviceRgb,
        params: &Params,
    ) -> Result<DeviceFlow, GpuError> {
        let size = (a.width(), a.height());
        if (b.width(), b.height()) != size {
            return Err(GpuError(format!(
                "pictures of {}×{} and {}×{}: a pair must be one size",
                size.0,
                size.1,
                b.width(),
                b.height()
            )));
        }
        for picture in [a, b] {
            if picture.ordinal() != self.ordinal {
                return Err(GpuError(format!(
                    "a picture on cuda:{} handed to cuda:{}",
                    picture.ordinal(),
                    self.ordinal
                )));
            }
        }
        let stream = self.stream()?;
        let copy = |picture: &DeviceRgb| {
            stream
                .clone_dtod(picture.data())
                .map_err(driver("copying a picture on the device"))
        };
        let frames = (copy(a)?, copy(b)?);
        self.estimate_flow_of(stream, frames, size, params)
    }

    /// The flow between two `width × height` RGB24 frames on `stream`.
    fn estimate_flow_of(
        &self,
        stream: Arc<CudaStream>,
        (a, b): (CudaSlice<u8>, CudaSlice<u8>),
        (width, height): (usize, usize),
        params: &Params,
    ) -> Result<DeviceFlow, GpuError> {
        let levels = flow_levels(width, height, params);
        let estimate = flow::estimate(
            &mut OnDevice {
                functions: &self.flow,
                stream: &stream,
                frames: (&a, &b),
                size: (width, height),
            },
            &levels,
            params,
        )?;
        let download = |field: &CudaSlice<f32>| {
            stream
                .clone_dtoh(field)
                .map_err(driver("downloading a flow field"))
        };
        let (ab, ba) = (download(&estimate.ab)?, download(&estimate.ba)?);
        stream.synchronize().map_err(driver("finishing"))?;
        let base = levels[0];
        let pair = FlowPair::from_fields(
            (width, height),
            flow::grid(&ab, &base, params.block),
            flow::grid(&ba, &base, params.block),
            &estimate.evidence,
            params,
        )
        .map_err(|e| GpuError(format!("the device's flow: {e}")))?;
        Ok(DeviceFlow {
            stream,
            frames: (a, b),
            fields: (estimate.ab, estimate.ba),
            base,
            block: params.block,
            size: (width, height),
            pair,
        })
    }

    /// The taps `kino_warp_taps` works out on the device for time `t` (in
    /// (0, 1)), left there: per 8×8 block, into A then into B.
    fn warp_taps_on_device(&self, flow: &DeviceFlow, t: f32) -> Result<CudaSlice<u32>, GpuError> {
        let (width, height) = flow.size;
        let stream = &flow.stream;
        let blocks = width.div_ceil(WARP_BLOCK) * height.div_ceil(WARP_BLOCK);
        let mut taps = stream
            .alloc_zeros::<u32>(blocks * 12)
            .map_err(driver("allocating the taps"))?;
        let time = flow::warp_time_args(&flow.pair.warp_time(t));
        let (cols, rows, block) = (
            size32(flow.base.cols)?,
            size32(flow.base.rows)?,
            size32(flow.block)?,
        );
        let (w, h) = (size32(width)?, size32(height)?);
        let mut launch = stream.launch_builder(&self.flow.warp_taps);
        launch
            .arg(&flow.fields.0)
            .arg(&flow.fields.1)
            .arg(&cols)
            .arg(&rows)
            .arg(&block)
            .arg(&w)
            .arg(&h);
        for c in &time {
            launch.arg(c);
        }
        launch.arg(&mut taps);
        // SAFETY: the arguments match the kernel's parameters; field reads
        // are clamped to their grids, and one pair of taps is written per
        // 8×8 block of the frame, which `taps` holds.
        unsafe { launch.launch(config(kernels::warp_plan(width, height))) }
            .map_err(driver("running kino_warp_taps"))?;
        Ok(taps)
    }

    /// The taps for time `t`, read back (for the parity tests).
    pub fn warp_taps(&self, flow: &DeviceFlow, t: f32) -> Result<Vec<u32>, GpuError> {
        let taps = self.warp_taps_on_device(flow, t)?;
        let words = flow
            .stream
            .clone_dtoh(&taps)
            .map_err(driver("downloading the taps"))?;
        flow.stream.synchronize().map_err(driver("finishing"))?;
        Ok(words)
    }

    /// The frame at time `t` in (0, 1) between the pair's frames, as
    /// `FlowPair::render` draws it where the pair is no cut: the taps and
    /// the blend on the device, one download.
    pub fn render_flow(&self, flow: &DeviceFlow, t: f32) -> Result<Vec<u8>, GpuError> {
        let frame = self.render_flow_on_device(flow, t)?;
        download(&flow.stream, &frame)
    }

    /// The frame at time `t`, as [`Gpu::render_flow`] draws it, left on the
    /// GPU (for an encoder or kernel that reads it there).
    pub fn render_flow_to_device(&self, flow: &DeviceFlow, t: f32) -> Result<DeviceRgb, GpuError> {
        let frame = self.render_flow_on_device(flow, t)?;
        DeviceRgb::finished(self, flow.stream.clone(), frame, flow.size)
    }

    fn render_flow_on_device(&self, flow: &DeviceFlow, t: f32) -> Result<CudaSlice<u8>, GpuError> {
        if !(t > 0.0 && t < 1.0) || flow.pair.is_cut() {
            return Err(GpuError(format!(
                "no warp to draw at t = {t}{}",
                if flow.pair.is_cut() {
                    " across a cut"
                } else {
                    ""
                }
            )));
        }
        let (width, height) = flow.size;
        let stream = &flow.stream;
        let taps = self.warp_taps_on_device(flow, t)?;
        let blocks_x = width.div_ceil(WARP_BLOCK);
        self.warp(
            (&flow.frames.0, &flow.frames.1),
            &taps,
            blocks_x,
            stream,
            (width, height),
        )
    }

    /// Runs `kino_warp_rgb8` over frames `a` and `b` on `stream` through
    /// `taps` (a pair for each block, `blocks_x` a row) into a new
    /// `width × height` frame on the device.
    fn warp(
        &self,
        (a, b): (&CudaSlice<u8>, &CudaSlice<u8>),
        taps: &CudaSlice<u32>,
        blocks_x: usize,
        stream: &Arc<CudaStream>,
        (width, height): (usize, usize),
    ) -> Result<CudaSlice<u8>, GpuError> {
        let mut out = stream
            .alloc_zeros::<u8>(width * height * 3)
            .map_err(driver("allocating the frame"))?;
        let (blocks_x, side) = (size32(blocks_x)?, size32(WARP_BLOCK)?);
        let (w, h) = (size32(width)?, size32(height)?);
        let mut launch = stream.launch_builder(&self.warp_rgb8);
        launch
            .arg(a)
            .arg(b)
            .arg(taps)
            .arg(&blocks_x)
            .arg(&side)
            .arg(&mut out)
            .arg(&w)
            .arg(&h);
        // SAFETY: the arguments match the kernel's parameters; the callers
        // check there is a pair of taps for every block of the frame;
        // source reads are clamped to it and writes are its pixels.
        unsafe { launch.launch(config(kernels::warp_rgb8(width, height))) }
            .map_err(driver("running kino_warp_rgb8"))?;
        Ok(out)
    }
}

/// A pair of frames on a GPU and the flow estimated between them there.
#[derive(Debug)]
pub struct DeviceFlow {
    stream: Arc<CudaStream>,
    frames: (CudaSlice<u8>, CudaSlice<u8>),
    fields: (CudaSlice<f32>, CudaSlice<f32>),
    base: FlowLevel,
    block: usize,
    size: (usize, usize),
    pair: FlowPair,
}

impl DeviceFlow {
    /// The estimate, read back: the same fields and cut verdict the CPU
    /// would have, for copies, cuts and a CPU fallback.
    pub fn pair(&self) -> &FlowPair {
        &self.pair
    }
}

/// The flow kernels on one stream, over a pair of frames uploaded to it.
struct OnDevice<'a> {
    functions: &'a FlowFunctions,
    stream: &'a Arc<CudaStream>,
    frames: (&'a CudaSlice<u8>, &'a CudaSlice<u8>),
    size: (usize, usize),
}

impl OnDevice<'_> {
    fn alloc<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        n: usize,
    ) -> Result<CudaSlice<T>, GpuError> {
        self.stream
            .alloc_zeros::<T>(n.max(1))
            .map_err(driver("allocating flow buffers"))
    }
}

impl OnDevice<'_> {
    /// Runs `kino_half_luma` or `kino_down`: `input`, `size` pixels, into
    /// a new plane the size of level `to`.
    fn resample<T>(
        &self,
        function: &CudaFunction,
        input: &CudaSlice<T>,
        (width, height): (usize, usize),
        to: &FlowLevel,
        name: &str,
    ) -> Result<CudaSlice<f32>, GpuError> {
        let mut out = self.alloc::<f32>(to.width * to.height)?;
        let (w, h) = (size32(width)?, size32(height)?);
        let (ow, oh) = (size32(to.width)?, size32(to.height)?);
        let mut launch = self.stream.launch_builder(function);
        launch
            .arg(input)
            .arg(&w)
            .arg(&h)
            .arg(&mut out)
            .arg(&ow)
            .arg(&oh);
        // SAFETY: both kernels take (input, width, height, out, out width,
        // out height); reads are clamped to the input's size, and writes
        // are the `ow × oh` samples `out` holds.
        unsafe { launch.launch(config(kernels::plane(to.width, to.height))) }
            .map_err(|e| GpuError(format!("running {name}: {e}")))?;
        Ok(out)
    }
}

impl FlowKernels for OnDevice<'_> {
    type Plane = CudaSlice<f32>;
    type Field = CudaSlice<f32>;
    type Error = GpuError;

    fn half_luma(&mut self, frame: Side, base: &FlowLevel) -> Result<Self::Plane, GpuError> {
        let rgb = match frame {
            Side::A => self.frames.0,
            Side::B => self.frames.1,
        };
        let function = &self.functions.half_luma;
        self.resample(function, rgb, self.size, base, "kino_half_luma")
    }

    fn down(
        &mut self,
        plane: &Self::Plane,
        from: &FlowLevel,
        to: &FlowLevel,
    ) -> Result<Self::Plane, GpuError> {
        let function = &self.functions.down;
        self.resample(function, plane, (from.width, from.height), to, "kino_down")
    }

    fn histogram(
        &mut self,
        plane: &Self::Plane,
        base: &FlowLevel,
    ) -> Result<[u32; CUT_HISTOGRAM_BINS], GpuError> {
        let mut bins = self.alloc::<u32>(CUT_HISTOGRAM_BINS)?;
        let samples = base.width * base.height;
        let n = size32(samples)?;
        let mut launch = self.stream.launch_builder(&self.functions.histogram);
        launch.arg(plane).arg(&n).arg(&mut bins);
        // SAFETY: one read per sample, bins clamped to the 32 there are.
        unsafe { launch.launch(config(kernels::luma_histogram(samples))) }
            .map_err(driver("running kino_luma_histogram"))?;
        let counts = self
            .stream
            .clone_dtoh(&bins)
            .map_err(driver("downloading the histogram"))?;
        self.stream.synchronize().map_err(driver("finishing"))?;
        counts
            .try_into()
            .map_err(|_| GpuError("the histogram came back the wrong size".to_owned()))
    }

    fn cells(
        &mut self,
        (src, dst): (&Self::Plane, &Self::Plane),
        coarse: Option<(&Self::Field, &FlowLevel)>,
        level: &FlowLevel,
        params: &Params,
    ) -> Result<Self::Field, GpuError> {
        let mut out = self.alloc::<f32>(level.cols * level.rows * 2)?;
        let (w, h) = (size32(level.width)?, size32(level.height)?);
        let (cols, rows) = (size32(level.cols)?, size32(level.rows)?);
        let (block, radius, iterations) = (
            size32(params.block)?,
            size32(level.radius)?,
            size32(params.iterations)?,
        );
        let (cc, cr) = match coarse {
            Some((_, c)) => (size32(c.cols)?, size32(c.rows)?),
            None => (0, 0),
        };
        // The coarsest level has no prediction: the kernel reads a null
        // pointer as "none", which goes as eight zero bytes.
        let null = 0u64;
        let mut launch = self.stream.launch_builder(&self.functions.cells);
        launch.arg(src).arg(dst).arg(&w).arg(&h);
        match coarse {
            Some((field, _)) => launch.arg(field),
            None => launch.arg(&null),
        };
        launch
            .arg(&cc)
            .arg(&cr)
            .arg(&block)
            .arg(&cols)
            .arg(&rows)
            .arg(&radius)
            .arg(&iterations)
            .arg(&mut out);
        // SAFETY: the arguments match the kernel's; plane reads are clamped
        // to the level, coarse reads to its grid, and one vector is written
        // per cell of the `cols × rows` grid `out` holds.
        unsafe { launch.launch(config(kernels::flow_cells(level.cols, level.rows))) }
            .map_err(driver("running kino_flow_cells"))?;
        Ok(out)
    }

    fn median(&mut self, raw: &Self::Field, level: &FlowLevel) -> Result<Self::Field, GpuError> {
        let mut out = self.alloc::<f32>(level.cols * level.rows * 2)?;
        let (cols, rows) = (size32(level.cols)?, size32(level.rows)?);
        let mut launch = self.stream.launch_builder(&self.functions.median3);
        launch.arg(raw).arg(&cols).arg(&rows).arg(&mut out);
        // SAFETY: reads are clamped to the grid, writes are its cells.
        unsafe { launch.launch(config(kernels::median3(level.cols, level.rows))) }
            .map_err(driver("running kino_median3"))?;
        Ok(out)
    }

    fn residual(
        &mut self,
        (p0, p1): (&Self::Plane, &Self::Plane),
        ab: &Self::Field,
        base: &FlowLevel,
        block: usize,
    ) -> Result<Vec<f64>, GpuError> {
        let mut sums = self.alloc::<f64>(base.height.div_ceil(2))?;
        let (w, h) = (size32(base.width)?, size32(base.height)?);
        let (cols, rows, cell) = (size32(base.cols)?, size32(base.rows)?, size32(block)?);
        let mut launch = self.stream.launch_builder(&self.functions.residual_rows);
        launch
            .arg(p0)
            .arg(p1)
            .arg(&w)
            .arg(&h)
            .arg(ab)
            .arg(&cols)
            .arg(&rows)
            .arg(&cell)
            .arg(&mut sums);
        // SAFETY: reads are clamped to the planes and the grid; one sum is
        // written per other row.
        unsafe { launch.launch(config(kernels::residual_rows(base.height))) }
            .map_err(driver("running kino_residual_rows"))?;
        let mut rows = self
            .stream
            .clone_dtoh(&sums)
            .map_err(driver("downloading the residual"))?;
        self.stream.synchronize().map_err(driver("finishing"))?;
        rows.truncate(base.height.div_ceil(2));
        Ok(rows)
    }
}

/// Brings a frame made on `stream` down, once the stream has finished.
fn download(stream: &Arc<CudaStream>, frame: &CudaSlice<u8>) -> Result<Vec<u8>, GpuError> {
    let frame = stream
        .clone_dtoh(frame)
        .map_err(driver("downloading the frame"))?;
    stream.synchronize().map_err(driver("finishing"))?;
    Ok(frame)
}
