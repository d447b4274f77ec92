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

/// A plugin bundled with the host: its package name, the slot it is the
/// default for, and its manifest (compiled in, so the host needs only the
/// built component at run time, from wherever it runs).
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    /// The package name (`kino-script-arc`); the component is
    /// `kino_script_arc.wasm`.
    pub name: &'static str,
    /// The slot it fills when a tenant binds nothing there.
    pub slot: &'static str,
    /// Its `kino-plugin.toml`.
    pub manifest: &'static str,
}

impl Bundled {
    /// The file name of its built component.
    pub fn component_file(&self) -> String {
        format!("{}.wasm", self.name.replace('-', "_"))
    }
}

macro_rules! bundled {
    ($dir:literal, $name:literal, $slot:expr) => {
        Bundled {
            name: $name,
            slot: $slot,
            manifest: include_str!(concat!("../../../plugins/", $dir, "/kino-plugin.toml")),
        }
    };
}

/// The bundled plugins.
pub const BUNDLED: &[Bundled] = &[
    bundled!("script-arc", "kino-script-arc", "script-strategy"),
    bundled!("director-styles", "kino-director-styles", "director-style"),
    bundled!("grader-palette", "kino-grader-palette", "grader"),
    bundled!(
        "translator-phrasebook",
        "kino-translator-phrasebook",
        "translator"
    ),
    bundled!("fallback-backoff", "kino-fallback-backoff", FALLBACK_SLOT),
    bundled!("caption-emphasis", "kino-caption-emphasis", "caption-style"),
];

/// The tenant local runs belong to.
pub const LOCAL_TENANT: &str = "local";

/// Where the bundled plugins' built components are.
#[derive(Debug, Clone)]
pub struct BundledPlugins {
    /// The directory of built components (`<package_name>.wasm`), as `make
    /// plugins` leaves them.
    pub components: PathBuf,
}

impl BundledPlugins {
    /// Where `make plugins` puts the components, relative to the build
    /// directory of a binary at `exe`: `TARGET/wasm-plugins/...` beside
    /// `TARGET/release/kino`; or `PREFIX/share/kino/plugins` beside
    /// `PREFIX/bin/kino` for an installed copy. The first that exists, else
    /// the first (for the error that names it).
    pub fn beside(exe: &Path) -> Self {
        let dir = exe.parent().unwrap_or(Path::new("."));
        let candidates = [
            dir.join("../wasm-plugins/wasm32-wasip2/plugin"),
            dir.join("../share/kino/plugins"),
        ];
        let components = candidates
            .iter()
            .find(|c| c.is_dir())
            .unwrap_or(&candidates[0]);
        Self {
            components: components.clone(),
        }
    }
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
        let missing = {
            let (runtime, registry, bundled) = (runtime.clone(), registry.clone(), bundled.clone());
            tokio::task::spawn_blocking(move || install_bundled(&runtime, &registry, &bundled))
                .await
                .context("installing the bundled plugins")??
        };
        let mut defaults = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        for plugin in BUNDLED {
            match missing.iter().find(|m| m.plugin.name == plugin.name) {
                // Only a pipeline that uses the slot needs it: say why it
                // has no default when one does, not before.
                Some(m) => {
                    tracing::debug!("{m}");
                    unavailable.insert(plugin.slot.to_owned(), m.to_string());
                }
                None => {
                    defaults.insert(plugin.slot.to_owned(), plugin.name.to_owned());
                }
            }
        }
        let tenant = match store.tenant_by_name(LOCAL_TENANT).await? {
            Some(t) => t.id,
            None => store.create_tenant(LOCAL_TENANT).await?.id,
        };
        let resolver =
            Resolver::new(runtime, registry, store.clone(), defaults).with_unavailable(unavailable);
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let executor = Executor::new(store, resolver, data_dir, parallel, observer)?;
        Ok(Self { executor, tenant })
    }
}

/// A bundled plugin that is neither built nor installed.
#[derive(Debug, Clone)]
pub struct MissingPlugin {
    /// Which.
    pub plugin: Bundled,
    /// Where its component was looked for.
    pub looked_at: PathBuf,
}

impl std::fmt::Display for MissingPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the bundled plugin {} (the default for slot `{}`) is not installed and its component {} does not exist: build the plugins (`make plugins`), point --plugins (or KINO_PLUGINS) at them, or bind the slot to another plugin",
            self.plugin.name,
            self.plugin.slot,
            self.looked_at.display()
        )
    }
}

/// Installs each bundled plugin whose built component is not installed yet
/// (a rebuilt component of the same version replaces the installed one).
/// Answers the bundled plugins that are neither built nor installed: not an
/// error here, since a pipeline needs only the slots it uses.
pub fn install_bundled(
    runtime: &Runtime,
    registry: &kino_registry::Store,
    bundled: &BundledPlugins,
) -> Result<Vec<MissingPlugin>> {
    let mut missing = Vec::new();
    let installed_versions = registry.list()?;
    for plugin in BUNDLED {
        let wasm_path = bundled.components.join(plugin.component_file());
        let installed = installed_versions
            .iter()
            .find(|v| v.name.as_str() == plugin.name);
        let wasm = match std::fs::read(&wasm_path) {
            Ok(wasm) => wasm,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if installed.is_none() {
                    missing.push(MissingPlugin {
                        plugin: *plugin,
                        looked_at: wasm_path,
                    });
                }
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "reading the bundled plugin {}'s component {}",
                        plugin.name,
                        wasm_path.display()
                    )
                });
            }
        };
        if let Some(v) = installed {
            if v.component == BlobId::of(&wasm) {
                continue;
            }
            registry.remove(&v.name, &v.version, |_, _| false)?;
        }
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let source = tmp.path().join("source");
        std::fs::create_dir(&source).context("creating a temporary directory")?;
        std::fs::write(source.join("kino-plugin.toml"), plugin.manifest)
            .context("writing a bundled manifest")?;
        let package = tmp.path().join("plugin.tar.gz");
        plugins::pack(&source, Some(&wasm_path), &package)?;
        plugins::install(runtime, registry, &package, SignaturePolicy::Optional, &[])?;
        tracing::info!("installed bundled plugin {}", plugin.name);
    }
    Ok(missing)
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
