-- Run sink, persistence and cost (RUNTIME.md §1.4–§1.8, §4.9, §5; API.md §4.8, §4.17, §7). The runs row gains
-- what the planner resolves at claim (model, profiles, provider statuses, the output schema the run uses) and
-- what remote runners report (runner name/kind, context snapshot); cost is the cached SUM of the run's
-- llm_usage rows. Sink events that arrive ahead of their sequence wait in run_event_buffer (shared by every
-- process on the database); run_event_receipts remembers webhook ids for the replay window.
ALTER TABLE runs ADD COLUMN cost REAL;
ALTER TABLE runs ADD COLUMN model_label TEXT;
ALTER TABLE runs ADD COLUMN model_source TEXT CHECK (model_source IS NULL OR model_source IN ('system', 'org'));
ALTER TABLE runs ADD COLUMN model_credential_id TEXT;
ALTER TABLE runs ADD COLUMN proxy_label TEXT;
ALTER TABLE runs ADD COLUMN provider_profile_ids TEXT;
ALTER TABLE runs ADD COLUMN provider_statuses TEXT;
ALTER TABLE runs ADD COLUMN output_schema TEXT;
ALTER TABLE runs ADD COLUMN context_snapshot TEXT;
ALTER TABLE runs ADD COLUMN runner_name TEXT;
ALTER TABLE runs ADD COLUMN runner_kind TEXT;
CREATE INDEX runs_open_sink_heartbeat_idx ON runs(last_heartbeat_at)
    WHERE sink_closed_at IS NULL AND sink_expires_at IS NOT NULL;

-- Memories and pinned slots (RUNTIME.md §1.8). Named pinned slot: key set, pinned; pinned memo: no key,
-- pinned; archive memory: no key, not pinned. actor_id is NULL exactly for the shared scope.
CREATE TABLE package_persistence (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id     TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key            TEXT,
    pinned         INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    actor_type     TEXT NOT NULL CHECK (actor_type IN ('user', 'end_user', 'shared')),
    actor_id       TEXT,
    content        TEXT NOT NULL,
    run_id         TEXT REFERENCES runs(id) ON DELETE SET NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CHECK ((actor_type = 'shared') = (actor_id IS NULL)),
    CHECK (key IS NULL OR pinned = 1)
);
CREATE UNIQUE INDEX package_persistence_slot_idx
    ON package_persistence(package_id, application_id, actor_type, COALESCE(actor_id, '__shared__'), key)
    WHERE key IS NOT NULL;
CREATE INDEX package_persistence_scope_idx ON package_persistence(package_id, application_id, pinned, created_at);

-- LLM usage ledger (RUNTIME.md §1.6, §4.9). One 'runner' row per run (the runner's running total, kept at its
-- highest cost); 'proxy' rows are metered by the platform per LLM response (sidecar /internal/llm-usage, LLM
-- proxy), deduplicated per (run, request).
CREATE TABLE llm_usage (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id             TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id     TEXT REFERENCES applications(id) ON DELETE CASCADE,
    run_id             TEXT REFERENCES runs(id) ON DELETE CASCADE,
    user_id            TEXT REFERENCES users(id) ON DELETE SET NULL,
    api_key_id         TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    source             TEXT NOT NULL CHECK (source IN ('proxy', 'runner')),
    request_id         TEXT,
    api                TEXT,
    model              TEXT,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd           REAL NOT NULL DEFAULT 0,
    duration_ms        INTEGER,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX llm_usage_runner_idx ON llm_usage(run_id) WHERE source = 'runner';
CREATE UNIQUE INDEX llm_usage_proxy_request_idx ON llm_usage(run_id, request_id) WHERE source = 'proxy';
CREATE INDEX llm_usage_org_created_idx ON llm_usage(org_id, created_at);

-- Sink events received ahead of their turn (sequence > last_event_sequence + 1), drained in order.
CREATE TABLE run_event_buffer (
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    sequence   INTEGER NOT NULL,
    webhook_id TEXT NOT NULL,
    event      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, sequence)
);

-- Webhook ids seen on a run's sink, for replay detection until expires_at.
CREATE TABLE run_event_receipts (
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, webhook_id)
);
CREATE INDEX run_event_receipts_expires_idx ON run_event_receipts(expires_at);
