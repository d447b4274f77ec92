//! Time-stretch benchmark: Kino's WSOLA kernel against FFmpeg's `atempo` on
//! about 60 s of speech.
//!
//! Run with `cargo bench -p kino-kernels --bench stretch`. The input is
//! espeak-ng reading a paragraph, looped to exactly 60 s at 22 050 Hz mono
//! (a synthetic vowel-like signal when espeak-ng is missing). For each ratio
//! (output duration / input duration) it times, as medians of a few runs:
//!
//! - `ffmpeg -i in.wav -af atempo=<1/ratio> -y out.wav`, wall time of the
//!   whole process, and the length of what it wrote against the exact target;
//! - [`stretch_to_len`] to exactly `round(len * ratio)` samples, the kernel
//!   alone on samples already in memory;
//! - the same end to end: read the WAV, stretch, write the WAV.

use std::error::Error;
use std::f64::consts::TAU;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kino_kernels::stretch::stretch_to_len;

const RATE: u32 = 22_050;
const SECONDS: usize = 60;
const RUNS: usize = 5;
const RATIOS: [f64; 2] = [0.8, 1.25];

const PARAGRAPH: &str = "Every morning the harbour wakes before the town does. The fishing boats \
    come in low in the water, gulls circling above them, and the men on the quay shout prices \
    across the stones while the cafe at the corner rolls up its shutters. By eight o'clock the \
    first buses arrive with schoolchildren and office workers, and the smell of diesel mixes \
    with the salt air and fresh bread. Nobody here remembers when the market started; the \
    oldest stallholder says her grandmother sold onions on the same spot, under the same \
    crooked lamp post, and that the prices were just as unfair then as they are now.";

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let input_path = dir.path().join("in.wav");
    let (samples, source) = speech_input(dir.path())?;
    write_wav(&input_path, &samples, RATE)?;
    let len = samples.len();
    println!(
        "input: {:.2} s of {source}, {RATE} Hz mono, {len} samples; medians of {RUNS} runs",
        len as f64 / f64::from(RATE)
    );
    let have_ffmpeg = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    for ratio in RATIOS {
        let target = (len as f64 * ratio).round() as usize;
        let tempo = 1.0 / ratio;
        println!();
        println!("ratio {ratio} (atempo={tempo}): target {target} samples");

        if have_ffmpeg {
            let out_path = dir.path().join("ffmpeg.wav");
            let mut times = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let start = Instant::now();
                let status = Command::new("ffmpeg")
                    .args(["-hide_banner", "-loglevel", "error", "-i"])
                    .arg(&input_path)
                    .args(["-af", &format!("atempo={tempo}"), "-y"])
                    .arg(&out_path)
                    .status()?;
                times.push(start.elapsed());
                if !status.success() {
                    return Err(format!("ffmpeg failed: {status}").into());
                }
            }
            let out_len = hound::WavReader::open(&out_path)?.duration() as usize;
            println!(
                "  ffmpeg atempo   : {:>8.1} ms wall (process, decode + encode)  output {out_len} samples ({:+} vs target)",
                ms(median(times)),
                out_len as i64 - target as i64
            );
        } else {
            println!("  ffmpeg atempo   : skipped (ffmpeg not installed)");
        }

        let mut kernel = Vec::with_capacity(RUNS);
        let mut out_len = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            let out = stretch_to_len(&samples, RATE, target)?;
            kernel.push(start.elapsed());
            out_len = std::hint::black_box(out).len();
        }
        let out_path = dir.path().join("ours.wav");
        let mut end_to_end = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let start = Instant::now();
            let (input, rate) = read_wav(&input_path)?;
            let out = stretch_to_len(&input, rate, target)?;
            write_wav(&out_path, &out, rate)?;
            end_to_end.push(start.elapsed());
        }
        let written = hound::WavReader::open(&out_path)?.duration() as usize;
        let kernel = median(kernel);
        println!(
            "  ours kernel     : {:>8.1} ms ({:.0}x realtime)                 output {out_len} samples ({:+} vs target)",
            ms(kernel),
            len as f64 / f64::from(RATE) / kernel.as_secs_f64(),
            out_len as i64 - target as i64
        );
        println!(
            "  ours end-to-end : {:>8.1} ms (read + stretch + write WAV)     output {written} samples ({:+} vs target)",
            ms(median(end_to_end)),
            written as i64 - target as i64
        );
    }
    Ok(())
}

/// Exactly `SECONDS` of speech: espeak-ng looped, or a synthetic stand-in.
fn speech_input(dir: &Path) -> Result<(Vec<f32>, &'static str)> {
    let want = SECONDS * RATE as usize;
    let path = dir.join("paragraph.wav");
    let spoke = Command::new("espeak-ng")
        .arg("-w")
        .arg(&path)
        .arg(PARAGRAPH)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if spoke {
        let (paragraph, rate) = read_wav(&path)?;
        if rate == RATE && !paragraph.is_empty() {
            let samples = paragraph.iter().copied().cycle().take(want).collect();
            return Ok((samples, "espeak-ng speech"));
        }
    }
    Ok((
        synthetic_vowels(want),
        "synthetic vowels (espeak-ng missing)",
    ))
}

/// A glottal pulse train with a wandering F0 through two formant
/// resonators, with a syllable-rate envelope.
fn synthetic_vowels(len: usize) -> Vec<f32> {
    let rate = f64::from(RATE);
    let resonator = |freq: f64, bandwidth: f64| {
        let r = (-std::f64::consts::PI * bandwidth / rate).exp();
        (2.0 * r * (TAU * freq / rate).cos(), -r * r)
    };
    let formants = [resonator(700.0, 90.0), resonator(1200.0, 110.0)];
    let mut state = [[0.0f64; 2]; 2];
    let mut phase = 0.0f64;
    (0..len)
        .map(|i| {
            let t = i as f64 / rate;
            phase += (110.0 + 25.0 * (TAU * 0.7 * t).sin()) / rate;
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                1.0
            } else {
                0.0
            };
            let mut y = 0.0;
            for ((a1, a2), s) in formants.iter().zip(state.iter_mut()) {
                let out = pulse + a1 * s[0] + a2 * s[1];
                s[1] = s[0];
                s[0] = out;
                y += out;
            }
            let envelope = (TAU * 2.0 * t).sin().abs();
            (0.02 * y * envelope) as f32
        })
        .collect()
}

fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(format!("{}: expected 16-bit mono", path.display()).into());
    }
    let samples = reader
        .samples::<i16>()
        .map(|s| s.map(|s| f32::from(s) / 32768.0))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((samples, spec.sample_rate))
}

fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    writer.finalize()?;
    Ok(())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
