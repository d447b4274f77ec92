//! Media lent to a plugin for one call (`kino:stage/media`): files the host
//! holds, read and written through `wasi:io` streams.
//!
//! The streams are host objects, so a plugin that splices one into a
//! `wasi:http` body (or a response body into one) moves the bytes from
//! host to host: they never enter its linear memory.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::Pollable;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError};

use super::bindings::media;
use super::bindings::types::PluginError;
use super::ctx::StageCtx;

/// The most bytes one read or write moves: a splice into an HTTP body
/// moves this much per step (the SDK asks for 1 MiB).
const CHUNK: usize = 1 << 20;

/// The most media streams (read or write) one call may hold open at once.
/// Each is an open file in the host: a plugin that opens streams and never
/// reads or drops them must not run the host process out of files.
pub const MAX_OPEN_STREAMS: usize = 16;

/// How many media streams a call holds open.
#[derive(Debug, Default)]
pub(crate) struct OpenStreams(Arc<AtomicUsize>);

/// One open stream's place in its call's [`OpenStreams`], given back when
/// the stream is dropped (by the plugin, or with the call).
struct StreamSlot(Arc<AtomicUsize>);

impl OpenStreams {
    fn take(&self) -> Result<StreamSlot, PluginError> {
        if self.0.fetch_add(1, Ordering::Relaxed) >= MAX_OPEN_STREAMS {
            self.0.fetch_sub(1, Ordering::Relaxed);
            return Err(PluginError::Internal(format!(
                "a call may hold at most {MAX_OPEN_STREAMS} media streams open at once: drop one before opening another"
            )));
        }
        Ok(StreamSlot(self.0.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A file the host lends a plugin to read (`media-in`).
#[derive(Debug, Clone)]
pub struct MediaFile {
    path: PathBuf,
    content_type: String,
    file_name: String,
    size: u64,
}

impl MediaFile {
    /// The file at `path`, of media type `content_type` (`audio/wav`,
    /// `video/mp4`...), named to the plugin by its file name. Fails if the
    /// file cannot be read.
    pub fn new(path: impl Into<PathBuf>, content_type: &str) -> std::io::Result<Self> {
        let path = path.into();
        let size = std::fs::metadata(&path)?.len();
        let file_name = path
            .file_name()
            .map_or_else(|| "media".into(), |n| n.to_string_lossy().into_owned());
        Ok(Self {
            path,
            content_type: content_type.to_owned(),
            file_name,
            size,
        })
    }

    /// The same file, named `file_name` to the plugin.
    pub fn with_file_name(mut self, file_name: &str) -> Self {
        file_name.clone_into(&mut self.file_name);
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length in bytes, when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Where a plugin writes the media it produces (`media-out`): a file of at
/// most `max_bytes`. Cheap to clone; clones share what was written.
#[derive(Debug, Clone)]
pub struct MediaSink {
    path: PathBuf,
    max_bytes: u64,
    state: Arc<Mutex<SinkState>>,
}

#[derive(Debug, Default)]
struct SinkState {
    content_type: Option<String>,
    written: u64,
    refused: bool,
}

impl MediaSink {
    /// A sink writing to `path` (created or truncated when the plugin starts
    /// its output), refusing writes past `max_bytes`.
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            path: path.into(),
            max_bytes,
            state: Arc::default(),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The media type the plugin declared; `None` if it wrote nothing.
    pub fn content_type(&self) -> Option<String> {
        self.lock().content_type.clone()
    }

    /// How many bytes the plugin wrote since its last `create`.
    pub fn written(&self) -> u64 {
        self.lock().written
    }

    /// Whether a write was refused for going past the size limit.
    pub fn refused(&self) -> bool {
        self.lock().refused
    }

    /// The size limit, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The `media-in` resource: a [`MediaFile`] in a call's resource table.
pub struct MediaIn(pub(crate) MediaFile);

/// The `media-out` resource: a [`MediaSink`] in a call's resource table.
pub struct MediaOut(pub(crate) MediaSink);

/// Reads a file in chunks.
struct FileInput {
    file: File,
    _slot: StreamSlot,
}

#[async_trait::async_trait]
impl Pollable for FileInput {
    async fn ready(&mut self) {}
}

impl InputStream for FileInput {
    fn read(&mut self, size: usize) -> Result<Bytes, StreamError> {
        let want = size.min(CHUNK);
        // Read into the buffer's spare capacity: zeroing it first would be
        // one more pass over every byte.
        let mut buf = Vec::with_capacity(want);
        let n = (&mut self.file)
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        if n == 0 && want > 0 {
            return Err(StreamError::Closed);
        }
        Ok(buf.into())
    }
}

/// Writes a file, counting bytes against the sink's limit.
struct FileOutput {
    file: std::io::BufWriter<File>,
    sink: MediaSink,
    _slot: StreamSlot,
}

#[async_trait::async_trait]
impl Pollable for FileOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for FileOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        let mut state = self.sink.lock();
        let total = state.written + bytes.len() as u64;
        if total > self.sink.max_bytes {
            state.refused = true;
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "the output would exceed the stage's limit of {} bytes",
                self.sink.max_bytes
            )));
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        state.written = total;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        self.file
            .flush()
            .map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(CHUNK)
    }
}

impl Drop for FileOutput {
    fn drop(&mut self) {
        // What a plugin wrote without flushing still lands.
        let _ = self.file.flush();
    }
}

impl media::Host for StageCtx {}

impl media::HostMediaIn for StageCtx {
    fn content_type(&mut self, media: Resource<MediaIn>) -> String {
        self.media_in(&media)
            .map(|m| m.content_type.clone())
            .unwrap_or_default()
    }

    fn file_name(&mut self, media: Resource<MediaIn>) -> String {
        self.media_in(&media)
            .map(|m| m.file_name.clone())
            .unwrap_or_default()
    }

    fn size(&mut self, media: Resource<MediaIn>) -> u64 {
        self.media_in(&media).map_or(0, |m| m.size)
    }

    fn open(&mut self, media: Resource<MediaIn>) -> Result<Resource<DynInputStream>, PluginError> {
        let slot = self.open_streams.take()?;
        let file = self
            .media_in(&media)
            .ok_or_else(|| PluginError::Internal("no such media".into()))?;
        let opened = File::open(&file.path).map_err(|e| {
            PluginError::Internal(format!("the host could not open {}: {e}", file.file_name))
        })?;
        let stream: DynInputStream = Box::new(FileInput {
            file: opened,
            _slot: slot,
        });
        self.table()
            .push(stream)
            .map_err(|e| PluginError::Internal(format!("opening a stream: {e}")))
    }

    fn drop(&mut self, media: Resource<MediaIn>) -> wasmtime::Result<()> {
        // Handles the host passed in are the host's to delete after the call.
        if media.owned() {
            self.table().delete(media)?;
        }
        Ok(())
    }
}

impl media::HostMediaOut for StageCtx {
    fn create(
        &mut self,
        out: Resource<MediaOut>,
        content_type: String,
    ) -> Result<Resource<DynOutputStream>, PluginError> {
        let slot = self.open_streams.take()?;
        let sink = self
            .table()
            .get(&out)
            .map(|m| m.0.clone())
            .map_err(|_| PluginError::Internal("no such media output".into()))?;
        let file = File::create(&sink.path).map_err(|e| {
            PluginError::Internal(format!("the host could not create its output: {e}"))
        })?;
        {
            let mut state = sink.lock();
            state.content_type = Some(content_type);
            state.written = 0;
        }
        let stream: DynOutputStream = Box::new(FileOutput {
            file: std::io::BufWriter::with_capacity(CHUNK, file),
            sink,
            _slot: slot,
        });
        self.table()
            .push(stream)
            .map_err(|e| PluginError::Internal(format!("opening a stream: {e}")))
    }

    fn written(&mut self, out: Resource<MediaOut>) -> u64 {
        self.table().get(&out).map_or(0, |m| m.0.written())
    }

    fn drop(&mut self, out: Resource<MediaOut>) -> wasmtime::Result<()> {
        if out.owned() {
            self.table().delete(out)?;
        }
        Ok(())
    }
}

impl StageCtx {
    fn media_in(&mut self, media: &Resource<MediaIn>) -> Option<&MediaFile> {
        self.table().get(media).ok().map(|m| &m.0)
    }
}
