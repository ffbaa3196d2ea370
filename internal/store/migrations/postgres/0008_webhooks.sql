-- Outbound webhooks (API.md §3.7, §4.15, §7 webhooks module; PLATFORM.md §2.3). A webhook is org-level
-- (fires for every application) or application-level (application_id set); events is a JSON array of event
-- types; package_id an optional agent filter. Unlike upstream, the signing secrets are v1 envelopes
-- (secret_encrypted; secret_next_encrypted during a rotation window, until secret_next_expires_at).
CREATE TABLE webhooks (
    id                     text PRIMARY KEY,
    org_id                 text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    level                  text NOT NULL CHECK (level IN ('org', 'application')),
    application_id         text REFERENCES applications(id) ON DELETE CASCADE,
    url                    text NOT NULL,
    events                 jsonb NOT NULL DEFAULT '[]',
    package_id             text REFERENCES packages(id) ON DELETE SET NULL,
    payload_mode           text NOT NULL DEFAULT 'full' CHECK (payload_mode IN ('full', 'summary')),
    enabled                boolean NOT NULL DEFAULT true,
    secret_encrypted       text NOT NULL,
    secret_next_encrypted  text,
    secret_next_expires_at timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CHECK ((level = 'org') = (application_id IS NULL))
);
CREATE INDEX webhooks_org_idx ON webhooks(org_id, level);
CREATE INDEX webhooks_application_idx ON webhooks(application_id);
CREATE INDEX webhooks_package_idx ON webhooks(package_id);

-- One row per delivery attempt: pending while the request is in flight, then success or failed with the HTTP
-- status (NULL without a response), the latency in ms and the error.
CREATE TABLE webhook_deliveries (
    id          text PRIMARY KEY,
    webhook_id  text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    status_code integer,
    latency     integer,
    attempt     integer NOT NULL,
    error       text,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries(webhook_id, created_at);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries(webhook_id, event_id);
