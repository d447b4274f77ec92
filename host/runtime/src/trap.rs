//! How a plugin call can end other than with the plugin's own answer.

use std::time::Duration;

use super::ctx::StageCtx;
use super::limits::Limits;

/// A call the sandbox stopped, or could not start. The plugin's own errors are
/// not traps: they come back as the inner `Err(PluginError)`.
///
/// After a trap the instance and its store are thrown away; the plugin serves
/// the next call from a fresh instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    /// The call ran past its deadline and was interrupted.
    #[error("plugin ran past its {}ms deadline", limit.as_millis())]
    Deadline {
        /// The deadline it had.
        limit: Duration,
    },
    /// The plugin tried to grow its memory past its cap.
    #[error("plugin tried to grow its memory to {requested} bytes, past its cap of {limit} bytes")]
    MemoryLimit {
        /// The cap, in bytes.
        limit: usize,
        /// The size it asked for, in bytes.
        requested: usize,
    },
    /// The plugin burned its whole fuel budget.
    #[error("plugin burned its whole fuel budget of {limit} units")]
    Fuel {
        /// The budget it had.
        limit: u64,
    },
    /// The plugin panicked (or otherwise reached `unreachable`).
    #[error("plugin panicked: {message}")]
    Panic {
        /// The panic message from the plugin's stderr, if it wrote one.
        message: String,
    },
    /// The plugin recursed past the wasm stack limit.
    #[error("plugin overflowed its stack")]
    StackOverflow,
    /// The plugin returned more data than the host accepts.
    #[error("plugin returned {bytes} bytes, more than the {limit}-byte output cap")]
    OutputTooLarge {
        /// How much it returned.
        bytes: usize,
        /// The cap.
        limit: usize,
    },
    /// Any other wasm trap: an out-of-bounds access, a division by zero, a bad cast.
    #[error("plugin crashed: {0}")]
    Crash(String),
    /// The host could not run the call (for example, no free instance slot).
    #[error("host could not run the plugin: {0}")]
    Host(String),
}

impl Trap {
    /// Whether running the same call again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Trap::Deadline { .. } | Trap::Host(_))
    }

    /// Every kind [`Trap::kind`] answers, for metrics shown before the first trap.
    pub const KINDS: [&'static str; 8] = [
        "deadline",
        "memory-limit",
        "fuel",
        "panic",
        "stack-overflow",
        "output-too-large",
        "crash",
        "host",
    ];

    /// A short, stable name for metrics and records: `deadline`, `memory-limit`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Trap::Deadline { .. } => "deadline",
            Trap::MemoryLimit { .. } => "memory-limit",
            Trap::Fuel { .. } => "fuel",
            Trap::Panic { .. } => "panic",
            Trap::StackOverflow => "stack-overflow",
            Trap::OutputTooLarge { .. } => "output-too-large",
            Trap::Crash(_) => "crash",
            Trap::Host(_) => "host",
        }
    }
}

/// Raised by the epoch callback once a call's wall-clock deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub(crate) struct DeadlineExceeded;

/// Turns the error a call ended with into the trap it stands for.
pub(crate) fn classify(error: wasmtime::Error, ctx: &StageCtx, limits: &Limits) -> Trap {
    if error.is::<DeadlineExceeded>() {
        return Trap::Deadline {
            limit: limits.timeout,
        };
    }
    if let Some(requested) = ctx.memory.refused {
        return Trap::MemoryLimit {
            limit: limits.memory_bytes,
            requested,
        };
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => Trap::Deadline {
            limit: limits.timeout,
        },
        Some(wasmtime::Trap::OutOfFuel) => Trap::Fuel { limit: limits.fuel },
        Some(wasmtime::Trap::StackOverflow) => Trap::StackOverflow,
        Some(wasmtime::Trap::UnreachableCodeReached) => Trap::Panic {
            message: panic_message(&ctx.stderr.peek()),
        },
        Some(other) => Trap::Crash(other.to_string()),
        None => Trap::Host(format!("{error:#}")),
    }
}

/// Picks the panic line out of what Rust's panic handler wrote to stderr.
fn panic_message(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("panicked at"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()));
    match line {
        Some(line) => {
            // Rust prints "thread '<unnamed>' panicked at src/lib.rs:3:5:" and
            // the message on the next line; keep both when present.
            let mut lines = stderr.lines().skip_while(|l| *l != line);
            let first = lines.next().unwrap_or_default().trim();
            match lines.next() {
                Some(next) if first.ends_with(':') => format!("{first} {}", next.trim()),
                _ => first.to_owned(),
            }
        }
        None => "reached unreachable code (no message on stderr)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_keeps_location_and_message() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with RUST_BACKTRACE=1\n";
        assert_eq!(
            panic_message(stderr),
            "thread '<unnamed>' panicked at src/lib.rs:3:5: boom"
        );
        assert_eq!(
            panic_message(""),
            "reached unreachable code (no message on stderr)"
        );
    }
}
