//! The job/metadata store: tenants, API keys, installed plugin versions,
//! bindings, secrets, jobs, stages, the artifact cache index, job events, and
//! the queue of nodes (stage runs) that workers on any machine claim under a
//! lease ([`Store::enqueue_node`], [`Store::claim_node`], [`NodeState`]) with
//! the table of those workers ([`Store::list_workers`]).
//!
//! # Engines
//!
//! One [`Store`] over either engine; callers never see which, beyond
//! [`Store::engine`]. [`Store::open`] takes a `postgres://` (or
//! `postgresql://`) URL for PostgreSQL and anything else as a SQLite path.
//!
//! - SQLite is the embedded default: one file, WAL journal mode, foreign keys
//!   on, a busy timeout, created if missing ([`Store::open_sqlite`]);
//!   [`Store::in_memory`] is the same schema in memory, for tests.
//! - PostgreSQL ([`Store::open_postgres`]) serves several hosts and workers
//!   on one database.
//!
//! Each engine has its own migrations, embedded and run on open:
//! `migrations/sqlite/` and `migrations/postgres/`, with the same versions,
//! file names, tables and columns (tests check both). They differ where the
//! engines do: `events.id` is `INTEGER PRIMARY KEY AUTOINCREMENT` in SQLite and
//! `BIGINT GENERATED ALWAYS AS IDENTITY` in PostgreSQL, and every PostgreSQL
//! integer column is `BIGINT`, so both read back as `i64`.
//!
//! The SQL is shared and kept portable (TEXT ids, BIGINT millisecond
//! timestamps, `ON CONFLICT` upserts, `RETURNING`, compare-and-set `UPDATE`s
//! instead of read-then-write transactions). Queries are written with `?`
//! placeholders; a private `with_pool!` macro runs each call on the engine's
//! own sqlx driver, numbering the placeholders `$1, $2, ...` for PostgreSQL.
//! No sqlx type appears in this crate's API. The one place the engines take
//! different paths is claiming a queued node ([`Store::claim_node`]): a
//! compare-and-set on SQLite (one writer at a time), row locks with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (many claimers at once).
//!
//! [`testing::PgCluster`] starts a throwaway PostgreSQL server for tests.
//!
//! # Tenant isolation
//!
//! Every tenant-scoped read and write filters by `tenant_id` in the query
//! itself, so another tenant's job, binding or secret is simply not found.
//! Host-internal writes for a running job (stage rows, events, queued nodes
//! once enqueued) are keyed by [`JobId`] or [`NodeId`] only: the executor or
//! worker already holds what it was handed.
//!
//! # Errors
//!
//! Methods return [`anyhow::Result`] with context naming what was being done.
//! Failures a caller may want to answer differently (a 409 rather than a 500)
//! carry a [`StoreError`] at the root of the chain: `err.downcast_ref::<StoreError>()`.

/// Runs `$body` with `$pool` bound to the store's connection pool, whichever
/// the engine: the body is compiled once per engine, so the same `sqlx` calls
/// serve both. SQL in a body is written with `?` placeholders and passed
/// through `$pool.sql(..)` ([`Dialect::sql`]), which numbers them for
/// PostgreSQL. The body's value must not name an engine's type (map
/// `execute`'s result to `rows_affected()`).
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}

mod events;
mod ids;
mod jobs;
mod nodes;
mod plugins;
mod remote;
mod tenants;
pub mod testing;
mod voices;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use events::JobEvent;
pub use ids::{ApiKeyId, InvalidId, JobId, NodeId, StageId, TenantId};
pub use jobs::{
    Artifact, Event, Job, JobState, NewArtifact, Stage, StageOutcome, StageState, UnknownState,
};
pub use nodes::{NewNode, Node, NodeState, WorkerInfo, WorkerState};
pub use plugins::{Binding, NewBinding, NewPluginVersion, PluginVersion, SecretValue};
pub use remote::{RemoteJob, RemoteState};
pub use tenants::{ApiKey, IssuedApiKey, Tenant};
pub use voices::StoredVoice;

/// How long a connection waits on a locked database before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The bytes SQLite's allocator holds now, for every connection of the
/// process together (page caches, prepared statements): what the store
/// costs in memory, which grows with the database up to the caches' bounds.
pub fn sqlite_memory_used() -> i64 {
    // SAFETY: reads a process-wide counter; no pointers, callable from any
    // thread at any time.
    unsafe { libsqlite3_sys::sqlite3_memory_used() }
}

/// Connections in the pool of an on-disk SQLite store (WAL: many readers, one writer).
const SQLITE_MAX_CONNECTIONS: u32 = 8;

/// Connections in the pool of a PostgreSQL store.
const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// The SQLite schema; these files are never edited once released (sqlx keeps
/// each one's SHA-384 and refuses a database migrated with other text).
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The same schema for PostgreSQL: the same versions and file names.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// A failure a caller may want to tell apart from an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A tenant with that name exists already.
    #[error("tenant name {name:?} is already taken")]
    TenantNameTaken {
        /// The name asked for.
        name: String,
    },
    /// The tenant has a voice of that name already.
    #[error("voice name {name:?} is already taken")]
    VoiceNameTaken {
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

/// The connection pool of one engine.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How an engine wants the store's SQL, which is written with `?` placeholders.
trait Dialect {
    /// `sql` as this engine takes it.
    fn sql(&self, sql: impl Into<Cow<'static, str>>) -> sqlx::AssertSqlSafe<Cow<'static, str>>;
}

impl Dialect for SqlitePool {
    fn sql(&self, sql: impl Into<Cow<'static, str>>) -> sqlx::AssertSqlSafe<Cow<'static, str>> {
        sqlx::AssertSqlSafe(sql.into())
    }
}

impl Dialect for PgPool {
    fn sql(&self, sql: impl Into<Cow<'static, str>>) -> sqlx::AssertSqlSafe<Cow<'static, str>> {
        sqlx::AssertSqlSafe(Cow::Owned(numbered_placeholders(&sql.into())))
    }
}

/// `sql` with each `?` placeholder written `$1`, `$2`, ... as PostgreSQL wants;
/// a `?` inside a quoted literal or identifier is left alone.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quote = None;
    let mut n = 0;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '?') => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens the store `url_or_path` names: a `postgres://` or `postgresql://`
    /// URL is a PostgreSQL database ([`Store::open_postgres`]); anything else is
    /// the path of a SQLite file ([`Store::open_sqlite`]).
    /// A URL of any other scheme (`postgress://`, `mysql://`) is refused,
    /// naming it, rather than taken for a file path: a typo must not become
    /// a new, empty SQLite store.
    pub async fn open(url_or_path: &str) -> anyhow::Result<Self> {
        if is_postgres_url(url_or_path) {
            return Self::open_postgres(url_or_path).await;
        }
        if let Some((scheme, _)) = url_or_path.split_once("://") {
            anyhow::bail!(
                "`{scheme}://` is not a store Kino can open: give a postgres:// (or postgresql://) URL, or the path of a SQLite file"
            );
        }
        Self::open_sqlite(url_or_path).await
    }

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
        Self::migrated(Pool::Sqlite(pool))
            .await
            .with_context(|| format!("migrating the store at {}", path.display()))
    }

    /// Opens the PostgreSQL store at `url` (`postgres://user:password@host:port/db`,
    /// with libpq's query parameters such as `sslmode`) and runs the migrations.
    /// The database must exist; its tables are created by the migrations.
    ///
    /// Defaults: up to 16 pooled connections.
    pub async fn open_postgres(url: &str) -> anyhow::Result<Self> {
        let shown = redact_password(url);
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .connect(url)
            .await
            .with_context(|| format!("opening the store at {shown}"))?;
        Self::migrated(Pool::Postgres(pool))
            .await
            .with_context(|| format!("migrating the store at {shown}"))
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
        Self::migrated(Pool::Sqlite(pool))
            .await
            .context("migrating an in-memory store")
    }

    async fn migrated(pool: Pool) -> anyhow::Result<Self> {
        match &pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .context("running migrations")?;
        Ok(Self { pool })
    }

    /// The engine behind the store: `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool, waiting for connections to finish (and SQLite to checkpoint).
    pub async fn close(self) {
        with_pool!(self, |pool| pool.close().await);
    }
}

/// Whether `s` is a PostgreSQL connection URL.
fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// `url` with the password of its user info, if any, replaced by `***`, for messages.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
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

    #[tokio::test]
    async fn a_url_of_another_scheme_is_refused_not_taken_for_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let typo = format!("postgress://kino@{}/kino", dir.path().display());
        let err = Store::open(&typo).await.expect_err("refused");
        assert!(format!("{err:#}").contains("`postgress://`"), "{err:#}");
        assert!(!std::path::Path::new("postgress:").exists());
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            numbered_placeholders("SELECT '?', \"a?\" FROM t WHERE x = ? AND y = 'it''s?'"),
            "SELECT '?', \"a?\" FROM t WHERE x = $1 AND y = 'it''s?'"
        );
    }

    #[test]
    fn urls_are_told_apart_and_redacted() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("/var/lib/kino/kino.db"));
        assert!(!is_postgres_url("postgres.db"));
        assert_eq!(
            redact_password("postgres://kino:s3cret@db:5432/kino?sslmode=require"),
            "postgres://kino:***@db:5432/kino?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://kino@db/kino"),
            "postgres://kino@db/kino"
        );
    }

    #[test]
    fn both_engines_have_the_same_migrations() {
        let versions = |m: &Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS));
        assert!(versions(&SQLITE_MIGRATIONS).len() >= 6);
    }

    /// The SHA-384 that sqlx recorded in every SQLite database migrated
    /// before PostgreSQL was added (when the files lay in `migrations/`):
    /// moving or editing them would make those databases refuse to open.
    #[test]
    fn released_sqlite_migrations_are_unchanged() {
        let released = [
            (
                1,
                "04d09708f5ee36ea8527ff5f88a560b4a9fea07ac166056ca5d3a0cbba32151811d9b0e04364b0d0e445918525592ac2",
            ),
            (
                2,
                "ec2902142fdc9e8be40a01c8b7a08a289aff3cae7b0edb98aa269b659ff30847ec376a810ad305f5ead3ea509343dd2e",
            ),
            (
                3,
                "7265bc93bfc60d25099535ed2dbf2e83e16ef375fc1e154f9201c9f5a3558221279bd7e7a4f20d2478a641fd046ccd61",
            ),
            (
                4,
                "f8043605b24d3e86fbb3df495c50024d5e00abd6ffd1cf760e030a2481f9e4afda0e163ee3ec23991075c27242479f77",
            ),
            (
                5,
                "aa777fdd6e21aaedc4549b18daac712ab5bb74089e03349e6b6fb809b7135188eb75b4075eafa62bba955af456a63590",
            ),
        ];
        for (version, checksum) in released {
            let migration = SQLITE_MIGRATIONS
                .iter()
                .find(|m| m.version == version)
                .expect("a released migration is missing");
            assert_eq!(
                hex::encode(&migration.checksum),
                checksum,
                "migration {version}"
            );
        }
    }

    #[tokio::test]
    async fn in_memory_store_migrates() -> anyhow::Result<()> {
        let store = Store::in_memory().await?;
        let tenant = store.create_tenant("acme").await?;
        assert_eq!(store.get_tenant(&tenant.id).await?, Some(tenant));
        Ok(())
    }
}
