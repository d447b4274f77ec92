//! Mixing: gain, sidechain ducking, summing without clipping, and EBU R128
//! loudness measurement and normalisation.
//!
//! Loudness and true peak are measured with the `ebur128` crate (ITU-R
//! BS.1770 K-weighting and gating, 4x oversampled true peak below 96 kHz)
//! using its default channel map: a mono signal counts as one front channel
//! (not as dual mono), stereo as left/right, channel 4 of a 6-channel file is
//! the LFE and is ignored.
//!
//! The peak limiter used by [`sum`] and [`normalize_loudness`] is an offline
//! look-ahead limiter: because it sees the whole buffer it can start reducing
//! gain before a peak with no added latency. Its gain curve is a sliding
//! minimum of the per-frame gain each peak needs, followed by an exponential
//! release and a moving-average ramp; the moving average is over a window no
//! wider than the minimum's, so every peak still gets at least the reduction it
//! needs while the gain never jumps. Channels are linked (one gain per frame).

use rayon::prelude::*;
use thiserror::Error;

use crate::wav::Pcm;

/// Errors from loudness measurement and mixing.
#[derive(Debug, Error)]
pub enum MixError {
    /// Integrated loudness is undefined: no 400 ms gating block is above the
    /// -70 LUFS absolute gate (digital silence, near silence, or a signal
    /// shorter than 400 ms).
    #[error(
        "loudness is undefined for {secs:.3} s of audio: silent, below -70 lufs, or shorter than 400 ms"
    )]
    Silent {
        /// Duration of the measured audio in seconds.
        secs: f64,
    },
    /// The [`Pcm`] is inconsistent (zero rate or channels, partial frame).
    #[error("invalid pcm: {0}")]
    InvalidPcm(String),
    /// The meter rejected the format (e.g. more than 64 channels).
    #[error("cannot measure loudness of {channels} channels at {sample_rate} hz")]
    Meter {
        /// Channel count.
        channels: u16,
        /// Sample rate in Hz.
        sample_rate: u32,
        /// The meter's error.
        #[source]
        source: ebur128::Error,
    },
    /// A loudness target or ceiling that is not a finite number in range.
    #[error("invalid {what}: {value}")]
    InvalidTarget {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Two signals that must share a format do not.
    #[error("format mismatch: background is {background}, sidechain is {sidechain}")]
    FormatMismatch {
        /// Background format, e.g. `48000 hz`.
        background: String,
        /// Sidechain format.
        sidechain: String,
    },
}

/// Converts decibels to a linear amplitude factor (`10^(db/20)`).
pub fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a linear amplitude to decibels (`20·log10(|x|)`); 0 gives
/// negative infinity.
pub fn linear_to_db(linear: f32) -> f32 {
    20.0 * linear.abs().log10()
}

fn db_to_linear_f64(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

fn linear_to_db_f64(linear: f64) -> f64 {
    20.0 * linear.abs().log10()
}

/// Multiplies every sample by the gain `db` (no limiting).
pub fn gain_db(samples: &mut [f32], db: f32) {
    let g = db_to_linear(db);
    samples.iter_mut().for_each(|s| *s *= g);
}

/// Sidechain ducker: lowers a background (music, ambience) while a sidechain
/// (speech) is present, like a compressor keyed from the sidechain.
///
/// The sidechain level is an RMS detector (10 ms time constant). The gain
/// computer reduces the background by `(1 - 1/ratio)` of the amount the level
/// exceeds `threshold_db`, at most `range_db`. The reduction is held for
/// `hold_ms` after it last rose (so short gaps between words don't pump), and
/// is smoothed in dB with one-pole `attack_ms` (reduction growing) and
/// `release_ms` (reduction shrinking) time constants, so the background is
/// never switched abruptly.
#[derive(Debug, Clone, PartialEq)]
pub struct Ducker {
    /// Sidechain level (dBFS RMS) above which ducking starts.
    pub threshold_db: f32,
    /// Compression ratio; values below 1 are treated as 1 (no ducking).
    pub ratio: f32,
    /// Time constant for the reduction to grow, in milliseconds.
    pub attack_ms: f32,
    /// Time constant for the reduction to recede, in milliseconds.
    pub release_ms: f32,
    /// Maximum reduction in dB (positive).
    pub range_db: f32,
    /// How long a reduction is held before release starts, in milliseconds.
    pub hold_ms: f32,
}

impl Default for Ducker {
    /// Voice-over settings: threshold -35 dBFS, ratio 8, attack 15 ms,
    /// release 300 ms, range 15 dB, hold 150 ms.
    fn default() -> Self {
        Ducker {
            threshold_db: -35.0,
            ratio: 8.0,
            attack_ms: 15.0,
            release_ms: 300.0,
            range_db: 15.0,
            hold_ms: 150.0,
        }
    }
}

/// One-pole smoothing coefficient for a time constant in milliseconds
/// (1 = instantaneous).
fn one_pole(ms: f32, sample_rate: u32) -> f32 {
    let n = f64::from(ms.max(0.0)) * 1e-3 * f64::from(sample_rate.max(1));
    if n < 1e-9 {
        1.0
    } else {
        (1.0 - (-1.0 / n).exp()) as f32
    }
}

impl Ducker {
    /// Ducks mono `background` in place, keyed by mono `sidechain` at the
    /// same `sample_rate`. Beyond the end of `sidechain` the key is silence.
    pub fn duck(&self, background: &mut [f32], sidechain: &[f32], sample_rate: u32) {
        let frames = background.len();
        let gains = self.gain_curve(frames, sample_rate, |i| {
            sidechain.get(i).map_or(0.0, |s| s * s)
        });
        for (s, g) in background.iter_mut().zip(gains) {
            *s *= g;
        }
    }

    /// Ducks interleaved `background` in place keyed by `sidechain` (any
    /// channel count; its level is the mean power across channels). Both
    /// must have the same sample rate.
    pub fn duck_pcm(&self, background: &mut Pcm, sidechain: &Pcm) -> Result<(), MixError> {
        check_pcm(background)?;
        check_pcm(sidechain)?;
        if background.sample_rate != sidechain.sample_rate {
            return Err(MixError::FormatMismatch {
                background: format!("{} hz", background.sample_rate),
                sidechain: format!("{} hz", sidechain.sample_rate),
            });
        }
        let sc_ch = usize::from(sidechain.channels);
        let sc_frames = sidechain.frames();
        let inv = 1.0 / sc_ch as f32;
        let gains = self.gain_curve(background.frames(), background.sample_rate, |i| {
            if i < sc_frames {
                sidechain.samples[i * sc_ch..(i + 1) * sc_ch]
                    .iter()
                    .map(|s| s * s)
                    .sum::<f32>()
                    * inv
            } else {
                0.0
            }
        });
        let ch = usize::from(background.channels);
        for (frame, g) in background.samples.chunks_exact_mut(ch).zip(gains) {
            frame.iter_mut().for_each(|s| *s *= g);
        }
        Ok(())
    }

    /// Linear background gain per frame, from the sidechain power per frame.
    fn gain_curve(
        &self,
        frames: usize,
        sample_rate: u32,
        power: impl Fn(usize) -> f32,
    ) -> Vec<f32> {
        let detect = one_pole(10.0, sample_rate);
        let attack = one_pole(self.attack_ms, sample_rate);
        let release = one_pole(self.release_ms, sample_rate);
        let hold = (f64::from(self.hold_ms.max(0.0)) * 1e-3 * f64::from(sample_rate)) as usize;
        let slope = 1.0 - 1.0 / self.ratio.max(1.0);
        let range = self.range_db.max(0.0);
        let mut env = 0.0f32;
        let mut held = 0.0f32;
        let mut hold_left = 0usize;
        let mut reduction = 0.0f32;
        let mut out = Vec::with_capacity(frames);
        for i in 0..frames {
            env += detect * (power(i) - env);
            let level = 10.0 * env.max(1e-20).log10();
            let target = ((level - self.threshold_db).max(0.0) * slope).min(range);
            if target >= held {
                held = target;
                hold_left = hold;
            } else if hold_left > 0 {
                hold_left -= 1;
            } else {
                held = target;
            }
            let coef = if held > reduction { attack } else { release };
            reduction += coef * (held - reduction);
            out.push(db_to_linear(-reduction));
        }
        out
    }
}

/// Default ceiling for [`sum`]: full scale.
pub const SUM_CEILING: f32 = 1.0;

/// Limiter look-ahead used by [`sum`], in samples (1.3 ms at 48 kHz).
const SUM_LOOKAHEAD: usize = 64;
/// Limiter release used by [`sum`], in samples (50 ms at 48 kHz).
const SUM_RELEASE: usize = 2400;

/// Sums `tracks` sample by sample without clipping; see [`sum_with_ceiling`].
/// The output never exceeds full scale (±1.0).
pub fn sum(tracks: &[&[f32]]) -> Vec<f32> {
    sum_with_ceiling(tracks, SUM_CEILING)
}

/// Sums `tracks` sample by sample (the output is as long as the longest
/// track; shorter ones count as silence after their end). If the sum's peak
/// exceeds `ceiling` (clamped to `(0, 1]`), the look-ahead limiter described
/// in the module docs brings it down to `ceiling` with a 64-sample ramp and a
/// 2400-sample release (1.3 ms and 50 ms at 48 kHz); otherwise the sum is
/// returned untouched. Every output sample is within `±ceiling`.
///
/// Tracks are treated as one sample stream each; interleaved tracks with the
/// same layout can be summed too (the limiter then acts per sample rather
/// than per frame).
pub fn sum_with_ceiling(tracks: &[&[f32]], ceiling: f32) -> Vec<f32> {
    let ceiling = if ceiling.is_finite() && ceiling > 0.0 {
        ceiling.min(1.0)
    } else {
        SUM_CEILING
    };
    let len = tracks.iter().map(|t| t.len()).max().unwrap_or(0);
    let mut out = vec![0.0f32; len];
    for t in tracks {
        for (o, s) in out.iter_mut().zip(t.iter()) {
            *o += s;
        }
    }
    let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > ceiling {
        let peaks: Vec<f32> = out.iter().map(|s| s.abs()).collect();
        limit(&mut out, 1, &peaks, ceiling, SUM_LOOKAHEAD, SUM_RELEASE);
    }
    out
}

/// The offline look-ahead limiter. `peaks[f]` is the detector value of frame
/// `f` (sample peak, or an oversampled true-peak estimate); the gain applied
/// to frame `f` is at most `ceiling / peaks[p]` for every `p` within
/// `lookahead` frames. Returns whether any gain reduction happened. Output
/// samples are finally clamped to `±ceiling` against rounding.
fn limit(
    samples: &mut [f32],
    channels: usize,
    peaks: &[f32],
    ceiling: f32,
    lookahead: usize,
    release: usize,
) -> bool {
    let frames = peaks.len();
    let need: Vec<f32> = peaks
        .iter()
        .map(|&p| if p > ceiling { ceiling / p } else { 1.0 })
        .collect();
    if need.iter().all(|&g| g >= 1.0) {
        return false;
    }
    let held = sliding_min(&need, lookahead);
    // Exponential release: never above the held requirement.
    let rel = 1.0 - (-1.0 / release.max(1) as f64).exp();
    let mut smooth = Vec::with_capacity(frames);
    let mut g = 1.0f64;
    for &h in &held {
        g = (g + (1.0 - g) * rel).min(f64::from(h));
        smooth.push(g);
    }
    // Moving average over the same window: for a peak at p every term comes
    // from a frame whose held minimum includes p.
    let mut prefix = Vec::with_capacity(frames + 1);
    prefix.push(0.0f64);
    let mut acc = 0.0f64;
    for &v in &smooth {
        acc += v;
        prefix.push(acc);
    }
    for (f, frame) in samples.chunks_exact_mut(channels).enumerate() {
        let lo = f.saturating_sub(lookahead);
        let hi = (f + lookahead + 1).min(frames);
        let gain = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
        for s in frame {
            *s = (*s * gain).clamp(-ceiling, ceiling);
        }
    }
    true
}

/// Minimum of `v` over the window `[i - radius, i + radius]` for every `i`
/// (monotonic deque, O(n)).
fn sliding_min(v: &[f32], radius: usize) -> Vec<f32> {
    let n = v.len();
    let mut out = Vec::with_capacity(n);
    let mut dq = std::collections::VecDeque::<usize>::new();
    let mut next = 0usize;
    for i in 0..n {
        let hi = (i + radius).min(n - 1);
        while next <= hi {
            while dq.back().is_some_and(|&b| v[b] >= v[next]) {
                dq.pop_back();
            }
            dq.push_back(next);
            next += 1;
        }
        let lo = i.saturating_sub(radius);
        while dq.front().is_some_and(|&f| f < lo) {
            dq.pop_front();
        }
        out.push(dq.front().map_or(1.0, |&f| v[f]));
    }
    out
}

/// Half-width, in input samples, of the interpolation kernels.
const TP_TAPS: usize = 8;

/// Windowed-sinc kernels for the points at 1/4, 2/4, 3/4 between samples.
fn tp_kernels() -> [[f32; 2 * TP_TAPS]; 3] {
    let mut k = [[0.0f32; 2 * TP_TAPS]; 3];
    for (phase, row) in k.iter_mut().enumerate() {
        let t = (phase + 1) as f64 / 4.0;
        for (j, w) in row.iter_mut().enumerate() {
            // Input sample offset relative to n: -(TAPS-1) ..= TAPS.
            let x = t - (j as f64 - (TP_TAPS as f64 - 1.0));
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let u = x / TP_TAPS as f64;
            let window = if u.abs() >= 1.0 {
                0.0
            } else {
                0.5 * (1.0 + (std::f64::consts::PI * u).cos())
            };
            *w = (sinc * window) as f32;
        }
    }
    k
}

/// Per-frame true-peak estimate: the largest magnitude over all channels of
/// the sample itself and the 4x-interpolated points in the intervals on
/// either side of it.
fn true_peak_detector(samples: &[f32], channels: usize) -> Vec<f32> {
    let frames = samples.len() / channels;
    let kernels = tp_kernels();
    let at = |f: isize, c: usize| -> f32 {
        if f < 0 || f as usize >= frames {
            0.0
        } else {
            samples[f as usize * channels + c]
        }
    };
    // Largest interpolated magnitude strictly between frame f and f + 1.
    let between = |f: usize, c: usize| -> f32 {
        let base = f as isize - (TP_TAPS as isize - 1);
        let mut m = 0.0f32;
        for row in &kernels {
            let mut acc = 0.0f32;
            for (j, w) in row.iter().enumerate() {
                acc += w * at(base + j as isize, c);
            }
            m = m.max(acc.abs());
        }
        m
    };
    let inter: Vec<f32> = (0..frames)
        .into_par_iter()
        .with_min_len(4096)
        .map(|f| (0..channels).fold(0.0f32, |m, c| m.max(between(f, c))))
        .collect();
    (0..frames)
        .into_par_iter()
        .with_min_len(4096)
        .map(|f| {
            let own = samples[f * channels..(f + 1) * channels]
                .iter()
                .fold(0.0f32, |m, s| m.max(s.abs()));
            let before = if f > 0 { inter[f - 1] } else { 0.0 };
            own.max(before).max(inter[f])
        })
        .collect()
}

fn check_pcm(pcm: &Pcm) -> Result<(), MixError> {
    pcm.validate()
        .map_err(|e| MixError::InvalidPcm(e.to_string().trim_start_matches("invalid pcm: ").into()))
}

/// Integrated loudness and maximum true peak over all channels.
struct Measurement {
    lufs: f64,
    true_peak_dbtp: f64,
}

fn measure(pcm: &Pcm, mode: ebur128::Mode) -> Result<Measurement, MixError> {
    check_pcm(pcm)?;
    let meter_err = |source| MixError::Meter {
        channels: pcm.channels,
        sample_rate: pcm.sample_rate,
        source,
    };
    let mut meter =
        ebur128::EbuR128::new(u32::from(pcm.channels), pcm.sample_rate, mode).map_err(meter_err)?;
    meter.add_frames_f32(&pcm.samples).map_err(meter_err)?;
    let lufs = if mode.contains(ebur128::Mode::I) {
        meter.loudness_global().map_err(meter_err)?
    } else {
        f64::NEG_INFINITY
    };
    let mut peak = 0.0f64;
    if mode.contains(ebur128::Mode::TRUE_PEAK) {
        for c in 0..u32::from(pcm.channels) {
            peak = peak.max(meter.true_peak(c).map_err(meter_err)?);
        }
    }
    Ok(Measurement {
        lufs,
        true_peak_dbtp: linear_to_db_f64(peak),
    })
}

fn measure_all(pcm: &Pcm) -> Result<Measurement, MixError> {
    measure(pcm, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK)
}

/// Integrated loudness (EBU R128 / BS.1770) in LUFS.
///
/// Silence, near silence and signals shorter than one 400 ms gating block
/// have no defined loudness and give [`MixError::Silent`] rather than
/// negative infinity.
pub fn integrated_loudness(pcm: &Pcm) -> Result<f64, MixError> {
    let lufs = measure(pcm, ebur128::Mode::I)?.lufs;
    if lufs.is_finite() {
        Ok(lufs)
    } else {
        Err(MixError::Silent {
            secs: pcm.duration_secs(),
        })
    }
}

/// Maximum true peak over all channels in dBTP (4x oversampled below
/// 96 kHz). Digital silence gives negative infinity.
pub fn true_peak_dbtp(pcm: &Pcm) -> Result<f64, MixError> {
    Ok(measure(pcm, ebur128::Mode::TRUE_PEAK)?.true_peak_dbtp)
}

/// The EBU R128 reference loudness target, in LUFS.
pub const DEFAULT_TARGET_LUFS: f64 = -23.0;
/// The EBU R128 maximum true peak, in dBTP.
pub const DEFAULT_MAX_TRUE_PEAK_DBTP: f64 = -1.0;

/// What [`normalize_loudness`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoudnessReport {
    /// Integrated loudness before, in LUFS.
    pub before_lufs: f64,
    /// Integrated loudness after, in LUFS.
    pub after_lufs: f64,
    /// Maximum true peak before, in dBTP.
    pub before_true_peak_dbtp: f64,
    /// Maximum true peak after, in dBTP.
    pub after_true_peak_dbtp: f64,
    /// Gain applied before the limiter, in dB.
    pub gain_db: f64,
    /// Whether the true-peak limiter had to act.
    pub limited: bool,
    /// Whether the result is within ±1 LU of the target. It can fail only
    /// on the limiter path, for material already so dense (low
    /// peak-to-loudness ratio) that limiting cannot make it louder.
    pub target_met: bool,
}

/// Largest extra gain the limiter path may add over the plain gain, in dB.
const MAX_EXTRA_GAIN_DB: f64 = 12.0;
/// Below this many LU per dB of extra gain, the limiter path stops pushing.
const MIN_SLOPE: f64 = 0.25;
/// Iterations of the limiter path.
const MAX_ITERATIONS: usize = 12;
/// Loudness tolerance the limiter path iterates to, in LU.
const LOUDNESS_TOLERANCE: f64 = 0.1;

/// Normalises `pcm` to `target_lufs` integrated loudness (EBU R128:
/// [`DEFAULT_TARGET_LUFS`]) with its true peak at most `max_true_peak_dbtp`
/// ([`DEFAULT_MAX_TRUE_PEAK_DBTP`]).
///
/// If the plain gain keeps the true peak under the ceiling, only the gain is
/// applied. Otherwise the target is met with a true-peak-aware limiter (the
/// offline look-ahead limiter of the module docs, 1.5 ms ramp, 50 ms release,
/// driven by a 4x windowed-sinc intersample peak detector) rather than by
/// giving up loudness: the pre-gain is raised to make up for what limiting
/// takes away (at most 12 dB more), and each attempt is re-measured with the
/// meter, lowering the limiter's ceiling if the measured true peak is still
/// over. Speech and music with ordinary dynamics end within ±0.1 LU of the
/// target. Material that is already dense (peak-to-loudness ratio close to
/// what the target and ceiling allow) barely gets louder under a
/// transparent limiter; once extra gain buys less than 0.25 LU per dB the
/// search stops with the closest attempt rather than riding the gain up, so
/// such material can end short of the target: [`LoudnessReport::target_met`]
/// says whether it is within ±1 LU. The true-peak ceiling is always honoured;
/// if the limiter cannot reach it, the whole signal is turned down until it
/// does.
///
/// Silence (or audio shorter than 400 ms) gives [`MixError::Silent`] and
/// leaves `pcm` untouched, as does any other error.
pub fn normalize_loudness(
    pcm: &mut Pcm,
    target_lufs: f64,
    max_true_peak_dbtp: f64,
) -> Result<LoudnessReport, MixError> {
    if !target_lufs.is_finite() || !(-70.0..=0.0).contains(&target_lufs) {
        return Err(MixError::InvalidTarget {
            what: "loudness target (lufs)",
            value: target_lufs,
        });
    }
    if !max_true_peak_dbtp.is_finite() || !(-60.0..=0.0).contains(&max_true_peak_dbtp) {
        return Err(MixError::InvalidTarget {
            what: "true-peak ceiling (dbtp)",
            value: max_true_peak_dbtp,
        });
    }
    let before = measure_all(pcm)?;
    if !before.lufs.is_finite() {
        return Err(MixError::Silent {
            secs: pcm.duration_secs(),
        });
    }
    let base_gain = target_lufs - before.lufs;
    let report = |after: &Measurement, gain_db: f64, limited: bool| LoudnessReport {
        before_lufs: before.lufs,
        after_lufs: after.lufs,
        before_true_peak_dbtp: before.true_peak_dbtp,
        after_true_peak_dbtp: after.true_peak_dbtp,
        gain_db,
        limited,
        target_met: (after.lufs - target_lufs).abs() <= 1.0,
    };

    // Small margin for f32 rounding of the gained samples.
    if before.true_peak_dbtp + base_gain <= max_true_peak_dbtp - 0.01 {
        scale(&mut pcm.samples, base_gain);
        let after = measure_all(pcm)?;
        return Ok(report(&after, base_gain, false));
    }

    let (samples, after, gain) = limit_to_target(pcm, base_gain, target_lufs, max_true_peak_dbtp)?;
    pcm.samples = samples;
    Ok(report(&after, gain, true))
}

/// The limiter path of [`normalize_loudness`]: returns the new samples, their
/// measurement and the pre-gain used. `pcm` itself is not modified.
fn limit_to_target(
    pcm: &Pcm,
    base_gain: f64,
    target_lufs: f64,
    max_true_peak_dbtp: f64,
) -> Result<(Vec<f32>, Measurement, f64), MixError> {
    let channels = usize::from(pcm.channels);
    let lookahead = ((1.5e-3 * f64::from(pcm.sample_rate)).round() as usize).max(1);
    let release = ((50e-3 * f64::from(pcm.sample_rate)).round() as usize).max(1);
    let original = &pcm.samples;
    let detector = true_peak_detector(original, channels);
    let with_samples = |samples: Vec<f32>| Pcm {
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        samples,
    };

    let mut gain = base_gain;
    // Start a little under the ceiling: the detector and the meter
    // interpolate differently.
    let mut ceiling_db = max_true_peak_dbtp - 0.2;
    let mut best: Option<(Vec<f32>, Measurement, f64)> = None;
    // (gain, loudness) of the previous try that met the ceiling.
    let mut last: Option<(f64, f64)> = None;
    for _ in 0..MAX_ITERATIONS {
        let g = db_to_linear_f64(gain) as f32;
        let mut out: Vec<f32> = original.iter().map(|s| s * g).collect();
        let peaks: Vec<f32> = detector.iter().map(|p| p * g).collect();
        limit(
            &mut out,
            channels,
            &peaks,
            db_to_linear_f64(ceiling_db) as f32,
            lookahead,
            release,
        );
        let trial = with_samples(out);
        let m = measure_all(&trial)?;
        if m.true_peak_dbtp > max_true_peak_dbtp {
            ceiling_db -= m.true_peak_dbtp - max_true_peak_dbtp + 0.05;
            continue;
        }
        let error = target_lufs - m.lufs;
        // Loudness grows more slowly than gain under limiting: measure the
        // secant slope (LU per dB) against the previous try.
        let slope = last
            .filter(|(g0, _)| (gain - g0).abs() > 1e-6)
            .map(|(g0, l0)| (m.lufs - l0) / (gain - g0));
        last = Some((gain, m.lufs));
        let better = best
            .as_ref()
            .is_none_or(|(_, b, _)| (target_lufs - b.lufs).abs() > error.abs());
        if better {
            best = Some((trial.samples, m, gain));
        }
        if error.abs() <= LOUDNESS_TOLERANCE {
            break;
        }
        // When more gain hardly buys loudness the limiter has turned into
        // slow gain riding: stop with the closest try.
        if slope.is_some_and(|s| s < MIN_SLOPE) {
            break;
        }
        let step = error / slope.unwrap_or(1.0).clamp(MIN_SLOPE, 1.0);
        let next = (gain + step).min(base_gain + MAX_EXTRA_GAIN_DB);
        if (next - gain).abs() < 1e-3 {
            break;
        }
        gain = next;
    }
    if let Some(best) = best {
        return Ok(best);
    }
    // The limiter never got under the ceiling: plain gain, then turn the
    // whole signal down to the ceiling (true peak scales with gain).
    let g = db_to_linear_f64(base_gain) as f32;
    let plain = with_samples(original.iter().map(|s| s * g).collect());
    let m = measure_all(&plain)?;
    let down = max_true_peak_dbtp - 0.01 - m.true_peak_dbtp;
    let mut samples = plain.samples;
    scale(&mut samples, down);
    let trial = with_samples(samples);
    let m = measure_all(&trial)?;
    Ok((trial.samples, m, base_gain + down))
}

/// Multiplies by `db` decibels, computing the factor in f64.
fn scale(samples: &mut [f32], db: f64) {
    let g = db_to_linear_f64(db) as f32;
    samples.iter_mut().for_each(|s| *s *= g);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn sine(freq: f64, amp: f32, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(RATE)) as usize;
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(RATE)).sin() as f32
            })
            .collect()
    }

    fn mono(samples: Vec<f32>) -> Pcm {
        Pcm {
            sample_rate: RATE,
            channels: 1,
            samples,
        }
    }

    /// Deterministic uniform noise in [-1, 1).
    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (f64::from(x) / 2_147_483_648.0 - 1.0) as f32
            })
            .collect()
    }

    fn rms_db(s: &[f32]) -> f32 {
        let ms = s.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>() / s.len() as f64;
        (10.0 * ms.log10()) as f32
    }

    /// Checks that the gain `output / input` changes by less than `step`
    /// between neighbouring samples whose input magnitude is in
    /// `(floor, 1)` (so the ratio is well defined).
    fn assert_smooth(input: &[f32], output: &[f32], floor: f32, step: f32) {
        let gain = |i: usize| {
            let x = input[i];
            (x.abs() > floor && x.abs() < 1.0).then(|| output[i] / x)
        };
        for i in 1..input.len() {
            if let (Some(a), Some(b)) = (gain(i - 1), gain(i)) {
                assert!((a - b).abs() < step, "sample {i}: gain {a} -> {b}");
            }
        }
    }

    #[test]
    fn db_conversions() {
        assert!((db_to_linear(-6.0206) - 0.5).abs() < 1e-4);
        assert!((linear_to_db(0.1) + 20.0).abs() < 1e-4);
        assert_eq!(linear_to_db(0.0), f32::NEG_INFINITY);
        let mut s = vec![0.5, -0.25];
        gain_db(&mut s, 6.0206);
        assert!((s[0] - 1.0).abs() < 1e-4 && (s[1] + 0.5).abs() < 1e-4);
    }

    #[test]
    fn quiet_sine_normalizes_to_minus_23() {
        let mut pcm = mono(sine(1000.0, db_to_linear(-30.0), 5.0));
        let before = integrated_loudness(&pcm).unwrap();
        // A 1 kHz sine on one channel measures about 3 dB under its peak.
        assert!((before + 33.0).abs() < 1.0, "{before}");
        let report =
            normalize_loudness(&mut pcm, DEFAULT_TARGET_LUFS, DEFAULT_MAX_TRUE_PEAK_DBTP).unwrap();
        let after = integrated_loudness(&pcm).unwrap();
        let tp = true_peak_dbtp(&pcm).unwrap();
        eprintln!("sine: {report:?}");
        assert!((after + 23.0).abs() <= 1.0, "{after}");
        assert!(tp <= -1.0, "{tp}");
        assert!((report.after_lufs - after).abs() < 1e-9);
        assert!(!report.limited && report.target_met);
    }

    #[test]
    fn hot_signal_normalizes_to_minus_14_with_limiting() {
        // Noise at about -20 dBFS RMS with full-scale transients: reaching
        // -14 LUFS needs gain that would push the transients over 0 dBTP.
        let mut s: Vec<f32> = noise(RATE as usize * 8, 7)
            .iter()
            .map(|x| x * 0.17)
            .collect();
        for (k, i) in (0..s.len()).step_by(RATE as usize / 3).enumerate() {
            for j in 0..48 {
                if let Some(x) = s.get_mut(i + j) {
                    *x = if (k + j / 12) % 2 == 0 { 0.99 } else { -0.99 };
                }
            }
        }
        let mut pcm = mono(s);
        let before_tp = true_peak_dbtp(&pcm).unwrap();
        assert!(before_tp > -0.5, "{before_tp}");
        let report = normalize_loudness(&mut pcm, -14.0, -1.0).unwrap();
        eprintln!("hot: {report:?}");
        let after = integrated_loudness(&pcm).unwrap();
        let tp = true_peak_dbtp(&pcm).unwrap();
        assert!(report.limited);
        assert!((after + 14.0).abs() <= 1.0, "{after}");
        assert!(tp <= -1.0, "{tp}");
        assert!(report.target_met);
    }

    #[test]
    fn square_wave_normalizes_to_minus_14() {
        // A square-ish wave with peaks at full scale, in stereo.
        let one = sine(220.0, 1.0, 4.0);
        let mut samples = Vec::with_capacity(one.len() * 2);
        for x in one {
            let sq = (4.0 * x).tanh();
            samples.push(sq);
            samples.push(sq * 0.9);
        }
        let mut pcm = Pcm {
            sample_rate: RATE,
            channels: 2,
            samples,
        };
        let report = normalize_loudness(&mut pcm, -14.0, -1.0).unwrap();
        eprintln!("square: {report:?}");
        let after = integrated_loudness(&pcm).unwrap();
        assert!((after + 14.0).abs() <= 1.0, "{after}");
        assert!(true_peak_dbtp(&pcm).unwrap() <= -1.0);
    }

    #[test]
    fn music_pushed_loud_is_met_by_limiting() {
        // Music-like: decaying chords every 500 ms with kick and hi-hat
        // transients, peaks at full scale, pushed 5 LU louder than it is,
        // which needs several dB of limiting.
        let n = RATE as usize * 6;
        let hat = noise(n, 5);
        let mut s = vec![0.0f32; n];
        for (i, x) in s.iter_mut().enumerate() {
            let t = i as f64 / f64::from(RATE);
            let local = t % 0.5;
            let tone: f64 = [110.0, 165.0, 220.0, 330.0]
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum::<f64>()
                * 0.12
                * (-local / 0.3).exp();
            let kick =
                0.9 * (2.0 * std::f64::consts::PI * 60.0 * local).sin() * (-local / 0.03).exp();
            let hat_t = t % 0.25;
            let hat = 0.3 * f64::from(hat[i]) * (-hat_t / 0.01).exp();
            *x = (tone + kick + hat) as f32;
        }
        let peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        s.iter_mut().for_each(|x| *x /= peak);
        let mut pcm = mono(s);
        let target = integrated_loudness(&pcm).unwrap() + 5.0;
        let report = normalize_loudness(&mut pcm, target, -1.0).unwrap();
        eprintln!("music: target {target} {report:?}");
        assert!(report.limited);
        let after = integrated_loudness(&pcm).unwrap();
        assert!((after - target).abs() <= 1.0, "{after} vs {target}");
        assert!(true_peak_dbtp(&pcm).unwrap() <= -1.0);
    }

    #[test]
    fn dense_signal_does_not_ride_the_gain() {
        // Chords plus loud noise, peaks at full scale: already about -7
        // LUFS, so a transparent limiter cannot make it much louder.
        let n = RATE as usize * 4;
        let a = sine(110.0, 0.3, 4.0);
        let b = sine(330.0, 0.2, 4.0);
        let nz = noise(n, 99);
        let mut s: Vec<f32> = (0..n).map(|i| a[i] + b[i] + 0.2 * nz[i]).collect();
        let peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        s.iter_mut().for_each(|x| *x /= peak);
        let mut pcm = mono(s);
        let report = normalize_loudness(&mut pcm, -6.0, -1.0).unwrap();
        eprintln!("dense: {report:?}");
        assert!(report.limited);
        assert!(report.gain_db < report.before_true_peak_dbtp.abs() + 6.0);
        let after = integrated_loudness(&pcm).unwrap();
        assert_eq!(report.target_met, (after + 6.0).abs() <= 1.0);
        assert!(true_peak_dbtp(&pcm).unwrap() <= -1.0);
    }

    #[test]
    fn silence_has_no_loudness() {
        let mut pcm = mono(vec![0.0; RATE as usize * 2]);
        assert!(matches!(
            integrated_loudness(&pcm),
            Err(MixError::Silent { .. })
        ));
        assert_eq!(true_peak_dbtp(&pcm).unwrap(), f64::NEG_INFINITY);
        let err = normalize_loudness(&mut pcm, -23.0, -1.0).unwrap_err();
        assert!(err.to_string().contains("silent"), "{err}");
        assert!(pcm.samples.iter().all(|s| *s == 0.0));
        // Shorter than a gating block.
        let short = mono(sine(1000.0, 0.5, 0.2));
        assert!(matches!(
            integrated_loudness(&short),
            Err(MixError::Silent { .. })
        ));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let mut pcm = mono(sine(1000.0, 0.1, 1.0));
        assert!(normalize_loudness(&mut pcm, f64::NAN, -1.0).is_err());
        assert!(normalize_loudness(&mut pcm, -23.0, 3.0).is_err());
        let bad = Pcm {
            sample_rate: 0,
            channels: 1,
            samples: vec![0.0; 10],
        };
        let msg = integrated_loudness(&bad).unwrap_err().to_string();
        assert!(msg.contains("sample rate 0"), "{msg}");
    }

    #[test]
    fn summing_full_scale_signals_never_clips() {
        let a = sine(440.0, 1.0, 1.0);
        let b = sine(440.0, 1.0, 0.5);
        let c: Vec<f32> = noise(RATE as usize, 3);
        let out = sum(&[&a, &b, &c]);
        assert_eq!(out.len(), a.len());
        let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak <= 1.0, "{peak}");
        assert!(peak > 0.9, "{peak}");
        // Two full-scale square waves in phase.
        let sq: Vec<f32> = (0..4800)
            .map(|i| if i % 100 < 50 { 1.0 } else { -1.0 })
            .collect();
        let out = sum(&[&sq, &sq]);
        assert!(out.iter().all(|x| x.abs() <= 1.0));
        // Quiet sums are untouched.
        let q = sine(440.0, 0.25, 0.1);
        assert_eq!(
            sum(&[&q, &q]),
            q.iter().map(|x| x * 2.0).collect::<Vec<_>>()
        );
        assert!(sum(&[]).is_empty());
        let out = sum_with_ceiling(&[&a, &a], db_to_linear(-6.0));
        assert!(out.iter().all(|x| x.abs() <= db_to_linear(-6.0)));
    }

    #[test]
    fn limiter_gain_is_smooth() {
        // One huge spike inside a steady tone: the gain ramps, never steps.
        let mut s = sine(100.0, 0.5, 0.5);
        s[12_000] = 4.0;
        let out = sum(&[&s]);
        assert!(out[12_000].abs() <= 1.0);
        assert_smooth(&s, &out, 0.2, 0.02);
    }

    #[test]
    fn ducking_lowers_background_under_speech_and_recovers() {
        let rate = RATE as usize;
        let mut background = sine(200.0, db_to_linear(-20.0), 5.0);
        let original = background.clone();
        // Sidechain: silent 0-1 s, a loud "voice" 1-2 s, then silent.
        let mut sidechain = vec![0.0f32; rate];
        sidechain.extend(sine(300.0, db_to_linear(-12.0), 1.0));
        sidechain.extend(vec![0.0f32; rate]);
        Ducker::default().duck(&mut background, &sidechain, RATE);

        let window = |v: &[f32], a: f64, b: f64| {
            rms_db(&v[(a * rate as f64) as usize..(b * rate as f64) as usize])
        };
        let before = window(&background, 0.2, 0.9) - window(&original, 0.2, 0.9);
        let during = window(&background, 1.3, 1.95) - window(&original, 1.3, 1.95);
        let after = window(&background, 4.0, 5.0) - window(&original, 4.0, 5.0);
        eprintln!("duck: before {before} during {during} after {after}");
        assert!(before.abs() < 0.1, "{before}");
        assert!(during <= -6.0, "{during}");
        assert!(during >= -15.5, "range exceeded: {during}");
        assert!(after.abs() < 0.5, "{after}");
        // The gain never jumps.
        assert_smooth(&original, &background, 0.05, 0.01);
    }

    #[test]
    fn ducking_pcm_checks_rates_and_handles_stereo() {
        let mut bg = Pcm {
            sample_rate: RATE,
            channels: 2,
            samples: vec![0.1; RATE as usize * 2],
        };
        let sc = mono(sine(300.0, 0.5, 1.0));
        Ducker::default().duck_pcm(&mut bg, &sc).unwrap();
        let mid = &bg.samples[RATE as usize..RATE as usize + 2];
        assert!(mid[0] < 0.05 && (mid[0] - mid[1]).abs() < 1e-7);
        let other = Pcm {
            sample_rate: 44_100,
            ..sc.clone()
        };
        let msg = Ducker::default()
            .duck_pcm(&mut bg, &other)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("44100"), "{msg}");
    }
}
