//! Assembling a whole script: plan the beats, write them, time them.

use kino_plugin_sdk::{Brief, PluginError, Scene, Script};

use crate::brief::BriefView;
use crate::compose::{SceneText, compose};
use crate::plan::Arrangement;
use crate::timing::{self, MIN_SCENE_MS};
use crate::tone::{self, ToneProfile};

/// Extra weight per scene on top of its narration's word count: a scene
/// needs a moment for the picture even when little is said (and a music
/// video's silent scenes then share the time evenly).
const VISUAL_WEIGHT: u32 = 4;

/// Writes the script for `brief` that follows `arrangement`.
pub fn write_script(brief: &Brief, arrangement: Arrangement) -> Result<Script, PluginError> {
    Ok(write(&BriefView::new(brief)?, arrangement))
}

pub(crate) fn write(brief: &BriefView<'_>, arrangement: Arrangement) -> Script {
    let tone = tone::profile(brief.tone);
    let beats = arrangement.plan(brief.facts.len(), timing::scene_count(brief.target_ms));
    let texts: Vec<SceneText> = beats
        .iter()
        .map(|beat| compose(*beat, brief, tone))
        .collect();
    let durations = durations(brief, tone, &texts);
    Script {
        variation: arrangement.name().to_owned(),
        scenes: timed_scenes(texts, &durations),
        music: music(brief, tone, arrangement),
        visual_style: visual_style(brief, tone),
        estimated_length_ms: brief.target_ms,
    }
}

/// Scene lengths in proportion to how much is said in each, adding up to the
/// target; a music video's cuts then move onto the beat of its track.
fn durations(brief: &BriefView<'_>, tone: &ToneProfile, texts: &[SceneText]) -> Vec<u32> {
    let weights: Vec<u32> = texts
        .iter()
        .map(|text| {
            let words = text.narration.split_whitespace().count();
            u32::try_from(words)
                .unwrap_or(u32::MAX)
                .saturating_add(VISUAL_WEIGHT)
        })
        .collect();
    let durations = timing::split(brief.target_ms, &weights, MIN_SCENE_MS);
    if brief.music_video
        && let Some(on_beat) = timing::snap_to_beat(&durations, tone.beat_ms(), MIN_SCENE_MS)
    {
        return on_beat;
    }
    durations
}

/// The scenes with their indexes and timing marks, laid end to end from 0.
fn timed_scenes(texts: Vec<SceneText>, durations: &[u32]) -> Vec<Scene> {
    let mut start_ms = 0u32;
    texts
        .into_iter()
        .zip(durations)
        .enumerate()
        .map(|(index, (text, &duration_ms))| {
            let scene = Scene {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                start_ms,
                duration_ms,
                visual: text.visual,
                camera: text.camera,
                narration: text.narration,
                on_screen_text: text.on_screen_text,
            };
            // The durations add up to a u32 total, so this cannot overflow.
            start_ms = start_ms.saturating_add(duration_ms);
            scene
        })
        .collect()
}

fn music(brief: &BriefView<'_>, tone: &ToneProfile, arrangement: Arrangement) -> String {
    let (music, bpm, note) = (
        tone.music,
        tone.bpm,
        arrangement.music_note(brief.music_video),
    );
    if brief.music_video {
        format!(
            "{music}, ~{bpm} bpm; the track leads: cut on the beat, every scene change lands on a downbeat; {note}"
        )
    } else {
        format!(
            "{music}, ~{bpm} bpm, sitting under the voice-over; {note}; soft whoosh on scene changes"
        )
    }
}

fn visual_style(brief: &BriefView<'_>, tone: &ToneProfile) -> String {
    let mut style = String::new();
    if brief.music_video {
        style.push_str("Performance and product intercut, cut on the beat; ");
    }
    style.push_str(tone.look);
    if !brief.tone.is_empty() {
        style.push_str(&format!("; a {} tone throughout", brief.tone));
    }
    style.push_str(&format!(
        "; the {} logo on the reveal and the end card",
        brief.brand
    ));
    if !brief.objective.is_empty() {
        style.push_str(&format!("; every frame in service of: {}", brief.objective));
    }
    style
}
