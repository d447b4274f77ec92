//! Which plugin fills a pipeline slot for a tenant: the tenant's binding
//! (plugin requirement + config) if it has one, else the host's default.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};

use crate::plugins::load_installed;
use crate::runtime::{CallCtx, Plugin, Runtime, World};
use crate::store::{JobId, Store, TenantId};

/// A plugin ready to serve one slot of one job.
#[derive(Clone)]
pub struct SlotPlugin {
    /// `name@version`, as recorded on stage rows and in cache keys.
    pub id: String,
    /// The loaded plugin.
    pub plugin: Plugin,
    /// Tenant, job and configuration of its calls.
    pub call: CallCtx,
    /// The configuration, canonical JSON (part of the cache key).
    pub config_json: String,
}

/// Resolves slots to installed plugins, loading each version once.
pub struct Resolver {
    runtime: Runtime,
    registry: kino_registry::Store,
    store: Store,
    defaults: BTreeMap<String, String>,
    loaded: Mutex<HashMap<String, Plugin>>,
}

impl Resolver {
    /// A resolver over `registry`; `defaults` maps a slot to the requirement
    /// used when a tenant has no binding for it (`translator` ->
    /// `kino-translator-phrasebook@^0.1`).
    pub fn new(
        runtime: Runtime,
        registry: kino_registry::Store,
        store: Store,
        defaults: BTreeMap<String, String>,
    ) -> Self {
        Self {
            runtime,
            registry,
            store,
            defaults,
            loaded: Mutex::default(),
        }
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The plugin for `slot`, or `None` when neither the tenant nor the host
    /// binds one.
    pub async fn slot(
        &self,
        tenant: &TenantId,
        job: &JobId,
        slot: &str,
        world: World,
    ) -> Result<Option<SlotPlugin>> {
        let binding = self.store.get_binding(tenant, slot).await?;
        let (requirement, config) = match binding {
            Some(b) => {
                let config: BTreeMap<String, String> = serde_json::from_value(b.config)
                    .with_context(|| format!("reading the config of slot `{slot}`"))?;
                (format!("{}@{}", b.plugin_name, b.requirement), config)
            }
            None => match self.defaults.get(slot) {
                Some(req) => (req.clone(), BTreeMap::new()),
                None => return Ok(None),
            },
        };
        self.load(tenant, job, &requirement, config, world)
            .await
            .with_context(|| format!("slot `{slot}`"))
            .map(Some)
    }

    /// The plugin a fallback policy switched to (`name` or `name@requirement`),
    /// with no configuration.
    pub async fn alternative(
        &self,
        tenant: &TenantId,
        job: &JobId,
        requirement: &str,
        world: World,
    ) -> Result<SlotPlugin> {
        self.load(tenant, job, requirement, BTreeMap::new(), world)
            .await
    }

    async fn load(
        &self,
        tenant: &TenantId,
        job: &JobId,
        requirement: &str,
        config: BTreeMap<String, String>,
        world: World,
    ) -> Result<SlotPlugin> {
        let installed = self
            .registry
            .resolve(requirement)
            .with_context(|| format!("resolving {requirement}"))?;
        let id = format!("{}@{}", installed.name, installed.version);
        let cached = self
            .loaded
            .lock()
            .expect("plugin cache lock")
            .get(&id)
            .cloned();
        let plugin = match cached {
            Some(p) => p,
            None => {
                let (runtime, registry, req) = (
                    self.runtime.clone(),
                    self.registry.clone(),
                    requirement.to_owned(),
                );
                let (_, plugin) =
                    tokio::task::spawn_blocking(move || load_installed(&runtime, &registry, &req))
                        .await
                        .context("loading a plugin")??;
                self.loaded
                    .lock()
                    .expect("plugin cache lock")
                    .insert(id.clone(), plugin.clone());
                plugin
            }
        };
        if plugin.world() != world {
            bail!(
                "{id} implements {}, but this slot needs {}",
                plugin.world(),
                world
            );
        }
        let config_json = serde_json::to_string(&config).context("encoding plugin config")?;
        let call = CallCtx::new(tenant.as_str())
            .with_job(job.as_str())
            .with_config(config);
        Ok(SlotPlugin {
            id,
            plugin,
            call,
            config_json,
        })
    }
}
