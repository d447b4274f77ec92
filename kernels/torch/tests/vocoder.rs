//! The vocoder kernel on the TorchScript fixture (`fixtures/tiny-vocoder`,
//! written by `fixtures/make_tiny_vocoder.py`): with the `torch` feature it
//! runs and matches PyTorch's own output; without it, the host says so and
//! falls back to Griffin-Lim.

use std::path::{Path, PathBuf};

use kino_kernels::vocoder::{Mel, MelSpec};
use kino_models::{Models, Repository};
use kino_torch::vocoder::{Vocoder, choose};

/// The fixtures: where this was built, or under `KINO_REPO` (the GPU check
/// runs these binaries in a copy of the tree elsewhere).
fn fixtures() -> PathBuf {
    std::env::var_os("KINO_REPO")
        .map(|repo| PathBuf::from(repo).join("kernels/torch"))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("tests/fixtures")
}

/// A repository in `dir` holding the fixture vocoder.
fn repository_with_fixture(dir: &Path) -> Models {
    let repository = Repository::new(dir.join("models"));
    repository
        .add(&fixtures().join("tiny-vocoder"))
        .expect("the fixture installs");
    Models::new(repository, 1 << 30)
}

/// The mel the fixture script ran PyTorch on: `sin(0.3·band + 0.2·frame) - 4`.
fn script_mel() -> Mel {
    let (n_mels, frames) = (80, 12);
    let data = (0..n_mels)
        .flat_map(|b| {
            (0..frames).map(move |t| (0.3 * b as f64 + 0.2 * t as f64).sin() as f32 - 4.0)
        })
        .collect();
    Mel {
        n_mels,
        frames,
        data,
    }
}

#[test]
fn with_no_model_installed_griffin_lim_vocodes_and_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = Models::new(Repository::new(tmp.path().join("models")), 1 << 30);
    let (vocoder, note) = choose(&models, None).expect("always a vocoder");
    assert!(matches!(*vocoder, Vocoder::GriffinLim { .. }));
    assert!(
        note.expect("a note")
            .contains("no vocoder model is installed")
    );

    let spec = MelSpec::default();
    let tone: Vec<f32> = (0..11_025)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 523.0 * i as f32 / 22_050.0).sin())
        .collect();
    let mel = spec.analyse(&tone).expect("analyse");
    let audio = vocoder.vocode(&mel).expect("vocode");
    assert_eq!(audio.len(), mel.frames * spec.hop);
    assert!(audio.iter().any(|&v| v.abs() > 0.1), "it is not silent");

    // A name that isn't installed is the caller's error, not a fallback.
    let err = choose(&models, Some("hifigan")).expect_err("not installed");
    assert!(
        err.to_string().contains("`hifigan` is not installed"),
        "{err}"
    );
}

#[cfg(feature = "torch")]
#[test]
fn the_torchscript_vocoder_matches_pytorch_and_checks_its_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = repository_with_fixture(tmp.path());
    let (vocoder, note) = choose(&models, None).expect("the fixture loads");
    assert_eq!(note, None);
    assert_eq!(vocoder.describe(), "tiny-vocoder@1 (TorchScript)");
    assert_eq!(models.loaded().len(), 1);

    let audio = vocoder.vocode(&script_mel()).expect("vocode");
    let expected: Vec<f32> = std::fs::read(fixtures().join("tiny-vocoder.expected.f32"))
        .expect("expected output")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(audio.len(), 12 * 256);
    assert_eq!(audio.len(), expected.len());
    let worst = audio
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("the largest difference from PyTorch's output: {worst:e}");
    assert!(worst < 1e-5, "differs from PyTorch by {worst}");
    assert!(
        expected.iter().any(|&v| v.abs() > 1e-3),
        "the fixture is not silent"
    );

    // A different mel gives different audio, the same one the same audio.
    let mut other = script_mel();
    other.data[5] += 2.0;
    assert_ne!(vocoder.vocode(&other).expect("vocode"), audio);
    assert_eq!(vocoder.vocode(&script_mel()).expect("vocode"), audio);

    // Bands the model doesn't take are refused before libtorch sees them.
    let narrow = Mel {
        n_mels: 64,
        frames: 4,
        data: vec![-4.0; 256],
    };
    let err = vocoder.vocode(&narrow).expect_err("64 bands").to_string();
    assert!(err.contains("64 mel bands, the vocoder takes 80"), "{err}");

    // Asked for by name, the cached one is shared.
    let (again, _) = choose(&models, Some("tiny-vocoder")).expect("by name");
    assert!(std::sync::Arc::ptr_eq(&vocoder, &again));
}

/// On a GPU, where this process's libtorch has CUDA, the vocoder runs there
/// and says so, and sounds as it does on the CPU; elsewhere this says why
/// it is skipped.
#[cfg(feature = "torch")]
#[test]
fn the_torchscript_vocoder_runs_the_same_on_a_gpu() {
    use kino_torch::device::{self, ModelDevice};
    use kino_torch::vocoder::choose_on;
    let (gpu, why) = device::resolve(Some(0));
    if gpu == ModelDevice::Cpu {
        println!(
            "GPU half skipped: {}",
            why.unwrap_or_else(|| "no GPU".into())
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (on_gpu, _) =
        choose_on(&repository_with_fixture(tmp.path()), None, gpu).expect("on the GPU");
    let (on_cpu, _) =
        choose(&repository_with_fixture(&tmp.path().join("cpu")), None).expect("on the CPU");
    assert_eq!(
        on_gpu.describe(),
        format!("tiny-vocoder@1 (TorchScript on {gpu})")
    );
    let (a, b) = (
        on_gpu.vocode(&script_mel()).expect("vocode"),
        on_cpu.vocode(&script_mel()).expect("vocode"),
    );
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    println!("vocoder on {gpu}: the largest difference from the CPU's output is {worst:e}");
    assert!(worst < 1e-3, "the GPU's audio differs by {worst}");
}

#[cfg(feature = "torch")]
#[test]
fn a_model_whose_output_breaks_its_signature_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let source = tmp.path().join("lying");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::copy(
        fixtures().join("tiny-vocoder/vocoder.pt"),
        source.join("vocoder.pt"),
    )
    .expect("copy");
    // The manifest says the hop is 128; the network upsamples by 256.
    let manifest = std::fs::read_to_string(fixtures().join("tiny-vocoder/model.toml"))
        .expect("read")
        .replace("name = \"tiny-vocoder\"", "name = \"lying\"")
        .replace("hop = 256", "hop = 128");
    std::fs::write(source.join("model.toml"), manifest).expect("write");
    let repository = Repository::new(tmp.path().join("models"));
    repository.add(&source).expect("installs: the files match");
    let models = Models::new(repository, 1 << 30);
    let (vocoder, _) = choose(&models, Some("lying")).expect("loads");
    let err = vocoder
        .vocode(&script_mel())
        .expect_err("wrong length")
        .to_string();
    assert!(
        err.contains("returned 3072 samples for 12 frames; its hop (128) says 1536"),
        "{err}"
    );
}

#[cfg(not(feature = "torch"))]
#[test]
fn without_the_feature_an_installed_torchscript_vocoder_is_named_and_griffin_lim_stands_in() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = repository_with_fixture(tmp.path());
    let (vocoder, note) = choose(&models, None).expect("a fallback");
    assert!(matches!(*vocoder, Vocoder::GriffinLim { .. }));
    let note = note.expect("a note");
    assert!(
        note.contains("`tiny-vocoder` is installed") && note.contains("--features torch"),
        "{note}"
    );
    let err = format!(
        "{:#}",
        choose(&models, Some("tiny-vocoder")).expect_err("asked for by name")
    );
    assert!(err.contains("built without TorchScript support"), "{err}");
    // Griffin-Lim still takes the fixture's mel.
    assert_eq!(
        vocoder.vocode(&script_mel()).expect("vocode").len(),
        12 * 256
    );
}
