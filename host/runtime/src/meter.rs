//! What plugin calls cost: each call's [`CallReport`], and per plugin the
//! running totals that `/metrics` shows.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What one plugin call used, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    /// The plugin, as `name@version`.
    pub plugin: Arc<str>,
    /// Wall-clock time, instantiation included.
    pub wall: Duration,
    /// The fuel burned, instantiation included.
    pub fuel: u64,
    /// The most linear memory the instance had at once, in bytes.
    pub peak_memory_bytes: usize,
    /// The trap's kind ([`crate::Trap::kind`]) when the sandbox stopped the call.
    pub trap: Option<&'static str>,
}

/// One plugin's calls since the runtime started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginUsage {
    /// Calls made, whatever their outcome.
    pub calls: u64,
    /// Calls the sandbox stopped, by trap kind.
    pub traps: BTreeMap<&'static str, u64>,
    /// Fuel burned by all calls.
    pub fuel: u64,
    /// Wall-clock time of all calls, in seconds.
    pub seconds: f64,
}

/// The runtime's per-plugin totals.
#[derive(Default)]
pub(crate) struct Meter {
    by_plugin: Mutex<BTreeMap<Arc<str>, PluginUsage>>,
}

impl Meter {
    pub(crate) fn record(&self, report: &CallReport) {
        let mut totals = self
            .by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let usage = totals.entry(report.plugin.clone()).or_default();
        usage.calls += 1;
        usage.fuel = usage.fuel.saturating_add(report.fuel);
        usage.seconds += report.wall.as_secs_f64();
        if let Some(kind) = report.trap {
            *usage.traps.entry(kind).or_default() += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, PluginUsage)> {
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(plugin, usage)| (plugin.to_string(), usage.clone()))
            .collect()
    }
}
