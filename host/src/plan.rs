//! The planning half of the ad-creative pipeline, all in plugins:
//! brief -> script variations (script strategy) -> the top script's scenes
//! directed (director style) -> one grading LUT per scene (grader).
//!
//! Rendering those scenes needs the media kernels; until they land, the
//! plan (JSON) and the LUTs (`.cube`) are the output.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::runtime::types::{
    Brief, BriefMode, ChannelStats, DirectedScene, FrameStats, Lut3d, PluginError, ScoreCard,
    Script,
};
use crate::runtime::{CallCtx, Limits, Plugin, Runtime, Trap, World};

/// A brief as written in a TOML file; validated into a [`Brief`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBrief {
    brand: String,
    product: String,
    audience: String,
    tone: String,
    objective: String,
    #[serde(default)]
    facts: Vec<String>,
    call_to_action: String,
    target_length_s: u32,
    #[serde(default = "default_mode")]
    mode: String,
}

fn default_mode() -> String {
    "ad-creative".to_owned()
}

impl TryFrom<RawBrief> for Brief {
    type Error = anyhow::Error;

    fn try_from(raw: RawBrief) -> Result<Self> {
        let mode = match raw.mode.as_str() {
            "ad-creative" => BriefMode::AdCreative,
            "music-video" => BriefMode::MusicVideo,
            other => bail!("mode must be `ad-creative` or `music-video`, not `{other}`"),
        };
        for (field, value) in [
            ("brand", &raw.brand),
            ("product", &raw.product),
            ("call-to-action", &raw.call_to_action),
        ] {
            if value.trim().is_empty() {
                bail!("`{field}` must not be empty");
            }
        }
        if !(5..=600).contains(&raw.target_length_s) {
            bail!(
                "target-length-s must be between 5 and 600 seconds, not {}",
                raw.target_length_s
            );
        }
        Ok(Brief {
            brand: raw.brand,
            product: raw.product,
            audience: raw.audience,
            tone: raw.tone,
            objective: raw.objective,
            facts: raw.facts,
            call_to_action: raw.call_to_action,
            target_length_s: raw.target_length_s,
            mode,
        })
    }
}

/// Reads and validates a brief file.
pub fn read_brief(path: &Path) -> Result<Brief> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: RawBrief =
        toml::from_str(&text).with_context(|| format!("parsing brief {}", path.display()))?;
    Brief::try_from(raw).with_context(|| format!("checking brief {}", path.display()))
}

/// The plugins a plan runs, and how.
pub struct Planner {
    /// The runtime the plugins run in.
    pub runtime: Runtime,
    /// The script strategy.
    pub strategy: Plugin,
    /// The director style.
    pub director: Plugin,
    /// The grader.
    pub grader: Plugin,
    /// The call context for the director (its config picks the style).
    pub director_call: CallCtx,
    /// The call context for the other plugins.
    pub call: CallCtx,
}

/// A script with its score.
#[derive(Debug, Serialize)]
pub struct ScoredScript {
    /// The script.
    pub script: Script,
    /// How well it fits the brief.
    pub score: ScoreCard,
    /// The mean of the four scores.
    pub overall: f32,
}

/// Everything a plan produced.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// The brief it was made for.
    pub brief: Brief,
    /// Every variation, best first; the first is the one directed.
    pub variations: Vec<ScoredScript>,
    /// The top script's scenes, directed.
    pub directed: Vec<DirectedScene>,
    /// One LUT per directed scene.
    #[serde(skip)]
    pub luts: Vec<Lut3d>,
}

/// Loads the reference plugins for a plan from a directory of built components.
pub fn load_reference_plugins(runtime: &Runtime, dir: &Path) -> Result<[Plugin; 3]> {
    let load = |package: &str, world: World| -> Result<Plugin> {
        let path: PathBuf = dir.join(format!("{}.wasm", package.replace('-', "_")));
        let wasm = std::fs::read(&path).with_context(|| {
            format!(
                "reading plugin {} (build the plugins first: `make plugins`)",
                path.display()
            )
        })?;
        Ok(runtime.load(package, &wasm, world, Limits::default())?)
    };
    Ok([
        load("kino-script-arc", World::ScriptStrategy)?,
        load("kino-director-styles", World::DirectorStyle)?,
        load("kino-grader-palette", World::Grader)?,
    ])
}

fn answer<T>(what: &str, outcome: Result<Result<T, PluginError>, Trap>) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(anyhow!("{what}: the plugin refused: {error}")),
        Err(trap) => Err(anyhow!("{what}: {trap}")),
    }
}

/// Frame statistics of a neutral, well-exposed frame: what the grader sees
/// until frames are rendered and measured.
pub fn neutral_stats() -> FrameStats {
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

impl Planner {
    /// Runs the plan for `brief`: `variations` scripts, the best one directed and graded.
    pub async fn plan(&self, brief: Brief, variations: u32) -> Result<Plan> {
        let strategy = self.runtime.script_strategy(&self.strategy, &self.call)?;
        let scripts = answer(
            "writing scripts",
            strategy.generate(&brief, variations).await,
        )?;
        let mut scored = Vec::with_capacity(scripts.len());
        for script in scripts {
            let score = answer("scoring a script", strategy.score(&brief, &script).await)?;
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
        let top = scored
            .first()
            .ok_or_else(|| anyhow!("the script strategy wrote no script"))?;

        let director = self.runtime.director(&self.director, &self.director_call)?;
        let grader = self.runtime.grader(&self.grader, &self.call)?;
        let stats = neutral_stats();
        // Scenes are independent: direct and grade them concurrently.
        let jobs = top.script.scenes.iter().map(|scene| {
            let (director, grader, brief, stats) = (&director, &grader, &brief, &stats);
            async move {
                let what = format!("directing scene {}", scene.index);
                let directed = answer(&what, director.direct(scene, brief).await)?;
                let what = format!("grading scene {}", scene.index);
                let lut = answer(&what, grader.grade(stats, &directed.grade).await)?;
                Ok::<_, anyhow::Error>((directed, lut))
            }
        });
        let mut directed = Vec::new();
        let mut luts = Vec::new();
        for result in futures::future::join_all(jobs).await {
            let (scene, lut) = result?;
            directed.push(scene);
            luts.push(lut);
        }
        Ok(Plan {
            brief,
            variations: scored,
            directed,
            luts,
        })
    }
}

/// Writes `lut` in the `.cube` format (red index fastest).
pub fn to_cube(lut: &Lut3d, title: &str) -> String {
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

/// Writes `plan.json` and one `scene-N.cube` per directed scene into `dir`.
pub fn write_plan(plan: &Plan, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let json = dir.join("plan.json");
    std::fs::write(&json, serde_json::to_vec_pretty(plan)?)
        .with_context(|| format!("writing {}", json.display()))?;
    written.push(json);
    for (scene, lut) in plan.directed.iter().zip(&plan.luts) {
        let path = dir.join(format!("scene-{}.cube", scene.scene_index));
        std::fs::write(&path, to_cube(lut, &scene.grade.look))
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
