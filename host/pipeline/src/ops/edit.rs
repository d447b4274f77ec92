//! Scene editing, non-destructive: a job's edits are one more input of the
//! ad-creative pipeline. The `plan` stage applies them to the written script
//! (update prompt, text or style; reorder; trim; regenerate), and every stage
//! downstream is keyed by its own shot, so recomposition reuses every
//! artifact the edit did not change. The original job and its render stay
//! as they were.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::ad::ScriptPlan;
use super::{OpCx, write_json};
use kino_runtime::types::{Brief, DirectedScene, Scene};

/// How many times one scene may be regenerated.
const MAX_TAKES: u32 = 1000;

/// Edits to an ad's scenes. Scenes are named by their index in the written
/// script (`id`), which never changes, whatever the order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Edits {
    /// The playing order, as scene ids; every scene exactly once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<u32>>,
    /// Per-scene changes, by scene id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenes: BTreeMap<u32, SceneEdit>,
}

/// Changes to one scene; unset fields keep what the script (or an earlier
/// edit) says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SceneEdit {
    /// What the viewer sees (the prompt a renderer or clip backend gets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<String>,
    /// The narration spoken over the scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<String>,
    /// The text shown on screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_screen_text: Option<String>,
    /// The director style for this scene (the director plugin's `style` config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// In and out points within the written scene, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<[u32; 2]>,
    /// How many times the scene was regenerated: a new take is a new render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take: Option<u32>,
}

impl Edits {
    /// Parses edits (JSON); `""` is no edits.
    pub fn parse(text: &str) -> Result<Edits> {
        if text.trim().is_empty() {
            return Ok(Edits::default());
        }
        serde_json::from_str(text).context("reading the scene edits (JSON)")
    }

    /// These edits with `later` applied on top: a later order replaces this
    /// one, later scene fields replace these, a take adds up.
    pub fn then(mut self, later: &Edits) -> Edits {
        if let Some(order) = &later.order {
            self.order = Some(order.clone());
        }
        for (id, edit) in &later.scenes {
            let e = self.scenes.entry(*id).or_default();
            let set = |to: &mut Option<String>, from: &Option<String>| {
                if from.is_some() {
                    to.clone_from(from);
                }
            };
            set(&mut e.visual, &edit.visual);
            set(&mut e.narration, &edit.narration);
            set(&mut e.on_screen_text, &edit.on_screen_text);
            set(&mut e.style, &edit.style);
            if edit.trim.is_some() {
                e.trim = edit.trim;
            }
            if let Some(more) = edit.take {
                e.take = Some(e.take.unwrap_or(0).saturating_add(more));
            }
        }
        self
    }

    /// Checks the edits against the written scenes; errors name the scene.
    pub fn check(&self, scenes: &[Scene]) -> Result<()> {
        let ids: Vec<u32> = scenes.iter().map(|s| s.index).collect();
        if let Some(order) = &self.order {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            let mut all = ids.clone();
            all.sort_unstable();
            if sorted != all {
                bail!("the order must name every scene ({ids:?}) exactly once, not {order:?}");
            }
        }
        for (id, edit) in &self.scenes {
            let Some(scene) = scenes.iter().find(|s| s.index == *id) else {
                bail!("scene {id} does not exist (the scenes are {ids:?})");
            };
            if let Some([from, to]) = edit.trim
                && (from >= to || to > scene.duration_ms || to - from < 500)
            {
                bail!(
                    "scene {id}: trim [{from}, {to}] must lie within its {} ms and keep at least 500 ms",
                    scene.duration_ms
                );
            }
            if edit.take.is_some_and(|t| t > MAX_TAKES) {
                bail!(
                    "scene {id}: take {} is more than the {MAX_TAKES} a scene may have",
                    edit.take.unwrap_or(0)
                );
            }
            if edit.style.as_deref().is_some_and(|s| s.trim().is_empty()) {
                bail!("scene {id}: the style cannot be empty");
            }
        }
        Ok(())
    }
}

/// One scene as the edited piece plays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shot {
    /// The scene's index in the written script: its name in edits.
    pub id: u32,
    /// The scene as played: re-indexed, re-timed, trimmed, edited.
    pub scene: Scene,
    /// The brief, for the director.
    pub brief: Brief,
    /// A director style for this scene only.
    pub style: Option<String>,
    /// In and out points within the written scene, ms.
    pub trim: Option<[u32; 2]>,
    /// The written scene's length, ms.
    pub written_ms: u32,
    /// Which take (0 for the first render).
    pub take: u32,
    /// How the scene was directed: only in the delivered plan (`plan.json`,
    /// the scenes API), never in the plan the director reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// One scene's narration, without its place in the piece: a trim or a move
/// elsewhere does not make it speak again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// What is said.
    pub narration: String,
    /// The scene's length as played, ms.
    pub duration_ms: u32,
}

/// What `plan` stores: the edited scenes in playing order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenePlan {
    /// The music note of the script.
    pub music: String,
    /// The edited piece's length, ms.
    pub total_ms: u32,
    /// The scenes, in playing order.
    pub shots: Vec<Shot>,
    /// Their narration, in the same order.
    pub lines: Vec<Line>,
    /// The edits applied.
    pub edits: Edits,
    /// How the cuts were put on the music's beats, when they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beat_sync: Option<super::beats::BeatSync>,
}

/// The direction a scene got, and from whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Direction {
    /// The director plugin (`name@version`); `None` when a fallback policy
    /// degraded the stage and the host's plain push-in was used.
    pub directed_by: Option<String>,
    /// What it answered (its `scene_index` is the written scene's).
    #[serde(flatten)]
    pub directed: DirectedScene,
    /// What the scene shows from the brief's assets (none: the product).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<super::assets::Pick>,
}

/// A directed shot: what grading and rendering need, and nothing about where
/// the shot sits in the piece, so a moved scene keeps its render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectedShot {
    /// The direction (its `scene-index` is not kept: see above).
    pub directed: DirectedScene,
    /// The text shown on screen.
    pub on_screen_text: String,
    /// The shot's length as played, ms.
    pub duration_ms: u32,
    /// In and out points within the written scene, ms.
    pub trim: Option<[u32; 2]>,
    /// The written scene's length, ms.
    pub written_ms: u32,
    /// Which take.
    pub take: u32,
    /// The director plugin (`name@version`), or `None` for the host's
    /// degraded direction.
    #[serde(default)]
    pub directed_by: Option<String>,
    /// What it shows from the brief's assets, first pick first; none: the
    /// product image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<super::assets::Pick>,
}

impl DirectedShot {
    /// A directed shot for `shot`, directed by `directed_by` (a plugin id).
    pub fn new(
        shot: &Shot,
        mut directed: DirectedScene,
        directed_by: Option<String>,
        picks: Vec<super::assets::Pick>,
    ) -> Self {
        directed.scene_index = 0;
        Self {
            directed_by,
            picks,
            directed,
            on_screen_text: shot.scene.on_screen_text.clone(),
            duration_ms: shot.scene.duration_ms,
            trim: shot.trim,
            written_ms: shot.written_ms,
            take: shot.take,
        }
    }

    /// Where in the written scene's camera move (0..=1) the shot is at
    /// `ms` into it.
    pub fn move_at(&self, ms: f32) -> f32 {
        let from = self.trim.map_or(0, |[from, _]| from) as f32;
        ((from + ms) / self.written_ms.max(1) as f32).clamp(0.0, 1.0)
    }
}

/// Applies `edits` to the written scenes.
pub fn apply(script: &ScriptPlan, edits: &Edits) -> Result<ScenePlan> {
    edits.check(&script.scenes)?;
    let order: Vec<u32> = edits
        .order
        .clone()
        .unwrap_or_else(|| script.scenes.iter().map(|s| s.index).collect());
    let mut at = 0;
    let mut shots = Vec::with_capacity(order.len());
    for (position, id) in order.iter().enumerate() {
        let written = script
            .scenes
            .iter()
            .find(|s| s.index == *id)
            .expect("checked: every id is a scene");
        let edit = edits.scenes.get(id).cloned().unwrap_or_default();
        let mut scene = written.clone();
        scene.index = position as u32;
        scene.start_ms = at;
        if let Some([from, to]) = edit.trim {
            scene.duration_ms = to - from;
        }
        if let Some(v) = edit.visual {
            scene.visual = v;
        }
        if let Some(n) = edit.narration {
            scene.narration = n;
        }
        if let Some(t) = edit.on_screen_text {
            scene.on_screen_text = t;
        }
        at += scene.duration_ms;
        shots.push(Shot {
            id: *id,
            scene,
            brief: script.brief.clone(),
            style: edit.style,
            trim: edit.trim,
            written_ms: written.duration_ms,
            take: edit.take.unwrap_or(0),
            direction: None,
        });
    }
    let lines = shots
        .iter()
        .map(|s| Line {
            narration: s.scene.narration.clone(),
            duration_ms: s.scene.duration_ms,
        })
        .collect();
    Ok(ScenePlan {
        music: script.music.clone(),
        total_ms: at,
        shots,
        lines,
        edits: edits.clone(),
        beat_sync: None,
    })
}

pub(super) fn edit_scenes(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let script: ScriptPlan = cx.json(0)?;
    let edits = match cx.inputs.get(1) {
        Some(super::Input::Text(t)) => Edits::parse(t)?,
        _ => Edits::default(),
    };
    let mut script = script;
    let beat_sync = match cx.optional_file(2)? {
        Some(beats) => {
            let grid: super::beats::BeatGrid = super::read_json(beats)?;
            let sync = super::beats::snap_scenes(
                &mut script.scenes,
                script.total_ms,
                &grid,
                script.brief.mode,
            );
            Some(sync)
        }
        None => None,
    };
    let mut plan = apply(&script, &edits)?;
    plan.beat_sync = beat_sync;
    write_json(dir, "plan.json", &plan)
}

/// The plan as delivered: each shot with the direction it got.
pub(super) fn played_plan(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let mut plan: ScenePlan = cx.json(0)?;
    let directed: Vec<DirectedShot> = cx
        .files(1)?
        .iter()
        .map(|p| super::read_json(p))
        .collect::<Result<_>>()?;
    if directed.len() != plan.shots.len() {
        bail!(
            "{} directions for {} shots",
            directed.len(),
            plan.shots.len()
        );
    }
    for (shot, d) in plan.shots.iter_mut().zip(directed) {
        let mut scene = d.directed;
        scene.scene_index = shot.id;
        shot.direction = Some(Direction {
            directed_by: d.directed_by,
            directed: scene,
            picks: d.picks,
        });
    }
    write_json(dir, "plan.json", &plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_runtime::types::BriefMode;

    fn script() -> ScriptPlan {
        let scene = |index: u32, start: u32, dur: u32| Scene {
            index,
            start_ms: start,
            duration_ms: dur,
            visual: format!("visual {index}"),
            camera: String::new(),
            narration: format!("narration {index}"),
            on_screen_text: String::new(),
        };
        ScriptPlan {
            brief: Brief {
                brand: "b".into(),
                product: "p".into(),
                audience: String::new(),
                tone: String::new(),
                objective: String::new(),
                facts: Vec::new(),
                call_to_action: "c".into(),
                target_length_s: 9,
                mode: BriefMode::AdCreative,
            },
            variations: Vec::new(),
            scenes: vec![
                scene(0, 0, 3000),
                scene(1, 3000, 2000),
                scene(2, 5000, 4000),
            ],
            music: String::new(),
            total_ms: 9000,
        }
    }

    #[test]
    fn reorder_trim_and_text_retime_the_piece() {
        let edits: Edits = serde_json::from_str(
            r#"{"order": [2, 0, 1], "scenes": {"2": {"trim": [1000, 3000], "narration": "new"}}}"#,
        )
        .expect("edits");
        let plan = apply(&script(), &edits).expect("apply");
        let got: Vec<(u32, u32, u32, u32)> = plan
            .shots
            .iter()
            .map(|s| (s.id, s.scene.index, s.scene.start_ms, s.scene.duration_ms))
            .collect();
        assert_eq!(
            got,
            vec![(2, 0, 0, 2000), (0, 1, 2000, 3000), (1, 2, 5000, 2000)]
        );
        assert_eq!(plan.total_ms, 7000);
        assert_eq!(plan.shots[0].scene.narration, "new");
        assert_eq!(plan.shots[1].scene.narration, "narration 0");
    }

    #[test]
    fn bad_edits_name_the_scene() {
        let bad = |json: &str| {
            let edits: Edits = serde_json::from_str(json).expect("json");
            format!("{:#}", apply(&script(), &edits).expect_err(json))
        };
        assert!(bad(r#"{"order": [0, 1]}"#).contains("exactly once"));
        assert!(bad(r#"{"scenes": {"7": {"narration": "x"}}}"#).contains("scene 7 does not exist"));
        assert!(bad(r#"{"scenes": {"1": {"trim": [0, 2500]}}}"#).contains("scene 1: trim"));
        assert!(Edits::parse(r#"{"scenes": {"1": {"colour": "x"}}}"#).is_err());
    }

    #[test]
    fn later_edits_layer_on_earlier_ones() {
        let first: Edits =
            serde_json::from_str(r#"{"scenes": {"1": {"narration": "a", "take": 1}}}"#)
                .expect("json");
        let second: Edits =
            serde_json::from_str(r#"{"order": [1, 0, 2], "scenes": {"1": {"take": 1}}}"#)
                .expect("json");
        let both = first.then(&second);
        assert_eq!(both.order, Some(vec![1, 0, 2]));
        assert_eq!(both.scenes[&1].narration.as_deref(), Some("a"));
        assert_eq!(both.scenes[&1].take, Some(2));
    }

    #[test]
    fn a_trimmed_shot_moves_through_its_part_of_the_move() {
        let shot = DirectedShot {
            directed_by: None,
            picks: Vec::new(),
            directed: kino_runtime::types::DirectedScene {
                scene_index: 0,
                styled_prompt: String::new(),
                camera_move: kino_runtime::types::CameraMove::PushIn,
                shot_size: kino_runtime::types::ShotSize::Medium,
                pacing: 1.0,
                transition: kino_runtime::types::Transition::Cut,
                transition_ms: 0,
                grade: kino_runtime::types::GradeIntent {
                    warmth: 0.0,
                    contrast: 0.0,
                    saturation: 0.0,
                    palette: Vec::new(),
                    palette_strength: 0.0,
                    look: String::new(),
                },
            },
            on_screen_text: String::new(),
            duration_ms: 2000,
            trim: Some([1000, 3000]),
            written_ms: 4000,
            take: 0,
        };
        assert_eq!(shot.move_at(0.0), 0.25);
        assert_eq!(shot.move_at(2000.0), 0.75);
    }
}
