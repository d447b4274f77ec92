//! What one plugin call may use.

use std::time::Duration;

/// The limits every call of a plugin runs under.
///
/// Defaults: 64 MiB of linear memory, a 2 s deadline, 10^10 units of fuel,
/// 16 MiB of returned data, 256 log lines of at most 4 KiB, and 16 KiB each
/// of stdout and stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// The wall-clock deadline of one call, instantiation included.
    pub timeout: Duration,
    /// The fuel one call may burn (wasm instructions, roughly), instantiation
    /// included: a deterministic budget, where the deadline depends on the machine.
    pub fuel: u64,
    /// The most data a call may return, in bytes (strings and lists counted by their size).
    pub max_output_bytes: usize,
    /// The most `log` lines one call may write; the rest are dropped and counted.
    pub log_lines: u32,
    /// The longest log line kept, in bytes; longer lines are cut.
    pub log_line_bytes: usize,
    /// How much of stdout and of stderr is kept per call; the rest is dropped and counted.
    pub stdio_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(2),
            fuel: kino_registry::DEFAULT_FUEL,
            max_output_bytes: 16 << 20,
            log_lines: 256,
            log_line_bytes: 4096,
            stdio_bytes: 16 << 10,
        }
    }
}

impl Limits {
    /// These limits with a different memory cap.
    pub fn with_memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// These limits with a different deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// These limits with a different fuel budget.
    pub fn with_fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// These limits with a different cap on returned data.
    pub fn with_max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }
}
