//! {{name}}: a transcriber plugin. A stand-in that hears nothing: it reads
//! the audio's WAV header for its length and answers one segment saying
//! what it was given. A real backend sends the audio to a speech-to-text
//! service (see the SDK's `http` module: `Multipart::media` streams it
//! without copying) and turns the reply into a `Transcript`.

use kino_plugin_sdk::{
    MediaIn, PluginError, TimedWord, TranscribeProgress, TranscribeRequest, Transcriber,
    Transcript, TranscriptSegment, log,
};

struct Plugin;

/// How long WAV audio lasts, in milliseconds, from its first bytes and its
/// size; `None` for anything else (or a header this stand-in does not know).
fn wav_duration_ms(header: &[u8], size: u64) -> Option<u32> {
    if header.len() < 44 || &header[..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return None;
    }
    let byte_rate = u32::from_le_bytes(header[28..32].try_into().ok()?);
    if byte_rate == 0 {
        return None;
    }
    let ms = size.saturating_sub(44) * 1000 / u64::from(byte_rate);
    Some(u32::try_from(ms).unwrap_or(u32::MAX))
}

/// One segment of `text` over `0..end_ms`, its words spread evenly.
fn segment(text: &str, end_ms: u32, speaker: Option<String>) -> TranscriptSegment {
    let words: Vec<&str> = text.split_whitespace().collect();
    let step = end_ms / words.len().max(1) as u32;
    TranscriptSegment {
        start_ms: 0,
        end_ms,
        text: text.to_owned(),
        speaker,
        words: words
            .iter()
            .enumerate()
            .map(|(i, word)| TimedWord {
                text: (*word).to_owned(),
                start_ms: i as u32 * step,
                end_ms: (i as u32 + 1) * step,
            })
            .collect(),
    }
}

impl Transcriber for Plugin {
    fn submit(
        audio: &MediaIn,
        request: TranscribeRequest,
        _key: String,
    ) -> Result<TranscribeProgress, PluginError> {
        // The audio's first bytes, through the wasi:io stream the host lends.
        let stream = audio.open()?;
        let header = stream
            .blocking_read(44)
            .map_err(|e| PluginError::internal(format!("reading the audio: {e:?}")))?;
        let (size, content_type) = (audio.size(), audio.content_type());
        let end_ms = wav_duration_ms(&header, size).unwrap_or(0);
        log::info(&format!("given {size} bytes of {content_type}, {end_ms} ms"));
        let text = format!("{size} bytes of {content_type}");
        let speaker = request.diarize.then(|| "speaker-0".to_owned());
        // This stand-in answers at once. A backend that works for minutes
        // answers `TranscribeProgress::Pending` with its job's id as the
        // ticket, and the host calls `check` with it later.
        Ok(TranscribeProgress::Done(Transcript {
            language: request.language.unwrap_or_else(|| "en".to_owned()),
            segments: vec![segment(&text, end_ms, speaker)],
        }))
    }

    fn check(ticket: String) -> Result<TranscribeProgress, PluginError> {
        Err(PluginError::invalid_input(format!(
            "this transcriber answers at once and has no job {ticket}"
        )))
    }
}

kino_plugin_sdk::export_transcriber!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_header_gives_the_duration() {
        let mut header = vec![0; 44];
        header[..4].copy_from_slice(b"RIFF");
        header[8..12].copy_from_slice(b"WAVE");
        header[28..32].copy_from_slice(&32_000u32.to_le_bytes());
        assert_eq!(wav_duration_ms(&header, 44 + 32_000), Some(1000));
        assert_eq!(wav_duration_ms(b"not a wav", 9), None);
    }

    #[test]
    fn words_stay_inside_their_segment() {
        let s = segment("three short words", 900, None);
        assert_eq!(s.words.len(), 3);
        assert!(s.words.iter().all(|w| w.start_ms <= w.end_ms && w.end_ms <= s.end_ms));
    }
}
