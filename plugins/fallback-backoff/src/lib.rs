//! `kino-fallback-backoff`: the reference `fallback-policy` plugin.
//!
//! For a retryable failure it retries with exponential backoff and jitter,
//! up to `max-retries` attempts. Once retries are spent (or the failure is
//! not retryable) it switches to the configured `alternative` plugin, if
//! that is not the plugin that just failed; otherwise it degrades or fails,
//! as `on-exhausted` says. An `alternative` of `backup` switches to the
//! tenant's backup binding of the failed stage's slot (`<slot>-backup`,
//! with its own config and grants: Veo, then Gemini on the same API), once.
//!
//! Configuration (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `max-retries` | 3 | retries of a retryable failure before giving up on the plugin |
//! | `base-delay-ms` | 200 | delay before the first retry |
//! | `max-delay-ms` | 10000 | cap on any one delay |
//! | `alternative` | — | plugin to switch to, as `name` or `name@requirement`; or `backup`, the slot's backup binding |
//! | `on-exhausted` | `fail` | `fail` or `degrade` once nothing else is left |
//!
//! The jitter is derived from the failure itself (stage, plugin, attempt), so
//! the same failure always gets the same decision.

use kino_plugin_sdk::{Decision, Failure, FallbackPolicy, PluginError, config, config_parsed};

/// The policy's settings, read from the tenant's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Retries of a retryable failure before giving up on the plugin.
    pub max_retries: u32,
    /// Delay before the first retry, in milliseconds.
    pub base_delay_ms: u64,
    /// Cap on any one delay, in milliseconds.
    pub max_delay_ms: u64,
    /// The plugin to switch to once retries are spent.
    pub alternative: Option<String>,
    /// Degrade (true) or fail (false) once nothing else is left.
    pub degrade_when_exhausted: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay_ms: 200,
            max_delay_ms: 10_000,
            alternative: None,
            degrade_when_exhausted: false,
        }
    }
}

impl Policy {
    fn from_config() -> Result<Self, PluginError> {
        let defaults = Policy::default();
        let degrade_when_exhausted = match config("on-exhausted").as_deref().map(str::trim) {
            None | Some("fail") => false,
            Some("degrade") => true,
            Some(other) => {
                return Err(PluginError::invalid_input(format!(
                    "config `on-exhausted` must be `fail` or `degrade`, not `{other}`"
                )));
            }
        };
        Ok(Self {
            max_retries: config_parsed("max-retries", defaults.max_retries)?,
            base_delay_ms: config_parsed("base-delay-ms", defaults.base_delay_ms)?,
            max_delay_ms: config_parsed("max-delay-ms", defaults.max_delay_ms)?,
            alternative: config("alternative")
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty()),
            degrade_when_exhausted,
        })
    }

    /// What to do about `failure` under this policy.
    pub fn decide(&self, failure: &Failure) -> Decision {
        if failure.retryable && failure.attempt <= self.max_retries {
            return Decision::RetryAfterMs(self.delay_ms(failure));
        }
        if let Some(alternative) = &self.alternative
            && !is_running(alternative, &failure.plugin)
        {
            return Decision::SwitchTo(alternative.clone());
        }
        let why = if failure.retryable {
            format!(
                "stage `{}` failed {} times with {}: {}",
                failure.stage, failure.attempt, failure.plugin, failure.error
            )
        } else {
            format!(
                "stage `{}` failed with {} (not retryable): {}",
                failure.stage, failure.plugin, failure.error
            )
        };
        if self.degrade_when_exhausted {
            Decision::Degrade(why)
        } else {
            Decision::Fail(why)
        }
    }

    /// Exponential backoff with "equal jitter": half the delay is fixed, the
    /// other half is spread by a hash of the failure.
    pub fn delay_ms(&self, failure: &Failure) -> u64 {
        let exponent = failure.attempt.saturating_sub(1).min(32);
        let full = self
            .base_delay_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_delay_ms);
        let half = full / 2;
        let spread = full - half;
        let jitter = if spread == 0 {
            0
        } else {
            fnv1a(&[
                failure.stage.as_bytes(),
                failure.plugin.as_bytes(),
                &failure.attempt.to_le_bytes(),
            ]) % (spread + 1)
        };
        half + jitter
    }
}

/// Whether `alternative` is what just failed: the plugin of that name, or
/// for `backup`, the slot's backup binding (which the host names
/// `name@version+backup`).
fn is_running(alternative: &str, failed: &str) -> bool {
    if alternative.trim() == BACKUP {
        failed.ends_with(&format!("+{BACKUP}"))
    } else {
        plugin_name(alternative) == plugin_name(failed)
    }
}

/// What `switch-to` names to run a stage with its slot's backup binding.
const BACKUP: &str = "backup";

/// The name part of `name@version` or `name@requirement`.
fn plugin_name(id: &str) -> &str {
    id.split('@').next().unwrap_or(id).trim()
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

struct Backoff;

impl FallbackPolicy for Backoff {
    fn decide(failure: Failure) -> Decision {
        match Policy::from_config() {
            Ok(policy) => policy.decide(&failure),
            Err(error) => Decision::Fail(format!("fallback policy misconfigured: {error}")),
        }
    }
}

kino_plugin_sdk::export_fallback_policy!(Backoff);

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(attempt: u32, retryable: bool) -> Failure {
        Failure {
            stage: "translate".into(),
            plugin: "kino-translator-http@1.0.0".into(),
            attempt,
            error: "rate limited".into(),
            retryable,
            elapsed_ms: 40,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = Policy {
            max_delay_ms: 1000,
            ..Policy::default()
        };
        let delays: Vec<u64> = (1..=6)
            .map(|a| policy.delay_ms(&failure(a, true)))
            .collect();
        for (attempt, delay) in (1..=6u32).zip(&delays) {
            let full = (200u64 << (attempt - 1)).min(1000);
            assert!(
                (full / 2..=full).contains(delay),
                "attempt {attempt}: {delay}"
            );
        }
        assert_eq!(
            delays,
            (1..=6)
                .map(|a| policy.delay_ms(&failure(a, true)))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn retries_then_switches_then_fails() {
        let policy = Policy {
            alternative: Some("kino-translator-phrasebook".into()),
            ..Policy::default()
        };
        assert!(matches!(
            policy.decide(&failure(3, true)),
            Decision::RetryAfterMs(_)
        ));
        assert_eq!(
            policy.decide(&failure(4, true)),
            Decision::SwitchTo("kino-translator-phrasebook".into())
        );
        let mut on_alternative = failure(1, false);
        on_alternative.plugin = "kino-translator-phrasebook@0.1.0".into();
        assert!(matches!(policy.decide(&on_alternative), Decision::Fail(_)));
        let degrading = Policy {
            degrade_when_exhausted: true,
            ..Policy::default()
        };
        assert!(matches!(
            degrading.decide(&failure(1, false)),
            Decision::Degrade(_)
        ));
    }

    #[test]
    fn switches_to_the_backup_binding_once_then_degrades() {
        let policy = Policy {
            alternative: Some("backup".into()),
            degrade_when_exhausted: true,
            ..Policy::default()
        };
        assert_eq!(
            policy.decide(&failure(1, false)),
            Decision::SwitchTo("backup".into())
        );
        let mut on_backup = failure(2, false);
        on_backup.plugin = "kino-translator-http@1.0.0+backup".into();
        assert!(matches!(policy.decide(&on_backup), Decision::Degrade(_)));
        // The same plugin by name is no reason not to: the backup binding
        // configures it apart (another model, another account).
        let mut same_name = failure(4, true);
        same_name.plugin = "kino-translator-http@1.0.0".into();
        assert_eq!(
            policy.decide(&same_name),
            Decision::SwitchTo("backup".into())
        );
    }
}
