//! Caption cues from transcript segments: line length, line count and
//! reading-speed limits, with every cue inside the speech it shows.
//!
//! [`caption_cues`] works segment by segment:
//!
//! 1. The segment's text is split into words at whitespace (its own line
//!    breaks are not kept). A word longer than a line is hard-broken into
//!    line-long pieces (no hyphen is added).
//! 2. The words are grouped into cues of at most
//!    [`CaptionRules::max_lines`] lines of at most
//!    [`CaptionRules::max_chars_per_line`] characters. The grouping is the
//!    cheapest under a small cost model: each cue costs the same, ending a
//!    cue after a sentence (`.`, `!`, `?`, `…`) is free, after a clause (`,`,
//!    `;`, `:`, a dash) cheap, elsewhere dear and inside a hard-broken word
//!    dearest, and a cue shorter than half a line costs extra. So text is
//!    cut at sentence and clause ends where it can be, without leaving
//!    one-word cues behind.
//! 3. Each cue uses the fewest lines its text fits on; a two- (or more-)
//!    line cue is broken where the lines come out most even, preferring a
//!    break after punctuation when it costs little balance.
//! 4. The segment's window is shared among its cues in proportion to their
//!    characters, each getting at least [`CaptionRules::min_cue_ms`] where
//!    the window allows, with [`CaptionRules::gap_ms`] between consecutive
//!    cues. Times are whole milliseconds and every cue lies inside its
//!    segment: no caption is shown longer than the speech it shows.
//!
//! Segments are taken in time order. A segment's window ends at its own end
//! or `gap_ms` before the next segment starts, whichever is earlier, so cues
//! never overlap (segments that start together are the exception, with a
//! warning). When a rule cannot be met inside the window — the text reads
//! faster than [`CaptionRules::max_chars_per_second`], the window is too
//! short for the minimum duration, segments overlap — the cues are still
//! made and [`CaptionPlan::warnings`] says which segment (1-based, in input
//! order, with its times) and why. Segments with no text or no duration
//! produce no cue and a warning.
//!
//! [`caption_cues_with_words`] makes the same cues from segments and the
//! recogniser's timed words: each cue is then cut between words (silences
//! count as punctuation) and shown while its words are said, with
//! [`WordTiming::Transcript`](crate::words::WordTiming) word times for
//! dynamic captions.
//!
//! Characters are Unicode scalar values, which is what a renderer with one
//! glyph per character shows; a line break counts as one character for
//! reading speed.

use crate::subtitle::Cue;
use crate::words::{DynamicCue, TimedWord, WordPlan, fit_words, words_by_cue};

/// Limits for [`caption_cues`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionRules {
    /// Longest line, in characters (at least 1 is used). Default 42.
    pub max_chars_per_line: usize,
    /// Most lines in one cue (at least 1 is used). Default 2.
    pub max_lines: usize,
    /// Fastest reading speed, in characters per second; not finite or not
    /// positive disables the check. Default 17.
    pub max_chars_per_second: f64,
    /// Shortest time a cue is shown, in milliseconds, where the segment's
    /// window allows it. Default 800.
    pub min_cue_ms: u32,
    /// Blank time between consecutive cues, in milliseconds. Default 0.
    pub gap_ms: u32,
}

impl Default for CaptionRules {
    /// 42 characters per line, 2 lines, 17 characters per second, 800 ms
    /// minimum, no gap.
    fn default() -> Self {
        CaptionRules {
            max_chars_per_line: 42,
            max_lines: 2,
            max_chars_per_second: 17.0,
            min_cue_ms: 800,
            gap_ms: 0,
        }
    }
}

/// What [`caption_cues`] made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaptionPlan {
    /// The cues, in time order; text lines joined with `'\n'`, each segment's
    /// speaker kept.
    pub cues: Vec<Cue>,
    /// One line per rule that could not be met, naming the segment.
    pub warnings: Vec<String>,
}

/// Turns transcript segments into caption cues; see the
/// [module documentation](self).
pub fn caption_cues(segments: &[Cue], rules: &CaptionRules) -> CaptionPlan {
    let mut plan = CaptionPlan::default();
    let order = captionable(segments, &mut plan.warnings);
    for (pos, &i) in order.iter().enumerate() {
        let seg = &segments[i];
        let next = order.get(pos + 1).map(|&j| (j, segments[j].start_ms));
        let end = window_end(i, seg, next, rules.gap_ms, &mut plan.warnings);
        let texts = split_text(&seg.text, rules);
        place(
            i,
            seg,
            end,
            texts,
            rules,
            &mut plan.cues,
            &mut plan.warnings,
        );
    }
    plan
}

/// A silence after a word at least this long (in milliseconds) is as good
/// a place to end a cue or a line as a clause's end.
const CLAUSE_PAUSE_MS: u32 = 250;
/// A silence after a word at least this long is as good a place to end a
/// cue as a sentence's end.
const SENTENCE_PAUSE_MS: u32 = 600;
/// Blank time shorter than this (beyond [`CaptionRules::gap_ms`]) between
/// two word-timed cues of one segment is closed: the earlier cue stays up
/// until the gap before the next. A caption that blinks off for a moment is
/// harder to read than one that stays.
const CLOSE_GAP_MS: u32 = 500;

/// Turns transcript segments into caption cues timed by the recogniser's
/// words.
///
/// The cues are made as [`caption_cues`] makes them — the same line
/// length, line count and cue grouping, the same segment windows and the
/// same warnings — with these differences where a segment's words are
/// known:
///
/// - **Which words are a segment's.** `words` is the flat list of timed
///   words, in media time. A word belongs to the segment its midpoint falls
///   in (the earliest-starting one where segments overlap; a word whose
///   midpoint is in a gap, to the neighbour it overlaps most), exactly as
///   [`assign_words`](crate::words::assign_words) gives words to cues.
///   A segment's words are taken in time order (by start, stably) and
///   fitted into its window; the `k`-th of them times the `k`-th
///   whitespace-separated word of its text (only the count is compared,
///   the text's spelling is shown).
/// - **Where cues are cut.** A silence of at least 250 ms after a word
///   makes the place after it as good a cut (of a cue or a line) as a
///   clause's end, one of at least 600 ms as good as a sentence's end.
///   Cuts are always between words, or inside a word longer than a line,
///   which is hard-broken as in [`caption_cues`].
/// - **When each cue is shown.** From its first word's start to its last
///   word's end (a piece of a hard-broken word gets a share of the word's
///   time by its characters), then, where that is shorter than
///   [`CaptionRules::min_cue_ms`] or than its characters need at
///   [`CaptionRules::max_chars_per_second`], lengthened — first later, into
///   the silence after it, then earlier — as far as its neighbours allow:
///   consecutive cues keep [`CaptionRules::gap_ms`] between them (dropped,
///   as in [`caption_cues`], when the window is too short for it) and stay
///   inside the segment's window. A silence shorter than 500 ms (beyond the
///   gap) between two cues of one segment is closed, the earlier cue
///   staying up until the gap before the next. Every cue lasts at least
///   1 ms, and every word is inside its cue.
///
/// Such cues have [`WordTiming::Transcript`](crate::words::WordTiming)
/// words, one per word of the cue's text. A rule the speech leaves no room
/// for is warned about, naming the segment, as [`caption_cues`] does.
///
/// A segment whose number of words differs from its text's, or whose window
/// has fewer milliseconds than it has cues, falls back to
/// [`caption_cues`]'s split (times shared by characters) with
/// [`WordTiming::Proportional`](crate::words::WordTiming) words from
/// [`estimate_words`](crate::words::estimate_words), and a warning naming
/// the segment says why (none when `words` is empty: nothing was timed, so
/// nothing was missed). Timed words in no segment are counted in one
/// warning.
///
/// The cues are in time order (segments starting together are the
/// exception, as in [`caption_cues`]); emphasis is off everywhere.
pub fn caption_cues_with_words(
    segments: &[Cue],
    words: &[TimedWord],
    rules: &CaptionRules,
) -> WordPlan {
    let mut plan = WordPlan::default();
    let (heard, lost) = words_by_cue(segments, words);
    let order = captionable(segments, &mut plan.warnings);
    for (pos, &i) in order.iter().enumerate() {
        let seg = &segments[i];
        let next = order.get(pos + 1).map(|&j| (j, segments[j].start_ms));
        let end = window_end(i, seg, next, rules.gap_ms, &mut plan.warnings);
        let count = seg.text.split_whitespace().count();
        if heard[i].len() == count {
            let mut timed: Vec<TimedWord> = heard[i].iter().map(|w| (*w).clone()).collect();
            timed.sort_by_key(|w| w.start_ms);
            fit_words(&mut timed, seg.start_ms, end);
            if place_words(i, seg, end, &timed, rules, &mut plan) {
                continue;
            }
        } else if !words.is_empty() {
            plan.warnings.push(format!(
                "{}: {count} words in the text but {} timed words; captions timed by \
                 characters and word times estimated from their lengths",
                describe(i, seg),
                heard[i].len()
            ));
        }
        let mut cues = Vec::new();
        let texts = split_text(&seg.text, rules);
        place(i, seg, end, texts, rules, &mut cues, &mut plan.warnings);
        plan.cues.extend(cues.iter().map(DynamicCue::proportional));
    }
    if lost > 0 {
        plan.warnings.push(format!(
            "{lost} timed word{} fell in no segment and {} not shown",
            if lost == 1 { "" } else { "s" },
            if lost == 1 { "is" } else { "are" }
        ));
    }
    plan
}

/// Cuts segment `index` into cues timed by its words (`timed`, one per word
/// of its text, in order, inside `[seg.start_ms, end]`) and appends them to
/// `plan`. False, with a warning and nothing appended, when the window has
/// fewer milliseconds than cues.
fn place_words(
    index: usize,
    seg: &Cue,
    end: u32,
    timed: &[TimedWord],
    rules: &CaptionRules,
    plan: &mut WordPlan,
) -> bool {
    let max_line = rules.max_chars_per_line.max(1);
    let mut tokens = tokenize(&seg.text, max_line);
    // Silences make cuts cheaper.
    for t in 0..tokens.len() {
        let word = tokens[t].word;
        if tokens.get(t + 1).is_some_and(|next| next.word == word) {
            continue; // not the word's last piece
        }
        let (Some(this), Some(next)) = (timed.get(word), timed.get(word + 1)) else {
            continue;
        };
        let pause = next.start_ms.saturating_sub(this.end_ms);
        let b = &mut tokens[t].boundary;
        if pause >= SENTENCE_PAUSE_MS {
            *b = Boundary::Sentence;
        } else if pause >= CLAUSE_PAUSE_MS && *b == Boundary::Word {
            *b = Boundary::Clause;
        }
    }
    let layout = lay_out(&tokens, rules);
    let n = layout.len();
    let (ws, we) = (u64::from(seg.start_ms), u64::from(end));
    let window = we - ws;
    if n as u64 > window {
        plan.warnings.push(format!(
            "{}: {n} captions do not fit in {window} ms; captions timed by characters \
             and word times estimated from their lengths",
            describe(index, seg)
        ));
        return false;
    }

    // Each token's time: its word's, shared among a hard-broken word's
    // pieces by characters.
    let mut times: Vec<(u64, u64)> = Vec::with_capacity(tokens.len());
    let mut t = 0;
    while t < tokens.len() {
        let word = tokens[t].word;
        let pieces = tokens[t..].iter().take_while(|p| p.word == word).count();
        let total: usize = tokens[t..t + pieces].iter().map(|p| p.chars).sum();
        let (start, stop) = timed
            .get(word)
            .map_or((ws, ws), |w| (u64::from(w.start_ms), u64::from(w.end_ms)));
        let mut done = 0;
        for p in &tokens[t..t + pieces] {
            let at = |chars: usize| start + (stop - start) * chars as u64 / total.max(1) as u64;
            times.push((at(done), at(done + p.chars)));
            done += p.chars;
        }
        t += pieces;
    }

    // The cues' texts and words, and the span of their speech.
    let mut texts = Vec::with_capacity(n);
    let mut cue_words: Vec<Vec<TimedWord>> = Vec::with_capacity(n);
    let mut starts = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    for lines in &layout {
        texts.push(cue_text(&tokens, lines));
        let mut shown: Vec<TimedWord> = Vec::new();
        for &(a, b) in lines {
            for (k, token) in tokens.iter().enumerate().take(b).skip(a) {
                let (start, stop) = times[k];
                match shown.last_mut() {
                    Some(w) if k > a && !token.spaced => {
                        w.text.push_str(token.text);
                        w.end_ms = stop as u32;
                    }
                    _ => shown.push(TimedWord::new(token.text, start as u32, stop as u32)),
                }
            }
        }
        starts.push(shown.first().map_or(ws, |w| u64::from(w.start_ms)));
        ends.push(shown.last().map_or(ws, |w| u64::from(w.end_ms)));
        cue_words.push(shown);
    }

    // The gap between this segment's cues, dropped (as `place` does) when
    // it would leave them no time at all.
    let gap = if window >= (n as u64 - 1) * u64::from(rules.gap_ms) + n as u64 {
        u64::from(rules.gap_ms)
    } else {
        0
    };
    // Every cue at least 1 ms, `gap` apart, inside the window: push right,
    // then pull left. (The window holds `n` cues and the gaps, so this
    // leaves every cue starting at or after `ws`.)
    let mut lo = ws;
    for k in 0..n {
        starts[k] = starts[k].max(lo);
        ends[k] = ends[k].max(starts[k] + 1);
        lo = ends[k] + gap;
    }
    let mut hi = we;
    for k in (0..n).rev() {
        ends[k] = ends[k].min(hi);
        starts[k] = starts[k].min(ends[k] - 1);
        hi = starts[k].saturating_sub(gap);
    }
    // Long enough to read: later into the silence after, then earlier.
    let chars: Vec<usize> = texts.iter().map(|t| t.chars().count()).collect();
    let cps_limit = rules.max_chars_per_second;
    let reads = cps_limit.is_finite() && cps_limit > 0.0;
    for k in 0..n {
        let reading = if reads {
            (chars[k] as f64 * 1000.0 / cps_limit).ceil() as u64
        } else {
            0
        };
        let need = reading.max(u64::from(rules.min_cue_ms));
        let hi = if k + 1 < n { starts[k + 1] - gap } else { we };
        let lo = if k > 0 { ends[k - 1] + gap } else { ws };
        if ends[k] - starts[k] < need {
            ends[k] = hi.min(starts[k] + need).max(ends[k]);
        }
        if ends[k] - starts[k] < need {
            starts[k] = lo.max(ends[k].saturating_sub(need)).min(starts[k]);
        }
    }
    // No blinking between the segment's cues.
    for k in 1..n {
        let hi = starts[k] - gap;
        if hi > ends[k - 1] && hi - ends[k - 1] < u64::from(CLOSE_GAP_MS) {
            ends[k - 1] = hi;
        }
    }

    let min = u64::from(rules.min_cue_ms);
    let mut shortest: Option<(usize, u64)> = None;
    let mut worst: Option<(f64, usize, u64)> = None;
    for (k, (text, shown)) in texts.into_iter().zip(cue_words).enumerate() {
        let d = ends[k] - starts[k];
        if d < min && shortest.is_none_or(|(_, s)| d < s) {
            shortest = Some((k, d));
        }
        if reads {
            let cps = chars[k] as f64 * 1000.0 / d as f64;
            if cps > cps_limit + 1e-9 && worst.is_none_or(|(w, _, _)| cps > w) {
                worst = Some((cps, chars[k], d));
            }
        }
        // Inside the window, so within u32.
        let cue = Cue {
            start_ms: starts[k] as u32,
            end_ms: ends[k] as u32,
            text,
            speaker: seg.speaker.clone(),
        };
        plan.cues.push(DynamicCue::with_times(&cue, &shown));
    }
    if let Some((k, d)) = shortest {
        plan.warnings.push(format!(
            "{}: caption {} of {n} is shown for {d} ms, under the {min} ms minimum; \
             the speech around it leaves no room",
            describe(index, seg),
            k + 1
        ));
    }
    if let Some((cps, c, d)) = worst {
        plan.warnings.push(format!(
            "{}: reads at {cps:.1} characters per second, over the limit of {cps_limit} \
             ({c} characters in {:.3} s)",
            describe(index, seg),
            d as f64 / 1000.0
        ));
    }
    true
}

/// The segments that can be captioned, in time order; a warning for each
/// of the others.
fn captionable(segments: &[Cue], warnings: &mut Vec<String>) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.end_ms <= seg.start_ms {
            warnings.push(format!(
                "{}: no duration, no caption made",
                describe(i, seg)
            ));
        } else if seg.text.split_whitespace().next().is_none() {
            warnings.push(format!("{}: no text, no caption made", describe(i, seg)));
        } else {
            order.push(i);
        }
    }
    order.sort_by_key(|&i| (segments[i].start_ms, segments[i].end_ms, i));
    order
}

/// A segment's text as cue texts, by characters alone.
fn split_text(text: &str, rules: &CaptionRules) -> Vec<String> {
    let max_line = rules.max_chars_per_line.max(1);
    let tokens = tokenize(text, max_line);
    lay_out(&tokens, rules)
        .iter()
        .map(|lines| cue_text(&tokens, lines))
        .collect()
}

/// Groups tokens into cues and lays each on lines: per cue, its lines as
/// token ranges.
fn lay_out(tokens: &[Token<'_>], rules: &CaptionRules) -> Vec<Vec<(usize, usize)>> {
    let max_line = rules.max_chars_per_line.max(1);
    let max_lines = rules.max_lines.max(1);
    chunk(tokens, max_line, max_lines)
        .into_iter()
        .map(|(a, b)| {
            break_lines(&tokens[a..b], max_line)
                .into_iter()
                .map(|(i, j)| (a + i, a + j))
                .collect()
        })
        .collect()
}

/// A cue's text from its lines (token ranges), lines joined with `'\n'`.
fn cue_text(tokens: &[Token<'_>], lines: &[(usize, usize)]) -> String {
    lines
        .iter()
        .map(|&(a, b)| join(&tokens[a..b]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `segment N (start–end)` for warnings.
fn describe(index: usize, seg: &Cue) -> String {
    format!(
        "segment {} ({}–{})",
        index + 1,
        clock(seg.start_ms),
        clock(seg.end_ms)
    )
}

/// `H:MM:SS.mmm`.
fn clock(ms: u32) -> String {
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Where segment `index`'s cues must end: its own end, or `gap` before the
/// next segment starts.
fn window_end(
    index: usize,
    seg: &Cue,
    next: Option<(usize, u32)>,
    gap: u32,
    warnings: &mut Vec<String>,
) -> u32 {
    let Some((next_index, next_start)) = next else {
        return seg.end_ms;
    };
    let overlaps = next_start < seg.end_ms;
    let limit = next_start.saturating_sub(gap);
    if limit >= seg.end_ms {
        return seg.end_ms;
    }
    if limit > seg.start_ms {
        if overlaps {
            warnings.push(format!(
                "{}: overlaps segment {}; its captions end at {}",
                describe(index, seg),
                next_index + 1,
                clock(limit)
            ));
        }
        limit
    } else if next_start > seg.start_ms {
        // Too close for the gap: at least don't overlap.
        warnings.push(format!(
            "{}: segment {} starts {} ms after it, less than the {gap} ms gap",
            describe(index, seg),
            next_index + 1,
            next_start - seg.start_ms
        ));
        next_start.min(seg.end_ms)
    } else {
        warnings.push(format!(
            "{}: starts together with segment {}; their captions overlap",
            describe(index, seg),
            next_index + 1
        ));
        seg.end_ms
    }
}

/// How good a place the end of a token is to break a line or a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// After `.`, `!`, `?` or `…`.
    Sentence,
    /// After `,`, `;`, `:` or a dash.
    Clause,
    /// Between two words.
    Word,
    /// Inside a hard-broken word.
    InsideWord,
}

/// A word, or a piece of one too long for a line.
#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    chars: usize,
    /// Whether a space precedes it on the same line (false for the first
    /// word and for the continuation pieces of a hard-broken word).
    spaced: bool,
    /// Where the token ends.
    boundary: Boundary,
    /// Which whitespace-separated word of the text it is (or is a piece of).
    word: usize,
}

fn tokenize(text: &str, max_line: usize) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    for (index, word) in text.split_whitespace().enumerate() {
        let boundary = word_boundary(word);
        let chars = word.chars().count();
        if chars <= max_line {
            tokens.push(Token {
                text: word,
                chars,
                spaced: !tokens.is_empty(),
                boundary,
                word: index,
            });
            continue;
        }
        // Hard-break into line-long pieces.
        let mut starts: Vec<usize> = word
            .char_indices()
            .map(|(b, _)| b)
            .step_by(max_line)
            .collect();
        starts.push(word.len());
        let pieces = starts.len() - 1;
        for (k, w) in starts.windows(2).enumerate() {
            let piece = &word[w[0]..w[1]];
            tokens.push(Token {
                text: piece,
                chars: piece.chars().count(),
                spaced: k == 0 && !tokens.is_empty(),
                boundary: if k + 1 == pieces {
                    boundary
                } else {
                    Boundary::InsideWord
                },
                word: index,
            });
        }
    }
    tokens
}

/// The boundary at the end of `word`, looking through closing quotes and
/// brackets.
fn word_boundary(word: &str) -> Boundary {
    let core = word.trim_end_matches(['"', '\'', '”', '’', '»', ')', ']', '}']);
    match core.chars().last() {
        Some('.' | '!' | '?' | '…' | '。' | '！' | '？') => Boundary::Sentence,
        Some(',' | ';' | ':' | '-' | '–' | '—' | '、' | '，') => Boundary::Clause,
        _ => Boundary::Word,
    }
}

/// Cost of one cue in the grouping.
const CUE_COST: f64 = 100.0;
/// Extra cost, at most, of a cue shorter than half a line.
const SHORT_CUE_COST: f64 = 40.0;

/// Cost of ending a cue at a boundary.
fn cue_break_cost(b: Boundary) -> f64 {
    match b {
        Boundary::Sentence => 0.0,
        Boundary::Clause => 20.0,
        Boundary::Word => 50.0,
        Boundary::InsideWord => 200.0,
    }
}

/// Cost of breaking a line at a boundary (in squared characters of
/// imbalance).
fn line_break_cost(b: Boundary) -> f64 {
    match b {
        Boundary::Sentence | Boundary::Clause => 0.0,
        Boundary::Word => 100.0,
        Boundary::InsideWord => 400.0,
    }
}

/// Groups tokens into cues: `(start, end)` token ranges, each fitting in
/// `max_lines` lines of `max_line` characters.
fn chunk(tokens: &[Token<'_>], max_line: usize, max_lines: usize) -> Vec<(usize, usize)> {
    let n = tokens.len();
    let half_line = (max_line as f64 / 2.0).max(1.0);
    // best[j]: cheapest grouping of tokens[..j], and where its last cue starts.
    let mut best: Vec<(f64, usize)> = vec![(f64::INFINITY, 0); n + 1];
    best[0] = (0.0, 0);
    for i in 0..n {
        if !best[i].0.is_finite() {
            continue;
        }
        // Greedy filling gives the fewest lines for each prefix and can be
        // extended one token at a time.
        let (mut lines, mut line_len, mut chars) = (1usize, 0usize, 0usize);
        for j in i..n {
            let t = &tokens[j];
            let add = if j > i && t.spaced { 1 } else { 0 };
            if j > i && line_len + add + t.chars > max_line {
                lines += 1;
                line_len = t.chars;
            } else {
                line_len += add + t.chars;
            }
            if lines > max_lines {
                break;
            }
            chars += add + t.chars;
            let short = (1.0 - chars as f64 / half_line).max(0.0) * SHORT_CUE_COST;
            let brk = if j + 1 == n {
                0.0
            } else {
                cue_break_cost(t.boundary)
            };
            let cost = best[i].0 + CUE_COST + short + brk;
            if cost < best[j + 1].0 {
                best[j + 1] = (cost, i);
            }
        }
    }
    let mut ranges = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = best[j].1;
        ranges.push((i, j));
        j = i;
    }
    ranges.reverse();
    ranges
}

/// Length in characters of tokens laid on one line.
fn line_len(tokens: &[Token<'_>]) -> usize {
    tokens
        .iter()
        .enumerate()
        .map(|(k, t)| t.chars + usize::from(k > 0 && t.spaced))
        .sum()
}

fn join(tokens: &[Token<'_>]) -> String {
    let mut s = String::new();
    for (k, t) in tokens.iter().enumerate() {
        if k > 0 && t.spaced {
            s.push(' ');
        }
        s.push_str(t.text);
    }
    s
}

/// Lays a cue's tokens on the fewest lines of at most `max_line`
/// characters, as evenly as possible, preferring breaks after punctuation:
/// the lines as token ranges.
fn break_lines(tokens: &[Token<'_>], max_line: usize) -> Vec<(usize, usize)> {
    let n = tokens.len();
    if line_len(tokens) <= max_line {
        return vec![(0, n)];
    }
    // The fewest lines, by greedy filling.
    let mut lines = 1;
    let mut start = 0;
    for j in 1..n {
        if line_len(&tokens[start..=j]) > max_line {
            lines += 1;
            start = j;
        }
    }
    let target = line_len(tokens) as f64 / lines as f64;
    // cost[k][j]: the best k lines holding tokens[..j]; from[k][j] where
    // the last of them starts.
    let mut cost = vec![vec![f64::INFINITY; n + 1]; lines + 1];
    let mut from = vec![vec![0usize; n + 1]; lines + 1];
    cost[0][0] = 0.0;
    for k in 1..=lines {
        for j in 1..=n {
            for i in (0..j).rev() {
                let len = line_len(&tokens[i..j]);
                if len > max_line {
                    break;
                }
                if !cost[k - 1][i].is_finite() {
                    continue;
                }
                let brk = if j < n {
                    line_break_cost(tokens[j - 1].boundary)
                } else {
                    0.0
                };
                let c = cost[k - 1][i] + (len as f64 - target).powi(2) + brk;
                if c < cost[k][j] {
                    cost[k][j] = c;
                    from[k][j] = i;
                }
            }
        }
    }
    let mut out = Vec::with_capacity(lines);
    let mut j = n;
    for k in (1..=lines).rev() {
        let i = from[k][j];
        out.push((i, j));
        j = i;
    }
    out.reverse();
    out
}

/// Shares the window `[seg.start_ms, end)` among the cue texts and appends
/// the cues to `cues` (and any warnings to `warnings`).
fn place(
    index: usize,
    seg: &Cue,
    end: u32,
    texts: Vec<String>,
    rules: &CaptionRules,
    cues: &mut Vec<Cue>,
    warnings: &mut Vec<String>,
) {
    let window = u64::from(end - seg.start_ms);
    // A cue needs a millisecond at least (a cue that ends where it starts is
    // no cue: SRT and WebVTT readers refuse it), so with fewer milliseconds
    // than cues, neighbouring texts share a cue.
    let texts = if texts.len() as u64 > window {
        warnings.push(format!(
            "{}: {} captions do not fit in {window} ms; shown as {window}",
            describe(index, seg),
            texts.len()
        ));
        merge_into(texts, window as usize)
    } else {
        texts
    };
    let n = texts.len() as u64;
    // Drop the gap between this segment's own cues if it would leave them
    // no time at all.
    let gap = if window >= (n - 1) * u64::from(rules.gap_ms) + n {
        u64::from(rules.gap_ms)
    } else {
        0
    };
    let available = window - (n - 1) * gap;
    let chars: Vec<f64> = texts.iter().map(|t| t.chars().count() as f64).collect();
    let min = u64::from(rules.min_cue_ms);
    let durations = if n * min <= available {
        share_with_floor(&chars, available, min as f64)
    } else {
        warnings.push(format!(
            "{}: {} ms is too short to show {} caption{} for {} ms each",
            describe(index, seg),
            window,
            n,
            if n == 1 { "" } else { "s" },
            rules.min_cue_ms
        ));
        // Still a millisecond each: there are that many (see above).
        share_with_floor(&chars, available, 1.0)
    };
    let durations = round_preserving_sum(&durations, available);

    let cps_limit = rules.max_chars_per_second;
    let mut worst: Option<(f64, usize, u64)> = None;
    let mut t = u64::from(seg.start_ms);
    for (k, (text, d)) in texts.into_iter().zip(durations).enumerate() {
        if cps_limit.is_finite() && cps_limit > 0.0 {
            let cps = chars[k] * 1000.0 / (d.max(1) as f64);
            if cps > cps_limit + 1e-9 && worst.is_none_or(|(w, _, _)| cps > w) {
                worst = Some((cps, chars[k] as usize, d));
            }
        }
        // Times stay inside [start, end) so they fit in u32.
        let start = t as u32;
        let stop = (t + d) as u32;
        cues.push(Cue {
            start_ms: start,
            end_ms: stop,
            text,
            speaker: seg.speaker.clone(),
        });
        t += d + gap;
    }
    if let Some((cps, c, d)) = worst {
        warnings.push(format!(
            "{}: reads at {cps:.1} characters per second, over the limit of {cps_limit} \
             ({c} characters in {:.3} s)",
            describe(index, seg),
            d as f64 / 1000.0
        ));
    }
}

/// `texts` joined into `groups` cues (at least one) of consecutive texts,
/// as even in count as can be.
fn merge_into(texts: Vec<String>, groups: usize) -> Vec<String> {
    let groups = groups.clamp(1, texts.len().max(1));
    let (per, extra) = (texts.len() / groups, texts.len() % groups);
    let mut texts = texts.into_iter();
    (0..groups)
        .map(|g| {
            let take = per + usize::from(g < extra);
            texts.by_ref().take(take).collect::<Vec<_>>().join("\n")
        })
        .collect()
}

/// Splits `total` in proportion to `weights`, giving every part at least
/// `floor` (the caller checks that `floor * parts <= total`): parts whose
/// share would fall below the floor get the floor, the rest share what is
/// left in proportion.
fn share_with_floor(weights: &[f64], total: u64, floor: f64) -> Vec<f64> {
    let total = total as f64;
    let mut fixed = vec![false; weights.len()];
    loop {
        let free_weight: f64 = weights
            .iter()
            .zip(&fixed)
            .filter(|(_, f)| !**f)
            .map(|(w, _)| w)
            .sum();
        let budget = total - floor * fixed.iter().filter(|f| **f).count() as f64;
        let scale = if free_weight > 0.0 {
            budget / free_weight
        } else {
            0.0
        };
        let mut changed = false;
        for (k, w) in weights.iter().enumerate() {
            if !fixed[k] && w * scale < floor {
                fixed[k] = true;
                changed = true;
            }
        }
        if !changed {
            return weights
                .iter()
                .zip(&fixed)
                .map(|(w, f)| if *f { floor } else { w * scale })
                .collect();
        }
    }
}

/// Rounds to whole milliseconds keeping the sum at `total`: floors, then
/// the largest remainders get one more. No part ends below the floor of its
/// exact value.
fn round_preserving_sum(parts: &[f64], total: u64) -> Vec<u64> {
    let mut out: Vec<u64> = parts.iter().map(|p| p.max(0.0).floor() as u64).collect();
    let mut left = total.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = parts[a] - parts[a].floor();
        let fb = parts[b] - parts[b].floor();
        fb.total_cmp(&fa)
    });
    for &k in order.iter().cycle() {
        if left == 0 {
            break;
        }
        out[k] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn seg(start: u32, end: u32, text: &str) -> Cue {
        Cue::new(start, end, text)
    }

    fn texts(plan: &CaptionPlan) -> Vec<&str> {
        plan.cues.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn more_captions_than_milliseconds_share_cues() {
        // Found by kino-fuzz: a 3 ms window for a long segment gave cues of
        // no duration, which the caption files then held.
        let text = "one two three four five six seven eight nine ten eleven twelve \
                    thirteen fourteen fifteen sixteen seventeen eighteen nineteen";
        let rules = CaptionRules {
            max_chars_per_line: 8,
            max_lines: 1,
            ..CaptionRules::default()
        };
        let plan = caption_cues(&[Cue::new(1000, 1003, text)], &rules);
        assert_eq!(plan.cues.len(), 3, "{:?}", plan.cues);
        assert!(
            plan.cues.iter().all(|c| c.end_ms > c.start_ms),
            "{:?}",
            plan.cues
        );
        assert_eq!(plan.cues.last().unwrap().end_ms, 1003);
        // Every letter is shown, in order (words over 8 letters are broken).
        let shown: String = plan
            .cues
            .iter()
            .flat_map(|c| c.text.split_whitespace())
            .collect();
        assert_eq!(shown, text.split_whitespace().collect::<String>());
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("do not fit in 3 ms")),
            "{:?}",
            plan.warnings
        );
        let srt = crate::subtitle::to_srt(&plan.cues);
        assert_eq!(crate::subtitle::parse_srt(&srt).unwrap().len(), 3);
    }

    #[test]
    fn short_text_is_one_line() {
        let plan = caption_cues(&[seg(1000, 3000, "Hello there.")], &CaptionRules::default());
        assert_eq!(plan.cues, vec![seg(1000, 3000, "Hello there.")]);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn two_lines_are_balanced_and_prefer_punctuation() {
        let rules = CaptionRules::default();
        let text = "This sentence is long enough that it must go on two lines";
        let plan = caption_cues(&[seg(0, 6000, text)], &rules);
        assert_eq!(
            texts(&plan),
            ["This sentence is long enough\nthat it must go on two lines"]
        );
        // A comma a little off centre wins over the exact middle.
        let text = "When the rain stopped, we walked home along the river bank";
        let plan = caption_cues(&[seg(0, 6000, text)], &rules);
        assert_eq!(
            texts(&plan),
            ["When the rain stopped,\nwe walked home along the river bank"]
        );
    }

    #[test]
    fn long_segment_is_cut_at_sentences_and_timed_by_characters() {
        let text = "The first sentence is here and it is fairly long indeed. \
                    Then a second one follows, which is also quite long, and a third. \
                    Short end.";
        let rules = CaptionRules::default();
        let plan = caption_cues(&[seg(10_000, 20_000, text)], &rules);
        assert!(plan.cues.len() >= 2, "{:?}", plan.cues);
        assert!(plan.cues[0].text.ends_with("indeed."), "{:?}", plan.cues);
        assert_eq!(plan.cues[0].start_ms, 10_000);
        assert_eq!(plan.cues.last().unwrap().end_ms, 20_000);
        for pair in plan.cues.windows(2) {
            assert_eq!(pair[0].end_ms, pair[1].start_ms);
        }
        // Durations follow character counts (within the 800 ms floor).
        let c0 = plan.cues[0].text.chars().count() as f64;
        let c1 = plan.cues[1].text.chars().count() as f64;
        let d0 = f64::from(plan.cues[0].duration_ms());
        let d1 = f64::from(plan.cues[1].duration_ms());
        assert!((d0 / d1 - c0 / c1).abs() < 0.01, "{d0} {d1} {c0} {c1}");
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn long_words_are_hard_broken() {
        let rules = CaptionRules {
            max_chars_per_line: 10,
            ..CaptionRules::default()
        };
        let plan = caption_cues(
            &[seg(0, 10_000, "a Donaudampfschifffahrtsgesellschaft b")],
            &rules,
        );
        let all: Vec<&str> = plan.cues.iter().flat_map(|c| c.text.lines()).collect();
        assert!(all.iter().all(|l| l.chars().count() <= 10), "{all:?}");
        let joined: String = all.concat().split_whitespace().collect();
        assert_eq!(joined, "aDonaudampfschifffahrtsgesellschaftb");
    }

    #[test]
    fn fast_speech_and_short_windows_warn_naming_the_segment() {
        let rules = CaptionRules::default();
        let segments = [
            seg(0, 2000, "Fine."),
            seg(
                2000,
                3000,
                "This is far too much text to read in one second.",
            ),
            seg(5000, 5300, "Hi"),
            seg(6000, 6000, "No time"),
            seg(7000, 8000, "   "),
        ];
        let plan = caption_cues(&segments, &rules);
        assert_eq!(plan.cues.len(), 3, "{:?}", plan.cues);
        let w = &plan.warnings;
        assert!(!w.iter().any(|w| w.starts_with("segment 1 ")), "{w:?}");
        assert!(
            w.iter()
                .any(|w| w.starts_with("segment 2 (0:00:02.000–0:00:03.000): reads at")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("segment 3 ") && w.contains("too short")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("segment 4 ") && w.contains("no duration"))
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("segment 5 ") && w.contains("no text"))
        );
        // Even then the cue stays inside its segment.
        assert_eq!((plan.cues[2].start_ms, plan.cues[2].end_ms), (5000, 5300));
    }

    #[test]
    fn overlapping_and_unsorted_segments() {
        let rules = CaptionRules {
            gap_ms: 100,
            ..CaptionRules::default()
        };
        let mut b = seg(0, 3000, "First speaker talks.");
        b.speaker = Some("Ann".into());
        let segments = [seg(2500, 5000, "Second speaker answers."), b];
        let plan = caption_cues(&segments, &rules);
        assert_eq!(plan.cues[0].text, "First speaker talks.");
        assert_eq!(plan.cues[0].speaker.as_deref(), Some("Ann"));
        assert_eq!((plan.cues[0].start_ms, plan.cues[0].end_ms), (0, 2400));
        assert_eq!((plan.cues[1].start_ms, plan.cues[1].end_ms), (2500, 5000));
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.starts_with("segment 2 ") && w.contains("overlaps segment 1")),
            "{:?}",
            plan.warnings
        );
    }

    /// Deterministic generator for the property test.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn random_text(rng: &mut Rng) -> String {
        const WORDS: [&str; 16] = [
            "the",
            "a",
            "caption",
            "reads",
            "quickly",
            "über",
            "naïve",
            "日本語のテキスト",
            "I",
            "well",
            "extraordinarily",
            "(quoted)",
            "\"yes\"",
            "—",
            "x",
            "ok",
        ];
        const ENDS: [&str; 8] = ["", "", "", "", ",", ".", "?", ":"];
        let words = 1 + rng.below(30) as usize;
        (0..words)
            .map(|_| {
                let w = if rng.below(40) == 0 {
                    "Pneumonoultramicroscopicsilicovolcanoconiosis-and-then-some"
                } else {
                    WORDS[rng.below(WORDS.len() as u64) as usize]
                };
                format!("{w}{}", ENDS[rng.below(ENDS.len() as u64) as usize])
            })
            .collect::<Vec<_>>()
            .join(if rng.below(5) == 0 { "\n" } else { " " })
    }

    #[test]
    fn constraints_hold_over_generated_segments() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Segments checked without a warning, of all segments.
        let (mut clean, mut total) = (0usize, 0usize);
        for round in 0..200 {
            let rules = CaptionRules {
                max_chars_per_line: [42, 32, 20, 12][rng.below(4) as usize],
                max_lines: 1 + rng.below(3) as usize,
                max_chars_per_second: [17.0, 20.0, 12.0][rng.below(3) as usize],
                min_cue_ms: [800, 1000, 0][rng.below(3) as usize],
                gap_ms: [0, 0, 40, 83][rng.below(4) as usize],
            };
            let mut segments = Vec::new();
            let mut t = rng.below(5000) as u32;
            for _ in 0..1 + rng.below(12) {
                let start = t + rng.below(1500) as u32;
                let end = start + 200 + rng.below(12_000) as u32;
                segments.push(seg(start, end, &random_text(&mut rng)));
                t = end;
            }
            let plan = caption_cues(&segments, &rules);
            let ctx = format!("round {round}: {rules:?}\n{segments:#?}\n{plan:#?}");

            // Cues are in order and never overlap.
            for pair in plan.cues.windows(2) {
                assert!(pair[0].end_ms <= pair[1].start_ms, "{ctx}");
            }
            let mut next_cue = 0;
            for (i, s) in segments.iter().enumerate() {
                let name = format!("segment {} ", i + 1);
                let warned = plan.warnings.iter().any(|w| w.starts_with(&name));
                total += 1;
                clean += usize::from(!warned);
                let mine: Vec<&Cue> = plan.cues[next_cue..]
                    .iter()
                    .take_while(|c| c.end_ms <= s.end_ms && c.start_ms >= s.start_ms)
                    .collect();
                next_cue += mine.len();
                assert!(!mine.is_empty(), "{ctx}");
                // Separated by the gap: always from the next segment, and
                // inside the segment unless its window was too short.
                if let Some(next) = plan.cues.get(next_cue) {
                    assert!(
                        mine[mine.len() - 1].end_ms + rules.gap_ms <= next.start_ms,
                        "{ctx}"
                    );
                }
                if !warned {
                    for pair in mine.windows(2) {
                        assert!(pair[0].end_ms + rules.gap_ms <= pair[1].start_ms, "{ctx}");
                    }
                }
                // The words, in order, with nothing added or lost.
                let shown: String = mine
                    .iter()
                    .flat_map(|c| c.text.split_whitespace())
                    .collect();
                let said: String = s.text.split_whitespace().collect();
                assert_eq!(shown, said, "{ctx}");
                let source: Vec<&str> = s.text.split_whitespace().collect();
                for c in &mine {
                    assert!(c.start_ms < c.end_ms, "{ctx}");
                    let lines: Vec<&str> = c.text.split('\n').collect();
                    assert!(lines.len() <= rules.max_lines, "{ctx}");
                    for l in &lines {
                        assert!(!l.trim().is_empty(), "{ctx}");
                        assert!(l.chars().count() <= rules.max_chars_per_line, "{l:?} {ctx}");
                        // Words are whole unless longer than a line.
                        for w in l.split_whitespace() {
                            assert!(
                                source.contains(&w)
                                    || source.iter().any(|s| {
                                        s.chars().count() > rules.max_chars_per_line
                                            && s.contains(w)
                                    }),
                                "{w:?} {ctx}"
                            );
                        }
                    }
                    // Without a warning every rule holds.
                    if !warned {
                        assert!(c.duration_ms() >= rules.min_cue_ms, "{ctx}");
                        let cps =
                            c.text.chars().count() as f64 * 1000.0 / f64::from(c.duration_ms());
                        assert!(cps <= rules.max_chars_per_second + 1e-6, "{ctx}");
                    }
                }
                // Too much text for the window is always reported.
                let next_start = segments.get(i + 1).map_or(u32::MAX, |n| n.start_ms);
                let window = s.end_ms.min(next_start.saturating_sub(rules.gap_ms)) - s.start_ms;
                let chars: usize = mine.iter().map(|c| c.text.chars().count()).sum();
                if chars as f64 * 1000.0 / f64::from(window) > rules.max_chars_per_second {
                    assert!(warned, "{ctx}");
                }
            }
            assert_eq!(next_cue, plan.cues.len(), "{ctx}");
        }
        // The generator must exercise both sides.
        assert!(
            clean * 4 > total && clean * 4 < total * 3,
            "{clean} of {total}"
        );
    }
}
