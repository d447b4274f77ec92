//! What pipelines there are: a tenant's view (what it can submit jobs to)
//! and the operator's (every spec file, and why one does not load).

use axum::extract::State;
use serde_json::{Value, json};

use super::auth::{Admin, TenantAuth};
use super::{ApiError, AppState, Json};
use kino_pipeline::{Pipeline, PipelineSource};

/// A pipeline as the API describes it: what to submit and what comes back.
fn describe(pipeline: &Pipeline) -> Value {
    let spec = &pipeline.spec;
    json!({
        "name": spec.name,
        "description": spec.description,
        "source": match pipeline.source {
            PipelineSource::BuiltIn => "built-in",
            PipelineSource::File(_) => "file",
        },
        "sha256": pipeline.sha256,
        "inputs": spec.inputs,
        "outputs": spec.outputs.keys().collect::<Vec<_>>(),
        "slots": spec
            .slots()
            .into_iter()
            .map(|(slot, world)| (slot, world.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>(),
        "native_kernels": spec.native_kernels().collect::<Vec<_>>(),
    })
}

/// `GET /pipelines`: the pipelines this tenant can run (files that do not
/// load are the operator's to see, not the tenant's).
pub(super) async fn list(
    TenantAuth(tenant): TenantAuth,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.jobs.executor().catalog().clone();
    let listed = tokio::task::spawn_blocking(move || catalog.list(Some(&tenant.id)))
        .await
        .map_err(|e| anyhow::anyhow!("listing pipelines: {e}"))?;
    let pipelines: Vec<Value> = listed.iter().flatten().map(describe).collect();
    Ok(Json(json!({ "pipelines": pipelines })))
}

/// `GET /admin/pipelines`: every pipeline for all tenants, and the error of
/// each spec file that does not load (file:line:column: what is wrong).
pub(super) async fn list_all(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.jobs.executor().catalog().clone();
    let listed = tokio::task::spawn_blocking(move || catalog.list(None))
        .await
        .map_err(|e| anyhow::anyhow!("listing pipelines: {e}"))?;
    let mut pipelines = Vec::new();
    let mut errors = Vec::new();
    for entry in &listed {
        match entry {
            Ok(p) => pipelines.push(describe(p)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    Ok(Json(json!({ "pipelines": pipelines, "errors": errors })))
}
