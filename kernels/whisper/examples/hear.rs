//! Transcribes a 16 kHz mono WAV (at most 30 s) with a model from the
//! repository: `cargo run --release -p kino-whisper --example hear -- MODELS NAME FILE.wav [LANG]`.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    // `RUST_LOG=kino_whisper=debug` shows where each window's time goes.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().collect();
    let [_, repo, name, wav, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: hear MODELS NAME FILE.wav [LANG]");
    };
    let repo = kino_models::Repository::new(repo);
    let installed = repo.get(name)?;
    let started = Instant::now();
    let t = kino_whisper::Transcriber::load(&installed)?;
    println!("loaded {} in {:?}", t.name(), started.elapsed());
    let mut reader = hound::WavReader::open(wav)?;
    let pcm: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.map(|s| s as f32 / 32768.0))
        .collect::<Result<_, _>>()?;
    let options = kino_whisper::Options {
        language: rest.first().cloned(),
        word_times: true,
    };
    let started = Instant::now();
    let out = t.transcribe(&pcm, &options)?;
    let took = started.elapsed();
    println!(
        "{:.1} s of audio in {:?} ({})",
        pcm.len() as f32 / 16000.0,
        took,
        out.language
    );
    for s in &out.segments {
        println!("[{:.2} - {:.2}] {}", s.start, s.end, s.text);
        for w in &s.words {
            println!("    {:.2}-{:.2} {}", w.start, w.end, w.text);
        }
    }
    Ok(())
}
