//! The node queue and the workers that drain it.
//!
//! The executor splits a job into nodes (one run of one stage, `speak[3]`,
//! with its cache key) and enqueues them `ready`. Workers, on any machine,
//! claim one at a time under a lease, renew the lease while they run it and
//! finish it `completed` (with its output's hash) or `failed`:
//!
//! ```text
//! ready --claim--> claimed --complete--> completed
//!   ^                 |     --fail-----> failed
//!   +--release/reap---+
//! ```
//!
//! Every move out of `claimed` is a compare-and-set on the state, the owner
//! and (for results) a lease that has not lapsed, so a worker that stalled
//! past its lease cannot commit a late result over the node's next claimant:
//! [`Store::reap_nodes`] gives lapsed nodes back (`ready`) and marks the stage
//! attempt they were running interrupted.
//!
//! [`Store::claim_node`] picks fairly: among the ready nodes whose needs the
//! worker has and whose tenant is under its node quota, the tenant holding the
//! fewest nodes goes first, then the job with the higher priority, then the
//! node with the higher priority, then the oldest. Two claimers never get the
//! same node: on SQLite the claim is one `UPDATE ... WHERE state = 'ready'`
//! (SQLite runs one writer at a time, so its quota check is exact too); on
//! PostgreSQL the node row is locked `FOR UPDATE SKIP LOCKED` (a claimer
//! never waits on a row another one is taking) and the tenant's row is locked
//! while its quota is checked.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use super::jobs::{StageState, state_enum};
use super::{
    Dialect as _, JobId, NodeId, Pool, StageId, Store, StoreError, TenantId, UnknownState, now_ms,
    parse_column, parse_json,
};

/// How many ready nodes [`Store::claim_node`] reads at a time.
const CLAIM_BATCH: usize = 64;

/// How many times [`Store::claim_node`] reads the queue again after other
/// claimers took every node it tried.
const CLAIM_ROUNDS: usize = 8;

/// How many times [`Store::enqueue_node`] tries when the open node it
/// collided with closes before it can be read.
const ENQUEUE_ROUNDS: usize = 8;

state_enum!(
    /// Where a node is: `ready -> claimed -> completed | failed`, and back
    /// `claimed -> ready` when its worker gives it back or its lease lapses.
    NodeState, "node" {
        /// Waiting for a worker.
        Ready => "ready",
        /// A worker holds it under a lease.
        Claimed => "claimed",
        /// Finished with an output.
        Completed => "completed",
        /// Finished with an error.
        Failed => "failed",
    }
);

state_enum!(
    /// What a worker says it is doing.
    WorkerState, "worker" {
        /// Claiming and running nodes.
        Running => "running",
        /// Finishing what it holds, claiming nothing new.
        Draining => "draining",
        /// Gone.
        Stopped => "stopped",
    }
);

/// What [`Store::enqueue_node`] queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// The job it is part of.
    pub job: JobId,
    /// The job's tenant.
    pub tenant: TenantId,
    /// Its name in the job's graph: `stage` or `stage[i]`.
    pub node: String,
    /// The stage cache key of its output.
    pub key: String,
    /// What a worker needs to run it (the executor's task description).
    pub task: serde_json::Value,
    /// Capabilities a worker must have to claim it (`gpu`, `plugin:noir`, ...).
    pub needs: Vec<String>,
    /// Its priority among the nodes of its job: higher is claimed first.
    pub priority: i64,
}

/// A queued node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// Its identifier.
    pub id: NodeId,
    /// The job it is part of.
    pub job_id: JobId,
    /// The job's tenant.
    pub tenant_id: TenantId,
    /// Its name in the job's graph: `stage` or `stage[i]`.
    pub node: String,
    /// The stage cache key of its output.
    pub key: String,
    /// What a worker needs to run it.
    pub task: serde_json::Value,
    /// Capabilities a worker must have to claim it.
    pub needs: Vec<String>,
    /// Its priority among the nodes of its job.
    pub priority: i64,
    /// Where it is.
    pub state: NodeState,
    /// The worker that holds it (claimed) or finished it (completed, failed).
    pub owner: Option<String>,
    /// When the current lease ends, in ms since the Unix epoch.
    pub lease_until: Option<i64>,
    /// How many times it was claimed: more than 1 after a release or a lapsed lease.
    pub claims: u32,
    /// The stage attempt its current (or last) claimant recorded.
    pub stage_id: Option<StageId>,
    /// SHA-256 (hex) of its output, once completed.
    pub output: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<serde_json::Value>,
    /// When it was enqueued, in ms since the Unix epoch.
    pub created_at: i64,
    /// When it was last claimed, in ms since the Unix epoch.
    pub claimed_at: Option<i64>,
    /// When it finished, in ms since the Unix epoch.
    pub finished_at: Option<i64>,
}

/// A registered worker, with what it holds and has done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkerInfo {
    /// Its identifier, chosen by the worker (`host:pid:random`).
    pub id: String,
    /// The machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// The capabilities it offers.
    pub caps: Vec<String>,
    /// What it last said it was doing.
    pub state: WorkerState,
    /// When it registered, in ms since the Unix epoch.
    pub started_at: i64,
    /// Its last heartbeat, in ms since the Unix epoch.
    pub heartbeat_at: i64,
    /// Nodes it holds now.
    pub leases: u64,
    /// Nodes it completed.
    pub nodes_completed: u64,
    /// Nodes it failed.
    pub nodes_failed: u64,
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: String,
    job_id: String,
    tenant_id: String,
    node: String,
    cache_key: String,
    task_json: String,
    needs_json: String,
    priority: i64,
    state: String,
    owner: Option<String>,
    lease_until: Option<i64>,
    claims: i64,
    stage_id: Option<String>,
    output: Option<String>,
    error_json: Option<String>,
    created_at: i64,
    claimed_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<NodeRow> for Node {
    type Error = anyhow::Error;

    fn try_from(row: NodeRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: parse_column("nodes.id", &row.id)?,
            job_id: parse_column("nodes.job_id", &row.job_id)?,
            tenant_id: parse_column("nodes.tenant_id", &row.tenant_id)?,
            node: row.node,
            key: row.cache_key,
            task: parse_json("nodes.task_json", &row.task_json)?,
            needs: parse_strings("nodes.needs_json", &row.needs_json)?,
            priority: row.priority,
            state: parse_column("nodes.state", &row.state)?,
            owner: row.owner,
            lease_until: row.lease_until,
            claims: u32::try_from(row.claims).context("corrupt nodes.claims column")?,
            stage_id: row
                .stage_id
                .map(|id| parse_column("nodes.stage_id", &id))
                .transpose()?,
            output: row.output,
            error: row
                .error_json
                .map(|e| parse_json("nodes.error_json", &e))
                .transpose()?,
            created_at: row.created_at,
            claimed_at: row.claimed_at,
            finished_at: row.finished_at,
        })
    }
}

const NODE_COLUMNS: &str = "id, job_id, tenant_id, node, cache_key, task_json, needs_json, \
                            priority, state, owner, lease_until, claims, stage_id, output, \
                            error_json, created_at, claimed_at, finished_at";

#[derive(sqlx::FromRow)]
struct WorkerRow {
    id: String,
    host: String,
    pid: i64,
    caps_json: String,
    state: String,
    started_at: i64,
    heartbeat_at: i64,
}

/// A ready node as [`Store::claim_node`] weighs it.
#[derive(sqlx::FromRow)]
struct Candidate {
    id: String,
    tenant_id: String,
    needs_json: String,
}

/// The ready nodes, best first (see [`Store::claim_node`]), a page at a time.
/// A tenant at its quota has none.
/// How far back a tenant's last claim counts for taking turns: an hour.
const TURNS_WINDOW_MS: i64 = 3_600_000;

const CANDIDATES_SQL: &str = "SELECT n.id, n.tenant_id, n.needs_json FROM nodes n \
     JOIN jobs j ON j.id = n.job_id \
     JOIN tenants t ON t.id = n.tenant_id \
     LEFT JOIN (SELECT tenant_id, COUNT(*) AS held FROM nodes WHERE state = 'claimed' \
                GROUP BY tenant_id) h ON h.tenant_id = n.tenant_id \
     LEFT JOIN (SELECT tenant_id, MAX(claimed_at) AS last FROM nodes WHERE claimed_at > ? \
                GROUP BY tenant_id) r ON r.tenant_id = n.tenant_id \
     WHERE n.state = 'ready' AND (t.node_quota IS NULL OR COALESCE(h.held, 0) < t.node_quota) \
     ORDER BY COALESCE(h.held, 0), COALESCE(r.last, 0), j.priority DESC, n.priority DESC, \
              n.created_at, n.id \
     LIMIT ? OFFSET ?";

/// Claims one ready node, unless its tenant already holds its quota. Binds:
/// owner, lease_until, claimed_at, id.
fn claim_sql() -> String {
    format!(
        "UPDATE nodes SET state = 'claimed', owner = ?, lease_until = ?, claimed_at = ?, \
         claims = claims + 1 \
         WHERE id = ? AND state = 'ready' AND NOT EXISTS (\
           SELECT t.id FROM tenants t WHERE t.id = nodes.tenant_id \
           AND t.node_quota IS NOT NULL AND t.node_quota <= (\
             SELECT COUNT(*) FROM nodes h WHERE h.tenant_id = t.id AND h.state = 'claimed')) \
         RETURNING {NODE_COLUMNS}"
    )
}

/// How one try at claiming a candidate went.
enum Attempt {
    /// It is ours.
    Claimed(Box<Node>),
    /// Another claimer took it first (or it left `ready`).
    Lost,
    /// Its tenant holds its quota of nodes.
    TenantFull,
}

fn parse_strings(column: &str, value: &str) -> anyhow::Result<Vec<String>> {
    serde_json::from_str(value).with_context(|| format!("corrupt {column} column"))
}

fn duration_ms(d: Duration) -> anyhow::Result<i64> {
    i64::try_from(d.as_millis()).context("lease out of range")
}

impl Store {
    /// Queues a node `ready`, or returns the row already there for it: one of
    /// the same job, node and cache key that is ready, claimed or completed
    /// (so two executors enqueueing the same node get one row, and a job's
    /// host that restarts waits on the rows its predecessor queued). Only
    /// after that row failed is a new one queued.
    ///
    /// The insert is conditional on no such row being there, in the same
    /// statement: a node's states only move forward to `completed`, so a row
    /// the statement sees open is open or completed when it is read back,
    /// and a completed one is never queued again. (Checking the cache and
    /// then inserting unconditionally let a host whose cache lookup raced a
    /// worker's completion queue the node a second time.) Two inserts at
    /// once collide on the partial unique index `nodes_open`.
    ///
    /// A job that is not the tenant's (or unknown) fails with [`StoreError::NotFound`].
    pub async fn enqueue_node(&self, new: &NewNode) -> anyhow::Result<Node> {
        let context = || format!("enqueueing node {:?} of job {}", new.node, new.job);
        let task = new.task.to_string();
        let needs = serde_json::to_string(&new.needs).with_context(context)?;
        let insert = format!(
            "INSERT INTO nodes (id, job_id, tenant_id, node, cache_key, task_json, needs_json, \
             priority, state, claims, created_at) \
             SELECT ?, id, tenant_id, ?, ?, ?, ?, ?, ?, 0, ? FROM jobs \
             WHERE id = ? AND tenant_id = ? AND NOT EXISTS (SELECT 1 FROM nodes \
             WHERE job_id = ? AND node = ? AND cache_key = ? \
             AND state IN ('ready', 'claimed', 'completed')) \
             ON CONFLICT DO NOTHING RETURNING {NODE_COLUMNS}"
        );
        let existing = format!(
            "SELECT {NODE_COLUMNS} FROM nodes WHERE job_id = ? AND node = ? AND cache_key = ? \
             AND tenant_id = ? AND state IN ('ready', 'claimed', 'completed') \
             ORDER BY created_at DESC LIMIT 1"
        );
        for _ in 0..ENQUEUE_ROUNDS {
            let id = NodeId::random()?;
            let inserted: Option<NodeRow> =
                with_pool!(self, |pool| sqlx::query_as(pool.sql(insert.clone()))
                    .bind(id.as_str())
                    .bind(&new.node)
                    .bind(&new.key)
                    .bind(&task)
                    .bind(&needs)
                    .bind(new.priority)
                    .bind(NodeState::Ready.as_str())
                    .bind(now_ms())
                    .bind(new.job.as_str())
                    .bind(new.tenant.as_str())
                    .bind(new.job.as_str())
                    .bind(&new.node)
                    .bind(&new.key)
                    .fetch_optional(pool)
                    .await)
                .with_context(context)?;
            if let Some(row) = inserted {
                return Node::try_from(row);
            }
            let found: Option<NodeRow> =
                with_pool!(self, |pool| sqlx::query_as(pool.sql(existing.clone()))
                    .bind(new.job.as_str())
                    .bind(&new.node)
                    .bind(&new.key)
                    .bind(new.tenant.as_str())
                    .fetch_optional(pool)
                    .await)
                .with_context(context)?;
            if let Some(row) = found {
                return Node::try_from(row);
            }
            if self.get_job(&new.tenant, &new.job).await?.is_none() {
                return Err(StoreError::NotFound {
                    what: "job",
                    id: new.job.to_string(),
                }
                .into());
            }
            // What stopped the insert failed before it could be read: again.
        }
        anyhow::bail!(
            "{}: the row in the way kept changing under the insert",
            context()
        )
    }

    /// The node with this id, if any.
    pub async fn get_node(&self, id: &NodeId) -> anyhow::Result<Option<Node>> {
        let sql = format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?");
        with_pool!(self, |pool| sqlx::query_as::<_, NodeRow>(pool.sql(sql))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("reading node {id}"))?
        .map(Node::try_from)
        .transpose()
    }

    /// The job's nodes (every row: open and finished), oldest first.
    pub async fn nodes_of_job(&self, job: &JobId) -> anyhow::Result<Vec<Node>> {
        let sql =
            format!("SELECT {NODE_COLUMNS} FROM nodes WHERE job_id = ? ORDER BY created_at, id");
        with_pool!(self, |pool| sqlx::query_as::<_, NodeRow>(pool.sql(sql))
            .bind(job.as_str())
            .fetch_all(pool)
            .await)
        .with_context(|| format!("listing nodes of job {job}"))?
        .into_iter()
        .map(Node::try_from)
        .collect()
    }

    /// Claims one ready node for `worker`, held until `lease` from now unless
    /// renewed ([`Store::heartbeat_node`]); `None` when no node fits.
    ///
    /// A node fits when `caps` holds every one of its needs and its tenant
    /// holds fewer claimed nodes than its quota. Among those, the tenant that
    /// holds the fewest claimed nodes goes first (fair share), then the one
    /// whose last claim (within the hour) is the oldest, so that tenants take
    /// turns even when no node is held at the moment, then the job with
    /// the higher [`priority`](crate::Job::priority), then the node with the
    /// higher priority, then the oldest, then the lowest id. Two concurrent
    /// claimers never get the same node.
    pub async fn claim_node(
        &self,
        worker: &str,
        caps: &[String],
        lease: Duration,
    ) -> anyhow::Result<Option<Node>> {
        let lease = duration_ms(lease)?;
        let caps: HashSet<&str> = caps.iter().map(String::as_str).collect();
        for _ in 0..CLAIM_ROUNDS {
            let mut lost = false;
            let mut full = HashSet::new();
            let mut offset = 0;
            loop {
                let page = self.claim_candidates(offset).await?;
                for candidate in &page {
                    if full.contains(&candidate.tenant_id) {
                        continue;
                    }
                    let needs = parse_strings("nodes.needs_json", &candidate.needs_json)?;
                    if !needs.iter().all(|need| caps.contains(need.as_str())) {
                        continue;
                    }
                    let attempt = match &self.pool {
                        Pool::Sqlite(pool) => {
                            claim_sqlite(pool, &candidate.id, worker, lease).await
                        }
                        Pool::Postgres(pool) => {
                            claim_postgres(pool, &candidate.id, &candidate.tenant_id, worker, lease)
                                .await
                        }
                    }
                    .with_context(|| format!("claiming node {} for {worker}", candidate.id))?;
                    match attempt {
                        Attempt::Claimed(node) => return Ok(Some(*node)),
                        Attempt::Lost => lost = true,
                        Attempt::TenantFull => {
                            full.insert(candidate.tenant_id.clone());
                        }
                    }
                }
                if page.len() < CLAIM_BATCH {
                    break;
                }
                offset += CLAIM_BATCH;
            }
            // Nothing fit, unless others took what did: then look again.
            if !lost {
                return Ok(None);
            }
        }
        Ok(None)
    }

    async fn claim_candidates(&self, offset: usize) -> anyhow::Result<Vec<Candidate>> {
        let limit = i64::try_from(CLAIM_BATCH).context("batch out of range")?;
        let offset = i64::try_from(offset).context("offset out of range")?;
        // Turns: among tenants holding as many, the one served longest ago.
        let since = now_ms().saturating_sub(TURNS_WINDOW_MS);
        with_pool!(self, |pool| sqlx::query_as::<_, Candidate>(
            pool.sql(CANDIDATES_SQL)
        )
        .bind(since)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)
        .context("reading the ready nodes")
    }

    /// Extends `worker`'s lease on a claimed node to `lease` from now. `false`
    /// if the node is not claimed by `worker` or its lease already lapsed (it
    /// may have been given to another worker): stop working on it.
    pub async fn heartbeat_node(
        &self,
        id: &NodeId,
        worker: &str,
        lease: Duration,
    ) -> anyhow::Result<bool> {
        let now = now_ms();
        let until = now.saturating_add(duration_ms(lease)?);
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE nodes SET lease_until = ? \
             WHERE id = ? AND state = 'claimed' AND owner = ? AND lease_until >= ?"
        ))
        .bind(until)
        .bind(id.as_str())
        .bind(worker)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("renewing the lease on node {id}"))?;
        Ok(done == 1)
    }

    /// Records on a node claimed by `worker` the stage attempt running it
    /// (see [`Store::record_stage_start_by`]), so a lapsed lease can mark that
    /// attempt interrupted. `false` if `worker` does not hold the node.
    pub async fn link_node_stage(
        &self,
        id: &NodeId,
        worker: &str,
        stage: &StageId,
    ) -> anyhow::Result<bool> {
        let done = with_pool!(self, |pool| sqlx::query(pool.sql(
            "UPDATE nodes SET stage_id = ? WHERE id = ? AND state = 'claimed' AND owner = ?"
        ))
        .bind(stage.as_str())
        .bind(id.as_str())
        .bind(worker)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("linking stage {stage} to node {id}"))?;
        Ok(done == 1)
    }

    /// Completes a node `worker` holds with its output's hash. `false` if it
    /// does not hold it any more (released, or its lease lapsed): the result is
    /// not recorded.
    pub async fn complete_node(
        &self,
        id: &NodeId,
        worker: &str,
        output_hash: &str,
    ) -> anyhow::Result<bool> {
        self.finish_node(id, worker, NodeState::Completed, Some(output_hash), None)
            .await
            .with_context(|| format!("completing node {id}"))
    }

    /// Fails a node `worker` holds with `error`. `false` if it does not hold it
    /// any more (released, or its lease lapsed): the failure is not recorded.
    pub async fn fail_node(
        &self,
        id: &NodeId,
        worker: &str,
        error: &serde_json::Value,
    ) -> anyhow::Result<bool> {
        self.finish_node(id, worker, NodeState::Failed, None, Some(error))
            .await
            .with_context(|| format!("failing node {id}"))
    }

    /// Moves a node `worker` holds to `to` and, in the same transaction, the
    /// stage attempt linked to it (see [`Store::link_node_stage`]): completed
    /// with the node's cache key as its output, or failed with the failure's
    /// `message`. One commit, so a worker killed after it leaves no attempt
    /// running forever, and one killed before it leaves the node to the reaper.
    async fn finish_node(
        &self,
        id: &NodeId,
        worker: &str,
        to: NodeState,
        output: Option<&str>,
        error: Option<&serde_json::Value>,
    ) -> anyhow::Result<bool> {
        let now = now_ms();
        let stage_state = match to {
            NodeState::Completed => StageState::Completed,
            _ => StageState::Failed,
        };
        let stage_error = error.map(|e| match e.get("message").and_then(|m| m.as_str()) {
            Some(message) => message.to_owned(),
            None => e.to_string(),
        });
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(pool.sql(
                "UPDATE nodes SET state = ?, output = ?, error_json = ?, finished_at = ? \
                 WHERE id = ? AND state = 'claimed' AND owner = ? AND lease_until >= ?",
            ))
            .bind(to.as_str())
            .bind(output)
            .bind(error.map(serde_json::Value::to_string))
            .bind(now)
            .bind(id.as_str())
            .bind(worker)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(pool.sql(
                "UPDATE stages SET state = ?, finished_at = ?, error = ?, output_artifact = \
                 CASE WHEN ? THEN (SELECT cache_key FROM nodes WHERE id = ?) END \
                 WHERE id = (SELECT stage_id FROM nodes WHERE id = ?) AND state = ?",
            ))
            .bind(stage_state.as_str())
            .bind(now)
            .bind(stage_error.as_deref())
            .bind(to == NodeState::Completed)
            .bind(id.as_str())
            .bind(id.as_str())
            .bind(StageState::Running.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Gives a node `worker` holds back to the queue (`ready`), as a draining
    /// worker does; its stage attempt, if linked and running, is marked
    /// interrupted. `false` if `worker` does not hold it.
    pub async fn release_node(&self, id: &NodeId, worker: &str) -> anyhow::Result<bool> {
        let Some(node) = self.get_node(id).await? else {
            return Ok(false);
        };
        if node.state != NodeState::Claimed || node.owner.as_deref() != Some(worker) {
            return Ok(false);
        }
        let reason = format!("interrupted: worker {worker} gave the node back");
        self.requeue(&node, worker, None, &reason)
            .await
            .with_context(|| format!("releasing node {id}"))
    }

    /// Gives every claimed node whose lease lapsed back to the queue (`ready`)
    /// and marks the stage attempt each was running, if still running, failed
    /// ("interrupted: worker W stopped renewing its lease"). Returns how many.
    ///
    /// A late [`Store::complete_node`] racing this either lands first (the node
    /// stays completed) or finds the node gone back: never both.
    pub async fn reap_nodes(&self) -> anyhow::Result<u64> {
        let now = now_ms();
        let sql = format!(
            "SELECT {NODE_COLUMNS} FROM nodes WHERE state = 'claimed' AND lease_until < ? \
             ORDER BY lease_until"
        );
        let lapsed = with_pool!(self, |pool| sqlx::query_as::<_, NodeRow>(pool.sql(sql))
            .bind(now)
            .fetch_all(pool)
            .await)
        .context("reading lapsed node leases")?;
        let mut reaped = 0;
        for row in lapsed {
            let node = Node::try_from(row)?;
            let Some(owner) = node.owner.clone() else {
                continue;
            };
            let reason = format!("interrupted: worker {owner} stopped renewing its lease");
            if self
                .requeue(&node, &owner, Some(now), &reason)
                .await
                .with_context(|| format!("reaping node {}", node.id))?
            {
                reaped += 1;
            }
        }
        Ok(reaped)
    }

    /// Moves `node`, as last read, back to `ready` if it is still the same
    /// claim by `owner` (and, with `lapsed_at`, its lease ended before then),
    /// then interrupts the stage attempt that claim linked.
    async fn requeue(
        &self,
        node: &Node,
        owner: &str,
        lapsed_at: Option<i64>,
        reason: &str,
    ) -> anyhow::Result<bool> {
        // `claims` tells this claim from a later one by the same owner, so the
        // stage read with it is this claim's. The node and its attempt move in
        // one transaction: a reaper stopped between the two would otherwise
        // leave the attempt running with no node pointing at it.
        let (job, name) = (node.job_id.as_str(), node.node.as_str());
        let stage = node.stage_id.as_ref().map(StageId::as_str);
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(pool.sql(
                "UPDATE nodes SET state = 'ready', owner = NULL, lease_until = NULL, stage_id = NULL \
                 WHERE id = ? AND state = 'claimed' AND owner = ? AND claims = ? \
                 AND (? IS NULL OR lease_until < ?)",
            ))
            .bind(node.id.as_str())
            .bind(owner)
            .bind(i64::from(node.claims))
            .bind(lapsed_at)
            .bind(lapsed_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            // Without a linked attempt (its holder stopped after recording it
            // but before linking it here) the attempt is found by what it ran.
            sqlx::query(pool.sql(
                "UPDATE stages SET state = ?, finished_at = ?, error = ? WHERE state = ? AND \
                 CASE WHEN ? IS NULL THEN job_id = ? AND name = ? AND worker = ? ELSE id = ? END",
            ))
            .bind(StageState::Failed.as_str())
            .bind(now_ms())
            .bind(reason)
            .bind(StageState::Running.as_str())
            .bind(stage)
            .bind(job)
            .bind(name)
            .bind(owner)
            .bind(stage)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// How many nodes, of every job, are in each state (for metrics).
    pub async fn node_state_counts(&self) -> anyhow::Result<Vec<(NodeState, u64)>> {
        with_pool!(self, |pool| sqlx::query_as::<_, (String, i64)>(pool.sql(
            "SELECT state, COUNT(*) FROM nodes GROUP BY state ORDER BY state"
        ))
        .fetch_all(pool)
        .await)
        .context("counting nodes by state")?
        .into_iter()
        .map(|(state, count)| {
            Ok((
                parse_column("nodes.state", &state)?,
                u64::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
    }

    /// Registers a worker `running` (again, if it restarted under the same
    /// id: its record is replaced).
    pub async fn register_worker(
        &self,
        id: &str,
        host: &str,
        pid: u32,
        caps: &[String],
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let caps = serde_json::to_string(caps).context("encoding worker capabilities")?;
        with_pool!(self, |pool| sqlx::query(pool.sql(
            "INSERT INTO workers (id, host, pid, caps_json, state, started_at, heartbeat_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
             caps_json = excluded.caps_json, state = excluded.state, \
             started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at"
        ))
        .bind(id)
        .bind(host)
        .bind(i64::from(pid))
        .bind(&caps)
        .bind(WorkerState::Running.as_str())
        .bind(now)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("registering worker {id}"))?;
        Ok(())
    }

    /// Records a worker's heartbeat and what it is doing. An unregistered
    /// worker fails with [`StoreError::NotFound`].
    pub async fn worker_heartbeat(&self, id: &str, state: WorkerState) -> anyhow::Result<()> {
        let done = with_pool!(self, |pool| sqlx::query(
            pool.sql("UPDATE workers SET state = ?, heartbeat_at = ? WHERE id = ?")
        )
        .bind(state.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .with_context(|| format!("recording a heartbeat of worker {id}"))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "worker",
                id: id.to_owned(),
            }
            .into());
        }
        Ok(())
    }

    /// Every registered worker, oldest first, with the nodes it holds and has
    /// finished.
    pub async fn list_workers(&self) -> anyhow::Result<Vec<WorkerInfo>> {
        let rows = with_pool!(self, |pool| sqlx::query_as::<_, WorkerRow>(pool.sql(
            "SELECT id, host, pid, caps_json, state, started_at, heartbeat_at FROM workers \
             ORDER BY started_at, id"
        ))
        .fetch_all(pool)
        .await)
        .context("listing workers")?;
        let counts = with_pool!(self, |pool| sqlx::query_as::<_, (String, String, i64)>(
            pool.sql(
                "SELECT owner, state, COUNT(*) FROM nodes WHERE owner IS NOT NULL \
                 GROUP BY owner, state"
            )
        )
        .fetch_all(pool)
        .await)
        .context("counting nodes by worker")?;
        let mut by_owner: HashMap<String, HashMap<NodeState, u64>> = HashMap::new();
        for (owner, state, count) in counts {
            let state: NodeState = parse_column("nodes.state", &state)?;
            by_owner
                .entry(owner)
                .or_default()
                .insert(state, u64::try_from(count).unwrap_or(0));
        }
        rows.into_iter()
            .map(|row| {
                let counts = by_owner.remove(&row.id).unwrap_or_default();
                let count = |state| counts.get(&state).copied().unwrap_or(0);
                Ok(WorkerInfo {
                    pid: u32::try_from(row.pid).context("corrupt workers.pid column")?,
                    caps: parse_strings("workers.caps_json", &row.caps_json)?,
                    state: parse_column("workers.state", &row.state)?,
                    started_at: row.started_at,
                    heartbeat_at: row.heartbeat_at,
                    leases: count(NodeState::Claimed),
                    nodes_completed: count(NodeState::Completed),
                    nodes_failed: count(NodeState::Failed),
                    id: row.id,
                    host: row.host,
                })
            })
            .collect()
    }
}

/// One compare-and-set `UPDATE`: SQLite runs one writer at a time, so the
/// state check and the quota count in it see every earlier claim.
async fn claim_sqlite(
    pool: &SqlitePool,
    id: &str,
    worker: &str,
    lease: i64,
) -> anyhow::Result<Attempt> {
    let now = now_ms();
    let claimed: Option<NodeRow> = sqlx::query_as(pool.sql(claim_sql()))
        .bind(worker)
        .bind(now.saturating_add(lease))
        .bind(now)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = claimed {
        return Ok(Attempt::Claimed(Box::new(Node::try_from(row)?)));
    }
    let state: Option<String> =
        sqlx::query_scalar(pool.sql("SELECT state FROM nodes WHERE id = ?"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(match state.as_deref() {
        Some("ready") => Attempt::TenantFull,
        _ => Attempt::Lost,
    })
}

/// In one transaction: lock the node row, skipping it if another claimer has
/// it; lock the tenant's row when it has a quota, so claims of one tenant
/// count their held nodes one after the other; then the same update as SQLite.
async fn claim_postgres(
    pool: &PgPool,
    id: &str,
    tenant: &str,
    worker: &str,
    lease: i64,
) -> anyhow::Result<Attempt> {
    let mut tx = pool.begin().await?;
    let locked: Option<String> = sqlx::query_scalar(
        pool.sql("SELECT id FROM nodes WHERE id = ? AND state = 'ready' FOR UPDATE SKIP LOCKED"),
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if locked.is_none() {
        tx.rollback().await?;
        return Ok(Attempt::Lost);
    }
    let quota: Option<Option<i64>> =
        sqlx::query_scalar(pool.sql("SELECT node_quota FROM tenants WHERE id = ?"))
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
    if quota.flatten().is_some() {
        // NO KEY UPDATE: serialises claimers of this tenant without blocking
        // inserts that reference the tenant (their foreign key check).
        sqlx::query(pool.sql("SELECT id FROM tenants WHERE id = ? FOR NO KEY UPDATE"))
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
    }
    let now = now_ms();
    let claimed: Option<NodeRow> = sqlx::query_as(pool.sql(claim_sql()))
        .bind(worker)
        .bind(now.saturating_add(lease))
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = claimed else {
        tx.rollback().await?;
        return Ok(Attempt::TenantFull);
    };
    tx.commit().await?;
    Ok(Attempt::Claimed(Box::new(Node::try_from(row)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            NodeState::Ready,
            NodeState::Claimed,
            NodeState::Completed,
            NodeState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<NodeState>(), Ok(s));
        }
        for s in [
            WorkerState::Running,
            WorkerState::Draining,
            WorkerState::Stopped,
        ] {
            assert_eq!(s.as_str().parse::<WorkerState>(), Ok(s));
        }
        assert!("done".parse::<NodeState>().is_err());
    }
}
