//! Media lent to a plugin as streams (`kino:stage/media`), through the
//! test plugin `kino-test-media`: spliced media moves host to host without
//! entering the plugin's memory, and a plugin that misuses the streams
//! (reads past the end, opens them and never reads, writes past the
//! output's cap) is contained: its call ends with a clear answer and
//! nothing of the host's is left open or overwritten.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kino_runtime::backend_types::VideoProgress;
use kino_runtime::{
    CallCtx, CallResult, Limits, MAX_OPEN_STREAMS, MediaFile, MediaSink, MemorySink, Plugin,
    Runtime, RuntimeConfig, Trap, World,
};
use kino_tests::plugin_wasm;

use crate::backends::media;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-streams-cache")),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

fn load(runtime: &Runtime) -> Plugin {
    runtime
        .load(
            "kino-test-media@0.1.0",
            &plugin_wasm("kino-test-media"),
            World::Lipsync,
            Limits::default(),
        )
        .expect("loading kino-test-media")
}

/// A call in `mode`, its plugin's memory peak kept in `peak`.
fn call(mode: &str, peak: &Arc<Mutex<usize>>) -> CallCtx {
    let peak = peak.clone();
    CallCtx::new("acme")
        .with_config([("mode", mode)])
        .with_call_observer(move |report| {
            let mut p = peak.lock().expect("lock");
            *p = (*p).max(report.peak_memory_bytes);
        })
}

/// The host's open file descriptors that point at `path`.
fn open_handles(path: &Path) -> usize {
    let path = path.canonicalize().expect("canonical path");
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
        .count()
}

fn assert_same_file(got: &Path, want: &Path) {
    let got = std::fs::read(got).expect("output");
    let want = std::fs::read(want).expect("input");
    assert_eq!(got.len(), want.len(), "the output is the input's length");
    assert!(got == want, "the output is the input, byte for byte");
}

/// The test plugin loaded in a runtime, and a video of its own to lend it.
struct Lending {
    rt: Runtime,
    plugin: Plugin,
    tmp: tempfile::TempDir,
    video: PathBuf,
    lent: MediaFile,
}

impl Lending {
    fn new(bytes: usize) -> Self {
        let rt = runtime();
        let plugin = load(&rt);
        let tmp = tempfile::tempdir().expect("tmp");
        let video = media(tmp.path(), "scene.mp4", bytes);
        let lent = MediaFile::new(&video, "video/mp4").expect("video");
        Self {
            rt,
            plugin,
            tmp,
            video,
            lent,
        }
    }

    /// A sink of at most `cap` bytes named `name`.
    fn sink(&self, name: &str, cap: u64) -> MediaSink {
        MediaSink::new(self.tmp.path().join(name), cap)
    }

    /// Lends the video (as the video and as the audio) to a `submit` of
    /// `call`, writing to `out`.
    async fn submit(&self, call: &CallCtx, out: &MediaSink) -> CallResult<VideoProgress> {
        self.rt
            .lipsync(&self.plugin, call)
            .expect("world")
            .submit(&self.lent, &self.lent, out, "work")
            .await
    }

    /// [`Lending::submit`], which must answer `done`.
    async fn done(&self, call: &CallCtx, out: &MediaSink) {
        let answer = self.submit(call, out).await;
        assert!(
            matches!(answer, Ok(Ok(VideoProgress::Done(_)))),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn spliced_media_moves_host_to_host_while_the_plugin_stays_small() {
    let lending = Lending::new(64 << 20);
    let out = lending.sink("synced.mp4", 65 << 20);
    let peak = Arc::new(Mutex::new(0));
    lending.done(&call("splice", &peak), &out).await;
    assert_eq!(out.content_type().as_deref(), Some("video/mp4"));
    assert_eq!(out.written(), 64 << 20);
    assert_same_file(out.path(), &lending.video);
    let peak = *peak.lock().expect("lock");
    assert!(
        peak < 4 << 20,
        "64 MiB went through a plugin whose memory peaked at {peak} bytes"
    );
    assert_eq!(
        open_handles(&lending.video),
        0,
        "the host closed what it lent"
    );
}

#[tokio::test]
async fn reads_past_the_end_are_closed_every_time_and_a_new_open_starts_again() {
    let lending = Lending::new(3 << 20);
    let out = lending.sink("synced.mp4", 4 << 20);
    let peak = Arc::new(Mutex::new(0));
    // The plugin answers an error if any read past the end did not say the
    // stream was closed.
    lending.done(&call("past-end", &peak), &out).await;
    assert_same_file(out.path(), &lending.video);
}

#[tokio::test]
async fn a_plugin_that_opens_streams_and_never_reads_them_holds_only_a_few_and_none_after() {
    let lending = Lending::new(1 << 20);
    let out = lending.sink("synced.mp4", 4 << 20);
    let log = Arc::new(MemorySink::default());
    let peak = Arc::new(Mutex::new(0));
    let call = call("never-read", &peak).with_log_sink(log.clone());
    lending.done(&call, &out).await;
    let lines: Vec<String> = log.lines().into_iter().map(|l| l.message).collect();
    let said = lines
        .iter()
        .find(|l| l.starts_with("opened "))
        .unwrap_or_else(|| panic!("the plugin said what it opened: {lines:?}"));
    assert!(
        said.starts_with(&format!("opened {MAX_OPEN_STREAMS} streams; then ")),
        "the host let it hold {MAX_OPEN_STREAMS} streams, no more: {said}"
    );
    assert!(
        said.contains(&format!(
            "at most {MAX_OPEN_STREAMS} media streams open at once"
        )),
        "the refusal says why: {said}"
    );
    assert_eq!(
        open_handles(&lending.video),
        0,
        "the streams it never read nor dropped were closed with its call"
    );
    assert_eq!(out.written(), 0);
}

#[tokio::test]
async fn a_plugin_that_writes_past_its_cap_fails_naming_the_limit_and_the_next_call_runs() {
    let lending = Lending::new(1 << 20);
    let cap = 2 << 20;
    let out = lending.sink("flood.mp4", cap);
    let peak = Arc::new(Mutex::new(0));
    let error = lending
        .submit(&call("flood", &peak), &out)
        .await
        .expect_err("answering `done` over a refused write is not a result");
    assert!(
        matches!(error, Trap::OutputTooLarge { limit, .. } if u64::try_from(limit) == Ok(cap)),
        "{error:?}"
    );
    assert!(error.to_string().contains(&cap.to_string()), "{error}");
    let on_disk = std::fs::metadata(out.path()).expect("output").len();
    assert!(
        on_disk <= cap,
        "nothing past the cap reached the disk: {on_disk}"
    );

    // The same plugin, the next call: it runs as if nothing had happened.
    let out = lending.sink("synced.mp4", cap);
    lending.done(&call("splice", &peak), &out).await;
    assert_same_file(out.path(), &lending.video);
}
