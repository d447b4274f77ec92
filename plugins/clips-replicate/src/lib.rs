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

use kino_plugin_sdk::http::{Multipart, Request, Url};
use kino_plugin_sdk::{
    ClipGenerator, ClipRequest, MediaIn, MediaOut, Pending, PluginError, VideoInfo, VideoProgress,
};
use serde::Deserialize;
use serde_json::json;

/// The default base URL.
pub const DEFAULT_ENDPOINT: &str = "https://api.replicate.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "google/veo-3";

/// A prediction as the API describes it.
#[derive(Debug, Deserialize)]
pub struct Prediction {
    /// Its id: the ticket.
    pub id: String,
    /// `starting`, `processing`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    /// The output: a URL, or a list of them (the first is the clip).
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

/// What a prediction's state means for the host.
#[derive(Debug, PartialEq)]
pub enum State {
    /// Still running.
    Running,
    /// Done: the output's URL.
    Succeeded(String),
}

impl Prediction {
    /// Reads the prediction's state: running, done with its output URL, or
    /// the error a failed, canceled or malformed one means.
    pub fn state(&self) -> Result<State, PluginError> {
        match self.status.as_str() {
            "starting" | "processing" => Ok(State::Running),
            "succeeded" => {
                let url = match &self.output {
                    Some(serde_json::Value::String(url)) => Some(url.clone()),
                    Some(serde_json::Value::Array(urls)) => {
                        urls.first().and_then(|u| u.as_str()).map(str::to_owned)
                    }
                    _ => None,
                };
                url.map(State::Succeeded).ok_or_else(|| {
                    PluginError::unavailable(format!(
                        "prediction {} succeeded without an output URL",
                        self.id
                    ))
                })
            }
            "failed" | "canceled" => {
                let why = match &self.error {
                    Some(serde_json::Value::String(e)) => e.clone(),
                    Some(other) => other.to_string(),
                    None => "no reason given".to_owned(),
                };
                Err(PluginError::invalid_input(format!(
                    "prediction {} {}: {why}",
                    self.id, self.status
                )))
            }
            other => Err(PluginError::unavailable(format!(
                "prediction {} has an unknown status `{other}`",
                self.id
            ))),
        }
    }
}

fn endpoint() -> Result<Url, PluginError> {
    let text = kino_plugin_sdk::config("endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    Url::parse(text.trim_end_matches('/'))
}

fn path(base: &Url, rest: &str) -> Url {
    base.with_path(&format!("{}{rest}", base.path.trim_end_matches('/')))
}

/// Uploads `media` to the API's file store; answers the URL to pass as input.
fn upload(base: &Url, media: &MediaIn) -> Result<String, PluginError> {
    #[derive(Deserialize)]
    struct Urls {
        get: String,
    }
    #[derive(Deserialize)]
    struct File {
        urls: Urls,
    }
    let file: File = Request::to(kino_plugin_sdk::http::Method::Post, path(base, "/files"))
        .multipart(Multipart::new().media("content", media))
        .send()?
        .success()?
        .json()?;
    Ok(file.urls.get)
}

/// Reads prediction `id`; once it succeeded, saves its output into `out`.
fn advance(base: &Url, id: &str, out: &MediaOut) -> Result<VideoProgress, PluginError> {
    let prediction: Prediction = Request::to(
        kino_plugin_sdk::http::Method::Get,
        path(base, &format!("/predictions/{id}")),
    )
    .send()?
    .success()?
    .json()?;
    answer(prediction, out)
}

fn answer(prediction: Prediction, out: &MediaOut) -> Result<VideoProgress, PluginError> {
    match prediction.state()? {
        State::Running => Ok(VideoProgress::Pending(Pending {
            ticket: prediction.id,
            progress: None,
            check_after_ms: 0,
        })),
        State::Succeeded(url) => {
            let bytes = Request::get(&url)?
                .send()?
                .success()?
                .save(out, Some("video/mp4"))?;
            kino_plugin_sdk::log::info(&format!(
                "prediction {} delivered {bytes} bytes",
                prediction.id
            ));
            Ok(VideoProgress::Done(VideoInfo {
                width: None,
                height: None,
                duration_ms: None,
            }))
        }
    }
}

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
        let base = endpoint()?;
        let model = kino_plugin_sdk::config("model").unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        let images = references
            .iter()
            .map(|media| upload(&base, media))
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
        let prediction: Prediction = Request::to(
            kino_plugin_sdk::http::Method::Post,
            path(&base, &format!("/models/{model}/predictions")),
        )
        .header("idempotency-key", &key)
        .json(&json!({ "input": input }))?
        .send()?
        .success()?
        .json()?;
        kino_plugin_sdk::log::info(&format!("prediction {} created on {model}", prediction.id));
        answer(prediction, out)
    }

    fn check(ticket: String, out: &MediaOut) -> Result<VideoProgress, PluginError> {
        if ticket.is_empty() || ticket.contains('/') || ticket.contains('?') {
            return Err(PluginError::invalid_input(format!(
                "`{ticket}` is not a prediction id"
            )));
        }
        advance(&endpoint()?, &ticket, out)
    }
}

kino_plugin_sdk::export_clip_generator!(ReplicateClips);

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(json: &str) -> Prediction {
        serde_json::from_str(json).expect("valid")
    }

    #[test]
    fn states_follow_the_status() {
        assert_eq!(
            prediction(r#"{"id":"p1","status":"processing"}"#).state(),
            Ok(State::Running)
        );
        assert_eq!(
            prediction(r#"{"id":"p1","status":"succeeded","output":["https://x/a.mp4"]}"#).state(),
            Ok(State::Succeeded("https://x/a.mp4".into()))
        );
        assert_eq!(
            prediction(r#"{"id":"p1","status":"succeeded","output":"https://x/b.mp4"}"#).state(),
            Ok(State::Succeeded("https://x/b.mp4".into()))
        );
        assert!(matches!(
            prediction(r#"{"id":"p1","status":"failed","error":"NSFW"}"#).state(),
            Err(PluginError::InvalidInput(m)) if m.contains("NSFW")
        ));
        assert!(matches!(
            prediction(r#"{"id":"p1","status":"succeeded"}"#).state(),
            Err(PluginError::Unavailable(_))
        ));
    }
}
