-- Models (API.md §4.12, §7): model-provider credentials of an organization (the API key as a v1 envelope in
-- credentials_encrypted, {"apiKey": …}; key_hint is the masked form shown by the API) and the org models that
-- use them, with their limits and their price in USD per million tokens (cost, {input, output, cacheRead,
-- cacheWrite}). Models from SYSTEM_PROVIDER_KEYS live in the configuration, not here.
CREATE TABLE model_provider_credentials (
    id                    text PRIMARY KEY,
    org_id                text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label                 text NOT NULL,
    provider_id           text NOT NULL,
    credentials_encrypted text NOT NULL,
    key_hint              text NOT NULL DEFAULT '',
    base_url_override     text,
    expires_at            timestamptz,
    created_by            text REFERENCES users(id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX model_provider_credentials_org_idx ON model_provider_credentials(org_id);

CREATE TABLE org_models (
    id             text PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    label          text NOT NULL,
    model_id       text NOT NULL,
    credential_id  text NOT NULL REFERENCES model_provider_credentials(id) ON DELETE RESTRICT,
    input          jsonb NOT NULL DEFAULT '["text"]',
    context_window integer,
    max_tokens     integer,
    reasoning      boolean NOT NULL DEFAULT false,
    cost           jsonb,
    enabled        boolean NOT NULL DEFAULT true,
    is_default     boolean NOT NULL DEFAULT false,
    source         text NOT NULL DEFAULT 'custom',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX org_models_org_idx ON org_models(org_id);
CREATE INDEX org_models_credential_idx ON org_models(credential_id);
CREATE UNIQUE INDEX org_models_one_default ON org_models(org_id) WHERE is_default;
