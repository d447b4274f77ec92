//! Ad-creative ops on the plugin side (script, direction, grade) and the
//! soundtrack (narration, music bed, mix).

use std::collections::BTreeMap;
use std::f32::consts::TAU;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_kernels::dub::{self as dubk, VoiceLine};
use kino_kernels::mix::Ducker;
use kino_kernels::speech::{self, Voice};
use kino_kernels::wav::{self, Pcm};
use serde::{Deserialize, Serialize};

use super::assets::{Pick, wit_assets};
use super::dub::silence;
use super::edit::{DirectedShot, Line, ScenePlan, Shot};
use super::{OpCx, OpError, checked, plugin_answer, write_json};
use crate::assets::AssetCatalog;
use crate::brief::read_brief;
use kino_media as media;
use kino_runtime::answers;
use kino_runtime::types::{
    Brief, BriefMode, CameraMove, ChannelStats, DirectedScene, FrameStats, GradeIntent, Lut3d,
    Scene, ScoreCard, Script, ShotSize, Transition,
};

/// The soundtrack's rate.
pub(super) const MIX_RATE: u32 = 48_000;

/// Integrated loudness of a finished ad, LUFS.
const AD_LUFS: f64 = -16.0;

/// Quiet lead-in and tail around each scene's narration, ms.
const NARRATION_PAD_MS: u32 = 200;

/// What `write-script` stores: every variation scored, the top one's scenes
/// ready to fan out over.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptPlan {
    /// The brief as used (a music video's length set by its track).
    pub brief: Brief,
    /// Every variation, best first.
    pub variations: Vec<ScoredScript>,
    /// The top variation's scenes.
    pub scenes: Vec<Scene>,
    /// Its music note.
    pub music: String,
    /// Its length, ms: the end of the last scene.
    pub total_ms: u32,
}

/// A script with its score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoredScript {
    /// The script.
    pub script: Script,
    /// How it fits the brief.
    pub score: ScoreCard,
    /// The mean of the four scores.
    pub overall: f32,
}

pub(super) async fn write_script(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let mut brief = read_brief(cx.file(0)?)?;
    if brief.mode == BriefMode::MusicVideo {
        let Some(music) = cx.optional_file(1)? else {
            return Err(
                anyhow::anyhow!("a music video needs a music track (input `music`)").into(),
            );
        };
        let info = media::probe(music).context("reading the music track")?;
        if info.audio().is_none() {
            return Err(anyhow::anyhow!("the music track has no audio stream").into());
        }
        // The track sets the length; the script tiles its scenes to it.
        brief.target_length_s = info.duration_secs.round().clamp(5.0, 600.0) as u32;
    }
    let variations: u32 = cx.param("variations", 3)?;
    let plugin = cx.plugin()?;
    let strategy = cx
        .runtime
        .script_strategy(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    // With an asset folder, a strategy that writes with assets in view
    // names them in its scenes' visuals.
    let catalog: Option<AssetCatalog> = cx.optional_file(2)?.map(super::read_json).transpose()?;
    let assets = catalog.as_ref().map(wit_assets).unwrap_or_default();
    let with_assets = if assets.is_empty() || !strategy.writes_with_assets() {
        None
    } else {
        plugin_answer(
            "writing scripts with the assets",
            strategy
                .generate_with_assets(&brief, &assets, variations)
                .await,
        )?
    };
    let scripts = match with_assets {
        Some(scripts) => scripts,
        None => plugin_answer(
            "writing scripts",
            strategy.generate(&brief, variations).await,
        )?,
    };
    let scripts = checked(plugin, "writing scripts", scripts, |s| {
        answers::scripts(&brief, variations, s)
    })?;
    let mut scored = Vec::with_capacity(scripts.len());
    for script in scripts {
        let score = plugin_answer("scoring a script", strategy.score(&brief, &script).await)?;
        let score = checked(plugin, "scoring a script", score, answers::score_card)?;
        let overall = (score.brand_alignment
            + score.audience_relevance
            + score.call_to_action
            + score.narrative_flow)
            / 4.0;
        scored.push(ScoredScript {
            script,
            score,
            overall,
        });
    }
    scored.sort_by(|a, b| b.overall.total_cmp(&a.overall));
    let Some(top) = scored.first() else {
        return Err(OpError::bad_answer(format!(
            "{} wrote no script",
            plugin.id
        )));
    };
    let scenes = top.script.scenes.clone();
    let total_ms = scenes.last().map_or(0, |s| s.start_ms + s.duration_ms);
    let music = top.script.music.clone();
    let out = ScriptPlan {
        brief,
        variations: scored,
        scenes,
        music,
        total_ms,
    };
    Ok(write_json(dir, "script.json", &out)?)
}

pub(super) async fn direct_scene(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let (_, shot): (usize, Shot) = cx.item()?;
    let plugin = cx.plugin()?;
    // A scene edited to another style gets it as the director's `style`.
    let call = match &shot.style {
        Some(style) => {
            let mut config: BTreeMap<String, String> = serde_json::from_str(&plugin.config_json)
                .context("reading the director's config")?;
            config.insert("style".to_owned(), style.clone());
            plugin.call.clone().with_config(config)
        }
        None => plugin.call.clone(),
    };
    let director = cx
        .runtime
        .director(&plugin.plugin, &call)
        .map_err(anyhow::Error::from)?;
    let what = format!("directing scene {}", shot.id);
    let directed = plugin_answer(&what, director.direct(&shot.scene, &shot.brief).await)?;
    let directed = checked(plugin, &what, directed, |d| {
        answers::directed(&shot.scene, d)
    })?;
    // What the scene shows: the director's picks where it picks assets,
    // else the host deals the brief's visuals in turn.
    let catalog: Option<AssetCatalog> = cx.optional_file(0)?.map(super::read_json).transpose()?;
    let mut picks = Vec::new();
    if let Some(catalog) = &catalog {
        let assets = wit_assets(catalog);
        if director.picks_assets() && catalog.visuals().count() > 1 {
            let what = format!("picking assets for scene {}", shot.id);
            let answer = plugin_answer(
                &what,
                director
                    .pick_assets(&shot.scene, &shot.brief, &assets)
                    .await,
            )?;
            if let Some(answer) = answer {
                let answer = checked(plugin, &what, answer, |p| answers::asset_picks(&assets, p))?;
                picks = answer
                    .iter()
                    .map(|p| Pick::from_wit(p, &plugin.id))
                    .collect();
            }
        }
        if picks.is_empty() {
            picks.extend(Pick::host(catalog, shot.scene.index as usize));
        }
    }
    Ok(write_json(
        dir,
        "directed.json",
        &DirectedShot::new(&shot, directed, Some(plugin.id.clone()), picks),
    )?)
}

/// The degraded direction: a plain push-in with crossfades and no grade.
pub(super) fn undirected(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let (_, shot): (usize, Shot) = cx.item()?;
    let directed = DirectedScene {
        scene_index: shot.scene.index,
        styled_prompt: shot.scene.visual.clone(),
        camera_move: CameraMove::PushIn,
        shot_size: ShotSize::Medium,
        pacing: 1.0,
        transition: Transition::Crossfade,
        transition_ms: 400,
        grade: GradeIntent {
            warmth: 0.0,
            contrast: 0.0,
            saturation: 0.0,
            palette: Vec::new(),
            palette_strength: 0.0,
            look: "neutral".to_owned(),
        },
    };
    let catalog: Option<AssetCatalog> = cx.optional_file(0)?.map(super::read_json).transpose()?;
    let picks = catalog
        .as_ref()
        .and_then(|c| Pick::host(c, shot.scene.index as usize))
        .into_iter()
        .collect();
    write_json(
        dir,
        "directed.json",
        &DirectedShot::new(&shot, directed, None, picks),
    )
}

pub(super) async fn grade_scene(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let (_, shot): (usize, DirectedShot) = cx.item()?;
    let directed = shot.directed;
    let stats = image_stats(cx.file(0)?)?;
    let plugin = cx.plugin()?;
    let grader = cx
        .runtime
        .grader(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let what = format!("grading a {} scene", directed.grade.look);
    let lut = plugin_answer(&what, grader.grade(&stats, &directed.grade).await)?;
    let lut = checked(plugin, &what, lut, answers::lut)?;
    let text = to_cube(&lut, &directed.grade.look);
    // The host checks what the plugin returned before anything uses it.
    kino_kernels::lut::parse_cube(&text)
        .map_err(|e| OpError::bad_answer(format!("{} returned an unusable LUT: {e}", plugin.id)))?;
    let path = dir.join("grade.cube");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The degraded grade: the identity.
pub(super) fn ungraded(_cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let lut = kino_kernels::lut::CubeLut::identity(17)?;
    let path = dir.join("grade.cube");
    std::fs::write(&path, lut.to_cube_string())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Frame statistics of a neutral, well-exposed frame: what the grader sees
/// until frames are rendered and measured.
fn neutral_stats() -> FrameStats {
    let channel = ChannelStats {
        mean: 0.5,
        p01: 0.0,
        p50: 0.5,
        p99: 1.0,
    };
    FrameStats {
        red: channel,
        green: channel,
        blue: channel,
        luma_histogram: Vec::new(),
    }
}

/// Writes `lut` in the `.cube` format (red index fastest).
fn to_cube(lut: &Lut3d, title: &str) -> String {
    let mut text = String::with_capacity(lut.table.len() * 9 + 128);
    let _ = writeln!(text, "TITLE \"{}\"", title.replace('"', "'"));
    let _ = writeln!(text, "LUT_3D_SIZE {}", lut.size);
    let (lo, hi) = (&lut.domain_min, &lut.domain_max);
    let _ = writeln!(text, "DOMAIN_MIN {:.6} {:.6} {:.6}", lo.r, lo.g, lo.b);
    let _ = writeln!(text, "DOMAIN_MAX {:.6} {:.6} {:.6}", hi.r, hi.g, hi.b);
    for rgb in lut.table.chunks_exact(3) {
        let _ = writeln!(text, "{:.6} {:.6} {:.6}", rgb[0], rgb[1], rgb[2]);
    }
    text
}

/// Per-channel statistics of an image, as the grader sees a frame.
fn image_stats(path: &Path) -> Result<FrameStats> {
    let image = kino_kernels::scene::Image::load(path)?;
    let mut hist = [[0u32; 256]; 3];
    let mut luma = vec![0u32; 256];
    let mut sums = [0f64; 3];
    let mut n = 0u32;
    for y in 0..image.height() {
        for x in 0..image.width() {
            let Some([r, g, b, a]) = image.premultiplied(x, y) else {
                continue;
            };
            if a < 128 {
                continue; // transparent: not part of the picture
            }
            // Undo the premultiplication to see the colour itself.
            let px = [r, g, b]
                .map(|c| ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8);
            for c in 0..3 {
                hist[c][usize::from(px[c])] += 1;
                sums[c] += f64::from(px[c]);
            }
            let l =
                0.2126 * f32::from(px[0]) + 0.7152 * f32::from(px[1]) + 0.0722 * f32::from(px[2]);
            luma[(l as usize).min(255)] += 1;
            n += 1;
        }
    }
    if n == 0 {
        return Ok(neutral_stats());
    }
    let channel = |c: usize| {
        let pct = |p: f64| {
            let want = (f64::from(n) * p).ceil() as u32;
            let mut seen = 0;
            for (v, count) in hist[c].iter().enumerate() {
                seen += count;
                if seen >= want.max(1) {
                    return v as f32 / 255.0;
                }
            }
            1.0
        };
        ChannelStats {
            mean: (sums[c] / f64::from(n) / 255.0) as f32,
            p01: pct(0.01),
            p50: pct(0.5),
            p99: pct(0.99),
        }
    };
    Ok(FrameStats {
        red: channel(0),
        green: channel(1),
        blue: channel(2),
        luma_histogram: luma,
    })
}

pub(super) fn narrate(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let (i, line): (usize, Line) = cx.item()?;
    let language = match cx.inputs.first() {
        Some(super::Input::Text(t)) => t.clone(),
        _ => "en".to_owned(),
    };
    let window = line.duration_ms.saturating_sub(2 * NARRATION_PAD_MS);
    let mut pcm = silence(NARRATION_PAD_MS, MIX_RATE);
    if line.narration.trim().is_empty() || window < 300 {
        pcm.samples.extend(silence(window, MIX_RATE).samples);
    } else {
        let fitted = speak_within(
            &line.narration,
            &language,
            cx.param("rate-wpm", 165)?,
            window,
        )
        .with_context(|| format!("narrating scene {i}"))?;
        pcm.samples.extend(fitted.samples);
    }
    // The tail pad: the line is exactly the scene's length, so the mix
    // places it as it is instead of fitting it a second time.
    let frames = (u64::from(line.duration_ms) * u64::from(MIX_RATE) + 500) / 1000;
    pcm.samples.resize(frames as usize, 0.0);
    let path = dir.join("narration.wav");
    wav::write_wav(&path, &pcm)?;
    Ok(path)
}

/// Speaks `text` into exactly `window_ms` at [`MIX_RATE`]. A narration too
/// long for its scene even at the stretcher's limit is spoken faster (up to
/// espeak-ng's 450 wpm) rather than failing the job.
fn speak_within(text: &str, language: &str, rate_wpm: u32, window_ms: u32) -> Result<Pcm> {
    let mut rate = rate_wpm;
    loop {
        let voice = Voice::for_language(language).with_rate(rate);
        let spoken = speech::synthesize(text, &voice)?;
        match dubk::fit_to_window(&spoken.pcm, window_ms, MIX_RATE) {
            Err(dubk::DubError::TooLong { factor, .. }) if rate < 450 => {
                let faster = (f64::from(rate) * factor / dubk::MAX_SPEEDUP * 1.1).ceil() as u32;
                rate = faster.clamp(rate + 10, 450);
            }
            other => return Ok(other?),
        }
    }
}

pub(super) fn music_bed(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let plan: ScenePlan = cx.json(0)?;
    let frames = (u64::from(plan.total_ms) * u64::from(MIX_RATE) / 1000) as usize;
    let mut bed = match cx.optional_file(1)? {
        Some(track) => {
            let mut pcm =
                media::decode_audio(track, MIX_RATE, 2).context("reading the music track")?;
            // Loop a short track; cut a long one.
            let len = pcm.samples.len();
            if len == 0 {
                bail!("the music track is silent (no samples)");
            }
            pcm.samples = pcm
                .samples
                .iter()
                .copied()
                .cycle()
                .take(frames * 2)
                .collect();
            pcm
        }
        None => synth_bed(frames, bpm_of(&plan.music)),
    };
    fade(&mut bed, 0.5, 1.5);
    let path = dir.join("music.wav");
    wav::write_wav(&path, &bed)?;
    Ok(path)
}

pub(super) fn mix_narration(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let music = wav::read_wav(cx.file(0)?)?;
    let lines = cx.files(1)?;
    let plan: ScenePlan = cx.json(2)?;
    if lines.len() != plan.shots.len() {
        bail!(
            "{} narration lines for {} scenes",
            lines.len(),
            plan.shots.len()
        );
    }
    let lines = lines
        .iter()
        .zip(plan.shots.iter().map(|s| &s.scene))
        .map(|(path, scene)| {
            Ok(VoiceLine {
                start_ms: scene.start_ms,
                end_ms: scene.start_ms + scene.duration_ms,
                pcm: wav::read_wav(path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let voice = dubk::voice_track(&lines, music.frames(), music.sample_rate)?;
    let ducker = Ducker {
        range_db: 12.0,
        ..Ducker::default()
    };
    let mixed = dubk::voice_over(&music, &voice, &ducker, AD_LUFS)?;
    let path = dir.join("soundtrack.wav");
    wav::write_wav(&path, &mixed)?;
    Ok(path)
}

/// The soundtrack as AAC: encoded while the scenes render, so composing the
/// piece at the end only copies its packets.
pub(super) fn encode_aac(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let path = dir.join("soundtrack.m4a");
    media::write_aac(&wav::read_wav(cx.file(0)?)?, &path)?;
    Ok(path)
}

/// The tempo named in a script's music note ("warm acoustic, 96 bpm"), else 96.
pub(super) fn bpm_of(note: &str) -> f32 {
    let words: Vec<&str> = note.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    words
        .windows(2)
        .find(|w| w[1].eq_ignore_ascii_case("bpm"))
        .and_then(|w| w[0].parse::<f32>().ok())
        .filter(|b| (40.0..=200.0).contains(b))
        .unwrap_or(96.0)
}

/// A soft generated music bed: a four-chord pad with a pulse on the beat,
/// stereo at [`MIX_RATE`]. Used when the job brings no music.
fn synth_bed(frames: usize, bpm: f32) -> Pcm {
    // I - V - vi - IV in C, as frequencies of each chord's three notes.
    const CHORDS: [[f32; 3]; 4] = [
        [261.63, 329.63, 392.00],
        [196.00, 246.94, 293.66],
        [220.00, 261.63, 329.63],
        [174.61, 220.00, 261.63],
    ];
    let rate = MIX_RATE as f32;
    let beat = 60.0 / bpm;
    let bar = beat * 4.0;
    let mut samples = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f32 / rate;
        let chord = CHORDS[(t / bar) as usize % CHORDS.len()];
        let in_bar = t % bar;
        // Each chord swells in and out over its bar.
        let swell = (std::f32::consts::PI * in_bar / bar).sin().powf(0.5);
        let mut pad = 0.0;
        for (k, f) in chord.iter().enumerate() {
            pad += (TAU * f * t).sin() + 0.3 * (TAU * 2.0 * f * t + k as f32).sin();
        }
        let in_beat = t % beat;
        let pulse = (-in_beat * 18.0).exp() * (TAU * 55.0 * t).sin();
        let s = 0.05 * swell * pad + 0.12 * pulse;
        let pan = 0.1 * (TAU * 0.05 * t).sin();
        samples.push(s * (1.0 - pan));
        samples.push(s * (1.0 + pan));
    }
    Pcm {
        sample_rate: MIX_RATE,
        channels: 2,
        samples,
    }
}

/// Linear fade in and out, seconds.
fn fade(pcm: &mut Pcm, fade_in: f32, fade_out: f32) {
    let ch = usize::from(pcm.channels.max(1));
    let frames = pcm.frames();
    let rate = pcm.sample_rate as f32;
    for i in 0..frames {
        let t = i as f32 / rate;
        let left = (frames - i) as f32 / rate;
        let g = (t / fade_in).min(1.0).min(left / fade_out);
        for s in &mut pcm.samples[i * ch..(i + 1) * ch] {
            *s *= g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempo_from_music_note() {
        assert_eq!(bpm_of("warm acoustic, 104 bpm; soft whoosh"), 104.0);
        assert_eq!(bpm_of("no tempo here"), 96.0);
    }

    #[test]
    fn generated_bed_is_audible_and_in_range() {
        let bed = synth_bed(MIX_RATE as usize * 3, 96.0);
        assert_eq!(bed.frames(), MIX_RATE as usize * 3);
        let peak = bed.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak > 0.05 && peak < 1.0, "peak {peak}");
    }
}
