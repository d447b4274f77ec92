//! What plugin calls cost: each call's [`CallReport`], and per plugin the
//! running totals that `/metrics` shows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::Trap;

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

/// One plugin's running totals. Every load of the same plugin shares them,
/// and a call adds to them with a few relaxed atomic adds: no lock and no
/// lookup on the call path.
#[derive(Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    fuel: AtomicU64,
    nanos: AtomicU64,
    traps: [AtomicU64; Trap::KINDS.len()],
}

impl Counters {
    pub(crate) fn record(&self, report: &CallReport) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.fuel.fetch_add(report.fuel, Ordering::Relaxed);
        let nanos = u64::try_from(report.wall.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(i) = report
            .trap
            .and_then(|kind| Trap::KINDS.iter().position(|k| *k == kind))
        {
            self.traps[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn usage(&self) -> PluginUsage {
        PluginUsage {
            calls: self.calls.load(Ordering::Relaxed),
            traps: Trap::KINDS
                .iter()
                .zip(&self.traps)
                .map(|(kind, n)| (*kind, n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            fuel: self.fuel.load(Ordering::Relaxed),
            seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// The runtime's per-plugin totals, by plugin id.
#[derive(Default)]
pub(crate) struct Meter {
    by_plugin: Mutex<BTreeMap<Arc<str>, Arc<Counters>>>,
}

impl Meter {
    /// The counters of plugin `id`, created on its first load.
    pub(crate) fn counters(&self, id: &Arc<str>) -> Arc<Counters> {
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .clone()
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, PluginUsage)> {
        self.by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(plugin, counters)| (plugin.to_string(), counters.usage()))
            .collect()
    }
}
