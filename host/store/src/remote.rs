//! Jobs that plugins started on remote backends, by the work's key.
//!
//! A backend world's call answers `pending` with the backend's ticket (a
//! prediction id). The host records it here *before* it checks on the job,
//! so a host that dies while a remote clip renders resumes checking the
//! same remote job after a restart rather than starting (and paying for)
//! it again:
//!
//! ```text
//! (none) --record--> pending --finish(ok)----> done
//!                       |    --finish(error)-> failed
//! ```
//!
//! A ticket belongs to the plugin that issued it: another plugin (a new
//! version, a different backend) asked for the same work starts afresh.

use anyhow::Context as _;

use crate::{Dialect as _, Store, now_ms, parse_column};

/// Where a remote job stands, as the host last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    /// Started and not yet finished: check it with its ticket.
    Pending,
    /// Finished; its result was stored as the work's output.
    Done,
    /// Finished with an error.
    Failed,
}

impl RemoteState {
    fn as_str(self) -> &'static str {
        match self {
            RemoteState::Pending => "pending",
            RemoteState::Done => "done",
            RemoteState::Failed => "failed",
        }
    }
}

/// A `remote_jobs.state` the store does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown remote job state `{0}`")]
pub struct UnknownRemoteState(String);

impl std::str::FromStr for RemoteState {
    type Err = UnknownRemoteState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(RemoteState::Pending),
            "done" => Ok(RemoteState::Done),
            "failed" => Ok(RemoteState::Failed),
            other => Err(UnknownRemoteState(other.to_owned())),
        }
    }
}

/// A remote job as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJob {
    /// The work's key (the node's cache key).
    pub key: String,
    /// The plugin that started it, `name@version`.
    pub plugin: String,
    /// The backend's name for the job.
    pub ticket: String,
    /// Where it stands.
    pub state: RemoteState,
    /// How many times the host has checked on it.
    pub checks: i64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// When it was recorded (ms since the epoch).
    pub created_at: i64,
    /// When it was last checked or finished (ms since the epoch).
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct RemoteRow {
    work_key: String,
    plugin: String,
    ticket: String,
    state: String,
    checks: i64,
    error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RemoteRow> for RemoteJob {
    type Error = anyhow::Error;

    fn try_from(row: RemoteRow) -> anyhow::Result<Self> {
        Ok(Self {
            key: row.work_key,
            plugin: row.plugin,
            ticket: row.ticket,
            state: parse_column("remote_jobs.state", &row.state)?,
            checks: row.checks,
            error: row.error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl Store {
    /// The remote job recorded for the work `key`, if any.
    pub async fn remote_job(&self, key: &str) -> anyhow::Result<Option<RemoteJob>> {
        let row = with_pool!(self, |pool| sqlx::query_as::<_, RemoteRow>(pool.sql(
            "SELECT work_key, plugin, ticket, state, checks, error, created_at, updated_at \
             FROM remote_jobs WHERE work_key = ?"
        ))
        .bind(key)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading the remote job of {key}"))?;
        row.map(RemoteJob::try_from).transpose()
    }

    /// Records that `plugin` started the work `key` as the backend's job
    /// `ticket`, replacing what was recorded for the key before (a job that
    /// failed, or one another plugin held).
    pub async fn record_remote_job(
        &self,
        key: &str,
        plugin: &str,
        ticket: &str,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO remote_jobs (work_key, plugin, ticket, state, checks, error, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 0, NULL, ?, ?) \
             ON CONFLICT (work_key) DO UPDATE SET plugin = excluded.plugin, \
             ticket = excluded.ticket, state = excluded.state, checks = 0, error = NULL, \
             created_at = excluded.created_at, updated_at = excluded.updated_at"
        ))
        .bind(key)
        .bind(plugin)
        .bind(ticket)
        .bind(RemoteState::Pending.as_str())
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))
        .with_context(|| format!("recording remote job {ticket} of {key}"))?;
        Ok(())
    }

    /// Counts one more check of the pending remote job of `key`.
    pub async fn remote_job_checked(&self, key: &str) -> anyhow::Result<()> {
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE remote_jobs SET checks = checks + 1, updated_at = ? \
             WHERE work_key = ? AND state = ?"
        ))
        .bind(now_ms())
        .bind(key)
        .bind(RemoteState::Pending.as_str())
        .execute(pool)
        .await
        .map(drop))
        .with_context(|| format!("counting a check of the remote job of {key}"))?;
        Ok(())
    }

    /// Records that the remote job of `key` finished: done, or failed with `error`.
    pub async fn finish_remote_job(&self, key: &str, error: Option<&str>) -> anyhow::Result<()> {
        let state = match error {
            None => RemoteState::Done,
            Some(_) => RemoteState::Failed,
        };
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE remote_jobs SET state = ?, error = ?, updated_at = ? WHERE work_key = ?"
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .bind(key)
        .execute(pool)
        .await
        .map(drop))
        .with_context(|| format!("finishing the remote job of {key}"))?;
        Ok(())
    }
}
