//! `kino-director-styles`: the reference `director-style` plugin.
//!
//! Directs each scene in one named style: it rewrites the scene's visual into
//! a prompt in the style's voice and picks the camera move, shot size,
//! pacing, transition and colour grade.
//!
//! | style | framing | pacing | transition | grade |
//! |---|---|---|---|---|
//! | `symmetric-pastel` (default) | centred and symmetrical; locked-off or slow push-in; wide and medium shots | 0.85 | crossfade, 600 ms | warm, low contrast, softened pastel palette |
//! | `noir-high-contrast` | hard shadows, dutch angles; close-ups with slow push-ins or handheld | 0.95 | dip to black, 700 ms | cool, near-monochrome, hard contrast |
//! | `teal-orange-epic` | sweeping extreme-wide and wide shots; orbits and pull-outs | 1.2 | whip pan, 250 ms | teal-orange pull, punchy contrast and saturation |
//!
//! Framing depends on the scene's place, deterministically: the opening scene
//! (index 0) gets the style's establishing shot; a scene with on-screen text,
//! or whose narration names the brand, features the product; other scenes
//! alternate between two framings by index so the coverage varies.
//!
//! It also picks the asset of the brief each scene shows (the optional
//! `asset-picker` export, [`pick_assets`]): the image or clip whose tags and
//! description best match the scene's words, footage for scenes of the
//! product in use and people, product images for product scenes, never the
//! same one in consecutive scenes where the brief has two of that kind, and
//! clips played at the style's speed (ramped, fast into slow motion, for
//! `teal-orange-epic`).
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `style` | `symmetric-pastel` | one of the styles above |
//! | `palette` | the style's own | comma-separated `#rrggbb` colours the grade pulls toward (brand colours) |

use kino_plugin_sdk::{
    Asset, AssetPick, AssetPicker, Brief, DirectedScene, DirectorStyle, PluginError, Rgb, Scene,
    config, log,
};

mod assets;
mod style;

pub use assets::{KIND_BONUS, Want, pick_assets};
pub use style::{DEFAULT_STYLE, Framing, STYLES, Style, StyleId};

/// The tenant's choices: the style, and optionally their own palette.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The style to direct in.
    pub style: &'static Style,
    /// Colours that replace the style's palette in the grade.
    pub palette: Option<Vec<Rgb>>,
}

impl Settings {
    /// Settings from the raw config values of `style` and `palette` (`None` when unset).
    pub fn parse(style: Option<&str>, palette: Option<&str>) -> Result<Self, PluginError> {
        Ok(Self {
            style: find_style(style.unwrap_or(DEFAULT_STYLE))?,
            palette: palette.map(parse_palette).transpose()?.flatten(),
        })
    }

    fn from_config() -> Result<Self, PluginError> {
        Self::parse(config("style").as_deref(), config("palette").as_deref())
    }
}

/// The style called `name` (case and surrounding space ignored).
pub fn find_style(name: &str) -> Result<&'static Style, PluginError> {
    let wanted = name.trim();
    STYLES
        .iter()
        .find(|style| style.name.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| {
            let known: Vec<&str> = STYLES.iter().map(|style| style.name).collect();
            PluginError::invalid_input(format!(
                "config `style` is `{wanted}`, which is not a known style; known styles: {}",
                known.join(", ")
            ))
        })
}

/// Parses a comma-separated list of `#rrggbb` colours. Empty entries (a
/// trailing comma) are skipped; a value with no colours at all means "use the
/// style's palette" and gives `None`.
pub fn parse_palette(raw: &str) -> Result<Option<Vec<Rgb>>, PluginError> {
    let colours = raw
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            Rgb::from_hex(entry).ok_or_else(|| {
                PluginError::invalid_input(format!(
                    "config `palette` has `{entry}`, which is not a #rrggbb colour"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!colours.is_empty()).then_some(colours))
}

/// Where a scene sits in the piece, which decides its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The first scene: it establishes the world.
    Opening,
    /// A scene about the product: it carries on-screen text or names the brand.
    Product,
    /// Any other scene at an even index.
    Even,
    /// Any other scene at an odd index.
    Odd,
}

impl Role {
    /// The role of `scene` in a script for `brief`.
    pub fn of(scene: &Scene, brief: &Brief) -> Self {
        if scene.index == 0 {
            Self::Opening
        } else if features_product(scene, brief) {
            Self::Product
        } else if scene.index.is_multiple_of(2) {
            Self::Even
        } else {
            Self::Odd
        }
    }

    fn framing(self, style: &Style) -> Framing {
        match self {
            Self::Opening => style.opening,
            Self::Product => style.product,
            Self::Even => style.even,
            Self::Odd => style.odd,
        }
    }
}

/// Whether the scene shows on-screen text or its narration names the brand
/// (as whole words, so "Apple" is not found in "pineapple").
fn features_product(scene: &Scene, brief: &Brief) -> bool {
    if !scene.on_screen_text.trim().is_empty() {
        return true;
    }
    let brand = words(&brief.brand);
    !brand.is_empty()
        && words(&scene.narration)
            .windows(brand.len())
            .any(|window| window == brand)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Directs `scene` of a script for `brief` under `settings`.
pub fn direct_scene(
    settings: &Settings,
    scene: &Scene,
    brief: &Brief,
) -> Result<DirectedScene, PluginError> {
    let visual = scene.visual.trim();
    if visual.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "scene {} has an empty `visual`; there is nothing to direct",
            scene.index
        )));
    }
    let style = settings.style;
    let role = Role::of(scene, brief);
    let framing = role.framing(style);
    Ok(DirectedScene {
        scene_index: scene.index,
        styled_prompt: styled_prompt(style, role, framing, visual, scene, brief),
        camera_move: framing.camera,
        shot_size: framing.shot,
        pacing: style.pacing,
        transition: style.transition,
        transition_ms: style.transition_ms,
        grade: style.grade(settings.palette.as_deref()),
    })
}

/// The scene's own visual first (the renderer must see what the script
/// asked for), then the framing and the style's language, then the brief's tone.
fn styled_prompt(
    style: &Style,
    role: Role,
    framing: Framing,
    visual: &str,
    scene: &Scene,
    brief: &Brief,
) -> String {
    let visual = visual.trim_end_matches(['.', ' ']);
    let mut prompt = format!(
        "{visual}. {}, {}",
        capitalize(style::shot_words(framing.shot)),
        style::camera_words(style.id, framing.camera)
    );
    let product = brief.product.trim();
    if role == Role::Product && !product.is_empty() {
        prompt.push_str(&format!(", featuring {product}"));
    }
    let on_screen = scene.on_screen_text.trim();
    if !on_screen.is_empty() {
        prompt.push_str(&format!(
            "; leave clean space for the on-screen text \"{on_screen}\""
        ));
    }
    prompt.push_str(&format!(". Style: {}.", style.language));
    let tone = brief.tone.trim();
    if !tone.is_empty() {
        prompt.push_str(&format!(" Tone: {tone}."));
    }
    prompt
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct DirectorStyles;

impl DirectorStyle for DirectorStyles {
    fn direct(scene: Scene, brief: Brief) -> Result<DirectedScene, PluginError> {
        let settings = Settings::from_config()?;
        let directed = direct_scene(&settings, &scene, &brief)?;
        log::debug(&format!(
            "scene {} directed as {}",
            scene.index, settings.style.name
        ));
        Ok(directed)
    }
}

impl AssetPicker for DirectorStyles {
    fn pick_assets(
        scene: Scene,
        brief: Brief,
        assets: Vec<Asset>,
    ) -> Result<Vec<AssetPick>, PluginError> {
        let settings = Settings::from_config()?;
        let picks = pick_assets(&settings, &scene, &brief, &assets);
        log::debug(&format!(
            "scene {} shows {}",
            scene.index,
            picks.first().map_or("no asset", |p| p.name.as_str())
        ));
        Ok(picks)
    }
}

kino_plugin_sdk::export_director_style_with_assets!(DirectorStyles);

#[cfg(test)]
mod tests;
