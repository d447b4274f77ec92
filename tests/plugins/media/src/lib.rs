//! A test-only `lipsync` plugin that moves media without a backend, for the
//! media-stream tests and benchmarks. The tenant config key `mode` picks
//! what it does with the `video` it is lent:
//!
//! - `splice` (the default): splices it into the output, host stream to
//!   host stream, and answers `done`;
//! - `buffer`: reads it all into its own memory, then writes it out (what a
//!   plugin had to do with `list<u8>`), and answers `done`;
//! - `past-end`: reads it to the end, keeps reading after the end, then
//!   opens it again and splices that into the output;
//! - `never-read`: opens it (and the output) until the host refuses,
//!   never reads, writes or drops a stream, logs how many it opened and
//!   the host's refusal, and answers `done`;
//! - `flood`: writes into the output until a write is refused, then
//!   answers `done` as if nothing happened;
//! - `pending`: answers `pending` to `submit` and to every `check` (a
//!   remote job that never ends: the host's polling overhead).

use kino_plugin_sdk::{
    Lipsync, MediaIn, MediaOut, Pending, PluginError, VideoInfo, VideoProgress, config, log,
};
use wasip2::io::streams::{OutputStream, StreamError};

struct Media;

/// The most bytes one splice step asks for.
const STEP: u64 = 1 << 20;

fn failed(what: &str, e: impl std::fmt::Debug) -> PluginError {
    PluginError::Internal(format!("{what}: {e:?}"))
}

fn done() -> VideoProgress {
    VideoProgress::Done(VideoInfo {
        width: None,
        height: None,
        duration_ms: None,
    })
}

fn pending(ticket: String) -> VideoProgress {
    VideoProgress::Pending(Pending {
        ticket,
        progress: Some(0.5),
        check_after_ms: 0,
    })
}

/// Splices all of `video` into `out`.
fn splice(video: &MediaIn, out: &MediaOut) -> Result<u64, PluginError> {
    let input = video.open()?;
    let output = out.create("video/mp4")?;
    let mut moved = 0;
    loop {
        match output.blocking_splice(&input, STEP) {
            Ok(n) => moved += n,
            Err(StreamError::Closed) => break,
            Err(e) => return Err(failed("splice", e)),
        }
    }
    output.blocking_flush().map_err(|e| failed("flush", e))?;
    Ok(moved)
}

/// Reads all of `video` into memory, then writes it to `out`.
fn buffer(video: &MediaIn, out: &MediaOut) -> Result<(), PluginError> {
    let input = video.open()?;
    let mut bytes = Vec::new();
    loop {
        match input.blocking_read(STEP) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(failed("read", e)),
        }
    }
    let output = out.create("video/mp4")?;
    let mut left = bytes.as_slice();
    while !left.is_empty() {
        let n = room(&output)
            .map_err(|e| failed("write", e))?
            .min(left.len());
        output.write(&left[..n]).map_err(|e| failed("write", e))?;
        left = &left[n..];
    }
    output.blocking_flush().map_err(|e| failed("flush", e))
}

/// How many bytes `output` takes now, waiting until it takes some.
fn room(output: &OutputStream) -> Result<usize, StreamError> {
    loop {
        let room = output.check_write()?;
        if room > 0 {
            return Ok(usize::try_from(room).unwrap_or(usize::MAX));
        }
        output.subscribe().block();
    }
}

/// Reads `video` to its end, then a hundred times more: every read past
/// the end must say the stream is closed.
fn read_past_end(video: &MediaIn) -> Result<(), PluginError> {
    let input = video.open()?;
    while input.blocking_read(STEP).is_ok() {}
    for _ in 0..100 {
        match input.blocking_read(STEP) {
            Err(StreamError::Closed) => {}
            other => return Err(failed("a read past the end", other)),
        }
    }
    Ok(())
}

/// Opens streams until the host refuses one, and keeps them all.
fn never_read(video: &MediaIn, out: &MediaOut) {
    let mut opened = 0;
    let refusal = loop {
        let result = if opened % 2 == 0 {
            video.open().map(std::mem::forget)
        } else {
            out.create("video/mp4").map(std::mem::forget)
        };
        match result {
            Ok(()) if opened < 10_000 => opened += 1,
            Ok(()) => break "none".to_owned(),
            Err(e) => break format!("{e:?}"),
        }
    };
    log::info(&format!("opened {opened} streams; then {refusal}"));
}

/// Writes zeros into `out` until a write is refused.
fn flood(out: &MediaOut) -> Result<(), PluginError> {
    let output = out.create("video/mp4")?;
    let zeros = vec![0u8; 64 << 10];
    loop {
        let Ok(room) = room(&output) else {
            return Ok(());
        };
        let n = zeros.len().min(room);
        if output.write(&zeros[..n]).is_err() {
            return Ok(());
        }
    }
}

impl Lipsync for Media {
    fn submit(
        video: &MediaIn,
        _audio: &MediaIn,
        out: &MediaOut,
        key: String,
    ) -> Result<VideoProgress, PluginError> {
        match config("mode").unwrap_or_default().as_str() {
            "buffer" => buffer(video, out)?,
            "past-end" => {
                read_past_end(video)?;
                splice(video, out)?;
            }
            "never-read" => never_read(video, out),
            "flood" => flood(out)?,
            "pending" => return Ok(pending(key)),
            _ => {
                splice(video, out)?;
            }
        }
        Ok(done())
    }

    fn check(ticket: String, _out: &MediaOut) -> Result<VideoProgress, PluginError> {
        Ok(pending(ticket))
    }
}

kino_plugin_sdk::export_lipsync!(Media);
