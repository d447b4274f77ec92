//! Native kernels as ops (`op = "native:NAME"`): an operator's trusted
//! shared library ([`kino_native`]) run over one input, the media decoded and
//! encoded here so the kernel only sees host-owned buffers: RGB24 frames,
//! interleaved `f32` sample blocks, or a JSON document.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_kernels::wav::{self, Pcm};
use kino_media::{Mp4Writer, RgbFrame};
use kino_native::{AUDIO_BLOCK_FRAMES, Format, KernelHandle, Kind};

use super::{Input, OpCx, OpError};

/// Runs the stage's native kernel over its one input. A kernel's own error
/// fails the node with the kernel's message (and goes to the fallback
/// policy); a bad input fails it as the host's error.
pub(super) fn run(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let kernel = cx
        .native
        .as_ref()
        .context("this op needs a native kernel")?;
    let input = cx.file(0)?;
    let params = serde_json::Value::Object(cx.params.clone()).to_string();
    match kernel.info().input {
        Kind::Video => video(cx, kernel, input, &params, dir),
        Kind::Audio => audio(kernel, input, &params, dir),
        Kind::Json => json(kernel, input, &params, dir),
    }
}

/// A kernel's failure: its message, for the fallback policy to judge.
fn failed(e: kino_native::KernelError) -> OpError {
    OpError {
        message: e.to_string(),
        retryable: false,
        plugin_outcome: Some("native_error"),
    }
}

fn video(
    cx: &OpCx,
    kernel: &KernelHandle,
    input: &Path,
    params: &str,
    dir: &Path,
) -> Result<PathBuf, OpError> {
    let mut reader = cx.video_reader(input)?;
    let (width, height) = (reader.width(), reader.height());
    let fps = if reader.fps() > 0.0 {
        reader.fps()
    } else {
        25.0
    };
    let mut instance = kernel
        .start(&Format::Video { width, height, fps }, params)
        .map_err(failed)?;
    let silent = dir.join("frames.mp4");
    let mut writer = Mp4Writer::options(width, height, fps)
        .on(cx.video_device())
        .create(&silent)?;
    cx.coded("encoded", writer.device(), writer.fallback());
    let mut out = vec![0u8; width as usize * height as usize * 3];
    let mut index = 0u64;
    while let Some(frame) = reader.next_frame()? {
        instance
            .video_frame(index, &frame.data, &mut out)
            .map_err(failed)?;
        writer.write_video_frame(&RgbFrame {
            width,
            height,
            pts_secs: frame.pts_secs,
            data: std::mem::take(&mut out),
        })?;
        out = frame.data;
        index += 1;
    }
    writer.finish()?;
    if index == 0 {
        return Err(anyhow::anyhow!("the video has no frames").into());
    }
    // The sound goes with the pictures, untouched by a video kernel.
    if kino_media::probe(input)?.audio().is_none() {
        return Ok(silent);
    }
    let path = dir.join("video.mp4");
    kino_media::mux_audio(&silent, input, &path)?;
    Ok(path)
}

fn audio(
    kernel: &KernelHandle,
    input: &Path,
    params: &str,
    dir: &Path,
) -> Result<PathBuf, OpError> {
    let info = kino_media::probe(input)?;
    let Some(stream) = info.audio() else {
        return Err(anyhow::anyhow!("the input has no audio").into());
    };
    let (sample_rate, channels) = (stream.sample_rate.max(1), stream.channels.max(1));
    let pcm = kino_media::decode_audio(input, sample_rate, channels)?;
    let mut instance = kernel
        .start(
            &Format::Audio {
                sample_rate,
                channels,
            },
            params,
        )
        .map_err(failed)?;
    let block = AUDIO_BLOCK_FRAMES * usize::from(channels);
    let mut samples = vec![0f32; pcm.samples.len()];
    for (i, (from, to)) in pcm
        .samples
        .chunks(block)
        .zip(samples.chunks_mut(block))
        .enumerate()
    {
        let first_frame = (i * AUDIO_BLOCK_FRAMES) as u64;
        instance
            .audio_block(first_frame, from, to)
            .map_err(failed)?;
    }
    if let Some(bad) = samples.iter().position(|s| !s.is_finite()) {
        return Err(OpError {
            message: format!(
                "native kernel `{}` wrote a sample that is not a number (at {bad})",
                kernel.info().name
            ),
            retryable: false,
            plugin_outcome: Some("native_error"),
        });
    }
    let path = dir.join("audio.wav");
    wav::write_wav(
        &path,
        &Pcm {
            sample_rate,
            channels,
            samples,
        },
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn json(kernel: &KernelHandle, input: &Path, params: &str, dir: &Path) -> Result<PathBuf, OpError> {
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
        return Err(anyhow::anyhow!(
            "native kernel `{}` reads JSON, and its input is not JSON",
            kernel.info().name
        )
        .into());
    }
    let mut instance = kernel.start(&Format::Json, params).map_err(failed)?;
    let out = instance.json(&bytes).map_err(failed)?;
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&out) {
        return Err(OpError {
            message: format!(
                "native kernel `{}` answered with something that is not JSON: {e}",
                kernel.info().name
            ),
            retryable: false,
            plugin_outcome: Some("native_error"),
        });
    }
    let path = dir.join("output.json");
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What a native stage delivers when the fallback policy degrades it: its
/// input, untouched (a denoiser skipped, not a job lost).
pub(super) fn passed_through(cx: &OpCx) -> Result<PathBuf> {
    match cx.inputs.first() {
        Some(Input::File(artifact)) => Ok(artifact.path.clone()),
        _ => bail!("a native stage reads one file"),
    }
}
