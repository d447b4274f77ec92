//! A picture left in a GPU's memory as packed RGB24 (a decoded frame made
//! RGB there), and the kernels that make an opaque image of one and its
//! mip levels on the device, so a camera can frame it without its pixels
//! coming down.

use std::sync::Arc;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};
use kino_kernels::interpolate::Frame;

use super::{Gpu, GpuError, config, driver, size32};
use crate::kernels;

/// A `width × height` packed RGB24 picture on one GPU, ready to read (the
/// kernels that wrote it have finished).
#[derive(Debug)]
pub struct DeviceRgb {
    ordinal: usize,
    width: usize,
    height: usize,
    /// The stream it was made on, which brings it down.
    stream: Arc<CudaStream>,
    data: CudaSlice<u8>,
}

impl DeviceRgb {
    /// Wraps `data`, written on `stream`, once that stream has finished.
    pub(super) fn finished(
        gpu: &Gpu,
        stream: Arc<CudaStream>,
        data: CudaSlice<u8>,
        (width, height): (usize, usize),
    ) -> Result<Self, GpuError> {
        stream.synchronize().map_err(driver("finishing"))?;
        Ok(Self {
            ordinal: gpu.ordinal(),
            width,
            height,
            stream,
            data,
        })
    }

    /// Puts a host frame on `gpu` (tests and benchmarks: decoded pictures
    /// are made there).
    pub fn upload(gpu: &Gpu, frame: &Frame) -> Result<Self, GpuError> {
        if frame.data.len() != frame.width * frame.height * 3 || frame.data.is_empty() {
            return Err(GpuError(format!(
                "{} bytes for a {}×{} RGB24 picture",
                frame.data.len(),
                frame.width,
                frame.height
            )));
        }
        let stream = gpu.stream()?;
        let data = stream
            .clone_htod(&frame.data)
            .map_err(driver("uploading the picture"))?;
        Self::finished(gpu, stream, data, (frame.width, frame.height))
    }

    /// The GPU it is on.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// Pixels across.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Pixels down.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Its pixels, on its stream.
    pub(super) fn data(&self) -> &CudaSlice<u8> {
        &self.data
    }

    /// Brings the picture down.
    pub fn download(&self) -> Result<Frame, GpuError> {
        let data = self
            .stream
            .clone_dtoh(&self.data)
            .map_err(driver("downloading the picture"))?;
        self.stream.synchronize().map_err(driver("finishing"))?;
        Ok(Frame {
            width: self.width,
            height: self.height,
            data,
        })
    }
}

impl Gpu {
    /// Runs `kino_level_from_rgb8`: `picture` as an opaque image's base
    /// level, into `level` (at least its pixels).
    pub(super) fn launch_level_from_rgb8(
        &self,
        stream: &Arc<CudaStream>,
        picture: &DeviceRgb,
        level: &mut CudaSlice<u32>,
    ) -> Result<(), GpuError> {
        let (width, height) = (picture.width, picture.height);
        if level.len() < width * height || picture.ordinal != self.ordinal {
            return Err(GpuError(format!(
                "a {width}×{height} picture on cuda:{} for a level of {} pixels on cuda:{}",
                picture.ordinal,
                level.len(),
                self.ordinal
            )));
        }
        let (w, h) = (size32(width)?, size32(height)?);
        let mut launch = stream.launch_builder(&self.level_from_rgb8);
        launch.arg(&picture.data).arg(&w).arg(&h).arg(level);
        // SAFETY: the arguments match the kernel's parameters; it reads the
        // picture's `width × height` pixels and writes as many of `level`,
        // which holds them (checked above).
        unsafe { launch.launch(config(kernels::level(width, height))) }
            .map(drop)
            .map_err(driver("running kino_level_from_rgb8"))
    }

    /// Runs `kino_half_level`: the mip level below `src` (`src_size`) into
    /// `dst`, and returns its size.
    pub(super) fn launch_half_level(
        &self,
        stream: &Arc<CudaStream>,
        src: &CudaSlice<u32>,
        (src_width, src_height): (usize, usize),
        dst: &mut CudaSlice<u32>,
    ) -> Result<(usize, usize), GpuError> {
        let (width, height) = (src_width.div_ceil(2), src_height.div_ceil(2));
        if src_width == 0 || src_height == 0 || src.len() < src_width * src_height {
            return Err(GpuError(format!(
                "a {src_width}×{src_height} level in {} pixels",
                src.len()
            )));
        }
        if dst.len() < width * height {
            return Err(GpuError(format!(
                "a {width}×{height} level in {} pixels",
                dst.len()
            )));
        }
        let (sw, sh, w, h) = (
            size32(src_width)?,
            size32(src_height)?,
            size32(width)?,
            size32(height)?,
        );
        let mut launch = stream.launch_builder(&self.half_level);
        launch.arg(src).arg(&sw).arg(&sh).arg(dst).arg(&w).arg(&h);
        // SAFETY: the arguments match the kernel's parameters; its reads are
        // clamped inside the source's size and its writes inside the
        // destination's, both held by their buffers (checked above).
        unsafe { launch.launch(config(kernels::level(width, height))) }
            .map(drop)
            .map_err(driver("running kino_half_level"))?;
        Ok((width, height))
    }
}
