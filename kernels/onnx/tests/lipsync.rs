//! Lip-sync on the tiny models of `tests/fixtures/lipsync` (`make.py`
//! wrote them): a "detector" that finds a face in a fixed box of any bright
//! frame, and a Wav2Lip-shaped generator of one random convolution.

use std::path::{Path, PathBuf};

use kino_kernels::interpolate::Frame;
use kino_kernels::mel::wav2lip;
use kino_onnx::{Error, LipSync};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lipsync")
        .join(name)
}

fn lipsync() -> LipSync {
    common::init_ort();
    LipSync::load(&fixture("face.onnx"), &fixture("lipsync.onnx")).expect("loading the models")
}

/// A 160x120 frame of a gradient at `level` brightness.
fn frame(level: u8) -> Frame {
    let (w, h) = (160, 120);
    let data = (0..w * h)
        .flat_map(|p| {
            let (x, y) = (p % w, p / w);
            [
                level.saturating_add((x / 4) as u8),
                level,
                level.saturating_add((y / 4) as u8),
            ]
        })
        .collect();
    Frame {
        width: w,
        height: h,
        data,
    }
}

fn tone(hz: f32, secs: f32, amplitude: f32) -> Vec<f32> {
    let rate = wav2lip::SAMPLE_RATE as f32;
    (0..(secs * rate) as usize)
        .map(|i| amplitude * (std::f32::consts::TAU * hz * i as f32 / rate).sin())
        .collect()
}

#[test]
fn the_face_box_is_redrawn_and_every_other_pixel_kept() {
    let model = lipsync();
    let bright = frame(150);
    let mut frames = vec![bright.clone(), frame(10), bright.clone()];
    let loud = wav2lip::mel(&tone(440.0, 1.0, 0.8));
    let faces = model.sync(&mut frames, 0, 24.0, &loud).expect("sync");

    // The detector's box (0.3..0.7 of the width, 0.3..0.8 of the height).
    let face = faces[0].expect("a face in the bright frame");
    assert_eq!((face.x0, face.y0, face.x1, face.y1), (48, 36, 112, 96));
    assert!(faces[1].is_none(), "no face in the dark frame");
    let mut changed = 0;
    for (p, (a, b)) in frames[0]
        .data
        .chunks(3)
        .zip(bright.data.chunks(3))
        .enumerate()
    {
        let (x, y) = (p % 160, p / 160);
        let inside = (48..112).contains(&x) && (36..96).contains(&y);
        if !inside {
            assert_eq!(a, b, "pixel {x},{y} outside the face changed");
        } else if a != b {
            changed += 1;
        }
    }
    assert!(
        changed > 64 * 60 / 2,
        "only {changed} pixels of the face changed"
    );
    assert!(
        frames[1].data == frame(10).data,
        "a frame with no face is kept whole"
    );

    // The audio matters: silence draws another mouth.
    let mut quiet = vec![bright.clone()];
    model
        .sync(&mut quiet, 0, 24.0, &wav2lip::mel(&vec![0.0; 16_000]))
        .expect("sync");
    assert!(
        quiet[0].data != frames[0].data,
        "silence and a tone drew the same face"
    );
    // And it is deterministic.
    let mut again = vec![bright];
    model.sync(&mut again, 0, 24.0, &loud).expect("sync");
    assert!(again[0].data == frames[0].data);
}

#[test]
fn models_that_break_the_contract_are_refused_naming_the_file() {
    let _ = lipsync();
    // The generator given as the detector, and the other way round.
    let err = LipSync::load(&fixture("lipsync.onnx"), &fixture("lipsync.onnx"))
        .expect_err("a generator is no detector");
    assert!(
        matches!(&err, Error::ModelSignature { path, .. } if path.ends_with("lipsync.onnx")),
        "{err}"
    );
    let err = LipSync::load(&fixture("face.onnx"), &fixture("face.onnx"))
        .expect_err("a detector is no generator");
    assert!(err.to_string().contains("[B, 6, S, S]"), "{err}");
}
