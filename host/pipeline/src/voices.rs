//! A tenant's voices: made from reference recordings by the speech plugin
//! bound to its `speech` slot (voice cloning), kept in the store under the
//! tenant's name for them, and asked for by that name in a dub's `voice`.

use std::path::{Path, PathBuf};

use kino_runtime::{MediaFile, World};
use kino_store::{StoreError, StoredVoice, TenantId};

use crate::exec::Executor;
use crate::ops::plugin_answer;

/// The slot whose plugin speaks lines and makes voices.
pub const SPEECH_SLOT: &str = "speech";

/// The most reference recordings one voice is made from.
pub const MAX_SAMPLES: usize = 25;

/// Why a voice was not made.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// The request is wrong: the name, the number of recordings, a
    /// recording that cannot be read.
    #[error("{0}")]
    Invalid(String),
    /// The tenant already has a voice of that name.
    #[error(transparent)]
    NameTaken(StoreError),
    /// No speech plugin is bound to make it with.
    #[error("no speech plugin is bound to slot `{SPEECH_SLOT}`: bind one to make voices")]
    NoSpeechPlugin,
    /// The speech plugin (or its backend) failed or refused.
    #[error("{plugin}: {message}")]
    Backend {
        /// The plugin, `name@version`.
        plugin: String,
        /// What it said.
        message: String,
    },
    /// The host failed (the store, loading the plugin).
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

impl Executor {
    /// Makes the voice `name` from `samples` (recordings of one speaker)
    /// with the tenant's speech plugin and keeps the backend's id for it.
    /// The name is checked free first, so a taken name costs no backend call.
    pub async fn make_voice(
        &self,
        tenant: &TenantId,
        name: &str,
        samples: &[PathBuf],
    ) -> Result<StoredVoice, VoiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(VoiceError::Invalid(
                "a voice needs a name of printable characters".into(),
            ));
        }
        if samples.is_empty() || samples.len() > MAX_SAMPLES {
            return Err(VoiceError::Invalid(format!(
                "a voice is made from 1 to {MAX_SAMPLES} recordings, not {}",
                samples.len()
            )));
        }
        let store = self.store();
        if store.voice(tenant, name).await?.is_some() {
            return Err(VoiceError::NameTaken(StoreError::VoiceNameTaken {
                name: name.to_owned(),
            }));
        }
        let media = samples
            .iter()
            .enumerate()
            .map(|(i, path)| recording(i, path))
            .collect::<Result<Vec<_>, _>>()?;
        let plugin = self
            .resolver()
            .tenant_slot(tenant, SPEECH_SLOT, World::Speech)
            .await?
            .ok_or(VoiceError::NoSpeechPlugin)?;
        let speech = self
            .resolver()
            .runtime()
            .speech(&plugin.plugin, &plugin.call)
            .map_err(anyhow::Error::from)?;
        let backend = |message: String| VoiceError::Backend {
            plugin: plugin.id.clone(),
            message,
        };
        let voice = plugin_answer(
            &format!("making voice {name:?}"),
            speech.create_voice(name, &media).await,
        )
        .map_err(|e| backend(e.message))?;
        if voice.id.trim().is_empty() {
            return Err(backend("the backend answered an empty voice id".into()));
        }
        let plugin_name = plugin.id.split_once('@').map_or(&*plugin.id, |(n, _)| n);
        store
            .add_voice(tenant, name, plugin_name, &voice.id)
            .await
            .map_err(|e| match e.downcast::<StoreError>() {
                Ok(taken @ StoreError::VoiceNameTaken { .. }) => VoiceError::NameTaken(taken),
                Ok(other) => VoiceError::Host(other.into()),
                Err(e) => VoiceError::Host(e),
            })
    }
}

/// The `i`th recording, lent to the plugin with a media type and a file
/// name it can send on (an upload's file has neither: its type is found
/// by reading it).
fn recording(i: usize, path: &Path) -> Result<MediaFile, VoiceError> {
    let unreadable = |why: String| {
        VoiceError::Invalid(format!("recording {} ({}): {why}", i + 1, path.display()))
    };
    let (content_type, extension) = match audio_type_by_name(path) {
        Some(known) => known,
        None => audio_type_by_content(path).map_err(|e| unreadable(format!("{e:#}")))?,
    };
    let file = MediaFile::new(path, content_type).map_err(|e| unreadable(e.to_string()))?;
    Ok(file.with_file_name(&format!("sample-{}.{extension}", i + 1)))
}

/// A recording's media type and usual extension, by its file name.
fn audio_type_by_name(path: &Path) -> Option<(&'static str, &'static str)> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    audio_type(&extension)
}

/// A recording's media type and usual extension, by what FFmpeg reads in it.
fn audio_type_by_content(path: &Path) -> anyhow::Result<(&'static str, &'static str)> {
    let info = kino_media::probe(path)?;
    if info.audio().is_none() {
        anyhow::bail!("it has no audio");
    }
    // FFmpeg names demuxers by lists (`mov,mp4,m4a,3gp,3g2,mj2`).
    Ok(info
        .format
        .split(',')
        .find_map(audio_type)
        .unwrap_or(("application/octet-stream", "bin")))
}

fn audio_type(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "mp3" => ("audio/mpeg", "mp3"),
        "wav" => ("audio/wav", "wav"),
        "flac" => ("audio/flac", "flac"),
        "ogg" | "opus" => ("audio/ogg", "ogg"),
        "m4a" | "mp4" | "mov" => ("audio/mp4", "m4a"),
        "webm" | "matroska" => ("audio/webm", "webm"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_typed_by_extension() {
        assert_eq!(
            audio_type_by_name("a/b.MP3".as_ref()),
            Some(("audio/mpeg", "mp3"))
        );
        assert_eq!(
            audio_type_by_name("take.wav".as_ref()),
            Some(("audio/wav", "wav"))
        );
        assert_eq!(audio_type_by_name("9f86d081884c7d65".as_ref()), None);
    }
}
