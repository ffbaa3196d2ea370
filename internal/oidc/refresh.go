package oidc

import (
	"context"
	"strings"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Revocation reasons (cli_refresh_tokens.revoked_reason).
const (
	RevokedReuse      = "reuse"        // an already-used refresh token was presented
	RevokedLogout     = "logout"       // POST /api/auth/cli/revoke
	RevokedByUser     = "user_revoked" // the user's session list (one or all)
	RevokedByOrgAdmin = "admin_revoked"
)

// errRevoked is the answer to any token of a revoked family.
func errRevoked() *Error { return oauthError(CodeInvalidGrant, "Refresh token has been revoked.") }

// startFamily opens a CLI session for userID: a new family, its first refresh token and an access token.
func (s *Service) startFamily(ctx context.Context, c *Client, userID, scope string, ci ClientInfo) (*TokenSet, error) {
	u, err := s.tokenUser(ctx, s.db, userID)
	if err != nil {
		return nil, err
	}
	familyID := ids.New(ids.CLIRefresh)
	refresh := randomToken(tokenBytes)
	now := s.now()
	_, err = s.db.ExecContext(ctx, `INSERT INTO cli_refresh_tokens (id, token_hash, user_id, client_id, family_id, parent_id,
		scope, expires_at, device_name, user_agent, created_ip, last_used_ip, last_used_at, created_at)
		VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)`,
		familyID, hashToken(refresh), userID, c.ClientID, familyID, scope, isotime.From(now.Add(RefreshTokenTTL)),
		nullable(clean(ci.DeviceName, deviceNameMax)), nullable(clean(ci.UserAgent, userAgentMax)), nullable(ci.IP),
		nullable(ci.IP), isotime.From(now), isotime.From(now))
	if err != nil {
		return nil, wrap("store refresh token", err)
	}
	return s.tokenSet(ctx, c, u, familyID, scope, refresh)
}

// tokenUser is the user part of the access token claims.
type tokenUserRow struct {
	id, email, name, realm string
	emailVerified          bool
}

func (s *Service) tokenUser(ctx context.Context, q store.Querier, userID string) (*tokenUserRow, error) {
	u := &tokenUserRow{id: userID}
	err := q.QueryRowContext(ctx, `SELECT email, name, email_verified, realm FROM users WHERE id = ?`, userID).
		Scan(&u.email, &u.name, &u.emailVerified, &u.realm)
	if isNoRows(err) {
		return nil, oauthError(CodeInvalidGrant, "The user no longer exists.")
	}
	if err != nil {
		return nil, wrap("read user", err)
	}
	return u, nil
}

func (s *Service) tokenSet(ctx context.Context, c *Client, u *tokenUserRow, familyID, scope, refresh string) (*TokenSet, error) {
	access, err := s.signAccessToken(ctx, tokenSubject{userID: u.id, email: u.email, name: u.name,
		emailVerified: u.emailVerified, client: c, familyID: familyID, scope: scope})
	if err != nil {
		return nil, err
	}
	return &TokenSet{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(AccessTokenTTL.Seconds()),
		RefreshExpiresIn: int(RefreshTokenTTL.Seconds()), Scope: scope, FamilyID: familyID}, nil
}

// refreshRow is a row of cli_refresh_tokens.
type refreshRow struct {
	id, userID, clientID, familyID, scope string
	deviceName, userAgent, createdIP      string
	expiresAt, usedAt, revokedAt          isotime.Time
}

// Refresh is the refresh-token grant: the presented token is marked used and a child is issued in the same
// family. A token presented twice revokes its whole family (reuse detection); unknown, expired, revoked or
// other-client tokens are invalid_grant.
func (s *Service) Refresh(ctx context.Context, clientID, refreshToken string, ci ClientInfo) (*TokenSet, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	c, err := s.publicClient(ctx, clientID, GrantRefreshToken)
	if err != nil {
		return nil, err
	}
	if refreshToken == "" {
		return nil, oauthError(CodeInvalidRequest, "Missing refresh_token.")
	}
	if len(refreshToken) > maxTokenInput {
		return nil, oauthError(CodeInvalidGrant, "Invalid refresh token.")
	}
	var (
		rejection *Error
		u         *tokenUserRow
		familyID  string
		scope     string
		next      = randomToken(tokenBytes)
	)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		rejection, u = nil, nil
		r := &refreshRow{}
		var dbDevice, dbAgent, dbIP *string
		err := tx.QueryRowContext(ctx, `SELECT id, user_id, client_id, family_id, scope, device_name, user_agent, created_ip,
			expires_at, used_at, revoked_at FROM cli_refresh_tokens WHERE token_hash = ?`, hashToken(refreshToken)).
			Scan(&r.id, &r.userID, &r.clientID, &r.familyID, &r.scope, &dbDevice, &dbAgent, &dbIP,
				&r.expiresAt, &r.usedAt, &r.revokedAt)
		if isNoRows(err) {
			rejection = oauthError(CodeInvalidGrant, "Invalid refresh token.")
			return nil
		}
		if err != nil {
			return wrap("read refresh token", err)
		}
		r.deviceName, r.userAgent, r.createdIP = deref(dbDevice), deref(dbAgent), deref(dbIP)
		now := s.now()
		switch {
		case r.clientID != c.ClientID:
			rejection = oauthError(CodeInvalidGrant, "The refresh token was issued to another client.")
			return nil
		case !r.revokedAt.IsZero():
			rejection = errRevoked()
			return nil
		case !r.usedAt.IsZero():
			s.log.Warn("oidc: refresh token reuse, revoking the family", "familyId", r.familyID, "userId", r.userID, "ip", ci.IP)
			rejection = errRevoked()
			_, err := s.revokeFamily(ctx, tx, r.familyID, RevokedReuse)
			return err
		case !now.Before(r.expiresAt.Time):
			rejection = oauthError(CodeInvalidGrant, "Refresh token has expired.")
			return nil
		}
		at := isotime.From(now)
		res, err := tx.ExecContext(ctx, `UPDATE cli_refresh_tokens SET used_at = ?, last_used_at = ?, last_used_ip = ?
			WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, at, at, nullable(ci.IP), r.id)
		if err != nil {
			return wrap("rotate refresh token", err)
		}
		if n, _ := res.RowsAffected(); n != 1 { // a concurrent rotation used it first: that is reuse too
			rejection = errRevoked()
			_, err := s.revokeFamily(ctx, tx, r.familyID, RevokedReuse)
			return err
		}
		if u, err = s.tokenUser(ctx, tx, r.userID); err != nil {
			return err
		}
		deviceName := r.deviceName
		if d := clean(ci.DeviceName, deviceNameMax); d != "" {
			deviceName = d
		}
		userAgent := r.userAgent
		if ua := clean(ci.UserAgent, userAgentMax); ua != "" {
			userAgent = ua
		}
		childID := ids.New(ids.CLIRefresh)
		_, err = tx.ExecContext(ctx, `INSERT INTO cli_refresh_tokens (id, token_hash, user_id, client_id, family_id, parent_id,
			scope, expires_at, device_name, user_agent, created_ip, last_used_ip, last_used_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			childID, hashToken(next), r.userID, r.clientID, r.familyID, r.id, r.scope, isotime.From(now.Add(RefreshTokenTTL)),
			nullable(deviceName), nullable(userAgent), nullable(r.createdIP), nullable(ci.IP), at, at)
		if err != nil {
			return wrap("store rotated refresh token", err)
		}
		// A family with a revoked member is dead: the new token is revoked with it.
		res, err = tx.ExecContext(ctx, `UPDATE cli_refresh_tokens SET revoked_at = ?, revoked_reason = ?
			WHERE id = ? AND EXISTS (SELECT 1 FROM cli_refresh_tokens f WHERE f.family_id = ? AND f.revoked_at IS NOT NULL)`,
			at, RevokedReuse, childID, r.familyID)
		if err != nil {
			return wrap("check refresh family", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			rejection = errRevoked()
			return nil
		}
		familyID, scope = r.familyID, r.scope
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rejection != nil {
		return nil, rejection
	}
	return s.tokenSet(ctx, c, u, familyID, scope, next)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// revokeFamily revokes every live token of a family; it returns how many rows changed.
func (s *Service) revokeFamily(ctx context.Context, q store.Querier, familyID, reason string) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE cli_refresh_tokens SET revoked_at = ?, revoked_reason = ?
		WHERE family_id = ? AND revoked_at IS NULL`, isotime.From(s.now()), reason, familyID)
	if err != nil {
		return 0, wrap("revoke refresh family", err)
	}
	return res.RowsAffected()
}

// RevokeRefreshToken is POST /api/auth/cli/revoke: the family of token is revoked (reason logout) when the
// token belongs to clientID. Unknown tokens are not an error (the endpoint always answers revoked:true).
func (s *Service) RevokeRefreshToken(ctx context.Context, token, clientID string) error {
	if token == "" || len(token) > maxTokenInput {
		return nil
	}
	var familyID, owner string
	err := s.db.QueryRowContext(ctx, `SELECT family_id, client_id FROM cli_refresh_tokens WHERE token_hash = ?`,
		hashToken(token)).Scan(&familyID, &owner)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return wrap("read refresh token", err)
	}
	if clientID != "" && owner != clientID {
		return nil
	}
	_, err = s.revokeFamily(ctx, s.db, familyID, RevokedLogout)
	return err
}

// CLISession is one live CLI login (the head of a refresh family).
type CLISession struct {
	FamilyID   string       `json:"familyId" doc:"crf_<uuid>"`
	DeviceName *string      `json:"deviceName" doc:"X-Appstrate-Device-Name sent at login (or on a later refresh)"`
	UserAgent  *string      `json:"userAgent"`
	CreatedIP  *string      `json:"createdIp"`
	LastUsedIP *string      `json:"lastUsedIp"`
	LastUsedAt isotime.Time `json:"lastUsedAt"`
	CreatedAt  isotime.Time `json:"createdAt" doc:"When the CLI logged in"`
	ExpiresAt  isotime.Time `json:"expiresAt" doc:"When the current refresh token expires"`
	Current    bool         `json:"current" doc:"Always false: these views are reached with a browser session"`

	UserID    string `json:"userId,omitempty" doc:"Org-admin view only"`
	UserEmail string `json:"userEmail,omitempty" doc:"Org-admin view only"`
	UserName  string `json:"userName,omitempty" doc:"Org-admin view only"`
}

// liveHeads selects the active family heads; callers add conditions on t (and u, the user).
const liveHeads = `SELECT t.family_id, t.device_name, t.user_agent, t.created_ip, t.last_used_ip, t.last_used_at,
	(SELECT MIN(f.created_at) FROM cli_refresh_tokens f WHERE f.family_id = t.family_id), t.expires_at,
	t.user_id, u.email, u.name
	FROM cli_refresh_tokens t JOIN users u ON u.id = t.user_id
	WHERE t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > ?`

func (s *Service) listHeads(ctx context.Context, where string, args ...any) ([]CLISession, error) {
	rows, err := s.db.QueryContext(ctx, liveHeads+where+` ORDER BY COALESCE(t.last_used_at, t.created_at) DESC, t.family_id`,
		append([]any{isotime.From(s.now())}, args...)...)
	if err != nil {
		return nil, wrap("list CLI sessions", err)
	}
	defer func() { _ = rows.Close() }()
	out := []CLISession{}
	for rows.Next() {
		var cs CLISession
		if err := rows.Scan(&cs.FamilyID, &cs.DeviceName, &cs.UserAgent, &cs.CreatedIP, &cs.LastUsedIP, &cs.LastUsedAt,
			&cs.CreatedAt, &cs.ExpiresAt, &cs.UserID, &cs.UserEmail, &cs.UserName); err != nil {
			return nil, wrap("list CLI sessions", err)
		}
		out = append(out, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list CLI sessions", err)
	}
	return out, nil
}

// ListSessions returns the live CLI sessions of userID, most recently used first.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]CLISession, error) {
	out, err := s.listHeads(ctx, ` AND t.user_id = ?`, userID)
	for i := range out {
		out[i].UserID, out[i].UserEmail, out[i].UserName = "", "", ""
	}
	return out, err
}

// RevokeSession revokes one CLI session of userID; false when it had no live session with that id.
func (s *Service) RevokeSession(ctx context.Context, userID, familyID string) (bool, error) {
	if !strings.HasPrefix(familyID, ids.CLIRefresh) {
		return false, nil
	}
	res, err := s.db.ExecContext(ctx, `UPDATE cli_refresh_tokens SET revoked_at = ?, revoked_reason = ?
		WHERE family_id = ? AND user_id = ? AND revoked_at IS NULL`, isotime.From(s.now()), RevokedByUser, familyID, userID)
	if err != nil {
		return false, wrap("revoke CLI session", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RevokeAllSessions revokes every live CLI session of userID and returns how many there were.
func (s *Service) RevokeAllSessions(ctx context.Context, userID string) (int, error) {
	var count int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := isotime.From(s.now())
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT family_id) FROM cli_refresh_tokens
			WHERE user_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`, userID, now).Scan(&count); err != nil {
			return wrap("count CLI sessions", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE cli_refresh_tokens SET revoked_at = ?, revoked_reason = ?
			WHERE user_id = ? AND revoked_at IS NULL`, now, RevokedByUser, userID)
		if err != nil {
			return wrap("revoke CLI sessions", err)
		}
		return nil
	})
	return count, err
}

// orgMembers restricts liveHeads to members of an organization.
const orgMembers = ` AND EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = ? AND m.user_id = t.user_id)`

// ListOrgSessions returns the live CLI sessions of the members of orgID (with their user), most recently
// used first.
func (s *Service) ListOrgSessions(ctx context.Context, orgID string) ([]CLISession, error) {
	return s.listHeads(ctx, orgMembers, orgID)
}

// Actor is who revokes a session, for the audit trail.
type Actor struct {
	UserID, IP, UserAgent, RequestID string
}

// RevokeOrgSession revokes the live CLI session familyID of a member of orgID (audited as
// cli_session.revoked): ErrSessionNotFound when there is none.
func (s *Service) RevokeOrgSession(ctx context.Context, orgID, familyID string, actor Actor) error {
	heads, err := s.listHeads(ctx, orgMembers+` AND t.family_id = ?`, orgID, familyID)
	if err != nil {
		return err
	}
	if len(heads) == 0 {
		return ErrSessionNotFound
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.revokeFamily(ctx, tx, familyID, RevokedByOrgAdmin); err != nil {
			return err
		}
		audit.Record(ctx, tx, audit.Event{OrgID: orgID, ActorType: "user", ActorID: actor.UserID,
			Action: "cli_session.revoked", ResourceType: "cli_session", ResourceID: familyID,
			Before: map[string]any{"userId": heads[0].UserID, "deviceName": heads[0].DeviceName},
			IP:     actor.IP, UserAgent: actor.UserAgent, RequestID: actor.RequestID})
		return nil
	})
}
