package agents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func exec(t *testing.T, e *apptest.Env, query string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// seedPackage inserts a packages row (orgID "" = a system package) and, with appID, installs it there.
func seedPackage(t *testing.T, e *apptest.Env, id, orgID, typ, manifest, appID string) {
	t.Helper()
	now := isotime.Now()
	var org any
	source := "system"
	if orgID != "" {
		org, source = orgID, "local"
	}
	if !json.Valid([]byte(manifest)) {
		t.Fatalf("fixture manifest of %s is not JSON", id)
	}
	exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'Do the thing.', ?, ?)`, id, org, typ, source, manifest, now, now)
	if appID != "" {
		exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
			VALUES (?, ?, '{}', ?, ?, ?)`, appID, id, true, now, now)
	}
}

func keySet(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func createOrg(t *testing.T, e *apptest.Env, user, slug string) (orgID, appID string) {
	t.Helper()
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Org " + slug, "slug": slug},
		Headers: apptest.As(user, "", "")})
	if res.Status != http.StatusCreated {
		t.Fatalf("create org: %d %s", res.Status, res.Body)
	}
	var org struct{ ID string }
	res.JSON(t, &org)
	if err := e.DB.QueryRowContext(context.Background(), `SELECT id FROM applications WHERE org_id = ? AND is_default = ?`, org.ID, true).Scan(&appID); err != nil {
		t.Fatal(err)
	}
	return org.ID, appID
}

type listBody struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"hasMore"`
}

func TestNewOrgSeesHelloWorld(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		user := e.SeedUser("founder@example.test")
		org, app := createOrg(t, e, user, "fresh")
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: apptest.As(user, org, app)})
		if res.Status != 200 {
			t.Fatalf("list: %d %s", res.Status, res.Body)
		}
		var list listBody
		res.JSON(t, &list)
		if list.Object != "list" || len(list.Data) != 1 || list.HasMore {
			t.Fatalf("list: %s", res.Body)
		}
		want := []string{"author", "dependencies", "description", "displayName", "id", "keywords", "runningRuns", "schemaVersion", "scope", "source", "type", "version"}
		if got := keySet(t, list.Data[0]); !reflect.DeepEqual(got, want) {
			t.Fatalf("agent keys %v\nwant %v", got, want)
		}
		var a struct {
			ID, DisplayName, SchemaVersion, Source, Scope, Version, Type string
			Keywords                                                     []string
			RunningRuns                                                  int
			Dependencies                                                 map[string]map[string]string
		}
		if err := json.Unmarshal(list.Data[0], &a); err != nil {
			t.Fatal(err)
		}
		if a.ID != "@fresh/hello-world" || a.Scope != "@fresh" || a.Source != "local" || a.Type != "agent" || a.SchemaVersion != "1.1" ||
			a.RunningRuns != 0 || a.DisplayName != "Hello World" || a.Keywords == nil {
			t.Fatalf("hello-world summary %+v", a)
		}
		if got := keySet(t, mustJSON(t, a.Dependencies)); !reflect.DeepEqual(got, []string{"providers", "skills", "tools"}) {
			t.Fatalf("dependencies keys %v", got)
		}
		if a.Dependencies["tools"]["@appstrate/output"] != "^1.0.0" {
			t.Fatalf("output dependency %v", a.Dependencies)
		}
		// Installed in the default application, as a draft without versions.
		var n int
		if err := e.DB.QueryRowContext(context.Background(), `SELECT count(*) FROM package_versions WHERE package_id = '@fresh/hello-world'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("versions %d %v", n, err)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/applications/" + app + "/packages/@fresh/hello-world", Headers: apptest.As(user, org, "")})
		if res.Status != 200 {
			t.Fatalf("installed: %d %s", res.Status, res.Body)
		}
		// Another application of the organization does not see it.
		app2 := e.SeedApp(org, "Other")
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: apptest.As(user, org, app2)})
		if res.JSON(t, &list); len(list.Data) != 0 {
			t.Fatalf("second app sees %s", res.Body)
		}
	})
}

func TestHelloWorldUsesTheCanonicalOutputVersion(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		seedPackage(t, e, "@appstrate/output", "", "tool", `{"name":"@appstrate/output","version":"2.0.0","type":"tool"}`, "")
		user := e.SeedUser("founder@example.test")
		org, app := createOrg(t, e, user, "later")
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@later/hello-world", Headers: apptest.As(user, org, app)})
		if res.Status != 200 {
			t.Fatalf("detail: %d %s", res.Status, res.Body)
		}
		var d struct {
			Dependencies struct {
				Tools []struct {
					ID      string  `json:"id"`
					Version *string `json:"version"`
				} `json:"tools"`
			} `json:"dependencies"`
			Manifest struct {
				Dependencies map[string]map[string]string `json:"dependencies"`
			} `json:"manifest"`
		}
		res.JSON(t, &d)
		if d.Manifest.Dependencies["tools"]["@appstrate/output"] != "^2.0.0" || len(d.Dependencies.Tools) != 1 ||
			d.Dependencies.Tools[0].Version == nil || *d.Dependencies.Tools[0].Version != "2.0.0" {
			t.Fatalf("detail deps %+v", d)
		}
	})
}

func TestHelloWorldIDTakenDoesNotBlockOrgCreation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		squatter := e.SeedUser("squatter@example.test")
		sqOrg, sqApp := e.SeedOrg(squatter, "squat")
		seedPackage(t, e, "@taken/hello-world", sqOrg, "agent", `{"name":"@taken/hello-world","version":"1.0.0","type":"agent"}`, sqApp)
		user := e.SeedUser("late@example.test")
		org, app := createOrg(t, e, user, "taken")
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: apptest.As(user, org, app)})
		var list listBody
		if res.JSON(t, &list); len(list.Data) != 0 {
			t.Fatalf("foreign hello-world visible: %s", res.Body)
		}
	})
}

func TestAgentListOrderAndVisibility(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		owner := e.SeedUser("owner@acme.test")
		acme, app := e.SeedOrg(owner, "acme")
		rivalOwner := e.SeedUser("owner@rival.test")
		rival, rivalApp := e.SeedOrg(rivalOwner, "rival")
		seedPackage(t, e, "@acme/b-local", acme, "agent", `{"name":"@acme/b-local","version":"1.0.0","type":"agent"}`, app)
		seedPackage(t, e, "@acme/a-local", acme, "agent", `{"name":"@acme/a-local","version":"1.0.0","type":"agent","keywords":["x",1]}`, app)
		seedPackage(t, e, "@acme/not-installed", acme, "agent", `{"name":"@acme/not-installed","version":"1.0.0","type":"agent"}`, "")
		seedPackage(t, e, "@appstrate/z-system", "", "agent", `{"name":"@appstrate/z-system","version":"1.0.0","type":"agent","schemaVersion":"1.1"}`, "")
		seedPackage(t, e, "@acme/a-skill", acme, "skill", `{"name":"@acme/a-skill","version":"1.0.0","type":"skill"}`, app)
		seedPackage(t, e, "@rival/agent", rival, "agent", `{"name":"@rival/agent","version":"1.0.0","type":"agent"}`, rivalApp)
		// A foreign agent installed by mistake in acme's app is still invisible.
		now := isotime.Now()
		exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at) VALUES (?, '@rival/agent', '{}', ?, ?, ?)`, app, true, now, now)
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: apptest.As(owner, acme, app)})
		var list struct {
			Data []struct {
				ID            string   `json:"id"`
				Source        string   `json:"source"`
				SchemaVersion string   `json:"schemaVersion"`
				DisplayName   string   `json:"displayName"`
				Keywords      []string `json:"keywords"`
			} `json:"data"`
		}
		res.JSON(t, &list)
		var got []string
		for _, a := range list.Data {
			got = append(got, a.ID)
		}
		if want := []string{"@appstrate/z-system", "@acme/a-local", "@acme/b-local"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("agents %v want %v", got, want)
		}
		if list.Data[1].SchemaVersion != "1.0" || list.Data[1].DisplayName != "a-local" || !reflect.DeepEqual(list.Data[1].Keywords, []string{"x"}) {
			t.Fatalf("defaults: %+v", list.Data[1])
		}
	})
}

// settingsWorld: acme with an agent carrying a config schema, another app, a system agent, skills and tools;
// rival with its own agent.
type settingsWorld struct {
	owner, member              string
	acme, app, app2            string
	rivalOwner, rival, rivalAp string
}

const configAgent = `{"name":"@acme/writer","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Writer",
	"dependencies":{"providers":{"@appstrate/gmail":"^1.0.0","@acme/crm":"^2.0.0"},"tools":{"@appstrate/log":"^1.0.0"}},
	"providersConfiguration":{"@appstrate/gmail":{"scopes":["gmail.readonly"]}},
	"input":{"schema":{"type":"object","properties":{"topic":{"type":"string"}}}},
	"config":{"schema":{"type":"object","properties":{
		"tone":{"type":"string","enum":["dry","warm"],"default":"warm"},
		"limit":{"type":"integer","minimum":1,"maximum":10,"default":3},
		"email":{"type":"string","format":"email"},
		"site":{"type":"string","format":"uri"},
		"when":{"type":"string","format":"date-time"},
		"tags":{"type":"array","items":{"type":"string"},"maxItems":2},
		"nested":{"type":"object","properties":{"on":{"type":"boolean","default":true}},"default":{}}
	},"required":["tone","email"],"additionalProperties":false},"propertyOrder":["tone"]}}`

func seedSettings(t *testing.T, e *apptest.Env) settingsWorld {
	t.Helper()
	var w settingsWorld
	w.owner = e.SeedUser("owner@acme.test")
	w.member = e.SeedUser("member@acme.test")
	w.acme, w.app = e.SeedOrg(w.owner, "acme")
	e.SeedMember(w.acme, w.member, "member")
	w.app2 = e.SeedApp(w.acme, "Second")
	w.rivalOwner = e.SeedUser("owner@rival.test")
	w.rival, w.rivalAp = e.SeedOrg(w.rivalOwner, "rival")
	seedPackage(t, e, "@acme/writer", w.acme, "agent", configAgent, w.app)
	seedPackage(t, e, "@acme/draft07", w.acme, "agent", `{"name":"@acme/draft07","version":"1.0.0","type":"agent",
		"config":{"schema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
		"properties":{"n":{"$ref":"#/definitions/pos"},"mode":{"type":"string","default":"fast"}},"definitions":{"pos":{"type":"integer","exclusiveMinimum":0}},
		"required":["n"]}}}`, w.app)
	seedPackage(t, e, "@acme/modern", w.acme, "agent", `{"name":"@acme/modern","version":"1.0.0","type":"agent",
		"config":{"schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"pair":{"type":"array","prefixItems":[{"type":"string"},{"type":"integer","default":1}]},"ref":{"$ref":"#/$defs/id"},"a":{},"b":{}},
		"$defs":{"id":{"type":"string","format":"uuid"}},"dependentRequired":{"a":["b"]}}}}`, w.app)
	seedPackage(t, e, "@acme/plain", w.acme, "agent", `{"name":"@acme/plain","version":"1.0.0","type":"agent"}`, w.app)
	seedPackage(t, e, "@appstrate/helper", "", "agent", `{"name":"@appstrate/helper","version":"1.0.0","type":"agent"}`, "")
	seedPackage(t, e, "@appstrate/log", "", "tool", `{"name":"@appstrate/log","version":"1.0.0","type":"tool","displayName":"Log"}`, "")
	seedPackage(t, e, "@appstrate/note", "", "tool", `{"name":"@appstrate/note","version":"1.5.2","type":"tool"}`, "")
	seedPackage(t, e, "@acme/tone", w.acme, "skill", `{"name":"@acme/tone","version":"0.3.1","type":"skill","displayName":"Tone","description":"Rewrite tone"}`, "")
	seedPackage(t, e, "@acme/summary", w.acme, "skill", `{"name":"@acme/summary","version":"2.0.0","type":"skill"}`, w.app)
	seedPackage(t, e, "@rival/agent", w.rival, "agent", `{"name":"@rival/agent","version":"1.0.0","type":"agent"}`, w.rivalAp)
	seedPackage(t, e, "@rival/skill", w.rival, "skill", `{"name":"@rival/skill","version":"1.0.0","type":"skill"}`, w.rivalAp)
	return w
}

func TestAgentDetail(t *testing.T) {
	apptest.Run(t, map[string]string{"APP_URL": "https://app.example.test"}, func(t *testing.T, e *apptest.Env) {
		w := seedSettings(t, e)
		as := apptest.As(w.owner, w.acme, w.app)
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@acme/writer", Headers: as})
		if res.Status != 200 {
			t.Fatalf("detail: %d %s", res.Status, res.Body)
		}
		want := []string{"agentAppProfileId", "agentAppProfileName", "callbackUrl", "config", "dependencies", "description", "displayName",
			"forkedFrom", "hasUnarchivedChanges", "id", "input", "lastRun", "lockVersion", "manifest", "populatedProviders", "prompt",
			"runningRuns", "scope", "source", "updatedAt", "version", "versionCount"}
		if got := keySet(t, res.Body); !reflect.DeepEqual(got, want) {
			t.Fatalf("detail keys %v\nwant %v", got, want)
		}
		var d struct {
			Dependencies struct {
				Providers []map[string]any `json:"providers"`
				Tools     []map[string]any `json:"tools"`
				Skills    []map[string]any `json:"skills"`
			} `json:"dependencies"`
			Config struct {
				Schema        map[string]any `json:"schema"`
				PropertyOrder []string       `json:"propertyOrder"`
				Current       map[string]any `json:"current"`
			} `json:"config"`
			CallbackURL          string `json:"callbackUrl"`
			LastRun              any    `json:"lastRun"`
			HasUnarchivedChanges bool   `json:"hasUnarchivedChanges"`
			Prompt               string `json:"prompt"`
			LockVersion          int    `json:"lockVersion"`
		}
		res.JSON(t, &d)
		if len(d.Dependencies.Providers) != 2 || d.Dependencies.Providers[0]["status"] != "not_connected" || d.Dependencies.Skills == nil {
			t.Fatalf("dependencies %+v", d.Dependencies)
		}
		for _, p := range d.Dependencies.Providers {
			if p["id"] == "@appstrate/gmail" && !reflect.DeepEqual(p["scopesRequired"], []any{"gmail.readonly"}) {
				t.Fatalf("gmail scopes %v", p)
			}
		}
		if len(d.Dependencies.Tools) != 1 || d.Dependencies.Tools[0]["name"] != "Log" || d.Dependencies.Tools[0]["version"] != "1.0.0" {
			t.Fatalf("tools %+v", d.Dependencies.Tools)
		}
		// The effective config has the defaults applied even though nothing was stored.
		if d.Config.Current["tone"] != "warm" || d.Config.Current["limit"] != float64(3) || !reflect.DeepEqual(d.Config.Current["nested"], map[string]any{"on": true}) ||
			d.Config.Schema["type"] != "object" || !reflect.DeepEqual(d.Config.PropertyOrder, []string{"tone"}) {
			t.Fatalf("config %+v", d.Config)
		}
		if d.CallbackURL != "https://app.example.test/api/connections/callback" || d.LastRun != nil || !d.HasUnarchivedChanges ||
			d.Prompt != "Do the thing." || d.LockVersion != 1 {
			t.Fatalf("detail %s", res.Body)
		}
		// The URL-encoded alias answers the same.
		res2 := e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/%40acme%2Fwriter", Headers: as})
		if res2.Status != 200 || !bytes.Equal(res2.Body, res.Body) {
			t.Fatalf("alias: %d %s", res2.Status, res2.Body)
		}

		// A system agent: no manifest, prompt, lockVersion or updatedAt; an agent without config → empty schema.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@appstrate/helper", Headers: as})
		if res.Status != 200 {
			t.Fatalf("system detail: %d %s", res.Status, res.Body)
		}
		want = []string{"agentAppProfileId", "agentAppProfileName", "callbackUrl", "config", "dependencies", "description", "displayName",
			"forkedFrom", "hasUnarchivedChanges", "id", "lastRun", "populatedProviders", "runningRuns", "scope", "source", "version", "versionCount"}
		if got := keySet(t, res.Body); !reflect.DeepEqual(got, want) {
			t.Fatalf("system detail keys %v\nwant %v", got, want)
		}
		if !strings.Contains(string(res.Body), `"config":{"schema":{"type":"object","properties":{}},"current":{}}`) {
			t.Fatalf("empty config %s", res.Body)
		}

		// Not visible: another org's agent, an agent not installed in this app, a skill under the agents route.
		for _, path := range []string{"/api/packages/agents/@rival/agent", "/api/packages/agents/@acme/tone", "/api/packages/agents/@acme/nope"} {
			res = e.Do(apptest.Request{Method: "GET", Path: path, Headers: as})
			if p := res.Problem(t); res.Status != 404 || p.Code != "not_found" {
				t.Fatalf("%s: %d %s", path, res.Status, res.Body)
			}
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@acme/writer", Headers: apptest.As(w.owner, w.acme, w.app2)})
		if res.Status != 404 {
			t.Fatalf("other app: %d %s", res.Status, res.Body)
		}
	})
}

func TestAgentConfigValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedSettings(t, e)
		as := apptest.As(w.owner, w.acme, w.app)
		type fieldErr struct{ Field, Code string }
		cases := []struct {
			name   string
			agent  string
			body   string
			status int
			stored string // expected stored config (semantic JSON)
			errs   []fieldErr
		}{
			{"valid with defaults applied", "@acme/writer", `{"tone":"dry","email":"a@b.co"}`, 200,
				`{"tone":"dry","email":"a@b.co","limit":3,"nested":{"on":true}}`, nil},
			{"required default fills a missing member", "@acme/writer", `{"email":"a@b.co"}`, 200,
				`{"tone":"warm","email":"a@b.co","limit":3,"nested":{"on":true}}`, nil},
			{"nested default inside a given object", "@acme/writer", `{"email":"a@b.co","nested":{}}`, 200,
				`{"tone":"warm","email":"a@b.co","limit":3,"nested":{"on":true}}`, nil},
			{"formats accepted", "@acme/writer", `{"email":"a@b.co","site":"https://x.example/p","when":"2026-06-03T12:00:00Z","tags":["a"]}`, 200,
				`{"tone":"warm","email":"a@b.co","site":"https://x.example/p","when":"2026-06-03T12:00:00Z","tags":["a"],"limit":3,"nested":{"on":true}}`, nil},
			{"required without default", "@acme/writer", `{}`, 400, "", []fieldErr{{"config.email", "invalid_config"}}},
			{"wrong type", "@acme/writer", `{"email":"a@b.co","limit":"3"}`, 400, "", []fieldErr{{"config.limit", "invalid_config"}}},
			{"out of range", "@acme/writer", `{"email":"a@b.co","limit":11}`, 400, "", []fieldErr{{"config.limit", "invalid_config"}}},
			{"enum", "@acme/writer", `{"email":"a@b.co","tone":"loud"}`, 400, "", []fieldErr{{"config.tone", "invalid_config"}}},
			{"email format", "@acme/writer", `{"email":"nope"}`, 400, "", []fieldErr{{"config.email", "invalid_config"}}},
			{"uri format", "@acme/writer", `{"email":"a@b.co","site":"not a uri"}`, 400, "", []fieldErr{{"config.site", "invalid_config"}}},
			{"date-time format", "@acme/writer", `{"email":"a@b.co","when":"tomorrow"}`, 400, "", []fieldErr{{"config.when", "invalid_config"}}},
			{"array item path", "@acme/writer", `{"email":"a@b.co","tags":["a",2]}`, 400, "", []fieldErr{{"config.tags[1]", "invalid_config"}}},
			{"additional property", "@acme/writer", `{"email":"a@b.co","extra":1}`, 400, "", []fieldErr{{"config.extra", "invalid_config"}}},
			{"several errors", "@acme/writer", `{"limit":0,"tone":1}`, 400, "", []fieldErr{
				{"config.email", "invalid_config"}, {"config.limit", "invalid_config"}, {"config.tone", "invalid_config"}}},
			{"draft-07 valid with ref", "@acme/draft07", `{"n":2}`, 200, `{"n":2,"mode":"fast"}`, nil},
			{"draft-07 exclusiveMinimum", "@acme/draft07", `{"n":0}`, 400, "", []fieldErr{{"config.n", "invalid_config"}}},
			{"draft-07 required", "@acme/draft07", `{"mode":"slow"}`, 400, "", []fieldErr{{"config.n", "invalid_config"}}},
			{"2020-12 valid, tuple default appended", "@acme/modern", `{"pair":["x"],"ref":"0b4f3a8e-2b0c-4f5e-9d7a-1c2b3d4e5f60"}`, 200,
				`{"pair":["x",1],"ref":"0b4f3a8e-2b0c-4f5e-9d7a-1c2b3d4e5f60"}`, nil},
			{"2020-12 prefixItems type", "@acme/modern", `{"pair":[1]}`, 400, "", []fieldErr{{"config.pair[0]", "invalid_config"}}},
			{"2020-12 $defs format", "@acme/modern", `{"ref":"nope"}`, 400, "", []fieldErr{{"config.ref", "invalid_config"}}},
			{"2020-12 dependentRequired", "@acme/modern", `{"a":1}`, 400, "", []fieldErr{{"config.b", "invalid_config"}}},
			{"no schema stores as is", "@acme/plain", `{"anything":[1,{"x":true}]}`, 200, `{"anything":[1,{"x":true}]}`, nil},
			{"system agent, not installed", "@appstrate/helper", `{"k":"v"}`, 200, `{"k":"v"}`, nil},
			{"body must be an object", "@acme/plain", `[1]`, 400, "", []fieldErr{{"body", ""}}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/" + c.agent + "/config", Body: c.body, Headers: as})
				if res.Status != c.status {
					t.Fatalf("status %d want %d: %s", res.Status, c.status, res.Body)
				}
				if c.status == 200 {
					var out struct {
						Config     json.RawMessage `json:"config"`
						Validation struct{ Valid bool }
					}
					res.JSON(t, &out)
					if !out.Validation.Valid || !sameJSON(t, out.Config, c.stored) {
						t.Fatalf("answer %s want config %s", res.Body, c.stored)
					}
					var stored string
					if err := e.DB.QueryRowContext(context.Background(), `SELECT config FROM application_packages WHERE application_id = ? AND package_id = ?`,
						w.app, c.agent).Scan(&stored); err != nil || !sameJSON(t, []byte(stored), c.stored) {
						t.Fatalf("stored %s (%v) want %s", stored, err, c.stored)
					}
					return
				}
				p := res.Problem(t)
				if p.Code != "validation_failed" {
					t.Fatalf("code %s", p.Code)
				}
				var got []fieldErr
				for _, fe := range p.Errors {
					if c.errs[0].Code == "" {
						fe.Code = ""
					}
					got = append(got, fieldErr{fe.Field, fe.Code})
				}
				if c.errs[0].Field == "body" { // huma's own check of the body type
					return
				}
				if !reflect.DeepEqual(got, c.errs) {
					t.Fatalf("errors %+v want %+v (%s)", got, c.errs, res.Body)
				}
				if !strings.HasPrefix(p.Detail, c.errs[0].Field+": ") {
					t.Fatalf("detail %q", p.Detail)
				}
			})
		}
		// The detail reports the stored config as current.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@acme/draft07", Headers: as})
		if !strings.Contains(string(res.Body), `"current":{"mode":"fast","n":2}`) && !strings.Contains(string(res.Body), `"current":{"n":2,"mode":"fast"}`) {
			t.Fatalf("current config: %s", res.Body)
		}
	})
}

func TestAgentSettings(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedSettings(t, e)
		as := apptest.As(w.owner, w.acme, w.app)
		member := apptest.As(w.member, w.acme, w.app)
		profile, otherProfile := ids.UUID(), ids.UUID()
		now := isotime.Now()
		exec(t, e, `INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Team', ?, ?, ?)`, profile, w.app, false, now, now)
		exec(t, e, `INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Elsewhere', ?, ?, ?)`, otherProfile, w.app2, false, now, now)
		exec(t, e, `INSERT INTO connection_profiles (id, user_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Mine', ?, ?, ?)`, ids.UUID(), w.owner, true, now, now)
		userProfile := scalar(t, e, `SELECT id FROM connection_profiles WHERE user_id = ?`, w.owner)

		cases := []struct {
			name    string
			method  string
			path    string
			body    any
			headers http.Header
			status  int
			code    string
			want    string // expected body (semantic JSON) when set
		}{
			{"model initially null", "GET", "/api/agents/@acme/writer/model", nil, as, 200, "", `{"modelId":null}`},
			{"set model", "PUT", "/api/agents/@acme/writer/model", map[string]any{"modelId": "gpt-x"}, as, 200, "", `{"modelId":"gpt-x"}`},
			{"read model", "GET", "/api/agents/@acme/writer/model", nil, member, 200, "", `{"modelId":"gpt-x"}`},
			{"member cannot configure", "PUT", "/api/agents/@acme/writer/model", map[string]any{"modelId": "m"}, member, 403, "forbidden", ""},
			{"clear model", "PUT", "/api/agents/@acme/writer/model", map[string]any{"modelId": nil}, as, 200, "", `{"modelId":null}`},
			{"model body required", "PUT", "/api/agents/@acme/writer/model", map[string]any{}, as, 400, "validation_failed", ""},
			{"set proxy", "PUT", "/api/agents/@acme/writer/proxy", map[string]any{"proxyId": "px-1"}, as, 200, "", `{"success":true}`},
			{"read proxy", "GET", "/api/agents/@acme/writer/proxy", nil, as, 200, "", `{"proxyId":"px-1","resolved":"px-1"}`},
			{"system agent proxy", "GET", "/api/agents/@appstrate/helper/proxy", nil, as, 200, "", `{"proxyId":null,"resolved":null}`},
			{"app profile of this app", "PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": profile}, as, 200, "", `{"appProfileId":"` + profile + `"}`},
			{"app profile of another app", "PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": otherProfile}, as, 404, "not_found", ""},
			{"user profile is not an app profile", "PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": userProfile}, as, 404, "not_found", ""},
			{"config needs configure", "PUT", "/api/agents/@acme/plain/config", map[string]any{}, member, 403, "forbidden", ""},
			{"readiness", "GET", "/api/agents/@acme/writer/readiness", nil, member, 200, "", ""},
			{"readiness without providers", "GET", "/api/agents/@acme/plain/readiness", nil, as, 200, "", `{"ready":true,"missing":[]}`},
			// requireAgent: another org's agent and an agent of another app are agent_not_found.
			{"foreign agent model", "GET", "/api/agents/@rival/agent/model", nil, as, 404, "agent_not_found", ""},
			{"foreign agent config", "PUT", "/api/agents/@rival/agent/config", map[string]any{}, as, 404, "agent_not_found", ""},
			{"foreign agent readiness", "GET", "/api/agents/@rival/agent/readiness", nil, as, 404, "agent_not_found", ""},
			{"foreign agent skills", "PUT", "/api/agents/@rival/agent/skills", map[string]any{"skillIds": []string{}}, as, 404, "agent_not_found", ""},
			{"not installed in this app", "GET", "/api/agents/@acme/writer/proxy", nil, apptest.As(w.owner, w.acme, w.app2), 404, "agent_not_found", ""},
			{"not installed: config", "PUT", "/api/agents/@acme/writer/config", map[string]any{"email": "a@b.co"}, apptest.As(w.owner, w.acme, w.app2), 404, "agent_not_found", ""},
			{"a skill is not an agent", "GET", "/api/agents/@acme/summary/model", nil, as, 404, "agent_not_found", ""},
			{"unknown agent", "GET", "/api/agents/@acme/ghost/model", nil, as, 404, "agent_not_found", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: c.method, Path: c.path, Body: c.body, Headers: c.headers})
				if res.Status != c.status {
					t.Fatalf("status %d want %d: %s", res.Status, c.status, res.Body)
				}
				if c.code != "" {
					if p := res.Problem(t); p.Code != c.code {
						t.Fatalf("code %q want %q", p.Code, c.code)
					}
				}
				if c.want != "" && !sameJSON(t, res.Body, c.want) {
					t.Fatalf("body %s want %s", res.Body, c.want)
				}
			})
		}

		// The detail reports the app profile; the installation row has the settings.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/packages/agents/@acme/writer", Headers: as})
		if !strings.Contains(string(res.Body), `"agentAppProfileId":"`+profile+`","agentAppProfileName":"Team"`) {
			t.Fatalf("detail app profile: %s", res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/applications/" + w.app + "/packages/@acme/writer", Headers: apptest.As(w.owner, w.acme, "")})
		var row map[string]any
		res.JSON(t, &row)
		if row["proxyId"] != "px-1" || row["modelId"] != nil || row["appProfileId"] != profile {
			t.Fatalf("installation %v", row)
		}
		// Clearing the app profile.
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/@acme/writer/app-profile", Body: map[string]any{"appProfileId": nil}, Headers: as})
		if res.Status != 200 || !sameJSON(t, res.Body, `{"appProfileId":null}`) {
			t.Fatalf("clear app profile: %d %s", res.Status, res.Body)
		}
	})
}

func TestAgentReadiness(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedSettings(t, e)
		seedPackage(t, e, "@appstrate/gmail", "", "provider", `{"name":"@appstrate/gmail","version":"1.0.0","type":"provider"}`, "")
		now := isotime.Now()
		exec(t, e, `INSERT INTO application_provider_credentials (id, application_id, provider_id, enabled, created_at, updated_at) VALUES (?, ?, '@appstrate/gmail', ?, ?, ?)`,
			ids.UUID(), w.app, true, now, now)
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/agents/@acme/writer/readiness", Headers: apptest.As(w.owner, w.acme, w.app)})
		var r struct {
			Ready   bool `json:"ready"`
			Missing []struct {
				ProviderID          string  `json:"providerId"`
				ConnectionProfileID *string `json:"connectionProfileId"`
				Reason              string  `json:"reason"`
				Message             string  `json:"message"`
			} `json:"missing"`
		}
		res.JSON(t, &r)
		if res.Status != 200 || r.Ready || len(r.Missing) != 2 {
			t.Fatalf("readiness %d %s", res.Status, res.Body)
		}
		reasons := map[string]string{}
		for _, m := range r.Missing {
			reasons[m.ProviderID] = m.Reason
			if m.Message == "" || m.ConnectionProfileID == nil { // the owner's Default profile was searched
				t.Fatalf("missing entry %+v", m)
			}
		}
		if reasons["@appstrate/gmail"] != "no_connection" || reasons["@acme/crm"] != "provider_not_enabled" {
			t.Fatalf("reasons %v", reasons)
		}
	})
}

func TestAgentSkillsAndTools(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedSettings(t, e)
		as := apptest.As(w.owner, w.acme, w.app)
		manifest := func() map[string]any {
			var raw string
			if err := e.DB.QueryRowContext(context.Background(), `SELECT draft_manifest FROM packages WHERE id = '@acme/writer'`).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		lock := func() int {
			var n int
			if err := e.DB.QueryRowContext(context.Background(), `SELECT lock_version FROM packages WHERE id = '@acme/writer'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Skills: visible ones rewritten as ^<draft version>; foreign, unknown and wrong-type ids dropped.
		res := e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/@acme/writer/skills", Headers: as,
			Body: map[string]any{"skillIds": []string{"@acme/tone", "@acme/summary", "@rival/skill", "@acme/ghost", "@appstrate/log", "@acme/tone"}}})
		if res.Status != 200 {
			t.Fatalf("skills: %d %s", res.Status, res.Body)
		}
		if !sameJSON(t, res.Body, `{"skills":{"@acme/tone":"^0.3.1","@acme/summary":"^2.0.0"},"lockVersion":2}`) {
			t.Fatalf("skills answer %s", res.Body)
		}
		m := manifest()
		deps := m["dependencies"].(map[string]any)
		if !reflect.DeepEqual(deps["skills"], map[string]any{"@acme/tone": "^0.3.1", "@acme/summary": "^2.0.0"}) ||
			!reflect.DeepEqual(deps["tools"], map[string]any{"@appstrate/log": "^1.0.0"}) || deps["providers"] == nil {
			t.Fatalf("dependencies %v", deps)
		}
		if m["displayName"] != "Writer" || m["config"] == nil || lock() != 2 {
			t.Fatalf("manifest lost members or lock not bumped: %v", m)
		}

		// Tools.
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/@acme/writer/tools", Headers: as,
			Body: map[string]any{"toolIds": []string{"@appstrate/note", "@appstrate/log"}}})
		if res.Status != 200 || !sameJSON(t, res.Body, `{"tools":{"@appstrate/note":"^1.5.2","@appstrate/log":"^1.0.0"},"lockVersion":3}`) {
			t.Fatalf("tools: %d %s", res.Status, res.Body)
		}
		// An empty list removes the member.
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/@acme/writer/skills", Headers: as, Body: map[string]any{"skillIds": []string{}}})
		if res.Status != 200 {
			t.Fatalf("empty skills: %d %s", res.Status, res.Body)
		}
		if _, has := manifest()["dependencies"].(map[string]any)["skills"]; has || lock() != 4 {
			t.Fatalf("skills not removed: %v", manifest()["dependencies"])
		}
		// The agents list shows the new dependencies.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: as})
		if !strings.Contains(string(res.Body), `"^1.5.2"`) {
			t.Fatalf("list deps: %s", res.Body)
		}

		tooMany := make([]string, 51)
		for i := range tooMany {
			tooMany[i] = "@acme/tone"
		}
		cases := []struct {
			name   string
			path   string
			body   any
			status int
			code   string
		}{
			{"system agent", "/api/agents/@appstrate/helper/skills", map[string]any{"skillIds": []string{"@acme/tone"}}, 403, "forbidden"},
			{"more than 50", "/api/agents/@acme/writer/skills", map[string]any{"skillIds": tooMany}, 400, "validation_failed"},
			{"not a package id", "/api/agents/@acme/writer/tools", map[string]any{"toolIds": []string{"log"}}, 400, "validation_failed"},
			{"missing list", "/api/agents/@acme/writer/tools", map[string]any{}, 400, "validation_failed"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "PUT", Path: c.path, Body: c.body, Headers: as})
				if p := res.Problem(t); res.Status != c.status || p.Code != c.code {
					t.Fatalf("%d %s", res.Status, res.Body)
				}
			})
		}

		// An agent of the organization under a foreign scope (imported) is not owned: 403.
		seedPackage(t, e, "@elsewhere/imported", w.acme, "agent", `{"name":"@elsewhere/imported","version":"1.0.0","type":"agent"}`, w.app)
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/agents/@elsewhere/imported/tools", Headers: as, Body: map[string]any{"toolIds": []string{}}})
		if p := res.Problem(t); res.Status != 403 || p.Code != "forbidden" {
			t.Fatalf("foreign scope: %d %s", res.Status, res.Body)
		}
	})
}

func scalar(t *testing.T, e *apptest.Env, query string, args ...any) string {
	t.Helper()
	var v string
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	return reflect.DeepEqual(a, b)
}

func TestBootstrapOrgGetsHelloWorld(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		user := e.SeedUser("boss@example.test")
		if err := e.App.Orgs.CreateBootstrapOrg(context.Background(), user, "Boot Camp"); err != nil {
			t.Fatal(err)
		}
		org := scalar(t, e, `SELECT org_id FROM org_members WHERE user_id = ?`, user)
		app := scalar(t, e, `SELECT id FROM applications WHERE org_id = ?`, org)
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: apptest.As(user, org, app)})
		if res.Status != 200 || !strings.Contains(string(res.Body), `"id":"@boot-camp/hello-world"`) {
			t.Fatalf("bootstrap agents: %d %s", res.Status, res.Body)
		}
	})
}
