//! A `director-style` plugin that exports `kino:stage/asset-picker@0.1.0`
//! with another function type than the WIT's: loading it must fail, naming
//! the export, however right its `direct` is.

wit_bindgen::generate!({
    world: "mistyped-picker",
    path: "wit",
});

use kino::stage::types::{CameraMove, GradeIntent, ShotSize, Transition};

struct Mistyped;

impl Guest for Mistyped {
    fn direct(scene: Scene, _brief: Brief) -> Result<DirectedScene, PluginError> {
        Ok(DirectedScene {
            scene_index: scene.index,
            styled_prompt: scene.visual,
            camera_move: CameraMove::Locked,
            shot_size: ShotSize::Wide,
            pacing: 1.0,
            transition: Transition::Cut,
            transition_ms: 0,
            grade: GradeIntent {
                warmth: 0.0,
                contrast: 0.0,
                saturation: 0.0,
                palette: Vec::new(),
                palette_strength: 0.0,
                look: "mistyped".into(),
            },
        })
    }
}

impl exports::kino::stage::asset_picker::Guest for Mistyped {
    fn pick_assets(scene_index: u32) -> Vec<String> {
        vec![format!("scene-{scene_index}")]
    }
}

export!(Mistyped);
