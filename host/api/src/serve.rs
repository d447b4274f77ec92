//! `kino serve`: the configuration file, its environment overrides, and
//! serving the API.
//!
//! ```toml
//! # kino.toml (every key optional)
//! listen = "127.0.0.1:8080"          # KINO_LISTEN overrides
//! data-dir = ".kino"                  # relative to this file; KINO_DATA_DIR overrides
//! signature-policy = "required"       # or "optional"
//! trusted-keys = ["keys/operator.pub"] # relative to this file
//! upload-limit = 67108864             # bytes, the largest upload
//! upload-budget = 536870912           # bytes of uploads in flight at once
//! header-read-timeout = 10            # seconds to send a request's headers
//! max-connections = 1024              # connections served at once
//! allow-private-hosts = ["127.0.0.1:11434"] # private host:ports plugins may reach
//! database = "postgres://kino@db/kino" # KINO_DATABASE overrides; default DATA_DIR/kino.db (SQLite)
//! shared-artifacts = "s3://bucket/kino?endpoint=http://minio:9000" # KINO_SHARED_ARTIFACTS overrides
//! workers = 0                         # node workers in this process; 0: API only (see below)
//! ```
//!
//! Without `workers`, each job runs whole on the host that claims it (the
//! embedded default). With `workers = N`, jobs' nodes go on the store's
//! node queue for any `kino worker` sharing the database and the shared
//! artifacts, this process running N of them at once itself (0: none, it
//! only serves the API and walks the jobs' graphs).
//!
//! The admin token comes only from `KINO_ADMIN_TOKEN`, never from the file.
//! Under the data directory: `kino.db` (the store), `registry/`, `cache/`,
//! `artifacts/` (uploads and stage outputs) and `jobs/<id>/` (outputs).
//!
//! Connections are HTTP/1.1 ([`serve_on`]): a client has `header-read-timeout`
//! to send a request's complete headers, on a new connection and on an idle
//! keep-alive one, or it is disconnected; once a request is read, its
//! response (an event stream, a download) and its body (an upload) take as
//! long as they take. At most `max-connections` are served at once; further
//! connections wait, unanswered, in the listen backlog until one closes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use kino_registry::SignaturePolicy;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{
    AppState, DEFAULT_UPLOAD_BUDGET, DEFAULT_UPLOAD_LIMIT, Metrics, UploadBudget, admin_token_hash,
    router_with,
};
use kino_pipeline::nodes::{self, NodeWorker};
use kino_pipeline::slots::Resolver;
use kino_pipeline::worker::JobQueue;
use kino_pipeline::{Dispatch, Executor, Observer};
use kino_runtime::plugins;

/// How many jobs `kino serve` runs at once (their stages share the CPU limit).
const JOBS_AT_ONCE: usize = 4;
use kino_runtime::{Runtime, RuntimeConfig};
use kino_store::{JobEvent, JobId, Store};

/// The configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    pipelines: Option<PathBuf>,
    signature_policy: Option<String>,
    #[serde(default)]
    trusted_keys: Vec<PathBuf>,
    upload_limit: Option<usize>,
    upload_budget: Option<u64>,
    header_read_timeout: Option<u64>,
    max_connections: Option<usize>,
    #[serde(default)]
    allow_private_hosts: Vec<String>,
    database: Option<String>,
    shared_artifacts: Option<String>,
    workers: Option<usize>,
}

/// How long a client has to send a request's headers, by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections are served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// What serving bounds, so that no client holds the server's connections or
/// memory for long.
///
/// Defaults: a 10 s header read timeout, 1024 connections, a 512 MiB upload
/// budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a request's complete headers, on a new
    /// connection and on an idle keep-alive one, before it is disconnected
    /// (`header-read-timeout`, in seconds). Never applies to a request's body
    /// or its response.
    pub header_read_timeout: Duration,
    /// How many connections are served at once (`max-connections`); further
    /// connections wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// The bytes of uploads in flight at once (`upload-budget`): each upload
    /// reserves its declared `Content-Length`, or the upload limit when it
    /// declares none, until it is answered; one that does not fit is answered
    /// 503 with `Retry-After`.
    pub upload_budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            upload_budget: DEFAULT_UPLOAD_BUDGET,
        }
    }
}

/// A validated `kino serve` configuration.
///
/// Defaults: listen on `127.0.0.1:8080`, data in `.kino`, the operator's
/// pipelines in `DATA_DIR/pipelines`, signatures required, no trusted keys,
/// a 64 MiB upload limit, and [`Limits::default`]: a 10 s header read
/// timeout, 1024 connections at once, a 512 MiB budget of upload bytes in
/// flight.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The operator's pipeline spec files (`NAME.toml`, and
    /// `tenants/TENANT_ID/NAME.toml` for one tenant).
    pub pipelines: PathBuf,
    /// Whether uploads must be signed.
    pub signature_policy: SignaturePolicy,
    /// Trusted public key files.
    pub trusted_keys: Vec<PathBuf>,
    /// The largest upload (an input file or a plugin package), in bytes.
    pub upload_limit: usize,
    /// The header read timeout, the connections at once, the upload budget.
    pub limits: Limits,
    /// The admin token (from `KINO_ADMIN_TOKEN`).
    pub admin_token: String,
    /// Private `host:port`s plugins may reach (normally none: private and
    /// loopback addresses are refused after DNS resolution).
    pub allow_private_hosts: Vec<String>,
    /// The store: a PostgreSQL URL, or a SQLite file (default
    /// `DATA_DIR/kino.db`).
    pub database: String,
    /// The artifact store the hosts share (a directory or an S3 URL), the
    /// data directory's `artifacts/` being its local cache.
    pub shared_artifacts: Option<String>,
    /// Node workers in this process: `None` runs each job whole here;
    /// `Some(n)` puts nodes on the queue and runs `n` at once here.
    pub workers: Option<usize>,
}

impl ServeConfig {
    /// Reads `file` (if any), then applies `KINO_ADMIN_TOKEN`, `KINO_LISTEN` and
    /// `KINO_DATA_DIR` as `env` returns them.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let (raw, base) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let raw: RawConfig =
                    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
                let base = path.parent().map(Path::to_owned).unwrap_or_default();
                (raw, base)
            }
            None => (RawConfig::default(), PathBuf::new()),
        };
        let Some(admin_token) = env("KINO_ADMIN_TOKEN").filter(|t| !t.trim().is_empty()) else {
            bail!(
                "KINO_ADMIN_TOKEN is not set: set it to the secret the operator will send as \
                 `Authorization: Bearer <token>` on /admin routes"
            );
        };
        let listen = env("KINO_LISTEN")
            .or(raw.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen = listen
            .parse()
            .with_context(|| format!("listen address `{listen}` is not HOST:PORT"))?;
        let data_dir = env("KINO_DATA_DIR")
            .map(PathBuf::from)
            // A path in the file is the file's, like `trusted-keys`: the
            // same config serves the same data whatever the working directory.
            .or(raw.data_dir.map(|d| base.join(d)))
            .unwrap_or_else(|| PathBuf::from(".kino"));
        let pipelines = raw
            .pipelines
            .map_or_else(|| data_dir.join("pipelines"), |p| base.join(p));
        let signature_policy = match raw.signature_policy.as_deref() {
            None | Some("required") => SignaturePolicy::Required,
            Some("optional") => SignaturePolicy::Optional,
            Some(other) => {
                bail!("signature-policy `{other}` is not one of `required`, `optional`")
            }
        };
        let upload_limit = raw.upload_limit.unwrap_or(DEFAULT_UPLOAD_LIMIT);
        let limits = Limits {
            header_read_timeout: match raw.header_read_timeout {
                None => DEFAULT_HEADER_READ_TIMEOUT,
                Some(0) => bail!("header-read-timeout must be at least 1 (seconds)"),
                Some(seconds) => Duration::from_secs(seconds),
            },
            max_connections: match raw.max_connections {
                None => DEFAULT_MAX_CONNECTIONS,
                Some(0) => bail!("max-connections must be at least 1"),
                Some(n) => n,
            },
            upload_budget: raw.upload_budget.unwrap_or(DEFAULT_UPLOAD_BUDGET),
        };
        if limits.upload_budget < upload_limit as u64 {
            bail!(
                "upload-budget ({} bytes) is less than upload-limit ({upload_limit} bytes): an \
                 upload that does not declare its length reserves the upload limit, so it could \
                 never be received",
                limits.upload_budget
            );
        }
        let database = env("KINO_DATABASE")
            .or(raw.database)
            .unwrap_or_else(|| data_dir.join("kino.db").display().to_string());
        let shared_artifacts = env("KINO_SHARED_ARTIFACTS").or(raw.shared_artifacts);
        Ok(Self {
            database,
            shared_artifacts,
            workers: raw.workers,
            listen,
            data_dir,
            pipelines,
            signature_policy,
            trusted_keys: raw.trusted_keys.iter().map(|p| base.join(p)).collect(),
            upload_limit,
            limits,
            admin_token,
            allow_private_hosts: raw.allow_private_hosts,
        })
    }

    /// Opens the store, the registry and the runtime under the data directory.
    pub async fn state(&self) -> Result<AppState> {
        let store = Store::open(&self.database).await?;
        let trusted = plugins::read_trusted_keys(&self.trusted_keys)?;
        if self.signature_policy == SignaturePolicy::Required && trusted.is_empty() {
            tracing::warn!("signatures are required but no trusted keys are configured");
        }
        let metrics = Metrics::new();
        let counted = metrics.clone();
        // Every plugin stage attempt is counted by outcome (a native
        // kernel's stage names its kernel where a plugin would be: not a
        // plugin call).
        let is_plugin = |id: &str| !id.starts_with(kino_pipeline::ops::NATIVE_PREFIX);
        let observer: Observer = Arc::new(move |_job: &JobId, event: &JobEvent| match event {
            JobEvent::StageFinished {
                plugin: Some(id), ..
            } if is_plugin(id) => counted.plugin_call("ok"),
            JobEvent::StageFailed {
                plugin: Some(id),
                plugin_outcome,
                ..
            } if is_plugin(id) => {
                counted.plugin_call(plugin_outcome.as_deref().unwrap_or("host_error"))
            }
            _ => {}
        });
        let dispatch = match self.workers {
            None => Dispatch::Here,
            Some(_) => Dispatch::Queue,
        };
        let host = ServedHost::open(
            &self.data_dir,
            store.clone(),
            HostOptions {
                allow_private_hosts: self.allow_private_hosts.clone(),
                shared_artifacts: self.shared_artifacts.clone(),
                dispatch,
                lease: lease_from_env()?,
                observer: Some(observer),
            },
        )
        .await?;
        let ServedHost {
            executor,
            registry,
            runtime,
        } = host;
        let catalog = kino_pipeline::Catalog::new(
            Some(self.pipelines.clone()),
            executor.catalog().kernels().clone(),
        );
        let executor = executor.with_catalog(catalog);
        Ok(AppState {
            jobs: JobQueue::new(executor),
            store,
            registry,
            runtime,
            admin_token_hash: admin_token_hash(&self.admin_token),
            trusted_keys: Arc::from(trusted),
            signature_policy: self.signature_policy,
            upload_limit: self.upload_limit,
            metrics,
        })
    }
}

/// Serves the API with `config` until the process is stopped, running the
/// submitted jobs in the background.
pub async fn serve(config: ServeConfig) -> Result<()> {
    let state = config.state().await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!("serving the Kino API on http://{}", listener.local_addr()?);
    tokio::spawn(state.jobs.clone().work(JOBS_AT_ONCE));
    if let Some(slots @ 1..) = config.workers {
        let executor = state.jobs.executor().clone();
        let caps = nodes::capabilities(&executor, &state.registry)?;
        let worker = NodeWorker::new(executor, caps, slots);
        tokio::spawn(async move {
            if let Err(e) = worker.run(std::future::pending()).await {
                tracing::error!("the node worker stopped: {e:#}");
            }
        });
    }
    serve_on(listener, state, config.limits).await
}

/// Serves the API over HTTP/1.1 on `listener` within `limits`, until the
/// listener fails. Runs no jobs: [`serve`] starts the worker.
pub async fn serve_on(listener: TcpListener, state: AppState, limits: Limits) -> Result<()> {
    let service =
        TowerToHyperService::new(router_with(state, UploadBudget::new(limits.upload_budget)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    loop {
        // A slot first: past the limit, connections wait in the backlog.
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .context("the connection slots are closed")?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                accept_failed(&err).await;
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!("setting TCP_NODELAY on a connection: {err}");
        }
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        tokio::spawn(async move {
            // A client that timed out or went away: nothing to answer.
            if let Err(err) = connection.await {
                tracing::debug!("connection closed: {err}");
            }
            drop(slot);
        });
    }
}

/// What to do when accepting a connection fails: one client's failed
/// handshake is skipped; anything else (out of file descriptors) is logged
/// and waited out for a second rather than retried in a busy loop.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!("accepting a connection: {err}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// How a served host (`kino serve`, `kino worker`) runs its nodes.
pub struct HostOptions {
    /// Private `host:port`s plugins may reach.
    pub allow_private_hosts: Vec<String>,
    /// The artifact store the hosts share, if any.
    pub shared_artifacts: Option<String>,
    /// Where its jobs' nodes run.
    pub dispatch: Dispatch,
    /// How long its claims last without a heartbeat.
    pub lease: Duration,
    /// Who sees its jobs' events as they happen.
    pub observer: Option<Observer>,
}

/// The parts of a served host over one store and data directory: the
/// registry, the plugin runtime, and an executor whose tenants bind their
/// own plugins (no slot has a default).
pub struct ServedHost {
    /// The executor.
    pub executor: Executor,
    /// The plugin registry (`DATA_DIR/registry`).
    pub registry: kino_registry::Store,
    /// The plugin runtime (compiled components in `DATA_DIR/cache`).
    pub runtime: Runtime,
}

impl ServedHost {
    /// Opens the registry, runtime and executor under `data_dir`.
    pub async fn open(data_dir: &Path, store: Store, options: HostOptions) -> Result<Self> {
        let registry = kino_registry::Store::open(data_dir.join("registry"))
            .with_context(|| format!("opening the registry in {}", data_dir.display()))?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(data_dir.join("cache")),
            allow_private: options.allow_private_hosts,
            ..RuntimeConfig::default()
        })?;
        let resolver = Resolver::new(
            runtime.clone(),
            registry.clone(),
            store.clone(),
            BTreeMap::new(),
        );
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut executor = Executor::new(store, resolver, data_dir, parallel, options.observer)?
            .with_dispatch(options.dispatch, options.lease);
        if let Some(spec) = &options.shared_artifacts {
            let shared = kino_pipeline::artifacts::Remote::parse(spec)
                .with_context(|| format!("the shared artifact store `{spec}`"))?;
            // A wrong bucket or an unmounted directory reads as empty: say so now.
            shared
                .check()
                .await
                .with_context(|| format!("the shared artifact store `{spec}`"))?;
            executor = executor.with_shared_artifacts(shared);
        }
        Ok(Self {
            executor,
            registry,
            runtime,
        })
    }
}

/// The lease of jobs' and nodes' claims: `KINO_LEASE_MS`, or 30 s.
pub fn lease_from_env() -> Result<Duration> {
    match std::env::var("KINO_LEASE_MS") {
        Err(_) => Ok(kino_pipeline::exec::DEFAULT_LEASE),
        Ok(ms) => {
            let ms: u64 = ms
                .parse()
                .with_context(|| format!("KINO_LEASE_MS `{ms}` is not a number of milliseconds"))?;
            if ms < 600 {
                bail!(
                    "KINO_LEASE_MS must be at least 600 (ms): claims are renewed every sixth of it"
                );
            }
            Ok(Duration::from_millis(ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_is_required() {
        let err = ServeConfig::load(None, |_| None).expect_err("no token");
        assert!(err.to_string().contains("KINO_ADMIN_TOKEN"));
    }

    #[test]
    fn env_overrides_the_file() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("kino.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:1\"\ndata-dir = \"d\"\nsignature-policy = \"optional\"\ntrusted-keys = [\"k.pub\"]\n",
        )?;
        let config = ServeConfig::load(Some(&file), |k| match k {
            "KINO_ADMIN_TOKEN" => Some("t".into()),
            "KINO_LISTEN" => Some("127.0.0.1:9".into()),
            _ => None,
        })?;
        assert_eq!(config.listen.port(), 9);
        // Relative to the file, not to the working directory.
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.signature_policy, SignaturePolicy::Optional);
        assert_eq!(config.trusted_keys, vec![dir.path().join("k.pub")]);
        // KINO_DATA_DIR is taken as given.
        let config = ServeConfig::load(Some(&file), |k| match k {
            "KINO_ADMIN_TOKEN" => Some("t".into()),
            "KINO_DATA_DIR" => Some("elsewhere".into()),
            _ => None,
        })?;
        assert_eq!(config.data_dir, PathBuf::from("elsewhere"));
        // The operator's pipelines default to the data directory's.
        assert_eq!(config.pipelines, PathBuf::from("elsewhere/pipelines"));
        std::fs::write(&file, "pipelines = \"specs\"\n")?;
        let config = ServeConfig::load(Some(&file), |k| {
            (k == "KINO_ADMIN_TOKEN").then(|| "t".to_owned())
        })?;
        assert_eq!(config.pipelines, dir.path().join("specs"));
        Ok(())
    }

    #[test]
    fn limits_are_read_and_checked() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("kino.toml");
        let load = |text: &str| {
            std::fs::write(&file, text)?;
            ServeConfig::load(Some(&file), |k| {
                (k == "KINO_ADMIN_TOKEN").then(|| "t".to_owned())
            })
        };
        assert_eq!(load("")?.limits, Limits::default());
        let config = load(
            "upload-limit = 1000\nupload-budget = 4000\nheader-read-timeout = 3\nmax-connections = 7\n",
        )?;
        assert_eq!(
            config.limits,
            Limits {
                header_read_timeout: Duration::from_secs(3),
                max_connections: 7,
                upload_budget: 4000,
            }
        );
        for (text, says) in [
            ("header-read-timeout = 0\n", "header-read-timeout"),
            ("max-connections = 0\n", "max-connections"),
            (
                "upload-limit = 1000\nupload-budget = 999\n",
                "upload-budget",
            ),
        ] {
            let err = load(text).expect_err(text);
            assert!(format!("{err:#}").contains(says), "{text}: {err:#}");
        }
        Ok(())
    }

    /// The example configuration loads, and shows the defaults.
    #[test]
    fn the_example_shows_the_defaults() -> Result<()> {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kino-serve.toml");
        let config = ServeConfig::load(Some(&example), |k| {
            (k == "KINO_ADMIN_TOKEN").then(|| "t".to_owned())
        })?;
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.upload_limit, DEFAULT_UPLOAD_LIMIT);
        Ok(())
    }

    #[test]
    fn unknown_keys_are_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("kino.toml");
        std::fs::write(&file, "lissen = \"x\"\n")?;
        let err = ServeConfig::load(Some(&file), |_| Some("t".into())).expect_err("typo");
        assert!(format!("{err:#}").contains("lissen"));
        Ok(())
    }
}
