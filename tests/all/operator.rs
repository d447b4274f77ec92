//! What an operator adds without rebuilding Kino: a pipeline from a spec
//! file that runs built-in ops, a plugin slot and two native kernels (the C
//! example and the Rust one, built here from their sources), from the
//! library and from the CLI; a kernel's error through the fallback policy;
//! and a killed run of a custom pipeline resumed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kino_media as media;
use kino_pipeline::local::LocalHost;
use kino_store::{JobState, NewBinding, StageState};
use kino_tests::{bundled_plugins, ffmpeg, workspace_root};

/// The two example kernels (C, Rust), built once per test process.
pub(crate) fn example_kernels() -> &'static [PathBuf; 2] {
    static BUILT: OnceLock<[PathBuf; 2]> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kino-native-examples-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let c = kino_native::testing::build_c_example(&dir).expect("building the C kernel");
        let rust = kino_native::testing::build_noise_gate(&dir).expect("building the Rust kernel");
        [c, rust]
    })
}

/// A data directory with both kernels installed and the example pipeline in
/// its pipelines directory.
fn operator_data(data: &Path) {
    for library in example_kernels() {
        kino_native::install(
            library,
            &data.join("kernels"),
            None,
            kino_registry::SignaturePolicy::Optional,
            &[],
        )
        .expect("installing a kernel");
    }
    std::fs::create_dir_all(data.join("pipelines")).expect("mkdir");
    std::fs::copy(
        workspace_root().join("examples/pipelines/polish.toml"),
        data.join("pipelines/polish.toml"),
    )
    .expect("copy");
}

/// 4 s of test pattern with a loud tone for 2 s, then faint noise: what a
/// noise gate keeps and what it silences.
fn talk(path: &Path) {
    let sound = "aevalsrc='if(lt(t,2),0.5*sin(2*PI*440*t),0.003*(2*random(0)-1))':s=48000:d=4";
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=4",
        "-f",
        "lavfi",
        "-i",
        sound,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-shortest",
        path.to_str().expect("utf-8"),
    ]);
}

const TRANSCRIPT: &str = "1\n00:00:00,200 --> 00:00:01,800\nGood morning.\n\n2\n00:00:02,200 --> 00:00:03,600\nThank you very much.\n";

/// Mean absolute horizontal gradient of the top half's luma: higher when sharper.
fn sharpness(frame: &media::RgbFrame) -> f64 {
    let (w, h) = (frame.width as usize, frame.height as usize / 2);
    let luma = |x: usize, y: usize| {
        let i = (y * frame.width as usize + x) * 3;
        let p = &frame.data[i..i + 3];
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let mut sum = 0.0;
    for y in 0..h {
        for x in 1..w {
            sum += (luma(x, y) - luma(x - 1, y)).abs();
        }
    }
    sum / (h * (w - 1)) as f64
}

fn first_frame(path: &Path) -> media::RgbFrame {
    media::VideoReader::open(path)
        .expect("open")
        .next_frame()
        .expect("decode")
        .expect("a frame")
}

/// RMS of mono samples at 48 kHz between two times.
fn rms(samples: &[f32], from_s: f64, to_s: f64) -> f64 {
    let span = &samples[(from_s * 48_000.0) as usize..(to_s * 48_000.0) as usize];
    (span.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / span.len() as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn an_operators_pipeline_runs_built_in_ops_a_plugin_and_two_native_kernels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    operator_data(&data);
    let host = LocalHost::open(&data, &bundled_plugins(), None)
        .await
        .expect("a local host");
    let video = tmp.path().join("talk.mp4");
    talk(&video);
    let srt = tmp.path().join("talk.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write");

    let pipeline = host
        .executor
        .catalog()
        .get(&host.tenant, "polish")
        .expect("the operator's pipeline");
    let files: BTreeMap<String, PathBuf> = [
        ("video".to_owned(), video.clone()),
        ("transcript".to_owned(), srt),
    ]
    .into();
    let job = host
        .executor
        .submit_local(&host.tenant, &pipeline, &files, &BTreeMap::new())
        .await
        .expect("submit");
    assert_eq!(job.pipeline, "polish");
    assert_eq!(
        job.pipeline_sha256.as_deref(),
        Some(pipeline.sha256.as_str())
    );

    // The operator edits the file after the job was submitted: the job runs
    // the spec it was submitted with (its stage is `sharp`, not `sharpened`).
    let file = data.join("pipelines/polish.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("\"sharp\"", "\"sharpened\"")).expect("write");

    let report = host.executor.run(&job).await.expect("the job completes");
    let nodes: Vec<&str> = report.nodes.iter().map(|n| n.node.as_str()).collect();
    assert!(
        nodes.contains(&"sharp") && !nodes.contains(&"sharpened"),
        "{nodes:?}"
    );
    let stages = host
        .executor
        .store()
        .list_stages(&host.tenant, &report.job)
        .await
        .expect("stages");
    let by = |name: &str| {
        stages
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.plugin.clone())
            .unwrap_or_default()
    };
    assert_eq!(by("sharp"), "native:unsharp-mask");
    assert_eq!(by("gated"), "native:noise-gate");
    assert!(
        by("translated").starts_with("kino-translator"),
        "{}",
        by("translated")
    );

    // The picture is sharper than the original's.
    let polished = &report.outputs["polished.mp4"];
    let info = media::probe(polished).expect("an mp4");
    assert!(info.video().is_some() && info.audio().is_some());
    assert!(
        (info.duration_secs - 4.0).abs() < 0.2,
        "{}",
        info.duration_secs
    );
    let (before, after) = (
        sharpness(&first_frame(&video)),
        sharpness(&first_frame(polished)),
    );
    assert!(after > before * 1.15, "sharpness {before:.2} -> {after:.2}");

    // The tone is kept and the faint noise after it gated away.
    let original = media::decode_audio(&video, 48_000, 1)
        .expect("audio")
        .samples;
    let gated = media::decode_audio(polished, 48_000, 1)
        .expect("audio")
        .samples;
    let (tone_in, tone_out) = (rms(&original, 0.5, 1.5), rms(&gated, 0.5, 1.5));
    assert!(
        (tone_out / tone_in - 1.0).abs() < 0.1,
        "tone {tone_in} -> {tone_out}"
    );
    let (noise_in, noise_out) = (rms(&original, 2.6, 3.8), rms(&gated, 2.6, 3.8));
    assert!(noise_in > 1e-3, "the fixture has noise: {noise_in}");
    assert!(
        noise_out < noise_in / 10.0,
        "noise {noise_in} -> {noise_out}"
    );

    // The translated captions, from the tenant's translator plugin.
    let subtitles = std::fs::read_to_string(&report.outputs["subtitles.srt"]).expect("srt");
    assert_eq!(subtitles.matches(" --> ").count(), 2, "{subtitles}");
    assert!(
        !subtitles.contains("Good morning.\n"),
        "untranslated: {subtitles}"
    );

    // Run again: every node comes from the cache, native ones included.
    let again = host
        .executor
        .submit_local(&host.tenant, &pipeline, &files, &BTreeMap::new())
        .await
        .expect("submit");
    let report = host.executor.run(&again).await.expect("completes");
    assert!(report.nodes.iter().all(|n| n.cached), "{:?}", report.nodes);
}

/// A one-stage pipeline whose kernel is told to fail.
const FAILING: &str = r#"name = "failing"

[inputs]
video = { kind = "file" }

[[stage]]
name = "sharp"
op = "native:unsharp-mask"
inputs = ["video"]
params = { fail = true }

[outputs]
"sharp.mp4" = "sharp"
"#;

async fn policy(host: &LocalHost, config: serde_json::Value) {
    host.executor
        .store()
        .set_binding(
            &host.tenant,
            &NewBinding {
                slot: "fallback-policy".into(),
                plugin_name: "kino-fallback-backoff".into(),
                requirement: "*".into(),
                config,
                grants: serde_json::json!([]),
            },
        )
        .await
        .expect("bind");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn a_failing_native_kernel_goes_through_the_fallback_policy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    operator_data(&data);
    std::fs::write(data.join("pipelines/failing.toml"), FAILING).expect("write");
    let host = LocalHost::open(&data, &bundled_plugins(), None)
        .await
        .expect("a local host");
    let video = tmp.path().join("talk.mp4");
    talk(&video);
    let files: BTreeMap<String, PathBuf> = [("video".to_owned(), video.clone())].into();
    let pipeline = host
        .executor
        .catalog()
        .get(&host.tenant, "failing")
        .expect("pipeline");

    // `fail`: the job fails with the kernel's own message.
    policy(
        &host,
        serde_json::json!({ "max-retries": "0", "on-exhausted": "fail" }),
    )
    .await;
    let job = host
        .executor
        .submit_local(&host.tenant, &pipeline, &files, &BTreeMap::new())
        .await
        .expect("submit");
    host.executor.run(&job).await.expect_err("the kernel fails");
    let failed = host
        .executor
        .store()
        .get_job(&host.tenant, &job.id)
        .await
        .expect("job")
        .expect("job");
    assert_eq!(failed.state, JobState::Failed);
    let error = failed.error.unwrap_or_default();
    assert!(
        error.contains("unsharp-mask: asked to fail") && error.contains("fallback policy"),
        "{error}"
    );
    let stages = host
        .executor
        .store()
        .list_stages(&host.tenant, &job.id)
        .await
        .expect("stages");
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].state, StageState::Failed);
    assert_eq!(stages[0].plugin.as_deref(), Some("native:unsharp-mask"));

    // `degrade`: the stage passes its input through and the job completes.
    policy(
        &host,
        serde_json::json!({ "max-retries": "0", "on-exhausted": "degrade" }),
    )
    .await;
    let job = host
        .executor
        .submit_local(&host.tenant, &pipeline, &files, &BTreeMap::new())
        .await
        .expect("submit");
    let report = host
        .executor
        .run(&job)
        .await
        .expect("a degraded job completes");
    assert_eq!(
        std::fs::read(&report.outputs["sharp.mp4"]).expect("read"),
        std::fs::read(&video).expect("read"),
        "the degraded stage delivers its input untouched"
    );
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn operators_use_the_cli_and_a_killed_custom_pipeline_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = tmp.path().join("out");
    let kino = |args: &[&str]| crate::kino_local(&data, &out, args);
    let plain = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kino-cli"));
        cmd.args(args);
        cmd.output().expect("kino")
    };
    let data_arg = data.to_str().expect("utf-8");

    // Install both kernels with the CLI; list them.
    for library in example_kernels() {
        let done = plain(&[
            "kernel",
            "install",
            library.to_str().expect("utf-8"),
            "--data-dir",
            data_arg,
        ]);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
    let listed = plain(&["kernel", "list", "--data-dir", data_arg]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("native:unsharp-mask") && listed.contains("native:noise-gate"),
        "{listed}"
    );

    // A spec file with a mistake is refused at load, naming file:line:column.
    let bad = tmp.path().join("polish.toml");
    let text = std::fs::read_to_string(workspace_root().join("examples/pipelines/polish.toml"))
        .expect("read");
    std::fs::write(&bad, text.replace("native:noise-gate", "native:noise-gat")).expect("write");
    let refused = kino(&["run", bad.to_str().expect("utf-8")])
        .output()
        .expect("kino");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr
            .contains("polish.toml:31:6: stage `gated`: no native kernel `noise-gat` is installed"),
        "{stderr}"
    );

    // The example runs from its file; kill it mid-way, then resume.
    let video = tmp.path().join("talk.mp4");
    talk(&video);
    let srt = tmp.path().join("talk.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("write");
    let example = workspace_root().join("examples/pipelines/polish.toml");
    let video_arg = format!("video={}", video.display());
    let srt_arg = format!("transcript={}", srt.display());
    let (job, _) = crate::kill_at(
        kino(&[
            "run",
            example.to_str().expect("utf-8"),
            &video_arg,
            &srt_arg,
        ]),
        "done    gated",
    );
    let resumed = kino(&["resume", &job]).output().expect("resume");
    assert!(
        resumed.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(log.contains("cached  gated"), "{log}");
    assert!(out.join("polished.mp4").is_file());

    // The killed run's temporaries went with the next run's start.
    let left = crate::leftover_temporaries(&data);
    assert!(left.is_empty(), "{left:?}");
    let (got, completed) = crate::completed_nodes(&data, &job);
    assert_eq!(got.state, JobState::Completed);
    // Every node ran to completion exactly once across both processes.
    assert!(completed.values().all(|&n| n == 1), "{completed:?}");
    assert!(completed.contains_key("with-gated-sound"), "{completed:?}");

    // `kino pipelines` lists the built-ins and the operator's files.
    std::fs::create_dir_all(data.join("pipelines")).expect("mkdir");
    std::fs::copy(&example, data.join("pipelines/polish.toml")).expect("copy");
    let listed = plain(&["pipelines", "--data-dir", data_arg]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("dub (built in)"), "{listed}");
    assert!(
        listed.contains("polish (") && listed.contains("native kernels: unsharp-mask, noise-gate"),
        "{listed}"
    );
}
