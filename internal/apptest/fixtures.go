package apptest

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// SeedUser inserts a platform user (and its profile) and returns its id.
func (e *Env) SeedUser(email string) string {
	e.T.Helper()
	id := strings.ReplaceAll(ids.UUID(), "-", "")
	now := isotime.Now()
	e.exec(`INSERT INTO users (id, name, email, email_verified, realm, created_at, updated_at) VALUES (?, ?, ?, ?, 'platform', ?, ?)`,
		id, strings.Split(email, "@")[0], email, true, now, now)
	e.exec(`INSERT INTO profiles (id, display_name, language, created_at, updated_at) VALUES (?, ?, 'fr', ?, ?)`,
		id, email, now, now)
	return id
}

// SeedOrg inserts an organization owned by ownerID with its default application; returns both ids.
func (e *Env) SeedOrg(ownerID, slug string) (orgID, defaultAppID string) {
	e.T.Helper()
	orgID, defaultAppID = ids.UUID(), ids.New(ids.App)
	now := isotime.Now()
	e.exec(`INSERT INTO organizations (id, name, slug, org_settings, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		orgID, slug, slug, `{"apiVersion":"2026-03-21"}`, ownerID, now, now)
	e.exec(`INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)`, orgID, ownerID, now)
	e.exec(`INSERT INTO applications (id, org_id, name, is_default, settings, created_by, created_at, updated_at) VALUES (?, ?, 'Default', ?, '{}', ?, ?, ?)`,
		defaultAppID, orgID, true, ownerID, now, now)
	return orgID, defaultAppID
}

// SeedMember adds userID to orgID with role.
func (e *Env) SeedMember(orgID, userID, role string) {
	e.T.Helper()
	e.exec(`INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`, orgID, userID, role, isotime.Now())
}

// SeedApp inserts a non-default application in orgID and returns its id.
func (e *Env) SeedApp(orgID, name string) string {
	e.T.Helper()
	id := ids.New(ids.App)
	now := isotime.Now()
	e.exec(`INSERT INTO applications (id, org_id, name, is_default, settings, created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?)`,
		id, orgID, name, false, now, now)
	return id
}

func (e *Env) exec(query string, args ...any) {
	e.T.Helper()
	if _, err := e.DB.ExecContext(context.Background(), query, args...); err != nil {
		e.T.Fatalf("seed: %v", err)
	}
}

// lockedWriter serialises concurrent log writes into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
