//! Hash checks and the verified write: bytes go to a temporary beside the
//! destination while their SHA-256 is computed; the temporary is renamed into
//! place only when the digest is the expected hash, and removed otherwise.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, IoContext, Result};

/// Whether `hash` is an artifact hash: a SHA-256 as 64 lowercase hex digits.
pub fn is_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `Ok` for an artifact hash (see [`is_hash`]), else [`Error::InvalidHash`].
pub fn check_hash(hash: &str) -> Result<()> {
    if is_hash(hash) {
        Ok(())
    } else {
        Err(Error::InvalidHash(hash.to_owned()))
    }
}

/// The hex SHA-256 of everything written to it, and how many bytes.
#[derive(Default)]
pub(crate) struct Hasher {
    digest: Sha256,
    bytes: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
        self.bytes += data.len() as u64;
    }

    /// The digest as lowercase hex, and the byte count.
    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.digest.finalize()), self.bytes)
    }
}

/// The mode of the files this crate leaves behind: content-addressed objects
/// are read by other users' workers on a shared directory.
#[cfg(unix)]
pub(crate) fn set_readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub(crate) fn set_readable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// A temporary beside its destination, unique per call (several tasks may
/// write the same destination at once), removed when dropped unless
/// [`VerifiedWrite::finish`] renamed it into place.
pub(crate) struct VerifiedWrite {
    hash: String,
    to: PathBuf,
    file: tokio::fs::File,
    temp: tempfile::TempPath,
    hasher: Hasher,
}

impl VerifiedWrite {
    /// Creates the temporary for `to` (and `to`'s directory if missing).
    pub(crate) async fn create(hash: &str, to: &Path) -> Result<Self> {
        let dir = match to.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .io_context(|| format!("creating directory {}", dir.display()))?;
        let prefix = format!(".{hash}.");
        let (file, temp) = {
            let in_dir = dir.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                let named = tempfile::Builder::new()
                    .prefix(&prefix)
                    .suffix(".partial")
                    .tempfile_in(&in_dir)?;
                set_readable(named.as_file())?;
                Ok(named.into_parts())
            })
            .await
            .map_err(|e| Error::Io {
                context: format!("creating a temporary in {}", dir.display()),
                error: std::io::Error::other(e),
            })?
            .io_context(|| format!("creating a temporary in {}", dir.display()))?
        };
        Ok(Self {
            hash: hash.to_owned(),
            to: to.to_owned(),
            file: tokio::fs::File::from_std(file),
            temp,
            hasher: Hasher::default(),
        })
    }

    /// Appends `data` to the temporary.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.hasher.update(data);
        self.file
            .write_all(data)
            .await
            .io_context(|| format!("writing {}", self.temp.display()))
    }

    /// Checks the digest against the hash; on a match syncs the temporary and
    /// renames it to the destination. On a mismatch (or any failure) the
    /// temporary is removed and nothing is left at the destination.
    pub(crate) async fn finish(mut self, from: &str) -> Result<()> {
        let (actual, bytes) = std::mem::take(&mut self.hasher).finish();
        if actual != self.hash {
            return Err(Error::Mismatch {
                hash: self.hash,
                actual,
                bytes,
                from: from.to_owned(),
            });
        }
        self.file
            .flush()
            .await
            .io_context(|| format!("writing {}", self.temp.display()))?;
        self.file
            .sync_all()
            .await
            .io_context(|| format!("syncing {}", self.temp.display()))?;
        drop(self.file);
        let to = self.to;
        let temp = self.temp;
        tokio::task::spawn_blocking(move || {
            let shown = temp.display().to_string();
            temp.persist(&to).map_err(|e| Error::Io {
                context: format!("renaming {shown} to {}", to.display()),
                error: e.error,
            })
        })
        .await
        .map_err(|e| Error::Io {
            context: "renaming a verified temporary into place".to_owned(),
            error: std::io::Error::other(e),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_64_lowercase_hex() {
        assert!(is_hash(&"a".repeat(64)));
        assert!(is_hash(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        ));
        for bad in [
            "",
            "abc",
            &"A".repeat(64),
            &"g".repeat(64),
            &"a".repeat(63),
            &"a".repeat(65),
            "../../../../../../../../../../../../../../../../../../../etc/pas",
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(!is_hash(bad), "{bad:?}");
            assert!(matches!(check_hash(bad), Err(Error::InvalidHash(_))));
        }
    }
}
