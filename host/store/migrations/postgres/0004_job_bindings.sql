-- Bindings given for one job (`kino run --bind`), over the tenant's: kept
-- with the job so a resumed job runs the plugins it started with.
CREATE TABLE job_bindings (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    slot         TEXT NOT NULL,
    plugin_name  TEXT NOT NULL,
    requirement  TEXT NOT NULL,
    config_json  TEXT NOT NULL,
    grants_json  TEXT NOT NULL,
    PRIMARY KEY (job_id, slot)
);
