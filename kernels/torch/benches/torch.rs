//! TorchScript beside the alternatives on the same input, in one run:
//! `LIBTORCH=$PWD/.kino/libtorch cargo bench -p kino-torch --features torch`
//! (`make libtorch`, and `make models` for ONNX Runtime).
//!
//! 1. Vocoding 10 s of 22.05 kHz audio's mels: Griffin-Lim (32 rounds)
//!    against the tiny TorchScript vocoder (random weights, HiFi-GAN's
//!    shape at a fraction of its width: what libtorch's calls and the
//!    tensors' way in and out cost, not what a real HiFi-GAN costs).
//! 2. The tiny diffusion model at 512x512, 20 steps of DPM-Solver++(2M),
//!    guided: its TorchScript export against its ONNX export, the same
//!    weights, so the difference is the runtime's.

use std::path::Path;
use std::time::Instant;

use kino_kernels::diffusion::Sampler;
use kino_kernels::vocoder::{MelSpec, griffin_lim};
use kino_models::{Models, Repository};
use kino_onnx::{Diffusion, DiffusionRequest};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let repository = Repository::new(tmp.path().join("models"));
    for fixture in ["tiny-vocoder", "tiny-sd"] {
        repository
            .add(&root.join("tests/fixtures").join(fixture))
            .expect("the fixture installs");
    }
    let models = Models::new(repository.clone(), 1 << 30);

    let spec = MelSpec::default();
    let audio: Vec<f32> = (0..10 * spec.sample_rate as usize)
        .map(|i| {
            let t = i as f32 / spec.sample_rate as f32;
            0.3 * (2.0 * std::f32::consts::PI * (220.0 + 40.0 * t) * t).sin()
        })
        .collect();
    let mel = spec.analyse(&audio).expect("mel");
    let (vocoder, _) = kino_torch::vocoder::choose(&models, Some("tiny-vocoder")).expect("vocoder");
    println!(
        "vocoding 10 s of audio ({} mel frames), best of 3:",
        mel.frames
    );
    let gl = best_of(3, || griffin_lim(&mel, &spec, 32).expect("griffin-lim"));
    println!("  Griffin-Lim, 32 rounds          {gl:>7.3} s");
    let ts = best_of(3, || vocoder.vocode(&mel).expect("torchscript"));
    println!("  tiny TorchScript vocoder        {ts:>7.3} s");

    let request = DiffusionRequest {
        prompt: "a steaming coffee mug",
        negative: "",
        width: 512,
        height: 512,
        steps: 20,
        guidance: 7.5,
        seed: 1,
        sampler: Sampler::DpmSolverPlusPlus2M,
        init: None,
    };
    let torch = kino_torch::diffusion::load(&repository.get("tiny-sd").expect("installed"))
        .expect("the TorchScript export");
    println!("tiny diffusion model, 512x512, 20 steps, guided, best of 3:");
    let t = best_of(3, || torch.generate(&request, |_, _| {}).expect("generate"));
    println!(
        "  TorchScript (libtorch)          {t:>7.3} s  ({:.1} ms a step)",
        t * 50.0
    );
    let ort = kino_tool_probe::models_dir(&root.join("../.."))
        .join("onnxruntime/1.31.1/libonnxruntime.so");
    if !ort.is_file() {
        println!(
            "  ONNX: skipped, {} is missing (make models)",
            ort.display()
        );
        return;
    }
    kino_onnx::init_runtime(&ort).expect("onnx runtime");
    let onnx = Diffusion::load(&root.join("../onnx/tests/fixtures/diffusion/tiny-sd"))
        .expect("the ONNX export");
    let o = best_of(3, || onnx.generate(&request, |_, _| {}).expect("generate"));
    println!(
        "  ONNX (ONNX Runtime)             {o:>7.3} s  ({:.1} ms a step)",
        o * 50.0
    );
}
