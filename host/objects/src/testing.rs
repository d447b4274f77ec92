//! For tests: a real S3-compatible server, `moto_server` (the Python
//! package `moto[server]`), found on `PATH` or in the repository's
//! `.kino/s3-venv/bin/` (`scripts/s3-venv.sh` installs it there, pinned by
//! hash), run on a free port of 127.0.0.1 and killed when dropped.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a test fixture fails with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `moto_server` on `PATH`, else in the repository's `.kino/s3-venv/bin/`.
pub fn moto_server() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let venv = repo.join(".kino/s3-venv/bin/moto_server");
        venv.is_file().then_some(venv)
    })
}

/// Why a test without `moto_server` skips (or, under `CI`, fails).
pub const MISSING: &str =
    "moto_server not on PATH nor in .kino/s3-venv/bin (scripts/s3-venv.sh installs it)";

/// A running `moto_server`, killed when dropped. It checks no signature:
/// any credentials do.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MotoServer {
    /// Starts `program` on a free port, its log in `log_dir`, and waits (up
    /// to a minute) until it answers.
    pub fn start(program: &Path, log_dir: &Path) -> Result<Self, BoxError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = log_dir.join("moto_server.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let mut server = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if server.http("GET", "/", b"").is_ok() {
                return Ok(server);
            }
            if let Some(exit) = server.child.try_wait()? {
                return Err(format!("moto_server exited ({exit}): {}", server.log_tail()).into());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("moto_server did not answer in 60 s: {}", server.log_tail()).into(),
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its log so far: a line per request it answered.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of its log, for a failure's message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log[start..].to_owned()
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) -> Result<(), BoxError> {
        let (status, _, body) = self.http("PUT", &format!("/{bucket}"), b"")?;
        if status != 200 {
            return Err(format!(
                "creating bucket {bucket}: {status} {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        Ok(())
    }

    /// The [`Remote`](crate::Remote) spec of `bucket/prefix` on this server.
    pub fn spec(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint=http://127.0.0.1:{}&region=us-east-1",
            self.port
        )
    }

    /// A plain, unsigned HTTP/1.1 request: the status, the headers and the
    /// body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, String, Vec<u8>), BoxError> {
        http(self.port, method, path, &[], body)
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` on a connection of its own
/// (`Connection: close`; a body of a declared length): the status, the
/// headers and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String, Vec<u8>), BoxError> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status in the response")?;
    Ok((status, head, response[split + 4..].to_vec()))
}
