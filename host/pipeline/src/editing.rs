//! Scene editing of finished ad-creative jobs: list a job's scenes, and
//! submit an edit as a new job. The original job and its render are never
//! touched; the new job reuses every artifact the edit did not change.

use anyhow::{Context as _, Result, bail};
use serde_json::json;

use super::Executor;
use super::ops::edit::{Edits, ScenePlan};
use super::ops::read_json;
use crate::ops::ad::ScriptPlan;
use kino_store::{Job, JobEvent, JobState};

/// The pipeline whose jobs have scenes.
const EDITABLE: &str = "ad-creative";

impl Executor {
    /// The scenes of a completed ad-creative job, as it played them.
    pub fn scenes(&self, job: &Job) -> Result<ScenePlan> {
        self.finished_output(job, "plan.json")
    }

    /// The job's own edits followed by `edits`, checked against its scenes;
    /// errors name what is wrong (no such scene, a trim out of range, an
    /// order that misses a scene).
    pub fn merge_edits(&self, job: &Job, edits: &Edits) -> Result<Edits> {
        let script: ScriptPlan = self.finished_output(job, "script.json")?;
        let earlier = job
            .inputs
            .get("edits")
            .and_then(|e| e.as_str())
            .map(Edits::parse)
            .transpose()?
            .unwrap_or_default();
        let merged = earlier.then(edits);
        merged.check(&script.scenes)?;
        Ok(merged)
    }

    /// Submits an edit of `job`: a new pending job with the same inputs and
    /// the merged edits ([`Executor::merge_edits`]).
    pub async fn edit(&self, job: &Job, edits: &Edits) -> Result<Job> {
        let merged = self.merge_edits(job, edits)?;
        self.submit_edit(job, &merged).await
    }

    /// Submits `job` again with `merged` as its edits.
    pub async fn submit_edit(&self, job: &Job, merged: &Edits) -> Result<Job> {
        let mut inputs = job.inputs.clone();
        inputs["edits"] = json!(serde_json::to_string(merged).context("encoding edits")?);
        // The edit runs the spec the original ran, not today's file.
        let sha256 = self.spec_sha256_of(job)?;
        let edited = self
            .store()
            .create_job(&job.tenant_id, &job.pipeline, &sha256, &inputs)
            .await?;
        self.store()
            .append_event(
                &edited.id,
                &JobEvent::Created {
                    pipeline: job.pipeline.clone(),
                    state: None,
                    edit_of: Some(job.id.clone()),
                },
            )
            .await?;
        Ok(edited)
    }

    fn finished_output<T: serde::de::DeserializeOwned>(&self, job: &Job, name: &str) -> Result<T> {
        editable(job)?;
        read_json(&self.job_dir(&job.id).join(name))
    }
}

/// Whether `job` has scenes to list and edit: a completed ad-creative job.
pub fn editable(job: &Job) -> Result<()> {
    if job.pipeline != EDITABLE {
        bail!(
            "job {} is a `{}` job; only {EDITABLE} jobs have scenes",
            job.id,
            job.pipeline
        );
    }
    if job.state != JobState::Completed {
        bail!(
            "job {} is {}; its scenes can be edited once it has completed",
            job.id,
            job.state
        );
    }
    Ok(())
}
