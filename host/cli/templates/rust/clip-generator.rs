//! {{name}}: a clip-generator plugin. A stand-in that films nothing but
//! shows the shape of a remote job: `submit` answers `pending` with a
//! ticket, and `check` writes the clip, a small fade from black to a colour
//! chosen by the seed, as uncompressed YUV4MPEG2 video.
//!
//! A real backend starts a job on a video service in `submit` (sending the
//! `references` stills with it) and answers its job id as the ticket;
//! `check` asks the service, answers `pending` until the job is done, then
//! saves the video into `out` (`http::Response::save` streams it). Each
//! call runs in a fresh instance, so everything `check` needs must be in
//! the ticket or on the service: here the ticket carries the request.

use kino_plugin_sdk::{
    ClipGenerator, ClipRequest, MediaIn, MediaOut, Pending, PluginError, VideoInfo,
    VideoProgress, log,
};

struct Plugin;

/// The stand-in's clip: at most this wide or high, at this frame rate.
const MAX_SIDE: u32 = 64;
const FPS: u32 = 8;
/// The longest clip it writes, in milliseconds.
const MAX_MS: u32 = 10_000;

/// The ticket for `request`: `WIDTHxHEIGHT:DURATION_MS:SEED`.
fn ticket(request: &ClipRequest) -> String {
    format!(
        "{}x{}:{}:{}",
        request.width, request.height, request.duration_ms, request.seed
    )
}

/// The request a ticket carries: (width, height, duration in ms, seed).
fn parse_ticket(ticket: &str) -> Option<(u32, u32, u32, u64)> {
    let (size, rest) = ticket.split_once(':')?;
    let (width, height) = size.split_once('x')?;
    let (duration, seed) = rest.split_once(':')?;
    Some((
        width.parse().ok()?,
        height.parse().ok()?,
        duration.parse().ok()?,
        seed.parse().ok()?,
    ))
}

/// The frame size: the request's shape, scaled down to `MAX_SIDE`, even.
fn frame_size(width: u32, height: u32) -> (u32, u32) {
    let scale = f64::from(MAX_SIDE) / f64::from(width.max(height).max(1));
    let side = |n: u32| ((f64::from(n) * scale.min(1.0)) as u32).max(2) & !1;
    (side(width), side(height))
}

/// The clip as YUV4MPEG2 (4:2:0): `frames` frames fading in to a colour.
fn clip(width: u32, height: u32, frames: u32, seed: u64) -> Vec<u8> {
    let (luma, chroma) = ((width * height) as usize, (width * height / 4) as usize);
    let (u, v) = ((seed & 0xff) as u8, ((seed >> 8) & 0xff) as u8);
    let mut video = format!("YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420jpeg\n").into_bytes();
    for frame in 0..frames {
        let y = (16 + 200 * (frame + 1) / frames) as u8;
        video.extend_from_slice(b"FRAME\n");
        video.extend(std::iter::repeat_n(y, luma));
        video.extend(std::iter::repeat_n(u, chroma));
        video.extend(std::iter::repeat_n(v, chroma));
    }
    video
}

impl ClipGenerator for Plugin {
    fn submit(
        request: ClipRequest,
        references: Vec<MediaIn>,
        _out: &MediaOut,
        _key: String,
    ) -> Result<VideoProgress, PluginError> {
        if request.width == 0 || request.height == 0 || request.duration_ms == 0 {
            return Err(PluginError::invalid_input("the clip has no size or no length"));
        }
        log::info(&format!(
            "filming \"{}\" with {} reference(s)",
            request.prompt,
            references.len()
        ));
        Ok(VideoProgress::Pending(Pending {
            ticket: ticket(&request),
            progress: Some(0.0),
            check_after_ms: 500,
        }))
    }

    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError> {
        let Some((width, height, duration_ms, seed)) = parse_ticket(&ticket) else {
            return Err(PluginError::invalid_input(format!("no such job: {ticket}")));
        };
        let (width, height) = frame_size(width, height);
        let duration_ms = duration_ms.min(MAX_MS);
        let frames = (duration_ms * FPS).div_ceil(1000).max(1);
        let video = clip(width, height, frames, seed);
        let stream = out.create("video/x-yuv4mpeg")?;
        // A blocking write takes at most 4096 bytes at a time.
        for chunk in video.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| PluginError::internal(format!("writing the clip: {e:?}")))?;
        }
        Ok(VideoProgress::Done(VideoInfo {
            width: Some(width),
            height: Some(height),
            duration_ms: Some(frames * 1000 / FPS),
        }))
    }
}

kino_plugin_sdk::export_clip_generator!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_carries_the_request() {
        let request = ClipRequest {
            prompt: "a lighthouse".into(),
            negative_prompt: String::new(),
            duration_ms: 2000,
            width: 1920,
            height: 1080,
            seed: 7,
        };
        assert_eq!(parse_ticket(&ticket(&request)), Some((1920, 1080, 2000, 7)));
        assert_eq!(parse_ticket("nonsense"), None);
    }

    #[test]
    fn frames_are_small_and_even() {
        assert_eq!(frame_size(1920, 1080), (64, 36));
        assert_eq!(frame_size(1080, 1920), (36, 64));
        let video = clip(4, 2, 3, 0);
        let header = b"YUV4MPEG2 W4 H2 F8:1 Ip A1:1 C420jpeg\n".len();
        assert_eq!(video.len(), header + 3 * (6 + 8 + 2 + 2));
    }
}
