//! `kino-transcriber-openai`: a `transcriber` plugin backed by an
//! OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI's, or a
//! self-hosted server speaking the same API, such as faster-whisper-server
//! or whisper.cpp's server).
//!
//! The audio is sent as a multipart upload whose file part is spliced from
//! the host's media stream, so the plugin's memory stays small whatever the
//! audio's length. The reply is `verbose_json` with segment and word
//! timestamps; words are placed in the segment whose span holds their
//! midpoint, and a segment's `speaker` is kept when the server labels one.
//! The endpoint answers at once, so `submit` always answers `done`.
//!
//! Configuration: `endpoint` (default `https://api.openai.com/v1`) and
//! `model` (default `whisper-1`). The host adds the tenant's credential.

use kino_plugin_sdk::http::{Multipart, Request};
use kino_plugin_sdk::{
    MediaIn, PluginError, TimedWord, TranscribeProgress, TranscribeRequest, Transcriber,
    Transcript, TranscriptSegment,
};
use serde::Deserialize;

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "whisper-1";

/// The reply's shape (`response_format=verbose_json`).
#[derive(Debug, Deserialize)]
pub struct Reply {
    /// The language, as a name ("english") or a code ("en").
    #[serde(default)]
    pub language: String,
    /// The whole text.
    #[serde(default)]
    pub text: String,
    /// The segments, with times in seconds.
    #[serde(default)]
    pub segments: Vec<ReplySegment>,
    /// The words, with times in seconds.
    #[serde(default)]
    pub words: Vec<ReplyWord>,
}

/// A segment of the reply.
#[derive(Debug, Deserialize)]
pub struct ReplySegment {
    /// Start, in seconds.
    pub start: f64,
    /// End, in seconds.
    pub end: f64,
    /// What was said.
    pub text: String,
    /// The speaker's label, from servers that diarize.
    #[serde(default)]
    pub speaker: Option<String>,
}

/// A word of the reply.
#[derive(Debug, Deserialize)]
pub struct ReplyWord {
    /// The word.
    pub word: String,
    /// Start, in seconds.
    pub start: f64,
    /// End, in seconds.
    pub end: f64,
}

fn ms(seconds: f64) -> u32 {
    (seconds.max(0.0) * 1000.0).round().min(f64::from(u32::MAX)) as u32
}

/// The BCP 47 code for the language names Whisper answers with; a code
/// (or a name it does not know) is kept as it came, lowercased.
pub fn language_code(language: &str) -> String {
    const NAMES: [(&str, &str); 20] = [
        ("english", "en"),
        ("spanish", "es"),
        ("french", "fr"),
        ("german", "de"),
        ("italian", "it"),
        ("portuguese", "pt"),
        ("dutch", "nl"),
        ("polish", "pl"),
        ("turkish", "tr"),
        ("russian", "ru"),
        ("ukrainian", "uk"),
        ("arabic", "ar"),
        ("hindi", "hi"),
        ("japanese", "ja"),
        ("korean", "ko"),
        ("chinese", "zh"),
        ("swedish", "sv"),
        ("danish", "da"),
        ("finnish", "fi"),
        ("norwegian", "no"),
    ];
    let lower = language.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(name, _)| *name == lower)
        .map_or(lower, |(_, code)| (*code).to_owned())
}

/// Turns a reply into a transcript: words placed in the segment holding
/// their midpoint; without segments, one segment spanning the words.
pub fn transcript(reply: Reply, asked: Option<&str>) -> Result<Transcript, PluginError> {
    let language = match asked {
        Some(language) => language.to_owned(),
        None if !reply.language.is_empty() => language_code(&reply.language),
        None => {
            return Err(PluginError::unavailable(
                "the reply names no language and none was asked for",
            ));
        }
    };
    let mut segments: Vec<TranscriptSegment> = reply
        .segments
        .iter()
        .filter(|s| s.end >= s.start && s.start >= 0.0)
        .map(|s| TranscriptSegment {
            start_ms: ms(s.start),
            end_ms: ms(s.end),
            text: s.text.trim().to_owned(),
            speaker: s.speaker.clone(),
            words: Vec::new(),
        })
        .collect();
    let words = reply
        .words
        .iter()
        .filter(|w| w.end >= w.start && w.start >= 0.0 && !w.word.trim().is_empty())
        .map(|w| TimedWord {
            text: w.word.trim().to_owned(),
            start_ms: ms(w.start),
            end_ms: ms(w.end),
        });
    if segments.is_empty() {
        let words: Vec<TimedWord> = words.collect();
        if words.is_empty() && reply.text.trim().is_empty() {
            return Ok(Transcript { language, segments });
        }
        segments.push(TranscriptSegment {
            start_ms: words.first().map_or(0, |w| w.start_ms),
            end_ms: words.last().map_or(0, |w| w.end_ms),
            text: reply.text.trim().to_owned(),
            speaker: None,
            words,
        });
    } else {
        for word in words {
            let middle = (word.start_ms + word.end_ms) / 2;
            // The segment holding the word's middle, else the last one
            // starting before it.
            let index = segments
                .iter()
                .position(|s| s.start_ms <= middle && middle <= s.end_ms)
                .or_else(|| segments.iter().rposition(|s| s.start_ms <= middle))
                .unwrap_or(0);
            segments[index].words.push(word);
        }
    }
    Ok(Transcript { language, segments })
}

/// The plugin.
pub struct OpenAiTranscriber;

impl Transcriber for OpenAiTranscriber {
    fn submit(
        audio: &MediaIn,
        request: TranscribeRequest,
        _key: String,
    ) -> Result<TranscribeProgress, PluginError> {
        let endpoint =
            kino_plugin_sdk::config("endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let model = kino_plugin_sdk::config("model").unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        let url = format!("{}/audio/transcriptions", endpoint.trim_end_matches('/'));
        let mut form = Multipart::new()
            .text("model", &model)
            .text("response_format", "verbose_json")
            .text("timestamp_granularities[]", "segment")
            .text("timestamp_granularities[]", "word");
        if let Some(language) = &request.language {
            form = form.text("language", language);
        }
        let form = form.media("file", audio);
        kino_plugin_sdk::log::info(&format!(
            "transcribing {} ({} bytes) with {model}",
            audio.file_name(),
            audio.size()
        ));
        let reply: Reply = Request::post(&url)?
            .header("accept", "application/json")
            .multipart(form)
            .send()?
            .success()?
            .json()?;
        transcript(reply, request.language.as_deref()).map(TranscribeProgress::Done)
    }

    fn check(ticket: String) -> Result<TranscribeProgress, PluginError> {
        Err(PluginError::invalid_input(format!(
            "this transcriber answers at once and has no job {ticket} to poll"
        )))
    }
}

kino_plugin_sdk::export_transcriber!(OpenAiTranscriber);

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(json: &str) -> Reply {
        serde_json::from_str(json).expect("valid reply")
    }

    #[test]
    fn words_land_in_the_segment_holding_their_middle() {
        let t = transcript(
            reply(
                r#"{"language":"english","text":"Hello there. Bye now.",
                "segments":[{"start":0.0,"end":1.2,"text":" Hello there."},
                            {"start":1.2,"end":2.5,"text":" Bye now.","speaker":"B"}],
                "words":[{"word":"Hello","start":0.0,"end":0.5},{"word":"there.","start":0.6,"end":1.1},
                         {"word":"Bye","start":1.3,"end":1.6},{"word":"now.","start":1.7,"end":2.4}]}"#,
            ),
            None,
        )
        .expect("transcript");
        assert_eq!(t.language, "en");
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].text, "Hello there.");
        let words: Vec<_> = t.segments[1]
            .words
            .iter()
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(words, ["Bye", "now."]);
        assert_eq!(t.segments[1].speaker.as_deref(), Some("B"));
        assert_eq!((t.segments[1].start_ms, t.segments[1].end_ms), (1200, 2500));
    }

    #[test]
    fn words_without_segments_make_one_segment() {
        let t = transcript(
            reply(r#"{"text":"hola amigos","words":[{"word":"hola","start":0.1,"end":0.4},{"word":"amigos","start":0.5,"end":0.9}]}"#),
            Some("es"),
        )
        .expect("transcript");
        assert_eq!(t.language, "es");
        assert_eq!(t.segments.len(), 1);
        assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (100, 900));
        assert_eq!(t.segments[0].words.len(), 2);
    }

    #[test]
    fn a_reply_without_a_language_when_none_was_asked_is_refused() {
        let err = transcript(reply(r#"{"text":"x"}"#), None).expect_err("no language");
        assert!(matches!(err, PluginError::Unavailable(_)));
    }
}
