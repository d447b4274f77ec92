//! Whisper's input features: the log-mel spectrogram of 16 kHz audio, 25 ms
//! Hann windows every 10 ms, Slaney-scale mel filters, log10 clamped to 8
//! decades below the peak and scaled to about [-1, 1] — computed as the
//! reference implementation does, since the model was trained on exactly it.

use std::f64::consts::PI;

use kino_kernels::mel::{slaney_filters, support};
use realfft::RealFftPlanner;

/// Sample rate the model hears.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples between frames (10 ms).
pub const HOP: usize = 160;
/// FFT size (25 ms).
pub const N_FFT: usize = 400;
/// Samples in one window of the model (30 s).
pub const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Frames in one window of the model.
pub const WINDOW_FRAMES: usize = WINDOW_SAMPLES / HOP;

/// The log-mel spectrogram of `pcm` zero-padded (or cut) to 30 s, as
/// `n_mels × 3000` values, row-major.
pub fn log_mel(pcm: &[f32], n_mels: usize) -> Vec<f32> {
    let mut audio = vec![0f32; WINDOW_SAMPLES];
    let n = pcm.len().min(WINDOW_SAMPLES);
    audio[..n].copy_from_slice(&pcm[..n]);

    // Centred frames: reflect-pad half a window on each side.
    let pad = N_FFT / 2;
    let mut padded = Vec::with_capacity(audio.len() + 2 * pad);
    padded.extend((1..=pad).rev().map(|i| audio[i]));
    padded.extend_from_slice(&audio);
    padded.extend((1..=pad).map(|i| audio[audio.len() - 1 - i]));

    let window: Vec<f32> = (0..N_FFT)
        .map(|i| (0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos()) as f32)
        .collect();
    let bins = N_FFT / 2 + 1;
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0f32; WINDOW_FRAMES * bins];
    for frame in 0..WINDOW_FRAMES {
        let start = frame * HOP;
        for (i, x) in input.iter_mut().enumerate() {
            *x = padded[start + i] * window[i];
        }
        // Sizes are fixed above, so the transform cannot fail.
        let _ = fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch);
        for (p, c) in power[frame * bins..(frame + 1) * bins]
            .iter_mut()
            .zip(&spectrum)
        {
            *p = c.norm_sqr();
        }
    }

    let filters = mel_filters(n_mels);
    let mut mel = vec![0f32; n_mels * WINDOW_FRAMES];
    for m in 0..n_mels {
        let filter = &filters[m * bins..(m + 1) * bins];
        let (first, last) = support(filter);
        for frame in 0..WINDOW_FRAMES {
            let p = &power[frame * bins..(frame + 1) * bins];
            let e: f32 = (first..last).map(|k| filter[k] * p[k]).sum();
            mel[m * WINDOW_FRAMES + frame] = e.max(1e-10).log10();
        }
    }
    let peak = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut mel {
        *v = (v.max(peak - 8.0) + 4.0) / 4.0;
    }
    // The reference computes the features of the audio alone and pads the
    // window with zeros *after* scaling (not with the features of silence,
    // which are about -1.5): a short window must look the same, or the
    // model hears words in the padding.
    let content = n.div_ceil(HOP).min(WINDOW_FRAMES);
    for row in mel.chunks_exact_mut(WINDOW_FRAMES) {
        row[content..].fill(0.0);
    }
    mel
}

/// Slaney-scale, area-normalised triangular mel filters over the FFT bins
/// from 0 to 8 kHz, `n_mels × (N_FFT/2 + 1)` row-major.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    slaney_filters(
        SAMPLE_RATE as u32,
        N_FFT,
        n_mels,
        0.0,
        SAMPLE_RATE as f64 / 2.0,
    )
}

#[cfg(test)]
mod tests {
    use kino_kernels::mel::{hz_to_mel, mel_to_hz};

    use super::*;

    #[test]
    fn a_tone_lights_the_filter_at_its_frequency() {
        let tone: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SAMPLE_RATE as f32).sin())
            .collect();
        let mel = log_mel(&tone, 80);
        let frame = 50;
        let column: Vec<f32> = (0..80).map(|m| mel[m * WINDOW_FRAMES + frame]).collect();
        let loudest = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(m, _)| m)
            .unwrap_or(0);
        // 1 kHz is mel 15 on the Slaney scale; the 80 filters span mel 0..45.
        let centre_of = |m: usize| mel_to_hz(hz_to_mel(8000.0) * (m + 1) as f64 / 81.0);
        assert!(
            (centre_of(loudest) - 1000.0).abs() < 60.0,
            "loudest filter {loudest} is centred at {} Hz",
            centre_of(loudest)
        );
        // After the tone (1 s) the window is padded with zeros.
        assert_eq!(mel[loudest * WINDOW_FRAMES + 2000], 0.0);
        assert!(mel[loudest * WINDOW_FRAMES + frame] > 0.5);
    }
}
