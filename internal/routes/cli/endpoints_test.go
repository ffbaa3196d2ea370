package cli_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestDeviceCodeRequests(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		c := oidctest.NewClient(e)
		// A disabled client (created by the first request).
		c.RequestCode()
		if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO oauth_clients (id, client_id, name, disabled, public, grant_types, scopes,
			level, created_at, updated_at) SELECT 'oac_off', 'off-client', 'Off', ?, ?, grant_types, scopes, level, created_at, updated_at
			FROM oauth_clients WHERE client_id = 'appstrate-cli'`, true, true); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name        string
			body        any
			contentType string
			status      int
			err         string
		}{
			{"form", oidctest.Form("client_id", "appstrate-cli"), "", 200, ""},
			{"JSON", map[string]string{"client_id": "appstrate-cli", "scope": "openid"}, "application/json", 200, ""},
			{"JSON without content type", `{"client_id":"appstrate-cli"}`, "text/plain", 200, ""},
			{"unknown client", oidctest.Form("client_id", "nope"), "", 400, "invalid_client"},
			{"disabled client", oidctest.Form("client_id", "off-client"), "", 400, "invalid_client"},
			{"missing client", oidctest.Form("scope", "openid"), "", 400, "invalid_client"},
			{"malformed JSON", `{"client_id":`, "application/json", 400, "invalid_request"},
			{"non-string member", `{"client_id":42}`, "application/json", 400, "invalid_request"},
			{"repeated parameter", "client_id=appstrate-cli&client_id=x", "", 400, "invalid_request"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := oidctest.NewClient(e)
				var kv []string
				if tt.contentType != "" {
					kv = []string{"Content-Type", tt.contentType}
				}
				res := c.Do("POST", "/api/auth/device/code", tt.body, kv...)
				if res.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
				}
				var body struct{ Error, UserCode string }
				res.JSON(t, &body)
				if body.Error != tt.err {
					t.Fatalf("error %q, want %q: %s", body.Error, tt.err, res.Body)
				}
			})
		}
	})
}

func TestDeviceCodeRateLimit(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		c := oidctest.NewClient(e)
		for i := range 10 {
			if res := c.Do("POST", "/api/auth/device/code", oidctest.Form("client_id", "appstrate-cli")); res.Status != 200 {
				t.Fatalf("request %d: %d", i+1, res.Status)
			}
		}
		res := c.Do("POST", "/api/auth/device/code", oidctest.Form("client_id", "appstrate-cli"))
		if res.Status != http.StatusTooManyRequests || res.Problem(t).Code != "rate_limited" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("11th request in a minute: %d %s", res.Status, res.Body)
		}
		if res := oidctest.NewClient(e).Do("POST", "/api/auth/device/code", oidctest.Form("client_id", "appstrate-cli")); res.Status != 200 {
			t.Fatalf("another IP: %d", res.Status)
		}
	})
}

func TestTokenErrors(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, browser := oidctest.NewClient(e), oidctest.NewClient(e)
		uid := e.SeedUser("ada@example.com")
		browser.SignIn(uid)
		const grant = "urn:ietf:params:oauth:grant-type:device_code"

		expired := cli.RequestCode()
		// Just expired: requests for new codes only sweep codes expired for over a minute.
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE device_codes SET expires_at = ? WHERE user_code = ?`,
			isotime.From(time.Now().Add(-10*time.Second)), expired.UserCode); err != nil {
			t.Fatal(err)
		}
		denied := cli.RequestCode()
		if res := browser.Answer(denied.UserCode, false); res.Status != 200 || !strings.Contains(string(res.Body), "Accès refusé") {
			t.Fatalf("deny: %d %s", res.Status, res.Body)
		}
		expiredRefresh := oidctest.Login(t, cli, browser, "old")
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE cli_refresh_tokens SET expires_at = ?`, isotime.From(time.Now().Add(-time.Second))); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name   string
			form   string
			status int
			err    string
		}{
			{"unknown client", oidctest.Form("grant_type", grant, "device_code", "x", "client_id", "nope"), 401, "invalid_client"},
			{"missing client", oidctest.Form("grant_type", grant, "device_code", "x"), 401, "invalid_client"},
			{"missing grant type", oidctest.Form("client_id", "appstrate-cli"), 400, "invalid_request"},
			{"unsupported grant type", oidctest.Form("grant_type", "password", "client_id", "appstrate-cli"), 400, "unsupported_grant_type"},
			{"missing device code", oidctest.Form("grant_type", grant, "client_id", "appstrate-cli"), 400, "invalid_request"},
			{"unknown device code", oidctest.Form("grant_type", grant, "device_code", "nope", "client_id", "appstrate-cli"), 400, "invalid_grant"},
			{"expired device code", oidctest.Form("grant_type", grant, "device_code", expired.DeviceCode, "client_id", "appstrate-cli"), 400, "expired_token"},
			{"expired code is deleted", oidctest.Form("grant_type", grant, "device_code", expired.DeviceCode, "client_id", "appstrate-cli"), 400, "invalid_grant"},
			{"denied device code", oidctest.Form("grant_type", grant, "device_code", denied.DeviceCode, "client_id", "appstrate-cli"), 400, "access_denied"},
			{"denied code is deleted", oidctest.Form("grant_type", grant, "device_code", denied.DeviceCode, "client_id", "appstrate-cli"), 400, "invalid_grant"},
			{"missing refresh token", oidctest.Form("grant_type", "refresh_token", "client_id", "appstrate-cli"), 400, "invalid_request"},
			{"unknown refresh token", oidctest.Form("grant_type", "refresh_token", "refresh_token", "nope", "client_id", "appstrate-cli"), 400, "invalid_grant"},
			{"expired refresh token", oidctest.Form("grant_type", "refresh_token", "refresh_token", expiredRefresh.RefreshToken, "client_id", "appstrate-cli"), 400, "invalid_grant"},
			{"malformed body", "%zz", 400, "invalid_request"},
		}
		for _, tt := range tests {
			tok := cli.Token(tt.form)
			if tok.Status != tt.status || tok.Error != tt.err || tok.ErrorDescription == "" {
				t.Errorf("%s: %d %+v, want %d %s", tt.name, tok.Status, tok, tt.status, tt.err)
			}
		}
		// JSON bodies work as well as forms.
		dc := cli.RequestCode()
		oidctest.AllowPoll(e, dc.UserCode)
		res := cli.Do("POST", "/api/auth/cli/token", map[string]string{"grant_type": grant, "device_code": dc.DeviceCode, "client_id": "appstrate-cli"})
		if res.Status != 400 || !strings.Contains(string(res.Body), `"error":"authorization_pending"`) || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("JSON poll: %d %s", res.Status, res.Body)
		}
	})
}

func TestRevokeEndpoint(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, browser := oidctest.NewClient(e), oidctest.NewClient(e)
		uid := e.SeedUser("ada@example.com")
		orgID, _ := e.SeedOrg(uid, "acme")
		browser.SignIn(uid)
		tok := oidctest.Login(t, cli, browser, "laptop")
		for _, body := range []string{
			oidctest.Form("token", "garbage", "client_id", "appstrate-cli"),
			oidctest.Form("token", tok.RefreshToken, "client_id", "other-client"), // not its client: ignored
			oidctest.Form(),
		} {
			res := cli.Do("POST", "/api/auth/cli/revoke", body)
			if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"revoked":true}` {
				t.Fatalf("revoke %q: %d %s", body, res.Status, res.Body)
			}
		}
		if res := cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(tok.AccessToken, orgID, "")...); res.Status != 200 {
			t.Fatalf("session revoked by a foreign request: %d", res.Status)
		}
		res := cli.Do("POST", "/api/auth/cli/revoke", oidctest.Form("token", tok.RefreshToken, "client_id", "appstrate-cli"))
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"revoked":true}` {
			t.Fatalf("revoke: %d %s", res.Status, res.Body)
		}
		if r := cli.Refresh(tok.RefreshToken); r.Error != "invalid_grant" {
			t.Fatalf("refresh after logout: %+v", r)
		}
		if res := cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(tok.AccessToken, orgID, "")...); res.Status != 401 {
			t.Fatalf("access token after logout: %d", res.Status)
		}
		var reason string
		_ = e.DB.QueryRowContext(context.Background(), `SELECT revoked_reason FROM cli_refresh_tokens LIMIT 1`).Scan(&reason)
		if reason != "logout" {
			t.Fatalf("revoked_reason = %q", reason)
		}
	})
}

func TestMySessions(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli := oidctest.NewClient(e)
		ada, bob := oidctest.NewClient(e), oidctest.NewClient(e)
		adaID, bobID := e.SeedUser("ada@example.com"), e.SeedUser("bob@example.com")
		ada.SignIn(adaID)
		bob.SignIn(bobID)
		first := oidctest.Login(t, cli, ada, "laptop")
		second := oidctest.Login(t, cli, ada, "desktop")
		bobs := oidctest.Login(t, cli, bob, "bob-laptop")
		origin := []string{"Origin", e.Config.AppURL}

		list := func(c *oidctest.Client) []map[string]any {
			t.Helper()
			res := c.Do("GET", "/api/auth/cli/sessions", nil)
			if res.Status != 200 {
				t.Fatalf("list: %d %s", res.Status, res.Body)
			}
			var l struct {
				Object  string
				Data    []map[string]any
				HasMore bool
			}
			res.JSON(t, &l)
			return l.Data
		}
		if got := list(ada); len(got) != 2 || got[0]["deviceName"] != "desktop" || got[1]["deviceName"] != "laptop" {
			t.Fatalf("ada's sessions (newest first): %v", got)
		}
		for _, k := range []string{"familyId", "deviceName", "userAgent", "createdIp", "lastUsedIp", "lastUsedAt", "createdAt", "expiresAt", "current"} {
			if _, ok := list(ada)[0][k]; !ok {
				t.Fatalf("session lacks %s", k)
			}
		}
		if _, ok := list(ada)[0]["userId"]; ok {
			t.Fatal("the user's own view carries userId")
		}

		// Cookie sessions only; state changes need a trusted Origin.
		anon := oidctest.NewClient(e)
		if res := anon.Do("GET", "/api/auth/cli/sessions", nil); res.Status != 401 || !strings.Contains(string(res.Body), `"code":"UNAUTHORIZED"`) {
			t.Fatalf("no session: %d %s", res.Status, res.Body)
		}
		if res := anon.Do("GET", "/api/auth/cli/sessions", nil, "Authorization", "Bearer "+first.AccessToken); res.Status != 401 {
			t.Fatalf("JWT on a cookie-only route: %d", res.Status)
		}
		familyOf := func(tok oidctest.Tokens) string { return oidctest.Claims(t, tok.AccessToken)["cli_family_id"].(string) }
		if res := ada.Do("POST", "/api/auth/cli/sessions/revoke", map[string]string{"familyId": familyOf(first)}); res.Status != 403 ||
			!strings.Contains(string(res.Body), "MISSING_OR_NULL_ORIGIN") {
			t.Fatalf("revoke without Origin: %d %s", res.Status, res.Body)
		}
		if res := ada.Do("POST", "/api/auth/cli/sessions/revoke", map[string]string{"familyId": familyOf(first)}, "Origin", "http://evil.example"); res.Status != 403 {
			t.Fatalf("revoke from another origin: %d %s", res.Status, res.Body)
		}

		revoke := func(c *oidctest.Client, family string) string {
			res := c.Do("POST", "/api/auth/cli/sessions/revoke", map[string]string{"familyId": family}, origin...)
			if res.Status != 200 {
				t.Fatalf("revoke: %d %s", res.Status, res.Body)
			}
			return strings.TrimSpace(string(res.Body))
		}
		if got := revoke(ada, familyOf(bobs)); got != `{"revoked":false}` {
			t.Fatalf("revoking another user's session: %s", got)
		}
		if got := revoke(ada, familyOf(first)); got != `{"revoked":true}` {
			t.Fatalf("revoke: %s", got)
		}
		if got := revoke(ada, familyOf(first)); got != `{"revoked":false}` {
			t.Fatalf("revoke twice: %s", got)
		}
		if res := ada.Do("POST", "/api/auth/cli/sessions/revoke", map[string]string{}, origin...); res.Status != 400 {
			t.Fatalf("revoke without familyId: %d", res.Status)
		}
		if got := list(ada); len(got) != 1 || got[0]["deviceName"] != "desktop" {
			t.Fatalf("after revoke: %v", got)
		}
		res := ada.Do("POST", "/api/auth/cli/sessions/revoke-all", nil, origin...)
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"revokedCount":1}` {
			t.Fatalf("revoke-all: %d %s", res.Status, res.Body)
		}
		if got := list(ada); len(got) != 0 {
			t.Fatalf("after revoke-all: %v", got)
		}
		if r := cli.Refresh(second.RefreshToken); r.Error != "invalid_grant" {
			t.Fatalf("refresh of a revoked session: %+v", r)
		}
		if got := list(bob); len(got) != 1 {
			t.Fatalf("bob's sessions touched: %v", got)
		}
	})
}

func TestOrgCLISessions(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli := oidctest.NewClient(e)
		owner, admin, member, outsider := e.SeedUser("owner@example.com"), e.SeedUser("admin@example.com"),
			e.SeedUser("member@example.com"), e.SeedUser("outsider@example.com")
		orgID, appID := e.SeedOrg(owner, "acme")
		e.SeedMember(orgID, admin, "admin")
		e.SeedMember(orgID, member, "member")

		memberBrowser, outsiderBrowser := oidctest.NewClient(e), oidctest.NewClient(e)
		memberBrowser.SignIn(member)
		outsiderBrowser.SignIn(outsider)
		memberTok := oidctest.Login(t, cli, memberBrowser, "member-laptop")
		oidctest.Login(t, cli, outsiderBrowser, "outsider-laptop")
		memberFamily := oidctest.Claims(t, memberTok.AccessToken)["cli_family_id"].(string)
		path := "/api/orgs/" + orgID + "/cli-sessions"

		for _, tt := range []struct {
			name    string
			headers []string
			status  int
		}{
			{"owner", asUser(owner, ""), 200},
			{"admin with X-Org-Id", asUser(admin, orgID), 200},
			{"member", asUser(member, ""), 403},
			{"outsider", asUser(outsider, ""), 403},
			{"member's own CLI token", oidctest.Bearer(memberTok.AccessToken, orgID, ""), 403},
		} {
			res := cli.Do("GET", path, nil, tt.headers...)
			if res.Status != tt.status {
				t.Fatalf("%s: %d %s", tt.name, res.Status, res.Body)
			}
			if tt.status == 403 && !strings.Contains(string(res.Body), "forbidden") {
				t.Fatalf("%s: %s", tt.name, res.Body)
			}
		}
		res := cli.Do("GET", path, nil, asUser(owner, "")...)
		var list struct {
			Object string
			Data   []map[string]any
		}
		res.JSON(t, &list)
		if list.Object != "list" || len(list.Data) != 1 || list.Data[0]["familyId"] != memberFamily ||
			list.Data[0]["userId"] != member || list.Data[0]["userEmail"] != "member@example.com" || list.Data[0]["userName"] != "member" ||
			list.Data[0]["deviceName"] != "member-laptop" {
			t.Fatalf("org sessions (members only): %s", res.Body)
		}

		// API keys never hold cli-sessions:*.
		key := createKey(t, e, owner, orgID, appID)
		if res := cli.Do("GET", path, nil, "Authorization", "Bearer "+key); res.Status != 403 {
			t.Fatalf("API key: %d %s", res.Status, res.Body)
		}

		del := path + "/" + memberFamily
		if res := cli.Do("DELETE", del, nil, asUser(member, "")...); res.Status != 403 {
			t.Fatalf("member deletes: %d", res.Status)
		}
		if res := cli.Do("DELETE", del, nil, asUser(admin, "")...); res.Status != 204 || len(res.Body) != 0 {
			t.Fatalf("admin deletes: %d %s", res.Status, res.Body)
		}
		if res := cli.Do("DELETE", del, nil, asUser(admin, "")...); res.Status != 404 {
			t.Fatalf("delete twice: %d %s", res.Status, res.Body)
		}
		if res := cli.Do("DELETE", path+"/crf_unknown", nil, asUser(owner, "")...); res.Status != 404 {
			t.Fatalf("unknown family: %d", res.Status)
		}
		if res := cli.Do("GET", "/api/orgs", nil, oidctest.Bearer(memberTok.AccessToken, orgID, "")...); res.Status != 401 {
			t.Fatalf("access token of a session revoked by an admin: %d", res.Status)
		}
		var audited int
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action = 'cli_session.revoked' AND
			resource_id = ? AND actor_id = ? AND org_id = ?`, memberFamily, admin, orgID).Scan(&audited)
		if audited != 1 {
			t.Fatalf("audit events: %d", audited)
		}
	})
}

func asUser(userID, orgID string) []string {
	kv := []string{apptest.TestUserHeader, userID}
	if orgID != "" {
		kv = append(kv, "X-Org-Id", orgID)
	}
	return kv
}

// createKey creates an API key with every grantable scope through the real route.
func createKey(t *testing.T, e *apptest.Env, userID, orgID, appID string) string {
	t.Helper()
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]string{"name": "ci"}, Headers: apptest.As(userID, orgID, appID)})
	if res.Status != 201 {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	var k struct{ Key string }
	res.JSON(t, &k)
	return k.Key
}
