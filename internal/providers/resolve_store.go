package providers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Resolver resolves runs' connections and answers readiness over the database.
type Resolver struct {
	DB *store.DB
	// Keyring decrypts application admin credentials to tell provider_not_configured; nil = an encrypted
	// credential blob counts as configured.
	Keyring *secrets.Keyring
}

// Store returns the ResolveStore of the resolver reading through q (the database, or a transaction).
func (r *Resolver) Store(q store.Querier) ResolveStore {
	if q == nil {
		q = r.DB
	}
	return pfSQLStore{q: q, keyring: r.Keyring}
}

// Resolve picks the profile and connection of each declared provider of rc (see the package function).
func (r *Resolver) Resolve(ctx context.Context, q store.Querier, rc RunContext) (map[string]Resolved, []Missing, error) {
	return Resolve(ctx, r.Store(q), rc)
}

// Readiness reports which declared providers of rc cannot be used.
func (r *Resolver) Readiness(ctx context.Context, q store.Querier, rc RunContext) (*ReadinessResult, error) {
	return Readiness(ctx, r.Store(q), rc)
}

// pfSQLStore is the database ResolveStore.
type pfSQLStore struct {
	q       store.Querier
	keyring *secrets.Keyring
}

func (s pfSQLStore) AgentRequirements(ctx context.Context, agentID string) ([]Requirement, error) {
	var manifest []byte
	err := s.q.QueryRowContext(ctx, `SELECT draft_manifest FROM packages WHERE id = ? AND type = 'agent'`, agentID).Scan(&manifest)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownAgent
	}
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", agentID, err)
	}
	return RequirementsOf(manifest), nil
}

// RequirementsOf returns the providers an agent manifest declares (dependencies.providers, by id) with the
// scopes of providersConfiguration.<id>.scopes. A manifest that does not parse declares none.
func RequirementsOf(manifest []byte) []Requirement {
	m, err := afps.ParseManifest(manifest)
	if err != nil {
		return []Requirement{}
	}
	out := make([]Requirement, 0, len(m.Dependencies.Providers))
	for id := range m.Dependencies.Providers {
		req := Requirement{ProviderID: id, Scopes: []string{}}
		if c, ok := m.ProvidersConfiguration[id]; ok && c.Scopes != nil {
			req.Scopes = append(req.Scopes, c.Scopes...)
		}
		out = append(out, req)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProviderID < out[j].ProviderID })
	return out
}

func (s pfSQLStore) AgentAppProfile(ctx context.Context, appID, agentID string) (string, error) {
	var id sql.NullString
	err := s.q.QueryRowContext(ctx, `SELECT app_profile_id FROM application_packages WHERE application_id = ? AND package_id = ?`,
		appID, agentID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("app profile of %s: %w", agentID, err)
	}
	return id.String, nil
}

func (s pfSQLStore) Profile(ctx context.Context, id string) (ResolveProfile, error) {
	if !ids.ValidUUID(id) {
		return ResolveProfile{}, ErrProfileNotFound
	}
	var p ResolveProfile
	var user, endUser, app sql.NullString
	err := s.q.QueryRowContext(ctx, `SELECT id, name, user_id, end_user_id, application_id FROM connection_profiles WHERE id = ?`, id).
		Scan(&p.ID, &p.Name, &user, &endUser, &app)
	if err != nil {
		return ResolveProfile{}, pfProfileErr(err)
	}
	p.UserID, p.EndUserID, p.AppID = user.String, endUser.String, app.String
	return p, nil
}

func (s pfSQLStore) Binding(ctx context.Context, appProfileID, providerID string) (string, error) {
	var id string
	err := s.q.QueryRowContext(ctx, `SELECT source_profile_id FROM app_profile_provider_bindings WHERE app_profile_id = ? AND provider_id = ?`,
		appProfileID, providerID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("binding of %s in %s: %w", providerID, appProfileID, err)
	}
	return id, nil
}

func (s pfSQLStore) AgentOverrides(ctx context.Context, a Actor, agentID string) (map[string]string, error) {
	return pfStoredOverrides(ctx, s.q, a, agentID)
}

// pfStoredOverrides returns the actor's overrides for agentID (providerId → profileId).
func pfStoredOverrides(ctx context.Context, q store.Querier, a Actor, agentID string) (map[string]string, error) {
	col, owner := a.ownerColumn()
	rows, err := q.QueryContext(ctx, `SELECT provider_id, profile_id FROM user_agent_provider_profiles
		WHERE `+col+` = ? AND package_id = ?`, owner, agentID)
	if err != nil {
		return nil, fmt.Errorf("overrides of %s: %w", agentID, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var provider, profile string
		if err := rows.Scan(&provider, &profile); err != nil {
			return nil, fmt.Errorf("scan override: %w", err)
		}
		out[provider] = profile
	}
	return out, pfWrap(rows.Err(), "overrides of %s", agentID)
}

func (s pfSQLStore) PinnedProfile(ctx context.Context, userID, appID string) (string, error) {
	var id string
	err := s.q.QueryRowContext(ctx, `SELECT profile_id FROM user_application_profiles WHERE user_id = ? AND application_id = ?`,
		userID, appID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pinned profile of %s: %w", userID, err)
	}
	return id, nil
}

func (s pfSQLStore) DefaultProfile(ctx context.Context, a Actor) (string, error) {
	return EnsureDefaultProfile(ctx, s.q, a)
}

func (s pfSQLStore) Provider(ctx context.Context, appID, providerID string) (ResolveProvider, error) {
	var enabled bool
	var blob sql.NullString
	err := s.q.QueryRowContext(ctx, `SELECT enabled, credentials_encrypted FROM application_provider_credentials
		WHERE application_id = ? AND provider_id = ?`, appID, providerID).Scan(&enabled, &blob)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !enabled) {
		return ResolveProvider{}, nil
	}
	if err != nil {
		return ResolveProvider{}, fmt.Errorf("credentials of %s: %w", providerID, err)
	}
	var manifest []byte
	err = s.q.QueryRowContext(ctx, `SELECT draft_manifest FROM packages WHERE id = ?`, providerID).Scan(&manifest)
	if errors.Is(err, sql.ErrNoRows) {
		return ResolveProvider{}, nil
	}
	if err != nil {
		return ResolveProvider{}, fmt.Errorf("provider %s: %w", providerID, err)
	}
	required := pfRequiredAdminFields(manifest)
	if len(required) == 0 {
		return ResolveProvider{Enabled: true, Configured: true}, nil
	}
	return ResolveProvider{Enabled: true, Configured: s.adminCredentialsPresent(blob, required)}, nil
}

// adminCredentialsPresent reports whether the encrypted admin credentials hold every required field.
func (s pfSQLStore) adminCredentialsPresent(blob sql.NullString, required []string) bool {
	if !blob.Valid || blob.String == "" {
		return false
	}
	if s.keyring == nil {
		return true
	}
	var creds map[string]any
	if err := s.keyring.DecryptJSON(blob.String, &creds); err != nil {
		return false
	}
	for _, f := range required {
		v, _ := creds[f].(string)
		if v == "" {
			return false
		}
	}
	return true
}

// pfRequiredAdminFields returns the required fields of a provider manifest's admin credential schema
// (OAuth 2: clientId, clientSecret; OAuth 1: consumerKey, consumerSecret, unless the manifest says
// otherwise); none for the other auth modes.
func pfRequiredAdminFields(manifest []byte) []string {
	m, err := afps.ParseManifest(manifest)
	if err != nil || m.Definition == nil {
		return nil
	}
	schema := m.Definition.AdminSchema()
	if len(schema) == 0 {
		return nil
	}
	var s struct {
		Required []string `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	return s.Required
}

func (s pfSQLStore) Connection(ctx context.Context, profileID, providerID, appID string) (*ResolveConnection, error) {
	c, err := pfFindConnection(ctx, s.q, profileID, providerID, appID)
	if err != nil || c == nil {
		return nil, err
	}
	return &ResolveConnection{ID: c.ID, NeedsReconnection: c.NeedsReconnection, ScopesGranted: c.ScopesGranted}, nil
}
