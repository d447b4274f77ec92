//! NVENC and NVDEC: H.264 encoded and decoded on a GPU through FFmpeg's own
//! CUDA support (`h264_nvenc`, the `cuda` hwaccel).
//!
//! FFmpeg loads the NVIDIA driver's libraries itself when an encoder or a
//! device is opened, so a build needs nothing extra and a machine without a
//! GPU only sees that opening fail: the writer or reader then uses libx264
//! or the software decoder, and says why ([`crate::Mp4Writer::fallback`],
//! [`crate::VideoReader::fallback`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use anyhow::{Result, anyhow, bail};
use ff::format::Pixel;
use ff::{codec, frame};
use ffmpeg_next as ff;

/// Where a writer encodes or a reader decodes video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoDevice {
    /// libx264, and FFmpeg's software decoders.
    #[default]
    Cpu,
    /// NVENC and NVDEC on CUDA device `n`.
    Cuda(usize),
}

impl fmt::Display for VideoDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// NVENC's preset: `p2`, the second fastest, whose quality at [`NVENC_CQ`]
/// is close to x264 `veryfast` at crf 20 (see the hardware tests).
pub const NVENC_PRESET: &str = "p2";
/// NVENC's constant-quality target (`-rc vbr -cq`, no bit-rate cap).
pub const NVENC_CQ: &str = "21";

/// The encoder's name for `device`.
pub(crate) fn h264_encoder(device: VideoDevice) -> &'static str {
    match device {
        VideoDevice::Cpu => "libx264",
        VideoDevice::Cuda(_) => "h264_nvenc",
    }
}

/// The options `device`'s H.264 encoder is opened with: the quality
/// target, every forced I picture an IDR (a place to cut or join), and
/// no B-frames where the caller wants none.
pub(crate) fn h264_options(device: VideoDevice, b_frames: bool) -> ff::Dictionary<'static> {
    let mut opts = ff::Dictionary::new();
    match device {
        VideoDevice::Cpu => {
            opts.set("preset", crate::X264_PRESET);
            opts.set("crf", crate::X264_CRF);
        }
        VideoDevice::Cuda(_) => {
            // (the device comes as the context's `hw_device_ctx`)
            opts.set("preset", NVENC_PRESET);
            opts.set("tune", "hq");
            opts.set("rc", "vbr");
            opts.set("cq", NVENC_CQ);
            // The context's default bit rate (200 kb/s) would cap the
            // constant-quality target: 0 lifts it.
            opts.set("b", "0");
        }
    }
    opts.set("forced-idr", "1");
    if !b_frames {
        opts.set("bf", "0");
    }
    opts
}

/// Attaches CUDA device `n` to a decoder context before it is opened, so
/// that FFmpeg's default format negotiation decodes on NVDEC. Errors say
/// why it cannot: no NVDEC for this codec, or no device to open.
pub(crate) fn attach_cuda(ctx: &mut codec::context::Context, n: usize) -> Result<()> {
    let id = ctx.id();
    let decoder = ff::decoder::find(id).ok_or_else(|| anyhow!("no decoder for {}", id.name()))?;
    if !supports_cuda(decoder) {
        bail!("FFmpeg has no NVDEC decoding for {}", id.name());
    }
    give_device(ctx, n)
}

/// Hands CUDA device `n` to a codec context that is not open yet: NVDEC
/// decodes, and NVENC encodes, on that device's shared CUDA context.
pub(crate) fn give_device(ctx: &mut codec::context::Context, n: usize) -> Result<()> {
    let device = cuda_device(n).map_err(|why| anyhow!(why))?;
    // SAFETY: the unopened context takes over the new reference and
    // unreferences it when freed.
    unsafe { (*ctx.as_mut_ptr()).hw_device_ctx = device };
    Ok(())
}

/// FFmpeg's device context for a GPU, kept for the life of the process.
struct Device {
    context: *mut ff::ffi::AVBufferRef,
    /// Why it is not on the GPU's primary context, when it is not.
    own_context: Option<String>,
}

// SAFETY: the device context is only read after creation (references are
// taken from it, under the lock), which FFmpeg allows from any thread.
unsafe impl Send for Device {}

/// The FFmpeg devices opened so far, by GPU (or why each could not be).
fn static_devices() -> &'static Mutex<BTreeMap<usize, Result<Device, String>>> {
    static DEVICES: Mutex<BTreeMap<usize, Result<Device, String>>> = Mutex::new(BTreeMap::new());
    &DEVICES
}

/// A new reference to CUDA device `n`'s context, made on first use and
/// shared by every encoder and decoder after it: each made afresh would
/// cost a CUDA context (a tenth of a second or more), and a compose opens
/// many readers. A device that cannot be opened says why, every time it is
/// asked for, without trying again.
fn cuda_device(n: usize) -> Result<*mut ff::ffi::AVBufferRef, String> {
    let mut devices = static_devices()
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let device = devices.entry(n).or_insert_with(|| open_cuda(n)).as_ref()?;
    // SAFETY: `device.context` is a live reference, held for the process's
    // life.
    let new = unsafe { ff::ffi::av_buffer_ref(device.context) };
    if new.is_null() {
        return Err(format!("out of memory referencing CUDA device {n}"));
    }
    Ok(new)
}

/// Why CUDA device `n`'s FFmpeg device (opened already, by a reader or a
/// writer) does not share the GPU's primary context, so that its frames
/// are not addresses kino-cuda's kernels can read; `None` when it shares
/// it.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) fn own_context(n: usize) -> Option<String> {
    static_devices()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&n)
        .map_or_else(
            || Some(format!("no FFmpeg device opened on cuda:{n}")),
            |device| match device {
                Ok(device) => device.own_context.clone(),
                Err(why) => Some(why.clone()),
            },
        )
}

fn open_cuda(n: usize) -> Result<Device, String> {
    // FFmpeg loads the driver itself, and says no more than EPERM when it
    // is missing; this says which.
    // SAFETY: loading the NVIDIA driver's library runs its initialisers,
    // which is what FFmpeg would do next.
    if let Err(e) = unsafe { libloading::Library::new("libcuda.so.1") } {
        return Err(format!("no NVIDIA driver ({e})"));
    }
    let name = std::ffi::CString::new(n.to_string()).map_err(|e| e.to_string())?;
    let create = |flags: std::ffi::c_int| {
        let mut device: *mut ff::ffi::AVBufferRef = std::ptr::null_mut();
        // SAFETY: `device` receives a new reference on success (and is
        // left null on failure); `name` outlives the call.
        let err = unsafe {
            ff::ffi::av_hwdevice_ctx_create(
                &mut device,
                ff::ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA,
                name.as_ptr(),
                std::ptr::null_mut(),
                flags,
            )
        };
        if err < 0 || device.is_null() {
            Err(format!(
                "cannot open CUDA device {n}: {}",
                ff::Error::from(err)
            ))
        } else {
            Ok(device)
        }
    };
    // On the GPU's primary context, the one kino-cuda's kernels run in
    // (cudarc opens it): NVDEC's frames are then addresses those kernels
    // can read, and the GPU holds one context for both, not two (each
    // costs device memory). FFmpeg refuses it when another library made
    // it active with other scheduling flags than FFmpeg's (kino-cuda asks
    // for FFmpeg's); then a context of its own, as before.
    match create(ff::ffi::AV_CUDA_USE_PRIMARY_CONTEXT) {
        Ok(context) => Ok(Device {
            context,
            own_context: None,
        }),
        Err(shared) => create(0).map(|context| Device {
            context,
            own_context: Some(format!(
                "FFmpeg has a CUDA context of its own on cuda:{n} ({shared} on the primary \
                 context, active with other scheduling flags)"
            )),
        }),
    }
}

/// What the driver lacks for NVENC, when FFmpeg's own error (its log is
/// silenced) would only say "function not implemented": the encode
/// library, which a container gets only with the `video` capability.
pub(crate) fn nvenc_missing() -> Option<String> {
    // SAFETY: loading the driver's encode library runs its initialisers,
    // which FFmpeg has just done (or failed to do) itself.
    unsafe { libloading::Library::new("libnvidia-encode.so.1") }
        .err()
        .map(|e| format!("no NVENC library from the driver ({e})"))
}

/// Whether `decoder` can decode through a CUDA device context.
fn supports_cuda(decoder: ff::Codec) -> bool {
    (0..)
        .map_while(|i| {
            // SAFETY: FFmpeg returns null past the last configuration, and
            // the configurations are static.
            unsafe { ff::ffi::avcodec_get_hw_config(decoder.as_ptr(), i).as_ref() }
        })
        .any(|config| {
            config.device_type == ff::ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA
                && config.methods & ff::ffi::AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX as i32 != 0
        })
}

/// Whether a decoded frame lives in GPU memory.
pub(crate) fn on_device(frame: &frame::Video) -> bool {
    frame.format() == Pixel::CUDA
}

/// Downloads a decoded GPU frame into `host` (NV12 for 8-bit H.264).
pub(crate) fn download(gpu: &frame::Video, host: &mut frame::Video) -> Result<()> {
    // SAFETY: both frames are valid; `host` is emptied first so FFmpeg
    // allocates it in the device frames' software format. The transfer
    // moves only the pixels: the properties (the colour matrix and range
    // the conversion to RGB reads among them, and the top and left crop,
    // which FFmpeg cannot apply to a device frame) are copied after it,
    // and the crop applied to the host's planes, exactly.
    let err = unsafe {
        ff::ffi::av_frame_unref(host.as_mut_ptr());
        match ff::ffi::av_hwframe_transfer_data(host.as_mut_ptr(), gpu.as_ptr(), 0) {
            0.. => match ff::ffi::av_frame_copy_props(host.as_mut_ptr(), gpu.as_ptr()) {
                0.. => ff::ffi::av_frame_apply_cropping(
                    host.as_mut_ptr(),
                    ff::ffi::AV_FRAME_CROP_UNALIGNED as i32,
                ),
                err => err,
            },
            err => err,
        }
    };
    if err < 0 {
        bail!(
            "cannot download a decoded frame from the GPU: {}",
            ff::Error::from(err)
        );
    }
    Ok(())
}
