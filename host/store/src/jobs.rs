//! Jobs, their stages and events, and the artifact cache index.

use std::fmt;
use std::str::FromStr;

use anyhow::Context as _;

use super::{
    Dialect as _, JobEvent, JobId, StageId, Store, StoreError, TenantId, now_ms, parse_column,
    parse_json,
};

/// The most rows one listing returns.
const MAX_LIST: u32 = 1000;

/// An unknown state name in a row or a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} state {value:?}")]
pub struct UnknownState {
    /// Which state: "job", "stage", "node" or "worker".
    pub kind: &'static str,
    /// The rejected value.
    pub value: String,
}

macro_rules! state_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The state as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownState { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

pub(crate) use state_enum;

state_enum!(
    /// Where a job is: `pending -> running -> completed | failed`
    /// (and `pending -> failed` when it is refused before it runs).
    JobState, "job" {
        /// Submitted, not yet picked up.
        Pending => "pending",
        /// An executor is working on it.
        Running => "running",
        /// Finished with a result.
        Completed => "completed",
        /// Finished without one; `error` says why.
        Failed => "failed",
    }
);

impl JobState {
    /// The states a job may be in to move to `self`.
    fn predecessors(self) -> &'static [JobState] {
        match self {
            Self::Pending => &[],
            Self::Running => &[Self::Pending],
            Self::Completed => &[Self::Running],
            Self::Failed => &[Self::Pending, Self::Running],
        }
    }

    /// Whether a job in state `self` may move to `to`.
    pub fn can_become(self, to: JobState) -> bool {
        to.predecessors().contains(&self)
    }

    /// Completed or failed: nothing more will happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

state_enum!(
    /// Where one attempt of a stage is.
    StageState, "stage" {
        /// Started, not finished.
        Running => "running",
        /// Finished with an output.
        Completed => "completed",
        /// Finished with an error.
        Failed => "failed",
    }
);

/// A job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    /// Its identifier.
    pub id: JobId,
    /// Whose job.
    pub tenant_id: TenantId,
    /// The pipeline it runs.
    pub pipeline: String,
    /// SHA-256 of the pipeline spec it was submitted with (`None` for jobs
    /// recorded before specs were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_sha256: Option<String>,
    /// Its inputs as submitted (content hashes, parameters).
    pub inputs: serde_json::Value,
    /// Where it is.
    pub state: JobState,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How urgent it is: workers claim the nodes of higher-priority jobs first
    /// (within a tenant's fair share). 0 unless set.
    pub priority: i64,
    /// Submission time, in ms since the Unix epoch.
    pub created_at: i64,
    /// Last state change, in ms since the Unix epoch.
    pub updated_at: i64,
}

/// One attempt of one stage of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    /// Its identifier.
    pub id: StageId,
    /// The job.
    pub job_id: JobId,
    /// The stage's name in the stage graph.
    pub name: String,
    /// `name@version` of the plugin that ran it; `None` for a native kernel.
    pub plugin: Option<String>,
    /// Where it is.
    pub state: StageState,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Start, in ms since the Unix epoch.
    pub started_at: i64,
    /// End, in ms since the Unix epoch.
    pub finished_at: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Cache key of its output artifact, when it completed with one.
    pub output_artifact: Option<String>,
    /// The worker that ran the attempt, when one was recorded.
    pub worker: Option<String>,
}

/// How a stage attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// It produced this artifact (by cache key), or nothing to keep.
    Completed {
        /// Cache key of the output, if any.
        output_artifact: Option<String>,
    },
    /// It failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// A progress event of a job, for server-sent events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Increasing over the whole store: resume a stream with `events_since(.., id)`.
    pub id: i64,
    /// The job.
    pub job_id: JobId,
    /// When, in ms since the Unix epoch.
    pub at: i64,
    /// What happened: a [`JobEvent`]'s kind (`stage-finished`, ...).
    pub kind: String,
    /// The rest of it, as stored.
    pub data: serde_json::Value,
}

impl Event {
    /// The event as a [`JobEvent`]; an error for a kind this version does not
    /// know (a newer host wrote it) or data that does not fit its kind.
    pub fn job_event(&self) -> Result<JobEvent, serde_json::Error> {
        JobEvent::from_parts(&self.kind, self.data.clone())
    }
}

/// A cached stage output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Artifact {
    /// The stage cache key: stage identity, plugin name@version, config, input hashes.
    pub key: String,
    /// SHA-256 (hex) of the content.
    pub hash: String,
    /// Where the content lies.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was recorded, in ms since the Unix epoch.
    pub created_at: i64,
}

/// What [`Store::put_artifact`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifact {
    /// The stage cache key.
    pub key: String,
    /// SHA-256 (hex) of the content.
    pub hash: String,
    /// Where the content lies.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    pipeline: String,
    pipeline_sha256: Option<String>,
    inputs_json: String,
    state: String,
    error: Option<String>,
    priority: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = anyhow::Error;

    fn try_from(row: JobRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: parse_column("jobs.id", &row.id)?,
            tenant_id: parse_column("jobs.tenant_id", &row.tenant_id)?,
            pipeline: row.pipeline,
            pipeline_sha256: row.pipeline_sha256,
            inputs: parse_json("jobs.inputs_json", &row.inputs_json)?,
            state: parse_column("jobs.state", &row.state)?,
            error: row.error,
            priority: row.priority,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A job row with its lease.
#[derive(sqlx::FromRow)]
struct OwnedJobRow {
    #[sqlx(flatten)]
    job: JobRow,
    owner: Option<String>,
    heartbeat_at: Option<i64>,
}

const JOB_COLUMNS: &str = "id, tenant_id, pipeline, pipeline_sha256, inputs_json, state, error, \
                           priority, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct StageRow {
    id: String,
    job_id: String,
    name: String,
    plugin: Option<String>,
    state: String,
    attempt: i64,
    started_at: i64,
    finished_at: Option<i64>,
    error: Option<String>,
    output_artifact: Option<String>,
    worker: Option<String>,
}

impl TryFrom<StageRow> for Stage {
    type Error = anyhow::Error;

    fn try_from(row: StageRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: parse_column("stages.id", &row.id)?,
            job_id: parse_column("stages.job_id", &row.job_id)?,
            name: row.name,
            plugin: row.plugin,
            state: parse_column("stages.state", &row.state)?,
            attempt: u32::try_from(row.attempt).context("corrupt stages.attempt column")?,
            started_at: row.started_at,
            finished_at: row.finished_at,
            error: row.error,
            output_artifact: row.output_artifact,
            worker: row.worker,
        })
    }
}

const STAGE_COLUMNS: &str = "id, job_id, name, plugin, state, attempt, started_at, finished_at, \
                             error, output_artifact, worker";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    job_id: String,
    at: i64,
    kind: String,
    data_json: String,
}

impl TryFrom<EventRow> for Event {
    type Error = anyhow::Error;

    fn try_from(row: EventRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id,
            job_id: parse_column("events.job_id", &row.job_id)?,
            at: row.at,
            kind: row.kind,
            data: parse_json("events.data_json", &row.data_json)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ArtifactRow {
    key: String,
    hash: String,
    path: String,
    size: i64,
    created_at: i64,
}

impl TryFrom<ArtifactRow> for Artifact {
    type Error = anyhow::Error;

    fn try_from(row: ArtifactRow) -> anyhow::Result<Self> {
        Ok(Self {
            size: u64::try_from(row.size).context("corrupt artifacts.size column")?,
            key: row.key,
            hash: row.hash,
            path: row.path,
            created_at: row.created_at,
        })
    }
}

impl Store {
    /// Records a submitted job, `pending`, with its inputs.
    pub async fn create_job(
        &self,
        tenant: &TenantId,
        pipeline: &str,
        pipeline_sha256: &str,
        inputs: &serde_json::Value,
    ) -> anyhow::Result<Job> {
        let now = now_ms();
        let job = Job {
            id: JobId::random()?,
            tenant_id: tenant.clone(),
            pipeline: pipeline.to_owned(),
            pipeline_sha256: Some(pipeline_sha256.to_owned()),
            inputs: inputs.clone(),
            state: JobState::Pending,
            error: None,
            priority: 0,
            created_at: now,
            updated_at: now,
        };
        with_pool!(self, |pool| sqlx::query(pool.sql("INSERT INTO jobs (id, tenant_id, pipeline, pipeline_sha256, inputs_json, state, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(job.id.as_str())
        .bind(tenant.as_str())
        .bind(pipeline)
        .bind(pipeline_sha256)
        .bind(inputs.to_string())
        .bind(job.state.as_str())
        .bind(now)
        .bind(now)
        .execute(pool)
        .await.map(|done| done.rows_affected()))
        .with_context(|| format!("creating a {pipeline:?} job for tenant {tenant}"))?;
        Ok(job)
    }

    /// The tenant's job; `None` if it does not exist *or belongs to another tenant*.
    pub async fn get_job(&self, tenant: &TenantId, job: &JobId) -> anyhow::Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? AND tenant_id = ?");
        with_pool!(self, |pool| sqlx::query_as::<_, JobRow>(pool.sql(sql))
            .bind(job.as_str())
            .bind(tenant.as_str())
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("reading job {job}"))?
        .map(Job::try_from)
        .transpose()
    }

    /// The tenant's most recent jobs, newest first, at most `limit` (capped at 1000).
    pub async fn list_jobs(&self, tenant: &TenantId, limit: u32) -> anyhow::Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ? \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        );
        with_pool!(self, |pool| sqlx::query_as::<_, JobRow>(pool.sql(sql))
            .bind(tenant.as_str())
            .bind(i64::from(limit.min(MAX_LIST)))
            .fetch_all(pool)
            .await)
        .with_context(|| format!("listing jobs of tenant {tenant}"))?
        .into_iter()
        .map(Job::try_from)
        .collect()
    }

    /// How many jobs, of every tenant, are in each state (for metrics).
    pub async fn job_state_counts(&self) -> anyhow::Result<Vec<(JobState, u64)>> {
        with_pool!(self, |pool| sqlx::query_as::<_, (String, i64)>(
            pool.sql("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        )
        .fetch_all(pool)
        .await)
        .context("counting jobs by state")?
        .into_iter()
        .map(|(state, count)| {
            Ok((
                parse_column("jobs.state", &state)?,
                u64::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
    }

    /// Moves a job to `to`, recording `error` (kept only for `failed`).
    ///
    /// Legal moves: `pending -> running`, `running -> completed | failed`,
    /// `pending -> failed`. Anything else fails with
    /// [`StoreError::IllegalJobTransition`]; an unknown job (or another tenant's)
    /// with [`StoreError::NotFound`]. The check and the write are one
    /// compare-and-set `UPDATE`, so two executors cannot both start a job.
    pub async fn set_job_state(
        &self,
        tenant: &TenantId,
        job: &JobId,
        to: JobState,
        error: Option<&str>,
    ) -> anyhow::Result<Job> {
        let context = || format!("moving job {job} to {to}");
        let error = if to == JobState::Failed { error } else { None };
        for &from in to.predecessors() {
            let done = with_pool!(self, |pool| sqlx::query(pool.sql(
                "UPDATE jobs SET state = ?, error = ?, updated_at = ? \
                 WHERE id = ? AND tenant_id = ? AND state = ?"
            ))
            .bind(to.as_str())
            .bind(error)
            .bind(now_ms())
            .bind(job.as_str())
            .bind(tenant.as_str())
            .bind(from.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
            .with_context(context)?;
            if done == 1 {
                return self.get_job(tenant, job).await?.with_context(context);
            }
        }
        let current = self.get_job(tenant, job).await.with_context(context)?;
        let err = match current {
            None => StoreError::NotFound {
                what: "job",
                id: job.to_string(),
            },
            Some(current) => StoreError::IllegalJobTransition {
                job: job.clone(),
                from: current.state,
                to,
            },
        };
        Err(err.into())
    }

    /// Records the start of one attempt of a stage (`running`).
    pub async fn record_stage_start(
        &self,
        job: &JobId,
        name: &str,
        plugin: Option<&str>,
        attempt: u32,
    ) -> anyhow::Result<Stage> {
        self.insert_stage(job, name, plugin, attempt, None).await
    }

    /// [`Store::record_stage_start`] for an attempt that `worker` runs
    /// (a worker claimed the node: see [`Store::claim_node`]).
    pub async fn record_stage_start_by(
        &self,
        job: &JobId,
        name: &str,
        plugin: Option<&str>,
        attempt: u32,
        worker: &str,
    ) -> anyhow::Result<Stage> {
        self.insert_stage(job, name, plugin, attempt, Some(worker))
            .await
    }

    async fn insert_stage(
        &self,
        job: &JobId,
        name: &str,
        plugin: Option<&str>,
        attempt: u32,
        worker: Option<&str>,
    ) -> anyhow::Result<Stage> {
        let stage = Stage {
            id: StageId::random()?,
            job_id: job.clone(),
            name: name.to_owned(),
            plugin: plugin.map(str::to_owned),
            state: StageState::Running,
            attempt,
            started_at: now_ms(),
            finished_at: None,
            error: None,
            output_artifact: None,
            worker: worker.map(str::to_owned),
        };
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO stages (id, job_id, name, plugin, state, attempt, started_at, worker) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(stage.id.as_str())
        .bind(job.as_str())
        .bind(name)
        .bind(plugin)
        .bind(stage.state.as_str())
        .bind(i64::from(attempt))
        .bind(stage.started_at)
        .bind(worker)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("starting stage {name:?} (attempt {attempt}) of job {job}"))?;
        Ok(stage)
    }

    /// Marks a running stage attempt failed with `reason`, because whoever ran
    /// it stopped (a worker gave its node back, or its lease lapsed). `false`
    /// if the stage was not running (it finished, or is unknown).
    pub async fn interrupt_stage(&self, stage: &StageId, reason: &str) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE stages SET state = ?, finished_at = ?, error = ? WHERE id = ? AND state = ?"
        ))
        .bind(StageState::Failed.as_str())
        .bind(now_ms())
        .bind(reason)
        .bind(stage.as_str())
        .bind(StageState::Running.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("interrupting stage {stage}"))?;
        Ok(done == 1)
    }

    /// Sets the priority of the tenant's job ([`Job::priority`]). Another
    /// tenant's job (or an unknown one) fails with [`StoreError::NotFound`].
    pub async fn set_job_priority(
        &self,
        tenant: &TenantId,
        job: &JobId,
        priority: i64,
    ) -> anyhow::Result<()> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("UPDATE jobs SET priority = ? WHERE id = ? AND tenant_id = ?")
        )
        .bind(priority)
        .bind(job.as_str())
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("setting the priority of job {job}"))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "job",
                id: job.to_string(),
            }
            .into());
        }
        Ok(())
    }

    /// Records how a running stage attempt ended. A stage that is not running
    /// fails with [`StoreError::StageNotRunning`].
    pub async fn record_stage_finish(
        &self,
        stage: &StageId,
        outcome: &StageOutcome,
    ) -> anyhow::Result<Stage> {
        let context = || format!("finishing stage {stage}");
        let (state, error, output) = match outcome {
            StageOutcome::Completed { output_artifact } => {
                (StageState::Completed, None, output_artifact.as_deref())
            }
            StageOutcome::Failed { error } => (StageState::Failed, Some(error.as_str()), None),
        };
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE stages SET state = ?, finished_at = ?, error = ?, output_artifact = ? \
             WHERE id = ? AND state = ?"
        ))
        .bind(state.as_str())
        .bind(now_ms())
        .bind(error)
        .bind(output)
        .bind(stage.as_str())
        .bind(StageState::Running.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(context)?;
        let current = self.stage(stage).await.with_context(context)?;
        match current {
            None => Err(StoreError::NotFound {
                what: "stage",
                id: stage.to_string(),
            }
            .into()),
            Some(current) if done == 1 => Ok(current),
            Some(current) => Err(StoreError::StageNotRunning {
                stage: stage.clone(),
                state: current.state,
            }
            .into()),
        }
    }

    async fn stage(&self, stage: &StageId) -> anyhow::Result<Option<Stage>> {
        let sql = format!("SELECT {STAGE_COLUMNS} FROM stages WHERE id = ?");
        with_pool!(self, |pool| sqlx::query_as::<_, StageRow>(pool.sql(sql))
            .bind(stage.as_str())
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("reading stage {stage}"))?
        .map(Stage::try_from)
        .transpose()
    }

    /// The stage attempts of the tenant's job, in start order (empty for another
    /// tenant's job).
    pub async fn list_stages(&self, tenant: &TenantId, job: &JobId) -> anyhow::Result<Vec<Stage>> {
        let sql = "SELECT s.id, s.job_id, s.name, s.plugin, s.state, s.attempt, s.started_at, \
                   s.finished_at, s.error, s.output_artifact, s.worker \
                   FROM stages s JOIN jobs j ON j.id = s.job_id \
                   WHERE s.job_id = ? AND j.tenant_id = ? ORDER BY s.started_at, s.name, s.attempt";
        with_pool!(self, |pool| sqlx::query_as::<_, StageRow>(pool.sql(sql))
            .bind(job.as_str())
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await)
        .with_context(|| format!("listing stages of job {job}"))?
        .into_iter()
        .map(Stage::try_from)
        .collect()
    }

    /// The number the next attempt of stage `name` of `job` gets: one past the
    /// highest recorded (so a resumed job never reuses an attempt number).
    pub async fn next_attempt(&self, job: &JobId, name: &str) -> anyhow::Result<u32> {
        let max: Option<i64> = with_pool!(self, |pool| sqlx::query_scalar(
            pool.sql("SELECT MAX(attempt) FROM stages WHERE job_id = ? AND name = ?")
        )
        .bind(job.as_str())
        .bind(name)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("reading attempts of stage {name:?} of job {job}"))?;
        let max = u32::try_from(max.unwrap_or(0)).context("corrupt stages.attempt column")?;
        Ok(max + 1)
    }

    /// Marks the job's stage attempts still `running` as failed with `reason`:
    /// what a host that was killed mid-stage left behind. Returns how many.
    pub async fn fail_running_stages(&self, job: &JobId, reason: &str) -> anyhow::Result<u64> {
        let done = with_pool!(self, |pool| {
            sqlx::query(pool.sql(
            "UPDATE stages SET state = ?, finished_at = ?, error = ? WHERE job_id = ? AND state = ?"
        ))
        .bind(StageState::Failed.as_str())
        .bind(now_ms())
        .bind(reason)
        .bind(job.as_str())
        .bind(StageState::Running.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        })
        .with_context(|| format!("closing interrupted stages of job {job}"))?;
        Ok(done)
    }

    /// Every job in `state`, oldest first, across tenants (for the executor
    /// to pick up or resume).
    pub async fn jobs_in_state(&self, state: JobState, limit: u32) -> anyhow::Result<Vec<Job>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = ? ORDER BY created_at LIMIT ?");
        with_pool!(self, |pool| sqlx::query_as::<_, JobRow>(pool.sql(sql))
            .bind(state.as_str())
            .bind(i64::from(limit.min(MAX_LIST)))
            .fetch_all(pool)
            .await)
        .with_context(|| format!("listing {state} jobs"))?
        .into_iter()
        .map(Job::try_from)
        .collect()
    }

    /// Records that `tenant` uploaded content `sha256` (idempotent).
    pub async fn record_upload(
        &self,
        tenant: &TenantId,
        sha256: &str,
        size: u64,
    ) -> anyhow::Result<()> {
        let size = i64::try_from(size).context("upload size out of range")?;
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO uploads (tenant_id, sha256, size, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, sha256) DO NOTHING"
        ))
        .bind(tenant.as_str())
        .bind(sha256)
        .bind(size)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("recording an upload of tenant {tenant}"))?;
        Ok(())
    }

    /// Whether `tenant` uploaded content `sha256`.
    pub async fn has_upload(&self, tenant: &TenantId, sha256: &str) -> anyhow::Result<bool> {
        // `size`, not `SELECT 1`: a literal is INT4 in PostgreSQL, not an i64.
        let found: Option<i64> = with_pool!(self, |pool| sqlx::query_scalar(
            pool.sql("SELECT size FROM uploads WHERE tenant_id = ? AND sha256 = ?")
        )
        .bind(tenant.as_str())
        .bind(sha256)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading uploads of tenant {tenant}"))?;
        Ok(found.is_some())
    }

    /// Claims `job` for `owner`: a pending job, or a running one whose
    /// lease lapsed (no heartbeat since `stale_before`, in ms since the Unix
    /// epoch) or whose owner is `dead_owner` (a host known to have stopped).
    /// One compare-and-set `UPDATE`, so only one claimant wins; `None` when
    /// someone else holds the job (or it has ended).
    pub async fn claim_job(
        &self,
        job: &JobId,
        owner: &str,
        stale_before: i64,
        dead_owner: Option<&str>,
    ) -> anyhow::Result<Option<(Job, JobState)>> {
        let now = now_ms();
        let Some((before, _)) = self.job_by_id(job).await? else {
            return Ok(None);
        };
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE jobs SET state = ?, owner = ?, heartbeat_at = ?, updated_at = ? \
             WHERE id = ? AND (state = ? OR (state = ? AND (owner IS NULL \
             OR heartbeat_at IS NULL OR heartbeat_at < ? OR owner = ?)))"
        ))
        .bind(JobState::Running.as_str())
        .bind(owner)
        .bind(now)
        .bind(now)
        .bind(job.as_str())
        .bind(JobState::Pending.as_str())
        .bind(JobState::Running.as_str())
        .bind(stale_before)
        .bind(dead_owner.unwrap_or(""))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("claiming job {job}"))?;
        if done != 1 {
            return Ok(None);
        }
        let claimed = self
            .get_job(&before.tenant_id, job)
            .await?
            .with_context(|| format!("job {job} vanished while claimed"))?;
        Ok(Some((claimed, before.state)))
    }

    /// Gives up `owner`'s leases on the running jobs it holds (a host
    /// leaving): another host may claim them at once, not when they lapse.
    /// Answers how many it gave up.
    pub async fn release_jobs(&self, owner: &str) -> anyhow::Result<u64> {
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE jobs SET owner = NULL, heartbeat_at = NULL \
             WHERE owner = ? AND state = ?"
        ))
        .bind(owner)
        .bind(JobState::Running.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("releasing the jobs of {owner}"))
    }

    /// Who holds `job` and their last heartbeat (ms since the Unix epoch).
    pub async fn job_owner(&self, job: &JobId) -> anyhow::Result<Option<(String, i64)>> {
        Ok(self.job_by_id(job).await?.and_then(|(_, owner)| owner))
    }

    /// Keeps `owner`'s lease on a running `job`; `false` if it lost it.
    pub async fn heartbeat(&self, job: &JobId, owner: &str) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND owner = ? AND state = ?"
        ))
        .bind(now_ms())
        .bind(job.as_str())
        .bind(owner)
        .bind(JobState::Running.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("renewing the lease on job {job}"))?;
        Ok(done == 1)
    }

    async fn job_by_id(&self, job: &JobId) -> anyhow::Result<Option<(Job, Option<(String, i64)>)>> {
        let sql = format!("SELECT {JOB_COLUMNS}, owner, heartbeat_at FROM jobs WHERE id = ?");
        let row: Option<OwnedJobRow> = with_pool!(self, |pool| sqlx::query_as(pool.sql(sql))
            .bind(job.as_str())
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("reading job {job}"))?;
        row.map(|r| {
            let owner = r.owner.zip(r.heartbeat_at);
            Ok((Job::try_from(r.job)?, owner))
        })
        .transpose()
    }

    /// Appends a progress event to a job; returns its id.
    pub async fn append_event(&self, job: &JobId, event: &JobEvent) -> anyhow::Result<i64> {
        let kind = event.kind();
        // `RETURNING` is in SQLite (3.35+) and PostgreSQL alike.
        with_pool!(self, |pool| sqlx::query_scalar::<_, i64>(pool.sql(
            "INSERT INTO events (job_id, at, kind, data_json) VALUES (?, ?, ?, ?) RETURNING id"
        ))
        .bind(job.as_str())
        .bind(now_ms())
        .bind(kind)
        .bind(event.data().to_string())
        .fetch_one(pool)
        .await)
        .with_context(|| format!("recording a {kind:?} event of job {job}"))
    }

    /// The tenant's job's events after `after_id` (0 for all), oldest first, at most
    /// `limit` (capped at 1000). Another tenant's job has none.
    pub async fn events_since(
        &self,
        tenant: &TenantId,
        job: &JobId,
        after_id: i64,
        limit: u32,
    ) -> anyhow::Result<Vec<Event>> {
        with_pool!(self, |pool| sqlx::query_as::<_, EventRow>(pool.sql(
            "SELECT e.id, e.job_id, e.at, e.kind, e.data_json FROM events e \
             JOIN jobs j ON j.id = e.job_id \
             WHERE e.job_id = ? AND j.tenant_id = ? AND e.id > ? ORDER BY e.id LIMIT ?"
        ))
        .bind(job.as_str())
        .bind(tenant.as_str())
        .bind(after_id)
        .bind(i64::from(limit.min(MAX_LIST)))
        .fetch_all(pool)
        .await)
        .with_context(|| format!("reading events of job {job}"))?
        .into_iter()
        .map(Event::try_from)
        .collect()
    }

    /// Records a cached stage output under its cache key, replacing an earlier
    /// record of the same key.
    pub async fn put_artifact(&self, new: &NewArtifact) -> anyhow::Result<Artifact> {
        let artifact = Artifact {
            key: new.key.clone(),
            hash: new.hash.clone(),
            path: new.path.clone(),
            size: new.size,
            created_at: now_ms(),
        };
        let size = i64::try_from(new.size).context("artifact size out of range")?;
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO artifacts (key, hash, path, size, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, path = excluded.path, \
             size = excluded.size, created_at = excluded.created_at"
        ))
        .bind(&artifact.key)
        .bind(&artifact.hash)
        .bind(&artifact.path)
        .bind(size)
        .bind(artifact.created_at)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("recording artifact {}", new.key))?;
        Ok(artifact)
    }

    /// The cached output for a stage cache key, if any.
    pub async fn artifact_by_key(&self, key: &str) -> anyhow::Result<Option<Artifact>> {
        with_pool!(self, |pool| sqlx::query_as::<_, ArtifactRow>(pool.sql(
            "SELECT key, hash, path, size, created_at FROM artifacts WHERE key = ?"
        ))
        .bind(key)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("reading artifact {key}"))?
        .map(Artifact::try_from)
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            JobState::Pending,
            JobState::Running,
            JobState::Completed,
            JobState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
        }
        for s in [
            StageState::Running,
            StageState::Completed,
            StageState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<StageState>(), Ok(s));
        }
        assert!("done".parse::<JobState>().is_err());
    }

    #[test]
    fn transitions() {
        use JobState::*;
        assert!(Pending.can_become(Running));
        assert!(Running.can_become(Completed));
        assert!(Running.can_become(Failed));
        assert!(Pending.can_become(Failed));
        assert!(!Pending.can_become(Completed));
        assert!(!Completed.can_become(Running));
        assert!(!Failed.can_become(Running));
        assert!(!Running.can_become(Pending));
        assert!(!Running.can_become(Running));
    }
}
