//! The S3 backend against a real S3-compatible server: moto_server, found on
//! PATH or in `.kino/s3-venv/bin/` of the repository (`scripts/s3-venv.sh`
//! installs it there). Without it the test says why and passes, unless `CI`
//! is set: then a missing server is a failure.
//!
//! One test in this file: it sets the AWS credential variables before any
//! other thread exists.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{content, files_under, sha256, write_file};
use kino_objects::{Cache, Error, MIN_PART_SIZE, Remote};
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "kino-artifacts";
const PREFIX: &str = "ci/run-1";

/// moto_server on PATH, else in the repository's `.kino/s3-venv/bin/`.
fn find_moto_server() -> Option<PathBuf> {
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

/// The server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(program: &Path, log_dir: &Path) -> Result<Self, Box<dyn std::error::Error>> {
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

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log[start..].to_owned()
    }

    /// A plain, unsigned HTTP/1.1 request (moto does not check signatures):
    /// the status, the headers and the body.
    fn http(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, String, Vec<u8>), Box<dyn std::error::Error>> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
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

    /// A client of the bucket of its own, to look at objects behind the
    /// remote's back.
    fn raw_client(&self) -> Result<AmazonS3, Box<dyn std::error::Error>> {
        Ok(AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_access_key_id("kino-test-key")
            .with_secret_access_key("kino-test-secret")
            .build()?)
    }
}

/// `PREFIX/sha256/ab/<hash>`.
fn key(hash: &str) -> ObjectPath {
    ObjectPath::from(format!("{PREFIX}/sha256/{}/{hash}", &hash[..2]))
}

#[test]
fn s3_backend_against_moto_server() -> TestResult {
    let Some(program) = find_moto_server() else {
        let reason = "moto_server not on PATH nor in .kino/s3-venv/bin \
                      (scripts/s3-venv.sh installs it)";
        if std::env::var_os("CI").is_some() {
            return Err(format!("CI is set and {reason}").into());
        }
        eprintln!("skipping the S3 test: {reason}");
        return Ok(());
    };
    // SAFETY: the only test in this binary, and no other thread has been
    // started yet: nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "kino-test-key");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "kino-test-secret");
        std::env::remove_var("AWS_SESSION_TOKEN");
    }
    let tmp = tempfile::tempdir()?;
    let server = Server::start(&program, tmp.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(scenarios(&server, tmp.path()));
    if result.is_err() {
        eprintln!("moto_server log:\n{}", server.log_tail());
    }
    result
}

async fn scenarios(server: &Server, tmp: &Path) -> TestResult {
    let (status, _, body) = server.http("PUT", &format!("/{BUCKET}"), b"")?;
    assert_eq!(
        status,
        200,
        "creating the bucket: {}",
        String::from_utf8_lossy(&body)
    );

    let spec = format!(
        "s3://{BUCKET}/{PREFIX}?endpoint=http://127.0.0.1:{}&region=us-east-1",
        server.port
    );
    let remote = Remote::parse(&spec)?.with_part_size(MIN_PART_SIZE)?;
    let described = remote.describe();
    assert_eq!(
        described,
        format!(
            "s3://{BUCKET}/{PREFIX} (endpoint http://127.0.0.1:{}, region us-east-1)",
            server.port
        )
    );
    assert!(!described.contains("kino-test-secret") && !described.contains("kino-test-key"));

    // A small object: one PUT.
    let small = content(200_000, 10);
    let (small_file, small_hash) = write_file(tmp, "small", &small);
    let out = tmp.join("out");
    assert!(!remote.has(&small_hash).await?);
    assert!(!remote.fetch(&small_hash, &out.join("small")).await?);
    remote.put_file(&small_hash, &small_file).await?;
    assert!(remote.has(&small_hash).await?);
    remote.put_file(&small_hash, &small_file).await?; // present: skipped
    assert!(remote.fetch(&small_hash, &out.join("small")).await?);
    assert_eq!(std::fs::read(out.join("small"))?, small);
    let raw = server.raw_client()?;
    let stored = raw.get(&key(&small_hash)).await?.bytes().await?;
    assert!(stored == small, "the key is PREFIX/sha256/ab/<hash>");

    // 12 MiB with 5 MiB parts: a multipart upload of three parts (S3 marks
    // such an object's ETag with the part count).
    let big = content(12 << 20, 11);
    let (big_file, big_hash) = write_file(tmp, "big", &big);
    remote.put_file(&big_hash, &big_file).await?;
    let etag = raw.head(&key(&big_hash)).await?.e_tag.ok_or("no ETag")?;
    assert!(etag.ends_with("-3\""), "not a 3-part upload: {etag}");
    assert!(remote.fetch(&big_hash, &out.join("big")).await?);
    assert!(
        std::fs::read(out.join("big"))? == big,
        "the big object differs"
    );

    // A file that is not its hash is not published (single PUT or multipart).
    for (name, len) in [("liar-small", 1000), ("liar-big", 11 << 20)] {
        let (file, _) = write_file(tmp, name, &content(len, 12));
        let claimed = sha256(name.as_bytes());
        let err = remote
            .put_file(&claimed, &file)
            .await
            .expect_err("a mismatched upload");
        assert!(matches!(err, Error::Mismatch { .. }), "{err}");
        assert!(!remote.has(&claimed).await?, "{name} was published");
    }

    // A corrupted object at the remote is refused and leaves nothing.
    let claimed = sha256(b"the real content");
    raw.put(&key(&claimed), b"not the real content".to_vec().into())
        .await?;
    assert!(remote.has(&claimed).await?);
    let bad_out = tmp.join("bad-out");
    let err = remote
        .fetch(&claimed, &bad_out.join("x"))
        .await
        .expect_err("a corrupted object");
    let message = err.to_string();
    assert!(matches!(err, Error::Mismatch { .. }), "{message}");
    assert!(message.contains(&claimed), "{message}");
    assert!(
        message.contains(&sha256(b"not the real content")),
        "{message}"
    );
    assert!(message.contains(BUCKET), "{message}");
    assert_eq!(files_under(&bad_out), Vec::<String>::new());

    // The cache over S3.
    let producer = Cache::new(tmp.join("producer"), Some(remote.clone()));
    let consumer = Cache::new(tmp.join("consumer"), Some(remote.clone()));
    let data = content(70_000, 13);
    let hash = sha256(&data);
    let local = producer.local_path(&hash)?;
    std::fs::create_dir_all(local.parent().ok_or("a parent")?)?;
    std::fs::write(&local, &data)?;
    assert_eq!(consumer.ensure_local(&hash).await?, None);
    producer.publish(&hash).await?;
    let fetched = consumer.ensure_local(&hash).await?.ok_or("not fetched")?;
    assert_eq!(std::fs::read(fetched)?, data);
    let err = consumer
        .ensure_local(&claimed)
        .await
        .expect_err("the corrupted object again");
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");
    assert!(!consumer.local_path(&claimed)?.exists());

    // `check` finds a bucket that is not there (lookups see an empty one).
    remote.check().await?;
    let missing = Remote::parse(&spec.replace(BUCKET, "no-such-bucket"))?;
    assert!(!missing.has(&hash).await?);
    let err = missing
        .check()
        .await
        .expect_err("a missing bucket")
        .to_string();
    assert!(err.contains("no-such-bucket"), "{err}");
    Ok(())
}
