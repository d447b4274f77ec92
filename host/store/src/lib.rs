//! The job/metadata store: tenants, API keys, installed plugin versions,
//! bindings, secrets, jobs, stages, the artifact cache index and job events.
//!
//! # Backends
//!
//! SQLite is the embedded default: one file, WAL journal mode, foreign keys on,
//! a busy timeout, created if missing ([`Store::open_sqlite`]);
//! [`Store::in_memory`] is the same schema in memory, for tests. Migrations
//! (`host/store/migrations/`) are embedded and run on open.
//!
//! PostgreSQL is **not implemented yet**. The layer is shaped so it can be
//! added without touching callers: callers only use [`Store`] methods and the
//! plain types of this module (no sqlx type leaks out), and the SQL is kept
//! portable (TEXT ids, BIGINT millisecond timestamps, `ON CONFLICT` upserts,
//! compare-and-set `UPDATE`s instead of read-then-write transactions). Where
//! PostgreSQL would differ:
//!
//! - placeholders: SQLite accepts `?`, PostgreSQL wants `$1, $2, ...`; the
//!   queries here use `?` and would need rewriting (or `sqlx::Any`);
//! - `events.id` is `INTEGER PRIMARY KEY AUTOINCREMENT` in SQLite and would be
//!   `BIGINT GENERATED ALWAYS AS IDENTITY` in PostgreSQL, so PostgreSQL gets
//!   its own migration directory;
//! - job leasing by several hosts would use `FOR UPDATE SKIP LOCKED`, which
//!   SQLite has no need (or syntax) for: one host owns the file.
//!
//! # Tenant isolation
//!
//! Every tenant-scoped read and write filters by `tenant_id` in the query
//! itself, so another tenant's job, binding or secret is simply not found.
//! Host-internal writes for a running job (stage rows, events) are keyed by
//! [`JobId`] only: the executor already holds the job it was handed.
//!
//! # Errors
//!
//! Methods return [`anyhow::Result`] with context naming what was being done.
//! Failures a caller may want to answer differently (a 409 rather than a 500)
//! carry a [`StoreError`] at the root of the chain: `err.downcast_ref::<StoreError>()`.

mod events;
mod ids;
mod jobs;
mod plugins;
mod tenants;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use events::JobEvent;
pub use ids::{ApiKeyId, InvalidId, JobId, StageId, TenantId};
pub use jobs::{
    Artifact, Event, Job, JobState, NewArtifact, Stage, StageOutcome, StageState, UnknownState,
};
pub use plugins::{Binding, NewBinding, NewPluginVersion, PluginVersion, SecretValue};
pub use tenants::{ApiKey, IssuedApiKey, Tenant};

/// How long a connection waits on a locked database before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool of an on-disk SQLite store (WAL: many readers, one writer).
/// The bytes SQLite's allocator holds now, for every connection of the
/// process together (page caches, prepared statements): what the store
/// costs in memory, which grows with the database up to the caches' bounds.
pub fn sqlite_memory_used() -> i64 {
    // SAFETY: reads a process-wide counter; no pointers, callable from any
    // thread at any time.
    unsafe { libsqlite3_sys::sqlite3_memory_used() }
}

const SQLITE_MAX_CONNECTIONS: u32 = 8;

/// A failure a caller may want to tell apart from an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A tenant with that name exists already.
    #[error("tenant name {name:?} is already taken")]
    TenantNameTaken {
        /// The name asked for.
        name: String,
    },
    /// The row to change does not exist (or belongs to another tenant).
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of row: "job", "stage", "tenant", ...
        what: &'static str,
        /// Its identifier.
        id: String,
    },
    /// A job may not move from its current state to the one asked for.
    #[error("job {job} cannot go from {from} to {to}")]
    IllegalJobTransition {
        /// The job.
        job: JobId,
        /// Its current state.
        from: JobState,
        /// The state asked for.
        to: JobState,
    },
    /// A stage was finished twice, or finished after failing.
    #[error("stage {stage} is already {state}")]
    StageNotRunning {
        /// The stage.
        stage: StageId,
        /// Its current state.
        state: StageState,
    },
    /// A plugin version is still the target of tenant bindings.
    #[error("{name}@{version} is used by {count} binding(s)")]
    PluginVersionInUse {
        /// Plugin name.
        name: String,
        /// Plugin version.
        version: String,
        /// How many bindings would resolve to it.
        count: usize,
    },
}

/// The store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating it and its directory if missing) the SQLite store at `path`
    /// and runs the migrations.
    ///
    /// Defaults: WAL journal mode, `synchronous = NORMAL` (safe with WAL), foreign
    /// keys on, a 5 s busy timeout, up to 8 pooled connections.
    pub async fn open_sqlite(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the store at {}", path.display()))?;
        Self::migrated(pool)
            .await
            .with_context(|| format!("migrating the store at {}", path.display()))
    }

    /// An empty store in memory, private to this value (and its clones), for tests.
    ///
    /// One connection, never recycled: an in-memory SQLite database lives exactly
    /// as long as its connection.
    pub async fn in_memory() -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .context("opening an in-memory store")?;
        Self::migrated(pool)
            .await
            .context("migrating an in-memory store")
    }

    async fn migrated(pool: SqlitePool) -> anyhow::Result<Self> {
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("running migrations")?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections to finish (and SQLite to checkpoint).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, the store's only timestamp unit.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses a column that the store itself wrote; a bad value means a corrupt row.
fn parse_column<T>(column: &str, value: &str) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .parse()
        .with_context(|| format!("corrupt {column} column: {value:?}"))
}

/// Parses a JSON column that the store itself wrote.
fn parse_json(column: &str, value: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(value).with_context(|| format!("corrupt {column} column"))
}

/// `true` when `err` is a unique-constraint violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }

    #[tokio::test]
    async fn in_memory_store_migrates() -> anyhow::Result<()> {
        let store = Store::in_memory().await?;
        let tenant = store.create_tenant("acme").await?;
        assert_eq!(store.get_tenant(&tenant.id).await?, Some(tenant));
        Ok(())
    }
}
