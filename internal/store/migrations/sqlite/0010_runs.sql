-- Runs and their logs (API.md §5 item 10, §7 runs/run_logs; RUNTIME.md §1). The run row is inserted `pending`
-- with its execution job (job_id, River) in one transaction; the worker moves it to `running` and a single
-- conditional UPDATE finalizes it. last_heartbeat_at is bumped by the worker while it executes; the watchdog
-- fails running runs whose heartbeat stopped (their process died). Columns of later features (sink events,
-- cost, models, schedules) arrive with their own migrations.

CREATE TABLE runs (
    id                    TEXT PRIMARY KEY,
    package_id            TEXT REFERENCES packages(id) ON DELETE SET NULL,
    user_id               TEXT REFERENCES users(id) ON DELETE SET NULL,
    end_user_id           TEXT REFERENCES end_users(id) ON DELETE SET NULL,
    api_key_id            TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    application_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    status                TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'failed', 'timeout', 'cancelled')),
    input                 TEXT,
    result                TEXT,
    checkpoint            TEXT,
    error                 TEXT,
    token_usage           TEXT,
    config                TEXT,
    config_override       TEXT,
    metadata              TEXT,
    agent_scope           TEXT,
    agent_name            TEXT,
    version_label         TEXT,
    version_dirty         INTEGER NOT NULL DEFAULT 0,
    model_id              TEXT,
    proxy_id              TEXT,
    run_number            INTEGER,
    run_origin            TEXT NOT NULL DEFAULT 'platform' CHECK (run_origin IN ('platform', 'remote')),
    timeout_seconds       INTEGER NOT NULL,
    job_id                INTEGER,
    sink_secret_encrypted TEXT,
    sink_expires_at       TIMESTAMP,
    sink_closed_at        TIMESTAMP,
    last_event_sequence   INTEGER NOT NULL DEFAULT 0,
    last_heartbeat_at     TIMESTAMP,
    started_at            TIMESTAMP NOT NULL,
    completed_at          TIMESTAMP,
    duration              INTEGER,
    notified_at           TIMESTAMP,
    read_at               TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    CHECK (user_id IS NULL OR end_user_id IS NULL),
    CHECK (sink_expires_at IS NULL OR sink_secret_encrypted IS NOT NULL)
);
CREATE INDEX runs_app_created_idx ON runs(application_id, created_at);
CREATE INDEX runs_package_idx ON runs(package_id);
CREATE INDEX runs_org_active_idx ON runs(org_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_running_heartbeat_idx ON runs(last_heartbeat_at) WHERE status = 'running';

CREATE TABLE run_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    org_id     TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT 'progress' CHECK (type IN ('progress', 'result', 'system')),
    level      TEXT NOT NULL DEFAULT 'debug' CHECK (level IN ('debug', 'info', 'warn', 'error')),
    event      TEXT,
    message    TEXT,
    data       TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX run_logs_run_id_idx ON run_logs(run_id, id);
