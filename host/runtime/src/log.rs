//! Where plugin log lines go: attributed to plugin, tenant and job.

use std::sync::{Arc, Mutex};

use super::bindings::host::LogLevel;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// The plugin called the `log` import.
    Plugin,
    /// The plugin wrote to stdout.
    Stdout,
    /// The plugin wrote to stderr (a panic message lands here).
    Stderr,
    /// The host, about the plugin (dropped lines, for example).
    Host,
}

/// One line a plugin logged, with who it is attributed to.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// The plugin, as `name@version`.
    pub plugin: Arc<str>,
    /// The tenant the call was made for.
    pub tenant: Arc<str>,
    /// The job the call was made for, if any.
    pub job: Option<Arc<str>>,
    /// How important the line is.
    pub level: LogLevel,
    /// Where it came from.
    pub source: LogSource,
    /// The text, already bounded by the host.
    pub message: String,
}

/// Receives plugin log lines. Implementations must be cheap: they run on the call path.
pub trait LogSink: Send + Sync {
    /// Takes one line.
    fn log(&self, line: LogLine);
}

/// The default sink: `tracing` events with plugin, tenant and job fields.
pub struct TracingSink;

impl LogSink for TracingSink {
    fn log(&self, line: LogLine) {
        let job = line.job.as_deref().unwrap_or("-");
        let (plugin, tenant, source) = (&*line.plugin, &*line.tenant, line.source);
        let message = &line.message;
        match line.level {
            LogLevel::Debug => {
                tracing::debug!(plugin, tenant, job, ?source, "{message}")
            }
            LogLevel::Info => tracing::info!(plugin, tenant, job, ?source, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, tenant, job, ?source, "{message}"),
            LogLevel::Error => {
                tracing::error!(plugin, tenant, job, ?source, "{message}")
            }
        }
    }
}

/// A sink that keeps every line, for tests and for callers that persist logs themselves.
#[derive(Default)]
pub struct MemorySink {
    lines: Mutex<Vec<LogLine>>,
}

impl MemorySink {
    /// Every line received so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl LogSink for MemorySink {
    fn log(&self, line: LogLine) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }
}
