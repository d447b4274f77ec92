//! The TorchScript twin of the ONNX test model (`fixtures/tiny-sd`, written
//! by `fixtures/make_tiny_diffusion.py` from that export's own weights):
//! the host draws the same request with either runtime and gets the same
//! picture, so a TorchScript export is one more format of the same model.

use std::path::{Path, PathBuf};

use kino_kernels::diffusion::Sampler;
#[cfg(feature = "torch")]
use kino_kernels::interpolate::Frame;
use kino_models::Repository;
#[cfg(feature = "torch")]
use kino_onnx::Diffusion;
use kino_onnx::DiffusionRequest;

/// The repository: where it was built, or `KINO_REPO` (the GPU check runs
/// these binaries in a copy of the tree elsewhere).
fn root() -> PathBuf {
    std::env::var_os("KINO_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

fn installed(dir: &Path, source: &Path) -> kino_models::Installed {
    Repository::new(dir.join("models"))
        .add(source)
        .expect("the fixture installs")
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

#[cfg(feature = "torch")]
fn onnx_twin() -> Diffusion {
    let models = kino_tool_probe::models_dir(&root());
    let ort = models.join("onnxruntime/1.31.1/libonnxruntime.so");
    assert!(
        ort.is_file(),
        "{} is missing: run `make models`",
        ort.display()
    );
    kino_onnx::init_runtime(&ort).expect("loading onnx runtime");
    Diffusion::load(&root().join("kernels/onnx/tests/fixtures/diffusion/tiny-sd"))
        .expect("the onnx export")
}

/// The largest difference between two pictures' channel values, and how
/// many differ at all.
#[cfg(feature = "torch")]
fn compare(a: &Frame, b: &Frame) -> (u8, usize) {
    assert_eq!((a.width, a.height), (b.width, b.height));
    a.data
        .iter()
        .zip(&b.data)
        .fold((0, 0), |(worst, n), (x, y)| {
            (worst.max(x.abs_diff(*y)), n + usize::from(x != y))
        })
}

#[cfg(feature = "torch")]
#[test]
fn the_torchscript_export_draws_what_the_onnx_export_draws() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = installed(
        tmp.path(),
        &root().join("kernels/torch/tests/fixtures/tiny-sd"),
    );
    let torch = kino_torch::diffusion::load(&model).expect("the torchscript export loads");
    let onnx = onnx_twin();

    let mut steps = Vec::new();
    let drawn = torch
        .generate(&request("a steaming coffee mug"), |step, of| {
            steps.push((step, of))
        })
        .expect("generate");
    assert_eq!(steps, (1..=6).map(|s| (s, 6)).collect::<Vec<_>>());
    let reference = onnx
        .generate(&request("a steaming coffee mug"), |_, _| {})
        .expect("generate");
    let (worst, differing) = compare(&drawn, &reference);
    eprintln!(
        "text to image: {differing} of {} channel values differ from the ONNX export's, by at most {worst}",
        drawn.data.len()
    );
    // The same float arithmetic in two libraries: at most a rounding apart.
    assert!(worst <= 1, "{differing} values differ, by up to {worst}");
    assert!(
        differing < drawn.data.len() / 100,
        "{differing} values differ"
    );

    // Image-to-image goes through the VAE encoder of each.
    let init = Frame {
        width: 64,
        height: 48,
        data: (0..64 * 48)
            .flat_map(|p| [(p % 64 * 4) as u8, (p / 64 * 5) as u8, 128])
            .collect(),
    };
    let img2img = |model: &Diffusion| {
        model
            .generate(
                &DiffusionRequest {
                    init: Some((&init, 0.5)),
                    sampler: Sampler::Ddim,
                    ..request("a cold glass of milk")
                },
                |_, _| {},
            )
            .expect("image to image")
    };
    let (worst, differing) = compare(&img2img(&torch), &img2img(&onnx));
    eprintln!("image to image: {differing} channel values differ, by at most {worst}");
    assert!(worst <= 1, "image to image differs by up to {worst}");

    // Deterministic, and the prompt matters.
    let again = torch
        .generate(&request("a steaming coffee mug"), |_, _| {})
        .expect("generate");
    assert_eq!(drawn.data, again.data);
    let other = torch
        .generate(&request("a cold glass of milk"), |_, _| {})
        .expect("generate");
    assert!(compare(&drawn, &other).1 > drawn.data.len() / 10);
}

/// On a GPU, where this process's libtorch has CUDA (a CUDA libtorch 2.11
/// on the library path), the networks run there and draw what they draw on
/// the CPU, within float rounding; elsewhere this says why it is skipped.
#[cfg(feature = "torch")]
#[test]
fn the_torchscript_export_draws_the_same_on_a_gpu() {
    use kino_torch::device::{self, ModelDevice};
    let (gpu, why) = device::resolve(Some(0));
    if gpu == ModelDevice::Cpu {
        println!(
            "GPU half skipped: {}",
            why.unwrap_or_else(|| "no GPU".into())
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = installed(
        tmp.path(),
        &root().join("kernels/torch/tests/fixtures/tiny-sd"),
    );
    let on_gpu = kino_torch::diffusion::load_on(&model, gpu).expect("loads on the GPU");
    let on_cpu = kino_torch::diffusion::load(&model).expect("loads on the CPU");
    let draw = |model: &Diffusion| {
        model
            .generate(&request("a steaming coffee mug"), |_, _| {})
            .expect("generate")
    };
    let (worst, differing) = compare(&draw(&on_gpu), &draw(&on_cpu));
    println!(
        "diffusion on {gpu}: {differing} channel values differ from the CPU's, by at most {worst}"
    );
    assert!(worst <= 4, "the GPU's picture differs by up to {worst}");
}

#[cfg(feature = "torch")]
#[test]
fn a_torchscript_diffusion_model_with_a_wrong_signature_is_refused_by_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = tmp.path().join("swapped");
    copy_dir(
        &root().join("kernels/torch/tests/fixtures/tiny-sd"),
        &source,
    );
    // The UNet's first two inputs the other way round.
    let manifest = std::fs::read_to_string(source.join("model.toml")).expect("read");
    let sample = manifest
        .lines()
        .find(|l| l.contains("name = \"sample\", dtype = \"f32\", shape = [\"batch\""))
        .expect("sample line");
    let timestep = manifest
        .lines()
        .find(|l| l.contains("name = \"timestep\""))
        .expect("timestep line");
    let swapped = manifest
        .replace(sample, "@SAMPLE@")
        .replace(timestep, sample)
        .replace("@SAMPLE@", timestep);
    std::fs::write(source.join("model.toml"), swapped).expect("write");
    let model = installed(tmp.path(), &source);
    let err = format!(
        "{:#}",
        kino_torch::diffusion::load(&model).expect_err("refused")
    );
    assert!(
        err.contains(
            "[signatures.unet] takes [\"timestep\", \"sample\", \"encoder_hidden_states\"]"
        ),
        "{err}"
    );
}

#[cfg(feature = "torch")]
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[cfg(not(feature = "torch"))]
#[test]
fn without_the_feature_a_torchscript_diffusion_model_says_how_to_run_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let model = installed(
        tmp.path(),
        &root().join("kernels/torch/tests/fixtures/tiny-sd"),
    );
    let err = format!(
        "{:#}",
        kino_torch::diffusion::load(&model).expect_err("not built")
    );
    assert!(
        err.contains("`tiny-sd@1` is TorchScript") && err.contains("--features torch"),
        "{err}"
    );
    let _ = request("x");
}
