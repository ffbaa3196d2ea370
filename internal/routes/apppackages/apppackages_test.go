package apppackages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// world: organization acme (owner, viewer, default app, second app) with its packages, a foreign organization
// rival with its own agent, a system tool and an ephemeral package.
type world struct {
	owner, viewer, rivalOwner string
	acme, acmeApp, acmeApp2   string
	rival, rivalApp           string
}

func seed(t *testing.T, e *apptest.Env) world {
	t.Helper()
	var w world
	w.owner = e.SeedUser("owner@acme.test")
	w.viewer = e.SeedUser("viewer@acme.test")
	w.acme, w.acmeApp = e.SeedOrg(w.owner, "acme")
	e.SeedMember(w.acme, w.viewer, "viewer")
	w.acmeApp2 = e.SeedApp(w.acme, "Second")
	w.rivalOwner = e.SeedUser("owner@rival.test")
	w.rival, w.rivalApp = e.SeedOrg(w.rivalOwner, "rival")
	SeedPackage(t, e, "@acme/writer", w.acme, "agent", `{"name":"@acme/writer","version":"1.2.0","type":"agent","displayName":"Writer",
		"dependencies":{"providers":{"@appstrate/gmail":"^1.0.0","@acme/crm":"*"}}}`)
	SeedPackage(t, e, "@acme/tone", w.acme, "skill", `{"name":"@acme/tone","version":"0.3.0","type":"skill"}`)
	SeedPackage(t, e, "@appstrate/log", "", "tool", `{"name":"@appstrate/log","version":"1.0.0","type":"tool","description":"Logs"}`)
	SeedPackage(t, e, "@rival/secret", w.rival, "agent", `{"name":"@rival/secret","version":"1.0.0","type":"agent"}`)
	SeedPackage(t, e, "@inline/r-1", w.acme, "agent", `{"name":"@inline/r-1","version":"1.0.0","type":"agent"}`)
	exec(t, e, `UPDATE packages SET ephemeral = ? WHERE id = '@inline/r-1'`, true)
	return w
}

// SeedPackage inserts a packages row (orgID "" = a system package).
func SeedPackage(t *testing.T, e *apptest.Env, id, orgID, typ, manifest string) {
	t.Helper()
	now := isotime.Now()
	var org any
	source := "system"
	if orgID != "" {
		org, source = orgID, "local"
	}
	exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'prompt', ?, ?)`, id, org, typ, source, compact(t, manifest), now, now)
}

func exec(t *testing.T, e *apptest.Env, query string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func compact(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("fixture %s: %v", doc, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestInstallLifecycle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seed(t, e)
		as := apptest.As(w.owner, w.acme, "")
		base := "/api/applications/" + w.acmeApp + "/packages"

		// Install: 201 with the exact POST shape.
		res := e.Do(apptest.Request{Method: "POST", Path: base, Headers: as, Body: map[string]any{"packageId": "@acme/writer", "config": map[string]any{"tone": "dry", "n": 12345678901234567}}})
		if res.Status != http.StatusCreated {
			t.Fatalf("install: %d %s", res.Status, res.Body)
		}
		var row map[string]any
		res.JSON(t, &row)
		wantKeys := []string{"appProfileId", "applicationId", "config", "enabled", "installedAt", "modelId", "object", "packageId", "proxyId", "updatedAt", "versionId"}
		if got := keys(row); !reflect.DeepEqual(got, wantKeys) {
			t.Fatalf("POST keys %v want %v", got, wantKeys)
		}
		if row["object"] != "application_package" || row["applicationId"] != w.acmeApp || row["enabled"] != true || row["versionId"] != nil {
			t.Fatalf("POST row %v", row)
		}
		if !jsonEqual(t, res.Body, "config", `{"tone":"dry","n":12345678901234567}`) {
			t.Fatalf("config not kept exactly: %s", res.Body)
		}

		// Already installed → 409.
		res = e.Do(apptest.Request{Method: "POST", Path: base, Headers: as, Body: map[string]any{"packageId": "@acme/writer"}})
		if p := res.Problem(t); res.Status != 409 || p.Code != "already_installed" {
			t.Fatalf("twice: %d %s", res.Status, res.Body)
		}

		// List: rows with the list shape, type filter.
		if res = e.Do(apptest.Request{Method: "POST", Path: base, Headers: as, Body: map[string]any{"packageId": "@appstrate/log"}}); res.Status != 201 {
			t.Fatalf("install system tool: %d %s", res.Status, res.Body)
		}
		var list struct {
			Object  string           `json:"object"`
			Data    []map[string]any `json:"data"`
			HasMore bool             `json:"hasMore"`
		}
		res = e.Do(apptest.Request{Method: "GET", Path: base, Headers: as})
		res.JSON(t, &list)
		if res.Status != 200 || list.Object != "list" || len(list.Data) != 2 || list.HasMore {
			t.Fatalf("list: %d %s", res.Status, res.Body)
		}
		listKeys := []string{"appProfileId", "config", "draftManifest", "enabled", "installedAt", "modelId", "object", "packageId", "packageSource", "packageType", "proxyId", "updatedAt", "versionId"}
		if got := keys(list.Data[0]); !reflect.DeepEqual(got, listKeys) {
			t.Fatalf("list keys %v want %v", got, listKeys)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: base + "?type=tool", Headers: as})
		res.JSON(t, &list)
		if len(list.Data) != 1 || list.Data[0]["packageId"] != "@appstrate/log" || list.Data[0]["packageSource"] != "system" || list.Data[0]["packageType"] != "tool" {
			t.Fatalf("filtered list: %s", res.Body)
		}
		if res = e.Do(apptest.Request{Method: "GET", Path: base + "?type=widget", Headers: as}); res.Status != 400 {
			t.Fatalf("bad type: %d", res.Status)
		}

		// Get one.
		res = e.Do(apptest.Request{Method: "GET", Path: base + "/@acme/writer", Headers: as})
		if res.Status != 200 {
			t.Fatalf("get: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &row)
		if row["packageType"] != "agent" || row["packageSource"] != "local" || row["draftManifest"].(map[string]any)["displayName"] != "Writer" {
			t.Fatalf("get row %v", row)
		}

		// Update: model, enabled; null clears; other members unchanged.
		res = e.Do(apptest.Request{Method: "PUT", Path: base + "/@acme/writer", Headers: as, Body: map[string]any{"modelId": "m1", "proxyId": "px", "enabled": false}})
		if res.Status != 200 {
			t.Fatalf("update: %d %s", res.Status, res.Body)
		}
		res.JSON(t, &row)
		if row["modelId"] != "m1" || row["proxyId"] != "px" || row["enabled"] != false || row["applicationId"] != w.acmeApp {
			t.Fatalf("updated %v", row)
		}
		res = e.Do(apptest.Request{Method: "PUT", Path: base + "/@acme/writer", Headers: as, Body: map[string]any{"modelId": nil, "config": map[string]any{"a": 1}}})
		res.JSON(t, &row)
		if row["modelId"] != nil || row["proxyId"] != "px" || !jsonEqual(t, res.Body, "config", `{"a":1}`) {
			t.Fatalf("cleared %v", row)
		}

		// Run config.
		var rc map[string]any
		res = e.Do(apptest.Request{Method: "GET", Path: base + "/@acme/writer/run-config", Headers: as})
		res.JSON(t, &rc)
		if res.Status != 200 || !reflect.DeepEqual(keys(rc), []string{"config", "modelId", "proxyId", "requiredProviders", "versionPin"}) {
			t.Fatalf("run-config: %d %s", res.Status, res.Body)
		}
		providers, _ := rc["requiredProviders"].([]any)
		if len(providers) != 2 || !(providers[0] == "@acme/crm" || providers[1] == "@acme/crm") || rc["versionPin"] != nil || rc["proxyId"] != "px" {
			t.Fatalf("run-config %v", rc)
		}

		// Pin a version: run-config reports its version string.
		now := isotime.Now()
		exec(t, e, `INSERT INTO package_versions (package_id, version, integrity, artifact_size, manifest, created_at) VALUES ('@acme/writer', '1.2.0', 'sha256-x', 1, '{}', ?)`, now)
		var vid int64
		if err := e.DB.QueryRowContext(context.Background(), `SELECT id FROM package_versions WHERE package_id = '@acme/writer'`).Scan(&vid); err != nil {
			t.Fatal(err)
		}
		if res = e.Do(apptest.Request{Method: "PUT", Path: base + "/@acme/writer", Headers: as, Body: map[string]any{"versionId": vid}}); res.Status != 200 {
			t.Fatalf("pin: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: base + "/@acme/writer/run-config", Headers: as})
		res.JSON(t, &rc)
		if rc["versionPin"] != "1.2.0" {
			t.Fatalf("version pin %v", rc)
		}

		// PUT upserts: a package that is not installed gets installed.
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/applications/" + w.acmeApp2 + "/packages/@acme/tone", Headers: as, Body: map[string]any{"enabled": true}})
		if res.Status != 200 {
			t.Fatalf("upsert: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "GET", Path: "/api/applications/" + w.acmeApp2 + "/packages/@acme/tone", Headers: as}); res.Status != 200 {
			t.Fatalf("upserted: %d", res.Status)
		}

		// Uninstall → 204, then 404 package_not_installed.
		if res = e.Do(apptest.Request{Method: "DELETE", Path: base + "/@acme/writer", Headers: as}); res.Status != 204 {
			t.Fatalf("uninstall: %d %s", res.Status, res.Body)
		}
		for _, r := range []apptest.Request{
			{Method: "DELETE", Path: base + "/@acme/writer"},
			{Method: "GET", Path: base + "/@acme/writer"},
			{Method: "GET", Path: base + "/@acme/writer/run-config"},
		} {
			r.Headers = as
			res = e.Do(r)
			if p := res.Problem(t); res.Status != 404 || p.Code != "package_not_installed" {
				t.Fatalf("%s %s after uninstall: %d %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
	})
}

func TestInstallErrors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seed(t, e)
		owner := apptest.As(w.owner, w.acme, "")
		base := "/api/applications/" + w.acmeApp + "/packages"
		profile := ids.UUID()
		now := isotime.Now()
		exec(t, e, `INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Shared', ?, ?, ?)`,
			profile, w.acmeApp2, false, now, now)
		cases := []struct {
			name    string
			req     apptest.Request
			status  int
			code    string
			headers http.Header
		}{
			{"unknown package", apptest.Request{Method: "POST", Path: base, Body: map[string]any{"packageId": "@acme/nope"}}, 404, "not_found", owner},
			{"ephemeral package", apptest.Request{Method: "POST", Path: base, Body: map[string]any{"packageId": "@inline/r-1"}}, 404, "not_found", owner},
			{"other org's package", apptest.Request{Method: "POST", Path: base, Body: map[string]any{"packageId": "@rival/secret"}}, 404, "not_found", owner},
			{"missing packageId", apptest.Request{Method: "POST", Path: base, Body: map[string]any{}}, 400, "validation_failed", owner},
			{"config not an object", apptest.Request{Method: "POST", Path: base, Body: map[string]any{"packageId": "@acme/tone", "config": []int{1}}}, 400, "validation_failed", owner},
			{"viewer cannot install", apptest.Request{Method: "POST", Path: base, Body: map[string]any{"packageId": "@acme/tone"}}, 403, "forbidden", apptest.As(w.viewer, w.acme, "")},
			{"viewer may list", apptest.Request{Method: "GET", Path: base}, 200, "", apptest.As(w.viewer, w.acme, "")},
			{"viewer cannot uninstall", apptest.Request{Method: "DELETE", Path: base + "/@acme/tone"}, 403, "forbidden", apptest.As(w.viewer, w.acme, "")},
			{"other org's application", apptest.Request{Method: "GET", Path: "/api/applications/" + w.rivalApp + "/packages"}, 404, "not_found", owner},
			{"unknown application", apptest.Request{Method: "POST", Path: "/api/applications/app_nope/packages", Body: map[string]any{"packageId": "@acme/tone"}}, 404, "not_found", owner},
			{"uninstall not installed", apptest.Request{Method: "DELETE", Path: base + "/@acme/tone"}, 404, "package_not_installed", owner},
			{"update unknown package", apptest.Request{Method: "PUT", Path: base + "/@acme/nope", Body: map[string]any{"enabled": true}}, 404, "not_found", owner},
			{"update other org's package", apptest.Request{Method: "PUT", Path: base + "/@rival/secret", Body: map[string]any{"enabled": true}}, 404, "not_found", owner},
			{"app profile of another app", apptest.Request{Method: "PUT", Path: base + "/@acme/tone", Body: map[string]any{"appProfileId": profile}}, 404, "not_found", owner},
			{"app profile of this app", apptest.Request{Method: "PUT", Path: "/api/applications/" + w.acmeApp2 + "/packages/@acme/tone", Body: map[string]any{"appProfileId": profile}}, 200, "", owner},
			{"unknown version", apptest.Request{Method: "PUT", Path: base + "/@acme/tone", Body: map[string]any{"versionId": 999999}}, 404, "not_found", owner},
			{"enabled of the wrong type", apptest.Request{Method: "PUT", Path: base + "/@acme/tone", Body: map[string]any{"enabled": "yes"}}, 400, "validation_failed", owner},
			{"viewer reads run-config (agents:read)", apptest.Request{Method: "GET", Path: base + "/@acme/tone/run-config"}, 404, "package_not_installed", apptest.As(w.viewer, w.acme, "")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.req.Headers = c.headers
				res := e.Do(c.req)
				if res.Status != c.status {
					t.Fatalf("status %d want %d: %s", res.Status, c.status, res.Body)
				}
				if c.code != "" {
					if p := res.Problem(t); p.Code != c.code {
						t.Fatalf("code %q want %q: %s", p.Code, c.code, res.Body)
					}
				}
			})
		}
	})
}

func TestAPIKeyLimitedToItsApplication(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seed(t, e)
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Headers: apptest.As(w.owner, w.acme, w.acmeApp),
			Body: map[string]any{"name": "ci"}})
		if res.Status != 201 {
			t.Fatalf("create key: %d %s", res.Status, res.Body)
		}
		var key struct{ Key string }
		res.JSON(t, &key)
		bearer := apptest.Headers("Authorization", "Bearer "+key.Key)

		res = e.Do(apptest.Request{Method: "POST", Path: "/api/applications/" + w.acmeApp + "/packages", Headers: bearer,
			Body: map[string]any{"packageId": "@acme/tone"}})
		if res.Status != 201 {
			t.Fatalf("own app: %d %s", res.Status, res.Body)
		}
		for _, r := range []apptest.Request{
			{Method: "GET", Path: "/api/applications/" + w.acmeApp2 + "/packages"},
			{Method: "POST", Path: "/api/applications/" + w.acmeApp2 + "/packages", Body: map[string]any{"packageId": "@acme/tone"}},
			{Method: "GET", Path: "/api/applications/" + w.rivalApp + "/packages"},
		} {
			r.Headers = bearer
			res = e.Do(r)
			if p := res.Problem(t); res.Status != 403 || p.Code != "forbidden" {
				t.Fatalf("%s %s: %d %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
	})
}

// jsonEqual compares the JSON member of a response body with want, semantically (Postgres reformats jsonb).
func jsonEqual(t *testing.T, body []byte, member, want string) bool {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	dec := func(raw []byte) any {
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return v
	}
	return reflect.DeepEqual(dec(doc[member]), dec([]byte(want)))
}
