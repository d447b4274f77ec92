//! Many workers on one PostgreSQL. Run with `cargo bench -p kino-tests
//! --bench workers`.
//!
//! 1. The queue's own cost per node, on a fresh database of a local
//!    PostgreSQL: what the job's host and the worker say to the database
//!    for one node (enqueue, claim, stage row, link, events, commit, cache
//!    entry, the host's first poll), timed over 300 nodes; and a claim
//!    that finds nothing (an idle worker's poll).
//! 2. Throughput: 20 caption jobs (8 s of 480x270 each, distinct, so
//!    nothing comes from the cache) with 1, 2 and 4 `kino worker`s of one
//!    slot each. They share this machine's cores: the figure says how the
//!    queue scales the work there is, not what more machines would add.
//!
//! Needs PostgreSQL's binaries (`apt-get install postgresql`) and ffmpeg.

use std::path::Path;
use std::time::{Duration, Instant};

use kino_store::{JobEvent, NewArtifact, NewNode, Store};
use kino_tests::cluster::{self, Shared};
use kino_tests::test_video;

const TRANSCRIPT: &str = "1
00:00:00,300 --> 00:00:01,400
Good morning, my friend.

2
00:00:01,600 --> 00:00:02,800
See you tomorrow.
";

fn main() {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let Some(pg) = cluster::postgres() else {
            return;
        };
        let kino = Path::new(env!("CARGO_BIN_EXE_kino-cli"));
        let shared = Shared::new(pg.clone(), kino).await;
        let per_node = queue_cost(&shared.store, 300).await;
        println!(
            "queue cost per node (PostgreSQL {}, local socket): {per_node:.2} ms of database time, host and worker together",
            shared.store.engine()
        );
        let empty = empty_claim_cost(&shared.store, 300).await;
        println!(
            "an empty claim (an idle worker's poll of an empty queue): {empty:.2} ms"
        );
        drop(shared);

        // The workers' directories (compiled plugins) outlive each run.
        let dirs = tempfile::tempdir().expect("temp dir");
        let mut rows = Vec::new();
        for workers in [1usize, 2, 4] {
            let shared = Shared::new(pg.clone(), kino).await;
            rows.push((workers, throughput(&shared, workers, dirs.path()).await));
        }
        println!("\n20 caption jobs (8 s, 480x270), 1-slot workers on this machine:");
        println!("workers  wall s  jobs/min  node s (sum)  speed-up");
        let base = rows[0].1.0;
        for (workers, (wall, node_s)) in &rows {
            println!(
                "{workers:>7}  {wall:>6.1}  {:>8.1}  {node_s:>12.1}  {:>7.2}x",
                20.0 * 60.0 / wall,
                base / wall
            );
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("({cpus} cores here)");
    });
}

/// The database time one node costs, in ms: every statement the job's host
/// and its worker send for it, in order, on one connection pool.
async fn queue_cost(store: &Store, nodes: usize) -> f64 {
    let tenant = store.create_tenant("bench").await.expect("tenant").id;
    let job = store
        .create_job(&tenant, "caption", &"0".repeat(64), &serde_json::json!({}))
        .await
        .expect("job");
    let lease = Duration::from_secs(30);
    let started = Instant::now();
    for i in 0..nodes {
        let name = format!("burned[{i}]");
        let key = format!("{i:064x}");
        let node = store
            .enqueue_node(&NewNode {
                job: job.id.clone(),
                tenant: tenant.clone(),
                node: name.clone(),
                key: key.clone(),
                task: serde_json::json!({ "stage": "burned", "inputs": [] }),
                needs: vec![],
                priority: 0,
            })
            .await
            .expect("enqueue");
        let claimed = store
            .claim_node("bench-worker", &[], lease)
            .await
            .expect("claim")
            .expect("a node");
        assert_eq!(claimed.id, node.id);
        let stage = store
            .record_stage_start_by(&job.id, &name, None, 1, "bench-worker")
            .await
            .expect("stage");
        assert!(
            store
                .link_node_stage(&node.id, "bench-worker", &stage.id)
                .await
                .expect("link")
        );
        let event = JobEvent::StageStarted {
            stage: name.clone(),
            attempt: 1,
            plugin: None,
        };
        store.append_event(&job.id, &event).await.expect("event");
        store
            .put_artifact(&NewArtifact {
                key: key.clone(),
                hash: key.clone(),
                path: String::new(),
                size: 0,
            })
            .await
            .expect("artifact");
        // The node and its linked stage attempt complete in one commit.
        assert!(
            store
                .complete_node(&node.id, "bench-worker", &key)
                .await
                .expect("complete")
        );
        let event = JobEvent::StageFinished {
            stage: name,
            ms: 1,
            plugin: None,
            device: None,
        };
        store.append_event(&job.id, &event).await.expect("event");
        store.get_node(&node.id).await.expect("poll");
    }
    started.elapsed().as_secs_f64() * 1000.0 / nodes as f64
}

/// The mean time of a claim that finds nothing, over `polls` polls: what
/// each idle worker costs the database per poll.
async fn empty_claim_cost(store: &Store, polls: usize) -> f64 {
    let started = Instant::now();
    for _ in 0..polls {
        let got = store
            .claim_node("idle-worker", &[], Duration::from_secs(30))
            .await
            .expect("claim");
        assert!(got.is_none(), "the queue is empty");
    }
    started.elapsed().as_secs_f64() * 1000.0 / polls as f64
}

/// Runs 20 caption jobs with `workers` workers: the wall time from the
/// first submission to the last completion, and the summed node time.
async fn throughput(shared: &Shared, workers: usize, dirs: &Path) -> (f64, f64) {
    let tenant = shared.tenant("bench").await;
    let srt = shared.path("clip.srt");
    std::fs::write(&srt, TRANSCRIPT).expect("srt");
    let mut videos = Vec::new();
    for i in 0..20 {
        let video = shared.path(&format!("clip{i}.mp4"));
        // A width of its own: each video different.
        test_video(&video, 8, &format!("{}x270", 480 + 2 * i), true);
        videos.push(video);
    }
    let mut children: Vec<_> = (0..workers)
        .map(|n| shared.worker_at(&dirs.join(format!("w{n}")), 1))
        .collect();
    // Registered (plugins installed) before the clock starts.
    while shared.store.list_workers().await.expect("workers").len() < workers {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let mut ids = Vec::new();
    for video in &videos {
        let job = shared
            .submit(
                &tenant,
                "caption",
                &[("video", video), ("transcript", &srt)],
                &[],
            )
            .await;
        ids.push((tenant.clone(), job.id));
    }
    shared.wait(&ids, Duration::from_secs(1200)).await;
    let wall = started.elapsed().as_secs_f64();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut node_ms = 0;
    for job in shared.jobs(&ids).await {
        assert_eq!(
            job.state,
            kino_store::JobState::Completed,
            "{:?}",
            job.error
        );
        for stage in shared
            .store
            .list_stages(&job.tenant_id, &job.id)
            .await
            .expect("stages")
        {
            node_ms += stage.finished_at.unwrap_or(stage.started_at) - stage.started_at;
        }
    }
    (wall, node_ms as f64 / 1000.0)
}
