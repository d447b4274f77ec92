//! The `caption-style` world and the optional asset capabilities
//! (`asset-scripts`, `asset-picker`), through the real runtime: the
//! reference plugins, hostile answers, and plugins built before either
//! existed.

use kino_registry::Manifest;
use kino_runtime::answers::{self, BadAnswer};
use kino_runtime::plugins::check_component;
use kino_runtime::types::{
    Asset, AssetKind, AssetPick, BrandLook, CaptionAnimation, CaptionPosition, CueStyle,
    PluginError, Rgb, Scene, TimedWord, WordCue,
};
use kino_runtime::{CallCtx, CallResult, Capability, Limits, LoadError, Plugin, Trap, World};
use kino_tests::{brief, load, plugin_wasm, runtime, scene, workspace_root};

fn ok<T: std::fmt::Debug>(outcome: CallResult<T>) -> T {
    outcome.expect("no trap").expect("no plugin error")
}

/// Cues from `lines`, one per line, words 300 ms apart.
fn cues(lines: &[&str]) -> Vec<WordCue> {
    let mut at = 500;
    lines
        .iter()
        .zip(0..)
        .map(|(line, index)| {
            let start_ms = at;
            let words = line
                .split_whitespace()
                .map(|w| {
                    at += 300;
                    TimedWord {
                        text: w.into(),
                        start_ms: at - 300,
                        end_ms: at - 50,
                    }
                })
                .collect();
            WordCue {
                index,
                start_ms,
                end_ms: at,
                text: (*line).into(),
                words,
            }
        })
        .collect()
}

fn look(palette: Vec<Rgb>) -> BrandLook {
    BrandLook {
        name: "Brightbrew".into(),
        palette,
        font: String::new(),
    }
}

fn emphasised(cues: &[WordCue], styles: &[CueStyle]) -> Vec<String> {
    cues.iter()
        .zip(styles)
        .flat_map(|(cue, style)| {
            cue.words
                .iter()
                .zip(&style.emphasis)
                .filter(|(_, e)| **e)
                .map(|(w, _)| w.text.clone())
        })
        .collect()
}

#[tokio::test]
async fn caption_emphasis_styles_every_cue_and_emphasises_what_carries_meaning() {
    let plugin = load("kino-caption-emphasis", World::CaptionStyle);
    let cues = cues(&[
        "Meet Brightbrew cold brew.",
        "Sixteen cups in every bottle,",
        "just $4.99 at stores in Portland",
    ]);
    let navy = Rgb {
        r: 0.05,
        g: 0.1,
        b: 0.3,
    };
    let orange = Rgb {
        r: 0.95,
        g: 0.55,
        b: 0.16,
    };
    let call = CallCtx::default();
    let api = runtime().caption_style(&plugin, &call).expect("world");
    let styles = ok(api.style_cues(&cues, &look(vec![navy, orange])).await);
    assert_eq!(answers::cue_styles(&cues, &styles), Ok(()));
    for style in &styles {
        assert_eq!(style.animation, CaptionAnimation::Highlight, "the default");
        assert_eq!(style.position, CaptionPosition::Bottom);
        assert_eq!(
            style.highlight_color, orange,
            "the most saturated readable colour"
        );
    }
    assert_eq!(
        emphasised(&cues, &styles),
        ["Brightbrew", "Sixteen", "$4.99", "Portland"]
    );

    // A dark palette falls back to yellow; the animation follows the config.
    let call = CallCtx::default().with_config([("animation", "karaoke")]);
    let api = runtime().caption_style(&plugin, &call).expect("world");
    let styles = ok(api.style_cues(&cues, &look(vec![navy])).await);
    assert_eq!(styles[0].animation, CaptionAnimation::Karaoke);
    let yellow = styles[0].highlight_color;
    assert!(
        yellow.r > 0.9 && yellow.g > 0.7 && yellow.b < 0.2,
        "{yellow:?}"
    );

    // The manifest refuses an animation the plugin does not know, before any call.
    let path = workspace_root().join("plugins/caption-emphasis/kino-plugin.toml");
    let manifest = Manifest::parse(
        &std::fs::read_to_string(&path).expect("manifest"),
        "kino-plugin.toml",
    )
    .expect("valid manifest");
    let bad = [("animation".to_owned(), "wiggle".to_owned())].into();
    let refused = manifest
        .validate_config(&bad)
        .expect_err("not a value it allows");
    assert!(
        refused
            .to_string()
            .contains("still, highlight, pop, karaoke"),
        "{refused}"
    );
    check_component(runtime(), &manifest, &plugin_wasm("kino-caption-emphasis"))
        .expect("installable");
}

#[tokio::test]
async fn caption_answers_that_break_the_rules_are_named() {
    let plugin = load("kino-test-hostile-captions", World::CaptionStyle);
    let cues = cues(&["Only $4.99", "at Brightbrew", "today"]);
    let style = async |mode: &str| {
        let call = CallCtx::default().with_config([("mode", mode)]);
        let api = runtime().caption_style(&plugin, &call).expect("world");
        api.style_cues(&cues, &look(vec![])).await
    };
    let checked = async |mode: &str| -> BadAnswer {
        let styles = ok(style(mode).await);
        answers::cue_styles(&cues, &styles).expect_err(mode)
    };
    assert_eq!(answers::cue_styles(&cues, &ok(style("ok").await)), Ok(()));
    let wrong_count = checked("wrong-count").await;
    assert_eq!(wrong_count.field, "");
    assert!(
        wrong_count.problem.contains("2 styles for 3 cues"),
        "{wrong_count}"
    );
    assert_eq!(checked("wrong-index").await.field, "[2].index");
    let short = checked("short-emphasis").await;
    assert_eq!(short.field, "[2].emphasis");
    assert!(short.problem.contains("cue 2 has 1 words"), "{short}");
    assert_eq!(
        checked("nan-colour").await.to_string(),
        "`[0].highlight_color.g` is NaN"
    );
    assert!(matches!(style("panic").await, Err(Trap::Panic { .. })));
}

/// A brief's assets: two product shots, two clips, a logo and a font.
pub(crate) fn assets() -> Vec<Asset> {
    let asset = |name: &str, kind, tags: &[&str], description: &str| Asset {
        name: name.into(),
        kind,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        description: description.into(),
        duration_ms: if kind == AssetKind::Footage { 9000 } else { 0 },
        width: 1920,
        height: 1080,
    };
    vec![
        asset(
            "pour",
            AssetKind::Footage,
            &["in-use", "kitchen"],
            "Cold brew poured over ice in a sunny kitchen",
        ),
        asset(
            "logo",
            AssetKind::Logo,
            &["logo"],
            "The Brightbrew wordmark",
        ),
        asset(
            "bottle-front",
            AssetKind::Image,
            &["product", "hero"],
            "A bottle of Brightbrew on white",
        ),
        asset(
            "commute",
            AssetKind::Footage,
            &["lifestyle", "people"],
            "Young professionals on a morning train",
        ),
        asset(
            "bottle-ice",
            AssetKind::Image,
            &["product", "ice"],
            "The bottle in a bucket of ice",
        ),
        asset("font", AssetKind::Font, &[], "Brightbrew Sans"),
    ]
}

#[tokio::test]
async fn script_arc_writes_with_the_briefs_assets_in_view() {
    let plugin = load("kino-script-arc", World::ScriptStrategy);
    assert_eq!(plugin.capabilities(), [Capability::AssetScripts]);
    let call = CallCtx::default();
    let api = runtime().script_strategy(&plugin, &call).expect("world");
    assert!(api.writes_with_assets());
    let brief = brief(30);
    let assets = assets();
    let plain = ok(api.generate(&brief, 3).await);
    let with =
        ok(api.generate_with_assets(&brief, &assets, 3).await).expect("it has the capability");
    assert_eq!(answers::scripts(&brief, 3, &with), Ok(()));
    assert_eq!(plain.len(), with.len());
    let mut named = Vec::new();
    for (p, w) in plain.iter().zip(&with) {
        assert_eq!(p.variation, w.variation);
        for (a, b) in p.scenes.iter().zip(&w.scenes) {
            assert_eq!((&a.narration, a.duration_ms), (&b.narration, b.duration_ms));
            for asset in &assets {
                if b.visual.contains(&format!("\"{}\"", asset.name)) {
                    named.push(asset.name.clone());
                }
            }
        }
    }
    for name in ["pour", "bottle-front", "logo"] {
        assert!(
            named.iter().any(|n| n == name),
            "{name} is never named: {named:?}"
        );
    }
    assert!(!named.iter().any(|n| n == "font"), "fonts are not pictures");
}

#[tokio::test]
async fn director_styles_pick_an_asset_for_every_scene() {
    let scripts = load("kino-script-arc", World::ScriptStrategy);
    let call = CallCtx::default();
    let script = ok(runtime()
        .script_strategy(&scripts, &call)
        .expect("world")
        .generate(&brief(60), 1)
        .await)
    .remove(0);
    let plugin = load("kino-director-styles", World::DirectorStyle);
    assert_eq!(plugin.capabilities(), [Capability::AssetPicker]);
    let assets = assets();
    for style in ["symmetric-pastel", "teal-orange-epic"] {
        let call = CallCtx::default().with_config([("style", style)]);
        let api = runtime().director(&plugin, &call).expect("world");
        assert!(api.picks_assets());
        let mut shown: Vec<AssetPick> = Vec::new();
        for scene in &script.scenes {
            let picks = ok(api.pick_assets(scene, &brief(60), &assets).await).expect("capability");
            assert_eq!(
                answers::asset_picks(&assets, &picks),
                Ok(()),
                "{style}: {picks:?}"
            );
            assert_eq!(picks.len(), 1, "{style}: one asset per scene");
            shown.extend(picks);
            // Directing is unchanged beside it.
            let directed = ok(api.direct(scene, &brief(60)).await);
            assert_eq!(answers::directed(scene, &directed), Ok(()));
        }
        for pair in shown.windows(2) {
            assert_ne!(
                pair[0].name, pair[1].name,
                "{style}: consecutive scenes differ"
            );
        }
        let clips: Vec<&AssetPick> = shown
            .iter()
            .filter(|p| ["pour", "commute"].contains(&p.name.as_str()))
            .collect();
        assert!(!clips.is_empty(), "{style}: scenes in use show footage");
        for clip in clips {
            if style == "teal-orange-epic" {
                assert!(clip.speed_start > clip.speed_end, "a ramp: {clip:?}");
            } else {
                assert_eq!(clip.speed_start, clip.speed_end, "steady: {clip:?}");
            }
        }
    }
}

#[tokio::test]
async fn asset_picks_that_break_the_rules_are_named() {
    let plugin = load("kino-test-hostile", World::DirectorStyle);
    assert_eq!(plugin.capabilities(), [Capability::AssetPicker]);
    let assets = assets(); // the first is a 9 s clip
    let pick = async |mode: &str| -> CallResult<Option<Vec<AssetPick>>> {
        let call = CallCtx::default().with_config([("mode", mode)]);
        let api = runtime().director(&plugin, &call).expect("world");
        api.pick_assets(&scene(), &brief(30), &assets).await
    };
    let checked = async |mode: &str| -> BadAnswer {
        let picks = ok(pick(mode).await).expect("capability");
        answers::asset_picks(&assets, &picks).expect_err(mode)
    };
    let picks = ok(pick("ok").await).expect("capability");
    assert_eq!(answers::asset_picks(&assets, &picks), Ok(()));
    assert!(
        checked("too-many-picks")
            .await
            .problem
            .contains("at most 3")
    );
    assert_eq!(checked("unknown-asset").await.field, "[0].name");
    assert_eq!(
        checked("nan-speed").await.to_string(),
        "`[0].speed_end` is NaN"
    );
    assert_eq!(checked("past-the-clip").await.field, "[0].in_ms");
    assert!(matches!(pick("panic").await, Err(Trap::Panic { .. })));
}

#[tokio::test]
async fn a_plugin_built_before_the_additions_still_installs_and_runs() {
    // Compiled from a frozen copy of the WIT as it was before caption-style,
    // the asset types and the optional interfaces.
    let package = "kino-test-frozen-director";
    let wasm = plugin_wasm(package);
    let path = workspace_root().join("tests/plugins/frozen-director/kino-plugin.toml");
    let manifest = Manifest::parse(
        &std::fs::read_to_string(&path).expect("manifest"),
        "kino-plugin.toml",
    )
    .expect("valid manifest");
    check_component(runtime(), &manifest, &wasm).expect("passes the install checks");

    let plugin = load(package, World::DirectorStyle);
    assert!(plugin.capabilities().is_empty());
    let call = CallCtx::default().with_config([("style", "sepia")]);
    let api = runtime().director(&plugin, &call).expect("world");
    let directed = ok(api.direct(&scene(), &brief(30)).await);
    assert_eq!(answers::directed(&scene(), &directed), Ok(()));
    assert!(
        directed.styled_prompt.contains("sepia"),
        "{}",
        directed.styled_prompt
    );
    let invalid = Scene {
        visual: " ".into(),
        ..scene()
    };
    assert!(matches!(
        api.direct(&invalid, &brief(30)).await,
        Ok(Err(PluginError::InvalidInput(_)))
    ));
    // Without the capability the host is told so, and nothing is called.
    assert!(!api.picks_assets());
    let calls = runtime()
        .usage()
        .into_iter()
        .find(|(id, _)| id.starts_with(package))
        .map(|(_, usage)| usage.calls);
    assert!(matches!(
        api.pick_assets(&scene(), &brief(30), &assets()).await,
        Ok(Ok(None))
    ));
    let after = runtime()
        .usage()
        .into_iter()
        .find(|(id, _)| id.starts_with(package))
        .map(|(_, usage)| usage.calls);
    assert_eq!(calls, after, "no call was made");

    // Script strategies without the capability likewise.
    let echo = load("kino-test-echo", World::Translator);
    assert!(echo.capabilities().is_empty());
}

#[test]
fn an_asset_picker_of_the_wrong_type_is_refused_at_load() {
    let error = runtime()
        .load(
            "mistyped@0.1.0",
            &plugin_wasm("kino-test-mistyped-picker"),
            World::DirectorStyle,
            Limits::default(),
        )
        .expect_err("a mistyped asset-picker must not load");
    let LoadError::WrongExports { reason, .. } = &error else {
        panic!("expected WrongExports, got {error:?}");
    };
    assert!(
        reason.contains("kino:stage/asset-picker@0.1.0") && reason.contains("pick-assets"),
        "{error}"
    );
}

#[test]
fn caption_styles_are_a_world_of_their_own() {
    let error = runtime()
        .load(
            "frozen@0.1.0",
            &plugin_wasm("kino-test-frozen-director"),
            World::CaptionStyle,
            Limits::default(),
        )
        .expect_err("a director is not a caption style");
    assert!(matches!(error, LoadError::WrongExports { .. }), "{error:?}");
    let plugin: Plugin = load("kino-caption-emphasis", World::CaptionStyle);
    let call = CallCtx::default();
    assert!(runtime().director(&plugin, &call).is_err());
    assert!(plugin.capabilities().is_empty());
}
