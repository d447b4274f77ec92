//! Backend worlds against local mock servers speaking the real APIs'
//! shapes: an OpenAI-compatible `/audio/transcriptions` and a
//! Replicate-style predictions API. Media streams through the plugins
//! without entering their memory; remote jobs are resumed, not repeated,
//! after a host restart; throttling, outages, slow servers, cut-off bodies
//! and failed predictions become the errors the host acts on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use kino_pipeline::remote::{Backoff, drive};
use kino_registry::Manifest;
use kino_runtime::backend_types::{ClipRequest, TranscribeProgress, TranscribeRequest};
use kino_runtime::plugins;
use kino_runtime::types::PluginError;
use kino_runtime::{
    CallCtx, Grant, HttpLimits, MediaFile, MediaSink, Plugin, Runtime, RuntimeConfig, World,
};
use kino_store::{RemoteState, Store};
use kino_tests::plugin_wasm;

/// How the mock answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// As a healthy service does.
    #[default]
    Ok,
    /// 429 with `retry-after: 2`.
    Throttled,
    /// 503.
    Down,
    /// The reply's head only after 3 s.
    Slow,
    /// A body shorter than its `content-length`.
    Truncated,
    /// Predictions fail remotely.
    Failing,
}

#[derive(Default)]
pub(crate) struct Mock {
    mode: Mode,
    /// Bytes of request bodies received, by route.
    received: HashMap<&'static str, u64>,
    /// Predictions created, by idempotency key: id.
    created: HashMap<String, String>,
    pub(crate) creates: usize,
    /// Checks per prediction.
    pub(crate) checks: HashMap<String, usize>,
    /// Checks before a prediction succeeds.
    pub(crate) ready_after: usize,
    /// The `input` of each prediction created.
    inputs: Vec<serde_json::Value>,
    /// Files uploaded.
    uploads: usize,
    /// The sizes of the uploads that were WAV files (forms included).
    wav_uploads: Vec<u64>,
    /// What every delivery answers, when set (else each prediction's own bytes).
    pub(crate) delivered: Option<Arc<Vec<u8>>>,
}

type Shared = Arc<Mutex<Mock>>;

/// The mock, listening on a port of 127.0.0.1.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    mock: Shared,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn set(&self, f: impl FnOnce(&mut Mock)) {
        f(&mut self.mock.lock().expect("lock"));
    }

    pub(crate) fn get<T>(&self, f: impl FnOnce(&Mock) -> T) -> T {
        f(&self.mock.lock().expect("lock"))
    }
}

/// Reads a request body as it streams in, counting its bytes.
async fn count(body: Body) -> u64 {
    let mut stream = body.into_data_stream();
    let mut n = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        n += chunk.len() as u64;
    }
    n
}

/// The mode's failure, if it is one that every route shows.
async fn failure(mode: Mode) -> Option<Response> {
    match mode {
        Mode::Throttled => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "2")],
                "slow down",
            )
                .into_response(),
        ),
        Mode::Down => Some((StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response()),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            None
        }
        _ => None,
    }
}

/// A reply whose `content-length` promises more than it sends when truncating.
fn reply(mode: Mode, content_type: &str, body: Vec<u8>) -> Response {
    let declared = if mode == Mode::Truncated {
        body.len() + 1000
    } else {
        body.len()
    };
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(body))]);
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, declared)
        .body(Body::from_stream(stream))
        .expect("response")
}

async fn transcriptions(State(mock): State<Shared>, body: Body) -> Response {
    let bytes = count(body).await;
    let mode = {
        let mut m = mock.lock().expect("lock");
        *m.received.entry("transcriptions").or_default() += bytes;
        m.mode
    };
    if let Some(failed) = failure(mode).await {
        return failed;
    }
    let json = serde_json::json!({
        "task": "transcribe", "language": "english", "duration": 2.0,
        "text": "Hello there. Fresh coffee.",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.0, "text": " Hello there."},
            {"id": 1, "start": 1.0, "end": 2.0, "text": " Fresh coffee."}
        ],
        "words": [
            {"word": "Hello", "start": 0.0, "end": 0.4}, {"word": "there.", "start": 0.5, "end": 0.9},
            {"word": "Fresh", "start": 1.1, "end": 1.4}, {"word": "coffee.", "start": 1.5, "end": 1.9}
        ]
    });
    reply(mode, "application/json", json.to_string().into_bytes())
}

async fn files(State(mock): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let Ok(body) = axum::body::to_bytes(body, 256 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let bytes = body.len() as u64;
    let is_wav = body.windows(7).take(4096).any(|w| w == b".wav\"\r\n");
    let n = {
        let mut m = mock.lock().expect("lock");
        *m.received.entry("files").or_default() += bytes;
        if is_wav {
            m.wav_uploads.push(bytes);
        }
        m.uploads += 1;
        m.uploads
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    axum::Json(serde_json::json!({"id": n, "urls": {"get": format!("http://{host}/v1/files/{n}")}}))
        .into_response()
}

async fn create(
    State(mock): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    let mode = mock.lock().expect("lock").mode;
    if let Some(failed) = failure(mode).await {
        return failed;
    }
    // A video model wants a prompt; a lip-sync model a video and an audio.
    let given = |field: &str| body["input"][field].as_str().is_some_and(|v| !v.is_empty());
    let lipsync = given("video") && given("audio");
    if !given("prompt") && !lipsync {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "input.prompt, or input.video and input.audio, are required",
        )
            .into_response();
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut m = mock.lock().expect("lock");
    m.inputs.push(body["input"].clone());
    // The same key is the same prediction: no second render.
    let id = match m.created.get(&key) {
        Some(id) if !key.is_empty() => id.clone(),
        _ => {
            m.creates += 1;
            let id = format!("pred{}", m.creates);
            m.created.insert(key, id.clone());
            id
        }
    };
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"id": id, "status": "starting"})),
    )
        .into_response()
}

async fn prediction(
    State(mock): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let (mode, checks, ready_after) = {
        let mut m = mock.lock().expect("lock");
        let checks = m.checks.entry(id.clone()).or_default();
        *checks += 1;
        let checks = *checks;
        (m.mode, checks, m.ready_after)
    };
    if mode == Mode::Failing {
        return axum::Json(serde_json::json!({
            "id": id, "status": "failed", "error": "the prompt was flagged as sensitive"
        }))
        .into_response();
    }
    if checks < ready_after {
        return axum::Json(serde_json::json!({"id": id, "status": "processing"})).into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    axum::Json(serde_json::json!({
        "id": id, "status": "succeeded", "output": [format!("http://{host}/delivery/{id}.mp4")]
    }))
    .into_response()
}

/// The bytes of a delivered clip: 3 MB, each prediction's its own.
fn clip_bytes(id: &str) -> Vec<u8> {
    let seed = id
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    (0..3_000_000u32)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect()
}

async fn delivery(State(mock): State<Shared>, UrlPath(file): UrlPath<String>) -> Response {
    let (mode, delivered) = {
        let m = mock.lock().expect("lock");
        (m.mode, m.delivered.clone())
    };
    let id = file.trim_end_matches(".mp4");
    let bytes = delivered.map_or_else(|| clip_bytes(id), |d| d.as_ref().clone());
    reply(mode, "video/mp4", bytes)
}

/// A Replicate-style (and OpenAI-compatible transcription) mock; predictions
/// succeed on their third check.
pub(crate) async fn server() -> Server {
    let mock: Shared = Arc::new(Mutex::new(Mock {
        ready_after: 3,
        ..Mock::default()
    }));
    let app = Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .route("/v1/files", post(files))
        .route("/v1/models/{owner}/{name}/predictions", post(create))
        .route("/v1/predictions/{id}", get(prediction))
        .route("/delivery/{file}", get(delivery))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, mock }
}

fn runtime(server: &Server, http: HttpLimits) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("backends-cache")),
        max_instances: 8,
        allow_private: vec![server.addr.to_string()],
        http,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// Loads `package` as the operator of a self-hosted endpoint would: its
/// manifest's outbound hosts pointed at the mock, and granted.
fn load(runtime: &Runtime, server: &Server, package: &str, dir: &str, world: World) -> Plugin {
    let path = kino_tests::workspace_root()
        .join("plugins")
        .join(dir)
        .join("kino-plugin.toml");
    let text = std::fs::read_to_string(path).expect("manifest");
    let start = text.find("outbound-hosts").expect("requests hosts");
    let end = start + text[start..].find('\n').expect("line");
    let origin = server.url("");
    let text = format!(
        "{}outbound-hosts = [\"{origin}\"]{}",
        &text[..start],
        &text[end..]
    );
    let manifest = Manifest::parse(&text, "kino-plugin.toml").expect("manifest");
    let grant =
        Grant::new(manifest.outbound_hosts(), [origin.parse().expect("origin")]).expect("a subset");
    runtime
        .load_granted(
            &format!("{package}@0.1.0"),
            &plugin_wasm(package),
            world,
            plugins::runtime_limits(&manifest),
            grant,
        )
        .unwrap_or_else(|e| panic!("loading {package}: {e}"))
}

fn call(server: &Server, peak: &Arc<Mutex<usize>>) -> CallCtx {
    let peak = peak.clone();
    CallCtx::new("acme")
        .with_config([
            ("endpoint", server.url("/v1")),
            ("model", "acme/video-1".to_owned()),
        ])
        .with_call_observer(move |report| {
            let mut p = peak.lock().expect("lock");
            *p = (*p).max(report.peak_memory_bytes);
        })
}

/// A file of `bytes` bytes that is not all one value.
pub(crate) fn media(dir: &Path, name: &str, bytes: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut file = std::fs::File::create(&path).expect("create");
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        std::io::Write::write_all(&mut file, &block[..n]).expect("write");
        left -= n;
    }
    path
}

#[tokio::test]
async fn a_hundred_megabytes_stream_through_a_transcriber_whose_memory_stays_small() {
    let server = server().await;
    let rt = runtime(&server, HttpLimits::default());
    let plugin = load(
        &rt,
        &server,
        "kino-transcriber-openai",
        "transcriber-openai",
        World::Transcriber,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let size = 100 << 20;
    let audio = MediaFile::new(media(tmp.path(), "long.wav", size), "audio/wav").expect("media");
    let peak = Arc::new(Mutex::new(0));
    let call = call(&server, &peak);
    let transcriber = rt.transcriber(&plugin, &call).expect("world");
    let request = TranscribeRequest {
        language: None,
        diarize: false,
    };
    let started = Instant::now();
    let answer = transcriber
        .submit(&audio, &request, "work-1")
        .await
        .expect("no trap")
        .expect("an answer");
    let elapsed = started.elapsed();
    let TranscribeProgress::Done(transcript) = answer else {
        panic!("the endpoint answers at once: {answer:?}");
    };
    assert_eq!(transcript.language, "en");
    assert_eq!(transcript.segments.len(), 2);
    assert_eq!(transcript.segments[1].words[1].text, "coffee.");
    let received = server.get(|m| m.received["transcriptions"]);
    assert!(
        received > size as u64 && received < size as u64 + 4096,
        "the whole file and the form around it reached the server: {received}"
    );
    let peak = *peak.lock().expect("lock");
    println!(
        "100 MiB through the plugin in {:.2} s ({:.0} MiB/s), plugin memory peak {:.1} MiB",
        elapsed.as_secs_f64(),
        100.0 / elapsed.as_secs_f64(),
        peak as f64 / f64::from(1 << 20)
    );
    assert!(
        peak < 8 << 20,
        "the audio never entered the plugin's memory: peak {peak} bytes"
    );
}

#[tokio::test]
async fn throttling_outages_slow_servers_and_cut_off_replies_become_plugin_errors() {
    let server = server().await;
    let rt = runtime(
        &server,
        HttpLimits {
            first_byte_timeout: Duration::from_millis(1500),
            ..HttpLimits::default()
        },
    );
    let plugin = load(
        &rt,
        &server,
        "kino-transcriber-openai",
        "transcriber-openai",
        World::Transcriber,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let audio = MediaFile::new(media(tmp.path(), "a.wav", 64 << 10), "audio/wav").expect("media");
    let peak = Arc::new(Mutex::new(0));
    let call = call(&server, &peak);
    let transcriber = rt.transcriber(&plugin, &call).expect("world");
    let request = TranscribeRequest {
        language: Some("en".into()),
        diarize: false,
    };
    let answer = async |mode| {
        server.set(|m| m.mode = mode);
        transcriber
            .submit(&audio, &request, "work-2")
            .await
            .expect("no trap")
    };
    assert!(matches!(
        answer(Mode::Throttled).await,
        Err(PluginError::RateLimited(limit)) if limit.retry_after_ms == 2000
    ));
    assert!(matches!(
        answer(Mode::Down).await,
        Err(PluginError::Unavailable(m)) if m.contains("503")
    ));
    assert!(matches!(
        answer(Mode::Slow).await,
        Err(PluginError::Unavailable(m)) if m.to_lowercase().contains("timeout")
    ));
    assert!(matches!(
        answer(Mode::Truncated).await,
        Err(PluginError::Unavailable(_))
    ));
    assert!(matches!(
        answer(Mode::Ok).await,
        Ok(TranscribeProgress::Done(_))
    ));
}

fn clip_request() -> ClipRequest {
    ClipRequest {
        prompt: "slow push-in on a bottle of cold brew, morning light".into(),
        negative_prompt: String::new(),
        duration_ms: 4000,
        width: 1280,
        height: 720,
        seed: 7,
    }
}

fn fast() -> Backoff {
    Backoff {
        first: Duration::from_millis(50),
        max: Duration::from_millis(200),
        give_up_after: Duration::from_secs(30),
        transient_failures: 2,
    }
}

#[tokio::test]
async fn a_clip_rendering_remotely_when_the_host_dies_is_resumed_never_submitted_twice() {
    let server = server().await;
    server.set(|m| m.ready_after = 4);
    let rt = runtime(&server, HttpLimits::default());
    let plugin = load(
        &rt,
        &server,
        "kino-clips-replicate",
        "clips-replicate",
        World::ClipGenerator,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let still =
        MediaFile::new(media(tmp.path(), "product.png", 200_000), "image/png").expect("media");
    let out = MediaSink::new(tmp.path().join("clip.mp4"), 64 << 20);
    let peak = Arc::new(Mutex::new(0));
    let call = call(&server, &peak);
    let clips = rt.clip_generator(&plugin, &call).expect("world");
    let db = tmp.path().join("kino.db");
    let id = plugin.id().to_owned();
    let key = "render-scene:3f2a";
    let request = clip_request();
    let references = [still];

    // The first host submits and is killed while the clip renders.
    {
        let store = Store::open_sqlite(&db).await.expect("store");
        let run = drive(
            &store,
            &id,
            key,
            fast(),
            None,
            async || clips.submit(&request, &references, &out, key).await,
            |ticket| {
                let (clips, out) = (&clips, &out);
                async move { clips.check(&ticket, out).await }
            },
        );
        // Killed once the prediction is recorded and checked at least once.
        let rendering = async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if server.get(|m| m.checks.values().sum::<usize>()) >= 1 {
                    break;
                }
            }
        };
        tokio::select! {
            done = run => panic!("the render takes longer than the first host lives: {done:?}"),
            () = rendering => {}
        }
        let job = store
            .remote_job(key)
            .await
            .expect("read")
            .expect("recorded");
        assert_eq!(
            (job.ticket.as_str(), job.state),
            ("pred1", RemoteState::Pending)
        );
    }
    assert_eq!(server.get(|m| m.creates), 1);
    assert!(server.get(|m| m.received["files"]) > 200_000);

    // The restarted host checks the same prediction until it is done.
    let store = Store::open_sqlite(&db).await.expect("store");
    let (info, driven) = drive(
        &store,
        &id,
        key,
        fast(),
        None,
        async || panic!("a pending remote job must not be submitted again"),
        |ticket| {
            let (clips, out) = (&clips, &out);
            async move { clips.check(&ticket, out).await }
        },
    )
    .await
    .expect("the clip");
    assert!(driven.resumed);
    assert_eq!(driven.ticket.as_deref(), Some("pred1"));
    assert_eq!(info.width, None);
    assert_eq!(server.get(|m| m.creates), 1, "one render, paid once");
    assert_eq!(out.content_type().as_deref(), Some("video/mp4"));
    assert_eq!(
        std::fs::read(out.path()).expect("clip"),
        clip_bytes("pred1"),
        "the delivered clip, byte for byte"
    );
    let job = store.remote_job(key).await.expect("read").expect("kept");
    assert_eq!(job.state, RemoteState::Done);
    assert!(job.checks >= 2, "{job:?}");

    // A create retried with the same key is the same prediction.
    let again = clips
        .submit(&request, &[], &out, key)
        .await
        .expect("no trap")
        .expect("answer");
    assert!(format!("{again:?}").contains("pred1"), "{again:?}");
    assert_eq!(server.get(|m| m.creates), 1);
    assert!(*peak.lock().expect("lock") < 8 << 20);
}

#[tokio::test]
async fn a_lipsync_streams_the_video_and_audio_up_and_the_synced_video_down() {
    let server = server().await;
    server.set(|m| m.ready_after = 2);
    let rt = runtime(&server, HttpLimits::default());
    let plugin = load(
        &rt,
        &server,
        "kino-lipsync-replicate",
        "lipsync-replicate",
        World::Lipsync,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let video =
        MediaFile::new(media(tmp.path(), "scene.mp4", 6_000_000), "video/mp4").expect("media");
    let audio =
        MediaFile::new(media(tmp.path(), "line.wav", 1_000_000), "audio/wav").expect("media");
    let out = MediaSink::new(tmp.path().join("synced.mp4"), 64 << 20);
    let peak = Arc::new(Mutex::new(0));
    let call = call(&server, &peak);
    let lipsync = rt.lipsync(&plugin, &call).expect("world");
    let store = Store::open_sqlite(&tmp.path().join("kino.db"))
        .await
        .expect("store");
    let key = "lipsync:9c1d";
    let (_, driven) = drive(
        &store,
        plugin.id(),
        key,
        fast(),
        None,
        async || lipsync.submit(&video, &audio, &out, key).await,
        |ticket| {
            let (lipsync, out) = (&lipsync, &out);
            async move { lipsync.check(&ticket, out).await }
        },
    )
    .await
    .expect("the synced video");
    assert_eq!(driven.ticket.as_deref(), Some("pred1"));
    assert!(!driven.resumed);
    assert_eq!(server.get(|m| m.creates), 1);
    // Both uploads, whole, and the prediction names each by its URL.
    assert!(server.get(|m| m.received["files"]) > 7_000_000);
    let input = server.get(|m| m.inputs[0].clone());
    let (v, a) = (
        input["video"].as_str().expect("video url"),
        input["audio"].as_str().expect("audio url"),
    );
    assert!(
        v.contains("/v1/files/") && a.contains("/v1/files/") && v != a,
        "{input}"
    );
    assert_eq!(out.content_type().as_deref(), Some("video/mp4"));
    assert_eq!(
        std::fs::read(out.path()).expect("video"),
        clip_bytes("pred1"),
        "the delivered video, byte for byte"
    );
    assert_eq!(
        store.remote_job(key).await.expect("read").map(|j| j.state),
        Some(RemoteState::Done)
    );
    assert!(
        *peak.lock().expect("lock") < 8 << 20,
        "7 MB passed through a small plugin"
    );
}

#[tokio::test]
async fn failed_predictions_and_cut_off_deliveries_fail_the_attempt_as_they_should() {
    let server = server().await;
    server.set(|m| m.ready_after = 1);
    let rt = runtime(&server, HttpLimits::default());
    let plugin = load(
        &rt,
        &server,
        "kino-clips-replicate",
        "clips-replicate",
        World::ClipGenerator,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let out = MediaSink::new(tmp.path().join("clip.mp4"), 64 << 20);
    let peak = Arc::new(Mutex::new(0));
    let call = call(&server, &peak);
    let clips = rt.clip_generator(&plugin, &call).expect("world");
    let store = Store::in_memory().await.expect("store");
    let id = plugin.id().to_owned();
    let request = clip_request();
    let run = async |key: &str| {
        drive(
            &store,
            &id,
            key,
            fast(),
            None,
            async || clips.submit(&request, &[], &out, key).await,
            |ticket| {
                let (clips, out) = (&clips, &out);
                async move { clips.check(&ticket, out).await }
            },
        )
        .await
    };

    // Flagged remotely: not retryable, and the ticket is forgotten.
    server.set(|m| m.mode = Mode::Failing);
    let error = run("k-failing").await.expect_err("the prediction failed");
    assert!(!error.retryable, "{error:?}");
    assert!(
        error.message.contains("flagged as sensitive"),
        "{}",
        error.message
    );
    let job = store
        .remote_job("k-failing")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(job.state, RemoteState::Failed);

    // The delivery is cut off every time: transient, so the ticket is kept
    // for the next attempt, which then completes once the server recovers.
    server.set(|m| m.mode = Mode::Ok);
    let created = run("k-cut");
    let first_check_cut = async {
        // Let the create through, then cut the deliveries off.
        tokio::time::sleep(Duration::from_millis(20)).await;
        server.set(|m| m.mode = Mode::Truncated);
    };
    let (result, ()) = tokio::join!(created, first_check_cut);
    let error = result.expect_err("every delivery was cut off");
    assert!(error.retryable, "{error:?}");
    assert!(
        error.message.contains("kept for the next attempt"),
        "{}",
        error.message
    );
    let kept = store
        .remote_job("k-cut")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(kept.state, RemoteState::Pending);
    server.set(|m| m.mode = Mode::Ok);
    let creates = server.get(|m| m.creates);
    run("k-cut").await.expect("the next attempt completes");
    assert_eq!(
        server.get(|m| m.creates),
        creates,
        "resumed, not created again"
    );
    assert_eq!(
        std::fs::read(out.path()).expect("clip"),
        clip_bytes(&kept.ticket)
    );
}

/// The clip-generator slot end to end: an ad whose every scene is filmed by
/// `kino-clips-replicate` (each render a remote job, checked until done)
/// and then graded, titled and branded by the host like any footage; the
/// same ad again comes from the cache, with no render paid twice.
/// A local host filming ads with `kino-clips-replicate` (and lip-syncing
/// music videos with `kino-lipsync-replicate`), installed to reach the
/// mocks `servers`, each delivering a 10 s 320x180 24 fps clip.
struct AdHost {
    host: kino_pipeline::local::LocalHost,
    _tmp: tempfile::TempDir,
    brief: std::path::PathBuf,
    music_video: std::path::PathBuf,
    track: std::path::PathBuf,
}

impl AdHost {
    async fn new(servers: &[&Server]) -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let generated = tmp.path().join("generated.mp4");
        kino_tests::test_video(&generated, 10, "320x180", false);
        let clip = Arc::new(std::fs::read(&generated).expect("clip"));
        for server in servers {
            server.set(|m| {
                m.ready_after = 2;
                m.delivered = Some(clip.clone());
            });
        }
        let data = tmp.path().join("data");
        let host = kino_pipeline::local::LocalHost::open_with(
            &data,
            &kino_tests::bundled_plugins(),
            None,
            RuntimeConfig {
                allow_private: servers.iter().map(|s| s.addr.to_string()).collect(),
                ..RuntimeConfig::default()
            },
        )
        .await
        .expect("local host");
        let origins: Vec<String> = servers.iter().map(|s| s.url("")).collect();
        let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
        for (dir, package) in [
            ("clips-replicate", "kino-clips-replicate"),
            ("lipsync-replicate", "kino-lipsync-replicate"),
        ] {
            kino_tests::install_for_endpoint(
                &data,
                tmp.path(),
                dir,
                package,
                r#"["https://api.replicate.com", "https://replicate.delivery"]"#,
                &origins,
            );
        }
        let text =
            std::fs::read_to_string(kino_tests::workspace_root().join("examples/brief.toml"))
                .expect("brief")
                .replace("target-length-s = 30", "target-length-s = 8");
        let brief = tmp.path().join("brief.toml");
        std::fs::write(&brief, &text).expect("write");
        let music_video = tmp.path().join("music-video.toml");
        let text = text.replace("mode = \"ad-creative\"", "mode = \"music-video\"");
        assert!(
            text.contains("music-video"),
            "the example brief names its mode"
        );
        std::fs::write(&music_video, text).expect("write");
        let track = tmp.path().join("track.m4a");
        kino_tests::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:sample_rate=48000:duration=9",
            "-c:a",
            "aac",
            track.to_str().expect("utf-8"),
        ]);
        Self {
            host,
            _tmp: tmp,
            brief,
            music_video,
            track,
        }
    }

    /// Binds `slot` to `plugin` with `config`, granted the mock `server`.
    async fn bind(
        &self,
        slot: &str,
        plugin: &str,
        config: serde_json::Value,
        server: Option<&Server>,
    ) {
        let grants =
            server.map_or_else(|| serde_json::json!([]), |s| serde_json::json!([s.url("")]));
        self.host
            .executor
            .store()
            .set_binding(
                &self.host.tenant,
                &kino_store::NewBinding {
                    slot: slot.into(),
                    plugin_name: plugin.into(),
                    requirement: "*".into(),
                    config,
                    grants,
                },
            )
            .await
            .expect("bind");
    }

    /// Binds `slot` to the clip generator on `server`.
    async fn bind_clips(&self, slot: &str, server: &Server, model: &str) {
        let config = serde_json::json!({ "endpoint": server.url("/v1"), "model": model });
        self.bind(slot, "kino-clips-replicate", config, Some(server))
            .await;
    }

    /// Makes an 8 s 320x180 ad of the example brief.
    async fn run(&self) -> (kino_store::JobId, kino_pipeline::JobReport) {
        self.run_with(&[("brief", &self.brief)]).await
    }

    /// Makes a 320x180 music video of the example brief to a 9 s track.
    async fn run_music_video(&self) -> (kino_store::JobId, kino_pipeline::JobReport) {
        self.run_with(&[("brief", &self.music_video), ("music", &self.track)])
            .await
    }

    async fn run_with(
        &self,
        given: &[(&str, &Path)],
    ) -> (kino_store::JobId, kino_pipeline::JobReport) {
        let executor = &self.host.executor;
        let spec = executor
            .catalog()
            .get(&self.host.tenant, "ad-creative")
            .expect("ad-creative");
        let product = kino_tests::workspace_root().join("examples/assets/product.png");
        let mut files: std::collections::BTreeMap<String, std::path::PathBuf> = given
            .iter()
            .map(|(name, path)| ((*name).to_owned(), path.to_path_buf()))
            .collect();
        files.insert("product".to_owned(), product);
        let texts = [("size".to_owned(), "320x180".to_owned())].into();
        let job = executor
            .submit_local(&self.host.tenant, &spec, &files, &texts)
            .await
            .expect("submit");
        let report = executor.run(&job).await.expect("the ad completes");
        (job.id, report)
    }

    /// The job's scene renders.
    async fn renders(&self, job: &kino_store::JobId) -> Vec<kino_store::Stage> {
        self.stages(job, "render[").await
    }

    /// The job's stage attempts whose name starts with `prefix`.
    async fn stages(&self, job: &kino_store::JobId, prefix: &str) -> Vec<kino_store::Stage> {
        let stages = self
            .host
            .executor
            .store()
            .list_stages(&self.host.tenant, job)
            .await
            .expect("stages");
        let found: Vec<_> = stages
            .into_iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect();
        assert!(!found.is_empty(), "the job has `{prefix}` stages");
        found
    }

    /// The job's events of `kind`, as text.
    async fn events(&self, job: &kino_store::JobId, kind: &str) -> Vec<String> {
        let events = self
            .host
            .executor
            .store()
            .events_since(&self.host.tenant, job, 0, 1000)
            .await
            .expect("events");
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.data.to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn an_ad_filmed_by_a_bound_clip_generator_renders_each_scene_once() {
    let server = server().await;
    let ad = AdHost::new(&[&server]).await;
    ad.bind_clips("clip-generator", &server, "acme/video-1")
        .await;
    let (job, report) = ad.run().await;
    let renders = ad.renders(&job).await;
    for r in &renders {
        assert_eq!(r.plugin.as_deref(), Some("kino-clips-replicate@0.1.0"));
    }
    // One prediction per scene, each asked with its direction's prompt and
    // the product image uploaded as its reference.
    let inputs = server.get(|m| m.inputs.clone());
    assert_eq!(inputs.len(), renders.len(), "{inputs:#?}");
    assert_eq!(server.get(|m| m.creates), renders.len());
    for input in &inputs {
        assert!(
            input["prompt"].as_str().is_some_and(|p| !p.is_empty()),
            "{input}"
        );
        assert_eq!(
            (input["width"].clone(), input["height"].clone()),
            (320.into(), 180.into())
        );
        assert!(
            input["image"]
                .as_str()
                .is_some_and(|u| u.contains("/v1/files/")),
            "{input}"
        );
    }
    let info = kino_media::probe(&report.outputs["ad.mp4"]).expect("a video");
    assert_eq!(info.video().map(|v| (v.width, v.height)), Some((320, 180)));

    // The same ad again: every scene from the cache, no render paid twice.
    ad.run().await;
    assert_eq!(server.get(|m| m.creates), renders.len());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_clip_backend_that_fails_is_switched_for_the_backup_then_the_host_render() {
    // "Veo" fails every prediction; "Gemini", the same API shape with
    // another model, renders; the policy switches once, then degrades.
    let veo = server().await;
    let gemini = server().await;
    veo.set(|m| m.mode = Mode::Failing);
    let ad = AdHost::new(&[&veo, &gemini]).await;
    ad.bind_clips("clip-generator", &veo, "google/veo-3").await;
    ad.bind_clips("clip-generator-backup", &gemini, "google/gemini-video")
        .await;
    let policy = serde_json::json!({ "alternative": "backup", "on-exhausted": "degrade" });
    ad.bind("fallback-policy", "kino-fallback-backoff", policy, None)
        .await;
    let (job, report) = ad.run().await;
    let renders = ad.renders(&job).await;
    let scenes = renders
        .iter()
        .filter(|r| r.state == kino_store::StageState::Completed)
        .count();
    assert_eq!(
        veo.get(|m| m.creates),
        scenes,
        "each scene was tried on the first backend once (its failure is not retryable)"
    );
    assert_eq!(
        gemini.get(|m| m.creates),
        scenes,
        "and filmed by the backup"
    );
    for input in gemini.get(|m| m.inputs.clone()) {
        assert!(
            input["prompt"].as_str().is_some_and(|p| !p.is_empty()),
            "{input}"
        );
    }
    let fallbacks = ad.events(&job, "fallback").await;
    assert_eq!(fallbacks.len(), scenes, "{fallbacks:#?}");
    assert!(
        fallbacks.iter().all(|f| f.contains("switch to backup")),
        "{fallbacks:#?}"
    );
    assert!(ad.events(&job, "stage-degraded").await.is_empty());
    let info = kino_media::probe(&report.outputs["ad.mp4"]).expect("a video");
    assert_eq!(info.video().map(|v| (v.width, v.height)), Some((320, 180)));

    // Both fail: after the backup, the host's own render (camera moves),
    // said in the job's events; the ad is still made.
    gemini.set(|m| m.mode = Mode::Failing);
    // (Other models, so that no scene comes from the cache.)
    ad.bind_clips("clip-generator", &veo, "google/veo-3.1")
        .await;
    ad.bind_clips("clip-generator-backup", &gemini, "google/gemini-video-2")
        .await;
    let (job, report) = ad.run().await;
    let degraded = ad.events(&job, "stage-degraded").await;
    assert_eq!(degraded.len(), scenes, "{degraded:#?}");
    assert!(
        degraded.iter().all(|d| d.contains("+backup")),
        "the reason names the backup that failed last: {degraded:#?}"
    );
    assert_eq!(gemini.get(|m| m.creates), 2 * scenes);
    let info = kino_media::probe(&report.outputs["ad.mp4"]).expect("a video");
    assert_eq!(info.video().map(|v| (v.width, v.height)), Some((320, 180)));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_music_video_lip_syncs_each_scene_to_the_track_under_it_and_an_ad_does_not() {
    let server = server().await;
    let ad = AdHost::new(&[&server]).await;
    let config =
        serde_json::json!({ "endpoint": server.url("/v1"), "model": "sync/lipsync-2-pro" });
    ad.bind("lipsync", "kino-lipsync-replicate", config, Some(&server))
        .await;

    // An ad: nobody sings; the bound lipsync plugin is not called.
    let (job, _) = ad.run().await;
    let passed = ad.stages(&job, "synced[").await;
    assert_eq!(passed.len(), ad.renders(&job).await.len());
    assert_eq!(server.get(|m| m.creates), 0, "no scene of an ad is synced");

    // A music video: every scene synced to its span of the track.
    let (job, report) = ad.run_music_video().await;
    let synced = ad.stages(&job, "synced[").await;
    for stage in &synced {
        assert_eq!(
            stage.plugin.as_deref(),
            Some("kino-lipsync-replicate@0.1.0")
        );
        assert_eq!(stage.state, kino_store::StageState::Completed);
    }
    assert_eq!(server.get(|m| m.creates), synced.len());
    assert_eq!(
        server.get(|m| m.uploads),
        2 * synced.len(),
        "a scene and its span each"
    );
    for input in server.get(|m| m.inputs.clone()) {
        assert!(
            input["video"].is_string() && input["audio"].is_string(),
            "{input}"
        );
    }
    // Each scene got its own span of the track, and the spans add up to
    // the track (float stereo WAVs at 48 kHz; forms and headers are a few
    // hundred bytes).
    let spans = server.get(|m| m.wav_uploads.clone());
    assert_eq!(spans.len(), synced.len(), "{spans:?}");
    let seconds = spans.iter().sum::<u64>() as f64 / (48_000.0 * 2.0 * 4.0);
    assert!(
        (seconds - 9.0).abs() < 0.05,
        "{seconds} s of the 9 s track were sent"
    );
    let info = kino_media::probe(&report.outputs["ad.mp4"]).expect("a video");
    assert_eq!(info.video().map(|v| (v.width, v.height)), Some((320, 180)));
    assert!(
        (info.duration_secs - 9.0).abs() < 0.1,
        "{}",
        info.duration_secs
    );
}
