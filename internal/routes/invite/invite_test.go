package invite_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/tenancy"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type fixture struct {
	owner, outsider string
	org             string
}

func seed(t *testing.T, e *apptest.Env) fixture {
	t.Helper()
	var f fixture
	f.owner = e.SeedUser("owner@acme.test")
	f.outsider = e.SeedUser("outsider@example.test")
	f.org, _ = e.SeedOrg(f.owner, "acme")
	return f
}

// invite inserts a pending invitation of email to orgID sent by owner and returns its token.
func invite(t *testing.T, e *apptest.Env, owner, orgID, email, role string) string {
	t.Helper()
	tok, now := tenancy.NewInvitationToken(), isotime.Now()
	_, err := e.DB.ExecContext(context.Background(), `INSERT INTO org_invitations (id, token, email, org_id, role, status, invited_by, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`, ids.UUID(), tok, email, orgID, role, owner, isotime.From(now.Add(tenancy.InvitationTTL)), now)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	return tok
}

func scalar(t *testing.T, e *apptest.Env, query string, args ...any) string {
	t.Helper()
	var v string
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func count(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func expect(t *testing.T, res *apptest.Response, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if code != "" {
		if p := res.Problem(t); p.Code != code {
			t.Fatalf("code %q, want %q: %s", p.Code, code, res.Body)
		}
	}
}

// sessionFor signs userID in and returns the Cookie header of that session.
func sessionFor(t *testing.T, e *apptest.Env, userID string) http.Header {
	t.Helper()
	s, err := e.App.Accounts.StartSession(context.Background(), userID, "127.0.0.1", "test")
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	c := e.App.Accounts.SessionCookie(s)
	return apptest.Headers("Cookie", c.Name+"="+c.Value)
}

func setStatus(t *testing.T, e *apptest.Env, token, status string, expiresIn time.Duration) {
	t.Helper()
	_, err := e.DB.ExecContext(context.Background(), `UPDATE org_invitations SET status = ?, expires_at = ? WHERE token = ?`,
		status, isotime.From(time.Now().Add(expiresIn)), token)
	if err != nil {
		t.Fatal(err)
	}
}

type info struct {
	Email       string  `json:"email"`
	OrgName     string  `json:"orgName"`
	Role        string  `json:"role"`
	InviterName *string `json:"inviterName"`
	ExpiresAt   string  `json:"expiresAt"`
	IsNewUser   bool    `json:"isNewUser"`
}

func TestInvitationInfo(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := seed(t, e)
		fresh := invite(t, e, f.owner, f.org, "new@acme.test", "member")
		existing := invite(t, e, f.owner, f.org, "outsider@example.test", "admin")
		cancelled := invite(t, e, f.owner, f.org, "c@acme.test", "member")
		setStatus(t, e, cancelled, "cancelled", time.Hour)
		accepted := invite(t, e, f.owner, f.org, "a@acme.test", "member")
		setStatus(t, e, accepted, "accepted", time.Hour)
		expiredByTime := invite(t, e, f.owner, f.org, "t@acme.test", "member")
		setStatus(t, e, expiredByTime, "pending", -time.Minute)
		expiredByStatus := invite(t, e, f.owner, f.org, "s@acme.test", "member")
		setStatus(t, e, expiredByStatus, "expired", time.Hour)
		cases := []struct {
			name   string
			token  string
			status int
			code   string
		}{
			{"new user", fresh, 200, ""},
			{"existing user", existing, 200, ""},
			{"malformed token", "not-a-token", 404, "invitation_not_found"},
			{"uppercase token", strings.ToUpper(fresh), 404, "invitation_not_found"},
			{"unknown token", strings.Repeat("ab", 32), 404, "invitation_not_found"},
			{"cancelled", cancelled, 410, "invitation_cancelled"},
			{"accepted", accepted, 410, "invitation_accepted"},
			{"past its expiry", expiredByTime, 410, "invitation_expired"},
			{"marked expired", expiredByStatus, 410, "invitation_expired"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "GET", Path: "/invite/" + tc.token + "/info"})
				expect(t, res, tc.status, tc.code)
				if res.Header.Get("RateLimit-Policy") != "30;w=60" {
					t.Fatalf("rate limit headers: %v", res.Header)
				}
			})
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/invite/" + fresh + "/info"})
		var got info
		res.JSON(t, &got)
		if got.Email != "new@acme.test" || got.OrgName != "acme" || got.Role != "member" || !got.IsNewUser ||
			got.InviterName == nil || *got.InviterName != "owner" || got.ExpiresAt == "" {
			t.Fatalf("info %s", res.Body)
		}
		exp, err := isotime.Parse(got.ExpiresAt)
		if err != nil || time.Until(exp.Time) < 6*24*time.Hour || time.Until(exp.Time) > 7*24*time.Hour {
			t.Fatalf("expiresAt %s (%v): not 7 days ahead", got.ExpiresAt, err)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/invite/" + existing + "/info"})
		res.JSON(t, &got)
		if got.IsNewUser || got.Role != "admin" {
			t.Fatalf("existing user info %s", res.Body)
		}
	})
}

type acceptResult struct {
	Success       bool   `json:"success"`
	IsNewUser     bool   `json:"isNewUser"`
	OrgID         string `json:"orgId"`
	RequiresLogin *bool  `json:"requiresLogin"`
}

func TestAcceptNewUser(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := seed(t, e)
		tok := invite(t, e, f.owner, f.org, "new@acme.test", "member")
		path := "/invite/" + tok + "/accept"
		for _, tc := range []struct {
			name string
			body any
			code string
		}{
			{"no body", nil, "validation_failed"},
			{"no password", map[string]string{"displayName": "Newbie"}, "validation_failed"},
			{"short password", map[string]string{"password": "short"}, "validation_failed"},
			{"unknown field", map[string]string{"password": "long enough", "email": "x@y.test"}, "validation_failed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				expect(t, e.Do(apptest.Request{Method: "POST", Path: path, Body: tc.body}), 400, tc.code)
			})
		}
		if n := count(t, e, `SELECT COUNT(*) FROM users WHERE email = 'new@acme.test'`); n != 0 {
			t.Fatal("account created by a refused request")
		}

		// A session of somebody else is irrelevant for a new account: the invitation creates it.
		res := e.Do(apptest.Request{Method: "POST", Path: path, Body: map[string]string{"password": "correct horse", "displayName": "Newbie"},
			Headers: sessionFor(t, e, f.outsider)})
		expect(t, res, 200, "")
		var got acceptResult
		res.JSON(t, &got)
		if !got.Success || !got.IsNewUser || got.OrgID != f.org || got.RequiresLogin != nil {
			t.Fatalf("accept %s", res.Body)
		}
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: res.Header}).Cookies() {
			if strings.HasSuffix(c.Name, "better-auth.session_token") && c.Value != "" {
				cookie = c
			}
		}
		if cookie == nil {
			t.Fatalf("no session cookie: %v", res.Header)
		}
		userID := scalar(t, e, `SELECT id FROM users WHERE email = 'new@acme.test'`)
		if v := scalar(t, e, `SELECT name FROM users WHERE id = ?`, userID); v != "Newbie" {
			t.Fatalf("name %q", v)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM users WHERE id = ? AND email_verified = ?`, userID, true); n != 1 {
			t.Fatal("account not verified")
		}
		if r := scalar(t, e, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, f.org, userID); r != "member" {
			t.Fatalf("role %q", r)
		}
		if s := scalar(t, e, `SELECT status FROM org_invitations WHERE token = ?`, tok) + " " +
			scalar(t, e, `SELECT accepted_by FROM org_invitations WHERE token = ?`, tok); s != "accepted "+userID {
			t.Fatalf("invitation %s", s)
		}

		// The cookie authenticates the dashboard API.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/orgs", Headers: apptest.Headers("Cookie", cookie.Name+"="+cookie.Value)})
		expect(t, res, 200, "")
		if !strings.Contains(string(res.Body), `"id":"`+f.org+`"`) || !strings.Contains(string(res.Body), `"role":"member"`) {
			t.Fatalf("orgs with the new session: %s", res.Body)
		}

		// The token is single-use.
		res = e.Do(apptest.Request{Method: "POST", Path: path, Body: map[string]string{"password": "another one"}})
		expect(t, res, 410, "invitation_accepted")
		expect(t, e.Do(apptest.Request{Method: "GET", Path: "/invite/" + tok + "/info"}), 410, "invitation_accepted")
	})
}

func TestAcceptExistingUser(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := seed(t, e)
		tok := invite(t, e, f.owner, f.org, "outsider@example.test", "admin")
		path := "/invite/" + tok + "/accept"
		stranger := e.SeedUser("stranger@example.test")

		// Without a session: sign in first; nothing changes.
		res := e.Do(apptest.Request{Method: "POST", Path: path})
		expect(t, res, 200, "")
		var got acceptResult
		res.JSON(t, &got)
		if !got.Success || got.IsNewUser || got.OrgID != f.org || got.RequiresLogin == nil || !*got.RequiresLogin {
			t.Fatalf("no session: %s", res.Body)
		}
		if res.Header.Get("Set-Cookie") != "" {
			t.Fatal("cookie set without creating an account")
		}
		if n := count(t, e, `SELECT COUNT(*) FROM org_members WHERE org_id = ? AND user_id = ?`, f.org, f.outsider); n != 0 {
			t.Fatal("joined without a session")
		}
		// A password does not let anyone take over the existing account.
		res = e.Do(apptest.Request{Method: "POST", Path: path, Body: map[string]string{"password": "attacker password"}})
		res.JSON(t, &got)
		if res.Status != 200 || got.RequiresLogin == nil || !*got.RequiresLogin {
			t.Fatalf("password for an existing account: %s", res.Body)
		}
		// A session of another user: refused.
		expect(t, e.Do(apptest.Request{Method: "POST", Path: path, Headers: sessionFor(t, e, stranger)}), 403, "email_mismatch")
		// An invalid cookie counts as no session.
		res = e.Do(apptest.Request{Method: "POST", Path: path, Headers: apptest.Headers("Cookie", "better-auth.session_token=garbage")})
		res.JSON(t, &got)
		if res.Status != 200 || got.RequiresLogin == nil || !*got.RequiresLogin {
			t.Fatalf("invalid cookie: %s", res.Body)
		}
		if s := scalar(t, e, `SELECT status FROM org_invitations WHERE token = ?`, tok); s != "pending" {
			t.Fatalf("status %s", s)
		}

		// The invited user's own session: joins.
		res = e.Do(apptest.Request{Method: "POST", Path: path, Headers: sessionFor(t, e, f.outsider)})
		expect(t, res, 200, "")
		res.JSON(t, &got)
		if !got.Success || got.IsNewUser || got.RequiresLogin == nil || *got.RequiresLogin {
			t.Fatalf("with session: %s", res.Body)
		}
		if r := scalar(t, e, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, f.org, f.outsider); r != "admin" {
			t.Fatalf("role %q", r)
		}
		expect(t, e.Do(apptest.Request{Method: "POST", Path: path, Headers: sessionFor(t, e, f.outsider)}), 410, "invitation_accepted")
	})
}

func TestAcceptUnusable(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := seed(t, e)
		expired := invite(t, e, f.owner, f.org, "late@acme.test", "member")
		setStatus(t, e, expired, "pending", -time.Second)
		cancelled := invite(t, e, f.owner, f.org, "gone@acme.test", "member")
		setStatus(t, e, cancelled, "cancelled", time.Hour)
		body := map[string]string{"password": "correct horse"}
		expect(t, e.Do(apptest.Request{Method: "POST", Path: "/invite/" + expired + "/accept", Body: body}), 410, "invitation_expired")
		expect(t, e.Do(apptest.Request{Method: "POST", Path: "/invite/" + cancelled + "/accept", Body: body}), 410, "invitation_cancelled")
		expect(t, e.Do(apptest.Request{Method: "POST", Path: "/invite/" + strings.Repeat("0", 64) + "/accept", Body: body}), 404, "invitation_not_found")
		expect(t, e.Do(apptest.Request{Method: "POST", Path: "/invite/x/accept", Body: body}), 404, "invitation_not_found")
		if n := count(t, e, `SELECT COUNT(*) FROM users WHERE email IN ('late@acme.test', 'gone@acme.test')`); n != 0 {
			t.Fatal("accounts created from unusable invitations")
		}
	})
}

func TestInvitationRateLimit(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		// Guessing tokens (each a different path) draws from one per-IP budget shared by both routes.
		for i := range 30 {
			path := "/invite/" + strings.Repeat("0", 62) + string(rune('a'+i%6)) + string(rune('a'+i/6)) + "/info"
			if i%2 == 1 {
				path = strings.Replace(path, "/info", "/accept", 1)
			}
			method := map[bool]string{true: "POST", false: "GET"}[i%2 == 1]
			if res := e.Do(apptest.Request{Method: method, Path: path}); res.Status != 404 {
				t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
			}
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/invite/" + strings.Repeat("1", 64) + "/info"})
		expect(t, res, 429, "rate_limited")
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
}

func TestHasPendingInvitation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := seed(t, e)
		ctx := context.Background()
		tok := invite(t, e, f.owner, f.org, "new@acme.test", "member")
		for _, tc := range []struct {
			name, status string
			expiresIn    time.Duration
			want         bool
		}{
			{"pending", "pending", time.Hour, true},
			{"past its expiry", "pending", -time.Second, false},
			{"cancelled", "cancelled", time.Hour, false},
			{"accepted", "accepted", time.Hour, false},
		} {
			setStatus(t, e, tok, tc.status, tc.expiresIn)
			for _, email := range []string{"new@acme.test", " NEW@Acme.test"} {
				got, err := e.App.Orgs.HasPendingInvitation(ctx, email)
				if err != nil || got != tc.want {
					t.Fatalf("%s %q: %v %v", tc.name, email, got, err)
				}
			}
		}
		if got, _ := e.App.Orgs.HasPendingInvitation(ctx, "someone@else.test"); got {
			t.Fatal("pending invitation for an uninvited email")
		}
	})
}
