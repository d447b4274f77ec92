//! A bounded, never-failing stdout/stderr for plugins.
//!
//! WASI's `MemoryOutputPipe` traps the guest when it fills up; a chatty
//! plugin should lose its excess output, not its call. This pipe keeps the
//! first `capacity` bytes and counts the rest.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Default)]
struct Buffer {
    kept: Vec<u8>,
    dropped: u64,
}

/// Keeps the first `capacity` bytes written to it; drops and counts the rest.
#[derive(Clone)]
pub(crate) struct BoundedPipe {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl BoundedPipe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::default(),
        }
    }

    /// Takes what was kept (lossily decoded) and how many bytes were dropped.
    pub(crate) fn take(&self) -> (String, u64) {
        let Ok(mut buffer) = self.buffer.lock() else {
            return (String::new(), 0);
        };
        let buffer = std::mem::take(&mut *buffer);
        (
            String::from_utf8_lossy(&buffer.kept).into_owned(),
            buffer.dropped,
        )
    }

    /// What was kept so far, without taking it.
    pub(crate) fn peek(&self) -> String {
        self.buffer
            .lock()
            .map(|b| String::from_utf8_lossy(&b.kept).into_owned())
            .unwrap_or_default()
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let Ok(mut buffer) = self.buffer.lock() else {
            return;
        };
        let room = self.capacity.saturating_sub(buffer.kept.len());
        let keep = room.min(bytes.len());
        buffer.kept.extend_from_slice(&bytes[..keep]);
        buffer.dropped += (bytes.len() - keep) as u64;
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASI 0.2 is linked; 0.3 streams never reach this pipe.
        Box::new(tokio::io::sink())
    }
}

#[async_trait::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: excess is dropped, never refused.
        Ok(64 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_counts_the_rest() {
        let pipe = BoundedPipe::new(5);
        pipe.write_bytes(b"hello world");
        pipe.write_bytes(b"!");
        assert_eq!(pipe.take(), ("hello".to_owned(), 7));
        assert_eq!(pipe.take(), (String::new(), 0));
    }
}
