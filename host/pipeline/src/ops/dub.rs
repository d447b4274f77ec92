//! Dub ops: audio out of the video, translation, speech per line, the
//! voice-over mix, and the mux back onto the untouched video.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_kernels::dub::{self as dubk, VoiceLine};
use kino_kernels::mix::Ducker;
use kino_kernels::speech::{self, Voice};
use kino_kernels::wav::{self, Pcm};

use super::{OpCx, OpError, checked, clone, plugin_answer, write_json};
use kino_media as media;
use kino_runtime::MediaSink;
use kino_runtime::answers;
use kino_runtime::backend_types::SpeechRequest;
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
        // Who says it is the source's to say, whatever the plugin answered:
        // lines are spoken (and voices cloned) by speaker.
        translated.extend(out.into_iter().zip(chunk).map(|(t, s)| Segment {
            speaker: s.speaker.clone(),
            ..t.segment
        }));
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
    let rate: u32 = cx.param("rate-wpm", 175)?;
    if is_silent(&segment) {
        return write_line(dir, &segment, None);
    }
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
    write_line(dir, &segment, Some(&spoken))
}

/// The most audio a speech plugin may write for one line: minutes of
/// lossless audio, far past any subtitle's length.
const MAX_LINE_BYTES: u64 = 64 << 20;

/// One line spoken by the tenant's speech plugin: the voice named by input
/// 2 (one of the tenant's cloned voices, else the backend's own id, else
/// the plugin's default), the audio written to a sink the host lends, read
/// back whatever its format and fitted to the segment's window.
pub(super) async fn speak_line_remote(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let plugin = cx.plugin()?;
    let (_, segment): (usize, Segment) = cx.item()?;
    if is_silent(&segment) {
        return Ok(write_line(dir, &segment, None)?);
    }
    let voice_id = match cx.inputs.get(1) {
        Some(super::Input::Text(name)) if name.trim() == clone::CLONE => {
            // The speaker's clone; one with too little speech to clone
            // speaks in the plugin's default voice.
            let clones: clone::Clones = match cx.inputs.get(2) {
                Some(_) => cx.json(2)?,
                None => clone::Clones::new(),
            };
            clones
                .get(clone::speaker_of(&segment))
                .cloned()
                .unwrap_or_default()
        }
        Some(super::Input::Text(name)) if !name.trim().is_empty() => {
            voice_id(cx, &plugin.id, name.trim()).await?
        }
        _ => String::new(),
    };
    let request = SpeechRequest {
        text: segment.text.clone(),
        voice_id,
        language: cx.text(0)?.to_owned(),
        rate: 1.0,
    };
    let sink = MediaSink::new(dir.join("spoken"), MAX_LINE_BYTES);
    let speech = cx
        .runtime
        .speech(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let _ = cx
        .remote(
            async || speech.synthesize(&request, &sink, &cx.key).await,
            |ticket| {
                let (speech, sink) = (&speech, &sink);
                async move { speech.check(&ticket, sink).await }
            },
        )
        .await?;
    if sink.written() == 0 {
        return Err(OpError::bad_answer(format!(
            "{}: segment {} was answered with no audio",
            plugin.id, segment.id
        )));
    }
    let spoken = media::decode_audio(sink.path(), MIX_RATE, 1).map_err(|e| {
        OpError::bad_answer(format!(
            "{}: the audio for segment {} ({}, {} bytes) cannot be read: {e:#}",
            plugin.id,
            segment.id,
            sink.content_type()
                .unwrap_or_else(|| "no content type".into()),
            sink.written()
        ))
    })?;
    Ok(write_line(dir, &segment, Some(&spoken))?)
}

/// The backend's id for the voice `name`: the tenant's cloned voice of that
/// name (made by this plugin's backend), else `name` itself as the
/// backend's own id.
async fn voice_id(cx: &OpCx, plugin_id: &str, name: &str) -> Result<String, OpError> {
    let plugin_name = plugin_id.split_once('@').map_or(plugin_id, |(n, _)| n);
    let Some(stored) = cx.store.voice(&cx.tenant, name).await? else {
        if cx
            .store
            .voice_of_another_tenant(&cx.tenant, plugin_name, name)
            .await?
        {
            return Err(OpError {
                message: format!("voice `{name}` is another tenant's cloned voice"),
                retryable: false,
                plugin_outcome: None,
            });
        }
        return Ok(name.to_owned());
    };
    if stored.plugin != plugin_name {
        return Err(OpError {
            message: format!(
                "voice `{name}` was made with {}, not {plugin_name}: bind that plugin to the speech slot, or name another voice",
                stored.plugin
            ),
            retryable: false,
            plugin_outcome: None,
        });
    }
    Ok(stored.voice_id)
}

/// Whether a segment is spoken as silence: no text, or no time to say it in.
fn is_silent(segment: &Segment) -> bool {
    segment.text.trim().is_empty() || segment.end_ms <= segment.start_ms
}

/// Writes a segment's line: `spoken` fitted to its window (time-stretched,
/// padded), or silence as long as the window.
fn write_line(dir: &Path, segment: &Segment, spoken: Option<&Pcm>) -> Result<PathBuf> {
    let window_ms = segment.end_ms.saturating_sub(segment.start_ms);
    let pcm = match spoken {
        Some(spoken) => dubk::fit_to_window(spoken, window_ms, MIX_RATE)
            .with_context(|| format!("fitting segment {} into {window_ms} ms", segment.id))?,
        None => silence(window_ms, MIX_RATE),
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
