//! Kernel tools on plain files, behind `kino lut apply`, `kino interpolate`,
//! `kino stretch`, `kino loudness`, `kino normalize`, `kino speak` and `kino probe`.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use kino_cuda::Pool;
use kino_cuda::grading::{Graded, Grading};
use kino_cuda::pool::Tally;
use kino_kernels::lut::CubeLut;
use kino_kernels::wav::{Pcm, SampleFormat, read_wav, read_wav_format, write_wav_as};
use kino_kernels::{interpolate, mix, speech, stretch};

use indicatif::ProgressBar;
use kino_media as media;
use kino_media::{Mp4Writer, RgbFrame, VideoDevice, VideoReader};

/// How long the stretched audio should be.
#[derive(Debug, Clone, Copy)]
pub enum StretchTarget {
    /// Output duration / input duration.
    Ratio(f64),
    /// An exact output duration, in seconds.
    Duration(f64),
}

/// Time-stretches a WAV file without changing its pitch; returns the output
/// duration. The output stores its samples as `format`, else as the input does.
pub fn stretch_file(
    input: &Path,
    output: &Path,
    target: StretchTarget,
    format: Option<SampleFormat>,
) -> Result<f64> {
    let (pcm, input_format) =
        read_wav_format(input).with_context(|| format!("reading {}", input.display()))?;
    let frames = match target {
        StretchTarget::Ratio(ratio) if ratio.is_finite() && ratio > 0.0 => {
            (pcm.frames() as f64 * ratio).round() as usize
        }
        StretchTarget::Duration(secs) if secs.is_finite() && secs > 0.0 => {
            (secs * f64::from(pcm.sample_rate)).round() as usize
        }
        other => bail!("stretch target must be positive and finite, not {other:?}"),
    };
    let samples = stretch::stretch_interleaved_to_len(
        &pcm.samples,
        usize::from(pcm.channels),
        pcm.sample_rate,
        frames,
    )
    .with_context(|| format!("stretching {}", input.display()))?;
    let out = Pcm { samples, ..pcm };
    write_wav_as(output, &out, format.unwrap_or(input_format))
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(out.duration_secs())
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a WAV file.
pub fn loudness_of(input: &Path) -> Result<(f64, f64)> {
    let pcm = read_wav(input).with_context(|| format!("reading {}", input.display()))?;
    let lufs =
        mix::integrated_loudness(&pcm).with_context(|| format!("measuring {}", input.display()))?;
    let peak =
        mix::true_peak_dbtp(&pcm).with_context(|| format!("measuring {}", input.display()))?;
    Ok((lufs, peak))
}

/// Normalises a WAV file to a target loudness (LUFS) with its true peak at
/// most a ceiling (dBTP). The output stores its samples as `format`, else as
/// the input does.
pub fn normalize_file(
    input: &Path,
    output: &Path,
    (target_lufs, max_true_peak): (f64, f64),
    format: Option<SampleFormat>,
    progress: &ProgressBar,
) -> Result<mix::LoudnessReport> {
    progress.set_message(format!("reading {}", input.display()));
    let (mut pcm, input_format) =
        read_wav_format(input).with_context(|| format!("reading {}", input.display()))?;
    progress.set_message("measuring and normalising");
    let report = mix::normalize_loudness(&mut pcm, target_lufs, max_true_peak)
        .with_context(|| format!("normalising {}", input.display()))?;
    progress.set_message(format!("writing {}", output.display()));
    write_wav_as(output, &pcm, format.unwrap_or(input_format))
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(report)
}

/// Speaks `text` in `language` with espeak-ng into a WAV file with samples
/// stored as given; returns its duration.
pub fn speak_to_file(
    text: &str,
    language: &str,
    rate_wpm: u32,
    (output, format): (&Path, SampleFormat),
) -> Result<f64> {
    let voice = speech::Voice::for_language(language).with_rate(rate_wpm);
    let speech = speech::synthesize(text, &voice)?;
    write_wav_as(output, &speech.pcm, format)
        .with_context(|| format!("writing {}", output.display()))?;
    Ok(speech.duration.as_secs_f64())
}

/// Writes `frames` of `input`'s video, with `input`'s audio re-encoded beside
/// them, to `output`: the shared tail of the video tools below. `progress`
/// counts the frames written against the number `input`'s duration implies.
fn write_with_audio(
    input: &Path,
    output: &Path,
    (width, height, fps): (u32, u32, f64),
    device: VideoDevice,
    progress: &ProgressBar,
    mut frames: impl FnMut(&mut dyn FnMut(&RgbFrame) -> Result<()>) -> Result<()>,
) -> Result<usize> {
    let info = media::probe(input)?;
    progress.set_length((info.duration_secs * fps).round().max(0.0) as u64);
    let audio = match info.audio() {
        Some(stream) => Some(media::decode_audio(
            input,
            stream.sample_rate,
            stream.channels,
        )?),
        None => None,
    };
    let options = Mp4Writer::options(width, height, fps).on(device);
    let mut writer = match &audio {
        Some(pcm) => options
            .audio(pcm.sample_rate, pcm.channels)
            .create(output)?,
        None => options.create(output)?,
    };
    report_video("encode", writer.device(), writer.fallback());
    let mut count = 0;
    frames(&mut |frame| {
        count += 1;
        progress.inc(1);
        writer.write_video_frame(frame)
    })?;
    progress.set_message("writing the audio");
    if let Some(pcm) = &audio {
        writer.write_audio(&pcm.samples)?;
    }
    writer.finish()?;
    Ok(count)
}

/// Applies a `.cube` LUT to every frame of a video, on the device the pool
/// gives the run (on a GPU, a few frames in flight: `kino_cuda::grading`);
/// the audio is kept. Returns the number of frames written and where they
/// were graded.
pub fn lut_apply_file(
    lut: &Path,
    input: &Path,
    output: &Path,
    devices: &Arc<Pool>,
    progress: &ProgressBar,
) -> Result<(usize, Tally)> {
    let lut = CubeLut::read(lut).with_context(|| format!("reading LUT {}", lut.display()))?;
    let device = video_device(devices);
    let mut reader = VideoReader::open_on(device, input)?;
    report_video("decode", reader.device(), reader.fallback());
    let shape = (reader.width(), reader.height(), reader.fps());
    let mut tally = Tally::default();
    let frames = write_with_audio(input, output, shape, device, progress, |write| {
        // The frames on the GPU, oldest first, less their pixels.
        let mut times: VecDeque<(u32, u32, f64)> = VecDeque::new();
        let mut written = |graded: Vec<Graded>, times: &mut VecDeque<_>| -> Result<()> {
            for (data, ran) in graded {
                let (width, height, pts_secs) = times
                    .pop_front()
                    .context("a graded frame that was not pushed")?;
                tally.record(&ran);
                write(&RgbFrame {
                    width,
                    height,
                    pts_secs,
                    data,
                })?;
            }
            Ok(())
        };
        let mut run: Option<Grading<'_>> = None;
        while let Some(frame) = reader.next_frame()? {
            // A stream that changes size mid-way starts a run of the new size.
            if run
                .as_ref()
                .is_some_and(|r| r.frame_bytes() != frame.data.len())
            {
                let ended = run.take().map(Grading::finish).transpose()?;
                written(ended.unwrap_or_default(), &mut times)?;
            }
            let run = run.get_or_insert_with(|| Grading::new(devices, &lut, frame.data.len()));
            times.push_back((frame.width, frame.height, frame.pts_secs));
            written(run.push(frame.data)?, &mut times)?;
        }
        if let Some(run) = run {
            written(run.finish()?, &mut times)?;
        }
        Ok(())
    })?;
    Ok((frames, tally))
}

/// Where a tool's video is encoded and decoded: NVENC and NVDEC on the
/// pool's GPU, libx264 and software where it has none.
fn video_device(devices: &Pool) -> VideoDevice {
    devices
        .video_gpu()
        .map_or(VideoDevice::Cpu, VideoDevice::Cuda)
}

/// Says on stderr where a GPU was asked to `what` the video, and where it
/// could not, why.
fn report_video(what: &str, device: VideoDevice, fallback: Option<&str>) {
    match fallback {
        Some(why) => eprintln!("{why}; the video's {what} runs on the CPU"),
        None if device != VideoDevice::Cpu => eprintln!("video {what} on {device}"),
        None => {}
    }
}

/// How to raise a video's frame rate.
#[derive(Debug, Clone, Copy)]
pub enum FrameRateTarget {
    /// Multiply the frame rate by this factor.
    Factor(u32),
    /// Reach this frame rate.
    Fps(f64),
}

/// Raises a video's frame rate with optical-flow interpolation (a scene cut
/// repeats the nearer frame instead of morphing); the audio is kept. Each
/// pair's flow and new frames are worked out on the device the pool gives.
/// Returns the number of frames written and where the pairs ran.
pub fn interpolate_file(
    input: &Path,
    output: &Path,
    target: FrameRateTarget,
    devices: &Pool,
    progress: &ProgressBar,
) -> Result<(usize, Tally)> {
    let device = video_device(devices);
    let mut reader = VideoReader::open_on(device, input)?;
    report_video("decode", reader.device(), reader.fallback());
    let from_fps = reader.fps();
    let to_fps = match target {
        FrameRateTarget::Factor(factor) if factor >= 1 => from_fps * f64::from(factor),
        FrameRateTarget::Fps(fps) if fps.is_finite() && fps > 0.0 => fps,
        other => bail!("frame-rate target must be positive, not {other:?}"),
    };
    if !(from_fps.is_finite() && from_fps > 0.0) {
        bail!("{}: unknown source frame rate", input.display());
    }
    let (width, height) = (reader.width(), reader.height());
    let params = interpolate::Params::default();
    let to_frame = |f: RgbFrame| {
        let frame = f.into_kernel();
        frame
            .validate()
            .map(|()| frame)
            .map_err(anyhow::Error::from)
    };
    let mut tally = Tally::default();
    let shape = (width, height, to_fps);
    let frames = write_with_audio(input, output, shape, device, progress, |write| {
        let Some(first) = reader.next_frame()? else {
            bail!("{}: no video frames", input.display());
        };
        let mut a = to_frame(first)?;
        let mut a_index = 0u64;
        let mut out_index = 0u64;
        while let Some(next) = reader.next_frame()? {
            let b = to_frame(next)?;
            // Output frames whose time falls in [a, b): t = position between
            // them (a copy of `a` where that is next to nothing).
            let mut times = Vec::new();
            loop {
                let source_pos = (out_index + times.len() as u64) as f64 * from_fps / to_fps;
                if source_pos >= (a_index + 1) as f64 {
                    break;
                }
                let t = (source_pos - a_index as f64) as f32;
                times.push(if t <= 1e-4 { 0.0 } else { t });
            }
            let (frames, ran) = kino_cuda::placed::interpolate(devices, (&a, &b), &params, &times)?;
            if let Some(ran) = ran {
                tally.record(&ran);
            }
            for frame in frames {
                write(&RgbFrame::from_kernel(frame, out_index as f64 / to_fps))?;
                out_index += 1;
            }
            a = b;
            a_index += 1;
        }
        // The last source frame closes the video.
        write(&RgbFrame::from_kernel(a, out_index as f64 / to_fps))
    })?;
    Ok((frames, tally))
}

/// What `kino probe` prints about a media file.
pub fn describe(input: &Path) -> Result<String> {
    let info = media::probe(input)?;
    let mut text = format!(
        "{}: {} container, {:.3} s\n",
        input.display(),
        info.format,
        info.duration_secs
    );
    for s in &info.streams {
        let detail = match s.kind {
            media::StreamKind::Video => format!("{}x{} @ {:.3} fps", s.width, s.height, s.fps),
            media::StreamKind::Audio => format!("{} Hz, {} ch", s.sample_rate, s.channels),
            _ => String::new(),
        };
        text.push_str(&format!(
            "  #{} {:?} {} {detail}\n",
            s.index, s.kind, s.codec
        ));
    }
    Ok(text)
}
