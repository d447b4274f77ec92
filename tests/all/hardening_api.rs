//! `kino serve`'s limits on a real socket: a client that does not send its
//! headers in time is disconnected (an idle keep-alive one too) while event
//! streams and uploads take as long as they take; uploads are streamed to
//! disk, refused before their body when they declare too much, and refused
//! with 503 while the uploads in flight hold the whole budget.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kino_api as api;
use kino_api::serve::Limits;
use kino_api::{AppState, Metrics};
use kino_pipeline::Executor;
use kino_pipeline::slots::Resolver;
use kino_pipeline::worker::JobQueue;
use kino_registry::SignaturePolicy;
use kino_runtime::plugins;
use kino_store::{JobEvent, JobState, Store};
use kino_tests::{plugin_path, runtime};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-for-hardening-tests";

/// How long any one exchange may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// `serve_on` on 127.0.0.1, stopped when dropped.
struct Server {
    addr: SocketAddr,
    store: Store,
    tmp: tempfile::TempDir,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Limits with a 1 s header read timeout.
fn quick(upload_budget: u64) -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        upload_budget,
        ..Limits::default()
    }
}

async fn server(upload_limit: usize, limits: Limits) -> Server {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = Store::in_memory().await.expect("store");
    let registry = kino_registry::Store::open(tmp.path().join("registry")).expect("registry");
    let resolver = Resolver::new(
        runtime().clone(),
        registry.clone(),
        store.clone(),
        BTreeMap::new(),
    );
    let executor = Executor::new(store.clone(), resolver, tmp.path(), 2, None).expect("executor");
    let state = AppState {
        store: store.clone(),
        registry,
        jobs: JobQueue::new(executor),
        runtime: runtime().clone(),
        admin_token_hash: api::admin_token_hash(ADMIN),
        trusted_keys: Arc::from(Vec::new()),
        signature_policy: SignaturePolicy::Optional,
        upload_limit,
        metrics: Metrics::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(api::serve::serve_on(listener, state, limits));
    Server {
        addr,
        store,
        tmp,
        task,
    }
}

impl Server {
    /// A tenant's API key.
    async fn key(&self, name: &str) -> String {
        let tenant = self.store.create_tenant(name).await.expect("tenant");
        self.store.issue_api_key(&tenant.id).await.expect("key").key
    }

    async fn connect(&self) -> Conn {
        Conn {
            socket: TcpStream::connect(self.addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    /// One request on a fresh connection; its response.
    async fn call(&self, request: &[u8]) -> Response {
        let mut conn = self.connect().await;
        conn.send(request).await;
        conn.response().await
    }

    /// Uploads `bytes` as a job input; its `{sha256, size}`.
    async fn input(&self, key: &str, bytes: &[u8]) -> Value {
        let response = self
            .call(&request(
                "POST",
                "/inputs",
                &[("Authorization", bearer(key))],
                bytes,
            ))
            .await;
        assert_eq!(response.status, 201, "{response:?}");
        response.json()
    }

    /// What is left in the artifact store's scratch directory.
    fn scratch(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp.path().join("artifacts/tmp"))
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

/// An HTTP/1.1 request; a `Content-Length` for `body` unless `headers` name
/// a length or a transfer encoding.
fn request(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    let framed = headers.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A response: its status, head and body.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!("not JSON: {self:?} {}", String::from_utf8_lossy(&self.body))
        })
    }
}

/// A client connection, reading responses by their `Content-Length`.
struct Conn {
    socket: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.expect("write");
    }

    /// Reads more; `false` once the server has closed the connection.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 << 10];
        match tokio::time::timeout(PATIENCE, self.socket.read(&mut chunk))
            .await
            .expect("the server answers in time")
        {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads until the buffer holds `needle`; what came up to its end.
    async fn read_until(&mut self, needle: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.windows(needle.len()).position(|w| w == needle) {
                return self.buf.drain(..at + needle.len()).collect();
            }
            assert!(
                self.fill().await,
                "closed before `{}`: {}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// The next response (interim ones, `100 Continue`, included).
    async fn response(&mut self) -> Response {
        let head = String::from_utf8(self.read_until(b"\r\n\r\n").await).expect("UTF-8 head");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {head}"));
        let mut response = Response {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = response
            .header("content-length")
            .map_or(0, |v| v.parse().expect("a length"));
        while self.buf.len() < length {
            assert!(self.fill().await, "closed mid-body: {response:?}");
        }
        response.body = self.buf.drain(..length).collect();
        response
    }

    /// Whether the server closes the connection within `within`, sending
    /// nothing more.
    async fn closed_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(within, self.socket.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => true,
            Ok(Ok(n)) => panic!(
                "the server sent more: {}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(_) => false,
        }
    }
}

#[tokio::test]
async fn a_client_that_does_not_send_its_headers_in_time_is_disconnected() {
    let server = server(api::DEFAULT_UPLOAD_LIMIT, quick(api::DEFAULT_UPLOAD_BUDGET)).await;

    // Half a request line and a header, then nothing.
    let mut slow = server.connect().await;
    slow.send(b"POST /inputs HTTP/1.1\r\nHost: loc").await;
    let started = Instant::now();
    assert!(
        slow.closed_within(Duration::from_secs(5)).await,
        "a connection without complete headers stays open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout"
    );

    // A connection that never sends a byte.
    let mut silent = server.connect().await;
    assert!(silent.closed_within(Duration::from_secs(5)).await);

    // An idle keep-alive connection, after a complete exchange.
    let mut idle = server.connect().await;
    idle.send(&request("GET", "/healthz", &[], b"")).await;
    let response = idle.response().await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body, b"ok");
    assert!(
        idle.closed_within(Duration::from_secs(5)).await,
        "an idle keep-alive connection stays open"
    );

    // Clients that send their requests are served, fresh and kept alive,
    // and headers sent in pieces inside the timeout are fine.
    let mut fresh = server.connect().await;
    fresh.send(b"GET /heal").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    fresh.send(b"thz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(fresh.response().await.status, 200);
    fresh.send(&request("GET", "/healthz", &[], b"")).await;
    assert_eq!(fresh.response().await.status, 200);
}

#[tokio::test]
async fn an_event_stream_outlives_the_header_timeout() {
    let server = server(api::DEFAULT_UPLOAD_LIMIT, quick(api::DEFAULT_UPLOAD_BUDGET)).await;
    let key = server.key("acme").await;
    let video = server.input(&key, b"not really a video").await;
    let transcript = server
        .input(&key, b"1\n00:00:00,000 --> 00:00:01,000\nhi\n")
        .await;
    let body = json!({
        "pipeline": "caption",
        "inputs": {
            "video": { "sha256": video["sha256"], "name": "v.mp4" },
            "transcript": { "sha256": transcript["sha256"], "name": "t.srt" },
        },
    })
    .to_string();
    let submitted = server
        .call(&request(
            "POST",
            "/jobs",
            &[
                ("Authorization", bearer(&key)),
                ("Content-Type", "application/json".into()),
            ],
            body.as_bytes(),
        ))
        .await;
    assert_eq!(submitted.status, 201, "{submitted:?}");
    let job = submitted.json();
    let (job_id, tenant) = (
        job["id"].as_str().expect("id").parse().expect("job id"),
        job["tenant_id"]
            .as_str()
            .expect("tenant")
            .parse()
            .expect("tenant id"),
    );
    server
        .store
        .set_job_state(&tenant, &job_id, JobState::Running, None)
        .await
        .expect("running");

    let mut events = server.connect().await;
    events
        .send(&request(
            "GET",
            &format!("/jobs/{job_id}/events"),
            &[("Authorization", bearer(&key))],
            b"",
        ))
        .await;
    let head = String::from_utf8(events.read_until(b"\r\n\r\n").await).expect("head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    events.read_until(b"event: created").await;
    // Silent for three header timeouts (the keep-alive comment comes every
    // 15 s), and still open.
    assert!(
        !events.closed_within(Duration::from_secs(3)).await,
        "the event stream was cut"
    );
    server
        .store
        .append_event(
            &job_id,
            &JobEvent::StageCached {
                stage: "script".into(),
            },
        )
        .await
        .expect("event");
    events.read_until(b"event: stage-cached").await;
    server
        .store
        .set_job_state(&tenant, &job_id, JobState::Completed, None)
        .await
        .expect("completed");
    // The stream ends (the last chunk), then the idle connection is closed.
    events.read_until(b"\r\n0\r\n\r\n").await;
    assert!(events.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let server = server(1 << 20, quick(api::DEFAULT_UPLOAD_BUDGET)).await;
    let key = server.key("acme").await;
    for (path, token) in [("/inputs", key.as_str()), ("/admin/plugins", ADMIN)] {
        let mut conn = server.connect().await;
        conn.send(&request(
            "POST",
            path,
            &[
                ("Authorization", bearer(token)),
                ("Content-Length", (3u64 << 30).to_string()),
                ("Expect", "100-continue".into()),
            ],
            b"",
        ))
        .await;
        let response = conn.response().await;
        assert_eq!(
            response.status, 413,
            "{path}: never `100 Continue`: {response:?}"
        );
        let error = response.json();
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|m| m.contains(&(1u64 << 20).to_string())),
            "{path}: the limit is named: {error}"
        );
    }
    assert!(server.scratch().is_empty(), "{:?}", server.scratch());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_and_leaves_nothing() {
    let server = server(4096, quick(api::DEFAULT_UPLOAD_BUDGET)).await;
    let key = server.key("acme").await;
    let mut conn = server.connect().await;
    // A chunk of one byte over the limit, and nothing after it (not even its
    // CRLF): the server refuses it with every byte sent read, so it closes
    // the connection cleanly instead of resetting it.
    let mut body = format!("{:x}\r\n", 4097).into_bytes();
    body.extend_from_slice(&[7u8; 4097]);
    conn.send(&request(
        "POST",
        "/inputs",
        &[
            ("Authorization", bearer(&key)),
            ("Transfer-Encoding", "chunked".into()),
        ],
        &body,
    ))
    .await;
    let response = conn.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    assert!(
        response.json()["error"]
            .as_str()
            .is_some_and(|m| m.contains("4096")),
        "{response:?}"
    );
    assert!(server.scratch().is_empty(), "{:?}", server.scratch());

    // Under the limit, chunked is fine.
    let data = [9u8; 3000];
    let mut body = format!("{:x}\r\n", 1000).into_bytes();
    body.extend_from_slice(&data[..1000]);
    body.extend_from_slice(format!("\r\n{:x}\r\n", 2000).as_bytes());
    body.extend_from_slice(&data[1000..]);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let response = server
        .call(&request(
            "POST",
            "/inputs",
            &[
                ("Authorization", bearer(&key)),
                ("Transfer-Encoding", "chunked".into()),
            ],
            &body,
        ))
        .await;
    assert_eq!(response.status, 201, "{response:?}");
    assert_eq!(
        response.json()["sha256"],
        hex::encode(Sha256::digest(data)),
        "{response:?}"
    );
}

#[tokio::test]
async fn uploads_past_the_budget_are_503_until_it_frees() {
    const BUDGET: u64 = 1 << 20;
    let server = server(BUDGET as usize, quick(BUDGET)).await;
    let key = server.key("acme").await;
    let first: Vec<u8> = (0..768 << 10).map(|i: u32| (i % 251) as u8).collect();
    let second = vec![3u8; 768 << 10];
    let upload = |length: usize| {
        request(
            "POST",
            "/inputs",
            &[
                ("Authorization", bearer(&key)),
                ("Content-Length", length.to_string()),
                ("Expect", "100-continue".into()),
            ],
            b"",
        )
    };

    // A slow upload: `100 Continue` means it holds its share of the budget.
    let mut slow = server.connect().await;
    slow.send(&upload(first.len())).await;
    let interim = slow.response().await;
    assert_eq!(interim.status, 100, "{interim:?}");
    slow.send(&first[..100 << 10]).await;

    // Another that does not fit beside it is turned away, unread.
    let mut other = server.connect().await;
    other.send(&upload(second.len())).await;
    let busy = other.response().await;
    assert_eq!(busy.status, 503, "{busy:?}");
    assert_eq!(
        busy.header("retry-after"),
        Some(api::UPLOAD_RETRY_AFTER_SECS.to_string().as_str())
    );
    assert!(busy.json()["error"].is_string(), "{busy:?}");
    // So is one that declares no length (it reserves the upload limit).
    let chunked = server
        .call(&request(
            "POST",
            "/inputs",
            &[
                ("Authorization", bearer(&key)),
                ("Transfer-Encoding", "chunked".into()),
                ("Expect", "100-continue".into()),
            ],
            b"",
        ))
        .await;
    assert_eq!(chunked.status, 503, "{chunked:?}");

    // The slow one finishes, stored under the right hash.
    for piece in first[100 << 10..].chunks(64 << 10) {
        slow.send(piece).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = slow.response().await;
    assert_eq!(stored.status, 201, "{stored:?}");
    assert_eq!(
        stored.json(),
        json!({ "sha256": hex::encode(Sha256::digest(&first)), "size": first.len() })
    );

    // Then the other fits.
    let uploaded = server.input(&key, &second).await;
    assert_eq!(uploaded["sha256"], hex::encode(Sha256::digest(&second)));
    assert_eq!(uploaded["size"], second.len());
    assert!(server.scratch().is_empty(), "{:?}", server.scratch());
}

#[tokio::test]
async fn a_client_gone_mid_upload_leaves_nothing_behind() {
    const BUDGET: u64 = 1 << 20;
    let server = server(BUDGET as usize, quick(BUDGET)).await;
    let key = server.key("acme").await;
    let mut gone = server.connect().await;
    gone.send(&request(
        "POST",
        "/inputs",
        &[
            ("Authorization", bearer(&key)),
            ("Content-Length", BUDGET.to_string()),
            ("Expect", "100-continue".into()),
        ],
        b"",
    ))
    .await;
    assert_eq!(gone.response().await.status, 100);
    gone.send(&[1u8; 200 << 10]).await;
    // The scratch file is made before the body is asked for.
    assert_eq!(server.scratch().len(), 1, "{:?}", server.scratch());
    drop(gone);

    // The scratch directory goes, and the whole budget is free again.
    let deadline = Instant::now() + PATIENCE;
    while !server.scratch().is_empty() {
        assert!(
            Instant::now() < deadline,
            "left behind: {:?}",
            server.scratch()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let whole = vec![5u8; BUDGET as usize];
    let uploaded = server.input(&key, &whole).await;
    assert_eq!(uploaded["size"], whole.len());
}

#[tokio::test]
async fn a_plugin_package_streamed_to_disk_installs() {
    let server = server(api::DEFAULT_UPLOAD_LIMIT, quick(api::DEFAULT_UPLOAD_BUDGET)).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/director-styles");
    let archive = tmp.path().join("director-styles.tar.gz");
    plugins::pack(&dir, Some(&plugin_path("kino-director-styles")), &archive).expect("pack");
    let package = std::fs::read(&archive).expect("read package");

    let response = server
        .call(&request(
            "POST",
            "/admin/plugins",
            &[
                ("Authorization", bearer(ADMIN)),
                ("Content-Type", "application/gzip".into()),
            ],
            &package,
        ))
        .await;
    assert_eq!(response.status, 201, "{response:?}");
    let installed = response.json();
    assert_eq!(installed["name"], "kino-director-styles", "{installed}");
    assert!(server.scratch().is_empty(), "{:?}", server.scratch());

    let garbage = server
        .call(&request(
            "POST",
            "/admin/plugins",
            &[("Authorization", bearer(ADMIN))],
            b"not a package",
        ))
        .await;
    assert_eq!(garbage.status, 422, "{garbage:?}");
    let reason = garbage.json()["error"].as_str().expect("reason").to_owned();
    assert!(
        !reason.contains(&server.tmp.path().display().to_string()),
        "the scratch path leaks: {reason}"
    );
}
