//! A tenant's endpoints: upload inputs; submit, list and watch its own jobs;
//! download their outputs.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;

use axum::Extension;
use axum::body::Body;

use super::auth::TenantAuth;
use super::upload::{self, UploadBudget};
use super::{ApiError, AppState, Json, Query};
use kino_pipeline::JobInput;
use kino_pipeline::exec::check_job;
use kino_pipeline::{Edits, ScenePlan};
use kino_store::{Event, Job, JobId, JobState, Store, TenantId};

/// How often the event stream polls the store.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How many events one poll reads at most.
const EVENTS_PER_POLL: u32 = 500;

/// The largest job priority, either way.
const MAX_PRIORITY: i64 = 1000;

/// `POST /jobs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pipeline: String,
    /// Among the tenant's jobs, higher runs first.
    #[serde(default)]
    priority: i64,
    #[serde(default = "empty_object")]
    inputs: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// `GET /jobs` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
}

fn job_id(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("job {id} not found")))
}

async fn own_job(state: &AppState, tenant: &TenantId, id: &str) -> Result<Job, ApiError> {
    let id = job_id(id)?;
    state
        .store
        .get_job(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {id} not found")))
}

pub(super) async fn submit_job(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Json(body): Json<NewJob>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    if body.pipeline.trim().is_empty() {
        return Err(ApiError::Unprocessable("`pipeline` cannot be empty".into()));
    }
    if !body.inputs.is_object() {
        return Err(ApiError::Unprocessable("`inputs` must be an object".into()));
    }
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&body.priority) {
        return Err(ApiError::Unprocessable(format!(
            "`priority` must be between -{MAX_PRIORITY} and {MAX_PRIORITY}"
        )));
    }
    let executor = state.jobs.executor();
    let pipeline = executor
        .catalog()
        .get(&tenant.id, &body.pipeline)
        .map_err(|e| ApiError::Unprocessable(format!("{e:#}")))?;
    let inputs = check_job(&pipeline.spec, &body.inputs)
        .map_err(|e| ApiError::Unprocessable(format!("{e:#}")))?;
    for (name, input) in &inputs {
        if let JobInput::File { sha256, .. } = input
            && !state.store.has_upload(&tenant.id, sha256).await?
        {
            return Err(ApiError::Unprocessable(format!(
                "input `{name}`: this tenant has uploaded nothing with sha256 {sha256} (POST /inputs first)"
            )));
        }
    }
    let mut job = executor.submit(&tenant.id, &pipeline, &inputs).await?;
    if body.priority != 0 {
        state
            .store
            .set_job_priority(&tenant.id, &job.id, body.priority)
            .await?;
        job.priority = body.priority;
    }
    state.metrics.job_submitted();
    state.jobs.wake();
    Ok((StatusCode::CREATED, Json(job)))
}

/// `POST /inputs` answer.
#[derive(Debug, serde::Serialize)]
pub struct Uploaded {
    sha256: String,
    size: u64,
}

/// Streams the file to a scratch file (see [`upload::receive`]), then moves
/// it into the artifact store under its hash.
pub(super) async fn upload_input(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Extension(budget): Extension<UploadBudget>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let artifacts = state.jobs.executor().artifacts().clone();
    let received = upload::receive(
        "file",
        "upload",
        state.upload_limit,
        &budget,
        &artifacts,
        &headers,
        body,
    )
    .await?;
    if received.size() == 0 {
        return Err(ApiError::BadRequest("the body must be the file".into()));
    }
    let size = received.size();
    // The scratch directory (and the budget's share) go once the file is stored.
    let stored = {
        let artifacts = artifacts.clone();
        tokio::task::spawn_blocking(move || artifacts.put_file(received.path()))
            .await
            .map_err(|e| anyhow::anyhow!("storing an upload: {e}"))??
    };
    // Jobs may run on other hosts: they find it in the shared store.
    artifacts.publish(&stored).await?;
    state
        .store
        .record_upload(&tenant.id, &stored.hash, size)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            sha256: stored.hash,
            size,
        }),
    ))
}

pub(super) async fn job_output(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let job = own_job(&state, &tenant.id, &id).await?;
    let missing = || ApiError::NotFound(format!("job {} has no output `{name}`", job.id));
    let spec = state.jobs.executor().spec_of(&job).map_err(|_| missing())?;
    // Only names the pipeline declares: never a path from the request.
    if !spec.outputs.contains_key(&name) || job.state != JobState::Completed {
        return Err(missing());
    }
    let mut path = state.jobs.executor().job_dir(&job.id).join(&name);
    if !path.is_file() {
        // Another host ran the job: its output is in the artifact store.
        let key = kino_pipeline::exec::output_key(&job.id, &name);
        let Some(recorded) = state.store.artifact_by_key(&key).await? else {
            return Err(missing());
        };
        let artifacts = state.jobs.executor().artifacts();
        path = match artifacts.fetch(&recorded.hash).await? {
            Some(artifact) => artifact.path,
            None => return Err(missing()),
        };
    }
    // Streamed: an output can be gigabytes, and many can be downloading.
    let file = tokio::fs::File::open(&path).await.map_err(|_| missing())?;
    let length = file.metadata().await.map_err(|_| missing())?.len();
    let content_type = match name.rsplit('.').next() {
        Some("mp4") => "video/mp4",
        Some("json") => "application/json",
        Some("vtt") => "text/vtt",
        Some("srt") => "application/x-subrip",
        _ => "application/octet-stream",
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (axum::http::header::CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )
        .into_response())
}

pub(super) async fn get_job(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(own_job(&state, &tenant.id, &id).await?))
}

/// `GET /me`: the tenant the key belongs to (what the console shows).
pub(super) async fn me(TenantAuth(tenant): TenantAuth) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": tenant.id, "name": tenant.name }))
}

pub(super) async fn list_jobs(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(Json(state.store.list_jobs(&tenant.id, limit).await?))
}

/// Where an event stream is.
struct Cursor {
    store: Store,
    tenant: TenantId,
    job: JobId,
    after: i64,
    queue: VecDeque<Event>,
    polled: bool,
    finished: bool,
}

impl Cursor {
    /// The next event, polling the store as needed; `None` once the job has
    /// finished and every event has been sent.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            if self.polled {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            self.polled = true;
            // The state first: every event written before a terminal state is
            // then read by the query that follows.
            let job = match self.store.get_job(&self.tenant, &self.job).await {
                Ok(Some(job)) => job,
                Ok(None) => return None,
                Err(err) => {
                    tracing::error!("event stream of job {}: {err:#}", self.job);
                    return None;
                }
            };
            let events = match self
                .store
                .events_since(&self.tenant, &self.job, self.after, EVENTS_PER_POLL)
                .await
            {
                Ok(events) => events,
                Err(err) => {
                    tracing::error!("event stream of job {}: {err:#}", self.job);
                    return None;
                }
            };
            let full = events.len() >= EVENTS_PER_POLL as usize;
            if let Some(last) = events.last() {
                self.after = last.id;
            }
            self.queue.extend(events);
            self.finished = job.state.is_terminal() && !full;
        }
    }
}

fn sse_event(event: &Event) -> SseEvent {
    let data = serde_json::json!({ "at": event.at, "kind": event.kind, "data": event.data });
    SseEvent::default()
        .id(event.id.to_string())
        .event(&event.kind)
        .data(data.to_string())
}

pub(super) async fn job_events(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let job = own_job(&state, &tenant.id, &id).await?;
    // A reconnecting client resumes after the last event it saw.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let cursor = Cursor {
        store: state.store.clone(),
        tenant: tenant.id,
        job: job.id,
        after,
        queue: VecDeque::new(),
        polled: false,
        finished: false,
    };
    let stream = futures::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((Ok(sse_event(&event)), cursor))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A finished ad-creative job, or a 409 saying why the job has no scenes.
fn editable(job: &Job) -> Result<(), ApiError> {
    kino_pipeline::editing::editable(job).map_err(|e| ApiError::Conflict(e.to_string()))
}

pub(super) async fn job_scenes(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScenePlan>, ApiError> {
    let job = own_job(&state, &tenant.id, &id).await?;
    editable(&job)?;
    Ok(Json(state.jobs.executor().scenes(&job)?))
}

pub(super) async fn edit_job(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(edits): Json<Edits>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let job = own_job(&state, &tenant.id, &id).await?;
    editable(&job)?;
    let executor = state.jobs.executor();
    // The edits not fitting the job is the client's to fix; failing to
    // record the new job is ours.
    let merged = executor
        .merge_edits(&job, &edits)
        .map_err(|e| ApiError::Unprocessable(format!("{e:#}")))?;
    let edited = executor.submit_edit(&job, &merged).await?;
    state.metrics.job_submitted();
    state.jobs.wake();
    Ok((StatusCode::CREATED, Json(edited)))
}
