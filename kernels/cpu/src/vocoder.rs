//! Mel spectrograms back to audio: the spectrogram neural vocoders
//! (HiFi-GAN class) take, and Griffin-Lim, the vocoder that is always there.
//!
//! A [`MelSpec`] says how a vocoder's mels are made: a centred Hann STFT
//! (reflect padding) of `n_fft` points every `hop` samples, its magnitude
//! through Slaney mel filters from `fmin` to `fmax`, and the natural log of
//! that clamped at 1e-5 — HiFi-GAN's recipe, so a mel made here is what a
//! HiFi-GAN-class model trained with the same numbers expects. A spectrogram
//! of `frames` columns becomes `frames × hop` samples.
//!
//! [`griffin_lim`] inverts one without a model. The mel filters lose
//! detail, so it first finds the non-negative linear magnitude whose mel is
//! closest to the given one (multiplicative updates, as in NMF), then
//! recovers a phase by Griffin-Lim's alternating projections with
//! Perraudin et al.'s momentum ("fast Griffin-Lim", 2013). It sounds
//! phasey next to a neural vocoder, but it needs nothing installed.

use std::f64::consts::PI;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::mel::{slaney_filters, support};

/// How a vocoder's mel spectrogram is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MelSpec {
    /// Audio samples per second.
    pub sample_rate: u32,
    /// STFT size (and Hann window length).
    pub n_fft: usize,
    /// Samples between frames.
    pub hop: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Lowest filter edge, Hz.
    pub fmin: f64,
    /// Highest filter edge, Hz.
    pub fmax: f64,
}

impl Default for MelSpec {
    /// HiFi-GAN's published 22.05 kHz configuration (LJ Speech, V1-V3).
    fn default() -> Self {
        Self {
            sample_rate: 22_050,
            n_fft: 1024,
            hop: 256,
            n_mels: 80,
            fmin: 0.0,
            fmax: 8000.0,
        }
    }
}

/// The floor under mel energies before the log.
const FLOOR: f32 = 1e-5;

/// A log-mel spectrogram: `n_mels` rows of `frames` values (row-major, the
/// `[n_mels, frames]` layout vocoders take).
#[derive(Debug, Clone, PartialEq)]
pub struct Mel {
    /// Mel bands (rows).
    pub n_mels: usize,
    /// Columns.
    pub frames: usize,
    /// `n_mels × frames` natural-log energies.
    pub data: Vec<f32>,
}

/// Why a spectrogram can't be vocoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The spec is unusable.
    #[error("mel spec: {0}")]
    Spec(String),
    /// The mel's shape doesn't fit the spec or its data.
    #[error("mel spectrogram: {0}")]
    Shape(String),
}

impl MelSpec {
    /// Checks the numbers make a spectrogram.
    pub fn validate(&self) -> Result<(), Error> {
        let nyquist = f64::from(self.sample_rate) / 2.0;
        let problem = if self.sample_rate == 0 {
            Some("sample_rate must be positive".to_owned())
        } else if self.n_fft < 16 || !self.n_fft.is_multiple_of(2) {
            Some(format!("n_fft {} must be even and at least 16", self.n_fft))
        } else if self.hop == 0 || self.hop > self.n_fft / 2 {
            Some(format!(
                "hop {} must be in 1..={}",
                self.hop,
                self.n_fft / 2
            ))
        } else if self.n_mels == 0 || self.n_mels > self.n_fft / 2 {
            Some(format!(
                "n_mels {} must be in 1..={}",
                self.n_mels,
                self.n_fft / 2
            ))
        } else if !(0.0 <= self.fmin && self.fmin < self.fmax && self.fmax <= nyquist) {
            Some(format!(
                "need 0 <= fmin ({}) < fmax ({}) <= {nyquist} Hz",
                self.fmin, self.fmax
            ))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(Error::Spec(p)))
    }

    fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// The log-mel spectrogram of mono `audio` at this spec's rate:
    /// `1 + len / hop` frames.
    pub fn analyse(&self, audio: &[f32]) -> Result<Mel, Error> {
        self.validate()?;
        let filters = Filters::new(self);
        let mut stft = Stft::new(self);
        let frames = 1 + audio.len() / self.hop;
        let mut data = vec![0f32; self.n_mels * frames];
        let mut magnitude = vec![0f32; self.bins()];
        let pad = (self.n_fft / 2) as isize;
        for frame in 0..frames {
            let start = (frame * self.hop) as isize - pad;
            for (i, x) in stft.time.iter_mut().enumerate() {
                *x = reflected(audio, start + i as isize) * stft.window[i];
            }
            stft.forward();
            for (m, c) in magnitude.iter_mut().zip(&stft.spectrum) {
                *m = c.norm();
            }
            for band in 0..self.n_mels {
                let e = filters.apply(band, &magnitude);
                data[band * frames + frame] = e.max(FLOOR).ln();
            }
        }
        Ok(Mel {
            n_mels: self.n_mels,
            frames,
            data,
        })
    }
}

impl Mel {
    /// Checks the shape against `spec` and the data's length.
    pub fn check(&self, spec: &MelSpec) -> Result<(), Error> {
        if self.n_mels != spec.n_mels {
            return Err(Error::Shape(format!(
                "{} mel bands, the vocoder takes {}",
                self.n_mels, spec.n_mels
            )));
        }
        if self.frames == 0 {
            return Err(Error::Shape("no frames".into()));
        }
        if self.data.len() != self.n_mels * self.frames {
            return Err(Error::Shape(format!(
                "{} values for {} × {}",
                self.data.len(),
                self.n_mels,
                self.frames
            )));
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Shape(format!(
                "value {i} (band {}, frame {}) is not finite",
                i / self.frames,
                i % self.frames
            )));
        }
        Ok(())
    }
}

/// The mel filters with the range of bins each covers.
struct Filters {
    bins: usize,
    weights: Vec<f32>,
    supports: Vec<(usize, usize)>,
}

impl Filters {
    fn new(spec: &MelSpec) -> Self {
        let bins = spec.bins();
        let weights = slaney_filters(
            spec.sample_rate,
            spec.n_fft,
            spec.n_mels,
            spec.fmin,
            spec.fmax,
        );
        let supports = weights.chunks_exact(bins).map(support).collect();
        Self {
            bins,
            weights,
            supports,
        }
    }

    /// Band `band`'s energy in a magnitude spectrum.
    fn apply(&self, band: usize, magnitude: &[f32]) -> f32 {
        let (first, last) = self.supports[band];
        let row = &self.weights[band * self.bins..(band + 1) * self.bins];
        (first..last).map(|k| row[k] * magnitude[k]).sum()
    }

    /// Adds `scale ×` band `band`'s filter to `out` (the transpose).
    fn spread(&self, band: usize, scale: f32, out: &mut [f32]) {
        let (first, last) = self.supports[band];
        let row = &self.weights[band * self.bins..(band + 1) * self.bins];
        for k in first..last {
            out[k] += row[k] * scale;
        }
    }
}

/// One frame's forward and inverse transforms, with their buffers.
struct Stft {
    window: Vec<f32>,
    forward: std::sync::Arc<dyn RealToComplex<f32>>,
    inverse: std::sync::Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl Stft {
    fn new(spec: &MelSpec) -> Self {
        let n = spec.n_fft;
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Self {
            // Periodic Hann, as torch.hann_window makes it.
            window: (0..n)
                .map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()) as f32)
                .collect(),
            time: forward.make_input_vec(),
            spectrum: forward.make_output_vec(),
            scratch: vec![Complex::default(); scratch_len],
            forward,
            inverse,
        }
    }

    fn forward(&mut self) {
        // The buffers are sized by the plan, so the transform cannot fail.
        let _ = self.forward.process_with_scratch(
            &mut self.time,
            &mut self.spectrum,
            &mut self.scratch,
        );
    }

    fn inverse(&mut self) {
        // A real signal's spectrum has real DC and Nyquist bins; the
        // inverse refuses anything else.
        let last = self.spectrum.len() - 1;
        self.spectrum[0].im = 0.0;
        self.spectrum[last].im = 0.0;
        let _ = self.inverse.process_with_scratch(
            &mut self.spectrum,
            &mut self.time,
            &mut self.scratch,
        );
    }
}

/// `signal[i]`, reflected at both ends (zero for a signal too short to reflect).
pub(crate) fn reflected(signal: &[f32], i: isize) -> f32 {
    let n = signal.len() as isize;
    if n < 2 {
        return 0.0;
    }
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    signal[i as usize]
}

/// The non-negative linear magnitudes (`frames × bins`, frame-major) whose
/// mels best match `mel`: multiplicative updates `S ← S·(Mᵀy)/(MᵀMS)`,
/// which keep `S ≥ 0` and never increase the squared error.
fn linear_magnitudes(mel: &Mel, filters: &Filters, iterations: usize) -> Vec<f32> {
    let (bins, bands, frames) = (filters.bins, mel.n_mels, mel.frames);
    let mut out = vec![0f32; frames * bins];
    let mut target = vec![0f32; bins];
    let mut estimate_mel = vec![0f32; bands];
    let mut back = vec![0f32; bins];
    for frame in 0..frames {
        let energies: Vec<f32> = (0..bands)
            .map(|b| mel.data[b * frames + frame].exp())
            .collect();
        target.fill(0.0);
        for (band, &e) in energies.iter().enumerate() {
            filters.spread(band, e, &mut target);
        }
        let s = &mut out[frame * bins..(frame + 1) * bins];
        s.copy_from_slice(&target);
        for _ in 0..iterations {
            for (band, m) in estimate_mel.iter_mut().enumerate() {
                *m = filters.apply(band, s);
            }
            back.fill(0.0);
            for (band, &m) in estimate_mel.iter().enumerate() {
                filters.spread(band, m, &mut back);
            }
            for ((v, &t), &b) in s.iter_mut().zip(&target).zip(&back) {
                *v *= t / (b + 1e-12);
            }
        }
    }
    out
}

/// Audio for `mel` by Griffin-Lim with `iterations` rounds (32 is usual):
/// `mel.frames × spec.hop` samples at `spec.sample_rate`, deterministic.
pub fn griffin_lim(mel: &Mel, spec: &MelSpec, iterations: usize) -> Result<Vec<f32>, Error> {
    spec.validate()?;
    mel.check(spec)?;
    let filters = Filters::new(spec);
    let magnitudes = linear_magnitudes(mel, &filters, 30);
    let (n, hop, bins, frames) = (spec.n_fft, spec.hop, spec.bins(), mel.frames);
    let pad = n / 2;
    let mut stft = Stft::new(spec);

    // The overlap-added window², to undo the synthesis window's gain.
    let span = (frames - 1) * hop + n;
    let mut norm = vec![0f32; span];
    for f in 0..frames {
        for (i, w) in stft.window.iter().enumerate() {
            norm[f * hop + i] += w * w;
        }
    }

    // A seeded starting phase: zero phase makes every frame's pulse line up.
    let phase0 = crate::diffusion::noise(0x6b69_6e6f, frames * bins);
    let mut spectra: Vec<Complex<f32>> = magnitudes
        .iter()
        .zip(&phase0)
        .map(|(&m, &p)| Complex::from_polar(m, p * std::f32::consts::PI))
        .collect();
    let mut previous = spectra.clone();
    let mut signal = vec![0f32; span];
    let momentum = 0.99f32;
    for round in 0..=iterations {
        // Inverse STFT: window and overlap-add each frame.
        signal.fill(0.0);
        for f in 0..frames {
            stft.spectrum
                .copy_from_slice(&spectra[f * bins..(f + 1) * bins]);
            stft.inverse();
            for (i, (&x, &w)) in stft.time.iter().zip(&stft.window).enumerate() {
                signal[f * hop + i] += x * w / n as f32;
            }
        }
        for (s, &w) in signal.iter_mut().zip(&norm) {
            *s /= w.max(1e-8);
        }
        if round == iterations {
            break;
        }
        // Forward STFT of that signal; keep its phase, not its magnitude.
        for f in 0..frames {
            for (i, x) in stft.time.iter_mut().enumerate() {
                *x = signal[f * hop + i] * stft.window[i];
            }
            stft.forward();
            let range = f * bins..(f + 1) * bins;
            for ((c, prev), (&m, &got)) in spectra[range.clone()]
                .iter_mut()
                .zip(&mut previous[range.clone()])
                .zip(magnitudes[range].iter().zip(&stft.spectrum))
            {
                // Fast Griffin-Lim: step past the projection by `momentum`
                // times the last move, then put the magnitude back.
                let accelerated = got + (got - *prev) * momentum;
                *prev = got;
                let norm = accelerated.norm();
                *c = if norm > 0.0 {
                    accelerated * (m / norm)
                } else {
                    Complex::new(m, 0.0)
                };
            }
        }
    }
    // Drop the centring pad; the last frame's hop comes from its window's tail.
    Ok(signal[pad..pad + frames * hop].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(spec: &MelSpec, hz: &[f32], seconds: f32) -> Vec<f32> {
        let rate = spec.sample_rate as f32;
        (0..(rate * seconds) as usize)
            .map(|i| {
                hz.iter()
                    .map(|f| 0.3 * (2.0 * std::f32::consts::PI * f * i as f32 / rate).sin())
                    .sum()
            })
            .collect()
    }

    /// How far `audio`'s spectrogram is from `mel`, relative to `mel`'s
    /// size (linear energies).
    fn mel_distance(spec: &MelSpec, audio: &[f32], mel: &Mel) -> f32 {
        let again = spec.analyse(audio).expect("ok");
        let frames = mel.frames.min(again.frames);
        let (mut diff, mut size) = (0f32, 0f32);
        for b in 0..mel.n_mels {
            for t in 0..frames {
                let want = mel.data[b * mel.frames + t].exp();
                let got = again.data[b * again.frames + t].exp();
                diff += (want - got).powi(2);
                size += want * want;
            }
        }
        (diff / size).sqrt()
    }

    #[test]
    fn analysis_lights_the_bands_of_a_tone() {
        let spec = MelSpec::default();
        let mel = spec.analyse(&tone(&spec, &[440.0], 0.5)).expect("ok");
        assert_eq!(mel.frames, 1 + 11_025 / 256);
        let mid = mel.frames / 2;
        let column: Vec<f32> = (0..spec.n_mels)
            .map(|b| mel.data[b * mel.frames + mid])
            .collect();
        let loudest = (0..spec.n_mels)
            .max_by(|&a, &b| column[a].total_cmp(&column[b]))
            .expect("ok");
        // 440 Hz is mel 6.6 on the Slaney scale; band k's centre is at
        // (k + 1) × (mel(8 kHz) / 81).
        let centre =
            |k: usize| crate::mel::mel_to_hz((k + 1) as f64 * crate::mel::hz_to_mel(8000.0) / 81.0);
        assert!(
            (centre(loudest) - 440.0).abs() < 60.0,
            "band {loudest} at {} Hz",
            centre(loudest)
        );
        // Bands far from the tone are at the floor.
        assert!(column[70] < -8.0, "{}", column[70]);
    }

    #[test]
    fn griffin_lim_rebuilds_audio_with_the_same_spectrogram_and_length() {
        let spec = MelSpec::default();
        let audio = tone(&spec, &[330.0, 1250.0], 1.0);
        let mel = spec.analyse(&audio).expect("ok");
        let few = griffin_lim(&mel, &spec, 2).expect("ok");
        let many = griffin_lim(&mel, &spec, 32).expect("ok");
        assert_eq!(many.len(), mel.frames * spec.hop);
        let (d_few, d_many) = (
            mel_distance(&spec, &few, &mel),
            mel_distance(&spec, &many, &mel),
        );
        assert!(d_many < 0.25, "32 rounds leave a distance of {d_many}");
        assert!(
            d_many < d_few,
            "more rounds must get closer: {d_few} -> {d_many}"
        );
        // Deterministic: the starting phase is seeded.
        assert_eq!(many, griffin_lim(&mel, &spec, 32).expect("ok"));
        // The loudness is the original's, roughly (phase doesn't change energy).
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        let ratio = rms(&many[2048..20_000]) / rms(&audio[2048..20_000]);
        assert!((0.7..1.3).contains(&ratio), "rms ratio {ratio}");
    }

    #[test]
    fn bad_shapes_and_specs_are_named() {
        let spec = MelSpec::default();
        let mel = Mel {
            n_mels: 64,
            frames: 3,
            data: vec![0.0; 192],
        };
        let err = griffin_lim(&mel, &spec, 4)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("64 mel bands, the vocoder takes 80"), "{err}");
        let mut mel = Mel {
            n_mels: 80,
            frames: 2,
            data: vec![0.0; 160],
        };
        mel.data[81] = f32::NAN;
        let err = griffin_lim(&mel, &spec, 4)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("band 40, frame 1"), "{err}");
        let bad = MelSpec { hop: 0, ..spec };
        assert!(
            bad.analyse(&[0.0; 10])
                .expect_err("refused")
                .to_string()
                .contains("hop 0")
        );
        let bad = MelSpec {
            fmax: 20_000.0,
            ..spec
        };
        assert!(
            bad.validate()
                .expect_err("refused")
                .to_string()
                .contains("fmax")
        );
    }

    #[test]
    fn reflection_mirrors_at_both_ends() {
        let s = [1.0, 2.0, 3.0];
        let got: Vec<f32> = (-3..6).map(|i| reflected(&s, i)).collect();
        assert_eq!(got, [2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0]);
        assert_eq!(reflected(&[5.0], 3), 0.0);
    }
}
