//! The plugin runtime: loads `kino:stage` components and runs each call in a
//! fresh, capped, deadline-bound sandbox.
//!
//! ```no_run
//! # async fn demo(wasm: &[u8], scene: kino_runtime::types::Scene,
//! #               brief: kino_runtime::types::Brief) -> anyhow::Result<()> {
//! use kino_runtime::{CallCtx, Limits, Runtime, RuntimeConfig, World};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let plugin = runtime.load("noir@1.0.0", wasm, World::DirectorStyle, Limits::default())?;
//! let call = CallCtx::new("acme").with_config([("style", "noir-high-contrast")]);
//! match runtime.director(&plugin, &call)?.direct(&scene, &brief).await {
//!     Ok(Ok(directed)) => println!("{}", directed.styled_prompt),
//!     Ok(Err(plugin_error)) => println!("the plugin said no: {plugin_error:?}"),
//!     Err(trap) => println!("the sandbox stopped it: {trap}"),
//! }
//! # Ok(()) }
//! ```
//!
//! A plugin that calls HTTP APIs is loaded with [`Runtime::load_granted`] and
//! a [`Grant`] of the origins the operator lets it reach; see [`http`] for
//! what every outbound request is checked against.

pub mod answers;
mod backends;
mod bindings;
mod cache;
mod ctx;
pub mod http;
mod limits;
mod log;
pub mod media;
mod meter;
mod payload;
pub mod plugins;
mod stdio;
mod ticker;
mod trap;
mod worlds;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

pub use backends::{ClipGenerator, Lipsync, Speech, Transcriber};
pub use bindings::{backend_types, host::LogLevel, types};
pub use cache::{CacheOutcome, ComponentCache, sha256_hex};
pub use ctx::{CallCtx, StageCtx};
pub use http::{Grant, HttpLimits, InvalidCredential, NotRequested};
pub use limits::Limits;
pub use log::{LogLine, LogSink, LogSource, MemorySink, TracingSink};
pub use media::{MAX_OPEN_STREAMS, MediaFile, MediaSink};
pub use meter::{CallReport, PluginUsage};
pub use trap::Trap;
pub use worlds::{
    CallResult, Capability, CaptionStyle, Director, Fallback, Grader, PACKAGE_VERSION,
    SUPPORTED_VERSIONS, ScriptStrategy, Translator, World, WrongWorld,
};

use http::{HttpShared, Outbound};
use meter::{Counters, Meter};
use payload::Payload;
use ticker::Ticker;
use trap::DeadlineExceeded;
use worlds::Pre;

/// How the runtime's engine is set up.
///
/// Defaults: no disk cache, 128 concurrent instances, 1 GiB largest plugin
/// memory, a 1 ms epoch tick, no private addresses reachable over outbound
/// HTTP, and [`HttpLimits::default`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// How many plugin instances may be alive at once (the pooling allocator's slots).
    pub max_instances: u32,
    /// The largest memory cap any plugin may be given, in bytes.
    pub max_memory_bytes: usize,
    /// How often the deadline clock ticks; deadlines are checked at this granularity.
    pub epoch_tick: Duration,
    /// Non-public `host:port` pairs (`"127.0.0.1:8080"`, `"llm.internal:443"`)
    /// that granted plugins may reach anyway; every other private, loopback
    /// or link-local address is refused after DNS resolution. The host part
    /// is compared with the request's host name and with each resolved address.
    pub allow_private: Vec<String>,
    /// How outbound HTTP is bounded in time and size.
    pub http: HttpLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_instances: 128,
            max_memory_bytes: 1 << 30,
            epoch_tick: Duration::from_millis(1),
            allow_private: Vec::new(),
            http: HttpLimits::default(),
        }
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid component, or Cranelift refused them.
    #[error("{plugin}: not a loadable component: {reason}")]
    Compile {
        /// The plugin, as `name@version`.
        plugin: String,
        /// What the compiler said.
        reason: String,
    },
    /// The component imports something the host does not provide to it
    /// (`wasi:http` is provided only to plugins granted outbound hosts).
    #[error("{plugin}: imports something the host does not provide: {reason}")]
    UnknownImport {
        /// The plugin.
        plugin: String,
        /// What the linker said, naming the import.
        reason: String,
    },
    /// The component imports `wasi:http`, which is linked only for plugins
    /// granted outbound hosts, and this load granted none.
    #[error(
        "{plugin}: imports something the host does not provide: {import}: wasi:http is linked \
         only for plugins whose manifest requests outbound hosts and whom the operator granted some"
    )]
    HttpNotGranted {
        /// The plugin.
        plugin: String,
        /// The `wasi:http/...` interface it imports.
        import: String,
    },
    /// The component does not export the functions of the world it claims,
    /// or exports an optional interface ([`Capability`]) of the wrong type.
    #[error("{plugin}: does not implement kino:stage/{world}: {reason}")]
    WrongExports {
        /// The plugin.
        plugin: String,
        /// The world it was loaded as.
        world: World,
        /// What is missing or mistyped.
        reason: String,
    },
    /// The plugin's limits do not fit this runtime.
    #[error("{plugin}: memory cap of {asked} bytes exceeds the runtime's largest, {max} bytes")]
    Limits {
        /// The plugin.
        plugin: String,
        /// The cap it asked for.
        asked: usize,
        /// The runtime's largest.
        max: usize,
    },
    /// The compiled-component cache failed.
    #[error("{plugin}: {source:#}")]
    Cache {
        /// The plugin.
        plugin: String,
        /// What went wrong.
        source: anyhow::Error,
    },
}

struct Shared {
    engine: Engine,
    linker: Linker<StageCtx>,
    /// `linker` plus `wasi:http`, for plugins granted outbound hosts.
    http_linker: Linker<StageCtx>,
    http: Arc<HttpShared>,
    cache: Option<ComponentCache>,
    config: RuntimeConfig,
    meter: Arc<Meter>,
    _ticker: Ticker,
}

/// The plugin runtime: one engine, its linkers (with and without `wasi:http`),
/// a compiled-component cache and the deadline clock. Cheap to clone; safe to use from many tasks at once.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// Builds the engine (component model, pooling allocator, epoch
    /// interruption) and starts its deadline clock.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(config.max_instances)
            // A Rust component is its code module plus wit-component's shim
            // and fixup modules; leave room for a few more.
            .total_core_instances(config.max_instances * 8)
            .total_memories(config.max_instances * 2)
            .total_tables(config.max_instances * 4)
            .total_stacks(config.max_instances)
            .max_memory_size(config.max_memory_bytes)
            .decommit_batch_size(16);
        // Where Linux's PAGEMAP_SCAN exists, reset a reused slot by memsetting
        // only the pages the last call dirtied, instead of madvise, whose TLB
        // shootdowns dominated the per-call cost (director bench: p50 33 ->
        // 13 µs). Without it, keeping pages resident means memsetting the low
        // megabytes blindly, which measured slower than madvise (p50 45 µs),
        // so slots are then released with madvise alone.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(wasmtime::Enabled::Yes)
                .linear_memory_keep_resident(2 << 20)
                .table_keep_resident(64 << 10);
        } else {
            tracing::info!(
                "PAGEMAP_SCAN unavailable: plugin memory is reset with madvise (slower calls)"
            );
        }
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| anyhow::anyhow!("{e:#}"))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        bindings::host::add_to_linker::<StageCtx, wasmtime::component::HasSelf<StageCtx>>(
            &mut linker,
            |ctx| ctx,
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        bindings::media::add_to_linker::<StageCtx, wasmtime::component::HasSelf<StageCtx>>(
            &mut linker,
            |ctx| ctx,
        )
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // What plugins built against the frozen kino:stage@0.1.0 import.
        bindings::v0_1::kino::stage::host::add_to_linker::<
            StageCtx,
            wasmtime::component::HasSelf<StageCtx>,
        >(&mut linker, |ctx| ctx)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let mut http_linker = linker.clone();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut http_linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let http = HttpShared::new(config.http.clone(), &config.allow_private)
            .context("outbound http settings")?;

        let cache = config
            .cache_dir
            .as_ref()
            .map(|dir| ComponentCache::new(dir, &engine))
            .transpose()?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick)
            .context("starting the epoch ticker")?;
        Ok(Self {
            shared: Arc::new(Shared {
                engine,
                linker,
                http_linker,
                http: Arc::new(http),
                cache,
                config,
                meter: Arc::default(),
                _ticker: ticker,
            }),
        })
    }

    /// The wasmtime engine every plugin runs on.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// What each plugin's calls have used since this runtime started, by plugin id.
    pub fn usage(&self) -> Vec<(String, PluginUsage)> {
        self.shared.meter.snapshot()
    }

    /// Compiles `wasm`, or loads its compiled form from the cache.
    pub fn compile(&self, wasm: &[u8]) -> Result<(Component, CacheOutcome)> {
        match &self.shared.cache {
            Some(cache) => cache.load_or_compile(&self.shared.engine, wasm),
            None => Component::new(&self.shared.engine, wasm)
                .map(|c| (c, CacheOutcome::Compiled))
                .map_err(|e| anyhow::anyhow!("{e:#}")),
        }
    }

    /// Loads a plugin that implements `world`, checking its imports and exports,
    /// and prepares it for fast instantiation. The plugin gets no outbound
    /// HTTP: one that imports `wasi:http` is refused (see [`Runtime::load_granted`]).
    pub fn load(
        &self,
        id: &str,
        wasm: &[u8],
        world: World,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        self.load_granted(id, wasm, world, limits, Grant::none())
    }

    /// [`Runtime::load`], with outbound HTTP to the origins of `grant`:
    /// `wasi:http` is linked when `grant` is not empty, and each request is
    /// checked against it (narrowed per call by [`CallCtx::with_outbound`]).
    pub fn load_granted(
        &self,
        id: &str,
        wasm: &[u8],
        world: World,
        limits: Limits,
        grant: Grant,
    ) -> Result<Plugin, LoadError> {
        let plugin = id.to_owned();
        if limits.memory_bytes > self.shared.config.max_memory_bytes {
            return Err(LoadError::Limits {
                plugin,
                asked: limits.memory_bytes,
                max: self.shared.config.max_memory_bytes,
            });
        }
        // Reject what is not a component before it reaches the cache.
        if !is_component(wasm) {
            return Err(LoadError::Compile {
                plugin,
                reason: "not a WebAssembly component (a core module or not wasm at all)".into(),
            });
        }
        let (component, cache) = self.compile(wasm).map_err(|e| {
            if e.chain().any(|c| c.is::<std::io::Error>()) {
                LoadError::Cache {
                    plugin: plugin.clone(),
                    source: e,
                }
            } else {
                LoadError::Compile {
                    plugin: plugin.clone(),
                    reason: format!("{e:#}"),
                }
            }
        })?;
        let linker = if grant.is_empty() {
            // Name the import ourselves: the linker's own message does not
            // say why wasi:http is missing.
            let engine = &self.shared.engine;
            let ty = component.component_type();
            if let Some((import, _)) = ty
                .imports(engine)
                .find(|(name, _)| name.starts_with("wasi:http/"))
            {
                return Err(LoadError::HttpNotGranted {
                    plugin,
                    import: import.to_owned(),
                });
            }
            &self.shared.linker
        } else {
            &self.shared.http_linker
        };
        let instance_pre =
            linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::UnknownImport {
                    plugin: plugin.clone(),
                    reason: format!("{e:#}"),
                })?;
        let pre = Pre::new(world, instance_pre).map_err(|e| LoadError::WrongExports {
            plugin: plugin.clone(),
            world,
            reason: format!("{e:#}"),
        })?;
        let id: Arc<str> = id.into();
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                counters: self.shared.meter.counters(&id),
                id,
                sha256: sha256_hex(wasm),
                limits,
                pre,
                cache,
                engine: self.shared.engine.clone(),
                outbound: (!grant.is_empty()).then(|| OutboundGrant {
                    origins: grant.origins().into(),
                    http: self.shared.http.clone(),
                }),
            }),
        })
    }

    /// The script-strategy API of `plugin`, for calls made as `call`.
    pub fn script_strategy<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<ScriptStrategy<'a>, WrongWorld> {
        ScriptStrategy::new(plugin, call)
    }

    /// The director-style API of `plugin`, for calls made as `call`.
    pub fn director<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Director<'a>, WrongWorld> {
        Director::new(plugin, call)
    }

    /// The translator API of `plugin`, for calls made as `call`.
    pub fn translator<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Translator<'a>, WrongWorld> {
        Translator::new(plugin, call)
    }

    /// The grader API of `plugin`, for calls made as `call`.
    pub fn grader<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Grader<'a>, WrongWorld> {
        Grader::new(plugin, call)
    }

    /// The fallback-policy API of `plugin`, for calls made as `call`.
    pub fn fallback<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Fallback<'a>, WrongWorld> {
        Fallback::new(plugin, call)
    }

    /// The caption-style API of `plugin`, for calls made as `call`.
    pub fn caption_style<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<CaptionStyle<'a>, WrongWorld> {
        CaptionStyle::new(plugin, call)
    }

    /// The transcriber API of `plugin`, for calls made as `call`.
    pub fn transcriber<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Transcriber<'a>, WrongWorld> {
        Transcriber::new(plugin, call)
    }

    /// The speech API of `plugin`, for calls made as `call`.
    pub fn speech<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Speech<'a>, WrongWorld> {
        Speech::new(plugin, call)
    }

    /// The clip-generator API of `plugin`, for calls made as `call`.
    pub fn clip_generator<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<ClipGenerator<'a>, WrongWorld> {
        ClipGenerator::new(plugin, call)
    }

    /// The lipsync API of `plugin`, for calls made as `call`.
    pub fn lipsync<'a>(
        &self,
        plugin: &'a Plugin,
        call: &'a CallCtx,
    ) -> Result<Lipsync<'a>, WrongWorld> {
        Lipsync::new(plugin, call)
    }
}

/// Whether `bytes` start with the component-model preamble (magic + layer 1).
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [0x01, 0x00]
}

struct PluginInner {
    id: Arc<str>,
    sha256: String,
    limits: Limits,
    pre: Pre,
    cache: CacheOutcome,
    engine: Engine,
    counters: Arc<Counters>,
    outbound: Option<OutboundGrant>,
}

/// What a plugin with outbound HTTP was granted, and the runtime's bounds.
struct OutboundGrant {
    origins: Arc<[kino_registry::Origin]>,
    http: Arc<HttpShared>,
}

/// A loaded plugin, ready to be called. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.inner.id)
            .field("world", &self.world())
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// The plugin's id, as given to [`Runtime::load`] (`name@version`).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The world the plugin implements.
    pub fn world(&self) -> World {
        self.inner.pre.world()
    }

    /// The optional interfaces the plugin exports beside its world's
    /// functions ([`Capability`]); empty for a plugin that has none, such
    /// as every plugin built before they existed.
    pub fn capabilities(&self) -> Vec<Capability> {
        self.inner.pre.capabilities()
    }

    /// The sha256 of the component, as lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The origins the plugin was granted; empty when it has no outbound HTTP.
    pub fn granted(&self) -> &[kino_registry::Origin] {
        self.inner
            .outbound
            .as_ref()
            .map_or(&[], |grant| &grant.origins)
    }

    /// Whether loading found the compiled component in the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner.cache
    }

    /// Runs one call in a fresh store: instantiate, call, drop.
    async fn invoke<R: Payload>(
        &self,
        call: &CallCtx,
        run: impl AsyncFnOnce(&mut Store<StageCtx>) -> wasmtime::Result<R>,
    ) -> Result<R, Trap> {
        let limits = &self.inner.limits;
        let started = Instant::now();
        let deadline = started + limits.timeout;
        let outbound = match &self.inner.outbound {
            Some(grant) => Outbound::new(
                grant.http.clone(),
                grant.origins.clone(),
                call,
                self.inner.id.clone(),
                deadline,
            ),
            None => Outbound::none(),
        };
        let ctx = StageCtx::new(self.inner.id.clone(), limits, call, outbound);
        let mut store = Store::new(&self.inner.engine, ctx);
        store.limiter(|ctx| &mut ctx.memory);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| Trap::Host(format!("setting the fuel budget: {e:#}")))?;
        // Check the wall clock at every epoch tick, and yield to the
        // executor meanwhile so a busy plugin never hogs a tokio worker.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(DeadlineExceeded.into())
            } else {
                Ok(wasmtime::UpdateDeadline::Yield(1))
            }
        });
        let result = run(&mut store).await;
        let fuel = limits.fuel - store.get_fuel().unwrap_or(0);
        let ctx = store.data_mut();
        let outcome = match result {
            Ok(value) => {
                let bytes = value.payload_bytes();
                if bytes > limits.max_output_bytes {
                    Err(Trap::OutputTooLarge {
                        bytes,
                        limit: limits.max_output_bytes,
                    })
                } else {
                    Ok(value)
                }
            }
            Err(error) => Err(trap::classify(error, ctx, limits)),
        };
        ctx.finish();
        let report = CallReport {
            plugin: self.inner.id.clone(),
            wall: started.elapsed(),
            fuel,
            peak_memory_bytes: ctx.memory.peak,
            trap: outcome.as_ref().err().map(Trap::kind),
        };
        self.inner.counters.record(&report);
        call.report(&report);
        outcome
    }
}
