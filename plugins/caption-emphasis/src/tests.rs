//! What `style-cues` promises: the words it emphasises, the colour, the config.

use kino_plugin_sdk::{
    BrandLook, CaptionAnimation, CaptionPosition, CaptionStyle as _, PluginError, Rgb, TimedWord,
    WordCue, testing,
};

use crate::{
    CaptionEmphasis, FALLBACK_HIGHLIGHT, Reason, brand_words, emphasis, highlight_color,
    parse_animation, reason,
};

/// Cues from `lines`, one per line, words 300 ms apart.
fn cues(lines: &[&str]) -> Vec<WordCue> {
    let mut at = 0;
    lines
        .iter()
        .zip(0..)
        .map(|(line, index)| {
            let start_ms = at;
            let words: Vec<TimedWord> = line
                .split_whitespace()
                .map(|w| {
                    let word = TimedWord {
                        text: w.into(),
                        start_ms: at,
                        end_ms: at + 250,
                    };
                    at += 300;
                    word
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

fn brand(palette: Vec<Rgb>) -> BrandLook {
    BrandLook {
        name: "Brightbrew".into(),
        palette,
        font: String::new(),
    }
}

/// The emphasised words of each cue.
fn emphasised(lines: &[&str], brand: &str) -> Vec<Vec<String>> {
    let cues = cues(lines);
    emphasis(&cues, brand)
        .iter()
        .zip(&cues)
        .map(|(flags, cue)| {
            cue.words
                .iter()
                .zip(flags)
                .filter(|(_, f)| **f)
                .map(|(w, _)| w.text.clone())
                .collect()
        })
        .collect()
}

#[test]
fn each_reason_is_found() {
    let brand = brand_words("Brightbrew");
    let cases: &[(&str, bool, Option<Reason>)] = &[
        ("Brightbrew's", false, Some(Reason::Brand)),
        ("brightbrew,", true, Some(Reason::Brand)),
        ("$4.99", false, Some(Reason::Number)),
        ("16", false, Some(Reason::Number)),
        ("12-hour", false, Some(Reason::Number)),
        ("50%", false, Some(Reason::Number)),
        ("sixteen", false, Some(Reason::Number)),
        ("one", false, None),
        ("Portland.", false, Some(Reason::Name)),
        ("Paris", true, None),
        ("Portland", true, Some(Reason::Long)),
        ("I'm", false, None),
        ("I", false, None),
        ("concentrate", true, Some(Reason::Long)),
        ("because", false, None),
        ("coffee", false, None),
        ("—", false, None),
    ];
    for &(word, starts, expected) in cases {
        assert_eq!(reason(word, &brand, starts), expected, "{word:?}");
    }
}

#[test]
fn numbers_prices_names_and_the_brand_stand_out() {
    let shown = emphasised(
        &[
            "Meet Brightbrew, cold brew",
            "for just $4.99 a bottle.",
            "Brewed slowly in Portland",
        ],
        "Brightbrew",
    );
    assert_eq!(
        shown,
        [
            vec!["Brightbrew,"],
            vec!["$4.99"],
            // "Brewed" starts a sentence; "Portland" is a name, "slowly" is short.
            vec!["Portland"],
        ]
    );
}

#[test]
fn a_sentence_runs_across_cues() {
    // "Sunday" follows "every" in the cue before: a name, not a sentence start.
    assert_eq!(
        emphasised(&["We brew every", "Sunday brunch"], ""),
        [Vec::<String>::new(), vec!["Sunday".to_owned()]]
    );
    // After a full stop it starts a sentence.
    assert_eq!(
        emphasised(&["We brew.", "Sunday brunch"], ""),
        [Vec::<String>::new(), Vec::<String>::new()]
    );
}

#[test]
fn at_most_a_third_of_a_cue_the_most_important_first() {
    // Six candidates in six words: two are kept, the brand and the price.
    let shown = emphasised(
        &["Portland delivers Brightbrew's wonderful $4.99 concentrate"],
        "Brightbrew",
    );
    assert_eq!(shown, [vec!["Brightbrew's", "$4.99"]]);
    // A one-word cue may still emphasise its word.
    assert_eq!(emphasised(&["16"], ""), [vec!["16"]]);
    // A cue without words has no flags.
    let empty = WordCue {
        index: 0,
        start_ms: 0,
        end_ms: 10,
        text: String::new(),
        words: vec![],
    };
    assert_eq!(emphasis(&[empty], "x"), [Vec::<bool>::new()]);
}

#[test]
fn the_highlight_is_the_most_saturated_readable_colour() {
    let navy = Rgb::new(0.0, 0.05, 0.3); // saturated but too dark
    let orange = Rgb::new(0.95, 0.55, 0.16);
    let pink = Rgb::new(0.96, 0.6, 0.7); // readable, less saturated
    let pale = Rgb::new(0.96, 0.86, 0.86); // readable, but too close to white
    let grey = Rgb::new(0.8, 0.8, 0.8);
    assert_eq!(highlight_color(&[pink, navy, orange, grey]), orange);
    assert_eq!(highlight_color(&[pink, grey]), pink);
    assert_eq!(highlight_color(&[pale, grey]), FALLBACK_HIGHLIGHT);
    assert_eq!(highlight_color(&[]), FALLBACK_HIGHLIGHT);
    assert_eq!(highlight_color(&[navy, grey]), FALLBACK_HIGHLIGHT);
    assert_eq!(
        highlight_color(&[Rgb::new(f32::NAN, 0.5, 0.0)]),
        FALLBACK_HIGHLIGHT
    );
    assert!(FALLBACK_HIGHLIGHT.luma() > 0.7, "the yellow reads on video");
}

#[test]
fn every_cue_gets_one_style_with_a_flag_per_word() {
    testing::set_config([("animation", "karaoke")]);
    let cues = cues(&["Order Brightbrew today", "at brightbrew.example", "now"]);
    let styles = CaptionEmphasis::style_cues(cues.clone(), brand(vec![Rgb::new(0.9, 0.2, 0.1)]))
        .expect("styled");
    assert_eq!(styles.len(), cues.len());
    for (style, cue) in styles.iter().zip(&cues) {
        assert_eq!(style.index, cue.index);
        assert_eq!(style.emphasis.len(), cue.words.len());
        assert_eq!(style.animation, CaptionAnimation::Karaoke);
        assert_eq!(style.position, CaptionPosition::Bottom);
        assert_eq!(style.text_color, Rgb::WHITE);
        assert_eq!(style.highlight_color, Rgb::new(0.9, 0.2, 0.1));
    }
    assert_eq!(styles[0].emphasis, [false, true, false]);
}

#[test]
fn the_animation_comes_from_config() {
    testing::set_config(Vec::<(String, String)>::new());
    let styled = CaptionEmphasis::style_cues(cues(&["hello"]), brand(vec![])).expect("styled");
    assert_eq!(styled[0].animation, CaptionAnimation::Highlight);
    for (name, animation) in [
        ("still", CaptionAnimation::Still),
        ("pop", CaptionAnimation::Pop),
        ("highlight", CaptionAnimation::Highlight),
    ] {
        assert_eq!(parse_animation(name).expect("known"), animation);
    }
    testing::set_config([("animation", "wiggle")]);
    match CaptionEmphasis::style_cues(cues(&["hello"]), brand(vec![])) {
        Err(PluginError::InvalidInput(message)) => assert!(message.contains("wiggle"), "{message}"),
        other => panic!("expected invalid-input, got {other:?}"),
    }
}

#[test]
fn the_manifest_allows_exactly_the_animations_the_plugin_knows() {
    let manifest = include_str!("../kino-plugin.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("values"))
        .expect("the animation's values");
    for name in ["still", "highlight", "pop", "karaoke"] {
        assert!(line.contains(&format!("\"{name}\"")), "{line}");
        assert!(parse_animation(name).is_ok());
    }
}
