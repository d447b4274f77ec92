//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong talking to a remote or the local cache.
///
/// Each message names the artifact, the path or the remote involved; the
/// underlying error (I/O or `object_store`) is part of the message, so a plain
/// `{}` is enough for a log line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hash that is not 64 lowercase hex digits (never taken as a path).
    #[error("invalid artifact hash {0:?}: expected a SHA-256 as 64 lowercase hex digits")]
    InvalidHash(String),

    /// A remote spec that [`crate::Remote::parse`] cannot use.
    #[error("invalid remote spec {spec:?}: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What was wrong with it.
        reason: String,
    },

    /// Content whose SHA-256 is not the hash it was stored or asked for under.
    /// Nothing was written at the destination.
    #[error(
        "artifact {hash} from {from}: the content has SHA-256 {actual} ({bytes} bytes), \
         not {hash}; refused"
    )]
    Mismatch {
        /// The hash that was asked for.
        hash: String,
        /// The SHA-256 of what came back.
        actual: String,
        /// How many bytes came back.
        bytes: u64,
        /// Where it came from (a remote's description or a local path).
        from: String,
    },

    /// [`crate::Cache::publish`] of an artifact the cache does not hold.
    #[error("artifact {hash} is not in the local cache (no file at {})", path.display())]
    NotLocal {
        /// The artifact.
        hash: String,
        /// Where it was looked for.
        path: PathBuf,
    },

    /// A local file-system operation failed.
    #[error("{context}: {error}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        error: std::io::Error,
    },

    /// A request to the S3-compatible remote failed.
    #[error("{context}: {error}")]
    Remote {
        /// What was being done, naming the remote and the object.
        context: String,
        /// The underlying error.
        error: object_store::Error,
    },
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a context (built only on failure) to an I/O result.
pub(crate) trait IoContext<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| Error::Io {
            context: context(),
            error,
        })
    }
}
