//! Mel spectrograms as speech models were trained on them: Slaney-scale,
//! area-normalised triangular filters (librosa's default), and Wav2Lip's
//! normalised log-mel of 16 kHz audio.

use std::f64::consts::PI;

use realfft::RealFftPlanner;

/// Slaney-scale, area-normalised triangular mel filters over the bins of an
/// `n_fft`-point FFT at `sample_rate`, from `fmin` to `fmax` Hz:
/// `n_mels × (n_fft/2 + 1)` row-major (librosa's `filters.mel`).
pub fn slaney_filters(
    sample_rate: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let nyquist = f64::from(sample_rate) / 2.0;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|k| k as f64 * nyquist / (bins - 1) as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let points: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut filters = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let (left, centre, right) = (points[m], points[m + 1], points[m + 2]);
        let norm = 2.0 / (right - left);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let rising = (f - left) / (centre - left);
            let falling = (right - f) / (right - centre);
            filters[m * bins + k] = (rising.min(falling).max(0.0) * norm) as f32;
        }
    }
    filters
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz on the Slaney mel scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz < MIN_LOG_HZ {
        hz / F_SP
    } else {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    }
}

/// The inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel < MIN_LOG_MEL {
        mel * F_SP
    } else {
        MIN_LOG_HZ * ((mel - MIN_LOG_MEL) * log_step()).exp()
    }
}

/// The range of bins where a filter is non-zero.
pub fn support(filter: &[f32]) -> (usize, usize) {
    let first = filter.iter().position(|&w| w > 0.0).unwrap_or(0);
    let last = filter.iter().rposition(|&w| w > 0.0).map_or(0, |l| l + 1);
    (first, last.max(first))
}

/// Wav2Lip's audio features: 80 mels per 12.5 ms hop of 16 kHz audio.
pub mod wav2lip {
    use super::*;

    /// The rate the features are computed at.
    pub const SAMPLE_RATE: u32 = 16_000;
    /// Mel bands.
    pub const MELS: usize = 80;
    /// Feature frames per second (a hop of 200 samples).
    pub const FRAMES_PER_SEC: f64 = 80.0;
    /// Feature frames the model sees per video frame.
    pub const WINDOW: usize = 16;
    const N_FFT: usize = 800;
    const HOP: usize = 200;

    /// A normalised log-mel spectrogram: `MELS` rows of `frames` values.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Mel {
        /// Columns (feature frames).
        pub frames: usize,
        /// `MELS × frames`, row-major, in [-4, 4].
        pub data: Vec<f32>,
    }

    /// The features of 16 kHz mono `pcm` as Wav2Lip's training computed
    /// them: pre-emphasis 0.97, centred 800-point Hann STFT (reflect
    /// padding) every 200 samples, magnitude through mel filters from 55 Hz
    /// to 7.6 kHz, 20·log10 less 20 dB, mapped from [-100, 0] dB onto
    /// [-4, 4] and clipped.
    pub fn mel(pcm: &[f32]) -> Mel {
        let emphasised: Vec<f32> = (0..pcm.len())
            .map(|i| pcm[i] - if i > 0 { 0.97 * pcm[i - 1] } else { 0.0 })
            .collect();
        let pad = N_FFT / 2;
        let frames = 1 + pcm.len() / HOP;
        let window: Vec<f32> = (0..N_FFT)
            .map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let bins = N_FFT / 2 + 1;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let mut input = fft.make_input_vec();
        let mut spectrum = fft.make_output_vec();
        let mut scratch = fft.make_scratch_vec();
        let filters = slaney_filters(SAMPLE_RATE, N_FFT, MELS, 55.0, 7600.0);
        let supports: Vec<(usize, usize)> = filters.chunks_exact(bins).map(support).collect();
        let mut data = vec![0f32; MELS * frames];
        let mut magnitude = vec![0f32; bins];
        for frame in 0..frames {
            let start = (frame * HOP) as isize - pad as isize;
            for (i, x) in input.iter_mut().enumerate() {
                *x = crate::vocoder::reflected(&emphasised, start + i as isize) * window[i];
            }
            // Sizes are fixed above, so the transform cannot fail.
            let _ = fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch);
            for (m, c) in magnitude.iter_mut().zip(&spectrum) {
                *m = c.norm();
            }
            for (band, &(first, last)) in supports.iter().enumerate() {
                let filter = &filters[band * bins..(band + 1) * bins];
                let e: f32 = (first..last).map(|k| filter[k] * magnitude[k]).sum();
                let db = 20.0 * e.max(1e-5).log10() - 20.0;
                data[band * frames + frame] = (8.0 * (db + 100.0) / 100.0 - 4.0).clamp(-4.0, 4.0);
            }
        }
        Mel { frames, data }
    }

    impl Mel {
        /// The `MELS × WINDOW` features under video frame `index` at `fps`
        /// (row-major), as Wav2Lip cuts them: from `80 · index / fps`, moved
        /// back to end at the last frame; silence where there is no sound.
        pub fn window(&self, index: usize, fps: f64) -> Vec<f32> {
            let start = (FRAMES_PER_SEC * index as f64 / fps) as usize;
            let start = start.min(self.frames.saturating_sub(WINDOW));
            let mut out = vec![-4.0f32; MELS * WINDOW];
            for band in 0..MELS {
                for t in 0..WINDOW {
                    if let Some(v) = self.data.get(band * self.frames + start + t)
                        && start + t < self.frames
                    {
                        out[band * WINDOW + t] = *v;
                    }
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_below_1khz_and_continuous() {
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-9);
        assert!((mel_to_hz(hz_to_mel(3456.0)) - 3456.0).abs() < 1e-6);
        assert!((hz_to_mel(999.999) - hz_to_mel(1000.0)).abs() < 1e-3);
    }

    #[test]
    fn wav2lip_features_light_the_band_of_a_tone_and_are_quiet_in_silence() {
        let rate = wav2lip::SAMPLE_RATE as usize;
        // 1 s of a 1 kHz tone, then 1 s of silence.
        let mut pcm: Vec<f32> = (0..rate)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
            .collect();
        pcm.extend(std::iter::repeat_n(0.0, rate));
        let mel = wav2lip::mel(&pcm);
        assert_eq!(mel.frames, 1 + 2 * rate / 200);
        let column = |t: usize| -> Vec<f32> {
            (0..wav2lip::MELS)
                .map(|m| mel.data[m * mel.frames + t])
                .collect()
        };
        let tone = column(40);
        let loudest = (0..wav2lip::MELS)
            .max_by(|&a, &b| tone[a].total_cmp(&tone[b]))
            .unwrap_or(0);
        // The 80 bands span 55 Hz..7.6 kHz: band m is centred at point m+1.
        let (lo, hi) = (hz_to_mel(55.0), hz_to_mel(7600.0));
        let centre = mel_to_hz(lo + (hi - lo) * (loudest + 1) as f64 / 81.0);
        assert!(
            (centre - 1000.0).abs() < 80.0,
            "band {loudest} at {centre} Hz"
        );
        assert!(tone[loudest] > 0.0, "{}", tone[loudest]);
        assert!(
            column(150).iter().all(|&v| v == -4.0),
            "silence is the floor"
        );

        // A video frame's window: 16 columns from 80 * index / fps.
        let window = mel.window(12, 24.0);
        assert_eq!(window.len(), wav2lip::MELS * wav2lip::WINDOW);
        assert_eq!(window[loudest * wav2lip::WINDOW], tone[loudest]);
        // Past the end, the last 16 columns.
        let last = mel.window(10_000, 24.0);
        assert_eq!(last[0], mel.data[mel.frames - wav2lip::WINDOW]);
    }
}
