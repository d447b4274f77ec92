//! Tempo, beats and bars of music, and snapping cut points to the beat.
//!
//! [`track`] follows Ellis's dynamic-programming beat tracker (D. P. W.
//! Ellis, "Beat Tracking by Dynamic Programming", JNMR 2007), the method
//! behind `librosa.beat.beat_track`, with a loudness-weighted onset envelope
//! and a check of the metrical level:
//!
//! 1. **Onset strength.** The mono signal is cut into frames of about 23 ms
//!    (the power of two nearest in samples: 1024 at 44.1 and 48 kHz, 256 at
//!    8 kHz, 4096 at 192 kHz) every 11.6 ms (`round(rate · 512/44100)`
//!    samples, so every rate gives about 86 frames a second and nothing is
//!    resampled), Hann-windowed and Fourier-transformed; the power spectrum
//!    is summed into 64 mel bands from 30 Hz to 16 kHz (or the Nyquist
//!    frequency) and compressed as `10·log10(1 + 1000·p/r)`, `r` being the
//!    loudest band within 4 s of the frame (but at least the loudest of the
//!    whole input less 60 dB). That is a dB scale over the
//!    30 dB under the loudest sound nearby and nearly linear, so nearly
//!    nothing, below: onsets weigh by their loudness, as they do for a
//!    listener. (With a plain dB scale floored 80 dB down, as librosa has,
//!    quiet hi-hats rose as far as the kick and snare, a 70 BPM drum loop
//!    was tracked at 140 and beats came 12 ms early.) Each band's rise over
//!    the largest of it and its two neighbours in the previous frame (both
//!    compressed against the same reference; the neighbours keep vibrato
//!    and glides from counting) is kept where positive and averaged over
//!    the bands. The envelope has its 2 s moving average taken off, is cut
//!    at zero and scaled to unit standard deviation.
//! 2. **Tempo.** The envelope's autocorrelation over the lags of
//!    [`TrackOptions::min_bpm`]..[`TrackOptions::max_bpm`], each lag helped
//!    by half of its double's (a beat period is also a period of the bar),
//!    weighted by a log-Gaussian prior around [`TrackOptions::prior_bpm`]
//!    ([`TrackOptions::prior_octaves`] wide); the autocorrelation peak there
//!    is refined to a fraction of a frame by a parabola. Where the
//!    autocorrelation there is under `max(0.05, 4/√frames)` of the
//!    envelope's energy (what noise reaches by chance) the onsets are not
//!    periodic (noise, a steady tone) and there are no beats.
//! 3. **Beats.** A beat sequence maximising the onset strength at its beats
//!    minus `tightness · ln(gap / period)²` for each gap between neighbours
//!    (so the tempo can drift and swing, but not jump) is found by dynamic
//!    programming over the frames; the envelope is smoothed by a Gaussian of
//!    a 32nd of the period first. The last beat is the frame of the best
//!    cumulative score within the last period (librosa takes the last local
//!    maximum above half their median, which an off-beat hi-hat in the last
//!    period can be, dragging the final beat off the grid). Weak beats at
//!    either end (under a quarter of the RMS onset strength of the beats,
//!    smoothed over three beats; librosa cuts at a half, which lost a quiet
//!    last section) are dropped, so silence before and after the music has
//!    none. Each beat is placed to a fraction of a frame by a parabola
//!    through its onset strength and its neighbours'.
//! 4. **Metrical level.** On the beats of step 3, the envelope between
//!    beats (40–72% of the way, where straight and swung off-beats fall) is
//!    compared with the envelope on them. Off-beats at least 0.4 as strong
//!    on average mean the tempo is twice as fast (a backbeat taken for an
//!    off-beat: at 150 BPM, kick on 1 and snare on 2 look like a 75 BPM beat
//!    and its off-beat, which librosa reports); every other beat under 0.3
//!    of the others means it is twice as slow. Either way the beats are
//!    tracked again at the new period.
//!
//! **Bars.** Every [`TrackOptions::beats_per_bar`]-th beat is a downbeat;
//! which beat of the bar comes first is chosen from the signal: for each
//! phase, the mean over its beats of the low-band (below 150 Hz: the kick)
//! onset strength plus the harmonic change across the beat (the compressed
//! mel spectrum between 150 Hz and 2 kHz over the beat after it against the
//! beat before: chords change on the bar), each relative to its mean over
//! all beats. Phases within 0.05 of the best tie, and the earliest wins (a
//! click track's bars start on its first beat).
//!
//! The framing, the spectra and the compression run in parallel (rayon, in
//! chunks of 64 frames); the rest is linear in the number of frames and
//! takes about a millisecond for 30 s. Deterministic: the result does not
//! depend on the number of threads. Measured against librosa in the crate
//! README (`cargo bench -p kino-kernels --bench beats`).
//!
//! # Input and outcomes
//!
//! Mono `f32` samples, full scale ±1.0 (the analysis does not depend on the
//! level above the silence threshold), at 8 to 192 kHz ([`MIN_SAMPLE_RATE`],
//! [`MAX_SAMPLE_RATE`]); [`track_pcm`] mixes interleaved channels down
//! first.
//!
//! - Fewer than [`MIN_SECONDS`] of audio: [`BeatError::TooShort`] (no
//!   tempo can be measured from less than a few beats).
//! - Silence (no sample above [`SILENCE_PEAK`], −80 dBFS) or audio whose
//!   onsets are not periodic (noise, a steady tone): `Ok` with tempo 0, no
//!   beats and confidence 0 ([`Beats::is_empty`]).
//! - A NaN or infinite sample: [`BeatError::NonFinite`] naming the first.
//!
//! # What it does not do
//!
//! - One tempo for the whole input: drift of a few percent and swing are
//!   followed, a tempo change of more than about 10% is not.
//! - The metre is given ([`TrackOptions::beats_per_bar`]), not detected.
//! - Off-beats as loud as the beats (a reggae skank) can double the tempo;
//!   the octave of a tempo is a judgement call that the bench's synthetic
//!   signals, not real recordings, were used to tune.
//!
//! [`snap`] moves cut points (scene boundaries, caption times) onto nearby
//! beats without ever reordering or merging them.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{RealFftPlanner, RealToComplex};
use thiserror::Error;

use crate::wav::Pcm;

/// Lowest sample rate accepted (Hz).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest sample rate accepted (Hz).
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// Shortest input [`track`] measures, in seconds.
pub const MIN_SECONDS: f64 = 2.0;
/// Input whose peak is at or below this (−80 dBFS) is silence.
pub const SILENCE_PEAK: f32 = 1e-4;

/// Seconds between analysis frames: 512 samples at 44.1 kHz.
const HOP_SECONDS: f64 = 512.0 / 44_100.0;
/// Analysis window length in seconds, rounded to the nearest power of two in
/// samples.
const WINDOW_SECONDS: f64 = 0.023;
/// Mel bands of the onset spectrum.
const MEL_BANDS: usize = 64;
/// Lowest mel band edge (Hz).
const MEL_LOW_HZ: f64 = 30.0;
/// Highest mel band edge (Hz), or the Nyquist frequency if lower.
const MEL_HIGH_HZ: f64 = 16_000.0;
/// The band powers are compressed as `10·log10(1 + COMPRESSION · p / r)`,
/// `r` the loudest band within [`REFERENCE_SECONDS`]: dB for bands within
/// 30 dB of it, nearly linear (so nearly nothing) below.
const COMPRESSION: f32 = 1000.0;
/// Length of the window whose loudest band is the compression reference (s).
const REFERENCE_SECONDS: f64 = 4.0;
/// The reference is never more than this under the loudest band of the
/// whole input (dB).
const REFERENCE_RANGE_DB: f32 = 60.0;
/// Bands centred below this are the kick band of the bar-phase choice (Hz).
const LOW_BAND_HZ: f64 = 150.0;
/// Bands centred from [`LOW_BAND_HZ`] to this carry the harmonic change of
/// the bar-phase choice (Hz).
const HARMONIC_BAND_HZ: f64 = 2_000.0;
/// Length of the moving average taken off the onset envelope (s).
const DETREND_SECONDS: f64 = 2.0;
/// Onsets between the beats this strong against those on them (means)
/// make the beats twice as fast.
const FASTER: f64 = 0.4;
/// Every other beat this weak against the others makes the beats twice as
/// slow.
const SLOWER: f64 = 0.3;
/// Beats at either end weaker than this times the RMS of all are dropped.
const TRIM: f64 = 0.25;
/// Below this normalised autocorrelation at the tempo found, or below
/// [`NOISE_CLARITY`] over the square root of the number of frames if that
/// is more, the onsets are not periodic (noise, a steady tone): no beats.
const MIN_CLARITY: f64 = 0.05;
/// The normalised autocorrelation noise reaches by chance is about this
/// over the square root of the number of frames, at most (white and
/// low-passed noise, 3 s to 2 min, eight seeds each).
const NOISE_CLARITY: f64 = 4.0;
/// Bar phases scoring within this of the best count as ties, won by the
/// earliest.
const PHASE_MARGIN: f64 = 0.05;
/// Frames per parallel work unit of the spectrum.
const CHUNK_FRAMES: usize = 64;

/// Why [`track`] could not measure the audio.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BeatError {
    /// The sample rate is outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
    #[error("unsupported sample rate {0} hz: must be 8000 to 192000")]
    InvalidSampleRate(u32),
    /// The audio is shorter than [`MIN_SECONDS`].
    #[error("{seconds:.3} s of audio is too short to track beats: need at least {min_seconds} s")]
    TooShort {
        /// Length of the input.
        seconds: f64,
        /// The shortest length measured.
        min_seconds: f64,
    },
    /// A sample is NaN or infinite.
    #[error("sample {index} is not finite ({value})")]
    NonFinite {
        /// Index of the first non-finite sample (in the interleaved buffer
        /// for [`track_pcm`]).
        index: usize,
        /// Its value.
        value: f32,
    },
    /// Interleaved audio with no channels, or not a whole number of frames.
    #[error("{len} samples are not a whole number of {channels}-channel frames")]
    BadChannels {
        /// Number of samples.
        len: usize,
        /// Channel count given.
        channels: u16,
    },
    /// A [`TrackOptions`] field is out of range.
    #[error("invalid beat tracking option {name} = {value}: {reason}")]
    InvalidOption {
        /// The field.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What the range is.
        reason: &'static str,
    },
}

/// How [`track_with`] tracks; [`Default`] gives the values listed per field.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackOptions {
    /// Beats per bar, for the downbeats. Default 4.
    pub beats_per_bar: u32,
    /// Slowest tempo considered (BPM). Default 40.
    pub min_bpm: f64,
    /// Fastest tempo considered (BPM). Default 240.
    pub max_bpm: f64,
    /// Centre of the tempo prior (BPM). Default 120.
    pub prior_bpm: f64,
    /// Standard deviation of the tempo prior, in octaves. Default 1.
    pub prior_octaves: f64,
    /// How strongly the beat spacing is held to the tempo: the penalty for
    /// a gap `g` at period `p` is `tightness · ln(g/p)²`, against an onset
    /// strength normalised to unit standard deviation. Default 100.
    pub tightness: f64,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            beats_per_bar: 4,
            min_bpm: 40.0,
            max_bpm: 240.0,
            prior_bpm: 120.0,
            prior_octaves: 1.0,
            tightness: 100.0,
        }
    }
}

impl TrackOptions {
    fn validate(&self) -> Result<(), BeatError> {
        let bad = |name, value, reason| {
            Err(BeatError::InvalidOption {
                name,
                value,
                reason,
            })
        };
        if self.beats_per_bar == 0 {
            return bad("beats_per_bar", 0.0, "must be at least 1");
        }
        if !(self.min_bpm.is_finite() && self.min_bpm >= 10.0) {
            return bad("min_bpm", self.min_bpm, "must be at least 10");
        }
        if !(self.max_bpm.is_finite() && self.max_bpm <= 600.0 && self.max_bpm > self.min_bpm) {
            return bad(
                "max_bpm",
                self.max_bpm,
                "must be above min_bpm and at most 600",
            );
        }
        if !(self.prior_bpm.is_finite() && self.prior_bpm > 0.0) {
            return bad("prior_bpm", self.prior_bpm, "must be positive");
        }
        if !(self.prior_octaves.is_finite() && self.prior_octaves > 0.0) {
            return bad("prior_octaves", self.prior_octaves, "must be positive");
        }
        if !(self.tightness.is_finite() && self.tightness >= 0.0) {
            return bad(
                "tightness",
                self.tightness,
                "must be finite and not negative",
            );
        }
        Ok(())
    }
}

/// What [`track`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Beats {
    /// The global tempo in beats per minute; 0 when no beat was found.
    pub tempo_bpm: f64,
    /// Beat times in milliseconds from the start, ascending.
    pub beats_ms: Vec<u32>,
    /// The downbeats (first beats of bars): every `beats_per_bar`-th of
    /// [`Beats::beats_ms`] from [`Beats::first_downbeat`].
    pub downbeats_ms: Vec<u32>,
    /// Index into [`Beats::beats_ms`] of the first downbeat (the bar phase),
    /// below `beats_per_bar`; 0 when there are no beats.
    pub first_downbeat: usize,
    /// Beats per bar the downbeats were counted with.
    pub beats_per_bar: u32,
    /// How periodic the onsets are at the tempo found, 0 to 1: the onset
    /// envelope's autocorrelation at the beat period over its energy. About
    /// 0.8 to 0.95 for click tracks, 0.65 for a drum loop, 0.25 to 0.5 for
    /// the bench's song-like mixes; under `max(0.05, 4/√frames)` (frames
    /// are 11.6 ms) counts as no pulse: no beats, confidence 0.
    pub confidence: f64,
}

impl Beats {
    /// No beats: what silence gives.
    fn none(beats_per_bar: u32) -> Self {
        Self {
            tempo_bpm: 0.0,
            beats_ms: Vec::new(),
            downbeats_ms: Vec::new(),
            first_downbeat: 0,
            beats_per_bar,
            confidence: 0.0,
        }
    }

    /// Whether no beat was found (silence, or no periodic onsets).
    pub fn is_empty(&self) -> bool {
        self.beats_ms.is_empty()
    }
}

/// Tracks the tempo, beats and downbeats of mono audio with the default
/// [`TrackOptions`] (see the [module documentation](self)).
///
/// # Errors
///
/// [`BeatError::InvalidSampleRate`], [`BeatError::TooShort`] or
/// [`BeatError::NonFinite`]; silence is not an error (no beats, tempo 0).
pub fn track(samples: &[f32], sample_rate: u32) -> Result<Beats, BeatError> {
    track_with(samples, sample_rate, &TrackOptions::default())
}

/// Mixes interleaved audio down to mono (the mean of the channels) and
/// tracks it with the default [`TrackOptions`].
///
/// # Errors
///
/// As [`track`], and [`BeatError::BadChannels`] when the channel count is 0
/// or the samples are not a whole number of frames.
pub fn track_pcm(pcm: &Pcm) -> Result<Beats, BeatError> {
    if pcm.channels == 0 || !pcm.samples.len().is_multiple_of(usize::from(pcm.channels)) {
        return Err(BeatError::BadChannels {
            len: pcm.samples.len(),
            channels: pcm.channels,
        });
    }
    check_finite(&pcm.samples)?;
    track(&pcm.to_mono().samples, pcm.sample_rate)
}

/// Tracks the tempo, beats and downbeats of mono audio.
///
/// # Errors
///
/// As [`track`], and [`BeatError::InvalidOption`] for an option out of
/// range.
pub fn track_with(
    samples: &[f32],
    sample_rate: u32,
    options: &TrackOptions,
) -> Result<Beats, BeatError> {
    options.validate()?;
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(BeatError::InvalidSampleRate(sample_rate));
    }
    check_finite(samples)?;
    let seconds = samples.len() as f64 / f64::from(sample_rate);
    if seconds < MIN_SECONDS {
        return Err(BeatError::TooShort {
            seconds,
            min_seconds: MIN_SECONDS,
        });
    }
    let peak = samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak <= SILENCE_PEAK {
        return Ok(Beats::none(options.beats_per_bar));
    }

    let analysis = Analysis::new(samples, sample_rate);
    let Some(envelope) = normalised_envelope(&analysis.onset, analysis.fps) else {
        return Ok(Beats::none(options.beats_per_bar));
    };
    let Some(periodicity) = Periodicity::new(&envelope, analysis.fps, options) else {
        return Ok(Beats::none(options.beats_per_bar));
    };
    let mut period = periodicity.refine(periodicity.best_lag(analysis.fps, options) as f64);
    let min_clarity = (NOISE_CLARITY / (envelope.len() as f64).sqrt()).max(MIN_CLARITY);
    if periodicity.clarity(period) < min_clarity {
        return Ok(Beats::none(options.beats_per_bar));
    }
    let mut local = local_score(&envelope, period);
    let mut frames = dp_beats(&local, period, options.tightness);
    let (mid, parity) = sublevel(&envelope, &frames);
    let level = if mid >= FASTER && period / 2.0 >= periodicity.min_lag as f64 {
        Some(period / 2.0)
    } else if parity <= SLOWER && period * 2.0 <= periodicity.max_lag as f64 {
        Some(period * 2.0)
    } else {
        None
    };
    if let Some(lag) = level {
        period = periodicity.refine(lag);
        local = local_score(&envelope, period);
        frames = dp_beats(&local, period, options.tightness);
    }
    if frames.is_empty() {
        return Ok(Beats::none(options.beats_per_bar));
    }

    let seconds_per_frame = analysis.hop as f64 / f64::from(sample_rate);
    let beats_ms: Vec<u32> = frames
        .iter()
        .map(|&t| {
            let s = (t as f64 + peak_offset(&local, t)) * seconds_per_frame;
            (s * 1000.0).round().max(0.0) as u32
        })
        .collect();
    let bpb = options.beats_per_bar as usize;
    let first_downbeat = bar_phase(&analysis, &frames, bpb);
    let downbeats_ms = beats_ms
        .iter()
        .skip(first_downbeat)
        .step_by(bpb)
        .copied()
        .collect();
    Ok(Beats {
        tempo_bpm: 60.0 * analysis.fps / period,
        beats_ms,
        downbeats_ms,
        first_downbeat,
        beats_per_bar: options.beats_per_bar,
        confidence: periodicity.clarity(period),
    })
}

fn check_finite(samples: &[f32]) -> Result<(), BeatError> {
    match samples.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(BeatError::NonFinite {
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

/// Moves each boundary onto the nearest beat within `tolerance_ms`, keeping
/// the boundaries strictly in their order.
///
/// Boundaries are cut points (scene changes, caption starts) given in
/// ascending order; `beats_ms` ascending, as [`track`] returns them. The
/// result has one entry per boundary:
///
/// - a boundary with no beat within `tolerance_ms` stays where it is;
/// - otherwise it moves to the nearest beat (the earlier of two equally
///   near), unless that would put it at or before the boundary before it
///   (as already snapped) or at or after the next boundary (as given): then
///   it stays where it is. Two cuts on one beat would make an empty scene,
///   and a cut jumping past its neighbour would reorder them, so a boundary
///   that cannot move without that keeps its own time; the first boundary
///   to claim a beat gets it.
///
/// Boundaries already out of order or equal in the input are never made
/// worse: a boundary only moves strictly between its neighbours.
pub fn snap(boundaries_ms: &[u32], beats_ms: &[u32], tolerance_ms: u32) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(boundaries_ms.len());
    for (i, &b) in boundaries_ms.iter().enumerate() {
        let target = nearest_beat(beats_ms, b).filter(|&beat| beat.abs_diff(b) <= tolerance_ms);
        let after_prev = |t: u32| out.last().is_none_or(|&p| t > p);
        let before_next = |t: u32| boundaries_ms.get(i + 1).is_none_or(|&n| t < n);
        let moved = match target {
            Some(t) if t == b => b,
            Some(t) if after_prev(t) && before_next(t) => t,
            _ => b,
        };
        out.push(moved);
    }
    out
}

/// The beat nearest `t` (the earlier of two equally near), in ascending
/// `beats`.
fn nearest_beat(beats: &[u32], t: u32) -> Option<u32> {
    let i = beats.partition_point(|&b| b < t);
    let after = beats.get(i).copied();
    let before = i.checked_sub(1).and_then(|j| beats.get(j)).copied();
    match (before, after) {
        (Some(a), Some(b)) => Some(if t - a <= b - t { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The spectral analysis of the input: log-mel frames and onset strengths.
struct Analysis {
    /// Frames per second.
    fps: f64,
    /// Samples between frames.
    hop: usize,
    /// Mel bands per frame.
    bands: usize,
    /// Compressed mel spectrum (see [`COMPRESSION`]), `frames × bands`.
    log_mel: Vec<f32>,
    /// Onset strength per frame (mean positive band rise).
    onset: Vec<f32>,
    /// Onset strength of the bands below [`LOW_BAND_HZ`].
    low_onset: Vec<f32>,
    /// Bands used for the harmonic change.
    harmonic: std::ops::Range<usize>,
}

impl Analysis {
    fn new(samples: &[f32], sample_rate: u32) -> Self {
        let rate = f64::from(sample_rate);
        let hop = (rate * HOP_SECONDS).round() as usize;
        let n_fft = nearest_power_of_two(rate * WINDOW_SECONDS);
        let frames = samples.len() / hop + 1;
        let filters = MelFilters::new(n_fft, rate);
        let bands = filters.bands.len();
        let window: Vec<f32> = (0..n_fft)
            .map(|i| {
                let x = std::f64::consts::PI * i as f64 / n_fft as f64;
                (x.sin() * x.sin()) as f32
            })
            .collect();
        let fft: Arc<dyn RealToComplex<f32>> = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);

        // Mel power per frame, in parallel chunks of frames.
        let mut mel = vec![0.0f32; frames * bands];
        mel.par_chunks_mut(CHUNK_FRAMES * bands)
            .enumerate()
            .for_each(|(chunk, out)| {
                let mut time = fft.make_input_vec();
                let mut spec = fft.make_output_vec();
                let mut scratch = fft.make_scratch_vec();
                let mut power = vec![0.0f32; spec.len()];
                for (k, row) in out.chunks_mut(bands).enumerate() {
                    let centre = (chunk * CHUNK_FRAMES + k) * hop;
                    let start = centre as isize - (n_fft / 2) as isize;
                    match usize::try_from(start)
                        .ok()
                        .and_then(|s| samples.get(s..s + n_fft))
                    {
                        Some(frame) => {
                            for ((v, w), x) in time.iter_mut().zip(&window).zip(frame) {
                                *v = x * w;
                            }
                        }
                        // The first and last frames run past the ends: zeros.
                        None => {
                            for (i, (v, w)) in time.iter_mut().zip(&window).enumerate() {
                                let j = start + i as isize;
                                *v = usize::try_from(j)
                                    .ok()
                                    .and_then(|j| samples.get(j))
                                    .map_or(0.0, |x| x * w);
                            }
                        }
                    }
                    // Buffers are sized by the plan, so this cannot fail.
                    let done = fft.process_with_scratch(&mut time, &mut spec, &mut scratch);
                    debug_assert!(done.is_ok(), "forward fft: {done:?}");
                    for (p, c) in power.iter_mut().zip(&spec) {
                        *p = c.norm_sqr();
                    }
                    filters.apply(&power, row);
                }
            });

        // Compressed against the loudest band within REFERENCE_SECONDS.
        let frame_peak: Vec<f32> = mel
            .chunks(bands)
            .map(|row| row.iter().fold(0.0f32, |m, &v| m.max(v)))
            .collect();
        let half = ((REFERENCE_SECONDS * rate / hop as f64 / 2.0).round() as usize).max(1);
        let loudest = frame_peak.iter().fold(0.0f32, |m, &v| m.max(v));
        let mut reference = sliding_max(&frame_peak, half);
        // Passages more than REFERENCE_RANGE_DB under the loudest are not
        // raised further (digital silence would be divided by zero).
        let floor = loudest * 10f32.powf(-REFERENCE_RANGE_DB / 10.0);
        reference.iter_mut().for_each(|r| *r = r.max(floor));
        let low_bands = filters
            .centres
            .iter()
            .filter(|&&c| c < LOW_BAND_HZ)
            .count()
            .max(1);
        let harmonic_end = filters
            .centres
            .iter()
            .filter(|&&c| c < HARMONIC_BAND_HZ)
            .count()
            .max(low_bands + 1)
            .min(bands);
        let mut log_mel = vec![0.0f32; frames * bands];
        let mut onset = vec![0.0f32; frames];
        let mut low_onset = vec![0.0f32; frames];
        log_mel
            .par_chunks_mut(CHUNK_FRAMES * bands)
            .zip(onset.par_chunks_mut(CHUNK_FRAMES))
            .zip(low_onset.par_chunks_mut(CHUNK_FRAMES))
            .enumerate()
            .for_each(|(chunk, ((out, onset), low_onset))| {
                // The previous frame's loudest of each band and its two
                // neighbours, compressed against this frame's reference.
                let mut before = vec![0.0f32; bands];
                let neighbours = |b: usize| b.saturating_sub(1)..=(b + 1).min(bands - 1);
                for k in 0..out.len() / bands {
                    let t = chunk * CHUNK_FRAMES + k;
                    let scale = COMPRESSION / reference[t];
                    let scale = if scale.is_finite() { scale } else { 0.0 };
                    let compress = |p: f32| 10.0 * (1.0 + scale * p).log10();
                    for (c, &p) in out[k * bands..(k + 1) * bands]
                        .iter_mut()
                        .zip(&mel[t * bands..(t + 1) * bands])
                    {
                        *c = compress(p);
                    }
                    if t == 0 {
                        continue;
                    }
                    if k > 0 && reference[t] == reference[t - 1] {
                        // Same reference: the compressed row is already there
                        // (compression is monotonic, so max and it commute).
                        let prev = &out[(k - 1) * bands..k * bands];
                        for (b, v) in before.iter_mut().enumerate() {
                            *v = prev[neighbours(b)].iter().fold(0.0f32, |m, &x| m.max(x));
                        }
                    } else {
                        let prev = &mel[(t - 1) * bands..t * bands];
                        for (b, v) in before.iter_mut().enumerate() {
                            *v =
                                compress(prev[neighbours(b)].iter().fold(0.0f32, |m, &x| m.max(x)));
                        }
                    }
                    let (mut sum, mut low) = (0.0f32, 0.0f32);
                    for (b, (c, v)) in out[k * bands..(k + 1) * bands]
                        .iter()
                        .zip(&before)
                        .enumerate()
                    {
                        let rise = (c - v).max(0.0);
                        sum += rise;
                        if b < low_bands {
                            low += rise;
                        }
                    }
                    onset[k] = sum / bands as f32;
                    low_onset[k] = low / low_bands as f32;
                }
            });

        Self {
            fps: rate / hop as f64,
            hop,
            bands,
            log_mel,
            onset,
            low_onset,
            harmonic: low_bands.min(harmonic_end - 1)..harmonic_end,
        }
    }

    /// Mean compressed spectrum over the harmonic bands of frames `from..to`.
    fn harmonic_profile(&self, from: usize, to: usize) -> Vec<f32> {
        let mut acc = vec![0.0f32; self.harmonic.len()];
        let to = to.min(self.onset.len());
        if to <= from {
            return acc;
        }
        for t in from..to {
            let row = &self.log_mel[t * self.bands..(t + 1) * self.bands];
            for (a, v) in acc.iter_mut().zip(&row[self.harmonic.clone()]) {
                *a += v;
            }
        }
        let n = (to - from) as f32;
        acc.iter_mut().for_each(|a| *a /= n);
        acc
    }
}

/// The maximum of `x` over `i - half ..= i + half`, for each `i`.
fn sliding_max(x: &[f32], half: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    // Indices of a decreasing run of values: the front is the window's max.
    let mut queue = std::collections::VecDeque::new();
    let mut next = 0;
    for (i, o) in out.iter_mut().enumerate() {
        while next < x.len() && next <= i + half {
            while queue.back().is_some_and(|&j: &usize| x[j] <= x[next]) {
                queue.pop_back();
            }
            queue.push_back(next);
            next += 1;
        }
        while queue.front().is_some_and(|&j| j + half < i) {
            queue.pop_front();
        }
        *o = queue.front().map_or(0.0, |&j| x[j]);
    }
    out
}

fn nearest_power_of_two(x: f64) -> usize {
    let up = (x.max(2.0) as usize).next_power_of_two();
    let down = up / 2;
    if down >= 2 && (x / down as f64) < (up as f64 / x) {
        down
    } else {
        up
    }
}

/// Triangular mel filters over FFT bins, stored sparsely.
struct MelFilters {
    /// Per band: first bin and the weights from there.
    bands: Vec<(usize, Vec<f32>)>,
    /// Centre frequency of each band (Hz).
    centres: Vec<f64>,
}

impl MelFilters {
    fn new(n_fft: usize, rate: f64) -> Self {
        let mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
        let hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
        let high = MEL_HIGH_HZ.min(rate / 2.0);
        let (m_lo, m_hi) = (mel(MEL_LOW_HZ), mel(high));
        let edges: Vec<f64> = (0..MEL_BANDS + 2)
            .map(|i| hz(m_lo + (m_hi - m_lo) * i as f64 / (MEL_BANDS + 1) as f64))
            .collect();
        let bin_hz = rate / n_fft as f64;
        let bins = n_fft / 2 + 1;
        let mut bands = Vec::with_capacity(MEL_BANDS);
        let mut centres = Vec::with_capacity(MEL_BANDS);
        for w in edges.windows(3) {
            let (lo, mid, hi) = (w[0], w[1], w[2]);
            let first = ((lo / bin_hz).ceil() as usize).min(bins - 1);
            let last = ((hi / bin_hz).floor() as usize).min(bins - 1);
            let mut weights: Vec<f32> = (first..=last)
                .map(|k| {
                    let f = k as f64 * bin_hz;
                    let w = if f <= mid {
                        (f - lo) / (mid - lo)
                    } else {
                        (hi - f) / (hi - mid)
                    };
                    w.max(0.0) as f32
                })
                .collect();
            let (start, weights) = if weights.iter().any(|&w| w > 0.0) {
                (first, std::mem::take(&mut weights))
            } else {
                // A band narrower than a bin: the bin nearest its centre.
                (((mid / bin_hz).round() as usize).min(bins - 1), vec![1.0])
            };
            bands.push((start, weights));
            centres.push(mid);
        }
        Self { bands, centres }
    }

    fn apply(&self, power: &[f32], out: &mut [f32]) {
        for ((start, weights), o) in self.bands.iter().zip(out.iter_mut()) {
            *o = power[*start..]
                .iter()
                .zip(weights)
                .map(|(p, w)| p * w)
                .sum();
        }
    }
}

/// The onset envelope with its moving average taken off, cut at zero and
/// scaled to unit standard deviation; `None` when it is flat (no onsets).
fn normalised_envelope(onset: &[f32], fps: f64) -> Option<Vec<f64>> {
    let n = onset.len();
    let half = ((DETREND_SECONDS * fps / 2.0).round() as usize).max(1);
    let mut prefix = vec![0.0f64; n + 1];
    for (i, &v) in onset.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(v);
    }
    let mut env: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
            let mean = (prefix[b] - prefix[a]) / (b - a) as f64;
            (f64::from(onset[i]) - mean).max(0.0)
        })
        .collect();
    let mean = env.iter().sum::<f64>() / n as f64;
    let var = env.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    if var <= 1e-12 {
        return None;
    }
    let sd = var.sqrt();
    env.iter_mut().for_each(|v| *v /= sd);
    Some(env)
}

/// The onset envelope's autocorrelation and the lags tempi can have.
struct Periodicity {
    /// Autocorrelation of the mean-removed envelope at lags `0..`, each
    /// over the number of products (unbiased).
    ac: Vec<f64>,
    /// Shortest lag considered (fastest tempo), in frames.
    min_lag: usize,
    /// Longest lag considered (slowest tempo), in frames.
    max_lag: usize,
}

impl Periodicity {
    /// `None` when the envelope is too short for the slowest tempo's lag or
    /// has no energy.
    fn new(env: &[f64], fps: f64, options: &TrackOptions) -> Option<Self> {
        let n = env.len();
        let min_lag = ((60.0 * fps / options.max_bpm).floor() as usize).max(1);
        let max_lag = ((60.0 * fps / options.min_bpm).ceil() as usize).min(n.saturating_sub(2));
        if max_lag <= min_lag + 1 {
            return None;
        }
        let mean = env.iter().sum::<f64>() / n as f64;
        let x: Vec<f64> = env.iter().map(|v| v - mean).collect();
        let top = (2 * max_lag + 2).min(n - 1);
        let ac: Vec<f64> = (0..=top)
            .map(|lag| {
                let s: f64 = x[..n - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum();
                s / (n - lag) as f64
            })
            .collect();
        (ac[0] > 0.0).then_some(Self {
            ac,
            min_lag,
            max_lag,
        })
    }

    /// The autocorrelation at `lag`, cut at zero (0 beyond what was computed).
    fn at(&self, lag: usize) -> f64 {
        self.ac.get(lag).copied().unwrap_or(0.0).max(0.0)
    }

    /// The lag of the best tempo: autocorrelation plus half its double's,
    /// weighted by the log-Gaussian prior.
    fn best_lag(&self, fps: f64, options: &TrackOptions) -> usize {
        let score = |lag: usize| {
            let bpm = 60.0 * fps / lag as f64;
            let octaves = (bpm / options.prior_bpm).log2() / options.prior_octaves;
            (-0.5 * octaves * octaves).exp() * (self.at(lag) + 0.5 * self.at(2 * lag))
        };
        (self.min_lag..=self.max_lag)
            .max_by(|&a, &b| score(a).total_cmp(&score(b)))
            .unwrap_or(self.min_lag)
    }

    /// The autocorrelation peak nearest `lag` (within two frames), to a
    /// fraction of a frame; `lag` itself where there is no peak there.
    fn refine(&self, lag: f64) -> f64 {
        let centre = lag.round() as usize;
        let (lo, hi) = (
            centre.saturating_sub(2).max(1),
            (centre + 2).min(self.ac.len() - 2),
        );
        let Some(best) = (lo..=hi).max_by(|&a, &b| self.ac[a].total_cmp(&self.ac[b])) else {
            return lag;
        };
        let (l, c, r) = (self.ac[best - 1], self.ac[best], self.ac[best + 1]);
        let denom = l - 2.0 * c + r;
        if c >= l && c >= r && denom < 0.0 {
            best as f64 + (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
        } else {
            lag
        }
    }

    /// The normalised autocorrelation at `lag`, 0 to 1.
    fn clarity(&self, lag: f64) -> f64 {
        (self.at(lag.round() as usize) / self.ac[0]).clamp(0.0, 1.0)
    }
}

/// The envelope smoothed by a Gaussian of a 32nd of the period.
fn local_score(env: &[f64], period: f64) -> Vec<f64> {
    let sigma = (period / 32.0).max(0.5);
    let radius = (3.0 * sigma).ceil() as usize;
    let kernel: Vec<f64> = (0..=2 * radius)
        .map(|i| {
            let d = i as f64 - radius as f64;
            (-0.5 * (d / sigma).powi(2)).exp()
        })
        .collect();
    let n = env.len();
    (0..n)
        .map(|t| {
            kernel
                .iter()
                .enumerate()
                .filter_map(|(i, k)| {
                    let j = (t + i).checked_sub(radius)?;
                    env.get(j).map(|v| v * k)
                })
                .sum()
        })
        .collect()
}

/// The best beat sequence through `local` at `period` frames (Ellis's
/// dynamic programme), trimmed of weak beats at either end.
fn dp_beats(local: &[f64], period: f64, tightness: f64) -> Vec<usize> {
    let n = local.len();
    let lo = ((period / 2.0).round() as usize).max(1);
    let hi = ((2.0 * period).round() as usize).max(lo);
    let penalty: Vec<f64> = (lo..=hi)
        .map(|d| -tightness * (d as f64 / period).ln().powi(2))
        .collect();
    let mut cum = vec![0.0f64; n];
    let mut back = vec![usize::MAX; n];
    for t in 0..n {
        let mut best = 0.0f64;
        let mut arg = usize::MAX;
        for (d, p) in (lo..=hi.min(t)).zip(&penalty) {
            let v = cum[t - d] + p;
            if v > best {
                best = v;
                arg = t - d;
            }
        }
        cum[t] = local[t] + best;
        back[t] = arg;
    }

    // The last beat: the best cumulative score within the last period
    // (the earliest of equals: past the music, chains carry on through
    // silence at no cost, and trimming drops those beats).
    let tail = n.saturating_sub(period.ceil() as usize);
    let Some(last) = (tail..n).reduce(|best, t| if cum[t] > cum[best] { t } else { best }) else {
        return Vec::new();
    };
    let mut beats = vec![last];
    while let Some(&prev) = back.get(beats[beats.len() - 1]) {
        if prev == usize::MAX {
            break;
        }
        beats.push(prev);
    }
    beats.reverse();
    trim(local, beats)
}

/// Drops beats at either end whose onset strength (smoothed over three
/// beats) is under [`TRIM`] times the RMS of all of them.
fn trim(local: &[f64], beats: Vec<usize>) -> Vec<usize> {
    let raw: Vec<f64> = beats.iter().map(|&t| local[t]).collect();
    let m = raw.len();
    let smooth: Vec<f64> = (0..m)
        .map(|i| {
            let prev = if i > 0 { raw[i - 1] } else { 0.0 };
            let next = raw.get(i + 1).copied().unwrap_or(0.0);
            0.25 * prev + 0.5 * raw[i] + 0.25 * next
        })
        .collect();
    let rms = (smooth.iter().map(|v| v * v).sum::<f64>() / m.max(1) as f64).sqrt();
    let threshold = TRIM * rms;
    let start = smooth.iter().position(|&v| v >= threshold).unwrap_or(m);
    let end = smooth
        .iter()
        .rposition(|&v| v >= threshold)
        .map_or(start, |i| i + 1);
    beats[start..end.max(start)].to_vec()
}

/// How the envelope between the beats compares with it on them: `(mean
/// peak between beats / mean peak on beats, weaker parity of beats / the
/// stronger)`. `(0, 1)`, no reason to change level, for under four beats.
fn sublevel(env: &[f64], beats: &[usize]) -> (f64, f64) {
    if beats.len() < 4 {
        return (0.0, 1.0);
    }
    let peak = |a: usize, b: usize| {
        env[a.min(env.len() - 1)..(b + 1).min(env.len())]
            .iter()
            .fold(0.0f64, |m, &v| m.max(v))
    };
    let at: Vec<f64> = beats
        .iter()
        .map(|&t| peak(t.saturating_sub(1), t + 1))
        .collect();
    let mids: Vec<f64> = beats
        .windows(2)
        .map(|w| {
            let d = (w[1] - w[0]) as f64;
            peak(w[0] + (0.4 * d) as usize, w[0] + (0.72 * d).ceil() as usize)
        })
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let even: Vec<f64> = at.iter().step_by(2).copied().collect();
    let odd: Vec<f64> = at.iter().skip(1).step_by(2).copied().collect();
    let (e, o) = (mean(&even), mean(&odd));
    (
        mean(&mids) / mean(&at).max(1e-9),
        e.min(o) / e.max(o).max(1e-9),
    )
}

/// Sub-frame position of a peak at `t`: the vertex of the parabola through
/// it and its neighbours, within half a frame; 0 where `t` is no peak.
fn peak_offset(y: &[f64], t: usize) -> f64 {
    if t == 0 || t + 1 >= y.len() {
        return 0.0;
    }
    let (l, c, r) = (y[t - 1], y[t], y[t + 1]);
    let denom = l - 2.0 * c + r;
    if c >= l && c >= r && denom < 0.0 {
        (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// Index of the first downbeat among `beats` (frames): the phase whose beats
/// have the most kick-band onset and harmonic change (see the module docs).
fn bar_phase(analysis: &Analysis, beats: &[usize], beats_per_bar: usize) -> usize {
    if beats_per_bar <= 1 || beats.len() < 2 {
        return 0;
    }
    let m = beats.len();
    let kick: Vec<f64> = beats
        .iter()
        .map(|&t| {
            let (a, b) = (t.saturating_sub(1), (t + 2).min(analysis.low_onset.len()));
            analysis.low_onset[a..b]
                .iter()
                .fold(0.0f64, |acc, &v| acc.max(f64::from(v)))
        })
        .collect();
    let change: Vec<f64> = (0..m)
        .map(|i| {
            let before_start = if i > 0 {
                beats[i - 1]
            } else {
                beats[i].saturating_sub(beats[1] - beats[0])
            };
            let after_end = if i + 1 < m {
                beats[i + 1]
            } else {
                beats[i] + (beats[i] - beats[i - 1])
            };
            let before = analysis.harmonic_profile(before_start, beats[i]);
            let after = analysis.harmonic_profile(beats[i], after_end);
            before
                .iter()
                .zip(&after)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
                / before.len().max(1) as f64
        })
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (kick_mean, change_mean) = (mean(&kick).max(1e-9), mean(&change).max(1e-9));
    let score = |phase: usize| {
        let (sum, count) = (phase..m)
            .step_by(beats_per_bar)
            .fold((0.0, 0usize), |(s, c), i| {
                (s + kick[i] / kick_mean + change[i] / change_mean, c + 1)
            });
        if count == 0 {
            f64::MIN
        } else {
            sum / count as f64
        }
    };
    let scores: Vec<f64> = (0..beats_per_bar.min(m)).map(score).collect();
    let best = scores.iter().fold(f64::MIN, |m, &s| m.max(s));
    scores
        .iter()
        .position(|&s| s >= best - PHASE_MARGIN)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_window() {
        assert_eq!(nearest_power_of_two(44_100.0 * WINDOW_SECONDS), 1024);
        assert_eq!(nearest_power_of_two(48_000.0 * WINDOW_SECONDS), 1024);
        assert_eq!(nearest_power_of_two(8_000.0 * WINDOW_SECONDS), 256);
        assert_eq!(nearest_power_of_two(192_000.0 * WINDOW_SECONDS), 4096);
    }

    #[test]
    fn sliding_max_covers_both_sides() {
        let x = [1.0, 5.0, 2.0, 0.0, 0.0, 3.0, 0.0];
        assert_eq!(sliding_max(&x, 1), vec![5.0, 5.0, 5.0, 2.0, 3.0, 3.0, 3.0]);
        assert_eq!(sliding_max(&x, 0), x.to_vec());
        assert_eq!(sliding_max(&x, 10), vec![5.0; 7]);
    }

    #[test]
    fn nearest_beat_prefers_the_earlier_on_a_tie() {
        assert_eq!(nearest_beat(&[100, 200], 150), Some(100));
        assert_eq!(nearest_beat(&[100, 200], 151), Some(200));
        assert_eq!(nearest_beat(&[100, 200], 0), Some(100));
        assert_eq!(nearest_beat(&[100, 200], 900), Some(200));
        assert_eq!(nearest_beat(&[], 900), None);
    }

    #[test]
    fn mel_filters_cover_every_band_at_low_rates() {
        let f = MelFilters::new(256, 8_000.0);
        assert_eq!(f.bands.len(), MEL_BANDS);
        assert!(f.bands.iter().all(|(_, w)| w.iter().any(|&v| v > 0.0)));
    }
}
