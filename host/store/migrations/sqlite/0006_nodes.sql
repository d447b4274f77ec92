-- The node queue: a job's graph split into nodes (stage runs, each with its
-- cache key) that workers on any machine claim, hold under a lease, and finish.
-- Workers register themselves and keep a heartbeat. Job priority and a
-- per-tenant quota of held nodes steer which node is claimed next.

ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
-- How many nodes of the tenant workers may hold at once; NULL: no limit.
ALTER TABLE tenants ADD COLUMN node_quota BIGINT;
-- The worker that ran a stage attempt (NULL: the host's own executor).
ALTER TABLE stages ADD COLUMN worker TEXT;

CREATE TABLE nodes (
    id           TEXT PRIMARY KEY NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    node         TEXT NOT NULL,
    cache_key    TEXT NOT NULL,
    task_json    TEXT NOT NULL,
    needs_json   TEXT NOT NULL,
    priority     BIGINT NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN ('ready', 'claimed', 'completed', 'failed')),
    owner        TEXT,
    lease_until  BIGINT,
    claims       BIGINT NOT NULL DEFAULT 0,
    stage_id     TEXT REFERENCES stages (id) ON DELETE SET NULL,
    output       TEXT,
    error_json   TEXT,
    created_at   BIGINT NOT NULL,
    claimed_at   BIGINT,
    finished_at  BIGINT
);
-- At most one open (ready or claimed) row per node and cache key of a job:
-- enqueueing it again finds that row. Finished rows stay as history.
CREATE UNIQUE INDEX nodes_open ON nodes (job_id, node, cache_key)
    WHERE state IN ('ready', 'claimed');
CREATE INDEX nodes_state ON nodes (state, tenant_id);
CREATE INDEX nodes_job ON nodes (job_id, created_at);
CREATE INDEX nodes_owner ON nodes (owner, state);
-- Whose turn it is: each tenant's latest claim.
CREATE INDEX nodes_tenant_claimed ON nodes (tenant_id, claimed_at);

CREATE TABLE workers (
    id            TEXT PRIMARY KEY NOT NULL,
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    caps_json     TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'draining', 'stopped')),
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL
);
