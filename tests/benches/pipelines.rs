//! End-to-end pipeline benchmarks, cold (an empty artifact cache) and with
//! per-stage times. Run with `cargo bench -p kino-tests --bench pipelines`.
//!
//! 1. Dub a generated 60 s 1280x720 clip with a 20-line transcript into
//!    Spanish (goal: <= 10 s on 2 cores; a cloud-API dubbing pipeline takes
//!    about 81 s for a one-minute video).
//! 2. A 30 s 1080p ad creative from `examples/`, then an edit of one
//!    scene's text re-rendered, each beside `ffmpeg` encoding 30 s of
//!    1080p `testsrc2` with the same x264 settings (goal: <= 1.3x ffmpeg).
//! 3. `dub-asr`: dub a 60 s 1280x720 clip of English speech (Piper, 12
//!    sentences over stereo music) into Spanish with no transcript: heard
//!    by Whisper (goal: <= 15 s on 2 cores).
//! 4. `caption-asr`: caption the same clip with no transcript (goal: <= 20 s).
//!
//! `KINO_BENCH_ONLY=dub`, `=ad`, `=dub-asr` or `=caption-asr` runs one of them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use kino_pipeline::local::{self, LocalHost};
use kino_tests::{bundled_plugins, speech_video, test_video, workspace_root};

const LINES: &[&str] = &[
    "Good morning, my friend.",
    "Thank you very much.",
    "Where is the station?",
    "I would like a coffee, please.",
    "The weather is very good today.",
    "See you tomorrow at the house.",
    "How much does it cost?",
    "My family lives in the city.",
    "Good night and thank you.",
    "The train leaves at nine.",
];

fn transcript(lines: usize, every_ms: u32, speech_ms: u32) -> String {
    let stamp = |ms: u32| {
        format!(
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let mut text = String::new();
    for i in 0..lines {
        let start = i as u32 * every_ms + 300;
        let _ = writeln!(
            text,
            "{}\n{} --> {}\n{}\n",
            i + 1,
            stamp(start),
            stamp(start + speech_ms),
            LINES[i % LINES.len()]
        );
    }
    text
}

async fn run(
    host: &LocalHost,
    pipeline: &str,
    files: BTreeMap<String, PathBuf>,
    texts: BTreeMap<String, String>,
) -> (f64, kino_store::Job) {
    let start = Instant::now();
    let job = host
        .executor
        .submit_local(
            &host.tenant,
            &host
                .executor
                .catalog()
                .get(&host.tenant, pipeline)
                .expect("a pipeline"),
            &files,
            &texts,
        )
        .await
        .expect("submit");
    let report = host.executor.run(&job).await.expect("the job completes");
    let secs = start.elapsed().as_secs_f64();
    println!("{pipeline}: {secs:.2} s end to end (cold cache); node time per stage:");
    print!("{}", local::stage_times(&report));
    (secs, job)
}

/// Seconds `ffmpeg` takes to encode `secs` of 1080p `testsrc2` at 24 fps
/// with the settings of the host's writer (libx264 veryfast, crf 20).
fn ffmpeg_encode(dir: &std::path::Path, secs: u32) -> f64 {
    let out = dir.join("reference.mp4");
    let start = Instant::now();
    kino_tests::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=1920x1080:rate=24:duration={secs}"),
        "-c:v",
        "libx264",
        "-preset",
        kino_media::X264_PRESET,
        "-crf",
        kino_media::X264_CRF,
        "-pix_fmt",
        "yuv420p",
        out.to_str().expect("utf-8"),
    ]);
    start.elapsed().as_secs_f64()
}

fn main() {
    let only = std::env::var("KINO_BENCH_ONLY").ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let mut host = rt
        .block_on(LocalHost::open(
            &dir.path().join("data"),
            &bundled_plugins(),
            None,
        ))
        .expect("local host");
    host.executor = host
        .executor
        .with_models(std::sync::Arc::new(kino_models::Models::new(
            kino_models::Repository::new(kino_tests::models_dir()),
            kino_models::DEFAULT_BUDGET,
        )));
    let wants = |case: &str| only.as_deref().is_none_or(|o| o == case);

    if wants("dub-asr") || wants("caption-asr") {
        let sentences: Vec<(&str, f32)> = LINES
            .iter()
            .chain(LINES)
            .take(12)
            .enumerate()
            .map(|(i, line)| (*line, 0.5 + 5.0 * i as f32))
            .collect();
        let video = speech_video(dir.path(), "talk", &sentences, "en", 60, true);
        let resized = dir.path().join("talk720.mp4");
        kino_tests::ffmpeg(&[
            "-i",
            video.to_str().expect("utf-8"),
            "-vf",
            "scale=1280:720",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "copy",
            resized.to_str().expect("utf-8"),
        ]);
        let files = BTreeMap::from([("video".to_owned(), resized)]);
        if wants("dub-asr") {
            let texts = BTreeMap::from([
                ("language".to_owned(), "es".to_owned()),
                ("source-language".to_owned(), "en".to_owned()),
            ]);
            rt.block_on(run(&host, "dub", files.clone(), texts));
        }
        if wants("caption-asr") {
            rt.block_on(run(&host, "caption", files, BTreeMap::new()));
        }
    }
    if wants("dub") {
        let video = dir.path().join("clip.mp4");
        test_video(&video, 60, "1280x720", true);
        let srt = dir.path().join("clip.srt");
        std::fs::write(&srt, transcript(20, 3000, 2600)).expect("write");
        let files = BTreeMap::from([("video".to_owned(), video), ("transcript".to_owned(), srt)]);
        let texts = BTreeMap::from([("language".to_owned(), "es".to_owned())]);
        rt.block_on(run(&host, "dub", files, texts));
    }
    if wants("ad") {
        let examples = workspace_root().join("examples");
        let files = BTreeMap::from([
            ("brief".to_owned(), examples.join("brief.toml")),
            ("product".to_owned(), examples.join("assets/product.png")),
            ("logo".to_owned(), examples.join("assets/logo.png")),
        ]);
        let (ad, job) = rt.block_on(run(&host, "ad-creative", files, BTreeMap::new()));
        let edits: kino_pipeline::Edits = serde_json::from_value(serde_json::json!({
            "scenes": { "1": { "on-screen-text": "Now with oat milk" } }
        }))
        .expect("edits");
        let job = rt
            .block_on(host.executor.store().get_job(&host.tenant, &job.id))
            .expect("reading the job")
            .expect("the job");
        let start = Instant::now();
        let edited = rt.block_on(host.executor.edit(&job, &edits)).expect("edit");
        let report = rt.block_on(host.executor.run(&edited)).expect("the edit");
        let edit = start.elapsed().as_secs_f64();
        println!("ad-creative edit (scene 1's text): {edit:.2} s; node time per stage:");
        print!("{}", local::stage_times(&report));
        let reference = ffmpeg_encode(dir.path(), 30);
        println!(
            "ffmpeg, 30 s of 1080p testsrc2 (libx264 {} crf {}): {reference:.2} s; \
             the ad {:.2}x, the edit {:.2}x",
            kino_media::X264_PRESET,
            kino_media::X264_CRF,
            ad / reference,
            edit / reference
        );
    }
}
