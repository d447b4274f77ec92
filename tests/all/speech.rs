//! The pipelines with models: caption and dub from a video with no
//! transcript (Whisper hears it, window by window), language detection,
//! separation of a stereo source's voice, Piper voices, and what goes wrong
//! with models: none installed, one corrupted, a language the model lacks,
//! a host killed mid-transcription.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kino_models::{Models, Repository};
use kino_pipeline::local::LocalHost;
use kino_pipeline::{Executor, JobReport};
use kino_store::JobEvent;
use kino_tests::{bundled_plugins, ffmpeg, models_dir, speech_video};
use kino_whisper::score::wer;

fn models_in(dir: &Path) -> Arc<Models> {
    Arc::new(Models::new(
        Repository::new(dir),
        kino_models::DEFAULT_BUDGET,
    ))
}

/// A local host in a temporary directory using the models in `models`.
struct Host {
    dir: tempfile::TempDir,
    host: LocalHost,
}

impl Host {
    async fn new(models: &Path) -> Host {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut host = LocalHost::open(&dir.path().join("data"), &bundled_plugins(), None)
            .await
            .expect("opening a local host");
        host.executor = host.executor.with_models(models_in(models));
        Host { dir, host }
    }

    fn executor(&self) -> &Executor {
        &self.host.executor
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn run(
        &self,
        pipeline: &str,
        files: &[(&str, &Path)],
        texts: &[(&str, &str)],
    ) -> anyhow::Result<JobReport> {
        let (files, texts) = kino_tests::job_inputs(files, texts);
        let pipeline = self.executor().catalog().get(&self.host.tenant, pipeline)?;
        let job = self
            .executor()
            .submit_local(&self.host.tenant, &pipeline, &files, &texts)
            .await?;
        self.executor().run(&job).await
    }

    async fn events(&self, report: &JobReport) -> Vec<JobEvent> {
        self.executor()
            .store()
            .events_since(&self.host.tenant, &report.job, 0, 1000)
            .await
            .expect("events")
            .iter()
            .filter_map(|e| e.job_event().ok())
            .collect()
    }
}

fn notes(events: &[JobEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            JobEvent::StageNote { stage, note } => Some(format!("{stage}: {note}")),
            _ => None,
        })
        .collect()
}

const ENGLISH: [(&str, f32); 3] = [
    (
        "The old lighthouse keeper climbed the stairs to light the lamp.",
        1.0,
    ),
    ("A few children were building a castle of sand.", 6.5),
    (
        "When the storm passed, the village gathered in the square.",
        11.0,
    ),
];

/// Cue times of an SRT file, in seconds, with their text.
fn srt_cues(path: &Path) -> Vec<(f32, f32, String)> {
    let text = std::fs::read_to_string(path).expect("reading the captions");
    if text.trim().is_empty() {
        return Vec::new();
    }
    let cues = kino_kernels::subtitle::parse(&text).expect("parsing the captions");
    cues.into_iter()
        .map(|c| {
            (
                c.start_ms as f32 / 1000.0,
                c.end_ms as f32 / 1000.0,
                c.text.replace('\n', " "),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn caption_without_a_transcript_hears_the_speech_and_reruns_from_the_cache() {
    let host = Host::new(&models_dir()).await;
    let video = speech_video(host.dir.path(), "talk", &ENGLISH, "en", 16, true);
    let report = host
        .run("caption", &[("video", &video)], &[])
        .await
        .expect("the caption job completes");
    let cues = srt_cues(&report.outputs["captions.srt"]);
    let heard: Vec<&str> = cues.iter().map(|(_, _, t)| t.as_str()).collect();
    let said: Vec<&str> = ENGLISH.iter().map(|(t, _)| *t).collect();
    // Piper's clear speech over quiet music: tiny.en gets these right (0
    // errors measured); one word in 29 is allowed.
    let rate = wer(&said.join(" "), &heard.join(" "));
    assert!(rate <= 0.04, "WER {rate}: {heard:?}");
    // Each sentence's first cue starts within 200 ms of where it was
    // placed (Piper's own lead-in silence is under 100 ms).
    for (text, at) in ENGLISH {
        let first = text
            .split_whitespace()
            .next()
            .expect("a word")
            .to_lowercase();
        let cue = cues
            .iter()
            .find(|(s, _, t)| t.to_lowercase().starts_with(&first) && (s - at).abs() < 1.0)
            .unwrap_or_else(|| panic!("no cue starts `{text}` near {at} s: {cues:?}"));
        assert!(
            (cue.0 - at).abs() <= 0.2,
            "`{text}` placed at {at} s, its cue starts at {} s",
            cue.0
        );
    }
    // Every cue's words are timed as heard, and the WebVTT carries them.
    let notes = notes(&host.events(&report).await).join("\n");
    let timing = notes
        .lines()
        .find_map(|l| l.split("word times: ").nth(1))
        .unwrap_or_else(|| panic!("no word-times note: {notes}"));
    let counts: Vec<usize> = timing.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert!(
        counts.len() == 2 && counts[0] == counts[1] && counts[0] > 0,
        "{timing}"
    );
    let vtt = std::fs::read_to_string(&report.outputs["captions.vtt"]).expect("vtt");
    for cue in kino_kernels::subtitle::parse_vtt_words(&vtt).expect("vtt words") {
        let words = cue.word_times();
        assert!(words.len() > 1 && words.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
        assert!(words[0].start_ms >= cue.start_ms && words[words.len() - 1].end_ms <= cue.end_ms);
    }
    // Every transcription node ran once; the models stay loaded for the
    // next job (what `/metrics` reports); the second run is all cache hits.
    assert!(report.nodes.iter().any(|n| n.node.starts_with("heard[")));
    let loaded: Vec<String> = host
        .executor()
        .models()
        .loaded()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(
        loaded.contains(&"whisper-tiny.en@1".to_owned())
            && loaded.contains(&"silero-vad@6.2.3".to_owned()),
        "{loaded:?}"
    );
    let again = host
        .run("caption", &[("video", &video)], &[])
        .await
        .expect("the second run completes");
    let ran: Vec<&str> = again
        .nodes
        .iter()
        .filter(|n| !n.cached)
        .map(|n| n.node.as_str())
        .collect();
    assert!(ran.is_empty(), "the second run computed {ran:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn a_spanish_video_is_dubbed_into_english_over_its_music_without_its_voice() {
    let host = Host::new(&models_dir()).await;
    let spanish = [
        ("Buenos días. El café está listo.", 1.0),
        ("Gracias por venir a la casa.", 6.0),
    ];
    let video = speech_video(host.dir.path(), "charla", &spanish, "es", 12, true);
    let report = host
        .run("dub", &[("video", &video)], &[("language", "en")])
        .await
        .expect("the dub completes");
    let notes = notes(&host.events(&report).await).join("\n");
    assert!(notes.contains("source language detected: es"), "{notes}");
    assert!(notes.contains("original voice separated out"), "{notes}");
    // English has a neural voice: no line fell back to espeak-ng.
    assert!(!notes.contains("espeak-ng"), "{notes}");
    let subtitles = std::fs::read_to_string(&report.outputs["subtitles.srt"]).expect("subtitles");
    // The phrasebook translator knows these words from Spanish.
    assert!(
        subtitles.to_lowercase().contains("good morning"),
        "{subtitles}"
    );
    let info = kino_media::probe(&report.outputs["dubbed.mp4"]).expect("probe");
    assert!(info.audio().is_some());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn a_video_with_silent_audio_gets_no_captions_and_no_error() {
    let host = Host::new(&models_dir()).await;
    let video = host.path("quiet.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=5",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo",
        "-t",
        "5",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        video.to_str().expect("utf-8"),
    ]);
    let report = host
        .run("caption", &[("video", &video)], &[])
        .await
        .expect("silence is not an error");
    assert!(srt_cues(&report.outputs["captions.srt"]).is_empty());
    assert!(report.outputs.contains_key("captioned.mp4"));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
async fn model_errors_say_what_to_do() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let video = speech_video(scratch.path(), "one", &ENGLISH[..1], "en", 5, false);

    // No models at all: the error names the command that installs them.
    let empty = Host::new(&scratch.path().join("no-models")).await;
    let err = format!(
        "{:#}",
        empty
            .run("caption", &[("video", &video)], &[])
            .await
            .expect_err("no models")
    );
    assert!(err.contains("make models"), "{err}");

    // A model file one byte off: refused, naming the file.
    let repo = scratch.path().join("models");
    for model in ["onnxruntime", "silero-vad"] {
        let from = Repository::new(models_dir()).get(model).expect("installed");
        let to = repo.join(model).join(&from.manifest.version);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in from
            .manifest
            .files
            .keys()
            .map(String::as_str)
            .chain(["model.toml"])
        {
            std::fs::copy(from.dir.join(file), to.join(file)).expect("copy");
        }
    }
    let vad = repo.join("silero-vad/6.2.3/silero_vad.onnx");
    let mut bytes = std::fs::read(&vad).expect("read");
    bytes[1000] ^= 1;
    std::fs::write(&vad, bytes).expect("write");
    let corrupted = Host::new(&repo).await;
    let err = format!(
        "{:#}",
        corrupted
            .run("caption", &[("video", &video)], &[])
            .await
            .expect_err("a corrupted model")
    );
    assert!(
        err.contains("silero_vad.onnx") && err.contains("does not match"),
        "{err}"
    );

    // A language the model doesn't know.
    let host = Host::new(&models_dir()).await;
    let err = format!(
        "{:#}",
        host.run("caption", &[("video", &video)], &[("language", "xx")])
            .await
            .expect_err("an unknown language")
    );
    assert!(err.contains("does not transcribe `xx`"), "{err}");
}

#[test]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng", missing = "models"),
    ignore = "needs ffmpeg, espeak-ng and the default models (make setup models)"
)]
fn a_host_killed_while_transcribing_resumes_without_hearing_finished_windows_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Three sentences far apart: long enough for two windows.
    let sentences = [
        ("The morning train was late again because of the fog.", 1.0),
        (
            "She opened the window and listened to the birds outside.",
            27.0,
        ),
        (
            "Our neighbour painted his fence a bright shade of yellow.",
            52.0,
        ),
    ];
    let video = speech_video(dir.path(), "long", &sentences, "en", 60, false);
    let data = dir.path().join("data");
    let kino = |args: &[&str]| {
        let mut cmd = crate::kino_local(&data, &dir.path().join("out"), args);
        cmd.arg("--models").arg(models_dir());
        cmd
    };
    let video_arg = format!("video={}", video.display());
    let (job, line) = crate::kill_at(kino(&["run", "caption", &video_arg]), "done    heard[");
    // `[ 4/10 ] done    heard[1] (2.31 s)`: the window that finished.
    let finished = line
        .split("done    ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the finished node")
        .to_owned();

    let out = kino(&["resume", &job]).output().expect("resume");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "resume failed: {log}");
    assert!(log.contains(&format!("cached  {finished}")), "{log}");
    assert!(!log.contains(&format!("done    {finished}")), "{log}");
    let cues = srt_cues(&dir.path().join("out/captions.srt"));
    let heard: Vec<&str> = cues.iter().map(|(_, _, t)| t.as_str()).collect();
    let said: Vec<&str> = sentences.iter().map(|(t, _)| *t).collect();
    let rate = wer(&said.join(" "), &heard.join(" "));
    assert!(rate <= 0.1, "WER {rate}: {heard:?}");
}
