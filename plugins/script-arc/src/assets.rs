//! Writing with the brief's assets in view (the optional `asset-scripts` export).
//!
//! The scripts are the ones `generate` writes, ranked the same way; each
//! scene's `visual` then names the asset of the brief that fits it best, so
//! a renderer, a clip backend or a director style sees what to show:
//!
//! - Each image and clip is scored by how well its tags, name and
//!   description match the scene's visual and camera words
//!   ([`Asset::relevance`]) — leaving out the brand's and the product's own
//!   words, which every scene has — plus 1 for the kind the scene calls
//!   for: footage for the product in use, people and everyday moments, a
//!   still for the product itself (a hero shot, a detail, the end card).
//!   The best with a positive score is named, the brief's order breaking ties.
//! - A scene whose visual shows the logo also names the brief's logo asset.
//!
//! Narration, on-screen text and timing are untouched: assets describe
//! pictures, never claims.

use kino_plugin_sdk::{Asset, AssetKind, Brief, PluginError, Scene, Script};

use crate::generate_scripts;
use crate::text;

/// Words of a scene of the product in use, of people or of everyday life.
const IN_USE_WORDS: &[&str] = &[
    "use",
    "demonstration",
    "everyday",
    "moment",
    "montage",
    "speaking",
    "routine",
    "people",
    "sequence",
    "day",
];

/// Words of a scene about the product itself.
const PRODUCT_WORDS: &[&str] = &["hero", "product", "detail", "card", "label", "macro"];

/// The longest asset description quoted in a visual, in characters.
const MAX_DESCRIPTION_CHARS: usize = 160;

/// Writes the best `count` scripts for `brief`, as [`generate_scripts`]
/// does, with each scene's visual naming the asset that fits it.
pub fn generate_scripts_with_assets(
    brief: &Brief,
    assets: &[Asset],
    count: u32,
) -> Result<Vec<Script>, PluginError> {
    let mut scripts = generate_scripts(brief, count)?;
    let common: Vec<String> = text::words(&format!("{} {}", brief.brand, brief.product));
    for scene in scripts.iter_mut().flat_map(|s| &mut s.scenes) {
        mention_assets(scene, assets, &common);
    }
    Ok(scripts)
}

/// The image or clip that fits `scene` best, if any fits at all.
pub fn best_asset<'a>(scene: &Scene, assets: &'a [Asset], common: &[String]) -> Option<&'a Asset> {
    let words: Vec<String> = text::words(&format!("{} {}", scene.visual, scene.camera))
        .into_iter()
        .filter(|w| !common.contains(w))
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let wanted = if has(IN_USE_WORDS) {
        Some(AssetKind::Footage)
    } else if has(PRODUCT_WORDS) {
        Some(AssetKind::Image)
    } else {
        None
    };
    let text = words.join(" ");
    let mut best: Option<(u32, &Asset)> = None;
    for asset in assets.iter().filter(|a| a.is_visual()) {
        let score = asset.relevance(&text) + u32::from(wanted == Some(asset.kind));
        if score > 0 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, asset));
        }
    }
    best.map(|(_, asset)| asset)
}

/// Names in `scene`'s visual the asset that fits it, and the logo asset
/// when the visual shows the logo.
fn mention_assets(scene: &mut Scene, assets: &[Asset], common: &[String]) {
    let mut mentions = Vec::new();
    if let Some(asset) = best_asset(scene, assets, common) {
        let kind = if asset.kind == AssetKind::Footage {
            "footage"
        } else {
            "image"
        };
        let description: String = asset
            .description
            .trim()
            .chars()
            .take(MAX_DESCRIPTION_CHARS)
            .collect();
        mentions.push(if description.is_empty() {
            format!("show the brief's {kind} \"{}\"", asset.name)
        } else {
            format!("show the brief's {kind} \"{}\" ({description})", asset.name)
        });
    }
    let shows_logo = text::words(&scene.visual).iter().any(|w| w == "logo");
    if shows_logo && let Some(logo) = assets.iter().find(|a| a.kind == AssetKind::Logo) {
        mentions.push(format!("the logo is the brief's \"{}\"", logo.name));
    }
    if !mentions.is_empty() {
        let visual = scene.visual.trim_end_matches(['.', ' ']);
        scene.visual = format!("{visual}; {}", mentions.join("; "));
    }
}
