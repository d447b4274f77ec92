//! Text to speech through the `espeak-ng` command-line program.
//!
//! The program is run directly (no shell) as
//! `espeak-ng -v <voice> -s <wpm> -b 1 --stdin --stdout`; the text goes in on
//! stdin as UTF-8, so no text can be mistaken for an option or reach a shell,
//! and the WAV it streams to stdout is decoded with [`decode_wav_bytes`].
//! espeak-ng speaks 16-bit mono at 22 050 Hz. Markup (SSML) is not enabled: `<` and `&` are
//! read as text.

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use thiserror::Error;

use crate::wav::{Pcm, WavError, decode_wav_bytes};

/// Errors from speech synthesis.
#[derive(Debug, Error)]
pub enum SpeechError {
    /// The synthesiser program does not exist.
    #[error(
        "espeak-ng is not installed: apt-get install espeak-ng (no program at {})",
        program.display()
    )]
    NotInstalled {
        /// The program that was looked for.
        program: PathBuf,
    },
    /// The program exists but could not be started (permissions, ...).
    #[error("cannot run {}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the running program failed.
    #[error("i/o with {} failed", program.display())]
    Io {
        /// The program.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The program exited unsuccessfully (e.g. an unknown voice).
    #[error("{} failed ({status}) for voice {voice:?}: {stderr}", program.display())]
    Failed {
        /// The program.
        program: PathBuf,
        /// The espeak-ng voice asked for.
        voice: String,
        /// How it exited.
        status: std::process::ExitStatus,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// The program succeeded but its output is not usable audio.
    #[error("{} produced no usable audio for voice {voice:?}", program.display())]
    BadOutput {
        /// The program.
        program: PathBuf,
        /// The espeak-ng voice asked for.
        voice: String,
        /// Why the output could not be decoded.
        #[source]
        source: WavError,
    },
    /// The text is empty or only whitespace.
    #[error("nothing to say: the text is empty")]
    EmptyText,
    /// The speaking rate is outside what espeak-ng honours.
    #[error("speaking rate {rate_wpm} wpm is outside {MIN_RATE_WPM}..={MAX_RATE_WPM}")]
    InvalidRate {
        /// The rate given.
        rate_wpm: u32,
    },
    /// The language tag or voice name cannot be passed to espeak-ng.
    #[error("invalid voice name {0:?}")]
    InvalidVoice(String),
}

/// espeak-ng's default speaking rate, in words per minute.
pub const DEFAULT_RATE_WPM: u32 = 175;
/// Slowest rate: espeak-ng silently clamps anything slower to 80.
pub const MIN_RATE_WPM: u32 = 80;
/// Fastest rate accepted.
pub const MAX_RATE_WPM: u32 = 1000;
/// The program run when none is configured (looked up on `PATH`).
pub const DEFAULT_PROGRAM: &str = "espeak-ng";

/// A voice: language, espeak-ng voice name, rate and the program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voice {
    /// Language tag, e.g. `en`, `es`, `pt-BR`.
    pub language: String,
    /// espeak-ng voice name passed to `-v` (see [`default_voice_for`]).
    pub espeak_voice: String,
    /// Speaking rate in words per minute (`-s`).
    pub rate_wpm: u32,
    /// The synthesiser program: a name looked up on `PATH` or a path.
    pub program: PathBuf,
}

/// The espeak-ng voice for a language tag: `en` → `en-us`, `es` → `es`,
/// `fr` → `fr-fr`, `de` → `de`, `it` → `it`, `pt` → `pt-br`; any other tag is
/// used as is (lowercased, `_` read as `-`), which matches espeak-ng names
/// such as `en-gb` or `pt-pt`.
pub fn default_voice_for(language: &str) -> String {
    let tag = language.trim().to_ascii_lowercase().replace('_', "-");
    match tag.as_str() {
        "en" => "en-us".into(),
        "fr" => "fr-fr".into(),
        "pt" => "pt-br".into(),
        _ => tag,
    }
}

impl Voice {
    /// The default voice for `language` at [`DEFAULT_RATE_WPM`], run with
    /// [`DEFAULT_PROGRAM`].
    pub fn for_language(language: &str) -> Voice {
        Voice {
            language: language.to_string(),
            espeak_voice: default_voice_for(language),
            rate_wpm: DEFAULT_RATE_WPM,
            program: PathBuf::from(DEFAULT_PROGRAM),
        }
    }

    /// The same voice at another rate (words per minute).
    pub fn with_rate(mut self, rate_wpm: u32) -> Voice {
        self.rate_wpm = rate_wpm;
        self
    }

    /// The same voice run with another program (name or path).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Voice {
        self.program = program.into();
        self
    }
}

impl Default for Voice {
    /// English (`en-us`) at 175 wpm.
    fn default() -> Self {
        Voice::for_language("en")
    }
}

/// Synthesised speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The audio (mono, 22 050 Hz from espeak-ng).
    pub pcm: Pcm,
    /// Its duration.
    pub duration: Duration,
}

/// Speaks `text` with `voice`.
///
/// Empty or whitespace-only text is an error ([`SpeechError::EmptyText`]),
/// not empty audio. A missing program gives [`SpeechError::NotInstalled`];
/// a non-zero exit gives [`SpeechError::Failed`] with the program's stderr.
pub fn synthesize(text: &str, voice: &Voice) -> Result<Speech, SpeechError> {
    if text.trim().is_empty() {
        return Err(SpeechError::EmptyText);
    }
    if !(MIN_RATE_WPM..=MAX_RATE_WPM).contains(&voice.rate_wpm) {
        return Err(SpeechError::InvalidRate {
            rate_wpm: voice.rate_wpm,
        });
    }
    let name = voice.espeak_voice.as_str();
    if name.is_empty()
        || name.starts_with('-')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '.'))
    {
        return Err(SpeechError::InvalidVoice(name.to_string()));
    }
    let program = &voice.program;
    let mut child = Command::new(program)
        .args([
            OsStr::new("-v"),
            OsStr::new(name),
            OsStr::new("-s"),
            OsStr::new(&voice.rate_wpm.to_string()),
            OsStr::new("-b"),
            OsStr::new("1"),
            OsStr::new("--stdin"),
            OsStr::new("--stdout"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SpeechError::NotInstalled {
                    program: program.clone(),
                }
            } else {
                SpeechError::Spawn {
                    program: program.clone(),
                    source,
                }
            }
        })?;

    // Feed stdin from another thread so a large output can't deadlock us.
    let writer = child.stdin.take().map(|mut stdin| {
        let text = text.to_string();
        std::thread::spawn(move || {
            let r = stdin.write_all(text.as_bytes());
            drop(stdin);
            r
        })
    });
    let output = child.wait_with_output().map_err(|source| SpeechError::Io {
        program: program.clone(),
        source,
    })?;
    if let Some(handle) = writer {
        // A broken pipe means the program exited early; its status says why.
        match handle.join() {
            Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe && output.status.success() => {
                return Err(SpeechError::Io {
                    program: program.clone(),
                    source: e,
                });
            }
            _ => {}
        }
    }
    if !output.status.success() {
        return Err(SpeechError::Failed {
            program: program.clone(),
            voice: name.to_string(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let pcm = decode_wav_bytes(&output.stdout).map_err(|source| SpeechError::BadOutput {
        program: program.clone(),
        voice: name.to_string(),
        source,
    })?;
    let duration = Duration::from_secs_f64(pcm.duration_secs());
    Ok(Speech { pcm, duration })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Synthesises, panicking with the reason on failure.
    fn speak(text: &str, voice: &Voice) -> Speech {
        synthesize(text, voice).unwrap_or_else(|e| panic!("synthesis failed: {e}"))
    }

    fn peak(pcm: &Pcm) -> f32 {
        pcm.samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
    }

    #[test]
    fn default_voices() {
        assert_eq!(default_voice_for("en"), "en-us");
        assert_eq!(default_voice_for("es"), "es");
        assert_eq!(default_voice_for("fr"), "fr-fr");
        assert_eq!(default_voice_for("de"), "de");
        assert_eq!(default_voice_for("it"), "it");
        assert_eq!(default_voice_for("pt"), "pt-br");
        assert_eq!(default_voice_for("en_GB"), "en-gb");
        assert_eq!(default_voice_for("nl"), "nl");
        assert_eq!(Voice::default().espeak_voice, "en-us");
        assert_eq!(Voice::default().rate_wpm, DEFAULT_RATE_WPM);
    }

    #[test]
    #[cfg_attr(
        missing = "espeak-ng",
        ignore = "needs espeak-ng (apt-get install espeak-ng)"
    )]
    fn hello_world_in_english_and_spanish() {
        for lang in ["en", "es"] {
            let speech = speak("hello world", &Voice::for_language(lang));
            let secs = speech.duration.as_secs_f64();
            assert!((0.3..=5.0).contains(&secs), "{lang}: {secs} s");
            assert_eq!(speech.pcm.channels, 1);
            assert!((secs - speech.pcm.duration_secs()).abs() < 1e-6);
            assert!(peak(&speech.pcm) > 0.05, "{lang}: silent");
        }
    }

    #[test]
    #[cfg_attr(
        missing = "espeak-ng",
        ignore = "needs espeak-ng (apt-get install espeak-ng)"
    )]
    fn faster_rate_is_shorter() {
        let text = "the quick brown fox jumps over the lazy dog";
        let slow = speak(text, &Voice::for_language("en").with_rate(120));
        let fast = speak(text, &Voice::for_language("en").with_rate(300));
        assert!(
            fast.duration.as_secs_f64() < 0.8 * slow.duration.as_secs_f64(),
            "{:?} vs {:?}",
            fast.duration,
            slow.duration
        );
    }

    #[test]
    #[cfg_attr(
        missing = "espeak-ng",
        ignore = "needs espeak-ng (apt-get install espeak-ng)"
    )]
    fn text_is_not_interpreted() {
        // Leading dashes, quotes, markup and non-ASCII are all just text.
        let speech = speak(
            "-v xx --help \"¿Qué tal?\" <b>&amp; $(rm -rf /)",
            &Voice::for_language("es"),
        );
        assert!(peak(&speech.pcm) > 0.05);
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let voice = Voice::default().with_program("/nonexistent/bin/espeak-ng-missing");
        let err = synthesize("hello", &voice).unwrap_err();
        assert!(matches!(err, SpeechError::NotInstalled { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("espeak-ng is not installed: apt-get install espeak-ng"),
            "{msg}"
        );
        assert!(msg.contains("/nonexistent/bin/espeak-ng-missing"), "{msg}");
    }

    #[test]
    fn non_executable_program_is_a_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-program");
        std::fs::write(&path, b"plain text").unwrap();
        let err = synthesize("hello", &Voice::default().with_program(&path)).unwrap_err();
        assert!(matches!(err, SpeechError::Spawn { .. }), "{err}");
    }

    #[test]
    #[cfg_attr(
        missing = "espeak-ng",
        ignore = "needs espeak-ng (apt-get install espeak-ng)"
    )]
    fn unknown_voice_reports_stderr() {
        let mut voice = Voice::for_language("xx-nope");
        let err = synthesize("hello", &voice).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SpeechError::Failed { .. }), "{msg}");
        assert!(msg.contains("voice does not exist"), "{msg}");
        voice.espeak_voice = "--help".into();
        assert!(matches!(
            synthesize("hello", &voice),
            Err(SpeechError::InvalidVoice(_))
        ));
    }

    #[test]
    fn empty_text_and_bad_rate_are_errors() {
        let voice = Voice::default();
        assert!(matches!(
            synthesize("  \n", &voice),
            Err(SpeechError::EmptyText)
        ));
        let err = synthesize("hi", &voice.clone().with_rate(10)).unwrap_err();
        assert!(err.to_string().contains("10 wpm"), "{err}");
    }
}
