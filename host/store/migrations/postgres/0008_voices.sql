-- Voices a tenant made on a speech backend (voice cloning): the backend's id
-- for each, under a name the tenant chose, so a job asks for `voice = "ana"`
-- and the host passes the backend's id. `plugin` is the speech plugin's name
-- (any version): the id belongs to the backend account it talks to.
CREATE TABLE voices (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    plugin TEXT NOT NULL,
    voice_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
