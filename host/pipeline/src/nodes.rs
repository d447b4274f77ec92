//! The node queue: a job's nodes run on whichever hosts claim them.
//!
//! An executor that dispatches to the queue ([`Dispatch::Queue`]) still
//! walks its job's graph itself (it is cheap: waiting, fanning out), but
//! where it would run a node it writes a [`Task`] on a node row instead and
//! waits for the row to finish. A [`NodeWorker`], in any process on any
//! machine sharing the store and the artifacts, claims ready rows it has
//! the capabilities for (the plugin version, the native kernel, the models),
//! holds each claim with a lease it keeps renewing, and runs the attempt as
//! the job's own host would: the same stage row, events and cache entry.
//!
//! Nothing is run twice and nothing is lost:
//! - a node is claimed by one worker at a time (the store's claim is a
//!   compare-and-set, `FOR UPDATE SKIP LOCKED` on PostgreSQL);
//! - a worker that dies stops renewing its lease; the node goes back to the
//!   queue and its attempt is recorded as interrupted ([`Store::reap_nodes`]);
//! - a worker whose lease lapsed cannot commit a late result: the commit is
//!   a compare-and-set on the claim ([`Store::complete_node`]);
//! - a job host that dies loses its job's lease; the host that claims the
//!   job next re-walks the graph, finding finished nodes in the cache and
//!   open ones on the queue (enqueueing is idempotent), so it waits for
//!   those rather than running them again.
//!
//! [`Dispatch::Queue`]: crate::exec::Dispatch::Queue

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::artifacts::Artifacts;
use super::exec::{Attempt, Attempted, Choice, Claim, Executor, Run, Worker};
use super::ops::{Input, OpError};
use super::spec::StageSpec;
use kino_store::{Job, JobEvent, NewNode, Node, NodeId, NodeState, Store, WorkerState};

/// How long a job's host waits on a node that no worker claims before its
/// events say what the node is waiting for.
const UNCLAIMED_NOTE_AFTER: Duration = Duration::from_secs(20);

/// The longest a job's host waits between two looks at a node's row: a
/// finished node is noticed within this (a long one; a short one sooner).
const POLL_AT_MOST: Duration = Duration::from_millis(250);

/// What a worker needs to run one node: written by the job's host on the
/// node's row, read by the worker that claims it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Task {
    /// The stage, by name in the job's spec.
    stage: String,
    /// The node (`speak[3]`).
    node: String,
    /// For a fanned-out stage: the element's index and value.
    item: Option<(usize, Value)>,
    /// The stage's inputs, files by hash.
    inputs: Vec<TaskInput>,
    /// How the node's plugin or kernel was chosen.
    choice: Choice,
    /// The plugin version or kernel the job's host chose (`name@version`,
    /// `native:NAME`): the worker runs exactly that one.
    worker: Option<String>,
}

/// One input of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum TaskInput {
    File(String),
    Files(Vec<String>),
    Text(String),
    Absent,
}

impl TaskInput {
    /// The input, its files named by hash (not necessarily here yet).
    fn named(&self, artifacts: &Artifacts) -> Result<Input> {
        let file = |hash: &str| {
            artifacts
                .reference(hash)
                .with_context(|| format!("`{hash}` is not an artifact's hash"))
        };
        Ok(match self {
            TaskInput::File(hash) => Input::File(file(hash)?),
            TaskInput::Files(all) => {
                Input::Files(all.iter().map(|h| file(h)).collect::<Result<_>>()?)
            }
            TaskInput::Text(t) => Input::Text(t.clone()),
            TaskInput::Absent => Input::Absent,
        })
    }
}

impl Task {
    /// The task of running `node` of `stage` over `inputs`.
    pub(crate) fn new(
        stage: &StageSpec,
        node: &str,
        item: &Option<(usize, Value)>,
        inputs: &[Input],
        choice: Choice,
        worker: Option<String>,
    ) -> Self {
        let inputs = inputs
            .iter()
            .map(|input| match input {
                Input::File(a) => TaskInput::File(a.hash.clone()),
                Input::Files(all) => TaskInput::Files(all.iter().map(|a| a.hash.clone()).collect()),
                Input::Text(t) => TaskInput::Text(t.clone()),
                Input::Absent => TaskInput::Absent,
            })
            .collect();
        Self {
            stage: stage.name.clone(),
            node: node.to_owned(),
            item: item.clone(),
            inputs,
            choice,
            worker,
        }
    }
}

/// The capabilities a node needs of the worker that runs it: its plugin
/// version (`plugin:name@version`), its native kernel (`native:NAME`), the
/// models it runs (`model:ID#DIGEST`). A model the job's host does not have
/// is not needed: the node's cache key already says it runs without it.
pub(crate) fn needs(worker: Option<&Worker>, models: Option<&Value>) -> Vec<String> {
    let mut needs = Vec::new();
    match worker {
        Some(Worker::Plugin(p)) => needs.push(format!("plugin:{}", p.id)),
        Some(native @ Worker::Native(_)) => needs.push(native.id()),
        None => {}
    }
    for model in models.and_then(Value::as_array).into_iter().flatten() {
        if let Some(id) = model.as_str().filter(|id| !id.ends_with("#absent")) {
            needs.push(format!("model:{id}"));
        }
    }
    needs
}

/// What a worker has: every installed plugin version, native kernel and
/// model of its host, in the form [`needs`] asks for.
pub fn capabilities(executor: &Executor, registry: &kino_registry::Store) -> Result<Vec<String>> {
    let mut caps = BTreeSet::new();
    for version in registry.list().context("listing the installed plugins")? {
        caps.insert(format!("plugin:{}@{}", version.name, version.version));
    }
    for (kernel, _) in executor.catalog().kernels().list() {
        caps.insert(format!("{}{}", crate::ops::NATIVE_PREFIX, kernel.name));
    }
    // A repository that cannot be read has no models to offer.
    for model in executor.models().repository().list().unwrap_or_default() {
        caps.insert(format!("model:{}#{}", model.id(), model.digest));
    }
    Ok(caps.into_iter().collect())
}

/// A failed attempt as its node row records it.
pub(crate) fn failure_json(error: &OpError, attempt: u32, ms: u64) -> Value {
    json!({
        "message": error.message,
        "retryable": error.retryable,
        "plugin_outcome": error.plugin_outcome,
        "attempt": attempt,
        "ms": ms,
    })
}

/// The failure a node row records, back as the op's error.
fn failure_of(node: &Node) -> (OpError, u32, u64) {
    let error = node.error.clone().unwrap_or(Value::Null);
    let message = error["message"]
        .as_str()
        .unwrap_or("the worker recorded no message")
        .to_owned();
    // Only the outcomes an op can name (a static set, for the policy).
    let plugin_outcome = match error["plugin_outcome"].as_str() {
        Some("plugin_error") => Some("plugin_error"),
        Some("trap") => Some("trap"),
        Some("native_error") => Some("native_error"),
        _ => None,
    };
    let op_error = OpError {
        message,
        retryable: error["retryable"].as_bool().unwrap_or(false),
        plugin_outcome,
    };
    let attempt = error["attempt"]
        .as_u64()
        .and_then(|a| u32::try_from(a).ok())
        .unwrap_or(1);
    (op_error, attempt, error["ms"].as_u64().unwrap_or(0))
}

/// Puts one attempt at `node` of `job` on the queue (or finds the one
/// already there, after this job's host restarted) and waits for a worker
/// to finish it.
pub(crate) async fn dispatch(
    executor: &Executor,
    job: &Job,
    node: &str,
    key: &str,
    task: &Task,
    needs: Vec<String>,
) -> Result<Attempted> {
    let store = executor.store();
    let row = store
        .enqueue_node(&NewNode {
            job: job.id.clone(),
            tenant: job.tenant_id.clone(),
            node: node.to_owned(),
            key: key.to_owned(),
            task: serde_json::to_value(task).context("encoding a node's task")?,
            needs,
            priority: job.priority,
        })
        .await
        .with_context(|| format!("queueing node `{node}`"))?;
    let since = Instant::now();
    let mut noted = false;
    let mut delay = Duration::from_millis(20);
    loop {
        let now = store
            .get_node(&row.id)
            .await?
            .with_context(|| format!("node `{node}` left the queue"))?;
        match now.state {
            NodeState::Completed => {
                let hash = now
                    .output
                    .as_deref()
                    .with_context(|| format!("node `{node}` completed with no output"))?;
                let artifact = executor
                    .artifacts()
                    .reference(hash)
                    .with_context(|| format!("node `{node}` recorded `{hash}` as its output"))?;
                let ms = match (now.claimed_at, now.finished_at) {
                    (Some(a), Some(b)) => u64::try_from(b - a).unwrap_or(0),
                    _ => 0,
                };
                return Ok(Attempted {
                    attempt: now.claims,
                    ms,
                    result: Ok(artifact),
                });
            }
            NodeState::Failed => {
                let (error, attempt, ms) = failure_of(&now);
                return Ok(Attempted {
                    attempt,
                    ms,
                    result: Err(error),
                });
            }
            NodeState::Ready if !noted && since.elapsed() >= UNCLAIMED_NOTE_AFTER => {
                noted = true;
                let note = if now.needs.is_empty() {
                    "waiting for a worker: none has claimed this node yet".to_owned()
                } else {
                    format!(
                        "waiting for a worker that has {}: none has claimed this node yet",
                        now.needs.join(", ")
                    )
                };
                let event = JobEvent::StageNote {
                    stage: node.to_owned(),
                    note,
                };
                if let Err(e) = store.append_event(&job.id, &event).await {
                    tracing::warn!(job = %job.id, "could not record an event: {e:#}");
                }
            }
            NodeState::Ready | NodeState::Claimed => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_AT_MOST);
    }
}

impl Executor {
    /// Runs the node a worker claimed: its job's spec, inputs and plugin as
    /// the job's host chose them, then one attempt under the claim.
    async fn run_task(&self, node: &Node, worker: &str) -> Result<()> {
        let task: Task =
            serde_json::from_value(node.task.clone()).context("reading the node's task")?;
        let job = self
            .store()
            .get_job(&node.tenant_id, &node.job_id)
            .await?
            .with_context(|| format!("job {} is gone", node.job_id))?;
        if let Some(sha256) = &job.pipeline_sha256 {
            self.artifacts().fetch(sha256).await?;
        }
        let spec = self.spec_of(&job)?;
        let stage = spec
            .stages
            .iter()
            .find(|s| s.name == task.stage)
            .with_context(|| format!("job {} has no stage `{}`", job.id, task.stage))?;
        let mut inputs = Vec::with_capacity(task.inputs.len());
        for input in &task.inputs {
            let named = input.named(self.artifacts())?;
            inputs.push(named.fetched(self.artifacts()).await?);
        }
        let chosen = self.worker_for(&job, stage, &task).await?;
        if chosen.as_ref().map(Worker::id) != task.worker {
            bail!(
                "this worker resolved {} where the job's host chose {}",
                chosen.as_ref().map_or("nothing".to_owned(), Worker::id),
                task.worker.as_deref().unwrap_or("nothing")
            );
        }
        let run = Run::new(self, job);
        let at = Attempt {
            stage,
            node: &task.node,
            item: &task.item,
            inputs: &Arc::new(inputs),
            key: &node.key,
        };
        let claim = Claim {
            node: &node.id,
            worker,
        };
        if self
            .attempt(&run, at, chosen, Some(&claim))
            .await?
            .is_none()
        {
            tracing::warn!(node = %task.node, "the lease on the node lapsed: its result was not kept");
        }
        Ok(())
    }

    /// The plugin or kernel the job's host chose for a task, found here.
    async fn worker_for(
        &self,
        job: &Job,
        stage: &StageSpec,
        task: &Task,
    ) -> Result<Option<Worker>> {
        let pin = task.worker.as_deref();
        let world = || {
            stage
                .op
                .world()
                .with_context(|| format!("stage `{}` calls no plugin", stage.name))
        };
        Ok(match &task.choice {
            Choice::None => None,
            Choice::Native(name) => Some(Worker::Native(
                self.catalog()
                    .kernels()
                    .get(name)
                    .with_context(|| format!("no native kernel `{name}` is installed here"))?,
            )),
            Choice::Slot => {
                let slot = stage
                    .slot
                    .as_deref()
                    .with_context(|| format!("stage `{}` has no slot", stage.name))?;
                let plugin = self
                    .resolver()
                    .slot_pinned(&job.tenant_id, &job.id, slot, world()?, pin)
                    .await?
                    .with_context(|| format!("no plugin is bound to slot `{slot}`"))?;
                Some(Worker::Plugin(plugin))
            }
            Choice::Backup => {
                let pin = pin.context("a backup plugin names its version")?;
                let plugin = self.backup_pinned(job, stage, world()?, Some(pin)).await?;
                Some(Worker::Plugin(plugin))
            }
            Choice::Alternative => {
                let pin = pin.context("a switched-to plugin names its version")?;
                let requirement = crate::slots::pinned(pin)?;
                let plugin = self
                    .resolver()
                    .alternative(&job.tenant_id, &job.id, &requirement, world()?)
                    .await?;
                Some(Worker::Plugin(plugin))
            }
        })
    }
}

/// A worker: claims nodes from the queue that it has the capabilities for
/// and runs them, at most `slots` at once.
pub struct NodeWorker {
    executor: Executor,
    caps: Vec<String>,
    slots: usize,
}

impl NodeWorker {
    /// A worker running nodes with `executor` (whose owner name is the
    /// worker's id and whose lease its claims get), offering `caps`.
    pub fn new(executor: Executor, caps: Vec<String>, slots: usize) -> Self {
        Self {
            executor,
            caps,
            slots: slots.max(1),
        }
    }

    /// The worker's id, as the store's rows name it.
    pub fn id(&self) -> &str {
        self.executor.owner()
    }

    /// Registers the worker and runs nodes until `stop` resolves; then
    /// drains: claims nothing more, finishes the nodes it holds, and
    /// records itself stopped.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        let store = self.executor.store().clone();
        let id = self.id().to_owned();
        let lease = self.executor.lease();
        store
            .register_worker(
                &id,
                &crate::owner::hostname(),
                std::process::id(),
                &self.caps,
            )
            .await
            .context("registering the worker")?;
        tracing::info!(worker = %id, caps = ?self.caps, "worker started");
        let state = Arc::new(std::sync::Mutex::new(WorkerState::Running));
        let beat = {
            let (store, id, state) = (store.clone(), id.clone(), state.clone());
            tokio::spawn(async move {
                loop {
                    let now = *state.lock().expect("worker state");
                    if let Err(e) = store.worker_heartbeat(&id, now).await {
                        tracing::warn!("worker heartbeat: {e:#}");
                    }
                    tokio::time::sleep(lease / 6).await;
                }
            })
        };
        let mut running = JoinSet::new();
        let mut stop = std::pin::pin!(stop);
        let mut reaped = Instant::now() - lease;
        let mut draining = false;
        loop {
            if !draining && reaped.elapsed() >= lease / 4 {
                reaped = Instant::now();
                match store.reap_nodes().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!("{n} node(s) whose worker stopped went back to the queue")
                    }
                    Err(e) => tracing::warn!("reaping nodes: {e:#}"),
                }
            }
            while !draining && running.len() < self.slots {
                let claimed = match store.claim_node(&id, &self.caps, lease).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!("claiming a node: {e:#}");
                        None
                    }
                };
                let Some(node) = claimed else { break };
                running.spawn(run_claimed(self.executor.clone(), node, id.clone()));
            }
            if draining && running.is_empty() {
                break;
            }
            tokio::select! {
                () = &mut stop, if !draining => {
                    draining = true;
                    *state.lock().expect("worker state") = WorkerState::Draining;
                    tracing::info!(
                        worker = %id,
                        "draining: finishing {} node(s), claiming no more",
                        running.len()
                    );
                    let _ = store.worker_heartbeat(&id, WorkerState::Draining).await;
                }
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        beat.abort();
        store
            .worker_heartbeat(&id, WorkerState::Stopped)
            .await
            .context("recording the worker stopped")?;
        tracing::info!(worker = %id, "worker stopped");
        Ok(())
    }
}

/// Runs one claimed node, renewing its lease meanwhile; a task that cannot
/// even start (its job gone, an input in no store, a plugin not here) fails
/// the node with why.
async fn run_claimed(executor: Executor, node: Node, worker: String) {
    let store = executor.store().clone();
    let lease = executor.lease();
    let renew = {
        let (store, id, worker) = (store.clone(), node.id.clone(), worker.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 6).await;
                match store.heartbeat_node(&id, &worker, lease).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => tracing::warn!("renewing a node's lease: {e:#}"),
                }
            }
        })
    };
    if let Err(e) = executor.run_task(&node, &worker).await {
        tracing::warn!(node = %node.node, job = %node.job_id, "{e:#}");
        let failure = json!({ "message": format!("{e:#}"), "retryable": false });
        if let Err(e) = fail(&store, &node.id, &worker, &failure).await {
            tracing::warn!(node = %node.node, "recording its failure: {e:#}");
        }
    }
    renew.abort();
}

async fn fail(store: &Store, node: &NodeId, worker: &str, failure: &Value) -> Result<()> {
    if !store.fail_node(node, worker, failure).await? {
        return Err(anyhow!("the lease had lapsed"));
    }
    Ok(())
}
