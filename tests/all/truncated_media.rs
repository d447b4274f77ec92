//! Truncated media, on fixtures made with the ffmpeg CLI: a faststart MP4
//! cut short is an error wherever Kino reads or copies it (not only where a
//! decoder trips over the cut), and what Kino makes from whole files of
//! each kind decodes cleanly with the ffmpeg CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use kino_media as media;
use kino_media::{Mp4Writer, RgbFrame, VideoReader};
use kino_tests::{ffmpeg, video_md5};

/// 6 s of 320x240 24 fps H.264 + AAC, the index (moov) at the front when
/// `faststart`, else at the end (the CLI's default).
fn clip(dir: &Path, name: &str, faststart: bool) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=6",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
    ];
    if faststart {
        args.extend(["-movflags", "+faststart"]);
    }
    args.push(path.to_str().expect("utf-8 path"));
    ffmpeg(&args);
    path
}

/// A copy of `src` named `name`, cut to 60% of its bytes.
fn cut_copy(src: &Path, name: &str) -> PathBuf {
    let dst = src.with_file_name(name);
    std::fs::copy(src, &dst).expect("copy");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&dst)
        .expect("open the copy");
    let len = file.metadata().expect("metadata").len();
    file.set_len(len * 6 / 10).expect("truncate");
    dst
}

/// Every frame of a file's video stream, or the first error.
fn read_video(path: &Path) -> anyhow::Result<usize> {
    let mut reader = VideoReader::open(path)?;
    let mut frames = 0;
    while reader.next_frame()?.is_some() {
        frames += 1;
    }
    Ok(frames)
}

#[track_caller]
fn assert_truncated<T: std::fmt::Debug>(what: &str, result: anyhow::Result<T>, name: &str) {
    let err = format!("{:#}", result.expect_err(what));
    assert!(
        err.contains(name) && err.contains("truncated"),
        "{what}: {err}"
    );
}

/// A full decode of every stream by the ffmpeg CLI reports nothing.
#[track_caller]
fn assert_decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("running ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{}: ffmpeg's full decode reported: {stderr}",
        path.display()
    );
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn a_cut_faststart_mp4_is_an_error_wherever_kino_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = clip(dir.path(), "whole.mp4", true);
    let cut = cut_copy(&whole, "cut.mp4");
    let out = |name: &str| dir.path().join(name);
    let pcm = media::decode_audio(&whole, 48_000, 2).expect("audio");

    assert_truncated("probe", media::probe(&cut), "cut.mp4");
    assert_truncated("video", read_video(&cut), "cut.mp4");
    assert_truncated("audio", media::decode_audio(&cut, 48_000, 2), "cut.mp4");
    // The dub's last stage: it used to copy the packets up to the cut
    // and succeed.
    assert_truncated(
        "mux_audio_pcm",
        media::mux_audio_pcm(&cut, &pcm, out("dubbed.mp4")),
        "cut.mp4",
    );
    assert!(
        !out("dubbed.mp4").exists(),
        "a dub of a cut file was written"
    );
    assert_truncated(
        "mux_audio (video)",
        media::mux_audio(&cut, &whole, out("a.mp4")),
        "cut.mp4",
    );
    assert_truncated(
        "mux_audio (audio)",
        media::mux_audio(&whole, &cut, out("b.mp4")),
        "cut.mp4",
    );
    assert_truncated(
        "concat_copy",
        media::concat_copy(&[&whole, &cut], out("c.mp4")),
        "cut.mp4",
    );
    assert_truncated("cut", media::cut(&cut, 0.5, 1.5, out("d.mp4")), "cut.mp4");
    assert_truncated(
        "concat",
        media::concat(&[&whole, &cut], out("e.mp4")),
        "cut.mp4",
    );
    let err = format!("{:#}", media::probe(&cut).expect_err("cut"));
    eprintln!("{err}");
    assert!(
        err.contains("the container lists 144 video packets, the file holds"),
        "{err}"
    );
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn a_cut_mp4_indexed_at_the_end_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = clip(dir.path(), "whole.mp4", false);
    let cut = cut_copy(&whole, "cut.mp4");
    let pcm = media::decode_audio(&whole, 48_000, 2).expect("audio");
    for (what, result) in [
        ("probe", media::probe(&cut).map(|_| ())),
        ("video", read_video(&cut).map(|_| ())),
        (
            "mux_audio_pcm",
            media::mux_audio_pcm(&cut, &pcm, dir.path().join("out.mp4")),
        ),
    ] {
        let err = format!("{:#}", result.expect_err(what));
        assert!(
            err.contains("cut.mp4: truncated or corrupt MP4/MOV")
                && err.contains("no readable index"),
            "{what}: {err}"
        );
    }
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn what_kino_makes_from_whole_files_decodes_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let faststart = clip(dir.path(), "faststart.mp4", true);
    let plain = clip(dir.path(), "plain.mp4", false);
    let src = faststart.to_str().expect("utf-8 path");
    let mkv = path("clip.mkv");
    ffmpeg(&["-i", src, "-c", "copy", mkv.to_str().expect("utf-8 path")]);
    let frag = path("frag.mp4");
    ffmpeg(&[
        "-i",
        src,
        "-c",
        "copy",
        "-movflags",
        "+frag_keyframe+empty_moov",
        frag.to_str().expect("utf-8 path"),
    ]);
    let webm = path("clip.webm");
    ffmpeg(&[
        "-i",
        src,
        "-t",
        "2",
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-c:a",
        "libopus",
        webm.to_str().expect("utf-8 path"),
    ]);
    let wav = path("tone.wav");
    ffmpeg(&["-i", src, "-vn", wav.to_str().expect("utf-8 path")]);

    // Reading every kind of whole file works as it did.
    for (input, frames) in [(&faststart, 144), (&plain, 144), (&mkv, 144), (&frag, 144)] {
        assert_eq!(read_video(input).expect("video"), frames, "{input:?}");
        let pcm = media::decode_audio(input, 48_000, 2).expect("audio");
        assert!((pcm.duration_secs() - 6.0).abs() < 0.1, "{input:?}");
    }
    assert_eq!(read_video(&webm).expect("webm video"), 48);
    media::decode_audio(&webm, 48_000, 2).expect("webm audio");
    let pcm = media::decode_audio(&wav, 48_000, 2).expect("wav");

    // The dub's last stage copies the video unchanged, from each kind.
    for (i, input) in [&faststart, &plain, &mkv, &frag].into_iter().enumerate() {
        let dubbed = path(&format!("dubbed{i}.mp4"));
        media::mux_audio_pcm(input, &pcm, &dubbed).expect("mux_audio_pcm");
        assert_decodes_cleanly(&dubbed);
        assert_eq!(video_md5(&dubbed), video_md5(input), "{input:?}");
    }
    let muxed = path("muxed.mp4");
    media::mux_audio(&faststart, &wav, &muxed).expect("mux_audio");
    assert_decodes_cleanly(&muxed);

    let cut = path("cut.mp4");
    media::cut(&faststart, 1.0, 3.0, &cut).expect("cut");
    assert_decodes_cleanly(&cut);
    let joined = path("joined.mp4");
    media::concat(&[&faststart, &plain], &joined).expect("concat");
    assert_decodes_cleanly(&joined);

    // Pieces as the caption pipeline writes them, joined by copying, then
    // given the original's sound.
    let mut reader = VideoReader::open(&faststart).expect("open");
    let mut pieces = Vec::new();
    for p in 0..3 {
        let piece = path(&format!("piece{p}.mp4"));
        let mut writer = Mp4Writer::options(320, 240, 24.0)
            .joinable()
            .create(&piece)
            .expect("piece");
        for _ in 0..48 {
            let frame: RgbFrame = reader.next_frame().expect("frame").expect("a frame");
            writer.write_video_frame(&frame).expect("encode");
        }
        writer.finish().expect("finish");
        assert_decodes_cleanly(&piece);
        pieces.push(piece);
    }
    let captioned = path("captioned.mp4");
    media::concat_copy(&pieces, &captioned).expect("concat_copy");
    assert_decodes_cleanly(&captioned);
    assert_eq!(read_video(&captioned).expect("joined pieces"), 144);
    let with_sound = path("with-sound.mp4");
    media::mux_audio(&captioned, &faststart, &with_sound).expect("mux_audio");
    assert_decodes_cleanly(&with_sound);
}
