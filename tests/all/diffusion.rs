//! The host's diffusion keyframes: with a diffusion model in the repository
//! (the tiny random model of `kernels/onnx/tests/fixtures/diffusion`, which
//! draws noise), an ad's scenes are drawn by it every few frames and
//! interpolated between; without one they are the camera's moves over the
//! stills, and the job's events say which.

use std::path::Path;
use std::sync::Arc;

use kino_models::{Models, Repository};
use kino_pipeline::local::LocalHost;
use kino_tests::{
    bundled_plugins, job_inputs, onnx_repository, video_md5, workspace_root, write_brief,
};

/// A repository with ONNX Runtime and, when `with_model`, the tiny
/// diffusion model installed as an operator would (its export folder with
/// a `model.toml` listing every file, folders and all, with hashes).
fn repository(dir: &Path, with_model: bool) -> Repository {
    let export = workspace_root().join("kernels/onnx/tests/fixtures/diffusion/tiny-sd");
    let models: &[(&str, &str, &Path)] = if with_model {
        &[("tiny-sd", "diffusion", &export)]
    } else {
        &[]
    };
    onnx_repository(dir, models)
}

struct Ad {
    video: std::path::PathBuf,
    /// The first run's stage notes.
    notes: Vec<String>,
    /// Whether each `render[i]` node of the last run came from the cache.
    renders_cached: Vec<bool>,
}

/// A 6 s ad at 320x180 on a host whose repository is `repo`, `runs` times.
async fn ad(dir: &Path, repo: Repository, runs: usize) -> Ad {
    let mut host = LocalHost::open(&dir.join("data"), &bundled_plugins(), None)
        .await
        .expect("a local host");
    host.executor = host
        .executor
        .with_models(Arc::new(Models::new(repo, kino_models::DEFAULT_BUDGET)));
    let brief = dir.join("brief.toml");
    write_brief(&brief, 6, "ad-creative");
    let assets = workspace_root().join("examples/assets");
    let (product, logo) = (assets.join("product.png"), assets.join("logo.png"));
    let (files, texts) = job_inputs(
        &[("brief", &brief), ("product", &product), ("logo", &logo)],
        &[("size", "320x180")],
    );
    let pipeline = host
        .executor
        .catalog()
        .get(&host.tenant, "ad-creative")
        .expect("ad-creative");
    let (mut first_notes, mut last) = (None, None);
    for _ in 0..runs {
        let job = host
            .executor
            .submit_local(&host.tenant, &pipeline, &files, &texts)
            .await
            .expect("submit");
        let report = host.executor.run(&job).await.expect("the ad");
        let notes = kino_tests::stage_notes(host.executor.store(), &host.tenant, &job.id).await;
        first_notes.get_or_insert(notes);
        last = Some(report);
    }
    let report = last.expect("at least one run");
    Ad {
        video: report.outputs["ad.mp4"].clone(),
        notes: first_notes.expect("at least one run"),
        renders_cached: report
            .nodes
            .iter()
            .filter(|n| n.node.starts_with("render["))
            .map(|n| n.cached)
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn an_installed_diffusion_model_draws_the_ads_keyframes() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let with = scratch.path().join("with");
    let drawn = ad(&with, repository(&with, true), 2).await;
    let said: Vec<&String> = drawn
        .notes
        .iter()
        .filter(|n| n.contains("keyframes drawn by the diffusion model tiny-sd"))
        .collect();
    assert!(!drawn.renders_cached.is_empty());
    assert_eq!(
        said.len(),
        drawn.renders_cached.len(),
        "one note per scene: {:#?}",
        drawn.notes
    );
    assert!(said.iter().all(|n| n.contains("interpolated")), "{said:#?}");
    // The second run found every scene in the cache.
    assert!(
        drawn.renders_cached.iter().all(|&c| c),
        "{:?}",
        drawn.renders_cached
    );
    let info = kino_media::probe(&drawn.video).expect("probe");
    let v = info.video().expect("video");
    assert_eq!((v.width, v.height), (320, 180));

    // The same ad on another host with the same model: the same pictures.
    let again = scratch.path().join("again");
    let redrawn = ad(&again, repository(&again, true), 1).await;
    assert_eq!(video_md5(&drawn.video), video_md5(&redrawn.video));

    // Without the model: the camera's moves, said in the events.
    let without = scratch.path().join("without");
    let moved = ad(&without, repository(&without, false), 1).await;
    assert!(
        moved
            .notes
            .iter()
            .any(|n| n.contains("no diffusion model is installed")),
        "{:#?}",
        moved.notes
    );
    assert!(!moved.notes.iter().any(|n| n.contains("keyframes drawn")));
    assert_ne!(video_md5(&drawn.video), video_md5(&moved.video));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn a_torchscript_diffusion_model_draws_where_the_host_runs_torchscript_and_is_named_where_not()
 {
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = repository(scratch.path(), false);
    repo.add(&workspace_root().join("kernels/torch/tests/fixtures/tiny-sd"))
        .expect("the TorchScript export installs");
    let ad = ad(scratch.path(), repo, 1).await;
    let drawn = ad
        .notes
        .iter()
        .filter(|n| n.contains("keyframes drawn by the diffusion model tiny-sd"));
    if kino_torch::ENABLED {
        assert_eq!(drawn.count(), ad.renders_cached.len(), "{:#?}", ad.notes);
    } else {
        assert_eq!(drawn.count(), 0, "{:#?}", ad.notes);
        let named = ad.notes.iter().filter(|n| {
            n.contains("the diffusion model `tiny-sd` is TorchScript")
                && n.contains("--features torch")
                && n.contains("the scene is its still with the camera's move")
        });
        assert_eq!(named.count(), ad.renders_cached.len(), "{:#?}", ad.notes);
    }
}
