//! Whisper's network on libtorch against candle's, on the same weights:
//! random ones (the logits and the cross-attention of every step, on the
//! CPU and, where libtorch has CUDA, on the GPU) and tiny.en from the model
//! repository (the same transcript of the same speech).

use std::path::Path;
use std::process::Command;

use kino_torch::device::{self, ModelDevice};
use kino_whisper::ct2::Variables;
use kino_whisper::network::{Dims, Listening, Network};

/// Small enough to build in milliseconds, with every part of the real
/// network (several heads, layers, a multi-token prompt).
const SMALL: Dims = Dims {
    n_mels: 80,
    d_model: 64,
    n_heads: 4,
    n_vocab: 300,
    n_text_ctx: 32,
    encoder_layers: 2,
    decoder_layers: 2,
};

/// A log-mel window of `frames` frames, in the range real features have.
fn mel(frames: usize) -> Vec<f32> {
    (0..SMALL.n_mels * frames)
        .map(|i| ((i as f32 * 0.37).sin() * 0.8 + (i as f32 * 0.011).cos() * 0.3).clamp(-1.0, 1.0))
        .collect()
}

/// What one network made of one window: the logits of a prompt and of
/// each single step after it, and two heads' cross-attention.
struct Heard {
    logits: Vec<Vec<f32>>,
    attention: Vec<Vec<f32>>,
}

/// Feeds `network` the prompt then `steps` (teacher-forced: the same
/// tokens whatever it predicts, so two networks see the same sequence).
fn hear(network: &dyn Network, mel: &[f32], prompt: &[u32], steps: &[u32]) -> Heard {
    let mut session: Box<dyn Listening + '_> = network.listen(mel).expect("encoding");
    let mut logits = vec![session.next_logits(prompt).expect("the prompt")];
    for &token in steps {
        logits.push(session.next_logits(&[token]).expect("a step"));
    }
    let all: Vec<u32> = prompt.iter().chain(steps).copied().collect();
    let attention = session
        .cross_attention(&all, &[(0, 1), (1, 3)])
        .expect("cross-attention")
        .into_iter()
        .map(|a| {
            assert_eq!(a.tokens, all.len());
            a.weights
        })
        .collect();
    Heard { logits, attention }
}

/// The largest difference between two runs, relative to the largest logit
/// (logits) and absolute (attention weights, which are in [0, 1]).
fn differences(a: &Heard, b: &Heard) -> (f32, f32) {
    let scale = a
        .logits
        .iter()
        .flatten()
        .fold(0f32, |m, x| m.max(x.abs()))
        .max(1.0);
    let worst = |x: &[Vec<f32>], y: &[Vec<f32>]| {
        assert_eq!(x.len(), y.len());
        x.iter()
            .zip(y)
            .flat_map(|(p, q)| {
                assert_eq!(p.len(), q.len());
                p.iter().zip(q).map(|(u, v)| (u - v).abs())
            })
            .fold(0f32, f32::max)
    };
    (
        worst(&a.logits, &b.logits) / scale,
        worst(&a.attention, &b.attention),
    )
}

fn compare_on(device: ModelDevice) -> (f32, f32) {
    let v = Variables::random(&SMALL, 7);
    let candle = kino_whisper::candle(&v).expect("candle's network");
    let torch = kino_torch::whisper::network(&v, device).expect("libtorch's network");
    assert_eq!(torch.dims(), SMALL);
    assert_eq!(torch.runs_on(), format!("{device} (libtorch)"));
    // 150 frames: an odd count after the strided convolution's halving.
    let mel = mel(150);
    let prompt = [5, 17, 42];
    let steps = [7, 250, 3, 99, 12];
    let want = hear(candle.as_ref(), &mel, &prompt, &steps);
    let got = hear(torch.as_ref(), &mel, &prompt, &steps);
    differences(&want, &got)
}

#[test]
#[cfg_attr(not(feature = "torch"), ignore = "needs the `torch` feature")]
fn the_torch_network_matches_candles_on_the_cpu() {
    let (logits, attention) = compare_on(ModelDevice::Cpu);
    println!(
        "whisper on cpu (libtorch): logits within {logits:e} of candle's, attention {attention:e}"
    );
    assert!(logits < 1e-4, "logits differ by {logits} of their range");
    assert!(attention < 1e-5, "cross-attention differs by {attention}");
}

/// On a GPU nothing runs in TF32 (the convolutions say so; cuBLAS's
/// matrix products don't by default), so only the order of the sums
/// differs: a bound ten times the CPU's.
#[test]
#[cfg_attr(not(feature = "torch"), ignore = "needs the `torch` feature")]
fn the_torch_network_matches_candles_on_a_gpu() {
    let (gpu, why) = device::resolve(Some(0));
    if gpu == ModelDevice::Cpu {
        println!(
            "GPU half skipped: {}",
            why.unwrap_or_else(|| "no GPU".into())
        );
        return;
    }
    let (logits, attention) = compare_on(gpu);
    println!(
        "whisper on {gpu} (libtorch): logits within {logits:e} of candle's, attention {attention:e}"
    );
    assert!(logits < 1e-3, "logits differ by {logits} of their range");
    assert!(attention < 1e-4, "cross-attention differs by {attention}");
}

#[test]
#[cfg_attr(feature = "torch", ignore = "for builds without the `torch` feature")]
fn without_libtorch_the_network_says_how_to_get_it() {
    let v = Variables::random(&SMALL, 7);
    let err = kino_torch::whisper::network(&v, ModelDevice::Cpu)
        .err()
        .expect("no libtorch, no network");
    assert!(err.to_string().contains("--features torch"), "{err}");
}

#[test]
#[cfg_attr(not(feature = "torch"), ignore = "needs the `torch` feature")]
fn a_window_too_long_is_refused_by_both_networks() {
    let v = Variables::random(&SMALL, 7);
    let candle = kino_whisper::candle(&v).expect("candle's network");
    let torch = kino_torch::whisper::network(&v, ModelDevice::Cpu).expect("libtorch's network");
    for network in [candle, torch] {
        let err = network
            .listen(&mel(3001))
            .err()
            .expect("over 30 s accepted");
        assert!(err.to_string().contains("1 to 3000 frames"), "{err}");
    }
}

// ------------------------------------------------------- the real model

/// espeak-ng says `text`, as 16 kHz mono samples (through the ffmpeg CLI).
fn speech(text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("said.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(ok.success());
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&wav)
        .args(["-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// tiny.en from the model repository (`make models`); fails, never skips,
/// when it is absent, as kino-whisper's accuracy tests do.
fn tiny_en() -> kino_models::Installed {
    let models = kino_tool_probe::models_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    kino_models::Repository::new(models)
        .get("whisper-tiny.en")
        .unwrap_or_else(|e| panic!("{e}: run `make models` (or set KINO_MODELS)"))
}

#[test]
#[cfg_attr(not(feature = "torch"), ignore = "needs the `torch` feature")]
fn tiny_en_hears_the_same_words_at_the_same_times_on_libtorch() {
    let installed = tiny_en();
    let candle = kino_whisper::Transcriber::load(&installed).expect("candle's tiny.en");
    let torch =
        kino_torch::whisper::load_on(&installed, ModelDevice::Cpu).expect("libtorch's tiny.en");
    assert_eq!(torch.runs_on(), "cpu (libtorch)");
    let pcm = speech("The quick brown fox jumps over the lazy dog near the river bank.");
    let options = kino_whisper::Options {
        language: Some("en".into()),
        word_times: true,
    };
    let want = candle.transcribe(&pcm, &options).expect("candle hears");
    let got = torch.transcribe(&pcm, &options).expect("libtorch hears");
    let text = |t: &kino_whisper::Transcript| {
        t.segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("candle: {}\nlibtorch: {}", text(&want), text(&got));
    assert!(
        text(&want).to_lowercase().contains("lazy dog"),
        "{}",
        text(&want)
    );
    assert_eq!(text(&got), text(&want));
    let words = |t: &kino_whisper::Transcript| -> Vec<(String, f32, f32)> {
        t.segments
            .iter()
            .flat_map(|s| s.words.iter().map(|w| (w.text.clone(), w.start, w.end)))
            .collect()
    };
    let (want, got) = (words(&want), words(&got));
    assert_eq!(got.len(), want.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.0, g.0);
        // One 20 ms frame: the alignment path may step differently on a tie.
        assert!(
            (w.1 - g.1).abs() <= 0.021 && (w.2 - g.2).abs() <= 0.021,
            "{w:?} vs {g:?}"
        );
    }
}
