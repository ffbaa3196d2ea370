package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Session is a row of sessions, shaped as Better Auth returns it.
type Session struct {
	ID        string       `json:"id"`
	Token     string       `json:"token"`
	UserID    string       `json:"userId"`
	ExpiresAt isotime.Time `json:"expiresAt"`
	IPAddress string       `json:"ipAddress"`
	UserAgent string       `json:"userAgent"`
	CreatedAt isotime.Time `json:"createdAt"`
	UpdatedAt isotime.Time `json:"updatedAt"`
	Realm     string       `json:"-"`

	// DontRemember marks a browser-session sign-in (rememberMe=false): short-lived, never renewed.
	DontRemember bool `json:"-"`
}

// StartSession opens a 7-day session for userID and returns it; the caller sets SessionCookie(s).
func (a *Accounts) StartSession(ctx context.Context, userID, ip, userAgent string) (*Session, error) {
	return a.startSession(ctx, a.db, userID, ip, userAgent, false)
}

// StartBrowserSession is StartSession for a sign-in form: remember=false opens a one-day session that is
// never renewed and whose cookie lasts the browser session (Better Auth's rememberMe=false).
func (a *Accounts) StartBrowserSession(ctx context.Context, userID, ip, userAgent string, remember bool) (*Session, error) {
	return a.startSession(ctx, a.db, userID, ip, userAgent, !remember)
}

func (a *Accounts) startSession(ctx context.Context, q store.Querier, userID, ip, userAgent string, dontRemember bool) (*Session, error) {
	var realm string
	err := q.QueryRowContext(ctx, `SELECT realm FROM users WHERE id = ?`, userID).Scan(&realm)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth: start session: %w", err)
	}
	now := isotime.From(a.now())
	ttl := SessionExpiresIn
	if dontRemember {
		ttl = DontRememberSessionTTL
	}
	s := &Session{ID: GenerateID(32), Token: GenerateID(32), UserID: userID, ExpiresAt: isotime.From(now.Add(ttl)),
		IPAddress: ip, UserAgent: truncate(userAgent, 512), Realm: realm, CreatedAt: now, UpdatedAt: now, DontRemember: dontRemember}
	_, err = q.ExecContext(ctx, `INSERT INTO sessions (id, token, user_id, expires_at, ip_address, user_agent, realm, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.Token, s.UserID, s.ExpiresAt, s.IPAddress, s.UserAgent, s.Realm, now, now)
	if err != nil {
		return nil, fmt.Errorf("auth: insert session: %w", err)
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SessionCookie is the Set-Cookie of s: the signed token, HttpOnly; Secure; SameSite=Lax; Partitioned;
// Path=/; Max-Age=604800 (a browser-session cookie for rememberMe=false sign-ins).
func (a *Accounts) SessionCookie(s *Session) *http.Cookie {
	maxAge := SessionExpiresIn
	if s.DontRemember {
		maxAge = 0
	}
	return a.cookies.cookie(SessionCookieName, a.signer.Sign(s.Token), maxAge)
}

// DontRememberCookie is the companion cookie of a rememberMe=false session (Better Auth's dont_remember).
func (a *Accounts) DontRememberCookie() *http.Cookie {
	return a.cookies.cookie(DontRememberCookieName, a.signer.Sign("true"), 0)
}

// ClearSessionCookies expire the session cookies.
func (a *Accounts) ClearSessionCookies() []*http.Cookie {
	return []*http.Cookie{
		a.cookies.cookie(SessionCookieName, "", -1),
		a.cookies.cookie(DontRememberCookieName, "", -1),
	}
}

// SessionToken extracts the session token a request presents: `Authorization: Bearer <token>` (raw, or the
// signed cookie form) first, then the session cookie. API keys (ask_…) and JWTs (ey…) are left to their
// strategies and the cookie is used instead. ok is false when no valid-looking credential is present.
func (a *Accounts) SessionToken(r *http.Request) (token string, ok bool) {
	if bearer := BearerToken(r); bearer != "" {
		if t, ok := a.parseBearer(bearer); ok {
			return t, true
		}
	}
	for _, name := range []string{a.cookies.name(SessionCookieName), otherName(a.cookies.name(SessionCookieName))} {
		c, err := r.Cookie(name)
		if err != nil || c.Value == "" {
			continue
		}
		if t, ok := a.signer.Verify(c.Value); ok && validToken(t) {
			return t, true
		}
	}
	return "", false
}

// parseBearer reads a bearer credential as a session token: a raw token, or `<token>.<signature>` as the
// cookie carries it (URL-encoded or not). Other bearer kinds are not session tokens.
func (a *Accounts) parseBearer(bearer string) (string, bool) {
	if strings.HasPrefix(bearer, "ask_") || strings.HasPrefix(bearer, "ey") {
		return "", false
	}
	if !strings.ContainsAny(bearer, ".%") {
		return bearer, validToken(bearer)
	}
	t, ok := a.signer.VerifyLenient(bearer)
	return t, ok && validToken(t)
}

// validToken bounds what is looked up: Better Auth tokens are short alphanumeric strings.
func validToken(t string) bool {
	if t == "" || len(t) > 255 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func otherName(name string) string {
	if rest, ok := strings.CutPrefix(name, securePrefix); ok {
		return rest
	}
	return securePrefix + name
}

// SessionFor returns the live session and user of token, renewing the session when it was last renewed
// more than a day ago (unless noRefresh). Unknown or expired tokens give (nil, nil, false, nil); an expired
// row is deleted.
func (a *Accounts) SessionFor(ctx context.Context, token string, noRefresh bool) (s *Session, u *User, refreshed bool, err error) {
	s = &Session{}
	u = &User{}
	var image sql.NullString
	var ip, ua sql.NullString
	err = a.db.QueryRowContext(ctx, `SELECT s.id, s.token, s.user_id, s.expires_at, s.ip_address, s.user_agent, s.realm,
		s.created_at, s.updated_at, u.id, u.email, u.name, u.image, u.email_verified, u.realm, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token = ?`, token).Scan(
		&s.ID, &s.Token, &s.UserID, &s.ExpiresAt, &ip, &ua, &s.Realm, &s.CreatedAt, &s.UpdatedAt,
		&u.ID, &u.Email, &u.Name, &image, &u.EmailVerified, &u.Realm, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("auth: read session: %w", err)
	}
	s.IPAddress, s.UserAgent = ip.String, ua.String
	if image.Valid {
		u.Image = &image.String
	}
	now := a.now()
	if !now.Before(s.ExpiresAt.Time) {
		if _, err := a.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, s.ID); err != nil {
			a.log.Warn("delete expired session", "sessionId", s.ID, "error", err)
		}
		return nil, nil, false, nil
	}
	// A rememberMe=false session was opened for a day and is never renewed (Better Auth tells them apart by
	// its dont_remember cookie; the row itself says it here, so bearer clients behave the same).
	s.DontRemember = s.ExpiresAt.Sub(s.CreatedAt.Time) <= DontRememberSessionTTL
	// Better Auth renews when expiresAt - expiresIn + updateAge <= now, i.e. a day after the last renewal.
	if !noRefresh && !s.DontRemember && !s.ExpiresAt.Add(-SessionExpiresIn+SessionUpdateAge).After(now) {
		newExp, at := isotime.From(now.Add(SessionExpiresIn)), isotime.From(now)
		if _, err := a.db.ExecContext(ctx, `UPDATE sessions SET expires_at = ?, updated_at = ? WHERE id = ?`, newExp, at, s.ID); err != nil {
			return nil, nil, false, fmt.Errorf("auth: renew session: %w", err)
		}
		s.ExpiresAt, s.UpdatedAt, refreshed = newExp, at, true
	}
	return s, u, refreshed, nil
}

// SessionFromRequest returns the session and user of a request (nil when it has none). refreshed tells
// the caller to send the cookie again.
func (a *Accounts) SessionFromRequest(r *http.Request, noRefresh bool) (*Session, *User, bool, error) {
	token, ok := a.SessionToken(r)
	if !ok {
		return nil, nil, false, nil
	}
	return a.SessionFor(r.Context(), token, noRefresh)
}

// errSessionLookup is the 401 detail when sessions cannot be read (the pipeline's own wording).
var errSessionLookup = errors.New("Invalid or missing session") //lint:ignore ST1005 shown to clients as the 401 detail

// Authenticate is the session strategy of the pipeline: a valid session cookie or bearer session token
// gives a session principal; anything else is (nil, nil), so the pipeline answers 401 itself.
func (a *Accounts) Authenticate(r *http.Request) (*Principal, error) {
	s, u, _, err := a.SessionFromRequest(r, false)
	if err != nil {
		// The pipeline turns a plain error into a 401 showing its text: keep the cause in the logs only.
		a.log.Error("session lookup failed", "path", r.URL.Path, "error", err)
		return nil, errSessionLookup
	}
	if s == nil {
		return nil, nil
	}
	return &Principal{Method: MethodSession, UserID: u.ID, Email: u.Email, Name: u.Name, Realm: u.Realm, SessionID: s.ID}, nil
}

// DeleteSession ends the session with this token (no error when it does not exist).
func (a *Accounts) DeleteSession(ctx context.Context, token string) error {
	if _, err := a.db.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("auth: delete session: %w", err)
	}
	return nil
}

// RevokeSessions ends every session of userID except exceptID ("" ends them all).
func (a *Accounts) RevokeSessions(ctx context.Context, q store.Querier, userID, exceptID string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, exceptID); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	return nil
}
