//! Whisper's network on each runtime, on the same weights, in one run:
//! `LIBTORCH=$PWD/.kino/libtorch cargo bench -p kino-torch --features torch --bench whisper_runtimes`.
//!
//! Random weights at tiny.en's and base's dimensions (no model file
//! needed, so it runs on a bare GPU machine too): one 30 s window encoded,
//! then 100 tokens decoded one at a time with the key/value cache (what a
//! window of speech costs), on candle (the CPU), libtorch on the CPU, and
//! libtorch on the GPU where `device::resolve` finds one. Best of 3.

use std::time::Instant;

use kino_torch::device::{self, ModelDevice};
use kino_whisper::ct2::Variables;
use kino_whisper::network::{Dims, Network};

/// Tokens decoded per window: a 30 s window of speech holds about this many.
const TOKENS: usize = 100;

/// Whisper base's dimensions.
const BASE: Dims = Dims {
    n_mels: 80,
    d_model: 512,
    n_heads: 8,
    n_vocab: 51_865,
    n_text_ctx: 448,
    encoder_layers: 6,
    decoder_layers: 6,
};

fn best_of(runs: usize, mut f: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    (0..runs)
        .map(|_| f())
        .fold((f64::INFINITY, f64::INFINITY), |a, b| {
            (a.0.min(b.0), a.1.min(b.1))
        })
}

/// Seconds to encode a window, and to decode `TOKENS` tokens after it.
fn window(network: &dyn Network, mel: &[f32]) -> (f64, f64) {
    let started = Instant::now();
    let mut session = network.listen(mel).expect("encoding");
    // The first step pulls the encoder's output through, so a GPU's
    // asynchronous encode is counted in the encode's time.
    let mut logits = session.next_logits(&[1]).expect("a step");
    let encoded = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 1..TOKENS {
        let next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
        logits = session.next_logits(&[next]).expect("a step");
    }
    (encoded, started.elapsed().as_secs_f64())
}

fn main() {
    let (gpu, why) = device::resolve(Some(0));
    if let Some(why) = &why {
        println!("(GPU column empty: {why})");
    }
    for (name, dims) in [("tiny.en", Dims::TINY_EN), ("base", BASE)] {
        let v = Variables::random(&dims, 1);
        let mel: Vec<f32> = (0..dims.n_mels * 3000)
            .map(|i| ((i as f32 * 0.37).sin() * 0.8).clamp(-1.0, 1.0))
            .collect();
        println!("whisper {name} (random weights), one 30 s window, {TOKENS} tokens, best of 3:");
        let mut engines: Vec<(String, Box<dyn Network>)> = vec![
            (
                "candle, cpu".into(),
                kino_whisper::candle(&v).expect("candle"),
            ),
            (
                "libtorch, cpu".into(),
                kino_torch::whisper::network(&v, ModelDevice::Cpu).expect("libtorch"),
            ),
        ];
        if gpu != ModelDevice::Cpu {
            engines.push((
                format!("libtorch, {gpu}"),
                kino_torch::whisper::network(&v, gpu).expect("libtorch on the GPU"),
            ));
        }
        for (engine, network) in &engines {
            // One unmeasured window: a GPU's first call loads its kernels.
            window(network.as_ref(), &mel);
            let (encode, decode) = best_of(3, || window(network.as_ref(), &mel));
            println!(
                "  {engine:<16} encode {:>8.1} ms  decode {:>6.2} ms a token  window {:>8.1} ms",
                encode * 1e3,
                decode * 1e3 / (TOKENS - 1) as f64,
                (encode + decode) * 1e3
            );
        }
    }
}
