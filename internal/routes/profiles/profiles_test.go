package profiles_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

func TestConnectionProfiles(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)

		// The Default profile is created on the first list, once.
		first := w.profiles(w.asAda)
		if len(first) != 1 || first[0].Name != "Default" || !first[0].IsDefault || first[0].UserID == nil || *first[0].UserID != w.ada ||
			first[0].EndUserID != nil || first[0].ApplicationID != nil || first[0].ConnectionCount != 0 {
			t.Fatalf("first list %+v", first)
		}
		if again := w.profiles(w.asAda); len(again) != 1 || again[0].ID != first[0].ID {
			t.Fatalf("second list %+v", again)
		}
		def := first[0].ID

		work := w.create("/api/connection-profiles", "Work", w.asAda)
		tests := []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"empty name", "POST", "/api/connection-profiles", map[string]any{"name": ""}, 400, "validation_failed"},
			{"blank name", "POST", "/api/connection-profiles", map[string]any{"name": "   "}, 400, "validation_failed"},
			{"name too long", "POST", "/api/connection-profiles", map[string]any{"name": strings.Repeat("x", 101)}, 400, "validation_failed"},
			{"no name", "POST", "/api/connection-profiles", map[string]any{}, 400, "validation_failed"},
			{"rename", "PUT", "/api/connection-profiles/" + work, map[string]any{"name": " Office "}, 200, ""},
			{"rename the default", "PUT", "/api/connection-profiles/" + def, map[string]any{"name": "Mine"}, 200, ""},
			{"rename to blank", "PUT", "/api/connection-profiles/" + work, map[string]any{"name": " "}, 400, "validation_failed"},
			{"rename unknown", "PUT", "/api/connection-profiles/00000000-0000-4000-8000-000000000000", map[string]any{"name": "x"}, 404, "not_found"},
			{"rename a non-uuid", "PUT", "/api/connection-profiles/nope", map[string]any{"name": "x"}, 404, "not_found"},
			{"delete the default", "DELETE", "/api/connection-profiles/" + def, nil, 400, "invalid_request"},
			{"delete a non-uuid", "DELETE", "/api/connection-profiles/nope", nil, 404, "not_found"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := w.do(tc.method, tc.path, tc.body, w.asAda, tc.status, tc.code)
				if tc.status == 200 && strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
					t.Fatalf("body %s", res.Body)
				}
			})
		}
		got := w.profiles(w.asAda)
		if len(got) != 2 || got[0].ID != def || got[0].Name != "Mine" || got[1].ID != work || got[1].Name != "Office" || got[1].IsDefault {
			t.Fatalf("after renames %+v", got)
		}

		// connectionCount counts the profile's connections in the current organization.
		w.connect(work, mail, w.app, false)
		w.connect(work, crm, w.app2, false)
		if got := w.profiles(w.asAda); got[1].ConnectionCount != 2 || got[0].ConnectionCount != 0 {
			t.Fatalf("counts %+v", got)
		}
		e.SeedMember(w.rival, w.ada, "member")
		if got := w.profiles(apptest.As(w.ada, w.rival, "")); len(got) != 2 || got[1].ConnectionCount != 0 {
			t.Fatalf("counts in another organization %+v", got)
		}

		// Deleting a profile takes its connections along.
		w.do("DELETE", "/api/connection-profiles/"+work, nil, w.asAda, 200, "")
		w.do("DELETE", "/api/connection-profiles/"+work, nil, w.asAda, 404, "not_found")
		if n := w.scalar(`SELECT CAST(count(*) AS TEXT) FROM user_provider_connections WHERE profile_id = ?`, work); n != "0" {
			t.Fatalf("%s connections left", n)
		}
		if got := w.profiles(w.asAda); len(got) != 1 {
			t.Fatalf("after delete %+v", got)
		}
		if n := w.scalar(`SELECT CAST(count(*) AS TEXT) FROM audit_events WHERE action LIKE 'connection_profile.%' AND actor_id = ?`, w.ada); n != "4" {
			t.Fatalf("%s audit events", n)
		}
	})
}

func TestConnectionProfileCreateRateLimit(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		for i := 0; i < 10; i++ {
			w.do("POST", "/api/connection-profiles", map[string]any{"name": fmt.Sprint("p", i)}, w.asBob, 201, "")
		}
		res := w.do("POST", "/api/connection-profiles", map[string]any{"name": "one too many"}, w.asBob, 429, "rate_limited")
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// Another caller has its own budget.
		w.do("POST", "/api/connection-profiles", map[string]any{"name": "vic's"}, w.asVic, 201, "")
	})
}

// TestDefaultProfileIsCreatedOnce races first lists of a new user: one Default profile results.
func TestDefaultProfileIsCreatedOnce(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := e.Do(apptest.Request{Method: "GET", Path: "/api/connection-profiles", Headers: w.asBob})
				if res.Status != 200 {
					errs <- string(res.Body)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Error(msg)
		}
		var n int
		if err := e.DB.QueryRowContext(context.Background(), `SELECT count(*) FROM connection_profiles WHERE user_id = ?`, w.bob).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d profiles (%v)", n, err)
		}
	})
}

// TestConnectionProfileActors: the actor is the impersonated end-user, else the user (for an API key its
// creator); nobody sees or touches another actor's profiles.
func TestConnectionProfileActors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		adaDefault := w.defaultProfile(w.asAda)
		adaWork := w.create("/api/connection-profiles", "Work", w.asAda)

		// The API key acts as its creator.
		if got := w.profiles(w.key()); len(got) != 2 || got[0].ID != adaDefault {
			t.Fatalf("key list %+v", got)
		}
		// The end-user sees only its own Default profile, made with it.
		euProfiles := w.profiles(w.asEU)
		if len(euProfiles) != 1 || !euProfiles[0].IsDefault || euProfiles[0].EndUserID == nil || *euProfiles[0].EndUserID != w.eu ||
			euProfiles[0].UserID != nil {
			t.Fatalf("end-user list %+v", euProfiles)
		}
		euDefault := euProfiles[0].ID
		euOther := w.create("/api/connection-profiles", "Tenant B", w.asEU)
		if got := w.profiles(w.asEU); len(got) != 2 || got[1].ID != euOther || *got[1].EndUserID != w.eu {
			t.Fatalf("end-user list after create %+v", got)
		}
		if got := w.profiles(w.asAda); len(got) != 2 {
			t.Fatalf("ada sees %+v", got)
		}

		tests := []struct {
			name, method, path string
			h                  map[string][]string
			status             int
			code               string
		}{
			{"end-user renames the user's profile", "PUT", "/api/connection-profiles/" + adaWork, w.asEU, 404, "not_found"},
			{"end-user deletes the user's profile", "DELETE", "/api/connection-profiles/" + adaWork, w.asEU, 404, "not_found"},
			{"end-user deletes its default", "DELETE", "/api/connection-profiles/" + euDefault, w.asEU, 400, "invalid_request"},
			{"user renames the end-user's profile", "PUT", "/api/connection-profiles/" + euOther, w.asAda, 404, "not_found"},
			{"user deletes the end-user's profile", "DELETE", "/api/connection-profiles/" + euOther, w.key(), 404, "not_found"},
			{"member renames the owner's profile", "PUT", "/api/connection-profiles/" + adaWork, w.asBob, 404, "not_found"},
			{"member deletes the owner's profile", "DELETE", "/api/connection-profiles/" + adaWork, w.asBob, 404, "not_found"},
			{"another organization's user renames", "PUT", "/api/connection-profiles/" + adaWork, w.asEve, 404, "not_found"},
			{"another organization's user deletes", "DELETE", "/api/connection-profiles/" + adaWork, w.asEve, 404, "not_found"},
			{"end-user deletes its own", "DELETE", "/api/connection-profiles/" + euOther, w.asEU, 200, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var body any
				if tc.method == "PUT" {
					body = map[string]any{"name": "pwned"}
				}
				w.do(tc.method, tc.path, body, tc.h, tc.status, tc.code)
			})
		}
		for _, p := range w.profiles(w.asAda) {
			if p.Name == "pwned" {
				t.Fatalf("renamed by someone else: %+v", p)
			}
		}
		for _, h := range []map[string][]string{w.asBob, w.asEve} {
			for _, p := range w.profiles(h) {
				if p.ID == adaDefault || p.ID == adaWork || p.ID == euDefault {
					t.Fatalf("foreign profile listed: %+v", p)
				}
			}
		}
	})
}
