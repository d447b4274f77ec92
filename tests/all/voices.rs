//! The speech slot end to end: a dub whose lines are spoken by
//! `kino-speech-elevenlabs` against a local mock of an ElevenLabs-style API
//! (text-to-speech, voices, voice-add), with the tenant's key injected by
//! the host and cloned voices kept per tenant.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kino_pipeline::local::LocalHost;
use kino_runtime::RuntimeConfig;
use kino_store::{NewBinding, StageState};

const PACKAGE: &str = "kino-speech-elevenlabs";
const SECRET: &str = "xi-test-0123456789";

/// One text-to-speech request as the mock saw it.
#[derive(Debug, Clone)]
struct Spoken {
    voice: String,
    format: Option<String>,
    key: Option<String>,
    body: serde_json::Value,
}

#[derive(Default)]
struct Seen {
    spoken: Vec<Spoken>,
    /// Bytes of voice samples received by voice-add, per request.
    samples: Vec<usize>,
}

#[derive(Clone)]
struct Mock {
    seen: Arc<Mutex<Seen>>,
    /// What text-to-speech answers: an MP3.
    audio: Arc<Vec<u8>>,
}

async fn speak(
    State(mock): State<Mock>,
    UrlPath(voice): UrlPath<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    let key = headers
        .get("xi-api-key")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    if key.as_deref() != Some(SECRET) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    mock.seen.lock().expect("lock").spoken.push(Spoken {
        voice,
        format: query.get("output_format").cloned(),
        key,
        body,
    });
    (
        [("content-type", "audio/mpeg")],
        mock.audio.as_ref().clone(),
    )
        .into_response()
}

async fn voices() -> Response {
    axum::Json(serde_json::json!({"voices": [
        {"voice_id": "premade-1", "name": "Rachel", "category": "premade",
         "verified_languages": [{"language": "en"}, {"language": "es"}]}
    ]}))
    .into_response()
}

async fn add_voice(State(mock): State<Mock>, body: axum::body::Bytes) -> Response {
    if body.windows(7).any(|w| w == b"refused") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"detail": {"status": "voice_refused", "message": "these samples were refused"}})),
        )
            .into_response();
    }
    let mut seen = mock.seen.lock().expect("lock");
    seen.samples.push(body.len());
    let id = format!("cloned-{}", seen.samples.len());
    axum::Json(serde_json::json!({"voice_id": id})).into_response()
}

async fn serve(mock: Mock) -> SocketAddr {
    let app = Router::new()
        .route("/v1/text-to-speech/{voice}", post(speak))
        .route("/v1/voices", get(voices))
        .route("/v1/voices/add", post(add_voice))
        .with_state(mock)
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app.into_make_service()).await });
    addr
}

/// One second of a 440 Hz tone as MP3, made by ffmpeg.
fn tone_mp3(dir: &Path) -> Vec<u8> {
    let path = dir.join("tone.mp3");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:duration=1:sample_rate=44100")
        .args(["-c:a", "libmp3lame", "-b:a", "64k"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the tone");
    std::fs::read(path).expect("tone")
}

/// A local host with `kino-speech-elevenlabs` installed for the mock at
/// `addr` and bound to the tenant's speech slot, its key a tenant secret.
async fn host_with_speech(dir: &Path, addr: SocketAddr) -> LocalHost {
    let data = dir.join("data");
    let host = LocalHost::open_with(
        &data,
        &kino_tests::bundled_plugins(),
        None,
        RuntimeConfig {
            allow_private: vec![addr.to_string()],
            ..RuntimeConfig::default()
        },
    )
    .await
    .expect("local host");
    let origin = format!("http://{addr}");
    kino_tests::install_for_endpoint(
        &data,
        dir,
        "speech-elevenlabs",
        PACKAGE,
        r#"["https://api.elevenlabs.io"]"#,
        &[origin.as_str()],
    );
    bind_speech(host.executor.store(), &host.tenant, addr).await;
    host
}

/// A temporary directory, the mock speech API serving a tone, its address,
/// and a local host whose speech slot is bound to the plugin for it.
async fn speech_fixture() -> (tempfile::TempDir, Mock, SocketAddr, LocalHost) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mock = Mock {
        seen: Arc::default(),
        audio: Arc::new(tone_mp3(tmp.path())),
    };
    let addr = serve(mock.clone()).await;
    let host = host_with_speech(tmp.path(), addr).await;
    (tmp, mock, addr, host)
}

/// Binds the tenant's speech slot to the plugin for the mock at `addr`,
/// its key a tenant secret injected as `xi-api-key`.
async fn bind_speech(store: &kino_store::Store, tenant: &kino_store::TenantId, addr: SocketAddr) {
    let origin = format!("http://{addr}");
    store
        .set_secret(tenant, "elevenlabs", SECRET)
        .await
        .expect("secret");
    store
        .set_binding(
            tenant,
            &NewBinding {
                slot: "speech".into(),
                plugin_name: PACKAGE.into(),
                requirement: "*".into(),
                config: serde_json::json!({ "endpoint": origin, "voice-id": "default-voice" }),
                grants: serde_json::json!([{
                    "origin": origin, "secret": "elevenlabs", "header": "xi-api-key", "prefix": ""
                }]),
            },
        )
        .await
        .expect("bind");
}

/// Dubs a 4 s clip with two lines into Spanish, speaking with `voice`.
async fn dub(host: &LocalHost, dir: &Path, voice: &str) -> (kino_store::JobId, PathBuf) {
    dub_as(host, &host.tenant, dir, voice)
        .await
        .expect("the dub completes")
}

/// [`dub`] as `tenant`: the job's id and its dubbed video, or why it failed.
async fn dub_as(
    host: &LocalHost,
    tenant: &kino_store::TenantId,
    dir: &Path,
    voice: &str,
) -> anyhow::Result<(kino_store::JobId, PathBuf)> {
    let srt = dir.join("clip.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,200 --> 00:00:01,800\nGood morning.\n\n2\n00:00:02,000 --> 00:00:03,800\nThank you.\n",
    )
    .expect("write");
    dub_with(host, tenant, dir, voice, srt).await
}

/// [`dub_as`] with the transcript `transcript`.
async fn dub_with(
    host: &LocalHost,
    tenant: &kino_store::TenantId,
    dir: &Path,
    voice: &str,
    transcript: PathBuf,
) -> anyhow::Result<(kino_store::JobId, PathBuf)> {
    // Made once: its noise is random, and the same dub is the same video.
    let video = dir.join("clip.mp4");
    if !video.exists() {
        kino_tests::test_video(&video, 4, "160x120", true);
    }
    let files = [
        ("video".to_owned(), video),
        ("transcript".to_owned(), transcript),
    ]
    .into();
    let texts = [
        ("language".to_owned(), "es".to_owned()),
        ("voice".to_owned(), voice.to_owned()),
    ]
    .into();
    let spec = host.executor.catalog().get(tenant, "dub").expect("dub");
    let job = host
        .executor
        .submit_local(tenant, &spec, &files, &texts)
        .await
        .expect("submit");
    let report = host.executor.run(&job).await?;
    Ok((job.id, report.outputs["dubbed.mp4"].clone()))
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_bound_speech_plugin_speaks_every_line_with_the_tenants_key() {
    let (tmp, mock, _, host) = speech_fixture().await;

    let (job, dubbed) = dub(&host, tmp.path(), "").await;
    let spoken = mock.seen.lock().expect("lock").spoken.clone();
    assert_eq!(spoken.len(), 2, "one request per line: {spoken:#?}");
    let mut texts: Vec<&str> = spoken
        .iter()
        .map(|s| s.body["text"].as_str().expect("text"))
        .collect();
    texts.sort_unstable();
    assert!(
        texts.iter().all(|t| !t.is_empty()),
        "each line's translated text: {texts:?}"
    );
    for s in &spoken {
        assert_eq!(s.key.as_deref(), Some(SECRET), "the host injects the key");
        assert_eq!(s.voice, "default-voice", "the binding's default voice");
        assert_eq!(s.format.as_deref(), Some("mp3_44100_128"));
        assert_eq!(s.body["language_code"], "es");
    }
    // The lines are the backend's: recorded as the plugin's attempts, and
    // no host voice was asked for.
    let store = host.executor.store();
    let stages = store.list_stages(&host.tenant, &job).await.expect("stages");
    let lines: Vec<_> = stages
        .iter()
        .filter(|s| s.name.starts_with("lines["))
        .collect();
    assert_eq!(lines.len(), 2, "{stages:#?}");
    for line in lines {
        assert_eq!(line.state, StageState::Completed);
        assert_eq!(line.plugin.as_deref(), Some("kino-speech-elevenlabs@0.1.0"));
    }
    let events = store
        .events_since(&host.tenant, &job, 0, 1000)
        .await
        .expect("events");
    assert!(
        !events
            .iter()
            .any(|e| e.data.to_string().contains("espeak-ng")),
        "no line fell back to the host's voice"
    );
    // No lipsync plugin is bound: the video passes through, and the job says so.
    assert!(
        events
            .iter()
            .any(|e| e.kind == "stage-note" && e.data.to_string().contains("not lip-synced")),
        "{events:#?}"
    );
    let info = kino_media::probe(&dubbed).expect("a video");
    assert!(info.audio().is_some() && info.video().is_some());

    // The same dub again is served from the cache: the backend is not paid twice.
    dub(&host, tmp.path(), "").await;
    assert_eq!(mock.seen.lock().expect("lock").spoken.len(), 2);
    // Another voice is other work.
    dub(&host, tmp.path(), "premade-1").await;
    let spoken = mock.seen.lock().expect("lock").spoken.clone();
    assert_eq!(spoken.len(), 4);
    assert!(spoken[2..].iter().all(|s| s.voice == "premade-1"));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_cloned_voice_is_kept_for_the_tenant_and_dubs_by_name() {
    let (tmp, mock, addr, host) = speech_fixture().await;
    let store = host.executor.store();

    // Two recordings of the speaker, streamed to voice-add.
    let take = tmp.path().join("take.mp3");
    std::fs::write(&take, mock.audio.as_ref()).expect("write");
    let other = tmp.path().join("other.mp3");
    std::fs::write(&other, mock.audio.as_ref()).expect("write");
    let voice = host
        .executor
        .make_voice(&host.tenant, "ana", &[take.clone(), other])
        .await
        .expect("a voice");
    assert_eq!(
        (
            voice.name.as_str(),
            voice.plugin.as_str(),
            voice.voice_id.as_str()
        ),
        ("ana", PACKAGE, "cloned-1")
    );
    let samples = mock.seen.lock().expect("lock").samples.clone();
    assert_eq!(samples.len(), 1);
    assert!(
        samples[0] > 2 * mock.audio.len(),
        "both recordings were sent ({} bytes)",
        samples[0]
    );
    assert_eq!(
        store.voice(&host.tenant, "ana").await.expect("read"),
        Some(voice)
    );

    // A taken name is refused before the backend is asked.
    let err = host
        .executor
        .make_voice(&host.tenant, "ana", std::slice::from_ref(&take))
        .await
        .expect_err("taken");
    assert!(format!("{err:#}").contains("already taken"), "{err:#}");
    assert_eq!(mock.seen.lock().expect("lock").samples.len(), 1);
    // No recordings, or one that is not there, is a clear error.
    let err = host
        .executor
        .make_voice(&host.tenant, "bo", &[])
        .await
        .expect_err("none");
    assert!(format!("{err:#}").contains("1 to 25 recordings"), "{err:#}");
    let err = host
        .executor
        .make_voice(&host.tenant, "bo", &[tmp.path().join("gone.wav")])
        .await
        .expect_err("missing");
    assert!(format!("{err:#}").contains("gone.wav"), "{err:#}");

    // A dub asks for it by name; the backend hears its id.
    dub(&host, tmp.path(), "ana").await;
    let spoken = mock.seen.lock().expect("lock").spoken.clone();
    assert_eq!(spoken.len(), 2);
    assert!(spoken.iter().all(|s| s.voice == "cloned-1"), "{spoken:#?}");

    // Another tenant's name is not this one's, and its clone is not the
    // other's to speak with, even by the backend's id.
    let other = store.create_tenant("other").await.expect("tenant");
    assert_eq!(store.voice(&other.id, "ana").await.expect("read"), None);
    bind_speech(store, &other.id, addr).await;
    let err = dub_as(&host, &other.id, tmp.path(), "cloned-1")
        .await
        .expect_err("not its voice");
    assert!(
        format!("{err:#}").contains("another tenant's cloned voice"),
        "{err:#}"
    );
    assert_eq!(
        mock.seen.lock().expect("lock").spoken.len(),
        2,
        "nothing was spoken"
    );
}

/// Sends `request` through `router`: the status and the JSON body.
async fn send(
    router: &Router,
    request: axum::http::Request<axum::body::Body>,
) -> (StatusCode, serde_json::Value) {
    use tower::ServiceExt as _;
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn voices_are_made_from_uploads_listed_and_forgotten_over_http() {
    use axum::http::{Method, Request, header};
    const ADMIN: &str = "admin-token-for-voices";

    let (tmp, mock, _, host) = speech_fixture().await;
    let router = kino_api::router(kino_api::AppState {
        store: host.executor.store().clone(),
        registry: kino_registry::Store::open(tmp.path().join("data/registry")).expect("registry"),
        runtime: host.executor.runtime().clone(),
        admin_token_hash: kino_api::admin_token_hash(ADMIN),
        trusted_keys: Arc::from(Vec::new()),
        signature_policy: kino_registry::SignaturePolicy::Optional,
        upload_limit: 16 << 20,
        metrics: kino_api::Metrics::new(),
        jobs: kino_pipeline::worker::JobQueue::new(host.executor.clone()),
    });
    let bearer = |token: &str| format!("Bearer {token}");
    let (status, key) = send(
        &router,
        Request::post(format!("/admin/tenants/{}/keys", host.tenant))
            .header(header::AUTHORIZATION, bearer(ADMIN))
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key = key["key"].as_str().expect("key").to_owned();
    let call = |method: Method, uri: &str, body: Option<serde_json::Value>| {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, bearer(&key))
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or_else(axum::body::Body::empty, |b| b.to_string().into());
        send(&router, request.body(body).expect("request"))
    };
    let upload = |bytes: Vec<u8>| {
        let request = Request::post("/inputs")
            .header(header::AUTHORIZATION, bearer(&key))
            .body(axum::body::Body::from(bytes))
            .expect("request");
        async {
            let (status, body) = send(&router, request).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["sha256"].as_str().expect("sha256").to_owned()
        }
    };

    // A recording uploaded as an input (no name, no type: it is read to
    // tell the backend what it is), made into a voice.
    let take = upload(mock.audio.as_ref().clone()).await;
    let (status, voice) = call(
        Method::POST,
        "/voices",
        Some(serde_json::json!({ "name": "ana", "samples": [take] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{voice}");
    assert_eq!(voice["plugin"], PACKAGE);
    assert_eq!(voice["voice_id"], "cloned-1");
    assert_eq!(mock.seen.lock().expect("lock").samples.len(), 1);
    let (status, listed) = call(Method::GET, "/voices", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, serde_json::json!([voice]));

    // A taken name, a sample never uploaded, one that is no audio, and one
    // the backend refuses: each its own answer, and nothing is kept.
    let (status, body) = call(
        Method::POST,
        "/voices",
        Some(serde_json::json!({ "name": "ana", "samples": [take] })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let unknown = "0".repeat(64);
    let (status, body) = call(
        Method::POST,
        "/voices",
        Some(serde_json::json!({ "name": "bo", "samples": [unknown] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("POST /inputs")),
        "{body}"
    );
    let noise = upload(b"not a recording at all".to_vec()).await;
    let (status, body) = call(
        Method::POST,
        "/voices",
        Some(serde_json::json!({ "name": "bo", "samples": [take, noise] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("recording 2")),
        "{body}"
    );
    let (status, body) = call(
        Method::POST,
        "/voices",
        Some(serde_json::json!({ "name": "refused", "samples": [take] })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains(PACKAGE)),
        "{body}"
    );
    assert_eq!(mock.seen.lock().expect("lock").samples.len(), 1);
    let (_, listed) = call(Method::GET, "/voices", None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // Forgotten once; the second time there is nothing to forget.
    let (status, _) = call(Method::DELETE, "/voices/ana", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(Method::DELETE, "/voices/ana", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, listed) = call(Method::GET, "/voices", None).await;
    assert_eq!(listed, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn each_speaker_of_the_source_is_cloned_once_and_speaks_their_own_lines() {
    let (tmp, mock, _, host) = speech_fixture().await;
    // Two speakers, named by WebVTT voice tags: Ana speaks 1.6 s, Bo 1.8 s.
    let vtt = tmp.path().join("clip.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\n00:00:00.200 --> 00:00:01.800\n<v Ana>Good morning.\n\n\
         00:00:02.000 --> 00:00:03.800\n<v Bo>Thank you very much for coming today, everyone.\n",
    )
    .expect("write");
    let (job, _) = dub_with(&host, &host.tenant, tmp.path(), "clone", vtt.clone())
        .await
        .expect("the dub completes");

    // One clone per speaker, each from their own speech (16-bit mono at
    // 48 kHz: Bo's sample is 0.2 s longer than Ana's).
    let samples = mock.seen.lock().expect("lock").samples.clone();
    assert_eq!(samples.len(), 2, "{samples:?}");
    let extra = samples[1] as f64 - samples[0] as f64;
    assert!(
        (extra - 0.2 * 48_000.0 * 2.0).abs() < 600.0,
        "Ana's then Bo's speech were sent: {samples:?}"
    );
    // Each line in its speaker's clone: Ana's (the short one) in the first.
    let spoken = mock.seen.lock().expect("lock").spoken.clone();
    assert_eq!(spoken.len(), 2, "{spoken:#?}");
    let mut by_length: Vec<(usize, &str)> = spoken
        .iter()
        .map(|s| {
            (
                s.body["text"].as_str().map_or(0, str::len),
                s.voice.as_str(),
            )
        })
        .collect();
    by_length.sort_unstable();
    assert_eq!(
        by_length.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        ["cloned-1", "cloned-2"],
        "{spoken:#?}"
    );
    let events = host
        .executor
        .store()
        .events_since(&host.tenant, &job, 0, 1000)
        .await
        .expect("events");
    assert!(
        events.iter().any(|e| e.kind == "stage-note"
            && e.data
                .to_string()
                .contains("cloned 2 voices from the source: Ana, Bo")),
        "{events:#?}"
    );
    // The clones are the job's, not the tenant's named voices.
    let store = host.executor.store();
    assert!(
        store
            .list_voices(&host.tenant)
            .await
            .expect("voices")
            .is_empty()
    );

    // The same dub again clones nobody and speaks nothing twice.
    dub_with(&host, &host.tenant, tmp.path(), "clone", vtt)
        .await
        .expect("the dub completes");
    assert_eq!(mock.seen.lock().expect("lock").samples.len(), 2);
    assert_eq!(mock.seen.lock().expect("lock").spoken.len(), 2);
}
