//! Shared artifact storage for Kino workers.
//!
//! Every stage output lives in a content-addressed store named by the SHA-256
//! of its content. Workers on several machines share artifacts through a
//! [`Remote`] (a shared directory, e.g. on NFS, or an S3-compatible bucket),
//! each keeping hot artifacts in a local [`Cache`] laid out like Kino's local
//! artifact directory (`DIR/ab/<hash>`).
//!
//! Content is verified against its hash whenever it crosses between the two:
//! on upload before it becomes visible, and on fetch before it is renamed into
//! the cache. Hashes are 64 lowercase hex digits ([`is_hash`]); anything else
//! is refused before it gets near a path or a key.

#![warn(missing_docs)]

mod cache;
mod error;
mod remote;
pub mod testing;
mod verify;

pub use cache::Cache;
pub use error::{Error, Result};
pub use remote::{DEFAULT_PART_SIZE, MIN_PART_SIZE, Remote};
pub use verify::{check_hash, is_hash};
