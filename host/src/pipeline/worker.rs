//! The job queue `kino serve` runs: pending jobs are picked up as they are
//! submitted, and jobs a previous host left `running` are resumed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::Executor;
use crate::store::{JobId, JobState};

/// How often the queue looks for work when nobody wakes it.
const POLL: Duration = Duration::from_secs(2);

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
    /// stages share the executor's CPU limit).
    pub async fn work(self, max_jobs: usize) {
        let slots = Arc::new(Semaphore::new(max_jobs.max(1)));
        let active: Arc<Mutex<HashSet<JobId>>> = Arc::default();
        loop {
            for state in [JobState::Running, JobState::Pending] {
                let jobs = match self.executor.store().jobs_in_state(state, 100).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!("job queue: {e:#}");
                        continue;
                    }
                };
                for job in jobs {
                    // A `running` job nobody here runs was left by a host that stopped.
                    if !active.lock().expect("queue lock").insert(job.id.clone()) {
                        continue;
                    }
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (executor, active) = (self.executor.clone(), active.clone());
                    tokio::spawn(async move {
                        match executor.run(&job).await {
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
