//! Word timing for dynamic (word-by-word) captions.
//!
//! A [`DynamicCue`] is a caption cue whose words each have a time: when the
//! word is said. The times come from the recogniser where it gave them
//! ([`WordTiming::Transcript`]) and are estimated from the words' lengths
//! otherwise ([`WordTiming::Proportional`]):
//!
//! - [`estimate_words`] shares a cue's span among its words by weight
//!   (letters, a floor for short words, a pause after punctuation);
//! - [`assign_words`] gives each caption cue (from
//!   [`caption_cues`](crate::captions::caption_cues)) the transcript's timed
//!   words that fall in it, and falls back to the estimate, with a warning,
//!   for a cue whose text and timed words do not match;
//! - [`caption_cues_with_words`](crate::captions::caption_cues_with_words)
//!   makes the caption cues from the transcript segments and their timed
//!   words together, so that each cue is cut between words and timed by
//!   them (better than [`assign_words`] after
//!   [`caption_cues`](crate::captions::caption_cues), whose cues are timed
//!   by characters and can cut a timed word off from its cue).
//!
//! The cues are drawn by [`DynamicCaption`](crate::text::DynamicCaption)
//! (highlight, pop and karaoke looks) and written as WebVTT with inline
//! word timestamps ([`to_vtt_words`](crate::subtitle::to_vtt_words)) or as
//! ASS karaoke ([`to_ass`](crate::ass::to_ass)).
//!
//! A cue's words are the whitespace-separated words of its text (as
//! [`str::split_whitespace`] splits them), in order: `words[k]` times the
//! `k`-th of them. Times are whole milliseconds in media time.
//!
//! ```
//! use kino_kernels::subtitle::Cue;
//! use kino_kernels::words::{TimedWord, WordTiming, assign_words};
//!
//! let cues = [Cue::new(0, 1000, "Hello there"), Cue::new(1000, 2000, "my friend")];
//! let heard = [
//!     TimedWord::new("Hello", 0, 400),
//!     TimedWord::new("there", 450, 900),
//!     TimedWord::new("my", 1100, 1300),
//! ];
//! let plan = assign_words(&cues, &heard);
//! assert_eq!(plan.cues[0].timing, WordTiming::Transcript);
//! assert_eq!(plan.cues[0].words[1].start_ms, 450);
//! // "friend" was not heard: that cue's words are estimated, and it says so.
//! assert_eq!(plan.cues[1].timing, WordTiming::Proportional);
//! assert_eq!(plan.warnings.len(), 1);
//! ```

use crate::subtitle::Cue;

/// A word and when it is said, in milliseconds from the start of the media.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimedWord {
    /// The word as shown (no whitespace).
    pub text: String,
    /// When it starts.
    pub start_ms: u32,
    /// When it ends; not before `start_ms`.
    pub end_ms: u32,
}

impl TimedWord {
    /// A word said from `start_ms` to `end_ms`.
    pub fn new(text: impl Into<String>, start_ms: u32, end_ms: u32) -> TimedWord {
        TimedWord {
            text: text.into(),
            start_ms,
            end_ms,
        }
    }

    /// How long it is said, in milliseconds (0 if `end_ms` is not after
    /// `start_ms`).
    pub fn duration_ms(&self) -> u32 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Where a cue's word times came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WordTiming {
    /// Given with the words: by the recogniser, or by a file's word
    /// timestamps (WebVTT inline timestamps, ASS karaoke tags).
    Transcript,
    /// Estimated by [`estimate_words`] from the words' lengths.
    #[default]
    Proportional,
}

/// A caption cue with a time for each word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DynamicCue {
    /// When the cue appears, in milliseconds.
    pub start_ms: u32,
    /// When it disappears, in milliseconds.
    pub end_ms: u32,
    /// The text, lines joined with `'\n'` as in [`Cue::text`].
    pub text: String,
    /// The speaker, as in [`Cue::speaker`].
    pub speaker: Option<String>,
    /// One per word of `text`, in order, inside `start_ms..=end_ms`, not
    /// overlapping. A list of another length is ignored where the cue is
    /// drawn or written: [`DynamicCue::word_times`] estimates instead.
    pub words: Vec<TimedWord>,
    /// Where `words`' times came from.
    pub timing: WordTiming,
    /// Which words are emphasised, by index; missing entries are `false`.
    pub emphasis: Vec<bool>,
}

impl DynamicCue {
    /// A cue whose words are timed by [`estimate_words`], none emphasised.
    pub fn proportional(cue: &Cue) -> DynamicCue {
        let words = estimate_words(cue);
        DynamicCue {
            start_ms: cue.start_ms,
            end_ms: cue.end_ms,
            text: cue.text.clone(),
            speaker: cue.speaker.clone(),
            emphasis: vec![false; words.len()],
            words,
            timing: WordTiming::Proportional,
        }
    }

    /// A cue whose words take the times of `timed`, one per word of the
    /// text, fitted inside the cue (see [`DynamicCue::word_times`]); the
    /// texts of `timed` are not compared, only their number. When the
    /// numbers differ the words are estimated instead: check
    /// [`DynamicCue::timing`].
    pub fn with_times(cue: &Cue, timed: &[TimedWord]) -> DynamicCue {
        let texts: Vec<&str> = cue.text.split_whitespace().collect();
        if texts.len() != timed.len() {
            return DynamicCue::proportional(cue);
        }
        let mut words: Vec<TimedWord> = texts
            .iter()
            .zip(timed)
            .map(|(text, w)| TimedWord::new(*text, w.start_ms, w.end_ms))
            .collect();
        fit_words(&mut words, cue.start_ms, cue.end_ms);
        DynamicCue {
            start_ms: cue.start_ms,
            end_ms: cue.end_ms,
            text: cue.text.clone(),
            speaker: cue.speaker.clone(),
            emphasis: vec![false; words.len()],
            words,
            timing: WordTiming::Transcript,
        }
    }

    /// The plain cue: times, text and speaker.
    pub fn cue(&self) -> Cue {
        Cue {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            text: self.text.clone(),
            speaker: self.speaker.clone(),
        }
    }

    /// The words as drawn and written: one per word of the text (with the
    /// text's spelling), their times from [`DynamicCue::words`] when it has
    /// one per word, else from [`estimate_words`]. Either way the times are
    /// fitted into the cue: clamped to `start_ms..=end_ms`, starts in order,
    /// each ending no later than the next starts.
    pub fn word_times(&self) -> Vec<TimedWord> {
        let texts: Vec<&str> = self.text.split_whitespace().collect();
        if texts.len() != self.words.len() {
            return estimate_words(&self.cue());
        }
        let mut words: Vec<TimedWord> = texts
            .iter()
            .zip(&self.words)
            .map(|(text, w)| TimedWord::new(*text, w.start_ms, w.end_ms))
            .collect();
        fit_words(&mut words, self.start_ms, self.end_ms);
        words
    }

    /// Whether word `k` is emphasised.
    pub fn is_emphasized(&self, k: usize) -> bool {
        self.emphasis.get(k).copied().unwrap_or(false)
    }
}

/// Fits word times inside `start..=end` (an `end` before `start` counts as
/// `start`): clamps them, puts the starts in order and ends each word no
/// later than the next one starts and no earlier than it itself starts.
pub(crate) fn fit_words(words: &mut [TimedWord], start: u32, end: u32) {
    let end = end.max(start);
    let mut prev_start = start;
    for w in words.iter_mut() {
        w.start_ms = w.start_ms.clamp(prev_start, end);
        w.end_ms = w.end_ms.clamp(w.start_ms, end);
        prev_start = w.start_ms;
    }
    for k in 1..words.len() {
        let next_start = words[k].start_ms;
        let prev = &mut words[k - 1];
        prev.end_ms = prev.end_ms.min(next_start).max(prev.start_ms);
    }
}

/// The least weight a word gets, in letters: a one-letter word is still
/// said for about as long as a short one.
const MIN_WORD_WEIGHT: f64 = 3.0;
/// Extra weight, in letters, after a word that ends a clause (`,` `;` `:`
/// or a dash): the short pause there.
const CLAUSE_PAUSE_WEIGHT: f64 = 2.0;
/// Extra weight, in letters, after a word that ends a sentence (`.` `!`
/// `?` `…`).
const SENTENCE_PAUSE_WEIGHT: f64 = 4.0;

/// The weight of a word for [`estimate_words`].
fn word_weight(word: &str) -> f64 {
    let letters = word.chars().filter(|c| c.is_alphanumeric()).count() as f64;
    let core = word.trim_end_matches(['"', '\'', '”', '’', '»', ')', ']', '}']);
    let pause = match core.chars().last() {
        Some('.' | '!' | '?' | '…' | '。' | '！' | '？') => SENTENCE_PAUSE_WEIGHT,
        Some(',' | ';' | ':' | '-' | '–' | '—' | '、' | '，') => CLAUSE_PAUSE_WEIGHT,
        _ => 0.0,
    };
    letters.max(MIN_WORD_WEIGHT) + pause
}

/// Estimates when each word of a cue is said, from the words' lengths.
///
/// The text is split at whitespace. Each word weighs its letters and digits
/// (at least 3, so "a" and "—" still get a moment), plus 2 after a word
/// ending a clause (`,` `;` `:` or a dash) and 4 after one ending a sentence
/// (`.` `!` `?` `…`), looking through closing quotes and brackets: the pause
/// after it. The cue's span is shared in proportion to the weights, in
/// whole milliseconds:
///
/// - the words tile the cue: the first starts at `start_ms`, each starts
///   where the one before ends, the last ends at `end_ms`;
/// - every word lasts at least 1 ms when the cue lasts at least as many
///   milliseconds as it has words. A shorter cue gives some words no
///   duration (each then starts and ends where the one before ends); a cue
///   with no duration (`end_ms` not after `start_ms`) gives every word
///   `start_ms..start_ms`.
///
/// Text with no words gives no words.
pub fn estimate_words(cue: &Cue) -> Vec<TimedWord> {
    let texts: Vec<&str> = cue.text.split_whitespace().collect();
    if texts.is_empty() {
        return Vec::new();
    }
    let n = texts.len() as u64;
    let span = u64::from(cue.duration_ms());
    let weights: Vec<f64> = texts.iter().map(|w| word_weight(w)).collect();
    let total: f64 = weights.iter().sum();
    // bounds[k]: where word k ends, relative to the cue's start.
    let mut bounds: Vec<u64> = Vec::with_capacity(texts.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w;
        let b = (span as f64 * acc / total).round() as u64;
        bounds.push(b.min(span));
    }
    if let Some(last) = bounds.last_mut() {
        *last = span;
    }
    if span >= n {
        // At least 1 ms each: push ends up where a word would be empty,
        // then pull them back where that ran past the words still to come.
        let mut prev = 0;
        for b in bounds.iter_mut() {
            *b = (*b).max(prev + 1);
            prev = *b;
        }
        let mut next = span + 1;
        for b in bounds.iter_mut().rev() {
            *b = (*b).min(next - 1);
            next = *b;
        }
    } else {
        // Rounding a running sum keeps the ends in order.
        let mut prev = 0;
        for b in bounds.iter_mut() {
            *b = (*b).max(prev);
            prev = *b;
        }
    }
    let base = u64::from(cue.start_ms);
    let at = |offset: u64| u32::try_from(base + offset).unwrap_or(u32::MAX);
    let mut start = 0;
    texts
        .iter()
        .zip(bounds)
        .map(|(text, end)| {
            let word = TimedWord::new(*text, at(start), at(end));
            start = end;
            word
        })
        .collect()
}

/// What [`assign_words`] or
/// [`caption_cues_with_words`](crate::captions::caption_cues_with_words)
/// made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WordPlan {
    /// From [`assign_words`]: one per cue given, in the same order. From
    /// `caption_cues_with_words`: the caption cues, in time order.
    pub cues: Vec<DynamicCue>,
    /// From [`assign_words`]: one line per cue whose words had to be
    /// estimated although timed words were given, naming the cue (1-based,
    /// with its times), and one for timed words that fell in no cue. From
    /// `caption_cues_with_words`: its warnings, naming the segment.
    pub warnings: Vec<String>,
}

/// Gives each cue its words' times from the transcript's timed words.
///
/// `words` is a flat list in media time, in the order spoken (the words of
/// every transcript segment, one after another). A word belongs to the cue
/// its midpoint falls in (`start_ms <= mid < end_ms`; among overlapping
/// cues the earliest-starting one); a word whose midpoint falls in no cue,
/// such as one spanning the gap between two cues, belongs to the cue it
/// overlaps most, and to none if it overlaps none. A cue takes its words'
/// times when it got exactly as many as its text has words
/// ([`WordTiming::Transcript`]; only the count is compared, the displayed
/// words keep the cue's spelling) and they are fitted into it as
/// [`DynamicCue::word_times`] says. Otherwise its words are estimated
/// ([`WordTiming::Proportional`], [`estimate_words`]) and a warning names
/// the cue, unless `words` is empty (nothing was timed, so nothing was
/// missed). A word longer than a caption line, which
/// [`caption_cues`](crate::captions::caption_cues) breaks into pieces, makes
/// its cue's count differ, so that cue is estimated.
///
/// Cues keep their order; none is dropped, emphasis is off everywhere.
pub fn assign_words(cues: &[Cue], words: &[TimedWord]) -> WordPlan {
    let mut plan = WordPlan::default();
    let (mine, lost) = words_by_cue(cues, words);
    for (i, cue) in cues.iter().enumerate() {
        let timed: Vec<TimedWord> = mine[i].iter().map(|w| (*w).clone()).collect();
        let dynamic = DynamicCue::with_times(cue, &timed);
        if dynamic.timing == WordTiming::Proportional && !words.is_empty() {
            plan.warnings.push(format!(
                "cue {} ({}–{}): {} words in the text but {} timed words; \
                 word times estimated from their lengths",
                i + 1,
                clock(cue.start_ms),
                clock(cue.end_ms),
                cue.text.split_whitespace().count(),
                timed.len()
            ));
        }
        plan.cues.push(dynamic);
    }
    if lost > 0 {
        plan.warnings.push(format!(
            "{lost} timed word{} fell in no cue and {} not shown",
            if lost == 1 { "" } else { "s" },
            if lost == 1 { "is" } else { "are" }
        ));
    }
    plan
}

/// The words of `words` that belong to each cue (as [`assign_words`] says:
/// by midpoint, else by most overlap), in the order given, and how many
/// belong to none.
pub(crate) fn words_by_cue<'a>(
    cues: &[Cue],
    words: &'a [TimedWord],
) -> (Vec<Vec<&'a TimedWord>>, usize) {
    // Cues sorted by start, with the latest end up to each one, so finding
    // the cues around a time is a binary search plus a short walk back.
    let mut order: Vec<usize> = (0..cues.len()).collect();
    order.sort_by_key(|&i| (cues[i].start_ms, cues[i].end_ms, i));
    let mut reach = Vec::with_capacity(order.len());
    let mut latest = 0u32;
    for &i in &order {
        latest = latest.max(cues[i].end_ms);
        reach.push(latest);
    }

    let mut mine: Vec<Vec<&TimedWord>> = vec![Vec::new(); cues.len()];
    let mut lost = 0usize;
    for word in words {
        // Twice the midpoint, to stay in integers.
        let mid2 = u64::from(word.start_ms) + u64::from(word.end_ms.max(word.start_ms));
        let after = order.partition_point(|&i| 2 * u64::from(cues[i].start_ms) <= mid2);
        // The earliest-starting cue holding the midpoint.
        let mut holder = None;
        let mut j = after;
        while j > 0 && 2 * u64::from(reach[j - 1]) > mid2 {
            j -= 1;
            if 2 * u64::from(cues[order[j]].end_ms) > mid2 {
                holder = Some(order[j]);
            }
        }
        let chosen = holder.or_else(|| {
            // In a gap: the neighbour on either side it overlaps most.
            let overlap = |i: usize| {
                let c = &cues[i];
                word.end_ms
                    .min(c.end_ms)
                    .saturating_sub(word.start_ms.max(c.start_ms))
            };
            let before = after.checked_sub(1).map(|j| order[j]);
            let next = order.get(after).copied();
            [before, next]
                .into_iter()
                .flatten()
                .map(|i| (overlap(i), i))
                .filter(|&(o, _)| o > 0)
                .max_by_key(|&(o, i)| (o, std::cmp::Reverse(i)))
                .map(|(_, i)| i)
        });
        match chosen {
            Some(i) => mine[i].push(word),
            None => lost += 1,
        }
    }
    (mine, lost)
}

/// The words of one line of text as `(whitespace before, word)` pairs, the
/// whitespace kept as written; the words are [`str::split_whitespace`]'s.
pub(crate) fn split_words(line: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut gap_start = 0;
    let mut word_start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(start) = word_start.take() {
                out.push((&line[gap_start..start], &line[start..i]));
                gap_start = i;
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(start) = word_start {
        out.push((&line[gap_start..start], &line[start..]));
    }
    out
}

/// `H:MM:SS.mmm`, as the caption warnings write times.
fn clock(ms: u32) -> String {
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spans(words: &[TimedWord]) -> Vec<(u32, u32)> {
        words.iter().map(|w| (w.start_ms, w.end_ms)).collect()
    }

    #[test]
    fn weights_follow_letters_with_a_floor_and_pauses() {
        assert_eq!(word_weight("hello"), 5.0);
        assert_eq!(word_weight("a"), 3.0);
        // A lone dash is a pause: the floor plus a clause's.
        assert_eq!(word_weight("—"), 5.0);
        assert_eq!(word_weight("hello,"), 7.0);
        assert_eq!(word_weight("end.\""), 7.0);
        assert_eq!(word_weight("日本語"), 3.0);
        assert_eq!(word_weight("twelve"), 6.0);
    }

    #[test]
    fn short_cues_give_empty_words_in_order() {
        let words = estimate_words(&Cue::new(100, 102, "one two three four"));
        assert_eq!(words.len(), 4);
        assert_eq!(words[0].start_ms, 100);
        assert_eq!(words[3].end_ms, 102);
        for pair in words.windows(2) {
            assert_eq!(pair[0].end_ms, pair[1].start_ms);
        }
        let words = estimate_words(&Cue::new(500, 500, "a b"));
        assert_eq!(spans(&words), [(500, 500), (500, 500)]);
        // Inverted: no duration.
        let words = estimate_words(&Cue::new(500, 400, "a b"));
        assert_eq!(spans(&words), [(500, 500), (500, 500)]);
    }

    #[test]
    fn exactly_one_ms_per_word() {
        let words = estimate_words(&Cue::new(0, 3, "a looooooooong b"));
        assert_eq!(spans(&words), [(0, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn fitting_clamps_orders_and_trims_overlaps() {
        let mut words = vec![
            TimedWord::new("a", 50, 400),
            TimedWord::new("b", 300, 350),
            TimedWord::new("c", 200, 5000),
        ];
        fit_words(&mut words, 100, 1000);
        assert_eq!(spans(&words), [(100, 300), (300, 300), (300, 1000)]);
    }

    #[test]
    fn times_near_u32_max_do_not_overflow() {
        let words = estimate_words(&Cue::new(u32::MAX - 10, u32::MAX, "a b c"));
        assert_eq!(words.last().unwrap().end_ms, u32::MAX);
        let plan = assign_words(
            &[Cue::new(u32::MAX - 10, u32::MAX, "a")],
            &[TimedWord::new("a", u32::MAX - 5, u32::MAX)],
        );
        assert_eq!(plan.cues[0].timing, WordTiming::Transcript);
    }
}
