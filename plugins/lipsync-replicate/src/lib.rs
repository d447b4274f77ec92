//! `kino-lipsync-replicate`: a `lipsync` plugin for a Replicate-style
//! predictions API.
//!
//! `submit` uploads the video and the audio (`POST {endpoint}/files`, each
//! spliced from the host's stream), then creates a prediction
//! (`POST {endpoint}/models/{model}/predictions`) with the two uploads'
//! URLs as `video` and `audio`, sending the host's work key as
//! `Idempotency-Key` so a retried create does not start a second sync. It
//! answers `pending` with the prediction's id (or `done` if the prediction
//! already succeeded); `check` reads the prediction
//! (`GET {endpoint}/predictions/{id}`) and, once it `succeeded`, splices its
//! output video into the host's sink. A prediction that `failed` or was
//! `canceled` is `invalid-input` with the backend's reason: the host then
//! forgets the ticket, and a later attempt starts afresh.
//!
//! Configuration: `endpoint` (default `https://api.replicate.com/v1`) and
//! `model` (default `sync/lipsync-2-pro`). The host adds the tenant's token.
//! The API's client is `kino-replicate-api` (`plugins/replicate-api`),
//! shared with the other Replicate plugins.

use kino_plugin_sdk::{Lipsync, MediaIn, MediaOut, PluginError, VideoProgress};
use kino_replicate_api as api;
use serde_json::json;

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.replicate.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "sync/lipsync-2-pro";

/// The plugin.
pub struct ReplicateLipsync;

impl Lipsync for ReplicateLipsync {
    fn submit(
        video: &MediaIn,
        audio: &MediaIn,
        out: &MediaOut,
        key: String,
    ) -> Result<VideoProgress, PluginError> {
        let base = api::endpoint(DEFAULT_ENDPOINT)?;
        let model = kino_plugin_sdk::config("model").unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        let video = api::upload(&base, video)?;
        let audio = api::upload(&base, audio)?;
        let input = json!({ "video": video, "audio": audio });
        let prediction = api::create(&base, &model, input, &key)?;
        Ok(prediction.deliver(out, "video/mp4")?.into_video())
    }

    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError> {
        let id = api::prediction_id(&ticket)?;
        let prediction = api::get(&api::endpoint(DEFAULT_ENDPOINT)?, id)?;
        Ok(prediction.deliver(out, "video/mp4")?.into_video())
    }
}

kino_plugin_sdk::export_lipsync!(ReplicateLipsync);
