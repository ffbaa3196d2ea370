package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// The run side of the platform (RUNTIME.md §5, API.md §3.8, §4.17): what a running run's sidecar may ask,
// authenticated by the run token. Every answer is scoped to the run: its agent, application and actor.

// Run token failures of the /internal routes.
var (
	ErrMissingRunToken = errors.New("missing run token")  // 401 "Missing run token"
	ErrInvalidRunToken = errors.New("invalid run token")  // 401 "Invalid run token"
	ErrRunNotRunning   = errors.New("run is not running") // 403 "Run is not running"
)

// RunSideError is a refused /internal request: Code is not_found (404), unauthorized (401), forbidden (403)
// or invalid_request (400); Message is the problem detail the sidecar shows.
type RunSideError struct {
	Code    string
	Message string
}

func (e *RunSideError) Error() string { return e.Message }

func runSideErr(code, format string, args ...any) *RunSideError {
	return &RunSideError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RunSide is a running run, as its run token authenticates it.
type RunSide struct {
	ID, OrgID, AppID           string
	PackageID                  string // "" when the agent was deleted
	UserID, EndUserID          string // at most one; none for a run without actor
	Origin                     string
	ModelID, ModelCredentialID string
	ProviderProfileIDs         map[string]string
}

func (r *RunSide) actor() actor { return actorOf(r.UserID, r.EndUserID) }

func (r *RunSide) ref() runRef { return runRef{id: r.ID, orgID: r.OrgID, appID: r.AppID} }

// AuthorizeRunToken checks the Authorization header of an /internal request: "Bearer <runId>.<hmac>" of a
// running run (ErrMissingRunToken, ErrInvalidRunToken, ErrRunNotFound, ErrRunNotRunning).
func (s *Service) AuthorizeRunToken(ctx context.Context, authorization string) (*RunSide, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, ErrMissingRunToken
	}
	id, ok := VerifyToken(s.TokenSecret, token)
	if !ok {
		return nil, ErrInvalidRunToken
	}
	r := RunSide{ID: id}
	var pkg, user, endUser, model, modelCred sql.NullString
	var profiles []byte
	var status string
	err := s.DB.QueryRowContext(ctx, `SELECT org_id, application_id, package_id, user_id, end_user_id, run_origin, status,
		model_id, model_credential_id, provider_profile_ids FROM runs WHERE id = ?`, id).Scan(&r.OrgID, &r.AppID, &pkg,
		&user, &endUser, &r.Origin, &status, &model, &modelCred, &profiles)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrRunNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", id, err)
	}
	if status != StatusRunning {
		return nil, ErrRunNotRunning
	}
	r.PackageID, r.UserID, r.EndUserID = pkg.String, user.String, endUser.String
	r.ModelID, r.ModelCredentialID = model.String, modelCred.String
	if len(profiles) > 0 {
		_ = json.Unmarshal(profiles, &r.ProviderProfileIDs)
	}
	return &r, nil
}

// Limits of the /internal reads.
const (
	DefaultRunSideLimit = 10
	MaxRunSideLimit     = 50
	MaxMemoryQuery      = 2000
)

// RunSideLimit reads a limit parameter: 1..50, anything else (absent, invalid, out of range) is 10.
func RunSideLimit(raw string) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxRunSideLimit {
		return DefaultRunSideLimit
	}
	return n
}

// History fields a run may ask for.
const (
	HistoryCheckpoint = "checkpoint"
	HistoryResult     = "result"
)

// ParseHistoryFields reads the fields parameter of GET /internal/run-history: a comma list of checkpoint
// and result ("" = checkpoint). The legacy name `state` is refused with a pointer to checkpoint.
func ParseHistoryFields(raw string) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return []string{HistoryCheckpoint}, nil
	}
	var out []string
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case HistoryCheckpoint, HistoryResult:
			out = append(out, f)
		case "state":
			return nil, runSideErr("invalid_request", "Unknown field 'state': the carry-over slot is now 'checkpoint'")
		case "":
		default:
			return nil, runSideErr("invalid_request", "Unknown field '%s' (allowed: checkpoint, result)", f)
		}
	}
	return out, nil
}

// RunHistoryEntry is a past run in GET /internal/run-history; Checkpoint and Result are present when asked for.
type RunHistoryEntry struct {
	ID         string           `json:"id"`
	Status     string           `json:"status"`
	Date       isotime.Time     `json:"date"`
	Duration   *int64           `json:"duration"`
	Checkpoint *json.RawMessage `json:"checkpoint,omitempty"`
	Result     *json.RawMessage `json:"result,omitempty"`
}

// RunHistory returns the latest successful runs of the same agent in the same application, newest first,
// without the current run, for the same actor — and, unlike upstream, a run without actor sees only the
// runs without actor (upstream leaks every actor's checkpoints to it).
func (s *Service) RunHistory(ctx context.Context, r *RunSide, limit int, fields []string) ([]RunHistoryEntry, bool, error) {
	out := []RunHistoryEntry{}
	if r.PackageID == "" {
		return out, false, nil
	}
	q := `SELECT id, status, started_at, duration, checkpoint, result FROM runs WHERE package_id = ? AND application_id = ?
		AND status = 'success' AND id <> ?`
	args := []any{r.PackageID, r.AppID, r.ID}
	switch a := r.actor(); a.typ {
	case ActorUser:
		q += ` AND user_id = ?`
		args = append(args, a.id)
	case ActorEndUser:
		q += ` AND end_user_id = ?`
		args = append(args, a.id)
	default:
		q += ` AND user_id IS NULL AND end_user_id IS NULL`
	}
	rows, err := s.DB.QueryContext(ctx, q+` ORDER BY started_at DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, false, fmt.Errorf("run history of %s: %w", r.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e RunHistoryEntry
		var checkpoint, result []byte
		if err := rows.Scan(&e.ID, &e.Status, &e.Date, &e.Duration, &checkpoint, &result); err != nil {
			return nil, false, fmt.Errorf("scan run history: %w", err)
		}
		for _, f := range fields {
			switch f {
			case HistoryCheckpoint:
				v := rawJSON(checkpoint)
				e.Checkpoint = &v
			case HistoryResult:
				v := rawJSON(result)
				e.Result = &v
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("run history of %s: %w", r.ID, err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// RunMemoryEntry is an archive memory in GET /internal/memories.
type RunMemoryEntry struct {
	ID        int64           `json:"id"`
	Content   json.RawMessage `json:"content"`
	CreatedAt isotime.Time    `json:"createdAt"`
	ActorType string          `json:"actorType" enum:"user,end_user,shared"`
	ActorID   *string         `json:"actorId"`
}

// Memories searches the archive memories (pinned = false) of the run's agent and application visible to
// its actor — the shared ones and the actor's own — newest first; q (trimmed, ≤ 2000 characters) is a
// case-insensitive substring of the content.
func (s *Service) Memories(ctx context.Context, r *RunSide, query string, limit int) ([]RunMemoryEntry, error) {
	query = strings.TrimSpace(query)
	if len([]rune(query)) > MaxMemoryQuery {
		return nil, runSideErr("invalid_request", "q must be at most %d characters", MaxMemoryQuery)
	}
	out := []RunMemoryEntry{}
	if r.PackageID == "" {
		return out, nil
	}
	q := `SELECT id, content, created_at, actor_type, actor_id FROM package_persistence WHERE package_id = ?
		AND application_id = ? AND key IS NULL AND pinned = ?`
	args := []any{r.PackageID, r.AppID, false}
	if a := r.actor(); a.shared() {
		q += ` AND actor_type = 'shared'`
	} else {
		q += ` AND (actor_type = 'shared' OR (actor_type = ? AND actor_id = ?))`
		args = append(args, a.typ, a.id)
	}
	if query != "" {
		text := "content"
		if s.DB.Dialect() == store.Postgres {
			text = "content::text"
		}
		q += ` AND lower(` + text + `) LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(query))+"%")
	}
	rows, err := s.DB.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search memories of %s: %w", r.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var m RunMemoryEntry
		var content []byte
		if err := rows.Scan(&m.ID, &content, &m.CreatedAt, &m.ActorType, &m.ActorID); err != nil {
			return nil, fmt.Errorf("scan memory: %w", err)
		}
		m.Content = rawJSON(content)
		out = append(out, m)
	}
	return out, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// credentialRefreshSkip is how long a token must stay valid for POST …/refresh to return it unchanged.
const credentialRefreshSkip = 60 * time.Second

// Credentials returns the credentials of providerID for the run (GET /internal/credentials/{scope}/{name}):
// the provider must be a dependency of the run's agent, resolved to a connection profile when the run was
// created; the connection is the one of that profile made with the application's credentials. With refresh
// (POST …/refresh), an OAuth 2 token valid for more than 60 s is returned as is, else refreshed.
func (s *Service) Credentials(ctx context.Context, r *RunSide, providerID string, refresh bool) (credentials.Payload, error) {
	profileID, ok := r.ProviderProfileIDs[providerID]
	if !ok || profileID == "" {
		declared, err := s.declares(ctx, r.PackageID, providerID)
		if err != nil {
			return credentials.Payload{}, err
		}
		if !declared {
			return credentials.Payload{}, runSideErr("not_found", "Provider '%s' is not required by this agent", providerID)
		}
		return credentials.Payload{}, runSideErr("not_found", "No profile resolved for provider '%s' on this run", providerID)
	}
	if s.Connections == nil {
		return credentials.Payload{}, runSideErr("not_found", "No credentials found for provider '%s'", providerID)
	}
	u, err := s.Connections.Credentials(ctx, r.OrgID, r.AppID, profileID, providerID)
	if err == nil && refresh && (u.ExpiresAt.IsZero() || !u.ExpiresAt.After(time.Now().Add(credentialRefreshSkip))) {
		u, err = s.Connections.Refresh(ctx, u)
	}
	if err != nil {
		return credentials.Payload{}, credentialError(providerID, err)
	}
	s.log().InfoContext(ctx, "Credential access", "run", r.ID, "providerId", providerID, "refresh", refresh)
	return credentials.Materialize(u.Provider.Rules, u.Credentials), nil
}

func credentialError(providerID string, err error) error {
	switch {
	case errors.Is(err, providers.ErrProviderNotFound), errors.Is(err, providers.ErrProviderNotEnabled):
		return runSideErr("not_found", "Provider '%s' is not configured for this application", providerID)
	case errors.Is(err, providers.ErrConnectionNotFound):
		return runSideErr("not_found", "No credentials found for provider '%s'", providerID)
	case errors.Is(err, providers.ErrNeedsReconnection):
		return runSideErr("unauthorized", "The credential of provider '%s' was revoked: the connection needs reconnection", providerID)
	case errors.Is(err, providers.ErrRefreshFailed):
		return runSideErr("unauthorized", "Refreshing the credential of provider '%s' failed (transient)", providerID)
	}
	return err
}

// declares reports whether the agent's draft manifest, or any of its published versions, declares providerID.
func (s *Service) declares(ctx context.Context, packageID, providerID string) (bool, error) {
	if packageID == "" {
		return false, nil
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT draft_manifest FROM packages WHERE id = ?
		UNION ALL SELECT manifest FROM package_versions WHERE package_id = ?`, packageID, packageID)
	if err != nil {
		return false, fmt.Errorf("manifests of %s: %w", packageID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var manifest []byte
		if err := rows.Scan(&manifest); err != nil {
			return false, fmt.Errorf("manifests of %s: %w", packageID, err)
		}
		for _, req := range providers.RequirementsOf(manifest) {
			if req.ProviderID == providerID {
				return true, nil
			}
		}
	}
	return false, rows.Err()
}

// OAuthModelToken answers GET/POST /internal/oauth-token/{credentialId}[/refresh]: the checks of RUNTIME.md
// §5 (platform runs only; the credential pinned to the run; in the run's organization). The platform has
// no OAuth model credentials yet, so a credential that passes them is still not found.
func (s *Service) OAuthModelToken(ctx context.Context, r *RunSide, credentialID string) error {
	if r.Origin != OriginPlatform {
		return runSideErr("forbidden", "OAuth model tokens are only available to platform runs")
	}
	if r.ModelCredentialID != "" && r.ModelCredentialID != credentialID {
		return runSideErr("forbidden", "Credential is not the model credential of this run")
	}
	if !ids.ValidUUID(credentialID) {
		return runSideErr("not_found", "Credential not found")
	}
	var orgID string
	err := s.DB.QueryRowContext(ctx, `SELECT org_id FROM model_provider_credentials WHERE id = ?`, credentialID).Scan(&orgID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return runSideErr("not_found", "Credential not found")
	case err != nil:
		return fmt.Errorf("model credential %s: %w", credentialID, err)
	case orgID != r.OrgID:
		return runSideErr("forbidden", "Credential does not belong to the organization of this run")
	}
	return runSideErr("not_found", "Credential not found") // an API-key credential: no OAuth token to give
}

// LLMUsage is one LLM response metered by the sidecar (POST /internal/llm-usage).
type LLMUsage struct {
	RequestID string
	API       string
	Model     string
	Usage     sink.TokenUsage
	Complete  bool
}

// MaxRequestIDLength bounds the request ids of metered usage.
const MaxRequestIDLength = 255

// RecordLLMUsage prices u with the run's model (USD per million tokens; an unpriced model costs 0), records
// it as a 'proxy' llm_usage row deduplicated on (run, request id), and raises runs.cost. It returns the
// price of u.
func (s *Service) RecordLLMUsage(ctx context.Context, r *RunSide, u LLMUsage) (float64, error) {
	switch {
	case strings.TrimSpace(u.RequestID) == "" || len(u.RequestID) > MaxRequestIDLength:
		return 0, runSideErr("invalid_request", "requestId must be a non-empty string of at most %d characters", MaxRequestIDLength)
	case !validUsage(u.Usage):
		return 0, runSideErr("invalid_request", "usage token counts must be >= 0")
	}
	pricing, err := s.runPricing(ctx, r)
	if err != nil {
		return 0, err
	}
	cost := llm.Cost(llm.Usage{InputTokens: u.Usage.InputTokens, OutputTokens: u.Usage.OutputTokens,
		CacheReadTokens: u.Usage.CacheReadInputTokens, CacheWriteTokens: u.Usage.CacheCreationInputTokens}, pricing)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := upsertProxyUsage(ctx, tx, r.ref(), proxyUsage{requestID: u.RequestID, api: u.API, model: u.Model,
			usage: u.Usage, cost: cost}); err != nil {
			return err
		}
		return bumpCost(ctx, tx, r.ID)
	})
	return cost, err
}

// runPricing is the price of the run's model (its model id, else the organization's default model).
func (s *Service) runPricing(ctx context.Context, r *RunSide) (llm.Pricing, error) {
	if s.Models == nil {
		return llm.Pricing{}, nil
	}
	list, err := s.Models.ListModels(ctx, r.OrgID)
	if err != nil {
		return llm.Pricing{}, err
	}
	for _, m := range list {
		if (r.ModelID != "" && m.ID == r.ModelID) || (r.ModelID == "" && m.IsDefault) {
			if m.Cost == nil {
				return llm.Pricing{}, nil
			}
			return *m.Cost, nil
		}
	}
	return llm.Pricing{}, nil
}
