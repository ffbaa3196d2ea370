-- Outbound webhooks (API.md §3.7, §4.15, §7 webhooks module; PLATFORM.md §2.3). A webhook is org-level
-- (fires for every application) or application-level (application_id set); events is a JSON array of event
-- types; package_id an optional agent filter. Unlike upstream, the signing secrets are v1 envelopes
-- (secret_encrypted; secret_next_encrypted during a rotation window, until secret_next_expires_at).
CREATE TABLE webhooks (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    level                  TEXT NOT NULL CHECK (level IN ('org', 'application')),
    application_id         TEXT REFERENCES applications(id) ON DELETE CASCADE,
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL DEFAULT '[]',
    package_id             TEXT REFERENCES packages(id) ON DELETE SET NULL,
    payload_mode           TEXT NOT NULL DEFAULT 'full' CHECK (payload_mode IN ('full', 'summary')),
    enabled                INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    secret_encrypted       TEXT NOT NULL,
    secret_next_encrypted  TEXT,
    secret_next_expires_at TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    CHECK ((level = 'org') = (application_id IS NULL))
);
CREATE INDEX webhooks_org_idx ON webhooks(org_id, level);
CREATE INDEX webhooks_application_idx ON webhooks(application_id);
CREATE INDEX webhooks_package_idx ON webhooks(package_id);

-- One row per delivery attempt: pending while the request is in flight, then success or failed with the HTTP
-- status (NULL without a response), the latency in ms and the error.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'success', 'failed')),
    status_code INTEGER,
    latency     INTEGER,
    attempt     INTEGER NOT NULL,
    error       TEXT,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries(webhook_id, created_at);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries(webhook_id, event_id);
