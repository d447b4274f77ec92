//! {{name}}: a script strategy. Writes `count` variations of a four-scene
//! arc (hook, product, proof, call to action) tiled to the brief's length,
//! and scores a script by how much of the brief it uses.

use kino_plugin_sdk::{Brief, PluginError, Scene, ScoreCard, Script, ScriptStrategy, log};

struct Plugin;

const ARCS: &[&str] = &["problem-first", "product-first", "proof-first"];

fn scene(index: u32, start_ms: u32, duration_ms: u32, visual: String, narration: String, text: String) -> Scene {
    Scene {
        index,
        start_ms,
        duration_ms,
        visual,
        camera: "slow push-in".into(),
        narration,
        on_screen_text: text,
    }
}

impl ScriptStrategy for Plugin {
    fn generate(brief: Brief, count: u32) -> Result<Vec<Script>, PluginError> {
        if brief.target_length_s == 0 {
            return Err(PluginError::invalid_input("the brief has no target length"));
        }
        let total = brief.target_length_ms();
        let fact = brief.facts.first().cloned().unwrap_or_else(|| brief.product.clone());
        let beats = [
            (format!("{} in their day", brief.audience), format!("Made for {}.", brief.audience), String::new()),
            (format!("{} on a clean table", brief.product), format!("Meet {}.", brief.product), brief.brand.clone()),
            (format!("{} in use", brief.product), format!("{fact}."), fact.clone()),
            (format!("{} logo", brief.brand), brief.call_to_action.clone(), brief.call_to_action.clone()),
        ];
        log::info(&format!("writing {count} variations of {} ms", total));
        Ok(ARCS
            .iter()
            .cycle()
            .take(count.clamp(1, 8) as usize)
            .enumerate()
            .map(|(v, arc)| {
                let mut order: Vec<usize> = (0..3).collect();
                order.rotate_left(v % 3);
                order.push(3);
                // Four scenes tile the timeline; the last takes the remainder.
                let each = total / 4;
                let scenes = order
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        let start = each * i as u32;
                        let duration = if i == 3 { total - start } else { each };
                        let (visual, narration, text) = beats[b].clone();
                        scene(i as u32, start, duration, visual, narration, text)
                    })
                    .collect();
                Script {
                    variation: (*arc).to_owned(),
                    scenes,
                    music: format!("{} acoustic, 96 bpm", brief.tone),
                    visual_style: format!("{}, natural light", brief.tone),
                    estimated_length_ms: total,
                }
            })
            .collect())
    }

    fn score(brief: Brief, script: Script) -> Result<ScoreCard, PluginError> {
        let text: String = script
            .scenes
            .iter()
            .map(|s| format!("{} {} {} ", s.visual, s.narration, s.on_screen_text))
            .collect();
        let mentions = |needle: &str| if text.contains(needle) { 1.0 } else { 0.0 };
        let facts = if brief.facts.is_empty() {
            1.0
        } else {
            brief.facts.iter().map(|f| mentions(f)).sum::<f32>() / brief.facts.len() as f32
        };
        let cta_last = script
            .scenes
            .last()
            .is_some_and(|s| s.narration.contains(&brief.call_to_action));
        Ok(ScoreCard {
            brand_alignment: (mentions(&brief.brand) + facts) / 2.0,
            audience_relevance: mentions(&brief.audience),
            call_to_action: if cta_last { 1.0 } else { 0.0 },
            narrative_flow: if script.variation == "problem-first" { 0.9 } else { 0.7 },
            notes: vec![format!("{} arc", script.variation)],
        })
    }
}

kino_plugin_sdk::export_script_strategy!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use kino_plugin_sdk::BriefMode;

    #[test]
    fn scenes_tile_the_target_length() {
        let brief = Brief {
            brand: "Acme".into(),
            product: "Anvil".into(),
            audience: "coyotes".into(),
            tone: "dry".into(),
            objective: "sell".into(),
            facts: vec!["Drops fast".into()],
            call_to_action: "Buy one".into(),
            target_length_s: 15,
            mode: BriefMode::AdCreative,
        };
        let scripts = Plugin::generate(brief.clone(), 2).expect("scripts");
        assert_eq!(scripts.len(), 2);
        let last = scripts[0].scenes.last().expect("scenes");
        assert_eq!(last.start_ms + last.duration_ms, 15_000);
        let card = Plugin::score(brief, scripts[0].clone()).expect("a score");
        assert_eq!(card.call_to_action, 1.0);
    }
}
