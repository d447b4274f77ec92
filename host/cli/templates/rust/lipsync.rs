//! {{name}}: a lipsync plugin. A stand-in that moves no lips: it writes
//! the input video to `out` unchanged, spliced stream to stream so the
//! bytes never enter the plugin's memory.
//!
//! A real backend uploads `video` and `audio` to a lip-sync service in
//! `submit` (the SDK's `http::Multipart::media` streams them) and answers
//! `VideoProgress::Pending` with the service's job id as the ticket; the
//! host then calls `check` with it until the job is done, and `check`
//! saves the result into `out` (`http::Response::save`). This stand-in
//! has its result at once, so it answers `done` from `submit`.

use kino_plugin_sdk::{Lipsync, MediaIn, MediaOut, PluginError, VideoInfo, VideoProgress, log};

struct Plugin;

/// The most bytes one splice moves.
const STEP: u64 = 1 << 20;

impl Lipsync for Plugin {
    fn submit(
        video: &MediaIn,
        audio: &MediaIn,
        out: &MediaOut,
        _key: String,
    ) -> Result<VideoProgress, PluginError> {
        log::info(&format!(
            "syncing {} ({} bytes) to {} ({} bytes)",
            video.file_name(),
            video.size(),
            audio.file_name(),
            audio.size()
        ));
        let input = video.open()?;
        let output = out.create(&video.content_type())?;
        let size = video.size();
        let mut moved = 0;
        while moved < size {
            let n = output
                .blocking_splice(&input, (size - moved).min(STEP))
                .map_err(|e| PluginError::internal(format!("copying the video: {e:?}")))?;
            if n == 0 {
                return Err(PluginError::internal("the video ended early"));
            }
            moved += n;
        }
        output
            .blocking_flush()
            .map_err(|e| PluginError::internal(format!("copying the video: {e:?}")))?;
        // The input's size and length are unknown to this stand-in (it
        // decodes nothing): the host reads them from the file.
        Ok(VideoProgress::Done(VideoInfo {
            width: None,
            height: None,
            duration_ms: None,
        }))
    }

    fn check(ticket: String, _out: &MediaOut) -> Result<VideoProgress, PluginError> {
        Err(PluginError::invalid_input(format!(
            "this backend answers at once and has no job {ticket}"
        )))
    }
}

kino_plugin_sdk::export_lipsync!(Plugin);
