//! The per-invocation store data: what one plugin call may see and touch.

use std::collections::HashMap;
use std::sync::Arc;

use kino_registry::Origin;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{backend_types, host, types, v0_1};
use super::http::{Credential, InvalidCredential, Outbound};
use super::limits::Limits;
use super::log::{LogLine, LogSink, LogSource, TracingSink};
use super::media::OpenStreams;
use super::meter::CallReport;
use super::stdio::BoundedPipe;

/// Who is calling a plugin, and with what configuration.
///
/// A `CallCtx` is cheap to clone; build one per job (or per tenant binding)
/// and reuse it for every call. Defaults: tenant `"local"`, no job, empty
/// configuration, logs to `tracing`, outbound HTTP as the plugin's grant
/// allows (no narrowing), no credentials.
#[derive(Clone)]
pub struct CallCtx {
    tenant: Arc<str>,
    job: Option<Arc<str>>,
    config: Arc<HashMap<String, String>>,
    log: Arc<dyn LogSink>,
    outbound: Option<Arc<[Origin]>>,
    credentials: Arc<[Credential]>,
    on_report: Option<CallObserver>,
}

/// Receives each call's [`CallReport`].
type CallObserver = Arc<dyn Fn(&CallReport) + Send + Sync>;

impl std::fmt::Debug for CallCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config values may be tenant data and credentials are secrets:
        // show only their keys and origins.
        f.debug_struct("CallCtx")
            .field("tenant", &self.tenant)
            .field("job", &self.job)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("outbound", &self.outbound)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Default for CallCtx {
    fn default() -> Self {
        Self::new("local")
    }
}

impl CallCtx {
    /// A context for `tenant` with no job and no configuration.
    pub fn new(tenant: &str) -> Self {
        Self {
            tenant: tenant.into(),
            job: None,
            config: Arc::default(),
            log: Arc::new(TracingSink),
            outbound: None,
            credentials: Arc::from([]),
            on_report: None,
        }
    }

    /// Hands `observer` the [`CallReport`] of every call made with this
    /// context (time, fuel, peak memory, trap), as each call ends.
    pub fn with_call_observer(
        mut self,
        observer: impl Fn(&CallReport) + Send + Sync + 'static,
    ) -> Self {
        self.on_report = Some(Arc::new(observer));
        self
    }

    pub(crate) fn report(&self, report: &CallReport) {
        if let Some(observer) = &self.on_report {
            observer(report);
        }
    }

    /// Attributes the calls to `job`.
    pub fn with_job(mut self, job: &str) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The plugin's configuration for this tenant, as the `config` import answers it.
    pub fn with_config<K: Into<String>, V: Into<String>>(
        mut self,
        config: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config = Arc::new(
            config
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Sends the plugin's log lines (and its stdout/stderr) to `sink`.
    pub fn with_log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log = sink;
        self
    }

    /// Narrows the plugin's outbound grant for these calls: a request must
    /// match an origin of the plugin's grant *and* one of `origins`. Use it to
    /// give a tenant less than the operator granted the plugin; it can never
    /// give more. An empty list refuses every request.
    pub fn with_outbound(mut self, origins: impl IntoIterator<Item = Origin>) -> Self {
        self.outbound = Some(origins.into_iter().collect());
        self
    }

    /// Has the host set header `header` to `value` on every request these
    /// calls send to `origin`, replacing whatever the plugin set (for example
    /// `authorization: Bearer sk-...` for an OpenAI-compatible endpoint).
    ///
    /// The plugin never sees the value: it is not in its config, it is added
    /// after the request leaves the sandbox, and it is never logged. Fails
    /// if `header` is not a valid header name or `value` not a valid value.
    pub fn with_credential(
        mut self,
        origin: Origin,
        header: &str,
        value: &str,
    ) -> Result<Self, InvalidCredential> {
        let credential = Credential::new(origin, header, value)?;
        let mut credentials = self.credentials.to_vec();
        credentials.push(credential);
        self.credentials = credentials.into();
        Ok(self)
    }

    /// The narrowing set by [`CallCtx::with_outbound`], if any.
    pub fn outbound(&self) -> Option<&[Origin]> {
        self.outbound.as_deref()
    }

    pub(crate) fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// Sends a line about the plugin, from the host, with this call's attribution.
    pub(crate) fn host_log(&self, plugin: &Arc<str>, level: host::LogLevel, message: String) {
        self.log.log(LogLine {
            plugin: plugin.clone(),
            tenant: self.tenant.clone(),
            job: self.job.clone(),
            level,
            source: LogSource::Host,
            message,
        });
    }

    /// The tenant the call is made for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The job the call is made for, if any.
    pub fn job(&self) -> Option<&str> {
        self.job.as_deref()
    }
}

/// Caps linear memory growth and remembers whether the cap was hit, so a
/// failed `memory.grow` is reported as a memory-limit trap rather than as
/// whatever the guest's allocator does next.
pub(crate) struct MemoryCap {
    max_bytes: usize,
    /// The size the guest asked for when it was refused.
    pub(crate) refused: Option<usize>,
    /// The largest size any memory of the instance was granted.
    pub(crate) peak: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            wasmtime::bail!(
                "memory growth to {desired} bytes refused (cap {} bytes)",
                self.max_bytes
            );
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; nothing legitimate needs more.
        Ok(desired <= 100_000)
    }
}

/// The store data of one plugin invocation.
pub struct StageCtx {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: Outbound,
    table: ResourceTable,
    pub(crate) open_streams: OpenStreams,
    pub(crate) memory: MemoryCap,
    call: CallCtx,
    plugin: Arc<str>,
    log_lines_left: u32,
    log_dropped: u32,
    max_log_line: usize,
    pub(crate) stdout: BoundedPipe,
    pub(crate) stderr: BoundedPipe,
}

impl StageCtx {
    pub(crate) fn new(
        plugin: Arc<str>,
        limits: &Limits,
        call: &CallCtx,
        outbound: Outbound,
    ) -> Self {
        let stdout = BoundedPipe::new(limits.stdio_bytes);
        let stderr = BoundedPipe::new(limits.stdio_bytes);
        // Nothing ambient: no preopened directories, no environment, no
        // arguments, no network. Only stdout/stderr, captured and bounded.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_blocking_current_thread(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            outbound,
            table: ResourceTable::new(),
            open_streams: OpenStreams::default(),
            memory: MemoryCap {
                max_bytes: limits.memory_bytes,
                refused: None,
                peak: 0,
            },
            call: call.clone(),
            plugin,
            log_lines_left: limits.log_lines,
            log_dropped: 0,
            max_log_line: limits.log_line_bytes,
            stdout,
            stderr,
        }
    }

    /// The call's resource table (media handles, streams).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    fn emit(&self, level: host::LogLevel, source: LogSource, message: String) {
        self.call.log.log(LogLine {
            plugin: self.plugin.clone(),
            tenant: self.call.tenant.clone(),
            job: self.call.job.clone(),
            level,
            source,
            message,
        });
    }

    /// Forwards what the plugin wrote to stdout/stderr, and the count of
    /// dropped log lines, to the log sink. Called once the call is over.
    pub(crate) fn finish(&mut self) {
        for (pipe, level, source) in [
            (&self.stdout, host::LogLevel::Info, LogSource::Stdout),
            (&self.stderr, host::LogLevel::Warn, LogSource::Stderr),
        ] {
            let (text, dropped) = pipe.take();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                self.emit(level, source, line.to_owned());
            }
            if dropped > 0 {
                self.emit(
                    host::LogLevel::Warn,
                    source,
                    format!("{dropped} more bytes of output dropped"),
                );
            }
        }
        if self.log_dropped > 0 {
            self.emit(
                host::LogLevel::Warn,
                LogSource::Host,
                format!("{} more log lines dropped", self.log_dropped),
            );
        }
    }
}

impl WasiView for StageCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Only linked for plugins granted outbound hosts; every request goes
/// through the checks of [`super::http`].
impl WasiHttpView for StageCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl types::Host for StageCtx {}

impl host::Host for StageCtx {
    fn log(&mut self, level: host::LogLevel, mut message: String) {
        if self.log_lines_left == 0 {
            self.log_dropped = self.log_dropped.saturating_add(1);
            return;
        }
        self.log_lines_left -= 1;
        if message.len() > self.max_log_line {
            let mut cut = self.max_log_line;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [truncated]");
        }
        self.emit(level, LogSource::Plugin, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.call.config.get(&key).cloned()
    }
}

impl backend_types::Host for StageCtx {}

impl v0_1::kino::stage::types::Host for StageCtx {}

/// A plugin built against `kino:stage@0.1.0` reaches the same host.
impl v0_1::kino::stage::host::Host for StageCtx {
    fn log(&mut self, level: v0_1::kino::stage::host::LogLevel, message: String) {
        use v0_1::kino::stage::host::LogLevel as Old;
        let level = match level {
            Old::Debug => host::LogLevel::Debug,
            Old::Info => host::LogLevel::Info,
            Old::Warn => host::LogLevel::Warn,
            Old::Error => host::LogLevel::Error,
        };
        host::Host::log(self, level, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        host::Host::config(self, key)
    }
}
