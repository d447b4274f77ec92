//! The dub's `voices` stage: with `voice=clone`, each speaker of the source
//! (by the transcript's speaker labels, one speaker when it has none) is
//! cloned by the bound speech plugin from what they say in the original
//! audio, and every line is then spoken in its own speaker's voice.
//!
//! The clones are the job's, not the tenant's named voices: the stage's
//! output (speaker → the backend's voice id) is cached like any other, so
//! the same source dubbed again clones nobody twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kino_kernels::wav::{self, Pcm};
use kino_runtime::MediaFile;
use kino_runtime::types::Segment;

use super::{OpCx, OpError, plugin_answer, write_json};

/// The `voice` that asks for the speakers' own voices.
pub const CLONE: &str = "clone";

/// The most of one speaker's speech sent to be cloned, ms: backends want a
/// minute or two, and more only costs upload time.
const MAX_MS_PER_SPEAKER: u32 = 120_000;

/// Less speech than this is not cloned, ms: the speaker's lines keep the
/// plugin's default voice.
const MIN_MS_PER_SPEAKER: u32 = 1_000;

/// Speaker → the backend's id for their cloned voice.
pub type Clones = BTreeMap<String, String>;

/// The speaker a segment is cloned under.
pub fn speaker_of(segment: &Segment) -> &str {
    match segment.speaker.trim() {
        "" => "speaker",
        named => named,
    }
}

/// Whether the job's `voice` (input 3) asks for clones.
fn wants_clones(cx: &OpCx) -> Result<bool> {
    Ok(cx.text(2)?.trim() == CLONE)
}

/// Each speaker's speech in the original audio, in order, as one mono track
/// of at most [`MAX_MS_PER_SPEAKER`].
fn speech_by_speaker(original: &Pcm, segments: &[Segment]) -> BTreeMap<String, Pcm> {
    let ch = usize::from(original.channels.max(1));
    let frame_at = |ms: u32| (u64::from(ms) * u64::from(original.sample_rate) / 1000) as usize;
    let frames = original.samples.len() / ch;
    let most = frame_at(MAX_MS_PER_SPEAKER);
    let mut tracks: BTreeMap<String, Pcm> = BTreeMap::new();
    for segment in segments {
        let track = tracks
            .entry(speaker_of(segment).to_owned())
            .or_insert_with(|| Pcm {
                sample_rate: original.sample_rate,
                channels: 1,
                samples: Vec::new(),
            });
        let from = frame_at(segment.start_ms).min(frames);
        let to = frame_at(segment.end_ms).min(frames);
        for frame in original.samples[from * ch..to * ch].chunks_exact(ch) {
            if track.samples.len() >= most {
                break;
            }
            track.samples.push(frame.iter().sum::<f32>() / ch as f32);
        }
    }
    tracks
}

/// With `voice=clone` and a speech plugin bound: each speaker cloned from
/// their speech (segments, input 1; the original audio, input 2).
/// Otherwise no clones, and no call.
pub(super) async fn clone_voices_remote(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let mut clones = Clones::new();
    if !wants_clones(cx)? {
        return Ok(write_json(dir, "voices.json", &clones)?);
    }
    let plugin = cx.plugin()?;
    let segments: Vec<Segment> = cx.json(0)?;
    let original = wav::read_wav(cx.file(1)?).context("reading the original audio")?;
    let speech = cx
        .runtime
        .speech(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    for (i, (speaker, pcm)) in speech_by_speaker(&original, &segments)
        .into_iter()
        .enumerate()
    {
        let ms = (pcm.samples.len() as u64 * 1000 / u64::from(pcm.sample_rate.max(1))) as u32;
        if ms < MIN_MS_PER_SPEAKER {
            cx.note(format!(
                "{speaker} says {ms} ms in the source, too little to clone: their lines keep {}'s default voice",
                plugin.id
            ));
            continue;
        }
        let path = dir.join(format!("speaker-{i}.wav"));
        wav::write_wav_pcm16(&path, &pcm).context("writing a speaker's speech")?;
        let sample = MediaFile::new(&path, "audio/wav")
            .context("lending a speaker's speech")?
            .with_file_name(&format!("speaker-{}.wav", i + 1));
        // The backend's name for it says whose and which job's it is.
        let name = format!("{speaker} (kino {})", &cx.key[..cx.key.len().min(12)]);
        let voice = plugin_answer(
            &format!("cloning {speaker}'s voice"),
            speech.create_voice(&name, &[sample]).await,
        )?;
        if voice.id.trim().is_empty() {
            return Err(OpError::bad_answer(format!(
                "{}: cloning {speaker}'s voice answered an empty voice id",
                plugin.id
            )));
        }
        clones.insert(speaker, voice.id);
    }
    cx.note(format!(
        "{} cloned {} voice{} from the source: {}",
        plugin.id,
        clones.len(),
        if clones.len() == 1 { "" } else { "s" },
        clones.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    Ok(write_json(dir, "voices.json", &clones)?)
}

/// No clones: the host's own voices cannot clone, which the job's events
/// say when `voice=clone` asked for them.
pub(super) fn no_clones(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    if wants_clones(cx)? {
        cx.note(
            "no speech plugin is bound: the host's voices cannot clone the speakers, so the lines keep the host's voice"
                .into(),
        );
    }
    write_json(dir, "voices.json", &Clones::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start_ms: u32, end_ms: u32, speaker: &str) -> Segment {
        Segment {
            id: start_ms.to_string(),
            start_ms,
            end_ms,
            speaker: speaker.into(),
            text: "words".into(),
        }
    }

    #[test]
    fn each_speaker_gets_their_own_spans_in_order_as_mono() {
        // Stereo at 1 kHz whose samples are the time in ms, on both sides.
        let original = Pcm {
            sample_rate: 1000,
            channels: 2,
            samples: (0..10_000).flat_map(|i| [i as f32, i as f32]).collect(),
        };
        let segments = [
            segment(0, 1000, "Ana"),
            segment(1000, 2500, " Bo "),
            segment(4000, 4500, "Ana"),
            segment(9500, 12_000, ""),
        ];
        let tracks = speech_by_speaker(&original, &segments);
        assert_eq!(
            tracks.keys().collect::<Vec<_>>(),
            ["Ana", "Bo", "speaker"],
            "labels trimmed; none is one speaker"
        );
        let ana = &tracks["Ana"].samples;
        assert_eq!(ana.len(), 1500);
        assert_eq!((ana[0], ana[999], ana[1000]), (0.0, 999.0, 4000.0));
        assert_eq!(tracks["Bo"].samples.first(), Some(&1000.0));
        assert_eq!(
            tracks["speaker"].samples.len(),
            500,
            "cut where the audio ends"
        );
        assert!(tracks.values().all(|t| t.channels == 1));
    }
}
