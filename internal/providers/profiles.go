package providers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// DefaultProfileName is the name of the profile every user and end-user gets (PACKAGES.md §4.4).
const DefaultProfileName = "Default"

// MaxProfileName is the longest connection profile name.
const MaxProfileName = 100

// Errors of the profile services.
var (
	// ErrProfileNotFound means the connection profile does not exist or is not visible to the caller.
	ErrProfileNotFound = errors.New("connection profile not found")
	// ErrDefaultProfile means the operation is refused on a Default profile (it cannot be deleted).
	ErrDefaultProfile = errors.New("the default connection profile cannot be deleted")
	// ErrProfileName means the name is empty (after trimming) or longer than MaxProfileName.
	ErrProfileName = errors.New("name must be 1 to 100 characters")
)

// Actor is who owns connections and profiles in a request: the impersonated end-user when there is one,
// else the user (for an API key, its creator). Exactly one field is set.
type Actor struct {
	UserID    string
	EndUserID string
}

// ActorOf returns the actor of an authenticated request.
func ActorOf(p *auth.Principal) Actor {
	if p.EndUserID != "" {
		return Actor{EndUserID: p.EndUserID}
	}
	return Actor{UserID: p.UserID}
}

// IsEndUser reports whether the actor is an end-user.
func (a Actor) IsEndUser() bool { return a.EndUserID != "" }

// ownerColumn is the connection_profiles (and user_agent_provider_profiles) column holding the actor.
func (a Actor) ownerColumn() (column, id string) {
	if a.IsEndUser() {
		return "end_user_id", a.EndUserID
	}
	return "user_id", a.UserID
}

// Profile is a connection profile as the API shows it (camelCase; exactly one of userId, endUserId and
// applicationId is set).
type Profile struct {
	ID              string       `json:"id" format:"uuid"`
	UserID          *string      `json:"userId" doc:"Owning user (user profiles)"`
	EndUserID       *string      `json:"endUserId" doc:"Owning end-user (end-user profiles)"`
	ApplicationID   *string      `json:"applicationId" doc:"Owning application (application profiles)"`
	Name            string       `json:"name"`
	IsDefault       bool         `json:"isDefault"`
	ConnectionCount int          `json:"connectionCount" doc:"Connections stored on the profile in the current organization"`
	CreatedAt       isotime.Time `json:"createdAt"`
	UpdatedAt       isotime.Time `json:"updatedAt"`
}

// Profiles owns the connection profiles of users and end-users (GET|POST /api/connection-profiles,
// PUT|DELETE /api/connection-profiles/{id}).
type Profiles struct{ DB *store.DB }

// CleanProfileName trims name and checks its length.
func CleanProfileName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxProfileName {
		return "", ErrProfileName
	}
	return name, nil
}

// EnsureDefaultProfile returns the id of the actor's Default profile, creating it when missing (users get
// it lazily; end-users get one at creation). Concurrent callers converge on one row thanks to the unique
// default-per-owner indexes.
func EnsureDefaultProfile(ctx context.Context, q store.Querier, a Actor) (string, error) {
	col, owner := a.ownerColumn()
	if owner == "" {
		return "", fmt.Errorf("default profile: no actor")
	}
	find := func() (string, error) {
		var id string
		err := q.QueryRowContext(ctx, `SELECT id FROM connection_profiles WHERE `+col+` = ? AND is_default = ?
			ORDER BY created_at, id LIMIT 1`, owner, true).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return id, err
	}
	id, err := find()
	if err != nil || id != "" {
		return id, pfWrap(err, "default profile of %s", owner)
	}
	now := isotime.Now()
	if _, err := q.ExecContext(ctx, `INSERT INTO connection_profiles (id, `+col+`, name, is_default, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ids.UUID(), owner, DefaultProfileName, true, now, now); err != nil {
		return "", fmt.Errorf("create default profile of %s: %w", owner, err)
	}
	id, err = find()
	if err == nil && id == "" {
		err = errors.New("not created")
	}
	return id, pfWrap(err, "default profile of %s", owner)
}

const pfProfileColumns = `p.id, p.user_id, p.end_user_id, p.application_id, p.name, p.is_default, p.created_at, p.updated_at`

// pfConnectionCountSQL counts the connections of profile p in the organization bound to the first argument.
const pfConnectionCountSQL = `(SELECT count(*) FROM user_provider_connections c WHERE c.profile_id = p.id AND c.org_id = ?)`

func pfScanProfile(row interface{ Scan(...any) error }, extra ...any) (*Profile, error) {
	var p Profile
	var user, endUser, app sql.NullString
	dest := append([]any{&p.ID, &user, &endUser, &app, &p.Name, &p.IsDefault, &p.CreatedAt, &p.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	p.UserID, p.EndUserID, p.ApplicationID = pfNullable(user), pfNullable(endUser), pfNullable(app)
	return &p, nil
}

func pfNullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// List returns the actor's profiles, the Default one first (created on the way when missing), each with
// the number of its connections in orgID.
func (s Profiles) List(ctx context.Context, orgID string, a Actor) ([]Profile, error) {
	if _, err := EnsureDefaultProfile(ctx, s.DB, a); err != nil {
		return nil, err
	}
	col, owner := a.ownerColumn()
	rows, err := s.DB.QueryContext(ctx, `SELECT `+pfProfileColumns+`, `+pfConnectionCountSQL+`
		FROM connection_profiles p WHERE p.`+col+` = ? ORDER BY p.is_default DESC, p.created_at, p.id`, orgID, owner)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	out := []Profile{}
	for rows.Next() {
		var n int
		p, err := pfScanProfile(rows, &n)
		if err != nil {
			return nil, fmt.Errorf("scan profile: %w", err)
		}
		p.ConnectionCount = n
		out = append(out, *p)
	}
	return out, pfWrap(rows.Err(), "list profiles")
}

// Create adds a (non-default) profile owned by the actor.
func (s Profiles) Create(ctx context.Context, a Actor, name string, ev audit.Event) (*Profile, error) {
	name, err := CleanProfileName(name)
	if err != nil {
		return nil, err
	}
	col, owner := a.ownerColumn()
	now := isotime.Now()
	p := &Profile{ID: ids.UUID(), Name: name, CreatedAt: now, UpdatedAt: now}
	if a.IsEndUser() {
		p.EndUserID = &owner
	} else {
		p.UserID = &owner
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_profiles (id, `+col+`, name, is_default, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, p.ID, owner, name, false, now, now); err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID, ev.After = "connection_profile.created", "connection_profile", p.ID, map[string]any{"name": name}
		audit.Record(ctx, tx, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Rename renames one of the actor's profiles (the Default one included).
func (s Profiles) Rename(ctx context.Context, a Actor, id, name string, ev audit.Event) error {
	name, err := CleanProfileName(name)
	if err != nil {
		return err
	}
	if !ids.ValidUUID(id) {
		return ErrProfileNotFound
	}
	col, owner := a.ownerColumn()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var before string
		err := tx.QueryRowContext(ctx, `SELECT name FROM connection_profiles WHERE id = ? AND `+col+` = ?`, id, owner).Scan(&before)
		if err != nil {
			return pfProfileErr(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connection_profiles SET name = ?, updated_at = ? WHERE id = ?`,
			name, isotime.Now(), id); err != nil {
			return fmt.Errorf("rename profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID = "connection_profile.updated", "connection_profile", id
		ev.Before, ev.After = map[string]any{"name": before}, map[string]any{"name": name}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// Delete removes one of the actor's non-default profiles with everything stored on it (connections,
// bindings sourced from it, overrides and pins naming it).
func (s Profiles) Delete(ctx context.Context, a Actor, id string, ev audit.Event) error {
	if !ids.ValidUUID(id) {
		return ErrProfileNotFound
	}
	col, owner := a.ownerColumn()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var name string
		var isDefault bool
		err := tx.QueryRowContext(ctx, `SELECT name, is_default FROM connection_profiles WHERE id = ? AND `+col+` = ?`,
			id, owner).Scan(&name, &isDefault)
		if err != nil {
			return pfProfileErr(err)
		}
		if isDefault {
			return ErrDefaultProfile
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connection_profiles WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID, ev.Before = "connection_profile.deleted", "connection_profile", id, map[string]any{"name": name}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// pfProfileErr maps "no row" to ErrProfileNotFound.
func pfProfileErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrProfileNotFound
	}
	return fmt.Errorf("find profile: %w", err)
}

// pfWrap wraps a non-nil err with context.
func pfWrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
