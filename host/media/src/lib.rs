//! Media I/O through FFmpeg (`ffmpeg-next`, FFmpeg 5.1+).
//!
//! - [`probe`]: container, duration and streams of a file.
//! - [`VideoReader`]: decodes the best video stream to packed RGB24 frames.
//! - [`decode_audio`]: decodes the best audio stream to interleaved `f32`
//!   [`Pcm`] at a chosen rate and channel count (through swresample).
//! - [`Mp4Writer`]: encodes RGB24 frames as H.264 (libx264, yuv420p,
//!   `preset=veryfast`, `crf=20`) and `f32` audio as AAC into an MP4.
//! - [`cut`], [`concat`]: **re-encode** through [`VideoReader`] /
//!   [`decode_audio`] / [`Mp4Writer`], so cuts are frame-exact (no keyframe
//!   snapping) and inputs of different codecs can be joined; the output video
//!   has a constant frame rate. Audio is decoded whole into memory.
//! - [`mux_audio`] / [`mux_audio_pcm`]: copies the video stream's packets
//!   unchanged (no re-encode, timestamps rescaled) and encodes new audio as AAC.
//!
//! Every failure is an error naming the file and the problem (missing, empty,
//! truncated or not a media file, no such stream, unsupported codec); nothing
//! panics on media data. Every reader and copier reads packets through one
//! demuxer that checks them against the container's index, so a file cut
//! short (a faststart MP4 whose index lists samples past its end) is an error
//! wherever it is read or copied, not only where a decoder trips over it.
//! FFmpeg is initialised once and its own logging is silenced; the errors
//! carry the information instead.

mod convert;
mod demux;
#[cfg(test)]
mod fixtures;
mod hw;
mod idr;
#[cfg(feature = "cuda")]
mod on_gpu;
mod piece;
#[cfg(test)]
mod reader_tests;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context as _, Result, anyhow, bail};
use ff::format::Pixel;
use ff::format::Sample;
use ff::format::sample::Type as SampleType;
use ff::{ChannelLayout, Packet, Rational, codec, encoder, format, frame, media};
use ffmpeg_next as ff;

use demux::Demuxer;
pub use hw::{NVENC_CQ, NVENC_PRESET, VideoDevice};
pub use kino_cuda::Picture;
pub use piece::Piece;

pub use kino_kernels::wav::Pcm;

/// x264 settings used by [`Mp4Writer`] (and so by [`cut`] and [`concat`]).
pub const X264_PRESET: &str = "veryfast";
/// x264 constant rate factor used by [`Mp4Writer`].
pub const X264_CRF: &str = "20";
/// AAC bit rate per channel, bits per second.
const AAC_BITRATE_PER_CHANNEL: usize = 96_000;

/// Initialises FFmpeg once and silences its logging. Called by every entry
/// point; calling it again is free.
pub fn init() -> Result<()> {
    static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        ff::init().map_err(|e| e.to_string())?;
        ff::util::log::set_level(ff::util::log::Level::Quiet);
        Ok(())
    })
    .clone()
    .map_err(|e| anyhow!("cannot initialise ffmpeg: {e}"))
}

/// The kind of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Video.
    Video,
    /// Audio.
    Audio,
    /// Subtitles.
    Subtitle,
    /// Anything else (data, attachments, unknown).
    Other,
}

/// One stream of a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// Index in the container.
    pub index: usize,
    /// Video, audio, subtitle or other.
    pub kind: StreamKind,
    /// FFmpeg's codec name, e.g. `h264`, `aac`.
    pub codec: String,
    /// Video width in pixels (0 for other kinds).
    pub width: u32,
    /// Video height in pixels (0 for other kinds).
    pub height: u32,
    /// Video frame rate (average, else nominal); 0 when unknown or not video.
    pub fps: f64,
    /// Audio sample rate (0 for other kinds).
    pub sample_rate: u32,
    /// Audio channels (0 for other kinds).
    pub channels: u16,
}

/// What [`probe`] reports about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// Container format name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format: String,
    /// Duration in seconds; 0 when the container does not say.
    pub duration_secs: f64,
    /// The streams, in container order.
    pub streams: Vec<StreamInfo>,
}

impl MediaInfo {
    /// The first video stream, if any.
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == StreamKind::Video)
    }

    /// The first audio stream, if any.
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == StreamKind::Audio)
    }
}

/// One decoded video frame as packed RGB24 (`width * height * 3` bytes, rows
/// top to bottom, no padding).
#[derive(Debug, Clone, PartialEq)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Presentation time in seconds.
    pub pts_secs: f64,
    /// Packed RGB24 pixels.
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// A kernel frame (same packed RGB24 layout) shown at `pts_secs`.
    pub fn from_kernel(frame: kino_kernels::interpolate::Frame, pts_secs: f64) -> Self {
        Self {
            width: frame.width as u32,
            height: frame.height as u32,
            pts_secs,
            data: frame.data,
        }
    }

    /// The pixels as a kernel frame (same packed RGB24 layout, no copy).
    pub fn into_kernel(self) -> kino_kernels::interpolate::Frame {
        kino_kernels::interpolate::Frame {
            width: self.width as usize,
            height: self.height as usize,
            data: self.data,
        }
    }
}

/// Converts packed RGB24 to planar YUV 4:2:0 in the frame's planes
/// ([`kino_kernels::yuv`], rows in parallel).
///
/// swscale's legacy entry point converts on one thread, in series with the
/// encoder; doing it across cores is what brings encoding to the ffmpeg
/// CLI's speed (which converts in its filter thread, beside the encoder).
fn rgb24_to_yuv420p(rgb: &[u8], width: usize, height: usize, yuv: &mut frame::Video) {
    let (y_stride, u_stride, v_stride) = (yuv.stride(0), yuv.stride(1), yuv.stride(2));
    let (y, (u, v)) = yuv_planes(yuv);
    kino_kernels::yuv::rgb24_to_yuv420p(
        rgb,
        width,
        height,
        kino_kernels::yuv::Yuv420Planes {
            y,
            y_stride,
            u,
            u_stride,
            v,
            v_stride,
        },
    );
}

/// The Y, U and V planes of a YUV 4:2:0 frame, borrowed at once.
fn yuv_planes(yuv: &mut frame::Video) -> (&mut [u8], (&mut [u8], &mut [u8])) {
    // SAFETY: the three planes of a frame allocated by `frame::Video::new`
    // are disjoint buffers, each valid for `stride * plane height` bytes;
    // the borrows are tied to `yuv`, which is borrowed mutably for as long.
    unsafe {
        let frame = &mut *yuv.as_mut_ptr();
        let rows = |plane: usize| {
            let h = frame.height as usize;
            if plane == 0 { h } else { h.div_ceil(2) }
        };
        let plane = |i: usize| {
            std::slice::from_raw_parts_mut(frame.data[i], frame.linesize[i] as usize * rows(i))
        };
        (plane(0), (plane(1), plane(2)))
    }
}

/// Frame threading with one thread per core, as the ffmpeg CLI uses
/// (libavcodec's default for API users is a single thread).
fn auto_threads() -> codec::threading::Config {
    codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    }
}

fn rational_f64(r: Rational) -> f64 {
    if r.denominator() == 0 {
        0.0
    } else {
        f64::from(r.numerator()) / f64::from(r.denominator())
    }
}

fn stream_info(stream: &format::stream::Stream<'_>) -> StreamInfo {
    let params = stream.parameters();
    let kind = match params.medium() {
        media::Type::Video => StreamKind::Video,
        media::Type::Audio => StreamKind::Audio,
        media::Type::Subtitle => StreamKind::Subtitle,
        _ => StreamKind::Other,
    };
    let mut info = StreamInfo {
        index: stream.index(),
        kind,
        codec: params.id().name().to_string(),
        width: 0,
        height: 0,
        fps: 0.0,
        sample_rate: 0,
        channels: 0,
    };
    let Ok(ctx) = codec::context::Context::from_parameters(params) else {
        return info;
    };
    match kind {
        StreamKind::Video => {
            if let Ok(v) = ctx.decoder().video() {
                info.width = v.width();
                info.height = v.height();
            }
            let avg = rational_f64(stream.avg_frame_rate());
            info.fps = if avg > 0.0 {
                avg
            } else {
                rational_f64(stream.rate())
            };
        }
        StreamKind::Audio => {
            if let Ok(a) = ctx.decoder().audio() {
                info.sample_rate = a.rate();
                info.channels = a.channels();
            }
        }
        _ => {}
    }
    info
}

/// Container format, duration and streams of a media file.
pub fn probe(path: impl AsRef<Path>) -> Result<MediaInfo> {
    let path = path.as_ref();
    let demuxer = Demuxer::open(path)?;
    let ictx = demuxer.input();
    let duration = ictx.duration();
    let duration_secs = if duration > 0 {
        duration as f64 / f64::from(ff::ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    Ok(MediaInfo {
        format: ictx.format().name().to_string(),
        duration_secs,
        streams: ictx.streams().map(|s| stream_info(&s)).collect(),
    })
}

/// Decodes the best video stream of a file to [`RgbFrame`]s, in presentation
/// order.
pub struct VideoReader {
    path: String,
    demuxer: Demuxer,
    stream_index: usize,
    time_base: Rational,
    decoder: ff::decoder::Video,
    to_rgb: convert::ToRgb,
    fps: f64,
    eof_sent: bool,
    decoded: frame::Video,
    /// The device asked for, and the one decoding.
    asked: VideoDevice,
    device: VideoDevice,
    /// Why the GPU asked for does not decode, when it does not.
    fallback: Option<String>,
    /// A frame decoded on the GPU, downloaded.
    downloaded: frame::Video,
    /// The decoding GPU's kernels, which make its frames RGB there;
    /// `None` where there are none (and `conversion` says why) or they
    /// failed.
    #[cfg(feature = "cuda")]
    on_gpu: Option<on_gpu::OnGpu>,
    /// Why the frames NVDEC decodes come down to be made RGB on the CPU,
    /// when they do.
    conversion: Option<String>,
    /// Told why, when reading falls back to the CPU after the stream was
    /// opened.
    on_fallback: Option<FallbackHook>,
    /// `decoded` holds a frame not handed out yet (the first a resumed
    /// reader found).
    held: bool,
    /// Where a reader reopened on the CPU would go on from: after the
    /// last frame handed out, or where the last seek went.
    resume: Resume,
    /// A test's stand-in for the decoding GPU failing on the next frame.
    #[cfg(test)]
    fail_next: bool,
}

/// Times this close are one frame's: far below any frame interval, far
/// above rounding.
const SAME_FRAME_SECS: f64 = 1e-4;

/// Where a reader reopened on the CPU goes on from (times in seconds).
#[derive(Debug, Clone, Copy)]
enum Resume {
    /// The first frame at or after this time.
    At(f64),
    /// The first frame after this time.
    After(f64),
    /// The first frame a seek to this time gives (its key frame's).
    Sought(f64),
}

/// What a [`VideoReader`] tells when it falls back to the CPU mid-stream.
type FallbackHook = Box<dyn Fn(&str) + Send>;

impl VideoReader {
    /// Opens `path` and its best video stream.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_on(VideoDevice::Cpu, path)
    }

    /// Opens `path` and its best video stream, to decode on `device`
    /// (NVDEC on a GPU; FFmpeg's software decoder where that GPU cannot,
    /// see [`VideoReader::fallback`]).
    pub fn open_on(device: VideoDevice, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let demuxer = Demuxer::open(path)?;
        let stream = demuxer
            .input()
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| anyhow!("{}: no video stream", path.display()))?;
        let info = stream_info(&stream);
        let stream_index = stream.index();
        let time_base = stream.time_base();
        let unsupported = |e: ff::Error| {
            anyhow!(
                "{}: unsupported video codec '{}': {e}",
                path.display(),
                info.codec
            )
        };
        let mut ctx =
            codec::context::Context::from_parameters(stream.parameters()).map_err(unsupported)?;
        let (decoding_on, fallback) = match device {
            VideoDevice::Cpu => (VideoDevice::Cpu, None),
            VideoDevice::Cuda(n) => match hw::attach_cuda(&mut ctx, n) {
                Ok(()) => (device, None),
                Err(e) => (VideoDevice::Cpu, Some(format!("NVDEC on {device}: {e:#}"))),
            },
        };
        if decoding_on == VideoDevice::Cpu {
            // NVDEC decodes on the GPU; frame threads would only queue
            // more surfaces there.
            ctx.set_threading(auto_threads());
        }
        let decoder = ctx.decoder().video().map_err(unsupported)?;
        #[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
        let (on_gpu, conversion) = Self::conversion_on(decoding_on);
        Ok(Self {
            path: path.display().to_string(),
            demuxer,
            stream_index,
            time_base,
            decoder,
            to_rgb: convert::ToRgb::default(),
            fps: info.fps,
            eof_sent: false,
            decoded: frame::Video::empty(),
            asked: device,
            device: decoding_on,
            fallback,
            downloaded: frame::Video::empty(),
            #[cfg(feature = "cuda")]
            on_gpu,
            conversion,
            on_fallback: None,
            held: false,
            resume: Resume::At(f64::NEG_INFINITY),
            #[cfg(test)]
            fail_next: false,
        })
    }

    /// The kernels that make NVDEC's frames RGB on `device`, or why its
    /// frames are made RGB on the CPU.
    #[cfg(feature = "cuda")]
    fn conversion_on(device: VideoDevice) -> (Option<on_gpu::OnGpu>, Option<String>) {
        match device {
            VideoDevice::Cpu => (None, None),
            VideoDevice::Cuda(n) => match hw::own_context(n) {
                Some(why) => (None, Some(why)),
                None => match on_gpu::OnGpu::open(n) {
                    Ok(kernels) => (Some(kernels), None),
                    Err(why) => (None, Some(format!("no kernels on {device}: {why}"))),
                },
            },
        }
    }

    #[cfg(not(feature = "cuda"))]
    fn conversion_on(device: VideoDevice) -> ((), Option<String>) {
        let why = match device {
            VideoDevice::Cpu => None,
            VideoDevice::Cuda(_) => Some("this build has no CUDA kernels (feature `cuda`)".into()),
        };
        ((), why)
    }

    /// Why the frames NVDEC decodes come down to be made RGB on the CPU
    /// (the kernels could not be had, or failed on a frame), when they do.
    pub fn conversion_fallback(&self) -> Option<&str> {
        self.conversion.as_deref()
    }

    /// Has `tell` told why, each time reading falls back to the CPU after
    /// the stream was opened: NVDEC setting up for the stream only at its
    /// first frame and failing, or the GPU's kernels failing on a frame.
    /// (What [`VideoReader::fallback`] and
    /// [`VideoReader::conversion_fallback`] say at opening is not told
    /// again.)
    pub fn on_fallback(&mut self, tell: impl Fn(&str) + Send + 'static) {
        self.on_fallback = Some(Box::new(tell));
    }

    /// Keeps `why` and tells it.
    fn fell_back(&self, why: &str) {
        if let Some(tell) = &self.on_fallback {
            tell(why);
        }
    }

    /// What reading the stream does to its colours, where it does more
    /// than convert them: HDR is tone mapped, BT.2020 brought into BT.709
    /// (from the stream's tags; a full-range stream is read as it is).
    pub fn colour_note(&self) -> Option<String> {
        let d = &self.decoder;
        let transfer = convert::transfer_of(
            d.color_transfer_characteristic(),
            d.color_primaries(),
            d.color_space(),
        )?;
        if d.color_range() == ff::util::color::Range::JPEG {
            return None;
        }
        Some(match transfer {
            kino_kernels::hdr::Transfer::Pq => "HDR (PQ, BT.2020) tone mapped to SDR BT.709".into(),
            kino_kernels::hdr::Transfer::Hlg => {
                "HDR (HLG, BT.2020) tone mapped to SDR BT.709".into()
            }
            kino_kernels::hdr::Transfer::Sdr => "BT.2020 colours brought into BT.709".into(),
        })
    }

    /// Where the frames are decoded: the device asked for, or the CPU
    /// where that GPU could not decode this stream.
    pub fn device(&self) -> VideoDevice {
        self.device
    }

    /// Why the GPU asked for does not decode this stream, when it does not.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.decoder.width()
    }

    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.decoder.height()
    }

    /// Frame rate (average, else nominal); 0 when the file does not say.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<RgbFrame>> {
        let Some((pts_secs, rgb)) = self.next_rgb()? else {
            return Ok(None);
        };
        let (width, height, data) = match rgb {
            Rgb::Host(width, height, data) => (width, height, data),
            #[cfg(feature = "cuda")]
            Rgb::Device(rgb) => match rgb.download() {
                Ok(frame) => (frame.width as u32, frame.height as u32, frame.data),
                Err(e) => {
                    // The frame is lost with its GPU: read it again.
                    let why = format!(
                        "{}: bringing a frame down from {} failed ({e}): the rest is decoded on \
                         the CPU",
                        self.path, self.device
                    );
                    self.reread_on_cpu_from(pts_secs, &why)?;
                    return self.next_frame();
                }
            },
        };
        Ok(Some(RgbFrame {
            width,
            height,
            pts_secs,
            data,
        }))
    }

    /// The next frame as a picture for a render node
    /// (`kino_cuda::node::NodeFrames::camera_over`), or `None` at the end
    /// of the stream: left on the GPU where NVDEC decoded it and the
    /// kernels made it RGB there (feature `cuda`), else in host memory.
    pub fn next_picture(&mut self) -> Result<Option<PictureAt>> {
        let Some((pts_secs, rgb)) = self.next_rgb()? else {
            return Ok(None);
        };
        let picture = match rgb {
            Rgb::Host(width, height, data) => {
                let frame = kino_kernels::interpolate::Frame {
                    width: width as usize,
                    height: height as usize,
                    data,
                };
                Picture::from_frame(&frame).map_err(|e| anyhow!("{}: {e}", self.path))?
            }
            #[cfg(feature = "cuda")]
            Rgb::Device(rgb) => Picture::on_device(rgb),
        };
        Ok(Some(PictureAt { pts_secs, picture }))
    }

    /// Goes back to the frame at `pts_secs` (one read already) and reads
    /// on from there on the CPU: the stream reopened for the software
    /// decoder, sought to the key frame before and decoded up to it. For a
    /// GPU that failed mid-stream, taking with it the frames it held (a
    /// picture a render node could not bring down): no frame is lost or
    /// repeated. `why` is kept ([`VideoReader::fallback`]) and told.
    pub fn reread_on_cpu_from(&mut self, pts_secs: f64, why: &str) -> Result<()> {
        self.resume_on_cpu(Resume::At(pts_secs), why)
    }

    /// The next frame decoded and made RGB, or `None` at the end. Where
    /// decoding on a GPU fails mid-stream (NVDEC, the kernels or a frame's
    /// download failing: a lost context fails them all), reading goes on on
    /// the CPU from the frame after the last one handed out, and says why;
    /// what fails there too is the error.
    fn next_rgb(&mut self) -> Result<Option<(f64, Rgb)>> {
        let next = match self.decode_rgb() {
            Err(e) if self.device != VideoDevice::Cpu => {
                let why = format!(
                    "decoding on {} failed mid-stream ({e:#}): the rest is decoded on the CPU",
                    self.device
                );
                self.resume_on_cpu(self.resume, &why)?;
                self.decode_rgb()
            }
            next => next,
        }?;
        if let Some((pts, _)) = &next {
            self.resume = Resume::After(*pts);
        }
        Ok(next)
    }

    /// The next frame (the one held, or the next decoded) made RGB.
    fn decode_rgb(&mut self) -> Result<Option<(f64, Rgb)>> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next) {
            bail!("{}: decoding failed (injected)", self.path);
        }
        if !std::mem::take(&mut self.held) && !self.decode()? {
            return Ok(None);
        }
        self.convert().map(Some)
    }

    /// Reopens the stream on the CPU and decodes up to `from`, which is
    /// held for the next read.
    fn resume_on_cpu(&mut self, from: Resume, why: &str) -> Result<()> {
        let mut cpu = Self::open_on(VideoDevice::Cpu, &self.path)?;
        let (Resume::At(secs) | Resume::After(secs) | Resume::Sought(secs)) = from;
        if secs > 0.0 {
            cpu.seek(secs)?;
        }
        while cpu.decode()? {
            let pts = cpu.decoded_secs();
            let reached = match from {
                Resume::At(secs) => pts >= secs - SAME_FRAME_SECS,
                Resume::After(secs) => pts > secs + SAME_FRAME_SECS,
                Resume::Sought(_) => true,
            };
            if reached {
                cpu.held = true;
                break;
            }
        }
        cpu.on_fallback = self.on_fallback.take();
        cpu.fallback = Some(why.to_owned());
        cpu.resume = self.resume;
        *self = cpu;
        self.fell_back(why);
        Ok(())
    }

    /// The decoded frame's time, in seconds.
    fn decoded_secs(&self) -> f64 {
        let pts = self.decoded.timestamp().or(self.decoded.pts()).unwrap_or(0);
        pts as f64 * rational_f64(self.time_base)
    }

    /// Decodes the next frame into `decoded`; `false` at the end of the
    /// stream.
    fn decode(&mut self) -> Result<bool> {
        loop {
            match self.decoder.receive_frame(&mut self.decoded) {
                Ok(()) => return Ok(true),
                Err(ff::Error::Eof) => return Ok(false),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => bail!("{}: video decoding failed: {e}", self.path),
            }
            if self.eof_sent {
                return Ok(false);
            }
            self.feed()?;
        }
    }

    /// Moves to a key frame before `secs`: the frames that follow start
    /// there, so a caller wanting `secs` exactly skips the earlier ones.
    ///
    /// It is the key frame at or before `secs` where that is an IDR
    /// picture (H.264 or HEVC), else the key frame before it: a key frame
    /// may be an I picture with a recovery point rather than an IDR (x264
    /// makes them at scene cuts), and FFmpeg's H.264 decoder, starting
    /// there, drops frames that follow it; starting one key frame earlier,
    /// it decodes through it and drops none that count.
    pub fn seek(&mut self, secs: f64) -> Result<()> {
        if secs > 0.0 {
            self.seek_key(secs)?;
            // An IDR picture needs nothing before it: decoding starts
            // there (after the peek, from its packet again).
            let idr = self.next_is_idr()?;
            self.seek_key(secs)?;
            if idr {
                self.resume = Resume::Sought(secs);
                return Ok(());
            }
            let key = if self.decode()? {
                self.decoded_secs()
            } else {
                secs
            };
            if key > SAME_FRAME_SECS {
                self.seek_key(key - SAME_FRAME_SECS)?;
                self.resume = Resume::Sought(secs);
                return Ok(());
            }
        }
        // From the start: reopening is exact where a seek to 0 may not be.
        let on_fallback = self.on_fallback.take();
        *self = Self::open_on(self.asked, &self.path)?;
        self.on_fallback = on_fallback;
        Ok(())
    }

    /// Whether the video stream's next packet is an IDR picture (read, so
    /// the caller seeks back to it).
    fn next_is_idr(&mut self) -> Result<bool> {
        let Some(codec) = idr::Codec::of(self.decoder.id()) else {
            return Ok(false);
        };
        let mut packet = Packet::empty();
        while self.demuxer.read(&mut packet)? {
            if packet.stream() == self.stream_index {
                return Ok(packet.data().is_some_and(|d| idr::is_idr(codec, d)));
            }
        }
        Ok(false)
    }

    /// Moves the demuxer to the key frame at or before `secs`.
    fn seek_key(&mut self, secs: f64) -> Result<()> {
        let ts = (secs * f64::from(ff::ffi::AV_TIME_BASE)) as i64;
        self.demuxer
            .seek_back_to(ts)
            .map_err(|e| anyhow!("{}: cannot seek to {secs:.3} s: {e}", self.path))?;
        self.decoder.flush();
        self.eof_sent = false;
        self.held = false;
        Ok(())
    }

    /// Sends the next packet of the video stream (or end of stream) to the
    /// decoder.
    fn feed(&mut self) -> Result<()> {
        let mut packet = Packet::empty();
        while self.demuxer.read(&mut packet)? {
            if packet.stream() == self.stream_index {
                return self
                    .decoder
                    .send_packet(&packet)
                    .map_err(|e| anyhow!("{}: corrupt video data: {e}", self.path));
            }
        }
        self.eof_sent = true;
        self.decoder
            .send_eof()
            .map_err(|e| anyhow!("{}: video decoding failed: {e}", self.path))
    }

    /// The decoded frame's time and its pixels made RGB: on the GPU that
    /// decoded it, where its kernels take the frame, else on the CPU.
    fn convert(&mut self) -> Result<(f64, Rgb)> {
        let pts_secs = self.decoded_secs();
        #[cfg(feature = "cuda")]
        if let Some(kernels) = &mut self.on_gpu {
            match kernels.convert(&self.decoded, &mut self.to_rgb) {
                Ok(Some(rgb)) => return Ok((pts_secs, Rgb::Device(rgb))),
                Ok(None) => {}
                Err(e) => {
                    let why = format!(
                        "making NVDEC's frames RGB on {} failed ({e}): they come down and are \
                         converted on the CPU",
                        self.device
                    );
                    self.fell_back(&why);
                    self.conversion = Some(why);
                    self.on_gpu = None;
                }
            }
        }
        let picture = if hw::on_device(&self.decoded) {
            hw::download(&self.decoded, &mut self.downloaded)
                .map_err(|e| anyhow!("{}: {e:#}", self.path))?;
            &self.downloaded
        } else {
            if self.device != VideoDevice::Cpu {
                // The device opened but NVDEC could not set up for this
                // stream, and FFmpeg went on in software.
                let why = format!(
                    "NVDEC on {}: could not decode this stream (a profile the GPU \
                     lacks, or no libnvcuvid.so.1 from the driver); video decoded on the CPU",
                    self.device
                );
                self.fell_back(&why);
                self.fallback = Some(why);
                self.device = VideoDevice::Cpu;
                self.conversion = None;
                #[cfg(feature = "cuda")]
                {
                    self.on_gpu = None;
                }
            }
            &self.decoded
        };
        let (w, h) = (picture.width(), picture.height());
        if w == 0 || h == 0 {
            bail!("{}: decoded a video frame of size {w}x{h}", self.path);
        }
        let data = self
            .to_rgb
            .convert(picture)
            .map_err(|e| anyhow!("{}: {e:#}", self.path))?;
        Ok((pts_secs, Rgb::Host(w, h, data)))
    }
}

/// A decoded frame made RGB24: width, height and tight rows in host
/// memory, or a picture on the GPU that decoded it.
enum Rgb {
    Host(u32, u32, Vec<u8>),
    #[cfg(feature = "cuda")]
    Device(kino_cuda::gpu::DeviceRgb),
}

/// A frame of a clip as a render node takes it ([`VideoReader::next_picture`]).
#[derive(Debug)]
pub struct PictureAt {
    /// Presentation time in seconds.
    pub pts_secs: f64,
    /// The pixels: in host memory, or on the GPU that decoded them.
    pub picture: Picture,
}

fn layout_for(channels: u16) -> ChannelLayout {
    ChannelLayout::default(i32::from(channels))
}

/// Decodes the best audio stream of a file to interleaved `f32` at
/// `sample_rate` Hz and `channels` channels (resampled and remixed by
/// swresample).
pub fn decode_audio(path: impl AsRef<Path>, sample_rate: u32, channels: u16) -> Result<Pcm> {
    let path = path.as_ref();
    if sample_rate == 0 || channels == 0 {
        bail!(
            "{}: cannot decode audio to {sample_rate} Hz, {channels} channels",
            path.display()
        );
    }
    let mut demuxer = Demuxer::open(path)?;
    let stream = demuxer
        .input()
        .streams()
        .best(media::Type::Audio)
        .ok_or_else(|| anyhow!("{}: no audio stream", path.display()))?;
    let info = stream_info(&stream);
    let stream_index = stream.index();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(|e| {
            anyhow!(
                "{}: unsupported audio codec '{}': {e}",
                path.display(),
                info.codec
            )
        })?;
    let out_fmt = Sample::F32(SampleType::Packed);
    let out_layout = layout_for(channels);
    let mut resampler: Option<(
        ff::software::resampling::Context,
        Sample,
        ChannelLayout,
        u32,
    )> = None;
    let mut samples: Vec<f32> = Vec::new();
    let mut decoded = frame::Audio::empty();
    let mut packet = Packet::empty();
    let mut eof = false;
    loop {
        // Drain the decoder.
        loop {
            match decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    if decoded.channel_layout().is_empty() {
                        let ch = decoded.channels();
                        decoded.set_channel_layout(layout_for(ch));
                    }
                    let (fmt, layout, rate) =
                        (decoded.format(), decoded.channel_layout(), decoded.rate());
                    let rebuild = !matches!(&resampler, Some((_, f, l, r)) if *f == fmt && *l == layout && *r == rate);
                    if rebuild {
                        if let Some((r, ..)) = resampler.as_mut() {
                            flush_resampler(r, channels, &mut samples, path)?;
                        }
                        let ctx = ff::software::resampling::Context::get(
                            fmt,
                            layout,
                            rate,
                            out_fmt,
                            out_layout,
                            sample_rate,
                        )
                        .map_err(|e| {
                            anyhow!("{}: cannot set up audio resampling: {e}", path.display())
                        })?;
                        resampler = Some((ctx, fmt, layout, rate));
                    }
                    let Some((r, ..)) = resampler.as_mut() else {
                        bail!("{}: no resampler", path.display());
                    };
                    let mut out = frame::Audio::empty();
                    r.run(&decoded, &mut out)
                        .map_err(|e| anyhow!("{}: audio resampling failed: {e}", path.display()))?;
                    append_packed(&out, channels, &mut samples);
                }
                Err(ff::Error::Eof) => {
                    if let Some((r, ..)) = resampler.as_mut() {
                        flush_resampler(r, channels, &mut samples, path)?;
                    }
                    return Ok(Pcm {
                        sample_rate,
                        channels,
                        samples,
                    });
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(e) => bail!("{}: audio decoding failed: {e}", path.display()),
            }
        }
        if eof {
            // The decoder reported EAGAIN after EOF: nothing more will come.
            if let Some((r, ..)) = resampler.as_mut() {
                flush_resampler(r, channels, &mut samples, path)?;
            }
            return Ok(Pcm {
                sample_rate,
                channels,
                samples,
            });
        }
        // Feed one packet of the stream.
        loop {
            if !demuxer.read(&mut packet)? {
                eof = true;
                decoder
                    .send_eof()
                    .map_err(|e| anyhow!("{}: audio decoding failed: {e}", path.display()))?;
                break;
            }
            if packet.stream() == stream_index {
                decoder
                    .send_packet(&packet)
                    .map_err(|e| anyhow!("{}: corrupt audio data: {e}", path.display()))?;
                break;
            }
        }
    }
}

fn append_packed(f: &frame::Audio, channels: u16, out: &mut Vec<f32>) {
    let n = f.samples() * usize::from(channels) * 4;
    if f.planes() == 0 {
        return;
    }
    let data = f.data(0);
    let bytes = &data[..n.min(data.len())];
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
    );
}

fn flush_resampler(
    r: &mut ff::software::resampling::Context,
    channels: u16,
    out: &mut Vec<f32>,
    path: &Path,
) -> Result<()> {
    let (fmt, layout) = (r.output().format, r.output().channel_layout);
    for _ in 0..64 {
        let mut f = frame::Audio::new(fmt, 4096, layout);
        r.flush(&mut f)
            .map_err(|e| anyhow!("{}: audio resampling failed: {e}", path.display()))?;
        if f.samples() == 0 {
            break;
        }
        append_packed(&f, channels, out);
    }
    Ok(())
}

/// An AAC encoder writing into an output stream.
struct AudioEncoder {
    encoder: encoder::Audio,
    stream_index: usize,
    stream_tb: Rational,
    channels: u16,
    frame_size: usize,
    pending: Vec<f32>,
    next_pts: i64,
}

impl AudioEncoder {
    fn add(
        octx: &mut format::context::Output,
        path: &Path,
        sample_rate: u32,
        channels: u16,
    ) -> Result<Self> {
        if sample_rate == 0 || channels == 0 {
            bail!(
                "{}: invalid audio format {sample_rate} Hz, {channels} channels",
                path.display()
            );
        }
        let codec = encoder::find_by_name("aac").ok_or_else(|| {
            anyhow!(
                "{}: the ffmpeg aac encoder is not available",
                path.display()
            )
        })?;
        let global = octx
            .format()
            .flags()
            .contains(format::flag::Flags::GLOBAL_HEADER);
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(|e| anyhow!("{}: cannot create aac encoder: {e}", path.display()))?;
        let layout = layout_for(channels);
        enc.set_rate(sample_rate as i32);
        enc.set_channel_layout(layout);
        enc.set_channels(i32::from(channels));
        enc.set_format(Sample::F32(SampleType::Planar));
        enc.set_bit_rate(AAC_BITRATE_PER_CHANNEL * usize::from(channels));
        enc.set_time_base((1, sample_rate as i32));
        if global {
            enc.set_flags(codec::flag::Flags::GLOBAL_HEADER);
        }
        let enc = enc.open_as(codec).map_err(|e| {
            anyhow!(
                "{}: cannot open aac encoder at {sample_rate} Hz, {channels} channels: {e}",
                path.display()
            )
        })?;
        let mut stream = octx
            .add_stream(codec)
            .map_err(|e| anyhow!("{}: cannot add audio stream: {e}", path.display()))?;
        stream.set_parameters(&enc);
        stream.set_time_base((1, sample_rate as i32));
        let stream_index = stream.index();
        let frame_size = (enc.frame_size() as usize).max(1);
        Ok(Self {
            encoder: enc,
            stream_index,
            stream_tb: Rational(1, sample_rate as i32),
            channels,
            frame_size,
            pending: Vec::new(),
            next_pts: 0,
        })
    }

    /// Call after `write_header`, which may change the stream time base.
    fn header_written(&mut self, octx: &format::context::Output) {
        if let Some(s) = octx.stream(self.stream_index) {
            self.stream_tb = s.time_base();
        }
    }

    fn push(
        &mut self,
        octx: &mut format::context::Output,
        path: &Path,
        samples: &[f32],
    ) -> Result<()> {
        self.pending.extend_from_slice(samples);
        let ch = usize::from(self.channels);
        let chunk = self.frame_size * ch;
        let mut start = 0;
        while self.pending.len() - start >= chunk {
            let end = start + chunk;
            let data: Vec<f32> = self.pending[start..end].to_vec();
            self.encode(octx, path, &data)?;
            start = end;
        }
        self.pending.drain(..start);
        Ok(())
    }

    fn encode(
        &mut self,
        octx: &mut format::context::Output,
        path: &Path,
        interleaved: &[f32],
    ) -> Result<()> {
        let ch = usize::from(self.channels);
        let n = interleaved.len() / ch;
        if n == 0 {
            return Ok(());
        }
        let mut f = frame::Audio::new(
            Sample::F32(SampleType::Planar),
            n,
            layout_for(self.channels),
        );
        f.set_rate(self.encoder.rate());
        for c in 0..ch {
            let plane = f.data_mut(c);
            for (i, dst) in plane.chunks_exact_mut(4).take(n).enumerate() {
                let v: f32 = interleaved.get(i * ch + c).copied().unwrap_or(0.0);
                dst.copy_from_slice(&v.to_ne_bytes());
            }
        }
        f.set_pts(Some(self.next_pts));
        self.next_pts += n as i64;
        self.encoder
            .send_frame(&f)
            .map_err(|e| anyhow!("{}: aac encoding failed: {e}", path.display()))?;
        self.drain(octx, path)
    }

    fn drain(&mut self, octx: &mut format::context::Output, path: &Path) -> Result<()> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.stream_index);
            packet.rescale_ts(self.encoder.time_base(), self.stream_tb);
            packet
                .write_interleaved(octx)
                .map_err(|e| anyhow!("{}: cannot write audio: {e}", path.display()))?;
        }
        Ok(())
    }

    fn finish(&mut self, octx: &mut format::context::Output, path: &Path) -> Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.encode(octx, path, &rest)?;
        self.encoder
            .send_eof()
            .map_err(|e| anyhow!("{}: aac encoding failed: {e}", path.display()))?;
        self.drain(octx, path)
    }
}

/// A joinable writer's audio: encoded from samples it is given, or copied
/// from an AAC file.
#[derive(Debug, Clone, Copy)]
enum AudioTrack<'a> {
    Encode { rate: u32, channels: u16 },
    Copy(&'a Path),
}

/// The audio track of an AAC file, copied into a writer's output packet by
/// packet.
struct AudioCopy {
    source: Demuxer,
    in_index: usize,
    in_tb: Rational,
    out_index: usize,
    out_tb: Rational,
    /// A packet read past the time copied so far, written next.
    held: Option<Packet>,
    ended: bool,
}

impl AudioCopy {
    fn add(octx: &mut format::context::Output, path: &Path, aac: &Path) -> Result<Self> {
        let source = Demuxer::open(aac)?;
        let (in_index, in_tb, params) = {
            let s = source
                .input()
                .streams()
                .best(media::Type::Audio)
                .ok_or_else(|| anyhow!("{}: no audio stream", aac.display()))?;
            (s.index(), s.time_base(), s.parameters())
        };
        if params.id() != codec::Id::AAC {
            bail!(
                "{}: its audio is {:?}, not AAC: encode it first",
                aac.display(),
                params.id()
            );
        }
        let mut stream = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(|e| anyhow!("{}: cannot add audio stream: {e}", path.display()))?;
        stream.set_parameters(params);
        stream.set_time_base(in_tb);
        Ok(Self {
            source,
            in_index,
            in_tb,
            out_index: stream.index(),
            out_tb: in_tb,
            held: None,
            ended: false,
        })
    }

    /// Call after `write_header`, which may change the stream time base.
    fn header_written(&mut self, octx: &format::context::Output) {
        if let Some(s) = octx.stream(self.out_index) {
            self.out_tb = s.time_base();
        }
    }

    fn copy_until(
        &mut self,
        octx: &mut format::context::Output,
        path: &Path,
        secs: f64,
    ) -> Result<()> {
        loop {
            let mut packet = match self.held.take() {
                Some(p) => p,
                None if self.ended => return Ok(()),
                None => {
                    let mut p = Packet::empty();
                    if !self.source.read(&mut p)? {
                        self.ended = true;
                        return Ok(());
                    }
                    if p.stream() != self.in_index {
                        continue;
                    }
                    p
                }
            };
            let start =
                packet.pts().or(packet.dts()).unwrap_or(0) as f64 * rational_f64(self.in_tb);
            if start >= secs {
                self.held = Some(packet);
                return Ok(());
            }
            packet.rescale_ts(self.in_tb, self.out_tb);
            packet.set_position(-1);
            packet.set_stream(self.out_index);
            packet
                .write_interleaved(octx)
                .map_err(|e| anyhow!("{}: cannot write audio: {e}", path.display()))?;
        }
    }
}

/// Encodes `pcm` as AAC (the settings of every video Kino writes) into an
/// MP4 audio file at `output`, for [`Mp4Options::copying_aac`]
/// to copy.
pub fn write_aac(pcm: &Pcm, output: impl AsRef<Path>) -> Result<()> {
    let output = output.as_ref();
    pcm.validate()
        .with_context(|| format!("audio for {}", output.display()))?;
    let mut octx = open_output(output)?;
    let mut audio = AudioEncoder::add(&mut octx, output, pcm.sample_rate, pcm.channels)?;
    octx.write_header()
        .map_err(|e| anyhow!("{}: cannot write mp4 header: {e}", output.display()))?;
    audio.header_written(&octx);
    audio.push(&mut octx, output, &pcm.samples)?;
    audio.finish(&mut octx, output)?;
    octx.write_trailer()
        .map_err(|e| anyhow!("{}: cannot finish mp4: {e}", output.display()))
}

fn open_output(path: &Path) -> Result<format::context::Output> {
    init()?;
    format::output_as(&path, "mp4")
        .map_err(|e| anyhow!("{}: cannot create mp4 file: {e}", path.display()))
}

/// What an [`Mp4Writer`] opens its encoder with: kept so that it can open
/// a fresh encoder, with the same parameter sets, after copying packets.
struct H264 {
    width: u32,
    height: u32,
    rate: Rational,
    global: bool,
    b_frames: bool,
    device: VideoDevice,
}

impl H264 {
    fn codec(&self, path: &Path) -> Result<ff::Codec> {
        let name = hw::h264_encoder(self.device);
        encoder::find_by_name(name).ok_or_else(|| {
            anyhow!(
                "{}: the {name} encoder is not available in this ffmpeg",
                path.display()
            )
        })
    }

    fn open(&self, path: &Path) -> Result<encoder::Video> {
        let codec = self.codec(path)?;
        let name = hw::h264_encoder(self.device);
        let mut ctx = codec::context::Context::new_with_codec(codec);
        ctx.set_threading(auto_threads());
        let mut enc = ctx
            .encoder()
            .video()
            .map_err(|e| anyhow!("{}: cannot create h264 encoder: {e}", path.display()))?;
        enc.set_width(self.width);
        enc.set_height(self.height);
        enc.set_format(Pixel::YUV420P);
        // The matrix and range the frames are converted with
        // (`kino_kernels::yuv`), said in the stream: players read an
        // untagged HD stream as BT.709, which would shift its colours.
        enc.set_colorspace(ff::util::color::Space::SMPTE170M);
        enc.set_color_range(ff::util::color::Range::MPEG);
        enc.set_time_base(self.rate.invert());
        enc.set_frame_rate(Some(self.rate));
        if self.global {
            enc.set_flags(codec::flag::Flags::GLOBAL_HEADER);
        }
        if let VideoDevice::Cuda(n) = self.device {
            hw::give_device(&mut enc, n)
                .map_err(|e| anyhow!("{}: cannot open {name} encoder: {e:#}", path.display()))?;
        }
        enc.open_as_with(codec, hw::h264_options(self.device, self.b_frames))
            .map_err(|e| anyhow!("{}: cannot open {name} encoder: {e}", path.display()))
    }

    /// Opens the encoder on the device asked for; where that is a GPU
    /// that cannot encode, opens libx264 instead and answers why.
    fn open_or_fallback(&mut self, path: &Path) -> Result<(encoder::Video, Option<String>)> {
        match self.open(path) {
            Ok(enc) => Ok((enc, None)),
            Err(e) if self.device != VideoDevice::Cpu => {
                let mut why = format!("NVENC on {}: {e:#}", self.device);
                if let Some(missing) = hw::nvenc_missing() {
                    why = format!("{why}; {missing}");
                }
                self.device = VideoDevice::Cpu;
                Ok((self.open(path)?, Some(why)))
            }
            Err(e) => Err(e),
        }
    }
}

/// Writes an MP4 with one H.264 video stream (libx264, yuv420p,
/// `preset=veryfast`, `crf=20`; or NVENC, when made [`Mp4Options::on`] a
/// GPU that has it) and optionally one AAC audio stream.
///
/// Frames are timed by their index (constant frame rate `fps`); audio
/// samples are timed by their count. Call [`Mp4Writer::finish`] to flush the
/// encoders and write the index; a writer dropped unfinished leaves an
/// unreadable file.
pub struct Mp4Writer {
    path: std::path::PathBuf,
    octx: format::context::Output,
    settings: H264,
    video: encoder::Video,
    /// Whether `video` has been sent frames since it was opened.
    frames_sent: bool,
    /// Whether `yuv` holds a frame written (for `repeat_frame`).
    converted: bool,
    video_index: usize,
    video_tb: Rational,
    video_stream_tb: Rational,
    yuv: frame::Video,
    width: u32,
    height: u32,
    frame_index: i64,
    audio: Option<AudioEncoder>,
    /// The AAC track copied in, when created with one.
    audio_copy: Option<AudioCopy>,
    /// Why the GPU asked for does not encode, when it does not.
    fallback: Option<String>,
    finished: bool,
}

/// How an [`Mp4Writer`] is made ([`Mp4Writer::options`]): the picture,
/// the device that encodes it, its audio, and whether pieces join it.
#[derive(Debug, Clone)]
#[must_use = "options do nothing until `create`"]
pub struct Mp4Options<'a> {
    width: u32,
    height: u32,
    fps: f64,
    device: VideoDevice,
    audio: Option<AudioTrack<'a>>,
    b_frames: bool,
}

impl<'a> Mp4Options<'a> {
    /// Encodes on `device`: NVENC on a GPU, libx264 where that GPU cannot
    /// ([`Mp4Writer::fallback`] says why). Pieces join without
    /// re-encoding only to a writer on the same kind of encoder
    /// ([`Mp4Writer::cannot_copy`] says so otherwise).
    pub fn on(self, device: VideoDevice) -> Self {
        Self { device, ..self }
    }

    /// An AAC track encoded from the interleaved samples, at `rate` with
    /// `channels`, that [`Mp4Writer::write_audio`] will receive.
    pub fn audio(self, rate: u32, channels: u16) -> Self {
        let audio = Some(AudioTrack::Encode { rate, channels });
        Self { audio, ..self }
    }

    /// The AAC track of `aac` (written by [`write_aac`]) copied in packet
    /// by packet as the video is written ([`Mp4Writer::copy_audio_until`]),
    /// so the soundtrack is encoded once, where it was made, not again
    /// here.
    pub fn copying_aac<'b>(self, aac: &'b Path) -> Mp4Options<'b> {
        Mp4Options {
            width: self.width,
            height: self.height,
            fps: self.fps,
            device: self.device,
            audio: Some(AudioTrack::Copy(aac)),
            b_frames: self.b_frames,
        }
    }

    /// No B-frames, so each piece's timestamps start at 0 and decode in
    /// order: a piece of a longer video, joined to the others by
    /// [`concat_copy`] without re-encoding, or a video into which whole
    /// runs of a [`Piece`]'s packets are copied between encoded frames
    /// ([`Mp4Writer::copy_frame`]).
    pub fn joinable(self) -> Self {
        Self {
            b_frames: false,
            ..self
        }
    }

    /// Creates `path` so.
    pub fn create(self, path: impl AsRef<Path>) -> Result<Mp4Writer> {
        Mp4Writer::create_with(
            self.device,
            path,
            (self.width, self.height, self.fps),
            self.audio,
            self.b_frames,
        )
    }
}

impl Mp4Writer {
    /// Creates `path` for libx264 (B-frames and all). `audio` is
    /// `(sample_rate, channels)` of the interleaved samples that
    /// [`Mp4Writer::write_audio`] will receive. [`Mp4Writer::options`] for
    /// the rest.
    pub fn create(
        path: impl AsRef<Path>,
        width: u32,
        height: u32,
        fps: f64,
        audio: Option<(u32, u16)>,
    ) -> Result<Self> {
        let options = Self::options(width, height, fps);
        match audio {
            Some((rate, channels)) => options.audio(rate, channels).create(path),
            None => options.create(path),
        }
    }

    /// A `width × height` video at `fps`, to make as [`Mp4Options`] says:
    /// by default libx264 on the CPU, no audio, B-frames allowed.
    pub fn options(width: u32, height: u32, fps: f64) -> Mp4Options<'static> {
        Mp4Options {
            width,
            height,
            fps,
            device: VideoDevice::Cpu,
            audio: None,
            b_frames: true,
        }
    }

    fn create_with(
        device: VideoDevice,
        path: impl AsRef<Path>,
        (width, height, fps): (u32, u32, f64),
        audio: Option<AudioTrack<'_>>,
        b_frames: bool,
    ) -> Result<Self> {
        let path = path.as_ref();
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            bail!(
                "{}: cannot encode {width}x{height} as yuv420p h264 (width and height must be even and non-zero)",
                path.display()
            );
        }
        if !(fps.is_finite() && fps > 0.0) {
            bail!("{}: invalid frame rate {fps}", path.display());
        }
        let mut octx = open_output(path)?;
        let rate = Rational::from(fps).reduce();
        let rate = if rate.numerator() > 0 && rate.denominator() > 0 {
            rate
        } else {
            Rational(30, 1)
        };
        let mut settings = H264 {
            width,
            height,
            rate,
            global: octx
                .format()
                .flags()
                .contains(format::flag::Flags::GLOBAL_HEADER),
            b_frames,
            device,
        };
        let (enc, fallback) = settings.open_or_fallback(path)?;
        let tb = rate.invert();
        let video_index = {
            let mut stream = octx
                .add_stream(settings.codec(path)?)
                .map_err(|e| anyhow!("{}: cannot add video stream: {e}", path.display()))?;
            stream.set_parameters(&enc);
            stream.set_time_base(tb);
            stream.set_avg_frame_rate(rate);
            stream.index()
        };
        let (mut audio, mut audio_copy) = match audio {
            Some(AudioTrack::Encode { rate, channels }) => (
                Some(AudioEncoder::add(&mut octx, path, rate, channels)?),
                None,
            ),
            Some(AudioTrack::Copy(aac)) => (None, Some(AudioCopy::add(&mut octx, path, aac)?)),
            None => (None, None),
        };
        octx.write_header()
            .map_err(|e| anyhow!("{}: cannot write mp4 header: {e}", path.display()))?;
        let video_stream_tb = octx
            .stream(video_index)
            .map(|s| s.time_base())
            .unwrap_or(tb);
        if let Some(a) = audio.as_mut() {
            a.header_written(&octx);
        }
        if let Some(a) = audio_copy.as_mut() {
            a.header_written(&octx);
        }
        Ok(Self {
            path: path.to_path_buf(),
            octx,
            settings,
            video: enc,
            frames_sent: false,
            converted: false,
            video_index,
            video_tb: tb,
            video_stream_tb,
            yuv: frame::Video::new(Pixel::YUV420P, width, height),
            width,
            height,
            frame_index: 0,
            audio,
            audio_copy,
            fallback,
            finished: false,
        })
    }

    /// Where the video is encoded: the device asked for, or the CPU where
    /// that GPU could not encode.
    pub fn device(&self) -> VideoDevice {
        self.settings.device
    }

    /// Why the GPU asked for does not encode this video (no such device,
    /// no NVENC in this FFmpeg, the driver refusing), when it does not.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Encodes one frame; it must have the writer's size.
    pub fn write_video_frame(&mut self, frame: &RgbFrame) -> Result<()> {
        self.encode(frame, false)
    }

    /// Encodes one frame as a key frame (an IDR picture): a reader can start
    /// there, and [`Mp4Writer::copy_frame`] can copy the video from there on.
    pub fn write_key_frame(&mut self, frame: &RgbFrame) -> Result<()> {
        self.encode(frame, true)
    }

    fn encode(&mut self, frame: &RgbFrame, key: bool) -> Result<()> {
        let (w, h) = (self.width as usize, self.height as usize);
        if frame.width != self.width || frame.height != self.height || frame.data.len() != w * h * 3
        {
            bail!(
                "{}: frame is {}x{} with {} bytes, expected {}x{} rgb24 ({} bytes)",
                self.path.display(),
                frame.width,
                frame.height,
                frame.data.len(),
                w,
                h,
                w * h * 3
            );
        }
        rgb24_to_yuv420p(&frame.data, w, h, &mut self.yuv);
        self.converted = true;
        self.send_converted(key)
    }

    /// Encodes the last frame given to [`Mp4Writer::write_video_frame`] or
    /// [`Mp4Writer::write_key_frame`] again, as the next frame (a key frame
    /// when `key`), without converting it again: a still shot's frames.
    pub fn repeat_frame(&mut self, key: bool) -> Result<()> {
        if !self.converted {
            bail!("{}: no frame was written to repeat", self.path.display());
        }
        self.send_converted(key)
    }

    fn send_converted(&mut self, key: bool) -> Result<()> {
        self.yuv.set_pts(Some(self.frame_index));
        self.yuv.set_kind(if key {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        self.frame_index += 1;
        self.frames_sent = true;
        self.video
            .send_frame(&self.yuv)
            .map_err(|e| anyhow!("{}: h264 encoding failed: {e}", self.path.display()))?;
        self.drain_video()
    }

    /// Why `piece`'s packets cannot be copied into this video, if they
    /// cannot: another codec, size or frame rate, B-frames, or other
    /// parameter sets (SPS/PPS) than this writer's encoder makes.
    pub fn cannot_copy(&self, piece: &Piece) -> Option<String> {
        let ours = self.octx.stream(self.video_index)?.parameters();
        piece.incompatibility(&ours, self.video_tb.invert())
    }

    /// Copies `piece`'s next frame as it is (its packet, retimed), and
    /// answers whether there was one. The encoder is flushed first if it
    /// has frames in flight (the next encoded frame starts a new IDR), so
    /// a run of copies must start at a key frame of the piece; the caller
    /// checks [`Mp4Writer::cannot_copy`] first.
    pub fn copy_frame(&mut self, piece: &mut Piece) -> Result<bool> {
        if self.frames_sent {
            self.video
                .send_eof()
                .map_err(|e| anyhow!("{}: h264 encoding failed: {e}", self.path.display()))?;
            self.drain_video()?;
            self.video = self.settings.open(&self.path)?;
            self.frames_sent = false;
        }
        let Some(mut packet) = piece.next_annex_b()? else {
            return Ok(false);
        };
        packet.set_pts(Some(self.frame_index));
        packet.set_dts(Some(self.frame_index));
        packet.set_duration(1);
        packet.set_position(-1);
        packet.set_stream(self.video_index);
        packet.rescale_ts(self.video_tb, self.video_stream_tb);
        self.frame_index += 1;
        packet
            .write_interleaved(&mut self.octx)
            .map_err(|e| anyhow!("{}: cannot write video: {e}", self.path.display()))?;
        Ok(true)
    }

    /// Encodes interleaved samples (any count; buffered to whole AAC frames).
    pub fn write_audio(&mut self, samples: &[f32]) -> Result<()> {
        let Some(a) = self.audio.as_mut() else {
            bail!(
                "{}: this writer was created without an audio stream",
                self.path.display()
            );
        };
        a.push(&mut self.octx, &self.path, samples)
    }

    /// Copies the AAC track's packets that start before `secs` (call it
    /// as the video advances, so the file interleaves).
    pub fn copy_audio_until(&mut self, secs: f64) -> Result<()> {
        let Some(a) = self.audio_copy.as_mut() else {
            bail!(
                "{}: this writer was created without an AAC track to copy",
                self.path.display()
            );
        };
        a.copy_until(&mut self.octx, &self.path, secs)
    }

    fn drain_video(&mut self) -> Result<()> {
        let mut packet = Packet::empty();
        while self.video.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.video_index);
            packet.rescale_ts(self.video_tb, self.video_stream_tb);
            packet
                .write_interleaved(&mut self.octx)
                .map_err(|e| anyhow!("{}: cannot write video: {e}", self.path.display()))?;
        }
        Ok(())
    }

    /// Flushes the encoders and writes the MP4 index.
    pub fn finish(mut self) -> Result<()> {
        self.finished = true;
        self.video
            .send_eof()
            .map_err(|e| anyhow!("{}: h264 encoding failed: {e}", self.path.display()))?;
        self.drain_video()?;
        if let Some(a) = self.audio.as_mut() {
            a.finish(&mut self.octx, &self.path)?;
        }
        if let Some(a) = self.audio_copy.as_mut() {
            a.copy_until(&mut self.octx, &self.path, f64::INFINITY)?;
        }
        self.octx
            .write_trailer()
            .map_err(|e| anyhow!("{}: cannot finish mp4: {e}", self.path.display()))
    }
}

/// The native rate and channels of a file's best audio stream, if it has one.
fn audio_format(path: &Path) -> Result<Option<(u32, u16)>> {
    Ok(probe(path)?
        .audio()
        .map(|a| (a.sample_rate.max(1), a.channels.max(1))))
}

/// Cuts `[start_secs, end_secs)` of `input` into an MP4 at `output`.
///
/// Re-encodes (H.264 + AAC), so the cut is frame-exact: the output holds
/// exactly the frames whose timestamps fall in the range, and the audio
/// samples of the same range.
pub fn cut(
    input: impl AsRef<Path>,
    start_secs: f64,
    end_secs: f64,
    output: impl AsRef<Path>,
) -> Result<()> {
    let (input, output) = (input.as_ref(), output.as_ref());
    if !(start_secs >= 0.0 && end_secs > start_secs) {
        bail!(
            "{}: invalid cut range {start_secs}..{end_secs} s",
            input.display()
        );
    }
    let mut reader = VideoReader::open(input)?;
    let fps = if reader.fps() > 0.0 {
        reader.fps()
    } else {
        25.0
    };
    let audio_fmt = audio_format(input)?;
    let mut writer = Mp4Writer::create(output, reader.width(), reader.height(), fps, audio_fmt)?;
    let half = 0.5 / fps;
    let mut first_pts: Option<f64> = None;
    let mut frames = 0usize;
    while let Some(f) = reader.next_frame()? {
        if f.pts_secs + half < start_secs {
            continue;
        }
        if f.pts_secs + half >= end_secs {
            break;
        }
        first_pts.get_or_insert(f.pts_secs);
        writer.write_video_frame(&f)?;
        frames += 1;
    }
    if frames == 0 {
        bail!(
            "{}: no video frames in {start_secs}..{end_secs} s",
            input.display()
        );
    }
    if let Some((sr, ch)) = audio_fmt {
        let pcm = decode_audio(input, sr, ch)?;
        let a_start = first_pts.unwrap_or(start_secs).max(0.0);
        let from = (a_start * f64::from(sr)).round() as usize * usize::from(ch);
        let len = (frames as f64 / fps * f64::from(sr)).round() as usize * usize::from(ch);
        let from = from.min(pcm.samples.len());
        let to = (from + len).min(pcm.samples.len());
        writer.write_audio(&pcm.samples[from..to])?;
    }
    writer.finish()
}

/// Joins `inputs` end to end into an MP4 at `output`.
///
/// Re-encodes (H.264 + AAC): all inputs must have the first input's frame
/// size; the output uses the first input's frame rate and audio format. Each
/// input's audio is padded with silence or trimmed to its video length to
/// keep sync; if any input lacks audio, the output has none.
pub fn concat(inputs: &[impl AsRef<Path>], output: impl AsRef<Path>) -> Result<()> {
    let output = output.as_ref();
    let Some(first) = inputs.first() else {
        bail!("{}: nothing to concatenate", output.display());
    };
    let first = VideoReader::open(first.as_ref())?;
    let (w, h) = (first.width(), first.height());
    let fps = if first.fps() > 0.0 { first.fps() } else { 25.0 };
    drop(first);
    let mut audio_fmt = audio_format(inputs[0].as_ref())?;
    for i in inputs {
        if audio_format(i.as_ref())?.is_none() {
            audio_fmt = None;
        }
    }
    let mut writer = Mp4Writer::create(output, w, h, fps, audio_fmt)?;
    for input in inputs {
        let input = input.as_ref();
        let mut reader = VideoReader::open(input)?;
        let mut frames = 0usize;
        while let Some(f) = reader.next_frame()? {
            if f.width != w || f.height != h {
                bail!(
                    "{}: frame size {}x{} differs from the first input's {w}x{h}",
                    input.display(),
                    f.width,
                    f.height
                );
            }
            writer.write_video_frame(&f)?;
            frames += 1;
        }
        if let Some((sr, ch)) = audio_fmt {
            let mut pcm = decode_audio(input, sr, ch)?;
            let len = (frames as f64 / fps * f64::from(sr)).round() as usize * usize::from(ch);
            pcm.samples.resize(len, 0.0);
            writer.write_audio(&pcm.samples)?;
        }
    }
    writer.finish()
}

/// Joins video-only pieces made [`Mp4Options::joinable`] (same size,
/// rate and encoder settings) end to end into `output`, copying their
/// packets: nothing is decoded or encoded again.
pub fn concat_copy(inputs: &[impl AsRef<Path>], output: impl AsRef<Path>) -> Result<()> {
    let output = output.as_ref();
    let Some(first) = inputs.first() else {
        bail!("{}: nothing to join", output.display());
    };
    let (params, tb) = {
        let demuxer = Demuxer::open(first.as_ref())?;
        let s = demuxer
            .input()
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| anyhow!("{}: no video stream", first.as_ref().display()))?;
        (s.parameters(), s.time_base())
    };
    let mut octx = open_output(output)?;
    let out_index = {
        let mut s = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(|e| anyhow!("{}: cannot add video stream: {e}", output.display()))?;
        s.set_parameters(params);
        s.set_time_base(tb);
        s.index()
    };
    octx.write_header()
        .map_err(|e| anyhow!("{}: cannot write mp4 header: {e}", output.display()))?;
    let out_tb = octx.stream(out_index).map(|s| s.time_base()).unwrap_or(tb);
    // Where the next piece starts, in the output's time base.
    let mut offset: i64 = 0;
    for input in inputs {
        let input = input.as_ref();
        let mut demuxer = Demuxer::open(input)?;
        let (index, in_tb) = {
            let s = demuxer
                .input()
                .streams()
                .best(media::Type::Video)
                .ok_or_else(|| anyhow!("{}: no video stream", input.display()))?;
            (s.index(), s.time_base())
        };
        let mut end = offset;
        let mut packet = Packet::empty();
        while demuxer.read(&mut packet)? {
            if packet.stream() != index {
                continue;
            }
            packet.rescale_ts(in_tb, out_tb);
            let duration = packet.duration().max(1);
            let (pts, dts) = (packet.pts().unwrap_or(0), packet.dts().unwrap_or(0));
            packet.set_pts(Some(pts + offset));
            packet.set_dts(Some(dts + offset));
            end = end.max(pts + offset + duration);
            packet.set_position(-1);
            packet.set_stream(out_index);
            packet
                .write_interleaved(&mut octx)
                .map_err(|e| anyhow!("{}: cannot write video: {e}", output.display()))?;
        }
        offset = end;
    }
    octx.write_trailer()
        .map_err(|e| anyhow!("{}: cannot finish mp4: {e}", output.display()))
}

/// Replaces the audio of `video_in` with the audio of `audio_in` (a WAV or
/// any media file with an audio stream), writing an MP4 at `output`.
///
/// The video stream is copied packet by packet (not re-encoded); the audio is
/// decoded at its native rate/channels and encoded as AAC.
pub fn mux_audio(
    video_in: impl AsRef<Path>,
    audio_in: impl AsRef<Path>,
    output: impl AsRef<Path>,
) -> Result<()> {
    let audio_in = audio_in.as_ref();
    let (sr, ch) = audio_format(audio_in)?
        .ok_or_else(|| anyhow!("{}: no audio stream", audio_in.display()))?;
    let pcm = decode_audio(audio_in, sr, ch)?;
    mux_audio_pcm(video_in, &pcm, output)
}

/// As [`mux_audio`], with the new audio given as [`Pcm`].
pub fn mux_audio_pcm(
    video_in: impl AsRef<Path>,
    pcm: &Pcm,
    output: impl AsRef<Path>,
) -> Result<()> {
    let (video_in, output) = (video_in.as_ref(), output.as_ref());
    pcm.validate()
        .with_context(|| format!("audio for {}", output.display()))?;
    let mut demuxer = Demuxer::open(video_in)?;
    let (vin_index, vin_tb, params) = {
        let s = demuxer
            .input()
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| anyhow!("{}: no video stream", video_in.display()))?;
        (s.index(), s.time_base(), s.parameters())
    };
    let mut octx = open_output(output)?;
    let vout_index = {
        let mut s = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(|e| anyhow!("{}: cannot add video stream: {e}", output.display()))?;
        s.set_parameters(params);
        s.set_time_base(vin_tb);
        s.index()
    };
    let mut audio = AudioEncoder::add(&mut octx, output, pcm.sample_rate, pcm.channels)?;
    octx.write_header()
        .map_err(|e| anyhow!("{}: cannot write mp4 header: {e}", output.display()))?;
    audio.header_written(&octx);
    let vout_tb = octx
        .stream(vout_index)
        .map(|s| s.time_base())
        .unwrap_or(vin_tb);
    let ch = usize::from(pcm.channels);
    let sr = f64::from(pcm.sample_rate);
    let mut audio_pos = 0usize; // samples (not frames) handed to the encoder
    let mut packet = Packet::empty();
    while demuxer.read(&mut packet)? {
        if packet.stream() != vin_index {
            continue;
        }
        // Keep the audio about one second ahead of the video being copied.
        let t = packet.dts().or(packet.pts()).unwrap_or(0) as f64 * rational_f64(vin_tb);
        let want = (((t + 1.0) * sr) as usize * ch).min(pcm.samples.len());
        if want > audio_pos {
            audio.push(&mut octx, output, &pcm.samples[audio_pos..want])?;
            audio_pos = want;
        }
        packet.rescale_ts(vin_tb, vout_tb);
        packet.set_position(-1);
        packet.set_stream(vout_index);
        packet
            .write_interleaved(&mut octx)
            .map_err(|e| anyhow!("{}: cannot write video: {e}", output.display()))?;
    }
    audio.push(&mut octx, output, &pcm.samples[audio_pos..])?;
    audio.finish(&mut octx, output)?;
    octx.write_trailer()
        .map_err(|e| anyhow!("{}: cannot finish mp4: {e}", output.display()))
}
