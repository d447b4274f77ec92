//! The worlds of the `kino:stage` package a plugin can implement.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// The WIT package every plugin world belongs to.
pub const PACKAGE: &str = "kino:stage";

/// One world of the `kino:stage` package; the host's runtime uses this type too
/// (it maps each world to its bindings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum World {
    /// `script-strategy`: writes and scores scripts.
    ScriptStrategy,
    /// `director-style`: directs scenes.
    DirectorStyle,
    /// `translator`: translates segments.
    Translator,
    /// `grader`: turns frame statistics and a grade intent into a LUT.
    Grader,
    /// `fallback-policy`: decides what happens after a failure.
    FallbackPolicy,
    /// `caption-style`: styles word-by-word captions.
    CaptionStyle,
    /// `transcriber`: audio in, timed segments and words out (since 0.2.0).
    Transcriber,
    /// `speech`: text in, audio out; voices, and voice cloning (since 0.2.0).
    Speech,
    /// `clip-generator`: a scene prompt in, a video clip out (since 0.2.0).
    ClipGenerator,
    /// `lipsync`: a video and speech in, the video lip-synced out (since 0.2.0).
    Lipsync,
}

impl World {
    /// Every world, in WIT order.
    pub const ALL: [World; 10] = [
        World::ScriptStrategy,
        World::DirectorStyle,
        World::Translator,
        World::Grader,
        World::FallbackPolicy,
        World::CaptionStyle,
        World::Transcriber,
        World::Speech,
        World::ClipGenerator,
        World::Lipsync,
    ];

    /// The world's WIT name, such as `director-style`.
    pub fn name(self) -> &'static str {
        match self {
            World::ScriptStrategy => "script-strategy",
            World::DirectorStyle => "director-style",
            World::Translator => "translator",
            World::Grader => "grader",
            World::FallbackPolicy => "fallback-policy",
            World::CaptionStyle => "caption-style",
            World::Transcriber => "transcriber",
            World::Speech => "speech",
            World::ClipGenerator => "clip-generator",
            World::Lipsync => "lipsync",
        }
    }

    /// The `kino:stage` version that introduced the world: a plugin must
    /// target that version or a later one.
    pub fn since(self) -> semver::Version {
        match self {
            World::ScriptStrategy
            | World::DirectorStyle
            | World::Translator
            | World::Grader
            | World::FallbackPolicy
            | World::CaptionStyle => semver::Version::new(0, 1, 0),
            World::Transcriber | World::Speech | World::ClipGenerator | World::Lipsync => {
                semver::Version::new(0, 2, 0)
            }
        }
    }

    /// Whether the world moves media (`kino:stage/media`) and answers in
    /// the submit/poll shape of remote jobs.
    pub fn is_backend(self) -> bool {
        matches!(
            self,
            World::Transcriber | World::Speech | World::ClipGenerator | World::Lipsync
        )
    }

    /// Every world's name, comma-separated, for messages.
    fn names() -> String {
        World::ALL.map(World::name).join(", ")
    }
}

impl FromStr for World {
    type Err = RegistryError;

    /// Parses a bare world name such as `director-style`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        World::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| RegistryError::InvalidWorld {
                world: s.to_owned(),
                reason: format!("unknown world: expected one of {}", World::names()),
            })
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fully qualified world such as `kino:stage/director-style@0.1.0`.
///
/// The package must be `kino:stage` and the world one of [`World::ALL`]; the
/// package version is only parsed: the host decides which versions it can run.
///
/// ```
/// # use kino_registry::{World, WorldRef};
/// let w: WorldRef = "kino:stage/grader@0.1.0".parse()?;
/// assert_eq!(w.world, World::Grader);
/// assert_eq!(w.version, semver::Version::new(0, 1, 0));
/// # Ok::<(), kino_registry::RegistryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorldRef {
    /// The world.
    pub world: World,
    /// The `kino:stage` package version the plugin was built against.
    pub version: semver::Version,
}

impl FromStr for WorldRef {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| RegistryError::InvalidWorld {
            world: s.to_owned(),
            reason,
        };
        let (path, version) = s.split_once('@').ok_or_else(|| {
            err(format!(
                "expected {PACKAGE}/WORLD@VERSION, such as {PACKAGE}/director-style@0.1.0"
            ))
        })?;
        let (package, name) = path
            .split_once('/')
            .ok_or_else(|| err(format!("expected {PACKAGE}/WORLD@VERSION")))?;
        if package != PACKAGE {
            return Err(err(format!(
                "package `{package}` is not {PACKAGE}: plugins implement worlds of {PACKAGE}"
            )));
        }
        let world = name.parse::<World>().map_err(|_| {
            err(format!(
                "unknown world `{name}`: expected one of {}",
                World::names()
            ))
        })?;
        let version = semver::Version::parse(version)
            .map_err(|e| err(format!("bad package version `{version}`: {e}")))?;
        Ok(WorldRef { world, version })
    }
}

impl TryFrom<String> for WorldRef {
    type Error = RegistryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WorldRef> for String {
    fn from(w: WorldRef) -> String {
        w.to_string()
    }
}

impl fmt::Display for WorldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PACKAGE}/{}@{}", self.world, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        for w in World::ALL {
            let text = format!("kino:stage/{w}@0.1.0");
            let r: WorldRef = text.parse().expect("valid");
            assert_eq!(r.world, w);
            assert_eq!(r.to_string(), text);
        }
        for bad in [
            "kino:stage/director-style",
            "kino:other/grader@0.1.0",
            "kino:stage/painter@0.1.0",
            // An optional capability's world is not a world plugins declare.
            "kino:stage/director-style-with-assets@0.1.0",
            "kino:stage/grader@1",
            "grader",
        ] {
            assert!(bad.parse::<WorldRef>().is_err(), "{bad}");
        }
    }
}
