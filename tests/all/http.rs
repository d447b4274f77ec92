//! Outbound HTTP for plugins: the OpenAI-compatible translator against a
//! local mock endpoint. The grant, the private-address check, the response
//! bounds and credential injection are the host's; the plugin only sends.
//!
//! The reference manifest requests `https://api.openai.com`; these tests use
//! the same component with that manifest's `outbound-hosts` pointed at the
//! mock server, as an operator packaging it for a self-hosted endpoint would,
//! so every grant here is a subset of what the manifest requests.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kino_registry::{Manifest, Origin};
use kino_runtime::plugins;
use kino_runtime::{
    CallCtx, Grant, HttpLimits, Limits, LoadError, LogSource, MemorySink, Plugin, Runtime,
    RuntimeConfig, Trap, World,
    types::{PluginError, Segment, TranslatedSegment},
};
use kino_tests::plugin_wasm;

const PACKAGE: &str = "kino-translator-openai";
const SECRET: &str = "sk-test-0123456789";

/// How the mock endpoint answers.
#[derive(Clone, Copy)]
enum Mode {
    /// A well-formed translation: every text prefixed with `es:`.
    Translate,
    /// 429 with `retry-after: 3`.
    RateLimited,
    /// 401, as for a wrong key.
    Unauthorized,
    /// 200 with a 1 MiB chunked body (no content-length).
    Huge,
    /// 200 with a 1 MiB body and its content-length.
    HugeDeclared,
}

/// What the mock endpoint saw.
#[derive(Default)]
struct Seen {
    authorization: Vec<Option<String>>,
    bodies: Vec<serde_json::Value>,
}

struct Mock {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Mock {
    fn origin(&self) -> Origin {
        format!("http://{}", self.addr).parse().expect("origin")
    }

    fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn requests(&self) -> usize {
        self.seen.lock().expect("lock").bodies.len()
    }
}

async fn chat(
    State((mode, seen)): State<(Mode, Arc<Mutex<Seen>>)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    {
        let mut seen = seen.lock().expect("lock");
        seen.authorization.push(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        seen.bodies.push(request.clone());
    }
    match mode {
        Mode::Translate => {
            let user = request["messages"][1]["content"].as_str().unwrap_or("{}");
            let user: serde_json::Value = serde_json::from_str(user).unwrap_or_default();
            let segments: Vec<serde_json::Value> = user["segments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|s| serde_json::json!({"id": s["id"], "text": format!("es:{}", s["text"].as_str().unwrap_or(""))}))
                .collect();
            let content = serde_json::json!({ "segments": segments }).to_string();
            axum::Json(serde_json::json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            }))
            .into_response()
        }
        Mode::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "3")],
            r#"{"error":{"message":"Rate limit reached for gpt-4o-mini"}}"#,
        )
            .into_response(),
        Mode::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"message":"Incorrect API key provided"}}"#,
        )
            .into_response(),
        Mode::Huge => {
            let chunks = futures::stream::iter(
                (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 16 << 10])),
            );
            Response::new(Body::from_stream(chunks))
        }
        Mode::HugeDeclared => vec![b' '; 1 << 20].into_response(),
    }
}

/// Starts a mock OpenAI-compatible endpoint on 127.0.0.1.
async fn mock(mode: Mode) -> Mock {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state((mode, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Mock { addr, seen }
}

/// A listener that only counts the connections it is offered.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

/// A listener that accepts connections and never answers.
async fn silent_listener() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// The reference manifest with its `outbound-hosts` replaced by `hosts`.
fn manifest_requesting(hosts: &[Origin]) -> Manifest {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/translator-openai/kino-plugin.toml");
    let text = std::fs::read_to_string(&path).expect("reading the manifest");
    let list = hosts
        .iter()
        .map(|o| format!("{:?}", o.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    let text = text.replace(
        r#"outbound-hosts = ["https://api.openai.com"]"#,
        &format!("outbound-hosts = [{list}]"),
    );
    Manifest::parse(&text, "kino-plugin.toml").expect("a valid manifest")
}

/// A runtime that lets granted plugins reach the non-public `allow_private`
/// addresses. Compiled components are cached on disk so each test's runtime
/// does not compile the plugin again.
fn runtime_with(allow_private: &[SocketAddr], http: HttpLimits) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("http-cache")),
        max_instances: 8,
        allow_private: allow_private.iter().map(SocketAddr::to_string).collect(),
        http,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// Loads the translator as an operator would: the manifest requests
/// `requested`, the operator grants `granted`.
fn load(runtime: &Runtime, requested: &[Origin], granted: &[Origin]) -> Plugin {
    load_with_timeout(runtime, requested, granted, Duration::from_secs(10))
}

fn load_with_timeout(
    runtime: &Runtime,
    requested: &[Origin],
    granted: &[Origin],
    timeout: Duration,
) -> Plugin {
    let manifest = manifest_requesting(requested);
    let grant = Grant::new(manifest.outbound_hosts(), granted.iter().cloned()).expect("a subset");
    runtime
        .load_granted(
            &format!("{PACKAGE}@0.1.0"),
            &plugin_wasm(PACKAGE),
            World::Translator,
            plugins::runtime_limits(&manifest).with_timeout(timeout),
            grant,
        )
        .expect("loading the translator")
}

fn segments() -> Vec<Segment> {
    vec![
        Segment {
            id: "s1".into(),
            start_ms: 0,
            end_ms: 1500,
            speaker: "narrator".into(),
            text: "Good morning".into(),
        },
        Segment {
            id: "s2".into(),
            start_ms: 1500,
            end_ms: 4000,
            speaker: "narrator".into(),
            text: "Sixteen cups in every bottle".into(),
        },
    ]
}

async fn translate(
    runtime: &Runtime,
    plugin: &Plugin,
    call: &CallCtx,
) -> Result<Vec<TranslatedSegment>, PluginError> {
    runtime
        .translator(plugin, call)
        .expect("a translator")
        .translate("en", "es", &segments())
        .await
        .expect("no trap")
}

/// A call for tenant `acme` to `endpoint`, logging into `sink`.
fn call_to(endpoint: &str, sink: &Arc<MemorySink>) -> CallCtx {
    CallCtx::new("acme")
        .with_job("job-7")
        .with_config([("endpoint", endpoint), ("model", "gpt-4o-mini")])
        .with_log_sink(sink.clone())
}

fn host_lines(sink: &MemorySink) -> Vec<String> {
    sink.lines()
        .into_iter()
        .filter(|l| l.source == LogSource::Host)
        .inspect(|l| {
            assert_eq!(&*l.tenant, "acme");
            assert_eq!(l.job.as_deref(), Some("job-7"));
        })
        .map(|l| l.message)
        .collect()
}

fn denied(result: Result<Vec<TranslatedSegment>, PluginError>) -> String {
    match result {
        Err(PluginError::InvalidInput(message)) if message.contains("denied") => message,
        other => panic!("expected a denied request, got {other:?}"),
    }
}

#[tokio::test]
async fn translates_end_to_end_with_the_injected_key() {
    let server = mock(Mode::Translate).await;
    let runtime = runtime_with(&[server.addr], HttpLimits::default());
    let plugin = load(&runtime, &[server.origin()], &[server.origin()]);
    assert_eq!(plugin.granted(), [server.origin()]);
    let sink = Arc::new(MemorySink::default());
    let other: Origin = "https://api.openai.com".parse().expect("origin");
    let call = call_to(&server.endpoint(), &sink)
        .with_credential(
            server.origin(),
            "authorization",
            &format!("Bearer {SECRET}"),
        )
        .expect("a valid credential")
        // A credential for another origin must not travel to this one.
        .with_credential(other, "x-other-key", "never-sent")
        .expect("a valid credential");

    let translated = translate(&runtime, &plugin, &call)
        .await
        .expect("translated");
    let input = segments();
    assert_eq!(translated.len(), 2);
    for (out, input) in translated.iter().zip(&input) {
        assert_eq!(out.segment.id, input.id);
        assert_eq!(out.segment.start_ms, input.start_ms);
        assert_eq!(out.segment.end_ms, input.end_ms);
        assert_eq!(out.segment.text, format!("es:{}", input.text));
    }

    let seen = server.seen.lock().expect("lock");
    assert_eq!(
        seen.authorization,
        [Some(format!("Bearer {SECRET}"))],
        "the host injects the key"
    );
    let body = &seen.bodies[0];
    assert_eq!(body["model"], "gpt-4o-mini");
    // The plugin never had the key: not in its config, its request or any log line.
    assert!(!body.to_string().contains(SECRET));
    assert!(!format!("{call:?}").contains(SECRET));
    assert!(
        sink.lines()
            .iter()
            .all(|l| !l.message.contains(SECRET) && !l.message.contains("never-sent"))
    );
}

#[tokio::test]
async fn a_host_not_granted_is_never_contacted() {
    let granted = mock(Mode::Translate).await;
    let (other, connections) = counting_listener().await;
    let other_origin: Origin = format!("http://{other}").parse().expect("origin");
    // Both are allowed as private addresses: only the grant keeps B out.
    let runtime = runtime_with(&[granted.addr, other], HttpLimits::default());
    let plugin = load(
        &runtime,
        &[granted.origin(), other_origin.clone()],
        &[granted.origin()],
    );

    let sink = Arc::new(MemorySink::default());
    let call = call_to(&format!("http://{other}/v1"), &sink);
    let message = denied(translate(&runtime, &plugin, &call).await);
    assert!(message.contains(&other.to_string()), "{message}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "B saw a connection");
    let lines = host_lines(&sink);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("http://{other}")) && l.contains("allow-list")),
        "{lines:?}"
    );

    // A tenant narrowed to nothing cannot reach even the granted host.
    let call = call_to(&granted.endpoint(), &sink).with_outbound([]);
    denied(translate(&runtime, &plugin, &call).await);
    // Narrowing to the granted origin keeps it reachable.
    let call = call_to(&granted.endpoint(), &sink).with_outbound([granted.origin()]);
    translate(&runtime, &plugin, &call)
        .await
        .expect("translated");
    // Narrowing cannot widen the grant.
    let call = call_to(&format!("http://{other}/v1"), &sink).with_outbound([other_origin]);
    denied(translate(&runtime, &plugin, &call).await);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    assert_eq!(granted.requests(), 1);
}

#[tokio::test]
async fn loopback_is_refused_unless_the_operator_allows_it() {
    let server = mock(Mode::Translate).await;
    let runtime = runtime_with(&[], HttpLimits::default());
    let plugin = load(&runtime, &[server.origin()], &[server.origin()]);
    let sink = Arc::new(MemorySink::default());
    let message = denied(translate(&runtime, &plugin, &call_to(&server.endpoint(), &sink)).await);
    assert!(message.contains("DestinationIpProhibited"), "{message}");
    assert_eq!(server.requests(), 0);
    let lines = host_lines(&sink);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("non-public") && l.contains("127.0.0.1")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_oversized_response_is_cut_off() {
    let server = mock(Mode::Huge).await;
    let limits = HttpLimits {
        max_response_bytes: 64 << 10,
        ..HttpLimits::default()
    };
    let runtime = runtime_with(&[server.addr], limits.clone());
    let plugin = load(&runtime, &[server.origin()], &[server.origin()]);
    let sink = Arc::new(MemorySink::default());
    match translate(&runtime, &plugin, &call_to(&server.endpoint(), &sink)).await {
        Err(PluginError::Unavailable(message)) => {
            assert!(message.contains("reading the reply"), "{message}");
            assert!(message.contains("65536"), "{message}");
        }
        other => panic!("expected the reply to be cut off, got {other:?}"),
    }
    let lines = host_lines(&sink);
    assert!(lines.iter().any(|l| l.contains("cut off")), "{lines:?}");

    // A body declared too large is refused before any of it is read.
    let declared = mock(Mode::HugeDeclared).await;
    let runtime = runtime_with(&[declared.addr], limits);
    let plugin = load(&runtime, &[declared.origin()], &[declared.origin()]);
    match translate(&runtime, &plugin, &call_to(&declared.endpoint(), &sink)).await {
        Err(PluginError::Unavailable(message)) => {
            assert!(message.contains("HttpResponseBodySize"), "{message}");
        }
        other => panic!("expected the reply to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_endpoint_times_out() {
    let silent = silent_listener().await;
    let origin: Origin = format!("http://{silent}").parse().expect("origin");
    let sink = Arc::new(MemorySink::default());
    let call = call_to(&format!("http://{silent}/v1"), &sink);

    // The runtime's first-byte timeout ends the wait.
    let limits = HttpLimits {
        first_byte_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let runtime = runtime_with(&[silent], limits);
    let plugin = load(
        &runtime,
        std::slice::from_ref(&origin),
        std::slice::from_ref(&origin),
    );
    let started = Instant::now();
    match translate(&runtime, &plugin, &call).await {
        Err(PluginError::Unavailable(message)) => {
            assert!(message.contains("ConnectionReadTimeout"), "{message}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // With generous HTTP timeouts, the call's own deadline still ends it.
    let runtime = runtime_with(&[silent], HttpLimits::default());
    let deadline = Duration::from_millis(500);
    let plugin = load_with_timeout(
        &runtime,
        std::slice::from_ref(&origin),
        std::slice::from_ref(&origin),
        deadline,
    );
    let started = Instant::now();
    let outcome = runtime
        .translator(&plugin, &call)
        .expect("a translator")
        .translate("en", "es", &segments())
        .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(
            &outcome,
            Err(Trap::Deadline { .. }) | Ok(Err(PluginError::Unavailable(_)))
        ),
        "{outcome:?}"
    );
    assert!(
        elapsed < deadline + Duration::from_secs(1),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn rate_limits_and_refused_keys_become_plugin_errors() {
    let limited = mock(Mode::RateLimited).await;
    let refused = mock(Mode::Unauthorized).await;
    let runtime = runtime_with(&[limited.addr, refused.addr], HttpLimits::default());
    let origins = [limited.origin(), refused.origin()];
    let plugin = load(&runtime, &origins, &origins);
    let sink = Arc::new(MemorySink::default());

    match translate(&runtime, &plugin, &call_to(&limited.endpoint(), &sink)).await {
        Err(PluginError::RateLimited(limit)) => {
            assert_eq!(limit.retry_after_ms, 3000);
            assert!(
                limit.message.contains("Rate limit reached"),
                "{}",
                limit.message
            );
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    match translate(&runtime, &plugin, &call_to(&refused.endpoint(), &sink)).await {
        Err(PluginError::InvalidInput(message)) => {
            assert!(message.contains("refused the credential"), "{message}");
        }
        other => panic!("expected the credential to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn wasi_http_needs_requested_and_granted_hosts() {
    let runtime = runtime_with(&[], HttpLimits::default());
    let wasm = plugin_wasm(PACKAGE);
    let id = format!("{PACKAGE}@0.1.0");

    // No grant: wasi:http is not linked, and the error names the import.
    let error = runtime
        .load(&id, &wasm, World::Translator, Limits::default())
        .expect_err("loaded without a grant");
    match &error {
        LoadError::HttpNotGranted { import, .. } => {
            assert!(import.starts_with("wasi:http/"), "{import}");
        }
        other => panic!("expected an ungranted wasi:http import, got {other:?}"),
    }

    // Install: a manifest that requests no hosts is refused, with the fix.
    let none = manifest_requesting(&[]);
    let refused = plugins::check_component(&runtime, &none, &wasm).expect_err("accepted");
    assert!(
        matches!(&refused, plugins::CheckError::UndeclaredHttp { import, .. } if import.starts_with("wasi:http/")),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(message.contains("wasi:http/"), "{message}");
    assert!(message.contains("outbound-hosts"), "{message}");
    assert!(message.contains("--disable http fetch-event"), "{message}");
    // The reference manifest, which requests its host, is accepted.
    let requested: Origin = "https://api.openai.com".parse().expect("origin");
    let reference = manifest_requesting(std::slice::from_ref(&requested));
    plugins::check_component(&runtime, &reference, &wasm).expect("accepted");

    // A grant can only narrow what the manifest requested.
    let other: Origin = "https://evil.example.com".parse().expect("origin");
    let error = Grant::new(reference.outbound_hosts(), [other]).expect_err("granted");
    assert!(
        error.to_string().contains("https://api.openai.com"),
        "{error}"
    );
}

/// The whole path a served tenant takes: an operator-installed package whose
/// manifest requests the endpoint, a binding that grants it with a
/// credential from the tenant's secrets, and a dub job whose translation
/// goes through it.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_bound_translator_reaches_its_granted_host_with_the_tenants_secret() {
    use kino_pipeline::local::LocalHost;
    use kino_store::NewBinding;

    let mock = mock(Mode::Translate).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let host = LocalHost::open_with(
        &data,
        &kino_tests::bundled_plugins(),
        None,
        RuntimeConfig {
            allow_private: vec![mock.addr.to_string()],
            ..RuntimeConfig::default()
        },
    )
    .await
    .expect("local host");

    // The operator packages the plugin for this endpoint and installs it.
    kino_tests::install_for_endpoint(
        &data,
        tmp.path(),
        "translator-openai",
        PACKAGE,
        r#"["https://api.openai.com"]"#,
        &[mock.origin().to_string().as_str()],
    );

    let store = host.executor.store();
    store
        .set_secret(&host.tenant, "openai", SECRET)
        .await
        .expect("secret");
    store
        .set_binding(
            &host.tenant,
            &NewBinding {
                slot: "translator".into(),
                plugin_name: PACKAGE.into(),
                requirement: "*".into(),
                config: serde_json::json!({ "endpoint": mock.endpoint() }),
                grants: serde_json::json!([{ "origin": mock.origin().to_string(), "secret": "openai" }]),
            },
        )
        .await
        .expect("bind");

    let video = tmp.path().join("clip.mp4");
    kino_tests::test_video(&video, 4, "160x120", true);
    let srt = tmp.path().join("clip.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:02,500\nGood morning.\n").expect("write");
    let files = [("video".to_owned(), video), ("transcript".to_owned(), srt)].into();
    let texts = [("language".to_owned(), "es".to_owned())].into();
    let job = host
        .executor
        .submit_local(
            &host.tenant,
            &host
                .executor
                .catalog()
                .get(&host.tenant, "dub")
                .expect("dub"),
            &files,
            &texts,
        )
        .await
        .expect("submit");
    let report = host.executor.run(&job).await.expect("the dub completes");
    let subtitles = std::fs::read_to_string(&report.outputs["subtitles.srt"]).expect("srt");
    assert!(subtitles.contains("es:Good morning."), "{subtitles}");
    let authorization = mock.seen.lock().expect("lock").authorization.clone();
    assert_eq!(
        authorization,
        vec![Some(format!("Bearer {SECRET}"))],
        "the host injects the tenant's secret"
    );
    let config = serde_json::to_string(
        &store
            .get_binding(&host.tenant, "translator")
            .await
            .expect("get"),
    )
    .expect("json");
    assert!(
        !config.contains(SECRET),
        "the secret is not in the binding the plugin is configured from"
    );
}
