//! Test fixtures made through libav* itself: frames of a moving, noisy
//! pattern and scratch directories.

use std::path::PathBuf;

use crate::RgbFrame;

pub(crate) const W: u32 = 160;
pub(crate) const H: u32 = 120;
pub(crate) const FPS: f64 = 24.0;

/// A directory under the system's temporary one, removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "kino-media-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Frame `i` of a moving, noisy pattern (noisy so packets are big and a
/// cut lands well inside the file).
pub(crate) fn frame(i: usize) -> RgbFrame {
    let mut seed = 0x9e37_79b9_u32 ^ i as u32;
    let mut data = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 26) as u8;
            let (x, y, i) = (x as usize, y as usize, i);
            data.extend_from_slice(&[
                ((x + 4 * i) % 256) as u8 ^ noise,
                ((2 * y) % 256) as u8 ^ noise,
                ((8 * i) % 256) as u8 ^ noise,
            ]);
        }
    }
    RgbFrame {
        width: W,
        height: H,
        pts_secs: i as f64 / FPS,
        data,
    }
}
