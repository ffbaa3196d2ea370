package packages

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Per-application agent settings (API.md §4.6). Settings live on the agent's application_packages row of the
// caller's application; a system agent that is not installed gets its row on the first write.

// MaxDependencyIDs bounds the skill and tool id lists of PUT …/skills and …/tools.
const MaxDependencyIDs = 50

// ConfigValidationError reports a config that does not match the agent's config schema. Paths are relative to
// the config object ("" = the object itself).
type ConfigValidationError struct {
	Errors []jsonschema.FieldError
}

func (e *ConfigValidationError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid config"
	}
	return fmt.Sprintf("invalid config: %s: %s", jsonschema.JoinPath("config", e.Errors[0].Path), e.Errors[0].Message)
}

// ConfigResult is the answer of `PUT /api/agents/{scope}/{name}/config`.
type ConfigResult struct {
	Config     json.RawMessage  `json:"config" doc:"The stored config, defaults applied"`
	Validation ConfigValidation `json:"validation"`
}

// ConfigValidation is the validation outcome of a stored config (always valid: invalid ones are refused).
type ConfigValidation struct {
	Valid bool `json:"valid"`
}

// SetConfig validates config (a JSON object) against the agent manifest's config.schema as AJV does with
// useDefaults (defaults filled in first, then validation: draft-07 or 2020-12, formats asserted) and stores it
// for the caller's application. Failures are *ConfigValidationError.
func (s *Agents) SetConfig(ctx context.Context, c AppCaller, id string, config []byte) (*ConfigResult, error) {
	var out *ConfigResult
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		p, _, err := s.requireAgent(ctx, tx, c, id)
		if err != nil {
			return err
		}
		value, err := jsonschema.Decode(config)
		if err != nil {
			return &ConfigValidationError{Errors: []jsonschema.FieldError{{Code: jsonschema.CodeInvalidType, Message: "must be a JSON object"}}}
		}
		if _, isObject := value.(map[string]any); !isObject {
			return &ConfigValidationError{Errors: []jsonschema.FieldError{{Code: jsonschema.CodeInvalidType, Message: "must be object"}}}
		}
		if schema := apMemberOf(apMemberOf(p.DraftManifest, "config"), "schema"); schema != nil {
			compiled, err := jsonschema.Compile(schema)
			if err != nil {
				return apErr(ErrInvalidConfigSchema, "The config schema of "+id+" is not a valid JSON Schema")
			}
			value = jsonschema.ApplyDefaults(compiled, value)
			if errs := compiled.Validate(value); len(errs) > 0 {
				return &ConfigValidationError{Errors: errs}
			}
		}
		stored, err := apMarshal(value)
		if err != nil {
			return fmt.Errorf("encode config: %w", err)
		}
		before, err := apEnsureInstall(ctx, tx, c.AppID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE application_packages SET config = ?, updated_at = ?
			WHERE application_id = ? AND package_id = ?`, string(stored), isotime.Now(), c.AppID, id); err != nil {
			return fmt.Errorf("store config of %s: %w", id, err)
		}
		out = &ConfigResult{Config: stored, Validation: ConfigValidation{Valid: true}}
		e := apAuditEvent(c, c.AppID, "agent.config_updated", id)
		e.Before, e.After = apObject(before.Config), out.Config
		audit.Record(ctx, tx, e)
		return nil
	})
	return out, err
}

// Model returns the model override of the agent in the caller's application (nil = the organization default).
func (s *Agents) Model(ctx context.Context, c AppCaller, id string) (*string, error) {
	_, in, err := s.requireAgent(ctx, s.DB, c, id)
	if err != nil || in == nil {
		return nil, err
	}
	return apStr(in.ModelID), nil
}

// SetModel sets (nil clears) the model override of the agent in the caller's application. Model ids are not
// checked against the organization's models yet (they arrive with the models area).
func (s *Agents) SetModel(ctx context.Context, c AppCaller, id string, modelID *string) (*string, error) {
	return modelID, s.setColumn(ctx, c, id, "model_id", modelID, "agent.model_updated")
}

// Proxy returns the proxy override of the agent in the caller's application and the proxy that applies. Until
// organization proxies exist the resolved proxy is the override itself.
func (s *Agents) Proxy(ctx context.Context, c AppCaller, id string) (proxyID, resolved *string, err error) {
	_, in, err := s.requireAgent(ctx, s.DB, c, id)
	if err != nil || in == nil {
		return nil, nil, err
	}
	return apStr(in.ProxyID), apStr(in.ProxyID), nil
}

// SetProxy sets (nil clears) the proxy override of the agent in the caller's application.
func (s *Agents) SetProxy(ctx context.Context, c AppCaller, id string, proxyID *string) error {
	return s.setColumn(ctx, c, id, "proxy_id", proxyID, "agent.proxy_updated")
}

// SetAppProfile sets (nil clears) the application connection profile the agent uses in the caller's
// application; the profile must be an application-level profile of that application (ErrAppProfileNotFound).
func (s *Agents) SetAppProfile(ctx context.Context, c AppCaller, id string, profileID *string) (*string, error) {
	return profileID, s.setColumn(ctx, c, id, "app_profile_id", profileID, "agent.app_profile_updated")
}

// setColumn writes one nullable text column of the agent's installation in the caller's application.
func (s *Agents) setColumn(ctx context.Context, c AppCaller, id, column string, value *string, action string) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, _, err := s.requireAgent(ctx, tx, c, id); err != nil {
			return err
		}
		if column == "app_profile_id" && value != nil {
			if err := apCheckAppProfile(ctx, tx, c.AppID, *value); err != nil {
				return err
			}
		}
		before, err := apEnsureInstall(ctx, tx, c.AppID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE application_packages SET `+column+` = ?, updated_at = ?
			WHERE application_id = ? AND package_id = ?`, apNullStr(value), isotime.Now(), c.AppID, id); err != nil {
			return fmt.Errorf("update %s of %s: %w", column, id, err)
		}
		e := apAuditEvent(c, c.AppID, action, id)
		var old *string
		switch column {
		case "model_id":
			old = apStr(before.ModelID)
		case "proxy_id":
			old = apStr(before.ProxyID)
		case "app_profile_id":
			old = apStr(before.AppProfileID)
		}
		e.Before, e.After = map[string]*string{column: old}, map[string]*string{column: value}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// DependenciesResult is the answer of `PUT …/skills` and `PUT …/tools`: the rewritten dependency map and the
// new lock version of the draft.
type DependenciesResult struct {
	Skills      json.RawMessage `json:"skills,omitempty" doc:"dependencies.skills as written (PUT …/skills)"`
	Tools       json.RawMessage `json:"tools,omitempty" doc:"dependencies.tools as written (PUT …/tools)"`
	LockVersion int             `json:"lockVersion"`
}

// SetDependencies replaces the skill (kind TypeSkill) or tool (TypeTool) dependencies of an agent the
// organization owns with `^<draft version>` of each listed package. Ids that are not visible packages of that
// type are dropped silently, as upstream. The draft's lock_version and updated_at are bumped.
func (s *Agents) SetDependencies(ctx context.Context, c AppCaller, id, kind string, depIDs []string) (*DependenciesResult, error) {
	if kind != TypeSkill && kind != TypeTool {
		return nil, fmt.Errorf("set dependencies: unknown kind %q", kind)
	}
	if len(depIDs) > MaxDependencyIDs {
		return nil, apErr(ErrInvalidSettings, fmt.Sprintf("%sIds: at most %d ids", kind, MaxDependencyIDs))
	}
	for i, dep := range depIDs {
		if !afps.ValidName(dep) {
			return nil, apErr(ErrInvalidSettings, fmt.Sprintf("%sIds[%d]: must be a scoped package id (@scope/name)", kind, i))
		}
	}
	var out *DependenciesResult
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		p, _, err := s.requireAgent(ctx, tx, c, id)
		if err != nil {
			return err
		}
		if err := apRequireOwned(ctx, tx, c, p); err != nil {
			return err
		}
		running, err := s.runningRuns(ctx, c.AppID, []string{p.ID})
		if err != nil {
			return err
		}
		if running[p.ID] > 0 {
			return apErr(ErrAgentInUse, "Agent "+id+" has runs in progress")
		}
		members := []apMember{}
		seen := map[string]bool{}
		for _, dep := range depIDs {
			if seen[dep] {
				continue
			}
			seen[dep] = true
			rng, ok, err := apDependencyRange(ctx, tx, c.OrgID, dep, kind)
			if err != nil {
				return err
			}
			if ok {
				v, _ := apMarshal(rng)
				members = append(members, apMember{Key: dep, Value: v})
			}
		}
		written, err := apEncodeMembers(members)
		if err != nil {
			return fmt.Errorf("encode dependencies: %w", err)
		}
		deps := apMemberOf(p.DraftManifest, "dependencies")
		if len(deps) == 0 || deps[0] != '{' {
			deps = json.RawMessage("{}")
		}
		var value json.RawMessage = written
		if len(members) == 0 {
			value = nil // an empty list removes the member
		}
		if deps, err = apSetMember(deps, Folder(kind), value); err != nil {
			return err
		}
		manifest, err := apSetMember(p.DraftManifest, "dependencies", deps)
		if err != nil {
			return err
		}
		now := isotime.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE packages SET draft_manifest = ?, lock_version = lock_version + 1, updated_at = ?
			WHERE id = ?`, string(manifest), now, p.ID); err != nil {
			return fmt.Errorf("update dependencies of %s: %w", p.ID, err)
		}
		out = &DependenciesResult{LockVersion: p.LockVersion + 1}
		if kind == TypeSkill {
			out.Skills = written
		} else {
			out.Tools = written
		}
		e := apAuditEvent(c, c.AppID, "agent."+Folder(kind)+"_updated", p.ID)
		e.Before, e.After = apDependencyMap(p.DraftManifest, Folder(kind)), json.RawMessage(written)
		audit.Record(ctx, tx, e)
		return nil
	})
	return out, err
}

// apRequireOwned refuses agents the organization does not own: system agents and foreign scopes (403).
func apRequireOwned(ctx context.Context, q store.Querier, c AppCaller, p *Package) error {
	if p.IsSystem() {
		return apErr(ErrAgentNotOwned, "System agents cannot be modified. Fork it instead")
	}
	var slug string
	err := q.QueryRowContext(ctx, `SELECT slug FROM organizations WHERE id = ?`, c.OrgID).Scan(&slug)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load organization slug: %w", err)
	}
	if p.OrgID != c.OrgID || p.Scope() != "@"+slug {
		return apErr(ErrAgentNotOwned, "Agent "+p.ID+" is not owned by this organization. Fork it instead")
	}
	return nil
}

// apDependencyRange returns `^<draft version>` of a package the organization can see with the given type
// (ok false when there is none). A draft without a valid version falls back to the latest published version,
// then to "*".
func apDependencyRange(ctx context.Context, q store.Querier, orgID, id, typ string) (string, bool, error) {
	dep, err := GetPackage(ctx, q, id)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if dep.Type != typ || !dep.VisibleToOrg(orgID) {
		return "", false, nil
	}
	if v := apManifestInfo(dep.DraftManifest).Version; semver.Valid(v) {
		return semver.CaretRange(v), true, nil
	}
	tags, err := DistTags(ctx, q, id)
	if err != nil {
		return "", false, err
	}
	if v := tags[semver.LatestTag]; semver.Valid(v) {
		return semver.CaretRange(v), true, nil
	}
	return "*", true, nil
}

// Readiness is the answer of `GET /api/agents/{scope}/{name}/readiness`.
type Readiness struct {
	Ready   bool              `json:"ready"`
	Missing []MissingProvider `json:"missing"`
}

// MissingProvider is a declared provider the agent cannot use yet.
type MissingProvider struct {
	ProviderID          string  `json:"providerId"`
	ConnectionProfileID *string `json:"connectionProfileId" doc:"Profile that was searched, null when none resolved"`
	Reason              string  `json:"reason" enum:"no_connection,needs_reconnection,scope_insufficient,provider_not_enabled,provider_not_configured"`
	Message             string  `json:"message"`
}

// ReadinessQuery says whose connections readiness checks: the impersonated end-user (else the caller's
// user), an explicit connection profile (?connectionProfileId=) and per-provider profiles
// (?providerProfile.<providerId>=<profileId>).
type ReadinessQuery struct {
	EndUserID           string
	ConnectionProfileID string
	ProviderProfiles    map[string]string
}

// ProviderChecker resolves the connections of an agent's declared providers and reports those that cannot
// be used (implemented by internal/providers, which this package cannot import).
type ProviderChecker interface {
	MissingProviders(ctx context.Context, c AppCaller, agentID string, reqs []ProviderRequirement, q ReadinessQuery) ([]MissingProvider, error)
}

// Readiness checks the providers the agent declares for the caller's application through s.Providers;
// without it a provider without an enabled credential row in the application is provider_not_enabled and
// every other one no_connection.
func (s *Agents) Readiness(ctx context.Context, c AppCaller, id string, q ReadinessQuery) (*Readiness, error) {
	p, _, err := s.requireAgent(ctx, s.DB, c, id)
	if err != nil {
		return nil, err
	}
	r := &Readiness{Missing: []MissingProvider{}}
	if s.Providers != nil {
		missing, err := s.Providers.MissingProviders(ctx, c, p.ID, apProviderRequirements(p.DraftManifest), q)
		if err != nil {
			return nil, err
		}
		r.Missing = append(r.Missing, missing...)
		r.Ready = len(r.Missing) == 0
		return r, nil
	}
	for _, req := range apProviderRequirements(p.DraftManifest) {
		var n int
		if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM application_provider_credentials
			WHERE application_id = ? AND provider_id = ? AND enabled = ?`, c.AppID, req.ID, true).Scan(&n); err != nil {
			return nil, fmt.Errorf("provider credentials of %s: %w", req.ID, err)
		}
		m := MissingProvider{ProviderID: req.ID, Reason: "no_connection",
			Message: "No connection for provider " + req.ID + ": connect an account first"}
		if n == 0 {
			m.Reason, m.Message = "provider_not_enabled", "Provider "+req.ID+" is not enabled for this application"
		}
		r.Missing = append(r.Missing, m)
	}
	r.Ready = len(r.Missing) == 0
	return r, nil
}
