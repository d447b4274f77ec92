//! Each reference plugin, run as a real component, against what its input implies.

use kino_runtime::types::{
    ChannelStats, Decision, Failure, FrameStats, GradeIntent, Lut3d, PluginError, Rgb, Script,
    Segment,
};
use kino_runtime::{CallCtx, Plugin, World};
use kino_tests::{brief, load, runtime, scene};

fn ok<T: std::fmt::Debug>(outcome: Result<Result<T, PluginError>, kino_runtime::Trap>) -> T {
    outcome.expect("no trap").expect("no plugin error")
}

fn strategy() -> Plugin {
    load("kino-script-arc", World::ScriptStrategy)
}

fn assert_tiles(script: &Script, target_ms: u32) {
    let mut cursor = 0;
    for (i, scene) in script.scenes.iter().enumerate() {
        assert_eq!(scene.index as usize, i, "{}: scene order", script.variation);
        assert_eq!(
            scene.start_ms, cursor,
            "{}: gap or overlap",
            script.variation
        );
        assert!(scene.duration_ms > 0);
        cursor += scene.duration_ms;
    }
    assert_eq!(
        cursor, target_ms,
        "{}: timing marks add up",
        script.variation
    );
}

#[tokio::test]
async fn script_strategy_writes_ranked_variations_that_fit_the_brief() {
    let plugin = strategy();
    let call = CallCtx::default();
    let api = runtime().script_strategy(&plugin, &call).expect("world");
    for target in [15, 30, 60, 120] {
        let brief = brief(target);
        let scripts = ok(api.generate(&brief, 5).await);
        assert_eq!(scripts.len(), 5, "{target}s: five variations");
        let mut names: Vec<_> = scripts.iter().map(|s| s.variation.clone()).collect();
        names.dedup();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 5, "variations are distinct: {names:?}");
        let mut overall = Vec::new();
        for script in &scripts {
            assert_tiles(script, target * 1000);
            assert_eq!(script.estimated_length_ms, target * 1000);
            let last = script.scenes.last().expect("scenes");
            assert!(
                last.narration.contains(&brief.call_to_action),
                "{}: the call to action closes the script",
                script.variation
            );
            let text: String = script
                .scenes
                .iter()
                .map(|s| format!("{} {} ", s.narration, s.on_screen_text))
                .collect();
            assert!(text.contains(&brief.brand), "the brand is named");
            let card = ok(api.score(&brief, script).await);
            for score in [
                card.brand_alignment,
                card.audience_relevance,
                card.call_to_action,
                card.narrative_flow,
            ] {
                assert!((0.0..=1.0).contains(&score), "score {score} in 0..1");
            }
            assert!(!card.notes.is_empty(), "scores are explained");
            overall.push(
                (card.brand_alignment
                    + card.audience_relevance
                    + card.call_to_action
                    + card.narrative_flow)
                    / 4.0,
            );
        }
        assert!(
            overall.windows(2).all(|w| w[0] >= w[1]),
            "{target}s: ranked best first: {overall:?}"
        );
        if target >= 60 {
            assert!(scripts[0].scenes.len() > 5, "longer pieces get more scenes");
        }
    }
}

#[tokio::test]
async fn script_strategy_scores_a_missing_call_to_action_lower() {
    let plugin = strategy();
    let call = CallCtx::default();
    let api = runtime().script_strategy(&plugin, &call).expect("world");
    let brief = brief(30);
    let script = ok(api.generate(&brief, 1).await).remove(0);
    let intact = ok(api.score(&brief, &script).await);
    let mut cut = script.clone();
    for scene in &mut cut.scenes {
        scene.narration = scene.narration.replace(&brief.call_to_action, "");
        scene.on_screen_text = scene.on_screen_text.replace(&brief.call_to_action, "");
    }
    let without = ok(api.score(&brief, &cut).await);
    assert!(without.call_to_action < intact.call_to_action);

    let mut empty = brief.clone();
    empty.brand.clear();
    let refused = api.generate(&empty, 3).await.expect("no trap");
    assert!(matches!(refused, Err(PluginError::InvalidInput(m)) if m.contains("brand")));
}

#[tokio::test]
async fn director_styles_differ_and_keep_the_scene() {
    let plugin = load("kino-director-styles", World::DirectorStyle);
    let mut directed = Vec::new();
    for style in ["symmetric-pastel", "noir-high-contrast", "teal-orange-epic"] {
        let call = CallCtx::default().with_config([("style", style)]);
        let api = runtime().director(&plugin, &call).expect("world");
        let out = ok(api.direct(&scene(), &brief(30)).await);
        assert_eq!(out.scene_index, scene().index);
        assert!(
            out.styled_prompt.contains(&scene().visual),
            "{style}: {}",
            out.styled_prompt
        );
        assert_eq!(out.grade.look, style);
        assert!(out.pacing > 0.0);
        directed.push(out);
    }
    for (i, a) in directed.iter().enumerate() {
        for b in &directed[i + 1..] {
            assert_ne!(a.styled_prompt, b.styled_prompt);
            assert_ne!(a.grade, b.grade);
            assert!(
                a.camera_move != b.camera_move
                    || a.shot_size != b.shot_size
                    || a.transition != b.transition
                    || a.pacing != b.pacing,
                "{} and {} direct the same way",
                a.grade.look,
                b.grade.look
            );
        }
    }
    let noir = &directed[1].grade;
    assert!(noir.saturation < 0.0 && noir.contrast > 0.0, "{noir:?}");

    let call = CallCtx::default().with_config([("style", "vaporwave")]);
    let api = runtime().director(&plugin, &call).expect("world");
    let refused = api.direct(&scene(), &brief(30)).await.expect("no trap");
    assert!(matches!(refused, Err(PluginError::InvalidInput(m)) if m.contains("vaporwave")));
}

fn segments() -> Vec<Segment> {
    vec![
        Segment {
            id: "s1".into(),
            start_ms: 0,
            end_ms: 1800,
            speaker: "ana".into(),
            text: "Good morning, family!".into(),
        },
        Segment {
            id: "s2".into(),
            start_ms: 2000,
            end_ms: 4100,
            speaker: "ben".into(),
            text: "Thank you for the coffee, Zorblax.".into(),
        },
    ]
}

#[tokio::test]
async fn translator_translates_keeps_timing_and_flags_unknown_words() {
    let plugin = load("kino-translator-phrasebook", World::Translator);
    let call = CallCtx::default();
    let api = runtime().translator(&plugin, &call).expect("world");
    let pairs = api.supported_pairs().await.expect("no trap");
    assert!(pairs.iter().any(|p| p.source == "en" && p.target == "es"));
    let max = api.max_batch_size().await.expect("no trap");
    assert!(max >= 2);

    let input = segments();
    let out = ok(api.translate("en", "es", &input).await);
    assert_eq!(out.len(), input.len());
    for (translated, original) in out.iter().zip(&input) {
        let s = &translated.segment;
        assert_eq!(
            (&s.id, s.start_ms, s.end_ms, &s.speaker),
            (
                &original.id,
                original.start_ms,
                original.end_ms,
                &original.speaker
            )
        );
        assert_ne!(s.text, original.text, "translated");
    }
    let first = out[0].segment.text.to_lowercase();
    assert!(
        first.contains("buenos días") && first.contains("familia"),
        "{first}"
    );
    assert!(out[0].segment.text.starts_with('B') && out[0].segment.text.ends_with('!'));
    assert!(
        out[1].segment.text.contains("Zorblax"),
        "unknown words pass through"
    );
    assert!(
        out[1]
            .untranslated
            .iter()
            .any(|w| w.eq_ignore_ascii_case("zorblax")),
        "{:?}",
        out[1].untranslated
    );
    assert!(out[0].untranslated.is_empty(), "{:?}", out[0].untranslated);

    // A tenant glossary wins over the phrasebook.
    let call =
        CallCtx::default().with_config([("glossary", "coffee = cold brew; Zorblax = Zorblax")]);
    let api = runtime().translator(&plugin, &call).expect("world");
    let out = ok(api.translate("en", "es", &input).await);
    assert!(
        out[1].segment.text.contains("cold brew"),
        "{}",
        out[1].segment.text
    );
    assert!(out[1].untranslated.is_empty(), "{:?}", out[1].untranslated);

    let refused = api.translate("en", "xx", &input).await.expect("no trap");
    assert!(matches!(refused, Err(PluginError::InvalidInput(m)) if m.contains("xx")));
    let too_many = vec![input[0].clone(); max as usize + 1];
    let refused = api.translate("en", "es", &too_many).await.expect("no trap");
    assert!(matches!(refused, Err(PluginError::InvalidInput(_))));
}

fn stats(mean: [f32; 3]) -> FrameStats {
    let channel = |m: f32| ChannelStats {
        mean: m,
        p01: 0.0,
        p50: m,
        p99: 1.0,
    };
    FrameStats {
        red: channel(mean[0]),
        green: channel(mean[1]),
        blue: channel(mean[2]),
        luma_histogram: vec![0; 256],
    }
}

fn neutral() -> GradeIntent {
    GradeIntent {
        warmth: 0.0,
        contrast: 0.0,
        saturation: 0.0,
        palette: Vec::new(),
        palette_strength: 0.0,
        look: "neutral".into(),
    }
}

fn at(lut: &Lut3d, r: u32, g: u32, b: u32) -> [f32; 3] {
    let n = lut.size as usize;
    let i = 3 * (r as usize + n * (g as usize + n * b as usize));
    [lut.table[i], lut.table[i + 1], lut.table[i + 2]]
}

#[tokio::test]
async fn grader_builds_luts_that_follow_the_intent() {
    let plugin = load("kino-grader-palette", World::Grader);
    let call = CallCtx::default();
    let api = runtime().grader(&plugin, &call).expect("world");

    let identity = ok(api.grade(&stats([0.5; 3]), &neutral()).await);
    assert_eq!(identity.size, 33);
    assert_eq!(identity.table.len(), 33 * 33 * 33 * 3);
    assert_eq!(
        identity.domain_min,
        Rgb {
            r: 0.0,
            g: 0.0,
            b: 0.0
        }
    );
    assert_eq!(
        identity.domain_max,
        Rgb {
            r: 1.0,
            g: 1.0,
            b: 1.0
        }
    );
    for (r, g, b) in [(0, 0, 0), (32, 32, 32), (8, 20, 31), (16, 16, 16)] {
        let out = at(&identity, r, g, b);
        let expect = [r as f32 / 32.0, g as f32 / 32.0, b as f32 / 32.0];
        for c in 0..3 {
            assert!((out[c] - expect[c]).abs() < 1e-3, "({r},{g},{b}): {out:?}");
        }
    }
    assert!(identity.table.iter().all(|v| (0.0..=1.0).contains(v)));

    let warm = ok(api
        .grade(
            &stats([0.5; 3]),
            &GradeIntent {
                warmth: 0.8,
                ..neutral()
            },
        )
        .await);
    let [r, _, b] = at(&warm, 16, 16, 16);
    assert!(
        r > 0.5 && b < 0.5,
        "warmth raises red, lowers blue: {r} {b}"
    );

    let grey = ok(api
        .grade(
            &stats([0.5; 3]),
            &GradeIntent {
                saturation: -1.0,
                ..neutral()
            },
        )
        .await);
    for rgb in grey.table.chunks_exact(3) {
        assert!((rgb[0] - rgb[1]).abs() < 1e-3 && (rgb[1] - rgb[2]).abs() < 1e-3);
    }

    let cast = ok(api.grade(&stats([0.42, 0.45, 0.62]), &neutral()).await);
    let [_, _, b] = at(&cast, 16, 16, 16);
    assert!(b < 0.5, "a blue cast is corrected: {b}");

    let call = CallCtx::default().with_config([("size", "17")]);
    let api = runtime().grader(&plugin, &call).expect("world");
    let small = ok(api.grade(&stats([0.5; 3]), &neutral()).await);
    assert_eq!(small.table.len(), 17 * 17 * 17 * 3);
    let bad = GradeIntent {
        contrast: f32::NAN,
        ..neutral()
    };
    let refused = api.grade(&stats([0.5; 3]), &bad).await.expect("no trap");
    assert!(matches!(refused, Err(PluginError::InvalidInput(m)) if m.contains("contrast")));
}

fn failure(attempt: u32, retryable: bool) -> Failure {
    Failure {
        stage: "translate".into(),
        plugin: "kino-translator-http@1.0.0".into(),
        attempt,
        error: "upstream timed out".into(),
        retryable,
        elapsed_ms: 900,
    }
}

#[tokio::test]
async fn fallback_policy_backs_off_then_switches_then_gives_up() {
    let plugin = load("kino-fallback-backoff", World::FallbackPolicy);
    let call = CallCtx::default().with_config([
        ("max-retries", "2"),
        ("base-delay-ms", "100"),
        ("alternative", "kino-translator-phrasebook"),
    ]);
    let api = runtime().fallback(&plugin, &call).expect("world");
    let mut delays = Vec::new();
    for attempt in 1..=2 {
        match api.decide(&failure(attempt, true)).await.expect("no trap") {
            Decision::RetryAfterMs(ms) => delays.push(ms),
            other => panic!("attempt {attempt}: expected a retry, got {other:?}"),
        }
    }
    assert!(
        (50..=100).contains(&delays[0]) && (100..=200).contains(&delays[1]),
        "{delays:?}"
    );
    assert_eq!(
        api.decide(&failure(3, true)).await.expect("no trap"),
        Decision::SwitchTo("kino-translator-phrasebook".into())
    );
    assert_eq!(
        api.decide(&failure(1, false)).await.expect("no trap"),
        Decision::SwitchTo("kino-translator-phrasebook".into()),
        "non-retryable failures skip the retries"
    );

    let call = CallCtx::default().with_config([("on-exhausted", "degrade")]);
    let api = runtime().fallback(&plugin, &call).expect("world");
    assert!(matches!(
        api.decide(&failure(1, false)).await.expect("no trap"),
        Decision::Degrade(reason) if reason.contains("translate")
    ));
    let call = CallCtx::default().with_config([("max-retries", "many")]);
    let api = runtime().fallback(&plugin, &call).expect("world");
    assert!(matches!(
        api.decide(&failure(1, true)).await.expect("no trap"),
        Decision::Fail(reason) if reason.contains("max-retries")
    ));
}
