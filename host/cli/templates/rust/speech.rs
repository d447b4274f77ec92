//! {{name}}: a speech plugin. A stand-in that cannot talk: it "speaks" a
//! short beep per word, as a 16 kHz mono WAV written to the call's
//! `media-out`. A real backend sends the text to a text-to-speech service
//! and saves the audio it answers (the SDK's `http::Response::save` streams
//! a reply body straight into `out`).

use kino_plugin_sdk::{
    MediaIn, MediaOut, PluginError, Speech, SpeechAudio, SpeechProgress, SpeechRequest, Voice, log,
};

struct Plugin;

const SAMPLE_RATE: u32 = 16_000;
/// The longest audio this stand-in writes.
const MAX_SECONDS: u32 = 30;

/// The WAV of a 440 Hz beep per word of `text`, each followed by a pause;
/// `rate` 2.0 is twice as fast.
fn beeps(text: &str, rate: f32) -> Vec<u8> {
    let rate = if rate.is_finite() && rate > 0.1 { rate } else { 1.0 };
    let per_word = (0.3 * SAMPLE_RATE as f32 / rate) as usize;
    let words = text.split_whitespace().count().max(1);
    let count = (words * per_word).min((MAX_SECONDS * SAMPLE_RATE) as usize);
    let data_len = (count * 2) as u32;
    let mut wav = Vec::with_capacity(44 + count * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // the fmt chunk's size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    wav.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..count {
        // The first two thirds of each word's time beep; the rest is quiet.
        let sample = if i % per_word < per_word * 2 / 3 {
            let t = i as f32 / SAMPLE_RATE as f32;
            ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16
        } else {
            0
        };
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

impl Speech for Plugin {
    fn voices() -> Result<Vec<Voice>, PluginError> {
        Ok(vec![Voice {
            id: "beep".into(),
            name: "Beep".into(),
            languages: Vec::new(),
            cloned: false,
        }])
    }

    fn synthesize(
        request: SpeechRequest,
        out: &MediaOut,
        _key: String,
    ) -> Result<SpeechProgress, PluginError> {
        if request.text.trim().is_empty() {
            return Err(PluginError::invalid_input("nothing to say"));
        }
        let wav = beeps(&request.text, request.rate);
        log::info(&format!("writing {} bytes of WAV", wav.len()));
        let stream = out.create("audio/wav")?;
        // A blocking write takes at most 4096 bytes at a time.
        for chunk in wav.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| PluginError::internal(format!("writing the audio: {e:?}")))?;
        }
        // This stand-in answers at once; a slow backend answers
        // `SpeechProgress::Pending` and writes the audio in `check`.
        Ok(SpeechProgress::Done(SpeechAudio {
            sample_rate: Some(SAMPLE_RATE),
        }))
    }

    fn check(ticket: String, _out: &MediaOut) -> Result<SpeechProgress, PluginError> {
        Err(PluginError::invalid_input(format!(
            "this backend answers at once and has no job {ticket}"
        )))
    }

    fn create_voice(_name: String, _samples: Vec<MediaIn>) -> Result<Voice, PluginError> {
        Err(PluginError::invalid_input("this backend cannot clone voices"))
    }
}

kino_plugin_sdk::export_speech!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_gets_a_beep() {
        let wav = beeps("two words", 1.0);
        assert_eq!(&wav[..4], b"RIFF");
        // 0.3 s of 16-bit samples per word, after the 44-byte header.
        assert_eq!(wav.len(), 44 + 2 * 4800 * 2);
        assert_eq!(beeps("two words", 2.0).len(), 44 + 2 * 2400 * 2);
    }
}
