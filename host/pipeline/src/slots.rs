//! Which plugin fills a pipeline slot for a tenant: the tenant's binding
//! (plugin requirement + config) if it has one, else the host's default.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};

use kino_registry::Origin;
use serde::{Deserialize, Serialize};

use kino_runtime::plugins::load_version;
use kino_runtime::{CallCtx, Plugin, Runtime, World};
use kino_store::{JobId, NewBinding, Store, TenantId};

/// One outbound host an operator grants a tenant's plugin, optionally with
/// a credential the host injects from the tenant's secrets: the plugin never
/// sees it. Written in a binding's `grants` as an origin string, or as
/// `{"origin": "https://api.openai.com", "secret": "openai-key"}` (header
/// `authorization`, value `Bearer <secret>` unless `header`/`prefix` say
/// otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GrantSpec {
    /// Just the host.
    Origin(Origin),
    /// The host and a credential for it.
    WithCredential {
        /// The host.
        origin: Origin,
        /// The tenant secret holding the credential.
        secret: String,
        /// The header to set (default `authorization`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// What goes before the secret in the header (default `Bearer `).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
}

impl GrantSpec {
    /// The granted host.
    pub fn origin(&self) -> &Origin {
        match self {
            GrantSpec::Origin(o) | GrantSpec::WithCredential { origin: o, .. } => o,
        }
    }
}

/// Every slot a tenant can bind, with the world its plugin must implement:
/// the slots of the built-in pipelines, and the fallback policy's.
pub fn known_slots() -> BTreeMap<String, World> {
    crate::spec::BUILT_IN
        .iter()
        .flat_map(|(name, _)| {
            slots_of(&crate::PipelineSpec::built_in(name).expect("built-in pipelines parse"))
        })
        .collect()
}

/// What a fallback policy answers (`switch-to("backup")`) to run a stage
/// with its slot's backup binding.
pub const BACKUP: &str = "backup";

/// The slot whose binding backs up `slot`: the plugin (and its config and
/// grants) a fallback policy's `switch-to("backup")` runs a failed stage with.
pub fn backup_slot(slot: &str) -> String {
    format!("{slot}-{BACKUP}")
}

/// The slots a job of `pipeline` can bind: its stages', each one's backup,
/// and the fallback policy's.
fn slots_of(pipeline: &crate::PipelineSpec) -> BTreeMap<String, World> {
    let mut slots = BTreeMap::new();
    for (slot, world) in pipeline.slots() {
        slots.insert(slot.to_owned(), world);
        slots.insert(backup_slot(slot), world);
    }
    slots.insert(crate::exec::FALLBACK_SLOT.to_owned(), World::FallbackPolicy);
    slots
}

/// The requirement for exactly the version `id` (`name@version`) names.
pub fn pinned(id: &str) -> Result<String> {
    match id.split_once('@') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => {
            Ok(format!("{name}@={version}"))
        }
        _ => bail!("`{id}` is not a plugin version (name@version)"),
    }
}

/// Checks that `slot` exists and that a plugin of `world` can fill it; the
/// error names the valid slots, or the world the slot needs.
pub fn check_slot(slot: &str, world: World) -> Result<()> {
    let known = known_slots();
    match known.get(slot) {
        None => bail!(
            "there is no slot `{slot}`; the slots are: {}",
            known
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some(&needed) if needed != world => {
            bail!("slot `{slot}` needs a kino:stage/{needed} plugin, not kino:stage/{world}")
        }
        Some(_) => Ok(()),
    }
}

/// The plugin and config one job's slot runs with, over the tenant's
/// binding (`kino run --bind slot=name@^1 --config slot.key=value`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobBinding {
    /// The plugin requirement (`name@^1`); `None` keeps the slot's default
    /// plugin and only sets its config.
    pub plugin: Option<String>,
    /// Config values, checked against the plugin's manifest.
    pub config: BTreeMap<String, String>,
}

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
    /// The component's content hash: a rebuilt plugin of the same version
    /// does not reuse the old one's outputs.
    pub component: String,
    /// The granted hosts and the names (never the values) of the secrets
    /// injected for them, JSON: another backend is another output.
    pub grants_json: String,
    /// Whether the version is yanked (a binding made before the yank keeps
    /// it until it is rebound; the job's events say so).
    pub yanked: bool,
}

/// What a slot asks the registry for.
struct Wanted<'a> {
    /// `name@requirement`.
    requirement: &'a str,
    /// The binding's config.
    config: BTreeMap<String, String>,
    /// The binding's grants.
    grants: &'a [GrantSpec],
    /// Whether a yanked version may serve it.
    yanked: Yanked,
}

/// Whether a resolution may land on a yanked version.
#[derive(Clone, Copy)]
enum Yanked {
    /// A binding's: it keeps a version yanked after it was made.
    Kept,
    /// A new choice (a fallback policy's switch): never a yanked version.
    Skipped,
}

/// Resolves slots to installed plugins, loading each version once.
pub struct Resolver {
    runtime: Runtime,
    registry: kino_registry::Store,
    store: Store,
    defaults: BTreeMap<String, String>,
    /// Slots whose default could not be installed, with why.
    unavailable: BTreeMap<String, String>,
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
            unavailable: BTreeMap::new(),
            loaded: Mutex::default(),
        }
    }

    /// The same resolver, saying for each slot in `unavailable` why it has
    /// no default (a bundled plugin that was not built) when a stage needs it.
    #[must_use]
    pub fn with_unavailable(mut self, unavailable: BTreeMap<String, String>) -> Self {
        self.unavailable = unavailable;
        self
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
        self.slot_pinned(tenant, job, slot, world, None).await
    }

    /// [`Resolver::slot`], held to exactly the version `pin` (`name@version`)
    /// when given: a worker runs the version its job's coordinator resolved,
    /// whatever its own registry would resolve the binding to.
    pub async fn slot_pinned(
        &self,
        tenant: &TenantId,
        job: &JobId,
        slot: &str,
        world: World,
        pin: Option<&str>,
    ) -> Result<Option<SlotPlugin>> {
        self.resolve(tenant, Some(job), slot, world, pin).await
    }

    /// The plugin the tenant binds to `slot` (or the host's default), outside
    /// any job: for work a tenant asks of a plugin directly, such as making
    /// a voice with its speech backend.
    pub async fn tenant_slot(
        &self,
        tenant: &TenantId,
        slot: &str,
        world: World,
    ) -> Result<Option<SlotPlugin>> {
        self.resolve(tenant, None, slot, world, None).await
    }

    async fn resolve(
        &self,
        tenant: &TenantId,
        job: Option<&JobId>,
        slot: &str,
        world: World,
        pin: Option<&str>,
    ) -> Result<Option<SlotPlugin>> {
        // A job's own binding (`kino run --bind`) comes before the tenant's.
        let job_binding = match job {
            Some(job) => self.store.job_binding(job, slot).await?,
            None => None,
        };
        let binding = match job_binding {
            Some(b) => Some(b),
            None => self
                .store
                .get_binding(tenant, slot)
                .await?
                .map(|b| NewBinding {
                    slot: b.slot,
                    plugin_name: b.plugin_name,
                    requirement: b.requirement,
                    config: b.config,
                    grants: b.grants,
                }),
        };
        let (requirement, config, grants) = match binding {
            Some(b) => {
                let config: BTreeMap<String, String> = serde_json::from_value(b.config)
                    .with_context(|| format!("reading the config of slot `{slot}`"))?;
                let grants: Vec<GrantSpec> = serde_json::from_value(b.grants)
                    .with_context(|| format!("reading the grants of slot `{slot}`"))?;
                (
                    format!("{}@{}", b.plugin_name, b.requirement),
                    config,
                    grants,
                )
            }
            None => match self.defaults.get(slot) {
                Some(req) => (req.clone(), BTreeMap::new(), Vec::new()),
                None => match self.unavailable.get(slot) {
                    Some(why) => bail!("{why}"),
                    None => return Ok(None),
                },
            },
        };
        let requirement = match pin {
            Some(id) => pinned(id)?,
            None => requirement,
        };
        self.load(
            tenant,
            job,
            Wanted {
                requirement: &requirement,
                config,
                grants: &grants,
                yanked: Yanked::Kept,
            },
            world,
        )
        .await
        .with_context(|| format!("slot `{slot}`"))
        .map(Some)
    }

    /// Checks one job's `bindings` for `pipeline`: each slot is one the
    /// pipeline has, each plugin resolves and implements the slot's world,
    /// each config fits the plugin's schema. Answers what to record.
    pub fn check_job_bindings(
        &self,
        pipeline: &crate::PipelineSpec,
        bindings: &BTreeMap<String, JobBinding>,
    ) -> Result<Vec<NewBinding>> {
        let slots = slots_of(pipeline);
        let mut out = Vec::with_capacity(bindings.len());
        for (slot, binding) in bindings {
            let Some(&world) = slots.get(slot) else {
                bail!(
                    "pipeline `{}` has no slot `{slot}`; its slots are: {}",
                    pipeline.name,
                    slots
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let requirement = match (&binding.plugin, self.defaults.get(slot)) {
                (Some(plugin), _) => plugin.clone(),
                (None, Some(default)) => default.clone(),
                (None, None) => bail!(
                    "slot `{slot}` has no default plugin: bind one with --bind {slot}=NAME@VERSION"
                ),
            };
            let installed = self
                .registry
                .resolve(&requirement)
                .with_context(|| format!("slot `{slot}`: resolving {requirement}"))?;
            let manifest = self.registry.manifest(&installed)?;
            if manifest.world().world != world {
                bail!(
                    "slot `{slot}` needs a kino:stage/{world} plugin; {}@{} is kino:stage/{}",
                    installed.name,
                    installed.version,
                    manifest.world().world
                );
            }
            let config = manifest
                .validate_config(&binding.config)
                .with_context(|| format!("slot `{slot}`"))?;
            let (name, req) = kino_registry::parse_requirement(&requirement)
                .with_context(|| format!("slot `{slot}`: reading {requirement}"))?;
            out.push(NewBinding {
                slot: slot.clone(),
                plugin_name: name.to_string(),
                requirement: req.to_string(),
                config: serde_json::to_value(config).context("encoding a config")?,
                grants: serde_json::json!([]),
            });
        }
        Ok(out)
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
        self.load(
            tenant,
            Some(job),
            Wanted {
                requirement,
                config: BTreeMap::new(),
                grants: &[],
                yanked: Yanked::Skipped,
            },
            world,
        )
        .await
    }

    async fn load(
        &self,
        tenant: &TenantId,
        job: Option<&JobId>,
        wanted: Wanted<'_>,
        world: World,
    ) -> Result<SlotPlugin> {
        let Wanted {
            requirement,
            config,
            grants,
            yanked,
        } = wanted;
        let installed = match yanked {
            Yanked::Kept => self.registry.resolve_bound(requirement),
            Yanked::Skipped => self.registry.resolve(requirement),
        }
        .with_context(|| format!("resolving {requirement}"))?;
        let id = format!("{}@{}", installed.name, installed.version);
        // The manifest's defaults fill what the binding leaves unset, as
        // `config` in wit/host.wit promises; a required key left unset fails here.
        let config = self
            .registry
            .manifest(&installed)?
            .validate_config(&config)
            .with_context(|| format!("the config of {id}"))?;
        let origins: Vec<Origin> = grants.iter().map(|g| g.origin().clone()).collect();
        // A plugin is linked with its grant: each grant is its own instance.
        let loaded_key = format!(
            "{id} {} {}",
            installed.component.as_str(),
            origins
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
        let cached = self
            .loaded
            .lock()
            .expect("plugin cache lock")
            .get(&loaded_key)
            .cloned();
        let plugin = match cached {
            Some(p) => p,
            None => {
                // Exactly the version resolved here, not whatever resolves next.
                let (runtime, registry, version, granted) = (
                    self.runtime.clone(),
                    self.registry.clone(),
                    installed.clone(),
                    origins.clone(),
                );
                let plugin = tokio::task::spawn_blocking(move || {
                    load_version(&runtime, &registry, &version, &granted)
                })
                .await
                .context("loading a plugin")??;
                self.loaded
                    .lock()
                    .expect("plugin cache lock")
                    .insert(loaded_key, plugin.clone());
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
        let grants_json = serde_json::to_string(grants).context("encoding grants")?;
        let mut call = CallCtx::new(tenant.as_str())
            .with_config(config)
            .with_outbound(origins);
        if let Some(job) = job {
            call = call.with_job(job.as_str());
        }
        for grant in grants {
            if let GrantSpec::WithCredential {
                origin,
                secret,
                header,
                prefix,
            } = grant
            {
                let value = self
                    .store
                    .secret_value(tenant, secret)
                    .await?
                    .with_context(|| {
                        format!("the grant of {origin} needs secret `{secret}`, which this tenant has not set")
                    })?;
                let header = header.as_deref().unwrap_or("authorization");
                let prefix = prefix.as_deref().unwrap_or("Bearer ");
                call = call
                    .with_credential(
                        origin.clone(),
                        header,
                        &format!("{prefix}{}", value.expose()),
                    )
                    .with_context(|| format!("the credential for {origin}"))?;
            }
        }
        Ok(SlotPlugin {
            id,
            plugin,
            call,
            config_json,
            component: installed.component.as_str().to_owned(),
            grants_json,
            yanked: installed.yanked,
        })
    }
}
