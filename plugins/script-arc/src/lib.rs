//! `kino-script-arc`: the reference `script-strategy` plugin.
//!
//! A brand script is built from beats — a hook, the audience's problem, the
//! product and its facts, proof, and the call to action. Each of five
//! arrangements orders them differently:
//!
//! | variation | shape |
//! |---|---|
//! | `problem-first` | problem → product → facts → proof → call to action |
//! | `hook-first` | hook → problem → product → facts → proof → call to action |
//! | `fact-stack` | product → numbered facts → proof → call to action |
//! | `testimonial-proof` | someone from the audience states a fact → problem → product → facts → proof → call to action |
//! | `cta-bookend` | call to action teased → product → facts → proof → call to action |
//!
//! Whatever the arrangement, the last scene's narration is the brief's call
//! to action, intact. Narration is built only from the brief's fields; the
//! facts are the only product claims, each stated at most once per script.
//!
//! Scenes tile the timeline from 0 and add up exactly to the target length
//! (at least 5 s). Longer targets get more scenes (4 at 15 s, 5 at 30 s, 8 at
//! 60 s, 12 at 120 s): short ones drop the least important beats, long ones
//! are padded with claim-free "moment" beats. Time is split in proportion to
//! how much is said in each scene, at least 1.5 s each; in a music video only
//! the call to action is spoken and the cuts snap to the beat of the track.
//!
//! `generate` writes all five, scores each with `score`, and returns the best
//! `count` (at most 5), best first by [`ScoreCard::overall`].
//!
//! With the brief's assets (the optional `asset-scripts` export,
//! [`generate_scripts_with_assets`]) it writes the same scripts and names in
//! each scene's visual the image or clip of the brief that fits it best, and
//! the logo asset where the logo shows.
//!
//! Configuration: none. Everything comes from the brief.
//!
//! | score | what it checks |
//! |---|---|
//! | `brand-alignment` | brand named, product words and facts heard or read |
//! | `audience-relevance` | the audience's words said (ads) or shown (music videos) |
//! | `call-to-action` | 1 intact in the last scene, 0.5 intact elsewhere, 0 absent |
//! | `narrative-flow` | timing tiles and matches the target, CTA last, strong opening, narration throughout an ad |

use kino_plugin_sdk::{Asset, AssetScripts, Brief, PluginError, ScoreCard, Script, ScriptStrategy};

mod assets;
mod brief;
mod compose;
mod plan;
mod score;
mod text;
mod timing;
mod tone;
mod write;

pub use assets::{best_asset, generate_scripts_with_assets};
pub use brief::MIN_TARGET_S;
pub use plan::Arrangement;
pub use score::score_script;
pub use write::write_script;

/// The most variations one `generate` call returns: one per arrangement.
pub const MAX_VARIATIONS: u32 = Arrangement::ALL.len() as u32;

/// Writes every arrangement for `brief` and returns the best `count` (at most
/// [`MAX_VARIATIONS`]), best first; ties keep the order of [`Arrangement::ALL`].
pub fn generate_scripts(brief: &Brief, count: u32) -> Result<Vec<Script>, PluginError> {
    if count == 0 {
        return Err(PluginError::invalid_input(
            "count is 0; ask for at least one variation",
        ));
    }
    let view = brief::BriefView::new(brief)?;
    let mut ranked: Vec<(f32, Script)> = Arrangement::ALL
        .iter()
        .map(|&arrangement| {
            let script = write::write(&view, arrangement);
            (score::score_view(&view, &script).overall(), script)
        })
        .collect();
    // A stable sort, so equal scores keep the arrangements' order.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(ranked
        .into_iter()
        .take(count.min(MAX_VARIATIONS) as usize)
        .map(|(_, script)| script)
        .collect())
}

struct ScriptArc;

impl ScriptStrategy for ScriptArc {
    fn generate(brief: Brief, count: u32) -> Result<Vec<Script>, PluginError> {
        let scripts = generate_scripts(&brief, count)?;
        kino_plugin_sdk::log::info(&format!(
            "wrote {} variation(s) for {}: {}",
            scripts.len(),
            brief.brand.trim(),
            scripts
                .iter()
                .map(|s| s.variation.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(scripts)
    }

    fn score(brief: Brief, script: Script) -> Result<ScoreCard, PluginError> {
        score_script(&brief, &script)
    }
}

impl AssetScripts for ScriptArc {
    fn generate_with_assets(
        brief: Brief,
        assets: Vec<Asset>,
        count: u32,
    ) -> Result<Vec<Script>, PluginError> {
        let scripts = generate_scripts_with_assets(&brief, &assets, count)?;
        kino_plugin_sdk::log::info(&format!(
            "wrote {} variation(s) for {} with {} asset(s) in view",
            scripts.len(),
            brief.brand.trim(),
            assets.len()
        ));
        Ok(scripts)
    }
}

kino_plugin_sdk::export_script_strategy_with_assets!(ScriptArc);

#[cfg(test)]
mod tests;
