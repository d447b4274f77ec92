//! Real-time factors of the ONNX kernels on this machine:
//! `cargo run --release -p kino-onnx --example piper_rtf`.
//!
//! Piper speaks a paragraph of about 10 s with two intra-op threads; Silero
//! VAD runs over 60 s of 16 kHz audio with one. RTF = compute time / audio
//! time (below 1 is faster than real time).

use std::path::{Path, PathBuf};
use std::time::Instant;

use kino_onnx::{PiperVoice, SessionOptions, SileroVad, VadOptions, init_runtime};

const PARAGRAPH: &str = "Kino is a host for generative media pipelines. \
    It dubs a video into another language, captions it, and builds an advert \
    from a short brief. The narration you hear comes from a neural voice.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let models = std::env::var_os("KINO_MODELS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.kino/models"),
        PathBuf::from,
    );
    init_runtime(&models.join("onnxruntime/1.31.1/libonnxruntime.so"))?;
    let onnx = models.join("piper-en_US-joe-medium/1/voice.onnx");

    let t = Instant::now();
    let voice = PiperVoice::load_with(
        &onnx,
        &onnx.with_extension("onnx.json"),
        &SessionOptions {
            intra_threads: 2,
            ..SessionOptions::default()
        },
    )?;
    println!("piper: loaded in {:.2} s", t.elapsed().as_secs_f64());
    let rate = f64::from(voice.sample_rate());
    voice.synthesize("Warm up.", 1.0)?;
    let mut rtfs = Vec::new();
    let mut speech = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        speech = voice.synthesize(PARAGRAPH, 1.0)?;
        let secs = t.elapsed().as_secs_f64();
        let audio = speech.len() as f64 / rate;
        println!(
            "piper: {audio:.2} s of speech in {secs:.2} s, rtf {:.3}",
            secs / audio
        );
        rtfs.push(secs / audio);
    }
    rtfs.sort_by(f64::total_cmp);
    println!("piper: median rtf {:.3} (2 intra-op threads)", rtfs[1]);
    let single = PiperVoice::load(&onnx, &onnx.with_extension("onnx.json"))?;
    single.synthesize("Warm up.", 1.0)?;
    let t = Instant::now();
    let one = single.synthesize(PARAGRAPH, 1.0)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "piper: rtf {:.3} with 1 intra-op thread (the default)",
        secs / (one.len() as f64 / rate)
    );

    // 60 s at 16 kHz: the paragraph (linearly resampled) and silences, repeated.
    let step = rate / 16_000.0;
    let at16: Vec<f32> = (0..(speech.len() as f64 / step) as usize)
        .map(|i| {
            let x = i as f64 * step;
            let j = x as usize;
            let f = (x - j as f64) as f32;
            let a = speech[j];
            let b = speech.get(j + 1).copied().unwrap_or(a);
            a + (b - a) * f
        })
        .collect();
    let mut audio = Vec::with_capacity(60 * 16_000);
    while audio.len() < 60 * 16_000 {
        audio.extend(&at16);
        audio.extend(std::iter::repeat_n(0.0, 16_000));
    }
    audio.truncate(60 * 16_000);
    let vad = SileroVad::load(&models.join("silero-vad/6.2.3/silero_vad.onnx"))?;
    vad.probabilities(&audio[..16_000])?;
    let t = Instant::now();
    let regions = vad.speech_regions(&audio, &VadOptions::default())?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "silero-vad: 60 s of audio in {secs:.3} s, rtf {:.4} ({} regions, 1 intra-op thread)",
        secs / 60.0,
        regions.len()
    );
    Ok(())
}
