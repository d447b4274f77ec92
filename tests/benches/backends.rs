//! Backend-world benchmarks. Run with `cargo bench -p kino-tests --bench backends`.
//!
//! 1. Media through a plugin, host → plugin → host (`kino-test-media`, a
//!    `lipsync` plugin): spliced between the host's streams, or read into
//!    the plugin's memory and written back (what `list<u8>` values cost),
//!    beside today's `list<u8>` call (the echo translator, 8 MiB in and
//!    out). Effective throughput counts the bytes in and the bytes out, as
//!    the echo figure does; the plugin's memory peak is printed. Beside
//!    them, the host copying the same bytes file to file with no plugin:
//!    the floor the streams sit on (`TMPDIR=/dev/shm` takes the disk out).
//! 2. The host's overhead per remote poll: one `check` of a pending job
//!    (instantiate + call + drop, no network), the store's bookkeeping of a
//!    check (SQLite), and both as `remote::drive` runs them, with no wait.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kino_pipeline::remote::{Backoff, drive};
use kino_runtime::backend_types::VideoProgress;
use kino_runtime::types::Segment;
use kino_runtime::{CallCtx, Limits, MediaFile, MediaSink, Plugin, Runtime, RuntimeConfig, World};
use kino_store::Store;
use kino_tests::plugin_wasm;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn gib_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / f64::from(1u32 << 30) / took.as_secs_f64()
}

fn media_plugin(runtime: &Runtime) -> Plugin {
    runtime
        .load(
            "kino-test-media@0.1.0",
            &plugin_wasm("kino-test-media"),
            World::Lipsync,
            Limits::default().with_memory_bytes(1 << 30),
        )
        .expect("loading kino-test-media")
}

/// A file of `bytes` bytes.
fn file(dir: &Path, name: &str, bytes: usize) -> MediaFile {
    let path = dir.join(name);
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, data).expect("write");
    MediaFile::new(path, "video/mp4").expect("media")
}

/// Moves `video` through the plugin in `mode` `runs` times: the median
/// time and the plugin's largest memory peak.
async fn through(
    runtime: &Runtime,
    plugin: &Plugin,
    mode: &str,
    video: &MediaFile,
    dir: &Path,
    runs: usize,
) -> (Duration, usize) {
    let peak = Arc::new(AtomicUsize::new(0));
    let seen = peak.clone();
    let call = CallCtx::new("bench")
        .with_config([("mode", mode)])
        .with_call_observer(move |report| {
            seen.fetch_max(report.peak_memory_bytes, Ordering::Relaxed);
        });
    let lipsync = runtime.lipsync(plugin, &call).expect("lipsync");
    let mut samples = Vec::new();
    for i in 0..runs + 1 {
        let out = MediaSink::new(dir.join("out.mp4"), video.size() + 1);
        let started = Instant::now();
        let answer = lipsync.submit(video, video, &out, "bench").await;
        let took = started.elapsed();
        assert!(
            matches!(answer, Ok(Ok(VideoProgress::Done(_)))),
            "{answer:?}"
        );
        assert_eq!(out.written(), video.size());
        // The first run warms the page cache and the instance pool.
        if i > 0 {
            samples.push(took);
        }
    }
    (median(samples), peak.load(Ordering::Relaxed))
}

async fn bench_media(runtime: &Runtime) {
    let dir = tempfile::tempdir().expect("tmp");
    let plugin = media_plugin(runtime);
    println!("media through a plugin, host -> plugin -> host (in + out counted, median):");
    for (size, runs) in [(8usize << 20, 20), (256 << 20, 5)] {
        let video = file(dir.path(), &format!("in-{size}.mp4"), size);
        for mode in ["splice", "buffer"] {
            let (took, peak) = through(runtime, &plugin, mode, &video, dir.path(), runs).await;
            println!(
                "  {:>3} MiB {mode:<6}: {:7.2} ms, {:5.2} GiB/s, plugin memory peak {:6.1} MiB",
                size >> 20,
                took.as_secs_f64() * 1e3,
                gib_per_s(2 * video.size(), took),
                peak as f64 / f64::from(1u32 << 20)
            );
        }
    }
    bench_echo(runtime).await;
    bench_file_copy(dir.path());
}

/// The floor under any of it: the host copying 256 MiB file to file in
/// 1 MiB reads and writes (`dd bs=1M`), no plugin involved.
fn bench_file_copy(dir: &Path) {
    use std::io::{Read as _, Write as _};
    let from = file(dir, "copy-in.mp4", 256 << 20);
    let mut samples = Vec::new();
    for i in 0..6 {
        let started = Instant::now();
        let mut input = std::fs::File::open(from.path()).expect("open");
        let mut output = std::fs::File::create(dir.join("copy-out.mp4")).expect("create");
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            output.write_all(&buf[..n]).expect("write");
        }
        drop(output);
        if i > 0 {
            samples.push(started.elapsed());
        }
    }
    let took = median(samples);
    println!(
        "  256 MiB file copy by the host, no plugin (1 MiB reads and writes): {:7.2} ms, {:5.2} GiB/s",
        took.as_secs_f64() * 1e3,
        gib_per_s(2 * from.size(), took)
    );
}

/// Today's `list<u8>` call beside it: 8 MiB in and out of the echo translator.
async fn bench_echo(runtime: &Runtime) {
    const SIZE: usize = 8 << 20;
    let plugin = runtime
        .load(
            "kino-test-echo@0.1.0",
            &plugin_wasm("kino-test-echo"),
            World::Translator,
            Limits::default()
                .with_memory_bytes(64 << 20)
                .with_max_output_bytes(SIZE + 1024),
        )
        .expect("loading the echo translator");
    let segments = vec![Segment {
        id: "s1".into(),
        start_ms: 0,
        end_ms: 1000,
        speaker: String::new(),
        text: "a".repeat(SIZE),
    }];
    let call = CallCtx::new("bench");
    let translator = runtime.translator(&plugin, &call).expect("translator");
    let mut samples = Vec::new();
    for i in 0..21 {
        let started = Instant::now();
        let out = translator.translate("en", "en", &segments).await;
        let took = started.elapsed();
        assert!(matches!(out, Ok(Ok(_))), "{out:?}");
        if i > 0 {
            samples.push(took);
        }
    }
    let took = median(samples);
    println!(
        "    8 MiB list<u8> (echo translator): {:7.2} ms, {:5.2} GiB/s",
        took.as_secs_f64() * 1e3,
        gib_per_s(2 * SIZE as u64, took)
    );
}

async fn bench_polls(runtime: &Runtime) {
    const CHECKS: usize = 2_000;
    let dir = tempfile::tempdir().expect("tmp");
    let plugin = media_plugin(runtime);
    let call = CallCtx::new("bench").with_config([("mode", "pending")]);
    let lipsync = runtime.lipsync(&plugin, &call).expect("lipsync");
    let out = MediaSink::new(dir.path().join("out.mp4"), 1 << 20);

    let started = Instant::now();
    for _ in 0..CHECKS {
        let answer = lipsync.check("t-1", &out).await;
        assert!(
            matches!(answer, Ok(Ok(VideoProgress::Pending(_)))),
            "{answer:?}"
        );
    }
    let call_each = started.elapsed() / CHECKS as u32;

    let store = Store::open_sqlite(dir.path().join("kino.db"))
        .await
        .expect("store");
    store
        .record_remote_job("bench-key", "kino-test-media@0.1.0", "t-1")
        .await
        .expect("record");
    let started = Instant::now();
    for _ in 0..CHECKS {
        store
            .remote_job_checked("bench-key")
            .await
            .expect("checked");
    }
    let store_each = started.elapsed() / CHECKS as u32;

    let video = file(dir.path(), "in.mp4", 4096);
    let checks = AtomicUsize::new(0);
    let backoff = Backoff {
        first: Duration::ZERO,
        max: Duration::ZERO,
        give_up_after: Duration::from_secs(3),
        transient_failures: 0,
    };
    let (polled, lipsync, out) = (&checks, &lipsync, &out);
    let started = Instant::now();
    let gave_up = drive(
        &store,
        "kino-test-media@0.1.0",
        "drive-key",
        backoff,
        None,
        async || lipsync.submit(&video, &video, out, "drive-key").await,
        move |ticket| {
            polled.fetch_add(1, Ordering::Relaxed);
            async move { lipsync.check(&ticket, out).await }
        },
    )
    .await;
    assert!(gave_up.is_err(), "a job that never ends is given up");
    let checks = checks.load(Ordering::Relaxed);
    let drive_each = started.elapsed() / u32::try_from(checks).expect("checks");
    println!("the host's overhead per remote poll (a pending lipsync job, no network):");
    println!(
        "  plugin check (instantiate + call): {:6.1} µs",
        call_each.as_secs_f64() * 1e6
    );
    println!(
        "  store bookkeeping (SQLite):        {:6.1} µs",
        store_each.as_secs_f64() * 1e6
    );
    println!(
        "  remote::drive with a zero wait ({checks} polls in 3 s; tokio sleeps at least its 1 ms tick): {:6.1} µs per poll",
        drive_each.as_secs_f64() * 1e6
    );
}

fn main() {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-backends-cache")),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        bench_media(&runtime).await;
        bench_polls(&runtime).await;
    });
}
