//! Word times: the decoder is run once more over the window's text (without
//! timestamps), and the cross-attention of the alignment heads — the heads
//! whose attention follows the audio — gives, for each token, where in the
//! audio the model was listening when it predicted it. Those weights are
//! normalised per head, median-filtered over time, averaged, and a dynamic
//! time warping path through them assigns each token a start frame (20 ms).
//! Words are runs of tokens starting with a space; their times are clamped
//! into their segment.

use anyhow::Result;

use crate::network::{Attention, Listening};
use crate::{Segment, Transcriber, Word};

/// Encoder frames per second (each is 20 ms).
const FRAMES_PER_SECOND: f32 = 50.0;
/// Median filter width over frames.
const MEDIAN_WIDTH: usize = 7;

pub(crate) fn time_words(
    t: &Transcriber,
    session: &mut dyn Listening,
    language: &str,
    segments: &mut [(Segment, Vec<u32>)],
    samples: usize,
) -> Result<()> {
    let v = &t.vocabulary;
    if t.config.alignment_heads.is_empty() {
        return Ok(());
    }
    // Text tokens with the segment each belongs to.
    let (text, owner): (Vec<u32>, Vec<usize>) = segments
        .iter()
        .enumerate()
        .flat_map(|(i, (_, tokens))| tokens.iter().map(move |&tok| (tok, i)))
        .unzip();
    if text.is_empty() {
        return Ok(());
    }

    let mut prompt = vec![v.sot];
    if t.is_multilingual()
        && let Some(lang) = v.language(language)
    {
        prompt.extend([lang, v.transcribe]);
    }
    prompt.push(v.no_timestamps);
    let mut all = prompt.clone();
    all.extend(&text);
    all.push(v.eot);
    let heads = session.cross_attention(&all, &t.config.alignment_heads)?;

    // Rows: the positions predicting each text token and the end (a
    // position predicts the token after it). Columns: the frames of audio.
    let frames = (samples as f32 / 16_000.0 * FRAMES_PER_SECOND).ceil() as usize;
    let frames = frames.clamp(1, 1500);
    let first_row = prompt.len() - 1;
    let rows = text.len() + 1;
    let mut matrix = vec![0f32; rows * frames];
    for head in &heads {
        let w = normalised(head, first_row, rows, frames)?;
        for (m, x) in matrix.iter_mut().zip(w) {
            *m += x / heads.len() as f32;
        }
    }
    let path = dtw(&matrix, rows, frames);
    // The frame where the path first enters each row.
    let mut entered = vec![None; rows];
    for &(row, col) in &path {
        entered[row].get_or_insert(col);
    }
    let at = |row: usize| entered[row].unwrap_or(0) as f32 / FRAMES_PER_SECOND;

    // Words: a token starting with a space starts a word; punctuation-only
    // tokens join the word before.
    let mut starts = Vec::new();
    for (i, &token) in text.iter().enumerate() {
        let bytes = v.bytes(&[token]);
        let punctuation = !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_punctuation());
        let new_word =
            i == 0 || owner[i] != owner[i - 1] || (bytes.first() == Some(&b' ') && !punctuation);
        if new_word {
            starts.push(i);
        }
    }
    for (seg, _) in segments.iter_mut() {
        seg.words.clear();
    }
    for (k, &begin) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(text.len());
        let word = v.decode(&text[begin..end]).trim().to_owned();
        if word.is_empty() {
            continue;
        }
        let seg = &mut segments[owner[begin]].0;
        let start = at(begin).clamp(seg.start, seg.end);
        let finish = at(end).clamp(start, seg.end);
        seg.words.push(Word {
            start,
            end: finish,
            text: word,
        });
    }
    tighten(segments.iter_mut().map(|(s, _)| s));
    Ok(())
}

/// The alignment puts the silence around a segment into its first and last
/// words (the path must start at the segment's start): as the reference
/// does, a first word longer than twice the median word is cut to that from
/// its end, a last word from its start; then each segment runs from its
/// first word's start to its last word's end.
fn tighten<'a>(segments: impl Iterator<Item = &'a mut Segment>) {
    let segments: Vec<&mut Segment> = segments.collect();
    let mut durations: Vec<f32> = segments
        .iter()
        .flat_map(|s| s.words.iter().map(|w| w.end - w.start))
        .filter(|d| *d > 0.0)
        .collect();
    if durations.is_empty() {
        return;
    }
    durations.sort_by(f32::total_cmp);
    let median = durations[durations.len() / 2].min(0.7);
    let longest = 2.0 * median;
    for seg in segments {
        if let Some(first) = seg.words.first_mut()
            && first.end - first.start > longest
        {
            first.start = first.end - longest;
        }
        if seg.words.len() > 1
            && let Some(last) = seg.words.last_mut()
            && last.end - last.start > longest
        {
            last.end = last.start + longest;
        }
        if let (Some(first), Some(last)) = (seg.words.first(), seg.words.last()) {
            seg.start = first.start;
            seg.end = last.end.max(first.start);
        }
    }
}

/// One head's weights for `rows` from `first_row`, over `frames`: each
/// frame's column standardised across the rows, then median-filtered along time.
fn normalised(head: &Attention, first_row: usize, rows: usize, frames: usize) -> Result<Vec<f32>> {
    anyhow::ensure!(
        head.frames >= frames && head.tokens >= first_row + rows,
        "cross-attention of {} tokens over {} frames, wanted rows {first_row}.. of {rows} over {frames}",
        head.tokens,
        head.frames
    );
    let all: Vec<&[f32]> = (0..head.tokens).map(|r| &head.row(r)[..frames]).collect();
    let mut w: Vec<f32> = all[first_row..first_row + rows]
        .iter()
        .flat_map(|r| r.iter().copied())
        .collect();
    // Standardise over all rows per column, as over the whole sequence.
    let n = all.len() as f32;
    for col in 0..frames {
        let mean = all.iter().map(|r| r[col]).sum::<f32>() / n;
        let var = all.iter().map(|r| (r[col] - mean).powi(2)).sum::<f32>() / n;
        let std = var.sqrt().max(1e-8);
        for row in 0..rows {
            let x = &mut w[row * frames + col];
            *x = (*x - mean) / std;
        }
    }
    let mut out = vec![0f32; rows * frames];
    let half = MEDIAN_WIDTH / 2;
    let mut window = Vec::with_capacity(MEDIAN_WIDTH);
    for row in 0..rows {
        let r = &w[row * frames..(row + 1) * frames];
        for col in 0..frames {
            window.clear();
            for k in 0..MEDIAN_WIDTH {
                // Reflect at the edges.
                let i = col as isize + k as isize - half as isize;
                let i = if i < 0 {
                    -i
                } else if i >= frames as isize {
                    2 * (frames as isize - 1) - i
                } else {
                    i
                };
                window.push(r[i.clamp(0, frames as isize - 1) as usize]);
            }
            window.sort_by(f32::total_cmp);
            out[row * frames + col] = window[half];
        }
    }
    Ok(out)
}

/// The monotonic path from (0, 0) to (rows-1, cols-1) maximising the summed
/// attention (minimising its negation), as (row, col) pairs in order.
fn dtw(matrix: &[f32], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    let inf = f32::INFINITY;
    let w = cols + 1;
    let mut cost = vec![inf; (rows + 1) * w];
    let mut step = vec![0u8; (rows + 1) * w];
    cost[0] = 0.0;
    for i in 1..=rows {
        for j in 1..=cols {
            let diag = cost[(i - 1) * w + j - 1];
            let up = cost[(i - 1) * w + j];
            let left = cost[i * w + j - 1];
            let (best, s) = if diag <= up && diag <= left {
                (diag, 0)
            } else if up <= left {
                (up, 1)
            } else {
                (left, 2)
            };
            cost[i * w + j] = best - matrix[(i - 1) * cols + j - 1];
            step[i * w + j] = s;
        }
    }
    let (mut i, mut j) = (rows, cols);
    let mut path = Vec::with_capacity(rows + cols);
    while i > 0 && j > 0 {
        path.push((i - 1, j - 1));
        match step[i * w + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtw_follows_the_bright_diagonal() {
        // Three rows lit at columns 0-1, 2-5 and 6-7.
        let (rows, cols) = (3, 8);
        let mut m = vec![0f32; rows * cols];
        for (row, range) in [(0, 0..2), (1, 2..6), (2, 6..8)] {
            for c in range {
                m[row * cols + c] = 1.0;
            }
        }
        let path = dtw(&m, rows, cols);
        let first = |r: usize| path.iter().find(|(row, _)| *row == r).map(|(_, c)| *c);
        assert_eq!(first(0), Some(0));
        assert_eq!(first(1), Some(2));
        assert_eq!(first(2), Some(6));
        assert_eq!(path.last(), Some(&(2, 7)));
    }
}
