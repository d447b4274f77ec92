//! The Kino plugin SDK: write a pipeline stage in Rust, build it with
//! `cargo build --target wasm32-wasip2`, and Kino's host runs it sandboxed.
//!
//! A plugin implements one world of the `kino:stage@0.1.0` WIT package. For
//! each world this crate has a trait ([`ScriptStrategy`], [`DirectorStyle`],
//! [`Translator`], [`Grader`], [`FallbackPolicy`], [`CaptionStyle`]) and a
//! macro that exports an implementation as the component's entry points.
//! Script strategies and director styles may also take the brief's assets
//! into account: implement [`AssetScripts`] or [`AssetPicker`] too and
//! export with [`export_script_strategy_with_assets!`] or
//! [`export_director_style_with_assets!`]. The WIT types are re-exported at
//! the crate root with a few helpers; [`log`] and [`config`] reach the host.
//!
//! ```
//! use kino_plugin_sdk::{
//!     Brief, CameraMove, DirectedScene, DirectorStyle, GradeIntent, PluginError, Scene,
//!     ShotSize, Transition,
//! };
//!
//! struct Calm;
//!
//! impl DirectorStyle for Calm {
//!     fn direct(scene: Scene, brief: Brief) -> Result<DirectedScene, PluginError> {
//!         if scene.visual.is_empty() {
//!             return Err(PluginError::invalid_input("scene has no visual description"));
//!         }
//!         kino_plugin_sdk::log::info(&format!("directing scene {}", scene.index));
//!         Ok(DirectedScene {
//!             scene_index: scene.index,
//!             styled_prompt: format!("{}, calm and {}", scene.visual, brief.tone),
//!             camera_move: CameraMove::Locked,
//!             shot_size: ShotSize::Wide,
//!             pacing: 0.9,
//!             transition: Transition::Crossfade,
//!             transition_ms: 500,
//!             grade: GradeIntent::neutral(),
//!         })
//!     }
//! }
//!
//! kino_plugin_sdk::export_director_style!(Calm);
//! # fn main() {}
//! ```
//!
//! The plugin crate is a `cdylib` whose only dependency is this crate.
//! The SDK is not on crates.io: `kino plugin new` writes a project with a
//! copy of it (WIT included) under `vendor/`, so it builds anywhere:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! kino-plugin-sdk = { path = "vendor/kino-plugin-sdk" }
//! ```
//!
//! A plugin's own `cargo test` runs natively: there [`log`] writes to stderr
//! and [`config`] answers what [`testing::set_config`] set, so the plugin's
//! functions can be called directly.

#![deny(missing_docs)]

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// The bindings of the host interface and the shared types, generated once here
/// and reused by every world a plugin crate generates.
#[allow(missing_docs, clippy::all)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub use bindings::kino::stage::{host, types};
pub use types::*;
#[cfg(not(feature = "stage-0-1"))]
pub use {
    backend_types::{
        ClipRequest, Pending, SpeechAudio, SpeechProgress, SpeechRequest, TranscribeProgress,
        TranscribeRequest, Transcript, TranscriptSegment, VideoInfo, VideoProgress, Voice,
    },
    bindings::kino::stage::{backend_types, media},
    media::{MediaIn, MediaOut},
};

#[doc(hidden)]
#[cfg(not(feature = "stage-0-1"))]
pub use wasip2 as __wasip2;

include!(concat!(env!("OUT_DIR"), "/generate_world.rs"));

#[cfg(not(feature = "stage-0-1"))]
mod backends;
#[cfg(not(feature = "stage-0-1"))]
pub use backends::{ClipGenerator, Lipsync, Speech, Transcriber};
mod helpers;
#[cfg(not(feature = "stage-0-1"))]
pub mod http;
pub mod log;
pub mod testing;

/// Looks up this plugin's configuration value `key` for the calling tenant.
///
/// Returns `None` when the tenant did not set it and the manifest gives no
/// default. Natively (a plugin's `cargo test`), answers what
/// [`testing::set_config`] set.
pub fn config(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        host::config(key)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        testing::config(key)
    }
}

/// Looks up `key` and parses it, or returns `default` when it is unset.
///
/// A value that does not parse is the tenant's mistake, reported as
/// [`PluginError::InvalidInput`] naming the key and the value.
pub fn config_parsed<T: std::str::FromStr>(key: &str, default: T) -> Result<T, PluginError> {
    match config(key) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| {
            PluginError::invalid_input(format!("config `{key}` has an unusable value `{raw}`"))
        }),
    }
}

/// A `script-strategy` plugin: writes script variations for a brief and scores them.
pub trait ScriptStrategy {
    /// Writes `count` variations of a script for `brief`, best first; their
    /// scene timing marks must add up to the brief's target length.
    fn generate(brief: Brief, count: u32) -> Result<Vec<Script>, PluginError>;
    /// Scores how well `script` serves `brief`.
    fn score(brief: Brief, script: Script) -> Result<ScoreCard, PluginError>;
}

/// A `director-style` plugin: directs one scene in a named style.
pub trait DirectorStyle {
    /// Directs `scene` of a script written for `brief`.
    fn direct(scene: Scene, brief: Brief) -> Result<DirectedScene, PluginError>;
}

/// The optional `asset-scripts` capability of a script strategy: writing
/// with the brief's assets in view. Export it with
/// [`export_script_strategy_with_assets!`]; the host calls
/// `generate_with_assets` instead of `generate` when a brief has assets.
pub trait AssetScripts: ScriptStrategy {
    /// Writes `count` variations for `brief` as [`ScriptStrategy::generate`]
    /// does, with `assets` (the brief's, never empty) to draw on.
    fn generate_with_assets(
        brief: Brief,
        assets: Vec<Asset>,
        count: u32,
    ) -> Result<Vec<Script>, PluginError>;
}

/// The optional `asset-picker` capability of a director style: choosing
/// each scene's assets. Export it with [`export_director_style_with_assets!`];
/// the host asks it for every scene when a brief has assets.
pub trait AssetPicker: DirectorStyle {
    /// The assets `scene` shows, in order: at most 3, each an `image` or
    /// `footage` asset of `assets` (the brief's, never empty); an empty list
    /// leaves the scene to the host.
    fn pick_assets(
        scene: Scene,
        brief: Brief,
        assets: Vec<Asset>,
    ) -> Result<Vec<AssetPick>, PluginError>;
}

/// A `translator` plugin: translates transcript segments.
pub trait Translator {
    /// The language pairs this translator handles.
    fn supported_pairs() -> Vec<LanguagePair>;
    /// The most segments one `translate` call accepts.
    fn max_batch_size() -> u32;
    /// Translates `segments` from `source` to `target`: one output per input,
    /// in order, with ids and timings unchanged.
    fn translate(
        source: String,
        target: String,
        segments: Vec<Segment>,
    ) -> Result<Vec<TranslatedSegment>, PluginError>;
}

/// A `grader` plugin: turns frame statistics and a grade intent into a 3D LUT.
pub trait Grader {
    /// Computes a LUT that gives frames with `stats` the look `intent` asks for.
    fn grade(stats: FrameStats, intent: GradeIntent) -> Result<Lut3d, PluginError>;
}

/// A `fallback-policy` plugin: decides what happens after a stage fails.
pub trait FallbackPolicy {
    /// Decides what to do about `failure`.
    fn decide(failure: Failure) -> Decision;
}

/// A `caption-style` plugin: styles dynamic, word-by-word captions.
pub trait CaptionStyle {
    /// Styles `cues` for a piece of `brand`: exactly one style per cue, in
    /// order, with the cue's index and one emphasis flag per word.
    fn style_cues(cues: Vec<WordCue>, brand: BrandLook) -> Result<Vec<CueStyle>, PluginError>;
}

/// Exports a [`ScriptStrategy`] implementation as this component's `script-strategy` world.
#[macro_export]
macro_rules! export_script_strategy {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_script_strategy {
            use super::*;
            $crate::__generate_world!("script-strategy");
            impl Guest for $plugin {
                fn generate(
                    brief: $crate::Brief,
                    count: u32,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Script>, $crate::PluginError>
                {
                    <$plugin as $crate::ScriptStrategy>::generate(brief, count)
                }
                fn score(
                    brief: $crate::Brief,
                    script: $crate::Script,
                ) -> ::core::result::Result<$crate::ScoreCard, $crate::PluginError> {
                    <$plugin as $crate::ScriptStrategy>::score(brief, script)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`DirectorStyle`] implementation as this component's `director-style` world.
#[macro_export]
macro_rules! export_director_style {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_director_style {
            use super::*;
            $crate::__generate_world!("director-style");
            impl Guest for $plugin {
                fn direct(
                    scene: $crate::Scene,
                    brief: $crate::Brief,
                ) -> ::core::result::Result<$crate::DirectedScene, $crate::PluginError> {
                    <$plugin as $crate::DirectorStyle>::direct(scene, brief)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`ScriptStrategy`] that is also [`AssetScripts`]: the
/// `script-strategy` world plus the `asset-scripts` interface (the WIT's
/// `script-strategy-with-assets`). The manifest still declares
/// `kino:stage/script-strategy@0.1.0`.
#[macro_export]
macro_rules! export_script_strategy_with_assets {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_script_strategy {
            use super::*;
            $crate::__generate_world!("script-strategy-with-assets");
            impl Guest for $plugin {
                fn generate(
                    brief: $crate::Brief,
                    count: u32,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Script>, $crate::PluginError>
                {
                    <$plugin as $crate::ScriptStrategy>::generate(brief, count)
                }
                fn score(
                    brief: $crate::Brief,
                    script: $crate::Script,
                ) -> ::core::result::Result<$crate::ScoreCard, $crate::PluginError> {
                    <$plugin as $crate::ScriptStrategy>::score(brief, script)
                }
            }
            impl exports::kino::stage::asset_scripts::Guest for $plugin {
                fn generate_with_assets(
                    brief: $crate::Brief,
                    assets: ::std::vec::Vec<$crate::Asset>,
                    count: u32,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Script>, $crate::PluginError>
                {
                    <$plugin as $crate::AssetScripts>::generate_with_assets(brief, assets, count)
                }
            }
            // An interface's exports are named `kino:stage/...#function`,
            // which a native cdylib's linker refuses; natively (a plugin's
            // own tests) nothing calls them anyway.
            #[cfg(target_arch = "wasm32")]
            export!($plugin);
        }
    };
}

/// Exports a [`DirectorStyle`] that is also an [`AssetPicker`]: the
/// `director-style` world plus the `asset-picker` interface (the WIT's
/// `director-style-with-assets`). The manifest still declares
/// `kino:stage/director-style@0.1.0`.
#[macro_export]
macro_rules! export_director_style_with_assets {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_director_style {
            use super::*;
            $crate::__generate_world!("director-style-with-assets");
            impl Guest for $plugin {
                fn direct(
                    scene: $crate::Scene,
                    brief: $crate::Brief,
                ) -> ::core::result::Result<$crate::DirectedScene, $crate::PluginError> {
                    <$plugin as $crate::DirectorStyle>::direct(scene, brief)
                }
            }
            impl exports::kino::stage::asset_picker::Guest for $plugin {
                fn pick_assets(
                    scene: $crate::Scene,
                    brief: $crate::Brief,
                    assets: ::std::vec::Vec<$crate::Asset>,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::AssetPick>, $crate::PluginError>
                {
                    <$plugin as $crate::AssetPicker>::pick_assets(scene, brief, assets)
                }
            }
            // Natively, see `export_script_strategy_with_assets!`.
            #[cfg(target_arch = "wasm32")]
            export!($plugin);
        }
    };
}

/// Exports a [`Translator`] implementation as this component's `translator` world.
#[macro_export]
macro_rules! export_translator {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_translator {
            use super::*;
            $crate::__generate_world!("translator");
            impl Guest for $plugin {
                fn supported_pairs() -> ::std::vec::Vec<$crate::LanguagePair> {
                    <$plugin as $crate::Translator>::supported_pairs()
                }
                fn max_batch_size() -> u32 {
                    <$plugin as $crate::Translator>::max_batch_size()
                }
                fn translate(
                    source: ::std::string::String,
                    target: ::std::string::String,
                    segments: ::std::vec::Vec<$crate::Segment>,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::TranslatedSegment>,
                    $crate::PluginError,
                > {
                    <$plugin as $crate::Translator>::translate(source, target, segments)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`Grader`] implementation as this component's `grader` world.
#[macro_export]
macro_rules! export_grader {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_grader {
            use super::*;
            $crate::__generate_world!("grader");
            impl Guest for $plugin {
                fn grade(
                    stats: $crate::FrameStats,
                    intent: $crate::GradeIntent,
                ) -> ::core::result::Result<$crate::Lut3d, $crate::PluginError> {
                    <$plugin as $crate::Grader>::grade(stats, intent)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`FallbackPolicy`] implementation as this component's `fallback-policy` world.
#[macro_export]
macro_rules! export_fallback_policy {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_fallback_policy {
            use super::*;
            $crate::__generate_world!("fallback-policy");
            impl Guest for $plugin {
                fn decide(failure: $crate::Failure) -> $crate::Decision {
                    <$plugin as $crate::FallbackPolicy>::decide(failure)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`CaptionStyle`] implementation as this component's `caption-style` world.
#[macro_export]
macro_rules! export_caption_style {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_caption_style {
            use super::*;
            $crate::__generate_world!("caption-style");
            impl Guest for $plugin {
                fn style_cues(
                    cues: ::std::vec::Vec<$crate::WordCue>,
                    brand: $crate::BrandLook,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::CueStyle>, $crate::PluginError>
                {
                    <$plugin as $crate::CaptionStyle>::style_cues(cues, brand)
                }
            }
            export!($plugin);
        }
    };
}
