package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Run is the wire shape of a run (API.md §5 item 10, the columns that exist so far). The sink secret is
// never part of it.
type Run struct {
	ID                 string          `json:"id"`
	PackageID          *string         `json:"packageId"`
	UserID             *string         `json:"userId"`
	EndUserID          *string         `json:"endUserId"`
	APIKeyID           *string         `json:"apiKeyId"`
	ApplicationID      string          `json:"applicationId"`
	OrgID              string          `json:"orgId"`
	Status             string          `json:"status" enum:"pending,running,success,failed,timeout,cancelled"`
	Input              json.RawMessage `json:"input"`
	Result             json.RawMessage `json:"result" doc:"{output} or null"`
	Checkpoint         json.RawMessage `json:"checkpoint"`
	Error              *string         `json:"error"`
	TokenUsage         json.RawMessage `json:"tokenUsage"`
	StartedAt          isotime.Time    `json:"startedAt"`
	CompletedAt        isotime.Time    `json:"completedAt"`
	Duration           *int64          `json:"duration" doc:"Milliseconds"`
	VersionLabel       *string         `json:"versionLabel"`
	VersionDirty       bool            `json:"versionDirty"`
	NotifiedAt         isotime.Time    `json:"notifiedAt"`
	ReadAt             isotime.Time    `json:"readAt"`
	RunNumber          *int64          `json:"runNumber"`
	Metadata           json.RawMessage `json:"metadata"`
	AgentScope         *string         `json:"agentScope"`
	AgentName          *string         `json:"agentName"`
	Config             json.RawMessage `json:"config"`
	ConfigOverride     json.RawMessage `json:"configOverride"`
	RunOrigin          string          `json:"runOrigin" enum:"platform,remote"`
	SinkExpiresAt      isotime.Time    `json:"sinkExpiresAt"`
	SinkClosedAt       isotime.Time    `json:"sinkClosedAt"`
	LastEventSequence  int64           `json:"lastEventSequence"`
	LastHeartbeatAt    isotime.Time    `json:"lastHeartbeatAt"`
	Cost               *float64        `json:"cost" doc:"USD; null when nothing was metered"`
	ModelLabel         *string         `json:"modelLabel"`
	ModelSource        *string         `json:"modelSource" enum:"system,org"`
	ModelCredentialID  *string         `json:"modelCredentialId"`
	ProxyLabel         *string         `json:"proxyLabel"`
	ProviderProfileIDs json.RawMessage `json:"providerProfileIds" doc:"{providerId: connectionProfileId}"`
	ProviderStatuses   json.RawMessage `json:"providerStatuses"`
	ContextSnapshot    json.RawMessage `json:"contextSnapshot" doc:"Remote runs: what the runner reported about itself"`
	RunnerName         *string         `json:"runnerName"`
	RunnerKind         *string         `json:"runnerKind"`
	ScheduleID         *string         `json:"scheduleId" doc:"The schedule that fired the run"`
	ProfileID          *string         `json:"connectionProfileId" doc:"The connection profile the run named (a schedule's)"`
	ScheduleName       *string         `json:"scheduleName"`
	UserName           *string         `json:"userName"`
	EndUserName        *string         `json:"endUserName"`
	APIKeyName         *string         `json:"apiKeyName"`
	PackageEphemeral   bool            `json:"packageEphemeral" doc:"An inline run (its package is an ephemeral @inline/r-… shadow)"`
	InlineManifest     json.RawMessage `json:"inlineManifest" doc:"Inline runs: the manifest, until the retention sweep deletes it"`
	InlinePrompt       *string         `json:"inlinePrompt" doc:"Inline runs: the prompt, until the retention sweep deletes it"`

	jobID sql.NullInt64
}

const runSelect = `SELECT r.id, r.package_id, r.user_id, r.end_user_id, r.api_key_id, r.application_id, r.org_id,
	r.status, r.input, r.result, r.checkpoint, r.error, r.token_usage, r.started_at, r.completed_at, r.duration,
	r.version_label, r.version_dirty, r.notified_at, r.read_at, r.run_number, r.metadata, r.agent_scope,
	r.agent_name, r.config, r.config_override, r.run_origin, r.sink_expires_at, r.sink_closed_at,
	r.last_event_sequence, r.last_heartbeat_at, r.cost, r.model_label, r.model_source, r.model_credential_id,
	r.proxy_label, r.provider_profile_ids, r.provider_statuses, r.context_snapshot, r.runner_name, r.runner_kind,
	r.schedule_id, r.connection_profile_id, sc.name,
	u.name, eu.name, k.name, r.job_id, p.ephemeral, p.draft_manifest, p.draft_content
	FROM runs r LEFT JOIN users u ON u.id = r.user_id LEFT JOIN end_users eu ON eu.id = r.end_user_id
	LEFT JOIN api_keys k ON k.id = r.api_key_id
	LEFT JOIN package_schedules sc ON sc.id = r.schedule_id
	LEFT JOIN packages p ON p.id = r.package_id`

// inlineRun is the condition of an inline run: its package is an ephemeral shadow, or was one before the
// retention sweep deleted it (the run keeps agent_scope @inline, its package_id becomes NULL).
const inlineRun = `((p.ephemeral IS NOT NULL AND p.ephemeral = ?) OR (r.package_id IS NULL AND r.agent_scope = '` + InlineScope + `'))`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var input, result, checkpoint, usage, metadata, cfg, override, profiles, statuses, snapshot, inlineManifest []byte
	var ephemeral sql.NullBool
	var inlinePrompt sql.NullString
	err := row.Scan(&r.ID, &r.PackageID, &r.UserID, &r.EndUserID, &r.APIKeyID, &r.ApplicationID, &r.OrgID,
		&r.Status, &input, &result, &checkpoint, &r.Error, &usage, &r.StartedAt, &r.CompletedAt, &r.Duration,
		&r.VersionLabel, &r.VersionDirty, &r.NotifiedAt, &r.ReadAt, &r.RunNumber, &metadata, &r.AgentScope,
		&r.AgentName, &cfg, &override, &r.RunOrigin, &r.SinkExpiresAt, &r.SinkClosedAt,
		&r.LastEventSequence, &r.LastHeartbeatAt, &r.Cost, &r.ModelLabel, &r.ModelSource, &r.ModelCredentialID,
		&r.ProxyLabel, &profiles, &statuses, &snapshot, &r.RunnerName, &r.RunnerKind,
		&r.ScheduleID, &r.ProfileID, &r.ScheduleName,
		&r.UserName, &r.EndUserName, &r.APIKeyName, &r.jobID, &ephemeral, &inlineManifest, &inlinePrompt)
	if err != nil {
		return nil, err
	}
	r.ProviderProfileIDs, r.ProviderStatuses, r.ContextSnapshot = rawJSON(profiles), rawJSON(statuses), rawJSON(snapshot)
	r.Input, r.Result, r.Checkpoint, r.TokenUsage = rawJSON(input), rawJSON(result), rawJSON(checkpoint), rawJSON(usage)
	r.Metadata, r.Config, r.ConfigOverride = rawJSON(metadata), rawJSON(cfg), rawJSON(override)
	r.PackageEphemeral = ephemeral.Bool || r.PackageID == nil && r.AgentScope != nil && *r.AgentScope == InlineScope
	r.InlineManifest = json.RawMessage("null")
	if ephemeral.Bool {
		r.InlineManifest, r.InlinePrompt = rawJSON(inlineManifest), &inlinePrompt.String
	}
	return &r, nil
}

func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

func getRun(ctx context.Context, q store.Querier, id string) (*Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, runSelect+` WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrRunNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// Get returns a run of the caller's application (an impersonated end-user: only its own), else ErrRunNotFound.
func (s *Service) Get(ctx context.Context, c Caller, id string) (*Run, error) {
	r, err := getRun(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	if r.ApplicationID != c.AppID || r.OrgID != c.OrgID || (c.EndUserID != "" && (r.EndUserID == nil || *r.EndUserID != c.EndUserID)) {
		return nil, ErrRunNotFound
	}
	return r, nil
}

// Run kinds of ListQuery.Kind (GET /api/runs?kind=).
const (
	KindAll     = "all"
	KindInline  = "inline"  // inline runs (ephemeral shadow packages)
	KindPackage = "package" // runs of installed and system agents
)

// ListQuery filters a run list.
type ListQuery struct {
	AgentID       string // "" = every agent
	Status        string
	OnlyUserID    string // user=me
	ScheduleID    string // "" = every run; else the runs the schedule fired
	Kind          string // KindInline, KindPackage, or "" / KindAll
	Limit, Offset int
}

// List returns a page of the caller's application runs, newest first, with the total count.
func (s *Service) List(ctx context.Context, c Caller, q ListQuery) ([]*Run, int, error) {
	where := ` WHERE r.application_id = ? AND r.org_id = ?`
	args := []any{c.AppID, c.OrgID}
	if c.EndUserID != "" {
		where += ` AND r.end_user_id = ?`
		args = append(args, c.EndUserID)
	}
	if q.AgentID != "" {
		where += ` AND r.package_id = ?`
		args = append(args, q.AgentID)
	}
	if q.Status != "" {
		where += ` AND r.status = ?`
		args = append(args, q.Status)
	}
	if q.OnlyUserID != "" {
		where += ` AND r.user_id = ?`
		args = append(args, q.OnlyUserID)
	}
	if q.ScheduleID != "" {
		where += ` AND r.schedule_id = ?`
		args = append(args, q.ScheduleID)
	}
	switch q.Kind {
	case KindInline:
		where += ` AND ` + inlineRun
		args = append(args, true)
	case KindPackage:
		where += ` AND NOT ` + inlineRun
		args = append(args, true)
	}
	var total int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM runs r LEFT JOIN packages p ON p.id = r.package_id`+where,
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count runs: %w", err)
	}
	rows, err := s.DB.QueryContext(ctx, runSelect+where+` ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`,
		append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("scan run: %w", err)
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// Log is a row of GET /api/runs/{id}/logs.
type Log struct {
	ID        int64           `json:"id"`
	RunID     string          `json:"runId"`
	OrgID     string          `json:"orgId"`
	Type      string          `json:"type" enum:"progress,result,system"`
	Level     string          `json:"level" enum:"debug,info,warn,error"`
	Event     *string         `json:"event"`
	Message   *string         `json:"message"`
	Data      json.RawMessage `json:"data"`
	CreatedAt isotime.Time    `json:"createdAt"`
}

// Logs returns the log rows of a visible run with id > since, by id.
func (s *Service) Logs(ctx context.Context, c Caller, id string, since int64) ([]Log, error) {
	if _, err := s.Get(ctx, c, id); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, run_id, org_id, type, level, event, message, data, created_at
		FROM run_logs WHERE run_id = ? AND id > ? ORDER BY id`, id, since)
	if err != nil {
		return nil, fmt.Errorf("list run logs: %w", err)
	}
	defer rows.Close()
	out := []Log{}
	for rows.Next() {
		var l Log
		var data []byte
		if err := rows.Scan(&l.ID, &l.RunID, &l.OrgID, &l.Type, &l.Level, &l.Event, &l.Message, &data, &l.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan run log: %w", err)
		}
		l.Data = rawJSON(data)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Delete deletes a terminal run and its logs; ErrInProgress while it is pending or running.
func (s *Service) Delete(ctx context.Context, c Caller, id string) error {
	r, err := s.Get(ctx, c, id)
	if err != nil {
		return err
	}
	if r.Status == StatusPending || r.Status == StatusRunning {
		return ErrInProgress
	}
	res, err := s.DB.ExecContext(ctx, `DELETE FROM runs WHERE id = ? AND status NOT IN ('pending', 'running')`, id)
	if err != nil {
		return fmt.Errorf("delete run %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrInProgress
	}
	return nil
}
