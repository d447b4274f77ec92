//! Transcript ops: subtitles in and out, caption cues.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_kernels::ass;
use kino_kernels::captions::{CaptionRules, caption_cues as plan_cues};
use kino_kernels::subtitle::{self, Cue};
use kino_kernels::text::{CaptionKind, DynamicLook};
use kino_kernels::words::DynamicCue;

use super::captions::{AnyCues, WordCue, to_cue};
use super::{OpCx, write_json};
use kino_runtime::types::Segment;

/// Reads a transcript file (SRT or WebVTT) into segments (the WIT
/// `segment`, which is also their JSON form in artifacts).
pub fn read_transcript(path: &Path) -> Result<Vec<Segment>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8(bytes).context("the transcript is not UTF-8 text")?;
    let cues = subtitle::parse(&text).context("the transcript is not valid SRT or WebVTT")?;
    if cues.is_empty() {
        bail!("the transcript has no cues");
    }
    // A transcript's line breaks are layout, not speech.
    Ok(numbered(cues, |text| text.replace('\n', " ")))
}

/// Cues as segments numbered from 1, their text passed through `text`.
fn numbered(cues: Vec<Cue>, text: impl Fn(String) -> String) -> Vec<Segment> {
    cues.into_iter()
        .enumerate()
        .map(|(i, cue)| Segment {
            id: (i + 1).to_string(),
            start_ms: cue.start_ms,
            end_ms: cue.end_ms,
            speaker: cue.speaker.unwrap_or_default(),
            text: text(cue.text),
        })
        .collect()
}

pub(super) fn parse_subtitles(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let segments = read_transcript(cx.file(0)?)?;
    write_json(dir, "segments.json", &segments)
}

/// Segments or caption cues -> SRT, WebVTT (with word timestamps when the
/// cues have word times) or ASS (karaoke tags per word, for editors).
pub(super) fn write_subtitles(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let cues = AnyCues::read(cx, 0)?;
    let format: String = cx.param("format", "srt".to_owned())?;
    let (text, name) = match (format.as_str(), &cues) {
        ("srt", _) => (subtitle::to_srt(&cues.cues()), "subtitles.srt"),
        ("vtt", AnyCues::Words(words)) => {
            let dynamic: Vec<_> = words.iter().map(WordCue::dynamic).collect();
            (subtitle::to_vtt_words(&dynamic), "subtitles.vtt")
        }
        ("vtt", AnyCues::Plain(_)) => (subtitle::to_vtt(&cues.cues()), "subtitles.vtt"),
        ("ass", _) => {
            let (width, height) = (cx.param("width", 1920u32)?, cx.param("height", 1080u32)?);
            let (dynamic, look) = match &cues {
                AnyCues::Words(words) => (
                    words.iter().map(WordCue::dynamic).collect::<Vec<_>>(),
                    words
                        .iter()
                        .find_map(|c| c.dynamic_look(CaptionKind::Boxed))
                        .unwrap_or_default(),
                ),
                AnyCues::Plain(_) => (
                    cues.cues().iter().map(DynamicCue::proportional).collect(),
                    DynamicLook::default(),
                ),
            };
            let style = ass::AssStyle::new(&look, width, height);
            (ass::to_ass(&dynamic, &style), "subtitles.ass")
        }
        (other, _) => bail!("param `format` must be `srt`, `vtt` or `ass`, not `{other}`"),
    };
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub(super) fn caption_cues(cx: &OpCx, dir: &Path) -> Result<PathBuf> {
    let segments: Vec<Segment> = cx.json(0)?;
    let cues: Vec<Cue> = segments.iter().map(to_cue).collect();
    let mut rules = CaptionRules::default();
    rules.max_chars_per_line = cx.param("max-chars-per-line", rules.max_chars_per_line)?;
    rules.max_lines = cx.param("max-lines", rules.max_lines)?;
    rules.max_chars_per_second = cx.param("max-chars-per-second", rules.max_chars_per_second)?;
    let plan = plan_cues(&cues, &rules);
    for warning in &plan.warnings {
        tracing::warn!(stage = cx.stage, "{warning}");
    }
    // A caption's line breaks are the layout the rules chose: kept.
    write_json(dir, "captions.json", &numbered(plan.cues, |text| text))
}
