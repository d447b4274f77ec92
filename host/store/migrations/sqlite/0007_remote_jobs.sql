-- Jobs that plugins started on remote backends (a transcription, a clip
-- render): the backend's ticket, kept so a host that restarts checks the
-- same remote job instead of starting (and paying for) it again. `work_key` is
-- the work's cache key; `plugin` the plugin that holds the ticket.
CREATE TABLE remote_jobs (
    work_key TEXT PRIMARY KEY,
    plugin TEXT NOT NULL,
    ticket TEXT NOT NULL,
    state TEXT NOT NULL,
    checks BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
