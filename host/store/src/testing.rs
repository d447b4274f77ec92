//! A throwaway PostgreSQL server for tests: [`PgCluster`].
//!
//! Plain `std` (processes and files), compiled into the crate so that any
//! crate's tests can run the store on a real PostgreSQL:
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let Some(cluster) = kino_store::testing::PgCluster::start()? else {
//!     eprintln!("skipped: PostgreSQL is not installed");
//!     return Ok(());
//! };
//! let url = cluster.new_database("my_test")?;
//! // Store::open_postgres(&url).await? ...
//! # Ok(())
//! # }
//! ```

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

/// Where Debian and Ubuntu install the server binaries, one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The database [`PgCluster::url`] names.
const DEFAULT_DATABASE: &str = "kino";

/// How many free ports to try when the one picked is taken before the server binds it.
const START_TRIES: usize = 5;

/// A PostgreSQL server of its own, in a temporary directory, listening on
/// `127.0.0.1` (a free port) with trust authentication for user `postgres`.
///
/// [`PgCluster::start`] finds `initdb` and `pg_ctl` on `PATH`, in
/// `$KINO_PG_BIN` or in `/usr/lib/postgresql/*/bin` (the newest). As root
/// (which `initdb` refuses), the server runs as the `postgres` user through
/// `runuser` (or `su`). Durability is off (`fsync`, `full_page_writes`): it is
/// for tests.
///
/// Dropping it stops the server (`pg_ctl stop -m immediate`) and removes the
/// directory. One that is never dropped (held in a `static`) is cleaned up by
/// a watchdog process once this process exits.
#[derive(Debug)]
pub struct PgCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: RunAs,
    watchdog: Option<Child>,
}

/// How the server's own binaries are run.
#[derive(Debug, Clone)]
enum RunAs {
    /// As this process's user.
    Me,
    /// `runuser -u postgres -- program args...`
    Runuser(PathBuf),
    /// `su postgres -s /bin/sh -c 'program args...'`
    Su(PathBuf),
}

impl PgCluster {
    /// Initialises and starts a server and creates database `kino` in it.
    ///
    /// `Ok(None)` when no PostgreSQL is installed; the caller says the test
    /// was skipped. With the `CI` environment variable set, a missing
    /// PostgreSQL is an error instead: CI must run these tests.
    pub fn start() -> anyhow::Result<Option<Self>> {
        let Some(bin) = find_bin_dir() else {
            anyhow::ensure!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL's initdb and pg_ctl were not found (PATH, $KINO_PG_BIN, \
                 {DEBIAN_ROOT}/*/bin) and CI is set: install PostgreSQL to run these tests"
            );
            return Ok(None);
        };
        let as_root = is_root();
        let run_as = if !as_root {
            RunAs::Me
        } else if let Some(runuser) = find_on_path("runuser") {
            RunAs::Runuser(runuser)
        } else if let Some(su) = find_on_path("su") {
            RunAs::Su(su)
        } else {
            anyhow::bail!(
                "running as root, but neither runuser nor su is there to drop to postgres"
            );
        };
        // As root, a directory every user can reach: the server runs as postgres.
        let tmp = if as_root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let root = unique_dir(&tmp)?;
        let mut cluster = Self {
            root,
            bin,
            port: 0,
            run_as,
            watchdog: None,
        };
        if as_root {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(&cluster.root))
            .context("giving the cluster directory to the postgres user")?;
        }
        cluster.initdb()?;
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        let mut tries = 0;
        loop {
            tries += 1;
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => break,
                Err(_) if tries < START_TRIES => continue,
                Err(e) => return Err(e),
            }
        }
        cluster.create_database(DEFAULT_DATABASE)?;
        Ok(Some(cluster))
    }

    /// The URL of database `kino`: `postgres://postgres@127.0.0.1:PORT/kino`.
    pub fn url(&self) -> String {
        self.database_url(DEFAULT_DATABASE)
    }

    /// The port the server listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database `name` (lowercase ASCII letters, digits and
    /// `_`, at most 63 bytes) and returns its URL.
    pub fn new_database(&self, name: &str) -> anyhow::Result<String> {
        self.create_database(name)?;
        Ok(self.database_url(name))
    }

    fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn create_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "invalid database name {name:?}: lowercase ASCII letters, digits and _ only"
        );
        let port = self.port.to_string();
        run(Command::new(self.bin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            name,
        ]))
        .with_context(|| format!("creating database {name}"))
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let mut initdb = self.server_command(
            &self.bin.join("initdb"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--no-locale".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        run(&mut initdb).with_context(|| format!("initdb -D {}", data.display()))
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let log = self.root.join("server.log");
        let options = format!(
            "-p {} -h 127.0.0.1 -k '{}' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.root.display()
        );
        let mut start = self.server_command(
            &self.bin.join("pg_ctl"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        );
        run(&mut start).with_context(|| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            format!("starting PostgreSQL on port {}; its log:\n{log}", self.port)
        })
    }

    /// The arguments of `pg_ctl stop -m immediate` for this cluster, as run by [`RunAs`].
    fn stop_command(&self) -> Command {
        let data = self.data_dir();
        self.server_command(
            &self.bin.join("pg_ctl"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
    }

    /// A shell loop that outlives this process, waits for it to end, then stops
    /// the server and removes the directory: a cluster in a `static` is never
    /// dropped.
    fn spawn_watchdog(&self) -> anyhow::Result<Child> {
        let stop = self.stop_command();
        let stop = std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            root = shell_quote(self.root.as_os_str()),
        );
        Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the PostgreSQL watchdog")
    }

    fn server_command(&self, program: &Path, args: &[&OsStr]) -> Command {
        match &self.run_as {
            RunAs::Me => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            RunAs::Runuser(runuser) => {
                let mut command = Command::new(runuser);
                command
                    .args(["-u", "postgres", "--"])
                    .arg(program)
                    .args(args);
                command
            }
            RunAs::Su(su) => {
                let line = std::iter::once(program.as_os_str())
                    .chain(args.iter().copied())
                    .map(shell_quote)
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut command = Command::new(su);
                command.args(["postgres", "-s", "/bin/sh", "-c"]).arg(line);
                command
            }
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if self.port != 0 {
            let _ = self
                .stop_command()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `command` to its end; an error with its output when it fails.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    anyhow::ensure!(
        output.status.success(),
        "{:?} {}:\n{}{}",
        command.get_program(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// `s` in single quotes for `/bin/sh`.
fn shell_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

/// The directory of the server's binaries: where `initdb` and `pg_ctl` are,
/// following a symbolic link on `PATH` to the installation (whose `createdb`
/// is needed too).
fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let installed = |dir: PathBuf| {
        let initdb = dir.join("initdb").canonicalize().ok()?;
        initdb
            .parent()
            .map(Path::to_path_buf)
            .filter(|dir| has_both(dir))
    };
    if let Some(dir) = std::env::var_os("KINO_PG_BIN").map(PathBuf::from) {
        return has_both(&dir).then_some(dir).and_then(installed);
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_both(dir))
    {
        return installed(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// Whether this process runs with effective user id 0.
fn is_root() -> bool {
    // Linux: the second field of `Uid:` is the effective user id.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
    {
        return euid == "0";
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A port on 127.0.0.1 that nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A new, empty directory under `parent`, named after this process.
fn unique_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = parent.join(format!(
        "kino-pg-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cluster_serves_databases_and_is_gone_once_dropped() -> anyhow::Result<()> {
        let Some(cluster) = PgCluster::start()? else {
            eprintln!("skipped: PostgreSQL is not installed");
            return Ok(());
        };
        let store = crate::Store::open(&cluster.url()).await?;
        assert_eq!(store.engine(), "postgres");
        let other = crate::Store::open(&cluster.new_database("other_db")?).await?;
        store.create_tenant("acme").await?;
        assert_eq!(other.tenant_by_name("acme").await?, None);
        assert!(cluster.new_database("Bad-Name").is_err());
        store.close().await;
        other.close().await;

        let (root, port) = (cluster.root.clone(), cluster.port());
        drop(cluster);
        assert!(!root.exists(), "{} left behind", root.display());
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server still listens"
        );
        Ok(())
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a b".as_ref()), "'a b'");
        assert_eq!(shell_quote("it's".as_ref()), r"'it'\''s'");
    }
}
