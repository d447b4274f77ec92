//! Dynamic captions: cues with a time for every word (`caption-words`), a
//! look per cue (`style-captions`: the caption-style plugin's, else the
//! host's), drawn word by word by `burn-captions` and exported with their
//! word times (WebVTT timestamps, ASS karaoke) by `write-subtitles`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use kino_kernels::captions::CaptionRules;
use kino_kernels::subtitle::Cue;
use kino_kernels::text::{CaptionKind, CaptionPosition, DynamicLook, DynamicStyle};
use kino_kernels::words::{DynamicCue, TimedWord, WordTiming};
use serde::{Deserialize, Serialize};

use super::speech::Heard;
use super::{OpCx, OpError, checked, plugin_answer, write_json};
use kino_runtime::answers;
use kino_runtime::types::{self as wit, Segment};

/// A caption cue with its words, and how it is shown once styled: what
/// `caption-words` and `style-captions` store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordCue {
    /// From 1, in time order.
    pub index: u32,
    /// When it appears, ms.
    pub start_ms: u32,
    /// When it goes, ms.
    pub end_ms: u32,
    /// Its text, lines joined with `\n`.
    pub text: String,
    /// Who speaks; empty if unknown.
    #[serde(default)]
    pub speaker: String,
    /// One per word of the text, in order.
    pub words: Vec<Word>,
    /// Whether the word times were heard or estimated.
    pub timing: Timing,
    /// How it is shown; `None` until styled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<CueLook>,
}

/// A word and when it is said, ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Start, ms.
    pub start_ms: u32,
    /// End, ms.
    pub end_ms: u32,
}

/// Where a cue's word times came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// The recogniser's.
    Heard,
    /// Shared out by the words' lengths (a transcript without word times).
    Proportional,
}

/// How words animate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Animation {
    /// The whole cue at once, as plain captions.
    Still,
    /// The word being said in the highlight colour.
    Highlight,
    /// Words appear as they are said.
    Pop,
    /// The line fills in step with the words.
    Karaoke,
}

impl Animation {
    /// Reads the `animation` input.
    pub fn parse(text: &str) -> Result<Animation> {
        Ok(match text {
            "still" => Animation::Still,
            "highlight" => Animation::Highlight,
            "pop" => Animation::Pop,
            "karaoke" => Animation::Karaoke,
            other => bail!(
                "the caption animation is `still`, `highlight`, `pop` or `karaoke`, not `{other}`"
            ),
        })
    }
}

/// How one cue is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CueLook {
    /// How its words animate.
    pub animation: Animation,
    /// Its words' colour, sRGB.
    pub text_color: [u8; 3],
    /// The highlight colour, sRGB.
    pub highlight_color: [u8; 3],
    /// One per word: drawn in the highlight colour at rest.
    pub emphasis: Vec<bool>,
    /// Where it sits in the frame.
    #[serde(default)]
    pub position: Position,
    /// Who styled it: a plugin (`name@version`), or `None` for the host.
    #[serde(default)]
    pub styled_by: Option<String>,
}

/// Where a cue sits in the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    /// Above the bottom edge.
    #[default]
    Bottom,
    /// Centred vertically.
    Middle,
    /// Below the top edge.
    Top,
}

impl WordCue {
    /// The kernels' cue.
    pub fn dynamic(&self) -> DynamicCue {
        DynamicCue {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            text: self.text.clone(),
            speaker: (!self.speaker.is_empty()).then(|| self.speaker.clone()),
            words: self
                .words
                .iter()
                .map(|w| TimedWord::new(w.text.clone(), w.start_ms, w.end_ms))
                .collect(),
            timing: match self.timing {
                Timing::Heard => WordTiming::Transcript,
                Timing::Proportional => WordTiming::Proportional,
            },
            emphasis: self
                .look
                .as_ref()
                .map(|l| l.emphasis.clone())
                .unwrap_or_default(),
        }
    }

    /// Where the cue sits (the bottom until styled).
    pub fn position(&self) -> CaptionPosition {
        match self.look.as_ref().map_or(Position::Bottom, |l| l.position) {
            Position::Bottom => CaptionPosition::Bottom,
            Position::Middle => CaptionPosition::Middle,
            Position::Top => CaptionPosition::Top,
        }
    }

    /// The kernels' look for this cue drawn as `kind`; `None` for a still
    /// cue, drawn as a plain caption.
    pub fn dynamic_look(&self, kind: CaptionKind) -> Option<DynamicLook> {
        let look = self.look.as_ref()?;
        let style = match look.animation {
            Animation::Still => return None,
            Animation::Highlight => DynamicStyle::Highlight,
            Animation::Pop => DynamicStyle::Pop,
            Animation::Karaoke => DynamicStyle::Karaoke,
        };
        // An emphasised word at rest is a lighter tint of the highlight, so
        // the word being said still stands out from it.
        let tint = look
            .highlight_color
            .map(|c| ((u16::from(c) + 255) / 2) as u8);
        Some(DynamicLook {
            base: look.text_color,
            highlight: look.highlight_color,
            emphasis: tint,
            position: self.position(),
            ..DynamicLook::new(style, kind)
        })
    }
}

/// The kernels' cue for a segment.
pub(super) fn to_cue(segment: &Segment) -> Cue {
    let mut cue = Cue::new(segment.start_ms, segment.end_ms, segment.text.clone());
    if !segment.speaker.is_empty() {
        cue.speaker = Some(segment.speaker.clone());
    }
    cue
}

/// Segments (+ the heard windows) -> readable cues, each word timed: by the
/// recogniser where it heard the words, else by the words' lengths.
pub(super) fn caption_words(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let segments: Vec<Segment> = cx.json(0)?;
    let heard_windows = match cx.inputs.get(1) {
        Some(super::Input::Files(_)) => cx.files(1)?,
        _ => Vec::new(),
    };
    let heard: Vec<TimedWord> = heard_windows
        .into_iter()
        .map(super::read_json::<Heard>)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flat_map(|h| h.segments)
        .flat_map(|s| s.words)
        .map(|w| TimedWord::new(w.text, w.start_ms, w.end_ms))
        .collect();
    let mut rules = CaptionRules::default();
    rules.max_chars_per_line = cx.param("max-chars-per-line", rules.max_chars_per_line)?;
    rules.max_lines = cx.param("max-lines", rules.max_lines)?;
    rules.max_chars_per_second = cx.param("max-chars-per-second", rules.max_chars_per_second)?;
    let cues: Vec<Cue> = segments.iter().map(to_cue).collect();
    // Cut where the words are: a cue runs from its first word to its last.
    let timed = kino_kernels::captions::caption_cues_with_words(&cues, &heard, &rules);
    for warning in &timed.warnings {
        tracing::warn!(stage = cx.stage, "{warning}");
    }
    let cues: Vec<WordCue> = timed
        .cues
        .iter()
        .enumerate()
        .map(|(i, c)| WordCue {
            index: i as u32 + 1,
            start_ms: c.start_ms,
            end_ms: c.end_ms,
            text: c.text.clone(),
            speaker: c.speaker.clone().unwrap_or_default(),
            words: c
                .word_times()
                .into_iter()
                .map(|w| Word {
                    text: w.text,
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                })
                .collect(),
            timing: match c.timing {
                WordTiming::Transcript => Timing::Heard,
                WordTiming::Proportional => Timing::Proportional,
            },
            look: None,
        })
        .collect();
    let heard_cues = cues.iter().filter(|c| c.timing == Timing::Heard).count();
    cx.note(format!(
        "word times: {heard_cues} of {} cues as heard, the rest shared out by word length",
        cues.len()
    ));
    write_json(dir, "word-cues.json", &cues)
}

/// The host's look, when no caption-style plugin styles the cues: the
/// animation asked for, white words, a warm yellow highlight, no emphasis.
pub(super) fn host_look(cues: &mut [WordCue], animation: Animation) {
    for cue in cues {
        cue.look = Some(CueLook {
            animation,
            text_color: [255, 255, 255],
            highlight_color: DynamicLook::HIGHLIGHT,
            emphasis: vec![false; cue.words.len()],
            position: Position::Bottom,
            styled_by: None,
        });
    }
}

/// The job's `animation`: `None` (empty) leaves it to the styling.
fn asked_animation(cx: &OpCx) -> Result<Option<Animation>> {
    let text = cx.text(1)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Animation::parse(text).map(Some)
}

/// Word cues (+ the job's animation) -> each cue's look, by the host: the
/// degraded form of `style-captions`, and what a job without a
/// caption-style plugin gets.
pub(super) fn unstyled(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let mut cues: Vec<WordCue> = cx.json(0)?;
    host_look(
        &mut cues,
        asked_animation(cx)?.unwrap_or(Animation::Highlight),
    );
    write_json(dir, "styled-cues.json", &cues)
}

/// Word cues (+ the job's animation) -> each cue's look, by the tenant's
/// caption-style plugin: which words to emphasise, the colours, the
/// animation (the job's `animation`, when it names one, wins).
pub(super) async fn style_captions(cx: &OpCx, dir: &Path) -> Result<PathBuf, OpError> {
    let Some(plugin) = cx.plugin.as_ref() else {
        // No caption-style plugin (the slot is optional): the host's look.
        return Ok(unstyled(cx, dir)?);
    };
    let mut cues: Vec<WordCue> = cx.json(0)?;
    let asked = asked_animation(cx)?;
    let styler = cx
        .runtime
        .caption_style(&plugin.plugin, &plugin.call)
        .map_err(anyhow::Error::from)?;
    let wit_cues: Vec<wit::WordCue> = cues
        .iter()
        .enumerate()
        .map(|(i, c)| wit::WordCue {
            index: i as u32,
            start_ms: c.start_ms,
            end_ms: c.end_ms,
            text: c.text.clone(),
            words: c
                .words
                .iter()
                .map(|w| wit::TimedWord {
                    text: w.text.clone(),
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                })
                .collect(),
        })
        .collect();
    let brand = wit::BrandLook {
        name: String::new(),
        palette: Vec::new(),
        font: String::new(),
    };
    let what = "styling the captions";
    let styles = plugin_answer(what, styler.style_cues(&wit_cues, &brand).await)?;
    let styles = checked(plugin, what, styles, |s| answers::cue_styles(&wit_cues, s))?;
    for (cue, style) in cues.iter_mut().zip(styles) {
        cue.look = Some(CueLook {
            animation: asked.unwrap_or(match style.animation {
                wit::CaptionAnimation::Still => Animation::Still,
                wit::CaptionAnimation::Highlight => Animation::Highlight,
                wit::CaptionAnimation::Pop => Animation::Pop,
                wit::CaptionAnimation::Karaoke => Animation::Karaoke,
            }),
            text_color: rgb8(&style.text_color),
            highlight_color: rgb8(&style.highlight_color),
            emphasis: style.emphasis,
            position: match style.position {
                wit::CaptionPosition::Bottom => Position::Bottom,
                wit::CaptionPosition::Middle => Position::Middle,
                wit::CaptionPosition::Top => Position::Top,
            },
            styled_by: Some(plugin.id.clone()),
        });
    }
    Ok(write_json(dir, "styled-cues.json", &cues)?)
}

/// A WIT colour (0..=1, checked finite) as sRGB bytes.
fn rgb8(c: &wit::Rgb) -> [u8; 3] {
    [c.r, c.g, c.b].map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// Caption cues as either op stores them: plain segments (`caption-cues`)
/// or word cues (`caption-words`, `style-captions`).
pub(super) enum AnyCues {
    /// Without word times.
    Plain(Vec<Segment>),
    /// With them.
    Words(Vec<WordCue>),
}

impl AnyCues {
    /// Reads input `i`.
    pub(super) fn read(cx: &OpCx, i: usize) -> Result<AnyCues> {
        let value: serde_json::Value = cx.json(i)?;
        let has_words = value
            .as_array()
            .and_then(|a| a.first())
            .is_some_and(|c| c.get("words").is_some());
        Ok(if has_words {
            AnyCues::Words(serde_json::from_value(value)?)
        } else {
            AnyCues::Plain(serde_json::from_value(value)?)
        })
    }

    /// The kernels' cues (without word times).
    pub(super) fn cues(&self) -> Vec<Cue> {
        match self {
            AnyCues::Plain(segments) => segments.iter().map(to_cue).collect(),
            AnyCues::Words(cues) => cues.iter().map(|c| c.dynamic().cue()).collect(),
        }
    }
}
