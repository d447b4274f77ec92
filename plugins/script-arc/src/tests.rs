//! Behaviour of the whole strategy: what `generate` and `score` promise.

// A failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used)]

use kino_plugin_sdk::{Brief, BriefMode, PluginError, Script};

use crate::{Arrangement, MAX_VARIATIONS, generate_scripts, score_script, text, write_script};

fn brief(target_length_s: u32) -> Brief {
    Brief {
        brand: "Brightbrew".into(),
        product: "Brightbrew cold brew concentrate".into(),
        audience: "busy young professionals who commute".into(),
        tone: "warm".into(),
        objective: "drive first purchases".into(),
        facts: vec![
            "brews in 12 hours".into(),
            "makes 16 cups per bottle".into(),
            "organic arabica beans".into(),
        ],
        call_to_action: "Order at brightbrew.example today".into(),
        target_length_s,
        mode: BriefMode::AdCreative,
    }
}

fn assert_tiles(script: &Script, target_ms: u32) {
    let mut start = 0;
    for (i, scene) in script.scenes.iter().enumerate() {
        assert_eq!(scene.index as usize, i, "{}", script.variation);
        assert_eq!(
            scene.start_ms, start,
            "{}: gap or overlap at scene {i}",
            script.variation
        );
        assert!(
            scene.duration_ms >= 1500,
            "{}: scene {i} is {} ms",
            script.variation,
            scene.duration_ms
        );
        start += scene.duration_ms;
    }
    assert_eq!(start, target_ms, "{}", script.variation);
    assert_eq!(script.estimated_length_ms, target_ms);
}

fn invalid_input(result: Result<Vec<Script>, PluginError>) -> String {
    match result {
        Err(PluginError::InvalidInput(message)) => message,
        other => panic!("expected invalid-input, got {other:?}"),
    }
}

#[test]
fn timing_marks_tile_and_sum_to_the_target() {
    for target_s in [15, 30, 60, 120, 5, 7, 13, 45, 97, 3600] {
        let scripts = generate_scripts(&brief(target_s), 5).unwrap();
        assert_eq!(scripts.len(), 5);
        for script in &scripts {
            assert_tiles(script, target_s * 1000);
        }
    }
}

#[test]
fn longer_targets_get_more_scenes() {
    let scene_counts = |target_s| -> Vec<usize> {
        generate_scripts(&brief(target_s), 5)
            .unwrap()
            .iter()
            .map(|s| s.scenes.len())
            .collect()
    };
    assert!(scene_counts(15).iter().all(|n| (3..=4).contains(n)));
    assert!(scene_counts(30).iter().all(|&n| n == 5));
    assert!(scene_counts(60).iter().all(|n| (7..=8).contains(n)));
    assert!(scene_counts(120).iter().all(|&n| n >= 10));
}

#[test]
fn five_distinct_variations_each_ending_on_the_intact_cta() {
    for target_s in [15, 30, 60, 120] {
        let brief = brief(target_s);
        let scripts = generate_scripts(&brief, 5).unwrap();
        let mut names: Vec<&str> = scripts.iter().map(|s| s.variation.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "cta-bookend",
                "fact-stack",
                "hook-first",
                "problem-first",
                "testimonial-proof"
            ]
        );

        let narrations: Vec<Vec<&str>> = scripts
            .iter()
            .map(|s| {
                s.scenes
                    .iter()
                    .map(|scene| scene.narration.as_str())
                    .collect()
            })
            .collect();
        for (i, a) in narrations.iter().enumerate() {
            for b in &narrations[i + 1..] {
                assert_ne!(a, b, "two variations read the same at {target_s} s");
            }
        }
        for script in &scripts {
            let last = script.scenes.last().unwrap();
            assert_eq!(last.narration, brief.call_to_action, "{}", script.variation);
            assert_eq!(last.on_screen_text, brief.call_to_action);
        }
    }
}

#[test]
fn each_fact_is_stated_at_most_once_per_script() {
    let brief = brief(120);
    for script in generate_scripts(&brief, 5).unwrap() {
        for fact in &brief.facts {
            let fact_words = text::words(fact);
            let scenes_stating_it = script
                .scenes
                .iter()
                .filter(|scene| text::contains_phrase(&text::words(&scene.narration), &fact_words))
                .count();
            assert!(
                scenes_stating_it <= 1,
                "{}: \"{fact}\" stated {scenes_stating_it} times",
                script.variation
            );
        }
    }
}

#[test]
fn narration_never_repeats_within_a_script() {
    let mut no_facts = brief(120);
    no_facts.facts.clear();
    for brief in [brief(120), no_facts] {
        for script in generate_scripts(&brief, 5).unwrap() {
            let mut lines: Vec<&str> = script.scenes.iter().map(|s| s.narration.as_str()).collect();
            lines.sort_unstable();
            lines.dedup();
            assert_eq!(lines.len(), script.scenes.len(), "{}", script.variation);
        }
    }
}

#[test]
fn scores_are_in_range_and_explained() {
    let brief = brief(30);
    for script in generate_scripts(&brief, 5).unwrap() {
        let card = score_script(&brief, &script).unwrap();
        for score in [
            card.brand_alignment,
            card.audience_relevance,
            card.call_to_action,
            card.narrative_flow,
        ] {
            assert!(
                (0.0..=1.0).contains(&score),
                "{}: {card:?}",
                script.variation
            );
        }
        assert_eq!(card.notes.len(), 4);
        assert_eq!(card.call_to_action, 1.0);
        assert_eq!(card.narrative_flow, 1.0, "{card:?}");
    }
}

#[test]
fn removing_the_cta_lowers_its_score() {
    let brief = brief(30);
    let script = write_script(&brief, Arrangement::ProblemFirst).unwrap();
    let mut without_cta = script.clone();
    let last = without_cta.scenes.last_mut().unwrap();
    last.narration = "Thanks for watching.".into();
    last.on_screen_text.clear();

    let with = score_script(&brief, &script).unwrap();
    let without = score_script(&brief, &without_cta).unwrap();
    assert_eq!(with.call_to_action, 1.0);
    assert_eq!(without.call_to_action, 0.0);
    assert!(without.narrative_flow < with.narrative_flow);
    assert!(without.overall() < with.overall());
}

#[test]
fn a_cta_before_the_end_gets_partial_credit() {
    let brief = brief(30);
    let mut script = write_script(&brief, Arrangement::CtaBookend).unwrap();
    let last = script.scenes.last_mut().unwrap();
    last.narration = "Thanks for watching.".into();
    last.on_screen_text.clear();
    assert_eq!(score_script(&brief, &script).unwrap().call_to_action, 0.5);
}

#[test]
fn broken_timing_lowers_the_flow() {
    let brief = brief(30);
    let script = write_script(&brief, Arrangement::HookFirst).unwrap();
    let mut gappy = script.clone();
    gappy.scenes[2].start_ms += 400;
    let flow = |s: &Script| score_script(&brief, s).unwrap().narrative_flow;
    assert!(flow(&gappy) < flow(&script));
}

#[test]
fn ranking_is_sorted_best_first_and_deterministic() {
    for target_s in [15, 30, 60, 120] {
        let brief = brief(target_s);
        let scripts = generate_scripts(&brief, 5).unwrap();
        let overall: Vec<f32> = scripts
            .iter()
            .map(|s| score_script(&brief, s).unwrap().overall())
            .collect();
        assert!(overall.windows(2).all(|w| w[0] >= w[1]), "{overall:?}");
        assert_eq!(scripts, generate_scripts(&brief, 5).unwrap());
    }
}

#[test]
fn count_is_capped_and_takes_the_best() {
    let brief = brief(60);
    let all = generate_scripts(&brief, 5).unwrap();
    assert_eq!(generate_scripts(&brief, 9).unwrap(), all);
    assert_eq!(generate_scripts(&brief, 2).unwrap(), all[..2]);
    assert_eq!(MAX_VARIATIONS, 5);
}

#[test]
fn music_videos_speak_only_the_cta_and_cut_on_the_beat() {
    let mut brief = brief(30);
    brief.mode = BriefMode::MusicVideo;
    for script in generate_scripts(&brief, 5).unwrap() {
        assert_tiles(&script, 30_000);
        let (last, rest) = script.scenes.split_last().unwrap();
        assert_eq!(last.narration, brief.call_to_action);
        assert!(
            rest.iter().all(|s| s.narration.is_empty()),
            "{}",
            script.variation
        );
        assert!(script.music.contains("cut on the beat"));
        assert!(script.visual_style.contains("cut on the beat"));
        // Warm is 96 bpm: every cut but the last lands on the 625 ms grid.
        for scene in rest {
            assert_eq!(
                (scene.start_ms + scene.duration_ms) % 625,
                0,
                "{}",
                script.variation
            );
        }
    }
}

#[test]
fn bad_briefs_are_invalid_input_naming_the_field() {
    let mut no_brand = brief(30);
    no_brand.brand = "  ".into();
    assert!(invalid_input(generate_scripts(&no_brand, 3)).contains("`brand`"));
    let mut no_product = brief(30);
    no_product.product.clear();
    assert!(invalid_input(generate_scripts(&no_product, 3)).contains("`product`"));
    let mut no_cta = brief(30);
    no_cta.call_to_action = "!".into();
    assert!(invalid_input(generate_scripts(&no_cta, 3)).contains("`call-to-action`"));
    assert!(invalid_input(generate_scripts(&brief(4), 3)).contains("`target-length-s`"));
    assert!(invalid_input(generate_scripts(&brief(30), 0)).contains("count"));
    assert!(matches!(
        score_script(
            &no_brand,
            &Script {
                variation: String::new(),
                scenes: Vec::new(),
                music: String::new(),
                visual_style: String::new(),
                estimated_length_ms: 0,
            }
        ),
        Err(PluginError::InvalidInput(_))
    ));
}

#[test]
fn an_empty_script_scores_low_without_failing() {
    let brief = brief(30);
    let empty = Script {
        variation: "empty".into(),
        scenes: Vec::new(),
        music: String::new(),
        visual_style: String::new(),
        estimated_length_ms: 0,
    };
    let card = score_script(&brief, &empty).unwrap();
    assert_eq!(
        (
            card.brand_alignment,
            card.call_to_action,
            card.narrative_flow
        ),
        (0.0, 0.0, 0.0)
    );
}

mod assets {
    //! Writing with the brief's assets in view.

    use kino_plugin_sdk::{Asset, AssetKind};

    use super::brief;
    use crate::{generate_scripts, generate_scripts_with_assets};

    fn asset(name: &str, kind: AssetKind, tags: &[&str], description: &str) -> Asset {
        Asset {
            name: name.into(),
            kind,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            description: description.into(),
            duration_ms: if kind == AssetKind::Footage { 8000 } else { 0 },
            width: 1920,
            height: 1080,
        }
    }

    fn assets() -> Vec<Asset> {
        vec![
            asset(
                "brand-logo",
                AssetKind::Logo,
                &["logo"],
                "The Brightbrew logo",
            ),
            asset(
                "bottle-hero",
                AssetKind::Image,
                &["product", "hero"],
                "The Brightbrew bottle on white",
            ),
            asset(
                "pour-clip",
                AssetKind::Footage,
                &["in-use", "demonstration"],
                "Concentrate poured over ice in a sunny kitchen",
            ),
            asset("brand-font", AssetKind::Font, &[], "Brightbrew Sans"),
        ]
    }

    #[test]
    fn scenes_name_the_assets_that_fit_them() {
        let brief = brief(30);
        let plain = generate_scripts(&brief, 5).unwrap();
        let with = generate_scripts_with_assets(&brief, &assets(), 5).unwrap();
        assert_eq!(plain.len(), with.len());
        let mut named = 0;
        for (p, w) in plain.iter().zip(&with) {
            assert_eq!(p.variation, w.variation, "ranked the same");
            for (a, b) in p.scenes.iter().zip(&w.scenes) {
                // Only the visual changes: narration, text and timing stay.
                assert_eq!(
                    (&a.narration, &a.on_screen_text, a.start_ms, a.duration_ms),
                    (&b.narration, &b.on_screen_text, b.start_ms, b.duration_ms)
                );
                assert!(b.visual.starts_with(a.visual.trim_end_matches(['.', ' '])));
                assert!(!b.visual.contains("brand-font"), "fonts are not shown");
                if b.visual != a.visual {
                    named += 1;
                }
                let lower = a.visual.to_lowercase();
                if lower.contains("in use") || lower.contains("demonstration") {
                    assert!(b.visual.contains("footage \"pour-clip\""), "{}", b.visual);
                }
                if lower.contains("hero shot") || lower.contains("end card") {
                    assert!(b.visual.contains("image \"bottle-hero\""), "{}", b.visual);
                }
                if lower.contains("logo") {
                    assert!(b.visual.contains("\"brand-logo\""), "{}", b.visual);
                }
            }
        }
        assert!(named > 10, "most scenes name an asset: {named}");
    }

    #[test]
    fn without_visual_assets_only_the_logo_is_named() {
        let brief = brief(15);
        let logo_only: Vec<Asset> = assets()
            .into_iter()
            .filter(|a| a.kind == AssetKind::Logo)
            .collect();
        let plain = generate_scripts(&brief, 5).unwrap();
        let with = generate_scripts_with_assets(&brief, &logo_only, 5).unwrap();
        for (p, w) in plain.iter().zip(&with) {
            for (a, b) in p.scenes.iter().zip(&w.scenes) {
                assert!(!b.visual.contains("show the brief's"), "{}", b.visual);
                let shows_logo = crate::text::words(&a.visual).iter().any(|w| w == "logo");
                assert_eq!(
                    b.visual.contains("\"brand-logo\""),
                    shows_logo,
                    "{}",
                    b.visual
                );
            }
        }
        let refused = generate_scripts_with_assets(&brief, &assets(), 0);
        assert!(refused.is_err(), "count 0 is refused as by generate");
    }
}
