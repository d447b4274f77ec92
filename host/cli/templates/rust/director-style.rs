//! {{name}}: a director-style plugin. Directs each scene in the style named
//! by its `style` config.

use kino_plugin_sdk::{
    Brief, CameraMove, DirectedScene, DirectorStyle, GradeIntent, PluginError, Scene, ShotSize,
    Transition, config, log,
};

struct Plugin;

impl DirectorStyle for Plugin {
    fn direct(scene: Scene, brief: Brief) -> Result<DirectedScene, PluginError> {
        if scene.visual.trim().is_empty() {
            return Err(PluginError::invalid_input("the scene has no visual description"));
        }
        let style = config("style").unwrap_or_else(|| "calm".to_owned());
        log::info(&format!("directing scene {} as {style}", scene.index));
        let calm = style == "calm";
        Ok(DirectedScene {
            scene_index: scene.index,
            styled_prompt: format!("{}, {style}, for {}", scene.visual, brief.audience),
            camera_move: if calm { CameraMove::PushIn } else { CameraMove::Handheld },
            shot_size: ShotSize::Medium,
            pacing: if calm { 0.9 } else { 1.2 },
            transition: Transition::Crossfade,
            transition_ms: 400,
            grade: GradeIntent {
                warmth: if calm { 0.2 } else { -0.2 },
                contrast: 0.1,
                ..GradeIntent::neutral()
            },
        })
    }
}

kino_plugin_sdk::export_director_style!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_plugin_sdk::{BriefMode, testing};

    fn scene(visual: &str) -> Scene {
        Scene {
            index: 2,
            start_ms: 0,
            duration_ms: 3000,
            visual: visual.into(),
            camera: String::new(),
            narration: String::new(),
            on_screen_text: String::new(),
        }
    }

    fn brief() -> Brief {
        Brief {
            brand: "Acme".into(),
            product: "Anvil".into(),
            audience: "cartoon coyotes".into(),
            tone: "dry".into(),
            objective: "sell anvils".into(),
            facts: vec![],
            call_to_action: "Buy one".into(),
            target_length_s: 15,
            mode: BriefMode::AdCreative,
        }
    }

    #[test]
    fn directs_in_the_configured_style() {
        testing::set_config([("style", "gritty")]);
        let directed = Plugin::direct(scene("an anvil"), brief()).expect("directed");
        assert_eq!(directed.scene_index, 2);
        assert!(directed.styled_prompt.contains("gritty"));
        assert_eq!(testing::logged(), ["info: directing scene 2 as gritty"]);
    }

    #[test]
    fn refuses_a_scene_without_a_visual() {
        assert!(Plugin::direct(scene(" "), brief()).is_err());
    }
}
