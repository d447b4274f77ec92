//! Text(+image)-to-image on the tiny model of `tests/fixtures/diffusion`
//! (`make.py` wrote it, in optimum's export layout, with random weights):
//! it draws noise, so these tests check the data flow, not the picture.

use std::path::{Path, PathBuf};

use kino_kernels::diffusion::Sampler;
use kino_kernels::interpolate::Frame;
use kino_onnx::{Diffusion, DiffusionRequest, Error};

mod common;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusion/tiny-sd")
}

fn model() -> Diffusion {
    common::init_ort();
    Diffusion::load(&fixture()).expect("loading the tiny model")
}

fn request(prompt: &str) -> DiffusionRequest<'_> {
    DiffusionRequest {
        prompt,
        negative: "",
        width: 64,
        height: 48,
        steps: 6,
        guidance: 7.5,
        seed: 42,
        sampler: Sampler::DpmSolverPlusPlus2M,
        init: None,
    }
}

fn differing(a: &Frame, b: &Frame) -> usize {
    a.data.iter().zip(&b.data).filter(|(x, y)| x != y).count()
}

#[test]
fn the_same_request_draws_the_same_image_and_a_new_prompt_another() {
    let model = model();
    let mut seen = Vec::new();
    let first = model
        .generate(&request("a steaming coffee mug"), |step, of| {
            seen.push((step, of));
        })
        .expect("generate");
    assert_eq!(
        (first.width, first.height, first.data.len()),
        (64, 48, 64 * 48 * 3)
    );
    assert_eq!(seen, (1..=6).map(|s| (s, 6)).collect::<Vec<_>>());
    let again = model
        .generate(&request("a steaming coffee mug"), |_, _| {})
        .expect("generate");
    assert_eq!(
        first.data, again.data,
        "same seed, same prompt: same pixels"
    );

    let other_prompt = model
        .generate(&request("a cold glass of milk"), |_, _| {})
        .expect("generate");
    assert!(differing(&first, &other_prompt) > first.data.len() / 10);
    let other_seed = model
        .generate(
            &DiffusionRequest {
                seed: 43,
                ..request("a steaming coffee mug")
            },
            |_, _| {},
        )
        .expect("generate");
    assert!(differing(&first, &other_seed) > first.data.len() / 10);
    let ddim = model
        .generate(
            &DiffusionRequest {
                sampler: Sampler::Ddim,
                ..request("a steaming coffee mug")
            },
            |_, _| {},
        )
        .expect("generate");
    assert_ne!(first.data, ddim.data);
    // Without guidance the UNet runs once a step, on the prompt alone.
    let unguided = model
        .generate(
            &DiffusionRequest {
                guidance: 1.0,
                ..request("a steaming coffee mug")
            },
            |_, _| {},
        )
        .expect("generate");
    assert_ne!(first.data, unguided.data);
}

#[test]
fn image_to_image_samples_only_the_tail_of_the_schedule() {
    let model = model();
    let (w, h) = (64, 48);
    let init = Frame {
        width: w,
        height: h,
        data: (0..w * h)
            .flat_map(|p| [(p % w * 4) as u8, (p / w * 5) as u8, 128])
            .collect(),
    };
    let at = |strength: f32, prompt| {
        model
            .generate(
                &DiffusionRequest {
                    init: Some((&init, strength)),
                    ..request(prompt)
                },
                |_, _| {},
            )
            .expect("generate")
    };
    let (mug, milk) = ("a steaming coffee mug", "a cold glass of milk");
    // At strength 0 nothing is sampled: the image through the VAE, whatever
    // the prompt says.
    assert_eq!(at(0.0, mug).data, at(0.0, milk).data);
    let half = at(0.5, mug);
    assert_ne!(half.data, at(0.5, milk).data);
    assert_ne!(half.data, at(0.0, mug).data);
    let full = at(1.0, mug);
    assert_ne!(half.data, full.data);
    // At full strength every step runs, on the image noised to the first
    // timestep: it still differs from drawing from noise alone.
    let plain = model.generate(&request(mug), |_, _| {}).expect("generate");
    assert_ne!(full.data, plain.data);
    let refused = model.generate(
        &DiffusionRequest {
            init: Some((&init, 1.5)),
            ..request("x")
        },
        |_, _| {},
    );
    assert!(matches!(
        refused,
        Err(Error::InvalidArgument {
            name: "strength",
            ..
        })
    ));
}

#[test]
fn bad_requests_and_broken_models_are_named() {
    let model = model();
    let err = model
        .generate(
            &DiffusionRequest {
                width: 50,
                ..request("x")
            },
            |_, _| {},
        )
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("50x48") && err.contains("multiples of 8"),
        "{err}"
    );
    let err = model
        .generate(
            &DiffusionRequest {
                steps: 0,
                ..request("x")
            },
            |_, _| {},
        )
        .expect_err("refused")
        .to_string();
    assert!(err.contains("steps"), "{err}");

    // A model folder without its UNet, and one whose UNet is another graph.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), dir.path());
    std::fs::remove_file(dir.path().join("unet/model.onnx")).expect("rm");
    let err = Diffusion::load(dir.path())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("unet/model.onnx"), "{err}");
    std::fs::copy(
        dir.path().join("vae_decoder/model.onnx"),
        dir.path().join("unet/model.onnx"),
    )
    .expect("copy");
    let err = Diffusion::load(dir.path())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("unet") && err.contains("`sample`"), "{err}");
    std::fs::write(
        dir.path().join("scheduler/scheduler_config.json"),
        "{\"beta_schedule\": \"cosine\"}",
    )
    .expect("write");
    copy_dir(&fixture().join("unet"), &dir.path().join("unet"));
    let err = Diffusion::load(dir.path())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("scheduler_config.json") && err.contains("cosine"),
        "{err}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The CPU build of ONNX Runtime (`make models`) has no CUDA provider: a
/// GPU is refused up front with the reason, and a session asked onto one
/// anyway fails naming the provider and the GPU, not silently on the CPU.
/// With onnxruntime-gpu and a GPU, the same model draws the same picture
/// there (within a level: cuDNN may pick other convolution algorithms).
#[test]
fn a_gpu_is_used_only_where_onnx_runtime_has_cuda() {
    common::init_ort();
    let (gpu, why) = kino_onnx::gpu_for(Some(0));
    match gpu {
        None => {
            let why = why.expect("a reason");
            println!("GPU half skipped: {why}");
            assert!(why.contains("no CUDA execution provider"), "{why}");
            let err =
                Diffusion::load_on(&fixture(), Some(0)).expect_err("loaded on a GPU without CUDA");
            assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
            assert!(
                err.to_string()
                    .contains("on cuda:0, ONNX Runtime's CUDA execution provider"),
                "{err}"
            );
        }
        Some(n) => {
            let on_gpu = match Diffusion::load_on(&fixture(), Some(n)) {
                Ok(model) => model,
                // The provider is built in, but its libraries (cuDNN, cuBLAS) or a GPU are missing.
                Err(e) => {
                    println!("GPU half skipped: {e}");
                    return;
                }
            };
            let want = model()
                .generate(&request("a red fox"), |_, _| {})
                .expect("on the CPU");
            let got = on_gpu
                .generate(&request("a red fox"), |_, _| {})
                .expect("on the GPU");
            let worst = want
                .data
                .iter()
                .zip(&got.data)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap_or(0);
            println!("onnx diffusion on cuda:{n}: at most {worst} levels from the CPU's");
            assert!(worst <= 1, "the GPU's picture differs by {worst} levels");
        }
    }
}
