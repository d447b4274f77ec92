//! HDR and wide-gamut video to SDR on the GPU (`cu/hdr.cu`), as
//! `kino_kernels::hdr::ToSdr::convert` does on the CPU: the 10-bit planes
//! up as they are (strides kept; P010's interleaved chroma once), the
//! conversion's tables beside them, one kernel, the RGB24 frame down.

use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{CudaSlice, CudaStream, PushKernelArg};
use kino_kernels::hdr::{ToSdr, Transfer, Yuv420View10};

use super::{DevicePlanes, Gpu, GpuError, Phases, config, driver};
use crate::kernels;

/// What `kino_to_sdr_rgb8` reads besides the picture, on a GPU: a tone
/// map's tables and constants. [`Gpu::tone_map_tables`] makes them once
/// for a stream's frames.
#[derive(Debug)]
pub struct ToneMapTables {
    pub(super) light: CudaSlice<f32>,
    pub(super) levels: CudaSlice<u8>,
    pub(super) boundaries: CudaSlice<f32>,
    pub(super) args: [u32; kernels::TO_SDR_WORDS],
    made_for: (Transfer, f32),
}

impl ToneMapTables {
    /// `to_sdr`'s tables, uploaded on `stream` (and ready once it is).
    fn upload(stream: &Arc<CudaStream>, to_sdr: &ToSdr) -> Result<Self, GpuError> {
        let plan = to_sdr.plan();
        Ok(Self {
            light: stream
                .clone_htod(plan.light)
                .map_err(driver("uploading the transfer table"))?,
            levels: stream
                .clone_htod(plan.levels)
                .map_err(driver("uploading the level table"))?,
            boundaries: stream
                .clone_htod(plan.boundaries)
                .map_err(driver("uploading the level boundaries"))?,
            args: kernels::to_sdr_args(&plan),
            made_for: (to_sdr.transfer(), to_sdr.peak_nits()),
        })
    }

    /// Whether these are `to_sdr`'s (its transfer and peak make them).
    pub fn are_for(&self, to_sdr: &ToSdr) -> bool {
        self.made_for == (to_sdr.transfer(), to_sdr.peak_nits())
    }
}

impl Gpu {
    /// `to_sdr`'s tables on this GPU, for [`Gpu::p010_to_sdr_at`]'s
    /// frames.
    pub fn tone_map_tables(&self, to_sdr: &ToSdr) -> Result<ToneMapTables, GpuError> {
        let stream = self.stream()?;
        let tables = ToneMapTables::upload(&stream, to_sdr)?;
        stream.synchronize().map_err(driver("finishing"))?;
        Ok(tables)
    }

    /// Converts a `width × height` 10-bit BT.2020 picture to BT.709
    /// RGB24, tone mapped as `to_sdr` says, into a new frame.
    pub fn to_sdr_rgb8(
        &self,
        to_sdr: &ToSdr,
        yuv: Yuv420View10<'_>,
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, GpuError> {
        self.to_sdr_rgb8_timed(to_sdr, yuv, width, height)
            .map(|(frame, _)| frame)
    }

    /// [`Gpu::to_sdr_rgb8`] with each phase waited for and timed (upload
    /// of the planes and tables, the kernel, download), for benchmarks.
    pub fn to_sdr_rgb8_timed(
        &self,
        to_sdr: &ToSdr,
        yuv: Yuv420View10<'_>,
        width: usize,
        height: usize,
    ) -> Result<(Vec<u8>, Phases), GpuError> {
        let stream = self.stream()?;
        let sync = || stream.synchronize().map_err(driver("finishing"));
        let n = |x: usize| u32::try_from(x).map_err(|_| GpuError("picture too large".to_owned()));
        let start = Instant::now();
        let planes =
            DevicePlanes::upload(&stream, (yuv.y, yuv.y_stride), yuv.chroma, width, height)?;
        let tables = ToneMapTables::upload(&stream, to_sdr)?;
        let mut rgb = stream
            .alloc_zeros::<u8>((width * height * 3).max(1))
            .map_err(driver("allocating the frame"))?;
        sync()?;
        let uploaded = Instant::now();

        let (w32, h32) = (n(width)?, n(height)?);
        let mut launch = stream.launch_builder(&self.to_sdr_rgb8);
        let v = planes.v();
        launch
            .arg(&planes.y)
            .arg(&planes.strides[0])
            .arg(&planes.u)
            .arg(&planes.strides[1])
            .arg(&v)
            .arg(&planes.strides[2])
            .arg(&planes.step)
            .arg(&yuv.shift)
            .arg(&tables.light)
            .arg(&tables.levels)
            .arg(&tables.boundaries)
            .arg(&tables.args)
            .arg(&mut rgb)
            .arg(&w32)
            .arg(&h32);
        // SAFETY: the arguments match the kernel's parameters in order and
        // type (`args` is `KinoToSdr`'s words, by value); every plane was
        // uploaded through its last row's samples and the tables whole
        // (their last indices are in `args`); the kernel writes only the
        // `width × height` pixels of `rgb`.
        unsafe { launch.launch(config(kernels::to_sdr_rgb8(width, height))) }
            .map_err(driver("running kino_to_sdr_rgb8"))?;
        sync()?;
        let ran = Instant::now();
        let mut frame = stream
            .clone_dtoh(&rgb)
            .map_err(driver("downloading the frame"))?;
        sync()?;
        frame.truncate(width * height * 3);
        let phases = Phases {
            upload: uploaded - start,
            kernels: ran - uploaded,
            download: ran.elapsed(),
        };
        Ok((frame, phases))
    }
}
