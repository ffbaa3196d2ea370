package schedules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/cron"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// DefaultTimezone is the zone of a schedule created without one.
const DefaultTimezone = "UTC"

// MaxNameLength bounds a schedule's name.
const MaxNameLength = 200

// Errors of the service; the routes map them to problems.
var (
	ErrNotFound         = errors.New("schedule not found")                                          // 404
	ErrAgentNotFound    = errors.New("agent not found")                                             // 404 agent_not_found
	ErrProfileForbidden = errors.New("connection profile is not the caller's or the application's") // 403
)

// ValidationError is a schedule that cannot be written: Fields name the body members at fault (cronExpression,
// timezone, input.<field>, configOverride.<field>, versionOverride, name).
type ValidationError struct{ Fields []jsonschema.FieldError }

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "invalid schedule"
	}
	return "invalid schedule: " + e.Fields[0].Path + ": " + e.Fields[0].Message
}

func invalid(path, code, message string) *ValidationError {
	return &ValidationError{Fields: []jsonschema.FieldError{{Path: path, Code: code, Message: message}}}
}

// Schedule is the wire shape of a schedule (API.md §5 item 17).
type Schedule struct {
	ID                  string          `json:"id" doc:"sched_<uuid>"`
	PackageID           string          `json:"packageId" doc:"The agent (@scope/name)"`
	ConnectionProfileID string          `json:"connectionProfileId" format:"uuid" doc:"The profile whose owner the runs act as"`
	OrgID               string          `json:"orgId"`
	ApplicationID       string          `json:"applicationId"`
	Name                *string         `json:"name"`
	Enabled             bool            `json:"enabled" doc:"false = paused: the schedule does not fire"`
	CronExpression      string          `json:"cronExpression" doc:"Five fields (minute hour day-of-month month day-of-week) or a macro such as @daily"`
	Timezone            string          `json:"timezone" doc:"IANA time zone the expression is evaluated in"`
	Input               json.RawMessage `json:"input"`
	ConfigOverride      json.RawMessage `json:"configOverride" doc:"Deep-merged over the installation's config at each fire; null = none"`
	ModelIDOverride     *string         `json:"modelIdOverride"`
	ProxyIDOverride     *string         `json:"proxyIdOverride"`
	VersionOverride     *string         `json:"versionOverride" doc:"A published version or dist-tag; null = the draft"`
	LastRunAt           isotime.Time    `json:"lastRunAt" format:"date-time" nullable:"true" doc:"When the schedule last fired"`
	NextRunAt           isotime.Time    `json:"nextRunAt" format:"date-time" nullable:"true" doc:"The next fire time; null when paused"`
	CreatedAt           isotime.Time    `json:"createdAt" format:"date-time"`
	UpdatedAt           isotime.Time    `json:"updatedAt" format:"date-time"`
}

// ScheduleDetail is a schedule as the GET routes show it: with its profile and the readiness of its agent on it.
type ScheduleDetail struct {
	Schedule
	ProfileName      string            `json:"profileName"`
	ProfileType      string            `json:"profileType" enum:"user,app" doc:"app = an application profile (runs without actor)"`
	ProfileOwnerName *string           `json:"profileOwnerName" doc:"The owning user, end-user or application"`
	Readiness        ScheduleReadiness `json:"readiness"`
}

// ScheduleReadiness says whether the agent's providers are connected on the schedule's profile.
type ScheduleReadiness struct {
	Status             string   `json:"status" enum:"ready,degraded,not_ready"`
	TotalProviders     int      `json:"totalProviders"`
	ConnectedProviders int      `json:"connectedProviders"`
	MissingProviders   []string `json:"missingProviders"`
}

// Service owns schedules. Construct it without touching the database; register its worker with
// RegisterWorker once River's tables exist.
type Service struct {
	DB       *store.DB
	Runs     *runs.Service       // creates the runs of fires and lists a schedule's runs
	Resolver *providers.Resolver // readiness of the GET forms; nil = every provider counted missing
	// Now is the clock of fires and next-run computations (nil = time.Now); tests control it.
	Now func() time.Time
	// Interval is how often due schedules are fired (0 = FireInterval).
	Interval time.Duration
	Logger   *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Params is a schedule to create. Timezone "" is DefaultTimezone; a nil Input is {}.
type Params struct {
	Name                *string
	ConnectionProfileID string
	CronExpression      string
	Timezone            string
	Input               json.RawMessage
	ConfigOverride      json.RawMessage
	ModelIDOverride     *string
	ProxyIDOverride     *string
	VersionOverride     *string
}

// Opt is a member of a Patch that can be left alone (Set false), cleared (Set, Value nil) or set.
type Opt[T any] struct {
	Set   bool
	Value *T
}

// Patch changes the members that are set.
type Patch struct {
	Name                Opt[string]
	ConnectionProfileID *string
	CronExpression      *string
	Timezone            *string
	Input               json.RawMessage // nil = unchanged
	ConfigOverride      Opt[json.RawMessage]
	ModelIDOverride     Opt[string]
	ProxyIDOverride     Opt[string]
	VersionOverride     Opt[string]
	Enabled             *bool
}

// Create validates and inserts a schedule of agentID in the caller's application; it is enabled and its next
// run computed.
func (s *Service) Create(ctx context.Context, c runs.Caller, agentID string, p Params, ev audit.Event) (*Schedule, error) {
	a, err := s.agent(ctx, c, agentID)
	if err != nil {
		return nil, err
	}
	now := isotime.From(s.now())
	sc := &Schedule{ID: ids.New(ids.Schedule), PackageID: a.id, ConnectionProfileID: p.ConnectionProfileID,
		OrgID: c.OrgID, ApplicationID: c.AppID, Name: p.Name, Enabled: true, CronExpression: p.CronExpression,
		Timezone: p.Timezone, Input: p.Input, ConfigOverride: p.ConfigOverride, ModelIDOverride: p.ModelIDOverride,
		ProxyIDOverride: p.ProxyIDOverride, VersionOverride: p.VersionOverride, CreatedAt: now, UpdatedAt: now}
	if sc.Timezone == "" {
		sc.Timezone = DefaultTimezone
	}
	if err := s.checkProfile(ctx, c, sc.ConnectionProfileID); err != nil {
		return nil, err
	}
	if err := s.validate(ctx, a, sc); err != nil {
		return nil, err
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO package_schedules (id, package_id, connection_profile_id, org_id,
			application_id, name, enabled, cron_expression, timezone, input, config_override, model_id_override,
			proxy_id_override, version_override, next_run_at, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sc.ID, sc.PackageID, sc.ConnectionProfileID, sc.OrgID, sc.ApplicationID, sc.Name, true, sc.CronExpression,
			sc.Timezone, string(sc.Input), store.NullJSON(sc.ConfigOverride), sc.ModelIDOverride, sc.ProxyIDOverride,
			sc.VersionOverride, sc.NextRunAt, store.NullIfEmpty(c.UserID), sc.CreatedAt, sc.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert schedule: %w", err)
		}
		record(ctx, tx, ev, c, "schedule.created", sc.ID, nil, sc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// Update applies p to a schedule of the caller's application. The next run is recomputed when the expression,
// the zone or enabled change; pausing clears it.
func (s *Service) Update(ctx context.Context, c runs.Caller, id string, p Patch, ev audit.Event) (*Schedule, error) {
	cur, err := s.get(ctx, s.DB, c, id)
	if err != nil {
		return nil, err
	}
	before := cur.Schedule
	sc := before
	apply(&sc, p)
	if p.ConnectionProfileID != nil && *p.ConnectionProfileID != before.ConnectionProfileID {
		if err := s.checkProfile(ctx, c, sc.ConnectionProfileID); err != nil {
			return nil, err
		}
	}
	a, err := s.agent(ctx, c, sc.PackageID)
	if err != nil {
		return nil, err
	}
	if err := s.validate(ctx, a, &sc); err != nil {
		return nil, err
	}
	timing := sc.CronExpression != before.CronExpression || sc.Timezone != before.Timezone || sc.Enabled != before.Enabled
	if !timing {
		sc.NextRunAt = before.NextRunAt
	}
	sc.UpdatedAt = isotime.From(s.now())
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE package_schedules SET name = ?, connection_profile_id = ?, enabled = ?,
			cron_expression = ?, timezone = ?, input = ?, config_override = ?, model_id_override = ?,
			proxy_id_override = ?, version_override = ?, next_run_at = ?, updated_at = ?
			WHERE id = ? AND org_id = ? AND application_id = ?`,
			sc.Name, sc.ConnectionProfileID, sc.Enabled, sc.CronExpression, sc.Timezone, string(sc.Input),
			store.NullJSON(sc.ConfigOverride), sc.ModelIDOverride, sc.ProxyIDOverride, sc.VersionOverride, sc.NextRunAt,
			sc.UpdatedAt, sc.ID, c.OrgID, c.AppID)
		if err != nil {
			return fmt.Errorf("update schedule %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		record(ctx, tx, ev, c, "schedule.updated", sc.ID, before, sc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

func apply(sc *Schedule, p Patch) {
	if p.Name.Set {
		sc.Name = p.Name.Value
	}
	if p.ConnectionProfileID != nil {
		sc.ConnectionProfileID = *p.ConnectionProfileID
	}
	if p.CronExpression != nil {
		sc.CronExpression = *p.CronExpression
	}
	if p.Timezone != nil {
		sc.Timezone = *p.Timezone
	}
	if p.Input != nil {
		sc.Input = p.Input
	}
	if p.ConfigOverride.Set {
		sc.ConfigOverride = nil
		if p.ConfigOverride.Value != nil {
			sc.ConfigOverride = *p.ConfigOverride.Value
		}
	}
	if p.ModelIDOverride.Set {
		sc.ModelIDOverride = p.ModelIDOverride.Value
	}
	if p.ProxyIDOverride.Set {
		sc.ProxyIDOverride = p.ProxyIDOverride.Value
	}
	if p.VersionOverride.Set {
		sc.VersionOverride = p.VersionOverride.Value
	}
	if p.Enabled != nil {
		sc.Enabled = *p.Enabled
	}
}

// Delete deletes a schedule of the caller's application; its runs stay, without their schedule.
func (s *Service) Delete(ctx context.Context, c runs.Caller, id string, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, err := s.get(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM package_schedules WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete schedule %s: %w", id, err)
		}
		record(ctx, tx, ev, c, "schedule.deleted", id, cur.Schedule, nil)
		return nil
	})
}

// Get returns a schedule of the caller's application with its profile and readiness.
func (s *Service) Get(ctx context.Context, c runs.Caller, id string) (*ScheduleDetail, error) {
	row, err := s.get(ctx, s.DB, c, id)
	if err != nil {
		return nil, err
	}
	d := s.detail(ctx, row)
	return &d, nil
}

// List returns the schedules of the caller's application (of agentID only, when set), oldest first, with their
// profile and readiness. An agent that is not visible in the application is ErrAgentNotFound.
func (s *Service) List(ctx context.Context, c runs.Caller, agentID string) ([]ScheduleDetail, error) {
	where, args := scopeWhere(c)
	if agentID != "" {
		if _, err := s.agent(ctx, c, agentID); err != nil {
			return nil, err
		}
		where += ` AND s.package_id = ?`
		args = append(args, agentID)
	}
	rows, err := s.DB.QueryContext(ctx, selectSchedule+where+` ORDER BY s.created_at, s.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var found []*row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan schedule: %w", err)
		}
		found = append(found, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]ScheduleDetail, 0, len(found))
	for _, r := range found {
		out = append(out, s.detail(ctx, r))
	}
	return out, nil
}

// ListRuns returns a page of the runs a schedule of the caller's application fired, newest first, with the total.
func (s *Service) ListRuns(ctx context.Context, c runs.Caller, id string, limit, offset int) ([]*runs.Run, int, error) {
	if _, err := s.get(ctx, s.DB, c, id); err != nil {
		return nil, 0, err
	}
	return s.Runs.List(ctx, c, runs.ListQuery{ScheduleID: id, Limit: limit, Offset: offset})
}

// NextRun returns the first fire time of expr in zone tz strictly after after (a *cron.ParseError or a
// *cron.ZoneError when they are invalid); the zero time when it never fires.
func NextRun(expr, tz string, after time.Time) (isotime.Time, error) {
	sched, err := cron.ParseIn(expr, tz)
	if err != nil {
		return isotime.Time{}, err
	}
	return isotime.From(sched.Next(after)), nil
}

func record(ctx context.Context, q store.Querier, ev audit.Event, c runs.Caller, action, id string, before, after any) {
	ev.OrgID, ev.ApplicationID, ev.Action, ev.ResourceType, ev.ResourceID = c.OrgID, c.AppID, action, "schedule", id
	if before != nil {
		ev.Before = before
	}
	if after != nil {
		ev.After = after
	}
	audit.Record(ctx, q, ev)
}

// errNoRows reports whether err is the absence of a row.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
