package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// What schedules (internal/schedules) need from runs: the checks of Create without a run, a run row for a
// fire that could not start, and — through CreateParams.ScheduleID, ConnectionProfileID and Claim — a run
// created in the same transaction as the schedule's claim of its slot.

// Check validates what a run of an agent with this manifest would start with: input against the input schema,
// and configOverride deep-merged over storedConfig against the config schema. It returns the *ValidationError
// Create would (code invalid_input, fields input.*; code invalid_config, fields config.*), else nil.
func Check(manifest, input, storedConfig, configOverride json.RawMessage) error {
	var m agentManifest
	_ = json.Unmarshal(manifest, &m)
	if _, err := validateInput(m.Input.Schema, input); err != nil {
		return err
	}
	_, err := mergeConfig(m.Config.Schema, storedConfig, configOverride)
	return err
}

// CreateFailed records in tx a run of p.AgentID that could not start (RUNTIME.md §1.1: a scheduled fire whose
// preflight failed): status failed with reason as its error, duration 0, completed and notified when it
// started, with the run_completed log row and the run.failed webhook event. It returns the run id.
func (s *Service) CreateFailed(ctx context.Context, tx *store.Tx, c Caller, p CreateParams, reason string) (string, error) {
	runID := ids.New(ids.Run)
	now := isotime.Now()
	input := p.Input
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage(`{}`)
	}
	scope, name, _ := strings.Cut(p.AgentID, "/")
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(run_number), 0) FROM runs
		WHERE org_id = ? AND application_id = ? AND package_id = ?`, c.OrgID, c.AppID, p.AgentID).Scan(&n); err != nil {
		return "", fmt.Errorf("next run number: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, package_id, user_id, end_user_id, api_key_id, application_id,
		org_id, status, input, config_override, error, agent_scope, agent_name, version_label, model_id, proxy_id,
		run_number, run_origin, timeout_seconds, schedule_id, connection_profile_id, started_at, completed_at, duration,
		notified_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'failed', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'platform', 0, ?, ?, ?, ?, 0, ?, ?)`,
		runID, p.AgentID, store.NullIfEmpty(userOf(c)), store.NullIfEmpty(c.EndUserID), store.NullIfEmpty(c.APIKeyID), c.AppID, c.OrgID,
		string(input), store.NullJSON(p.Config), reason, scope, name, store.NullIfEmpty(p.Version), p.ModelID, p.ProxyID, n+1,
		store.NullIfEmpty(p.ScheduleID), store.NullIfEmpty(p.ConnectionProfileID), now, now, now, now)
	if err != nil {
		return "", fmt.Errorf("insert failed run: %w", err)
	}
	data, _ := json.Marshal(map[string]any{"runId": runID, "status": StatusFailed, "error": reason})
	if err := insertLog(ctx, tx, runID, c.OrgID, "system", "error", "run_completed", "Run failed", string(data)); err != nil {
		return "", err
	}
	if err := s.publish(ctx, tx, runID, "run."+StatusFailed); err != nil {
		return "", err
	}
	return runID, nil
}
