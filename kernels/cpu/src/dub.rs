//! Voice-over assembly: fitting synthesised speech into the windows of the
//! speech it replaces, placing it on a track, and mixing it over the
//! original audio.
//!
//! The dub pipeline calls, in order:
//!
//! 1. [`fit_to_window`] for each line (or lets [`voice_track`] do it):
//!    the line is downmixed to mono, resampled to the track rate, its lead
//!    and trail silence trimmed ([`trim_silence`]), and then:
//!    - **speech longer than its window** is sped up with the WSOLA
//!      time-stretch ([`crate::stretch`], pitch kept) to exactly the window,
//!      but never by more than [`MAX_SPEEDUP`] (2x). Beyond that speech stops
//!      being intelligible, so the line is refused with
//!      [`DubError::TooLong`], which says by how much it overran: the caller
//!      should synthesise it at a faster speaking rate or with shorter text
//!      rather than crush it.
//!    - **speech shorter than its window** is slowed down by at most
//!      [`MAX_SLOWDOWN`] (1.25x, where WSOLA artefacts are still inaudible
//!      on speech) to cover more of the window, and the rest of the window is
//!      silence after it. The line is left-aligned: it starts when the
//!      original speaker starts, as a voice-over does, rather than centred
//!      in a pause.
//!
//!    The result is exactly the window's length (`round(window_ms * rate /
//!    1000)` frames), so the voice never sounds outside its window.
//! 2. [`voice_track`] places the fitted lines on one mono track at their
//!    start times (lines are fitted in parallel).
//! 3. [`voice_over`] ducks the original under the voice track (the original
//!    stays audible, reduced, under the speech and unchanged away from it),
//!    sums the two without clipping and normalises the result to a loudness
//!    target with the true peak at most -1 dBTP, in the original's sample
//!    rate and channel count.

use rayon::prelude::*;
use thiserror::Error;

use crate::mix::{
    self, DEFAULT_MAX_TRUE_PEAK_DBTP, Ducker, MixError, integrated_loudness, normalize_loudness,
};
use crate::stretch::{StretchError, stretch_to_len};
use crate::wav::{Pcm, WavError};

/// The most a line is sped up to fit its window (output duration / input
/// duration no smaller than `1 / MAX_SPEEDUP`).
pub const MAX_SPEEDUP: f64 = 2.0;
/// The most a line is slowed down towards the length of its window.
pub const MAX_SLOWDOWN: f64 = 1.25;
/// Level, in dBFS RMS over 5 ms blocks, below which [`fit_to_window`]
/// treats the ends of a line as silence.
pub const TRIM_THRESHOLD_DB: f32 = -50.0;
/// Length of the blocks [`trim_silence`] measures, in milliseconds.
const TRIM_BLOCK_MS: u32 = 5;
/// Kept either side of the sound [`trim_silence`] finds, in milliseconds, so
/// soft onsets and decays below the threshold are not cut.
const TRIM_MARGIN_MS: u32 = 5;
/// Loudness the ducker's key (the voice) is brought to before it drives the
/// ducker, so that the ducker's absolute threshold means the same whatever
/// level the voice was synthesised at.
const KEY_LUFS: f64 = -20.0;

/// One line of synthesised speech and the window it must sound in.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceLine {
    /// Start of the window, in milliseconds from the start of the media.
    pub start_ms: u32,
    /// End of the window, in milliseconds; after `start_ms`.
    pub end_ms: u32,
    /// The speech (any rate and channel count; it is downmixed to mono).
    pub pcm: Pcm,
}

/// Why a voice-over could not be assembled.
#[derive(Debug, Error)]
pub enum DubError {
    /// The window is empty.
    #[error("the window is empty: a line needs a window of at least 1 ms")]
    EmptyWindow,
    /// The speech would have to be sped up more than [`MAX_SPEEDUP`].
    #[error(
        "speech of {speech_ms} ms does not fit its {window_ms} ms window: it would have to be \
         sped up {factor:.2}x, more than the {MAX_SPEEDUP}x limit; synthesise it at a faster \
         rate or shorten the text"
    )]
    TooLong {
        /// Duration of the speech after trimming its silence, in milliseconds.
        speech_ms: u64,
        /// The window, in milliseconds.
        window_ms: u32,
        /// The speed-up it would need.
        factor: f64,
    },
    /// A sample rate of 0 was asked for.
    #[error("invalid sample rate 0 hz")]
    InvalidSampleRate,
    /// A [`Pcm`] is inconsistent (zero rate or channels, partial frame).
    #[error("invalid pcm: {0}")]
    InvalidPcm(String),
    /// One line of [`voice_track`] failed.
    #[error("voice line {index} ({start_ms}–{end_ms} ms)")]
    Line {
        /// 0-based index of the line.
        index: usize,
        /// Start of its window in milliseconds.
        start_ms: u32,
        /// End of its window in milliseconds.
        end_ms: u32,
        /// What went wrong.
        #[source]
        source: Box<DubError>,
    },
    /// The time-stretch refused (not expected for valid input).
    #[error("time-stretch failed")]
    Stretch(#[from] StretchError),
    /// Loudness measurement or normalisation failed (e.g. the mix is silent).
    #[error("mixing failed")]
    Mix(#[from] MixError),
}

fn check(pcm: &Pcm) -> Result<(), DubError> {
    pcm.validate().map_err(|e| match e {
        WavError::InvalidPcm(reason) => DubError::InvalidPcm(reason),
        other => DubError::InvalidPcm(other.to_string()),
    })
}

/// Frames in `ms` milliseconds at `rate` (rounded).
fn frames_for(ms: u32, rate: u32) -> usize {
    ((u64::from(ms) * u64::from(rate) + 500) / 1000) as usize
}

/// Removes leading and trailing silence: the result runs from 5 ms before
/// the first 5 ms block whose RMS (over all channels) reaches
/// `threshold_db` dBFS to 5 ms after the last one. Audio with no such
/// block gives zero frames. Rate and channel count are kept.
pub fn trim_silence(pcm: &Pcm, threshold_db: f32) -> Pcm {
    let ch = usize::from(pcm.channels.max(1));
    let frames = pcm.samples.len() / ch;
    let block = frames_for(TRIM_BLOCK_MS, pcm.sample_rate).max(1);
    let margin = frames_for(TRIM_MARGIN_MS, pcm.sample_rate);
    // Compare mean power with the threshold's, avoiding a log per block.
    let threshold_power = 10f64.powf(f64::from(threshold_db) / 10.0);
    let loud = |b: usize| {
        let lo = b * block;
        let hi = ((b + 1) * block).min(frames);
        let power: f64 = pcm.samples[lo * ch..hi * ch]
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / ((hi - lo) * ch) as f64;
        power >= threshold_power
    };
    let blocks = frames.div_ceil(block);
    let (first, last) = match (0..blocks).find(|&b| loud(b)) {
        Some(first) => (
            first,
            (first..blocks).rev().find(|&b| loud(b)).unwrap_or(first),
        ),
        None => {
            return Pcm {
                sample_rate: pcm.sample_rate,
                channels: pcm.channels,
                samples: Vec::new(),
            };
        }
    };
    let start = (first * block).saturating_sub(margin);
    let end = ((last + 1) * block + margin).min(frames);
    Pcm {
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        samples: pcm.samples[start * ch..end * ch].to_vec(),
    }
}

/// Fits one line of speech into a window of `window_ms` milliseconds: mono,
/// at `sample_rate`, exactly `round(window_ms * sample_rate / 1000)` frames.
///
/// See the [module documentation](self) for the policy: silence trimmed at
/// [`TRIM_THRESHOLD_DB`], sped up at most [`MAX_SPEEDUP`], slowed down at
/// most [`MAX_SLOWDOWN`] and then left-aligned with silence after it.
/// Speech with nothing above the trim threshold gives a silent window.
///
/// # Errors
///
/// [`DubError::TooLong`] when the speech needs more than [`MAX_SPEEDUP`],
/// [`DubError::EmptyWindow`] when `window_ms` is 0 (or shorter than one
/// frame), [`DubError::InvalidSampleRate`] and [`DubError::InvalidPcm`] for
/// bad formats.
pub fn fit_to_window(pcm: &Pcm, window_ms: u32, sample_rate: u32) -> Result<Pcm, DubError> {
    if sample_rate == 0 {
        return Err(DubError::InvalidSampleRate);
    }
    check(pcm)?;
    let target = frames_for(window_ms, sample_rate);
    if target == 0 {
        return Err(DubError::EmptyWindow);
    }
    let mono = pcm.to_mono().resample_linear(sample_rate);
    let speech = trim_silence(&mono, TRIM_THRESHOLD_DB).samples;
    let len = speech.len();
    let mut samples = if len == 0 {
        Vec::new()
    } else if len > target {
        let factor = len as f64 / target as f64;
        if factor > MAX_SPEEDUP + 1e-9 {
            return Err(DubError::TooLong {
                speech_ms: (len as u64 * 1000).div_ceil(u64::from(sample_rate)),
                window_ms,
                factor,
            });
        }
        stretch_to_len(&speech, sample_rate, target)?
    } else {
        let slowed = ((len as f64 * MAX_SLOWDOWN).round() as usize).min(target);
        if slowed > len {
            stretch_to_len(&speech, sample_rate, slowed)?
        } else {
            speech
        }
    };
    samples.resize(target, 0.0);
    Ok(Pcm {
        sample_rate,
        channels: 1,
        samples,
    })
}

/// Places voice lines on one mono track of `total_frames` frames at
/// `sample_rate`: each line is fitted into its window with
/// [`fit_to_window`] (in parallel) and starts at `round(start_ms *
/// sample_rate / 1000)`.
///
/// A line that is already fitted — mono, at `sample_rate`, exactly its
/// window's length — is placed as it is, so lines fitted by an earlier stage
/// are not trimmed and stretched a second time. Overlapping lines are added
/// together; anything past `total_frames` is cut off.
///
/// # Errors
///
/// [`DubError::Line`] naming the first line that cannot be fitted (its
/// window is empty, or its speech is too long: see [`fit_to_window`]);
/// [`DubError::InvalidSampleRate`] when `sample_rate` is 0.
pub fn voice_track(
    lines: &[VoiceLine],
    total_frames: usize,
    sample_rate: u32,
) -> Result<Pcm, DubError> {
    if sample_rate == 0 {
        return Err(DubError::InvalidSampleRate);
    }
    let fitted: Vec<Vec<f32>> = lines
        .par_iter()
        .enumerate()
        .map(|(index, line)| {
            let wrap = |source: DubError| DubError::Line {
                index,
                start_ms: line.start_ms,
                end_ms: line.end_ms,
                source: Box::new(source),
            };
            if line.end_ms <= line.start_ms {
                return Err(wrap(DubError::EmptyWindow));
            }
            let window_ms = line.end_ms - line.start_ms;
            let p = &line.pcm;
            if p.channels == 1
                && p.sample_rate == sample_rate
                && p.samples.len() == frames_for(window_ms, sample_rate)
            {
                return Ok(p.samples.clone());
            }
            fit_to_window(p, window_ms, sample_rate)
                .map(|p| p.samples)
                .map_err(wrap)
        })
        .collect::<Result<_, _>>()?;
    let mut samples = vec![0.0f32; total_frames];
    for (line, voice) in lines.iter().zip(&fitted) {
        let start = frames_for(line.start_ms, sample_rate);
        if start >= total_frames {
            continue;
        }
        for (out, v) in samples[start..].iter_mut().zip(voice) {
            *out += v;
        }
    }
    Ok(Pcm {
        sample_rate,
        channels: 1,
        samples,
    })
}

/// Mixes a voice track over the original audio as a voice-over and
/// normalises the result to `target_lufs` with the true peak at most
/// [`DEFAULT_MAX_TRUE_PEAK_DBTP`] (-1 dBTP).
///
/// The output has the original's sample rate, channel count and length.
/// Steps:
///
/// 1. The voice is downmixed to mono, resampled to the original's rate
///    (linear interpolation), cut or padded to its length and copied to
///    every channel (centred).
/// 2. It is levelled to the original's integrated loudness, so the balance
///    does not depend on how loud either came in (skipped when either is
///    silent).
/// 3. The original is ducked by `ducker`, keyed by the voice brought to
///    -20 LUFS (so the ducker's absolute threshold means the same for every
///    input). The original stays audible under the speech, reduced by up to
///    the ducker's range, and is unchanged away from it.
/// 4. The two are summed without clipping ([`mix::sum`]) and normalised with
///    [`normalize_loudness`].
///
/// # Errors
///
/// [`DubError::InvalidPcm`] for inconsistent input,
/// [`DubError::Mix`] when the target is out of range or the mix is silent
/// (no loudness to normalise).
pub fn voice_over(
    original: &Pcm,
    voice: &Pcm,
    ducker: &Ducker,
    target_lufs: f64,
) -> Result<Pcm, DubError> {
    check(original)?;
    check(voice)?;
    let rate = original.sample_rate;
    let ch = usize::from(original.channels);
    let frames = original.frames();
    let mut mono = voice.to_mono().resample_linear(rate).samples;
    mono.resize(frames, 0.0);
    let mut voice_up = Pcm {
        sample_rate: rate,
        channels: original.channels,
        samples: mono
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, ch))
            .collect(),
    };

    let voice_lufs = integrated_loudness(&voice_up).ok();
    if let (Some(v), Ok(o)) = (voice_lufs, integrated_loudness(original)) {
        mix::gain_db(&mut voice_up.samples, (o - v) as f32);
    }

    let mut background = original.clone();
    if let Some(v) = voice_lufs {
        let mut key = Pcm {
            sample_rate: rate,
            channels: 1,
            samples: mono,
        };
        // The key was measured upmixed; as mono it reads lower by the
        // channel count.
        let mono_lufs = v - 10.0 * (ch as f64).log10();
        mix::gain_db(&mut key.samples, (KEY_LUFS - mono_lufs) as f32);
        ducker.duck_pcm(&mut background, &key)?;
    }

    let mut out = Pcm {
        sample_rate: rate,
        channels: original.channels,
        samples: mix::sum(&[&background.samples, &voice_up.samples]),
    };
    normalize_loudness(&mut out, target_lufs, DEFAULT_MAX_TRUE_PEAK_DBTP)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::f64::consts::TAU;

    use super::*;
    use crate::speech::{Voice, synthesize};

    const RATE: u32 = 48_000;

    fn sine(freq: f64, amp: f32, frames: usize, rate: u32) -> Vec<f32> {
        (0..frames)
            .map(|i| amp * (TAU * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    fn mono(samples: Vec<f32>, rate: u32) -> Pcm {
        Pcm {
            sample_rate: rate,
            channels: 1,
            samples,
        }
    }

    fn silence(frames: usize) -> Vec<f32> {
        vec![0.0; frames]
    }

    fn ms(ms: u32, rate: u32) -> usize {
        frames_for(ms, rate)
    }

    /// Amplitude of the `freq` component of `x`: one DFT bin under a Hann
    /// window, so that a neighbouring tone whose level changes within the
    /// block does not leak into it.
    fn tone_level(x: &[f32], freq: f64, rate: u32) -> f64 {
        let n = x.len() as f64;
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (TAU * i as f64 / n).cos();
            let ph = TAU * freq * i as f64 / f64::from(rate);
            re += w * f64::from(s) * ph.cos();
            im += w * f64::from(s) * ph.sin();
            wsum += w;
        }
        2.0 * (re * re + im * im).sqrt() / wsum
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
    }

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    /// `lead` ms of silence, `tone` ms of a 440 Hz tone, `trail` ms of silence.
    fn padded_tone(lead: u32, tone: u32, trail: u32, rate: u32) -> Pcm {
        let mut s = silence(ms(lead, rate));
        s.extend(sine(440.0, 0.5, ms(tone, rate), rate));
        s.extend(silence(ms(trail, rate)));
        mono(s, rate)
    }

    #[test]
    fn trims_lead_and_trail_silence() {
        let pcm = padded_tone(300, 1000, 400, RATE);
        let t = trim_silence(&pcm, -50.0);
        let extra = t.frames() as i64 - ms(1000, RATE) as i64;
        // Margins of 5 ms each side, rounded to 5 ms blocks.
        assert!((0..=ms(20, RATE) as i64).contains(&extra), "{extra}");
        assert!(t.samples[..ms(5, RATE)].iter().all(|&s| s == 0.0));

        // A tone below the threshold counts as silence.
        let mut quiet = padded_tone(100, 500, 100, RATE);
        mix::gain_db(&mut quiet.samples, -60.0);
        assert_eq!(trim_silence(&quiet, -50.0).frames(), 0);
        assert!(trim_silence(&quiet, -80.0).frames() > ms(500, RATE));

        // Stereo keeps its channels.
        let stereo = Pcm {
            sample_rate: RATE,
            channels: 2,
            samples: pcm.samples.iter().flat_map(|&s| [s, -s]).collect(),
        };
        let t2 = trim_silence(&stereo, -50.0);
        assert_eq!((t2.channels, t2.frames()), (2, t.frames()));
    }

    #[test]
    fn long_speech_is_sped_up_to_the_window() {
        let pcm = padded_tone(200, 1500, 300, 22_050);
        let fitted = fit_to_window(&pcm, 1000, RATE).unwrap();
        assert_eq!(
            (fitted.sample_rate, fitted.channels, fitted.frames()),
            (RATE, 1, 48_000)
        );
        // The tone fills the window and keeps its pitch.
        let mid = &fitted.samples[ms(100, RATE)..ms(900, RATE)];
        assert!(
            tone_level(mid, 440.0, RATE) > 0.4,
            "{}",
            tone_level(mid, 440.0, RATE)
        );
    }

    #[test]
    fn too_long_speech_is_refused() {
        let pcm = padded_tone(100, 2600, 100, RATE);
        let err = fit_to_window(&pcm, 1000, RATE).unwrap_err();
        match &err {
            DubError::TooLong {
                speech_ms,
                window_ms: 1000,
                factor,
            } => {
                assert!((2600..=2620).contains(speech_ms), "{speech_ms}");
                assert!((2.6..2.63).contains(factor), "{factor}");
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("sped up 2.6"), "{err}");
        // Exactly at the limit is accepted.
        let pcm = padded_tone(0, 1990, 0, RATE);
        assert_eq!(
            fit_to_window(&pcm, 1000, RATE).unwrap().frames(),
            RATE as usize
        );
    }

    #[test]
    fn short_speech_is_slowed_a_little_and_left_aligned() {
        let pcm = padded_tone(50, 500, 50, RATE);
        let fitted = fit_to_window(&pcm, 2000, RATE).unwrap();
        assert_eq!(fitted.frames(), ms(2000, RATE));
        let sound = trim_silence(&fitted, -50.0);
        let len = sound.frames() as f64 / f64::from(RATE);
        // 500 ms (+ margins) slowed by 1.25.
        assert!((0.62..=0.66).contains(&len), "{len}");
        // Left-aligned: the sound starts at once, silence after it.
        assert!(energy(&fitted.samples[..ms(20, RATE)]) > 0.0);
        assert_eq!(energy(&fitted.samples[ms(700, RATE)..]), 0.0);
        assert!(tone_level(&fitted.samples[ms(100, RATE)..ms(500, RATE)], 440.0, RATE) > 0.4);
    }

    #[test]
    fn silent_speech_and_bad_arguments() {
        let fitted = fit_to_window(&mono(silence(1000), RATE), 500, RATE).unwrap();
        assert_eq!(fitted.frames(), ms(500, RATE));
        assert_eq!(energy(&fitted.samples), 0.0);
        let pcm = padded_tone(0, 100, 0, RATE);
        assert!(matches!(
            fit_to_window(&pcm, 0, RATE),
            Err(DubError::EmptyWindow)
        ));
        assert!(matches!(
            fit_to_window(&pcm, 100, 0),
            Err(DubError::InvalidSampleRate)
        ));
        let bad = Pcm {
            sample_rate: RATE,
            channels: 2,
            samples: vec![0.0; 3],
        };
        assert!(matches!(
            fit_to_window(&bad, 100, RATE),
            Err(DubError::InvalidPcm(_))
        ));
    }

    /// Voice energy lies only inside the windows (±10 ms).
    fn assert_inside(track: &[f32], windows: &[(u32, u32)], rate: u32) {
        let mut inside = vec![false; track.len()];
        for &(s, e) in windows {
            let lo = ms(s.saturating_sub(10), rate);
            let hi = ms(e + 10, rate).min(track.len());
            inside[lo..hi].iter_mut().for_each(|b| *b = true);
        }
        for (i, (&x, &ok)) in track.iter().zip(&inside).enumerate() {
            assert!(
                ok || x == 0.0,
                "sound at {} ms",
                i as f64 * 1000.0 / f64::from(rate)
            );
        }
    }

    #[test]
    fn voice_track_places_lines_in_their_windows() {
        let lines = vec![
            VoiceLine {
                start_ms: 500,
                end_ms: 1500,
                pcm: padded_tone(80, 1300, 200, 22_050),
            },
            VoiceLine {
                start_ms: 2000,
                end_ms: 4000,
                pcm: padded_tone(10, 700, 10, 16_000),
            },
            VoiceLine {
                start_ms: 4500,
                end_ms: 5500,
                // Already fitted: placed as is.
                pcm: mono(sine(300.0, 0.25, ms(1000, RATE), RATE), RATE),
            },
            VoiceLine {
                start_ms: 5800,
                end_ms: 7000,
                // Runs past the end of the track: cut.
                pcm: padded_tone(0, 1000, 0, RATE),
            },
        ];
        let total = ms(6000, RATE);
        let track = voice_track(&lines, total, RATE).unwrap();
        assert_eq!(
            (track.channels, track.sample_rate, track.frames()),
            (1, RATE, total)
        );
        let windows: Vec<(u32, u32)> = lines.iter().map(|l| (l.start_ms, l.end_ms)).collect();
        assert_inside(&track.samples, &windows, RATE);
        for (s, e) in &windows[..3] {
            let w = &track.samples[ms(*s, RATE)..ms(*e, RATE)];
            assert!(energy(&w[..ms(50, RATE)]) > 0.0, "line at {s} starts late");
        }
        assert_eq!(
            &track.samples[ms(4500, RATE)..ms(5500, RATE)],
            &lines[2].pcm.samples[..]
        );
        assert!(energy(&track.samples[ms(5800, RATE)..]) > 0.0);
    }

    #[test]
    fn voice_track_errors_name_the_line() {
        let lines = vec![
            VoiceLine {
                start_ms: 0,
                end_ms: 1000,
                pcm: padded_tone(0, 500, 0, RATE),
            },
            VoiceLine {
                start_ms: 1000,
                end_ms: 1500,
                pcm: padded_tone(0, 2000, 0, RATE),
            },
        ];
        let err = voice_track(&lines, RATE as usize * 2, RATE).unwrap_err();
        assert!(
            matches!(&err, DubError::Line { index: 1, start_ms: 1000, end_ms: 1500, source }
                if matches!(**source, DubError::TooLong { .. })),
            "{err}"
        );
        let empty = [VoiceLine {
            start_ms: 700,
            end_ms: 700,
            pcm: padded_tone(0, 500, 0, RATE),
        }];
        let err = voice_track(&empty, 100, RATE).unwrap_err();
        assert_eq!(err.to_string(), "voice line 0 (700–700 ms)");
    }

    #[test]
    fn voice_over_ducks_mixes_and_normalises() {
        // 8 s of stereo "background" (220 Hz), two "voice" lines (1 kHz).
        let frames = ms(8000, RATE);
        let bg = sine(220.0, 0.3, frames, RATE);
        let original = Pcm {
            sample_rate: RATE,
            channels: 2,
            samples: bg.iter().flat_map(|&s| [s, s]).collect(),
        };
        let windows = [(2000u32, 3500u32), (4500, 5300)];
        let lines: Vec<VoiceLine> = windows
            .iter()
            .map(|&(s, e)| VoiceLine {
                start_ms: s,
                end_ms: e,
                pcm: mono(sine(1000.0, 0.1, ms(e - s, 22_050), 22_050), 22_050),
            })
            .collect();
        let voice = voice_track(&lines, ms(8000, 24_000), 24_000).unwrap();
        let target = -23.0;
        let out = voice_over(&original, &voice, &Ducker::default(), target).unwrap();

        assert_eq!(
            (out.sample_rate, out.channels, out.frames()),
            (RATE, 2, frames)
        );
        assert!(out.samples.iter().all(|s| s.abs() <= 1.0));
        let lufs = integrated_loudness(&out).unwrap();
        assert!((lufs - target).abs() <= 1.0, "{lufs}");
        assert!(mix::true_peak_dbtp(&out).unwrap() <= -1.0 + 1e-6);

        let left: Vec<f32> = out.samples.iter().step_by(2).copied().collect();
        // 100 ms blocks hold whole periods of both tones.
        let block = |start_ms: u32| &left[ms(start_ms, RATE)..ms(start_ms + 100, RATE)];
        let bg_level = |start_ms| db(tone_level(block(start_ms), 220.0, RATE));
        let voice_level = |start_ms| db(tone_level(block(start_ms), 1000.0, RATE));

        // The background is steady far from speech, before and after.
        let far = [0, 500, 1200, 7500, 7900];
        let reference = bg_level(0);
        for t in far {
            assert!(
                (bg_level(t) - reference).abs() < 0.1,
                "{t} ms: {}",
                bg_level(t)
            );
        }
        // Under speech it is reduced but still there.
        for t in [2300, 2800, 3300, 4800, 5100] {
            let drop = reference - bg_level(t);
            assert!((8.0..=15.5).contains(&drop), "{t} ms: {drop} dB");
        }
        // The voice sounds inside its windows and nowhere else.
        let voice_ref = voice_level(2500);
        assert!(
            voice_ref > bg_level(2500) + 6.0,
            "{voice_ref} vs {}",
            bg_level(2500)
        );
        for t in [0, 1000, 1800, 3600, 4300, 5500, 7000] {
            assert!(
                voice_level(t) < voice_ref - 60.0,
                "{t} ms: {}",
                voice_level(t)
            );
        }
    }

    #[test]
    fn voice_over_keeps_the_original_format_and_checks_input() {
        let original = mono(sine(220.0, 0.2, ms(3000, 44_100), 44_100), 44_100);
        // No voice at all: the original, normalised.
        let voice = mono(silence(10), 16_000);
        let out = voice_over(&original, &voice, &Ducker::default(), -16.0).unwrap();
        assert_eq!((out.sample_rate, out.channels), (44_100, 1));
        assert_eq!(out.frames(), original.frames());
        let lufs = integrated_loudness(&out).unwrap();
        assert!((lufs + 16.0).abs() <= 1.0, "{lufs}");

        let silent = mono(silence(44_100), 44_100);
        assert!(matches!(
            voice_over(&silent, &voice, &Ducker::default(), -23.0),
            Err(DubError::Mix(MixError::Silent { .. }))
        ));
        assert!(matches!(
            voice_over(&original, &voice, &Ducker::default(), 5.0),
            Err(DubError::Mix(MixError::InvalidTarget { .. }))
        ));
        let bad = Pcm {
            sample_rate: 0,
            channels: 1,
            samples: vec![],
        };
        assert!(matches!(
            voice_over(&bad, &voice, &Ducker::default(), -23.0),
            Err(DubError::InvalidPcm(_))
        ));
    }

    #[test]
    #[cfg_attr(
        missing = "espeak-ng",
        ignore = "needs espeak-ng (apt-get install espeak-ng)"
    )]
    fn espeak_line_fits_its_window() {
        let speech = synthesize("Buenos días, ¿cómo estás?", &Voice::for_language("es"))
            .unwrap_or_else(|e| panic!("{e}"));
        // A window somewhat shorter than the speech: it is sped up.
        let window_ms = (speech.duration.as_millis() as f64 * 0.8) as u32;
        let lines = [VoiceLine {
            start_ms: 1000,
            end_ms: 1000 + window_ms,
            pcm: speech.pcm.clone(),
        }];
        let total = ms(1000 + window_ms + 1000, RATE);
        let track = voice_track(&lines, total, RATE).unwrap();
        assert_inside(&track.samples, &[(1000, 1000 + window_ms)], RATE);
        let inside = &track.samples[ms(1000, RATE)..ms(1000 + window_ms, RATE)];
        // Speech all through the window: the start and the end are voiced.
        assert!(energy(&inside[..ms(100, RATE)]) > 0.01);
        assert!(energy(&inside[inside.len() - ms(300, RATE)..]) > 0.01);

        let background = mono(sine(150.0, 0.1, total, RATE), RATE);
        let out = voice_over(&background, &track, &Ducker::default(), -23.0).unwrap();
        assert_eq!(out.frames(), total);
        let lufs = integrated_loudness(&out).unwrap();
        assert!((lufs + 23.0).abs() <= 1.0, "{lufs}");
        assert!(out.samples.iter().all(|s| s.abs() <= 1.0));
    }
}
