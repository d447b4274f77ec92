//! Cutting on the music: the `beats` stage finds where the beats of the
//! piece's music fall (a job's track by the host's beat tracker; the
//! generated bed's from the tempo it is generated at), and the `plan` stage
//! snaps the written scenes' boundaries to them ([`snap_scenes`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kino_kernels::beats;
use kino_kernels::wav::Pcm;
use kino_media as media;
use kino_runtime::types::{BriefMode, Scene};
use serde::{Deserialize, Serialize};

use super::ad::{ScriptPlan, bpm_of};
use super::{OpCx, write_json};

/// The rate the tracker hears music at: enough for kicks and hats, a
/// quarter of the work of 44.1 kHz.
const TRACK_RATE: u32 = 22_050;

/// The most a timing mark moves to land on a beat, ms (and at most half a
/// beat, so it lands on the nearest one).
pub const BEAT_TOLERANCE_MS: u32 = 400;

/// The most a music video's cut moves to land on a bar, ms.
pub const BAR_TOLERANCE_MS: u32 = 1_000;

/// The shortest a shot becomes by snapping, ms.
const MIN_SHOT_MS: u32 = 500;

/// Where the beats came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BeatSource {
    /// Tracked in the job's music track.
    Tracked,
    /// The generated bed's own grid (its tempo is the script's music note).
    Generated,
}

/// What the `beats` stage stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatGrid {
    /// Where the beats came from.
    pub source: BeatSource,
    /// Beats per minute.
    pub tempo_bpm: f64,
    /// Every beat, ms from the start of the piece.
    pub beats_ms: Vec<u32>,
    /// The first beat of every bar.
    pub downbeats_ms: Vec<u32>,
    /// How sure the tracker is, 0..=1 (1 for a generated grid).
    pub confidence: f64,
}

/// How a plan's cuts were put on the music: `plan.json` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatSync {
    /// Where the beats came from.
    pub source: BeatSource,
    /// The music's tempo.
    pub tempo_bpm: f64,
    /// `beats` (ad) or `bars` (music video).
    pub on: String,
    /// Each cut between scenes: where the script put it and where it is, ms.
    pub cuts: Vec<[u32; 2]>,
}

pub(super) fn track_beats(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let script: ScriptPlan = cx.json(0)?;
    let grid = match cx.optional_file(1)? {
        Some(track) => {
            let pcm =
                media::decode_audio(track, TRACK_RATE, 1).context("reading the music track")?;
            tracked(&pcm, script.total_ms)?
        }
        None => generated(bpm_of(&script.music), script.total_ms),
    };
    write_json(dir, "beats.json", &grid)
}

/// The track's beats, repeated as `music-bed` loops a short track.
fn tracked(pcm: &Pcm, total_ms: u32) -> Result<BeatGrid> {
    let found = beats::track_pcm(pcm).context("tracking the music's beats")?;
    let track_ms = (pcm.duration_secs() * 1000.0).round() as u32;
    let looped = |times: &[u32]| -> Vec<u32> {
        let mut out = Vec::new();
        let mut offset = 0u32;
        while offset <= total_ms && track_ms > 0 {
            out.extend(
                times
                    .iter()
                    .map(|t| t.saturating_add(offset))
                    .take_while(|t| *t <= total_ms),
            );
            offset = offset.saturating_add(track_ms);
        }
        out
    };
    Ok(BeatGrid {
        source: BeatSource::Tracked,
        tempo_bpm: found.tempo_bpm,
        beats_ms: looped(&found.beats_ms),
        downbeats_ms: looped(&found.downbeats_ms),
        confidence: found.confidence,
    })
}

/// The generated bed's grid: a beat every `60/bpm` s from the start, bars
/// of four (what `synth_bed` plays).
fn generated(bpm: f32, total_ms: u32) -> BeatGrid {
    let beat_ms = 60_000.0 / f64::from(bpm);
    let count = (f64::from(total_ms) / beat_ms).floor() as usize + 1;
    let beats_ms: Vec<u32> = (0..count)
        .map(|k| (k as f64 * beat_ms).round() as u32)
        .collect();
    let downbeats_ms = beats_ms.iter().copied().step_by(4).collect();
    BeatGrid {
        source: BeatSource::Generated,
        tempo_bpm: f64::from(bpm),
        beats_ms,
        downbeats_ms,
        confidence: 1.0,
    }
}

/// Moves each cut between the written `scenes` onto the nearest beat (an
/// ad) or bar (a music video) within the tolerance, keeping every scene at
/// least [`MIN_SHOT_MS`] and the piece's length `total_ms`; re-times the
/// scenes. Done on the written script, before edits: every shot then
/// lasts whole beats, so a reorder keeps the cuts on the beat and an edit
/// re-renders only the scenes it touched (a trim is the editor's own cut).
pub fn snap_scenes(
    scenes: &mut [Scene],
    total_ms: u32,
    grid: &BeatGrid,
    mode: BriefMode,
) -> BeatSync {
    let (targets, on, most) = match mode {
        BriefMode::MusicVideo => (&grid.downbeats_ms, "bars", BAR_TOLERANCE_MS),
        BriefMode::AdCreative => (&grid.beats_ms, "beats", BEAT_TOLERANCE_MS),
    };
    let period = if grid.tempo_bpm > 0.0 {
        let beat = 60_000.0 / grid.tempo_bpm;
        match mode {
            BriefMode::MusicVideo => beat * 4.0,
            BriefMode::AdCreative => beat,
        }
    } else {
        0.0
    };
    let tolerance = most.min((period / 2.0) as u32);
    let cuts: Vec<u32> = scenes.iter().skip(1).map(|s| s.start_ms).collect();
    let snapped = beats::snap(&cuts, targets, tolerance);
    let mut report = Vec::with_capacity(cuts.len());
    let mut start = 0u32;
    for (i, (&written, &to)) in cuts.iter().zip(&snapped).enumerate() {
        let next_end = cuts.get(i + 1).copied().unwrap_or(total_ms);
        let cut = if to < start + MIN_SHOT_MS || to + MIN_SHOT_MS > next_end {
            written
        } else {
            to
        };
        report.push([written, cut]);
        start = cut;
    }
    let mut at = 0u32;
    for (i, scene) in scenes.iter_mut().enumerate() {
        let end = report.get(i).map_or(total_ms, |[_, cut]| *cut);
        scene.start_ms = at;
        scene.duration_ms = end.saturating_sub(at);
        at = end;
    }
    BeatSync {
        source: grid.source,
        tempo_bpm: grid.tempo_bpm,
        on: on.to_owned(),
        cuts: report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenes(lengths: &[u32]) -> Vec<Scene> {
        let mut at = 0;
        lengths
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let s = Scene {
                    index: i as u32,
                    start_ms: at,
                    duration_ms: d,
                    visual: String::new(),
                    camera: String::new(),
                    narration: String::new(),
                    on_screen_text: String::new(),
                };
                at += d;
                s
            })
            .collect()
    }

    #[test]
    fn cuts_move_onto_beats_within_half_a_beat_and_the_length_stays() {
        let grid = generated(120.0, 12_000);
        let mut written = scenes(&[2_900, 3_700, 2_200, 3_200]);
        let sync = snap_scenes(&mut written, 12_000, &grid, BriefMode::AdCreative);
        assert_eq!(
            sync.cuts,
            vec![[2_900, 3_000], [6_600, 6_500], [8_800, 9_000]]
        );
        let starts: Vec<u32> = written.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts, vec![0, 3_000, 6_500, 9_000]);
        assert_eq!(written.iter().map(|s| s.duration_ms).sum::<u32>(), 12_000);
        // A music video cuts on bars (2 s at 120 bpm), within 1 s.
        let mut video = scenes(&[2_900, 3_700, 2_200, 3_200]);
        let sync = snap_scenes(&mut video, 12_000, &grid, BriefMode::MusicVideo);
        assert_eq!(
            sync.cuts,
            vec![[2_900, 2_000], [6_600, 6_000], [8_800, 8_000]]
        );
    }

    #[test]
    fn no_scene_is_squeezed_under_half_a_second() {
        let grid = generated(60.0, 4_000);
        // Cuts at 900 and 1_300: moving the first onto 1_000 would leave
        // the second scene 300 ms, so both stay as written.
        let mut written = scenes(&[900, 400, 2_700]);
        let sync = snap_scenes(&mut written, 4_000, &grid, BriefMode::AdCreative);
        assert_eq!(sync.cuts, vec![[900, 900], [1_300, 1_300]]);
        // With room, the first moves.
        let mut written = scenes(&[900, 1_300, 1_800]);
        let sync = snap_scenes(&mut written, 4_000, &grid, BriefMode::AdCreative);
        assert_eq!(sync.cuts, vec![[900, 1_000], [2_200, 2_000]]);
    }

    #[test]
    fn a_generated_grid_is_the_beds_tempo_from_zero() {
        let grid = generated(120.0, 2_100);
        assert_eq!(grid.beats_ms, vec![0, 500, 1000, 1500, 2000]);
        assert_eq!(grid.downbeats_ms, vec![0, 2000]);
    }
}
