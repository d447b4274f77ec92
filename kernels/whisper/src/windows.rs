//! Long audio cut into windows the model takes (at most 30 s), at silences:
//! speech regions (from a voice-activity detector) are grouped into windows
//! in order, a window closing before the region that would make it too long
//! or after a long silence, each padded into the silence around it. A
//! single region longer than a window is cut hard (the one place a word may
//! be split).
//!
//! Why long silences close a window: decoding one window in one pass (no
//! seeking inside it), Whisper tends to end its transcript at a long pause
//! and miss speech after it; a window per stretch of talk costs one more
//! encoder pass, and windows run in parallel.

use serde::{Deserialize, Serialize};

/// A window of audio, in samples at 16 kHz.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First sample.
    pub start: usize,
    /// One past the last sample.
    pub end: usize,
    /// The speech regions inside it (samples, from the audio's start), to
    /// tighten the segments' edges to ([`crate::Transcript::snap_to_speech`]).
    #[serde(default)]
    pub speech: Vec<(usize, usize)>,
}

/// Padding kept around speech, so no word's edge is clipped (200 ms).
pub const PAD: usize = 3_200;

/// A silence this long (8 s) between regions closes the window.
pub const MAX_GAP: usize = 8 * 16_000;

/// Groups `regions` (sorted, non-overlapping speech, in samples) of audio
/// `total` samples long into windows of at most `max` samples.
pub fn plan(regions: &[(usize, usize)], total: usize, max: usize) -> Vec<Window> {
    let max = max.max(2 * PAD + 1);
    // Split regions longer than a window first.
    let mut pieces = Vec::new();
    for &(start, end) in regions {
        let (start, end) = (start.min(total), end.min(total));
        let mut at = start;
        while end.saturating_sub(at) > max - 2 * PAD {
            pieces.push((at, at + max - 2 * PAD));
            at += max - 2 * PAD;
        }
        if end > at {
            pieces.push((at, end));
        }
    }
    let mut windows: Vec<Window> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let window = |start: usize, end: usize| Window {
        start,
        end,
        speech: pieces
            .iter()
            .filter(|(s, e)| *s < end && *e > start)
            .map(|&(s, e)| (s.max(start), e.min(end)))
            .collect(),
    };
    for (i, &(start, end)) in pieces.iter().enumerate() {
        // Pad into the silence, but not past half of the gap to a neighbour.
        let lo = match i {
            0 => start.saturating_sub(PAD),
            _ => start.saturating_sub(PAD).max((pieces[i - 1].1 + start) / 2),
        };
        let hi = match pieces.get(i + 1) {
            Some(&(next, _)) => (end + PAD).min((end + next) / 2),
            None => (end + PAD).min(total),
        };
        let gap = i > 0 && start - pieces[i - 1].1 > MAX_GAP;
        current = match current {
            Some((s, _)) if hi - s <= max && !gap => Some((s, hi)),
            Some((s, e)) => {
                windows.push(window(s, e));
                Some((lo, hi))
            }
            None => Some((lo, hi)),
        };
    }
    if let Some((s, e)) = current {
        windows.push(window(s, e));
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = 16_000;

    #[test]
    fn regions_group_into_windows_cut_at_silences() {
        // Speech at 1-9 s, 12-25 s, 27-40 s, 42-50 s of a 60 s file.
        let regions = [
            (S, 9 * S),
            (12 * S, 25 * S),
            (27 * S, 40 * S),
            (42 * S, 50 * S),
        ];
        let w = plan(&regions, 60 * S, 30 * S);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].start < S && w[0].end > 25 * S && w[0].end < 27 * S,
            "{w:?}"
        );
        assert!(
            w[1].start > 25 * S && w[1].start < 27 * S && w[1].end > 50 * S,
            "{w:?}"
        );
        for win in &w {
            assert!(win.end - win.start <= 30 * S);
        }
        assert_eq!(w[0].speech, vec![(S, 9 * S), (12 * S, 25 * S)]);
    }

    #[test]
    fn a_long_silence_closes_a_window() {
        let w = plan(&[(S, 4 * S), (27 * S, 29 * S)], 30 * S, 30 * S);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[1].speech, vec![(27 * S, 29 * S)]);
    }

    #[test]
    fn a_long_region_is_cut_and_nothing_is_lost() {
        let w = plan(&[(0, 70 * S)], 70 * S, 30 * S);
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(w[0].start, 0);
        assert_eq!(w.last().map(|x| x.end), Some(70 * S));
        for pair in w.windows(2) {
            assert!(pair[1].start <= pair[0].end, "gap between {pair:?}");
        }
    }

    #[test]
    fn no_speech_no_windows() {
        assert!(plan(&[], 10 * S, 30 * S).is_empty());
    }
}
