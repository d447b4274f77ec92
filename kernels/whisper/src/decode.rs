//! Greedy decoding of one window with Whisper's rules: timestamps in pairs
//! and never going back, the first within 1 s, text suppressed when a
//! timestamp is likelier, special tokens never sampled; the language
//! detected from the first step when not given; a window the model finds
//! speechless (and whose text it is unsure of) yields nothing.

use anyhow::Result;

use crate::{Segment, Transcriber, Transcript, align, mel};

/// How to hear a window.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The spoken language (`en`); `None` detects it (multilingual models)
    /// or means English.
    pub language: Option<String>,
    /// Time every word (DTW over the alignment heads).
    pub word_times: bool,
}

/// At most this many tokens per window (half the decoder's context, as the
/// reference does).
const MAX_TOKENS: usize = 224;
/// The first timestamp is at most 1 s into the window.
const MAX_INITIAL_TIMESTAMP_STEPS: u32 = 50;
/// A window is speechless when the no-speech token is this likely...
const NO_SPEECH_THRESHOLD: f32 = 0.6;
/// ...and the text's mean log-probability is below this.
const LOGPROB_THRESHOLD: f32 = -1.0;

pub(crate) fn transcribe(t: &Transcriber, pcm: &[f32], options: &Options) -> Result<Transcript> {
    let v = &t.vocabulary;
    let started = std::time::Instant::now();
    let mel = mel::log_mel(pcm, t.network.dims().n_mels);
    let features_ms = started.elapsed().as_millis();
    let mut session = t.network.listen(&mel)?;
    let encode_ms = started.elapsed().as_millis() - features_ms;

    // The first step sees only <|startoftranscript|>: its logits say which
    // language is spoken and how likely it is that nothing is.
    let first = session.next_logits(&[v.sot])?;
    let no_speech = softmax_at(&first, v.no_speech);
    let language = match (&options.language, t.is_multilingual()) {
        (Some(l), _) => l.clone(),
        (None, false) => "en".to_owned(),
        (None, true) => detect_language(t, &first),
    };
    let mut logits = if t.is_multilingual() {
        let lang = v
            .language(&language)
            .ok_or_else(|| anyhow::anyhow!("no token for language `{language}`"))?;
        session.next_logits(&[lang, v.transcribe])?
    } else {
        first
    };

    let mut tokens: Vec<u32> = Vec::new();
    let mut logprob_sum = 0.0f32;
    while tokens.len() < MAX_TOKENS {
        apply_rules(t, &tokens, &mut logits);
        let next = argmax(&logits);
        logprob_sum += log_softmax_at(&logits, next);
        if next == v.eot {
            break;
        }
        tokens.push(next);
        logits = session.next_logits(&[next])?;
    }
    let text_count = tokens.iter().filter(|&&x| v.is_text(x)).count();
    let avg_logprob = logprob_sum / (tokens.len() + 1) as f32;
    if text_count == 0 || (no_speech > NO_SPEECH_THRESHOLD && avg_logprob < LOGPROB_THRESHOLD) {
        return Ok(Transcript {
            language,
            segments: Vec::new(),
        });
    }

    let decode_ms = started.elapsed().as_millis() - features_ms - encode_ms;
    let duration = pcm.len() as f32 / mel::SAMPLE_RATE as f32;
    let mut segments = split_segments(t, &tokens, duration);
    if options.word_times {
        align::time_words(t, session.as_mut(), &language, &mut segments, pcm.len())?;
    }
    tracing::debug!(
        features_ms,
        encode_ms,
        decode_ms,
        tokens = tokens.len(),
        align_ms = started.elapsed().as_millis() - features_ms - encode_ms - decode_ms,
        "window heard"
    );
    Ok(Transcript {
        language,
        segments: segments.into_iter().map(|(s, _)| s).collect(),
    })
}

/// The most likely language from the first step's logits.
fn detect_language(t: &Transcriber, first: &[f32]) -> String {
    t.vocabulary
        .languages
        .iter()
        .filter(|(code, _)| t.languages.is_empty() || t.languages.contains(code))
        .max_by(|a, b| first[a.1 as usize].total_cmp(&first[b.1 as usize]))
        .map_or_else(|| "en".to_owned(), |(code, _)| code.clone())
}

/// Masks what may not come next (to -inf), given the tokens so far.
fn apply_rules(t: &Transcriber, tokens: &[u32], logits: &mut [f32]) {
    let v = &t.vocabulary;
    let ts = v.timestamp_begin as usize;
    let block = |logits: &mut [f32], range: std::ops::Range<usize>| {
        for x in &mut logits[range] {
            *x = f32::NEG_INFINITY;
        }
    };
    // Special tokens other than end-of-text are never sampled.
    block(logits, (v.eot as usize + 1)..ts);
    for &id in &t.config.suppress_ids {
        if let Some(x) = logits.get_mut(id as usize) {
            *x = f32::NEG_INFINITY;
        }
    }
    if tokens.is_empty() {
        for &id in &t.config.suppress_ids_begin {
            if let Some(x) = logits.get_mut(id as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        // Start with a timestamp, within the first second.
        block(logits, 0..ts);
        let last_allowed = ts + MAX_INITIAL_TIMESTAMP_STEPS as usize + 1;
        if last_allowed < logits.len() {
            block(logits, last_allowed..logits.len());
        }
        return;
    }
    let last_ts = tokens.last().is_some_and(|&x| v.is_timestamp(x));
    let before_last_ts = tokens.len() < 2 || v.is_timestamp(tokens[tokens.len() - 2]);
    if last_ts {
        if before_last_ts {
            // A pair just closed: text (or the end) comes next.
            block(logits, ts..logits.len());
        } else {
            // A segment just ended: its partner timestamp, or the end.
            block(logits, 0..v.eot as usize);
        }
    }
    // Time never goes back (and a closed segment doesn't end where it began).
    if let Some(&latest) = tokens.iter().rev().find(|&&x| v.is_timestamp(x)) {
        let floor = if last_ts && !before_last_ts {
            latest
        } else {
            latest + 1
        };
        block(logits, ts..(floor as usize).min(logits.len()));
    }
    // When a timestamp is likelier than any text, it must be one.
    let text_max = logits[..ts]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let total = log_sum_exp(logits);
    let ts_mass = log_sum_exp(&logits[ts..]) - total;
    if ts_mass > text_max - total {
        block(logits, 0..ts);
    }
}

/// Segments (with their text tokens) from the sampled tokens: text between a
/// timestamp that opens it and one that closes it; text left open at the end
/// runs to the window's end.
fn split_segments(t: &Transcriber, tokens: &[u32], duration: f32) -> Vec<(Segment, Vec<u32>)> {
    let v = &t.vocabulary;
    let mut segments = Vec::new();
    let mut start: Option<f32> = None;
    let mut text: Vec<u32> = Vec::new();
    let mut close = |start: f32, end: f32, text: &mut Vec<u32>| {
        let said = v.decode(text).trim().to_owned();
        if !said.is_empty() {
            segments.push((
                Segment {
                    start,
                    end: end.max(start),
                    text: said,
                    words: Vec::new(),
                },
                std::mem::take(text),
            ));
        }
        text.clear();
    };
    for &token in tokens {
        if v.is_timestamp(token) {
            let at = v.seconds(token).min(duration);
            match start {
                Some(s) if !text.is_empty() => {
                    close(s, at, &mut text);
                    start = None;
                }
                _ => start = Some(at),
            }
        } else if v.is_text(token) {
            text.push(token);
        }
    }
    if !text.is_empty() {
        close(start.unwrap_or(0.0), duration, &mut text);
    }
    segments
}

fn argmax(x: &[f32]) -> u32 {
    x.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u32)
}

fn log_sum_exp(x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

fn log_softmax_at(x: &[f32], i: u32) -> f32 {
    x[i as usize] - log_sum_exp(x)
}

fn softmax_at(x: &[f32], i: u32) -> f32 {
    log_softmax_at(x, i).exp()
}
