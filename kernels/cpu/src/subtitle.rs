//! Subtitle files: SubRip (`.srt`) and WebVTT (`.vtt`) parsing and writing.
//!
//! Parsing is lenient about what real files do and strict about timing:
//!
//! - a UTF-8 byte-order mark, CRLF or lone CR line endings, and a missing
//!   final blank line are accepted;
//! - SRT index lines and WebVTT cue identifiers are optional and dropped;
//! - anything after the end time on a timing line (WebVTT cue settings such
//!   as `align:start`, SRT `X1:` coordinates) is ignored;
//! - WebVTT `NOTE`, `STYLE` and `REGION` blocks and header metadata are
//!   skipped, and WebVTT timestamps may omit the hours (`01:02.500`);
//! - markup is stripped: tags such as `<i>`, `<b>`, `<u>`, `<font ...>`,
//!   `<c.class>`, `<ruby>`, inline timestamps (`<00:00:01.000>`) and SSA
//!   overrides (`{\an8}`) in SRT. A voice tag (`<v Speaker>`) is stripped too,
//!   but its name becomes the cue's [`Cue::speaker`]. In WebVTT the character
//!   references `&amp;`, `&lt;`, `&gt;`, `&nbsp;`, `&lrm;`, `&rlm;`,
//!   `&quot;`, `&apos;` and numeric ones are decoded;
//! - each text line is trimmed and empty lines are dropped, so a cue's text
//!   is its lines joined with `'\n'`.
//!
//! A file that does not parse gives a [`SubtitleError`] with the 1-based
//! line number and what was wrong. Cues are returned in file order; they are
//! not sorted and may overlap.
//!
//! [`to_srt`] and [`to_vtt`] write files that parse back to the same cues
//! (see their docs for the exact conditions). WebVTT escapes `&`, `<` and
//! `>`, so any text round-trips; SRT has no escaping, so text that looks
//! like a tag does not survive an SRT round trip, and SRT has no speaker
//! syntax, so [`to_srt`] leaves speakers out.
//!
//! Word timing for dynamic captions ([`DynamicCue`]) travels in WebVTT cue
//! timestamps: [`to_vtt_words`] writes a `<00:00:01.250>` tag before each
//! word, [`parse_vtt_words`] reads them back (and [`parse_vtt`], as ever,
//! strips them).

use std::fmt::Write as _;

use thiserror::Error;

use crate::words::{DynamicCue, TimedWord, split_words};

/// One subtitle cue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cue {
    /// When the cue appears, in milliseconds from the start of the media.
    pub start_ms: u32,
    /// When the cue disappears, in milliseconds; after `start_ms`.
    pub end_ms: u32,
    /// The text without markup, lines joined with `'\n'`.
    pub text: String,
    /// The speaker named by a WebVTT voice tag (`<v Speaker>`), if any.
    pub speaker: Option<String>,
}

impl Cue {
    /// A cue without a speaker.
    pub fn new(start_ms: u32, end_ms: u32, text: impl Into<String>) -> Cue {
        Cue {
            start_ms,
            end_ms,
            text: text.into(),
            speaker: None,
        }
    }

    /// How long the cue is shown, in milliseconds (0 if `end_ms` is not after
    /// `start_ms`).
    pub fn duration_ms(&self) -> u32 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Why a subtitle file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubtitleError {
    /// The input has no cues at all (empty, only whitespace, or a WebVTT
    /// header with nothing after it).
    #[error("no subtitle cues: the file is empty")]
    Empty,
    /// The input does not look like a subtitle file of the expected format.
    #[error("line {line}: not a subtitle file: {reason}")]
    NotSubtitles {
        /// 1-based line number.
        line: usize,
        /// What was expected and found.
        reason: String,
    },
    /// A block where a cue was expected has no timing line.
    #[error("line {line}: expected a cue timing line (start --> end), found {found:?}")]
    ExpectedTiming {
        /// 1-based line number.
        line: usize,
        /// The line found instead.
        found: String,
    },
    /// A timestamp on a timing line is malformed or out of range.
    #[error("line {line}: bad timestamp {value:?}: {reason}")]
    BadTimestamp {
        /// 1-based line number.
        line: usize,
        /// The timestamp as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cue's end time is not after its start time.
    #[error(
        "line {line}: cue ends at {end} but starts at {start}: the end must be after the start"
    )]
    EndBeforeStart {
        /// 1-based line number of the timing line.
        line: usize,
        /// The start timestamp as written.
        start: String,
        /// The end timestamp as written.
        end: String,
    },
    /// A cue has a timing line but no text (or only markup).
    #[error("line {line}: cue has no text")]
    MissingText {
        /// 1-based line number of the timing line.
        line: usize,
    },
}

/// Parses a subtitle file, WebVTT if it starts with the `WEBVTT` header
/// (after an optional byte-order mark), SRT otherwise.
pub fn parse(input: &str) -> Result<Vec<Cue>, SubtitleError> {
    if is_vtt(input) {
        parse_vtt(input)
    } else {
        parse_srt(input)
    }
}

/// Whether `input` starts with a WebVTT header.
fn is_vtt(input: &str) -> bool {
    let first = input
        .strip_prefix('\u{feff}')
        .unwrap_or(input)
        .split(['\n', '\r'])
        .next()
        .unwrap_or("");
    first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t")
}

/// The input's lines with line endings normalised and the BOM removed.
fn split_lines(input: &str) -> Vec<String> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_owned)
        .collect()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Which format is being parsed: decides timestamp separators, entity
/// decoding and SSA override stripping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Srt,
    Vtt,
}

/// Parses a SubRip file.
///
/// Index lines are optional (any single line directly above a timing line
/// is taken as one); timestamps are `HH:MM:SS,mmm` (a `.` separator and a
/// missing hours field are tolerated). A cue ends at a blank line, or where a
/// line that is a timing line (optionally after an index line) starts the
/// next cue without a blank line in between.
pub fn parse_srt(input: &str) -> Result<Vec<Cue>, SubtitleError> {
    let lines = split_lines(input);
    let n = lines.len();
    let mut cues = Vec::new();
    let mut i = 0;
    loop {
        while i < n && is_blank(&lines[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let timing = if lines[i].contains("-->") {
            i
        } else if i + 1 < n && lines[i + 1].contains("-->") {
            i + 1
        } else if cues.is_empty() {
            return Err(SubtitleError::NotSubtitles {
                line: i + 1,
                reason: format!(
                    "expected a cue number or a timing line like \
                     00:00:01,000 --> 00:00:02,500, found {:?}",
                    lines[i].trim()
                ),
            });
        } else {
            return Err(SubtitleError::ExpectedTiming {
                line: i + 1,
                found: lines[i].trim().to_string(),
            });
        };
        let (start_ms, end_ms) = parse_timing(&lines[timing], timing + 1, Format::Srt)?;
        i = timing + 1;
        let text_start = i;
        while i < n && !is_blank(&lines[i]) {
            // A missing blank line: the next cue's timing line, or its index
            // line followed by a timing line.
            let starts_cue = is_timing(&lines[i], Format::Srt)
                || (lines[i].trim().bytes().all(|b| b.is_ascii_digit())
                    && i + 1 < n
                    && is_timing(&lines[i + 1], Format::Srt));
            if starts_cue {
                break;
            }
            i += 1;
        }
        let (text, speaker) = clean_text(&lines[text_start..i], Format::Srt);
        if text.is_empty() {
            return Err(SubtitleError::MissingText { line: timing + 1 });
        }
        cues.push(Cue {
            start_ms,
            end_ms,
            text,
            speaker,
        });
    }
    if cues.is_empty() {
        return Err(SubtitleError::Empty);
    }
    Ok(cues)
}

/// Parses a WebVTT file.
///
/// The first line must be `WEBVTT`, optionally followed by a space or tab and
/// free text; header metadata lines up to the first blank line are skipped.
/// Timestamps are `[HH:]MM:SS.mmm`. Cue identifiers are dropped. A cue's
/// text ends at a blank line, or at a line that is a timing line: the next
/// cue starts there without a blank line in between (the WebVTT parsing
/// algorithm ends cue text at a `-->` line too).
pub fn parse_vtt(input: &str) -> Result<Vec<Cue>, SubtitleError> {
    parse_vtt_with(input, |cue, _| cue)
}

/// Parses a WebVTT file as [`parse_vtt`] does, making each cue with `make`
/// from the cue and its raw text lines.
fn parse_vtt_with<T>(
    input: &str,
    mut make: impl FnMut(Cue, &[String]) -> T,
) -> Result<Vec<T>, SubtitleError> {
    if !is_vtt(input) {
        let trimmed = input.strip_prefix('\u{feff}').unwrap_or(input);
        if trimmed.trim().is_empty() {
            return Err(SubtitleError::Empty);
        }
        let first = trimmed.split(['\n', '\r']).next().unwrap_or("");
        return Err(SubtitleError::NotSubtitles {
            line: 1,
            reason: format!("a webvtt file starts with WEBVTT, found {first:?}"),
        });
    }
    let lines = split_lines(input);
    let n = lines.len();
    let mut cues = Vec::new();
    // Skip the header block.
    let mut i = 1;
    while i < n && !is_blank(&lines[i]) {
        i += 1;
    }
    loop {
        while i < n && is_blank(&lines[i]) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let block_start = i;
        while i < n && !is_blank(&lines[i]) {
            i += 1;
        }
        let block = &lines[block_start..i];
        let first = block[0].as_str();
        let keyword = |k: &str| {
            first
                .strip_prefix(k)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if keyword("NOTE") || keyword("STYLE") || keyword("REGION") {
            continue;
        }
        let timing = if first.contains("-->") {
            0
        } else if block.len() > 1 && block[1].contains("-->") {
            1
        } else {
            return Err(SubtitleError::ExpectedTiming {
                line: block_start + 1,
                found: first.trim().to_string(),
            });
        };
        let line_no = block_start + timing + 1;
        let (start_ms, end_ms) = parse_timing(&block[timing], line_no, Format::Vtt)?;
        let text_end = block[timing + 1..]
            .iter()
            .position(|line| is_timing(line, Format::Vtt))
            .map_or(block.len(), |k| timing + 1 + k);
        // The next cue, if one follows without a blank line, starts here.
        i = block_start + text_end;
        let raw = &block[timing + 1..text_end];
        let (text, speaker) = clean_text(raw, Format::Vtt);
        if text.is_empty() {
            return Err(SubtitleError::MissingText { line: line_no });
        }
        let cue = Cue {
            start_ms,
            end_ms,
            text,
            speaker,
        };
        cues.push(make(cue, raw));
    }
    if cues.is_empty() {
        return Err(SubtitleError::Empty);
    }
    Ok(cues)
}

/// Whether `line` is a well-formed timing line of `format`.
fn is_timing(line: &str, format: Format) -> bool {
    line.contains("-->") && parse_timing(line, 0, format).is_ok()
}

/// Parses `start --> end [settings]` on line `line_no`.
fn parse_timing(line: &str, line_no: usize, format: Format) -> Result<(u32, u32), SubtitleError> {
    let (left, right) = line.split_once("-->").unwrap_or((line, ""));
    let start_text = left.trim();
    let right = right.trim_start();
    // The end time runs to the first whitespace; cue settings follow.
    let end_text = right.split([' ', '\t']).next().unwrap_or("");
    let stamp = |value: &str| {
        parse_timestamp(value, format).map_err(|reason| SubtitleError::BadTimestamp {
            line: line_no,
            value: value.to_string(),
            reason,
        })
    };
    let start = stamp(start_text)?;
    let end = stamp(end_text)?;
    if end <= start {
        return Err(SubtitleError::EndBeforeStart {
            line: line_no,
            start: start_text.to_string(),
            end: end_text.to_string(),
        });
    }
    Ok((start, end))
}

/// Parses `[H+:]MM:SS(,|.)mmm` into milliseconds; the error says why not.
fn parse_timestamp(value: &str, format: Format) -> Result<u32, String> {
    if value.is_empty() {
        return Err("missing".into());
    }
    let sep = value
        .rfind([',', '.'])
        .ok_or("no milliseconds (expected SS,mmm or SS.mmm)")?;
    if format == Format::Vtt && value.as_bytes()[sep] == b',' {
        return Err("webvtt separates milliseconds with '.', not ','".into());
    }
    let (hms, millis) = (&value[..sep], &value[sep + 1..]);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if millis.len() != 3 || !digits(millis) {
        return Err("milliseconds must be three digits".into());
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] => ("0", *m, *s),
        _ => return Err("expected HH:MM:SS or MM:SS before the milliseconds".into()),
    };
    if !digits(hours) || !digits(minutes) || !digits(seconds) {
        return Err("hours, minutes and seconds must be digits".into());
    }
    if minutes.len() > 2 || seconds.len() != 2 {
        return Err("minutes and seconds must be two digits".into());
    }
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| "number out of range".to_string())
    };
    let (h, m, s, ms) = (num(hours)?, num(minutes)?, num(seconds)?, num(millis)?);
    if m > 59 || s > 59 {
        return Err("minutes and seconds must be below 60".into());
    }
    // Checked: the hours are any run of digits that fits a u64.
    h.checked_mul(3_600_000)
        .and_then(|t| t.checked_add((m * 60 + s) * 1000 + ms))
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| "later than 1193 hours".to_string())
}

/// Strips markup from a cue's text lines, trims them, drops empty ones and
/// joins them with `'\n'`; returns the text and the first voice tag's name.
fn clean_text(lines: &[String], format: Format) -> (String, Option<String>) {
    let mut speaker = None;
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let stripped = strip_markup(line, format, &mut speaker, None);
        let decoded = match format {
            Format::Vtt => decode_entities(&stripped),
            Format::Srt => stripped,
        };
        // A decoded `&#10;` or `&#13;` breaks the line, as the written
        // file will: the text is kept as it reads back.
        for piece in decoded.split(['\r', '\n']) {
            let trimmed = piece.trim();
            if !trimmed.is_empty() {
                out.push(trimmed.to_string());
            }
        }
    }
    (out.join("\n"), speaker)
}

/// Removes tags (`<...>` whose content starts with a letter, `/` or digit)
/// and, in SRT, SSA overrides (`{\...}`). The first `<v Name>` sets
/// `speaker`. A `<` that does not open a tag is kept as text. With `tags`,
/// every `<...>` tag removed is recorded (without its brackets) with where
/// it was in the returned text, as a byte offset.
fn strip_markup<'a>(
    line: &'a str,
    format: Format,
    speaker: &mut Option<String>,
    mut tags: Option<&mut Vec<(usize, &'a str)>>,
) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(['<', '{']) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if rest.as_bytes()[pos] == b'{' {
            match after.find('}') {
                Some(close) if format == Format::Srt && after.starts_with('\\') => {
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
            continue;
        }
        let is_tag_start = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/');
        match after.find('>') {
            Some(close) if is_tag_start && !after[..close].contains('<') => {
                let tag = &after[..close];
                if speaker.is_none() {
                    *speaker = voice_name(tag, format);
                }
                if let Some(tags) = tags.as_deref_mut() {
                    tags.push((out.len(), tag));
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The annotation of a voice tag (`v Name` or `v.class Name`), if `tag` is one.
fn voice_name(tag: &str, format: Format) -> Option<String> {
    let rest = tag.strip_prefix('v')?;
    let rest = if rest.starts_with('.') {
        let end = rest.find([' ', '\t'])?;
        &rest[end..]
    } else {
        rest
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    // Trimmed after decoding, as cue text is: `&nbsp;` at an end is space.
    let name = match format {
        Format::Vtt => decode_entities(rest.trim()).trim().to_string(),
        Format::Srt => rest.trim().to_string(),
    };
    (!name.is_empty()).then_some(name)
}

/// Decodes the WebVTT character references listed in the module docs;
/// anything else starting with `&` is kept as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let decoded = after.find(';').and_then(|semi| {
            let name = &after[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "nbsp" => Some('\u{a0}'),
                "lrm" => Some('\u{200e}'),
                "rlm" => Some('\u{200f}'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) =
                        name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = name.strip_prefix('#') {
                        dec.parse::<u32>().ok()
                    } else {
                        None
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `HH:MM:SS<sep>mmm` with at least two hour digits.
fn format_timestamp(ms: u32, sep: char) -> String {
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, ms) = (rem / 1000, rem % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

/// The text lines of a cue as written: trimmed, empty ones dropped.
fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(str::trim).filter(|l| !l.is_empty())
}

/// Writes cues as a SubRip file: numbered from 1, `HH:MM:SS,mmm` times, one
/// blank line after each cue, `\n` line endings.
///
/// Text lines are trimmed and empty ones dropped (SRT ends a cue at a blank
/// line). Speakers are left out: SRT has no syntax for them. For cues in
/// that normal form (trimmed non-empty lines, no text that looks like a tag,
/// no line that is a timing line, end after start, no speaker),
/// `parse_srt(&to_srt(cues)) == cues`.
pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}\n{} --> {}",
            i + 1,
            format_timestamp(cue.start_ms, ','),
            format_timestamp(cue.end_ms, ',')
        );
        for line in text_lines(&cue.text) {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Escapes text for a WebVTT cue payload.
fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes cues as a WebVTT file: the `WEBVTT` header, then each cue as an
/// `HH:MM:SS.mmm --> HH:MM:SS.mmm` line and its text, `\n` line endings.
///
/// `&`, `<` and `>` in text are escaped; a speaker is written as a voice
/// tag (`<v Name>`) at the start of the text. Text lines are trimmed and
/// empty ones dropped. For cues whose text is in that form (trimmed
/// non-empty lines), whose speaker, if any, is trimmed and non-empty, and
/// whose end is after their start, `parse_vtt(&to_vtt(cues)) == cues`.
pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        let _ = writeln!(
            out,
            "{} --> {}",
            format_timestamp(cue.start_ms, '.'),
            format_timestamp(cue.end_ms, '.')
        );
        if let Some(name) = &cue.speaker {
            let _ = write!(out, "<v {}>", escape_vtt(name));
        }
        for line in text_lines(&cue.text) {
            out.push_str(&escape_vtt(line));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// The WebVTT class that marks an emphasised word in [`to_vtt_words`]
/// (`<c.emphasis>word</c>`; style it with `::cue(.emphasis)`).
pub const EMPHASIS_CLASS: &str = "emphasis";

/// Writes dynamic cues as a WebVTT file with word timestamps: [`to_vtt`]'s
/// file, with WebVTT cue timestamps (`<00:00:01.250>`) in the text, which
/// karaoke-capable players use to style the words already said
/// (`::cue(:past)`) and those to come (`::cue(:future)`).
///
/// Each word after the first is preceded by a timestamp tag with its start;
/// the first is too when it starts after the cue does. Where a word ends
/// before the next one starts (or, for the last, before the cue ends), a
/// tag with its end follows it directly, before the space: players read it
/// as the time the space is reached, and [`parse_vtt_words`] as the word's
/// end. Emphasised words are wrapped in `<c.emphasis>…</c>`
/// ([`EMPHASIS_CLASS`]). Times are [`DynamicCue::word_times`]; the
/// whitespace between words is kept as written.
///
/// For cues that [`to_vtt`] round-trips, whose `words` are fitted into the
/// cue (as [`DynamicCue::word_times`] leaves them) and whose `emphasis` has
/// one entry per word, [`parse_vtt_words`] reads back the same cues, except
/// that `timing` is always [`WordTiming::Transcript`](crate::words::WordTiming::Transcript) (the file does not say
/// whether its times were estimated).
pub fn to_vtt_words(cues: &[DynamicCue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        let _ = writeln!(
            out,
            "{} --> {}",
            format_timestamp(cue.start_ms, '.'),
            format_timestamp(cue.end_ms, '.')
        );
        let words = cue.word_times();
        let end = cue.end_ms.max(cue.start_ms);
        let mut k = 0;
        for (n, line) in text_lines(&cue.text).enumerate() {
            if n == 0
                && let Some(name) = &cue.speaker
            {
                let _ = write!(out, "<v {}>", escape_vtt(name));
            }
            for (gap, word) in split_words(line) {
                out.push_str(gap);
                let Some(timed) = words.get(k) else {
                    out.push_str(&escape_vtt(word));
                    continue;
                };
                if k > 0 || timed.start_ms > cue.start_ms {
                    let _ = write!(out, "<{}>", format_timestamp(timed.start_ms, '.'));
                }
                if cue.is_emphasized(k) {
                    let _ = write!(out, "<c.{EMPHASIS_CLASS}>{}</c>", escape_vtt(word));
                } else {
                    out.push_str(&escape_vtt(word));
                }
                let next = words.get(k + 1).map_or(end, |w| w.start_ms);
                if timed.end_ms < next {
                    let _ = write!(out, "<{}>", format_timestamp(timed.end_ms, '.'));
                }
                k += 1;
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Parses a WebVTT file as [`parse_vtt`] does (same cues, same errors) and
/// reads each cue's word times from its timestamp tags.
///
/// A word starts at the last timestamp before its first character (the
/// cue's start if none) and ends at a timestamp directly after its last
/// character (no whitespace between), else where the next word starts, the
/// last at the cue's end. Timestamps inside a word do not split it. A cue
/// with timestamp tags gets [`WordTiming::Transcript`](crate::words::WordTiming::Transcript), its times fitted
/// into the cue (clamped, in order: files in the wild have timestamps
/// outside their cue); a cue with none gets [`estimate_words`](crate::words::estimate_words)'s times and
/// [`WordTiming::Proportional`](crate::words::WordTiming::Proportional). A word inside a class span that includes
/// [`EMPHASIS_CLASS`] (`<c.emphasis>`) is emphasised.
pub fn parse_vtt_words(input: &str) -> Result<Vec<DynamicCue>, SubtitleError> {
    parse_vtt_with(input, |cue, raw| {
        let (timed, emphasis) = timed_words(&cue, raw);
        let mut dynamic = match timed {
            Some(words) => DynamicCue::with_times(&cue, &words),
            None => DynamicCue::proportional(&cue),
        };
        if emphasis.len() == dynamic.emphasis.len() {
            dynamic.emphasis = emphasis;
        }
        dynamic
    })
}

/// What a cue's raw text holds, in order, for reading word times.
enum TextEvent {
    Char(char),
    Time(u32),
    /// A class span opens (with whether it is the emphasis class) or closes.
    Emphasis(Option<bool>),
}

/// The words of a cue with the times its timestamp tags give (`None` when
/// it has none, or when the words read do not match the cue's text), and
/// which words are emphasised.
fn timed_words(cue: &Cue, raw: &[String]) -> (Option<Vec<TimedWord>>, Vec<bool>) {
    let mut events = Vec::new();
    for (n, line) in raw.iter().enumerate() {
        if n > 0 {
            events.push(TextEvent::Char('\n'));
        }
        let mut tags = Vec::new();
        let mut speaker = None;
        let stripped = strip_markup(line, Format::Vtt, &mut speaker, Some(&mut tags));
        let mut pos = 0;
        for (at, tag) in tags {
            events.extend(
                decode_entities(&stripped[pos..at])
                    .chars()
                    .map(TextEvent::Char),
            );
            pos = at;
            if let Ok(ms) = parse_timestamp(tag, Format::Vtt) {
                events.push(TextEvent::Time(ms));
            } else if tag == "/c" {
                events.push(TextEvent::Emphasis(None));
            } else if let Some(classes) = tag.strip_prefix("c.") {
                let name = classes.split([' ', '\t']).next().unwrap_or("");
                let emphasis = name.split('.').any(|c| c == EMPHASIS_CLASS);
                events.push(TextEvent::Emphasis(Some(emphasis)));
            } else if tag == "c" || tag.starts_with("c ") {
                events.push(TextEvent::Emphasis(Some(false)));
            }
        }
        events.extend(
            decode_entities(&stripped[pos..])
                .chars()
                .map(TextEvent::Char),
        );
    }

    // (text, start, end if a timestamp closed it, emphasised)
    let mut words: Vec<(String, u32, Option<u32>, bool)> = Vec::new();
    let mut current: Option<(String, u32, bool)> = None;
    let mut closing: Option<u32> = None;
    let mut now = cue.start_ms;
    let mut timed = false;
    let mut spans: Vec<bool> = Vec::new();
    for event in events {
        match event {
            TextEvent::Time(ms) => {
                timed = true;
                if current.is_some() && closing.is_none() {
                    closing = Some(ms);
                }
                now = ms;
            }
            TextEvent::Emphasis(Some(e)) => spans.push(e),
            TextEvent::Emphasis(None) => {
                spans.pop();
            }
            TextEvent::Char(c) if c.is_whitespace() => {
                if let Some((text, start, emphasis)) = current.take() {
                    words.push((text, start, closing.take(), emphasis));
                }
                closing = None;
            }
            TextEvent::Char(c) => match &mut current {
                Some((text, _, _)) => {
                    text.push(c);
                    closing = None;
                }
                None => current = Some((c.to_string(), now, spans.contains(&true))),
            },
        }
    }
    if let Some((text, start, emphasis)) = current.take() {
        words.push((text, start, closing, emphasis));
    }

    let matches = words
        .iter()
        .map(|w| w.0.as_str())
        .eq(cue.text.split_whitespace());
    let emphasis = if matches {
        words.iter().map(|w| w.3).collect()
    } else {
        Vec::new()
    };
    if !timed || !matches {
        return (None, emphasis);
    }
    let starts: Vec<u32> = words.iter().map(|w| w.1).collect();
    let timed = words
        .into_iter()
        .enumerate()
        .map(|(k, (text, start, end, _))| {
            let end = end.unwrap_or_else(|| starts.get(k + 1).copied().unwrap_or(cue.end_ms));
            TimedWord::new(text, start, end)
        })
        .collect();
    (Some(timed), emphasis)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SRT: &str = "1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n\
                       2\n00:00:03,000 --> 00:00:05,250\nTwo lines\nof text\n\n";

    #[test]
    fn parses_srt() {
        let cues = parse_srt(SRT).unwrap();
        assert_eq!(
            cues,
            vec![
                Cue::new(1000, 2500, "Hello there."),
                Cue::new(3000, 5250, "Two lines\nof text"),
            ]
        );
        assert_eq!(cues[1].duration_ms(), 2250);
        assert_eq!(parse(SRT).unwrap(), cues);
    }

    #[test]
    fn srt_with_bom_crlf_no_final_blank_and_no_indices() {
        let text = "\u{feff}1\r\n00:00:01,000 --> 00:00:02,000\r\nA\r\n\r\n\
                    00:00:02,000 --> 00:00:03,000\r\nB\r\nb";
        let cues = parse(text).unwrap();
        assert_eq!(
            cues,
            vec![Cue::new(1000, 2000, "A"), Cue::new(2000, 3000, "B\nb")]
        );
        // Lone CR line endings too.
        let cues = parse_srt("1\r00:00:01,000 --> 00:00:02,000\rA\r").unwrap();
        assert_eq!(cues, vec![Cue::new(1000, 2000, "A")]);
    }

    #[test]
    fn srt_missing_blank_line_between_cues() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nA\n2\n00:00:02,000 --> 00:00:03,000\nB\n\
                    00:00:04,000 --> 00:00:05,000\nC\n";
        let cues = parse_srt(text).unwrap();
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["A", "B", "C"]);
        assert_eq!(cues[2].start_ms, 4000);
    }

    #[test]
    fn srt_markup_is_stripped_and_voice_kept() {
        let text = "1\n00:00:01,000 --> 00:00:02,000 X1:10 X2:20\n{\\an8}<i>Hi</i> <b>there</b>, <font color=\"red\">you</font>\n\
                    <v Ann>a < b and c > d</v>\n";
        let cues = parse_srt(text).unwrap();
        assert_eq!(cues[0].text, "Hi there, you\na < b and c > d");
        assert_eq!(cues[0].speaker.as_deref(), Some("Ann"));
        // SRT has no character references: they stay as written.
        let cues = parse_srt("1\n00:00:01,000 --> 00:00:02,000\nR&amp;D {curly}\n").unwrap();
        assert_eq!(cues[0].text, "R&amp;D {curly}");
    }

    #[test]
    fn srt_timestamps_tolerate_dot_and_missing_hours() {
        let cues = parse_srt("1\n00:00:01.000 --> 01:02,345\nA\n").unwrap();
        assert_eq!((cues[0].start_ms, cues[0].end_ms), (1000, 62_345));
        let cues = parse_srt("1\n100:00:00,000 --> 100:00:00,001\nA\n").unwrap();
        assert_eq!(cues[0].start_ms, 360_000_000);
    }

    const VTT: &str = "WEBVTT - a title\nKind: captions\nLanguage: en\n\n\
        NOTE this is a comment\nspanning lines\n\n\
        STYLE\n::cue { color: yellow }\n\n\
        REGION\nid:fred width:40%\n\n\
        intro\n00:01.000 --> 00:02.500 align:start position:10%\n<v.loud Mary Jane>Hello &amp; <c.yellow>welcome</c>&nbsp;back\n\
        <i>second</i> <00:00:02.000>line\n\n\
        01:00:00.000 --> 01:00:01.000\n&lt;not a tag&gt; &unknown; &#65;&#x42;\n";

    #[test]
    fn parses_vtt() {
        let cues = parse_vtt(VTT).unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0].start_ms, cues[0].end_ms), (1000, 2500));
        assert_eq!(cues[0].text, "Hello & welcome\u{a0}back\nsecond line");
        assert_eq!(cues[0].speaker.as_deref(), Some("Mary Jane"));
        assert_eq!((cues[1].start_ms, cues[1].end_ms), (3_600_000, 3_601_000));
        assert_eq!(cues[1].text, "<not a tag> &unknown; AB");
        assert_eq!(cues[1].speaker, None);
        assert_eq!(parse(VTT).unwrap(), cues);
        // BOM, CRLF, header alone on its line, no final newline.
        let cues = parse("\u{feff}WEBVTT\r\n\r\n00:00.000 --> 00:00.500\r\nx").unwrap();
        assert_eq!(cues, vec![Cue::new(0, 500, "x")]);
    }

    #[test]
    fn huge_hours_are_out_of_range_not_an_overflow() {
        // Found by kino-fuzz (dev profile): `h * 60` overflowed for hours
        // near u64::MAX: a panic with overflow checks; without, a wrapped
        // time (5124095576031 hours read as 00:34:08.384).
        for hours in ["18446744073709551615", "5124095576031", "1194"] {
            let e = parse_srt(&format!("1\n{hours}:00:00,000 --> 1:00:00,000\nA\n")).unwrap_err();
            assert!(
                e.to_string().contains("later than 1193 hours"),
                "{hours}: {e}"
            );
        }
        let cues = parse_srt("1\n1193:00:00,000 --> 1193:02:47,295\nA\n").unwrap();
        assert_eq!(cues[0].end_ms, u32::MAX);
    }

    #[test]
    fn vtt_missing_blank_line_between_cues() {
        // Found by kino-fuzz: the second timing line was read as the first
        // cue's text, so the SRT written of the cues did not read back.
        let text =
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne\n01:02:03.004 --> 01:02:04.000\nTwo\n";
        let cues = parse(text).unwrap();
        assert_eq!(
            cues,
            vec![
                Cue::new(0, 1500, "One"),
                Cue::new(3_723_004, 3_724_000, "Two")
            ]
        );
        assert_eq!(parse_srt(&to_srt(&cues)).unwrap(), cues);
        // A line that only looks like one stays text; the identifier of a
        // cue that follows without a blank line is the previous cue's text,
        // as the WebVTT parsing algorithm reads it.
        let cues =
            parse("WEBVTT\n\n00:01.000 --> 00:02.000\nx --> y\nid\n00:03.000 --> 00:04.000\nz\n")
                .unwrap();
        assert_eq!(
            cues,
            vec![
                Cue::new(1000, 2000, "x --> y\nid"),
                Cue::new(3000, 4000, "z")
            ]
        );
        let e =
            parse("WEBVTT\n\n00:01.000 --> 00:02.000\nA\n00:03.000 --> 00:04.000\n").unwrap_err();
        assert_eq!(e, SubtitleError::MissingText { line: 5 });
    }

    #[test]
    fn vtt_line_break_references_break_lines() {
        // Found by kino-fuzz: `&#13;` decoded to a CR kept inside a line,
        // which the WebVTT written of the cue read back as a line break.
        let cues = parse("WEBVTT\n\n00:01.000 --> 00:02.000\na&#13;b &#10;&#10; c&#xD;\n").unwrap();
        assert_eq!(cues[0].text, "a\nb\nc");
        assert_eq!(parse(&to_vtt(&cues)).unwrap(), cues);
    }

    #[test]
    fn vtt_speaker_names_are_trimmed_after_decoding() {
        // Found by kino-fuzz: `<v Mary&nbsp;>` kept the no-break space, which
        // the WebVTT written of the cue then lost.
        let cues = parse("WEBVTT\n\n00:01.000 --> 00:02.000\n<v.loud Mary&nbsp;>Hi\n").unwrap();
        assert_eq!(cues[0].speaker.as_deref(), Some("Mary"));
        assert_eq!(parse(&to_vtt(&cues)).unwrap(), cues);
        let cues = parse("WEBVTT\n\n00:01.000 --> 00:02.000\n<v &nbsp;>Hi\n").unwrap();
        assert_eq!(cues[0].speaker, None);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let err = |text: &str| parse(text).unwrap_err();
        assert_eq!(err(""), SubtitleError::Empty);
        assert_eq!(err("\u{feff}\n \r\n"), SubtitleError::Empty);
        assert_eq!(err("WEBVTT\n\nNOTE nothing here\n"), SubtitleError::Empty);
        let e = err("{\"json\": true}\n");
        assert!(
            matches!(e, SubtitleError::NotSubtitles { line: 1, .. }),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("line 1: not a subtitle file"),
            "{e}"
        );

        let e = err("1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:0x,000 --> 00:00:03,000\nB\n");
        assert_eq!(
            e.to_string(),
            "line 6: bad timestamp \"00:00:0x,000\": hours, minutes and seconds must be digits"
        );
        let e = err("1\n00:00:01,000 --> 00:01:60,000\nA\n");
        assert!(
            matches!(&e, SubtitleError::BadTimestamp { line: 2, value, .. } if value == "00:01:60,000"),
            "{e}"
        );
        let e = err("1\n00:00:01,00 --> 00:00:02,000\nA\n");
        assert!(e.to_string().contains("three digits"), "{e}");
        let e = err("1\n00:00:01,000 -->\nA\n");
        assert!(
            matches!(&e, SubtitleError::BadTimestamp { line: 2, value, .. } if value.is_empty()),
            "{e}"
        );

        let e = err("1\n00:00:02,000 --> 00:00:01,000\nA\n");
        assert_eq!(
            e.to_string(),
            "line 2: cue ends at 00:00:01,000 but starts at 00:00:02,000: the end must be after the start"
        );
        assert!(matches!(
            err("1\n00:00:01,000 --> 00:00:01,000\nA\n"),
            SubtitleError::EndBeforeStart { line: 2, .. }
        ));

        assert_eq!(
            err("1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,000 --> 00:00:04,000\n\n"),
            SubtitleError::MissingText { line: 6 }
        );
        assert_eq!(
            err("1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n"),
            SubtitleError::MissingText { line: 2 }
        );
        let e = err("1\n00:00:01,000 --> 00:00:02,000\nA\n\njust some words\n");
        assert_eq!(
            e,
            SubtitleError::ExpectedTiming {
                line: 5,
                found: "just some words".into()
            }
        );

        let e = err("WEBVTT\n\n00:01.000 --> 00:02,000\nA\n");
        assert!(e.to_string().contains("line 3: bad timestamp"), "{e}");
        assert!(e.to_string().contains("'.'"), "{e}");
        let e = err("WEBVTT\n\nid\nnot timing\n");
        assert!(
            matches!(e, SubtitleError::ExpectedTiming { line: 3, .. }),
            "{e}"
        );
        let e = err("WEBVTT\n\n00:01.000 --> 00:02.000\n");
        assert_eq!(e, SubtitleError::MissingText { line: 3 });
        let e = parse_vtt(SRT).unwrap_err();
        assert!(
            matches!(e, SubtitleError::NotSubtitles { line: 1, .. }),
            "{e}"
        );
        let e = parse_srt("WEBVTT\n\njunk\n").unwrap_err();
        assert!(
            matches!(e, SubtitleError::NotSubtitles { line: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn writes_canonical_files() {
        let cues = vec![
            Cue::new(0, 1500, "One"),
            Cue {
                start_ms: 3_723_004,
                end_ms: 3_724_000,
                text: "a < b & c\nsecond".into(),
                speaker: Some("Bob".into()),
            },
        ];
        assert_eq!(
            to_srt(&cues),
            "1\n00:00:00,000 --> 00:00:01,500\nOne\n\n\
             2\n01:02:03,004 --> 01:02:04,000\na < b & c\nsecond\n\n"
        );
        assert_eq!(
            to_vtt(&cues),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nOne\n\n\
             01:02:03.004 --> 01:02:04.000\n<v Bob>a &lt; b &amp; c\nsecond\n\n"
        );
        // Canonical files are reproduced byte for byte.
        assert_eq!(to_srt(&parse_srt(SRT).unwrap()), SRT);
        let vtt = to_vtt(&cues);
        assert_eq!(to_vtt(&parse(&vtt).unwrap()), vtt);
    }

    /// Deterministic generator for the round-trip tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_cues(rng: &mut Rng, speakers: bool, vtt_text: bool) -> Vec<Cue> {
        let words = [
            "hello",
            "world",
            "¿qué",
            "tal?",
            "naïve",
            "日本語",
            "a",
            "-->",
            "x-y",
            "1,000",
            "don't",
            "\"quoted\"",
            "&",
            "R&D",
            "<3",
            "a<b",
            "b>c",
            "&amp;",
            "{braces}",
        ];
        let safe = |w: &&&str| vtt_text || !(w.contains('<') || w.contains("-->"));
        let pool: Vec<&str> = words.iter().filter(safe).copied().collect();
        let mut t = rng.below(10_000) as u32;
        (0..1 + rng.below(8))
            .map(|_| {
                let start = t + rng.below(3000) as u32;
                let end = start + 1 + rng.below(7000) as u32;
                t = if rng.below(4) == 0 { start } else { end };
                let lines: Vec<String> = (0..1 + rng.below(3))
                    .map(|_| {
                        (0..1 + rng.below(6))
                            .map(|_| pool[rng.below(pool.len() as u64) as usize])
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                Cue {
                    start_ms: start,
                    end_ms: end,
                    text: lines.join("\n"),
                    speaker: (speakers && rng.below(2) == 0)
                        .then(|| ["Ann", "Mary Jane", "R&D <lab>"][rng.below(3) as usize].into()),
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_exactly() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let cues = random_cues(&mut rng, true, true);
            let vtt = to_vtt(&cues);
            assert_eq!(parse_vtt(&vtt).unwrap(), cues, "{vtt}");
            assert_eq!(parse(&vtt).unwrap(), cues);

            let cues = random_cues(&mut rng, false, false);
            let srt = to_srt(&cues);
            assert_eq!(parse_srt(&srt).unwrap(), cues, "{srt}");
            assert_eq!(parse(&srt).unwrap(), cues);
            // The same file with CRLF endings and a BOM parses the same.
            let crlf = format!("\u{feff}{}", srt.replace('\n', "\r\n"));
            assert_eq!(parse(&crlf).unwrap(), cues);
        }
    }

    #[test]
    fn srt_drops_speakers_and_normalises_text() {
        let cue = Cue {
            start_ms: 5,
            end_ms: 10,
            text: "  padded \n\n next ".into(),
            speaker: Some("Ann".into()),
        };
        let back = parse_srt(&to_srt(std::slice::from_ref(&cue))).unwrap();
        assert_eq!(back, vec![Cue::new(5, 10, "padded\nnext")]);
        let back = parse_vtt(&to_vtt(&[cue])).unwrap();
        assert_eq!(back[0].text, "padded\nnext");
        assert_eq!(back[0].speaker.as_deref(), Some("Ann"));
    }
}
