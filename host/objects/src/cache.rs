//! The local cache of a worker: Kino's artifact directory layout
//! (`DIR/ab/<hash>`), filled from the shared remote on a miss.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, IoContext, Result};
use crate::remote::Remote;
use crate::verify::check_hash;

/// Where the cache notes which of its files were fetched from the remote
/// (one empty file per artifact, its modification time the last use). Only
/// those are evicted: the others may exist nowhere else.
const FETCHED_DIR: &str = ".fetched";

/// A local artifact directory backed by an optional shared [`Remote`].
///
/// Several tasks (or processes) may ask for the same artifact at once: each
/// fetch writes its own temporary and renames it into place, so readers only
/// ever see complete, verified files.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    remote: Option<Remote>,
    budget: Option<u64>,
}

impl Cache {
    /// A cache in `dir` (Kino's local artifact directory), filled from
    /// `remote` when given.
    pub fn new(dir: impl Into<PathBuf>, remote: Option<Remote>) -> Self {
        Self {
            dir: dir.into(),
            remote,
            budget: None,
        }
    }

    /// Keeps the files fetched from the remote under `bytes` in all: after
    /// each fetch the least recently used of them are deleted until they fit
    /// (the one just fetched is kept even if alone it is larger). Files that
    /// were not fetched (produced here) are never evicted nor counted. A
    /// caller should open a path from [`Cache::ensure_local`] promptly: an
    /// eviction by another task may remove it later.
    pub fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shared remote, if any.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// `DIR/ab/<hash>`: where the artifact `hash` is (or would be) cached.
    pub fn local_path(&self, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        Ok(self.dir.join(&hash[..2]).join(hash))
    }

    /// The local path of the artifact `hash`: a file already in the cache,
    /// else fetched from the remote (verified against its hash), else
    /// `None` (no remote, or the remote does not have it).
    pub async fn ensure_local(&self, hash: &str) -> Result<Option<PathBuf>> {
        let path = self.local_path(hash)?;
        if is_file(&path).await? {
            self.touch(hash).await;
            return Ok(Some(path));
        }
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        if !remote.fetch(hash, &path).await? {
            return Ok(None);
        }
        // Noted even without a budget, so that a later budget counts it.
        self.mark_fetched(hash).await?;
        if let Some(budget) = self.budget {
            self.evict(budget, hash).await?;
        }
        Ok(Some(path))
    }

    /// Uploads the cached artifact `hash` unless the remote has it already
    /// (a no-op without a remote). [`Error::NotLocal`] if the cache does not
    /// hold it.
    pub async fn publish(&self, hash: &str) -> Result<()> {
        let path = self.local_path(hash)?;
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        if !is_file(&path).await? {
            return Err(Error::NotLocal {
                hash: hash.to_owned(),
                path,
            });
        }
        remote.put_file(hash, &path).await
    }

    fn marker(&self, hash: &str) -> PathBuf {
        self.dir.join(FETCHED_DIR).join(hash)
    }

    /// Notes `hash` as fetched (and used now).
    async fn mark_fetched(&self, hash: &str) -> Result<()> {
        let marker = self.marker(hash);
        let dir = self.dir.join(FETCHED_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .io_context(|| format!("creating directory {}", dir.display()))?;
        tokio::fs::write(&marker, b"")
            .await
            .io_context(|| format!("writing {}", marker.display()))
    }

    /// Marks a fetched artifact as used now (nothing for the others). A
    /// failure only makes it look older to eviction.
    async fn touch(&self, hash: &str) {
        let marker = self.marker(hash);
        let _ = tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new().write(true).open(marker)?;
            file.set_modified(SystemTime::now())
        })
        .await;
    }

    /// Deletes the least recently used fetched artifacts (never `keep`) until
    /// the fetched ones fit in `budget` bytes.
    async fn evict(&self, budget: u64, keep: &str) -> Result<()> {
        let dir = self.dir.join(FETCHED_DIR);
        let cache = self.clone();
        let keep = keep.to_owned();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let entries =
                std::fs::read_dir(&dir).io_context(|| format!("listing {}", dir.display()))?;
            let mut fetched = Vec::new();
            let mut total = 0u64;
            for entry in entries {
                let entry = entry.io_context(|| format!("listing {}", dir.display()))?;
                let Some(hash) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if check_hash(&hash).is_err() {
                    continue;
                }
                let used = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                let path = cache.local_path(&hash)?;
                match std::fs::metadata(&path) {
                    Ok(meta) => {
                        total += meta.len();
                        fetched.push((used, hash, meta.len()));
                    }
                    // Gone (evicted by another process): drop its note.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let _ = std::fs::remove_file(entry.path());
                    }
                    Err(e) => {
                        return Err(Error::Io {
                            context: format!("reading the size of {}", path.display()),
                            error: e,
                        });
                    }
                }
            }
            fetched.sort();
            for (_, hash, size) in fetched {
                if total <= budget {
                    break;
                }
                if hash == keep {
                    continue;
                }
                let path = cache.local_path(&hash)?;
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::Io {
                            context: format!("evicting {}", path.display()),
                            error: e,
                        });
                    }
                }
                let _ = std::fs::remove_file(cache.marker(&hash));
                total -= size;
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Io {
            context: format!("evicting from {}", self.dir.display()),
            error: std::io::Error::other(e),
        })?
    }
}

async fn is_file(path: &Path) -> Result<bool> {
    match tokio::fs::metadata(path).await {
        Ok(meta) => Ok(meta.is_file()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Io {
            context: format!("looking for {}", path.display()),
            error: e,
        }),
    }
}
