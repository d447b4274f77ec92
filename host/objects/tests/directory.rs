//! The directory backend and the local cache over it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{content, files_under, sha256, write_file};
use kino_objects::{Cache, Error, Remote};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn round_trip_through_a_directory() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("shared");
    let remote = Remote::directory(&root);
    let data = content(300_000, 1);
    let (file, hash) = write_file(tmp.path(), "artifact", &data);

    let err = remote.check().await.expect_err("no directory yet");
    assert!(err.to_string().contains("shared"), "{err}");
    std::fs::create_dir(&root)?;
    remote.check().await?;
    assert!(!remote.has(&hash).await?);
    let to = tmp.path().join("out").join("fetched");
    assert!(!remote.fetch(&hash, &to).await?, "nothing to fetch yet");
    assert!(!to.exists());

    remote.put_file(&hash, &file).await?;
    assert!(remote.has(&hash).await?);
    // The layout: ROOT/sha256/ab/<hash>, nothing else left behind.
    assert_eq!(
        files_under(&root),
        vec![format!("sha256/{}/{hash}", &hash[..2])]
    );
    // A second upload is skipped (and harmless).
    remote.put_file(&hash, &file).await?;

    assert!(remote.fetch(&hash, &to).await?);
    assert_eq!(std::fs::read(&to)?, data);
    assert_eq!(files_under(&tmp.path().join("out")), vec!["fetched"]);
    Ok(())
}

#[tokio::test]
async fn an_empty_artifact_round_trips() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let remote = Remote::directory(tmp.path().join("shared"));
    let (file, hash) = write_file(tmp.path(), "empty", b"");
    remote.put_file(&hash, &file).await?;
    let to = tmp.path().join("back");
    assert!(remote.fetch(&hash, &to).await?);
    assert_eq!(std::fs::read(&to)?, b"");
    Ok(())
}

#[tokio::test]
async fn a_file_that_is_not_its_hash_is_not_published() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("shared");
    let remote = Remote::directory(&root);
    let (file, _) = write_file(tmp.path(), "artifact", b"what is in the file");
    let claimed = sha256(b"something else");

    let err = remote
        .put_file(&claimed, &file)
        .await
        .expect_err("a file whose hash is not the claimed one");
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&claimed), "{message}");
    assert!(
        message.contains(&sha256(b"what is in the file")),
        "{message}"
    );
    assert!(!remote.has(&claimed).await?);
    // The temporary is gone too: no file at all under the root.
    assert_eq!(files_under(&root), Vec::<String>::new());
    Ok(())
}

#[tokio::test]
async fn an_upload_is_never_visible_half_written() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("shared");
    let remote = Remote::directory(&root);
    let data = content(48 << 20, 2);
    let (file, hash) = write_file(tmp.path(), "big", &data);
    let final_path = root.join("sha256").join(&hash[..2]).join(&hash);

    // A watcher checks, as often as it can, that whatever is at the final
    // name is the whole object.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        let final_path = final_path.clone();
        let len = data.len() as u64;
        std::thread::spawn(move || {
            let mut seen_partial = 0u64;
            let mut looks = 0u64;
            while !done.load(Ordering::SeqCst) {
                looks += 1;
                if let Ok(meta) = std::fs::metadata(&final_path)
                    && meta.len() != len
                {
                    seen_partial += 1;
                }
            }
            (seen_partial, looks)
        })
    };
    remote.put_file(&hash, &file).await?;
    done.store(true, Ordering::SeqCst);
    let (seen_partial, looks) = watcher.join().expect("the watcher");
    assert_eq!(
        seen_partial, 0,
        "a partial object was visible ({looks} looks)"
    );
    assert!(looks > 0);
    assert_eq!(std::fs::read(&final_path)?, data);
    assert_eq!(
        files_under(&root),
        vec![format!("sha256/{}/{hash}", &hash[..2])]
    );
    Ok(())
}

#[tokio::test]
async fn a_corrupted_object_is_refused_and_leaves_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("shared");
    let remote = Remote::directory(&root);
    let (file, hash) = write_file(tmp.path(), "artifact", b"the real content");
    remote.put_file(&hash, &file).await?;
    // Someone (or a disk) changes the object behind our back.
    let object = root.join("sha256").join(&hash[..2]).join(&hash);
    std::fs::write(&object, b"the real content, but changed")?;

    let out = tmp.path().join("out");
    let to = out.join("fetched");
    let err = remote
        .fetch(&hash, &to)
        .await
        .expect_err("a corrupted object");
    let message = err.to_string();
    assert!(matches!(err, Error::Mismatch { .. }), "{message}");
    assert!(message.contains(&hash), "{message}");
    assert!(
        message.contains(&sha256(b"the real content, but changed")),
        "{message}"
    );
    assert!(message.contains("29 bytes"), "{message}");
    assert!(!to.exists());
    assert_eq!(files_under(&out), Vec::<String>::new(), "no temporary left");

    // An existing file at the destination is not replaced either.
    std::fs::write(&to, b"before")?;
    remote.fetch(&hash, &to).await.expect_err("still corrupted");
    assert_eq!(std::fs::read(&to)?, b"before");
    assert_eq!(files_under(&out), vec!["fetched"]);
    Ok(())
}

#[tokio::test]
async fn things_that_are_not_hashes_are_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let remote = Remote::directory(tmp.path().join("shared"));
    let cache = Cache::new(tmp.path().join("cache"), Some(remote.clone()));
    let (file, hash) = write_file(tmp.path(), "artifact", b"x");
    let to = tmp.path().join("to");
    for bad in [
        String::new(),
        "../../etc/passwd".to_owned(),
        hash.to_uppercase(),
        hash[..63].to_owned(),
        format!("{hash}0"),
        format!("../{}", &hash[3..]),
        format!("{}/x", &hash[..62]),
    ] {
        let is_invalid = |r: Result<_, Error>| matches!(r, Err(Error::InvalidHash(_)));
        assert!(is_invalid(remote.has(&bad).await.map(|_| ())), "{bad:?}");
        assert!(is_invalid(remote.put_file(&bad, &file).await), "{bad:?}");
        assert!(
            is_invalid(remote.fetch(&bad, &to).await.map(|_| ())),
            "{bad:?}"
        );
        assert!(is_invalid(cache.local_path(&bad).map(|_| ())), "{bad:?}");
        assert!(
            is_invalid(cache.ensure_local(&bad).await.map(|_| ())),
            "{bad:?}"
        );
        assert!(is_invalid(cache.publish(&bad).await), "{bad:?}");
    }
    assert_eq!(files_under(tmp.path()), vec!["artifact"]);
    Ok(())
}

#[test]
fn specs_parse_or_say_what_is_wrong() -> TestResult {
    let dir = Remote::parse("/srv/kino/artifacts")?;
    assert_eq!(dir.describe(), "directory /srv/kino/artifacts");
    let dir = Remote::parse("file:///srv/kino/artifacts")?;
    assert_eq!(dir.describe(), "directory /srv/kino/artifacts");
    let dir = Remote::parse("relative/dir")?;
    assert_eq!(dir.describe(), "directory relative/dir");

    let s3 =
        Remote::parse("s3://bucket/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-1")?;
    assert_eq!(
        s3.describe(),
        "s3://bucket/some/prefix (endpoint http://127.0.0.1:9000, region eu-west-1)"
    );
    let s3 = Remote::parse("s3://bucket?region=us-east-1")?;
    assert_eq!(s3.describe(), "s3://bucket (AWS, region us-east-1)");

    for (spec, expected) in [
        ("", "empty"),
        ("s3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://bucket/p?endpoint=ftp://x", "endpoint \"ftp://x\""),
        ("s3://bucket/p?endpoint=not%20a%20url", "is not a URL"),
        ("s3://bucket/p?secret=x", "unknown parameter \"secret\""),
        ("s3://key:secret@bucket/p", "credentials do not belong"),
        (
            "s3://bucket/p?endpoint=http://k:s@host:9000",
            "credentials do not belong",
        ),
        ("s3://bucket:9000/p", "no port"),
        ("s3://bucket/a//b", "bad prefix"),
        ("s3://bucket/p?region=", "empty region"),
        ("s3://bucket/p?region=a&region=b", "region given twice"),
        ("gs://bucket/p", "unsupported scheme \"gs\""),
        ("file://host/p", "not host \"host\""),
        ("file:///p?x=1", "no query"),
    ] {
        let err = Remote::parse(spec).expect_err(spec);
        let message = err.to_string();
        assert!(matches!(err, Error::Spec { .. }), "{spec}: {message}");
        assert!(message.contains(expected), "{spec}: {message}");
        assert!(
            !message.contains("secret\"") || expected.contains("secret"),
            "{message}"
        );
    }
    assert!(Remote::directory("/x").with_part_size(1024).is_err());
    Ok(())
}

#[tokio::test]
async fn the_cache_fetches_on_a_miss_and_publishes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let remote = Remote::directory(tmp.path().join("shared"));
    let producer = Cache::new(tmp.path().join("producer"), Some(remote.clone()));
    let consumer = Cache::new(tmp.path().join("consumer"), Some(remote.clone()));
    let data = content(100_000, 3);
    let hash = sha256(&data);

    // Produced on one worker, in Kino's layout DIR/ab/<hash>.
    let local = producer.local_path(&hash)?;
    assert_eq!(
        local,
        tmp.path().join("producer").join(&hash[..2]).join(&hash)
    );
    std::fs::create_dir_all(local.parent().expect("a parent"))?;
    std::fs::write(&local, &data)?;
    assert_eq!(producer.ensure_local(&hash).await?, Some(local.clone()));

    assert_eq!(
        consumer.ensure_local(&hash).await?,
        None,
        "not published yet"
    );
    producer.publish(&hash).await?;
    assert!(remote.has(&hash).await?);
    producer.publish(&hash).await?;

    let fetched = consumer.ensure_local(&hash).await?.expect("fetched");
    assert_eq!(fetched, consumer.local_path(&hash)?);
    assert_eq!(std::fs::read(&fetched)?, data);

    // Publishing what the cache does not hold is an error naming it.
    let missing = sha256(b"missing");
    let err = consumer.publish(&missing).await.expect_err("not local");
    assert!(matches!(err, Error::NotLocal { .. }), "{err}");
    assert!(err.to_string().contains(&missing));

    // Without a remote: local hits only, publish is a no-op.
    let alone = Cache::new(tmp.path().join("producer"), None);
    assert_eq!(alone.ensure_local(&hash).await?, Some(local));
    assert_eq!(alone.ensure_local(&missing).await?, None);
    alone.publish(&hash).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_fetches_of_one_hash_are_safe() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let remote = Remote::directory(tmp.path().join("shared"));
    let data = content(4 << 20, 4);
    let (file, hash) = write_file(tmp.path(), "artifact", &data);
    remote.put_file(&hash, &file).await?;

    let cache = Cache::new(tmp.path().join("cache"), Some(remote));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let cache = cache.clone();
        let hash = hash.clone();
        tasks.push(tokio::spawn(async move { cache.ensure_local(&hash).await }));
    }
    for task in tasks {
        let path = task.await??.expect("fetched");
        assert_eq!(std::fs::read(&path)?, data);
    }
    // One file, no temporaries (plus the note that it was fetched).
    assert_eq!(
        files_under(cache.dir()),
        vec![format!(".fetched/{hash}"), format!("{}/{hash}", &hash[..2])]
    );
    Ok(())
}

#[tokio::test]
async fn a_budget_evicts_the_least_recently_used_fetched_files() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let remote = Remote::directory(tmp.path().join("shared"));
    let mut hashes = Vec::new();
    for seed in 0..4 {
        let (file, hash) = write_file(tmp.path(), &format!("a{seed}"), &content(1000, seed));
        remote.put_file(&hash, &file).await?;
        hashes.push(hash);
    }
    let cache = Cache::new(tmp.path().join("cache"), Some(remote)).with_budget(2500);
    // A file produced here: never evicted, not counted.
    let own = sha256(b"produced here");
    let own_path = cache.local_path(&own)?;
    std::fs::create_dir_all(own_path.parent().expect("a parent"))?;
    std::fs::write(&own_path, b"produced here")?;

    let present = |cache: &Cache, hash: &str| cache.local_path(hash).map(|p| p.exists());
    cache.ensure_local(&hashes[0]).await?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    cache.ensure_local(&hashes[1]).await?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Using 0 again makes 1 the least recently used.
    cache.ensure_local(&hashes[0]).await?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    cache.ensure_local(&hashes[2]).await?;
    assert!(present(&cache, &hashes[0])?);
    assert!(
        !present(&cache, &hashes[1])?,
        "the least recently used goes"
    );
    assert!(present(&cache, &hashes[2])?);
    assert!(present(&cache, &own)?);

    // A budget smaller than one file keeps the one just fetched.
    let tight = Cache::new(cache.dir(), cache.remote().cloned()).with_budget(10);
    tight.ensure_local(&hashes[3]).await?;
    assert!(present(&tight, &hashes[3])?);
    assert!(!present(&tight, &hashes[0])?);
    assert!(!present(&tight, &hashes[2])?);
    assert!(present(&tight, &own)?);
    // An evicted file comes back on demand.
    assert!(tight.ensure_local(&hashes[1]).await?.is_some());
    Ok(())
}
