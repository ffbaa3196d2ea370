package realtime

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
)

// Install (re)creates the notification triggers on runs and run_logs. It runs at every boot, after the
// migrations, so the payloads follow the code (as upstream, which recreates them at boot too).
func Install(ctx context.Context, db *store.DB) error {
	stmts := sqliteTriggers
	if db.Dialect() == store.Postgres {
		stmts = postgresTriggers
	}
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			return fmt.Errorf("install realtime triggers: %w", err)
		}
	}
	return nil
}

// Only the columns a client shows are watched on update: heartbeats and event cursors do not notify.
const watchedRunColumns = "status, error, completed_at, duration, cost, token_usage"

var sqliteTriggers = []string{
	`DROP TRIGGER IF EXISTS runs_notify_insert`,
	`DROP TRIGGER IF EXISTS runs_notify_update`,
	`DROP TRIGGER IF EXISTS run_logs_notify_insert`,
	`CREATE TRIGGER runs_notify_insert AFTER INSERT ON runs BEGIN SELECT appstrate_notify('run_update', ` + sqliteRunJSON("INSERT") + `); END`,
	`CREATE TRIGGER runs_notify_update AFTER UPDATE OF ` + watchedRunColumns + ` ON runs BEGIN SELECT appstrate_notify('run_update', ` + sqliteRunJSON("UPDATE") + `); END`,
	`CREATE TRIGGER run_logs_notify_insert AFTER INSERT ON run_logs BEGIN SELECT appstrate_notify('run_log_insert', json_object(
		'id', NEW.id, 'runId', NEW.run_id, 'orgId', NEW.org_id,
		'applicationId', (SELECT application_id FROM runs WHERE id = NEW.run_id),
		'packageId', (SELECT package_id FROM runs WHERE id = NEW.run_id),
		'type', NEW.type, 'level', NEW.level, 'event', NEW.event, 'message', substr(NEW.message, 1, 2000),
		'data', CASE WHEN NEW.data IS NULL THEN NULL WHEN length(NEW.data) > 6000 THEN '[payload too large]' ELSE NEW.data END,
		'createdAt', NEW.created_at)); END`,
}

func sqliteRunJSON(op string) string {
	return `json_object('operation', '` + op + `', 'id', NEW.id, 'packageId', NEW.package_id, 'status', NEW.status,
		'userId', NEW.user_id, 'endUserId', NEW.end_user_id, 'orgId', NEW.org_id, 'applicationId', NEW.application_id,
		'error', NEW.error, 'startedAt', NEW.started_at, 'completedAt', NEW.completed_at, 'duration', NEW.duration)`
}

var postgresTriggers = []string{
	`CREATE OR REPLACE FUNCTION appstrate_notify_run_update() RETURNS trigger AS $$
	BEGIN
		PERFORM pg_notify('run_update', json_build_object('operation', TG_OP, 'id', NEW.id, 'packageId', NEW.package_id,
			'status', NEW.status, 'userId', NEW.user_id, 'endUserId', NEW.end_user_id, 'orgId', NEW.org_id,
			'applicationId', NEW.application_id, 'error', NEW.error, 'startedAt', NEW.started_at,
			'completedAt', NEW.completed_at, 'duration', NEW.duration)::text);
		RETURN NEW;
	END $$ LANGUAGE plpgsql`,
	`CREATE OR REPLACE FUNCTION appstrate_notify_run_log() RETURNS trigger AS $$
	DECLARE app text; pkg text;
	BEGIN
		SELECT application_id, package_id INTO app, pkg FROM runs WHERE id = NEW.run_id;
		PERFORM pg_notify('run_log_insert', json_build_object('id', NEW.id, 'runId', NEW.run_id, 'orgId', NEW.org_id,
			'applicationId', app, 'packageId', pkg, 'type', NEW.type, 'level', NEW.level, 'event', NEW.event,
			'message', left(NEW.message, 2000),
			'data', CASE WHEN NEW.data IS NULL THEN NULL WHEN length(NEW.data::text) > 6000 THEN to_json('[payload too large]'::text)
				ELSE to_json(NEW.data::text) END,
			'createdAt', NEW.created_at)::text);
		RETURN NEW;
	END $$ LANGUAGE plpgsql`,
	`DROP TRIGGER IF EXISTS runs_notify_insert ON runs`,
	`DROP TRIGGER IF EXISTS runs_notify_update ON runs`,
	`DROP TRIGGER IF EXISTS run_logs_notify_insert ON run_logs`,
	`CREATE TRIGGER runs_notify_insert AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION appstrate_notify_run_update()`,
	`CREATE TRIGGER runs_notify_update AFTER UPDATE OF ` + watchedRunColumns + ` ON runs FOR EACH ROW EXECUTE FUNCTION appstrate_notify_run_update()`,
	`CREATE TRIGGER run_logs_notify_insert AFTER INSERT ON run_logs FOR EACH ROW EXECUTE FUNCTION appstrate_notify_run_log()`,
}

// NotifyMetric raises a run_metric notification through q (API.md §6).
func NotifyMetric(ctx context.Context, q store.Querier, payload string) error {
	return store.Notify(ctx, q, ChannelRunMetric, payload)
}
