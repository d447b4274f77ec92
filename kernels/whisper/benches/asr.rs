//! Speech recognition and synthesis side by side, on the same 60 s of 16 kHz
//! audio (Piper's joe speaking known sentences with pauses), two CPU threads
//! per engine:
//!
//! - ours: Silero VAD, `windows::plan`, the windows heard two at a time by
//!   two threads, word times off and on;
//! - faster-whisper (CTranslate2; int8 and float32, `cpu_threads=2`, beam 1)
//!   on the same tiny.en folder, run by `benches/faster_whisper.py` with the
//!   Python in `KINO_FASTER_WHISPER_PYTHON` (default `python3`);
//! - Piper synthesis: ours (kino-onnx) against the `piper-tts` package (GPL,
//!   a reference only, never vendored) with the Python in `KINO_PIPER_PYTHON`,
//!   on the same voice file and text.
//!
//! `cargo bench -p kino-whisper --bench asr` (models: `make models`, or
//! `KINO_MODELS`).
//!
//! Threads: candle runs matrix products on rayon's global pool (its size
//! and the split come from `RAYON_NUM_THREADS`, default the physical cores)
//! and element-wise ops on its own spinning "barrier pool"
//! (`CANDLE_NUM_THREADS`, default `RAYON_NUM_THREADS`). Both are read once,
//! at first use, and there is no setter. Our two window threads would each
//! fan out over every core, so this bench sets both to 1 before anything
//! runs: two windows × one thread = two threads, as for the others.

use kino_whisper::score::{wer, words};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use kino_models::Repository;
use kino_onnx::{PiperVoice, SessionOptions, SileroVad, VadOptions, init_runtime};
use kino_whisper::{Options, Transcriber, windows};

const RATE: usize = 16_000;
const SECONDS: usize = 60;
const THREADS: usize = 2;
const WHISPER: &str = "whisper-tiny.en";
const PIPER: &str = "piper-en_US-joe-medium/1";

/// Ten sentences with no numbers (no "3" vs "three" in the scoring).
const SENTENCES: [&str; 10] = [
    "The morning train was late again because of the fog.",
    "She opened the window and listened to the birds outside.",
    "Our neighbor painted his fence a bright shade of yellow.",
    "The baker sells fresh bread and warm cookies every day.",
    "Please remember to lock the door when you go out.",
    "The river runs quietly through the middle of the town.",
    "He wrote a long letter to his grandmother last winter.",
    "The museum has a large collection of ancient coins.",
    "We walked along the beach until the sun went down.",
    "A small dog was sleeping under the kitchen table.",
];

fn main() -> Result<()> {
    limit_candle_threads();
    let models = models();
    init_runtime(&models.join("onnxruntime/1.31.1/libonnxruntime.so"))?;
    let voice_dir = models.join(PIPER);
    let (onnx, json) = (
        voice_dir.join("voice.onnx"),
        voice_dir.join("voice.onnx.json"),
    );
    let voice = PiperVoice::load(&onnx, &json)?.with_noise(0.0, 0.0)?;
    let work = tempfile::tempdir()?;

    println!("making {SECONDS} s of speech with Piper ...");
    let pcm = fixture(&voice, work.path())?;
    let wav = work.path().join("speech16k.wav");
    write_wav_i16(&wav, &pcm, RATE as u32)?;
    let reference = SENTENCES.join(" ");

    let mut rows = Vec::new();
    let installed = Repository::new(&models).get(WHISPER)?;
    let transcriber = Transcriber::load(&installed)?;
    let vad = SileroVad::load(&models.join("silero-vad/6.2.3/silero_vad.onnx"))?;
    for word_times in [false, true] {
        let (text, seconds) = ours(&transcriber, &vad, &pcm, word_times)?;
        rows.push(Row::new(
            "kino-whisper (candle f32)",
            seconds,
            &reference,
            &text,
            word_times,
        ));
    }
    rows.extend(faster_whisper(&installed.dir, &wav, &reference)?);
    print_asr_table(&rows);

    let text = SENTENCES.join(" ");
    piper_table(&voice, &onnx, &json, &text)?;
    Ok(())
}

/// See the module comment: one thread per window.
fn limit_candle_threads() {
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            // SAFETY: first thing in `main`, before any other thread exists.
            unsafe { std::env::set_var(var, "1") };
        }
    }
}

fn models() -> PathBuf {
    std::env::var_os("KINO_MODELS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.kino/models"),
        PathBuf::from,
    )
}

// ---------------------------------------------------------------- audio

/// The sentences one after another with pauses, cut or padded to exactly
/// 60 s at 16 kHz (the pause is chosen so nothing is cut).
fn fixture(voice: &PiperVoice, dir: &Path) -> Result<Vec<f32>> {
    let mut clips = Vec::new();
    for s in SENTENCES {
        clips.push(to_16k(
            &voice.synthesize(s, 1.0)?,
            voice.sample_rate(),
            dir,
        )?);
    }
    let speech: usize = clips.iter().map(Vec::len).sum();
    let total = SECONDS * RATE;
    if speech + clips.len() * RATE / 2 > total {
        bail!(
            "the sentences take {} s: too long for {SECONDS} s",
            speech / RATE
        );
    }
    let pause = (total - speech) / (clips.len() + 1);
    let mut pcm = Vec::with_capacity(total);
    for clip in &clips {
        pcm.resize(pcm.len() + pause, 0.0);
        pcm.extend_from_slice(clip);
    }
    pcm.resize(total, 0.0);
    Ok(pcm)
}

/// Resampled by the ffmpeg CLI, as users' files are.
fn to_16k(pcm: &[f32], rate: u32, dir: &Path) -> Result<Vec<f32>> {
    let (input, output) = (dir.join("in.wav"), dir.join("out.wav"));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&input, spec)?;
    for &s in pcm {
        w.write_sample(s)?;
    }
    w.finalize()?;
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&input)
        .args(["-ac", "1", "-ar", "16000", "-c:a", "pcm_f32le"])
        .arg(&output)
        .status()
        .context("running ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg failed: {status}");
    }
    hound::WavReader::open(&output)?
        .samples::<f32>()
        .collect::<Result<_, _>>()
        .context("reading ffmpeg's output")
}

/// 16-bit, what faster_whisper.py reads with the standard library.
fn write_wav_i16(path: &Path, pcm: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in pcm {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(())
}

// ---------------------------------------------------------------- ours

/// VAD, windows, and the windows heard by two threads taking the next
/// window in turn. Returns the text in order and the seconds it all took
/// (model load excluded, as for faster-whisper).
fn ours(t: &Transcriber, vad: &SileroVad, pcm: &[f32], word_times: bool) -> Result<(String, f64)> {
    let started = Instant::now();
    let regions: Vec<(usize, usize)> = vad
        .speech_regions(pcm, &VadOptions::default())?
        .iter()
        .map(|r| (r.start, r.end))
        .collect();
    let plan = windows::plan(&regions, pcm.len(), 30 * RATE);
    let options = Options {
        language: Some("en".to_owned()),
        word_times,
    };
    let next = AtomicUsize::new(0);
    let mut texts: Vec<(usize, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<(usize, String)>> {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(w) = plan.get(i) else {
                            return Ok(done);
                        };
                        let heard = t.transcribe(&pcm[w.start..w.end], &options)?;
                        let said: Vec<&str> =
                            heard.segments.iter().map(|s| s.text.as_str()).collect();
                        done.push((i, said.join(" ")));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            let part = w
                .join()
                .map_err(|_| anyhow::anyhow!("a window thread panicked"))??;
            all.extend(part);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    texts.sort_by_key(|(i, _)| *i);
    let text: Vec<String> = texts.into_iter().map(|(_, s)| s).collect();
    eprintln!("  ours: {} windows, word times {word_times}", plan.len());
    Ok((text.join(" "), seconds))
}

// ---------------------------------------------------------------- faster-whisper

fn python(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| "python3".to_owned())
}

fn importable(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn faster_whisper(model: &Path, wav: &Path, reference: &str) -> Result<Vec<Row>> {
    let py = python("KINO_FASTER_WHISPER_PYTHON");
    if !importable(&py, "faster_whisper") {
        println!(
            "faster-whisper is not importable by `{py}`; to compare, install it and point \
             KINO_FASTER_WHISPER_PYTHON at it:\n  python3 -m venv target/fw && \
             target/fw/bin/pip install faster-whisper==1.2.1\n  \
             KINO_FASTER_WHISPER_PYTHON=target/fw/bin/python cargo bench -p kino-whisper --bench asr"
        );
        return Ok(Vec::new());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/faster_whisper.py");
    let mut rows = Vec::new();
    for compute in ["int8", "float32"] {
        for word_times in [false, true] {
            let out = Command::new(&py)
                .arg(&script)
                .arg(model)
                .arg(wav)
                .arg(compute)
                .arg(THREADS.to_string())
                .arg(if word_times { "1" } else { "0" })
                .output()
                .context("running faster_whisper.py")?;
            if !out.status.success() {
                bail!(
                    "faster_whisper.py: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let result: serde_json::Value = serde_json::from_slice(&out.stdout)
                .with_context(|| String::from_utf8_lossy(&out.stdout).into_owned())?;
            let text = result["text"].as_str().unwrap_or_default();
            let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
            let engine = format!("faster-whisper 1.2 ({compute})");
            rows.push(Row::new(&engine, seconds, reference, text, word_times));
        }
    }
    Ok(rows)
}

// ---------------------------------------------------------------- table

struct Row {
    engine: String,
    seconds: f64,
    wer: f32,
    word_times: bool,
    text: String,
}

impl Row {
    fn new(engine: &str, seconds: f64, reference: &str, text: &str, word_times: bool) -> Self {
        Self {
            engine: engine.to_owned(),
            seconds,
            wer: wer(reference, text),
            word_times,
            text: text.to_owned(),
        }
    }
}

fn print_asr_table(rows: &[Row]) {
    println!("\nASR, {SECONDS} s of speech, {THREADS} threads each, tiny.en, greedy");
    println!(
        "| {:<30} | {:>6} | {:>7} | {:>5} | {:>10} |",
        "engine", "RTF", "seconds", "WER", "word times"
    );
    println!("|{:-<32}|{:->8}|{:->9}|{:->7}|{:->12}|", "", "", "", "", "");
    for r in rows {
        println!(
            "| {:<30} | {:>6.3} | {:>7.2} | {:>5.3} | {:>10} |",
            r.engine,
            r.seconds / SECONDS as f64,
            r.seconds,
            r.wer,
            if r.word_times { "on" } else { "off" }
        );
    }
    for r in rows {
        eprintln!("  {} ({}): {}", r.engine, r.word_times, r.text);
    }
}

// ---------------------------------------------------------------- piper

/// piper-tts 1.x on the same voice files and text, noise as ours (0), its
/// ONNX Runtime session at its defaults (one intra-op thread per core).
const PIPER_TTS: &str = r#"
import json, sys, time
from piper import PiperVoice, SynthesisConfig
onnx, config, text = sys.argv[1:4]
voice = PiperVoice.load(onnx, config)
syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
list(voice.synthesize("Warm up.", syn))
started = time.perf_counter()
samples = sum(len(c.audio_float_array) for c in voice.synthesize(text, syn))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "audio": samples / voice.config.sample_rate}))
"#;

fn piper_table(voice: &PiperVoice, onnx: &Path, json: &Path, text: &str) -> Result<()> {
    println!("\nPiper joe-medium, the same {} words", words(text).len());
    println!(
        "| {:<36} | {:>6} | {:>7} | {:>7} |",
        "engine", "RTF", "seconds", "audio s"
    );
    println!("|{:-<38}|{:->8}|{:->9}|{:->9}|", "", "", "", "");
    let row = |engine: &str, seconds: f64, audio: f64| {
        println!(
            "| {engine:<36} | {:>6.3} | {seconds:>7.2} | {audio:>7.1} |",
            seconds / audio
        );
    };
    for threads in [1, 2] {
        let v = if threads == 1 {
            None
        } else {
            let opts = SessionOptions {
                intra_threads: threads,
                ..SessionOptions::default()
            };
            Some(PiperVoice::load_with(onnx, json, &opts)?.with_noise(0.0, 0.0)?)
        };
        let v = v.as_ref().unwrap_or(voice);
        v.synthesize("Warm up.", 1.0)?;
        let started = Instant::now();
        let pcm = v.synthesize(text, 1.0)?;
        let seconds = started.elapsed().as_secs_f64();
        let audio = pcm.len() as f64 / f64::from(v.sample_rate());
        row(
            &format!("kino-onnx ({threads} intra-op thread)"),
            seconds,
            audio,
        );
    }
    let py = python("KINO_PIPER_PYTHON");
    if !importable(&py, "piper") {
        println!(
            "(piper-tts is not importable by `{py}`: set KINO_PIPER_PYTHON to a Python with \
             `pip install piper-tts` to compare; it is GPL, a reference only)"
        );
        return Ok(());
    }
    let out = Command::new(&py)
        .args(["-c", PIPER_TTS])
        .arg(onnx)
        .arg(json)
        .arg(text)
        .output()
        .context("running piper-tts")?;
    if !out.status.success() {
        bail!("piper-tts: {}", String::from_utf8_lossy(&out.stderr));
    }
    let result: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
    let audio = result["audio"].as_f64().unwrap_or(f64::NAN);
    row("piper-tts 1.8 (Python, ORT default)", seconds, audio);
    std::io::stdout().flush()?;
    Ok(())
}
