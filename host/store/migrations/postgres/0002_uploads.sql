-- Which tenant uploaded which job input. Inputs are stored content-addressed
-- and shared, so a job may only name content its own tenant uploaded: a hash
-- seen elsewhere (another tenant's upload, a stage output) is not an input.
CREATE TABLE uploads (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
