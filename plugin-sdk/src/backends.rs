//! The backend worlds of `kino:stage@0.2.0`: a trait per world and its
//! export macro. Media comes as [`MediaIn`] handles and goes out through a
//! [`MediaOut`]; see [`crate::media`] for how to stream them.

use crate::{
    ClipRequest, MediaIn, MediaOut, PluginError, SpeechProgress, SpeechRequest, TranscribeProgress,
    TranscribeRequest, VideoProgress, Voice,
};

/// A `transcriber` plugin: audio in, timed segments and words out.
///
/// Both functions answer `done` with the transcript or `pending` with a
/// ticket; the host keeps the ticket and calls [`Transcriber::check`] later,
/// after a restart too.
pub trait Transcriber {
    /// Transcribes `audio`. `key` names the work: send it as the backend's
    /// idempotency key where it takes one.
    fn submit(
        audio: &MediaIn,
        request: TranscribeRequest,
        key: String,
    ) -> Result<TranscribeProgress, PluginError>;
    /// Asks after the pending transcription `ticket`.
    fn check(ticket: String) -> Result<TranscribeProgress, PluginError>;
}

/// A `speech` plugin: text in, audio out, in the backend's voices.
pub trait Speech {
    /// The voices on offer, cloned ones included.
    fn voices() -> Result<Vec<Voice>, PluginError>;
    /// Speaks `request` into `out` (`done`), or starts a remote job (`pending`).
    fn synthesize(
        request: SpeechRequest,
        out: &MediaOut,
        key: String,
    ) -> Result<SpeechProgress, PluginError>;
    /// Asks after the pending synthesis `ticket`; writes to `out` once done.
    fn check(ticket: String, out: &MediaOut) -> Result<SpeechProgress, PluginError>;
    /// Makes a voice from `samples` of one speaker; answer
    /// [`PluginError::invalid_input`] if the backend cannot clone.
    fn create_voice(name: String, samples: Vec<MediaIn>) -> Result<Voice, PluginError>;
}

/// A `clip-generator` plugin: a scene prompt in, a video clip out.
pub trait ClipGenerator {
    /// Generates the clip `request` describes into `out`, guided by `references`.
    fn submit(
        request: ClipRequest,
        references: Vec<MediaIn>,
        out: &MediaOut,
        key: String,
    ) -> Result<VideoProgress, PluginError>;
    /// Asks after the pending clip `ticket`; writes it to `out` once done.
    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError>;
}

/// A `lipsync` plugin: a video and speech in, the video lip-synced out.
pub trait Lipsync {
    /// Syncs the speaker in `video` to `audio`, into `out`.
    fn submit(
        video: &MediaIn,
        audio: &MediaIn,
        out: &MediaOut,
        key: String,
    ) -> Result<VideoProgress, PluginError>;
    /// Asks after the pending sync `ticket`; writes the video to `out` once done.
    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError>;
}

/// Exports a [`Transcriber`] implementation as this component's `transcriber` world.
#[macro_export]
macro_rules! export_transcriber {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_transcriber {
            use super::*;
            $crate::__generate_world!("transcriber");
            impl Guest for $plugin {
                fn submit(
                    audio: &$crate::MediaIn,
                    request: $crate::TranscribeRequest,
                    key: ::std::string::String,
                ) -> ::core::result::Result<$crate::TranscribeProgress, $crate::PluginError>
                {
                    <$plugin as $crate::Transcriber>::submit(audio, request, key)
                }
                fn check(
                    ticket: ::std::string::String,
                ) -> ::core::result::Result<$crate::TranscribeProgress, $crate::PluginError>
                {
                    <$plugin as $crate::Transcriber>::check(ticket)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`Speech`] implementation as this component's `speech` world.
#[macro_export]
macro_rules! export_speech {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_speech {
            use super::*;
            $crate::__generate_world!("speech");
            impl Guest for $plugin {
                fn voices()
                -> ::core::result::Result<::std::vec::Vec<$crate::Voice>, $crate::PluginError>
                {
                    <$plugin as $crate::Speech>::voices()
                }
                fn synthesize(
                    request: $crate::SpeechRequest,
                    out: &$crate::MediaOut,
                    key: ::std::string::String,
                ) -> ::core::result::Result<$crate::SpeechProgress, $crate::PluginError> {
                    <$plugin as $crate::Speech>::synthesize(request, out, key)
                }
                fn check(
                    ticket: ::std::string::String,
                    out: &$crate::MediaOut,
                ) -> ::core::result::Result<$crate::SpeechProgress, $crate::PluginError> {
                    <$plugin as $crate::Speech>::check(ticket, out)
                }
                fn create_voice(
                    name: ::std::string::String,
                    samples: ::std::vec::Vec<$crate::MediaIn>,
                ) -> ::core::result::Result<$crate::Voice, $crate::PluginError> {
                    <$plugin as $crate::Speech>::create_voice(name, samples)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`ClipGenerator`] implementation as this component's `clip-generator` world.
#[macro_export]
macro_rules! export_clip_generator {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_clip_generator {
            use super::*;
            $crate::__generate_world!("clip-generator");
            impl Guest for $plugin {
                fn submit(
                    request: $crate::ClipRequest,
                    references: ::std::vec::Vec<$crate::MediaIn>,
                    out: &$crate::MediaOut,
                    key: ::std::string::String,
                ) -> ::core::result::Result<$crate::VideoProgress, $crate::PluginError> {
                    <$plugin as $crate::ClipGenerator>::submit(request, references, out, key)
                }
                fn check(
                    ticket: ::std::string::String,
                    out: &$crate::MediaOut,
                ) -> ::core::result::Result<$crate::VideoProgress, $crate::PluginError> {
                    <$plugin as $crate::ClipGenerator>::check(ticket, out)
                }
            }
            export!($plugin);
        }
    };
}

/// Exports a [`Lipsync`] implementation as this component's `lipsync` world.
#[macro_export]
macro_rules! export_lipsync {
    ($plugin:ident) => {
        #[doc(hidden)]
        #[allow(clippy::all)]
        mod __kino_lipsync {
            use super::*;
            $crate::__generate_world!("lipsync");
            impl Guest for $plugin {
                fn submit(
                    video: &$crate::MediaIn,
                    audio: &$crate::MediaIn,
                    out: &$crate::MediaOut,
                    key: ::std::string::String,
                ) -> ::core::result::Result<$crate::VideoProgress, $crate::PluginError> {
                    <$plugin as $crate::Lipsync>::submit(video, audio, out, key)
                }
                fn check(
                    ticket: ::std::string::String,
                    out: &$crate::MediaOut,
                ) -> ::core::result::Result<$crate::VideoProgress, $crate::PluginError> {
                    <$plugin as $crate::Lipsync>::check(ticket, out)
                }
            }
            export!($plugin);
        }
    };
}
