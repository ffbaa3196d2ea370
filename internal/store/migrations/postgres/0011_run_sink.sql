-- Run sink, persistence and cost (RUNTIME.md §1.4–§1.8, §4.9, §5; API.md §4.8, §4.17, §7). The runs row gains
-- what the planner resolves at claim (model, profiles, provider statuses, the output schema the run uses) and
-- what remote runners report (runner name/kind, context snapshot); cost is the cached SUM of the run's
-- llm_usage rows. Sink events that arrive ahead of their sequence wait in run_event_buffer (shared by every
-- process on the database); run_event_receipts remembers webhook ids for the replay window.
ALTER TABLE runs ADD COLUMN cost double precision;
ALTER TABLE runs ADD COLUMN model_label text;
ALTER TABLE runs ADD COLUMN model_source text CHECK (model_source IS NULL OR model_source IN ('system', 'org'));
ALTER TABLE runs ADD COLUMN model_credential_id text;
ALTER TABLE runs ADD COLUMN proxy_label text;
ALTER TABLE runs ADD COLUMN provider_profile_ids jsonb;
ALTER TABLE runs ADD COLUMN provider_statuses jsonb;
ALTER TABLE runs ADD COLUMN output_schema jsonb;
ALTER TABLE runs ADD COLUMN context_snapshot jsonb;
ALTER TABLE runs ADD COLUMN runner_name text;
ALTER TABLE runs ADD COLUMN runner_kind text;
CREATE INDEX runs_open_sink_heartbeat_idx ON runs(last_heartbeat_at)
    WHERE sink_closed_at IS NULL AND sink_expires_at IS NOT NULL;

-- Memories and pinned slots (RUNTIME.md §1.8). Named pinned slot: key set, pinned; pinned memo: no key,
-- pinned; archive memory: no key, not pinned. actor_id is NULL exactly for the shared scope.
CREATE TABLE package_persistence (
    id             bigserial PRIMARY KEY,
    package_id     text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    application_id text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key            text,
    pinned         boolean NOT NULL DEFAULT false,
    actor_type     text NOT NULL CHECK (actor_type IN ('user', 'end_user', 'shared')),
    actor_id       text,
    content        jsonb NOT NULL,
    run_id         text REFERENCES runs(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((actor_type = 'shared') = (actor_id IS NULL)),
    CHECK (key IS NULL OR pinned)
);
CREATE UNIQUE INDEX package_persistence_slot_idx
    ON package_persistence(package_id, application_id, actor_type, COALESCE(actor_id, '__shared__'), key)
    WHERE key IS NOT NULL;
CREATE INDEX package_persistence_scope_idx ON package_persistence(package_id, application_id, pinned, created_at);

-- LLM usage ledger (RUNTIME.md §1.6, §4.9). One 'runner' row per run (the runner's running total, kept at its
-- highest cost); 'proxy' rows are metered by the platform per LLM response (sidecar /internal/llm-usage, LLM
-- proxy), deduplicated per (run, request).
CREATE TABLE llm_usage (
    id                 bigserial PRIMARY KEY,
    org_id             text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id     text REFERENCES applications(id) ON DELETE CASCADE,
    run_id             text REFERENCES runs(id) ON DELETE CASCADE,
    user_id            text REFERENCES users(id) ON DELETE SET NULL,
    api_key_id         text REFERENCES api_keys(id) ON DELETE SET NULL,
    source             text NOT NULL CHECK (source IN ('proxy', 'runner')),
    request_id         text,
    api                text,
    model              text,
    input_tokens       integer NOT NULL DEFAULT 0,
    output_tokens      integer NOT NULL DEFAULT 0,
    cache_read_tokens  integer NOT NULL DEFAULT 0,
    cache_write_tokens integer NOT NULL DEFAULT 0,
    cost_usd           double precision NOT NULL DEFAULT 0,
    duration_ms        integer,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX llm_usage_runner_idx ON llm_usage(run_id) WHERE source = 'runner';
CREATE UNIQUE INDEX llm_usage_proxy_request_idx ON llm_usage(run_id, request_id) WHERE source = 'proxy';
CREATE INDEX llm_usage_org_created_idx ON llm_usage(org_id, created_at);

-- Sink events received ahead of their turn (sequence > last_event_sequence + 1), drained in order.
CREATE TABLE run_event_buffer (
    run_id     text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    sequence   integer NOT NULL,
    webhook_id text NOT NULL,
    event      jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, sequence)
);

-- Webhook ids seen on a run's sink, for replay detection until expires_at.
CREATE TABLE run_event_receipts (
    run_id     text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    webhook_id text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, webhook_id)
);
CREATE INDEX run_event_receipts_expires_idx ON run_event_receipts(expires_at);
