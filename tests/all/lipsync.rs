//! The host's own lip-sync: with a lip-sync model in the repository and no
//! plugin bound, the dub's video is synced by it (the tiny models of
//! `kernels/onnx/tests/fixtures/lipsync`: a "face" in a fixed box of any
//! bright frame, redrawn by one random convolution).

use std::path::Path;
use std::sync::Arc;

use kino_models::{Models, Repository};
use kino_pipeline::local::LocalHost;
use kino_tests::{bundled_plugins, job_inputs, onnx_repository, test_video, workspace_root};

/// A repository with ONNX Runtime and, when `with_model`, the tiny
/// lip-sync model installed as an operator would (`model.toml` with hashes).
fn repository(dir: &Path, with_model: bool) -> Repository {
    let fixtures = workspace_root().join("kernels/onnx/tests/fixtures/lipsync");
    let models: &[(&str, &str, &Path)] = if with_model {
        &[("tiny-lipsync", "lipsync", &fixtures)]
    } else {
        &[]
    };
    onnx_repository(dir, models)
}

async fn dub(dir: &Path, repo: Repository) -> (kino_pipeline::JobReport, Vec<String>) {
    let mut host = LocalHost::open(&dir.join("data"), &bundled_plugins(), None)
        .await
        .expect("a local host");
    host.executor = host
        .executor
        .with_models(Arc::new(Models::new(repo, kino_models::DEFAULT_BUDGET)));
    let video = dir.join("clip.mp4");
    test_video(&video, 3, "320x240", true);
    let srt = dir.join("clip.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,200 --> 00:00:02,500\nGood morning, my friend.\n",
    )
    .expect("srt");
    let (files, texts) = job_inputs(
        &[("video", &video), ("transcript", &srt)],
        &[("language", "es")],
    );
    let pipeline = host
        .executor
        .catalog()
        .get(&host.tenant, "dub")
        .expect("dub");
    let job = host
        .executor
        .submit_local(&host.tenant, &pipeline, &files, &texts)
        .await
        .expect("submit");
    let report = host.executor.run(&job).await.expect("the dub");
    let notes = kino_tests::stage_notes(host.executor.store(), &host.tenant, &job.id).await;
    (report, notes)
}

/// Mean absolute difference of two frames inside and outside a box.
fn differences(
    a: &[u8],
    b: &[u8],
    width: usize,
    inside: impl Fn(usize, usize) -> bool,
) -> (f64, f64) {
    let (mut sums, mut counts) = ([0f64; 2], [0f64; 2]);
    for (p, (x, y)) in a.iter().zip(b).enumerate() {
        let pixel = p / 3;
        let k = usize::from(inside(pixel % width, pixel / width));
        sums[k] += f64::from(x.abs_diff(*y));
        counts[k] += 1.0;
    }
    (sums[1] / counts[1], sums[0] / counts[0])
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn an_installed_lip_sync_model_syncs_the_dub_when_no_plugin_is_bound() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let with = scratch.path().join("with");
    let (report, notes) = dub(&with, repository(&with, true)).await;
    let said = notes
        .iter()
        .find(|n| n.contains("lip-synced by the host's model tiny-lipsync@1"))
        .unwrap_or_else(|| panic!("{notes:#?}"));
    assert!(said.contains("a face in 72 of 72 frames"), "{said}");

    // The face box (0.3..0.7 of the width, 0.3..0.8 of the height) was
    // redrawn; the rest only went through the encoder again.
    let original = with.join("clip.mp4");
    let dubbed = &report.outputs["dubbed.mp4"];
    let frame = |path: &Path| {
        let mut reader = kino_media::VideoReader::open(path).expect("open");
        for _ in 0..30 {
            reader.next_frame().expect("decodes");
        }
        reader.next_frame().expect("decodes").expect("frame 30")
    };
    let (a, b) = (frame(&original), frame(dubbed));
    let (inside, outside) = differences(&a.data, &b.data, 320, |x, y| {
        (96..224).contains(&x) && (72..192).contains(&y)
    });
    assert!(
        inside > 20.0 && outside < 4.0,
        "inside {inside}, outside {outside}"
    );
    let info = kino_media::probe(dubbed).expect("probe");
    assert!(info.audio().is_some(), "the dub's mix is under the picture");

    // Without the model the video passes through, and the events say so.
    let without = scratch.path().join("without");
    let (_, notes) = dub(&without, repository(&without, false)).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("no lip-sync model is installed: the video is not lip-synced")),
        "{notes:#?}"
    );
}
