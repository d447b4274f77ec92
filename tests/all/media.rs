//! Media I/O: probe, decode, encode, cut, concat, mux and bad inputs, on
//! fixtures made with the ffmpeg CLI.

use std::path::{Path, PathBuf};

use kino_kernels::wav::{Pcm, write_wav};
use kino_media as media;
use kino_media::{Mp4Writer, RgbFrame, StreamKind, VideoReader};
use kino_tests::{ffmpeg, video_md5};

const FPS: f64 = 25.0;
const FRAME: f64 = 1.0 / FPS;

/// A 2 s 320x240 25 fps H.264 + 48 kHz mono AAC clip.
fn fixture(dir: &Path, name: &str, secs: &str) -> PathBuf {
    let p = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        secs,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        p.to_str().expect("utf-8 path"),
    ]);
    p
}

fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol}"
    );
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn probe_reports_format_duration_and_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = fixture(dir.path(), "in.mp4", "2");
    let info = media::probe(&input).expect("probe");
    assert!(info.format.contains("mp4"), "{}", info.format);
    assert_close("duration", info.duration_secs, 2.0, FRAME + 0.03);
    let v = info.video().expect("video stream");
    assert_eq!((v.kind, v.codec.as_str()), (StreamKind::Video, "h264"));
    assert_eq!((v.width, v.height), (320, 240));
    assert_close("fps", v.fps, 25.0, 0.01);
    let a = info.audio().expect("audio stream");
    assert_eq!(a.codec, "aac");
    assert_eq!((a.sample_rate, a.channels), (48_000, 1));
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn decodes_video_frames_and_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = fixture(dir.path(), "in.mp4", "2");
    let mut r = VideoReader::open(&input).expect("open");
    assert_eq!((r.width(), r.height()), (320, 240));
    assert_close("fps", r.fps(), 25.0, 0.01);
    let mut n = 0;
    let mut last_pts = -1.0;
    while let Some(f) = r.next_frame().expect("frame") {
        assert_eq!((f.width, f.height, f.data.len()), (320, 240, 320 * 240 * 3));
        assert!(f.pts_secs > last_pts);
        last_pts = f.pts_secs;
        n += 1;
    }
    assert_eq!(n, 50);

    let pcm = media::decode_audio(&input, 16_000, 2).expect("audio");
    assert_eq!((pcm.sample_rate, pcm.channels), (16_000, 2));
    assert_close("audio duration", pcm.duration_secs(), 2.0, 0.05);
    let peak = pcm.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.05, "silent audio, peak {peak}");
}

/// Every frame left in `reader`.
fn rest(reader: &mut VideoReader) -> Vec<RgbFrame> {
    std::iter::from_fn(|| reader.next_frame().expect("frame")).collect()
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn a_reader_reread_on_the_cpu_goes_on_from_that_frame_none_lost_or_repeated() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A key frame every 7 frames: rereading a frame between them decodes
    // up to it from the one before.
    let clip = dir.path().join("gop7.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=25",
        "-frames:v",
        "24",
        "-g",
        "7",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().expect("utf-8 path"),
    ]);
    let all = rest(&mut VideoReader::open(&clip).expect("open"));
    assert_eq!(all.len(), 24);
    for k in [0, 4, 7, 11, 23] {
        let mut reader = VideoReader::open(&clip).expect("open");
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tell = told.clone();
        reader.on_fallback(move |why| tell.lock().expect("lock").push(why.to_owned()));
        for _ in 0..=k {
            reader.next_frame().expect("frame").expect("a frame");
        }
        reader
            .reread_on_cpu_from(all[k].pts_secs, "cuda:0 was lost")
            .expect("reread");
        assert_eq!(reader.fallback(), Some("cuda:0 was lost"));
        assert_eq!(*told.lock().expect("lock"), ["cuda:0 was lost"]);
        let again = rest(&mut reader);
        assert_eq!(again.len(), 24 - k, "from frame {k}");
        for (i, (a, b)) in again.iter().zip(&all[k..]).enumerate() {
            assert_eq!(a.pts_secs, b.pts_secs, "frame {}", k + i);
            assert!(a.data == b.data, "frame {}'s pixels", k + i);
        }
    }
    // After a seek, before any frame: the seek's first frame again.
    let mut reader = VideoReader::open(&clip).expect("open");
    reader.seek(0.5).expect("seek");
    let first = reader.next_frame().expect("frame").expect("a frame");
    reader
        .reread_on_cpu_from(first.pts_secs, "lost")
        .expect("reread");
    let again = reader.next_frame().expect("frame").expect("a frame");
    assert_eq!(
        (again.pts_secs, again.data == first.data),
        (first.pts_secs, true)
    );
}

fn gradient(w: u32, h: u32, i: u32) -> RgbFrame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[
                ((x + i * 4) % 256) as u8,
                (y % 256) as u8,
                (i * 8 % 256) as u8,
            ]);
        }
    }
    RgbFrame {
        width: w,
        height: h,
        pts_secs: f64::from(i) / FPS,
        data,
    }
}

fn sine(rate: u32, channels: u16, secs: f64) -> Vec<f32> {
    let n = (secs * f64::from(rate)) as usize;
    (0..n)
        .flat_map(|i| {
            let v = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
            std::iter::repeat_n(v, usize::from(channels))
        })
        .collect()
}

#[test]
fn encodes_mp4_and_probes_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("gen.mp4");
    let mut w = Mp4Writer::create(&out, 320, 240, FPS, Some((48_000, 2))).expect("create");
    for i in 0..50 {
        w.write_video_frame(&gradient(320, 240, i)).expect("frame");
    }
    let audio = sine(48_000, 2, 2.0);
    for chunk in audio.chunks(3000) {
        w.write_audio(chunk).expect("audio");
    }
    w.finish().expect("finish");

    let info = media::probe(&out).expect("probe");
    assert_close("duration", info.duration_secs, 2.0, FRAME + 0.03);
    let v = info.video().expect("video");
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 320, 240));
    assert_close("fps", v.fps, 25.0, 0.01);
    let a = info.audio().expect("audio");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate, a.channels),
        ("aac", 48_000, 2)
    );

    // The pixels survive the round trip (lossy, so loosely).
    let mut r = VideoReader::open(&out).expect("open");
    let f = r.next_frame().expect("decode").expect("a frame");
    let want = gradient(320, 240, 0);
    let err: f64 = f
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| f64::from((i16::from(*a) - i16::from(*b)).abs()))
        .sum::<f64>()
        / f.data.len() as f64;
    assert!(err < 6.0, "mean abs error {err}");
    let mut n = 1;
    while r.next_frame().expect("decode").is_some() {
        n += 1;
    }
    assert_eq!(n, 50);
}

/// The first frame of `path` as the ffmpeg CLI decodes it to RGB24 (in
/// the matrix the stream is tagged with; BT.601 when it has none).
fn ffmpeg_rgb(dir: &Path, path: &Path) -> Vec<u8> {
    ffmpeg_rgb_through(dir, path, "null")
}

/// The first frame of `path` through the ffmpeg CLI's `filter`, as RGB24.
fn ffmpeg_rgb_through(dir: &Path, path: &Path, filter: &str) -> Vec<u8> {
    let raw = dir.join("frame.rgb");
    ffmpeg(&[
        "-i",
        path.to_str().expect("utf-8 path"),
        "-frames:v",
        "1",
        "-vf",
        filter,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        raw.to_str().expect("utf-8 path"),
    ]);
    std::fs::read(raw).expect("the raw frame")
}

/// Largest and mean absolute difference of two frames.
fn frame_diff(ours: &[u8], theirs: &[u8]) -> (u8, f64) {
    assert_eq!(ours.len(), theirs.len());
    let max = ours.iter().zip(theirs).map(|(a, b)| a.abs_diff(*b)).max();
    let mean = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / ours.len() as f64;
    (max.unwrap_or(0), mean)
}

/// `ffprobe`'s value of a video stream entry.
fn probe_entry(path: &Path, entry: &str) -> String {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg(format!("stream={entry}"))
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .expect("running ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// HD footage is mostly BT.709: decoded in BT.601 its colours shift by up
/// to a dozen levels. Frames are read in the matrix the stream is tagged
/// with (as the ffmpeg CLI reads them), and what Kino encodes says which
/// matrix it used.
#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn frames_are_read_in_the_streams_matrix_and_written_tagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, matrix) in [
        ("bt709", Some("bt709")),
        ("smpte170m", Some("smpte170m")),
        ("untagged", None),
    ] {
        let clip = dir.path().join(format!("{name}.mp4"));
        let scale = format!(
            "scale=out_color_matrix={}:out_range=tv,format=yuv420p",
            matrix.unwrap_or("bt601")
        );
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25",
            "-t",
            "0.2",
            "-vf",
            &scale,
            "-c:v",
            "libx264",
        ];
        if let Some(m) = matrix {
            args.extend(["-colorspace", m]);
        }
        args.push(clip.to_str().expect("utf-8 path"));
        ffmpeg(&args);
        let theirs = ffmpeg_rgb(dir.path(), &clip);
        let (max, mean) = frame_diff(&first_frame(&clip), &theirs);
        assert_eq!(VideoReader::open(&clip).expect("open").colour_note(), None);
        println!("{name}: against the ffmpeg CLI, max {max}, mean {mean:.3}");
        assert!(mean < 1.0 && max <= 4, "{name}: max {max}, mean {mean}");
    }
    let out = dir.path().join("ours.mp4");
    let mut w = Mp4Writer::create(&out, 320, 240, FPS, None).expect("create");
    for i in 0..5 {
        w.write_video_frame(&gradient(320, 240, i)).expect("frame");
    }
    w.finish().expect("finish");
    assert_eq!(probe_entry(&out, "color_space"), "smpte170m");
    assert_eq!(probe_entry(&out, "color_range"), "tv");
}

/// The first frame as Kino reads it.
fn first_frame(clip: &Path) -> Vec<u8> {
    VideoReader::open(clip)
        .expect("open")
        .next_frame()
        .expect("decode")
        .expect("a frame")
        .data
}

/// Phones record HDR: HLG or PQ in BT.2020, 10-bit HEVC. Kino reads it tone
/// mapped into BT.709 as the ffmpeg CLI's usual HDR-to-SDR chain (zimg's
/// transfers, Hable's curve) does, to the peak the stream says it has;
/// read as SDR, the same frames are far off.
#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn hdr_footage_is_tone_mapped_as_the_ffmpeg_cli_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (transfer, light_level, peak) in [
        ("arib-std-b67", None, 1000),
        ("smpte2084", None, 1000),
        ("smpte2084", Some(4000), 4000),
    ] {
        let clip = dir.path().join(format!("{transfer}-{peak}.mp4"));
        let mut x265 =
            format!("log-level=error:colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc");
        if let Some(nits) = light_level {
            x265 += &format!(":max-cll={nits},400");
        }
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            // (smoothed: where chroma changes sharply, zimg's upsampling
            // filter and ours part by more than a few levels)
            "testsrc2=size=640x360:rate=25,gblur=sigma=1.5",
            "-t",
            "0.12",
            "-vf",
            "format=yuv420p10le",
            "-c:v",
            "libx265",
            "-x265-params",
            &x265,
            "-color_primaries",
            "bt2020",
            "-color_trc",
            transfer,
            "-colorspace",
            "bt2020nc",
            clip.to_str().expect("utf-8 path"),
        ]);
        let tone_map = format!(
            "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
             tonemap=tonemap=hable:desat=0:peak={},zscale=t=bt709:m=bt709:r=full",
            f64::from(peak) / 100.0
        );
        let reader = VideoReader::open(&clip).expect("open");
        let note = reader.colour_note().expect("a note on the tone map");
        assert!(
            note.starts_with("HDR (") && note.contains("SDR BT.709"),
            "{note}"
        );
        let theirs = ffmpeg_rgb_through(dir.path(), &clip, &tone_map);
        let ours = first_frame(&clip);
        let (max, mean) = frame_diff(&ours, &theirs);
        let (_, as_sdr) = frame_diff(&ffmpeg_rgb(dir.path(), &clip), &theirs);
        println!(
            "{transfer} at {peak} nits: against the ffmpeg CLI's tone map, max {max}, mean {mean:.3} (read as SDR: mean {as_sdr:.1})"
        );
        assert!(mean < 0.4 && max <= 4, "{transfer}: max {max}, mean {mean}");
        assert!(as_sdr > 10.0, "{transfer}: SDR reading only {as_sdr} off");
    }
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn cut_and_concat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = fixture(dir.path(), "in.mp4", "2");
    let cut = dir.path().join("cut.mp4");
    media::cut(&input, 0.5, 1.5, &cut).expect("cut");
    let info = media::probe(&cut).expect("probe cut");
    assert_close("cut duration", info.duration_secs, 1.0, FRAME + 0.03);
    let mut r = VideoReader::open(&cut).expect("open cut");
    let mut n = 0;
    while r.next_frame().expect("frame").is_some() {
        n += 1;
    }
    assert_eq!(n, 25, "frame-exact cut");
    assert!(info.audio().is_some());

    let a = fixture(dir.path(), "a.mp4", "1");
    let b = fixture(dir.path(), "b.mp4", "1");
    let joined = dir.path().join("joined.mp4");
    media::concat(&[&a, &b], &joined).expect("concat");
    let info = media::probe(&joined).expect("probe joined");
    assert_close("concat duration", info.duration_secs, 2.0, FRAME + 0.03);
    let pcm = media::decode_audio(&joined, 48_000, 1).expect("audio");
    assert_close("concat audio", pcm.duration_secs(), 2.0, 0.05);
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn mux_audio_copies_video_packets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = fixture(dir.path(), "in.mp4", "2");
    let wav = dir.path().join("new.wav");
    let pcm = Pcm {
        sample_rate: 44_100,
        channels: 2,
        samples: sine(44_100, 2, 2.0),
    };
    write_wav(&wav, &pcm).expect("write wav");
    let out = dir.path().join("muxed.mp4");
    media::mux_audio(&input, &wav, &out).expect("mux");
    assert_eq!(video_md5(&input), video_md5(&out), "video packets differ");
    let info = media::probe(&out).expect("probe");
    let a = info.audio().expect("audio");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate, a.channels),
        ("aac", 44_100, 2)
    );
    assert_close("duration", info.duration_secs, 2.0, FRAME + 0.05);
}

fn assert_err_names(result: anyhow::Result<impl std::fmt::Debug>, file: &Path, what: &str) {
    let err = result.expect_err(what);
    let msg = format!("{err:#}");
    let name = file.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(
        msg.contains(name),
        "{what}: error does not name the file: {msg}"
    );
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.mp4");
    assert_err_names(media::probe(&missing), &missing, "missing");
    assert_err_names(VideoReader::open(&missing).map(|_| ()), &missing, "missing");

    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    assert_err_names(media::probe(&empty), &empty, "empty");

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n".repeat(100)).expect("write");
    assert_err_names(media::probe(&text), &text, "text");
    assert_err_names(media::decode_audio(&text, 48_000, 1), &text, "text");

    let input = fixture(dir.path(), "in.mp4", "2");
    let bytes = std::fs::read(&input).expect("read");
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() * 3 / 10]).expect("write");
    // Probing may or may not succeed (depends on where the index is);
    // decoding everything must fail or end early, never panic.
    let r = VideoReader::open(&truncated).and_then(|mut r| {
        let mut n = 0;
        while r.next_frame()?.is_some() {
            n += 1;
        }
        Ok(n)
    });
    match r {
        Err(e) => assert!(format!("{e:#}").contains("truncated.mp4"), "{e:#}"),
        Ok(n) => assert!(n < 50, "decoded {n} frames from a truncated file"),
    }
    // The CLI writes the index (moov) at the end, so this one cannot be opened.
    let err = media::probe(&truncated).expect_err("truncated");
    eprintln!("truncated: {err:#}");
    assert!(format!("{err:#}").contains("truncated"), "{err:#}");
    for (p, what) in [(&missing, "missing"), (&empty, "empty"), (&text, "text")] {
        eprintln!("{what}: {:#}", media::probe(p).expect_err(what));
    }

    // No audio stream.
    let silent = dir.path().join("silent.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=25",
        "-t",
        "0.2",
        "-c:v",
        "libx264",
        silent.to_str().expect("utf-8"),
    ]);
    let err = media::decode_audio(&silent, 48_000, 1).expect_err("no audio");
    assert!(
        format!("{err:#}").contains("silent.mp4: no audio stream"),
        "{err:#}"
    );

    // Unsupported codec: a stream FFmpeg can demux but we cannot decode is hard
    // to make portably; an audio file opened as video stands in for "no video".
    let wav = dir.path().join("tone.wav");
    write_wav(
        &wav,
        &Pcm {
            sample_rate: 8000,
            channels: 1,
            samples: vec![0.0; 800],
        },
    )
    .expect("wav");
    let err = VideoReader::open(&wav).map(|_| ()).expect_err("no video");
    assert!(
        format!("{err:#}").contains("tone.wav: no video stream"),
        "{err:#}"
    );
}
