//! Wav2Lip-class lip-sync: a face detector finds the face in each frame, and
//! a generator redraws its lower half to mouth the audio under the frame.
//!
//! The models' contract (what an operator's export must keep):
//! - **face detector**: one input `[1, 3, H, W]` f32 RGB in [0, 1] (the frame
//!   as it is where H and W are dynamic, else resized to them); first output
//!   `[N, 5]` or `[1, N, 5]`: `x0, y0, x1, y1` as fractions of the width and
//!   height, then a score. The best box scoring at least 0.5 is the face.
//! - **generator** (Wav2Lip's I/O): inputs `[B, 1, 80, 16]` (the mel window,
//!   [`kino_kernels::mel::wav2lip`]) and `[B, 6, S, S]` (the face crop
//!   resized to S×S with its lower half blanked, then the crop whole; BGR in
//!   [0, 1], as Wav2Lip was trained with OpenCV), told apart by their shapes;
//!   first output `[B, 3, S, S]`, the redrawn face, BGR in [0, 1].
//!
//! Only the face box is written: every pixel outside it stays as it was.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kino_kernels::interpolate::Frame;
use kino_kernels::mel::wav2lip::{MELS, Mel, WINDOW};
use ort::session::Session;
use ort::value::Tensor;

use crate::error::{Error, Result};
use crate::runtime::{SessionOptions, session};

/// A detected face, in frame pixels: `[x0, x1) × [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge.
    pub x0: usize,
    /// Top edge.
    pub y0: usize,
    /// One past the right edge.
    pub x1: usize,
    /// One past the bottom edge.
    pub y1: usize,
    /// The detector's confidence.
    pub score: f32,
}

/// Faces smaller than this (pixels a side) are not redrawn.
const MIN_FACE: usize = 8;
/// Frames sent to the generator at once.
const BATCH: usize = 16;

/// A loaded detector and generator.
///
/// Methods take `&self`; each session (whose `run` needs `&mut`) sits behind
/// a mutex, so concurrent calls take turns.
pub struct LipSync {
    detector: Mutex<Session>,
    /// The detector's fixed input size (height, width), if it has one.
    detector_size: Option<(usize, usize)>,
    generator: Mutex<Session>,
    /// Whether the generator's first input is the mel window.
    mel_first: bool,
    /// The generator's face size S.
    face: usize,
    paths: (PathBuf, PathBuf),
}

impl std::fmt::Debug for LipSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LipSync")
            .field("models", &self.paths)
            .field("face", &self.face)
            .finish_non_exhaustive()
    }
}

fn dims(session: &Session, input: usize) -> Vec<i64> {
    session
        .inputs()
        .get(input)
        .and_then(|i| i.dtype().tensor_shape())
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default()
}

impl LipSync {
    /// Loads the face detector and the generator, checking their inputs
    /// against the contract above.
    pub fn load(detector: &Path, generator: &Path) -> Result<Self> {
        Self::load_on(detector, generator, None)
    }

    /// [`LipSync::load`], with both networks on CUDA GPU `gpu` (`None`:
    /// the CPU); see [`crate::gpu_for`].
    pub fn load_on(detector: &Path, generator: &Path, gpu: Option<usize>) -> Result<Self> {
        let opts = SessionOptions {
            gpu,
            ..SessionOptions::default()
        };
        let det = session(detector, &opts)?;
        let signature = |path: &Path, reason: String| Error::ModelSignature {
            path: path.to_path_buf(),
            reason,
        };
        let d = dims(&det, 0);
        if det.inputs().len() != 1 || d.len() != 4 || d[1] != 3 {
            return Err(signature(
                detector,
                format!("a face detector takes one [1, 3, H, W] image, not {d:?}"),
            ));
        }
        let detector_size = (d[2] > 0 && d[3] > 0).then(|| (d[2] as usize, d[3] as usize));
        let gen_session = session(generator, &opts)?;
        let (a, b) = (dims(&gen_session, 0), dims(&gen_session, 1));
        let is_mel =
            |s: &[i64]| s.len() == 4 && s[1] == 1 && s[2] == MELS as i64 && s[3] == WINDOW as i64;
        let is_face = |s: &[i64]| s.len() == 4 && s[1] == 6;
        let (mel_first, face_dims) = match (is_mel(&a), is_mel(&b)) {
            (true, _) if is_face(&b) => (true, b),
            (_, true) if is_face(&a) => (false, a),
            _ => {
                return Err(signature(
                    generator,
                    format!(
                        "a lip-sync generator takes [B, 1, {MELS}, {WINDOW}] and [B, 6, S, S], not {a:?} and {b:?}"
                    ),
                ));
            }
        };
        let face = match (face_dims[2], face_dims[3]) {
            (h, w) if h == w && h > 0 => h as usize,
            (h, w) if h <= 0 && w <= 0 => 96,
            (h, w) => {
                return Err(signature(
                    generator,
                    format!("the face input must be square, not {h}x{w}"),
                ));
            }
        };
        Ok(Self {
            detector: Mutex::new(det),
            detector_size,
            generator: Mutex::new(gen_session),
            mel_first,
            face,
            paths: (detector.to_path_buf(), generator.to_path_buf()),
        })
    }

    /// The most confident face in `frame` scoring at least 0.5, if any.
    pub fn detect(&self, frame: &Frame) -> Result<Option<FaceBox>> {
        let err = |e: ort::Error| Error::Inference {
            model: "face detector",
            reason: e.to_string(),
        };
        let (h, w) = self.detector_size.unwrap_or((frame.height, frame.width));
        let mut planar = vec![0f32; 3 * h * w];
        sample_into(
            frame,
            (0, 0, frame.width, frame.height),
            w,
            h,
            |x, y, rgb| {
                for c in 0..3 {
                    planar[c * h * w + y * w + x] = f32::from(rgb[c]) / 255.0;
                }
            },
        );
        let input = Tensor::from_array(([1usize, 3, h, w], planar)).map_err(err)?;
        let mut session = self.detector.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(ort::inputs![input]).map_err(err)?;
        let (shape, boxes) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        if shape.last() != Some(&5) {
            return Err(Error::Inference {
                model: "face detector",
                reason: format!("boxes must be [N, 5], not {:?}", &**shape),
            });
        }
        let best = boxes
            .chunks_exact(5)
            .filter(|b| b[4] >= 0.5 && b.iter().all(|v| v.is_finite()))
            .max_by(|a, b| a[4].total_cmp(&b[4]));
        Ok(best.and_then(|b| {
            let px = |v: f32, size: usize| {
                ((v.clamp(0.0, 1.0) * size as f32).round() as usize).min(size)
            };
            let face = FaceBox {
                x0: px(b[0], frame.width),
                y0: px(b[1], frame.height),
                x1: px(b[2], frame.width),
                y1: px(b[3], frame.height),
                score: b[4],
            };
            (face.x1 >= face.x0 + MIN_FACE && face.y1 >= face.y0 + MIN_FACE).then_some(face)
        }))
    }

    /// Redraws the face of each frame to mouth `mel` under it: `frames` are
    /// the video's frames from `first` on, at `fps`. Answers each frame's
    /// face, `None` where none was found (that frame is left as it was).
    pub fn sync(
        &self,
        frames: &mut [Frame],
        first: usize,
        fps: f64,
        mel: &Mel,
    ) -> Result<Vec<Option<FaceBox>>> {
        let faces: Vec<Option<FaceBox>> = frames
            .iter()
            .map(|f| self.detect(f))
            .collect::<Result<_>>()?;
        let with_face: Vec<usize> = (0..frames.len()).filter(|&i| faces[i].is_some()).collect();
        for batch in with_face.chunks(BATCH) {
            let drawn = self.generate(frames, &faces, batch, first, fps, mel)?;
            for (&i, face) in batch.iter().zip(drawn) {
                if let Some(b) = faces[i] {
                    paste(&mut frames[i], b, &face, self.face);
                }
            }
        }
        Ok(faces)
    }

    /// The generator's faces (S×S RGB bytes) for the frames `batch`.
    fn generate(
        &self,
        frames: &[Frame],
        faces: &[Option<FaceBox>],
        batch: &[usize],
        first: usize,
        fps: f64,
        mel: &Mel,
    ) -> Result<Vec<Vec<u8>>> {
        let err = |e: ort::Error| Error::Inference {
            model: "lip-sync generator",
            reason: e.to_string(),
        };
        let s = self.face;
        let n = batch.len();
        let mut mels = Vec::with_capacity(n * MELS * WINDOW);
        let mut crops = vec![0f32; n * 6 * s * s];
        for (b, &i) in batch.iter().enumerate() {
            mels.extend(mel.window(first + i, fps));
            let Some(face) = faces[i] else { continue };
            let crop = &mut crops[b * 6 * s * s..(b + 1) * 6 * s * s];
            sample_into(
                &frames[i],
                (face.x0, face.y0, face.x1, face.y1),
                s,
                s,
                |x, y, rgb| {
                    // BGR, the whole crop in channels 3..6, its upper half in 0..3.
                    for c in 0..3 {
                        let v = f32::from(rgb[2 - c]) / 255.0;
                        crop[(3 + c) * s * s + y * s + x] = v;
                        if y < s / 2 {
                            crop[c * s * s + y * s + x] = v;
                        }
                    }
                },
            );
        }
        let mel_in = Tensor::from_array(([n, 1, MELS, WINDOW], mels)).map_err(err)?;
        let face_in = Tensor::from_array(([n, 6, s, s], crops)).map_err(err)?;
        let mut session = self.generator.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = if self.mel_first {
            session.run(ort::inputs![mel_in, face_in])
        } else {
            session.run(ort::inputs![face_in, mel_in])
        }
        .map_err(err)?;
        let (shape, out) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        if **shape != [n as i64, 3, s as i64, s as i64] {
            return Err(Error::Inference {
                model: "lip-sync generator",
                reason: format!("expected a [{n}, 3, {s}, {s}] face, got {:?}", &**shape),
            });
        }
        Ok(out
            .chunks_exact(3 * s * s)
            .map(|planes| {
                let mut rgb = vec![0u8; 3 * s * s];
                for p in 0..s * s {
                    for c in 0..3 {
                        let v = planes[(2 - c) * s * s + p];
                        rgb[3 * p + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                }
                rgb
            })
            .collect())
    }
}

/// Samples the region `(x0, y0, x1, y1)` of `frame` on a `w × h` grid
/// (bilinear, pixel centres aligned), handing each grid point's RGB to `put`.
fn sample_into(
    frame: &Frame,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    w: usize,
    h: usize,
    mut put: impl FnMut(usize, usize, [u8; 3]),
) {
    let (rw, rh) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let at = |x: usize, y: usize, c: usize| f32::from(frame.data[3 * (y * frame.width + x) + c]);
    for gy in 0..h {
        let sy = (y0 as f32 + (gy as f32 + 0.5) * rh / h as f32 - 0.5)
            .clamp(0.0, (frame.height - 1) as f32);
        let (ya, fy) = (sy.floor() as usize, sy.fract());
        let yb = (ya + 1).min(frame.height - 1);
        for gx in 0..w {
            let sx = (x0 as f32 + (gx as f32 + 0.5) * rw / w as f32 - 0.5)
                .clamp(0.0, (frame.width - 1) as f32);
            let (xa, fx) = (sx.floor() as usize, sx.fract());
            let xb = (xa + 1).min(frame.width - 1);
            let mut rgb = [0u8; 3];
            for (c, v) in rgb.iter_mut().enumerate() {
                let top = at(xa, ya, c) * (1.0 - fx) + at(xb, ya, c) * fx;
                let bottom = at(xa, yb, c) * (1.0 - fx) + at(xb, yb, c) * fx;
                *v = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
            put(gx, gy, rgb);
        }
    }
}

/// Writes the generator's `s × s` face over `face`'s box, resized to it.
fn paste(frame: &mut Frame, face: FaceBox, drawn: &[u8], s: usize) {
    let drawn = Frame {
        width: s,
        height: s,
        data: drawn.to_vec(),
    };
    let (bw, bh) = (face.x1 - face.x0, face.y1 - face.y0);
    let width = frame.width;
    let data = &mut frame.data;
    sample_into(&drawn, (0, 0, s, s), bw, bh, |x, y, rgb| {
        let at = 3 * ((face.y0 + y) * width + face.x0 + x);
        data[at..at + 3].copy_from_slice(&rgb);
    });
}
