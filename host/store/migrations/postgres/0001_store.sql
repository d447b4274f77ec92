-- Kino's job/metadata store, first schema (PostgreSQL).
--
-- The same schema as `migrations/sqlite/0001_store.sql`, version for version
-- and column for column: TEXT ids, BIGINT timestamps in milliseconds since the
-- Unix epoch, BOOLEAN with TRUE/FALSE. Every integer column is BIGINT so it
-- reads back as an i64, as SQLite's integers do; `events.id` is an identity
-- column where SQLite has `INTEGER PRIMARY KEY AUTOINCREMENT`.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Only the SHA-256 of a key is kept; the plaintext is shown once, at issue.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash        TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE plugin_versions (
    name              TEXT NOT NULL,
    version           TEXT NOT NULL,
    world             TEXT NOT NULL,
    component_sha256  TEXT NOT NULL,
    package_digest    TEXT NOT NULL,
    signer            TEXT,
    installed_at      BIGINT NOT NULL,
    yanked            BOOLEAN NOT NULL DEFAULT FALSE,
    enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (name, version)
);

CREATE TABLE bindings (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slot         TEXT NOT NULL,
    plugin_name  TEXT NOT NULL,
    requirement  TEXT NOT NULL,
    config_json  TEXT NOT NULL,
    grants_json  TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, slot)
);
CREATE INDEX bindings_plugin ON bindings (plugin_name);

CREATE TABLE secrets (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    pipeline     TEXT NOT NULL,
    inputs_json  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'completed', 'failed')),
    error        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at);
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE stages (
    id               TEXT PRIMARY KEY NOT NULL,
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    plugin           TEXT,
    state            TEXT NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    attempt          BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    error            TEXT,
    output_artifact  TEXT,
    UNIQUE (job_id, name, attempt)
);

-- The stage output cache. `key` is the stage cache key (stage identity, plugin
-- name@version, config, input hashes); `hash` is the SHA-256 of the content.
-- Two keys may name the same content, so the key is the primary key and the
-- hash is only indexed.
CREATE TABLE artifacts (
    key         TEXT PRIMARY KEY NOT NULL,
    hash        TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX artifacts_hash ON artifacts (hash);

CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    data_json  TEXT NOT NULL
);
CREATE INDEX events_job ON events (job_id, id);
