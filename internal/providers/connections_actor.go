package providers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/store"
)

// ConnectionActorOf builds the actor of an authenticated request (ev is the audit template).
func ConnectionActorOf(p *auth.Principal, ev audit.Event) ConnectionActor {
	a := ConnectionActor{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, EndUserID: p.EndUserID, Audit: ev}
	if p.IsAPIKey() {
		a.APIKeyID = p.APIKeyID
	}
	return a
}

// Owner is the owner of the actor's connections and profiles: the end-user under impersonation, else the user.
func (a ConnectionActor) Owner() Actor {
	if a.EndUserID != "" {
		return Actor{EndUserID: a.EndUserID}
	}
	return Actor{UserID: a.UserID}
}

// connectionProfile picks the profile a connection route acts on: the requested one when given (the actor's
// own profile or an application profile of the actor's application, else ErrProfileForbidden), else the
// actor's default — an end-user's Default profile, a user's profile pinned for the application, else the
// user's Default profile (created on first need).
func connectionProfile(ctx context.Context, db *store.DB, a ConnectionActor, requested string) (string, error) {
	if requested != "" {
		if err := pfUsableProfile(ctx, db, a.Owner(), a.AppID, requested); err != nil {
			if errors.Is(err, ErrProfileNotFound) {
				return "", fmt.Errorf("%w: %s", ErrProfileForbidden, requested)
			}
			return "", err
		}
		return requested, nil
	}
	if !a.IsEndUser() {
		pinned, err := pinnedProfile(ctx, db, a.UserID, a.AppID)
		if err != nil || pinned != "" {
			return pinned, err
		}
	}
	return EnsureDefaultProfile(ctx, db, a.Owner())
}

// proxyProfile picks the profile of a credential proxy call (PACKAGES.md §4.7 item 6): the requested one (as
// connectionProfile), else the end-user's Default, else the member's pinned profile, else the application
// profile flagged default, else the member's Default.
func proxyProfile(ctx context.Context, db *store.DB, a ConnectionActor, requested string) (string, error) {
	if requested != "" || a.IsEndUser() {
		return connectionProfile(ctx, db, a, requested)
	}
	pinned, err := pinnedProfile(ctx, db, a.UserID, a.AppID)
	if err != nil || pinned != "" {
		return pinned, err
	}
	var appDefault string
	err = db.QueryRowContext(ctx, `SELECT id FROM connection_profiles WHERE application_id = ? AND is_default = ?
		ORDER BY created_at, id LIMIT 1`, a.AppID, true).Scan(&appDefault)
	switch {
	case err == nil:
		return appDefault, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("default application profile of %s: %w", a.AppID, err)
	}
	return EnsureDefaultProfile(ctx, db, a.Owner())
}

// pinnedProfile is the profile userID pinned for appID ("" when none).
func pinnedProfile(ctx context.Context, q store.Querier, userID, appID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT profile_id FROM user_application_profiles WHERE user_id = ? AND application_id = ?`,
		userID, appID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pinned profile of %s: %w", userID, err)
	}
	return id, nil
}
