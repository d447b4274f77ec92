//! Lip-sync ops: a video's speakers (or singers) made to mouth an audio
//! track by the tenant's lipsync plugin. The dub syncs its whole video to
//! its mix; a music video syncs each scene to the track's span under it.
//! Unbound, the host's own lip-sync model does it when the model
//! repository has one (Wav2Lip-class, ONNX); else (and for an ad, always)
//! the video passes through as it is.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kino_kernels::mel::wav2lip;
use kino_kernels::wav::{self, Pcm};
use kino_media as media;
use kino_models::{Format, Kind, Models};
use kino_onnx::LipSync;
use kino_runtime::MediaSink;
use kino_runtime::types::BriefMode;

use super::edit::ScenePlan;
use super::placed;
use super::{OpCx, OpError};

/// The most a lipsync plugin may write: a long video at a high bitrate.
const MAX_SYNCED_BYTES: u64 = 4 << 30;

/// `video` synced to `audio` by the tenant's lipsync plugin: both lent to
/// it as streams, its answer (at once or as a remote job whose ticket the
/// store keeps) checked to be a video. Answers the delivered file.
async fn synced_by_plugin(
    cx: &OpCx,
    video: &Path,
    audio: &Path,
    dir: &Path,
) -> Result<PathBuf, OpError> {
    let plugin = cx.plugin()?;
    let lend = |path: &Path, content_type: &str, name: &str| {
        kino_runtime::MediaFile::new(path, content_type)
            .map(|m| m.with_file_name(name))
            .with_context(|| format!("lending {name}"))
    };
    let video = lend(video, "video/mp4", "video.mp4")?;
    let audio = lend(audio, "audio/wav", "audio.wav")?;
    let sink = MediaSink::new(dir.join("from-backend"), MAX_SYNCED_BYTES);
    let lipsync = cx
        .runtime
        .lipsync(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let _ = cx
        .remote(
            async || lipsync.submit(&video, &audio, &sink, &cx.key).await,
            |ticket| {
                let (lipsync, sink) = (&lipsync, &sink);
                async move { lipsync.check(&ticket, sink).await }
            },
        )
        .await?;
    let info = media::probe(sink.path()).map_err(|e| not_a_video(cx, &sink, format!("{e:#}")))?;
    if info.video().is_none() {
        return Err(not_a_video(cx, &sink, "it has no video stream".into()));
    }
    Ok(sink.path().to_owned())
}

fn not_a_video(cx: &OpCx, sink: &MediaSink, why: String) -> OpError {
    let plugin = cx.plugin.as_ref().map_or("the plugin", |p| p.id.as_str());
    OpError::bad_answer(format!(
        "{plugin}: what it delivered ({} bytes) is not a video: {why}",
        sink.written()
    ))
}

/// The dub's video lip-synced by the tenant's lipsync plugin, then put
/// under the job's own audio: whatever the backend did to the sound, the
/// mix is the dub's.
pub(super) async fn lipsync_remote(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let audio_path = cx.file(1)?;
    let delivered = synced_by_plugin(cx, cx.file(0)?, audio_path, dir).await?;
    let pcm = wav::read_wav(audio_path).context("reading the audio to sync to")?;
    let path = dir.join("synced.mp4");
    media::mux_audio_pcm(&delivered, &pcm, &path).map_err(|e| {
        OpError::bad_answer(format!(
            "{}: what it delivered is not a video: {e:#}",
            cx.plugin.as_ref().map_or("the plugin", |p| p.id.as_str())
        ))
    })?;
    Ok(path)
}

/// The host's lip-sync model: the first ONNX `lipsync` model of the
/// repository by name (a folder with `face.onnx` and `lipsync.onnx`, see
/// `kino_onnx::LipSync`), if there is one.
pub(crate) fn host_model(models: &Models) -> Option<String> {
    models.repository().first_of(Kind::Lipsync, Format::Onnx)
}

/// Frames read, synced and written at a time.
const FRAMES_AT_ONCE: usize = 16;

/// `video` lip-synced to `audio` by the host's lip-sync model, written as a
/// video-only piece at `out`; `None` when the repository has no such model.
/// Frames with no face pass through as they are; the events say how many.
fn synced_by_host(cx: &OpCx, video: &Path, audio: &Path, out: &Path) -> Result<Option<()>> {
    let Some(name) = host_model(&cx.models) else {
        return Ok(None);
    };
    super::speech::runtime(&cx.models)?;
    let (model, installed) = cx.models.load(&name, |m| {
        let (face, lips) = (m.file("face.onnx")?, m.file("lipsync.onnx")?);
        // Its weights and as much again for a batch's activations.
        let bytes = m.size().saturating_mul(2);
        let what = format!("the lip-sync model `{}`", m.id());
        placed::load(
            &cx.devices,
            &what,
            bytes,
            placed::ONNX_RUNTIME,
            &|n| cx.note(n),
            |gpu| Ok(LipSync::load_on(&face, &lips, gpu)?),
        )
    })?;
    let pcm = media::decode_audio(audio, wav2lip::SAMPLE_RATE, 1)
        .context("reading the audio to sync to")?;
    let mel = wav2lip::mel(&pcm.samples);
    let mut reader = cx
        .video_reader(video)
        .context("reading the video to sync")?;
    let fps = if reader.fps() > 0.0 {
        reader.fps()
    } else {
        25.0
    };
    let mut writer = cx.piece_writer(out, (reader.width(), reader.height()), fps)?;
    let (mut total, mut found) = (0usize, 0usize);
    loop {
        let mut frames = Vec::with_capacity(FRAMES_AT_ONCE);
        while frames.len() < FRAMES_AT_ONCE
            && let Some(f) = reader.next_frame()?
        {
            frames.push(f.into_kernel());
        }
        if frames.is_empty() {
            break;
        }
        let faces = model.sync(&mut frames, total, fps, &mel)?;
        found += faces.iter().flatten().count();
        for f in frames {
            writer.write_video_frame(&media::RgbFrame::from_kernel(f, total as f64 / fps))?;
            total += 1;
        }
    }
    writer.finish()?;
    cx.note(format!(
        "lip-synced by the host's model {}: a face in {found} of {total} frames (the others as they were)",
        installed.id()
    ));
    Ok(Some(()))
}

/// The video lip-synced by the host's model under the dub's mix, or, with
/// none installed, as it is; either said in the job's events.
pub(super) fn unsynced(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let picture = dir.join("picture.mp4");
    if synced_by_host(cx, cx.file(0)?, cx.file(1)?, &picture)?.is_some() {
        let pcm = wav::read_wav(cx.file(1)?).context("reading the dub's mix")?;
        let path = dir.join("synced.mp4");
        media::mux_audio_pcm(&picture, &pcm, &path)?;
        return Ok(path);
    }
    cx.note(
        "no lipsync plugin is bound to this slot and no lip-sync model is installed: the video is not lip-synced"
            .into(),
    );
    let path = dir.join("unsynced.mp4");
    std::fs::copy(cx.file(0)?, &path).context("copying the video")?;
    Ok(path)
}

/// Where a music video's scene plays in its track, ms (start, length):
/// after the previous scenes' durations, as they add up. `None` for an ad,
/// whose scenes have no one to sync.
fn scene_span(cx: &OpCx) -> Result<Option<(u32, u32)>> {
    let plan: ScenePlan = cx.json(2)?;
    let (index, _): (usize, serde_json::Value) = cx.item()?;
    let shot = plan
        .shots
        .get(index)
        .with_context(|| format!("scene {index} is not in the plan"))?;
    if shot.brief.mode != BriefMode::MusicVideo {
        return Ok(None);
    }
    let start = plan.shots[..index]
        .iter()
        .map(|s| s.scene.duration_ms)
        .sum();
    Ok(Some((start, shot.scene.duration_ms)))
}

/// `length` ms of `pcm` from `start` ms (shorter where the track ends).
fn span(pcm: &Pcm, (start, length): (u32, u32)) -> Pcm {
    let ch = usize::from(pcm.channels);
    let at = |ms: u32| (u64::from(ms) * u64::from(pcm.sample_rate) / 1000) as usize * ch;
    let from = at(start).min(pcm.samples.len());
    let to = at(start.saturating_add(length)).min(pcm.samples.len());
    Pcm {
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        samples: pcm.samples[from..to].to_vec(),
    }
}

/// A music video's scene lip-synced to the track's span under it by the
/// tenant's lipsync plugin; the answer must keep the scene's frame size and
/// rate (the compose joins scenes frame by frame). An ad's scene passes
/// through: nobody in it sings.
pub(super) async fn lipsync_scene_remote(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let Some(at) = scene_span(cx)? else {
        return Ok(scene_as_is(cx, dir)?);
    };
    let bed = wav::read_wav(cx.file(1)?).context("reading the music bed")?;
    let audio = dir.join("span.wav");
    wav::write_wav(&audio, &span(&bed, at)).context("writing the scene's span of the bed")?;
    let scene = cx.file(0)?;
    let delivered = synced_by_plugin(cx, scene, &audio, dir).await?;
    let (want, got) = (Shape::of(scene)?, Shape::of(&delivered)?);
    if let Some(why) = got.unlike(&want) {
        return Err(OpError::bad_answer(format!(
            "{}: it delivered {why}",
            cx.plugin()?.id
        )));
    }
    Ok(delivered)
}

/// What the compose needs alike in every scene: frame size and rate, and
/// enough frames.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    width: u32,
    height: u32,
    fps: f64,
    secs: f64,
}

impl Shape {
    fn of(video: &Path) -> Result<Self> {
        let info = media::probe(video)?;
        let v = info.video().context("no video stream")?;
        Ok(Self {
            width: v.width,
            height: v.height,
            fps: v.fps,
            secs: info.duration_secs,
        })
    }

    /// How this falls short of `scene`, in words; `None` if it does not.
    fn unlike(&self, scene: &Shape) -> Option<String> {
        let frame = 1.0 / scene.fps.max(1.0);
        let what = format!(
            "{}x{} at {:.2} fps, {:.2} s, for a {}x{} scene at {:.2} fps, {:.2} s",
            self.width,
            self.height,
            self.fps,
            self.secs,
            scene.width,
            scene.height,
            scene.fps,
            scene.secs
        );
        let alike = (self.width, self.height) == (scene.width, scene.height)
            && (self.fps - scene.fps).abs() <= 0.01
            && self.secs + frame + 0.01 >= scene.secs;
        (!alike).then_some(what)
    }
}

/// A scene as it was rendered: an ad's always, a music video's when no
/// lipsync plugin runs (said in the job's events).
pub(super) fn scene_as_is(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    if cx.plugin.is_none()
        && let Some(at) = scene_span(cx)?
    {
        let bed = wav::read_wav(cx.file(1)?).context("reading the music bed")?;
        let audio = dir.join("span.wav");
        wav::write_wav(&audio, &span(&bed, at)).context("writing the scene's span of the bed")?;
        let path = dir.join("synced.mp4");
        if synced_by_host(cx, cx.file(0)?, &audio, &path)?.is_some() {
            return Ok(path);
        }
        cx.note(
            "no lipsync plugin ran and no lip-sync model is installed: the scene is not lip-synced"
                .into(),
        );
    }
    let path = dir.join("scene.mp4");
    std::fs::copy(cx.file(0)?, &path).context("copying the scene")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_cut_from_its_start_for_its_length_and_stops_at_the_end() {
        // Stereo at 1 kHz, each frame's samples its index: 10 s.
        let pcm = Pcm {
            sample_rate: 1000,
            channels: 2,
            samples: (0..10_000).flat_map(|i| [i as f32, -(i as f32)]).collect(),
        };
        let cut = span(&pcm, (2500, 1500));
        assert_eq!(cut.samples.len(), 2 * 1500);
        assert_eq!(&cut.samples[..2], &[2500.0, -2500.0]);
        assert_eq!(cut.samples[cut.samples.len() - 2], 3999.0);
        let tail = span(&pcm, (9000, 3000));
        assert_eq!(tail.samples.len(), 2 * 1000, "the track ends at 10 s");
        assert!(span(&pcm, (12_000, 1000)).samples.is_empty());
    }

    #[test]
    fn a_delivered_scene_must_match_the_rendered_one() {
        let scene = Shape {
            width: 320,
            height: 180,
            fps: 24.0,
            secs: 3.0,
        };
        assert_eq!(scene.unlike(&scene), None);
        let longer = Shape { secs: 4.0, ..scene };
        assert_eq!(longer.unlike(&scene), None, "the compose cuts what is past");
        let a_frame_short = Shape {
            secs: 3.0 - 1.0 / 24.0,
            ..scene
        };
        assert_eq!(a_frame_short.unlike(&scene), None);
        for bad in [
            Shape { secs: 2.0, ..scene },
            Shape { fps: 30.0, ..scene },
            Shape {
                width: 640,
                ..scene
            },
        ] {
            let why = bad.unlike(&scene).expect("unlike");
            assert!(
                why.contains("for a 320x180 scene at 24.00 fps, 3.00 s"),
                "{why}"
            );
        }
    }
}
