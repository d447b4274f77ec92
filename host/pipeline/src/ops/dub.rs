//! Dub ops: audio out of the video, translation, speech per line, the
//! voice-over mix, and the mux back onto the untouched video.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_kernels::dub::{self as dubk, VoiceLine};
use kino_kernels::mix::Ducker;
use kino_kernels::speech::{self, Voice};
use kino_kernels::wav::{self, Pcm};

use super::{OpCx, OpError, checked, plugin_answer, write_json};
use kino_media as media;
use kino_runtime::answers;
use kino_runtime::types::Segment;

/// The rate the dub mixes at.
const MIX_RATE: u32 = 48_000;

/// Integrated loudness of a finished dub, LUFS (streaming platforms' -16).
const DUB_LUFS: f64 = -16.0;

pub(super) fn extract_audio(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let video = cx.file(0)?;
    let info = media::probe(video).context("reading the video")?;
    if info.audio().is_none() {
        bail!("the video has no audio track to dub over");
    }
    let pcm = media::decode_audio(video, MIX_RATE, 2)?;
    let path = dir.join("original.wav");
    wav::write_wav(&path, &pcm)?;
    Ok(path)
}

pub(super) async fn translate(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let segments: Vec<Segment> = cx.json(0)?;
    let target = cx.text(1)?.to_owned();
    let source = match cx.inputs.get(2) {
        Some(super::Input::Text(t)) => t.clone(),
        // The language a `spoken-language` stage detected.
        Some(super::Input::File(_)) => cx.json::<String>(2)?,
        _ => cx.param("source", "en".to_owned())?,
    };
    let plugin = cx.plugin()?;
    let translator = cx
        .runtime
        .translator(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let batch = plugin_answer(
        "asking the batch size",
        translator.max_batch_size().await.map(Ok),
    )?;
    let batch = usize::try_from(batch.clamp(1, 256)).unwrap_or(1);
    let mut translated = Vec::with_capacity(segments.len());
    for chunk in segments.chunks(batch) {
        let input = chunk.to_vec();
        let what = format!("translating {source} -> {target}");
        let out = plugin_answer(&what, translator.translate(&source, &target, &input).await)?;
        let out = checked(plugin, &what, out, |out| answers::translation(&input, out))?;
        translated.extend(out.into_iter().map(|t| t.segment));
    }
    Ok(write_json(dir, "translated.json", &translated)?)
}

/// The degraded translation: the source text, untouched.
pub(super) fn untranslated(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let segments: Vec<Segment> = cx.json(0)?;
    write_json(dir, "translated.json", &segments)
}

pub(super) fn speak_line(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let (_, segment): (usize, Segment) = cx.item()?;
    let language = cx.text(0)?;
    let window_ms = segment.end_ms.saturating_sub(segment.start_ms);
    let rate: u32 = cx.param("rate-wpm", 175)?;
    let pcm = if segment.text.trim().is_empty() || window_ms == 0 {
        silence(window_ms, MIX_RATE)
    } else {
        let spoken = match super::speech::voice(&cx.models, language)? {
            Some((voice, installed)) => {
                let samples = voice.synthesize(&segment.text, 1.0).with_context(|| {
                    format!("speaking segment {} with {}", segment.id, installed.id())
                })?;
                Pcm {
                    sample_rate: voice.sample_rate(),
                    channels: 1,
                    samples,
                }
            }
            None => {
                cx.note(format!(
                    "no neural voice for `{language}` is installed: spoken with espeak-ng"
                ));
                let voice = Voice::for_language(language).with_rate(rate);
                speech::synthesize(&segment.text, &voice)
                    .with_context(|| format!("speaking segment {}", segment.id))?
                    .pcm
            }
        };
        dubk::fit_to_window(&spoken, window_ms, MIX_RATE)
            .with_context(|| format!("fitting segment {} into {window_ms} ms", segment.id))?
    };
    let path = dir.join("line.wav");
    wav::write_wav(&path, &pcm)?;
    Ok(path)
}

pub(super) fn voice_over(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let original = wav::read_wav(cx.file(0)?)?;
    let lines = cx.files(1)?;
    let segments: Vec<Segment> = cx.json(2)?;
    if lines.len() != segments.len() {
        bail!(
            "{} spoken lines for {} segments",
            lines.len(),
            segments.len()
        );
    }
    let lines = lines
        .iter()
        .zip(&segments)
        .map(|(path, s)| {
            Ok(VoiceLine {
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                pcm: wav::read_wav(path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let voice = dubk::voice_track(&lines, original.frames(), original.sample_rate)?;
    let mixed = dubk::voice_over(&original, &voice, &Ducker::default(), DUB_LUFS)?;
    let path = dir.join("mix.wav");
    wav::write_wav(&path, &mixed)?;
    Ok(path)
}

pub(super) fn mux_audio(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let pcm = wav::read_wav(cx.file(1)?)?;
    let path = dir.join("muxed.mp4");
    media::mux_audio_pcm(cx.file(0)?, &pcm, &path)?;
    Ok(path)
}

/// `ms` of mono silence.
pub(super) fn silence(ms: u32, sample_rate: u32) -> Pcm {
    let frames = (u64::from(ms) * u64::from(sample_rate) / 1000) as usize;
    Pcm {
        sample_rate,
        channels: 1,
        samples: vec![0.0; frames],
    }
}
