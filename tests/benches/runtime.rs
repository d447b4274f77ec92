//! Plugin-boundary benchmarks. Run with `cargo bench -p kino-tests --bench runtime`.
//!
//! 1. instantiate + call + drop of a director-style call (pooling allocator):
//!    p50, p99 on one task, and calls/s with two worker threads;
//! 2. a compute-bound call: the palette grader's 33-point LUT (where fuel
//!    metering costs most);
//! 3. compiling each plugin vs loading it from the compiled-component cache.
//!
//! Bulk data through a plugin (`list<u8>` values and media streams) is
//! measured side by side in `--bench backends`.

use std::time::{Duration, Instant};

use kino_runtime::{CallCtx, Limits, Plugin, Runtime, RuntimeConfig, World};
use kino_tests::{brief, plugin_wasm, scene};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn director(runtime: &Runtime) -> Plugin {
    runtime
        .load(
            "kino-director-styles@0.1.0",
            &plugin_wasm("kino-director-styles"),
            World::DirectorStyle,
            Limits::default(),
        )
        .expect("loading kino-director-styles")
}

async fn direct_once(runtime: &Runtime, plugin: &Plugin, call: &CallCtx) {
    let scene = scene();
    let brief = brief(30);
    let outcome = runtime
        .director(plugin, call)
        .expect("director")
        .direct(&scene, &brief)
        .await;
    assert!(matches!(outcome, Ok(Ok(_))), "{outcome:?}");
}

fn bench_call_latency(runtime: &Runtime) {
    let plugin = director(runtime);
    let call = CallCtx::new("bench").with_config([("style", "teal-orange-epic")]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    let samples = rt.block_on(async {
        for _ in 0..2_000 {
            direct_once(runtime, &plugin, &call).await;
        }
        let mut samples = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let started = Instant::now();
            direct_once(runtime, &plugin, &call).await;
            samples.push(started.elapsed());
        }
        samples
    });
    let mut sorted = samples;
    sorted.sort();
    println!(
        "director call (instantiate + call + drop), 1 task: p50 {:.1} µs, p99 {:.1} µs, {} calls",
        percentile(&sorted, 0.50).as_secs_f64() * 1e6,
        percentile(&sorted, 0.99).as_secs_f64() * 1e6,
        sorted.len()
    );

    let workers = 2;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("tokio");
    let per_task = 20_000;
    let tasks = workers * 2;
    let elapsed = rt.block_on(async {
        let started = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (runtime, plugin, call) = (runtime.clone(), plugin.clone(), call.clone());
            handles.push(tokio::spawn(async move {
                for _ in 0..per_task {
                    direct_once(&runtime, &plugin, &call).await;
                }
            }));
        }
        for handle in handles {
            handle.await.expect("bench task");
        }
        started.elapsed()
    });
    let calls = (tasks * per_task) as f64;
    println!(
        "director call, {workers} worker threads, {tasks} tasks: {:.0} calls/s ({} calls in {:.2} s)",
        calls / elapsed.as_secs_f64(),
        calls,
        elapsed.as_secs_f64()
    );
}

fn bench_compile_vs_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config).expect("runtime");
    for package in [
        "kino-script-arc",
        "kino-director-styles",
        "kino-translator-phrasebook",
        "kino-grader-palette",
        "kino-fallback-backoff",
    ] {
        let wasm = plugin_wasm(package);
        let started = Instant::now();
        runtime.compile(&wasm).expect("compile");
        let compiled = started.elapsed();
        let mut cached = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            runtime.compile(&wasm).expect("load from cache");
            cached.push(started.elapsed());
        }
        cached.sort();
        println!(
            "{package}: {} KiB component, compile {:.1} ms, load from cache {:.2} ms ({:.0}x)",
            wasm.len() / 1024,
            compiled.as_secs_f64() * 1e3,
            percentile(&cached, 0.5).as_secs_f64() * 1e3,
            compiled.as_secs_f64() / percentile(&cached, 0.5).as_secs_f64()
        );
    }
}

/// A compute-bound call: 33³ lattice points, each through the grade's curves.
fn bench_grade(runtime: &Runtime) {
    use kino_runtime::types::{ChannelStats, FrameStats, GradeIntent};
    let plugin = runtime
        .load(
            "kino-grader-palette@0.1.0",
            &plugin_wasm("kino-grader-palette"),
            World::Grader,
            Limits::default(),
        )
        .expect("loading kino-grader-palette");
    let channel = |mean| ChannelStats {
        mean,
        p01: 0.02,
        p50: mean,
        p99: 0.97,
    };
    let stats = FrameStats {
        red: channel(0.46),
        green: channel(0.44),
        blue: channel(0.40),
        luma_histogram: vec![1000; 256],
    };
    let intent = GradeIntent {
        warmth: 0.3,
        contrast: 0.2,
        saturation: 0.1,
        palette: Vec::new(),
        palette_strength: 0.0,
        look: "bench".into(),
    };
    let call = CallCtx::new("bench");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    let mut samples = rt.block_on(async {
        let grader = runtime.grader(&plugin, &call).expect("a grader");
        let mut samples = Vec::new();
        for i in 0..60 {
            let started = Instant::now();
            let lut = grader.grade(&stats, &intent).await;
            assert!(matches!(lut, Ok(Ok(_))), "{lut:?}");
            if i >= 10 {
                samples.push(started.elapsed());
            }
        }
        samples
    });
    samples.sort();
    println!(
        "grader call (33-point LUT, compute-bound): p50 {:.2} ms, p99 {:.2} ms, {} calls",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

fn main() {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    bench_call_latency(&runtime);
    bench_grade(&runtime);
    bench_compile_vs_cache();
}
