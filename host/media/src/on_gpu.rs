//! NVDEC's frames made RGB24 on the GPU that decoded them (kino-cuda's
//! kernels, feature `cuda`): 8-bit NV12 through the YUV kernel, 10-bit
//! P010 BT.2020 through the tone map, so only the RGB frame comes down and
//! the CPU converts nothing. The kernels are the CPU's twins, bit for bit:
//! a frame is the same whichever way it went.
//!
//! FFmpeg's CUDA device is opened on the GPU's primary context
//! ([`crate::hw`]), the one cudarc opens, so the decoder's frames are
//! addresses the kernels can read (where it cannot be, FFmpeg has a
//! context of its own and the frames come down as before). Sharing the
//! context means a kernel fault that poisons it (an illegal address)
//! poisons the decoders and encoders on that GPU too: the plane layout
//! the kernels read is checked against the frame first
//! (`kino_cuda::gpu::DecodedPicture`).

use std::sync::Arc;

use ff::format::Pixel;
use ff::frame;
use ffmpeg_next as ff;
use kino_cuda::gpu::{DecodedPicture, DeviceRgb, Gpu, ToneMapTables};

use crate::convert::{DevicePlan, ToRgb};

/// A GPU's kernels, for the frames NVDEC decodes there.
pub(crate) struct OnGpu {
    gpu: Arc<Gpu>,
    /// The stream's tone map's tables, uploaded once for its frames.
    tables: Option<ToneMapTables>,
}

impl OnGpu {
    /// CUDA device `n`'s kernels (compiled once per process), or why not.
    pub(crate) fn open(n: usize) -> Result<Self, String> {
        Gpu::get(n)
            .map(|gpu| Self { gpu, tables: None })
            .map_err(|e| e.0)
    }

    /// `frame` (in this GPU's memory), its top and left crop applied, as an
    /// RGB24 picture left on this GPU, or `Ok(None)` where the kernels do
    /// not take its layout or colours (the caller downloads it). The
    /// decoder may reuse the frame's planes once this returns.
    pub(crate) fn convert(
        &mut self,
        frame: &frame::Video,
        to_rgb: &mut ToRgb,
    ) -> Result<Option<DeviceRgb>, String> {
        let Some((layout, picture)) = decoded_picture(frame) else {
            return Ok(None);
        };
        let sample = if layout == Pixel::P010LE { 2 } else { 1 };
        // SAFETY: `frame` is a live frame; its crop fields are plain numbers.
        let (top, left) = unsafe { ((*frame.as_ptr()).crop_top, (*frame.as_ptr()).crop_left) };
        let picture = picture.cropped(top, left, sample).map_err(|e| e.0)?;
        let Some(plan) = to_rgb.device_plan(frame, layout) else {
            return Ok(None);
        };
        let rgb = match plan {
            // SAFETY (both): the frame's planes are NVDEC's, in the primary
            // context of the GPU it decoded on (this one: the reader opened
            // both for the same ordinal, and FFmpeg's device is on the
            // primary context), and `frame` holds them until this returns;
            // `decoded_picture` took their sizes from the frame itself.
            DevicePlan::Yuv(matrix) => unsafe { self.gpu.nv12_to_rgb_on_device(&picture, matrix) },
            DevicePlan::ToSdr(to_sdr) => {
                let tables = match self.tables.take() {
                    Some(tables) if tables.are_for(to_sdr) => tables,
                    _ => self.gpu.tone_map_tables(to_sdr).map_err(|e| e.0)?,
                };
                let tables = self.tables.insert(tables);
                unsafe { self.gpu.p010_to_sdr_on_device(&picture, tables) }
            }
        };
        rgb.map(Some).map_err(|e| e.0)
    }
}

/// A frame in GPU memory as the kernels take it, with its planes' layout
/// (the frames context's software format): NV12 or P010 only.
fn decoded_picture(frame: &frame::Video) -> Option<(Pixel, DecodedPicture)> {
    // SAFETY: a CUDA frame (FFmpeg's hwaccel output) carries its frames
    // context, whose device context's hwctx is an AVCUDADeviceContext;
    // each is checked for null before it is read. Its planes' data
    // pointers are CUdeviceptr values.
    unsafe {
        let f = frame.as_ptr();
        if (*f).format != ff::ffi::AVPixelFormat::AV_PIX_FMT_CUDA as i32 {
            return None;
        }
        let frames = (*f).hw_frames_ctx.as_ref()?;
        let frames = (frames.data as *const ff::ffi::AVHWFramesContext).as_ref()?;
        let layout = Pixel::from(frames.sw_format);
        if !matches!(layout, Pixel::NV12 | Pixel::P010LE) {
            return None;
        }
        let device = frames.device_ctx.as_ref()?;
        let cuda = (device.hwctx as *const ff::ffi::AVCUDADeviceContext).as_ref()?;
        let pitch = |plane: usize| usize::try_from((*f).linesize[plane]).ok();
        Some((
            layout,
            DecodedPicture {
                width: usize::try_from((*f).width).ok()?,
                height: usize::try_from((*f).height).ok()?,
                luma: (*f).data[0] as u64,
                luma_pitch: pitch(0)?,
                chroma: (*f).data[1] as u64,
                chroma_pitch: pitch(1)?,
                stream: cuda.stream as u64,
            },
        ))
    }
}
