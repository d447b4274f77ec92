//! The first-use papercuts, each as a new user met it: `kino run` from
//! outside the repository, WAV tools that changed the sample format, and
//! long tools that printed nothing until they finished.

use std::path::Path;
use std::process::{Command, Output};

use kino_tests::ffmpeg;

fn kino(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kino-cli"));
    cmd.current_dir(cwd);
    cmd
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An operator's pipeline whose only plugin is the translator: subtitles
/// in, translated subtitles out.
const TRANSLATE_SUBTITLES: &str = r#"
name = "translate-subtitles"
description = "Translate a subtitle file"

[inputs]
transcript = { kind = "file", description = "SRT or WebVTT" }
language = { kind = "text", default = "es", description = "the target language" }

[[stage]]
name = "segments"
op = "parse-subtitles"
inputs = ["transcript"]

[[stage]]
name = "translated"
op = "translate"
slot = "translator"
inputs = ["segments", "language"]

[[stage]]
name = "srt"
op = "write-subtitles"
inputs = ["translated"]
params = { format = "srt" }

[outputs]
"translated.srt" = "srt"
"#;

const SUBTITLES: &str = "1\n00:00:00,000 --> 00:00:02,000\nGood morning\n\n2\n00:00:02,500 --> 00:00:04,000\nThank you\n";

/// A working directory away from the repository, with the pipeline and
/// subtitles in it.
fn elsewhere() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("translate-subtitles.toml"),
        TRANSLATE_SUBTITLES,
    )
    .expect("spec");
    std::fs::write(dir.path().join("talk.srt"), SUBTITLES).expect("srt");
    dir
}

#[test]
fn kino_run_finds_its_bundled_plugins_from_any_directory() {
    let dir = elsewhere();
    // No --plugins: the components are found beside the binary's build.
    let out = kino(dir.path())
        .args(["run", "translate-subtitles.toml", "transcript=talk.srt"])
        .env_remove("KINO_PLUGINS")
        .output()
        .expect("spawn kino");
    assert!(out.status.success(), "{}", both(&out));
    let translated =
        std::fs::read_to_string(dir.path().join("out/translated.srt")).expect("translated.srt");
    assert!(
        translated.contains("Buenos días") && translated.contains("Gracias"),
        "{translated}"
    );
    // Its state went to the working directory's .kino, as the docs say.
    assert!(dir.path().join(".kino/kino.db").is_file());
}

#[test]
fn a_pipeline_needs_only_the_plugins_its_slots_use() {
    let dir = elsewhere();
    let empty = dir.path().join("no-plugins");
    std::fs::create_dir(&empty).expect("dir");
    // A pipeline with a translator stage fails on that stage, naming the
    // plugin, where it was looked for and what to do.
    let out = kino(dir.path())
        .args([
            "run",
            "translate-subtitles.toml",
            "transcript=talk.srt",
            "--plugins",
        ])
        .arg(&empty)
        .output()
        .expect("spawn kino");
    assert!(!out.status.success(), "{}", both(&out));
    // The error, not a warning at start-up: a job that needs no plugin
    // says nothing of missing ones.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    for part in [
        "the bundled plugin kino-translator-phrasebook",
        "slot `translator`",
        "kino_translator_phrasebook.wasm",
        "make plugins",
    ] {
        assert!(text.contains(part), "`{part}` missing from:\n{text}");
    }
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn a_job_needs_only_the_plugins_it_uses() {
    let dir = elsewhere();
    let empty = dir.path().join("no-plugins");
    std::fs::create_dir(&empty).expect("dir");
    // A pipeline without slots runs with no plugin built.
    std::fs::write(
        dir.path().join("to-vtt.toml"),
        "name = \"to-vtt\"\ndescription = \"SRT to WebVTT\"\n\n[inputs]\ntranscript = { kind = \"file\", description = \"SRT\" }\n\n[[stage]]\nname = \"segments\"\nop = \"parse-subtitles\"\ninputs = [\"transcript\"]\n\n[[stage]]\nname = \"vtt\"\nop = \"write-subtitles\"\ninputs = [\"segments\"]\nparams = { format = \"vtt\" }\n\n[outputs]\n\"talk.vtt\" = \"vtt\"\n",
    )
    .expect("spec");
    let out = kino(dir.path())
        .args(["run", "to-vtt.toml", "transcript=talk.srt", "--plugins"])
        .arg(&empty)
        .output()
        .expect("spawn kino");
    assert!(out.status.success(), "{}", both(&out));
    assert!(dir.path().join("out/talk.vtt").is_file());
    assert!(!both(&out).contains("bundled plugin"), "{}", both(&out));
    // The caption pipeline's one slot (caption-style) is optional: without
    // the plugin the captions get the host's look, and the job says why.
    let video = dir.path().join("clip.mp4");
    kino_tests::test_video(&video, 2, "320x240", true);
    let out = kino(dir.path())
        .args(["run", "caption"])
        .arg(format!("video={}", video.display()))
        .args(["transcript=talk.srt", "--plugins"])
        .arg(&empty)
        .output()
        .expect("spawn kino");
    let text = both(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("kino-caption-emphasis"), "{text}");
    assert!(text.contains("the host's own form"), "{text}");
    assert!(!text.contains("kino-script-arc"), "{text}");
}

/// The format tag and bits per sample of a WAV file's `fmt ` chunk (the
/// canonical 44-byte layout ffmpeg and hound write).
fn wav_format(path: &Path) -> (u16, u16) {
    let bytes = std::fs::read(path).expect("wav");
    assert_eq!(&bytes[12..16], b"fmt ", "{}", path.display());
    (
        u16::from_le_bytes([bytes[20], bytes[21]]),
        u16::from_le_bytes([bytes[34], bytes[35]]),
    )
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn wav_tools_keep_the_inputs_sample_format_unless_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("tone.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2:sample_rate=22050",
        "-c:a",
        "pcm_s16le",
        "-bitexact",
        input.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(wav_format(&input), (1, 16));
    let run = |args: &[&str]| {
        let out = kino(dir.path()).args(args).output().expect("spawn kino");
        assert!(out.status.success(), "{}", both(&out));
    };
    run(&["stretch", "--ratio", "1.5", "tone.wav", "stretched.wav"]);
    run(&["normalize", "tone.wav", "normalized.wav"]);
    run(&[
        "stretch",
        "--ratio",
        "1.5",
        "--sample-format",
        "f32",
        "tone.wav",
        "float.wav",
    ]);
    for file in ["stretched.wav", "normalized.wav"] {
        assert_eq!(wav_format(&dir.path().join(file)), (1, 16), "{file}");
    }
    // Float, as asked (hound writes it with the extensible header).
    let (tag, bits) = wav_format(&dir.path().join("float.wav"));
    assert!(tag == 3 || tag == 0xFFFE, "{tag:#x}");
    assert_eq!(bits, 32);
    // Python's `wave` (integer PCM only) reads what the tools wrote.
    let python = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, wave; w = wave.open(sys.argv[1]); print(w.getsampwidth(), w.getnframes())",
        )
        .arg(dir.path().join("stretched.wav"))
        .output();
    if let Ok(out) = python {
        assert!(out.status.success(), "{}", both(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2 66150");
    }
    let out = kino(dir.path())
        .args(["stretch", "--ratio", "2", "--sample-format", "s12"])
        .args(["tone.wav", "bad.wav"])
        .output()
        .expect("spawn kino");
    assert!(!out.status.success());
    assert!(both(&out).contains("u8, s16, s24, s32 or f32"));
}

#[test]
#[cfg_attr(missing = "ffmpeg", ignore = "needs ffmpeg (apt-get install ffmpeg)")]
fn long_tools_print_progress_lines_off_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let video = dir.path().join("clip.mp4");
    kino_tests::test_video(&video, 2, "320x240", true);
    // stderr is a pipe here, as in a log or CI.
    let out = kino(dir.path())
        .args(["interpolate", "--factor", "2", "clip.mp4", "x2.mp4"])
        .env("KINO_PROGRESS_EVERY_MS", "10")
        .output()
        .expect("spawn kino");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let during: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("progress: ") && l.contains(" frames ("))
        .collect();
    assert!(!during.is_empty(), "no progress lines:\n{stderr}");
    let last = lines
        .iter()
        .find(|l| l.starts_with("done: "))
        .unwrap_or_else(|| panic!("no final line:\n{stderr}"));
    // The last line counts every frame the tool says it wrote: 2 s at
    // 24 fps, doubled, less one.
    let stdout = String::from_utf8_lossy(&out.stdout);
    // ... and where the new frames' warps ran (the CPU, in this build).
    assert!(stdout.contains("(95 frames, warped on cpu)"), "{stdout}");
    assert!(last.starts_with("done: 95/"), "{last}");
}
