//! Running one test body on both engines: SQLite (in memory, or on disk for
//! tests of concurrency) and a fresh database of a PostgreSQL server shared
//! by the whole test binary.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use kino_store::Store;
use kino_store::testing::PgCluster;

/// The binary's one PostgreSQL server, started by the first test that needs
/// it. A `static` is never dropped: the cluster's watchdog stops it when the
/// binary exits.
static CLUSTER: OnceLock<Result<Option<PgCluster>, String>> = OnceLock::new();

/// The shared server; `None` when PostgreSQL is not installed (and `CI` unset).
pub fn cluster() -> anyhow::Result<Option<&'static PgCluster>> {
    match CLUSTER.get_or_init(|| PgCluster::start().map_err(|e| format!("{e:#}"))) {
        Ok(cluster) => Ok(cluster.as_ref()),
        Err(e) => anyhow::bail!("starting PostgreSQL for the tests: {e}"),
    }
}

/// The URL of a new, empty database for `test`; `None` (saying so) when
/// PostgreSQL is not installed.
pub fn postgres_database(test: &str) -> anyhow::Result<Option<String>> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Some(cluster) = cluster()? else {
        eprintln!(
            "{test}: skipped on PostgreSQL: initdb and pg_ctl not found \
             (PATH, $KINO_PG_BIN, /usr/lib/postgresql/*/bin)"
        );
        return Ok(None);
    };
    let mut name = format!("t{}_{test}", NEXT.fetch_add(1, Ordering::Relaxed));
    name.truncate(63);
    cluster.new_database(&name).map(Some)
}

/// A migrated store on a new PostgreSQL database for `test`, or `None`.
pub async fn postgres_store(test: &str) -> anyhow::Result<Option<Store>> {
    match postgres_database(test)? {
        Some(url) => {
            let store = Store::open_postgres(&url).await?;
            assert_eq!(store.engine(), "postgres");
            Ok(Some(store))
        }
        None => Ok(None),
    }
}

/// For each `async fn name(store: Store) -> anyhow::Result<()>` of the calling
/// module, a module `name` with two tests: `name::sqlite` on an in-memory
/// store and `name::postgres` on a fresh PostgreSQL database.
///
/// After `concurrent:`, the tests run on four threads and SQLite is an
/// on-disk store (an in-memory one has a single connection).
macro_rules! on_both_engines {
    (concurrent: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() -> anyhow::Result<()> {
                let dir = tempfile::tempdir()?;
                let store = kino_store::Store::open_sqlite(dir.path().join("kino.db")).await?;
                super::$name(store.clone()).await?;
                store.close().await;
                Ok(())
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() -> anyhow::Result<()> {
                match $crate::harness::postgres_store(stringify!($name)).await? {
                    Some(store) => super::$name(store).await,
                    None => Ok(()),
                }
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() -> anyhow::Result<()> {
                super::$name(kino_store::Store::in_memory().await?).await
            }

            #[tokio::test]
            async fn postgres() -> anyhow::Result<()> {
                match $crate::harness::postgres_store(stringify!($name)).await? {
                    Some(store) => super::$name(store).await,
                    None => Ok(()),
                }
            }
        }
    )+};
}
pub(crate) use on_both_engines;
