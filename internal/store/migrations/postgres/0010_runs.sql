-- Runs and their logs (API.md §5 item 10, §7 runs/run_logs; RUNTIME.md §1). The run row is inserted `pending`
-- with its execution job (job_id, River) in one transaction; the worker moves it to `running` and a single
-- conditional UPDATE finalizes it. last_heartbeat_at is bumped by the worker while it executes; the watchdog
-- fails running runs whose heartbeat stopped (their process died). Columns of later features (sink events,
-- cost, models, schedules) arrive with their own migrations.

CREATE TABLE runs (
    id                    text PRIMARY KEY,
    package_id            text REFERENCES packages(id) ON DELETE SET NULL,
    user_id               text REFERENCES users(id) ON DELETE SET NULL,
    end_user_id           text REFERENCES end_users(id) ON DELETE SET NULL,
    api_key_id            text REFERENCES api_keys(id) ON DELETE SET NULL,
    application_id        text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id                text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    status                text NOT NULL CHECK (status IN ('pending', 'running', 'success', 'failed', 'timeout', 'cancelled')),
    input                 jsonb,
    result                jsonb,
    checkpoint            jsonb,
    error                 text,
    token_usage           jsonb,
    config                jsonb,
    config_override       jsonb,
    metadata              jsonb,
    agent_scope           text,
    agent_name            text,
    version_label         text,
    version_dirty         boolean NOT NULL DEFAULT false,
    model_id              text,
    proxy_id              text,
    run_number            integer,
    run_origin            text NOT NULL DEFAULT 'platform' CHECK (run_origin IN ('platform', 'remote')),
    timeout_seconds       integer NOT NULL,
    job_id                bigint,
    sink_secret_encrypted text,
    sink_expires_at       timestamptz,
    sink_closed_at        timestamptz,
    last_event_sequence   integer NOT NULL DEFAULT 0,
    last_heartbeat_at     timestamptz,
    started_at            timestamptz NOT NULL,
    completed_at          timestamptz,
    duration              integer,
    notified_at           timestamptz,
    read_at               timestamptz,
    created_at            timestamptz NOT NULL,
    CHECK (user_id IS NULL OR end_user_id IS NULL),
    CHECK (sink_expires_at IS NULL OR sink_secret_encrypted IS NOT NULL)
);
CREATE INDEX runs_app_created_idx ON runs(application_id, created_at);
CREATE INDEX runs_package_idx ON runs(package_id);
CREATE INDEX runs_org_active_idx ON runs(org_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_running_heartbeat_idx ON runs(last_heartbeat_at) WHERE status = 'running';

CREATE TABLE run_logs (
    id         bigserial PRIMARY KEY,
    run_id     text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    org_id     text NOT NULL,
    type       text NOT NULL DEFAULT 'progress' CHECK (type IN ('progress', 'result', 'system')),
    level      text NOT NULL DEFAULT 'debug' CHECK (level IN ('debug', 'info', 'warn', 'error')),
    event      text,
    message    text,
    data       jsonb,
    created_at timestamptz NOT NULL
);
CREATE INDEX run_logs_run_id_idx ON run_logs(run_id, id);
