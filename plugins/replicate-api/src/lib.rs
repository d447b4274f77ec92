//! `kino-replicate-api`: the client for a Replicate-style predictions API
//! that Kino's Replicate plugins (`kino-clips-replicate`,
//! `kino-lipsync-replicate`) share. A library linked into them, not a
//! plugin of its own.
//!
//! A plugin reads its base URL with [`endpoint`], uploads its media with
//! [`upload`] (`POST {endpoint}/files`, spliced from the host's stream) and
//! creates a prediction with [`create`] (`POST
//! {endpoint}/models/{model}/predictions`, sending the host's work key as
//! `Idempotency-Key` so a retried create does not start a second job). Its
//! `check` accepts the ticket with [`prediction_id`] and reads the
//! prediction with [`get`] (`GET {endpoint}/predictions/{id}`). Either way,
//! [`Prediction::deliver`] says what the prediction means: still
//! [`Outcome::Running`] (a [`Pending`] whose ticket is the prediction's id),
//! or [`Outcome::Delivered`] once it `succeeded` and its output is spliced
//! into the host's sink. A prediction that `failed` or was `canceled` is
//! `invalid-input` with the backend's reason: the host then forgets the
//! ticket, and a later attempt starts afresh.
//!
//! ```no_run
//! use kino_plugin_sdk::{MediaIn, MediaOut, PluginError, VideoProgress};
//! use kino_replicate_api as api;
//!
//! fn submit(video: &MediaIn, out: &MediaOut, key: &str) -> Result<VideoProgress, PluginError> {
//!     let base = api::endpoint("https://api.replicate.com/v1")?;
//!     let input = serde_json::json!({ "video": api::upload(&base, video)? });
//!     let prediction = api::create(&base, "owner/model", input, key)?;
//!     Ok(prediction.deliver(out, "video/mp4")?.into_video())
//! }
//!
//! fn check(ticket: &str, out: &MediaOut) -> Result<VideoProgress, PluginError> {
//!     let id = api::prediction_id(ticket)?;
//!     let prediction = api::get(&api::endpoint("https://api.replicate.com/v1")?, id)?;
//!     Ok(prediction.deliver(out, "video/mp4")?.into_video())
//! }
//! ```

use kino_plugin_sdk::http::{Method, Multipart, Request, Url};
use kino_plugin_sdk::{MediaIn, MediaOut, Pending, PluginError, VideoInfo, VideoProgress};
use serde::Deserialize;
use serde_json::json;

/// A prediction as the API describes it.
#[derive(Debug, Deserialize)]
pub struct Prediction {
    /// Its id: the ticket.
    pub id: String,
    /// `starting`, `processing`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    /// The output: a URL, or a list of them (the first is the one delivered).
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

/// What [`Prediction::deliver`] made of a prediction.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Still running: answer `pending` with this; its ticket is the
    /// prediction's id.
    Running(Pending),
    /// Succeeded: its output is in the host's sink, this many bytes.
    Delivered(u64),
}

impl Outcome {
    /// The answer of a video world (`clip-generator`, `lipsync`): `pending`,
    /// or `done` with no [`VideoInfo`] facts (the API reports none).
    pub fn into_video(self) -> VideoProgress {
        match self {
            Outcome::Running(pending) => VideoProgress::Pending(pending),
            Outcome::Delivered(_) => VideoProgress::Done(VideoInfo {
                width: None,
                height: None,
                duration_ms: None,
            }),
        }
    }
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

    /// Acts on the prediction's [`state`](Self::state): while it runs,
    /// [`Outcome::Running`]; once it succeeded, downloads its output URL
    /// into `out` as `content_type` (logging the bytes) and answers
    /// [`Outcome::Delivered`]. A failed, canceled or malformed prediction,
    /// or a download that fails, is the error.
    pub fn deliver(self, out: &MediaOut, content_type: &str) -> Result<Outcome, PluginError> {
        match self.state()? {
            State::Running => Ok(Outcome::Running(Pending {
                ticket: self.id,
                progress: None,
                check_after_ms: 0,
            })),
            State::Succeeded(url) => {
                let bytes = Request::get(&url)?
                    .send()?
                    .success()?
                    .save(out, Some(content_type))?;
                kino_plugin_sdk::log::info(&format!(
                    "prediction {} delivered {bytes} bytes",
                    self.id
                ));
                Ok(Outcome::Delivered(bytes))
            }
        }
    }
}

/// The API's base URL: the plugin's config `endpoint`, or `default` when
/// unset, without a trailing `/`.
pub fn endpoint(default: &str) -> Result<Url, PluginError> {
    let text = kino_plugin_sdk::config("endpoint").unwrap_or_else(|| default.to_owned());
    Url::parse(text.trim_end_matches('/'))
}

/// `base` with `rest` (starting with `/`) appended to its path.
pub fn path(base: &Url, rest: &str) -> Url {
    base.with_path(&format!("{}{rest}", base.path.trim_end_matches('/')))
}

/// Uploads `media` to the API's file store (`POST {base}/files`, a
/// multipart form whose part `content` is spliced from the host's stream);
/// answers the URL to pass as a prediction's input (`urls.get`).
pub fn upload(base: &Url, media: &MediaIn) -> Result<String, PluginError> {
    #[derive(Deserialize)]
    struct Urls {
        get: String,
    }
    #[derive(Deserialize)]
    struct File {
        urls: Urls,
    }
    let file: File = Request::to(Method::Post, path(base, "/files"))
        .multipart(Multipart::new().media("content", media))
        .send()?
        .success()?
        .json()?;
    Ok(file.urls.get)
}

/// Creates a prediction of `model` (`owner/name`): `POST
/// {base}/models/{model}/predictions` with the JSON body `{"input": input}`
/// and `key` as `Idempotency-Key`, so a create retried with the same key is
/// the same prediction. Logs the new prediction's id.
pub fn create(
    base: &Url,
    model: &str,
    input: serde_json::Value,
    key: &str,
) -> Result<Prediction, PluginError> {
    let prediction: Prediction = Request::to(
        Method::Post,
        path(base, &format!("/models/{model}/predictions")),
    )
    .header("idempotency-key", key)
    .json(&json!({ "input": input }))?
    .send()?
    .success()?
    .json()?;
    kino_plugin_sdk::log::info(&format!("prediction {} created on {model}", prediction.id));
    Ok(prediction)
}

/// Reads prediction `id` (`GET {base}/predictions/{id}`); pass an id that
/// [`prediction_id`] accepted.
pub fn get(base: &Url, id: &str) -> Result<Prediction, PluginError> {
    Request::to(Method::Get, path(base, &format!("/predictions/{id}")))
        .send()?
        .success()?
        .json()
}

/// `ticket` if it can be a prediction id (not empty, no `/` or `?`: it
/// goes into a URL's path); otherwise `invalid-input`.
pub fn prediction_id(ticket: &str) -> Result<&str, PluginError> {
    if ticket.is_empty() || ticket.contains('/') || ticket.contains('?') {
        return Err(PluginError::invalid_input(format!(
            "`{ticket}` is not a prediction id"
        )));
    }
    Ok(ticket)
}

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

    #[test]
    fn tickets_must_be_plain_ids() {
        assert_eq!(prediction_id("pred1"), Ok("pred1"));
        for bad in ["", "a/b", "p?x=1"] {
            assert!(
                matches!(prediction_id(bad), Err(PluginError::InvalidInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_endpoint_comes_from_config_and_paths_join_onto_it() {
        kino_plugin_sdk::testing::set_config([("endpoint", "http://127.0.0.1:9/v1/")]);
        let base = endpoint("https://api.replicate.com/v1").expect("url");
        assert_eq!(
            path(&base, "/predictions/p1").as_string(),
            "http://127.0.0.1:9/v1/predictions/p1"
        );
        kino_plugin_sdk::testing::set_config::<&str, &str>([]);
        let base = endpoint("https://api.replicate.com/v1").expect("url");
        assert_eq!(
            path(&base, "/files").as_string(),
            "https://api.replicate.com/v1/files"
        );
    }

    #[test]
    fn outcomes_answer_a_video_world() {
        let pending = Pending {
            ticket: "p1".into(),
            progress: None,
            check_after_ms: 0,
        };
        assert_eq!(
            Outcome::Running(pending.clone()).into_video(),
            VideoProgress::Pending(pending)
        );
        assert!(matches!(
            Outcome::Delivered(10).into_video(),
            VideoProgress::Done(VideoInfo {
                width: None,
                height: None,
                duration_ms: None
            })
        ));
    }
}
