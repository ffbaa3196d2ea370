package authroutes_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestSignUpSessionSignOutWalk(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		c := newClient(e)
		res := c.do("POST", "/api/auth/sign-up/email", map[string]any{"email": "Alice@Example.com", "password": password, "name": "Alice"})
		expectStatus(t, res, 200)
		var signedUp struct {
			Token *string `json:"token"`
			User  user    `json:"user"`
		}
		res.JSON(t, &signedUp)
		u := signedUp.User
		if signedUp.Token == nil || len(*signedUp.Token) != 32 || u.Email != "alice@example.com" || u.Name != "Alice" ||
			u.Image != nil || u.EmailVerified || u.ID == "" || u.CreatedAt == "" || u.UpdatedAt == "" {
			t.Fatalf("sign-up body %s", res.Body)
		}
		if _, err := isotime.Parse(u.CreatedAt); err != nil || !strings.HasSuffix(u.CreatedAt, "Z") {
			t.Fatalf("createdAt %q", u.CreatedAt)
		}
		setCookie := res.Header.Get("Set-Cookie")
		for _, attr := range []string{"better-auth.session_token=" + *signedUp.Token + ".", "HttpOnly", "Secure", "SameSite=Lax", "Partitioned", "Path=/", "Max-Age=604800"} {
			if !strings.Contains(setCookie, attr) {
				t.Fatalf("Set-Cookie %q lacks %q", setCookie, attr)
			}
		}
		if res.Header.Get("set-auth-token") != *signedUp.Token {
			t.Fatalf("set-auth-token header %q", res.Header.Get("set-auth-token"))
		}

		// Stored the Better Auth way: credential account keyed by the user id, scrypt hash, French profile.
		var provider, accountID, hash, display, lang string
		ctx := context.Background()
		if err := e.DB.QueryRowContext(ctx, `SELECT provider_id, account_id, password FROM accounts WHERE user_id = ?`, u.ID).Scan(&provider, &accountID, &hash); err != nil {
			t.Fatal(err)
		}
		if salt, key, ok := strings.Cut(hash, ":"); provider != "credential" || accountID != u.ID || !ok || len(salt) != 32 || len(key) != 128 {
			t.Fatalf("account %s %s %s", provider, accountID, hash)
		}
		if err := e.DB.QueryRowContext(ctx, `SELECT display_name, language FROM profiles WHERE id = ?`, u.ID).Scan(&display, &lang); err != nil || display != "Alice" || lang != "fr" {
			t.Fatalf("profile %q %q %v", display, lang, err)
		}

		s := c.getSession(t)
		if s == nil || s.Session.UserID != u.ID || s.Session.Token != *signedUp.Token || s.User.Email != u.Email ||
			s.Session.IPAddress != c.ip || s.Session.UserAgent != "authroutes-test/1.0" {
			t.Fatalf("get-session %+v", s)
		}
		exp, err := isotime.Parse(s.Session.ExpiresAt)
		if err != nil || time.Until(exp.Time) < 7*24*time.Hour-time.Minute {
			t.Fatalf("expiresAt %s", s.Session.ExpiresAt)
		}

		// The session authenticates the rest of the API: the cookie, and the raw token as a bearer.
		expectStatus(t, c.do("GET", "/api/orgs", nil), 200)
		bearer := &client{e: e, ip: freshIP()}
		expectStatus(t, bearer.do("GET", "/api/orgs", nil, "Authorization", "Bearer "+*signedUp.Token), 200)
		expectStatus(t, bearer.do("GET", "/api/auth/get-session", nil, "Authorization", "Bearer "+*signedUp.Token), 200)

		res = c.do("POST", "/api/auth/sign-out", nil)
		expectStatus(t, res, 200)
		if strings.TrimSpace(string(res.Body)) != `{"success":true}` || c.cookie != "" {
			t.Fatalf("sign-out %s, cookie %q", res.Body, c.cookie)
		}
		c.cookie = "better-auth.session_token=" + strings.SplitN(strings.TrimPrefix(setCookie, "better-auth.session_token="), ";", 2)[0]
		if s := c.getSession(t); s != nil {
			t.Fatalf("session after sign-out: %+v", s)
		}
		res = c.do("GET", "/api/orgs", nil)
		if p := res.Problem(t); res.Status != 401 || p.Detail != "Invalid or missing session" {
			t.Fatalf("old cookie: %d %+v", res.Status, p)
		}
		expectStatus(t, bearer.do("GET", "/api/orgs", nil, "Authorization", "Bearer "+*signedUp.Token), 401)

		// Sign in again.
		c.cookie = ""
		res = c.signIn(t, "ALICE@example.com", password)
		expectStatus(t, res, 200)
		var signedIn map[string]any
		res.JSON(t, &signedIn)
		if signedIn["redirect"] != false || signedIn["url"] != nil || signedIn["token"] == "" || c.cookie == "" {
			t.Fatalf("sign-in %s", res.Body)
		}
		if s := c.getSession(t); s == nil || s.User.ID != u.ID {
			t.Fatalf("session after sign-in: %+v", s)
		}

		// Passwords and session tokens never reach the logs.
		logs := e.Logs.String()
		for _, secret := range []string{password, *signedUp.Token, signedIn["token"].(string)} {
			if strings.Contains(logs, secret) {
				t.Fatalf("logs contain a secret %q", secret)
			}
		}
	})
}

func TestSignUpAndSignInErrors(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		newClient(e).signUp(t, "taken@example.com")
		tests := []struct {
			name   string
			path   string
			body   any
			status int
			code   string
		}{
			{"duplicate email", "/api/auth/sign-up/email", map[string]any{"email": "TAKEN@example.com", "password": password, "name": "x"}, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"},
			{"short password", "/api/auth/sign-up/email", map[string]any{"email": "new@example.com", "password": "1234567", "name": "x"}, 400, "PASSWORD_TOO_SHORT"},
			{"long password", "/api/auth/sign-up/email", map[string]any{"email": "new@example.com", "password": strings.Repeat("p", 129), "name": "x"}, 400, "PASSWORD_TOO_LONG"},
			{"invalid email", "/api/auth/sign-up/email", map[string]any{"email": "not-an-email", "password": password, "name": "x"}, 400, "INVALID_EMAIL"},
			{"missing name", "/api/auth/sign-up/email", map[string]any{"email": "new@example.com", "password": password}, 400, "VALIDATION_ERROR"},
			{"password of the wrong type", "/api/auth/sign-up/email", map[string]any{"email": "new@example.com", "password": 12345678, "name": "x"}, 400, "VALIDATION_ERROR"},
			{"malformed JSON", "/api/auth/sign-up/email", "{", 400, "VALIDATION_ERROR"},
			{"wrong password", "/api/auth/sign-in/email", map[string]any{"email": "taken@example.com", "password": "wrong-password"}, 401, "INVALID_EMAIL_OR_PASSWORD"},
			{"unknown email", "/api/auth/sign-in/email", map[string]any{"email": "nobody@example.com", "password": password}, 401, "INVALID_EMAIL_OR_PASSWORD"},
			{"sign-in invalid email", "/api/auth/sign-in/email", map[string]any{"email": "nope", "password": password}, 400, "INVALID_EMAIL"},
			{"untrusted callbackURL", "/api/auth/sign-in/email", map[string]any{"email": "taken@example.com", "password": password, "callbackURL": "https://evil.example/x"}, 403, "INVALID_CALLBACK_URL"},
			{"protocol-relative callbackURL", "/api/auth/sign-in/email", map[string]any{"email": "taken@example.com", "password": password, "callbackURL": "//evil.example/x"}, 403, "INVALID_CALLBACK_URL"},
			{"sign-out without a session", "/api/auth/sign-out", nil, 400, "FAILED_TO_GET_SESSION"},
			{"change-password without a session", "/api/auth/change-password", map[string]any{"currentPassword": password, "newPassword": "another-pass"}, 401, "UNAUTHORIZED"},
			{"password reset without SMTP", "/api/auth/request-password-reset", map[string]any{"email": "taken@example.com"}, 400, "RESET_PASSWORD_DISABLED"},
			{"verification without SMTP", "/api/auth/send-verification-email", map[string]any{"email": "taken@example.com"}, 400, "VERIFICATION_EMAIL_ISNT_ENABLED"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				expectError(t, newClient(e).do("POST", tt.path, tt.body), tt.status, tt.code)
			})
		}
		// A trusted callbackURL is echoed back.
		res := newClient(e).do("POST", "/api/auth/sign-in/email", map[string]any{"email": "taken@example.com", "password": password, "callbackURL": "/dashboard"})
		expectStatus(t, res, 200)
		var out map[string]any
		res.JSON(t, &out)
		if out["redirect"] != true || out["url"] != "/dashboard" {
			t.Fatalf("callback sign-in %s", res.Body)
		}
		if strings.Contains(e.Logs.String(), password) {
			t.Fatal("a password reached the logs")
		}
	})
}

func TestOriginCheck(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		owner := newClient(e)
		owner.signUp(t, "origin@example.com")
		tests := []struct {
			name    string
			headers []string
			status  int
			code    string
		}{
			{"trusted Origin", []string{"Origin", appOrigin}, 200, ""},
			{"second trusted origin", []string{"Origin", "http://localhost:5173"}, 200, ""},
			{"untrusted Origin", []string{"Origin", "https://evil.example"}, 403, "INVALID_ORIGIN"},
			{"null Origin, no Referer", []string{"Origin", "null"}, 403, "MISSING_OR_NULL_ORIGIN"},
			{"no Origin, no Referer", []string{"Origin", ""}, 403, "MISSING_OR_NULL_ORIGIN"},
			{"no Origin, trusted Referer", []string{"Origin", "", "Referer", appOrigin + "/settings?tab=1"}, 200, ""},
			{"no Origin, untrusted Referer", []string{"Origin", "", "Referer", "https://evil.example/page"}, 403, "INVALID_ORIGIN"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := newClient(e)
				c.signIn(t, "origin@example.com", password)
				h := []string{"Cookie", c.cookie}
				for i := 0; i+1 < len(tt.headers); i += 2 {
					if tt.headers[i+1] != "" {
						h = append(h, tt.headers[i], tt.headers[i+1])
					}
				}
				res := c.do("POST", "/api/auth/sign-out", nil, h...)
				if tt.code == "" {
					expectStatus(t, res, tt.status)
					return
				}
				expectError(t, res, tt.status, tt.code)
			})
		}
		// Without cookies there is nothing to forge: a cross-origin sign-in is answered.
		expectStatus(t, newClient(e).do("POST", "/api/auth/sign-in/email", map[string]any{"email": "origin@example.com", "password": password},
			"Origin", "https://evil.example"), 200)
		// GET requests are not checked.
		expectStatus(t, owner.do("GET", "/api/auth/get-session", nil, "Origin", "https://evil.example"), 200)
	})
}

func TestAuthRateLimits(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		newClient(e).signUp(t, "limited@example.com")
		c := newClient(e)
		for i := 1; i <= 3; i++ {
			res := c.signIn(t, "limited@example.com", "wrong-password")
			expectError(t, res, 401, "INVALID_EMAIL_OR_PASSWORD")
			if got, want := res.Header.Get("RateLimit"), "limit=3, remaining="+string(rune('0'+3-i)); !strings.HasPrefix(got, want) {
				t.Fatalf("request %d: RateLimit %q, want prefix %q", i, got, want)
			}
			if res.Header.Get("RateLimit-Policy") != "3;w=10" {
				t.Fatalf("RateLimit-Policy %q", res.Header.Get("RateLimit-Policy"))
			}
		}
		res := c.signIn(t, "limited@example.com", password)
		expectError(t, res, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		// Another address, and another endpoint for the same address, have their own budgets.
		expectStatus(t, newClient(e).signIn(t, "limited@example.com", password), 200)
		res = c.do("GET", "/api/auth/get-session", nil)
		expectStatus(t, res, 200)
		if !strings.HasPrefix(res.Header.Get("RateLimit"), "limit=100,") {
			t.Fatalf("get-session RateLimit %q", res.Header.Get("RateLimit"))
		}
	})
}

func TestSessionRenewalAndExpiry(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		c := newClient(e)
		u := c.signUp(t, "renew@example.com")
		s := c.getSession(t)

		// Fresh sessions are not renewed on use.
		res := c.do("GET", "/api/auth/get-session", nil)
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatalf("fresh session re-sent its cookie: %q", res.Header.Get("Set-Cookie"))
		}
		// Last renewed 25 h ago (expires in 7 d - 25 h): renewed to 7 d, cookie sent again.
		old := isotime.From(time.Now().Add(7*24*time.Hour - 25*time.Hour))
		if _, err := e.DB.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, old, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		res = c.do("GET", "/api/auth/get-session?disableRefresh=true", nil)
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatal("disableRefresh renewed the session")
		}
		res = c.do("GET", "/api/auth/get-session", nil)
		var renewed sessionBody
		res.JSON(t, &renewed)
		exp, _ := isotime.Parse(renewed.Session.ExpiresAt)
		if time.Until(exp.Time) < 7*24*time.Hour-time.Minute || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=604800") {
			t.Fatalf("not renewed: %s / %q", renewed.Session.ExpiresAt, res.Header.Get("Set-Cookie"))
		}
		// The pipeline strategy renews too.
		if _, err := e.DB.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, old, s.Session.ID); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, c.do("GET", "/api/orgs", nil), 200)
		var stored isotime.Time
		_ = e.DB.QueryRowContext(ctx, `SELECT expires_at FROM sessions WHERE id = ?`, s.Session.ID).Scan(&stored)
		if time.Until(stored.Time) < 7*24*time.Hour-time.Minute {
			t.Fatalf("strategy did not renew: %v", stored)
		}

		// Expired: no session anywhere, the row is gone and the stale cookie is cleared.
		if _, err := e.DB.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, isotime.From(time.Now().Add(-time.Second)), s.Session.ID); err != nil {
			t.Fatal(err)
		}
		cookie := c.cookie
		expectStatus(t, c.do("GET", "/api/orgs", nil), 401)
		c.cookie = cookie
		res = c.do("GET", "/api/auth/get-session", nil)
		if strings.TrimSpace(string(res.Body)) != "null" || !strings.Contains(res.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("expired session: %s / %q", res.Body, res.Header.Get("Set-Cookie"))
		}
		var n int
		_ = e.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE user_id = ?`, u.ID).Scan(&n)
		if n != 0 {
			t.Fatalf("%d sessions left", n)
		}
	})
}

func TestRememberMeFalse(t *testing.T) {
	apptest.Run(t, baseEnv(), func(t *testing.T, e *apptest.Env) {
		newClient(e).signUp(t, "brief@example.com")
		c := newClient(e)
		res := c.do("POST", "/api/auth/sign-in/email", map[string]any{"email": "brief@example.com", "password": password, "rememberMe": false})
		expectStatus(t, res, 200)
		var session, dontRemember string
		for _, line := range res.Header.Values("Set-Cookie") {
			switch {
			case strings.HasPrefix(line, "better-auth.session_token="):
				session = line
			case strings.HasPrefix(line, "better-auth.dont_remember="):
				dontRemember = line
			}
		}
		if session == "" || strings.Contains(session, "Max-Age") || dontRemember == "" {
			t.Fatalf("cookies %q", res.Header.Values("Set-Cookie"))
		}
		s := c.getSession(t)
		exp, _ := isotime.Parse(s.Session.ExpiresAt)
		if d := time.Until(exp.Time); d > 24*time.Hour || d < 23*time.Hour {
			t.Fatalf("rememberMe=false session lasts %v", d)
		}
	})
}
