package apikeys_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var rawKey = regexp.MustCompile(`^ask_[0-9a-f]{48}$`)

type created struct {
	ID        string   `json:"id"`
	Key       string   `json:"key"`
	KeyPrefix string   `json:"keyPrefix"`
	Scopes    []string `json:"scopes"`
}

type listed struct {
	APIKeys []struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		KeyPrefix     string   `json:"keyPrefix"`
		Key           *string  `json:"key"`
		Scopes        []string `json:"scopes"`
		CreatedBy     *string  `json:"createdBy"`
		CreatedByName *string  `json:"createdByName"`
		ExpiresAt     *string  `json:"expiresAt"`
		LastUsedAt    *string  `json:"lastUsedAt"`
		RevokedAt     *string  `json:"revokedAt"`
		CreatedAt     string   `json:"createdAt"`
	} `json:"apiKeys"`
}

// createKey creates a key through the API as userID in org/app and returns it.
func createKey(t *testing.T, e *apptest.Env, userID, org, app string, body map[string]any) created {
	t.Helper()
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: body, Headers: apptest.As(userID, org, app)})
	if res.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	var c created
	res.JSON(t, &c)
	return c
}

func bearer(key string, kv ...string) http.Header {
	h := apptest.Headers(kv...)
	h.Set("Authorization", "Bearer "+key)
	return h
}

func problemCode(t *testing.T, res *apptest.Response) string {
	t.Helper()
	return res.Problem(t).Code
}

// TestAPIKeyWalk follows one key through its life: created by the owner, used on end-users, isolated from
// other applications and organizations, revoked.
func TestAPIKeyWalk(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		owner := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(owner, "acme")
		otherApp := e.SeedApp(org, "Second")
		stranger := e.SeedUser("stranger@example.com")
		otherOrg, otherOrgApp := e.SeedOrg(stranger, "other")

		key := createKey(t, e, owner, org, app, map[string]any{"name": "CI"})
		if !rawKey.MatchString(key.Key) || key.KeyPrefix != key.Key[:8] || len(key.ID) != 36 {
			t.Fatalf("created key %+v", key)
		}
		if want := auth.GrantableScopes(auth.RoleOwner).Sorted(); !slices.Equal(key.Scopes, want) {
			t.Fatalf("default scopes = %v, want %v", key.Scopes, want)
		}

		// The list shows the key without its secret.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: apptest.As(owner, org, app)})
		var l listed
		res.JSON(t, &l)
		if res.Status != 200 || len(l.APIKeys) != 1 || l.APIKeys[0].ID != key.ID || l.APIKeys[0].Key != nil ||
			l.APIKeys[0].Name != "CI" || l.APIKeys[0].KeyPrefix != key.KeyPrefix || l.APIKeys[0].CreatedBy == nil ||
			*l.APIKeys[0].CreatedBy != owner || l.APIKeys[0].CreatedByName == nil || *l.APIKeys[0].CreatedByName != "owner" ||
			l.APIKeys[0].ExpiresAt != nil || l.APIKeys[0].RevokedAt != nil {
			t.Fatalf("list: %d %s", res.Status, res.Body)
		}
		if strings.Contains(string(res.Body), key.Key) {
			t.Fatal("list leaks the raw key")
		}
		// Keys of the other application are not listed there.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: apptest.As(owner, org, otherApp)})
		res.JSON(t, &l)
		if len(l.APIKeys) != 0 {
			t.Fatalf("other app lists %s", res.Body)
		}

		// The key works on its application, X-Org-Id being ignored.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key, "X-Org-Id", otherOrg)})
		if res.Status != 200 || res.Header.Get("Appstrate-Version") == "" {
			t.Fatalf("list end-users with key: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"name": "Ada", "externalId": "u-1"},
			Headers: bearer(key.Key)})
		var eu struct {
			ID            string `json:"id"`
			ApplicationID string `json:"applicationId"`
		}
		res.JSON(t, &eu)
		if res.Status != 201 || eu.ApplicationID != app {
			t.Fatalf("create end-user with key: %d %s", res.Status, res.Body)
		}
		// A header naming another application conflicts with the pinned one.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key, "X-Application-Id", otherApp)})
		if res.Status != 403 {
			t.Fatalf("foreign X-Application-Id: %d %s", res.Status, res.Body)
		}

		// Keys of another application or organization do not see it.
		appKey := createKey(t, e, owner, org, otherApp, map[string]any{"name": "other app"})
		orgKey := createKey(t, e, stranger, otherOrg, otherOrgApp, map[string]any{"name": "other org"})
		for _, k := range []string{appKey.Key, orgKey.Key} {
			if res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users/" + eu.ID, Headers: bearer(k)}); res.Status != 404 || problemCode(t, res) != "not_found" {
				t.Fatalf("foreign key reads end-user: %d %s", res.Status, res.Body)
			}
		}

		// Keys hold no api-keys:* permission: the key routes are closed to them.
		for _, r := range []apptest.Request{
			{Method: "GET", Path: "/api/api-keys"}, {Method: "GET", Path: "/api/api-keys/available-scopes"},
			{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "x"}}, {Method: "DELETE", Path: "/api/api-keys/" + key.ID},
		} {
			r.Headers = bearer(key.Key)
			if res = e.Do(r); res.Status != 403 {
				t.Fatalf("%s %s with a key: %d %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
		// API keys cannot use the profile routes.
		if res = e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: bearer(key.Key)}); res.Status != 403 {
			t.Fatalf("profile with key: %d %s", res.Status, res.Body)
		}

		// Revoke: the key stops working at once; a second revoke is a 404.
		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/" + key.ID, Headers: apptest.As(owner, org, app)}); res.Status != 204 {
			t.Fatalf("revoke: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key)})
		if p := res.Problem(t); res.Status != 401 || p.Code != "unauthorized" || p.Detail != "Invalid or expired API key" {
			t.Fatalf("revoked key: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/" + key.ID, Headers: apptest.As(owner, org, app)}); res.Status != 404 {
			t.Fatalf("second revoke: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: apptest.As(owner, org, app)})
		if res.JSON(t, &l); len(l.APIKeys) != 0 {
			t.Fatalf("revoked key still listed: %s", res.Body)
		}
		// A session revokes a key of another application of its organization, not of another organization.
		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/" + appKey.ID, Headers: apptest.As(owner, org, app)}); res.Status != 204 {
			t.Fatalf("revoke other app's key: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/" + orgKey.ID, Headers: apptest.As(owner, org, app)}); res.Status != 404 {
			t.Fatalf("revoke other org's key: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/not-a-uuid", Headers: apptest.As(owner, org, app)}); res.Status != 404 {
			t.Fatalf("revoke bad id: %d %s", res.Status, res.Body)
		}

		// Audit trail.
		var n int
		if err := e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action IN ('api_key.created', 'api_key.revoked') AND org_id = ?`, org).Scan(&n); err != nil || n != 4 {
			t.Fatalf("audit events = %d, %v", n, err)
		}

		// The raw keys never reach the logs.
		e.App.APIKeys.Wait()
		for _, k := range []string{key.Key, appKey.Key, orgKey.Key} {
			if strings.Contains(e.Logs.String(), k) || strings.Contains(e.Logs.String(), k[8:]) {
				t.Fatal("raw API key found in the logs")
			}
		}
	})
}

func TestAPIKeyCredentialShapes(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		owner := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(owner, "acme")
		key := createKey(t, e, owner, org, app, map[string]any{"name": "k"})
		tests := []struct {
			name   string
			header string
			status int
		}{
			{"canonical", "Bearer " + key.Key, 200},
			{"lowercase scheme", "bearer " + key.Key, 200},
			{"extra blanks", "  BEARER \t" + key.Key + "  ", 200},
			{"unknown key", "Bearer ask_" + strings.Repeat("0", 48), 401},
			{"uppercase hex", "Bearer " + strings.ToUpper(key.Key[:4]) + strings.ToUpper(key.Key[4:]), 401},
			{"truncated", "Bearer " + key.Key[:20], 401},
			{"trailing garbage", "Bearer " + key.Key + "x", 401},
			{"prefix only", "Bearer ask_", 401},
			{"not an API key", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig", 401}, // left to other strategies, none claims it
			{"basic scheme", "Basic " + key.Key, 401},
		}
		for _, tc := range tests {
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: apptest.Headers("Authorization", tc.header)})
			if res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
			if tc.status == 401 && strings.HasPrefix(strings.TrimSpace(tc.header), "Bearer ask_") {
				if p := res.Problem(t); p.Detail != "Invalid or expired API key" {
					t.Errorf("%s: detail %q", tc.name, p.Detail)
				}
			}
		}

		// ?token= is accepted only on realtime GETs (the SSE routes call the strategy themselves).
		for _, tc := range []struct {
			method, path string
			claimed      bool
		}{
			{"GET", "/api/realtime/runs?token=" + key.Key, true},
			{"POST", "/api/realtime/runs?token=" + key.Key, false},
			{"GET", "/api/end-users?token=" + key.Key, false},
		} {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			p, err := e.App.APIKeys.Authenticate(r)
			if err != nil || (p != nil) != tc.claimed {
				t.Errorf("%s %s: principal %v, err %v", tc.method, tc.path, p, err)
			}
			if p != nil && (p.Method != auth.MethodAPIKey || p.APIKeyID != key.ID || p.OrgID != org || p.ApplicationID != app || p.UserID != owner) {
				t.Errorf("principal %+v", p)
			}
		}
		// Without Authorization the other strategies still run: a test-user session works.
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: apptest.As(owner, org, app)}); res.Status != 200 {
			t.Fatalf("session: %d %s", res.Status, res.Body)
		}
	})
}

// TestAPIKeyPermissionsFollowCreatorRole: effective permissions = key scopes ∩ the creator's current role.
func TestAPIKeyPermissionsFollowCreatorRole(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		ctx := context.Background()
		owner := e.SeedUser("owner@example.com")
		admin := e.SeedUser("admin@example.com")
		member := e.SeedUser("member@example.com")
		org, app := e.SeedOrg(owner, "acme")
		e.SeedMember(org, admin, "admin")
		e.SeedMember(org, member, "member")

		// Members hold no api-keys:* permission.
		for _, r := range []apptest.Request{{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "m"}}, {Method: "GET", Path: "/api/api-keys"}} {
			r.Headers = apptest.As(member, org, app)
			if res := e.Do(r); res.Status != 403 || !strings.Contains(res.Problem(t).Detail, "api-keys:") {
				t.Fatalf("member %s: %d %s", r.Method, res.Status, res.Body)
			}
		}
		// available-scopes is the caller's grantable set.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys/available-scopes", Headers: apptest.As(admin, org, app)})
		var scopes struct{ Scopes []string }
		if res.JSON(t, &scopes); res.Status != 200 || !slices.Equal(scopes.Scopes, auth.GrantableScopes(auth.RoleAdmin).Sorted()) {
			t.Fatalf("available scopes: %d %s", res.Status, res.Body)
		}

		key := createKey(t, e, admin, org, app, map[string]any{"name": "admin key"})
		post := func() *apptest.Response {
			return e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{}, Headers: bearer(key.Key)})
		}
		if res := post(); res.Status != 201 {
			t.Fatalf("admin key create: %d %s", res.Status, res.Body)
		}
		// The creator is downgraded to viewer: the key keeps reading, loses writing.
		if _, err := e.DB.ExecContext(ctx, `UPDATE org_members SET role = 'viewer' WHERE org_id = ? AND user_id = ?`, org, admin); err != nil {
			t.Fatal(err)
		}
		if res := post(); res.Status != 403 || res.Problem(t).Detail != "Insufficient permissions: end-users:write required" {
			t.Fatalf("downgraded key create: %d %s", res.Status, res.Body)
		}
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key)}); res.Status != 200 {
			t.Fatalf("downgraded key read: %d %s", res.Status, res.Body)
		}
		// The creator leaves the organization: the key stops authenticating.
		if _, err := e.DB.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, org, admin); err != nil {
			t.Fatal(err)
		}
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key)}); res.Status != 401 {
			t.Fatalf("orphan key: %d %s", res.Status, res.Body)
		}

		// Requested scopes are normalised: unknown, non-grantable and duplicate ones dropped.
		narrow := createKey(t, e, owner, org, app, map[string]any{"name": "narrow",
			"scopes": []string{"end-users:read", "bogus", "api-keys:read", "org:delete", "end-users:read", "runs:read"}})
		if !slices.Equal(narrow.Scopes, []string{"end-users:read", "runs:read"}) {
			t.Fatalf("normalised scopes = %v", narrow.Scopes)
		}
		if res := e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{}, Headers: bearer(narrow.Key)}); res.Status != 403 {
			t.Fatalf("read-only key writes: %d %s", res.Status, res.Body)
		}
		empty := createKey(t, e, owner, org, app, map[string]any{"name": "empty", "scopes": []string{}})
		if !slices.Equal(empty.Scopes, auth.GrantableScopes(auth.RoleOwner).Sorted()) {
			t.Fatalf("empty scopes = %v", empty.Scopes)
		}
	})
}

func TestAPIKeyCreateValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		owner := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(owner, "acme")
		future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		tests := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"minimal", map[string]any{"name": "a"}, 201, ""},
			{"future expiry", map[string]any{"name": "a", "expiresAt": future}, 201, ""},
			{"null expiry", map[string]any{"name": "a", "expiresAt": nil}, 201, ""},
			{"past expiry", map[string]any{"name": "a", "expiresAt": past}, 400, "expiresAt"},
			{"malformed expiry", map[string]any{"name": "a", "expiresAt": "tomorrow"}, 400, "expiresAt"},
			{"missing name", map[string]any{}, 400, "name"},
			{"empty name", map[string]any{"name": ""}, 400, "name"},
			{"long name", map[string]any{"name": strings.Repeat("n", 101)}, 400, "name"},
			{"scopes not strings", map[string]any{"name": "a", "scopes": []int{1}}, 400, "scopes[0]"},
		}
		for _, tc := range tests {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: tc.body, Headers: apptest.As(owner, org, app)})
			if res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
				continue
			}
			if tc.field != "" {
				p := res.Problem(t)
				if p.Code != "validation_failed" || len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
					t.Errorf("%s: %s", tc.name, res.Body)
				}
			}
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: apptest.As(owner, org, app)})
		var l listed
		res.JSON(t, &l)
		found := false
		for _, k := range l.APIKeys {
			if k.ExpiresAt != nil {
				found = true
				if got, err := isotime.Parse(*k.ExpiresAt); err != nil || got.String() != *k.ExpiresAt {
					t.Errorf("expiresAt %q not in wire format", *k.ExpiresAt)
				}
			}
		}
		if !found {
			t.Fatalf("no key with expiresAt in %s", res.Body)
		}
	})
}

func TestAPIKeyExpiryAndLastUse(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		ctx := context.Background()
		owner := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(owner, "acme")
		key := createKey(t, e, owner, org, app, map[string]any{"name": "soon", "expiresAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)})
		keep := createKey(t, e, owner, org, app, map[string]any{"name": "forever"})

		// Using a key records last_used_at (in the background, once a minute at most).
		for range 3 {
			if res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key)}); res.Status != 200 {
				t.Fatalf("use: %d %s", res.Status, res.Body)
			}
		}
		e.App.APIKeys.Wait()
		var used isotime.Time
		if err := e.DB.QueryRowContext(ctx, `SELECT last_used_at FROM api_keys WHERE id = ?`, key.ID).Scan(&used); err != nil || used.IsZero() {
			t.Fatalf("last_used_at = %v, %v", used, err)
		}
		var l listed
		e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: apptest.As(owner, org, app)}).JSON(t, &l)
		for _, k := range l.APIKeys {
			if (k.ID == key.ID) != (k.LastUsedAt != nil) {
				t.Fatalf("lastUsedAt of %s = %v", k.Name, k.LastUsedAt)
			}
		}

		// The key expires: 401, then the start-up sweep revokes it (and only it).
		if _, err := e.DB.ExecContext(ctx, `UPDATE api_keys SET expires_at = ? WHERE id = ?`, isotime.From(time.Now().Add(-time.Minute)), key.ID); err != nil {
			t.Fatal(err)
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(key.Key)})
		if p := res.Problem(t); res.Status != 401 || p.Detail != "Invalid or expired API key" {
			t.Fatalf("expired key: %d %s", res.Status, res.Body)
		}
		n, err := e.App.APIKeys.Startup(ctx)
		if err != nil || n != 1 {
			t.Fatalf("startup revoked %d, %v", n, err)
		}
		var revoked isotime.Time
		if err := e.DB.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, key.ID).Scan(&revoked); err != nil || revoked.IsZero() {
			t.Fatalf("revoked_at = %v, %v", revoked, err)
		}
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer(keep.Key)}); res.Status != 200 {
			t.Fatalf("unexpired key: %d %s", res.Status, res.Body)
		}
	})
}

// TestImpersonation drives the Appstrate-User header through real API keys (API.md §2.5).
func TestImpersonation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		owner := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(owner, "acme")
		otherApp := e.SeedApp(org, "Second")
		key := createKey(t, e, owner, org, app, map[string]any{"name": "k"})
		otherKey := createKey(t, e, owner, org, otherApp, map[string]any{"name": "k2"})
		newEndUser := func(k, ext string) string {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"externalId": ext}, Headers: bearer(k)})
			var eu struct{ ID string }
			if res.JSON(t, &eu); res.Status != 201 {
				t.Fatalf("create: %d %s", res.Status, res.Body)
			}
			return eu.ID
		}
		alice, bob := newEndUser(key.Key, "alice"), newEndUser(key.Key, "bob")
		foreign := newEndUser(otherKey.Key, "carol")

		tests := []struct {
			name    string
			headers http.Header
			status  int
			code    string
		}{
			{"not an end-user id", bearer(key.Key, "Appstrate-User", "user_123"), 400, "invalid_end_user_id"},
			{"bare uuid", bearer(key.Key, "Appstrate-User", alice[3:]), 400, "invalid_end_user_id"},
			{"end-user of another app", bearer(key.Key, "Appstrate-User", foreign), 403, "invalid_end_user"},
			{"unknown end-user", bearer(key.Key, "Appstrate-User", "eu_00000000-0000-4000-8000-000000000000"), 403, "invalid_end_user"},
			{"session with the header", func() http.Header { h := apptest.As(owner, org, app); h.Set("Appstrate-User", alice); return h }(), 400, "header_not_allowed"},
		}
		for _, tc := range tests {
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: tc.headers})
			if res.Status != tc.status || problemCode(t, res) != tc.code {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
		}

		// Acting as alice: the request succeeds and the principal carries alice, who sees only herself.
		as := bearer(key.Key, "Appstrate-User", alice)
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: as})
		var list struct {
			Data []struct{ ID string }
		}
		if res.JSON(t, &list); res.Status != 200 || len(list.Data) != 1 || list.Data[0].ID != alice {
			t.Fatalf("impersonated list: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users/" + alice, Headers: as}); res.Status != 200 {
			t.Fatalf("impersonated self: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users/" + bob, Headers: as}); res.Status != 404 {
			t.Fatalf("impersonated other: %d %s", res.Status, res.Body)
		}
		for _, r := range []apptest.Request{
			{Method: "POST", Path: "/api/end-users", Body: map[string]any{}},
			{Method: "PATCH", Path: "/api/end-users/" + alice, Body: map[string]any{"name": "x"}},
			{Method: "DELETE", Path: "/api/end-users/" + bob},
		} {
			r.Headers = as
			if res = e.Do(r); res.Status != 403 {
				t.Errorf("impersonated %s: %d %s", r.Method, res.Status, res.Body)
			}
		}

	})
}
