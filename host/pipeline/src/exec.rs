//! The executor: runs a job's stage graph on tokio, every stage output an
//! artifact cached by (op, params, plugin name@version, config, input
//! hashes), so an identical stage is never recomputed and a job whose host
//! was killed resumes from its last finished stage.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::artifacts::{ArtifactRef, Artifacts, is_sha256};
use super::catalog::{Catalog, Pipeline};
use super::ops::{self, Input, Notes, OpCx, OpError, Placements, StageOp};
use super::owner;
use super::slots::{Resolver, SlotPlugin};
use super::spec::{InputKind, PipelineSpec, StageSpec, input_name};
use kino_models::Models;
use kino_runtime::World;
use kino_runtime::types::{Decision, Failure};
use kino_store::{Job, JobEvent, JobId, JobState, NewArtifact, StageOutcome, Store, TenantId};

/// How long a job (or a node) stays claimed by a host that stopped
/// renewing it, unless the executor is given another lease.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Where an executor runs its jobs' nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// In this process, as the graph reaches them: one host, one store.
    Here,
    /// On the store's node queue, for whichever worker (this process's or
    /// another machine's) claims them first ([`crate::nodes`]); this
    /// process only advances the graph.
    Queue,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This process's name as a job owner: `host:pid:nonce`.
fn owner_name() -> String {
    let nonce: u32 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}:{}:{nonce:08x}", owner::hostname(), std::process::id())
}

/// Whether `owner` was a process on this machine that no longer exists (a
/// killed `kino run`): its jobs need not wait for the lease to lapse.
fn owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    pid.parse::<u32>()
        .is_ok_and(|pid| owner::is_gone(host, pid))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The slot of the tenant's fallback policy.
pub const FALLBACK_SLOT: &str = "fallback-policy";

/// Attempts per stage before the executor stops asking the fallback policy.
const MAX_ATTEMPTS: u32 = 6;

/// The longest retry delay the executor honours from a fallback policy.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// One job input as recorded on the job: a stored file or a text value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobInput {
    /// A file in the artifact store.
    File {
        /// SHA-256 of its content.
        sha256: String,
        /// Its original file name, for messages.
        name: String,
    },
    /// A text value.
    Text(String),
}

/// Sees every event of the jobs an executor runs, as it is recorded: the
/// CLI's progress bars, the API's metrics. Any `Fn(&JobId, &JobEvent)` is one.
pub trait Reporter: Send + Sync {
    /// `event` happened to `job` (it is already in the store).
    fn report(&self, job: &JobId, event: &JobEvent);
}

impl<F: Fn(&JobId, &JobEvent) + Send + Sync> Reporter for F {
    fn report(&self, job: &JobId, event: &JobEvent) {
        self(job, event)
    }
}

/// A shared [`Reporter`].
pub type Observer = Arc<dyn Reporter>;

/// What a finished job delivered, and how each stage went.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The job.
    pub job: JobId,
    /// Delivered files: name -> path (under the job's output directory).
    pub outputs: BTreeMap<String, PathBuf>,
    /// Every stage node run or reused, in finishing order.
    pub nodes: Vec<NodeReport>,
}

/// How one stage node went.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// `stage` or `stage[i]` for a fanned-out stage.
    pub node: String,
    /// Whether the output came from the cache.
    pub cached: bool,
    /// How long it ran, in milliseconds (0 when cached).
    pub ms: u64,
}

/// Runs jobs.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    /// This executor's name as a job owner.
    owner: String,
    /// How long its claims last without a heartbeat.
    lease: Duration,
    /// Where its nodes run.
    dispatch: Dispatch,
    store: Store,
    artifacts: Artifacts,
    resolver: Resolver,
    jobs_dir: PathBuf,
    cpu: Arc<Semaphore>,
    observer: Option<Observer>,
    models: Arc<Models>,
    devices: Arc<kino_cuda::Pool>,
    catalog: Catalog,
}

impl Executor {
    /// An executor keeping artifacts under `data_dir/artifacts` and job
    /// outputs under `data_dir/jobs/<job>/`, running at most `parallel`
    /// stage nodes at once; the operator's pipelines are the spec files in
    /// `data_dir/pipelines/` and its native kernels the libraries in
    /// `data_dir/kernels/` (loaded now).
    pub fn new(
        store: Store,
        resolver: Resolver,
        data_dir: &Path,
        parallel: usize,
        observer: Option<Observer>,
    ) -> Result<Self> {
        let artifacts = Artifacts::open(data_dir.join("artifacts"))?;
        sweep(&artifacts);
        let devices = kino_cuda::Pool::from_env().map_err(|e| anyhow::anyhow!(e))?;
        match devices.no_gpu() {
            Some(why) => tracing::info!("kernels run on the CPU: {why}"),
            None => tracing::info!(
                "kernels run on the GPUs {:?} (ordinal, budget in bytes)",
                devices.budgets()
            ),
        }
        devices.warm_up();
        Ok(Self {
            inner: Arc::new(Inner {
                owner: owner_name(),
                lease: DEFAULT_LEASE,
                dispatch: Dispatch::Here,
                store,
                artifacts,
                resolver,
                jobs_dir: data_dir.join("jobs"),
                cpu: Arc::new(Semaphore::new(parallel.max(1))),
                observer,
                models: Arc::new(Models::for_data_dir(data_dir)),
                devices: Arc::new(devices),
                catalog: Catalog::new(
                    Some(data_dir.join("pipelines")),
                    kino_native::NativeKernels::load_dir(&data_dir.join("kernels"))
                        .context("loading the native kernels")?,
                ),
            }),
        })
    }

    /// Uses `models` (the repository and the models loaded from it) instead
    /// of the data directory's (`$KINO_MODELS` or `data_dir/models`). Call
    /// it before the executor is shared.
    pub fn with_models(mut self, models: Arc<Models>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.models = models,
            None => tracing::warn!("with_models on a shared executor: keeping its models"),
        }
        self
    }

    /// Uses `devices` to place kernel calls instead of the pool made from
    /// this host's GPUs and `KINO_DEVICE`. Call it before the executor is
    /// shared.
    pub fn with_devices(mut self, devices: Arc<kino_cuda::Pool>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.devices = devices,
            None => tracing::warn!("with_devices on a shared executor: keeping its pool"),
        }
        self
    }

    /// Uses `catalog` for the pipelines jobs can be submitted to (and the
    /// native kernels they run). Call it before the executor is shared.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.catalog = catalog,
            None => tracing::warn!("with_catalog on a shared executor: keeping its catalog"),
        }
        self
    }

    /// Runs its nodes as `dispatch` says, its claims lasting `lease`
    /// without a heartbeat (renewed every sixth of it). Call it before the
    /// executor is shared.
    pub fn with_dispatch(mut self, dispatch: Dispatch, lease: Duration) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.dispatch = dispatch;
                inner.lease = lease.max(Duration::from_millis(600));
            }
            None => tracing::warn!("with_dispatch on a shared executor: keeping its dispatch"),
        }
        self
    }

    /// Shares artifacts with other hosts through `shared`, the data
    /// directory's `artifacts/` being its local cache. Call it before the
    /// executor is shared.
    pub fn with_shared_artifacts(mut self, shared: crate::artifacts::Remote) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.artifacts = inner.artifacts.clone().with_shared(shared),
            None => tracing::warn!("with_shared_artifacts on a shared executor: not sharing"),
        }
        self
    }

    /// Where its nodes run.
    pub fn dispatch(&self) -> Dispatch {
        self.inner.dispatch
    }

    /// How long its claims last without a heartbeat.
    pub fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// This executor's name as the owner of jobs and nodes it claims.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// The plugin resolver.
    pub(crate) fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    /// The pipelines jobs can be submitted to.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The plugin runtime its stages call.
    pub fn runtime(&self) -> &kino_runtime::Runtime {
        self.inner.resolver.runtime()
    }

    /// The models its stages use.
    pub fn models(&self) -> &Arc<Models> {
        &self.inner.models
    }

    /// The pool that places kernel calls on devices.
    pub fn devices(&self) -> &Arc<kino_cuda::Pool> {
        &self.inner.devices
    }

    /// The artifact store.
    pub fn artifacts(&self) -> &Artifacts {
        &self.inner.artifacts
    }

    /// Where a job's outputs are delivered.
    pub fn job_dir(&self, job: &JobId) -> PathBuf {
        self.inner.jobs_dir.join(job.as_str())
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Checks `inputs` against the pipeline, stores file inputs as
    /// artifacts and records a pending job.
    pub async fn submit_local(
        &self,
        tenant: &TenantId,
        pipeline: &Pipeline,
        files: &BTreeMap<String, PathBuf>,
        texts: &BTreeMap<String, String>,
    ) -> Result<Job> {
        let mut inputs = BTreeMap::new();
        for (name, path) in files {
            let artifacts = self.inner.artifacts.clone();
            let p = path.clone();
            let stored = tokio::task::spawn_blocking(move || {
                if !p.is_file() {
                    bail!(
                        "input file {} does not exist (or is not a regular file)",
                        p.display()
                    );
                }
                let scratch = artifacts.scratch()?;
                let copy = scratch.path().join("input");
                std::fs::copy(&p, &copy).with_context(|| format!("reading {}", p.display()))?;
                artifacts.put_file(&copy)
            })
            .await
            .context("storing an input")?
            .with_context(|| format!("input `{name}`"))?;
            self.inner.artifacts.publish(&stored).await?;
            let file_name = path
                .file_name()
                .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
            inputs.insert(
                name.clone(),
                JobInput::File {
                    sha256: stored.hash,
                    name: file_name,
                },
            );
        }
        for (name, text) in texts {
            inputs.insert(name.clone(), JobInput::Text(text.clone()));
        }
        check_inputs(&pipeline.spec, &inputs)?;
        self.submit(tenant, pipeline, &inputs).await
    }

    /// Records a pending job of `pipeline` with checked `inputs` (files
    /// already stored): the spec's text is stored under its hash, which the
    /// job records, so the job always runs the spec it was submitted with.
    pub async fn submit(
        &self,
        tenant: &TenantId,
        pipeline: &Pipeline,
        inputs: &BTreeMap<String, JobInput>,
    ) -> Result<Job> {
        let stored = self.inner.artifacts.put_bytes(pipeline.text.as_bytes())?;
        debug_assert_eq!(stored.hash, pipeline.sha256);
        // Whichever host runs the job reads the spec from the shared store.
        self.inner.artifacts.publish(&stored).await?;
        let json = serde_json::to_value(inputs).context("encoding job inputs")?;
        let job = self
            .inner
            .store
            .create_job(tenant, pipeline.name(), &pipeline.sha256, &json)
            .await?;
        self.inner
            .store
            .append_event(
                &job.id,
                &JobEvent::Created {
                    pipeline: pipeline.name().to_owned(),
                    state: Some(job.state),
                    edit_of: None,
                },
            )
            .await?;
        Ok(job)
    }

    /// The spec `job` runs: the one it was submitted with.
    pub fn spec_of(&self, job: &Job) -> Result<PipelineSpec> {
        let Some(sha256) = &job.pipeline_sha256 else {
            // Recorded before jobs kept their spec: only built-ins existed.
            return PipelineSpec::built_in(&job.pipeline);
        };
        let artifact = self.inner.artifacts.get(sha256).ok_or_else(|| {
            anyhow!(
                "the spec of pipeline `{}` that job {} was submitted with is missing from the artifact store",
                job.pipeline,
                job.id
            )
        })?;
        let text = std::fs::read_to_string(&artifact.path)
            .with_context(|| format!("reading the spec of job {}", job.id))?;
        self.inner.catalog.recorded(&job.pipeline, sha256, &text)
    }

    /// The hash of the spec `job` runs, recording a built-in's for a job
    /// from before jobs kept their spec.
    pub(crate) fn spec_sha256_of(&self, job: &Job) -> Result<String> {
        if let Some(sha256) = &job.pipeline_sha256 {
            return Ok(sha256.clone());
        }
        let pipeline = self.inner.catalog.get(&job.tenant_id, &job.pipeline)?;
        self.inner.artifacts.put_bytes(pipeline.text.as_bytes())?;
        Ok(pipeline.sha256)
    }

    /// [`Executor::submit_local`], with `bindings` over the tenant's for this
    /// job only (and its resumes); they are checked before anything is stored.
    pub async fn submit_local_bound(
        &self,
        tenant: &TenantId,
        pipeline: &Pipeline,
        files: &BTreeMap<String, PathBuf>,
        texts: &BTreeMap<String, String>,
        bindings: &BTreeMap<String, crate::slots::JobBinding>,
    ) -> Result<Job> {
        let checked = self
            .inner
            .resolver
            .check_job_bindings(&pipeline.spec, bindings)?;
        let job = self.submit_local(tenant, pipeline, files, texts).await?;
        for binding in &checked {
            self.inner.store.set_job_binding(&job.id, binding).await?;
        }
        Ok(job)
    }

    /// Claims `job` for this executor: a pending job, or a running one whose
    /// host stopped (its lease lapsed, or it was a process on this machine
    /// that no longer exists). Answers the claimed job and the state it was
    /// in; `None` when another host is running it or it has ended.
    pub async fn claim(&self, job: &Job) -> Result<Option<(Job, JobState)>> {
        let store = &self.inner.store;
        let stale_before =
            now_ms() - i64::try_from(self.inner.lease.as_millis()).unwrap_or(i64::MAX);
        let dead = store
            .job_owner(&job.id)
            .await?
            .map(|(owner, _)| owner)
            .filter(|owner| owner_is_gone(owner));
        store
            .claim_job(&job.id, &self.inner.owner, stale_before, dead.as_deref())
            .await
    }

    /// Runs (or resumes) a job to its end, recording states, stage attempts
    /// and events. A failed job is recorded as failed and returned as `Err`;
    /// a job another host is running is refused.
    pub async fn run(&self, job: &Job) -> Result<JobReport> {
        let Some((claimed, was)) = self.claim(job).await? else {
            let now = self.inner.store.get_job(&job.tenant_id, &job.id).await?;
            let holder = self.inner.store.job_owner(&job.id).await?;
            match (now, holder) {
                (Some(j), _) if j.state.is_terminal() => {
                    bail!("job {} has already {}", j.id, j.state)
                }
                (_, Some((owner, at))) => bail!(
                    "job {} is being run by {owner} (its last heartbeat was {} s ago)",
                    job.id,
                    (now_ms() - at) / 1000
                ),
                _ => bail!("job {} could not be claimed", job.id),
            }
        };
        self.run_claimed(&claimed, was).await
    }

    /// Runs a job [`Executor::claim`] gave this executor; `was` is the state
    /// it was claimed from.
    pub async fn run_claimed(&self, job: &Job, was: JobState) -> Result<JobReport> {
        let store = &self.inner.store;
        // The lease is kept while the job runs, and dropped with this guard.
        let heartbeat = {
            let (store, id, owner) = (store.clone(), job.id.clone(), self.inner.owner.clone());
            let every = self.inner.lease / 6;
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match store.heartbeat(&id, &owner).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(job = %id, "renewing the job's lease: {e:#}"),
                    }
                }
            }))
        };
        if was == JobState::Running {
            // Queued nodes' attempts belong to their workers, whose leases
            // say when they stopped; only this host's own can be closed here.
            let interrupted = match self.inner.dispatch {
                Dispatch::Here => {
                    store
                        .fail_running_stages(
                            &job.id,
                            "interrupted: the host stopped during the stage",
                        )
                        .await?
                }
                Dispatch::Queue => 0,
            };
            self.event(
                &job.id,
                JobEvent::Resumed {
                    interrupted_stages: interrupted,
                },
            )
            .await;
        }
        let result = self.finish(job).await;
        drop(heartbeat);
        result
    }

    async fn finish(&self, job: &Job) -> Result<JobReport> {
        let store = &self.inner.store;
        let names = Arc::new(Names::new(&self.inner.artifacts, &self.inner.jobs_dir));
        match self.run_graph(job, &names).await {
            Ok(report) => {
                store
                    .set_job_state(&job.tenant_id, &job.id, JobState::Completed, None)
                    .await?;
                // Names only: events reach tenants, host paths must not.
                let outputs = report.outputs.keys().cloned().collect();
                self.event(&job.id, JobEvent::Completed { outputs }).await;
                Ok(report)
            }
            Err(error) => {
                // Tenants read it: their files by their names, no host paths.
                let message = names.redact(&format!("{error:#}"));
                store
                    .set_job_state(&job.tenant_id, &job.id, JobState::Failed, Some(&message))
                    .await?;
                self.event(&job.id, JobEvent::Failed { error: message })
                    .await;
                Err(error)
            }
        }
    }

    async fn event(&self, job: &JobId, event: JobEvent) {
        if let Err(e) = self.inner.store.append_event(job, &event).await {
            tracing::warn!(%job, kind = event.kind(), "could not record an event: {e:#}");
        }
        if let Some(observer) = &self.inner.observer {
            observer.report(job, &event);
        }
    }

    async fn run_graph(&self, job: &Job, names: &Arc<Names>) -> Result<JobReport> {
        // Submitted on another host, perhaps: its spec is in the shared store.
        if let Some(sha256) = &job.pipeline_sha256 {
            self.inner.artifacts.fetch(sha256).await?;
        }
        let spec = Arc::new(self.spec_of(job)?);
        let inputs: BTreeMap<String, JobInput> =
            serde_json::from_value(job.inputs.clone()).context("reading the job's inputs")?;
        check_inputs(&spec, &inputs)?;
        // Every input and finished stage by name: a stage's output is one file,
        // or one per element for `each`.
        let mut done: HashMap<String, Input> = HashMap::new();
        for (name, decl) in &spec.inputs {
            let value = match (inputs.get(name), decl.kind) {
                (Some(JobInput::File { sha256, name: file }), _) => {
                    let artifact = self.inner.artifacts.find(sha256).await?.ok_or_else(|| {
                        anyhow!("input `{name}` ({file}) is missing from the artifact store")
                    })?;
                    names.add(&artifact.path, file.clone());
                    Input::File(artifact)
                }
                (Some(JobInput::Text(t)), _) => Input::Text(t.clone()),
                (None, InputKind::Text) => match &decl.default {
                    Some(d) => Input::Text(d.clone()),
                    None => Input::Absent,
                },
                (None, InputKind::File) => Input::Absent,
            };
            done.insert(name.clone(), value);
        }

        let mut pending: Vec<StageSpec> = spec.order()?.into_iter().cloned().collect();
        let stages = pending.len() as u64;
        self.event(&job.id, JobEvent::Planned { stages }).await;
        let mut running = JoinSet::new();
        let mut nodes = Vec::new();
        while !pending.is_empty() || !running.is_empty() {
            let (ready, waiting): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .partition(|s| s.dependencies().all(|d| done.contains_key(d)));
            pending = waiting;
            for stage in ready {
                let this = self.clone();
                let run = Run {
                    job: job.clone(),
                    names: names.clone(),
                };
                let stage_inputs: Vec<Input> = stage
                    .inputs
                    .iter()
                    .map(|i| done[input_name(i).0].clone())
                    .collect();
                let each = stage
                    .each_source()
                    .map(|(s, f)| (done[s].clone(), f.map(str::to_owned)));
                running.spawn(async move {
                    let result = this.run_stage(&run, &stage, stage_inputs, each).await;
                    (stage.name.clone(), result)
                });
            }
            let Some(joined) = running.join_next().await else {
                if !pending.is_empty() {
                    bail!(
                        "stages {:?} can never run",
                        pending.iter().map(|s| &s.name).collect::<Vec<_>>()
                    );
                }
                break;
            };
            let (name, result) = joined.context("a stage task panicked")?;
            let (out, mut reports) = match result {
                Ok(finished) => finished,
                Err(error) => {
                    // Let the stages already running finish (their kernels
                    // cannot be stopped mid-way, and their rows must close)
                    // before the job is failed; schedule nothing new.
                    while running.join_next().await.is_some() {}
                    return Err(error);
                }
            };
            nodes.append(&mut reports);
            match &out {
                Input::File(a) => names.add(&a.path, format!("the output of stage `{name}`")),
                Input::Files(all) => {
                    for (i, a) in all.iter().enumerate() {
                        names.add(&a.path, format!("the output of `{name}[{i}]`"));
                    }
                }
                Input::Text(_) | Input::Absent => {}
            }
            done.insert(name, out);
        }

        let dir = self.job_dir(&job.id);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut outputs = BTreeMap::new();
        for (file, stage) in &spec.outputs {
            let Input::File(artifact) = &done[stage] else {
                bail!("output `{file}` names stage `{stage}`, which has one output per element");
            };
            let artifact = self
                .inner
                .artifacts
                .fetch(&artifact.hash)
                .await?
                .ok_or_else(|| anyhow!("output `{file}` is missing from the artifact store"))?;
            // Any host can serve it, by this key, whoever ran the job.
            self.inner
                .store
                .put_artifact(&NewArtifact {
                    key: output_key(&job.id, file),
                    hash: artifact.hash.clone(),
                    path: artifact.path.display().to_string(),
                    size: std::fs::metadata(&artifact.path).map_or(0, |m| m.len()),
                })
                .await?;
            let to = dir.join(file);
            // A hard link where possible: the artifact is immutable.
            let _ = std::fs::remove_file(&to);
            if std::fs::hard_link(&artifact.path, &to).is_err() {
                std::fs::copy(&artifact.path, &to)
                    .with_context(|| format!("writing {}", to.display()))?;
            }
            outputs.insert(file.clone(), to);
        }
        Ok(JobReport {
            job: job.id.clone(),
            outputs,
            nodes,
        })
    }

    async fn run_stage(
        &self,
        run: &Run,
        stage: &StageSpec,
        inputs: Vec<Input>,
        each: Option<(Input, Option<String>)>,
    ) -> Result<(Input, Vec<NodeReport>)> {
        let job = &run.job;
        let inputs: Arc<Vec<Input>> = Arc::new(inputs);
        let plugin = match (&stage.slot, stage.op.world()) {
            // A slot whose op has a host-made form (captions styled by the
            // host) may stay empty: the stage says so and runs without one.
            (Some(slot), Some(world)) if stage.op.plugin_optional() => {
                let found = self
                    .inner
                    .resolver
                    .slot(&job.tenant_id, &job.id, slot, world)
                    .await;
                match found {
                    Ok(Some(p)) => Some(p),
                    Ok(None) if stage.op.host_form_is_default() => None,
                    Ok(None) | Err(_) => {
                        let why = match found {
                            Err(e) => format!("{e:#}"),
                            _ => format!("no plugin is bound to slot `{slot}`"),
                        };
                        let note = format!("{why}; the host's own form is used");
                        let stage = stage.name.clone();
                        self.event(&job.id, JobEvent::StageNote { stage, note })
                            .await;
                        None
                    }
                }
            }
            (Some(slot), Some(world)) => Some(
                self.inner
                    .resolver
                    .slot(&job.tenant_id, &job.id, slot, world)
                    .await?
                    .ok_or_else(|| {
                        anyhow!(
                            "stage `{}`: no plugin is bound to slot `{slot}` for this tenant",
                            stage.name
                        )
                    })?,
            ),
            _ => None,
        };
        if let Some(p) = plugin.as_ref().filter(|p| p.yanked) {
            let note = format!(
                "{} is yanked: this slot's binding was made before the yank and keeps it until it is rebound",
                p.id
            );
            tracing::warn!(job = %job.id, stage = %stage.name, "{note}");
            let stage = stage.name.clone();
            self.event(&job.id, JobEvent::StageNote { stage, note })
                .await;
        }
        let plugin = match &stage.op {
            StageOp::Native(name) => Some(Worker::Native(
                self.inner.catalog.kernels().get(name).ok_or_else(|| {
                    anyhow!(
                        "stage `{}`: no native kernel `{name}` is installed",
                        stage.name
                    )
                })?,
            )),
            StageOp::Builtin(_) => plugin.map(Worker::Plugin),
        };
        let choice = match (&stage.op, &plugin) {
            (StageOp::Native(name), _) => Choice::Native(name.clone()),
            (StageOp::Builtin(_), Some(_)) => Choice::Slot,
            (StageOp::Builtin(_), None) => Choice::None,
        };
        let Some((source, field)) = each else {
            let (artifact, report) = self
                .run_node(run, stage, &stage.name, None, &inputs, plugin, choice)
                .await?;
            return Ok((Input::File(artifact), vec![report]));
        };
        // Run elsewhere, perhaps: the elements are read here.
        let source = source.fetched(&self.inner.artifacts).await?;
        let items = each_items(&stage.name, &source, field.as_deref())?;
        let count = items.len();
        self.event(
            &job.id,
            JobEvent::FannedOut {
                stage: stage.name.clone(),
                nodes: count as u64,
            },
        )
        .await;
        let runs = items.into_iter().enumerate().map(|(i, item)| {
            let node = format!("{}[{i}]", stage.name);
            let (plugin, choice) = (plugin.clone(), choice.clone());
            // `name[]` inputs give each node its own element.
            let inputs = stage
                .inputs
                .iter()
                .zip(inputs.iter())
                .map(|(name, input)| match (input_name(name).1, input) {
                    (true, Input::Files(all)) if all.len() == count => {
                        Ok(Input::File(all[i].clone()))
                    }
                    (true, _) => Err(anyhow!(
                        "stage `{}`: `{name}` does not have one output per element ({count})",
                        stage.name
                    )),
                    (false, input) => Ok(input.clone()),
                })
                .collect::<Result<Vec<_>>>()
                .map(Arc::new);
            async move {
                let inputs = inputs?;
                self.run_node(run, stage, &node, Some((i, item)), &inputs, plugin, choice)
                    .await
            }
        });
        let mut artifacts = Vec::new();
        let mut reports = Vec::new();
        for result in futures::future::join_all(runs).await {
            let (artifact, report) = result?;
            artifacts.push(artifact);
            reports.push(report);
        }
        Ok((Input::Files(artifacts), reports))
    }

    /// Runs one node: from the cache if its key is known, else the op (here
    /// or on the node queue, as the executor dispatches), with the fallback
    /// policy deciding after each failure of a plugin op.
    #[allow(clippy::too_many_arguments)]
    async fn run_node(
        &self,
        run: &Run,
        stage: &StageSpec,
        node: &str,
        item: Option<(usize, Value)>,
        inputs: &Arc<Vec<Input>>,
        mut worker: Option<Worker>,
        mut choice: Choice,
    ) -> Result<(ArtifactRef, NodeReport)> {
        let job = &run.job;
        let store = &self.inner.store;
        let mut fallback: Option<Option<SlotPlugin>> = None;
        loop {
            // A bound lipsync plugin syncs, and a bound clip generator
            // films, without the host's model.
            let plugin_instead = worker.is_some()
                && matches!(
                    stage.op.builtin(),
                    Some(ops::Op::Lipsync | ops::Op::LipsyncScene | ops::Op::RenderScene)
                );
            let models = stage
                .op
                .builtin()
                .filter(|_| !plugin_instead)
                .and_then(|op| {
                    ops::speech::model_identity(op, &stage.params, inputs, &self.inner.models)
                });
            let needs = crate::nodes::needs(worker.as_ref(), models.as_ref());
            let key = cache_key(stage, worker.as_ref(), inputs, item.as_ref(), models)?;
            if let Some(hit) = store.artifact_by_key(&key).await?
                && let Some(artifact) = self.inner.artifacts.find(&hit.hash).await?
            {
                let stage = node.to_owned();
                self.event(&job.id, JobEvent::StageCached { stage }).await;
                let report = NodeReport {
                    node: node.to_owned(),
                    cached: true,
                    ms: 0,
                };
                return Ok((artifact, report));
            }

            let Attempted {
                attempt,
                ms,
                result,
            } = match self.inner.dispatch {
                Dispatch::Here => {
                    let mine = Attempt {
                        stage,
                        node,
                        item: &item,
                        inputs,
                        key: &key,
                    };
                    self.attempt(run, mine, worker.clone(), None)
                        .await?
                        .context("an attempt of this host's own was taken from it")?
                }
                Dispatch::Queue => {
                    let task = crate::nodes::Task::new(
                        stage,
                        node,
                        &item,
                        inputs,
                        choice.clone(),
                        worker.as_ref().map(Worker::id),
                    );
                    crate::nodes::dispatch(self, job, node, &key, &task, needs).await?
                }
            };
            let error = match result {
                Ok(artifact) => {
                    let report = NodeReport {
                        node: node.to_owned(),
                        cached: false,
                        ms,
                    };
                    return Ok((artifact, report));
                }
                Err(error) => error,
            };
            let failed = || anyhow!("stage `{node}` failed: {}", error.message);
            // Only what a plugin or native kernel did goes to the policy:
            // the host failing on its input (an image it cannot decode)
            // fails the same way every time, whichever plugin is bound.
            let Some(current) = worker.as_ref().filter(|_| error.plugin_outcome.is_some()) else {
                return Err(failed());
            };
            if fallback.is_none() {
                fallback = Some(
                    self.inner
                        .resolver
                        .slot(
                            &job.tenant_id,
                            &job.id,
                            FALLBACK_SLOT,
                            World::FallbackPolicy,
                        )
                        .await
                        .map_err(|e| {
                            anyhow!(
                                "stage `{node}` failed: {}; no fallback policy could be loaded: {e:#}",
                                error.message
                            )
                        })?,
                );
            }
            let Some(Some(policy)) = &fallback else {
                return Err(failed());
            };
            if attempt >= MAX_ATTEMPTS {
                return Err(failed().context(format!("gave up after {attempt} attempts")));
            }
            let failure = Failure {
                stage: node.to_owned(),
                // A backup binding says so (semver build metadata), so that
                // a policy does not switch to the backup it is running.
                plugin: match choice {
                    Choice::Backup => format!("{}+{}", current.id(), crate::slots::BACKUP),
                    _ => current.id(),
                },
                attempt,
                error: error.message.clone(),
                retryable: error.retryable,
                elapsed_ms: ms,
            };
            let decision = self
                .inner
                .resolver
                .runtime()
                .fallback(&policy.plugin, &policy.call)?
                .decide(&failure)
                .await
                .map_err(|trap| {
                    failed().context(format!("the fallback policy {} trapped: {trap}", policy.id))
                })?;
            kino_runtime::answers::decision(&decision).map_err(|e| {
                failed().context(format!(
                    "the fallback policy {} answered badly: {e}",
                    policy.id
                ))
            })?;
            self.event(
                &job.id,
                JobEvent::Fallback {
                    stage: node.to_owned(),
                    policy: policy.id.clone(),
                    decision: describe(&decision),
                },
            )
            .await;
            match decision {
                Decision::RetryAfterMs(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms).min(MAX_RETRY_DELAY)).await;
                }
                Decision::SwitchTo(requirement) => {
                    let Worker::Plugin(current) = current else {
                        return Err(failed().context(format!(
                            "the fallback policy wanted to switch to {requirement}: a native kernel has no alternative"
                        )));
                    };
                    let world = current.plugin.world();
                    let switched = if requirement == crate::slots::BACKUP {
                        choice = Choice::Backup;
                        self.backup(job, stage, world).await.with_context(failed)?
                    } else {
                        choice = Choice::Alternative;
                        self.inner
                            .resolver
                            .alternative(&job.tenant_id, &job.id, &requirement, world)
                            .await
                            .with_context(failed)
                            .with_context(|| format!("switching to {requirement}"))?
                    };
                    worker = Some(Worker::Plugin(switched));
                }
                Decision::Degrade(reason) => {
                    // The host's own form, here: its inputs come here first.
                    let mut local = Vec::with_capacity(inputs.len());
                    for input in inputs.iter() {
                        local.push(input.fetched(&self.inner.artifacts).await?);
                    }
                    let cx = self.op_cx(job, stage, node, &item, &Arc::new(local), None, &key);
                    let artifact = ops::degrade(&stage.op, cx)
                        .await
                        .ok_or_else(|| failed().context(format!("op `{}` has no degraded form; the policy wanted to degrade: {reason}", stage.op)))?
                        .map_err(|e| anyhow!("stage `{node}`: degrading: {}", e.message))?;
                    self.inner.artifacts.publish(&artifact).await?;
                    self.event(
                        &job.id,
                        JobEvent::StageDegraded {
                            stage: node.to_owned(),
                            reason: reason.clone(),
                        },
                    )
                    .await;
                    let report = NodeReport {
                        node: node.to_owned(),
                        cached: false,
                        ms,
                    };
                    return Ok((artifact, report));
                }
                Decision::Fail(reason) => {
                    return Err(
                        failed().context(format!("the fallback policy failed the job: {reason}"))
                    );
                }
            }
        }
    }

    /// The plugin the tenant binds as the backup of `stage`'s slot.
    pub(crate) async fn backup(
        &self,
        job: &Job,
        stage: &StageSpec,
        world: World,
    ) -> Result<SlotPlugin> {
        self.backup_pinned(job, stage, world, None).await
    }

    /// [`Executor::backup`], held to exactly `pin` (`name@version`) when
    /// given: what a worker running the node elsewhere loads.
    pub(crate) async fn backup_pinned(
        &self,
        job: &Job,
        stage: &StageSpec,
        world: World,
        pin: Option<&str>,
    ) -> Result<SlotPlugin> {
        let slot = stage
            .slot
            .as_deref()
            .with_context(|| format!("stage `{}` has no slot to back up", stage.name))?;
        let backup = crate::slots::backup_slot(slot);
        self.inner
            .resolver
            .slot_pinned(&job.tenant_id, &job.id, &backup, world, pin)
            .await?
            .with_context(|| {
                format!("switching to the backup of slot `{slot}`: the tenant binds no `{backup}`")
            })
    }

    /// Makes one attempt at a node, here: its stage row, its events, the op,
    /// and its output in the cache. With `claim` (a worker running a node it
    /// claimed from the queue), the outcome is committed to the node row
    /// first, and only while the claim's lease holds: `None` when it was
    /// lost, the attempt then recorded as interrupted and its outcome kept
    /// from the job (another worker has the node by then).
    pub(crate) async fn attempt(
        &self,
        run: &Run,
        at: Attempt<'_>,
        worker: Option<Worker>,
        claim: Option<&Claim<'_>>,
    ) -> Result<Option<Attempted>> {
        let Attempt {
            stage,
            node,
            item,
            inputs,
            key,
        } = at;
        let (job, names) = (&run.job, &run.names);
        let store = &self.inner.store;
        // A CPU slot before the attempt starts: its row and its time are
        // the run, not the wait for a core.
        let permit = self.inner.cpu.acquire().await.context("executor closed")?;
        let attempt = store.next_attempt(&job.id, node).await?;
        let plugin_id = worker.as_ref().map(Worker::id);
        let row = match claim {
            None => {
                store
                    .record_stage_start(&job.id, node, plugin_id.as_deref(), attempt)
                    .await?
            }
            Some(claim) => {
                let row = store
                    .record_stage_start_by(
                        &job.id,
                        node,
                        plugin_id.as_deref(),
                        attempt,
                        claim.worker,
                    )
                    .await?;
                if !store
                    .link_node_stage(claim.node, claim.worker, &row.id)
                    .await?
                {
                    store.interrupt_stage(&row.id, LEASE_LOST).await?;
                    return Ok(None);
                }
                row
            }
        };
        self.event(
            &job.id,
            JobEvent::StageStarted {
                stage: node.to_owned(),
                attempt,
                plugin: plugin_id.clone(),
            },
        )
        .await;
        let started = Instant::now();
        let cx = self.op_cx(job, stage, node, item, inputs, worker, key);
        let (notes, placements) = (cx.notes.clone(), cx.placements.clone());
        let result = ops::run(&stage.op, cx).await;
        let mut notes = std::mem::take(&mut *notes.lock().unwrap_or_else(PoisonError::into_inner));
        let placements =
            std::mem::take(&mut *placements.lock().unwrap_or_else(PoisonError::into_inner));
        for error in placements.fallbacks() {
            notes.push(format!("a GPU kernel fell back to the CPU: {error}"));
        }
        let device = placements.summary();
        for note in notes {
            let stage = node.to_owned();
            self.event(&job.id, JobEvent::StageNote { stage, note })
                .await;
        }
        drop(permit);
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(artifact) => {
                // Shared before it is recorded: a cache row must never name
                // what only a killed host had.
                self.inner.artifacts.publish(&artifact).await?;
                store
                    .put_artifact(&NewArtifact {
                        key: key.to_owned(),
                        hash: artifact.hash.clone(),
                        path: artifact.path.display().to_string(),
                        size: std::fs::metadata(&artifact.path).map_or(0, |m| m.len()),
                    })
                    .await?;
                match claim {
                    // The node and its attempt complete in one commit.
                    Some(claim) => {
                        if !store
                            .complete_node(claim.node, claim.worker, &artifact.hash)
                            .await?
                        {
                            store.interrupt_stage(&row.id, LEASE_LOST).await?;
                            return Ok(None);
                        }
                    }
                    None => {
                        store
                            .record_stage_finish(
                                &row.id,
                                &StageOutcome::Completed {
                                    output_artifact: Some(key.to_owned()),
                                },
                            )
                            .await?;
                    }
                }
                self.event(
                    &job.id,
                    JobEvent::StageFinished {
                        stage: node.to_owned(),
                        ms,
                        plugin: plugin_id,
                        device,
                    },
                )
                .await;
                Ok(Some(Attempted {
                    attempt,
                    ms,
                    result: Ok(artifact),
                }))
            }
            Err(mut error) => {
                error.message = names.redact(&error.message);
                match claim {
                    Some(claim) => {
                        let failure = crate::nodes::failure_json(&error, attempt, ms);
                        if !store.fail_node(claim.node, claim.worker, &failure).await? {
                            store.interrupt_stage(&row.id, LEASE_LOST).await?;
                            return Ok(None);
                        }
                    }
                    None => {
                        store
                            .record_stage_finish(
                                &row.id,
                                &StageOutcome::Failed {
                                    error: error.message.clone(),
                                },
                            )
                            .await?;
                    }
                }
                self.event(
                    &job.id,
                    JobEvent::StageFailed {
                        stage: node.to_owned(),
                        attempt,
                        error: error.message.clone(),
                        plugin: plugin_id,
                        plugin_outcome: error.plugin_outcome.map(str::to_owned),
                    },
                )
                .await;
                Ok(Some(Attempted {
                    attempt,
                    ms,
                    result: Err(error),
                }))
            }
        }
    }
}

/// Why a worker's attempt ended without its outcome being kept.
const LEASE_LOST: &str = "interrupted: the worker lost its lease on the node (another worker has it); its result was not kept";

/// One node attempt: what runs, on what.
#[derive(Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub stage: &'a StageSpec,
    pub node: &'a str,
    pub item: &'a Option<(usize, Value)>,
    pub inputs: &'a Arc<Vec<Input>>,
    pub key: &'a str,
}

/// A node a worker claimed from the queue, and the worker.
pub(crate) struct Claim<'a> {
    pub node: &'a kino_store::NodeId,
    pub worker: &'a str,
}

/// How an attempt went.
pub(crate) struct Attempted {
    /// Its number among the node's attempts (1 for the first).
    pub attempt: u32,
    /// How long the op ran, in milliseconds.
    pub ms: u64,
    /// Its output, or why it failed.
    pub result: Result<ArtifactRef, OpError>,
}

/// How a node's worker was chosen, so that a worker elsewhere finds the
/// same one: none, the stage's slot binding, its backup binding or the
/// fallback policy's alternative (each held to the version the job's host
/// resolved), or a native kernel by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Choice {
    None,
    Slot,
    Backup,
    Alternative,
    Native(String),
}

/// The artifact-index key under which a job's delivered output is recorded.
pub fn output_key(job: &JobId, file: &str) -> String {
    format!("output:{job}:{file}")
}

impl Executor {
    /// What an op of `stage` sees when it runs as `node`.
    #[allow(clippy::too_many_arguments)]
    fn op_cx(
        &self,
        job: &Job,
        stage: &StageSpec,
        node: &str,
        item: &Option<(usize, Value)>,
        inputs: &Arc<Vec<Input>>,
        worker: Option<Worker>,
        key: &str,
    ) -> OpCx {
        let (plugin, native) = match worker {
            Some(Worker::Plugin(p)) => (Some(p), None),
            Some(Worker::Native(k)) => (None, Some(k)),
            None => (None, None),
        };
        OpCx {
            stage: node.to_owned(),
            params: stage.params.clone(),
            item: item.clone(),
            inputs: inputs.clone(),
            plugin,
            native,
            runtime: self.inner.resolver.runtime().clone(),
            artifacts: self.inner.artifacts.clone(),
            models: self.inner.models.clone(),
            notes: Notes::default(),
            devices: self.inner.devices.clone(),
            placements: Placements::default(),
            store: self.inner.store.clone(),
            tenant: job.tenant_id.clone(),
            job: job.id.clone(),
            key: key.to_owned(),
        }
    }
}

/// A job being run, and the names its messages use for its files.
pub(crate) struct Run {
    job: Job,
    names: Arc<Names>,
}

impl Run {
    /// `job`, its messages naming only the host's own directories.
    pub(crate) fn new(executor: &Executor, job: Job) -> Self {
        let names = Names::new(&executor.inner.artifacts, &executor.inner.jobs_dir);
        Self {
            job,
            names: Arc::new(names),
        }
    }
}

/// The user's names for the files of one job, for the messages it records:
/// an uploaded input by the name it was uploaded with, a stage's output by
/// its stage; any other path under the host's directories is cut to its
/// file name. Tenants read these messages: host paths are not theirs.
struct Names {
    paths: std::sync::Mutex<Vec<(String, String)>>,
    roots: Vec<String>,
}

impl Names {
    fn new(artifacts: &Artifacts, jobs_dir: &Path) -> Self {
        Self {
            paths: Default::default(),
            roots: [artifacts.dir(), jobs_dir]
                .iter()
                .map(|d| format!("{}/", d.display()))
                .collect(),
        }
    }

    /// Says `name` where a message would say `path`.
    fn add(&self, path: &Path, name: String) {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((path.display().to_string(), name));
    }

    fn redact(&self, message: &str) -> String {
        let mut text = message.to_owned();
        for (path, name) in self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            text = text.replace(path.as_str(), name);
        }
        for root in &self.roots {
            while let Some(at) = text.find(root.as_str()) {
                // The rest of the path, up to what cannot be in one here.
                let rest = &text[at + root.len()..];
                let end = rest
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, ':' | ',' | ')' | '\'' | '"' | '`')
                    })
                    .unwrap_or(rest.len());
                let file = rest[..end].rsplit('/').next().unwrap_or_default();
                let shown = if is_sha256(file) {
                    "a stored file".to_owned()
                } else {
                    file.to_owned()
                };
                text.replace_range(at..at + root.len() + end, &shown);
            }
        }
        text
    }
}

/// Removes what killed runs left in the artifact store's temporaries,
/// saying so when there was anything.
pub fn sweep(artifacts: &Artifacts) {
    let swept = artifacts.sweep();
    if swept.entries > 0 {
        tracing::info!(
            "removed {} temporaries ({} bytes) left by runs that were stopped",
            swept.entries,
            swept.bytes
        );
    }
}

/// What does a node's work besides the host's own code: the slot's plugin,
/// or an operator's native kernel. Either fails into the fallback policy.
#[derive(Clone)]
pub(crate) enum Worker {
    Plugin(SlotPlugin),
    Native(kino_native::KernelHandle),
}

impl Worker {
    /// How events, stage rows and the fallback policy name it.
    pub(crate) fn id(&self) -> String {
        match self {
            Worker::Plugin(p) => p.id.clone(),
            Worker::Native(k) => format!("{}{}", ops::NATIVE_PREFIX, k.info().name),
        }
    }
}

fn describe(decision: &Decision) -> String {
    match decision {
        Decision::RetryAfterMs(ms) => format!("retry after {ms} ms"),
        Decision::SwitchTo(to) => format!("switch to {to}"),
        Decision::Degrade(why) => format!("degrade: {why}"),
        Decision::Fail(why) => format!("fail: {why}"),
    }
}

/// The elements a fanned-out stage runs over: the JSON array a stage
/// produced (or the array under `field`), or, over a fanned-out stage, each
/// of its JSON outputs.
fn each_items(stage: &str, source: &Input, field: Option<&str>) -> Result<Vec<Value>> {
    let read = |artifact: &ArtifactRef| -> Result<Value> {
        let text = std::fs::read(&artifact.path)
            .with_context(|| format!("stage `{stage}`: reading {}", artifact.path.display()))?;
        serde_json::from_slice(&text)
            .with_context(|| format!("stage `{stage}`: `each` needs JSON outputs"))
    };
    match (source, field) {
        (Input::Files(all), None) => all.iter().map(read).collect(),
        (Input::Files(_), Some(f)) => {
            bail!("stage `{stage}`: `each` over a fanned-out stage cannot pick a field (`{f}`)")
        }
        (Input::File(artifact), field) => {
            let value = read(artifact)?;
            let list = match field {
                Some(f) => value.get(f).cloned().unwrap_or(Value::Null),
                None => value,
            };
            match list {
                Value::Array(items) => Ok(items),
                _ => bail!("stage `{stage}`: `each` needs a JSON array"),
            }
        }
        (Input::Text(_) | Input::Absent, _) => {
            bail!("stage `{stage}`: `each` must name a stage, not an input")
        }
    }
}

/// Checks a submitted job: the pipeline exists, the inputs match its
/// declaration, and every file input is named by a SHA-256. (Whether the
/// submitter may use that content is the caller's to check.)
pub fn check_job(spec: &PipelineSpec, inputs: &Value) -> Result<BTreeMap<String, JobInput>> {
    let inputs: BTreeMap<String, JobInput> = serde_json::from_value(inputs.clone()).context(
        "`inputs` must map each input to a text value or to an upload's {\"sha256\", \"name\"}",
    )?;
    check_inputs(spec, &inputs)?;
    for (name, input) in &inputs {
        if let JobInput::File { sha256, .. } = input
            && !is_sha256(sha256)
        {
            bail!("input `{name}`: `{sha256}` is not a sha256 (64 lowercase hex digits)");
        }
    }
    Ok(inputs)
}

fn check_inputs(spec: &PipelineSpec, inputs: &BTreeMap<String, JobInput>) -> Result<()> {
    for name in inputs.keys() {
        if !spec.inputs.contains_key(name) {
            let known: Vec<_> = spec.inputs.keys().map(String::as_str).collect();
            bail!(
                "pipeline `{}` has no input `{name}` (its inputs: {})",
                spec.name,
                known.join(", ")
            );
        }
    }
    for (name, decl) in &spec.inputs {
        match (inputs.get(name), decl.kind) {
            (None, _) if decl.optional || decl.default.is_some() => {}
            (None, _) => bail!(
                "pipeline `{}` needs input `{name}` ({})",
                spec.name,
                decl.description
            ),
            (Some(JobInput::Text(text)), InputKind::Text) => {
                let most = decl.max_length.unwrap_or(crate::spec::MAX_TEXT_INPUT);
                if text.len() > most {
                    bail!(
                        "input `{name}` is {} bytes long; pipeline `{}` takes at most {most}",
                        text.len(),
                        spec.name
                    );
                }
            }
            (Some(JobInput::File { .. }), InputKind::File) => {}
            (Some(_), InputKind::File) => bail!("input `{name}` must be a file"),
            (Some(_), InputKind::Text) => bail!("input `{name}` must be text, not a file"),
        }
    }
    Ok(())
}

/// The cache key of a node: everything its output depends on.
fn cache_key(
    stage: &StageSpec,
    worker: Option<&Worker>,
    inputs: &[Input],
    item: Option<&(usize, Value)>,
    models: Option<Value>,
) -> Result<String> {
    let input_ids: Vec<Value> = inputs.iter().map(Input::identity).collect();
    let plugin = match worker {
        Some(Worker::Plugin(p)) => Some(p),
        _ => None,
    };
    let identity = json!({
        "op": stage.op.to_string(),
        "op_version": stage.op.builtin().map_or(0, |op| op.version()),
        "params": stage.params,
        "plugin": plugin.map(|p| &p.id),
        "component": plugin.map(|p| &p.component),
        "config": plugin.map(|p| &p.config_json),
        "grants": plugin.map(|p| &p.grants_json),
        "inputs": input_ids,
        // The element, not its position: `name[]` inputs are already this
        // element's, so a moved element keeps its output.
        "item": item.map(|(_, v)| v),
    });
    // Only ops that use models carry the key, so other keys are unchanged.
    let mut identity = identity;
    if let Some(models) = models {
        identity["models"] = models;
    }
    // A native kernel's output is its library's: a rebuilt library, or a
    // kernel whose author bumped its version, computes afresh.
    if let Some(Worker::Native(kernel)) = worker {
        identity["native"] = json!({
            "version": kernel.info().version,
            "library": kernel.library_sha256(),
        });
    }
    let bytes = serde_json::to_vec(&identity).context("encoding a cache key")?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

impl From<anyhow::Error> for OpError {
    fn from(e: anyhow::Error) -> Self {
        OpError {
            message: format!("{e:#}"),
            retryable: false,
            plugin_outcome: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_users_files_not_the_hosts_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let artifacts = Artifacts::open(dir.path().join("artifacts")).expect("open");
        let names = Names::new(&artifacts, &dir.path().join("jobs"));
        let input = artifacts.put_bytes(b"a video").expect("put");
        let output = artifacts.put_bytes(b"its cues").expect("put");
        let other = artifacts.put_bytes(b"unnamed").expect("put");
        names.add(&input.path, "talk.mp4".to_owned());
        names.add(&output.path, "the output of stage `cues`".to_owned());
        let scratch = artifacts.scratch().expect("scratch");
        let message = format!(
            "{}: truncated; reading {}: bad JSON; writing {}: disk full ({})",
            input.path.display(),
            output.path.display(),
            scratch.path().join("piece-3.mp4").display(),
            other.path.display(),
        );
        let told = names.redact(&message);
        assert_eq!(
            told,
            "talk.mp4: truncated; reading the output of stage `cues`: bad JSON; \
             writing piece-3.mp4: disk full (a stored file)"
        );
        assert!(!told.contains(&dir.path().display().to_string()));
    }
}
