//! {{name}}: a fallback policy. Retries what may pass on its own, up to
//! `retries` times with a growing delay, then degrades the stage.

use kino_plugin_sdk::{Decision, Failure, FallbackPolicy, config_parsed, log};

struct Plugin;

impl FallbackPolicy for Plugin {
    fn decide(failure: Failure) -> Decision {
        let retries: u32 = config_parsed("retries", 2).unwrap_or(2);
        if failure.retryable && failure.attempt <= retries {
            let delay = 250u64 << failure.attempt.min(6);
            log::info(&format!("{} failed; retrying in {delay} ms", failure.stage));
            return Decision::RetryAfterMs(delay);
        }
        Decision::Degrade(format!("{} failed {} times: {}", failure.plugin, failure.attempt, failure.error))
    }
}

kino_plugin_sdk::export_fallback_policy!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(attempt: u32, retryable: bool) -> Failure {
        Failure {
            stage: "translate".into(),
            plugin: "p@1.0.0".into(),
            attempt,
            error: "503".into(),
            retryable,
            elapsed_ms: 10,
        }
    }

    #[test]
    fn retries_then_degrades() {
        assert_eq!(Plugin::decide(failure(1, true)), Decision::RetryAfterMs(500));
        assert!(matches!(Plugin::decide(failure(3, true)), Decision::Degrade(_)));
        assert!(matches!(Plugin::decide(failure(1, false)), Decision::Degrade(_)));
    }
}
