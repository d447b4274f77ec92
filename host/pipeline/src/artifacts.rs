//! Content-addressed artifact files: every stage output (and every job input
//! file) lies at `DIR/<first two hex digits>/<sha256>`, written atomically.
//!
//! Work in progress lives in temporaries named after the process that made
//! them (`DIR/tmp/kino.PID.HOST~...` scratch directories, `.kino.PID.HOST~...`
//! files beside their destination): [`Artifacts::sweep`] removes those of
//! processes that are gone (a killed run), at start-up and periodically.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};

use super::owner;

use kino_objects::Cache;
pub use kino_objects::Remote;

/// A stored artifact: its content hash and where it lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    /// SHA-256 of the content, hex.
    pub hash: String,
    /// The file.
    pub path: PathBuf,
}

/// The artifact directory.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
    /// This directory as the local cache of the store the hosts share.
    shared: Option<Cache>,
}

impl Artifacts {
    /// Opens (creating) the artifact directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir, shared: None })
    }

    /// The same directory as the local cache of `shared`, the store the
    /// hosts share: what is not here is fetched from it, what is made here
    /// is published to it.
    #[must_use]
    pub fn with_shared(mut self, shared: Remote) -> Self {
        self.shared = Some(Cache::new(self.dir.clone(), Some(shared)));
        self
    }

    /// The shared store, if any.
    pub fn shared(&self) -> Option<&Remote> {
        self.shared.as_ref().and_then(Cache::remote)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where content with `hash` lies (whether or not it is there).
    pub fn path_of(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2.min(hash.len())]).join(hash)
    }

    /// The stored artifact with `hash`, if its file is there; `None` for
    /// anything that is not a SHA-256 (never a path).
    pub fn get(&self, hash: &str) -> Option<ArtifactRef> {
        if !is_sha256(hash) {
            return None;
        }
        let path = self.path_of(hash);
        path.is_file().then(|| ArtifactRef {
            hash: hash.to_owned(),
            path,
        })
    }

    /// The artifact `hash` names, where it lies or will lie here, whether
    /// or not it is here yet; `None` for anything that is not a SHA-256.
    pub fn reference(&self, hash: &str) -> Option<ArtifactRef> {
        is_sha256(hash).then(|| ArtifactRef {
            hash: hash.to_owned(),
            path: self.path_of(hash),
        })
    }

    /// The artifact with `hash` if it is stored here or in the shared store
    /// (not fetched: see [`Artifacts::fetch`]). One found only here is put
    /// in the shared store first: a host killed between storing an output
    /// and sharing it, and started again on the same directory, must not
    /// hand the other hosts a hash they cannot fetch.
    pub async fn find(&self, hash: &str) -> Result<Option<ArtifactRef>> {
        if let Some(here) = self.get(hash) {
            self.publish(&here).await?;
            return Ok(Some(here));
        }
        match self.shared.as_ref().and_then(|c| c.remote()) {
            Some(remote) if is_sha256(hash) => Ok(remote
                .has(hash)
                .await?
                .then(|| self.reference(hash))
                .flatten()),
            _ => Ok(None),
        }
    }

    /// The artifact with `hash`, here: fetched from the shared store (and
    /// its content checked) when only that has it; `None` when neither does.
    pub async fn fetch(&self, hash: &str) -> Result<Option<ArtifactRef>> {
        if let Some(here) = self.get(hash) {
            return Ok(Some(here));
        }
        let Some(cache) = self.shared.as_ref().filter(|_| is_sha256(hash)) else {
            return Ok(None);
        };
        let fetched = cache.ensure_local(hash).await.with_context(|| {
            let from = cache.remote().map_or_else(String::new, |r| r.describe());
            format!("fetching {hash} from {from}")
        })?;
        Ok(fetched.map(|path| ArtifactRef {
            hash: hash.to_owned(),
            path,
        }))
    }

    /// Puts `artifact` (stored here) in the shared store too, if there is
    /// one, for the other hosts.
    pub async fn publish(&self, artifact: &ArtifactRef) -> Result<()> {
        if let Some(cache) = &self.shared {
            cache.publish(&artifact.hash).await.with_context(|| {
                let to = cache.remote().map_or_else(String::new, |r| r.describe());
                format!("storing {} in {to}", artifact.hash)
            })?;
        }
        Ok(())
    }

    /// A scratch directory inside the artifact directory (same filesystem, so
    /// finished outputs are renamed into place, not copied).
    pub fn scratch(&self) -> Result<tempfile::TempDir> {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        tempfile::Builder::new()
            .prefix(&owner::temp_prefix())
            .tempdir_in(&tmp)
            .with_context(|| format!("creating a directory in {}", tmp.display()))
    }

    /// Removes the temporaries of runs that are gone: those of processes of
    /// this machine that no longer exist, at once; another machine's (a
    /// shared store) or unnamed ones once they are older than a day. A live
    /// process's temporaries are never touched.
    pub fn sweep(&self) -> Swept {
        let mut swept = Swept::default();
        let tmp = self.dir.join("tmp");
        for entry in read_dir(&tmp) {
            sweep_entry(&entry, &mut swept);
        }
        // Interrupted copies into the store: hidden files in the shard dirs.
        for shard in read_dir(&self.dir) {
            if shard.file_name().is_some_and(|n| n.len() == 2) && shard.is_dir() {
                for entry in read_dir(&shard) {
                    if entry
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    {
                        sweep_entry(&entry, &mut swept);
                    }
                }
            }
        }
        swept
    }

    /// Moves `file` (in a scratch directory) into the store under its hash.
    pub fn put_file(&self, file: &Path) -> Result<ArtifactRef> {
        let hash = hash_file(file)?;
        let path = self.path_of(&hash);
        if !path.is_file() {
            let parent = path.parent().expect("artifact paths have a parent");
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
            if std::fs::rename(file, &path).is_err() {
                // Another filesystem (an input file): copy to a temporary, then rename.
                let mut tmp = temp_file_in(parent)?;
                let mut from =
                    File::open(file).with_context(|| format!("opening {}", file.display()))?;
                std::io::copy(&mut from, &mut tmp).with_context(|| {
                    format!("copying {} into the artifact store", file.display())
                })?;
                persist(tmp, &path)?;
            }
        }
        Ok(ArtifactRef { hash, path })
    }

    /// Stores `bytes` under their hash.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<ArtifactRef> {
        let hash = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&hash);
        if !path.is_file() {
            let parent = path.parent().expect("artifact paths have a parent");
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
            // A temporary of its own: two uploads of the same bytes at once
            // must not write through one file.
            let mut tmp = temp_file_in(parent)?;
            tmp.write_all(bytes)
                .with_context(|| format!("writing {}", tmp.path().display()))?;
            persist(tmp, &path)?;
        }
        Ok(ArtifactRef { hash, path })
    }
}

/// What [`Artifacts::sweep`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Files and directories removed.
    pub entries: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// How old a temporary of unknown or remote ownership must be to be removed.
const ORPHAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// A temporary file beside its destination, named after this process.
fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(".{}", owner::temp_prefix()))
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Removes `path` if what made it is gone.
fn sweep_entry(path: &Path, swept: &mut Swept) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name else { return };
    let orphan = match owner::temp_owner(&name) {
        Some((pid, host)) if host == owner::hostname() => owner::is_gone(host, pid),
        // Another machine's, or a name from before temporaries had owners.
        _ => std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| {
                SystemTime::now()
                    .duration_since(t)
                    .is_ok_and(|age| age > ORPHAN_AGE)
            }),
    };
    if !orphan {
        return;
    }
    let bytes = size_of(path);
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => {
            swept.entries += 1;
            swept.bytes += bytes;
        }
        Err(e) => tracing::warn!("removing {}: {e}", path.display()),
    }
}

/// The bytes under `path`.
fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => read_dir(path).iter().map(|p| size_of(p)).sum(),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Moves a finished temporary to `path`: content-addressed, so if another
/// writer got there first, the content is the same and theirs stays.
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if path.is_file() => {
            drop(e);
            Ok(())
        }
        Err(e) => Err(e.error).with_context(|| format!("storing {}", path.display())),
    }
}

/// Whether `hash` is a SHA-256 as the store names content: 64 lowercase hex digits.
pub fn is_sha256(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// SHA-256 of a file, hex.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Artifacts::open(dir.path().join("a")).expect("open");
        let a = store.put_bytes(b"hello").expect("put");
        let scratch = store.scratch().expect("scratch");
        let f = scratch.path().join("x");
        std::fs::write(&f, b"hello").expect("write");
        let b = store.put_file(&f).expect("put file");
        assert_eq!(a, b);
        assert_eq!(std::fs::read(&a.path).expect("read"), b"hello");
        assert_eq!(
            a.hash,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert!(store.get(&a.hash).is_some());
        assert!(store.get("00ff").is_none());
        assert!(store.get("../../../../etc/passwd").is_none());
        assert!(is_sha256(&a.hash) && !is_sha256("2CF24DBA") && !is_sha256(&"é".repeat(32)));
    }

    #[tokio::test]
    async fn what_is_found_only_here_is_shared_before_it_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Remote::directory(dir.path().join("shared"));
        let restarted = Artifacts::open(dir.path().join("a"))
            .expect("open")
            .with_shared(shared.clone());
        // Stored here, never shared: the host died before publishing it.
        let output = restarted.put_bytes(b"a stage's output").expect("put");
        let elsewhere = Artifacts::open(dir.path().join("b"))
            .expect("open")
            .with_shared(shared);
        assert!(
            elsewhere
                .fetch(&output.hash)
                .await
                .expect("fetch")
                .is_none()
        );

        let found = restarted.find(&output.hash).await.expect("find");
        assert_eq!(found.as_ref(), Some(&output));
        let fetched = elsewhere.fetch(&output.hash).await.expect("fetch");
        let fetched = fetched.expect("shared once found");
        assert_eq!(
            std::fs::read(&fetched.path).expect("read"),
            b"a stage's output"
        );
    }

    #[test]
    fn the_sweep_removes_only_what_gone_processes_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Artifacts::open(dir.path().join("a")).expect("open");
        let live = store.scratch().expect("scratch");
        std::fs::write(live.path().join("frame"), [0u8; 100]).expect("write");
        // What a killed process of this machine left: a scratch directory
        // and a half-copied file beside its destination.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("wait");
        let host = owner::hostname();
        let left = dir.path().join(format!("a/tmp/kino.{dead}.{host}~x1"));
        std::fs::create_dir_all(left.join("sub")).expect("mkdir");
        std::fs::write(left.join("sub/piece.mp4"), [0u8; 3000]).expect("write");
        std::fs::create_dir_all(dir.path().join("a/ab")).expect("mkdir");
        let half = dir.path().join(format!("a/ab/.kino.{dead}.{host}~y2"));
        std::fs::write(&half, [0u8; 500]).expect("write");
        // Another machine's, recent: not ours to judge yet.
        let remote = dir.path().join("a/tmp/kino.1.elsewhere~z3");
        std::fs::create_dir_all(&remote).expect("mkdir");
        let stored = store.put_bytes(b"kept").expect("put");

        let swept = store.sweep();
        assert_eq!(
            swept,
            Swept {
                entries: 2,
                bytes: 3500
            }
        );
        assert!(!left.exists() && !half.exists());
        assert!(
            live.path().join("frame").is_file(),
            "a live scratch is kept"
        );
        assert!(remote.exists());
        assert!(stored.path.is_file());
        assert_eq!(store.sweep(), Swept::default());
    }
}
