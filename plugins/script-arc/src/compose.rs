//! Writing one beat out as a scene's visual, camera, narration and on-screen text.
//!
//! Every line is built from the brief's own fields. Only the facts make
//! claims about the product; the connective lines (hooks, problems, moments)
//! are worded so that they claim nothing the brief does not say.

use crate::brief::BriefView;
use crate::plan::Beat;
use crate::text;
use crate::tone::ToneProfile;

/// How many distinct moment beats there are for padding long scripts.
pub(crate) const MOMENT_COUNT: usize = 8;

/// The words of one scene, before it is timed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SceneText {
    pub visual: String,
    pub camera: String,
    pub narration: String,
    pub on_screen_text: String,
}

impl SceneText {
    fn new(visual: String, camera: &str, narration: String, on_screen_text: &str) -> Self {
        Self {
            visual,
            camera: camera.to_owned(),
            narration,
            on_screen_text: on_screen_text.to_owned(),
        }
    }
}

/// Writes `beat` for `brief` in the voice of `tone`.
///
/// In a music video the track carries the piece: only the call to action is
/// spoken, and the on-screen text does the rest.
pub(crate) fn compose(beat: Beat, brief: &BriefView<'_>, tone: &ToneProfile) -> SceneText {
    let mut scene = write(beat, brief, tone);
    if brief.music_video && beat != Beat::Cta {
        scene.narration.clear();
    }
    scene
}

fn write(beat: Beat, brief: &BriefView<'_>, tone: &ToneProfile) -> SceneText {
    let BriefView {
        brand,
        product,
        call_to_action,
        ..
    } = *brief;
    let who = people(brief);
    let fact = |index: usize| brief.facts.get(index).copied().unwrap_or_default();
    match beat {
        Beat::Hook => SceneText::new(
            format!(
                "A striking opening image: {who} in an everyday moment, {product} just entering the frame"
            ),
            "quick push-in to eye level",
            hook_line(brief, tone),
            brand,
        ),
        Beat::Problem => SceneText::new(
            format!(
                "{} making do with the old routine, a little worn out by it",
                text::capitalize(&who)
            ),
            "static medium shot, slightly off-centre",
            problem_line(brief),
            "",
        ),
        Beat::Reveal => SceneText::new(
            format!("Hero shot of {product}, the {brand} logo clearly visible"),
            "slow push-in on the product",
            reveal_line(brief),
            product,
        ),
        Beat::Fact {
            fact: index,
            number,
        } => SceneText::new(
            format!("{product} shown in use, making the point: {}", fact(index)),
            "close-up, shallow depth of field",
            fact_line(fact(index), number),
            fact(index),
        ),
        Beat::Proof(index) => SceneText::new(
            format!(
                "Real-time demonstration of {product} that shows: {}",
                fact(index)
            ),
            "over-the-shoulder, following the action",
            format!("The proof? {}", text::sentence(fact(index))),
            fact(index),
        ),
        Beat::Demo(variant) => demo(variant, brief),
        Beat::Testimonial(index) => SceneText::new(
            format!("One of the {who} speaking to camera, {product} in hand"),
            "medium close-up, locked off at eye level",
            testimonial_line(brief, index.map(fact)),
            index.map(fact).unwrap_or_default(),
        ),
        Beat::Moment(variant) => moment(variant, brief),
        Beat::CtaTease => SceneText::new(
            format!("The {brand} logo on a clean background, the call to action beside it"),
            "locked off, centred",
            format!("{} — here's why.", text::clause(call_to_action)),
            call_to_action,
        ),
        Beat::Cta => SceneText::new(
            format!("End card: {product} beside the {brand} logo and the call to action"),
            "locked-off end card, centred",
            call_to_action.to_owned(),
            call_to_action,
        ),
    }
}

/// Who appears on screen: the audience, or plain people when the brief names none.
fn people(brief: &BriefView<'_>) -> String {
    if brief.audience.is_empty() {
        "people".to_owned()
    } else {
        brief.audience.to_owned()
    }
}

fn hook_line(brief: &BriefView<'_>, tone: &ToneProfile) -> String {
    if brief.audience.is_empty() {
        format!("{}: this is {}.", tone.opener, brief.brand)
    } else {
        format!(
            "{}, {}: this is {}.",
            tone.opener, brief.audience, brief.brand
        )
    }
}

fn problem_line(brief: &BriefView<'_>) -> String {
    if brief.audience.is_empty() {
        "You've settled for \"good enough\" long enough.".to_owned()
    } else {
        format!(
            "{}: you've settled for \"good enough\" long enough.",
            text::capitalize(brief.audience)
        )
    }
}

/// "Meet X from Brand.", without repeating the brand when the product name has it.
fn reveal_line(brief: &BriefView<'_>) -> String {
    if text::contains_phrase(&text::words(brief.product), &text::words(brief.brand)) {
        format!("Meet {}.", brief.product)
    } else {
        format!("Meet {}, from {}.", brief.product, brief.brand)
    }
}

/// A fact as a line of its own, or as a numbered item of a fact stack.
fn fact_line(fact: &str, number: Option<usize>) -> String {
    match number {
        Some(number) => format!("{}: {}", number_word(number), ensure_stop(fact)),
        None => text::sentence(fact),
    }
}

fn testimonial_line(brief: &BriefView<'_>, fact: Option<&str>) -> String {
    let speaker = if brief.audience.is_empty() {
        "someone who uses it".to_owned()
    } else {
        format!("one of the {}", brief.audience)
    };
    match fact {
        Some(fact) => format!(
            "Why {}? Hear it from {speaker}: {}",
            brief.brand,
            ensure_stop(fact)
        ),
        None => format!("Why {}? Hear it from {speaker}.", brief.brand),
    }
}

/// A demonstration that shows the product without claiming anything about it.
fn demo(variant: usize, brief: &BriefView<'_>) -> SceneText {
    let product = brief.product;
    if variant.is_multiple_of(2) {
        SceneText::new(
            format!("Real-time demonstration of {product} in use"),
            "over-the-shoulder, following the action",
            format!("Don't take our word for it: watch {product} in action."),
            "",
        )
    } else {
        SceneText::new(
            format!("{product} from first touch to finished result"),
            "slow tracking shot alongside the action",
            "See it for yourself, start to finish.".to_owned(),
            "",
        )
    }
}

/// The padding beats of long scripts: moments of life with the product.
fn moment(variant: usize, brief: &BriefView<'_>) -> SceneText {
    let BriefView { brand, product, .. } = *brief;
    let who = people(brief);
    match variant % MOMENT_COUNT {
        0 => SceneText::new(
            format!(
                "{} reaching for {product} in an everyday moment",
                text::capitalize(&who)
            ),
            "handheld follow at eye level",
            format!("Picture it in your day: {product}, right where you need it."),
            "",
        ),
        1 => SceneText::new(
            format!("Montage of {who} going about their day, {product} in frame"),
            "quick cuts between handheld shots",
            if brief.audience.is_empty() {
                "Made for your everyday.".to_owned()
            } else {
                format!("Made for {}.", brief.audience)
            },
            "",
        ),
        2 => SceneText::new(
            format!("Macro detail of {product}: texture, label and the {brand} logo"),
            "extreme close-up, slow slide across the surface",
            "Take a closer look.".to_owned(),
            "",
        ),
        3 => SceneText::new(
            format!("The {brand} logo resolving over a hero shot of {product}"),
            "locked off, centred",
            format!("This is {brand}."),
            brand,
        ),
        4 => SceneText::new(
            format!("A quiet morning routine with {product} part of it"),
            "slow dolly across the room",
            format!("Your day, with {product} in it."),
            "",
        ),
        5 => SceneText::new(
            format!("Quick sequence: {product} seen, picked up, used"),
            "three snap cuts, matched on action",
            "See it. Try it. Make it yours.".to_owned(),
            "",
        ),
        6 => SceneText::new(
            format!(
                "{} sharing a small win, {product} nearby",
                text::capitalize(&who)
            ),
            "medium shot, gentle handheld drift",
            format!("Here's to {who}."),
            "",
        ),
        _ => SceneText::new(
            format!("Wide shot of the world {who} live in, {product} at its centre"),
            "slow crane up to reveal the scene",
            format!("{brand}, for the way you live."),
            "",
        ),
    }
}

/// The number's word up to ten ("One"), digits beyond.
fn number_word(number: usize) -> String {
    const WORDS: [&str; 10] = [
        "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
    ];
    number
        .checked_sub(1)
        .and_then(|i| WORDS.get(i))
        .map_or_else(|| number.to_string(), |word| (*word).to_owned())
}

/// `text` trimmed and ending in sentence punctuation, its case untouched.
fn ensure_stop(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.ends_with(['.', '!', '?']) {
        trimmed.to_owned()
    } else {
        format!("{trimmed}.")
    }
}
