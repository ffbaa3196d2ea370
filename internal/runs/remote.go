package runs

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Remote runs (RUNTIME.md §1.1, §5; API.md §4.8): the caller (the CLI) executes the agent itself and only
// reports to the platform through the run's sink. The platform inserts the run `pending` without a job —
// the worker never executes it — and it becomes `running` with its first event. The watchdog fails it
// when its runner stops reporting (last_heartbeat_at, bumped by every event, heartbeat and extend).

// Limits of remote runs.
const (
	MaxContextSnapshotBytes = 16 << 10
	MaxInlineManifestBytes  = 64 << 10
	MaxInlinePromptBytes    = 200000
	MaxRunnerNameLength     = 120
	MaxRunnerKindLength     = 32
)

var runnerKindPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Remote source kinds.
const (
	SourceRegistry = "registry"
	SourceInline   = "inline"
)

// ErrIntegrityMismatch: the registry source names an integrity that is not the resolved version's (409).
var ErrIntegrityMismatch = errors.New("integrity mismatch")

// RequestError is a remote run request with an invalid member (400 invalid_request); Field is its path.
type RequestError struct {
	Field   string
	Message string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Message }

// RemoteSource is what the remote runner executes: a registry agent (its draft or a published version) or
// an inline manifest and prompt (kept as an ephemeral shadow package).
type RemoteSource struct {
	Kind      string
	PackageID string // registry
	Stage     string // registry: draft | published ("" = published when Spec is set, else draft)
	Spec      string // registry: version, range or dist-tag
	Integrity string // registry: sha256-… of the resolved version, checked when given
	Manifest  json.RawMessage
	Prompt    string
}

// RemoteParams is a remote run request.
type RemoteParams struct {
	ApplicationID   string
	Source          RemoteSource
	Input           json.RawMessage
	ContextSnapshot json.RawMessage
	TTLSeconds      int // 0 = the default TTL
	RunnerName      string
	RunnerKind      string
}

// RemoteRun is a created remote run and its sink.
type RemoteRun struct {
	RunID string
	Sink
}

// CreateRemote admits a remote run and creates it `pending` with an open sink (secret shown once).
func (s *Service) CreateRemote(ctx context.Context, c Caller, p RemoteParams) (*RemoteRun, error) {
	if err := checkRemoteParams(c, &p, s.Sink.maxTTL()); err != nil {
		return nil, err
	}
	var agent *agentRef
	var err error
	if p.Source.Kind == SourceRegistry {
		if agent, err = s.registryAgent(ctx, c, p.Source); err != nil {
			return nil, err
		}
	}
	if err := s.admit(ctx, c.OrgID); err != nil {
		return nil, err
	}
	secret, sealed, err := s.sealSink()
	if err != nil {
		return nil, err
	}
	ttl := s.Sink.defaultTTL()
	if p.TTLSeconds > 0 {
		ttl = time.Duration(p.TTLSeconds) * time.Second
	}
	runID := ids.New(ids.Run)
	now := time.Now()
	stamp, expires := isotime.From(now), isotime.From(now.Add(ttl))
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if p.Source.Kind == SourceInline {
			agent = newShadowAgent(p.Source.Manifest)
			if err := insertShadowPackage(ctx, tx, c, agent, p.Source.Prompt); err != nil {
				return err
			}
		}
		var m agentManifest
		_ = json.Unmarshal(agent.manifest, &m)
		timeout := m.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeoutSeconds
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(run_number), 0) FROM runs
			WHERE org_id = ? AND application_id = ? AND package_id = ?`, c.OrgID, c.AppID, agent.id).Scan(&n); err != nil {
			return fmt.Errorf("next run number: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, package_id, user_id, end_user_id, api_key_id, application_id,
			org_id, status, input, agent_scope, agent_name, version_label, run_number, run_origin, timeout_seconds,
			output_schema, context_snapshot, runner_name, runner_kind, sink_secret_encrypted, sink_expires_at,
			last_heartbeat_at, started_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, 'remote', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			runID, agent.id, store.NullIfEmpty(userOf(c)), store.NullIfEmpty(c.EndUserID), store.NullIfEmpty(c.APIKeyID), c.AppID, c.OrgID,
			string(p.Input), agent.scope, agent.name, store.NullIfEmpty(agent.versionLabel), n+1, timeout, store.NullJSON(m.Output.Schema),
			store.NullJSON(p.ContextSnapshot), store.NullIfEmpty(p.RunnerName), store.NullIfEmpty(p.RunnerKind), sealed, expires, stamp, stamp, stamp)
		if err != nil {
			return fmt.Errorf("insert remote run: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	events, finalize := sinkURLs(s.Sink.PublicURL, runID)
	return &RemoteRun{RunID: runID, Sink: Sink{URL: events, FinalizeURL: finalize, Secret: secret, ExpiresAt: expires}}, nil
}

// checkRemoteParams validates the request members that need no database and normalises the input.
func checkRemoteParams(c Caller, p *RemoteParams, maxTTL time.Duration) error {
	if p.ApplicationID != c.AppID {
		return &RequestError{Field: "applicationId", Message: "must be the application of the request (X-Application-Id)"}
	}
	switch p.Source.Kind {
	case SourceRegistry:
		if p.Source.PackageID == "" {
			return &RequestError{Field: "source.packageId", Message: "is required for a registry source"}
		}
		if st := p.Source.Stage; st != "" && st != "draft" && st != "published" {
			return &RequestError{Field: "source.stage", Message: `must be "draft" or "published"`}
		}
	case SourceInline:
		m := bytes.TrimSpace(p.Source.Manifest)
		if len(m) == 0 || m[0] != '{' || !json.Valid(m) {
			return &RequestError{Field: "source.manifest", Message: "must be a JSON object"}
		}
		if len(m) > MaxInlineManifestBytes {
			return &RequestError{Field: "source.manifest", Message: "must be at most 65536 bytes"}
		}
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(m, &head) != nil || (head.Type != "" && head.Type != "agent") {
			return &RequestError{Field: "source.manifest", Message: `must be an agent manifest (type "agent")`}
		}
		if len(p.Source.Prompt) > MaxInlinePromptBytes {
			return &RequestError{Field: "source.prompt", Message: "must be at most 200000 bytes"}
		}
	default:
		return &RequestError{Field: "source.kind", Message: `must be "registry" or "inline"`}
	}
	in := bytes.TrimSpace(p.Input)
	switch {
	case len(in) == 0 || string(in) == "null":
		p.Input = json.RawMessage(`{}`)
	case in[0] != '{' || !json.Valid(in):
		return &RequestError{Field: "input", Message: "must be a JSON object"}
	}
	if snap := bytes.TrimSpace(p.ContextSnapshot); len(snap) > 0 && string(snap) != "null" {
		if snap[0] != '{' || !json.Valid(snap) {
			return &RequestError{Field: "contextSnapshot", Message: "must be a JSON object"}
		}
		if len(snap) > MaxContextSnapshotBytes {
			return &RequestError{Field: "contextSnapshot", Message: "must be at most 16384 bytes"}
		}
	}
	if p.TTLSeconds < 0 || time.Duration(p.TTLSeconds)*time.Second > maxTTL {
		return &RequestError{Field: "sink.ttlSeconds", Message: fmt.Sprintf("must be between 1 and %d", int(maxTTL/time.Second))}
	}
	if utf8.RuneCountInString(p.RunnerName) > MaxRunnerNameLength {
		return &RequestError{Field: "X-Appstrate-Runner-Name", Message: "must be at most 120 characters"}
	}
	if p.RunnerKind != "" && (len(p.RunnerKind) > MaxRunnerKindLength || !runnerKindPattern.MatchString(p.RunnerKind)) {
		return &RequestError{Field: "X-Appstrate-Runner-Kind", Message: "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ (at most 32 characters)"}
	}
	return nil
}

// registryAgent resolves a registry source: an agent of the organization installed in the application (or
// a system agent), its draft or the published version its spec names.
func (s *Service) registryAgent(ctx context.Context, c Caller, src RemoteSource) (*agentRef, error) {
	pkg, err := packages.GetPackage(ctx, s.DB, src.PackageID)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, ErrAgentNotFound
	}
	if err != nil {
		return nil, err
	}
	if pkg.Type != packages.TypeAgent || !pkg.VisibleToOrg(c.OrgID) {
		return nil, ErrAgentNotFound
	}
	if !pkg.IsSystem() {
		var n int
		if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM application_packages WHERE application_id = ? AND package_id = ?`,
			c.AppID, pkg.ID).Scan(&n); err != nil {
			return nil, fmt.Errorf("installation of %s: %w", pkg.ID, err)
		}
		if n == 0 {
			return nil, ErrAgentNotFound
		}
	}
	a := &agentRef{id: pkg.ID, scope: pkg.Scope(), name: pkg.Name(), manifest: []byte(pkg.DraftManifest)}
	if src.Stage == "draft" || (src.Stage == "" && src.Spec == "") {
		a.versionLabel = manifestString(a.manifest, "version")
		return a, nil
	}
	v, err := resolveVersion(ctx, s.DB, pkg.ID, src.Spec)
	if err != nil {
		return nil, err
	}
	if src.Integrity != "" && src.Integrity != v.Integrity {
		return nil, ErrIntegrityMismatch
	}
	a.manifest, a.versionLabel = v.Manifest, v.Version
	return a, nil
}

// resolveVersion picks a published, non-yanked version: spec as an exact version, a dist-tag, then a
// semver range ("" = the latest tag, else the highest version).
func resolveVersion(ctx context.Context, q store.Querier, packageID, spec string) (*packages.Version, error) {
	versions, err := packages.ListVersions(ctx, q, packageID)
	if err != nil {
		return nil, err
	}
	byVersion := map[string]*packages.Version{}
	var names []string
	for _, v := range versions {
		if !v.Yanked {
			byVersion[v.Version] = v
			names = append(names, v.Version)
		}
	}
	if v, ok := byVersion[spec]; ok {
		return v, nil
	}
	tag := spec
	if tag == "" {
		tag = "latest"
	}
	var tagged string
	err = q.QueryRowContext(ctx, `SELECT v.version FROM package_dist_tags t JOIN package_versions v ON v.id = t.version_id
		WHERE t.package_id = ? AND t.tag = ?`, packageID, tag).Scan(&tagged)
	switch {
	case err == nil:
		if v, ok := byVersion[tagged]; ok {
			return v, nil
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("dist-tag %s of %s: %w", tag, packageID, err)
	}
	rng := spec
	if rng == "" {
		rng = "*"
	}
	if best, ok := semver.MaxSatisfying(names, rng); ok {
		return byVersion[best], nil
	}
	return nil, ErrVersionNotFound
}

// newShadowAgent names the ephemeral package @inline/r-<uuid> that keeps an inline manifest.
func newShadowAgent(manifest json.RawMessage) *agentRef {
	name := "r-" + ids.UUID()
	manifest = bytes.TrimSpace(manifest)
	return &agentRef{id: "@inline/" + name, scope: "@inline", name: name, manifest: manifest,
		versionLabel: strings.TrimSpace(manifestString(manifest, "version"))}
}

// insertShadowPackage keeps an inline manifest and prompt as the ephemeral agent a of the organization.
func insertShadowPackage(ctx context.Context, tx *store.Tx, c Caller, a *agentRef, prompt string) error {
	now := isotime.Now()
	_, err := tx.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, ephemeral,
		created_by, created_at, updated_at) VALUES (?, ?, 'agent', 'local', ?, ?, ?, ?, ?, ?)`,
		a.id, c.OrgID, string(a.manifest), prompt, true, store.NullIfEmpty(userOf(c)), now, now)
	if err != nil {
		return fmt.Errorf("insert inline package %s: %w", a.id, err)
	}
	return nil
}
