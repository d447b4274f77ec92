//! `kino worker`: a process that runs jobs' nodes from the shared store's
//! queue, on any machine that reaches the database and the shared artifacts.
//!
//! A worker claims the nodes it has the capabilities for (see
//! [`kino_pipeline::nodes`]) and also walks the graphs of jobs no other
//! host is walking, so jobs go on while every `kino serve` is down. On
//! SIGTERM (or Ctrl-C) it drains: it finishes the nodes it holds, claims no
//! more, gives up the jobs whose graphs it walked (another host takes them
//! over at once) and exits.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::serve::{HostOptions, ServedHost, lease_from_env};
use kino_pipeline::Dispatch;
use kino_pipeline::local::{BundledPlugins, install_bundled};
use kino_pipeline::nodes::{self, NodeWorker};
use kino_pipeline::worker::JobQueue;
use kino_store::Store;

/// Jobs whose graphs one worker walks at once (walking is waiting).
const JOBS_AT_ONCE: usize = 256;

/// What a worker runs with.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The store: a PostgreSQL URL (or a SQLite file every process on one
    /// machine shares).
    pub database: String,
    /// Its own directory: registry, compiled plugins, artifact cache.
    pub data_dir: PathBuf,
    /// The artifact store the hosts share (a directory or an S3 URL).
    pub shared_artifacts: Option<String>,
    /// Nodes run at once.
    pub slots: usize,
    /// Built plugin components to install before starting (the bundled
    /// reference plugins), so that it can run their nodes.
    pub bundled: Option<BundledPlugins>,
    /// Private `host:port`s plugins may reach.
    pub allow_private_hosts: Vec<String>,
    /// What it offers besides its plugins, kernels and models: its devices
    /// (`device:cuda:0`), which nodes that need a GPU will ask for.
    pub devices: Vec<String>,
}

/// Runs a worker until SIGTERM or Ctrl-C, then drains it.
pub async fn work(config: WorkerConfig) -> Result<()> {
    let store = Store::open(&config.database).await?;
    let host = ServedHost::open(
        &config.data_dir,
        store,
        HostOptions {
            allow_private_hosts: config.allow_private_hosts.clone(),
            shared_artifacts: config.shared_artifacts.clone(),
            dispatch: Dispatch::Queue,
            lease: lease_from_env()?,
            observer: None,
        },
    )
    .await?;
    if let Some(bundled) = &config.bundled {
        let (runtime, registry, bundled) =
            (host.runtime.clone(), host.registry.clone(), bundled.clone());
        let missing =
            tokio::task::spawn_blocking(move || install_bundled(&runtime, &registry, &bundled))
                .await
                .context("installing the bundled plugins")??;
        for m in missing {
            tracing::warn!("{m}");
        }
    }
    let mut caps = nodes::capabilities(&host.executor, &host.registry)?;
    caps.extend(config.devices.iter().cloned());
    let (store, owner) = (
        host.executor.store().clone(),
        host.executor.owner().to_owned(),
    );
    let jobs = tokio::spawn(JobQueue::new(host.executor.clone()).work(JOBS_AT_ONCE));
    let worker = NodeWorker::new(host.executor, caps, config.slots);
    let result = worker.run(stop_signal()).await;
    // The jobs whose graphs it walked go to another host now, not when
    // their leases lapse.
    jobs.abort();
    match store.release_jobs(&owner).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("gave up {n} job(s) for another host to walk"),
        Err(e) => tracing::warn!("giving up its jobs: {e:#}"),
    }
    result
}

/// Resolves at SIGTERM or Ctrl-C.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch for SIGTERM ({e}): only Ctrl-C drains the worker");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The workers the store knows, as `kino workers` prints them.
pub async fn list(database: &str) -> Result<String> {
    let store = Store::open(database).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut text = format!(
        "{:<40} {:<9} {:>8} {:>6} {:>9} {:>6}  {}\n",
        "WORKER", "STATE", "SEEN", "LEASES", "COMPLETED", "FAILED", "CAPABILITIES"
    );
    for w in store.list_workers().await? {
        text.push_str(&format!(
            "{:<40} {:<9} {:>7}s {:>6} {:>9} {:>6}  {}\n",
            w.id,
            w.state.as_str(),
            (now - w.heartbeat_at).max(0) / 1000,
            w.leases,
            w.nodes_completed,
            w.nodes_failed,
            w.caps.len()
        ));
    }
    Ok(text)
}
