package packages

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Agents serves the agents an application sees (API.md §4.6, §5 items 7 and 8) and their per-application
// settings: config, model, proxy, app connection profile, skill/tool dependencies and readiness. An agent is
// visible in an application iff it is a system agent or installed there (upstream requireAgent; anything else
// is ErrAgentNotFound, including another organization's agents).
type Agents struct {
	DB *store.DB
	// AppURL is the public base URL; the detail's callbackUrl is <AppURL>/api/connections/callback.
	AppURL string
	// RunCounter counts runs in flight per agent. nil = the default, which counts `pending`/`running` rows of
	// a `runs` table once one exists (the runs area), and 0 before.
	RunCounter RunCounter
	// Providers resolves the connections of declared providers for readiness (internal/providers). nil =
	// every enabled provider is reported no_connection.
	Providers ProviderChecker
}

// RunCounter counts the runs in flight (pending or running) of agents in an application.
type RunCounter interface {
	// RunningRuns returns packageID → count for the given agents (absent = 0).
	RunningRuns(ctx context.Context, appID string, packageIDs []string) (map[string]int, error)
}

// AgentSummary is one item of `GET /api/agents` (API.md §5 item 7).
type AgentSummary struct {
	ID            string            `json:"id" doc:"@scope/name"`
	DisplayName   string            `json:"displayName"`
	Description   string            `json:"description"`
	SchemaVersion string            `json:"schemaVersion"`
	Author        string            `json:"author"`
	Keywords      []string          `json:"keywords"`
	Dependencies  AgentDependencies `json:"dependencies"`
	RunningRuns   int               `json:"runningRuns" doc:"Runs of the agent in flight in this application"`
	Source        string            `json:"source" enum:"local,system"`
	Scope         string            `json:"scope" doc:"@scope"`
	Version       string            `json:"version" doc:"Version of the draft manifest"`
	Type          string            `json:"type" enum:"agent"`
}

// AgentDependencies are the dependency maps of a manifest (package id → semver range), as written.
type AgentDependencies struct {
	Providers json.RawMessage `json:"providers"`
	Skills    json.RawMessage `json:"skills"`
	Tools     json.RawMessage `json:"tools"`
}

// List returns the agents visible in the caller's application: system agents first, then the installed ones,
// each group by id.
func (s *Agents) List(ctx context.Context, c AppCaller) ([]AgentSummary, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+packageColumns+` FROM packages p
		WHERE p.type = 'agent' AND p.ephemeral = ? AND (p.source = 'system' OR (p.org_id = ? AND EXISTS (
			SELECT 1 FROM application_packages a WHERE a.application_id = ? AND a.package_id = p.id)))
		ORDER BY CASE WHEN p.source = 'system' THEN 0 ELSE 1 END, p.id`, false, c.OrgID, c.AppID)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	var pkgs []*Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan agent: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	ids := make([]string, len(pkgs))
	for i, p := range pkgs {
		ids[i] = p.ID
	}
	running, err := s.runningRuns(ctx, c.AppID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]AgentSummary, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, apSummary(p, running[p.ID]))
	}
	return out, nil
}

func apSummary(p *Package, running int) AgentSummary {
	info := apManifestInfo(p.DraftManifest)
	if info.DisplayName == "" {
		info.DisplayName = p.Name()
	}
	if info.SchemaVersion == "" {
		info.SchemaVersion = "1.0"
	}
	if info.Keywords == nil {
		info.Keywords = []string{}
	}
	return AgentSummary{ID: p.ID, DisplayName: info.DisplayName, Description: info.Description, SchemaVersion: info.SchemaVersion,
		Author: info.Author, Keywords: info.Keywords, Dependencies: apDependencies(p.DraftManifest), RunningRuns: running,
		Source: p.Source, Scope: p.Scope(), Version: info.Version, Type: TypeAgent}
}

func apDependencies(manifest []byte) AgentDependencies {
	return AgentDependencies{Providers: apDependencyMap(manifest, "providers"), Skills: apDependencyMap(manifest, "skills"),
		Tools: apDependencyMap(manifest, "tools")}
}

// requireAgent loads an agent visible in the caller's application with its installation there (nil for a
// system agent that is not installed); anything else is ErrAgentNotFound.
func (s *Agents) requireAgent(ctx context.Context, q store.Querier, c AppCaller, id string) (*Package, *apInstall, error) {
	notFound := apErr(ErrAgentNotFound, "Agent "+id+" not found")
	p, err := GetPackage(ctx, q, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	if p.Type != TypeAgent || !p.VisibleToOrg(c.OrgID) {
		return nil, nil, notFound
	}
	in, err := apLoadInstall(ctx, q, c.AppID, id)
	if err != nil {
		return nil, nil, err
	}
	if in == nil && !p.IsSystem() {
		return nil, nil, notFound
	}
	return p, in, nil
}

// runningRuns counts in-flight runs through RunCounter, else from the runs table.
func (s *Agents) runningRuns(ctx context.Context, appID string, ids []string) (map[string]int, error) {
	if len(ids) == 0 {
		return map[string]int{}, nil
	}
	if s.RunCounter != nil {
		return s.RunCounter.RunningRuns(ctx, appID, ids)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT package_id, count(*) FROM runs
		WHERE application_id = ? AND status IN ('pending', 'running') GROUP BY package_id`, appID)
	if err != nil {
		return nil, fmt.Errorf("count running runs: %w", err)
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string]int{}
	for rows.Next() {
		var id sql.NullString
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan running runs: %w", err)
		}
		if want[id.String] {
			out[id.String] = n
		}
	}
	return out, rows.Err()
}

// AgentDetail is the agent detail of `GET /api/packages/agents/{scope}/{name}` (API.md §5 item 8). Manifest,
// UpdatedAt, LockVersion and Prompt are present for non-system agents only.
type AgentDetail struct {
	ID                   string          `json:"id"`
	DisplayName          string          `json:"displayName"`
	Description          string          `json:"description"`
	Source               string          `json:"source" enum:"local,system"`
	Scope                string          `json:"scope"`
	Version              string          `json:"version"`
	Dependencies         AgentDetailDeps `json:"dependencies"`
	Input                json.RawMessage `json:"input,omitempty" doc:"The manifest's input wrapper, when declared"`
	Output               json.RawMessage `json:"output,omitempty" doc:"The manifest's output wrapper, when declared"`
	Config               json.RawMessage `json:"config" doc:"The manifest's config wrapper plus current: the effective config of this application"`
	RunningRuns          int             `json:"runningRuns"`
	LastRun              *AgentLastRun   `json:"lastRun" doc:"Latest run in this application (null until runs exist)"`
	PopulatedProviders   map[string]any  `json:"populatedProviders" doc:"Provider id → provider summary (empty until connections exist)"`
	CallbackURL          string          `json:"callbackUrl" doc:"OAuth callback URL to register with providers"`
	VersionCount         int             `json:"versionCount"`
	HasUnarchivedChanges bool            `json:"hasUnarchivedChanges" doc:"The draft changed since the newest version"`
	AgentAppProfileID    *string         `json:"agentAppProfileId"`
	AgentAppProfileName  *string         `json:"agentAppProfileName"`
	ForkedFrom           *string         `json:"forkedFrom"`
	Manifest             json.RawMessage `json:"manifest,omitempty" doc:"Draft manifest (non-system agents)"`
	UpdatedAt            *isotime.Time   `json:"updatedAt,omitempty" format:"date-time"`
	LockVersion          *int            `json:"lockVersion,omitempty"`
	Prompt               *string         `json:"prompt,omitempty" doc:"Draft prompt.md (non-system agents)"`
}

// AgentDetailDeps are the dependencies of the detail: provider status objects and skill/tool summaries.
type AgentDetailDeps struct {
	Providers []ProviderStatus  `json:"providers"`
	Skills    []DependencyEntry `json:"skills"`
	Tools     []DependencyEntry `json:"tools"`
}

// ProviderStatus is the connection state of a declared provider for the caller. Until connections exist
// every provider is "not_connected" with no profile.
type ProviderStatus struct {
	ID               string   `json:"id"`
	Version          string   `json:"version" doc:"Declared semver range"`
	Status           string   `json:"status" enum:"connected,not_connected,needs_reconnection"`
	Source           *string  `json:"source" doc:"Where the connection comes from (app_binding, user_profile), null when none"`
	ProfileName      *string  `json:"profileName"`
	ProfileOwnerName *string  `json:"profileOwnerName"`
	ScopesRequired   []string `json:"scopesRequired" doc:"providersConfiguration.<id>.scopes"`
}

// DependencyEntry is a skill or tool dependency, with the dependency's draft details when it is visible.
type DependencyEntry struct {
	ID          string  `json:"id"`
	Version     *string `json:"version,omitempty" doc:"Draft version of the dependency"`
	Name        *string `json:"name,omitempty" doc:"displayName of the dependency"`
	Description *string `json:"description,omitempty"`
}

// AgentLastRun is the latest run of an agent.
type AgentLastRun struct {
	ID        string       `json:"id"`
	Status    string       `json:"status"`
	StartedAt isotime.Time `json:"startedAt" format:"date-time"`
	Duration  *int64       `json:"duration" doc:"Milliseconds"`
}

// ProviderRequirement is a provider an agent declares, with the scopes it asks for.
type ProviderRequirement struct {
	ID     string
	Range  string
	Scopes []string
}

// Detail returns the rich agent detail for the caller's application.
func (s *Agents) Detail(ctx context.Context, c AppCaller, id string) (*AgentDetail, error) {
	p, in, err := s.requireAgent(ctx, s.DB, c, id)
	if err != nil {
		return nil, err
	}
	info := apManifestInfo(p.DraftManifest)
	if info.DisplayName == "" {
		info.DisplayName = p.Name()
	}
	d := &AgentDetail{ID: p.ID, DisplayName: info.DisplayName, Description: info.Description, Source: p.Source,
		Scope: p.Scope(), Version: info.Version, PopulatedProviders: map[string]any{},
		CallbackURL: s.AppURL + "/api/connections/callback"}
	if p.ForkedFrom != "" {
		d.ForkedFrom = &p.ForkedFrom
	}

	reqs := apProviderRequirements(p.DraftManifest)
	d.Dependencies.Providers = make([]ProviderStatus, 0, len(reqs))
	for _, r := range reqs {
		d.Dependencies.Providers = append(d.Dependencies.Providers, ProviderStatus{ID: r.ID, Version: r.Range,
			Status: "not_connected", ScopesRequired: r.Scopes})
	}
	if d.Dependencies.Skills, err = s.dependencyEntries(ctx, c, p.DraftManifest, "skills", TypeSkill); err != nil {
		return nil, err
	}
	if d.Dependencies.Tools, err = s.dependencyEntries(ctx, c, p.DraftManifest, "tools", TypeTool); err != nil {
		return nil, err
	}

	if v := apMemberOf(p.DraftManifest, "input"); v != nil && string(v) != "null" {
		d.Input = apCompact(v)
	}
	if v := apMemberOf(p.DraftManifest, "output"); v != nil && string(v) != "null" {
		d.Output = apCompact(v)
	}
	var stored []byte
	if in != nil {
		stored = in.Config
	}
	if d.Config, err = apEffectiveConfig(p.DraftManifest, stored); err != nil {
		return nil, err
	}

	running, err := s.runningRuns(ctx, c.AppID, []string{p.ID})
	if err != nil {
		return nil, err
	}
	d.RunningRuns = running[p.ID]

	var latest isotime.Time
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM package_versions WHERE package_id = ?`, p.ID).Scan(&d.VersionCount); err != nil {
		return nil, fmt.Errorf("count versions of %s: %w", p.ID, err)
	}
	if d.VersionCount > 0 {
		if err := s.DB.QueryRowContext(ctx, `SELECT max(created_at) FROM package_versions WHERE package_id = ?`, p.ID).Scan(&latest); err != nil {
			return nil, fmt.Errorf("latest version of %s: %w", p.ID, err)
		}
	}
	d.HasUnarchivedChanges = !p.IsSystem() && (d.VersionCount == 0 || p.UpdatedAt.After(latest.Time))

	if in != nil && in.AppProfileID.Valid {
		d.AgentAppProfileID = &in.AppProfileID.String
		var name string
		err := s.DB.QueryRowContext(ctx, `SELECT name FROM connection_profiles WHERE id = ?`, in.AppProfileID.String).Scan(&name)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("load app profile: %w", err)
		}
		if err == nil {
			d.AgentAppProfileName = &name
		}
	}
	if !p.IsSystem() {
		d.Manifest = apObject(p.DraftManifest)
		updated, lock, prompt := p.UpdatedAt, p.LockVersion, p.DraftContent
		d.UpdatedAt, d.LockVersion, d.Prompt = &updated, &lock, &prompt
	}
	return d, nil
}

// dependencyEntries lists manifest.dependencies.<kind> with the draft details of the dependencies the
// organization can see.
func (s *Agents) dependencyEntries(ctx context.Context, c AppCaller, manifest []byte, kind, typ string) ([]DependencyEntry, error) {
	ids := apDependencyIDs(manifest, kind)
	out := make([]DependencyEntry, 0, len(ids))
	for _, id := range ids {
		e := DependencyEntry{ID: id}
		dep, err := GetPackage(ctx, s.DB, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if err == nil && dep.Type == typ && dep.VisibleToOrg(c.OrgID) {
			info := apManifestInfo(dep.DraftManifest)
			e.Version, e.Name, e.Description = apOptional(info.Version), apOptional(info.DisplayName), apOptional(info.Description)
		}
		out = append(out, e)
	}
	return out, nil
}

func apOptional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// apProviderRequirements reads dependencies.providers (document order) and providersConfiguration scopes.
func apProviderRequirements(manifest []byte) []ProviderRequirement {
	deps, _ := apMembers(apMemberOf(apMemberOf(manifest, "dependencies"), "providers"))
	var conf map[string]struct {
		Scopes []string `json:"scopes"`
	}
	_ = json.Unmarshal(apMemberOf(manifest, "providersConfiguration"), &conf)
	out := make([]ProviderRequirement, 0, len(deps))
	for _, m := range deps {
		var rng string
		_ = json.Unmarshal(m.Value, &rng)
		scopes := []string{}
		if c, ok := conf[m.Key]; ok && c.Scopes != nil {
			scopes = append(scopes, c.Scopes...)
		}
		out = append(out, ProviderRequirement{ID: m.Key, Range: rng, Scopes: scopes})
	}
	return out
}

// apEffectiveConfig is the detail's config member: the manifest's config wrapper (or an empty object schema)
// plus `current`, the stored config with the schema's defaults applied.
func apEffectiveConfig(manifest, stored []byte) (json.RawMessage, error) {
	wrapper := apMemberOf(manifest, "config")
	if len(wrapper) == 0 || wrapper[0] != '{' {
		wrapper = json.RawMessage(`{"schema":{"type":"object","properties":{}}}`)
	}
	current, err := jsonschema.Decode(apObject(stored))
	if err != nil {
		current = map[string]any{}
	}
	if schema := apMemberOf(wrapper, "schema"); schema != nil {
		if compiled, err := jsonschema.Compile(schema); err == nil {
			current = jsonschema.ApplyDefaults(compiled, current)
		}
	}
	raw, err := apMarshal(current)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return apSetMember(wrapper, "current", raw)
}
