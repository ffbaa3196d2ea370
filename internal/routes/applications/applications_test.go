package applications_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type application struct {
	Object    string          `json:"object"`
	ID        string          `json:"id"`
	OrgID     string          `json:"orgId"`
	Name      string          `json:"name"`
	IsDefault bool            `json:"isDefault"`
	Settings  json.RawMessage `json:"settings"`
	CreatedBy *string         `json:"createdBy"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
}

type appList struct {
	Object  string        `json:"object"`
	Data    []application `json:"data"`
	HasMore bool          `json:"hasMore"`
}

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

type world struct {
	owner, admin, member, viewer  string
	acme, acmeDefault, acmeSecond string
	rival, other, otherDefault    string
}

func seedWorld(t *testing.T, e *apptest.Env) world {
	t.Helper()
	var w world
	w.owner = e.SeedUser("owner@acme.test")
	w.admin = e.SeedUser("admin@acme.test")
	w.member = e.SeedUser("member@acme.test")
	w.viewer = e.SeedUser("viewer@acme.test")
	w.acme, w.acmeDefault = e.SeedOrg(w.owner, "acme")
	e.SeedMember(w.acme, w.admin, "admin")
	e.SeedMember(w.acme, w.member, "member")
	e.SeedMember(w.acme, w.viewer, "viewer")
	w.acmeSecond = e.SeedApp(w.acme, "Second")
	w.rival = e.SeedUser("rival@other.test")
	w.other, w.otherDefault = e.SeedOrg(w.rival, "other")
	e.SeedApp(w.other, "Other second")
	return w
}

// seedKey inserts an API key and returns headers authenticating with it.
func seedKey(t *testing.T, e *apptest.Env, orgID, appID, userID string, scopes ...string) http.Header {
	t.Helper()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	raw := "ask_" + hex.EncodeToString(b)
	if scopes == nil {
		scopes = []string{}
	}
	js, _ := json.Marshal(scopes)
	_, err := e.DB.ExecContext(context.Background(), `INSERT INTO api_keys (id, org_id, application_id, name, key_hash, key_prefix, scopes, created_by, created_at)
		VALUES (?, ?, ?, 'test', ?, ?, ?, ?, ?)`, ids.UUID(), orgID, appID, auth.HashAPIKey(raw), raw[:8], string(js), userID, isotime.Now())
	if err != nil {
		t.Fatalf("seed key: %v", err)
	}
	return apptest.Headers("Authorization", "Bearer "+raw)
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

func count(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestListApplications(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		time.Sleep(2 * time.Millisecond) // a later creation time than the second app, whose order it checks
		third := e.SeedApp(w.acme, "Third")
		key := seedKey(t, e, w.acme, w.acmeSecond, w.owner, "applications:read")
		cases := []struct {
			name    string
			headers http.Header
			status  int
			code    string
			want    []string
		}{
			{"owner: default first then by creation", apptest.As(w.owner, w.acme, ""), 200, "", []string{w.acmeDefault, w.acmeSecond, third}},
			{"viewer: same list", apptest.As(w.viewer, w.acme, ""), 200, "", []string{w.acmeDefault, w.acmeSecond, third}},
			{"other org: its own apps only", apptest.As(w.rival, w.other, ""), 200, "", nil},
			{"API key: only its application", key, 200, "", []string{w.acmeSecond}},
			{"missing X-Org-Id", apptest.As(w.owner, "", ""), 400, "invalid_request", nil},
			{"foreign X-Org-Id", apptest.As(w.owner, w.other, ""), 403, "forbidden", nil},
			{"anonymous", nil, 401, "unauthorized", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "GET", Path: "/api/applications", Headers: tc.headers})
				expect(t, res, tc.status, tc.code)
				if tc.status != 200 {
					return
				}
				var l appList
				res.JSON(t, &l)
				if l.Object != "list" || l.HasMore {
					t.Fatalf("envelope %s", res.Body)
				}
				var got []string
				for _, a := range l.Data {
					if a.Object != "application" || !ids.Valid(a.ID, ids.App) || !timestamp.MatchString(a.CreatedAt) || len(a.Settings) == 0 {
						t.Fatalf("item %+v", a)
					}
					if tc.want == nil && a.OrgID != w.other {
						t.Fatalf("foreign application listed: %+v", a)
					}
					got = append(got, a.ID)
				}
				if tc.want != nil && fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("ids %v, want %v", got, tc.want)
				}
				if tc.want == nil && (len(got) != 2 || got[0] != w.otherDefault) {
					t.Fatalf("other org list %v", got)
				}
			})
		}
	})
}

func TestCreateApplication(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		key := seedKey(t, e, w.acme, w.acmeDefault, w.owner, "applications:read", "applications:write")
		domains := make([]string, 21)
		for i := range domains {
			domains[i] = fmt.Sprintf("d%d.example.test", i)
		}
		cases := []struct {
			name     string
			headers  http.Header
			body     any
			status   int
			code     string
			settings string
		}{
			{"admin creates", apptest.As(w.admin, w.acme, ""), map[string]any{"name": "Portal"}, 201, "", `{}`},
			{"with redirect domains", apptest.As(w.owner, w.acme, ""), map[string]any{"name": "Web", "settings": map[string]any{"allowedRedirectDomains": []string{"App.Example.test", "app.example.test", "b.test"}}}, 201, "", `{"allowedRedirectDomains":["app.example.test","b.test"]}`},
			{"empty settings", apptest.As(w.owner, w.acme, ""), map[string]any{"name": "Bare", "settings": map[string]any{}}, 201, "", `{}`},
			{"member lacks applications:write", apptest.As(w.member, w.acme, ""), map[string]any{"name": "X"}, 403, "forbidden", ""},
			{"viewer lacks applications:write", apptest.As(w.viewer, w.acme, ""), map[string]any{"name": "X"}, 403, "forbidden", ""},
			{"API key refused even with the scope", key, map[string]any{"name": "X"}, 403, "forbidden", ""},
			{"empty name", apptest.As(w.owner, w.acme, ""), map[string]any{"name": ""}, 400, "validation_failed", ""},
			{"blank name", apptest.As(w.owner, w.acme, ""), map[string]any{"name": "  "}, 400, "validation_failed", ""},
			{"name too long", apptest.As(w.owner, w.acme, ""), map[string]any{"name": strings.Repeat("x", 101)}, 400, "validation_failed", ""},
			{"too many domains", apptest.As(w.owner, w.acme, ""), map[string]any{"name": "X", "settings": map[string]any{"allowedRedirectDomains": domains}}, 400, "validation_failed", ""},
			{"unknown settings key", apptest.As(w.owner, w.acme, ""), map[string]any{"name": "X", "settings": map[string]any{"theme": "dark"}}, 400, "validation_failed", ""},
			{"not a member of X-Org-Id", apptest.As(w.owner, w.other, ""), map[string]any{"name": "X"}, 403, "forbidden", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "POST", Path: "/api/applications", Body: tc.body, Headers: tc.headers})
				expect(t, res, tc.status, tc.code)
				if tc.status != 201 {
					return
				}
				var a application
				res.JSON(t, &a)
				if a.Object != "application" || !ids.Valid(a.ID, ids.App) || a.OrgID != w.acme || a.IsDefault ||
					a.CreatedBy == nil || !timestamp.MatchString(a.CreatedAt) || a.CreatedAt != a.UpdatedAt {
					t.Fatalf("created %s", res.Body)
				}
				if string(a.Settings) != tc.settings {
					t.Fatalf("settings %s, want %s", a.Settings, tc.settings)
				}
				if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE resource_id = ? AND action = 'application.created'`, a.ID); n != 1 {
					t.Fatalf("audit %d", n)
				}
				// The stored row reads back the same.
				got := e.Do(apptest.Request{Method: "GET", Path: "/api/applications/" + a.ID, Headers: apptest.As(w.owner, w.acme, "")})
				expect(t, got, 200, "")
				var b application
				got.JSON(t, &b)
				if b.Name != a.Name || string(b.Settings) != tc.settings || *b.CreatedBy != *a.CreatedBy {
					t.Fatalf("read back %s", got.Body)
				}
			})
		}
		if n := count(t, e, `SELECT COUNT(*) FROM applications WHERE org_id = ?`, w.acme); n != 5 {
			t.Fatalf("applications in acme: %d", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM applications WHERE org_id = ?`, w.other); n != 2 {
			t.Fatalf("applications in other: %d", n)
		}
	})
}

func TestGetUpdateApplication(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		readKey := seedKey(t, e, w.acme, w.acmeSecond, w.owner, "applications:read")
		writeKey := seedKey(t, e, w.acme, w.acmeSecond, w.owner, "applications:read", "applications:write")
		app := func(id string) string { return "/api/applications/" + id }
		cases := []struct {
			name    string
			method  string
			path    string
			headers http.Header
			body    any
			status  int
			code    string
			want    string // name after the call, when 200
		}{
			{"viewer reads", "GET", app(w.acmeSecond), apptest.As(w.viewer, w.acme, ""), nil, 200, "", "Second"},
			{"unknown id", "GET", app(ids.New(ids.App)), apptest.As(w.owner, w.acme, ""), nil, 404, "not_found", ""},
			{"application of another org", "GET", app(w.otherDefault), apptest.As(w.owner, w.acme, ""), nil, 404, "not_found", ""},
			{"key reads its app", "GET", app(w.acmeSecond), readKey, nil, 200, "", "Second"},
			{"key reads another app of its org", "GET", app(w.acmeDefault), readKey, nil, 403, "forbidden", ""},
			{"key reads another org's app", "GET", app(w.otherDefault), readKey, nil, 403, "forbidden", ""},
			{"admin renames", "PATCH", app(w.acmeSecond), apptest.As(w.admin, w.acme, ""), map[string]any{"name": "Renamed"}, 200, "", "Renamed"},
			{"settings replaced", "PATCH", app(w.acmeSecond), apptest.As(w.owner, w.acme, ""), map[string]any{"settings": map[string]any{"allowedRedirectDomains": []string{"x.test"}}}, 200, "", "Renamed"},
			{"member lacks applications:write", "PATCH", app(w.acmeSecond), apptest.As(w.member, w.acme, ""), map[string]any{"name": "Nope"}, 403, "forbidden", ""},
			{"key without write scope", "PATCH", app(w.acmeSecond), readKey, map[string]any{"name": "Nope"}, 403, "forbidden", ""},
			{"key with write scope, its app", "PATCH", app(w.acmeSecond), writeKey, map[string]any{"name": "By key"}, 200, "", "By key"},
			{"key with write scope, other app", "PATCH", app(w.acmeDefault), writeKey, map[string]any{"name": "Nope"}, 403, "forbidden", ""},
			{"other org's app", "PATCH", app(w.otherDefault), apptest.As(w.owner, w.acme, ""), map[string]any{"name": "Nope"}, 404, "not_found", ""},
			{"blank name", "PATCH", app(w.acmeSecond), apptest.As(w.owner, w.acme, ""), map[string]any{"name": " "}, 400, "validation_failed", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: tc.method, Path: tc.path, Body: tc.body, Headers: tc.headers})
				expect(t, res, tc.status, tc.code)
				if tc.status == 200 {
					var a application
					res.JSON(t, &a)
					if a.Name != tc.want || a.OrgID != w.acme {
						t.Fatalf("body %s", res.Body)
					}
				}
			})
		}
		res := e.Do(apptest.Request{Method: "GET", Path: app(w.acmeSecond), Headers: apptest.As(w.owner, w.acme, "")})
		var a application
		res.JSON(t, &a)
		if a.Name != "By key" || string(a.Settings) != `{"allowedRedirectDomains":["x.test"]}` || a.UpdatedAt == "" {
			t.Fatalf("final %s", res.Body)
		}
		var name string
		_ = e.DB.QueryRowContext(context.Background(), `SELECT name FROM applications WHERE id = ?`, w.otherDefault).Scan(&name)
		if name != "Default" {
			t.Fatalf("other org's app renamed: %s", name)
		}
	})
}

func TestDeleteApplication(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		ctx, now := context.Background(), isotime.Now()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := e.DB.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// Rows owned by the second application, and by the default one (must survive).
		owned := func(appID, tag string) {
			eu := ids.New(ids.EndUser)
			exec(`INSERT INTO end_users (id, application_id, org_id, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, eu, appID, w.acme, tag, now, now)
			exec(`INSERT INTO connection_profiles (id, end_user_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Default', ?, ?, ?)`, ids.UUID(), eu, true, now, now)
			profile := ids.UUID()
			exec(`INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'App', ?, ?, ?)`, profile, appID, false, now, now)
			exec(`INSERT INTO user_application_profiles (user_id, application_id, profile_id, updated_at) VALUES (?, ?, ?, ?)`, w.owner, appID, profile, now)
		}
		owned(w.acmeSecond, "second")
		owned(w.acmeDefault, "default")
		deleteKey := seedKey(t, e, w.acme, w.acmeSecond, w.owner, "applications:delete")
		readKey := seedKey(t, e, w.acme, w.acmeDefault, w.owner, "applications:read")
		time.Sleep(2 * time.Millisecond) // a later creation time than the second app, whose order it checks
		third := e.SeedApp(w.acme, "Third")
		app := func(id string) string { return "/api/applications/" + id }
		cases := []struct {
			name    string
			path    string
			headers http.Header
			status  int
			code    string
		}{
			{"default application", app(w.acmeDefault), apptest.As(w.owner, w.acme, ""), 400, "invalid_request"},
			{"member lacks applications:delete", app(w.acmeSecond), apptest.As(w.member, w.acme, ""), 403, "forbidden"},
			{"key without delete scope", app(third), readKey, 403, "forbidden"},
			{"key with delete scope, other app", app(third), deleteKey, 403, "forbidden"},
			{"other org's app", app(w.otherDefault), apptest.As(w.owner, w.acme, ""), 404, "not_found"},
			{"admin deletes", app(third), apptest.As(w.admin, w.acme, ""), 204, ""},
			{"deleted twice", app(third), apptest.As(w.admin, w.acme, ""), 404, "not_found"},
			{"owner deletes the app with data", app(w.acmeSecond), apptest.As(w.owner, w.acme, ""), 204, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "DELETE", Path: tc.path, Headers: tc.headers})
				expect(t, res, tc.status, tc.code)
				if tc.status == 204 && len(res.Body) != 0 {
					t.Fatalf("204 with a body: %s", res.Body)
				}
			})
		}
		for q, want := range map[string]int{
			`SELECT COUNT(*) FROM applications WHERE org_id = ?`:               1, // default only
			`SELECT COUNT(*) FROM end_users WHERE org_id = ?`:                  1,
			`SELECT COUNT(*) FROM api_keys WHERE org_id = ?`:                   1, // readKey (default app)
			`SELECT COUNT(*) FROM user_application_profiles WHERE user_id = ?`: 1,
		} {
			arg := w.acme
			if strings.Contains(q, "user_id") {
				arg = w.owner
			}
			if n := count(t, e, q, arg); n != want {
				t.Fatalf("%s: %d, want %d", q, n, want)
			}
		}
		if n := count(t, e, `SELECT COUNT(*) FROM connection_profiles WHERE application_id = ?`, w.acmeSecond); n != 0 {
			t.Fatalf("app profiles left: %d", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE action = 'application.deleted' AND org_id = ?`, w.acme); n != 2 {
			t.Fatalf("audit: %d", n)
		}
	})
}
