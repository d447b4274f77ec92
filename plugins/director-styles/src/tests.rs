//! Behaviour of the styles: what `direct` promises for each of them.

// A failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used)]

use kino_plugin_sdk::{Brief, BriefMode, DirectedScene, PluginError, Rgb, Scene};

use crate::{DEFAULT_STYLE, Role, STYLES, Settings, direct_scene, find_style, parse_palette};

fn brief() -> Brief {
    Brief {
        brand: "Brightbrew".into(),
        product: "Brightbrew cold brew concentrate".into(),
        audience: "busy young professionals who commute".into(),
        tone: "warm".into(),
        objective: "drive first purchases".into(),
        facts: vec!["brews in 12 hours".into()],
        call_to_action: "Order at brightbrew.example today".into(),
        target_length_s: 30,
        mode: BriefMode::AdCreative,
    }
}

fn scene(index: u32, narration: &str, on_screen_text: &str) -> Scene {
    Scene {
        index,
        start_ms: index * 6000,
        duration_ms: 6000,
        visual: "A commuter pours cold brew over ice on a sunny kitchen counter".into(),
        camera: "slow push-in".into(),
        narration: narration.into(),
        on_screen_text: on_screen_text.into(),
    }
}

/// One scene for each role: opening, product, and the two alternating others.
fn scenes_for_every_role() -> Vec<Scene> {
    vec![
        scene(0, "Here's something good.", "Brightbrew"),
        scene(1, "Meet Brightbrew cold brew concentrate.", ""),
        scene(2, "You've settled for good enough.", ""),
        scene(3, "Picture it in your day.", ""),
    ]
}

fn direct(style: &str, scene: &Scene) -> DirectedScene {
    let settings = Settings::parse(Some(style), None).unwrap();
    direct_scene(&settings, scene, &brief()).unwrap()
}

#[test]
fn scenes_get_the_expected_roles() {
    let roles: Vec<Role> = scenes_for_every_role()
        .iter()
        .map(|s| Role::of(s, &brief()))
        .collect();
    assert_eq!(roles, [Role::Opening, Role::Product, Role::Even, Role::Odd]);
    assert_eq!(Role::of(&scene(5, "", "16 cups"), &brief()), Role::Product);
    // Whole words only: "brightbrewing" does not name the brand.
    assert_eq!(
        Role::of(&scene(3, "brightbrewing", ""), &brief()),
        Role::Odd
    );
}

#[test]
fn the_three_styles_direct_the_same_scene_differently() {
    for scene in scenes_for_every_role() {
        let directed: Vec<DirectedScene> = STYLES.iter().map(|s| direct(s.name, &scene)).collect();
        for (i, a) in directed.iter().enumerate() {
            for b in &directed[i + 1..] {
                let what = format!(
                    "{} vs {} on scene {}",
                    a.grade.look, b.grade.look, scene.index
                );
                assert_ne!(a.camera_move, b.camera_move, "camera: {what}");
                assert_ne!(a.shot_size, b.shot_size, "shot: {what}");
                assert_ne!(a.pacing, b.pacing, "pacing: {what}");
                assert_ne!(a.transition, b.transition, "transition: {what}");
                assert_ne!(
                    a.transition_ms, b.transition_ms,
                    "transition length: {what}"
                );
                assert_ne!(a.grade, b.grade, "grade: {what}");
                assert_ne!(a.styled_prompt, b.styled_prompt, "prompt: {what}");
            }
        }
    }
}

#[test]
fn each_style_has_its_signature() {
    let opening = scene(0, "Here's something good.", "");
    let pastel = direct("symmetric-pastel", &opening);
    assert!((pastel.pacing - 0.85).abs() < 1e-6);
    assert!(pastel.grade.warmth > 0.0 && pastel.grade.contrast < 0.0);
    assert!(pastel.styled_prompt.contains("symmetrical"));

    let noir = direct("noir-high-contrast", &opening);
    assert!(noir.grade.saturation < 0.0, "{:?}", noir.grade);
    assert!(noir.grade.contrast > 0.0, "{:?}", noir.grade);
    assert!(noir.grade.warmth < 0.0);
    assert!(noir.styled_prompt.contains("dutch angle"));

    let epic = direct("teal-orange-epic", &opening);
    assert!((epic.pacing - 1.2).abs() < 1e-6);
    assert!(epic.grade.contrast > 0.0 && epic.grade.saturation > 0.0);
    assert!(epic.styled_prompt.contains("teal shadows"));
    assert_eq!(epic.transition_ms, 250);

    for directed in [&pastel, &noir, &epic] {
        assert!(!directed.grade.palette.is_empty());
        assert!((0.0..=1.0).contains(&directed.grade.palette_strength));
    }
}

#[test]
fn prompts_carry_the_visual_and_the_tone() {
    for style in &STYLES {
        for scene in scenes_for_every_role() {
            let directed = direct(style.name, &scene);
            assert!(
                directed.styled_prompt.contains(&scene.visual),
                "{}",
                directed.styled_prompt
            );
            assert!(
                directed.styled_prompt.contains("Tone: warm."),
                "{}",
                directed.styled_prompt
            );
            assert_eq!(directed.scene_index, scene.index);
            assert_eq!(directed.grade.look, style.name);
        }
    }
    let product = direct(
        "noir-high-contrast",
        &scene(1, "Meet Brightbrew.", "Brightbrew"),
    );
    assert!(
        product
            .styled_prompt
            .contains("featuring Brightbrew cold brew concentrate")
    );
    assert!(
        product
            .styled_prompt
            .contains("on-screen text \"Brightbrew\"")
    );
}

#[test]
fn the_default_style_is_symmetric_pastel() {
    let settings = Settings::parse(None, None).unwrap();
    assert_eq!(settings.style.name, DEFAULT_STYLE);
    assert_eq!(settings.palette, None);
    assert_eq!(
        find_style("  Noir-High-Contrast ").unwrap().name,
        "noir-high-contrast"
    );
}

#[test]
fn an_unknown_style_is_invalid_input_listing_the_known_ones() {
    match Settings::parse(Some("wes-anderson"), None) {
        Err(PluginError::InvalidInput(message)) => {
            assert!(message.contains("wes-anderson"), "{message}");
            for style in &STYLES {
                assert!(message.contains(style.name), "{message}");
            }
        }
        other => panic!("expected invalid-input, got {other:?}"),
    }
}

#[test]
fn a_palette_override_replaces_the_style_colours() {
    let palette = parse_palette("#ff8800, #003344,").unwrap().unwrap();
    assert_eq!(
        palette,
        [
            Rgb::new(1.0, 136.0 / 255.0, 0.0),
            Rgb::new(0.0, 51.0 / 255.0, 68.0 / 255.0)
        ]
    );
    assert_eq!(parse_palette(" , ").unwrap(), None);

    let settings = Settings::parse(Some("teal-orange-epic"), Some("#ff8800,#003344")).unwrap();
    let directed = direct_scene(&settings, &scene(2, "", ""), &brief()).unwrap();
    assert_eq!(directed.grade.palette, palette);
    assert_eq!(directed.grade.look, "teal-orange-epic");
}

#[test]
fn a_bad_colour_is_invalid_input_naming_it() {
    for bad in ["#ff88", "#gg0000", "orange"] {
        match Settings::parse(None, Some(&format!("#000000,{bad}"))) {
            Err(PluginError::InvalidInput(message)) => {
                assert!(message.contains(bad), "{message}");
                assert!(message.contains("palette"), "{message}");
            }
            other => panic!("expected invalid-input for {bad}, got {other:?}"),
        }
    }
}

#[test]
fn an_empty_visual_is_invalid_input() {
    let mut blank = scene(4, "", "");
    blank.visual = "   ".into();
    let settings = Settings::parse(None, None).unwrap();
    assert!(matches!(
        direct_scene(&settings, &blank, &brief()),
        Err(PluginError::InvalidInput(message)) if message.contains("visual")
    ));
}

#[test]
fn direction_is_deterministic() {
    for style in &STYLES {
        for scene in scenes_for_every_role() {
            assert_eq!(direct(style.name, &scene), direct(style.name, &scene));
        }
    }
}

mod assets {
    //! Which asset each scene shows, and how.

    use kino_plugin_sdk::{Asset, AssetKind, AssetPick, Fit, Scene};

    use super::{brief, scene};
    use crate::{Settings, Want, pick_assets};

    fn asset(name: &str, kind: AssetKind, tags: &[&str], description: &str) -> Asset {
        Asset {
            name: name.into(),
            kind,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            description: description.into(),
            duration_ms: if kind == AssetKind::Footage { 8000 } else { 0 },
            width: if kind == AssetKind::Font { 0 } else { 1920 },
            height: if kind == AssetKind::Font { 0 } else { 1080 },
        }
    }

    /// A brief's assets: two product shots, two clips, a logo and a font.
    fn assets() -> Vec<Asset> {
        vec![
            asset("logo", AssetKind::Logo, &["logo"], "The Brightbrew logo"),
            asset(
                "bottle-front",
                AssetKind::Image,
                &["product", "hero"],
                "A bottle of Brightbrew on white",
            ),
            asset(
                "pour",
                AssetKind::Footage,
                &["in-use", "kitchen"],
                "Cold brew poured over ice in a sunny kitchen",
            ),
            asset(
                "bottle-ice",
                AssetKind::Image,
                &["product", "ice"],
                "The bottle in a bucket of ice",
            ),
            asset(
                "commute",
                AssetKind::Footage,
                &["lifestyle", "people"],
                "Young professionals on a morning train",
            ),
            asset("brand-font", AssetKind::Font, &[], "Brightbrew Sans"),
        ]
    }

    fn with_visual(index: u32, visual: &str, camera: &str) -> Scene {
        Scene {
            visual: visual.into(),
            camera: camera.into(),
            ..scene(index, "", "")
        }
    }

    fn pick(style: &str, scene: &Scene, assets: &[Asset]) -> Vec<AssetPick> {
        let settings = Settings::parse(Some(style), None).expect("style");
        pick_assets(&settings, scene, &brief(), assets)
    }

    fn only(picks: Vec<AssetPick>) -> AssetPick {
        assert_eq!(picks.len(), 1, "{picks:?}");
        picks.into_iter().next().expect("one pick")
    }

    #[test]
    fn scenes_call_for_footage_or_product_shots() {
        let cases = [
            (
                "Brightbrew cold brew shown in use, making the point",
                Want::Footage,
            ),
            ("One of the commuters speaking to camera", Want::Footage),
            (
                "Hero shot of the bottle, the logo clearly visible",
                Want::Product,
            ),
            ("End card: the bottle beside the logo", Want::Product),
            ("A mountain at dawn", Want::Any),
        ];
        for (visual, want) in cases {
            assert_eq!(Want::of(&with_visual(2, visual, "")), want, "{visual}");
        }
    }

    #[test]
    fn an_in_use_scene_shows_footage_and_a_product_scene_a_product_image() {
        let assets = assets();
        let in_use = with_visual(2, "Cold brew poured in use in the kitchen", "handheld");
        let shown = only(pick("symmetric-pastel", &in_use, &assets));
        assert_eq!(shown.name, "pour");
        assert_eq!(shown.fit, Fit::Cover);

        let product = with_visual(
            1,
            "Hero shot of the bottle on ice",
            "slow push-in on the product",
        );
        let shown = only(pick("symmetric-pastel", &product, &assets));
        assert_eq!(shown.name, "bottle-ice");
        assert_eq!(shown.fit, Fit::Contain, "a product shot is shown whole");
        assert_eq!(
            (shown.in_ms, shown.speed_start, shown.speed_end),
            (0, 1.0, 1.0)
        );

        let people = with_visual(
            3,
            "Montage of young professionals on the train",
            "quick cuts",
        );
        assert_eq!(
            only(pick("noir-high-contrast", &people, &assets)).name,
            "commute"
        );
    }

    #[test]
    fn consecutive_scenes_show_different_assets() {
        let assets = assets();
        let visuals = [
            "A striking opening image: commuters in an everyday moment",
            "Hero shot of Brightbrew cold brew, the logo clearly visible",
            "Brightbrew shown in use, making the point: brews in 12 hours",
            "Brightbrew shown in use, making the point: 16 cups per bottle",
            "Real-time demonstration of Brightbrew in use",
            "End card: the bottle beside the Brightbrew logo",
            "Macro detail of the product: texture and label",
        ];
        for style in ["symmetric-pastel", "teal-orange-epic"] {
            let names: Vec<String> = visuals
                .iter()
                .zip(0..)
                .map(|(visual, index)| {
                    only(pick(style, &with_visual(index, visual, ""), &assets)).name
                })
                .collect();
            for pair in names.windows(2) {
                assert_ne!(pair[0], pair[1], "{style}: {names:?}");
            }
            // Footage for the scenes in use, product shots for the product ones.
            for (name, visual) in names.iter().zip(visuals) {
                let footage = ["pour", "commute"].contains(&name.as_str());
                assert_eq!(
                    footage,
                    Want::of(&with_visual(0, visual, "")) == Want::Footage,
                    "{style}: {visual} -> {name}"
                );
            }
        }
    }

    #[test]
    fn picks_keep_the_hosts_rules_and_speeds_follow_the_style() {
        let assets = assets();
        for style in ["symmetric-pastel", "noir-high-contrast", "teal-orange-epic"] {
            for index in 0..12 {
                let mut scene = with_visual(index, "Brightbrew in use in the kitchen", "handheld");
                scene.duration_ms = 1500 + index * 900;
                for shown in pick(style, &scene, &assets) {
                    let asset = assets
                        .iter()
                        .find(|a| a.name == shown.name)
                        .expect("an asset of the brief");
                    assert!(asset.is_visual(), "{}", asset.name);
                    if asset.kind == AssetKind::Footage {
                        assert!(shown.in_ms < asset.duration_ms, "{shown:?}");
                    }
                    for speed in [shown.speed_start, shown.speed_end] {
                        assert!((0.25..=4.0).contains(&speed), "{speed}");
                    }
                }
            }
        }
        let clip = with_visual(2, "Cold brew poured in use", "");
        let epic = only(pick("teal-orange-epic", &clip, &assets));
        assert!(
            epic.speed_start > 1.0 && epic.speed_end < 1.0,
            "a ramp: {epic:?}"
        );
        let calm = only(pick("symmetric-pastel", &clip, &assets));
        assert_eq!(calm.speed_start, calm.speed_end, "steady: {calm:?}");
        // Another scene starts elsewhere in the clip.
        let later = only(pick(
            "symmetric-pastel",
            &with_visual(4, "Cold brew poured in use", ""),
            &assets,
        ));
        assert_eq!(later.name, calm.name);
        assert_ne!(later.in_ms, calm.in_ms, "{later:?} vs {calm:?}");
    }

    #[test]
    fn no_visual_asset_means_no_pick() {
        let assets: Vec<Asset> = assets()
            .into_iter()
            .filter(|a| matches!(a.kind, AssetKind::Logo | AssetKind::Font))
            .collect();
        assert!(pick("symmetric-pastel", &scene(1, "", ""), &assets).is_empty());
        assert!(pick("symmetric-pastel", &scene(1, "", ""), &[]).is_empty());
        // A clip without a length cannot be started anywhere.
        let mut broken = asset("broken", AssetKind::Footage, &["in-use"], "");
        broken.duration_ms = 0;
        assert!(pick("symmetric-pastel", &with_visual(1, "in use", ""), &[broken]).is_empty());
    }

    #[test]
    fn picking_is_deterministic() {
        let assets = assets();
        for index in 0..6 {
            let scene = scene(index, "Meet Brightbrew.", "");
            assert_eq!(
                pick("teal-orange-epic", &scene, &assets),
                pick("teal-orange-epic", &scene, &assets)
            );
        }
    }
}
