//! The typed, async API of the backend worlds of `kino:stage@0.2.0`:
//! transcriber, speech, clip-generator and lipsync.
//!
//! Media crosses as [`MediaFile`]s lent for the call and a [`MediaSink`]
//! the plugin writes to; answers come in the submit/check shape of remote
//! jobs (`done` or `pending` with a ticket). Driving a pending job to its
//! end, with the ticket kept across restarts, is the caller's: the host's
//! pipeline stores tickets in its job store.

use wasmtime::Store;
use wasmtime::component::Resource;

use super::bindings::backend_types::{
    ClipRequest, SpeechProgress, SpeechRequest, TranscribeProgress, TranscribeRequest,
    VideoProgress, Voice,
};
use super::bindings::clip_generator::ClipGeneratorPre;
use super::bindings::lipsync::LipsyncPre;
use super::bindings::speech::SpeechPre;
use super::bindings::transcriber::TranscriberPre;
use super::media::{MediaFile, MediaIn, MediaOut, MediaSink};
use super::worlds::{Pre, world_handle};
use super::{CallCtx, CallResult, Plugin, StageCtx, Trap, World, WrongWorld};

world_handle!(
    /// Calls into a `transcriber` plugin.
    Transcriber,
    Transcriber,
    TranscriberPre<StageCtx>
);
world_handle!(
    /// Calls into a `speech` plugin.
    Speech,
    Speech,
    SpeechPre<StageCtx>
);
world_handle!(
    /// Calls into a `clip-generator` plugin.
    ClipGenerator,
    ClipGenerator,
    ClipGeneratorPre<StageCtx>
);
world_handle!(
    /// Calls into a `lipsync` plugin.
    Lipsync,
    Lipsync,
    LipsyncPre<StageCtx>
);

/// Lends `media` to the call: a handle in its resource table.
fn lend(store: &mut Store<StageCtx>, media: &MediaFile) -> wasmtime::Result<Resource<MediaIn>> {
    Ok(store.data_mut().table().push(MediaIn(media.clone()))?)
}

/// Hands the call `sink` to write to.
fn sink(store: &mut Store<StageCtx>, sink: &MediaSink) -> wasmtime::Result<Resource<MediaOut>> {
    Ok(store.data_mut().table().push(MediaOut(sink.clone()))?)
}

/// Fails a call whose output stream refused a write for its size: the
/// plugin may have answered `done` over a cut-off file.
fn check_sink<T>(out: &MediaSink, result: CallResult<T>) -> CallResult<T> {
    if out.refused() {
        return Err(Trap::OutputTooLarge {
            bytes: usize::try_from(out.written()).unwrap_or(usize::MAX),
            limit: usize::try_from(out.max_bytes()).unwrap_or(usize::MAX),
        });
    }
    result
}

impl Transcriber<'_> {
    /// Transcribes `audio`; `key` names the work (the same key, the same work).
    pub async fn submit(
        &self,
        audio: &MediaFile,
        request: &TranscribeRequest,
        key: &str,
    ) -> CallResult<TranscribeProgress> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let audio = lend(store, audio)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_submit(&mut *store, audio, request, key).await
            })
            .await
    }

    /// Asks after the pending transcription `ticket`.
    pub async fn check(&self, ticket: &str) -> CallResult<TranscribeProgress> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_check(&mut *store, ticket).await
            })
            .await
    }
}

impl Speech<'_> {
    /// The voices the backend offers.
    pub async fn voices(&self) -> CallResult<Vec<Voice>> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_voices(&mut *store).await
            })
            .await
    }

    /// Speaks `request` into `out`.
    pub async fn synthesize(
        &self,
        request: &SpeechRequest,
        out: &MediaSink,
        key: &str,
    ) -> CallResult<SpeechProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .call_synthesize(&mut *store, request, out, key)
                    .await
            })
            .await;
        check_sink(out, result)
    }

    /// Asks after the pending synthesis `ticket`, writing to `out` once done.
    pub async fn check(&self, ticket: &str, out: &MediaSink) -> CallResult<SpeechProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_check(&mut *store, ticket, out).await
            })
            .await;
        check_sink(out, result)
    }

    /// Makes a voice named `name` from `samples` of one speaker.
    pub async fn create_voice(&self, name: &str, samples: &[MediaFile]) -> CallResult<Voice> {
        let pre = self.pre;
        self.plugin
            .invoke(self.call, async |store| {
                let samples = samples
                    .iter()
                    .map(|sample| lend(store, sample))
                    .collect::<wasmtime::Result<Vec<_>>>()?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .call_create_voice(&mut *store, name, &samples)
                    .await
            })
            .await
    }
}

impl ClipGenerator<'_> {
    /// Generates the clip `request` describes into `out`, guided by `references`.
    pub async fn submit(
        &self,
        request: &ClipRequest,
        references: &[MediaFile],
        out: &MediaSink,
        key: &str,
    ) -> CallResult<VideoProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let references = references
                    .iter()
                    .map(|reference| lend(store, reference))
                    .collect::<wasmtime::Result<Vec<_>>>()?;
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .call_submit(&mut *store, request, &references, out, key)
                    .await
            })
            .await;
        check_sink(out, result)
    }

    /// Asks after the pending clip `ticket`, writing to `out` once done.
    pub async fn check(&self, ticket: &str, out: &MediaSink) -> CallResult<VideoProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_check(&mut *store, ticket, out).await
            })
            .await;
        check_sink(out, result)
    }
}

impl Lipsync<'_> {
    /// Syncs the speaker in `video` to `audio`, into `out`.
    pub async fn submit(
        &self,
        video: &MediaFile,
        audio: &MediaFile,
        out: &MediaSink,
        key: &str,
    ) -> CallResult<VideoProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let video = lend(store, video)?;
                let audio = lend(store, audio)?;
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance
                    .call_submit(&mut *store, video, audio, out, key)
                    .await
            })
            .await;
        check_sink(out, result)
    }

    /// Asks after the pending sync `ticket`, writing to `out` once done.
    pub async fn check(&self, ticket: &str, out: &MediaSink) -> CallResult<VideoProgress> {
        let pre = self.pre;
        let result = self
            .plugin
            .invoke(self.call, async |store| {
                let out = sink(store, out)?;
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_check(&mut *store, ticket, out).await
            })
            .await;
        check_sink(out, result)
    }
}
