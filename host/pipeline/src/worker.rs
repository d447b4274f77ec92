//! The job queue `kino serve` runs: pending jobs are picked up as they are
//! submitted, and jobs whose host stopped (a lapsed lease, see
//! [`Executor::claim`]) are resumed. Several hosts may share a store: each
//! job is run by the one that claims it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::Executor;
use super::exec::Dispatch;
use kino_store::{JobId, JobState, TenantId};

/// How many jobs a host dispatching to the node queue walks at once: each
/// only waits on its nodes, so enough that every queued job has a host and
/// the node queue's fair share decides what runs.
const QUEUED_JOBS_AT_ONCE: usize = 256;

/// How often the queue looks for work when nobody wakes it.
const POLL: Duration = Duration::from_secs(2);

/// How often the queue removes what stopped runs left in the temporaries
/// (another host's on a shared store, or its own before a restart).
const SWEEP: Duration = Duration::from_secs(600);

/// Submitted jobs, run in the background.
#[derive(Clone)]
pub struct JobQueue {
    executor: Executor,
    wake: Arc<Notify>,
}

impl JobQueue {
    /// A queue running jobs with `executor`.
    pub fn new(executor: Executor) -> Self {
        Self {
            executor,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Tells the queue a job was submitted.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs jobs until the process ends, at most `max_jobs` at once (their
    /// stages share the executor's CPU limit; an executor dispatching to the
    /// node queue only walks their graphs, and takes many more), tenants
    /// taking turns.
    pub async fn work(self, max_jobs: usize) {
        let max_jobs = match self.executor.dispatch() {
            Dispatch::Here => max_jobs,
            Dispatch::Queue => max_jobs.max(QUEUED_JOBS_AT_ONCE),
        };
        let slots = Arc::new(Semaphore::new(max_jobs.max(1)));
        let active: Arc<Mutex<HashSet<JobId>>> = Arc::default();
        let mut swept = tokio::time::Instant::now();
        loop {
            if swept.elapsed() >= SWEEP {
                swept = tokio::time::Instant::now();
                let artifacts = self.executor.artifacts().clone();
                let _ = tokio::task::spawn_blocking(move || crate::exec::sweep(&artifacts)).await;
            }
            let mut running_per_tenant: HashMap<TenantId, usize> = HashMap::new();
            for state in [JobState::Running, JobState::Pending] {
                let mut jobs = match self.executor.store().jobs_in_state(state, 1000).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!("job queue: {e:#}");
                        continue;
                    }
                };
                if state == JobState::Running {
                    for job in &jobs {
                        *running_per_tenant.entry(job.tenant_id.clone()).or_default() += 1;
                    }
                } else {
                    // A fair share: the tenant running the fewest jobs first,
                    // then the higher priority, then the oldest.
                    jobs.sort_by_key(|job| {
                        let running = running_per_tenant.get(&job.tenant_id).copied();
                        (
                            running.unwrap_or(0),
                            std::cmp::Reverse(job.priority),
                            job.created_at,
                        )
                    });
                }
                for job in jobs {
                    // Ours already, or another host's (a claim says which).
                    if active.lock().expect("queue lock").contains(&job.id) {
                        continue;
                    }
                    // A slot first: a claimed job starts at once, so its
                    // lease never lapses while it waits.
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (job, was) = match self.executor.claim(&job).await {
                        Ok(Some(claimed)) => claimed,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::error!(job = %job.id, "claiming: {e:#}");
                            continue;
                        }
                    };
                    if was == JobState::Running {
                        tracing::info!(job = %job.id, "resuming a job whose host stopped");
                    }
                    active.lock().expect("queue lock").insert(job.id.clone());
                    *running_per_tenant.entry(job.tenant_id.clone()).or_default() += 1;
                    let (executor, active) = (self.executor.clone(), active.clone());
                    tokio::spawn(async move {
                        match executor.run_claimed(&job, was).await {
                            Ok(_) => tracing::info!(job = %job.id, "job completed"),
                            Err(e) => tracing::warn!(job = %job.id, "job failed: {e:#}"),
                        }
                        active.lock().expect("queue lock").remove(&job.id);
                        drop(permit);
                    });
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}
