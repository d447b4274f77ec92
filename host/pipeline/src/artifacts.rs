//! Content-addressed artifact files: every stage output (and every job input
//! file) lies at `DIR/<first two hex digits>/<sha256>`, written atomically.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};

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
}

impl Artifacts {
    /// Opens (creating) the artifact directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
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

    /// A scratch directory inside the artifact directory (same filesystem, so
    /// finished outputs are renamed into place, not copied).
    pub fn scratch(&self) -> Result<tempfile::TempDir> {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        tempfile::tempdir_in(&tmp)
            .with_context(|| format!("creating a directory in {}", tmp.display()))
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
                let mut tmp = tempfile::NamedTempFile::new_in(parent)
                    .with_context(|| format!("creating a file in {}", parent.display()))?;
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
            let mut tmp = tempfile::NamedTempFile::new_in(parent)
                .with_context(|| format!("creating a file in {}", parent.display()))?;
            tmp.write_all(bytes)
                .with_context(|| format!("writing {}", tmp.path().display()))?;
            persist(tmp, &path)?;
        }
        Ok(ArtifactRef { hash, path })
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
}
