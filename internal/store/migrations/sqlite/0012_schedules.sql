-- Agent schedules (API.md §4.10, §5 item 17, §8.2; PLATFORM.md §2.2). A schedule fires its agent in its
-- application on a cron expression evaluated in an IANA time zone, as the owner of its connection profile,
-- with the input and the overrides frozen at creation. next_run_at is the slot the firing job claims: the
-- claim is a conditional UPDATE (WHERE next_run_at = <the slot read>) in the transaction that inserts the run,
-- so one slot gives one run however many processes fire. NULL when disabled. Deleting the agent, the
-- application or the connection profile deletes the schedule; its runs keep their rows (schedule_id → NULL).
CREATE TABLE package_schedules (
    id                    TEXT PRIMARY KEY,
    package_id            TEXT NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    connection_profile_id TEXT NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name                  TEXT,
    enabled               INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    cron_expression       TEXT NOT NULL,
    timezone              TEXT NOT NULL DEFAULT 'UTC',
    input                 TEXT NOT NULL DEFAULT '{}',
    config_override       TEXT,
    model_id_override     TEXT,
    proxy_id_override     TEXT,
    version_override      TEXT,
    last_run_at           TIMESTAMP,
    next_run_at           TIMESTAMP,
    created_by            TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX package_schedules_due_idx ON package_schedules(next_run_at) WHERE enabled;
CREATE INDEX package_schedules_app_idx ON package_schedules(application_id, package_id);
CREATE INDEX package_schedules_package_idx ON package_schedules(package_id);
CREATE INDEX package_schedules_profile_idx ON package_schedules(connection_profile_id);

-- A run fired by a schedule, and the connection profile a run names explicitly (the schedule's).
ALTER TABLE runs ADD COLUMN schedule_id TEXT REFERENCES package_schedules(id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN connection_profile_id TEXT REFERENCES connection_profiles(id) ON DELETE SET NULL;
CREATE INDEX runs_schedule_idx ON runs(schedule_id, created_at) WHERE schedule_id IS NOT NULL;
