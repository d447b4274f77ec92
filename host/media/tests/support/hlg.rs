//! An HLG clip as a phone records one (10-bit HEVC, BT.2020), for the
//! hardware tests and the codecs bench (one file, included by both).
//!
//! `KINO_HLG_CLIP` names one made ahead (`scripts/gpu-check.sh` carries one
//! to a GPU machine, which has no ffmpeg CLI); otherwise the CLI's libx265
//! makes one of testsrc2.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The clip to use: `KINO_HLG_CLIP`'s, or `frames` of `width × height`
/// made at `path`; `Err` says why there is none.
pub fn clip(path: &Path, (width, height): (u32, u32), frames: usize) -> Result<PathBuf, String> {
    if let Some(made) = std::env::var_os("KINO_HLG_CLIP") {
        return Ok(PathBuf::from(made));
    }
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={width}x{height}:rate=30"))
        .args([
            "-frames:v",
            &frames.to_string(),
            "-vf",
            "format=yuv420p10le",
        ])
        .args(["-c:v", "libx265", "-preset", "ultrafast", "-x265-params"])
        .arg("log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc")
        .args(["-color_primaries", "bt2020", "-color_trc", "arib-std-b67"])
        .args(["-colorspace", "bt2020nc", "-y"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("no HLG clip: set KINO_HLG_CLIP, or install the ffmpeg CLI ({e})"))?;
    if !status.success() {
        return Err(format!("no HLG clip: ffmpeg (libx265) failed ({status})"));
    }
    Ok(path.to_owned())
}
