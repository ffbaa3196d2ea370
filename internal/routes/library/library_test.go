package library_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func exec(t *testing.T, e *apptest.Env, query string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func seedPackage(t *testing.T, e *apptest.Env, id, orgID, typ, manifest string, apps ...string) {
	t.Helper()
	now := isotime.Now()
	var org any
	source := "system"
	if orgID != "" {
		org, source = orgID, "local"
	}
	exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, org, typ, source, manifest, now, now)
	for _, app := range apps {
		exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
			VALUES (?, ?, '{}', ?, ?, ?)`, app, id, true, now, now)
	}
}

type entry struct {
	ID          string   `json:"id"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	InstalledIn []string `json:"installedIn"`
}

type libraryBody struct {
	Object       string `json:"object"`
	Applications []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		IsDefault bool   `json:"isDefault"`
	} `json:"applications"`
	Packages map[string][]entry `json:"packages"`
}

func TestLibrary(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		owner := e.SeedUser("owner@acme.test")
		acme, app := e.SeedOrg(owner, "acme")
		app2 := e.SeedApp(acme, "Second")
		rivalOwner := e.SeedUser("owner@rival.test")
		rival, rivalApp := e.SeedOrg(rivalOwner, "rival")
		seedPackage(t, e, "@acme/writer", acme, "agent", `{"displayName":"Writer","description":"Writes"}`, app, app2)
		seedPackage(t, e, "@acme/tone", acme, "skill", `{}`)
		seedPackage(t, e, "@appstrate/log", "", "tool", `{"displayName":"Log"}`, app2)
		seedPackage(t, e, "@appstrate/gmail", "", "provider", `{"displayName":"Gmail"}`)
		seedPackage(t, e, "@rival/secret", rival, "agent", `{}`, rivalApp)
		seedPackage(t, e, "@inline/r-1", acme, "agent", `{}`, app)
		exec(t, e, `UPDATE packages SET ephemeral = ? WHERE id = '@inline/r-1'`, true)

		res := e.Do(apptest.Request{Method: "GET", Path: "/api/library", Headers: apptest.As(owner, acme, "")})
		if res.Status != 200 {
			t.Fatalf("library: %d %s", res.Status, res.Body)
		}
		var lib libraryBody
		res.JSON(t, &lib)
		if lib.Object != "library" || len(lib.Applications) != 2 || lib.Applications[0].ID != app || !lib.Applications[0].IsDefault ||
			lib.Applications[1].Name != "Second" {
			t.Fatalf("library %s", res.Body)
		}
		want := map[string][]entry{
			"agent":    {{ID: "@acme/writer", Type: "agent", Source: "local", Name: "Writer", Description: "Writes", InstalledIn: []string{app, app2}}},
			"skill":    {{ID: "@acme/tone", Type: "skill", Source: "local", Name: "@acme/tone", InstalledIn: []string{}}},
			"tool":     {{ID: "@appstrate/log", Type: "tool", Source: "system", Name: "Log", InstalledIn: []string{app2}}},
			"provider": {{ID: "@appstrate/gmail", Type: "provider", Source: "system", Name: "Gmail", InstalledIn: []string{}}},
		}
		if !reflect.DeepEqual(lib.Packages, want) {
			t.Fatalf("packages %+v\nwant %+v", lib.Packages, want)
		}
		var raw map[string]map[string]json.RawMessage
		_ = json.Unmarshal(res.Body, &raw)
		var keys []string
		for k := range raw["packages"] {
			keys = append(keys, k)
		}
		if len(keys) != 4 {
			t.Fatalf("package groups %v", keys)
		}

		// An API key sees its own application only.
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Headers: apptest.As(owner, acme, app2), Body: map[string]any{"name": "k"}})
		var key struct{ Key string }
		res.JSON(t, &key)
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/library", Headers: apptest.Headers("Authorization", "Bearer "+key.Key)})
		res.JSON(t, &lib)
		if res.Status != 200 || len(lib.Applications) != 1 || lib.Applications[0].ID != app2 ||
			!reflect.DeepEqual(lib.Packages["agent"][0].InstalledIn, []string{app2}) {
			t.Fatalf("api key library: %d %s", res.Status, res.Body)
		}

		// Another organization's view has none of acme's packages.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/library", Headers: apptest.As(rivalOwner, rival, "")})
		res.JSON(t, &lib)
		if len(lib.Packages["agent"]) != 1 || lib.Packages["agent"][0].ID != "@rival/secret" || len(lib.Packages["skill"]) != 0 {
			t.Fatalf("rival library: %s", res.Body)
		}
	})
}
