//! The score card: how well a script serves its brief.
//!
//! Every score is a weighted sum of simple, explainable checks, in 0..=1, and
//! comes with a note saying what it found. Nothing depends on iteration order
//! of hashed collections or on randomness, so the same script always gets the
//! same card.

use kino_plugin_sdk::{Brief, PluginError, Scene, ScoreCard, Script};

use crate::brief::BriefView;
use crate::text;

/// Scores how well `script` serves `brief`.
pub fn score_script(brief: &Brief, script: &Script) -> Result<ScoreCard, PluginError> {
    Ok(score_view(&BriefView::new(brief)?, script))
}

/// The words a viewer hears or reads in one scene, kept per scene so a phrase
/// never "matches" across a cut.
struct SceneWords {
    narration: Vec<String>,
    on_screen: Vec<String>,
    visual: Vec<String>,
}

impl SceneWords {
    fn of(scene: &Scene) -> Self {
        Self {
            narration: text::words(&scene.narration),
            on_screen: text::words(&scene.on_screen_text),
            visual: text::words(&scene.visual),
        }
    }

    /// Whether the phrase is heard or read in this scene.
    fn says(&self, phrase: &[String]) -> bool {
        text::contains_phrase(&self.narration, phrase)
            || text::contains_phrase(&self.on_screen, phrase)
    }
}

pub(crate) fn score_view(brief: &BriefView<'_>, script: &Script) -> ScoreCard {
    let scenes: Vec<SceneWords> = script.scenes.iter().map(SceneWords::of).collect();
    let (brand_alignment, brand_note) = brand_alignment(brief, &scenes);
    let (audience_relevance, audience_note) = audience_relevance(brief, &scenes);
    let (call_to_action, cta_note) = call_to_action(brief, &scenes);
    let (narrative_flow, flow_note) = narrative_flow(brief, script, &scenes);
    ScoreCard {
        brand_alignment,
        audience_relevance,
        call_to_action,
        narrative_flow,
        notes: vec![brand_note, audience_note, cta_note, flow_note],
    }
}

/// Brand named (30%), product words used (30%) and facts stated (40%; when
/// the brief has no facts, brand and product share it).
fn brand_alignment(brief: &BriefView<'_>, scenes: &[SceneWords]) -> (f32, String) {
    let brand_named = says_anywhere(scenes, &text::words(brief.brand));
    let spoken = spoken_stems(scenes);
    let product_words = text::content_words(brief.product);
    let product_used = count_present(&product_words, &spoken);
    let product_score = ratio(product_used, product_words.len());

    let missing: Vec<&str> = brief
        .facts
        .iter()
        .copied()
        .filter(|fact| !fact_stated(fact, scenes, &spoken))
        .collect();
    let facts_used = brief.facts.len() - missing.len();

    let brand_score = if brand_named { 1.0 } else { 0.0 };
    let score = if brief.facts.is_empty() {
        0.5 * brand_score + 0.5 * product_score
    } else {
        0.3 * brand_score + 0.3 * product_score + 0.4 * ratio(facts_used, brief.facts.len())
    };
    let mut note = format!(
        "brand alignment {score:.2}: brand \"{}\" {}; {product_used}/{} product words used",
        brief.brand,
        if brand_named { "named" } else { "never named" },
        product_words.len(),
    );
    if brief.facts.is_empty() {
        note.push_str("; the brief lists no facts");
    } else {
        note.push_str(&format!(
            "; {facts_used}/{} facts stated",
            brief.facts.len()
        ));
        if !missing.is_empty() {
            note.push_str(&format!(" (missing: {})", quoted_list(&missing)));
        }
    }
    (clamp(score), note)
}

/// A fact counts as stated when it is quoted, or when at least 80% of its
/// content words are heard or read somewhere (a paraphrase).
fn fact_stated(fact: &str, scenes: &[SceneWords], spoken: &[String]) -> bool {
    if says_anywhere(scenes, &text::words(fact)) {
        return true;
    }
    let words = text::content_words(fact);
    !words.is_empty() && count_present(&words, spoken) * 5 >= words.len() * 4
}

/// How many of the audience's content words the script uses: in what is
/// heard or read (it speaks to them) and in the visuals (it shows them). An
/// ad speaks, so words count 80/20; a music video shows, so 30/70.
fn audience_relevance(brief: &BriefView<'_>, scenes: &[SceneWords]) -> (f32, String) {
    let audience = text::content_words(brief.audience);
    if audience.is_empty() {
        return (
            1.0,
            "audience relevance 1.00: the brief names no audience to address".to_owned(),
        );
    }
    let spoken_words = spoken_stems(scenes);
    let spoken = count_present(&audience, &spoken_words);
    let shown = count_present(&audience, &visual_stems(scenes));
    let (spoken_weight, shown_weight) = if brief.music_video {
        (0.3, 0.7)
    } else {
        (0.8, 0.2)
    };
    let score =
        spoken_weight * ratio(spoken, audience.len()) + shown_weight * ratio(shown, audience.len());
    let missing: Vec<&str> = audience
        .iter()
        .filter(|word| !spoken_words.contains(word))
        .map(String::as_str)
        .collect();
    let mut note = format!(
        "audience relevance {score:.2}: narration and on-screen text use {spoken}/{n} audience words, visuals show {shown}/{n}",
        n = audience.len()
    );
    if !missing.is_empty() {
        note.push_str(&format!(" (never said: {})", missing.join(", ")));
    }
    (clamp(score), note)
}

/// 1 when the call to action is heard or read intact in the last scene, 0.5
/// when it is intact but elsewhere, 0 when it is not there intact.
fn call_to_action(brief: &BriefView<'_>, scenes: &[SceneWords]) -> (f32, String) {
    let cta = text::words(brief.call_to_action);
    let (score, verdict) = if lands_last(scenes, &cta) {
        (1.0, "lands intact in the last scene")
    } else if says_anywhere(scenes, &cta) {
        (0.5, "appears intact but not in the last scene")
    } else {
        (0.0, "does not appear intact anywhere")
    };
    (
        score,
        format!(
            "call to action {score:.2}: \"{}\" {verdict}",
            brief.call_to_action
        ),
    )
}

/// A coherent arc: timing that tiles the timeline (25%) and matches the
/// target (20%), the call to action last (20%), an opening that grabs and
/// names the brand early (20%), and in an ad, narration in every scene (15%).
fn narrative_flow(brief: &BriefView<'_>, script: &Script, scenes: &[SceneWords]) -> (f32, String) {
    if script.scenes.is_empty() {
        return (
            0.0,
            "narrative flow 0.00: the script has no scenes".to_owned(),
        );
    }
    let (tiling, tiling_note) = tiling(&script.scenes);
    let (length, length_note) = length_match(brief.target_ms, &script.scenes);
    let cta_last = lands_last(scenes, &text::words(brief.call_to_action));
    let (opening, opening_note) = opening(brief, &script.scenes, scenes);
    let (voiced, voiced_note) = voiced(brief, &script.scenes);
    let score = 0.25 * tiling
        + 0.2 * length
        + 0.2 * if cta_last { 1.0 } else { 0.0 }
        + 0.2 * opening
        + 0.15 * voiced;
    let cta_note = if cta_last {
        "the call to action closes the piece"
    } else {
        "the call to action does not close the piece"
    };
    (
        clamp(score),
        format!(
            "narrative flow {score:.2}: {tiling_note}; {length_note}; {cta_note}; {opening_note}; {voiced_note}"
        ),
    )
}

/// The share of scenes whose index and start mark continue the timeline
/// without a gap or overlap, from 0.
fn tiling(scenes: &[Scene]) -> (f32, String) {
    let mut expected_start = 0u64;
    let mut good = 0;
    for (i, scene) in scenes.iter().enumerate() {
        if u64::from(scene.start_ms) == expected_start && scene.index as usize == i {
            good += 1;
        }
        expected_start = u64::from(scene.start_ms) + u64::from(scene.duration_ms);
    }
    let note = if good == scenes.len() {
        "timing marks tile the timeline from 0".to_owned()
    } else {
        format!(
            "{} of {} scenes break the timeline (gap, overlap or out-of-order index)",
            scenes.len() - good,
            scenes.len()
        )
    };
    (ratio(good, scenes.len()), note)
}

/// 1 when the scenes add up to the target exactly, falling linearly to 0 at
/// twice (or none) of it.
fn length_match(target_ms: u32, scenes: &[Scene]) -> (f32, String) {
    let total: u64 = scenes.iter().map(|s| u64::from(s.duration_ms)).sum();
    let target = u64::from(target_ms);
    let off = total.abs_diff(target);
    let score = if target == 0 {
        if off == 0 { 1.0 } else { 0.0 }
    } else {
        1.0 - (off as f64 / target as f64).min(1.0)
    };
    let note = if off == 0 {
        format!("length {total} ms matches the target")
    } else {
        format!("length {total} ms misses the {target} ms target by {off} ms")
    };
    (score as f32, note)
}

/// Half for a first scene that gives the viewer something (words in an ad, a
/// picture in a music video), half for naming the brand or product within the
/// first 40% of the scenes.
fn opening(brief: &BriefView<'_>, scenes: &[Scene], words: &[SceneWords]) -> (f32, String) {
    let first = &scenes[0];
    let grabs = if brief.music_video {
        text::has_words(&first.visual)
    } else {
        text::has_words(&first.narration) || text::has_words(&first.on_screen_text)
    };
    // The first 40% of the scenes, rounded up: 2 of 4, 2 of 5, 5 of 12.
    let early = (words.len() * 2).div_ceil(5).max(1);
    let brand = text::words(brief.brand);
    let product = text::words(brief.product);
    let named_at = words
        .iter()
        .position(|scene| scene.says(&brand) || scene.says(&product));
    let named_early = named_at.is_some_and(|at| at < early);
    let score = 0.5 * f32::from(u8::from(grabs)) + 0.5 * f32::from(u8::from(named_early));
    let grab_note = if grabs {
        "the opening scene grabs attention"
    } else {
        "the opening scene is empty"
    };
    let name_note = match named_at {
        Some(at) if named_early => format!("the brand is named by scene {}", at + 1),
        Some(at) => format!("the brand waits until scene {} to be named", at + 1),
        None => "the brand is never named".to_owned(),
    };
    (score, format!("{grab_note}, {name_note}"))
}

/// In an ad the voice carries the story, so every scene should have narration;
/// a music video may be silent but for the call to action.
fn voiced(brief: &BriefView<'_>, scenes: &[Scene]) -> (f32, String) {
    if brief.music_video {
        return (1.0, "music video: narration is optional".to_owned());
    }
    let voiced = scenes
        .iter()
        .filter(|scene| text::has_words(&scene.narration))
        .count();
    (
        ratio(voiced, scenes.len()),
        format!("{voiced}/{} scenes have narration", scenes.len()),
    )
}

/// Whether the last scene says `phrase`.
fn lands_last(scenes: &[SceneWords], phrase: &[String]) -> bool {
    scenes.last().is_some_and(|scene| scene.says(phrase))
}

fn says_anywhere(scenes: &[SceneWords], phrase: &[String]) -> bool {
    scenes.iter().any(|scene| scene.says(phrase))
}

/// The stems of every word heard or read, for coverage counts.
fn spoken_stems(scenes: &[SceneWords]) -> Vec<String> {
    stems(
        scenes
            .iter()
            .flat_map(|s| s.narration.iter().chain(&s.on_screen)),
    )
}

fn visual_stems(scenes: &[SceneWords]) -> Vec<String> {
    stems(scenes.iter().flat_map(|s| &s.visual))
}

fn stems<'a>(words: impl Iterator<Item = &'a String>) -> Vec<String> {
    words.map(|word| text::stem(word).to_owned()).collect()
}

fn count_present(wanted: &[String], have: &[String]) -> usize {
    wanted.iter().filter(|word| have.contains(word)).count()
}

/// `part / whole`, with nothing wanted counting as fully met.
fn ratio(part: usize, whole: usize) -> f32 {
    if whole == 0 {
        1.0
    } else {
        part as f32 / whole as f32
    }
}

fn clamp(score: f32) -> f32 {
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("\"{item}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
