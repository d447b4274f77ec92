//! `kino-clips-replicate`: a `clip-generator` plugin for a Replicate-style
//! predictions API.
//!
//! `submit` uploads the reference stills (`POST {endpoint}/files`, each
//! spliced from the host's stream), then creates a prediction
//! (`POST {endpoint}/models/{model}/predictions`) with the scene's prompt,
//! length, size and seed, sending the host's work key as `Idempotency-Key`
//! so a retried create does not start a second render. It answers
//! `pending` with the prediction's id; `check` reads the prediction
//! (`GET {endpoint}/predictions/{id}`) and, once it `succeeded`, splices its
//! output video into the host's sink. A prediction that `failed` or was
//! `canceled` is `invalid-input` with the backend's reason: the host then
//! forgets the ticket, and a later attempt starts afresh.
//!
//! Configuration: `endpoint` (default `https://api.replicate.com/v1`) and
//! `model` (default `google/veo-3`). The host adds the tenant's token.
//!
//! The API's client is `kino-replicate-api` (`plugins/replicate-api`),
//! shared with the other Replicate plugins.

use kino_plugin_sdk::{ClipGenerator, ClipRequest, MediaIn, MediaOut, PluginError, VideoProgress};
use kino_replicate_api as api;
use serde_json::json;

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.replicate.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "google/veo-3";

/// The plugin.
pub struct ReplicateClips;

impl ClipGenerator for ReplicateClips {
    fn submit(
        request: ClipRequest,
        references: Vec<MediaIn>,
        out: &MediaOut,
        key: String,
    ) -> Result<VideoProgress, PluginError> {
        if request.prompt.trim().is_empty() {
            return Err(PluginError::invalid_input("the clip request has no prompt"));
        }
        let base = api::endpoint(DEFAULT_ENDPOINT)?;
        let model = kino_plugin_sdk::config("model").unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        let images = references
            .iter()
            .map(|media| api::upload(&base, media))
            .collect::<Result<Vec<_>, _>>()?;
        let mut input = json!({
            "prompt": request.prompt,
            "duration": request.duration_ms.div_ceil(1000).max(1),
            "width": request.width,
            "height": request.height,
            "seed": request.seed,
        });
        if !request.negative_prompt.is_empty() {
            input["negative_prompt"] = json!(request.negative_prompt);
        }
        if let Some(first) = images.first() {
            input["image"] = json!(first);
        }
        let prediction = api::create(&base, &model, input, &key)?;
        Ok(prediction.deliver(out, "video/mp4")?.into_video())
    }

    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError> {
        let id = api::prediction_id(&ticket)?;
        let prediction = api::get(&api::endpoint(DEFAULT_ENDPOINT)?, id)?;
        Ok(prediction.deliver(out, "video/mp4")?.into_video())
    }
}

kino_plugin_sdk::export_clip_generator!(ReplicateClips);
