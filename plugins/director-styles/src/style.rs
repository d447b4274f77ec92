//! The named styles: how each one frames, moves, paces, cuts and grades.

use kino_plugin_sdk::{CameraMove, GradeIntent, Rgb, ShotSize, Transition};

/// Which style a [`Style`] is; used where wording depends on the style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleId {
    /// Centred, symmetrical, pastel, calm.
    SymmetricPastel,
    /// Hard shadows, near-monochrome, tense.
    NoirHighContrast,
    /// Sweeping, teal shadows and orange highlights, fast.
    TealOrangeEpic,
}

/// How a scene is framed: the camera move and the shot size together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// How the camera moves.
    pub camera: CameraMove,
    /// How much of the subject the frame shows.
    pub shot: ShotSize,
}

/// A named director style. Every field is fixed per style so a style always
/// directs the same scene the same way.
#[derive(Debug, PartialEq)]
pub struct Style {
    /// Which style this is.
    pub id: StyleId,
    /// The style's config name, also the grade's `look`.
    pub name: &'static str,
    /// The style's visual language, appended to every prompt.
    pub language: &'static str,
    /// Playback pacing: below 1 calmer, above 1 faster.
    pub pacing: f32,
    /// How every scene hands over to the next.
    pub transition: Transition,
    /// How long that transition lasts, in milliseconds.
    pub transition_ms: u32,
    /// Footage playback speed at a scene's start and end (1.0 normal): the
    /// same for a steady style, a ramp for an energetic one.
    pub footage_speed: (f32, f32),
    /// Colour temperature shift, -1 (cool) ..= 1 (warm).
    pub warmth: f32,
    /// Contrast change, -1 (flat) ..= 1 (punchy).
    pub contrast: f32,
    /// Saturation change, -1 (monochrome) ..= 1 (vivid).
    pub saturation: f32,
    /// The colours the grade pulls toward, unless the tenant overrides them.
    pub palette: &'static [Rgb],
    /// How strongly the grade pulls toward the palette.
    pub palette_strength: f32,
    /// The opening scene: the establishing shot.
    pub opening: Framing,
    /// A scene that features the product (on-screen text or the brand named).
    pub product: Framing,
    /// Other scenes at an even index.
    pub even: Framing,
    /// Other scenes at an odd index; alternating keeps coverage varied.
    pub odd: Framing,
}

impl Style {
    /// The grade intent of this style, pulling toward `palette` when given
    /// (the tenant's brand colours) and toward the style's own otherwise.
    pub fn grade(&self, palette: Option<&[Rgb]>) -> GradeIntent {
        GradeIntent {
            warmth: self.warmth,
            contrast: self.contrast,
            saturation: self.saturation,
            palette: palette.unwrap_or(self.palette).to_vec(),
            palette_strength: self.palette_strength,
            look: self.name.to_owned(),
        }
    }
}

/// A colour from its `0xRRGGBB` value, so the palettes read like a style guide.
const fn hex(rgb: u32) -> Rgb {
    Rgb::new(
        ((rgb >> 16) & 0xff) as f32 / 255.0,
        ((rgb >> 8) & 0xff) as f32 / 255.0,
        (rgb & 0xff) as f32 / 255.0,
    )
}

const fn framing(camera: CameraMove, shot: ShotSize) -> Framing {
    Framing { camera, shot }
}

/// Every style, the default first.
///
/// The framings are chosen so that, for any scene, the three styles differ
/// in both camera move and shot size: picking a style must visibly matter.
pub static STYLES: [Style; 3] = [
    Style {
        id: StyleId::SymmetricPastel,
        name: "symmetric-pastel",
        language: "perfectly centred symmetrical composition, one-point perspective, soft pastel palette, \
                   even diffused light, meticulous dollhouse production design",
        pacing: 0.85,
        transition: Transition::Crossfade,
        transition_ms: 600,
        footage_speed: (0.85, 0.85),
        warmth: 0.2,
        contrast: -0.25,
        saturation: -0.15,
        palette: &[hex(0xF4C2C2), hex(0xBDE0C6), hex(0xFFF1B5), hex(0xB8D8E8)],
        palette_strength: 0.35,
        opening: framing(CameraMove::Locked, ShotSize::Wide),
        product: framing(CameraMove::Locked, ShotSize::Medium),
        even: framing(CameraMove::Locked, ShotSize::Wide),
        odd: framing(CameraMove::PushIn, ShotSize::Medium),
    },
    Style {
        id: StyleId::NoirHighContrast,
        name: "noir-high-contrast",
        language: "film noir: hard low-key light, deep hard-edged shadows, venetian-blind light streaks, \
                   dutch angle, near-monochrome high-contrast image, drifting haze",
        pacing: 0.95,
        transition: Transition::DipToBlack,
        transition_ms: 700,
        footage_speed: (0.9, 0.9),
        warmth: -0.25,
        contrast: 0.75,
        saturation: -0.85,
        palette: &[hex(0x0D0D12), hex(0x3A4350), hex(0xE6E6E6)],
        palette_strength: 0.15,
        opening: framing(CameraMove::PushIn, ShotSize::Medium),
        product: framing(CameraMove::PushIn, ShotSize::ExtremeCloseUp),
        even: framing(CameraMove::PushIn, ShotSize::CloseUp),
        odd: framing(CameraMove::Handheld, ShotSize::CloseUp),
    },
    Style {
        id: StyleId::TealOrangeEpic,
        name: "teal-orange-epic",
        language: "epic blockbuster scale, sweeping vistas, teal shadows against orange highlights, \
                   golden-hour backlight, anamorphic lens flares",
        pacing: 1.2,
        transition: Transition::WhipPan,
        transition_ms: 250,
        // In fast, landing in slow motion: the blockbuster speed ramp.
        footage_speed: (1.6, 0.7),
        warmth: 0.1,
        contrast: 0.35,
        saturation: 0.3,
        palette: &[hex(0x0F7C80), hex(0xF28C28), hex(0x123A4A)],
        palette_strength: 0.55,
        opening: framing(CameraMove::PullOut, ShotSize::ExtremeWide),
        product: framing(CameraMove::Orbit, ShotSize::CloseUp),
        even: framing(CameraMove::Orbit, ShotSize::ExtremeWide),
        odd: framing(CameraMove::PullOut, ShotSize::Wide),
    },
];

/// The style used when the tenant sets none.
pub const DEFAULT_STYLE: &str = "symmetric-pastel";

/// The camera move in this style's words: the same move reads differently
/// in a dollhouse, a crime scene and a blockbuster.
pub fn camera_words(style: StyleId, camera: CameraMove) -> &'static str {
    use CameraMove as M;
    use StyleId as S;
    match (style, camera) {
        (S::SymmetricPastel, M::Locked) => "locked-off camera dead centre",
        (S::SymmetricPastel, M::PushIn) => "slow, perfectly straight push-in",
        (S::NoirHighContrast, M::PushIn) => "slow creeping push-in",
        (S::NoirHighContrast, M::Handheld) => "restless handheld camera",
        (S::TealOrangeEpic, M::Orbit) => "sweeping orbit around the subject",
        (S::TealOrangeEpic, M::PullOut) => "soaring pull-out that reveals the scale",
        (_, M::Locked) => "locked-off camera",
        (_, M::PushIn) => "push-in",
        (_, M::PullOut) => "pull-out",
        (_, M::PanLeft) => "pan left",
        (_, M::PanRight) => "pan right",
        (_, M::TiltUp) => "tilt up",
        (_, M::Handheld) => "handheld camera",
        (_, M::Orbit) => "orbit around the subject",
    }
}

/// The shot size in a cinematographer's words.
pub fn shot_words(shot: ShotSize) -> &'static str {
    match shot {
        ShotSize::ExtremeWide => "extreme wide shot",
        ShotSize::Wide => "wide shot",
        ShotSize::Medium => "medium shot",
        ShotSize::CloseUp => "close-up",
        ShotSize::ExtremeCloseUp => "extreme close-up",
    }
}
