//! Many hosts on one PostgreSQL: `kino worker` processes claiming jobs'
//! nodes from the queue and sharing artifacts through a shared directory,
//! `kino serve` answering the API with no worker of its own, workers killed
//! mid-node (nothing lost, nothing done twice), and a fair share between
//! tenants.
//!
//! Each test starts its own PostgreSQL cluster (`initdb`, `pg_ctl`) in a
//! temporary directory; without the binaries it says so and passes, except
//! under CI, where that is a failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kino_media as media;
use kino_pipeline::Dispatch;
use kino_store::{JobState, NodeState, StageState};
use kino_tests::cluster::{self, Shared};
use kino_tests::{test_video, workspace_root};

fn kino() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kino-cli"))
}

/// A fresh set-up on a PostgreSQL of its own, or `None` (said).
async fn postgres_shared() -> Option<Shared> {
    let pg = cluster::postgres()?;
    Some(Shared::new(pg, kino()).await)
}

const TRANSCRIPT: &str = "1
00:00:00,300 --> 00:00:01,800
Good morning, my friend.

2
00:00:02,000 --> 00:00:03,600
See you tomorrow.
";

fn kill(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}

/// The indices of the `workers` that hold a claimed node of the jobs `ids`.
async fn holders(
    shared: &Shared,
    ids: &[(kino_store::TenantId, kino_store::JobId)],
    workers: &[Child],
) -> Vec<usize> {
    let mut owners = Vec::new();
    for (_, job) in ids {
        let nodes = shared.store.nodes_of_job(job).await.expect("nodes");
        owners.extend(
            nodes
                .into_iter()
                .filter(|n| n.state == NodeState::Claimed)
                .filter_map(|n| n.owner),
        );
    }
    // An owner is `host:pid:nonce`.
    (0..workers.len())
        .filter(|&i| {
            let pid = format!(":{}:", workers[i].id());
            owners.iter().any(|o| o.contains(&pid))
        })
        .collect()
}

/// A small random number from the clock (no dependency for one choice).
fn pick(n: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos as usize / 7) % n
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn workers_killed_mid_node_lose_nothing_and_repeat_nothing() {
    let Some(shared) = postgres_shared().await else {
        return;
    };
    let tenant = shared.tenant("chaos").await;

    let srt = shared.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("srt");
    let example = std::fs::read_to_string(workspace_root().join("examples/brief.toml"))
        .expect("example brief")
        .replace("target-length-s = 30", "target-length-s = 8");
    let assets = workspace_root().join("examples/assets");
    let (product, logo) = (assets.join("product.png"), assets.join("logo.png"));

    // Twelve jobs, each on inputs of its own, so that no node of one is
    // another's cache hit: every node runs.
    let mut ids = Vec::new();
    let sizes = ["320x180", "256x144", "352x198", "288x162"];
    for (i, size) in sizes.into_iter().enumerate() {
        let video = shared.path(&format!("caption{i}.mp4"));
        test_video(&video, 6, size, true);
        let style = ["highlight", "pop", "karaoke", "still"][i];
        let job = shared
            .submit(
                &tenant,
                "caption",
                &[("video", &video), ("transcript", &srt)],
                &[("animation", style)],
            )
            .await;
        ids.push((tenant.clone(), job.id));
        let video = shared.path(&format!("dub{i}.mp4"));
        test_video(&video, 6, sizes[(i + 1) % 4], true);
        let language = ["es", "fr", "de", "es"][i];
        let job = shared
            .submit(
                &tenant,
                "dub",
                &[("video", &video), ("transcript", &srt)],
                &[("language", language)],
            )
            .await;
        ids.push((tenant.clone(), job.id));
        let brief = shared.path(&format!("brief{i}.toml"));
        let variant = example.replace("who commute", &format!("who commute, group {i}"));
        std::fs::write(&brief, variant).expect("brief");
        let job = shared
            .submit(
                &tenant,
                "ad-creative",
                &[("brief", &brief), ("product", &product), ("logo", &logo)],
                &[("size", size)],
            )
            .await;
        ids.push((tenant.clone(), job.id));
    }

    let mut workers: Vec<Child> = (0..3).map(|n| shared.worker(n, 1)).collect();
    // A worker killed (SIGKILL: no drain, no goodbye) while it holds a node,
    // at most once a second, and started again on its machine's directory.
    // Chosen by what it holds, not by the clock, so that a fast machine
    // finishing the batch in seconds still sees its nodes interrupted.
    let mut kills = 0;
    let mut last_kill = Instant::now() - Duration::from_secs(1);
    let started = Instant::now();
    while !shared.all_finished(&ids).await {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "jobs still running after 10 min; logs in {}",
            shared.dir.path().display()
        );
        if kills < 12 && last_kill.elapsed() >= Duration::from_secs(1) {
            let holding = holders(&shared, &ids, &workers).await;
            if !holding.is_empty() {
                let n = holding[pick(holding.len())];
                kill(&mut workers[n]);
                workers[n] = shared.worker(n, 1);
                kills += 1;
                last_kill = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in &mut workers {
        kill(w);
    }

    let mut interrupted = 0;
    for job in shared.jobs(&ids).await {
        assert_eq!(
            job.state,
            JobState::Completed,
            "job {} ({}) failed: {:?}; logs in {}",
            job.id,
            job.pipeline,
            job.error,
            shared.dir.path().display()
        );
        // Each node: one completed attempt at most (none when cached), any
        // other attempt interrupted by a kill, and never two at once.
        let stages = shared
            .store
            .list_stages(&job.tenant_id, &job.id)
            .await
            .expect("stages");
        let mut by_node: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for stage in &stages {
            by_node.entry(&stage.name).or_default().push(stage);
        }
        for (node, mut attempts) in by_node {
            let completed = attempts
                .iter()
                .filter(|s| s.state == StageState::Completed)
                .count();
            assert_eq!(completed, 1, "job {} node {node}: {attempts:#?}", job.id);
            for s in &attempts {
                if s.state == StageState::Failed {
                    let error = s.error.as_deref().unwrap_or_default();
                    assert!(
                        error.starts_with("interrupted"),
                        "job {} node {node} failed: {error}",
                        job.id
                    );
                    interrupted += 1;
                }
                assert!(s.worker.is_some(), "{node}: a worker ran it");
            }
            attempts.sort_by_key(|s| s.started_at);
            for pair in attempts.windows(2) {
                let ended = pair[0].finished_at.expect("an earlier attempt ended");
                assert!(
                    ended <= pair[1].started_at,
                    "job {} node {node}: two attempts at once: {pair:#?}",
                    job.id
                );
            }
        }
        // Every output is there and is what it should be.
        let (name, has_audio) = match job.pipeline.as_str() {
            "caption" => ("captioned.mp4", true),
            "dub" => ("dubbed.mp4", true),
            _ => ("ad.mp4", true),
        };
        let out = shared.output(&job.id, name).await;
        let info = media::probe(&out).expect("the output is a video");
        assert!(info.video().is_some(), "{name} has video");
        assert_eq!(info.audio().is_some(), has_audio, "{name} has audio");
        let expected = if job.pipeline == "ad-creative" {
            8.0
        } else {
            6.0
        };
        assert!(
            (info.duration_secs - expected).abs() < 0.5,
            "{name} of job {} lasts {} s",
            job.id,
            info.duration_secs
        );
    }
    eprintln!("chaos: {kills} workers killed, {interrupted} attempts interrupted");
    assert!(kills >= 3, "the chaos killed only {kills} workers");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn a_tenant_with_one_job_is_not_starved_by_a_tenant_with_twenty() {
    let Some(shared) = postgres_shared().await else {
        return;
    };
    let (busy, small) = (shared.tenant("batch").await, shared.tenant("ad-hoc").await);
    let srt = shared.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("srt");
    let mut ids = Vec::new();
    // The batch's twenty first, then the one job: all queued before any
    // worker starts. Distinct videos, so nothing comes from the cache.
    for i in 0..21 {
        let tenant = if i < 20 { &busy } else { &small };
        let video = shared.path(&format!("clip{i}.mp4"));
        test_video(&video, 2 + (i % 2) as u32, "160x90", false);
        let job = shared
            .submit(
                tenant,
                "caption",
                &[("video", &video), ("transcript", &srt)],
                &[("animation", "still")],
            )
            .await;
        ids.push((tenant.clone(), job.id));
    }
    let mut worker = shared.worker(0, 1);
    let (small_id, small_job) = ids.last().cloned().expect("the small job");
    // Until the small tenant's job has run its first node.
    let started = Instant::now();
    let first_small = loop {
        let stages = shared
            .store
            .list_stages(&small_id, &small_job)
            .await
            .expect("stages");
        if let Some(first) = stages.iter().map(|s| s.started_at).min() {
            break first;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the small tenant's job never started; log in {}",
            shared.dir.path().display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    kill(&mut worker);
    // How many of the batch's nodes started before it, and how long the
    // longest of them ran: the one job waited for at most the node running
    // when it was queued.
    let mut before = 0;
    let mut longest = 0;
    for (tenant, id) in &ids[..20] {
        for stage in shared.store.list_stages(tenant, id).await.expect("stages") {
            if stage.started_at < first_small {
                before += 1;
            }
            if let Some(end) = stage.finished_at {
                longest = longest.max(end - stage.started_at);
            }
        }
    }
    // What the scheduler decided: once the one job had a node ready, how
    // many of the batch's were claimed before it. At most the one claim
    // already under way: with one slot, the single job goes next. (Before
    // its node was queued, its host was still walking its graph: that wait
    // is the job host's, not the queue's, and is only printed.)
    let small_nodes = shared.store.nodes_of_job(&small_job).await.expect("nodes");
    let ready = small_nodes
        .iter()
        .map(|n| n.created_at)
        .min()
        .expect("queued");
    let claimed = small_nodes
        .iter()
        .filter_map(|n| n.claimed_at)
        .min()
        .expect("claimed");
    let mut overtaken = 0;
    for (_, id) in &ids[..20] {
        for node in shared.store.nodes_of_job(id).await.expect("nodes") {
            if node.claimed_at.is_some_and(|at| ready < at && at < claimed) {
                overtaken += 1;
            }
        }
    }
    eprintln!(
        "fair share: {before} batch node(s) started before the single job's first, \
         {overtaken} claimed after its node was ready (the longest node ran {longest} ms)"
    );
    assert!(
        overtaken <= 1,
        "{overtaken} of the batch's nodes were claimed after the single job's was ready (one worker slot)"
    );
}

/// Answers `request` through `router`: the status and the body's bytes.
async fn send(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, Vec<u8>) {
    use tower::ServiceExt as _;
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

/// Waits until the job `get` answers (as `GET /jobs/{id}` does) has
/// completed, failing the test if it fails or takes three minutes.
async fn until_completed<F, Answer>(shared: &Shared, mut get: F)
where
    F: FnMut() -> Answer,
    Answer: std::future::Future<Output = serde_json::Value>,
{
    let started = Instant::now();
    loop {
        let got = get().await;
        match got["state"].as_str() {
            Some("completed") => return,
            Some("failed") => panic!("the job failed: {got}"),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "still {got}; logs in {}",
            shared.dir.path().display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn json_of(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn kino_serve_with_no_worker_of_its_own_serves_what_a_worker_ran() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    let Some(shared) = postgres_shared().await else {
        return;
    };
    let data = shared.path("serve");
    let env = |name: &str| match name {
        "KINO_ADMIN_TOKEN" => Some("admin".to_owned()),
        "KINO_DATA_DIR" => Some(data.display().to_string()),
        "KINO_DATABASE" => Some(shared.url.clone()),
        "KINO_SHARED_ARTIFACTS" => Some(shared.path("shared").display().to_string()),
        _ => None,
    };
    let mut config = kino_api::serve::ServeConfig::load(None, env).expect("config");
    config.workers = Some(0);
    let state = config.state().await.expect("serve's state");
    assert_eq!(state.jobs.executor().dispatch(), Dispatch::Queue);
    // Its job queue walks graphs; it runs no node.
    tokio::spawn(state.jobs.clone().work(4));
    let router = kino_api::router(state);
    let call = |method: &str, uri: &str, token: &str, body: Body| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .expect("request")
    };
    let (status, tenant) = send(
        &router,
        call(
            "POST",
            "/admin/tenants",
            "admin",
            Body::from(r#"{"name":"acme"}"#),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let tenant = json_of(&tenant)["id"].as_str().expect("id").to_owned();
    let (status, key) = send(
        &router,
        call(
            "POST",
            &format!("/admin/tenants/{tenant}/keys"),
            "admin",
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = json_of(&key)["key"].as_str().expect("key").to_owned();
    let video = shared.path("talk.mp4");
    test_video(&video, 3, "320x180", true);
    let mut inputs = serde_json::Map::new();
    for (name, bytes) in [
        ("video", std::fs::read(&video).expect("video")),
        ("transcript", TRANSCRIPT.as_bytes().to_vec()),
    ] {
        let (status, up) = send(&router, call("POST", "/inputs", &key, Body::from(bytes))).await;
        assert_eq!(status, StatusCode::CREATED, "{}", json_of(&up));
        let sha256 = json_of(&up)["sha256"].clone();
        inputs.insert(
            name.into(),
            serde_json::json!({ "sha256": sha256, "name": name }),
        );
    }
    let body = serde_json::json!({ "pipeline": "caption", "inputs": inputs }).to_string();
    let (status, job) = send(&router, call("POST", "/jobs", &key, Body::from(body))).await;
    assert_eq!(status, StatusCode::CREATED, "{}", json_of(&job));
    let job = json_of(&job)["id"].as_str().expect("job id").to_owned();

    // Nothing runs until a worker comes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let nodes = shared
        .store
        .nodes_of_job(&job.parse().expect("job id"))
        .await
        .expect("nodes");
    assert!(!nodes.is_empty(), "the job's first nodes are queued");
    assert!(
        nodes
            .iter()
            .all(|n| n.state == kino_store::NodeState::Ready),
        "{nodes:#?}"
    );

    let mut worker = shared.worker(0, 2);
    until_completed(&shared, || async {
        let uri = format!("/jobs/{job}");
        json_of(
            &send(&router, call("GET", &uri, &key, Body::empty()))
                .await
                .1,
        )
    })
    .await;
    // Served from the shared store: serve's own directory never had it.
    let (status, video_out) = send(
        &router,
        call(
            "GET",
            &format!("/jobs/{job}/outputs/captioned.mp4"),
            &key,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let out = shared.path("captioned.mp4");
    std::fs::write(&out, video_out).expect("write");
    let info = media::probe(&out).expect("a video");
    assert!((info.duration_secs - 3.0).abs() < 0.2);

    // The worker, in the metrics and in `kino workers`.
    let (_, metrics) = send(&router, call("GET", "/metrics", "admin", Body::empty())).await;
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert!(
        metrics.contains("kino_worker{") && metrics.contains("state=\"running\"} 1"),
        "{metrics}"
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_kino-cli"))
        .args(["workers", "--database", &shared.url])
        .output()
        .expect("kino workers");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("running"), "{listed}");

    // SIGTERM drains it: it stops, saying so.
    let pid = worker.id().to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let status = worker.wait().expect("wait");
    assert!(
        status.success(),
        "the drained worker exits cleanly: {status}"
    );
    let workers = shared.store.list_workers().await.expect("workers");
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].state, kino_store::WorkerState::Stopped);
    assert!(workers[0].nodes_completed > 0);
}

/// `kino serve` and a worker as the processes an operator runs, sharing
/// their artifacts through a real S3-compatible server (moto): an upload
/// reaches the worker, the worker's output reaches serve, only through the
/// bucket.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
async fn serve_and_a_worker_share_artifacts_through_s3() {
    use kino_objects::testing::{self, MotoServer};
    let Some(moto) = testing::moto_server() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and {}",
            testing::MISSING
        );
        eprintln!("skipped: {}", testing::MISSING);
        return;
    };
    let Some(shared) = postgres_shared().await else {
        return;
    };
    let s3 = MotoServer::start(&moto, shared.dir.path()).expect("moto_server");
    s3.create_bucket("kino").expect("bucket");
    let spec = s3.spec("kino", "e2e");
    // moto checks no signature; the processes read these, the test never sets them.
    let aws = [
        ("AWS_ACCESS_KEY_ID", "kino-test-key"),
        ("AWS_SECRET_ACCESS_KEY", "kino-test-secret"),
    ];
    let (mut serve, port) = shared.serve(&spec, &aws);
    let http = |method: &str, path: &str, token: &str, body: &[u8]| {
        let auth = format!("Bearer {token}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, _, body) =
            testing::http(port, method, path, &headers, body).expect("an HTTP answer");
        (status, body)
    };
    let admin = cluster::ADMIN_TOKEN;
    let (status, tenant) = http("POST", "/admin/tenants", admin, br#"{"name":"acme"}"#);
    assert_eq!(status, 201, "{}", json_of(&tenant));
    let tenant = json_of(&tenant)["id"].as_str().expect("id").to_owned();
    let (status, key) = http("POST", &format!("/admin/tenants/{tenant}/keys"), admin, b"");
    assert_eq!(status, 201);
    let key = json_of(&key)["key"].as_str().expect("key").to_owned();
    let video = shared.path("talk.mp4");
    test_video(&video, 3, "320x180", true);
    let mut inputs = serde_json::Map::new();
    let mut video_sha256 = String::new();
    for (name, bytes) in [
        ("video", std::fs::read(&video).expect("video")),
        ("transcript", TRANSCRIPT.as_bytes().to_vec()),
    ] {
        let (status, up) = http("POST", "/inputs", &key, &bytes);
        assert_eq!(status, 201, "{}", json_of(&up));
        let sha256 = json_of(&up)["sha256"].as_str().expect("sha256").to_owned();
        if name == "video" {
            video_sha256 = sha256.clone();
        }
        inputs.insert(
            name.into(),
            serde_json::json!({ "sha256": sha256, "name": name }),
        );
    }
    let body = serde_json::json!({ "pipeline": "caption", "inputs": inputs }).to_string();
    let (status, job) = http("POST", "/jobs", &key, body.as_bytes());
    assert_eq!(status, 201, "{}", json_of(&job));
    let job = json_of(&job)["id"].as_str().expect("job id").to_owned();

    let worker_dir = shared.path("s3-worker");
    let mut worker = shared.worker_with(&worker_dir, 2, &spec, &aws);
    until_completed(&shared, || async {
        json_of(&http("GET", &format!("/jobs/{job}"), &key, b"").1)
    })
    .await;
    let (status, captioned) = http(
        "GET",
        &format!("/jobs/{job}/outputs/captioned.mp4"),
        &key,
        b"",
    );
    assert_eq!(status, 200);
    let out = shared.path("captioned.mp4");
    std::fs::write(&out, captioned).expect("write");
    let info = media::probe(&out).expect("a video");
    assert!((info.duration_secs - 3.0).abs() < 0.2);
    // The upload came to the worker through the bucket, the only way
    // between their directories: serve put it there under its hash, the
    // worker got it from there into its cache.
    let cached = worker_dir
        .join("artifacts")
        .join(&video_sha256[..2])
        .join(&video_sha256);
    assert!(
        cached.is_file(),
        "{} is not in the worker's cache",
        cached.display()
    );
    let object = format!("/kino/e2e/sha256/{}/{video_sha256}", &video_sha256[..2]);
    let log = s3.log();
    for method in ["PUT", "GET"] {
        assert!(
            log.contains(&format!("\"{method} {object} HTTP/1.1\" 200")),
            "no {method} of {object} in moto's log:\n{}",
            s3.log_tail()
        );
    }
    kill(&mut worker);
    kill(&mut serve);
}

/// A worker process killed (SIGKILL) while a remote lip-sync renders: the
/// worker that takes the node over checks the same prediction, whose
/// ticket the first one left in the shared store, and never creates (and
/// pays for) a second one; the dub completes under its own mix.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    any(missing = "ffmpeg", missing = "espeak-ng"),
    ignore = "needs ffmpeg and espeak-ng (apt-get install ffmpeg espeak-ng)"
)]
async fn a_worker_killed_while_a_remote_lipsync_renders_is_followed_by_one_checking_the_same_job() {
    let Some(shared) = postgres_shared().await else {
        return;
    };
    let backend = crate::backends::server().await;
    let synced = shared.path("synced-by-backend.mp4");
    test_video(&synced, 4, "160x120", true);
    let synced = std::fs::read(&synced).expect("video");
    // Processing until the test says otherwise.
    backend.set(|m| {
        m.ready_after = usize::MAX;
        m.delivered = Some(std::sync::Arc::new(synced));
    });
    let origin = backend.url("");
    // The operator installs the plugin on the submitting host and on each
    // worker's machine.
    for data in ["submitter", "w0", "w1"] {
        kino_tests::install_for_endpoint(
            &shared.path(data),
            &shared.path(&format!("{data}-packages")),
            "lipsync-replicate",
            "kino-lipsync-replicate",
            r#"["https://api.replicate.com", "https://replicate.delivery"]"#,
            &[origin.as_str()],
        );
    }
    let tenant = shared.tenant("sync").await;
    shared
        .store
        .set_binding(
            &tenant,
            &kino_store::NewBinding {
                slot: "lipsync".into(),
                plugin_name: "kino-lipsync-replicate".into(),
                requirement: "*".into(),
                config: serde_json::json!({ "endpoint": backend.url("/v1") }),
                grants: serde_json::json!([origin]),
            },
        )
        .await
        .expect("bind");
    let video = shared.path("clip.mp4");
    test_video(&video, 4, "160x120", true);
    let srt = shared.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("srt");
    let job = shared
        .submit(
            &tenant,
            "dub",
            &[("video", &video), ("transcript", &srt)],
            &[("language", "es")],
        )
        .await;
    let ids = [(tenant.clone(), job.id.clone())];
    let private = [("KINO_ALLOW_PRIVATE_HOSTS", backend.addr.to_string())];
    let private: Vec<(&str, &str)> = private.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shared_dir = shared.path("shared").display().to_string();

    let mut first = shared.worker_with(&shared.path("w0"), 1, &shared_dir, &private);
    let started = Instant::now();
    while backend.get(|m| m.checks.values().sum::<usize>()) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the lip-sync was never submitted and checked; logs in {}",
            shared.dir.path().display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(&mut first);
    assert_eq!(backend.get(|m| m.creates), 1);
    let nodes = shared.store.nodes_of_job(&job.id).await.expect("nodes");
    let node = nodes
        .iter()
        .find(|n| n.node == "synced")
        .expect("the lipsync node");
    let remote = shared
        .store
        .remote_job(&node.key)
        .await
        .expect("read")
        .expect("the ticket is in the store");
    assert_eq!(
        (remote.ticket.as_str(), remote.state),
        ("pred1", kino_store::RemoteState::Pending)
    );

    // The render finishes; another worker takes the node over.
    backend.set(|m| m.ready_after = 0);
    let mut second = shared.worker_with(&shared.path("w1"), 1, &shared_dir, &private);
    shared.wait(&ids, Duration::from_secs(180)).await;
    kill(&mut second);
    let done = shared.jobs(&ids).await.remove(0);
    assert_eq!(done.state, JobState::Completed, "{:?}", done.error);
    assert_eq!(backend.get(|m| m.creates), 1, "one prediction, paid once");
    let remote = shared
        .store
        .remote_job(&node.key)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(remote.state, kino_store::RemoteState::Done);
    let stages = shared
        .store
        .list_stages(&tenant, &job.id)
        .await
        .expect("stages");
    let attempts: Vec<_> = stages.iter().filter(|s| s.name == "synced").collect();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_eq!(attempts[0].state, StageState::Failed);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{attempts:#?}"
    );
    assert_eq!(attempts[1].state, StageState::Completed);
    assert_ne!(attempts[0].worker, attempts[1].worker);
    // The job's events said the render was pending, then resumed.
    let events = shared
        .store
        .events_since(&tenant, &job.id, 0, 1000)
        .await
        .expect("events");
    let notes: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "stage-note")
        .map(|e| e.data.to_string())
        .collect();
    for said in ["remote job pred1 pending", "remote job pred1 resumed"] {
        assert!(notes.iter().any(|n| n.contains(said)), "{said}: {notes:#?}");
    }
    let out = shared.output(&job.id, "dubbed.mp4").await;
    let info = media::probe(&out).expect("a video");
    assert!(info.video().is_some() && info.audio().is_some());
    assert!(
        (info.duration_secs - 4.0).abs() < 0.5,
        "{}",
        info.duration_secs
    );
}
