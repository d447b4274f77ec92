//! Hostile plugins end as the right, distinct outcome within their deadline
//! (plus 50 ms), and the same plugin then serves a normal call.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kino_runtime::{
    CacheOutcome, CallCtx, Limits, LoadError, LogSource, MemorySink, Plugin, Runtime,
    RuntimeConfig, Trap, World, WrongWorld,
    types::{DirectedScene, PluginError},
};
use kino_tests::{brief, load_with, plugin_wasm, runtime, scene};

const DEADLINE: Duration = Duration::from_millis(300);
const SLACK: Duration = Duration::from_millis(50);

/// The hostile plugin, compiled once per test binary: compiling is not what
/// these tests measure, and parallel compiles would crowd the deadline checks.
fn hostile() -> Plugin {
    static HOSTILE: OnceLock<Plugin> = OnceLock::new();
    HOSTILE
        .get_or_init(|| {
            load_with(
                "kino-test-hostile",
                World::DirectorStyle,
                Limits::default()
                    .with_timeout(DEADLINE)
                    .with_memory_bytes(32 << 20),
            )
        })
        .clone()
}

async fn direct(plugin: &Plugin, mode: &str) -> Result<Result<DirectedScene, PluginError>, Trap> {
    let call = CallCtx::new("tenant-a").with_config([("mode", mode)]);
    runtime()
        .director(plugin, &call)
        .expect("a director plugin")
        .direct(&scene(), &brief(30))
        .await
}

/// Runs `mode`, checks it ended as `expected` in time, then checks a normal call works.
async fn contained(mode: &str, expected: impl Fn(&Trap) -> bool) -> Trap {
    let plugin = hostile();
    let started = Instant::now();
    let outcome = direct(&plugin, mode).await;
    let elapsed = started.elapsed();
    let trap = outcome.expect_err("a hostile call must trap");
    assert!(expected(&trap), "{mode}: unexpected outcome {trap:?}");
    assert!(
        elapsed <= DEADLINE + SLACK,
        "{mode}: took {elapsed:?}, past the deadline + {SLACK:?}"
    );
    let normal = direct(&plugin, "ok").await;
    let directed = normal
        .expect("no trap after a hostile call")
        .expect("a normal answer after a hostile call");
    assert_eq!(directed.styled_prompt, scene().visual);
    trap
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline() {
    let trap = contained("loop", |t| matches!(t, Trap::Deadline { .. })).await;
    assert!(trap.is_retryable());
    assert_eq!(trap.kind(), "deadline");
}

#[tokio::test]
async fn fuel_budget_stops_a_loop_deterministically() {
    // A generous deadline, a small budget: the budget ends the call.
    let plugin = load_with(
        "kino-test-hostile",
        World::DirectorStyle,
        Limits::default()
            .with_timeout(Duration::from_secs(30))
            .with_fuel(50_000_000),
    );
    let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let call = CallCtx::new("tenant-a")
        .with_config([("mode", "loop")])
        .with_call_observer(move |r| seen.lock().expect("reports").push(r.clone()));
    let director = runtime().director(&plugin, &call).expect("a director");
    let trap = director
        .direct(&scene(), &brief(30))
        .await
        .expect_err("the loop must run out of fuel");
    assert_eq!(trap, Trap::Fuel { limit: 50_000_000 });
    assert_eq!(trap.kind(), "fuel");
    assert!(!trap.is_retryable(), "the same call burns the same fuel");
    // A normal call's fuel is the same every time: the budget is deterministic.
    let call = call.with_config([("mode", "ok")]);
    let director = runtime().director(&plugin, &call).expect("a director");
    for _ in 0..2 {
        director
            .direct(&scene(), &brief(30))
            .await
            .expect("no trap")
            .expect("an answer");
    }
    let reports = reports.lock().expect("reports").clone();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0].trap, Some("fuel"));
    assert_eq!(reports[0].fuel, 50_000_000);
    assert!(reports[1].fuel > 0 && reports[1].fuel < 50_000_000);
    assert_eq!(reports[1].fuel, reports[2].fuel, "{reports:?}");
    assert!(reports[1].peak_memory_bytes >= 64 << 10, "{reports:?}");
    let usage = runtime().usage();
    let (_, hostile) = usage
        .iter()
        .find(|(id, _)| id.starts_with("kino-test-hostile@"))
        .expect("the hostile plugin's usage is counted");
    assert!(hostile.calls >= 3 && hostile.traps.get("fuel").copied() >= Some(1));
}

#[tokio::test]
async fn memory_growth_stops_at_the_cap() {
    let trap = contained("grow", |t| matches!(t, Trap::MemoryLimit { .. })).await;
    let Trap::MemoryLimit { limit, requested } = trap else {
        unreachable!()
    };
    assert_eq!(limit, 32 << 20);
    assert!(requested > limit);
}

#[tokio::test]
async fn panic_is_reported_with_its_message() {
    let trap = contained("panic", |t| matches!(t, Trap::Panic { .. })).await;
    assert!(
        trap.to_string()
            .contains("hostile plugin panics on purpose"),
        "{trap}"
    );
}

#[tokio::test]
async fn unbounded_recursion_overflows_the_stack() {
    contained("recurse", |t| matches!(t, Trap::StackOverflow)).await;
}

#[tokio::test]
async fn huge_return_value_is_refused() {
    let trap = contained("huge", |t| matches!(t, Trap::OutputTooLarge { .. })).await;
    let Trap::OutputTooLarge { bytes, limit } = trap else {
        unreachable!()
    };
    assert_eq!(limit, Limits::default().max_output_bytes);
    assert!(bytes >= 20 << 20, "{bytes}");
}

#[tokio::test]
async fn unknown_import_is_refused_at_load() {
    let error = runtime()
        .load(
            "kino-test-hostile-import@0.1.0",
            &plugin_wasm("kino-test-hostile-import"),
            World::DirectorStyle,
            Limits::default(),
        )
        .expect_err("a plugin importing kino:hostile/escape must not load");
    assert!(
        matches!(error, LoadError::UnknownImport { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("kino:hostile/escape"), "{error}");
    // The host is unaffected.
    let directed = direct(&hostile(), "ok").await;
    assert!(matches!(directed, Ok(Ok(_))));
}

#[tokio::test]
async fn nothing_ambient_is_reachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port().to_string();
    let call = CallCtx::new("tenant-a").with_config([("mode", "probe"), ("port", port.as_str())]);
    let plugin = hostile();
    let directed = runtime()
        .director(&plugin, &call)
        .expect("a director plugin")
        .direct(&scene(), &brief(30))
        .await;
    let directed = directed.expect("no trap").expect("no plugin error");
    assert_eq!(
        directed.styled_prompt,
        "env=0 args=0 root=false passwd=false tcp=false"
    );
    assert!(listener.accept().is_err(), "no connection reached the host");
}

#[tokio::test]
async fn plugin_errors_are_not_traps() {
    let outcome = direct(&hostile(), "error").await;
    let Ok(Err(PluginError::RateLimited(limit))) = outcome else {
        panic!("expected the plugin's own rate-limited error, got {outcome:?}");
    };
    assert_eq!(limit.retry_after_ms, 250);
}

#[tokio::test]
async fn logs_and_output_are_bounded_and_attributed() {
    let sink = Arc::new(MemorySink::default());
    let call = CallCtx::new("tenant-a")
        .with_job("job-42")
        .with_config([("mode", "log-flood")])
        .with_log_sink(sink.clone());
    let plugin = hostile();
    let directed = runtime()
        .director(&plugin, &call)
        .expect("a director plugin")
        .direct(&scene(), &brief(30))
        .await;
    assert!(matches!(directed, Ok(Ok(_))), "{directed:?}");
    let lines = sink.lines();
    let from_plugin: Vec<_> = lines
        .iter()
        .filter(|l| l.source == LogSource::Plugin)
        .collect();
    assert_eq!(from_plugin.len(), Limits::default().log_lines as usize);
    assert!(
        from_plugin
            .iter()
            .all(|l| l.message.len() <= Limits::default().log_line_bytes + 16)
    );
    assert!(lines.iter().all(|l| &*l.plugin == "kino-test-hostile@0.1.0"
        && &*l.tenant == "tenant-a"
        && l.job.as_deref() == Some("job-42")));
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Host
                && l.message.contains("9744 more log lines dropped")),
        "dropped lines are counted"
    );
    let stdout: usize = lines
        .iter()
        .filter(|l| l.source == LogSource::Stdout && !l.message.contains("dropped"))
        .map(|l| l.message.len())
        .sum();
    assert!(
        stdout <= Limits::default().stdio_bytes,
        "stdout kept: {stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.source == LogSource::Stderr && l.message == "stderr is bounded too")
    );
}

#[tokio::test]
async fn many_concurrent_calls_share_one_plugin() {
    let plugin = hostile();
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let plugin = plugin.clone();
        tasks.push(tokio::spawn(async move {
            let mode = if i % 8 == 0 { "panic" } else { "ok" };
            (mode, direct(&plugin, mode).await)
        }));
    }
    for task in tasks {
        let (mode, outcome) = task.await.expect("task ran");
        match mode {
            "panic" => assert!(matches!(outcome, Err(Trap::Panic { .. }))),
            _ => assert!(matches!(outcome, Ok(Ok(_))), "{outcome:?}"),
        }
    }
}

#[tokio::test]
async fn wrong_world_and_bad_bytes_are_refused() {
    let fallback = plugin_wasm("kino-fallback-backoff");
    let error = runtime()
        .load(
            "fb@0.1.0",
            &fallback,
            World::DirectorStyle,
            Limits::default(),
        )
        .expect_err("a fallback policy is not a director");
    assert!(matches!(error, LoadError::WrongExports { .. }), "{error:?}");

    let plugin = runtime()
        .load(
            "fb@0.1.0",
            &fallback,
            World::FallbackPolicy,
            Limits::default(),
        )
        .expect("loads as its own world");
    let call = CallCtx::default();
    let Err(wrong) = runtime().director(&plugin, &call) else {
        panic!("a fallback plugin has no director API");
    };
    assert_eq!(
        wrong,
        WrongWorld {
            plugin: "fb@0.1.0".into(),
            expected: World::DirectorStyle,
            actual: World::FallbackPolicy
        }
    );

    for junk in [&b""[..], b"not wasm at all", b"\0asm\x01\0\0\0"] {
        let error = runtime()
            .load("junk@0.1.0", junk, World::Grader, Limits::default())
            .expect_err("junk must not load");
        assert!(matches!(error, LoadError::Compile { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn compiled_components_are_reused_across_runtimes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    };
    let wasm = plugin_wasm("kino-test-hostile");
    let first = Runtime::new(config.clone()).expect("runtime");
    let plugin = first
        .load("h@0.1.0", &wasm, World::DirectorStyle, Limits::default())
        .expect("loads");
    assert_eq!(plugin.cache_outcome(), CacheOutcome::Compiled);
    drop(first);

    // A "restarted" host finds the compiled component on disk.
    let second = Runtime::new(config).expect("runtime");
    let plugin = second
        .load("h@0.1.0", &wasm, World::DirectorStyle, Limits::default())
        .expect("loads");
    assert_eq!(plugin.cache_outcome(), CacheOutcome::Hit);
    let call = CallCtx::default();
    let directed = second
        .director(&plugin, &call)
        .expect("director")
        .direct(&scene(), &brief(15))
        .await;
    assert!(matches!(directed, Ok(Ok(_))));

    // A corrupted cache entry is recompiled, not trusted.
    for entry in std::fs::read_dir(dir.path()).expect("cache dir").flatten() {
        std::fs::write(entry.path(), b"garbage").expect("corrupt");
    }
    let third = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let plugin = third
        .load("h@0.1.0", &wasm, World::DirectorStyle, Limits::default())
        .expect("loads");
    assert_eq!(plugin.cache_outcome(), CacheOutcome::Compiled);
}

#[test]
fn one_plugin_loaded_on_many_threads_at_once_compiles_into_the_cache() {
    // Found by a flaky test: every thread of a process wrote its compiled
    // component to the same scratch name, so the second rename found its file
    // gone and the load failed (two jobs of a tenant starting together).
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let wasm = plugin_wasm("kino-test-echo");
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        let loads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    runtime.load("e@0.1.0", &wasm, World::Translator, Limits::default())
                })
            })
            .collect();
        for load in loads {
            load.join().expect("thread").expect("every load succeeds");
        }
    });
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one compiled component, no scratch left: {files:?}"
    );
}
