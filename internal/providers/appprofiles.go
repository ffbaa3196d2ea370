package providers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of the application-profile service.
var (
	// ErrBindingNotFound means the application profile has no binding for the provider.
	ErrBindingNotFound = errors.New("binding not found")
	// ErrBindingNotYours means the binding was made by another member and the caller lacks app-profiles:write.
	ErrBindingNotYours = errors.New("this binding was made by another member: app-profiles:write is required to change it")
	// ErrBindNoConnection means the source profile has no connection for the provider made with this
	// application's credentials (code dependency_not_satisfied).
	ErrBindNoConnection = errors.New("no connection")
	// ErrBindNeedsReconnection means the connection exists but must be reconnected first.
	ErrBindNeedsReconnection = errors.New("needs reconnection")
)

// Connection statuses.
const (
	pfStatusConnected         = "connected"
	pfStatusNeedsReconnection = "needs_reconnection"
	pfStatusNotConnected      = "not_connected"
)

// AppProfile is an application-owned connection profile (GET /api/app-profiles).
type AppProfile struct {
	ID              string       `json:"id" format:"uuid"`
	ApplicationID   string       `json:"applicationId"`
	Name            string       `json:"name"`
	IsDefault       bool         `json:"isDefault" doc:"Always false: the platform creates no default application profile"`
	ConnectionCount int          `json:"connectionCount" doc:"Connections stored directly on the profile with this application's credentials"`
	BindingCount    int          `json:"bindingCount" doc:"Providers bound to a member's profile"`
	AgentCount      int          `json:"agentCount" doc:"Agents of this application using the profile"`
	CreatedAt       isotime.Time `json:"createdAt"`
	UpdatedAt       isotime.Time `json:"updatedAt"`
}

// ProfileAgent is an agent installed in the application with an application profile
// (application_packages.app_profile_id).
type ProfileAgent struct {
	ID          string `json:"id" doc:"@scope/name"`
	DisplayName string `json:"displayName"`
	Enabled     bool   `json:"enabled"`
}

// Binding delegates one provider slot of an application profile to a member's own profile.
type Binding struct {
	AppProfileID      string       `json:"appProfileId" format:"uuid"`
	AppProfileName    string       `json:"appProfileName"`
	ProviderID        string       `json:"providerId"`
	SourceProfileID   string       `json:"sourceProfileId" format:"uuid"`
	SourceProfileName string       `json:"sourceProfileName"`
	BoundByUserID     *string      `json:"boundByUserId" doc:"null once that user is deleted"`
	BoundByName       *string      `json:"boundByName" doc:"Display name of the member who bound it"`
	Status            string       `json:"status" enum:"connected,needs_reconnection,not_connected" doc:"State of the source profile's connection in this application"`
	ConnectionID      *string      `json:"connectionId" doc:"The connection runs will use, null when not connected"`
	CreatedAt         isotime.Time `json:"createdAt"`
	UpdatedAt         isotime.Time `json:"updatedAt"`
}

// ProfileConnection describes a connection without its credentials.
type ProfileConnection struct {
	ConnectionID  string       `json:"connectionId" format:"uuid"`
	ProviderID    string       `json:"providerId"`
	ProfileID     string       `json:"profileId" format:"uuid"`
	Status        string       `json:"status" enum:"connected,needs_reconnection"`
	ScopesGranted []string     `json:"scopesGranted"`
	ConnectedAt   isotime.Time `json:"connectedAt"`
	UpdatedAt     isotime.Time `json:"updatedAt"`
	ExpiresAt     isotime.Time `json:"expiresAt" doc:"Access token expiry, null when unknown"`
}

// MyConnection is one of the actor's connections in GET /api/app-profiles/connections.
type MyConnection struct {
	ProfileConnection
	ProfileName     string `json:"profileName"`
	ApplicationID   string `json:"applicationId"`
	ApplicationName string `json:"applicationName"`
}

// MyOrgConnections are the actor's connections of one provider in one organization.
type MyOrgConnections struct {
	OrgID       string         `json:"orgId"`
	OrgName     string         `json:"orgName"`
	Connections []MyConnection `json:"connections"`
}

// MyProviderConnections groups the actor's connections of one provider by organization.
type MyProviderConnections struct {
	ProviderID string             `json:"providerId"`
	Orgs       []MyOrgConnections `json:"orgs"`
}

// BindRequest binds ProviderID of application profile ProfileID to a connection of the caller.
type BindRequest struct {
	OrgID, AppID string
	ProfileID    string // the application profile
	ProviderID   string
	// SourceProfileID is one of UserID's own profiles; "" = their Default profile.
	SourceProfileID string
	UserID          string
	// CanOverwrite allows replacing a binding made by another member (app-profiles:write).
	CanOverwrite bool
}

// AppProfiles owns application-level connection profiles and their bindings (the 12 /api/app-profiles
// routes, PACKAGES.md §4.4).
type AppProfiles struct{ DB *store.DB }

// pfAppProfileColumns selects an AppProfile; the application id is the first argument (twice).
const pfAppProfileColumns = `p.id, p.application_id, p.name, p.created_at, p.updated_at,
	(SELECT count(*) FROM user_provider_connections c JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		WHERE c.profile_id = p.id AND k.application_id = p.application_id),
	(SELECT count(*) FROM app_profile_provider_bindings b WHERE b.app_profile_id = p.id),
	(SELECT count(*) FROM application_packages a WHERE a.app_profile_id = p.id AND a.application_id = p.application_id)`

func pfScanAppProfile(row interface{ Scan(...any) error }) (*AppProfile, error) {
	var p AppProfile
	if err := row.Scan(&p.ID, &p.ApplicationID, &p.Name, &p.CreatedAt, &p.UpdatedAt, &p.ConnectionCount, &p.BindingCount,
		&p.AgentCount); err != nil {
		return nil, err
	}
	return &p, nil
}

// List returns the application profiles of appID by creation.
func (s AppProfiles) List(ctx context.Context, appID string) ([]AppProfile, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+pfAppProfileColumns+` FROM connection_profiles p
		WHERE p.application_id = ? ORDER BY p.created_at, p.id`, appID)
	if err != nil {
		return nil, fmt.Errorf("list app profiles: %w", err)
	}
	defer rows.Close()
	out := []AppProfile{}
	for rows.Next() {
		p, err := pfScanAppProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("scan app profile: %w", err)
		}
		out = append(out, *p)
	}
	return out, pfWrap(rows.Err(), "list app profiles")
}

// Get returns application profile id of appID, else ErrProfileNotFound.
func (s AppProfiles) Get(ctx context.Context, appID, id string) (*AppProfile, error) {
	return pfGetAppProfile(ctx, s.DB, appID, id)
}

func pfGetAppProfile(ctx context.Context, q store.Querier, appID, id string) (*AppProfile, error) {
	if !ids.ValidUUID(id) {
		return nil, ErrProfileNotFound
	}
	p, err := pfScanAppProfile(q.QueryRowContext(ctx, `SELECT `+pfAppProfileColumns+` FROM connection_profiles p
		WHERE p.id = ? AND p.application_id = ?`, id, appID))
	if err != nil {
		return nil, pfProfileErr(err)
	}
	return p, nil
}

// Create adds an application profile to appID.
func (s AppProfiles) Create(ctx context.Context, appID, name string, ev audit.Event) (*AppProfile, error) {
	name, err := CleanProfileName(name)
	if err != nil {
		return nil, err
	}
	now := isotime.Now()
	p := &AppProfile{ID: ids.UUID(), ApplicationID: appID, Name: name, CreatedAt: now, UpdatedAt: now}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, p.ID, appID, name, false, now, now); err != nil {
			return fmt.Errorf("create app profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID, ev.After = "app_profile.created", "app_profile", p.ID, map[string]any{"name": name}
		audit.Record(ctx, tx, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Rename renames application profile id of appID.
func (s AppProfiles) Rename(ctx context.Context, appID, id, name string, ev audit.Event) error {
	name, err := CleanProfileName(name)
	if err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		p, err := pfGetAppProfile(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connection_profiles SET name = ?, updated_at = ? WHERE id = ?`,
			name, isotime.Now(), id); err != nil {
			return fmt.Errorf("rename app profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID = "app_profile.updated", "app_profile", id
		ev.Before, ev.After = map[string]any{"name": p.Name}, map[string]any{"name": name}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// Delete removes application profile id of appID with its connections and bindings; agents using it fall
// back to no application profile, schedules and pins naming it go with it.
func (s AppProfiles) Delete(ctx context.Context, appID, id string, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		p, err := pfGetAppProfile(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connection_profiles WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete app profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID, ev.Before = "app_profile.deleted", "app_profile", id, map[string]any{"name": p.Name}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// Agents lists the agents of appID whose installation uses application profile id.
func (s AppProfiles) Agents(ctx context.Context, appID, id string) ([]ProfileAgent, error) {
	if _, err := s.Get(ctx, appID, id); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT p.id, p.draft_manifest, a.enabled FROM application_packages a
		JOIN packages p ON p.id = a.package_id
		WHERE a.application_id = ? AND a.app_profile_id = ? AND p.type = 'agent' ORDER BY p.id`, appID, id)
	if err != nil {
		return nil, fmt.Errorf("agents of app profile: %w", err)
	}
	defer rows.Close()
	out := []ProfileAgent{}
	for rows.Next() {
		var a ProfileAgent
		var manifest []byte
		if err := rows.Scan(&a.ID, &manifest, &a.Enabled); err != nil {
			return nil, fmt.Errorf("scan agent: %w", err)
		}
		var m struct {
			DisplayName string `json:"displayName"`
		}
		_ = json.Unmarshal(manifest, &m) // best effort: the id stands in
		a.DisplayName = m.DisplayName
		if a.DisplayName == "" {
			a.DisplayName = a.ID
		}
		out = append(out, a)
	}
	return out, pfWrap(rows.Err(), "agents of app profile")
}

// pfBindingSelect selects a Binding with the status of its source connection in the application bound to
// the first argument.
const pfBindingSelect = `SELECT b.app_profile_id, ap.name, b.provider_id, b.source_profile_id, sp.name, b.bound_by_user_id,
	pr.display_name, b.created_at, b.updated_at,
	(SELECT c.id FROM user_provider_connections c JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		WHERE c.profile_id = b.source_profile_id AND c.provider_id = b.provider_id AND k.application_id = ?),
	(SELECT c.needs_reconnection FROM user_provider_connections c JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		WHERE c.profile_id = b.source_profile_id AND c.provider_id = b.provider_id AND k.application_id = ?)
	FROM app_profile_provider_bindings b
	JOIN connection_profiles ap ON ap.id = b.app_profile_id
	JOIN connection_profiles sp ON sp.id = b.source_profile_id
	LEFT JOIN profiles pr ON pr.id = b.bound_by_user_id`

func pfQueryBindings(ctx context.Context, q store.Querier, appID, where string, args ...any) ([]Binding, error) {
	rows, err := q.QueryContext(ctx, pfBindingSelect+` WHERE ap.application_id = ? AND `+where+` ORDER BY ap.created_at, ap.id, b.provider_id`,
		append([]any{appID, appID, appID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	defer rows.Close()
	out := []Binding{}
	for rows.Next() {
		var b Binding
		var boundBy, boundByName, connID sql.NullString
		var needs sql.NullBool
		if err := rows.Scan(&b.AppProfileID, &b.AppProfileName, &b.ProviderID, &b.SourceProfileID, &b.SourceProfileName,
			&boundBy, &boundByName, &b.CreatedAt, &b.UpdatedAt, &connID, &needs); err != nil {
			return nil, fmt.Errorf("scan binding: %w", err)
		}
		b.BoundByUserID, b.BoundByName, b.ConnectionID = pfNullable(boundBy), pfNullable(boundByName), pfNullable(connID)
		switch {
		case !connID.Valid:
			b.Status = pfStatusNotConnected
		case needs.Bool:
			b.Status = pfStatusNeedsReconnection
		default:
			b.Status = pfStatusConnected
		}
		out = append(out, b)
	}
	return out, pfWrap(rows.Err(), "list bindings")
}

// Bindings lists the bindings of application profile id of appID.
func (s AppProfiles) Bindings(ctx context.Context, appID, id string) ([]Binding, error) {
	if _, err := s.Get(ctx, appID, id); err != nil {
		return nil, err
	}
	return pfQueryBindings(ctx, s.DB, appID, `b.app_profile_id = ?`, id)
}

// MyBindings lists the bindings of appID's application profiles that userID made or that point at one of
// userID's profiles.
func (s AppProfiles) MyBindings(ctx context.Context, appID, userID string) ([]Binding, error) {
	return pfQueryBindings(ctx, s.DB, appID, `(b.bound_by_user_id = ? OR sp.user_id = ?)`, userID, userID)
}

// pfConnection is the connection of a profile for a provider made with an application's credentials.
type pfConnection struct {
	ID                string
	NeedsReconnection bool
	ScopesGranted     []string
}

// pfFindConnection returns the connection of profileID for providerID made with appID's credential row,
// or nil.
func pfFindConnection(ctx context.Context, q store.Querier, profileID, providerID, appID string) (*pfConnection, error) {
	var c pfConnection
	var scopes []byte
	err := q.QueryRowContext(ctx, `SELECT c.id, c.needs_reconnection, c.scopes_granted FROM user_provider_connections c
		JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		WHERE c.profile_id = ? AND c.provider_id = ? AND k.application_id = ?`, profileID, providerID, appID).
		Scan(&c.ID, &c.NeedsReconnection, &scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connection of %s for %s: %w", profileID, providerID, err)
	}
	c.ScopesGranted = pfScopes(scopes)
	return &c, nil
}

func pfScopes(raw []byte) []string {
	out := []string{}
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = []string{}
	}
	return out
}

// Bind points req.ProviderID of the application profile at one of the caller's own profiles. The source
// profile must hold an active connection for the provider made with this application's credentials.
func (s AppProfiles) Bind(ctx context.Context, req BindRequest, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := pfGetAppProfile(ctx, tx, req.AppID, req.ProfileID); err != nil {
			return err
		}
		source := req.SourceProfileID
		if source == "" {
			id, err := EnsureDefaultProfile(ctx, tx, Actor{UserID: req.UserID})
			if err != nil {
				return err
			}
			source = id
		}
		var one int
		if !ids.ValidUUID(source) {
			return ErrProfileNotFound
		}
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM connection_profiles WHERE id = ? AND user_id = ?`, source, req.UserID).Scan(&one)
		if err != nil {
			return pfProfileErr(err)
		}
		conn, err := pfFindConnection(ctx, tx, source, req.ProviderID, req.AppID)
		if err != nil {
			return err
		}
		if conn == nil {
			return ErrBindNoConnection
		}
		if conn.NeedsReconnection {
			return ErrBindNeedsReconnection
		}
		var prevBy sql.NullString
		var prevSource string
		err = tx.QueryRowContext(ctx, `SELECT bound_by_user_id, source_profile_id FROM app_profile_provider_bindings
			WHERE app_profile_id = ? AND provider_id = ?`, req.ProfileID, req.ProviderID).Scan(&prevBy, &prevSource)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("find binding: %w", err)
		}
		if exists && prevBy.String != req.UserID && !req.CanOverwrite {
			return ErrBindingNotYours
		}
		now := isotime.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_profile_provider_bindings
			(app_profile_id, provider_id, source_profile_id, bound_by_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_profile_id, provider_id) DO UPDATE SET source_profile_id = excluded.source_profile_id,
			bound_by_user_id = excluded.bound_by_user_id, updated_at = excluded.updated_at`,
			req.ProfileID, req.ProviderID, source, req.UserID, now, now); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID = "app_profile.provider_bound", "app_profile", req.ProfileID
		if exists {
			ev.Before = map[string]any{"providerId": req.ProviderID, "sourceProfileId": prevSource, "boundByUserId": prevBy.String}
		}
		ev.After = map[string]any{"providerId": req.ProviderID, "sourceProfileId": source, "boundByUserId": req.UserID}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// Unbind removes the binding of providerID from application profile id of appID. Removing another
// member's binding needs canWrite (app-profiles:write).
func (s AppProfiles) Unbind(ctx context.Context, appID, id, providerID, userID string, canWrite bool, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := pfGetAppProfile(ctx, tx, appID, id); err != nil {
			return err
		}
		var by sql.NullString
		var source string
		err := tx.QueryRowContext(ctx, `SELECT bound_by_user_id, source_profile_id FROM app_profile_provider_bindings
			WHERE app_profile_id = ? AND provider_id = ?`, id, providerID).Scan(&by, &source)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrBindingNotFound
		}
		if err != nil {
			return fmt.Errorf("find binding: %w", err)
		}
		if by.String != userID && !canWrite {
			return ErrBindingNotYours
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_profile_provider_bindings WHERE app_profile_id = ? AND provider_id = ?`,
			id, providerID); err != nil {
			return fmt.Errorf("unbind: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID = "app_profile.provider_unbound", "app_profile", id
		ev.Before = map[string]any{"providerId": providerID, "sourceProfileId": source, "boundByUserId": by.String}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// pfProfileConnectionColumns selects a ProfileConnection from user_provider_connections c.
const pfProfileConnectionColumns = `c.id, c.provider_id, c.profile_id, c.needs_reconnection, c.scopes_granted, c.created_at, c.updated_at, c.expires_at`

func pfScanProfileConnection(row interface{ Scan(...any) error }, extra ...any) (*ProfileConnection, error) {
	var c ProfileConnection
	var needs bool
	var scopes []byte
	if err := row.Scan(append([]any{&c.ConnectionID, &c.ProviderID, &c.ProfileID, &needs, &scopes, &c.ConnectedAt, &c.UpdatedAt,
		&c.ExpiresAt}, extra...)...); err != nil {
		return nil, err
	}
	c.Status = pfStatusConnected
	if needs {
		c.Status = pfStatusNeedsReconnection
	}
	c.ScopesGranted = pfScopes(scopes)
	return &c, nil
}

// ProfileConnections lists the connections of profile id made with appID's credentials, read-only. The
// profile must be the caller's own, an application profile of appID, or the profile of another member of
// orgID; anything else is ErrProfileNotFound.
func (s AppProfiles) ProfileConnections(ctx context.Context, orgID, appID, userID, id string) ([]ProfileConnection, error) {
	if !ids.ValidUUID(id) {
		return nil, ErrProfileNotFound
	}
	var one int
	err := s.DB.QueryRowContext(ctx, `SELECT 1 FROM connection_profiles p WHERE p.id = ? AND (p.user_id = ? OR p.application_id = ?
		OR EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = ? AND m.user_id = p.user_id))`, id, userID, appID, orgID).Scan(&one)
	if err != nil {
		return nil, pfProfileErr(err)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+pfProfileConnectionColumns+` FROM user_provider_connections c
		JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		WHERE c.profile_id = ? AND k.application_id = ? ORDER BY c.provider_id, c.created_at`, id, appID)
	if err != nil {
		return nil, fmt.Errorf("profile connections: %w", err)
	}
	defer rows.Close()
	out := []ProfileConnection{}
	for rows.Next() {
		c, err := pfScanProfileConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("scan connection: %w", err)
		}
		out = append(out, *c)
	}
	return out, pfWrap(rows.Err(), "profile connections")
}

// MyConnections lists every connection stored on the actor's own profiles, across organizations and
// applications, grouped by provider then organization.
func (s AppProfiles) MyConnections(ctx context.Context, a Actor) ([]MyProviderConnections, error) {
	col, owner := a.ownerColumn()
	rows, err := s.DB.QueryContext(ctx, `SELECT `+pfProfileConnectionColumns+`, p.name, o.id, o.name, app.id, app.name
		FROM user_provider_connections c
		JOIN connection_profiles p ON p.id = c.profile_id
		JOIN application_provider_credentials k ON k.id = c.provider_credential_id
		JOIN applications app ON app.id = k.application_id
		JOIN organizations o ON o.id = c.org_id
		WHERE p.`+col+` = ? ORDER BY c.provider_id, o.name, o.id, c.created_at, c.id`, owner)
	if err != nil {
		return nil, fmt.Errorf("my connections: %w", err)
	}
	defer rows.Close()
	out := []MyProviderConnections{}
	for rows.Next() {
		var m MyConnection
		var orgID, orgName string
		c, err := pfScanProfileConnection(rows, &m.ProfileName, &orgID, &orgName, &m.ApplicationID, &m.ApplicationName)
		if err != nil {
			return nil, fmt.Errorf("scan connection: %w", err)
		}
		m.ProfileConnection = *c
		if n := len(out); n == 0 || out[n-1].ProviderID != c.ProviderID {
			out = append(out, MyProviderConnections{ProviderID: c.ProviderID, Orgs: []MyOrgConnections{}})
		}
		group := &out[len(out)-1]
		if n := len(group.Orgs); n == 0 || group.Orgs[n-1].OrgID != orgID {
			group.Orgs = append(group.Orgs, MyOrgConnections{OrgID: orgID, OrgName: orgName, Connections: []MyConnection{}})
		}
		org := &group.Orgs[len(group.Orgs)-1]
		org.Connections = append(org.Connections, m)
	}
	return out, pfWrap(rows.Err(), "my connections")
}

// DeleteMyConnections deletes every connection on the actor's own profiles made with appID's credentials
// and returns how many were deleted.
func (s AppProfiles) DeleteMyConnections(ctx context.Context, a Actor, appID string, ev audit.Event) (int, error) {
	col, owner := a.ownerColumn()
	var n int64
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_provider_connections WHERE
			profile_id IN (SELECT id FROM connection_profiles WHERE `+col+` = ?)
			AND provider_credential_id IN (SELECT id FROM application_provider_credentials WHERE application_id = ?)`, owner, appID)
		if err != nil {
			return fmt.Errorf("delete my connections: %w", err)
		}
		n, _ = res.RowsAffected()
		if n > 0 {
			ev.Action, ev.ResourceType, ev.After = "connection.deleted", "connection", map[string]any{"deleted": n, "all": true}
			audit.Record(ctx, tx, ev)
		}
		return nil
	})
	return int(n), err
}
