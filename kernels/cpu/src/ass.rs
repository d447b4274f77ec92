//! ASS (Advanced SubStation Alpha, `.ass`) karaoke subtitles for dynamic
//! captions: [`to_ass`] writes [`DynamicCue`]s, [`parse_ass`] reads them
//! back.
//!
//! The script is what libass (FFmpeg's `subtitles`/`ass` filters, mpv, VLC)
//! and Aegisub play as karaoke:
//!
//! - `[Script Info]`: `ScriptType: v4.00+`, `PlayResX`/`PlayResY` (the frame
//!   size every size and margin is in), `WrapStyle: 2` (lines break only
//!   where the cue breaks them: the caption rules already did),
//!   `ScaledBorderAndShadow: yes`;
//! - `[V4+ Styles]`: one style from an [`AssStyle`]. Karaoke draws a word
//!   in `SecondaryColour` until it is sung and in `PrimaryColour` after,
//!   so the secondary colour is [`AssStyle::base`] and the primary
//!   [`AssStyle::highlight`]. [`CaptionKind::Boxed`] is `BorderStyle: 3`
//!   (an opaque box in `OutlineColour`, 65% opaque black, padded by
//!   `Outline`), [`CaptionKind::Outlined`] is `BorderStyle: 1` with a black
//!   outline. Colours are written `&HAABBGGRR` (alpha 00 is opaque);
//! - `[Events]`: one `Dialogue` per cue, its speaker in the `Name` field,
//!   its text with `\N` between lines and a `{\kf<centiseconds>}` tag
//!   before each word (the fill sweeps across the word for that long).
//!   Silence between words is an empty `{\k<centiseconds>}` syllable, so
//!   word starts and ends both survive. An emphasised word is preceded by
//!   `{\2c&HBBGGRR&}` with [`AssStyle::emphasis`] (its colour until sung),
//!   and the next word that is not by one back to the base colour.
//!
//! ASS times are centiseconds: cue and word times are rounded to the
//! nearest 10 ms (each boundary on its own, so rounding never accumulates).
//!
//! ASS has no standard escape: braces are written as libass's `\{` and
//! `\}`, and a backslash as a backslash and a WORD JOINER (U+2060, which
//! draws nothing), so `\N` in the text stays text.
//!
//! ```
//! use kino_kernels::ass::{AssStyle, parse_ass, to_ass};
//! use kino_kernels::subtitle::Cue;
//! use kino_kernels::text::DynamicLook;
//! use kino_kernels::words::{DynamicCue, TimedWord};
//!
//! let cue = Cue::new(1000, 2000, "Hello world");
//! let words = [TimedWord::new("Hello", 1000, 1400), TimedWord::new("world", 1500, 2000)];
//! let cues = [DynamicCue::with_times(&cue, &words)];
//! let script = to_ass(&cues, &AssStyle::new(&DynamicLook::default(), 1920, 1080));
//! assert!(script.contains(r"{\kf40}Hello {\k10}{\kf50}world"));
//! assert_eq!(parse_ass(&script)?.cues, cues);
//! # Ok::<(), kino_kernels::ass::AssError>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use thiserror::Error;

use crate::text::{CaptionKind, DynamicLook};
use crate::words::{DynamicCue, TimedWord, split_words};

/// DejaVu Sans's line height (ascent + descent, 2384 units) per em (2048
/// units): libass sizes a font by its line height, Kino's text by its em.
pub const DEJAVU_LINE_HEIGHT_PER_EM: f32 = 2384.0 / 2048.0;

/// The style of an ASS script: font, colours, border, frame size.
#[derive(Debug, Clone, PartialEq)]
pub struct AssStyle {
    /// The style's name, referred to by every event.
    pub name: String,
    /// The font family.
    pub font_name: String,
    /// ASS `Fontsize`: the font's line height in script pixels.
    pub font_size: f32,
    /// Whether the font is bold.
    pub bold: bool,
    /// Words not yet sung (sRGB): `SecondaryColour`.
    pub base: [u8; 3],
    /// Words sung (sRGB): `PrimaryColour`.
    pub highlight: [u8; 3],
    /// Emphasised words not yet sung (sRGB), as `\2c` overrides.
    pub emphasis: [u8; 3],
    /// Box or outline.
    pub kind: CaptionKind,
    /// `Outline`: the box's padding or the outline's width, in pixels.
    pub border: f32,
    /// `MarginL` and `MarginR`, in pixels.
    pub margin_h: u32,
    /// `MarginV`: the bottom line's distance from the frame's bottom.
    pub margin_v: u32,
    /// `PlayResX`: the frame width.
    pub play_res_x: u32,
    /// `PlayResY`: the frame height.
    pub play_res_y: u32,
}

impl AssStyle {
    /// The style matching [`DynamicCaption`](crate::text::DynamicCaption)
    /// with `look` on a `width x height` frame: style `Kino`, DejaVu Sans
    /// bold at [`CaptionKind::style`]'s size (as a line height, with
    /// [`DEJAVU_LINE_HEIGHT_PER_EM`]), its box padding or outline width,
    /// the look's colours, bottom margin 7% of the height
    /// ([`caption_placement`](crate::text::caption_placement)), side margins
    /// 10% of the width (captions wrap at 80%).
    pub fn new(look: &DynamicLook, width: u32, height: u32) -> Self {
        let style = look.kind.style(width as usize, height as usize);
        let border = match look.kind {
            CaptionKind::Boxed => style.background.map_or(0.0, |b| b.padding_px),
            CaptionKind::Outlined => style.outline.map_or(0.0, |o| o.width_px),
        };
        Self {
            name: "Kino".into(),
            font_name: "DejaVu Sans".into(),
            font_size: (style.size_px * DEJAVU_LINE_HEIGHT_PER_EM).round(),
            bold: true,
            base: look.base,
            highlight: look.highlight,
            emphasis: look.emphasis,
            kind: look.kind,
            border: (border * 100.0).round() / 100.0,
            margin_h: (width as f32 * 0.1).round() as u32,
            margin_v: (height as f32 * 0.07).round() as u32,
            play_res_x: width,
            play_res_y: height,
        }
    }
}

/// Opacity of the caption box, as [`CaptionKind::style`] draws it.
const BOX_OPACITY: f32 = 0.65;

/// `&HAABBGGRR`, alpha 0 opaque.
fn style_colour(c: [u8; 3], alpha: u8) -> String {
    format!("&H{alpha:02X}{:02X}{:02X}{:02X}", c[2], c[1], c[0])
}

/// `&HBBGGRR&`, as override tags write colours.
fn override_colour(c: [u8; 3]) -> String {
    format!("&H{:02X}{:02X}{:02X}&", c[2], c[1], c[0])
}

/// A number without trailing zeros: `69`, `15.5`.
fn number(v: f32) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Milliseconds to the nearest centisecond.
fn centis(ms: u32) -> u64 {
    (u64::from(ms) + 5) / 10
}

/// `H:MM:SS.cc`.
fn format_time(cs: u64) -> String {
    format!(
        "{}:{:02}:{:02}.{:02}",
        cs / 360_000,
        cs / 6000 % 60,
        cs / 100 % 60,
        cs % 100
    )
}

/// Text for an event: braces and backslashes escaped (see the module docs).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '\\' => out.push_str("\\\u{2060}"),
            c => out.push(c),
        }
    }
    out
}

/// Writes dynamic cues as an ASS karaoke script (see the
/// [module documentation](self)).
///
/// Word times are [`DynamicCue::word_times`], rounded to centiseconds.
/// Text lines are trimmed and empty ones dropped, as in WebVTT; the
/// whitespace between words is kept. The speaker goes in the `Name` field,
/// which cannot hold a comma: commas in names are written as `;`.
///
/// For cues whose times are multiples of 10 ms, whose text lines are
/// trimmed and non-empty, whose `words` are fitted into the cue and whose
/// `emphasis` has one entry per word (when the emphasis colour differs
/// from the base colour), [`parse_ass`] reads back the same cues, except
/// that `timing` is always [`WordTiming::Transcript`](crate::words::WordTiming::Transcript)
/// where the cue has words.
pub fn to_ass(cues: &[DynamicCue], style: &AssStyle) -> String {
    let mut out = String::new();
    out.push_str("[Script Info]\n; Written by Kino: karaoke captions\n");
    out.push_str("ScriptType: v4.00+\n");
    let _ = writeln!(out, "PlayResX: {}", style.play_res_x);
    let _ = writeln!(out, "PlayResY: {}", style.play_res_y);
    out.push_str("WrapStyle: 2\nScaledBorderAndShadow: yes\n\n");

    out.push_str("[V4+ Styles]\n");
    out.push_str(
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, \
         BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, \
         BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n",
    );
    let (border_style, border_colour) = match style.kind {
        CaptionKind::Boxed => {
            let alpha = ((1.0 - BOX_OPACITY) * 255.0).round() as u8;
            (3, style_colour([0, 0, 0], alpha))
        }
        CaptionKind::Outlined => (1, style_colour([0, 0, 0], 0)),
    };
    let _ = writeln!(
        out,
        "Style: {},{},{},{},{},{},{},{},0,0,0,100,100,0,0,{},{},0,2,{},{},{},1",
        field(&style.name),
        field(&style.font_name),
        number(style.font_size),
        style_colour(style.highlight, 0),
        style_colour(style.base, 0),
        border_colour,
        border_colour,
        if style.bold { -1 } else { 0 },
        border_style,
        number(style.border),
        style.margin_h,
        style.margin_h,
        style.margin_v
    );
    out.push('\n');

    out.push_str("[Events]\n");
    out.push_str(
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
    );
    for cue in cues {
        let start = centis(cue.start_ms);
        let end = centis(cue.end_ms.max(cue.start_ms));
        let _ = writeln!(
            out,
            "Dialogue: 0,{},{},{},{},0,0,0,,{}",
            format_time(start),
            format_time(end),
            field(&style.name),
            cue.speaker.as_deref().map(field).unwrap_or_default(),
            event_text(cue, start, end, style)
        );
    }
    out
}

/// A value for a comma-separated field: commas become `;`, line breaks
/// spaces.
fn field(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            ',' => ';',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// A cue's karaoke text, its line starting at centisecond `start` and
/// ending at `end`.
fn event_text(cue: &DynamicCue, start: u64, end: u64, style: &AssStyle) -> String {
    let words = cue.word_times();
    let mut text = String::new();
    let mut cursor = start;
    let mut k = 0;
    let mut emphasised = false;
    let lines = cue
        .text
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for (n, line) in lines.enumerate() {
        if n > 0 {
            text.push_str("\\N");
        }
        for (gap, word) in split_words(line) {
            text.push_str(gap);
            let Some(timed) = words.get(k) else {
                text.push_str(&escape(word));
                continue;
            };
            let from = centis(timed.start_ms).clamp(cursor, end);
            let to = centis(timed.end_ms).clamp(from, end);
            if from > cursor {
                let _ = write!(text, "{{\\k{}}}", from - cursor);
            }
            let _ = write!(text, "{{\\kf{}", to - from);
            let emphasis = cue.is_emphasized(k);
            if emphasis != emphasised {
                let colour = if emphasis { style.emphasis } else { style.base };
                let _ = write!(text, "\\2c{}", override_colour(colour));
                emphasised = emphasis;
            }
            text.push('}');
            text.push_str(&escape(word));
            cursor = to;
            k += 1;
        }
    }
    if k > 0 && end > cursor {
        let _ = write!(text, "{{\\k{}}}", end - cursor);
    }
    text
}

/// Why an ASS script could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssError {
    /// The input does not start with a `[Script Info]` section.
    #[error("line {line}: not an ass script: expected [Script Info], found {found:?}")]
    NotAss {
        /// 1-based line number.
        line: usize,
        /// The line found.
        found: String,
    },
    /// A line that cannot be read where it is.
    #[error("line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A malformed time in a `Dialogue` line.
    #[error("line {line}: bad time {value:?}: expected H:MM:SS.cc")]
    BadTime {
        /// 1-based line number.
        line: usize,
        /// The time as written.
        value: String,
    },
    /// A `Dialogue` line that ends before it starts.
    #[error("line {line}: dialogue ends at {end} but starts at {start}")]
    EndBeforeStart {
        /// 1-based line number.
        line: usize,
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
}

/// What [`parse_ass`] read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssScript {
    /// `PlayResX`, if given.
    pub play_res_x: Option<u32>,
    /// `PlayResY`, if given.
    pub play_res_y: Option<u32>,
    /// One per `Dialogue` line, in file order.
    pub cues: Vec<DynamicCue>,
}

/// The `[Events]` fields when the script has no `Format` line.
const DEFAULT_EVENT_FORMAT: [&str; 10] = [
    "layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text",
];

/// Reads an ASS (or SSA v4) script's dialogue as dynamic cues.
///
/// The script must start with `[Script Info]` (after an optional byte-order
/// mark, blank and `;` comment lines). `PlayResX`/`PlayResY` are read from
/// it, each style's `SecondaryColour` from `[V4+ Styles]` (or `[V4
/// Styles]`), and every `Dialogue` line of `[Events]` by the section's
/// `Format` line (the standard order if there is none); `Comment` lines and
/// other sections are skipped. In an event's text:
///
/// - override blocks `{...}` are removed; a karaoke tag (`\k`, `\K`, `\kf`,
///   `\ko`, in centiseconds) starts a syllable that lasts that long, from
///   where the previous one ended (the line's start for the first);
/// - `\N` and `\n` break lines, `\h` is a no-break space, `\{` and `\}` are
///   braces, a backslash and a WORD JOINER is a backslash;
/// - lines are trimmed and empty ones dropped, as in [`Cue`](crate::subtitle::Cue).
///
/// A word starts where the syllable holding its first character starts and
/// ends where the one holding its last ends; a word is emphasised when a
/// `\2c` override in effect at its first character differs from its
/// style's `SecondaryColour` (`\r` resets). Cues with karaoke tags get
/// [`WordTiming::Transcript`](crate::words::WordTiming::Transcript), fitted
/// into the cue; cues without get estimated times. Errors name the line.
pub fn parse_ass(input: &str) -> Result<AssScript, AssError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut script = AssScript::default();
    let mut section: Option<String> = None;
    let mut style_format: Vec<String> = Vec::new();
    let mut event_format: Vec<String> = DEFAULT_EVENT_FORMAT.map(String::from).to_vec();
    let mut secondary: HashMap<String, [u8; 3]> = HashMap::new();

    for (i, raw) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with("!:") {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            let name = line[1..line.len() - 1].trim().to_ascii_lowercase();
            if section.is_none() && name != "script info" {
                return Err(AssError::NotAss {
                    line: line_no,
                    found: line.to_string(),
                });
            }
            section = Some(name);
            continue;
        }
        let Some(current) = section.as_deref() else {
            return Err(AssError::NotAss {
                line: line_no,
                found: line.to_string(),
            });
        };
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
        match (current, key.as_str()) {
            ("script info", "playresx" | "playresy") => {
                let v = value.parse::<u32>().map_err(|_| AssError::Syntax {
                    line: line_no,
                    reason: format!("{key} must be a whole number of pixels, not {value:?}"),
                })?;
                if key == "playresx" {
                    script.play_res_x = Some(v);
                } else {
                    script.play_res_y = Some(v);
                }
            }
            ("v4+ styles" | "v4 styles", "format") => style_format = format_fields(value),
            ("v4+ styles" | "v4 styles", "style") => {
                let fields = split_fields(value, style_format.len().max(1));
                let get = |name: &str| {
                    style_format
                        .iter()
                        .position(|f| f == name)
                        .and_then(|k| fields.get(k))
                        .map(|v| v.trim())
                };
                let name = get("name").ok_or_else(|| AssError::Syntax {
                    line: line_no,
                    reason: "style before a format line naming its fields".into(),
                })?;
                if let Some(colour) = get("secondarycolour") {
                    let c = parse_colour(colour).ok_or_else(|| AssError::Syntax {
                        line: line_no,
                        reason: format!("bad colour {colour:?}: expected &HAABBGGRR"),
                    })?;
                    secondary.insert(name.to_string(), c);
                }
            }
            ("events", "format") => event_format = format_fields(value),
            ("events", "dialogue") => {
                let fields = split_fields(value, event_format.len());
                if fields.len() < event_format.len() {
                    return Err(AssError::Syntax {
                        line: line_no,
                        reason: format!(
                            "dialogue has {} fields, the format line names {}",
                            fields.len(),
                            event_format.len()
                        ),
                    });
                }
                let get = |name: &str| {
                    event_format
                        .iter()
                        .position(|f| f == name)
                        .and_then(|k| fields.get(k))
                        .copied()
                };
                let missing = |name: &str| AssError::Syntax {
                    line: line_no,
                    reason: format!("the events format has no {name} field"),
                };
                let start_text = get("start").ok_or_else(|| missing("Start"))?.trim();
                let end_text = get("end").ok_or_else(|| missing("End"))?.trim();
                // The text is the last field and keeps its commas and spaces.
                let text = get("text").ok_or_else(|| missing("Text"))?;
                let time = |value: &str| {
                    parse_time(value).ok_or_else(|| AssError::BadTime {
                        line: line_no,
                        value: value.to_string(),
                    })
                };
                let (start_ms, end_ms) = (time(start_text)?, time(end_text)?);
                if end_ms < start_ms {
                    return Err(AssError::EndBeforeStart {
                        line: line_no,
                        start: start_text.to_string(),
                        end: end_text.to_string(),
                    });
                }
                let style = get("style").map(str::trim).unwrap_or_default();
                let speaker = get("name")
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from);
                script.cues.push(event_cue(
                    text,
                    start_ms,
                    end_ms,
                    speaker,
                    secondary.get(style).copied(),
                ));
            }
            _ => {}
        }
    }
    if section.is_none() {
        return Err(AssError::NotAss {
            line: 1,
            found: String::new(),
        });
    }
    Ok(script)
}

/// A `Format:` line's field names, trimmed and lowercased.
fn format_fields(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

/// Splits into at most `n` fields; the last keeps any further commas.
fn split_fields(value: &str, n: usize) -> Vec<&str> {
    value.splitn(n, ',').collect()
}

/// `&HAABBGGRR` or `&HBBGGRR` (the trailing `&` optional), as sRGB.
fn parse_colour(value: &str) -> Option<[u8; 3]> {
    let hex = value
        .trim()
        .trim_start_matches('&')
        .strip_prefix(['H', 'h'])?
        .trim_end_matches('&');
    if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some([
        (v & 0xFF) as u8,
        (v >> 8 & 0xFF) as u8,
        (v >> 16 & 0xFF) as u8,
    ])
}

/// `H:MM:SS.cc` (1 to 3 fractional digits, read as a decimal fraction) in
/// milliseconds.
fn parse_time(value: &str) -> Option<u32> {
    let parts: Vec<&str> = value.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let (s, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) || !digits(s) || m.len() > 2 || s.len() > 2 || frac.len() > 3 {
        return None;
    }
    if !frac.is_empty() && !digits(frac) {
        return None;
    }
    let (h, m, s): (u64, u64, u64) = (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?);
    if m > 59 || s > 59 {
        return None;
    }
    let frac_ms = match frac.len() {
        0 => 0,
        n => frac.parse::<u64>().ok()? * 10u64.pow(3 - n as u32),
    };
    h.checked_mul(3_600_000)
        .and_then(|t| t.checked_add(m * 60_000 + s * 1000 + frac_ms))
        .and_then(|t| u32::try_from(t).ok())
}

/// One character of an event's text with its syllable's times and whether
/// it is emphasised.
struct Timed {
    c: char,
    start: u32,
    end: u32,
    emphasis: bool,
}

/// A karaoke tag's duration in centiseconds, if `tag` (without its
/// backslash) is one.
fn karaoke(tag: &str) -> Option<u32> {
    let digits = ["kf", "ko", "K", "k"]
        .iter()
        .find_map(|p| tag.strip_prefix(p))?;
    let digits = digits.trim();
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u32>().unwrap_or(u32::MAX))
}

/// A dialogue's text as a dynamic cue (see [`parse_ass`]).
fn event_cue(
    text: &str,
    start_ms: u32,
    end_ms: u32,
    speaker: Option<String>,
    style_secondary: Option<[u8; 3]>,
) -> DynamicCue {
    let mut chars: Vec<Timed> = Vec::new();
    let (mut syl_start, mut syl_end) = (start_ms, start_ms);
    let mut karaoke_seen = false;
    let mut override_secondary: Option<[u8; 3]> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let emphasis = override_secondary.is_some_and(|o| Some(o) != style_secondary);
        let mut push = |c: char| {
            chars.push(Timed {
                c,
                start: syl_start,
                end: syl_end,
                emphasis,
            })
        };
        match c {
            '{' => match after.find('}') {
                Some(close) => {
                    for tag in after[..close].split('\\').skip(1) {
                        let tag = tag.trim();
                        if let Some(cs) = karaoke(tag) {
                            karaoke_seen = true;
                            syl_start = syl_end;
                            syl_end = syl_start.saturating_add(cs.saturating_mul(10));
                        } else if let Some(colour) = tag.strip_prefix("2c") {
                            override_secondary = parse_colour(colour);
                        } else if tag.starts_with('r') {
                            override_secondary = None;
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    push('{');
                    rest = after;
                }
            },
            '\\' => {
                let next = after.chars().next();
                let (out, used) = match next {
                    Some('N' | 'n') => ('\n', 1),
                    Some('h') => ('\u{a0}', 1),
                    Some(b @ ('{' | '}')) => (b, 1),
                    Some('\u{2060}') => ('\\', '\u{2060}'.len_utf8()),
                    _ => ('\\', 0),
                };
                push(out);
                rest = &after[used..];
            }
            c => {
                push(c);
                rest = after;
            }
        }
    }

    // The text: lines trimmed, empty ones dropped.
    let plain: String = chars.iter().map(|t| t.c).collect();
    let text = plain
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    // The words, with their characters' times.
    let mut words: Vec<TimedWord> = Vec::new();
    let mut emphasis: Vec<bool> = Vec::new();
    let mut in_word = false;
    for t in &chars {
        if t.c.is_whitespace() {
            in_word = false;
        } else if in_word {
            if let Some(w) = words.last_mut() {
                w.text.push(t.c);
                w.end_ms = t.end;
            }
        } else {
            in_word = true;
            words.push(TimedWord::new(t.c.to_string(), t.start, t.end));
            emphasis.push(t.emphasis);
        }
    }
    let cue = crate::subtitle::Cue {
        start_ms,
        end_ms,
        text,
        speaker,
    };
    let mut dynamic = if karaoke_seen {
        DynamicCue::with_times(&cue, &words)
    } else {
        DynamicCue::proportional(&cue)
    };
    if emphasis.len() == dynamic.emphasis.len() {
        dynamic.emphasis = emphasis;
    }
    dynamic
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_bgr_with_alpha_first() {
        assert_eq!(style_colour([0x11, 0x22, 0x33], 0x44), "&H44332211");
        assert_eq!(override_colour([0x11, 0x22, 0x33]), "&H332211&");
        assert_eq!(parse_colour("&H44332211"), Some([0x11, 0x22, 0x33]));
        assert_eq!(parse_colour("&H332211&"), Some([0x11, 0x22, 0x33]));
        assert_eq!(parse_colour("&HFF"), Some([0xFF, 0, 0]));
        assert_eq!(parse_colour("red"), None);
    }

    #[test]
    fn times_are_centiseconds() {
        assert_eq!(format_time(centis(3_723_456)), "1:02:03.46");
        assert_eq!(parse_time("1:02:03.46"), Some(3_723_460));
        assert_eq!(parse_time("0:00:01.5"), Some(1500));
        assert_eq!(parse_time("0:00:01"), Some(1000));
        assert_eq!(parse_time("0:61:00.00"), None);
        assert_eq!(parse_time("1:00.00"), None);
        assert_eq!(parse_time("99999999999:00:00.00"), None);
    }

    #[test]
    fn escapes_survive() {
        let text = "a{b}c \\N d\\";
        let cue = event_cue(&escape(text), 0, 100, None, None);
        assert_eq!(cue.text, text);
    }

    #[test]
    fn karaoke_tags_are_read() {
        assert_eq!(karaoke("kf25"), Some(25));
        assert_eq!(karaoke("K7"), Some(7));
        assert_eq!(karaoke("ko0"), Some(0));
        assert_eq!(karaoke("k"), None);
        assert_eq!(karaoke("k99999999999"), Some(u32::MAX));
        assert_eq!(karaoke("kx"), None);
        assert_eq!(karaoke("b1"), None);
    }
}
