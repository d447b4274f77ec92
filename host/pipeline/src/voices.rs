//! A tenant's voices: made from reference recordings by the speech plugin
//! bound to its `speech` slot (voice cloning), kept in the store under the
//! tenant's name for them, and asked for by that name in a dub's `voice`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use kino_runtime::{MediaFile, World};
use kino_store::{StoredVoice, TenantId};

use crate::exec::Executor;
use crate::ops::plugin_answer;

/// The slot whose plugin speaks lines and makes voices.
pub const SPEECH_SLOT: &str = "speech";

/// The most reference recordings one voice is made from.
pub const MAX_SAMPLES: usize = 25;

impl Executor {
    /// Makes the voice `name` from `samples` (recordings of one speaker)
    /// with the tenant's speech plugin and keeps the backend's id for it.
    /// The name is checked free first, so a taken name costs no backend call.
    pub async fn make_voice(
        &self,
        tenant: &TenantId,
        name: &str,
        samples: &[PathBuf],
    ) -> Result<StoredVoice> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            bail!("a voice needs a name of printable characters");
        }
        if samples.is_empty() || samples.len() > MAX_SAMPLES {
            bail!(
                "a voice is made from 1 to {MAX_SAMPLES} recordings, not {}",
                samples.len()
            );
        }
        let store = self.store();
        if store.voice(tenant, name).await?.is_some() {
            return Err(kino_store::StoreError::VoiceNameTaken {
                name: name.to_owned(),
            }
            .into());
        }
        let media = samples
            .iter()
            .map(|path| {
                let content_type = audio_content_type(path);
                MediaFile::new(path, content_type)
                    .with_context(|| format!("reading {}", path.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        let plugin = self
            .resolver()
            .tenant_slot(tenant, SPEECH_SLOT, World::Speech)
            .await?
            .with_context(|| {
                format!(
                    "no speech plugin is bound to slot `{SPEECH_SLOT}`: bind one to make voices"
                )
            })?;
        let speech = self
            .resolver()
            .runtime()
            .speech(&plugin.plugin, &plugin.call)?;
        let voice = plugin_answer(
            &format!("making voice {name:?}"),
            speech.create_voice(name, &media).await,
        )
        .map_err(|e| anyhow::anyhow!("{}: {}", plugin.id, e.message))?;
        if voice.id.trim().is_empty() {
            bail!("{}: the backend answered an empty voice id", plugin.id);
        }
        let plugin_name = plugin.id.split_once('@').map_or(&*plugin.id, |(n, _)| n);
        store.add_voice(tenant, name, plugin_name, &voice.id).await
    }
}

/// A recording's content type, by its extension (backends want to know).
fn audio_content_type(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("flac") => "audio/flac",
        Some("ogg" | "opus") => "audio/ogg",
        Some("m4a" | "mp4") => "audio/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_typed_by_extension() {
        assert_eq!(audio_content_type("a/b.MP3".as_ref()), "audio/mpeg");
        assert_eq!(audio_content_type("take.wav".as_ref()), "audio/wav");
        assert_eq!(audio_content_type("x".as_ref()), "application/octet-stream");
    }
}
