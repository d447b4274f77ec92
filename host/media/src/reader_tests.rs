//! Where a reader goes on from: after a seek, and on the CPU when its
//! decoding GPU fails mid-stream. No GPU is needed: a reader opened on the
//! CPU is told it decodes on `cuda:0` and then fails once (`fail_next`),
//! as NVDEC does when its context is lost; what follows is the real
//! reopening, seeking and decoding.

use crate::fixtures::{FPS, H, Scratch, W, frame};
use crate::{Mp4Writer, RgbFrame, VideoDevice, VideoReader};

const FRAMES: usize = 30;

/// `FRAMES` frames of H.264 as `Mp4Writer` writes them (B-frames, so
/// frames decode out of presentation order).
fn clip(dir: &Scratch) -> std::path::PathBuf {
    let path = dir.join("clip.mp4");
    let mut w = Mp4Writer::create(&path, W, H, FPS, None).expect("writer");
    for i in 0..FRAMES {
        w.write_video_frame(&frame(i)).expect("frame");
    }
    w.finish().expect("finish");
    path
}

fn rest(reader: &mut VideoReader) -> Vec<RgbFrame> {
    std::iter::from_fn(|| reader.next_frame().expect("frame")).collect()
}

/// Tells `reader` it decodes on a GPU that fails on the next frame.
fn fail_on_gpu(reader: &mut VideoReader) {
    reader.device = VideoDevice::Cuda(0);
    reader.fail_next = true;
}

fn assert_same(got: &[RgbFrame], want: &[RgbFrame], from: &str) {
    assert_eq!(got.len(), want.len(), "{from}: frames");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a.pts_secs, b.pts_secs, "{from}: frame {i}'s time");
        assert!(a.data == b.data, "{from}: frame {i}'s pixels");
    }
}

#[test]
fn a_seek_anywhere_gives_every_frame_from_a_key_frame_before_it_on() {
    let dir = Scratch::new("seek");
    let path = clip(&dir);
    let all = rest(&mut VideoReader::open(&path).expect("open"));
    // The clip's noise makes x264 put an I picture with a recovery point
    // (not an IDR) late in it: a seek landing on it lost the last frame.
    let mut reader = VideoReader::open(&path).expect("open");
    for i in 0..2 * FRAMES {
        let secs = i as f64 / (2.0 * FPS);
        reader.seek(secs).expect("seek");
        let got = rest(&mut reader);
        let first = got.first().expect("frames after the seek");
        assert!(
            first.pts_secs <= secs,
            "a seek to {secs} s starts at {} s",
            first.pts_secs
        );
        let from = all.len() - got.len();
        assert_same(&got, &all[from..], &format!("a seek to {secs} s"));
    }
}

#[test]
fn a_seek_starts_at_an_idr_picture_at_or_before_it() {
    let dir = Scratch::new("seek-idr");
    let path = dir.join("joinable.mp4");
    let mut w = Mp4Writer::options(W, H, FPS)
        .joinable()
        .create(&path)
        .expect("writer");
    const KEYS: [usize; 2] = [10, 20];
    for i in 0..FRAMES {
        if KEYS.contains(&i) {
            w.write_key_frame(&frame(i)).expect("key frame");
        } else {
            w.write_video_frame(&frame(i)).expect("frame");
        }
    }
    w.finish().expect("finish");
    let all = rest(&mut VideoReader::open(&path).expect("open"));
    let mut reader = VideoReader::open(&path).expect("open");
    // Just past each forced key frame (an IDR), and between them.
    for (at, starts) in [(10.25, 10), (15.5, 10), (20.25, 20), (29.0, 20)] {
        let secs = at / FPS;
        reader.seek(secs).expect("seek");
        let got = rest(&mut reader);
        assert_same(&got, &all[starts..], &format!("a seek to frame {at}"));
    }
}

#[test]
fn a_gpu_failing_mid_stream_leaves_the_rest_to_the_cpu_none_lost_or_repeated() {
    let dir = Scratch::new("resume");
    let path = clip(&dir);
    let all = rest(&mut VideoReader::open(&path).expect("open"));
    assert_eq!(all.len(), FRAMES);
    for k in [0, 1, 13, FRAMES - 1, FRAMES] {
        let mut reader = VideoReader::open(&path).expect("open");
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tell = told.clone();
        reader.on_fallback(move |why| tell.lock().expect("lock").push(why.to_owned()));
        let mut got: Vec<RgbFrame> = (0..k)
            .map(|_| reader.next_frame().expect("frame").expect("a frame"))
            .collect();
        fail_on_gpu(&mut reader);
        got.extend(rest(&mut reader));
        assert_same(&got, &all, &format!("failing after {k} frames"));
        assert_eq!(reader.device, VideoDevice::Cpu);
        let why = reader.fallback().expect("why the reader fell back");
        assert!(
            why.contains("decoding on cuda:0 failed mid-stream") && why.contains("(injected)"),
            "{why}"
        );
        assert_eq!(*told.lock().expect("lock"), [why]);
    }
}

#[test]
fn a_gpu_failing_right_after_a_seek_goes_on_from_where_the_seek_went() {
    let dir = Scratch::new("resume-seek");
    let path = clip(&dir);
    let mut reader = VideoReader::open(&path).expect("open");
    reader.seek(0.5).expect("seek");
    let want = rest(&mut reader);
    assert!(!want.is_empty());

    let mut reader = VideoReader::open(&path).expect("open");
    reader.next_frame().expect("frame");
    reader.seek(0.5).expect("seek");
    fail_on_gpu(&mut reader);
    assert_same(&rest(&mut reader), &want, "after the seek");
    assert!(reader.fallback().is_some());
}

#[test]
fn where_the_cpu_fails_too_the_error_is_the_cpus() {
    let dir = Scratch::new("resume-gone");
    let path = clip(&dir);
    let mut reader = VideoReader::open(&path).expect("open");
    reader.next_frame().expect("frame");
    // The file went away: reopening it on the CPU fails, and says so.
    std::fs::remove_file(&path).expect("remove");
    fail_on_gpu(&mut reader);
    let e = reader.next_frame().expect_err("no file to reopen");
    assert!(format!("{e:#}").contains("clip.mp4"), "{e:#}");
}
