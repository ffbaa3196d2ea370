package providers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Timing defaults (PACKAGES.md §5).
const (
	DefaultStateTTL     = 600 * time.Second // OAuth state lifetime
	DefaultHTTPTimeout  = 30 * time.Second  // token endpoints and OAuth 1.0a calls
	DefaultRefreshSkew  = 60 * time.Second  // refresh tokens expiring sooner than this before use
	maxAPIKeyBytes      = MaxCredentialValueBytes
	maxRequestedScopes  = 100
	maxRequestedScopeLn = 256
)

// Connection statuses on the wire.
const (
	StatusConnected         = "connected"
	StatusNeedsReconnection = "needs_reconnection"
	StatusNotConnected      = "not_connected"
)

// Connections owns the connections of actors to providers (PACKAGES.md §4.5–§4.6): the OAuth 2 and OAuth
// 1.0a flows, API key and credential submission, listing, disconnection, and token refresh. Credentials are
// stored as v1 envelopes and never leave the service except through Credentials (for injection).
type Connections struct {
	DB        *store.DB
	Keys      *secrets.Keyring
	Providers *Providers
	Logger    *slog.Logger

	// Net is the outbound policy of token endpoints, OAuth 1.0a endpoints and the credential proxy. The zero
	// value refuses every internal address; tests opt into loopback explicitly. Set it before the first
	// outbound request: the transport is built from it once.
	Net         netguard.Policy
	HTTPTimeout time.Duration // DefaultHTTPTimeout when zero
	StateTTL    time.Duration // DefaultStateTTL when zero
	RefreshSkew time.Duration // DefaultRefreshSkew when zero
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	refreshes  singleflight.Group // one refresh per connection at a time in this process
	clientOnce sync.Once
	transport  *http.Transport
	client     *http.Client
}

// NewConnections returns the connection service. It does not touch the database.
func NewConnections(db *store.DB, keys *secrets.Keyring, providers *Providers, logger *slog.Logger) *Connections {
	if logger == nil {
		logger = slog.Default()
	}
	return &Connections{DB: db, Keys: keys, Providers: providers, Logger: logger}
}

func (s *Connections) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Connections) httpTimeout() time.Duration {
	if s.HTTPTimeout > 0 {
		return s.HTTPTimeout
	}
	return DefaultHTTPTimeout
}

func (s *Connections) stateTTL() time.Duration {
	if s.StateTTL > 0 {
		return s.StateTTL
	}
	return DefaultStateTTL
}

func (s *Connections) refreshSkew() time.Duration {
	if s.RefreshSkew > 0 {
		return s.RefreshSkew
	}
	return DefaultRefreshSkew
}

// ConnectionView is one connection of GET /api/connections (never its credentials).
type ConnectionView struct {
	Provider            string       `json:"provider" doc:"Provider id (@scope/name)"`
	Status              string       `json:"status" enum:"connected,needs_reconnection"`
	ConnectionID        string       `json:"connectionId" format:"uuid"`
	ConnectionProfileID string       `json:"connectionProfileId" format:"uuid"`
	ConnectedAt         isotime.Time `json:"connectedAt"`
	ExpiresAt           isotime.Time `json:"expiresAt" doc:"Access token expiry (OAuth 2), null when unknown"`
	ScopesGranted       []string     `json:"scopesGranted"`
}

// Integration is one provider of GET /api/connections/integrations: every provider enabled in the
// application, with the actor's connection state on the profile.
type Integration struct {
	UniqueKey     string        `json:"uniqueKey"`
	Provider      string        `json:"provider"`
	DisplayName   string        `json:"displayName"`
	Logo          string        `json:"logo"`
	Status        string        `json:"status" enum:"connected,needs_reconnection,not_connected"`
	AuthMode      string        `json:"authMode" enum:"OAUTH2,OAUTH1,API_KEY" doc:"Upstream labels: basic and custom are OAUTH2"`
	ConnectionID  *string       `json:"connectionId,omitempty"`
	ConnectedAt   *isotime.Time `json:"connectedAt,omitempty"`
	ScopesGranted []string      `json:"scopesGranted,omitempty"`
}

// authModeLabel is upstream's label of an auth mode (basic and custom are reported as OAUTH2).
func authModeLabel(mode string) string {
	switch mode {
	case afps.AuthAPIKey:
		return "API_KEY"
	case afps.AuthOAuth1:
		return "OAUTH1"
	}
	return "OAUTH2"
}

// connectionRow is a row of user_provider_connections.
type connectionRow struct {
	ID                string
	ProfileID         string
	ProviderID        string
	OrgID             string
	CredentialID      string
	Envelope          string
	Scopes            []string
	NeedsReconnection bool
	ExpiresAt         isotime.Time
	CreatedAt         isotime.Time
	UpdatedAt         isotime.Time
}

const connectionColumns = `c.id, c.profile_id, c.provider_id, c.org_id, c.provider_credential_id, c.credentials_encrypted,
	c.scopes_granted, c.needs_reconnection, c.expires_at, c.created_at, c.updated_at`

func scanConnection(row interface{ Scan(...any) error }) (*connectionRow, error) {
	var c connectionRow
	var scopes []byte
	err := row.Scan(&c.ID, &c.ProfileID, &c.ProviderID, &c.OrgID, &c.CredentialID, &c.Envelope, &scopes,
		&c.NeedsReconnection, &c.ExpiresAt, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	c.Scopes = decodeScopes(scopes)
	return &c, nil
}

func decodeScopes(raw []byte) []string {
	out := []string{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func encodeScopes(scopes []string) string {
	if scopes == nil {
		scopes = []string{}
	}
	b, _ := json.Marshal(scopes)
	return string(b)
}

func (c *connectionRow) view() ConnectionView {
	status := StatusConnected
	if c.NeedsReconnection {
		status = StatusNeedsReconnection
	}
	return ConnectionView{Provider: c.ProviderID, Status: status, ConnectionID: c.ID, ConnectionProfileID: c.ProfileID,
		ConnectedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, ScopesGranted: c.Scopes}
}

// findConnection returns the connection of profileID for providerID made with credential row credID.
func findConnection(ctx context.Context, q store.Querier, profileID, providerID, orgID, credID string) (*connectionRow, error) {
	c, err := scanConnection(q.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM user_provider_connections c
		WHERE c.profile_id = ? AND c.provider_id = ? AND c.org_id = ? AND c.provider_credential_id = ?`,
		profileID, providerID, orgID, credID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrConnectionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find connection: %w", err)
	}
	return c, nil
}

func getConnection(ctx context.Context, q store.Querier, id string) (*connectionRow, error) {
	c, err := scanConnection(q.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM user_provider_connections c
		WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrConnectionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get connection %s: %w", id, err)
	}
	return c, nil
}

// storedConnection is what a flow stores.
type storedConnection struct {
	ProfileID         string
	ProviderID        string
	OrgID             string
	CredentialID      string
	Credentials       map[string]string
	Scopes            []string
	NeedsReconnection bool
	ExpiresAt         isotime.Time
}

// upsertConnection stores (or replaces) the connection of a profile for a provider and application
// credential row, and returns its id (kept across reconnections).
func (s *Connections) upsertConnection(ctx context.Context, q store.Querier, in storedConnection) (string, error) {
	env, err := encryptMap(s.Keys, in.Credentials)
	if err != nil {
		return "", err
	}
	now := isotime.From(s.now())
	var id string
	err = q.QueryRowContext(ctx, `INSERT INTO user_provider_connections (id, profile_id, provider_id, org_id,
		provider_credential_id, credentials_encrypted, scopes_granted, needs_reconnection, expires_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (profile_id, provider_id, org_id, provider_credential_id) DO UPDATE SET
		credentials_encrypted = excluded.credentials_encrypted, scopes_granted = excluded.scopes_granted,
		needs_reconnection = excluded.needs_reconnection, expires_at = excluded.expires_at, updated_at = excluded.updated_at
		RETURNING id`,
		ids.UUID(), in.ProfileID, in.ProviderID, in.OrgID, in.CredentialID, env, encodeScopes(in.Scopes),
		in.NeedsReconnection, in.ExpiresAt, now, now).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store connection to %s: %w", in.ProviderID, err)
	}
	return id, nil
}

// enabledCredential returns the application's enabled credential row for a provider (ErrProviderNotEnabled
// when there is none or it is disabled).
func enabledCredential(ctx context.Context, q store.Querier, appID, providerID string) (*appCredential, error) {
	c, err := loadAppCredential(ctx, q, appID, providerID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Enabled) {
		return nil, fmt.Errorf("%w: %s", ErrProviderNotEnabled, providerID)
	}
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", providerID, err)
	}
	return c, nil
}

// List returns the actor's connections on a profile (the actor's default when profileID is ""), limited to
// those made with the current application's credentials.
func (s *Connections) List(ctx context.Context, a ConnectionActor, profileID string) ([]ConnectionView, error) {
	profileID, err := connectionProfile(ctx, s.DB, a, profileID)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+connectionColumns+` FROM user_provider_connections c
		JOIN application_provider_credentials apc ON apc.id = c.provider_credential_id
		WHERE c.profile_id = ? AND c.org_id = ? AND apc.application_id = ? ORDER BY c.provider_id, c.id`,
		profileID, a.OrgID, a.AppID)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	out := []ConnectionView{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("scan connection: %w", err)
		}
		out = append(out, c.view())
	}
	return out, rows.Err()
}

// Integrations lists every provider enabled in the actor's application with the actor's connection state on
// the profile (the default profile when profileID is "").
func (s *Connections) Integrations(ctx context.Context, a ConnectionActor, profileID string) ([]Integration, error) {
	conns, err := s.List(ctx, a, profileID)
	if err != nil {
		return nil, err
	}
	byProvider := map[string]ConnectionView{}
	for _, c := range conns {
		byProvider[c.Provider] = c
	}
	creds, err := appCredentials(ctx, s.DB, a.AppID)
	if err != nil {
		return nil, err
	}
	all, err := s.Providers.listProviders(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	out := []Integration{}
	for _, p := range all {
		if c, ok := creds[p.ID]; !ok || !c.Enabled {
			continue
		}
		logo := ""
		if p.Manifest != nil {
			logo = p.Manifest.IconURL
		}
		in := Integration{UniqueKey: p.ID, Provider: p.ID, DisplayName: p.DisplayName(), Logo: logo,
			Status: StatusNotConnected, AuthMode: authModeLabel(p.AuthMode())}
		if c, ok := byProvider[p.ID]; ok {
			id, at := c.ConnectionID, c.ConnectedAt
			in.Status, in.ConnectionID, in.ConnectedAt, in.ScopesGranted = c.Status, &id, &at, c.ScopesGranted
		}
		out = append(out, in)
	}
	return out, nil
}

// SaveAPIKey stores an API key connection: {<fieldName>: <trimmed key>} (PACKAGES.md §4.5). Providers with
// several credential fields take them through SaveCredentials.
func (s *Connections) SaveAPIKey(ctx context.Context, a ConnectionActor, providerID, apiKey, profileID string) error {
	p, err := LoadProvider(ctx, s.DB, a.OrgID, providerID)
	if err != nil {
		return err
	}
	if p.AuthMode() != afps.AuthAPIKey {
		return fmt.Errorf("%w: %s uses %s, not api_key", ErrWrongAuthMode, providerID, p.AuthMode())
	}
	key := strings.TrimSpace(apiKey)
	switch {
	case key == "":
		return &ValidationError{Issues: []FieldIssue{{Field: "apiKey", Code: "required", Message: "must not be empty"}}}
	case len(key) > maxAPIKeyBytes || strings.ContainsAny(key, "\r\n\x00"):
		return &ValidationError{Issues: []FieldIssue{{Field: "apiKey", Code: "invalid_value", Message: "is not a valid API key"}}}
	}
	return s.saveStatic(ctx, a, p, map[string]string{p.Rules.FieldName(): key}, profileID)
}

// SaveCredentials stores a multi-field connection (api_key, basic and custom providers) after validating the
// fields against the provider's credential schema (ValidateCredentials).
func (s *Connections) SaveCredentials(ctx context.Context, a ConnectionActor, providerID string, creds map[string]any, profileID string) error {
	p, err := LoadProvider(ctx, s.DB, a.OrgID, providerID)
	if err != nil {
		return err
	}
	switch p.AuthMode() {
	case afps.AuthAPIKey, afps.AuthBasic, afps.AuthCustom:
	default:
		return fmt.Errorf("%w: %s uses %s: connect through the OAuth flow", ErrWrongAuthMode, providerID, p.AuthMode())
	}
	var schema json.RawMessage
	if c := p.Def().Credentials; c != nil {
		schema = c.Schema
	}
	values, err := ValidateCredentials(schema, creds, "credentials")
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return &ValidationError{Issues: []FieldIssue{{Field: "credentials", Code: "required", Message: "at least one field is required"}}}
	}
	return s.saveStatic(ctx, a, p, values, profileID)
}

// saveStatic stores credentials that need no flow.
func (s *Connections) saveStatic(ctx context.Context, a ConnectionActor, p *Provider, creds map[string]string, profileID string) error {
	cred, err := enabledCredential(ctx, s.DB, a.AppID, p.ID)
	if err != nil {
		return err
	}
	profileID, err = connectionProfile(ctx, s.DB, a, profileID)
	if err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		id, err := s.upsertConnection(ctx, tx, storedConnection{ProfileID: profileID, ProviderID: p.ID, OrgID: a.OrgID,
			CredentialID: cred.ID, Credentials: creds, Scopes: []string{}})
		if err != nil {
			return err
		}
		s.audit(ctx, tx, a, "connection.created", id, map[string]any{"providerId": p.ID, "connectionProfileId": profileID,
			"authMode": p.AuthMode()})
		return nil
	})
}

// Disconnect deletes the actor's connection to a provider in the current application: the one named by
// connectionID (which must be on a profile the actor may use, else ErrConnectionNotFound), or the one on the
// profile (the actor's default when profileID is ""). It returns the number of connections deleted.
func (s *Connections) Disconnect(ctx context.Context, a ConnectionActor, providerID, connectionID, profileID string) (int, error) {
	if _, err := LoadProvider(ctx, s.DB, a.OrgID, providerID); err != nil {
		return 0, err
	}
	pid := ""
	if connectionID == "" {
		var err error
		if pid, err = connectionProfile(ctx, s.DB, a, profileID); err != nil {
			return 0, err
		}
	}
	var n int
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var targets []*connectionRow
		if connectionID != "" {
			if !ids.ValidUUID(connectionID) {
				return fmt.Errorf("%w: %s", ErrConnectionNotFound, connectionID)
			}
			c, err := getConnection(ctx, tx, connectionID)
			if err != nil {
				return err
			}
			cred, err := loadAppCredentialByID(ctx, tx, c.CredentialID)
			if err != nil || c.ProviderID != providerID || c.OrgID != a.OrgID || cred.AppID != a.AppID {
				return fmt.Errorf("%w: %s", ErrConnectionNotFound, connectionID)
			}
			if err := pfUsableProfile(ctx, tx, a.Owner(), a.AppID, c.ProfileID); err != nil {
				return fmt.Errorf("%w: %s", ErrConnectionNotFound, connectionID)
			}
			targets = append(targets, c)
		} else {
			cred, err := loadAppCredential(ctx, tx, a.AppID, providerID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			c, err := findConnection(ctx, tx, pid, providerID, a.OrgID, cred.ID)
			if errors.Is(err, ErrConnectionNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			targets = append(targets, c)
		}
		for _, c := range targets {
			if _, err := tx.ExecContext(ctx, `DELETE FROM user_provider_connections WHERE id = ?`, c.ID); err != nil {
				return fmt.Errorf("delete connection %s: %w", c.ID, err)
			}
			s.audit(ctx, tx, a, "connection.deleted", c.ID, nil)
			n++
		}
		return nil
	})
	return n, err
}

// audit records an event about a connection (best effort).
func (s *Connections) audit(ctx context.Context, q store.Querier, a ConnectionActor, action, id string, after any) {
	ev := a.Audit
	ev.OrgID, ev.ApplicationID = a.OrgID, a.AppID
	ev.Action, ev.ResourceType, ev.ResourceID, ev.After = action, "connection", id, after
	if ev.ActorType == "" {
		ev.ActorType, ev.ActorID = audit.ActorUser, a.UserID
		if a.IsEndUser() {
			ev.ActorType, ev.ActorID = audit.ActorEndUser, a.EndUserID
		}
	}
	audit.Record(ctx, q, ev)
}
