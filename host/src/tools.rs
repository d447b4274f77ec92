//! Kernel tools on plain files, behind `kino stretch`, `kino loudness`,
//! `kino normalize` and `kino speak`.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use kino_kernels::wav::{Pcm, read_wav, write_wav};
use kino_kernels::{mix, speech, stretch};

/// How long the stretched audio should be.
#[derive(Debug, Clone, Copy)]
pub enum StretchTarget {
    /// Output duration / input duration.
    Ratio(f64),
    /// An exact output duration, in seconds.
    Duration(f64),
}

/// Time-stretches a WAV file without changing its pitch; returns the output duration.
pub fn stretch_file(input: &Path, output: &Path, target: StretchTarget) -> Result<f64> {
    let pcm = read_wav(input).with_context(|| format!("reading {}", input.display()))?;
    let frames = match target {
        StretchTarget::Ratio(ratio) if ratio.is_finite() && ratio > 0.0 => {
            (pcm.frames() as f64 * ratio).round() as usize
        }
        StretchTarget::Duration(secs) if secs.is_finite() && secs > 0.0 => {
            (secs * f64::from(pcm.sample_rate)).round() as usize
        }
        other => bail!("stretch target must be positive and finite, not {other:?}"),
    };
    let samples = stretch::stretch_interleaved_to_len(
        &pcm.samples,
        usize::from(pcm.channels),
        pcm.sample_rate,
        frames,
    )
    .with_context(|| format!("stretching {}", input.display()))?;
    let out = Pcm { samples, ..pcm };
    write_wav(output, &out).with_context(|| format!("writing {}", output.display()))?;
    Ok(out.duration_secs())
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a WAV file.
pub fn loudness_of(input: &Path) -> Result<(f64, f64)> {
    let pcm = read_wav(input).with_context(|| format!("reading {}", input.display()))?;
    let lufs =
        mix::integrated_loudness(&pcm).with_context(|| format!("measuring {}", input.display()))?;
    let peak =
        mix::true_peak_dbtp(&pcm).with_context(|| format!("measuring {}", input.display()))?;
    Ok((lufs, peak))
}

/// Normalises a WAV file to `target_lufs` with true peak at most `max_true_peak`.
pub fn normalize_file(
    input: &Path,
    output: &Path,
    target_lufs: f64,
    max_true_peak: f64,
) -> Result<mix::LoudnessReport> {
    let mut pcm = read_wav(input).with_context(|| format!("reading {}", input.display()))?;
    let report = mix::normalize_loudness(&mut pcm, target_lufs, max_true_peak)
        .with_context(|| format!("normalising {}", input.display()))?;
    write_wav(output, &pcm).with_context(|| format!("writing {}", output.display()))?;
    Ok(report)
}

/// Speaks `text` in `language` with espeak-ng into a WAV file; returns its duration.
pub fn speak_to_file(text: &str, language: &str, rate_wpm: u32, output: &Path) -> Result<f64> {
    let voice = speech::Voice::for_language(language).with_rate(rate_wpm);
    let speech = speech::synthesize(text, &voice)?;
    write_wav(output, &speech.pcm).with_context(|| format!("writing {}", output.display()))?;
    Ok(speech.duration.as_secs_f64())
}
