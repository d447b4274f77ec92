//! How many bytes a plugin's answer carries, for the output cap.

use super::bindings::backend_types::{
    Pending, SpeechProgress, TranscribeProgress, VideoProgress, Voice,
};
use super::bindings::types::{
    AssetPick, CueStyle, Decision, DirectedScene, LanguagePair, Lut3d, PluginError, ScoreCard,
    Script, TranslatedSegment,
};

/// The size of the variable-length data in a value: string bytes and list
/// elements. Fixed-size fields are not counted; they are bounded by the WIT.
pub(crate) trait Payload {
    fn payload_bytes(&self) -> usize;
}

impl Payload for String {
    fn payload_bytes(&self) -> usize {
        self.len()
    }
}

impl Payload for u32 {
    fn payload_bytes(&self) -> usize {
        0
    }
}

impl<T: Payload> Payload for Vec<T> {
    fn payload_bytes(&self) -> usize {
        self.iter().map(Payload::payload_bytes).sum()
    }
}

impl<T: Payload> Payload for Result<T, PluginError> {
    fn payload_bytes(&self) -> usize {
        match self {
            Ok(value) => value.payload_bytes(),
            Err(
                PluginError::InvalidInput(m)
                | PluginError::Unavailable(m)
                | PluginError::Internal(m),
            ) => m.len(),
            Err(PluginError::RateLimited(limit)) => limit.message.len(),
        }
    }
}

impl Payload for Script {
    fn payload_bytes(&self) -> usize {
        let scenes: usize = self
            .scenes
            .iter()
            .map(|s| s.visual.len() + s.camera.len() + s.narration.len() + s.on_screen_text.len())
            .sum();
        self.variation.len() + self.music.len() + self.visual_style.len() + scenes
    }
}

impl Payload for ScoreCard {
    fn payload_bytes(&self) -> usize {
        self.notes.payload_bytes()
    }
}

impl Payload for DirectedScene {
    fn payload_bytes(&self) -> usize {
        self.styled_prompt.len() + self.grade.look.len() + self.grade.palette.len() * 12
    }
}

impl Payload for LanguagePair {
    fn payload_bytes(&self) -> usize {
        self.source.len() + self.target.len()
    }
}

impl Payload for TranslatedSegment {
    fn payload_bytes(&self) -> usize {
        let s = &self.segment;
        s.id.len() + s.speaker.len() + s.text.len() + self.untranslated.payload_bytes()
    }
}

impl Payload for Lut3d {
    fn payload_bytes(&self) -> usize {
        self.table.len() * 4
    }
}

impl Payload for Decision {
    fn payload_bytes(&self) -> usize {
        match self {
            Decision::RetryAfterMs(_) => 0,
            Decision::SwitchTo(s) | Decision::Degrade(s) | Decision::Fail(s) => s.len(),
        }
    }
}

impl Payload for AssetPick {
    fn payload_bytes(&self) -> usize {
        self.name.len()
    }
}

impl Payload for CueStyle {
    fn payload_bytes(&self) -> usize {
        self.emphasis.len()
    }
}

impl Payload for Voice {
    fn payload_bytes(&self) -> usize {
        self.id.len() + self.name.len() + self.languages.payload_bytes()
    }
}

impl Payload for Pending {
    fn payload_bytes(&self) -> usize {
        self.ticket.len()
    }
}

impl Payload for TranscribeProgress {
    fn payload_bytes(&self) -> usize {
        match self {
            TranscribeProgress::Done(transcript) => {
                transcript.language.len()
                    + transcript
                        .segments
                        .iter()
                        .map(|s| {
                            s.text.len()
                                + s.speaker.as_ref().map_or(0, String::len)
                                + s.words.iter().map(|w| w.text.len() + 8).sum::<usize>()
                        })
                        .sum::<usize>()
            }
            TranscribeProgress::Pending(pending) => pending.payload_bytes(),
        }
    }
}

impl Payload for SpeechProgress {
    fn payload_bytes(&self) -> usize {
        match self {
            SpeechProgress::Done(_) => 0,
            SpeechProgress::Pending(pending) => pending.payload_bytes(),
        }
    }
}

impl Payload for VideoProgress {
    fn payload_bytes(&self) -> usize {
        match self {
            VideoProgress::Done(_) => 0,
            VideoProgress::Pending(pending) => pending.payload_bytes(),
        }
    }
}
