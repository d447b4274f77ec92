//! Picking the asset each scene shows (the optional `asset-picker` export).
//!
//! A scene shows one asset of the brief, an image or a clip:
//!
//! - **What it shows.** Each candidate is scored by how well its tags,
//!   name and description match the scene's visual and camera words
//!   ([`Asset::relevance`]), plus [`KIND_BONUS`] for the kind the scene
//!   calls for: footage for a scene of the product in use, of people or of
//!   life around it ("in use", "speaking", "lifestyle", "montage", ...),
//!   a still image for a scene about the product itself ("hero", "product",
//!   "logo", "end card", ...). The best wins; the brief's order breaks ties.
//! - **Variety.** Consecutive scenes never show the same asset when the
//!   kind they show has two or more assets: the assets of each kind are
//!   dealt alternately (in brief order) to even and odd scenes, and a scene
//!   chooses among its own half, plus the kinds that have one asset only.
//! - **How.** A product image in a product scene is shown whole
//!   (`contain`); everything else fills the frame (`cover`). A clip starts
//!   1.5 s further in per scene index, wrapping round within the part that
//!   still covers the whole scene at the style's speed, and plays at the style's
//!   speeds: steady for the calm styles, ramped for the energetic one
//!   ([`Style::footage_speed`]).
//!
//! Logos and fonts are never picked: the host sets the logo itself.

use kino_plugin_sdk::{Asset, AssetKind, AssetPick, Brief, Fit, Scene};

use crate::Settings;
use crate::style::Style;

/// What the kind a scene calls for adds to a candidate's score.
pub const KIND_BONUS: u32 = 3;

/// Words of a scene of the product in use, of people, or of life around it.
const IN_USE_WORDS: &[&str] = &[
    "use",
    "using",
    "action",
    "speaking",
    "speaks",
    "talking",
    "testimonial",
    "lifestyle",
    "routine",
    "montage",
    "demonstration",
    "everyday",
    "moment",
    "people",
    "handheld",
    "following",
    "sequence",
];

/// Words of a scene about the product itself.
const PRODUCT_WORDS: &[&str] = &[
    "product", "hero", "logo", "packshot", "label", "macro", "detail", "card",
];

/// What a scene calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The product in use, people, life: footage.
    Footage,
    /// The product itself: a still image.
    Product,
    /// Nothing in particular.
    Any,
}

impl Want {
    /// What `scene`'s visual and camera words call for.
    pub fn of(scene: &Scene) -> Self {
        let text = format!("{} {}", scene.visual, scene.camera).to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
        if has(IN_USE_WORDS) {
            Self::Footage
        } else if has(PRODUCT_WORDS) {
            Self::Product
        } else {
            Self::Any
        }
    }

    fn bonus(self, asset: &Asset) -> u32 {
        match (self, asset.kind) {
            (Self::Footage, AssetKind::Footage) | (Self::Product, AssetKind::Image) => KIND_BONUS,
            _ => 0,
        }
    }
}

/// Whether a scene can show `asset`: an image, or a clip with a length.
fn showable(asset: &Asset) -> bool {
    match asset.kind {
        AssetKind::Image => true,
        AssetKind::Footage => asset.duration_ms > 0,
        AssetKind::Logo | AssetKind::Font => false,
    }
}

/// The assets scene `index` may show: of each kind with two or more
/// showable assets, those dealt to its parity; of the other kinds, all.
fn dealt(assets: &[Asset], index: u32) -> Vec<&Asset> {
    let parity = (index % 2) as usize;
    let showable: Vec<&Asset> = assets.iter().filter(|a| showable(a)).collect();
    let of_kind = |kind: AssetKind| showable.iter().filter(move |a| a.kind == kind);
    showable
        .iter()
        .filter(|asset| {
            let same: Vec<_> = of_kind(asset.kind).collect();
            same.len() < 2
                || same
                    .iter()
                    .position(|a| std::ptr::eq(**a, **asset))
                    .is_some_and(|i| i % 2 == parity)
        })
        .copied()
        .collect()
}

/// The asset `scene` shows, and how: at most one pick, none when the brief
/// has no image or footage.
pub fn pick_assets(
    settings: &Settings,
    scene: &Scene,
    _brief: &Brief,
    assets: &[Asset],
) -> Vec<AssetPick> {
    let want = Want::of(scene);
    let words = format!("{} {}", scene.visual, scene.camera);
    let mut best: Option<(u32, &Asset)> = None;
    for asset in dealt(assets, scene.index) {
        let score = asset.relevance(&words) + want.bonus(asset);
        if best.is_none_or(|(top, _)| score > top) {
            best = Some((score, asset));
        }
    }
    best.map(|(_, asset)| vec![shown(settings.style, scene, want, asset)])
        .unwrap_or_default()
}

/// How `scene` shows `asset` in `style`.
fn shown(style: &Style, scene: &Scene, want: Want, asset: &Asset) -> AssetPick {
    let pick = AssetPick::of(asset);
    match asset.kind {
        AssetKind::Footage => {
            let (start, end) = style.footage_speed;
            // The clip time the scene plays through, at the mean speed.
            let needed = (f64::from(scene.duration_ms) * f64::from(start + end) / 2.0) as u64;
            // Never past the clip's last millisecond, however long the scene.
            let slack = u64::from(asset.duration_ms).saturating_sub(needed.max(1));
            let in_ms = (u64::from(scene.index) * 1500) % (slack + 1);
            pick.starting_at(u32::try_from(in_ms).unwrap_or(0))
                .ramped(start, end)
        }
        _ if want == Want::Product => pick.fitted(Fit::Contain),
        _ => pick,
    }
}
