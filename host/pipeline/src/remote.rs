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
use kino_store::{JobEvent, JobId, RemoteState, Store};

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

/// Where a remote job's progress is said while the host waits on it: the
/// job's events, as notes of its stage.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    /// The job.
    pub job: &'a JobId,
    /// The node (`render[2]`).
    pub stage: &'a str,
}

/// What has been said of a remote job's progress, so that a long job is
/// reported when it starts and at each quarter, not at every check.
#[derive(Debug, Default)]
struct Told {
    said: bool,
    quarter: Option<u8>,
}

impl Told {
    /// A note for the job's events, if `pending` says something new.
    fn note(&mut self, plugin: &str, pending: &Pending, checks: u32) -> Option<String> {
        let percent = pending
            .progress
            .filter(|p| p.is_finite())
            .map(|p| (p.clamp(0.0, 1.0) * 100.0).round() as u8);
        let quarter = percent.map(|p| p / 25);
        let news = !self.said || quarter.is_some_and(|q| q > 0 && Some(q) > self.quarter);
        self.said = true;
        self.quarter = self.quarter.max(quarter);
        news.then(|| {
            let at = percent.map_or_else(String::new, |p| format!(" at {p}%"));
            format!(
                "{plugin}: remote job {} pending{at} ({checks} checks)",
                pending.ticket
            )
        })
    }
}

impl Watch<'_> {
    async fn say(&self, store: &Store, note: String) {
        let event = JobEvent::StageNote {
            stage: self.stage.to_owned(),
            note,
        };
        if let Err(e) = store.append_event(self.job, &event).await {
            tracing::warn!(job = %self.job, "could not record a remote job's progress: {e:#}");
        }
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
///
/// With `watch`, a pending job is said in the job's events when it starts
/// (or is resumed) and as its progress passes each quarter.
#[allow(clippy::too_many_arguments)]
pub async fn drive<T, P, S, C, F>(
    store: &Store,
    plugin: &str,
    key: &str,
    backoff: Backoff,
    watch: Option<Watch<'_>>,
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
    let mut told = Told::default();
    let ticket = match store.remote_job(key).await? {
        Some(job) if job.plugin == plugin && job.state == RemoteState::Pending => {
            tracing::info!(key, ticket = %job.ticket, "resuming a remote job");
            driven.resumed = true;
            if let Some(watch) = &watch {
                told.said = true;
                let note = format!(
                    "{plugin}: remote job {} resumed (started by an earlier attempt)",
                    job.ticket
                );
                watch.say(store, note).await;
            }
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
                if let (Some(watch), Some(note)) = (&watch, told.note(plugin, &pending, 0)) {
                    watch.say(store, note).await;
                }
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
                        if let (Some(watch), Some(note)) =
                            (&watch, told.note(plugin, &pending, driven.checks))
                        {
                            watch.say(store, note).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(progress: Option<f32>) -> Pending {
        Pending {
            ticket: "p1".into(),
            progress,
            check_after_ms: 0,
        }
    }

    #[test]
    fn progress_is_told_at_the_start_and_each_quarter() {
        let mut told = Told::default();
        let said = |told: &mut Told, p, checks| told.note("x@1", &pending(p), checks);
        assert_eq!(
            said(&mut told, None, 0).as_deref(),
            Some("x@1: remote job p1 pending (0 checks)")
        );
        assert_eq!(said(&mut told, None, 1), None);
        assert_eq!(
            said(&mut told, Some(0.1), 2),
            None,
            "still the first quarter"
        );
        assert_eq!(
            said(&mut told, Some(0.3), 3).as_deref(),
            Some("x@1: remote job p1 pending at 30% (3 checks)")
        );
        assert_eq!(said(&mut told, Some(0.4), 4), None);
        assert_eq!(
            said(&mut told, Some(0.2), 5),
            None,
            "a step back says nothing"
        );
        assert!(said(&mut told, Some(1.0), 6).is_some_and(|n| n.contains("100%")));
        assert_eq!(said(&mut told, Some(f32::NAN), 7), None);
    }
}
