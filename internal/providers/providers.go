package providers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Providers owns provider definitions as an organization sees them (system providers and the organization's
// custom providers) and each application's admin credentials and enablement of them (PACKAGES.md §4.1, §4.3).
// Custom providers are packages of type provider: creation, update and deletion go through the package
// registry.
type Providers struct {
	DB       *store.DB
	Keys     *secrets.Keyring // nil when no encryption key is configured: every secret read or write fails
	Registry *packages.Registry
	AppURL   string
	Logger   *slog.Logger
}

// NewProviders returns the provider service. It does not touch the database.
func NewProviders(db *store.DB, keys *secrets.Keyring, registry *packages.Registry, appURL string, logger *slog.Logger) *Providers {
	if logger == nil {
		logger = slog.Default()
	}
	return &Providers{DB: db, Keys: keys, Registry: registry, AppURL: strings.TrimRight(appURL, "/"), Logger: logger}
}

// CallbackURL is the single OAuth redirect URI of the platform: <APP_URL>/api/connections/callback.
func (s *Providers) CallbackURL() string { return CallbackURL(s.AppURL) }

// CallbackURL is the OAuth redirect URI under appURL.
func CallbackURL(appURL string) string {
	return strings.TrimRight(appURL, "/") + "/api/connections/callback"
}

// ConnectionActor is who acts on providers and connections: the organization and application of the request,
// the user behind it (an API key's creator), and under impersonation the end-user whose connections are used.
// Audit is the audit event template (actor, IP, request id, user agent).
type ConnectionActor struct {
	OrgID     string
	AppID     string // the request's application (pinned by an API key, or X-Application-Id)
	UserID    string
	EndUserID string // Appstrate-User impersonation: the end-user is the actor of connections
	APIKeyID  string
	Audit     audit.Event
}

// IsEndUser reports whether the actor of connections is an end-user.
func (a ConnectionActor) IsEndUser() bool { return a.EndUserID != "" }

// Provider is a provider package visible to an organization, with its parsed manifest and injection rules.
type Provider struct {
	ID       string
	OrgID    string // "" for system providers
	Source   string // packages.SourceSystem or packages.SourceLocal
	Manifest *afps.Manifest
	Rules    credentials.ProviderRules
}

// IsSystem reports whether the provider ships with the platform (immutable through the API).
func (p *Provider) IsSystem() bool { return p.Source == packages.SourceSystem }

// Def is the provider's `definition`.
func (p *Provider) Def() *afps.ProviderDefinition { return &p.Rules.Definition }

// AuthMode is definition.authMode.
func (p *Provider) AuthMode() string { return p.Rules.Definition.AuthMode }

// DisplayName is the manifest's displayName, else the id.
func (p *Provider) DisplayName() string {
	if p.Manifest != nil && p.Manifest.DisplayName != "" {
		return p.Manifest.DisplayName
	}
	return p.ID
}

// providerFromPackage parses a provider package row.
func providerFromPackage(pkg *packages.Package) (*Provider, error) {
	m, err := afps.ParseManifest(pkg.DraftManifest)
	if err != nil {
		return nil, fmt.Errorf("provider %s: manifest: %w", pkg.ID, err)
	}
	rules, err := credentials.RulesFromManifest(pkg.DraftManifest)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", pkg.ID, err)
	}
	rules.ID = pkg.ID
	return &Provider{ID: pkg.ID, OrgID: pkg.OrgID, Source: pkg.Source, Manifest: m, Rules: rules}, nil
}

// LoadProvider returns the provider id as orgID sees it: a system provider or one of the organization's own
// (ErrProviderNotFound otherwise, and for packages of another type).
func LoadProvider(ctx context.Context, q store.Querier, orgID, id string) (*Provider, error) {
	pkg, err := packages.GetPackage(ctx, q, id)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrProviderNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if pkg.Type != packages.TypeProvider || !pkg.VisibleToOrg(orgID) {
		return nil, fmt.Errorf("%w: %s", ErrProviderNotFound, id)
	}
	return providerFromPackage(pkg)
}

// listProviders returns every provider orgID sees: system providers first, then the organization's own, each
// by id (one query). Rows whose manifest cannot be parsed are logged and skipped.
func (s *Providers) listProviders(ctx context.Context, orgID string) ([]*Provider, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, org_id, source, draft_manifest FROM packages WHERE type = ? AND ephemeral = ?
		AND (source = ? OR org_id = ?) ORDER BY CASE WHEN source = ? THEN 0 ELSE 1 END, id`,
		packages.TypeProvider, false, packages.SourceSystem, orgID, packages.SourceSystem)
	if err != nil {
		return nil, fmt.Errorf("list providers: %w", err)
	}
	defer rows.Close()
	var out []*Provider
	for rows.Next() {
		var pkg packages.Package
		var org sql.NullString
		var manifest []byte
		if err := rows.Scan(&pkg.ID, &org, &pkg.Source, &manifest); err != nil {
			return nil, fmt.Errorf("scan provider: %w", err)
		}
		pkg.OrgID, pkg.Type, pkg.DraftManifest = org.String, packages.TypeProvider, manifest
		p, err := providerFromPackage(&pkg)
		if err != nil {
			s.Logger.WarnContext(ctx, "provider skipped: unreadable manifest", "providerId", pkg.ID, "error", err)
			continue
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// appCredential is a row of application_provider_credentials.
type appCredential struct {
	ID         string
	AppID      string
	ProviderID string
	Envelope   sql.NullString
	Enabled    bool
}

func loadAppCredential(ctx context.Context, q store.Querier, appID, providerID string) (*appCredential, error) {
	var c appCredential
	err := q.QueryRowContext(ctx, `SELECT id, application_id, provider_id, credentials_encrypted, enabled
		FROM application_provider_credentials WHERE application_id = ? AND provider_id = ?`, appID, providerID).
		Scan(&c.ID, &c.AppID, &c.ProviderID, &c.Envelope, &c.Enabled)
	if err != nil {
		return nil, store.MapNotFound(err)
	}
	return &c, nil
}

func loadAppCredentialByID(ctx context.Context, q store.Querier, id string) (*appCredential, error) {
	var c appCredential
	err := q.QueryRowContext(ctx, `SELECT id, application_id, provider_id, credentials_encrypted, enabled
		FROM application_provider_credentials WHERE id = ?`, id).
		Scan(&c.ID, &c.AppID, &c.ProviderID, &c.Envelope, &c.Enabled)
	if err != nil {
		return nil, store.MapNotFound(err)
	}
	return &c, nil
}

// appCredentials returns the rows of one application by provider id.
func appCredentials(ctx context.Context, q store.Querier, appID string) (map[string]*appCredential, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, application_id, provider_id, credentials_encrypted, enabled
		FROM application_provider_credentials WHERE application_id = ?`, appID)
	if err != nil {
		return nil, fmt.Errorf("application provider credentials: %w", err)
	}
	defer rows.Close()
	out := map[string]*appCredential{}
	for rows.Next() {
		var c appCredential
		if err := rows.Scan(&c.ID, &c.AppID, &c.ProviderID, &c.Envelope, &c.Enabled); err != nil {
			return nil, fmt.Errorf("scan application provider credentials: %w", err)
		}
		out[c.ProviderID] = &c
	}
	return out, rows.Err()
}

// decryptMap opens an envelope holding a JSON object of strings; NULL or empty is an empty map.
func decryptMap(keys *secrets.Keyring, env sql.NullString) (map[string]string, error) {
	if !env.Valid || env.String == "" {
		return map[string]string{}, nil
	}
	if keys == nil {
		return nil, ErrEncryptionUnavailable
	}
	var raw map[string]any
	if err := keys.DecryptJSON(env.String, &raw); err != nil {
		return nil, fmt.Errorf("decrypt credentials: %w", err)
	}
	return stringMap(raw), nil
}

// stringMap flattens a decoded JSON object to strings (strings as is, other scalars as their JSON text).
func stringMap(raw map[string]any) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case nil:
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// sqlString wraps a NOT NULL envelope column for decryptMap.
func sqlString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func encryptMap(keys *secrets.Keyring, m map[string]string) (string, error) {
	if keys == nil {
		return "", ErrEncryptionUnavailable
	}
	env, err := keys.EncryptJSON(m)
	if err != nil {
		return "", fmt.Errorf("encrypt credentials: %w", err)
	}
	return env, nil
}

// agentProviderCounts counts, per provider id, the agents visible to orgID whose draft declares it.
func agentProviderCounts(ctx context.Context, q store.Querier, orgID string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT draft_manifest FROM packages WHERE type = ? AND ephemeral = ?
		AND (org_id = ? OR source = ?)`, packages.TypeAgent, false, orgID, packages.SourceSystem)
	if err != nil {
		return nil, fmt.Errorf("agent providers: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("scan agent providers: %w", err)
		}
		var m struct {
			Dependencies struct {
				Providers map[string]json.RawMessage `json:"providers"`
			} `json:"dependencies"`
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		for id := range m.Dependencies.Providers {
			counts[id]++
		}
	}
	return counts, rows.Err()
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
