//! What each world's answers must satisfy before the host uses them.
//!
//! The WIT types bound an answer's shape; these rules bound its values:
//! finite numbers in their documented ranges, ids and timings preserved,
//! sizes bounded. A pipeline checks every answer with them (a bad one fails
//! the plugin's own node, blamed on it), and `kino plugin test` shows an
//! author the same verdict.

use super::bindings::types::{
    Asset, AssetKind, AssetPick, Brief, CueStyle, Decision, DirectedScene, GradeIntent,
    LanguagePair, Lut3d, Rgb, Scene, ScoreCard, Script, Segment, TranslatedSegment, WordCue,
};

/// The longest piece the host renders: a brief's 600 s and a margin.
pub const MAX_PIECE_MS: u32 = 660_000;
/// The most scenes a script may have.
pub const MAX_SCENES: usize = 200;
/// The longest text field (a prompt, a narration, a note), in bytes.
pub const MAX_TEXT_BYTES: usize = 16 << 10;
/// Pacing outside this range is not a style, it is a bug.
pub const PACING: std::ops::RangeInclusive<f32> = 0.25..=4.0;
/// The longest transition, in milliseconds.
pub const MAX_TRANSITION_MS: u32 = 10_000;

/// The most assets a director style may pick for one scene.
pub const MAX_ASSET_PICKS: usize = 3;
/// Footage playback speeds outside this range are not a ramp, they are a bug.
pub const SPEED: std::ops::RangeInclusive<f32> = 0.25..=4.0;

/// An answer that breaks its world's rules: which field, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct BadAnswer {
    /// The field, as a path into the answer (`grade.warmth`, `[2].segment.id`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> BadAnswer {
    BadAnswer {
        field: field.into(),
        problem: problem.into(),
    }
}

type Checked = Result<(), BadAnswer>;

fn in_range(field: &str, value: f32, range: std::ops::RangeInclusive<f32>) -> Checked {
    if value.is_nan() {
        return Err(bad(field, "is NaN"));
    }
    if !range.contains(&value) {
        return Err(bad(
            field,
            format!("is {value}, outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(())
}

fn text(field: &str, value: &str) -> Checked {
    if value.len() > MAX_TEXT_BYTES {
        return Err(bad(
            field,
            format!(
                "is {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
                value.len()
            ),
        ));
    }
    Ok(())
}

fn prefixed(prefix: &str, result: Checked) -> Checked {
    result.map_err(|e| bad(format!("{prefix}{}", e.field), e.problem))
}

/// `script-strategy.generate` (and `asset-scripts.generate-with-assets`):
/// 1..=`count` scripts, each valid for `brief`.
pub fn scripts(brief: &Brief, count: u32, scripts: &[Script]) -> Checked {
    if scripts.is_empty() {
        return Err(bad("", "is empty: no script was written"));
    }
    if scripts.len() > count as usize {
        return Err(bad(
            "",
            format!("has {} scripts; {count} were asked for", scripts.len()),
        ));
    }
    for (i, s) in scripts.iter().enumerate() {
        prefixed(&format!("[{i}]."), script(brief, s))?;
    }
    Ok(())
}

/// One script: scenes numbered in order that tile the timeline from 0, none
/// empty, no longer than [`MAX_PIECE_MS`] in all, text fields bounded.
pub fn script(_brief: &Brief, script: &Script) -> Checked {
    text("variation", &script.variation)?;
    text("music", &script.music)?;
    text("visual_style", &script.visual_style)?;
    if script.scenes.is_empty() {
        return Err(bad("scenes", "is empty"));
    }
    if script.scenes.len() > MAX_SCENES {
        return Err(bad(
            "scenes",
            format!(
                "has {} scenes, over the {MAX_SCENES} limit",
                script.scenes.len()
            ),
        ));
    }
    let mut at: u32 = 0;
    for (i, s) in script.scenes.iter().enumerate() {
        let field = |f: &str| format!("scenes[{i}].{f}");
        if s.index as usize != i {
            return Err(bad(
                field("index"),
                format!("is {}; scenes are numbered 0, 1, 2, ... in order", s.index),
            ));
        }
        if s.start_ms != at {
            return Err(bad(
                field("start_ms"),
                format!(
                    "is {}; the scene before ends at {at} ms (scenes tile the timeline)",
                    s.start_ms
                ),
            ));
        }
        if s.duration_ms == 0 {
            return Err(bad(field("duration_ms"), "is 0"));
        }
        at = at
            .checked_add(s.duration_ms)
            .filter(|&end| end <= MAX_PIECE_MS)
            .ok_or_else(|| {
                bad(
                    field("duration_ms"),
                    format!("runs the piece past {} s", MAX_PIECE_MS / 1000),
                )
            })?;
        for (name, value) in [
            ("visual", &s.visual),
            ("camera", &s.camera),
            ("narration", &s.narration),
            ("on_screen_text", &s.on_screen_text),
        ] {
            text(&field(name), value)?;
        }
    }
    Ok(())
}

/// `script-strategy.score`: every score finite in 0..=1.
pub fn score_card(card: &ScoreCard) -> Checked {
    in_range("brand_alignment", card.brand_alignment, 0.0..=1.0)?;
    in_range("audience_relevance", card.audience_relevance, 0.0..=1.0)?;
    in_range("call_to_action", card.call_to_action, 0.0..=1.0)?;
    in_range("narrative_flow", card.narrative_flow, 0.0..=1.0)?;
    for (i, note) in card.notes.iter().enumerate() {
        text(&format!("notes[{i}]"), note)?;
    }
    Ok(())
}

fn rgb(field: &str, c: &Rgb) -> Checked {
    in_range(&format!("{field}.r"), c.r, 0.0..=1.0)?;
    in_range(&format!("{field}.g"), c.g, 0.0..=1.0)?;
    in_range(&format!("{field}.b"), c.b, 0.0..=1.0)
}

/// A grade intent: warmth, contrast and saturation in -1..=1, the palette's
/// colours and strength in 0..=1.
pub fn grade_intent(grade: &GradeIntent) -> Checked {
    in_range("warmth", grade.warmth, -1.0..=1.0)?;
    in_range("contrast", grade.contrast, -1.0..=1.0)?;
    in_range("saturation", grade.saturation, -1.0..=1.0)?;
    in_range("palette_strength", grade.palette_strength, 0.0..=1.0)?;
    if grade.palette.len() > 64 {
        return Err(bad("palette", "has more than 64 colours"));
    }
    for (i, c) in grade.palette.iter().enumerate() {
        rgb(&format!("palette[{i}]"), c)?;
    }
    if grade.look.len() > 256 {
        return Err(bad("look", "is longer than 256 bytes"));
    }
    Ok(())
}

/// `director-style.direct`: the direction is for `scene`, its pacing and
/// transition are in range, its grade is valid.
pub fn directed(scene: &Scene, d: &DirectedScene) -> Checked {
    if d.scene_index != scene.index {
        return Err(bad(
            "scene_index",
            format!(
                "is {}; the scene directed is {}",
                d.scene_index, scene.index
            ),
        ));
    }
    text("styled_prompt", &d.styled_prompt)?;
    in_range("pacing", d.pacing, PACING)?;
    if d.transition_ms > MAX_TRANSITION_MS {
        return Err(bad(
            "transition_ms",
            format!("is {}, over {MAX_TRANSITION_MS}", d.transition_ms),
        ));
    }
    prefixed("grade.", grade_intent(&d.grade))
}

/// `asset-picker.pick-assets`: at most [`MAX_ASSET_PICKS`] picks, each
/// naming an `image` or `footage` asset of `assets` (the brief's), a
/// footage pick starting inside its clip, speeds finite in [`SPEED`].
pub fn asset_picks(assets: &[Asset], picks: &[AssetPick]) -> Checked {
    if picks.len() > MAX_ASSET_PICKS {
        return Err(bad(
            "",
            format!(
                "has {} picks; a scene shows at most {MAX_ASSET_PICKS}",
                picks.len()
            ),
        ));
    }
    for (i, pick) in picks.iter().enumerate() {
        let field = |f: &str| format!("[{i}].{f}");
        let Some(asset) = assets.iter().find(|a| a.name == pick.name) else {
            let mut name = pick.name.clone();
            name.truncate(name.floor_char_boundary(64));
            return Err(bad(
                field("name"),
                format!("is {name:?}, which is not an asset of the brief"),
            ));
        };
        match asset.kind {
            AssetKind::Image => {}
            AssetKind::Footage => {
                if pick.in_ms >= asset.duration_ms {
                    return Err(bad(
                        field("in_ms"),
                        format!(
                            "is {}; the clip {:?} is {} ms long",
                            pick.in_ms, asset.name, asset.duration_ms
                        ),
                    ));
                }
            }
            AssetKind::Logo | AssetKind::Font => {
                return Err(bad(
                    field("name"),
                    format!(
                        "is {:?}, a {} asset; a scene shows images and footage",
                        asset.name,
                        if asset.kind == AssetKind::Logo {
                            "logo"
                        } else {
                            "font"
                        }
                    ),
                ));
            }
        }
        in_range(&field("speed_start"), pick.speed_start, SPEED)?;
        in_range(&field("speed_end"), pick.speed_end, SPEED)?;
    }
    Ok(())
}

/// `caption-style.style-cues`: one style per cue, in order, each with its
/// cue's index and one emphasis flag per word of that cue; colours finite
/// in 0..=1.
pub fn cue_styles(cues: &[WordCue], styles: &[CueStyle]) -> Checked {
    if styles.len() != cues.len() {
        return Err(bad(
            "",
            format!(
                "has {} styles for {} cues (one per cue, in order)",
                styles.len(),
                cues.len()
            ),
        ));
    }
    for (i, (style, cue)) in styles.iter().zip(cues).enumerate() {
        let field = |f: &str| format!("[{i}].{f}");
        if style.index != cue.index {
            return Err(bad(
                field("index"),
                format!("is {}; the cue styled is {}", style.index, cue.index),
            ));
        }
        if style.emphasis.len() != cue.words.len() {
            return Err(bad(
                field("emphasis"),
                format!(
                    "has {} flags; cue {} has {} words (one flag per word)",
                    style.emphasis.len(),
                    cue.index,
                    cue.words.len()
                ),
            ));
        }
        rgb(&field("text_color"), &style.text_color)?;
        rgb(&field("highlight_color"), &style.highlight_color)?;
    }
    Ok(())
}

/// `translator.translate`: one segment per input, in order, ids and timings unchanged.
pub fn translation(input: &[Segment], output: &[TranslatedSegment]) -> Checked {
    if output.len() != input.len() {
        return Err(bad(
            "",
            format!(
                "has {} segments for {} given (one per input, in order)",
                output.len(),
                input.len()
            ),
        ));
    }
    for (i, (t, s)) in output.iter().zip(input).enumerate() {
        let field = |f: &str| format!("[{i}].segment.{f}");
        if t.segment.id != s.id {
            return Err(bad(
                field("id"),
                format!(
                    "is {:?}; the input's is {:?} (ids are kept)",
                    t.segment.id, s.id
                ),
            ));
        }
        if t.segment.start_ms != s.start_ms || t.segment.end_ms != s.end_ms {
            return Err(bad(
                field("start_ms"),
                format!(
                    "is {}..{} ms; the input's is {}..{} ms (timings are kept)",
                    t.segment.start_ms, t.segment.end_ms, s.start_ms, s.end_ms
                ),
            ));
        }
        text(&field("text"), &t.segment.text)?;
    }
    Ok(())
}

/// `translator.supported-pairs`: at most 10,000 pairs of short language tags.
pub fn language_pairs(pairs: &[LanguagePair]) -> Checked {
    if pairs.len() > 10_000 {
        return Err(bad("", "has more than 10000 pairs"));
    }
    for (i, p) in pairs.iter().enumerate() {
        for (name, tag) in [("source", &p.source), ("target", &p.target)] {
            if tag.is_empty() || tag.len() > 35 {
                return Err(bad(
                    format!("[{i}].{name}"),
                    format!("{tag:?} is not a BCP 47 language tag"),
                ));
            }
        }
    }
    Ok(())
}

/// `translator.max-batch-size`: at least 1.
pub fn max_batch_size(n: u32) -> Checked {
    if n == 0 {
        return Err(bad("", "is 0; a translator takes at least one segment"));
    }
    Ok(())
}

/// `grader.grade`: 2..=129 points per axis, size³ finite triples, a domain
/// whose minimum is below its maximum.
pub fn lut(lut: &Lut3d) -> Checked {
    if !(2..=129).contains(&lut.size) {
        return Err(bad("size", format!("is {}, outside 2..=129", lut.size)));
    }
    let expected = (lut.size as usize).pow(3) * 3;
    if lut.table.len() != expected {
        return Err(bad(
            "table",
            format!(
                "has {} floats; a size-{} LUT has {expected}",
                lut.table.len(),
                lut.size
            ),
        ));
    }
    if let Some(i) = lut.table.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("table[{i}]"), "is not a finite number"));
    }
    for (axis, lo, hi) in [
        ("r", lut.domain_min.r, lut.domain_max.r),
        ("g", lut.domain_min.g, lut.domain_max.g),
        ("b", lut.domain_min.b, lut.domain_max.b),
    ] {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(bad(
                format!("domain_min.{axis}"),
                format!("is {lo}, not below domain_max.{axis} ({hi})"),
            ));
        }
    }
    Ok(())
}

/// `fallback-policy.decide`: a switch names a plugin; reasons are bounded.
pub fn decision(d: &Decision) -> Checked {
    match d {
        Decision::SwitchTo(name) if name.trim().is_empty() => {
            Err(bad("switch-to", "names no plugin"))
        }
        Decision::SwitchTo(s) | Decision::Degrade(s) | Decision::Fail(s) => text("reason", s),
        Decision::RetryAfterMs(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CameraMove, ShotSize, Transition};

    fn scene() -> Scene {
        Scene {
            index: 2,
            start_ms: 4000,
            duration_ms: 3000,
            visual: "a cup".into(),
            camera: String::new(),
            narration: String::new(),
            on_screen_text: String::new(),
        }
    }

    fn direction() -> DirectedScene {
        DirectedScene {
            scene_index: 2,
            styled_prompt: "a cup, noir".into(),
            camera_move: CameraMove::Locked,
            shot_size: ShotSize::Wide,
            pacing: 1.0,
            transition: Transition::Crossfade,
            transition_ms: 400,
            grade: GradeIntent {
                warmth: 0.2,
                contrast: 0.1,
                saturation: -0.3,
                palette: vec![Rgb {
                    r: 0.1,
                    g: 0.2,
                    b: 0.3,
                }],
                palette_strength: 0.5,
                look: "noir".into(),
            },
        }
    }

    #[test]
    fn a_good_direction_passes_and_each_bad_field_is_named() {
        assert_eq!(directed(&scene(), &direction()), Ok(()));
        let mut d = direction();
        d.pacing = f32::NAN;
        assert_eq!(
            directed(&scene(), &d).expect_err("refused").to_string(),
            "`pacing` is NaN"
        );
        let mut d = direction();
        d.grade.warmth = 3.0;
        assert_eq!(
            directed(&scene(), &d).expect_err("refused").field,
            "grade.warmth"
        );
        let mut d = direction();
        d.grade.palette[0].g = f32::INFINITY;
        assert_eq!(
            directed(&scene(), &d).expect_err("refused").field,
            "grade.palette[0].g"
        );
        let mut d = direction();
        d.scene_index = 5;
        assert_eq!(
            directed(&scene(), &d).expect_err("refused").field,
            "scene_index"
        );
    }

    #[test]
    fn scripts_must_tile_the_timeline() {
        let scene = |index, start, dur| Scene {
            index,
            start_ms: start,
            duration_ms: dur,
            ..super::tests::scene()
        };
        let script_of = |scenes: Vec<Scene>| Script {
            variation: "v".into(),
            scenes,
            music: String::new(),
            visual_style: String::new(),
            estimated_length_ms: 0,
        };
        let check = |scenes| script(&brief(), &script_of(scenes));
        assert_eq!(check(vec![scene(0, 0, 1000), scene(1, 1000, 500)]), Ok(()));
        assert_eq!(
            check(vec![scene(0, 0, 1000), scene(1, 1200, 500)])
                .expect_err("refused")
                .field,
            "scenes[1].start_ms"
        );
        assert_eq!(
            check(vec![scene(0, 0, 1000), scene(0, 1000, 500)])
                .expect_err("refused")
                .field,
            "scenes[1].index"
        );
        assert!(check(vec![]).is_err());
        // A plugin cannot make the host size a piece of days.
        let err = check(vec![
            scene(0, 0, u32::MAX - 10),
            scene(1, u32::MAX - 10, 100),
        ])
        .expect_err("too long");
        assert!(err.problem.contains("runs the piece past"), "{err}");
        let one = script_of(vec![scene(0, 0, 1)]);
        let too_many = scripts(&brief(), 1, &[one.clone(), one]);
        assert!(
            too_many
                .expect_err("refused")
                .problem
                .contains("1 were asked for")
        );
    }

    fn brief() -> Brief {
        Brief {
            brand: "b".into(),
            product: "p".into(),
            audience: "a".into(),
            tone: "t".into(),
            objective: "o".into(),
            facts: vec![],
            call_to_action: "c".into(),
            target_length_s: 30,
            mode: crate::types::BriefMode::AdCreative,
        }
    }

    #[test]
    fn translations_keep_ids_and_timings() {
        let input = vec![Segment {
            id: "s1".into(),
            start_ms: 0,
            end_ms: 900,
            speaker: String::new(),
            text: "hola".into(),
        }];
        let mut out = vec![TranslatedSegment {
            segment: Segment {
                text: "hello".into(),
                ..input[0].clone()
            },
            untranslated: vec![],
        }];
        assert_eq!(translation(&input, &out), Ok(()));
        out[0].segment.id = "other".into();
        assert_eq!(
            translation(&input, &out).expect_err("refused").field,
            "[0].segment.id"
        );
        assert!(translation(&input, &[]).is_err());
    }

    fn asset(name: &str, kind: AssetKind, duration_ms: u32) -> Asset {
        Asset {
            name: name.into(),
            kind,
            tags: vec![],
            description: String::new(),
            duration_ms,
            width: 1920,
            height: 1080,
        }
    }

    fn pick(name: &str, in_ms: u32) -> AssetPick {
        AssetPick {
            name: name.into(),
            in_ms,
            speed_start: 1.0,
            speed_end: 1.0,
            fit: crate::types::Fit::Cover,
        }
    }

    #[test]
    fn picks_name_visual_assets_of_the_brief() {
        let assets = vec![
            asset("bottle", AssetKind::Image, 0),
            asset("pour", AssetKind::Footage, 4000),
            asset("logo", AssetKind::Logo, 0),
            asset("brand-font", AssetKind::Font, 0),
        ];
        let check = |picks: &[AssetPick]| asset_picks(&assets, picks);
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&[pick("bottle", 0), pick("pour", 3999)]), Ok(()));
        let field = |picks: &[AssetPick]| check(picks).expect_err("refused").field;
        assert_eq!(field(&[pick("bottle", 0), pick("cup", 0)]), "[1].name");
        assert_eq!(field(&[pick("logo", 0)]), "[0].name");
        assert_eq!(field(&[pick("brand-font", 0)]), "[0].name");
        assert_eq!(field(&[pick("pour", 4000)]), "[0].in_ms");
        let mut fast = pick("pour", 0);
        fast.speed_end = 8.0;
        assert_eq!(field(&[fast]), "[0].speed_end");
        let mut nan = pick("bottle", 0);
        nan.speed_start = f32::NAN;
        assert_eq!(
            check(&[nan]).expect_err("refused").to_string(),
            "`[0].speed_start` is NaN"
        );
        let four = vec![pick("bottle", 0); 4];
        assert!(
            check(&four)
                .expect_err("refused")
                .problem
                .contains("at most 3")
        );
    }

    fn cue(index: u32, words: &[&str]) -> WordCue {
        WordCue {
            index,
            start_ms: index * 2000,
            end_ms: index * 2000 + 1800,
            text: words.join(" "),
            words: words
                .iter()
                .enumerate()
                .map(|(i, w)| crate::types::TimedWord {
                    text: (*w).into(),
                    start_ms: index * 2000 + i as u32 * 300,
                    end_ms: index * 2000 + i as u32 * 300 + 250,
                })
                .collect(),
        }
    }

    fn style(cue: &WordCue) -> CueStyle {
        CueStyle {
            index: cue.index,
            animation: crate::types::CaptionAnimation::Highlight,
            position: crate::types::CaptionPosition::Bottom,
            text_color: Rgb {
                r: 1.0,
                g: 1.0,
                b: 1.0,
            },
            highlight_color: Rgb {
                r: 1.0,
                g: 0.8,
                b: 0.1,
            },
            emphasis: vec![false; cue.words.len()],
        }
    }

    #[test]
    fn cue_styles_keep_cues_and_words() {
        let cues = vec![
            cue(0, &["Only", "$4.99"]),
            cue(1, &["Order", "today", "now"]),
        ];
        let good: Vec<CueStyle> = cues.iter().map(style).collect();
        assert_eq!(cue_styles(&cues, &good), Ok(()));
        assert!(
            cue_styles(&cues, &good[..1])
                .expect_err("refused")
                .problem
                .contains("1 styles for 2 cues")
        );
        let mut short = good.clone();
        short[1].emphasis.pop();
        assert_eq!(
            cue_styles(&cues, &short).expect_err("refused").field,
            "[1].emphasis"
        );
        let mut swapped = good.clone();
        swapped.swap(0, 1);
        assert_eq!(
            cue_styles(&cues, &swapped).expect_err("refused").field,
            "[0].index"
        );
        let mut nan = good.clone();
        nan[0].highlight_color.g = f32::NAN;
        assert_eq!(
            cue_styles(&cues, &nan).expect_err("refused").to_string(),
            "`[0].highlight_color.g` is NaN"
        );
        let mut bright = good;
        bright[1].text_color.r = 1.5;
        assert_eq!(
            cue_styles(&cues, &bright).expect_err("refused").field,
            "[1].text_color.r"
        );
    }

    #[test]
    fn luts_are_complete_and_finite() {
        let white = Rgb {
            r: 1.0,
            g: 1.0,
            b: 1.0,
        };
        let black = Rgb {
            r: 0.0,
            g: 0.0,
            b: 0.0,
        };
        let mut l = Lut3d {
            size: 2,
            domain_min: black,
            domain_max: white,
            table: vec![0.5; 24],
        };
        assert_eq!(lut(&l), Ok(()));
        l.table[7] = f32::NAN;
        assert_eq!(lut(&l).expect_err("refused").field, "table[7]");
        l.table.pop();
        assert_eq!(lut(&l).expect_err("refused").field, "table");
    }
}
