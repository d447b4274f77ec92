//! `kino serve`: the configuration file, its environment overrides, and
//! serving the API.
//!
//! ```toml
//! # kino.toml (every key optional)
//! listen = "127.0.0.1:8080"          # KINO_LISTEN overrides
//! data-dir = ".kino"                  # relative to this file; KINO_DATA_DIR overrides
//! signature-policy = "required"       # or "optional"
//! trusted-keys = ["keys/operator.pub"] # relative to this file
//! upload-limit = 67108864             # bytes
//! allow-private-hosts = ["127.0.0.1:11434"] # private host:ports plugins may reach
//! ```
//!
//! The admin token comes only from `KINO_ADMIN_TOKEN`, never from the file.
//! Under the data directory: `kino.db` (the store), `registry/`, `cache/`,
//! `artifacts/` (uploads and stage outputs) and `jobs/<id>/` (outputs).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use kino_registry::SignaturePolicy;
use serde::Deserialize;

use super::{AppState, DEFAULT_UPLOAD_LIMIT, Metrics, admin_token_hash, router};
use kino_pipeline::slots::Resolver;
use kino_pipeline::worker::JobQueue;
use kino_pipeline::{Executor, Observer};
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
    #[serde(default)]
    allow_private_hosts: Vec<String>,
}

/// A validated `kino serve` configuration.
///
/// Defaults: listen on `127.0.0.1:8080`, data in `.kino`, the operator's
/// pipelines in `DATA_DIR/pipelines`, signatures required, no trusted keys,
/// a 64 MiB upload limit.
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
    /// The largest package upload, in bytes.
    pub upload_limit: usize,
    /// The admin token (from `KINO_ADMIN_TOKEN`).
    pub admin_token: String,
    /// Private `host:port`s plugins may reach (normally none: private and
    /// loopback addresses are refused after DNS resolution).
    pub allow_private_hosts: Vec<String>,
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
        Ok(Self {
            listen,
            data_dir,
            pipelines,
            signature_policy,
            trusted_keys: raw.trusted_keys.iter().map(|p| base.join(p)).collect(),
            upload_limit: raw.upload_limit.unwrap_or(DEFAULT_UPLOAD_LIMIT),
            admin_token,
            allow_private_hosts: raw.allow_private_hosts,
        })
    }

    /// Opens the store, the registry and the runtime under the data directory.
    pub async fn state(&self) -> Result<AppState> {
        let store = Store::open_sqlite(self.data_dir.join("kino.db")).await?;
        let registry = kino_registry::Store::open(self.data_dir.join("registry"))
            .with_context(|| format!("opening the registry in {}", self.data_dir.display()))?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(self.data_dir.join("cache")),
            allow_private: self.allow_private_hosts.clone(),
            ..RuntimeConfig::default()
        })?;
        let trusted = plugins::read_trusted_keys(&self.trusted_keys)?;
        if self.signature_policy == SignaturePolicy::Required && trusted.is_empty() {
            tracing::warn!("signatures are required but no trusted keys are configured");
        }
        // Served tenants bind their own plugins: no slot has a default.
        let resolver = Resolver::new(
            runtime.clone(),
            registry.clone(),
            store.clone(),
            BTreeMap::new(),
        );
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
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
        let executor = Executor::new(
            store.clone(),
            resolver,
            &self.data_dir,
            parallel,
            Some(observer),
        )?;
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

/// Serves the API with `config` until the process is stopped.
pub async fn serve(config: ServeConfig) -> Result<()> {
    let state = config.state().await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!("serving the Kino API on http://{}", listener.local_addr()?);
    tokio::spawn(state.jobs.clone().work(JOBS_AT_ONCE));
    axum::serve(listener, router(state))
        .await
        .context("serving the API")
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
    fn unknown_keys_are_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("kino.toml");
        std::fs::write(&file, "lissen = \"x\"\n")?;
        let err = ServeConfig::load(Some(&file), |_| Some("t".into())).expect_err("typo");
        assert!(format!("{err:#}").contains("lissen"));
        Ok(())
    }
}
