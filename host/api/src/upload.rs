//! Receiving an upload (`POST /inputs`, `POST /admin/plugins`): the body is
//! written chunk by chunk into a file of a scratch directory, never held
//! whole in memory.
//!
//! Before a byte of the body is read, an upload whose declared
//! `Content-Length` is over the upload limit is answered 413 (so a client
//! sending `Expect: 100-continue` never gets `100 Continue`), and an upload
//! that would take the bytes in flight over the [`UploadBudget`] is answered
//! 503 with `Retry-After`. A body without a declared length that grows past
//! the limit is a 413 as soon as it does. Whatever ends an upload early (a
//! refusal, the client going away) drops its scratch directory with the
//! partial file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::ApiError;
use kino_pipeline::artifacts::Artifacts;

/// The default budget of upload bytes in flight across all uploads: 512 MiB.
pub const DEFAULT_UPLOAD_BUDGET: u64 = 512 << 20;

/// The `Retry-After` of a 503 for an exhausted upload budget, in seconds.
pub const UPLOAD_RETRY_AFTER_SECS: u64 = 5;

/// How many bytes the uploads in flight may hold together. Each upload
/// reserves its declared `Content-Length` (the upload limit when it declares
/// none) until its request is answered. Clones share one budget.
#[derive(Debug, Clone)]
pub struct UploadBudget {
    total: u64,
    reserved: Arc<AtomicU64>,
}

impl UploadBudget {
    /// A budget of `total` bytes, none reserved.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            reserved: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The bytes the budget holds in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The bytes the uploads in flight have reserved now.
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Acquire)
    }

    /// Reserves `bytes`, or `None` when that would go over the budget.
    fn reserve(&self, bytes: u64) -> Option<Reservation> {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                now.checked_add(bytes).filter(|&after| after <= self.total)
            })
            .ok()?;
        Some(Reservation {
            reserved: Arc::clone(&self.reserved),
            bytes,
        })
    }
}

/// Bytes of the [`UploadBudget`] held by one upload; given back on drop.
#[derive(Debug)]
struct Reservation {
    reserved: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.reserved.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// An upload received whole into a file. The file's scratch directory, and
/// the upload's share of the budget, last as long as this.
#[derive(Debug)]
pub(crate) struct Received {
    dir: tempfile::TempDir,
    path: PathBuf,
    size: u64,
    _reservation: Reservation,
}

impl Received {
    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The scratch directory the file lies in.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

/// How much of a body is written to the file at once.
const WRITE_BUFFER: usize = 256 << 10;

/// The 413 for an upload over `limit`; `what` names it.
pub(crate) fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the {what} is larger than the upload limit of {limit} bytes"
    ))
}

/// Receives `body` (the `what` of the endpoint: "file", "package") into a
/// file named `file_name` of a scratch directory of `artifacts` (the same
/// filesystem as the store, so storing it is a rename).
pub(crate) async fn receive(
    what: &str,
    file_name: &str,
    limit: usize,
    budget: &UploadBudget,
    artifacts: &Artifacts,
    headers: &HeaderMap,
    body: Body,
) -> Result<Received, ApiError> {
    let limit = limit as u64;
    let declared = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("`Content-Length` is not a number of bytes".into())
                })?,
        ),
    };
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(what, limit));
    }
    let reservation = budget.reserve(declared.unwrap_or(limit)).ok_or_else(|| {
        ApiError::Busy(format!(
            "too many uploads are in flight; retry in {UPLOAD_RETRY_AFTER_SECS} s"
        ))
    })?;

    let artifacts = artifacts.clone();
    let file_name = file_name.to_owned();
    let (dir, path, file) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let dir = artifacts.scratch()?;
        let path = dir.path().join(file_name);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok((dir, path, file))
    })
    .await
    .context("creating an upload's scratch file")??;

    let mut file =
        tokio::io::BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file));
    let mut size = 0u64;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| {
            ApiError::BadRequest(format!("the {what} could not be read whole: {err}"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(what, limit));
        }
        file.write_all(&chunk)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
    }
    file.flush()
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Received {
        dir,
        path,
        size,
        _reservation: reservation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_given_back() {
        let budget = UploadBudget::new(100);
        let first = budget.reserve(60).expect("60 of 100");
        assert!(budget.reserve(41).is_none(), "101 of 100");
        let second = budget.reserve(40).expect("100 of 100");
        assert_eq!(budget.reserved(), 100);
        drop(first);
        assert_eq!(budget.reserved(), 40);
        assert!(budget.reserve(u64::MAX).is_none(), "no overflow");
        drop(second);
        assert_eq!(budget.reserved(), 0);
    }
}
