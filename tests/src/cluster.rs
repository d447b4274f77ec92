//! Many hosts on one PostgreSQL, for the distributed tests and the workers
//! benchmark: a cluster of its own, a shared artifact directory, a host that
//! submits jobs (and runs none), and `kino worker` processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kino_api::serve::{HostOptions, ServedHost};
use kino_pipeline::Dispatch;
use kino_pipeline::local::BUNDLED;
use kino_store::testing::PgCluster;
use kino_store::{Job, JobId, NewBinding, Store, TenantId};

use crate::{bundled_plugins, job_inputs};

/// The admin token of [`Shared::serve`].
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

/// Claims lapse after 3 s without a heartbeat here (30 s by default).
pub const LEASE_MS: &str = "3000";

/// A PostgreSQL cluster, or `None` (said) where its binaries are absent.
pub fn postgres() -> Option<Arc<PgCluster>> {
    match PgCluster::start() {
        Ok(Some(cluster)) => Some(Arc::new(cluster)),
        Ok(None) => {
            eprintln!(
                "skipped: PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)"
            );
            None
        }
        Err(e) => panic!("starting PostgreSQL: {e:#}"),
    }
}

/// One store, one shared artifact directory, and a host submitting jobs
/// (it walks no graphs and runs no nodes: the workers do).
pub struct Shared {
    /// Everything of the set-up: the shared directory, each worker's
    /// directory and log (`wN`, `wN.log`), fixtures.
    pub dir: tempfile::TempDir,
    /// The database's URL.
    pub url: String,
    /// The store.
    pub store: Store,
    /// The submitting host.
    pub host: ServedHost,
    kino: PathBuf,
    _pg: Arc<PgCluster>,
}

impl Shared {
    /// A fresh database on `pg`, a shared directory, and `kino` (the binary
    /// the workers run).
    pub async fn new(pg: Arc<PgCluster>, kino: &Path) -> Shared {
        let dir = tempfile::tempdir().expect("temp dir");
        static DATABASES: AtomicUsize = AtomicUsize::new(0);
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let url = pg.new_database(&format!("shared_{n}")).expect("a database");
        let store = Store::open(&url).await.expect("the store");
        std::fs::create_dir_all(dir.path().join("shared")).expect("shared dir");
        let host = ServedHost::open(
            &dir.path().join("submitter"),
            store.clone(),
            HostOptions {
                allow_private_hosts: Vec::new(),
                shared_artifacts: Some(dir.path().join("shared").display().to_string()),
                dispatch: Dispatch::Queue,
                lease: Duration::from_secs(3),
                observer: None,
            },
        )
        .await
        .expect("the submitting host");
        Shared {
            dir,
            url,
            store,
            host,
            kino: kino.to_owned(),
            _pg: pg,
        }
    }

    /// A path in the set-up's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A tenant with every bundled plugin bound to its slot.
    pub async fn tenant(&self, name: &str) -> TenantId {
        let tenant = self.store.create_tenant(name).await.expect("tenant").id;
        for plugin in BUNDLED {
            self.store
                .set_binding(
                    &tenant,
                    &NewBinding {
                        slot: plugin.slot.into(),
                        plugin_name: plugin.name.into(),
                        requirement: "*".into(),
                        config: serde_json::json!({}),
                        grants: serde_json::json!([]),
                    },
                )
                .await
                .expect("bind");
        }
        tenant
    }

    /// Submits a job of `pipeline` (not run here: by the workers).
    pub async fn submit(
        &self,
        tenant: &TenantId,
        pipeline: &str,
        files: &[(&str, &Path)],
        texts: &[(&str, &str)],
    ) -> Job {
        let executor = &self.host.executor;
        let pipeline = executor
            .catalog()
            .get(tenant, pipeline)
            .expect("a pipeline");
        let (files, texts) = job_inputs(files, texts);
        executor
            .submit_local(tenant, &pipeline, &files, &texts)
            .await
            .expect("submit")
    }

    /// `kino worker` on its own data directory `wN`.
    pub fn worker(&self, n: usize, slots: usize) -> Child {
        self.worker_at(&self.path(&format!("w{n}")), slots)
    }

    /// `kino worker` on the data directory `data` (its log beside it),
    /// sharing the set-up's artifact directory.
    pub fn worker_at(&self, data: &Path, slots: usize) -> Child {
        let shared = self.path("shared").display().to_string();
        self.worker_with(data, slots, &shared, &[])
    }

    /// `kino worker` on `data`, sharing the artifact store `artifacts`, with
    /// `env` set.
    pub fn worker_with(
        &self,
        data: &Path,
        slots: usize,
        artifacts: &str,
        env: &[(&str, &str)],
    ) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .expect("worker log");
        Command::new(&self.kino)
            .args(["worker", "--database", &self.url, "--artifacts", artifacts])
            .arg("--data-dir")
            .arg(data)
            .args(["--slots", &slots.to_string(), "--plugins"])
            .arg(&bundled_plugins().components)
            .env("KINO_LEASE_MS", LEASE_MS)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn kino worker")
    }

    /// `kino serve` with no worker of its own (`--workers 0`), on a free
    /// port of 127.0.0.1, sharing the artifact store `artifacts`, with `env`
    /// set; answers the process and its port once it answers `/healthz`.
    pub fn serve(&self, artifacts: &str, env: &[(&str, &str)]) -> (Child, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(self.path("serve.log")).expect("serve log");
        let mut child = Command::new(&self.kino)
            .args(["serve", "--database", &self.url, "--workers", "0"])
            .env("KINO_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("KINO_LISTEN", format!("127.0.0.1:{port}"))
            .env("KINO_DATA_DIR", self.path("serve"))
            .env("KINO_SHARED_ARTIFACTS", artifacts)
            .env("KINO_LEASE_MS", LEASE_MS)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn kino serve");
        let started = Instant::now();
        while kino_objects::testing::http(port, "GET", "/healthz", &[], b"").is_err() {
            if let Ok(Some(exit)) = child.try_wait() {
                panic!(
                    "kino serve exited ({exit}): {}",
                    std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "kino serve never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        (child, port)
    }

    /// The jobs, as the store has them now.
    pub async fn jobs(&self, ids: &[(TenantId, JobId)]) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (tenant, id) in ids {
            jobs.push(
                self.store
                    .get_job(tenant, id)
                    .await
                    .expect("read")
                    .expect("job"),
            );
        }
        jobs
    }

    /// Whether every job of `ids` has reached a final state.
    pub async fn all_finished(&self, ids: &[(TenantId, JobId)]) -> bool {
        self.jobs(ids).await.iter().all(|j| j.state.is_terminal())
    }

    /// Waits until every job has ended.
    pub async fn wait(&self, ids: &[(TenantId, JobId)], limit: Duration) {
        let started = Instant::now();
        loop {
            let jobs = self.jobs(ids).await;
            if jobs.iter().all(|j| j.state.is_terminal()) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "jobs still running after {limit:?}: {:?}; logs in {}",
                jobs.iter()
                    .filter(|j| !j.state.is_terminal())
                    .map(|j| (&j.pipeline, j.state))
                    .collect::<Vec<_>>(),
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A delivered output of a finished job, fetched from the shared store.
    pub async fn output(&self, job: &JobId, name: &str) -> PathBuf {
        let key = kino_pipeline::exec::output_key(job, name);
        let recorded = self
            .store
            .artifact_by_key(&key)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("job {job} recorded no output {name}"));
        self.host
            .executor
            .artifacts()
            .fetch(&recorded.hash)
            .await
            .expect("fetch")
            .unwrap_or_else(|| panic!("output {name} of job {job} is in no store"))
            .path
    }
}
