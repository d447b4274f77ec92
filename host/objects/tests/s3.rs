//! The S3 backend against a real S3-compatible server: moto_server, found on
//! PATH or in `.kino/s3-venv/bin/` of the repository (`scripts/s3-venv.sh`
//! installs it there). Without it the test says why and passes, unless `CI`
//! is set: then a missing server is a failure.
//!
//! One test in this file: it sets the AWS credential variables before any
//! other thread exists.

mod common;

use std::path::Path;

use common::{content, files_under, sha256, write_file};
use kino_objects::testing::{self, MotoServer};
use kino_objects::{Cache, Error, MIN_PART_SIZE, Remote};
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "kino-artifacts";
const PREFIX: &str = "ci/run-1";

/// A client of the bucket of its own, to look at objects behind the
/// remote's back.
fn raw_client(server: &MotoServer) -> Result<AmazonS3, Box<dyn std::error::Error>> {
    Ok(AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_endpoint(format!("http://127.0.0.1:{}", server.port()))
        .with_allow_http(true)
        .with_access_key_id("kino-test-key")
        .with_secret_access_key("kino-test-secret")
        .build()?)
}
/// `PREFIX/sha256/ab/<hash>`.
fn key(hash: &str) -> ObjectPath {
    ObjectPath::from(format!("{PREFIX}/sha256/{}/{hash}", &hash[..2]))
}

#[test]
fn s3_backend_against_moto_server() -> TestResult {
    let Some(program) = testing::moto_server() else {
        let reason = testing::MISSING;
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
    let server = MotoServer::start(&program, tmp.path()).map_err(|e| e.to_string())?;
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

async fn scenarios(server: &MotoServer, tmp: &Path) -> TestResult {
    server.create_bucket(BUCKET).map_err(|e| e.to_string())?;
    let spec = server.spec(BUCKET, PREFIX);
    let remote = Remote::parse(&spec)?.with_part_size(MIN_PART_SIZE)?;
    let described = remote.describe();
    assert_eq!(
        described,
        format!(
            "s3://{BUCKET}/{PREFIX} (endpoint http://127.0.0.1:{}, region us-east-1)",
            server.port()
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
    let raw = raw_client(server)?;
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
