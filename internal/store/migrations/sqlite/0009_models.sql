-- Models (API.md §4.12, §7): model-provider credentials of an organization (the API key as a v1 envelope in
-- credentials_encrypted, {"apiKey": …}; key_hint is the masked form shown by the API) and the org models that
-- use them, with their limits and their price in USD per million tokens (cost, {input, output, cacheRead,
-- cacheWrite}). Models from SYSTEM_PROVIDER_KEYS live in the configuration, not here.
CREATE TABLE model_provider_credentials (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label                 TEXT NOT NULL,
    provider_id           TEXT NOT NULL,
    credentials_encrypted TEXT NOT NULL,
    key_hint              TEXT NOT NULL DEFAULT '',
    base_url_override     TEXT,
    expires_at            TIMESTAMP,
    created_by            TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX model_provider_credentials_org_idx ON model_provider_credentials(org_id);

CREATE TABLE org_models (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label          TEXT NOT NULL,
    model_id       TEXT NOT NULL,
    credential_id  TEXT NOT NULL REFERENCES model_provider_credentials(id) ON DELETE RESTRICT,
    input          TEXT NOT NULL DEFAULT '["text"]',
    context_window INTEGER,
    max_tokens     INTEGER,
    reasoning      INTEGER NOT NULL DEFAULT 0 CHECK (reasoning IN (0, 1)),
    cost           TEXT,
    enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    source         TEXT NOT NULL DEFAULT 'custom',
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX org_models_org_idx ON org_models(org_id);
CREATE INDEX org_models_credential_idx ON org_models(credential_id);
CREATE UNIQUE INDEX org_models_one_default ON org_models(org_id) WHERE is_default = 1;
