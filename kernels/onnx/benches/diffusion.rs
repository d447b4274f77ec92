//! What the host's samplers cost per step beside the network, and a whole
//! text-to-image run on the tiny test model. `cargo bench -p kino-onnx
//! --bench diffusion` (needs `make models` for ONNX Runtime).
//!
//! 1. Sampler overhead: `sample` over Stable Diffusion's 512x512 latents
//!    (4x64x64) with a network that answers at once (a copy of its input),
//!    so what is timed is the sampler's own arithmetic and allocation.
//! 2. The tiny model (`tests/fixtures/diffusion`, random weights) at
//!    512x512, 20 steps, guided: what a run costs around a network that
//!    does almost nothing (tokenizer, text encoder, latents in and out of
//!    ONNX Runtime, the VAE), per step.

use std::path::Path;
use std::time::Instant;

use kino_kernels::diffusion::{Sampler, Schedule, noise, sample};
use kino_onnx::{Diffusion, DiffusionRequest, init_runtime};

fn main() {
    let schedule = Schedule::stable_diffusion();
    let latents = noise(1, 4 * 64 * 64);
    println!("sampler overhead per step, 4x64x64 latents (the network answers at once):");
    for (sampler, name) in [
        (Sampler::Ddim, "ddim"),
        (Sampler::DpmSolverPlusPlus2M, "dpm++2m"),
    ] {
        let steps = 50;
        let timesteps = schedule.timesteps(steps);
        let runs = 20;
        let started = Instant::now();
        for _ in 0..runs {
            let out = sample(&schedule, sampler, &timesteps, latents.clone(), |x, _| {
                Ok::<_, ()>(x.to_vec())
            })
            .expect("sample");
            std::hint::black_box(out);
        }
        let per_step = started.elapsed().as_secs_f64() * 1e6 / (runs * steps) as f64;
        println!("  {name:<8} {per_step:>8.1} µs");
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = kino_tool_probe::models_dir(&root.join("../.."));
    let ort = models.join("onnxruntime/1.31.1/libonnxruntime.so");
    if !ort.is_file() {
        println!(
            "tiny model: skipped, {} is missing (make models)",
            ort.display()
        );
        return;
    }
    init_runtime(&ort).expect("onnx runtime");
    let model =
        Diffusion::load(&root.join("tests/fixtures/diffusion/tiny-sd")).expect("the tiny model");
    println!("tiny model, 512x512, 20 steps, guidance 7.5 (UNet batch of two):");
    for (sampler, name) in [
        (Sampler::Ddim, "ddim"),
        (Sampler::DpmSolverPlusPlus2M, "dpm++2m"),
    ] {
        let request = DiffusionRequest {
            prompt: "a steaming coffee mug on a wooden table",
            negative: "",
            width: 512,
            height: 512,
            steps: 20,
            guidance: 7.5,
            seed: 7,
            sampler,
            init: None,
        };
        model.generate(&request, |_, _| {}).expect("warm-up");
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(model.generate(&request, |_, _| {}).expect("generate"));
        }
        let per_run = started.elapsed().as_secs_f64() / runs as f64;
        println!(
            "  {name:<8} {:>7.1} ms a run, {:>6.2} ms a step",
            per_run * 1e3,
            per_run * 1e3 / 20.0
        );
    }
}
