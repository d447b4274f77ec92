//! The embedded set-up `kino run` uses: SQLite in a data directory, the
//! bundled reference plugins installed on first use, one local tenant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use kino_registry::{BlobId, SignaturePolicy};

use super::exec::{Executor, FALLBACK_SLOT, Observer};
use super::slots::Resolver;
use kino_runtime::plugins;
use kino_runtime::{Runtime, RuntimeConfig};
use kino_store::{Store, TenantId};

/// The bundled plugins: (source directory under `plugins/`, package name, slot).
pub const BUNDLED: &[(&str, &str, &str)] = &[
    ("script-arc", "kino-script-arc", "script-strategy"),
    ("director-styles", "kino-director-styles", "director-style"),
    ("grader-palette", "kino-grader-palette", "grader"),
    (
        "translator-phrasebook",
        "kino-translator-phrasebook",
        "translator",
    ),
    ("fallback-backoff", "kino-fallback-backoff", FALLBACK_SLOT),
];

/// The tenant local runs belong to.
pub const LOCAL_TENANT: &str = "local";

/// Where the bundled plugins come from.
#[derive(Debug, Clone)]
pub struct BundledPlugins {
    /// The plugins' source directories (holding `kino-plugin.toml`): `plugins/`.
    pub sources: PathBuf,
    /// The built components (`<package_name>.wasm`).
    pub components: PathBuf,
}

/// A local host: store, registry, runtime and executor under one directory.
pub struct LocalHost {
    /// The executor.
    pub executor: Executor,
    /// The local tenant.
    pub tenant: TenantId,
}

impl LocalHost {
    /// Opens (creating) `data_dir`, installing or refreshing the bundled plugins.
    pub async fn open(
        data_dir: &Path,
        bundled: &BundledPlugins,
        observer: Option<Observer>,
    ) -> Result<Self> {
        let config = RuntimeConfig {
            cache_dir: Some(data_dir.join("cache")),
            ..RuntimeConfig::default()
        };
        Self::open_with(data_dir, bundled, observer, config).await
    }

    /// As [`LocalHost::open`], with the plugin runtime configured by `config`.
    pub async fn open_with(
        data_dir: &Path,
        bundled: &BundledPlugins,
        observer: Option<Observer>,
        config: RuntimeConfig,
    ) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let store = Store::open_sqlite(data_dir.join("kino.db")).await?;
        let registry = kino_registry::Store::open(data_dir.join("registry"))?;
        let runtime = Runtime::new(config)?;
        let mut defaults = BTreeMap::new();
        {
            let (runtime, registry, bundled) = (runtime.clone(), registry.clone(), bundled.clone());
            tokio::task::spawn_blocking(move || install_bundled(&runtime, &registry, &bundled))
                .await
                .context("installing the bundled plugins")??;
        }
        for (_, name, slot) in BUNDLED {
            defaults.insert((*slot).to_owned(), (*name).to_owned());
        }
        let tenant = match store.tenant_by_name(LOCAL_TENANT).await? {
            Some(t) => t.id,
            None => store.create_tenant(LOCAL_TENANT).await?.id,
        };
        let resolver = Resolver::new(runtime, registry, store.clone(), defaults);
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let executor = Executor::new(store, resolver, data_dir, parallel, observer)?;
        Ok(Self { executor, tenant })
    }
}

/// Installs each bundled plugin whose built component is not installed yet;
/// a rebuilt component of the same version replaces the installed one.
pub fn install_bundled(
    runtime: &Runtime,
    registry: &kino_registry::Store,
    bundled: &BundledPlugins,
) -> Result<()> {
    for (dir, name, _) in BUNDLED {
        let wasm_path = bundled
            .components
            .join(format!("{}.wasm", name.replace('-', "_")));
        let wasm = std::fs::read(&wasm_path).with_context(|| {
            format!(
                "reading the bundled plugin {} (build the plugins first: `make plugins`)",
                wasm_path.display()
            )
        })?;
        let installed = registry
            .list()?
            .into_iter()
            .find(|v| v.name.as_str() == *name);
        if let Some(v) = &installed {
            if v.component == BlobId::of(&wasm) {
                continue;
            }
            registry.remove(&v.name, &v.version, |_, _| false)?;
        }
        let source = bundled.sources.join(dir);
        if !source.join("kino-plugin.toml").is_file() {
            bail!("{} has no kino-plugin.toml", source.display());
        }
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let package = tmp.path().join("plugin.tar.gz");
        plugins::pack(&source, Some(&wasm_path), &package)?;
        plugins::install(runtime, registry, &package, SignaturePolicy::Optional, &[])?;
        tracing::info!("installed bundled plugin {name}");
    }
    Ok(())
}

/// Splits `name=value` arguments into the pipeline's file and text inputs.
pub fn parse_inputs(
    spec: &super::PipelineSpec,
    args: &[String],
) -> Result<(BTreeMap<String, PathBuf>, BTreeMap<String, String>)> {
    let mut files = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for arg in args {
        let Some((name, value)) = arg.split_once('=') else {
            bail!("inputs are given as name=value, not `{arg}`");
        };
        let Some(decl) = spec.inputs.get(name) else {
            let known: Vec<_> = spec.inputs.keys().map(String::as_str).collect();
            bail!(
                "pipeline `{}` has no input `{name}` (its inputs: {})",
                spec.name,
                known.join(", ")
            );
        };
        match decl.kind {
            super::spec::InputKind::File => {
                files.insert(name.to_owned(), PathBuf::from(value));
            }
            super::spec::InputKind::Text => {
                texts.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    Ok((files, texts))
}

/// Copies a finished job's outputs into `out`, returning the copies.
pub fn deliver(report: &super::JobReport, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    report
        .outputs
        .iter()
        .map(|(name, path)| {
            let to = out.join(name);
            std::fs::copy(path, &to).with_context(|| format!("writing {}", to.display()))?;
            Ok(to)
        })
        .collect()
}

/// A human summary of where a job's time went: per stage, nodes run,
/// nodes from the cache, and the summed node time.
pub fn stage_times(report: &super::JobReport) -> String {
    let mut by_stage: BTreeMap<&str, (usize, usize, u64)> = BTreeMap::new();
    for node in &report.nodes {
        let stage = node.node.split('[').next().unwrap_or(&node.node);
        let e = by_stage.entry(stage).or_default();
        if node.cached {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        e.2 += node.ms;
    }
    let mut text = String::new();
    for (stage, (ran, cached, ms)) in by_stage {
        text.push_str(&format!(
            "  {stage:<16} {ran:>3} run {cached:>3} cached {:>9.2} s\n",
            ms as f64 / 1000.0
        ));
    }
    text
}
