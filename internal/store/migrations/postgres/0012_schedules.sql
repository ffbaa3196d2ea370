-- Agent schedules (API.md §4.10, §5 item 17, §8.2; PLATFORM.md §2.2). A schedule fires its agent in its
-- application on a cron expression evaluated in an IANA time zone, as the owner of its connection profile,
-- with the input and the overrides frozen at creation. next_run_at is the slot the firing job claims: the
-- claim is a conditional UPDATE (WHERE next_run_at = <the slot read>) in the transaction that inserts the run,
-- so one slot gives one run however many processes fire. NULL when disabled. Deleting the agent, the
-- application or the connection profile deletes the schedule; its runs keep their rows (schedule_id → NULL).
CREATE TABLE package_schedules (
    id                    text PRIMARY KEY,
    package_id            text NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    connection_profile_id text NOT NULL REFERENCES connection_profiles(id) ON DELETE CASCADE,
    org_id                text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    application_id        text NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    name                  text,
    enabled               boolean NOT NULL DEFAULT true,
    cron_expression       text NOT NULL,
    timezone              text NOT NULL DEFAULT 'UTC',
    input                 jsonb NOT NULL DEFAULT '{}',
    config_override       jsonb,
    model_id_override     text,
    proxy_id_override     text,
    version_override      text,
    last_run_at           timestamptz,
    next_run_at           timestamptz,
    created_by            text REFERENCES users(id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX package_schedules_due_idx ON package_schedules(next_run_at) WHERE enabled;
CREATE INDEX package_schedules_app_idx ON package_schedules(application_id, package_id);
CREATE INDEX package_schedules_package_idx ON package_schedules(package_id);
CREATE INDEX package_schedules_profile_idx ON package_schedules(connection_profile_id);

-- A run fired by a schedule, and the connection profile a run names explicitly (the schedule's).
ALTER TABLE runs ADD COLUMN schedule_id text REFERENCES package_schedules(id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN connection_profile_id text REFERENCES connection_profiles(id) ON DELETE SET NULL;
CREATE INDEX runs_schedule_idx ON runs(schedule_id, created_at) WHERE schedule_id IS NOT NULL;
