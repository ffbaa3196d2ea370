package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/uploads"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// Run statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSuccess   = "success"
	StatusFailed    = "failed"
	StatusTimeout   = "timeout"
	StatusCancelled = "cancelled"
)

// Run origins.
const (
	OriginPlatform = "platform" // executed by the platform's worker
	OriginRemote   = "remote"   // executed by a remote runner (the CLI) that reports through the sink
)

// Error messages of the platform-side finalizations.
const (
	ErrorCancelled = "Cancelled by user"
	ErrorRestarted = "The platform restarted while this run was in flight"
)

// DefaultTimeoutSeconds is a run's timeout when neither the request nor the manifest sets one.
const DefaultTimeoutSeconds = 300

// Errors of the service; the routes map them to problems.
var (
	ErrAgentNotFound   = errors.New("agent not found")   // 404 agent_not_found
	ErrVersionNotFound = errors.New("version not found") // 404 not_found
	ErrRunNotFound     = errors.New("run not found")     // 404 run_not_found
	ErrNotCancellable  = errors.New("run is not cancellable")
	ErrInProgress      = errors.New("run in progress")
)

// ValidationError reports input (Code invalid_input, Problem validation_failed) or config (Code
// invalid_config) that does not match the agent's schema; Fields paths are prefixed by "input." / "config.".
type ValidationError struct {
	Code   string
	Fields []jsonschema.FieldError
}

func (e *ValidationError) Error() string { return "run " + e.Code }

// NotReadyError is a provider readiness failure: Code is the first missing provider's code.
type NotReadyError struct{ Code, Message string }

func (e *NotReadyError) Error() string { return e.Message }

// LimitError is an org admission refusal (429): Code org_run_rate_limited or org_run_concurrency_exceeded.
type LimitError struct {
	Code       string
	Message    string
	RetryAfter int // seconds
	// Limit is the organization's budget: runs per Window for the rate, runs in flight for the concurrency
	// limit (Window 0).
	Limit  int
	Window time.Duration
}

func (e *LimitError) Error() string { return e.Message }

// Service runs agents. Construct it without touching the database; register its worker with RegisterWorker
// once River's tables exist.
type Service struct {
	DB       *store.DB
	Jobs     *jobs.Client
	Webhooks *webhooks.Service // nil = no webhook events
	Resolver *providers.Resolver
	Limiter  ratelimit.Limiter
	// Uploads consumes the upload://upl_… references of file inputs when a run is created; nil = not consumed.
	Uploads *uploads.Service
	Limits  config.PlatformRunLimits
	// Inline is INLINE_RUN_LIMITS; the zero value means config.DefaultInlineRunLimits.
	Inline config.InlineRunLimits
	// Executor executes runs; nil fails every run with "No executor is configured".
	Executor executor.Executor
	// Planner builds each run's execution (prompt, work dir, environments); nil = sink environment only.
	Planner Planner
	// TokenSecret is RUN_TOKEN_SECRET.
	TokenSecret string
	// Keys seals the sink secrets (runs.sink_secret_encrypted).
	Keys *secrets.Keyring
	// Sink holds the sink settings (TTLs, signature tolerance, replay window, URLs).
	Sink SinkOptions
	// Connections serves /internal/credentials; nil answers 404 for every provider.
	Connections *providers.Connections
	// Models prices the LLM usage the sidecar meters; nil prices it 0.
	Models *models.Service
	// Heartbeat, Stall and Watchdog are RUN_HEARTBEAT_INTERVAL_SECONDS, RUN_STALL_THRESHOLD_SECONDS and
	// RUN_WATCHDOG_INTERVAL_SECONDS.
	Heartbeat, Stall, Watchdog time.Duration
	Logger                     *slog.Logger

	active sync.Map // runID → context.CancelCauseFunc of the runs this process executes
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Caller is who starts or reads runs.
type Caller struct {
	OrgID, AppID string
	UserID       string
	EndUserID    string // impersonated end-user: it only sees its own runs
	APIKeyID     string
}

// CreateParams is a run request.
type CreateParams struct {
	AgentID string
	Version string // "" = the draft
	Input   json.RawMessage
	Config  json.RawMessage // partial override of the stored config
	ModelID *string
	ProxyID *string
	// TimeoutSeconds overrides the manifest's timeout (0 = none); capped by the ceiling.
	TimeoutSeconds int
	// ConnectionProfileID names the run's connection profile (a schedule's): one of the actor's profiles or an
	// application profile of the application (providers.RunContext.ExplicitProfileID). "" = the actor's.
	ConnectionProfileID string
	// ScheduleID marks a run fired by a schedule.
	ScheduleID string
	// Claim, when set, runs first in the transaction that inserts the run; its error rolls the run back and is
	// returned by Create. A schedule claims its slot there, so that one slot gives at most one run.
	Claim func(ctx context.Context, tx *store.Tx) error
}

// RunArgs is the River job executing one run.
type RunArgs struct {
	RunID          string `json:"runId"`
	TimeoutSeconds int    `json:"timeoutSeconds"`
	Version        string `json:"version,omitempty"` // the version asked for; "" = the draft
}

// Kind names the job.
func (RunArgs) Kind() string { return "run_execute" }

type install struct {
	config           []byte
	modelID, proxyID sql.NullString
}

// agentRef is the agent a run executes: its id, the manifest of its draft or of the version the run is for,
// and the version label recorded on the run.
type agentRef struct {
	id, scope, name string
	manifest        []byte
	versionLabel    string
}

// Create admits a run and creates it `pending` with its job in one transaction; it returns the run id.
func (s *Service) Create(ctx context.Context, c Caller, p CreateParams) (string, error) {
	agent, in, err := s.installedAgent(ctx, c, p.AgentID, p.Version)
	if err != nil {
		return "", err
	}
	pr, err := s.prepare(ctx, c, agent, in, p)
	if err != nil {
		return "", err
	}
	return s.insert(ctx, c, pr, p)
}

// installedAgent loads the agent id of a run: an agent of the organization installed in the application, or a
// system agent; its draft, or the published version when version is set. in is nil for an uninstalled
// system agent.
func (s *Service) installedAgent(ctx context.Context, c Caller, id, version string) (*agentRef, *install, error) {
	pkg, err := packages.GetPackage(ctx, s.DB, id)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, nil, ErrAgentNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if pkg.Type != packages.TypeAgent || !pkg.VisibleToOrg(c.OrgID) {
		return nil, nil, ErrAgentNotFound
	}
	var in *install
	var row install
	err = s.DB.QueryRowContext(ctx, `SELECT config, model_id, proxy_id FROM application_packages
		WHERE application_id = ? AND package_id = ?`, c.AppID, pkg.ID).Scan(&row.config, &row.modelID, &row.proxyID)
	switch {
	case err == nil:
		in = &row
	case !errors.Is(err, sql.ErrNoRows):
		return nil, nil, fmt.Errorf("load installation of %s: %w", pkg.ID, err)
	case !pkg.IsSystem():
		return nil, nil, ErrAgentNotFound
	}

	agent := &agentRef{id: pkg.ID, scope: pkg.Scope(), name: pkg.Name(), manifest: []byte(pkg.DraftManifest)}
	if version == "" {
		agent.versionLabel = manifestString(agent.manifest, "version")
		return agent, in, nil
	}
	if pkg.IsSystem() {
		return nil, nil, ErrVersionNotFound
	}
	err = s.DB.QueryRowContext(ctx, `SELECT manifest FROM package_versions WHERE package_id = ? AND version = ?`,
		pkg.ID, version).Scan(&agent.manifest)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrVersionNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load version %s of %s: %w", version, pkg.ID, err)
	}
	agent.versionLabel = version
	return agent, in, nil
}

// preparedRun is an admitted run request: everything its row needs but the organization's run limits.
type preparedRun struct {
	agent            *agentRef
	input, config    []byte
	outputSchema     json.RawMessage
	profiles         any // provider id → connection profile id (JSON), nil without a resolver
	statuses         any // provider status snapshot (JSON)
	timeout          int
	modelID, proxyID *string
}

// prepare validates the input, merges and validates the config over the installation's, checks provider
// readiness and settles the timeout, model and proxy of a run of agent.
func (s *Service) prepare(ctx context.Context, c Caller, agent *agentRef, in *install, p CreateParams) (*preparedRun, error) {
	var m agentManifest
	_ = json.Unmarshal(agent.manifest, &m)
	pr := &preparedRun{agent: agent, outputSchema: m.Output.Schema}
	var err error
	if pr.input, err = validateInput(m.Input.Schema, p.Input); err != nil {
		return nil, err
	}
	var stored []byte
	if in != nil {
		stored = in.config
	}
	if pr.config, err = mergeConfig(m.Config.Schema, stored, p.Config); err != nil {
		return nil, err
	}

	actor := providers.Actor{UserID: c.UserID}
	if c.EndUserID != "" {
		actor = providers.Actor{EndUserID: c.EndUserID}
	}
	if s.Resolver != nil {
		resolved, missing, err := s.Resolver.Resolve(ctx, s.DB, providers.RunContext{OrgID: c.OrgID, AppID: c.AppID,
			Actor: actor, AgentID: agent.id, Requirements: providers.RequirementsOf(agent.manifest),
			ExplicitProfileID: p.ConnectionProfileID})
		if err != nil {
			return nil, fmt.Errorf("provider readiness of %s: %w", agent.id, err)
		}
		if len(missing) > 0 {
			return nil, &NotReadyError{Code: missing[0].Reason.Code(), Message: missing[0].Message}
		}
		if pr.profiles, pr.statuses, err = providerSnapshot(resolved); err != nil {
			return nil, err
		}
	}

	pr.timeout = m.Timeout
	if p.TimeoutSeconds > 0 {
		pr.timeout = p.TimeoutSeconds
	}
	if pr.timeout <= 0 {
		pr.timeout = DefaultTimeoutSeconds
	}
	if ceil := s.Limits.TimeoutCeilingSeconds; ceil > 0 && pr.timeout > ceil {
		pr.timeout = ceil
	}

	pr.modelID, pr.proxyID = p.ModelID, p.ProxyID
	if pr.modelID == nil && in != nil && in.modelID.Valid {
		pr.modelID = &in.modelID.String
	}
	if pr.proxyID == nil && in != nil && in.proxyID.Valid {
		pr.proxyID = &in.proxyID.String
	}
	return pr, nil
}

// insert applies the organization's run limits, then inserts the run `pending` and its job in one
// transaction (after p.Claim); it returns the run id.
func (s *Service) insert(ctx context.Context, c Caller, pr *preparedRun, p CreateParams) (string, error) {
	if err := s.admit(ctx, c.OrgID); err != nil {
		return "", err
	}
	agent := pr.agent
	runID := ids.New(ids.Run)
	now := isotime.Now()
	override := store.NullJSON(p.Config)
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if p.Claim != nil {
			if err := p.Claim(ctx, tx); err != nil {
				return err
			}
		}
		if err := s.consumeUploads(ctx, tx, c, agent.manifest, pr.input); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(run_number), 0) FROM runs
			WHERE org_id = ? AND application_id = ? AND package_id = ?`, c.OrgID, c.AppID, agent.id).Scan(&n); err != nil {
			return fmt.Errorf("next run number: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, package_id, user_id, end_user_id, api_key_id, application_id,
			org_id, status, input, config, config_override, agent_scope, agent_name, version_label, model_id, proxy_id,
			run_number, run_origin, timeout_seconds, output_schema, provider_profile_ids, provider_statuses, started_at,
			created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, 'platform', ?, ?, ?, ?, ?, ?)`,
			runID, agent.id, store.NullIfEmpty(userOf(c)), store.NullIfEmpty(c.EndUserID), store.NullIfEmpty(c.APIKeyID), c.AppID, c.OrgID,
			string(pr.input), string(pr.config), override, agent.scope, agent.name, store.NullIfEmpty(agent.versionLabel),
			pr.modelID, pr.proxyID, n+1, pr.timeout, store.NullJSON(pr.outputSchema), pr.profiles, pr.statuses, now, now)
		if err != nil {
			return fmt.Errorf("insert run: %w", err)
		}
		res, err := s.Jobs.InsertTx(ctx, tx, RunArgs{RunID: runID, TimeoutSeconds: pr.timeout, Version: p.Version}, &river.InsertOpts{MaxAttempts: 1})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET job_id = ?, schedule_id = ?, connection_profile_id = ? WHERE id = ?`,
			res.Job.ID, store.NullIfEmpty(p.ScheduleID), store.NullIfEmpty(p.ConnectionProfileID), runID); err != nil {
			return fmt.Errorf("record run job: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return runID, nil
}

func userOf(c Caller) string {
	if c.EndUserID != "" {
		return ""
	}
	return c.UserID
}

// admit applies PLATFORM_RUN_LIMITS: the org's runs per minute, then its runs in flight.
func (s *Service) admit(ctx context.Context, orgID string) error {
	if rate := s.Limits.PerOrgGlobalRatePerMin; rate > 0 && s.Limiter != nil {
		r, err := s.Limiter.Take(ctx, "org-run:"+orgID, rate, time.Minute)
		if err != nil {
			return fmt.Errorf("org run rate: %w", err)
		}
		if !r.Allowed {
			secs := max(int((r.Reset+time.Second-1)/time.Second), 1)
			return &LimitError{Code: "org_run_rate_limited", RetryAfter: secs, Limit: rate, Window: time.Minute,
				Message: "Organization rate limit reached (" + strconv.Itoa(rate) + "/min). Retry in " + strconv.Itoa(secs) + "s."}
		}
	}
	if maxRuns := s.Limits.MaxConcurrentPerOrg; maxRuns > 0 {
		var n int
		if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE org_id = ? AND status IN ('pending', 'running')`,
			orgID).Scan(&n); err != nil {
			return fmt.Errorf("count org runs in flight: %w", err)
		}
		if n >= maxRuns {
			return &LimitError{Code: "org_run_concurrency_exceeded", RetryAfter: 5, Limit: maxRuns,
				Message: "Organization concurrency limit reached (" + strconv.Itoa(maxRuns) + " runs in flight)."}
		}
	}
	return nil
}

type agentManifest struct {
	Input struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"input"`
	Config struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"config"`
	Output struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"output"`
	Timeout int `json:"timeout"`
}

// providerSnapshot encodes the providers a run resolved: runs.provider_profile_ids ({providerId: profileId},
// what /internal/credentials uses) and runs.provider_statuses.
func providerSnapshot(resolved map[string]providers.Resolved) (profiles, statuses any, err error) {
	if len(resolved) == 0 {
		return nil, nil, nil
	}
	ids := make(map[string]string, len(resolved))
	type status struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Source    string `json:"source"`
		ProfileID string `json:"profileId"`
	}
	list := make([]status, 0, len(resolved))
	for id, r := range resolved {
		ids[id] = r.ProfileID
		list = append(list, status{ID: id, Status: "connected", Source: r.Source.Wire(), ProfileID: r.ProfileID})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	rawIDs, err := json.Marshal(ids)
	if err != nil {
		return nil, nil, fmt.Errorf("encode provider profiles: %w", err)
	}
	rawList, err := json.Marshal(list)
	if err != nil {
		return nil, nil, fmt.Errorf("encode provider statuses: %w", err)
	}
	return string(rawIDs), string(rawList), nil
}

func manifestString(manifest []byte, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(manifest, &m) != nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(m[key], &s)
	return s
}

// validateInput checks the input object against the input schema and returns it encoded ({} when absent).
func validateInput(schema, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(`{}`)
	}
	v, err := jsonschema.Decode(raw)
	if err != nil {
		return nil, &ValidationError{Code: "invalid_input", Fields: []jsonschema.FieldError{{Path: "input",
			Code: jsonschema.CodeInvalidType, Message: "must be a JSON object"}}}
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, &ValidationError{Code: "invalid_input", Fields: []jsonschema.FieldError{{Path: "input",
			Code: jsonschema.CodeInvalidType, Message: "must be object"}}}
	}
	if len(schema) > 0 && schema[0] == '{' {
		compiled, err := jsonschema.Compile(schema)
		if err == nil {
			if fe := compiled.Validate(v); len(fe) > 0 {
				return nil, &ValidationError{Code: "invalid_input", Fields: prefixed("input", fe)}
			}
		}
	}
	return raw, nil
}

// mergeConfig deep-merges override over stored, fills the schema's defaults and validates the result.
func mergeConfig(schema, stored, override json.RawMessage) ([]byte, error) {
	base, _ := jsonschema.Decode(stored)
	bm, _ := base.(map[string]any)
	if bm == nil {
		bm = map[string]any{}
	}
	if len(override) > 0 && string(override) != "null" {
		ov, err := jsonschema.Decode(override)
		om, ok := ov.(map[string]any)
		if err != nil || !ok {
			return nil, &ValidationError{Code: "invalid_config", Fields: []jsonschema.FieldError{{Path: "config",
				Code: jsonschema.CodeInvalidType, Message: "must be object"}}}
		}
		bm = deepMerge(bm, om)
	}
	var merged any = bm
	if len(schema) > 0 && schema[0] == '{' {
		if compiled, err := jsonschema.Compile(schema); err == nil {
			merged = jsonschema.ApplyDefaults(compiled, merged)
			if fe := compiled.Validate(merged); len(fe) > 0 {
				return nil, &ValidationError{Code: "invalid_config", Fields: prefixed("config", fe)}
			}
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return out, nil
}

func deepMerge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func prefixed(prefix string, fe []jsonschema.FieldError) []jsonschema.FieldError {
	out := make([]jsonschema.FieldError, len(fe))
	for i, f := range fe {
		f.Path = jsonschema.JoinPath(prefix, f.Path)
		out[i] = f
	}
	return out
}
