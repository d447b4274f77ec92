//! What a brief's tone implies for the opener, the music and the look.

use crate::text;

/// The creative defaults for one family of tones.
#[derive(Debug)]
pub(crate) struct ToneProfile {
    /// Tone words that select this profile.
    keywords: &'static [&'static str],
    /// How the hook opens ("Stop scrolling").
    pub opener: &'static str,
    /// The music bed, in words.
    pub music: &'static str,
    /// The tempo of the music bed; music videos cut on its beat.
    pub bpm: u32,
    /// The look of the piece, in words.
    pub look: &'static str,
}

impl ToneProfile {
    /// The length of one beat of the music bed, in milliseconds.
    pub fn beat_ms(&self) -> u32 {
        60_000 / self.bpm.max(1)
    }
}

/// The profiles, tried in order; the first whose keyword appears in the tone wins.
static PROFILES: [ToneProfile; 5] = [
    ToneProfile {
        keywords: &[
            "warm",
            "friendly",
            "cozy",
            "cosy",
            "heartfelt",
            "caring",
            "honest",
        ],
        opener: "Here's something good",
        music: "warm acoustic guitar with light hand percussion",
        bpm: 96,
        look: "soft natural light, warm golden tones, lived-in real locations",
    },
    ToneProfile {
        keywords: &[
            "playful", "fun", "quirky", "cheeky", "witty", "funny", "light",
        ],
        opener: "Okay, quick one",
        music: "bouncy ukulele, hand claps and whistles",
        bpm: 118,
        look: "bright saturated colours, playful props, snappy framing",
    },
    ToneProfile {
        keywords: &[
            "premium",
            "luxury",
            "luxurious",
            "elegant",
            "sophisticated",
            "refined",
        ],
        opener: "Some things deserve better",
        music: "minimal piano over soft strings",
        bpm: 80,
        look: "controlled low-key lighting, rich blacks, slow precise camera moves",
    },
    ToneProfile {
        keywords: &[
            "energetic",
            "bold",
            "sporty",
            "dynamic",
            "exciting",
            "edgy",
            "urgent",
        ],
        opener: "Stop scrolling",
        music: "driving electronic beat with big drops",
        bpm: 128,
        look: "high-energy motion, punchy contrast, quick cuts",
    },
    ToneProfile {
        keywords: &["calm", "serene", "mindful", "relaxed", "gentle", "soothing"],
        opener: "Take a breath",
        music: "airy ambient pads and soft piano",
        bpm: 70,
        look: "calm soft light, open negative space, gentle motion",
    },
];

/// The profile for tones that match none of the others.
static DEFAULT: ToneProfile = ToneProfile {
    keywords: &[],
    opener: "Listen up",
    music: "light modern pop bed",
    bpm: 104,
    look: "clean contemporary look, natural light, crisp product shots",
};

/// The profile that fits `tone` ("warm and witty" picks the warm one).
pub(crate) fn profile(tone: &str) -> &'static ToneProfile {
    let words = text::words(tone);
    PROFILES
        .iter()
        .find(|profile| {
            profile
                .keywords
                .iter()
                .any(|keyword| words.iter().any(|word| word == keyword))
        })
        .unwrap_or(&DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tones_pick_their_profile() {
        assert_eq!(profile("Warm, honest").bpm, 96);
        assert_eq!(profile("bold").opener, "Stop scrolling");
        assert_eq!(profile("").opener, DEFAULT.opener);
        assert_eq!(profile("premium").beat_ms(), 750);
    }
}
