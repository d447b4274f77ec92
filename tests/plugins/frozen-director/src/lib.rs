//! A `director-style` plugin built from a frozen copy of the `kino:stage`
//! WIT (`wit/`) as it stood before the `caption-style` world, the asset
//! types and the optional `asset-scripts` / `asset-picker` interfaces were
//! added: the component a plugin author compiled then. Never edit `wit/`:
//! the tests load this component to show such plugins keep working.

wit_bindgen::generate!({
    world: "director-style",
    path: "wit",
});

use kino::stage::types::{CameraMove, GradeIntent, ShotSize, Transition};

struct Frozen;

impl Guest for Frozen {
    fn direct(scene: Scene, brief: Brief) -> Result<DirectedScene, PluginError> {
        if scene.visual.trim().is_empty() {
            return Err(PluginError::InvalidInput("scene has no visual".into()));
        }
        let style = kino::stage::host::config("style").unwrap_or_else(|| "frozen".into());
        kino::stage::host::log(
            kino::stage::host::LogLevel::Info,
            &format!("directing scene {} as {style}", scene.index),
        );
        Ok(DirectedScene {
            scene_index: scene.index,
            styled_prompt: format!("{}, {style}, for {}", scene.visual, brief.brand),
            camera_move: CameraMove::PushIn,
            shot_size: ShotSize::Medium,
            pacing: 1.0,
            transition: Transition::Crossfade,
            transition_ms: 500,
            grade: GradeIntent {
                warmth: 0.1,
                contrast: 0.2,
                saturation: 0.0,
                palette: Vec::new(),
                palette_strength: 0.0,
                look: style,
            },
        })
    }
}

export!(Frozen);
