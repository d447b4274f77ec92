//! Prometheus metrics: HTTP requests by route and status, jobs by state,
//! plugin calls by outcome (the executor counts them), and per plugin the
//! runtime's calls, traps by kind, fuel and time.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{ApiError, AppState};
use kino_runtime::PluginUsage;
use kino_store::JobState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginTrapLabels {
    plugin: String,
    kind: String,
}

/// Per-plugin counters, fed from the runtime's running totals at each scrape.
#[derive(Clone, Default)]
struct PluginMetrics {
    calls: Family<PluginLabels, Counter>,
    traps: Family<PluginTrapLabels, Counter>,
    fuel: Family<PluginLabels, Counter>,
    seconds: Family<PluginLabels, Counter<f64, AtomicU64>>,
    /// The totals already counted, so each scrape adds only what is new.
    counted: Arc<Mutex<BTreeMap<String, PluginUsage>>>,
}

impl PluginMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "plugin_usage_calls",
            "Plugin calls made by the runtime, by plugin",
            self.calls.clone(),
        );
        registry.register(
            "plugin_usage_traps",
            "Plugin calls the sandbox stopped, by plugin and trap kind",
            self.traps.clone(),
        );
        registry.register(
            "plugin_usage_fuel",
            "Fuel (wasm instructions, roughly) burned by plugin calls, by plugin",
            self.fuel.clone(),
        );
        registry.register(
            "plugin_usage_seconds",
            "Wall-clock time of plugin calls, by plugin",
            self.seconds.clone(),
        );
    }

    fn update(&self, usage: &[(String, PluginUsage)]) {
        let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        for (plugin, now) in usage {
            let before = counted.entry(plugin.clone()).or_default();
            let labels = PluginLabels {
                plugin: plugin.clone(),
            };
            self.calls
                .get_or_create(&labels)
                .inc_by(now.calls.saturating_sub(before.calls));
            self.fuel
                .get_or_create(&labels)
                .inc_by(now.fuel.saturating_sub(before.fuel));
            self.seconds
                .get_or_create(&labels)
                .inc_by((now.seconds - before.seconds).max(0.0));
            for kind in kino_runtime::Trap::KINDS {
                let n = now.traps.get(kind).copied().unwrap_or(0);
                let was = before.traps.get(kind).copied().unwrap_or(0);
                self.traps
                    .get_or_create(&PluginTrapLabels {
                        plugin: plugin.clone(),
                        kind: kind.to_owned(),
                    })
                    .inc_by(n.saturating_sub(was));
            }
            *before = now.clone();
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerOnlyLabels {
    worker: String,
}

/// What the store says of each worker sharing it.
#[derive(Clone, Default)]
struct WorkerMetrics {
    up: Family<WorkerLabels, Gauge>,
    seen: Family<WorkerOnlyLabels, Gauge>,
    leases: Family<WorkerOnlyLabels, Gauge>,
    completed: Family<WorkerOnlyLabels, Gauge>,
    failed: Family<WorkerOnlyLabels, Gauge>,
    nodes: Family<StateLabels, Gauge>,
}

impl WorkerMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "worker",
            "Workers sharing the store, by state (running, draining, stopped): 1 each",
            self.up.clone(),
        );
        registry.register_with_unit(
            "worker_heartbeat_age",
            "Time since each worker's last heartbeat",
            prometheus_client::registry::Unit::Seconds,
            self.seen.clone(),
        );
        registry.register(
            "worker_leases",
            "Nodes each worker holds now",
            self.leases.clone(),
        );
        registry.register(
            "worker_nodes_completed",
            "Nodes each worker completed",
            self.completed.clone(),
        );
        registry.register(
            "worker_nodes_failed",
            "Nodes each worker failed",
            self.failed.clone(),
        );
        registry.register("nodes", "Nodes on the queue, by state", self.nodes.clone());
    }

    fn update(&self, workers: &[kino_store::WorkerInfo], nodes: &[(kino_store::NodeState, u64)]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.up.clear();
        for w in workers {
            let worker = WorkerOnlyLabels {
                worker: w.id.clone(),
            };
            self.up
                .get_or_create(&WorkerLabels {
                    worker: w.id.clone(),
                    state: w.state.as_str().to_owned(),
                })
                .set(1);
            self.seen
                .get_or_create(&worker)
                .set((now - w.heartbeat_at).max(0) / 1000);
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.leases.get_or_create(&worker).set(count(w.leases));
            self.completed
                .get_or_create(&worker)
                .set(count(w.nodes_completed));
            self.failed
                .get_or_create(&worker)
                .set(count(w.nodes_failed));
        }
        for (state, n) in nodes {
            self.nodes
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
}

/// The device pool's counters (kernel calls by device, GPU fallbacks, waits
/// for GPU memory), fed from its running totals at each scrape.
#[derive(Clone, Default)]
struct KernelMetrics {
    calls: Family<DeviceLabels, Counter>,
    fallbacks: Counter,
    waits: Counter,
    /// GPU memory held by resident models, running render nodes and what
    /// runtimes keep of unloaded models, by GPU (`cuda:N`).
    resident: Family<DeviceLabels, Gauge>,
    /// The totals already counted, so each scrape adds only what is new.
    counted: Arc<Mutex<kino_cuda::pool::Stats>>,
}

impl KernelMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "kernel_calls",
            "Kernel calls the device pool placed, by the device they ran on (cpu, gpu)",
            self.calls.clone(),
        );
        registry.register(
            "kernel_gpu_fallbacks",
            "Kernel calls whose GPU failed (out of memory, a launch error) and that ran on the CPU instead",
            self.fallbacks.clone(),
        );
        registry.register(
            "kernel_gpu_waits",
            "Kernel calls and render nodes that waited for GPU memory held by other calls and nodes",
            self.waits.clone(),
        );
        registry.register(
            "kernel_gpu_resident_bytes",
            "GPU memory the device pool holds for models that stay loaded, render nodes running and what model runtimes keep of unloaded models (libtorch's cache), by GPU",
            self.resident.clone(),
        );
        for device in ["cpu", "gpu"] {
            self.calls
                .get_or_create(&DeviceLabels {
                    device: device.to_owned(),
                })
                .inc_by(0);
        }
    }

    fn update(&self, now: kino_cuda::pool::Stats, resident: &[(usize, u64)]) {
        for (ordinal, bytes) in resident {
            self.resident
                .get_or_create(&DeviceLabels {
                    device: format!("cuda:{ordinal}"),
                })
                .set(i64::try_from(*bytes).unwrap_or(i64::MAX));
        }
        let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        let calls = |device: &str| {
            self.calls.get_or_create(&DeviceLabels {
                device: device.to_owned(),
            })
        };
        calls("cpu").inc_by(now.cpu_calls.saturating_sub(counted.cpu_calls));
        calls("gpu").inc_by(now.gpu_calls.saturating_sub(counted.gpu_calls));
        self.fallbacks
            .inc_by(now.fallbacks.saturating_sub(counted.fallbacks));
        self.waits.inc_by(now.waits.saturating_sub(counted.waits));
        *counted = now;
    }
}

/// The host's metrics. Cheap to clone: clones share the counters.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    jobs: Family<StateLabels, Gauge>,
    jobs_submitted: Counter,
    plugin_calls: Family<OutcomeLabels, Counter>,
    plugin_usage: PluginMetrics,
    models_loaded: Family<ModelLabels, Gauge>,
    kernels: KernelMetrics,
    sqlite_memory: Gauge,
    workers: WorkerMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `kino_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kino");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register("jobs", "Jobs in the store, by state", jobs.clone());
        let jobs_submitted = Counter::default();
        registry.register(
            "jobs_submitted",
            "Jobs submitted through the API",
            jobs_submitted.clone(),
        );
        let plugin_calls = Family::<OutcomeLabels, Counter>::default();
        let models_loaded = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "model_loaded_bytes",
            "Models loaded in memory (size estimated from their files), by model",
            models_loaded.clone(),
        );
        registry.register(
            "plugin_calls",
            "Plugin calls, by outcome (ok, plugin_error, trap)",
            plugin_calls.clone(),
        );
        let plugin_usage = PluginMetrics::default();
        plugin_usage.register(&mut registry);
        let workers = WorkerMetrics::default();
        workers.register(&mut registry);
        let kernels = KernelMetrics::default();
        kernels.register(&mut registry);
        let sqlite_memory = Gauge::default();
        registry.register_with_unit(
            "sqlite_memory",
            "Memory SQLite holds now (page caches, statements), all connections together",
            prometheus_client::registry::Unit::Bytes,
            sqlite_memory.clone(),
        );
        // Shown (at 0) before the first call, so dashboards find them.
        for outcome in ["ok", "plugin_error", "trap"] {
            plugin_calls
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc_by(0);
        }
        Self {
            registry: Arc::new(registry),
            requests,
            jobs,
            jobs_submitted,
            plugin_calls,
            plugin_usage,
            models_loaded,
            kernels,
            sqlite_memory,
            workers,
        }
    }

    /// Counts one plugin call that ended with `outcome` (`ok`, `plugin_error`, `trap`).
    pub fn plugin_call(&self, outcome: &str) {
        self.plugin_calls
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(super) fn job_submitted(&self) {
        self.jobs_submitted.inc();
    }

    fn set_job_states(&self, counts: &[(JobState, u64)]) {
        for state in [
            JobState::Pending,
            JobState::Running,
            JobState::Completed,
            JobState::Failed,
        ] {
            let count = counts
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            self.jobs
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Sets the loaded-models gauge to the models loaded now (one dropped
    /// from memory since disappears).
    fn set_models(&self, loaded: &[kino_models::LoadedModel]) {
        self.models_loaded.clear();
        for m in loaded {
            let kind = serde_json::to_value(m.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            self.models_loaded
                .get_or_create(&ModelLabels {
                    model: m.id.clone(),
                    kind,
                })
                .set(i64::try_from(m.bytes).unwrap_or(i64::MAX));
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> anyhow::Result<String> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Middleware counting each routed request by method, route template and status.
pub(super) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

pub(super) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let counts = state.store.job_state_counts().await?;
    state.metrics.set_job_states(&counts);
    let workers = state.store.list_workers().await?;
    let nodes = state.store.node_state_counts().await?;
    state.metrics.workers.update(&workers, &nodes);
    state
        .metrics
        .set_models(&state.jobs.executor().models().loaded());
    let devices = state.jobs.executor().devices();
    state
        .metrics
        .kernels
        .update(devices.stats(), &devices.resident());
    state
        .metrics
        .plugin_usage
        .update(&state.jobs.executor().runtime().usage());
    state
        .metrics
        .sqlite_memory
        .set(kino_store::sqlite_memory_used());
    let text = state.metrics.encode()?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resident_model_memory_is_a_gauge_per_gpu() {
        let metrics = Metrics::new();
        let stats = kino_cuda::pool::Stats::default();
        metrics.kernels.update(stats, &[(0, 3 << 30), (1, 0)]);
        let text = metrics.encode().unwrap();
        for line in [
            "kino_kernel_gpu_resident_bytes{device=\"cuda:0\"} 3221225472",
            "kino_kernel_gpu_resident_bytes{device=\"cuda:1\"} 0",
        ] {
            assert!(text.contains(line), "{text}");
        }
        // A model unloaded gives its room back on the next scrape.
        metrics.kernels.update(stats, &[(0, 0), (1, 0)]);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("kino_kernel_gpu_resident_bytes{device=\"cuda:0\"} 0"),
            "{text}"
        );
    }
}
