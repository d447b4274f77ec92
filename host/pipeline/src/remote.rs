//! Driving a backend plugin's remote job to its end.
//!
//! A backend world's call answers `done` or `pending` with a ticket. The
//! host records the ticket in the store under the work's key before it
//! checks on the job, then checks with backoff until the job is done. A
//! host that dies meanwhile (or an attempt that fails on a transient error)
//! leaves the ticket `pending`: the next attempt at the same work, here or
//! on another host, checks the same remote job instead of submitting it
//! again.

use std::future::Future;
use std::time::{Duration, Instant};

use kino_runtime::CallResult;
use kino_runtime::backend_types::{
    Pending, SpeechAudio, SpeechProgress, TranscribeProgress, Transcript, VideoInfo, VideoProgress,
};
use kino_runtime::types::PluginError;
use kino_store::{RemoteState, Store};

use crate::ops::{OpError, plugin_answer};

/// A backend's answer, whichever world it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<T> {
    /// The result.
    Done(T),
    /// Still working.
    Pending(Pending),
}

impl From<TranscribeProgress> for Progress<Transcript> {
    fn from(p: TranscribeProgress) -> Self {
        match p {
            TranscribeProgress::Done(t) => Progress::Done(t),
            TranscribeProgress::Pending(p) => Progress::Pending(p),
        }
    }
}

impl From<SpeechProgress> for Progress<SpeechAudio> {
    fn from(p: SpeechProgress) -> Self {
        match p {
            SpeechProgress::Done(t) => Progress::Done(t),
            SpeechProgress::Pending(p) => Progress::Pending(p),
        }
    }
}

impl From<VideoProgress> for Progress<VideoInfo> {
    fn from(p: VideoProgress) -> Self {
        match p {
            VideoProgress::Done(t) => Progress::Done(t),
            VideoProgress::Pending(p) => Progress::Pending(p),
        }
    }
}

/// How often, and for how long, a pending job is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait, when the backend names none.
    pub first: Duration,
    /// The longest wait between two checks.
    pub max: Duration,
    /// How long, from the first check, to wait for the job at all.
    pub give_up_after: Duration,
    /// How many transient failures (`unavailable`, a trap) of checks in a
    /// row are tolerated before the attempt fails (the ticket is kept).
    pub transient_failures: u32,
}

impl Default for Backoff {
    /// One second doubling up to thirty, for an hour; five transient
    /// failures in a row.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            give_up_after: Duration::from_secs(3600),
            transient_failures: 5,
        }
    }
}

/// What became of a remote job, for the job's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driven {
    /// The ticket, when the backend answered `pending` at least once.
    pub ticket: Option<String>,
    /// Whether the ticket came from an earlier attempt (resumed, not submitted).
    pub resumed: bool,
    /// How many checks this attempt made.
    pub checks: u32,
}

impl Driven {
    /// A line for the job's events, or `None` for a backend that answered at once.
    pub fn note(&self, plugin: &str) -> Option<String> {
        let ticket = self.ticket.as_ref()?;
        let how = if self.resumed { "resumed" } else { "submitted" };
        Some(format!(
            "{plugin}: remote job {ticket} {how}, done after {} checks",
            self.checks
        ))
    }
}

/// Runs the work `key` on `plugin` (its id, `name@version`): resumes the
/// pending remote job recorded for `key` by the same plugin, else calls
/// `submit`; then `check`s a pending job until it is done.
///
/// A plugin error while checking ends the remote job as failed (the next
/// attempt submits afresh), except `unavailable` and `rate-limited`, which
/// wait and check again, as do traps, up to [`Backoff::transient_failures`]
/// in a row; past those, or past [`Backoff::give_up_after`], the attempt
/// fails retryably and the ticket stays for the next attempt.
pub async fn drive<T, P, S, C, F>(
    store: &Store,
    plugin: &str,
    key: &str,
    backoff: Backoff,
    submit: S,
    mut check: C,
) -> Result<(T, Driven), OpError>
where
    P: Into<Progress<T>>,
    S: AsyncFnOnce() -> CallResult<P>,
    C: FnMut(String) -> F,
    F: Future<Output = CallResult<P>>,
{
    let mut driven = Driven {
        ticket: None,
        resumed: false,
        checks: 0,
    };
    let mut wait = backoff.first;
    let ticket = match store.remote_job(key).await? {
        Some(job) if job.plugin == plugin && job.state == RemoteState::Pending => {
            tracing::info!(key, ticket = %job.ticket, "resuming a remote job");
            driven.resumed = true;
            job.ticket
        }
        // Nothing to resume: errors end the attempt (the fallback policy
        // decides about retrying), as for any plugin call.
        _ => match plugin_answer("submitting", submit().await)?.into() {
            Progress::Done(value) => return Ok((value, driven)),
            Progress::Pending(pending) => {
                store
                    .record_remote_job(key, plugin, &pending.ticket)
                    .await?;
                wait = pause(&pending, backoff.first, backoff.max);
                tokio::time::sleep(wait).await;
                pending.ticket
            }
        },
    };
    driven.ticket = Some(ticket.clone());
    let started = Instant::now();
    let mut ticket = ticket;
    let mut transient = 0;
    loop {
        driven.checks += 1;
        store.remote_job_checked(key).await?;
        let kept = |error: Result<T, OpError>, transient: u32, ticket: &str| {
            let mut error = error.err().unwrap_or_else(|| OpError {
                message: "checking the remote job failed".into(),
                retryable: true,
                plugin_outcome: Some("plugin_error"),
            });
            error.message = format!(
                "{} ({transient} failed checks in a row; remote job {ticket} is kept for the next attempt)",
                error.message
            );
            error
        };
        match check(ticket.clone()).await {
            Ok(Ok(progress)) => {
                transient = 0;
                match progress.into() {
                    Progress::Done(value) => {
                        store.finish_remote_job(key, None).await?;
                        return Ok((value, driven));
                    }
                    Progress::Pending(pending) => {
                        if pending.ticket != ticket {
                            // The backend moved the job (a retry on its side).
                            store
                                .record_remote_job(key, plugin, &pending.ticket)
                                .await?;
                            ticket.clone_from(&pending.ticket);
                            driven.ticket = Some(pending.ticket.clone());
                        }
                        wait = pause(&pending, wait.mul_f32(1.5), backoff.max);
                    }
                }
            }
            Ok(Err(PluginError::RateLimited(limit))) if transient < backoff.transient_failures => {
                transient += 1;
                wait = Duration::from_millis(limit.retry_after_ms).min(backoff.max);
            }
            Ok(Err(PluginError::Unavailable(_))) if transient < backoff.transient_failures => {
                transient += 1;
                wait = (wait * 2).min(backoff.max);
            }
            Err(trap) if trap.is_retryable() && transient < backoff.transient_failures => {
                transient += 1;
                wait = (wait * 2).min(backoff.max);
            }
            Ok(Err(error @ (PluginError::InvalidInput(_) | PluginError::Internal(_)))) => {
                // The backend says the job failed: the next attempt starts afresh.
                let message = format!("remote job {ticket} failed: {error}");
                store.finish_remote_job(key, Some(&message)).await?;
                return Err(
                    plugin_answer::<T>(&format!("remote job {ticket}"), Ok(Err(error)))
                        .err()
                        .unwrap_or_else(|| kept(Err(transient_error()), transient, &ticket)),
                );
            }
            Ok(Err(error)) => {
                let error = plugin_answer::<T>("checking", Ok(Err(error)));
                return Err(kept(error, transient, &ticket));
            }
            Err(trap) => {
                let error = plugin_answer::<T>("checking", Err(trap));
                return Err(kept(error, transient, &ticket));
            }
        }
        if started.elapsed() >= backoff.give_up_after {
            return Err(OpError {
                message: format!(
                    "remote job {ticket} was still pending after {} s; it is kept for the next attempt",
                    backoff.give_up_after.as_secs()
                ),
                retryable: true,
                plugin_outcome: Some("plugin_error"),
            });
        }
        tokio::time::sleep(wait).await;
    }
}

fn transient_error() -> OpError {
    OpError {
        message: "checking the remote job failed".into(),
        retryable: true,
        plugin_outcome: Some("plugin_error"),
    }
}

/// How long to wait before the next check: what the backend asked for,
/// else `ours`, never past `max`.
fn pause(pending: &Pending, ours: Duration, max: Duration) -> Duration {
    match pending.check_after_ms {
        0 => ours.min(max),
        ms => Duration::from_millis(u64::from(ms)).min(max),
    }
}
