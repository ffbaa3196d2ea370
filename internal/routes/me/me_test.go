package me_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type profile struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Language    string `json:"language"`
	Email       string `json:"email"`
	Name        string `json:"name"`
}

// apiKey creates an API key for userID through the API.
func apiKey(t *testing.T, e *apptest.Env, userID, org, app string) http.Header {
	t.Helper()
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "k"}, Headers: apptest.As(userID, org, app)})
	var k struct{ Key string }
	if res.JSON(t, &k); res.Status != 201 {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	return apptest.Headers("Authorization", "Bearer "+k.Key)
}

func TestProfile(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		user := e.SeedUser("ada@example.com")
		org, app := e.SeedOrg(user, "acme")

		// No X-Org-Id needed.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: apptest.As(user, "", "")})
		var p profile
		if res.JSON(t, &p); res.Status != 200 || p != (profile{ID: user, DisplayName: "ada@example.com", Language: "fr", Email: "ada@example.com", Name: "ada"}) {
			t.Fatalf("get: %d %s", res.Status, res.Body)
		}

		tests := []struct {
			name   string
			body   any
			status int
			want   string // language/displayName after the call
		}{
			{"language", map[string]any{"language": "en"}, 200, "en/ada@example.com"},
			{"display name", map[string]any{"displayName": "Ada L."}, 200, "en/Ada L."},
			{"both", map[string]any{"language": "fr", "displayName": "Ada"}, 200, "fr/Ada"},
			{"empty body", map[string]any{}, 200, "fr/Ada"},
			{"unsupported language", map[string]any{"language": "de"}, 400, "fr/Ada"},
			{"empty display name", map[string]any{"displayName": ""}, 400, "fr/Ada"},
		}
		for _, tc := range tests {
			res := e.Do(apptest.Request{Method: "PATCH", Path: "/api/profile", Body: tc.body, Headers: apptest.As(user, "", "")})
			if res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
			if tc.status == 200 {
				var out struct {
					OK          bool   `json:"ok"`
					Language    string `json:"language"`
					DisplayName string `json:"displayName"`
				}
				if res.JSON(t, &out); !out.OK || out.Language+"/"+out.DisplayName != tc.want {
					t.Errorf("%s: %s", tc.name, res.Body)
				}
			}
			e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: apptest.As(user, "", "")}).JSON(t, &p)
			if p.Language+"/"+p.DisplayName != tc.want {
				t.Errorf("%s: profile now %+v", tc.name, p)
			}
		}

		// A user without a profile row gets the defaults, and the row on the first write.
		bare := e.SeedUser("bare@example.com")
		if _, err := e.DB.ExecContext(context.Background(), `DELETE FROM profiles WHERE id = ?`, bare); err != nil {
			t.Fatal(err)
		}
		e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: apptest.As(bare, "", "")}).JSON(t, &p)
		if p.DisplayName != "bare" || p.Language != "fr" {
			t.Fatalf("defaults: %+v", p)
		}
		if res := e.Do(apptest.Request{Method: "PATCH", Path: "/api/profile", Body: map[string]any{"language": "en"}, Headers: apptest.As(bare, "", "")}); res.Status != 200 {
			t.Fatalf("first write: %d %s", res.Status, res.Body)
		}
		e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: apptest.As(bare, "", "")}).JSON(t, &p)
		if p.DisplayName != "bare" || p.Language != "en" {
			t.Fatalf("after first write: %+v", p)
		}

		// Welcome setup: display name optional, body optional.
		for _, body := range []any{map[string]any{"displayName": "Welcome Ada"}, nil, map[string]any{"displayName": "  "}} {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/welcome/setup", Body: body, Headers: apptest.As(user, "", "")})
			if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
				t.Fatalf("welcome %v: %d %s", body, res.Status, res.Body)
			}
		}
		e.Do(apptest.Request{Method: "GET", Path: "/api/profile", Headers: apptest.As(user, "", "")}).JSON(t, &p)
		if p.DisplayName != "Welcome Ada" {
			t.Fatalf("after welcome: %+v", p)
		}

		// API keys are refused on all three.
		key := apiKey(t, e, user, org, app)
		for _, r := range []apptest.Request{{Method: "GET", Path: "/api/profile"}, {Method: "PATCH", Path: "/api/profile", Body: map[string]any{}},
			{Method: "POST", Path: "/api/welcome/setup", Body: map[string]any{}}} {
			r.Headers = key
			if res := e.Do(r); res.Status != 403 {
				t.Errorf("%s %s with key: %d %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
	})
}

func TestProfilesBatch(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		owner, member, stranger := e.SeedUser("owner@example.com"), e.SeedUser("member@example.com"), e.SeedUser("stranger@example.com")
		org, app := e.SeedOrg(owner, "acme")
		e.SeedMember(org, member, "member")
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE profiles SET display_name = 'Mem' WHERE id = ?`, member); err != nil {
			t.Fatal(err)
		}
		type entry struct{ ID, DisplayName string }
		var out struct {
			Object  string
			Data    []entry
			HasMore bool
		}
		body := map[string]any{"ids": []string{member, stranger, "unknown", owner, member}}
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/profiles/batch", Body: body, Headers: apptest.As(owner, org, "")})
		res.JSON(t, &out)
		if res.Status != 200 || out.Object != "list" || len(out.Data) != 2 || out.Data[0] != (entry{member, "Mem"}) ||
			out.Data[1] != (entry{owner, "owner@example.com"}) {
			t.Fatalf("batch: %d %s", res.Status, res.Body)
		}
		// API keys see the members of their organization too.
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/profiles/batch", Body: body, Headers: apiKey(t, e, owner, org, app)})
		if res.JSON(t, &out); res.Status != 200 || len(out.Data) != 2 {
			t.Fatalf("batch with key: %d %s", res.Status, res.Body)
		}

		many := make([]string, 101)
		for i := range many {
			many[i] = fmt.Sprint(i)
		}
		for _, tc := range []struct {
			name    string
			body    any
			headers http.Header
			status  int
		}{
			{"empty list", map[string]any{"ids": []string{}}, apptest.As(owner, org, ""), 200},
			{"101 ids", map[string]any{"ids": many}, apptest.As(owner, org, ""), 400},
			{"missing ids", map[string]any{}, apptest.As(owner, org, ""), 400},
			{"no org context", body, apptest.As(owner, "", ""), 400},
			{"not a member", body, apptest.As(stranger, org, ""), 403},
		} {
			if res := e.Do(apptest.Request{Method: "POST", Path: "/api/profiles/batch", Body: tc.body, Headers: tc.headers}); res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
		}
	})
}

func TestApplicationProfile(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		t.Cleanup(e.App.APIKeys.Wait)
		ctx := context.Background()
		user, other := e.SeedUser("user@example.com"), e.SeedUser("other@example.com")
		org, app := e.SeedOrg(user, "acme")
		e.SeedMember(org, other, "member")
		otherApp := e.SeedApp(org, "Second")
		profileOf := func(column, owner string) string {
			id, now := ids.UUID(), isotime.Now()
			if _, err := e.DB.ExecContext(ctx, `INSERT INTO connection_profiles (id, `+column+`, name, is_default, created_at, updated_at)
				VALUES (?, ?, 'P', ?, ?, ?)`, id, owner, false, now, now); err != nil {
				t.Fatal(err)
			}
			return id
		}
		mine, theirs := profileOf("user_id", user), profileOf("user_id", other)
		appProfile, otherAppProfile := profileOf("application_id", app), profileOf("application_id", otherApp)

		h := apptest.As(user, org, app)
		get := func() *string {
			t.Helper()
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/me/application-profile", Headers: h})
			var out struct {
				ConnectionProfileID *string `json:"connectionProfileId"`
			}
			if res.JSON(t, &out); res.Status != 200 {
				t.Fatalf("get: %d %s", res.Status, res.Body)
			}
			return out.ConnectionProfileID
		}
		if got := get(); got != nil {
			t.Fatalf("initial pin %v", *got)
		}
		for _, tc := range []struct {
			name, id string
			status   int
		}{
			{"own profile", mine, 200},
			{"app profile", appProfile, 200},
			{"another user's profile", theirs, 404},
			{"another app's profile", otherAppProfile, 404},
			{"unknown", ids.UUID(), 404},
			{"not a uuid", "nope", 404},
		} {
			res := e.Do(apptest.Request{Method: "PUT", Path: "/api/me/application-profile", Body: map[string]any{"connectionProfileId": tc.id}, Headers: h})
			if res.Status != tc.status {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
			if tc.status == 200 && strings.TrimSpace(string(res.Body)) != `{"connectionProfileId":"`+tc.id+`"}` {
				t.Errorf("%s: %s", tc.name, res.Body)
			}
		}
		if got := get(); got == nil || *got != appProfile {
			t.Fatalf("pin = %v, want %s", got, appProfile)
		}
		// Pins are per application and per user.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/me/application-profile", Headers: apptest.As(other, org, app)})
		if strings.TrimSpace(string(res.Body)) != `{"connectionProfileId":null}` {
			t.Fatalf("other user: %s", res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/me/application-profile", Headers: apptest.As(user, org, otherApp)})
		if strings.TrimSpace(string(res.Body)) != `{"connectionProfileId":null}` {
			t.Fatalf("other app: %s", res.Body)
		}
		for range 2 { // idempotent
			if res := e.Do(apptest.Request{Method: "DELETE", Path: "/api/me/application-profile", Headers: h}); res.Status != 204 {
				t.Fatalf("delete: %d %s", res.Status, res.Body)
			}
		}
		if got := get(); got != nil {
			t.Fatalf("pin after delete %v", *got)
		}
		// Application context is required; the body is validated.
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/me/application-profile", Headers: apptest.As(user, org, "")}); res.Status != 400 {
			t.Fatalf("no app: %d", res.Status)
		}
		if res := e.Do(apptest.Request{Method: "PUT", Path: "/api/me/application-profile", Body: map[string]any{}, Headers: h}); res.Status != 400 {
			t.Fatalf("no id: %d", res.Status)
		}
		// An API key pins for its creator; acting as an end-user is refused.
		key := apiKey(t, e, user, org, app)
		if res := e.Do(apptest.Request{Method: "PUT", Path: "/api/me/application-profile", Body: map[string]any{"connectionProfileId": mine}, Headers: key}); res.Status != 200 {
			t.Fatalf("key pin: %d %s", res.Status, res.Body)
		}
		if got := get(); got == nil || *got != mine {
			t.Fatalf("pin via key = %v", got)
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{}, Headers: key})
		var eu struct{ ID string }
		res.JSON(t, &eu)
		key.Set("Appstrate-User", eu.ID)
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/me/application-profile", Headers: key}); res.Status != 403 {
			t.Fatalf("impersonated: %d %s", res.Status, res.Body)
		}
	})
}
