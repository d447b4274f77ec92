//! A tenant's voices: made from uploaded recordings by the speech plugin
//! bound to its `speech` slot, listed, and forgotten.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::TenantAuth;
use super::{ApiError, AppState, Json};
use kino_pipeline::voices::{MAX_SAMPLES, VoiceError};
use kino_store::StoredVoice;

/// `POST /voices` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVoice {
    name: String,
    /// The recordings, as the sha256 of inputs the tenant uploaded.
    samples: Vec<String>,
}

/// A voice, as the API shows it.
#[derive(Debug, Serialize)]
pub struct Voice {
    name: String,
    plugin: String,
    voice_id: String,
    created_at: i64,
}

impl From<StoredVoice> for Voice {
    fn from(v: StoredVoice) -> Self {
        Self {
            name: v.name,
            plugin: v.plugin,
            voice_id: v.voice_id,
            created_at: v.created_at,
        }
    }
}

impl From<VoiceError> for ApiError {
    fn from(err: VoiceError) -> Self {
        match err {
            VoiceError::Invalid(m) => Self::Unprocessable(m),
            e @ (VoiceError::NameTaken(_) | VoiceError::NoSpeechPlugin) => {
                Self::Conflict(e.to_string())
            }
            e @ VoiceError::Backend { .. } => Self::BadGateway(e.to_string()),
            VoiceError::Host(e) => e.into(),
        }
    }
}

pub(super) async fn create_voice(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Json(body): Json<NewVoice>,
) -> Result<(StatusCode, Json<Voice>), ApiError> {
    if body.samples.is_empty() || body.samples.len() > MAX_SAMPLES {
        return Err(ApiError::Unprocessable(format!(
            "`samples` names 1 to {MAX_SAMPLES} uploaded recordings, not {}",
            body.samples.len()
        )));
    }
    let executor = state.jobs.executor();
    let mut samples = Vec::with_capacity(body.samples.len());
    for sha256 in &body.samples {
        let not_uploaded = || {
            ApiError::Unprocessable(format!(
                "sample {sha256:?}: this tenant has uploaded nothing with that sha256 (POST /inputs first)"
            ))
        };
        if !kino_pipeline::artifacts::is_sha256(sha256)
            || !state.store.has_upload(&tenant.id, sha256).await?
        {
            return Err(not_uploaded());
        }
        let found = executor.artifacts().find(sha256).await?;
        samples.push(found.ok_or_else(not_uploaded)?.path);
    }
    let voice = executor
        .make_voice(&tenant.id, &body.name, &samples)
        .await?;
    Ok((StatusCode::CREATED, Json(voice.into())))
}

pub(super) async fn list_voices(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
) -> Result<Json<Vec<Voice>>, ApiError> {
    let voices = state.store.list_voices(&tenant.id).await?;
    Ok(Json(voices.into_iter().map(Voice::from).collect()))
}

pub(super) async fn delete_voice(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_voice(&tenant.id, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "this tenant has no voice {name:?}"
        )))
    }
}
