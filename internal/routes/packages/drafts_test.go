package packages_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

type listBody struct {
	Object  string `json:"object"`
	HasMore bool   `json:"hasMore"`
	Data    []struct {
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Source       string  `json:"source"`
		Version      string  `json:"version"`
		UsedByAgents *int    `json:"usedByAgents"`
		OrgID        *string `json:"orgId"`
	} `json:"data"`
}

type detailBody struct {
	ID                   string            `json:"id"`
	Type                 string            `json:"type"`
	DraftContent         string            `json:"draftContent"`
	LockVersion          int               `json:"lockVersion"`
	VersionCount         int               `json:"versionCount"`
	HasUnarchivedChanges bool              `json:"hasUnarchivedChanges"`
	LatestVersion        *string           `json:"latestVersion"`
	DistTags             map[string]string `json:"distTags"`
	SourceCode           *string           `json:"sourceCode"`
}

func TestCreateEveryType(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		for _, typ := range []string{"agent", "skill", "tool", "provider"} {
			t.Run(typ, func(t *testing.T) {
				r := acme.do(http.MethodPost, "/api/packages/"+typ+"s", createBody(typ, "acme", "p-"+typ, "1.0.0"))
				expect(t, r, http.StatusCreated, "")
				created := decode[struct {
					PackageID   string `json:"packageId"`
					LockVersion int    `json:"lockVersion"`
					Message     string `json:"message"`
				}](t, r)
				id := "@acme/p-" + typ
				if created.PackageID != id || created.LockVersion != 1 || created.Message == "" {
					t.Fatalf("created: %+v", created)
				}
				list := decode[listBody](t, acme.do(http.MethodGet, "/api/packages/"+typ+"s", nil))
				if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != id || list.Data[0].Version != "1.0.0" {
					t.Fatalf("list: %+v", list)
				}
				if (typ == "agent") != (list.Data[0].UsedByAgents == nil) {
					t.Fatalf("usedByAgents: %+v", list.Data[0])
				}
				// The agent detail is the agents area's rich shape (API.md §5 item 8): check the common members only.
				d := decode[detailBody](t, acme.do(http.MethodGet, "/api/packages/"+typ+"s/"+id, nil))
				if d.ID != id || d.VersionCount != 1 || d.HasUnarchivedChanges || d.LockVersion != 1 {
					t.Fatalf("detail: %+v", d)
				}
				if typ != "agent" && (d.LatestVersion == nil || *d.LatestVersion != "1.0.0" || d.DistTags["latest"] != "1.0.0") {
					t.Fatalf("detail: %+v", d)
				}
				if typ == "tool" && (d.SourceCode == nil || *d.SourceCode != toolSource || d.DraftContent != "# Echo\n") {
					t.Fatalf("tool detail: %+v", d)
				}
				// The URL-encoded alias answers the same.
				alias := decode[detailBody](t, acme.do(http.MethodGet, "/api/packages/"+typ+"s/%40acme%2Fp-"+typ, nil))
				if alias.ID != id {
					t.Fatalf("alias: %+v", alias)
				}
				// Installed in the caller's application.
				var n int
				if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM application_packages WHERE application_id = ? AND package_id = ?`,
					acme.app, id).Scan(&n); err != nil || n != 1 {
					t.Fatalf("installed: %d %v", n, err)
				}
			})
		}
		// The $schema is stamped on the stored draft.
		var manifest []byte
		if err := e.DB.QueryRowContext(t.Context(), `SELECT draft_manifest FROM packages WHERE id = '@acme/p-skill'`).Scan(&manifest); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, manifest, []byte(`{"$schema":"https://afps.appstrate.dev/packages/schema/v1/skill.schema.json",
			"name":"@acme/p-skill","version":"1.0.0","type":"skill","displayName":"p-skill"}`)) {
			t.Fatalf("manifest: %s", manifest)
		}
	})
}

func TestCreateErrors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		newTenant(t, e, "other").createPackage(t, "skill", "taken", "1.0.0")
		viewer := e.SeedUser("viewer@example.com")
		e.SeedMember(acme.org, viewer, "viewer")
		badAgent := createBody("agent", "acme", "bad", "1.0.0")
		badAgent["manifest"].(map[string]any)["displayName"] = ""
		badAgent["manifest"].(map[string]any)["version"] = "one"
		cases := []struct {
			name   string
			path   string
			body   any
			user   string
			status int
			code   string
			field  string
		}{
			{"manifest invalid", "/api/packages/agents", badAgent, "", 400, "validation_failed", "manifest."},
			{"manifest missing", "/api/packages/skills", map[string]any{"content": skillText}, "", 400, "validation_failed", "manifest"},
			{"manifest not object", "/api/packages/skills", map[string]any{"manifest": []int{1}, "content": skillText}, "", 400, "validation_failed", "manifest"},
			{"wrong type for route", "/api/packages/skills", createBody("agent", "acme", "x", "1.0.0"), "", 400, "validation_failed", "manifest.type"},
			{"blank prompt", "/api/packages/agents", map[string]any{"manifest": agentManifest("acme", "x", "1.0.0"), "content": "  "}, "", 400, "validation_failed", "content"},
			{"skill without frontmatter name", "/api/packages/skills", map[string]any{"manifest": skillManifest("acme", "x", "1.0.0"), "content": "# no name"}, "", 400, "validation_failed", "content"},
			{"tool without source", "/api/packages/tools", map[string]any{"manifest": toolManifest("acme", "x", "1.0.0")}, "", 400, "validation_failed", "sourceCode"},
			{"tool without default export", "/api/packages/tools", map[string]any{"manifest": toolManifest("acme", "x", "1.0.0"), "sourceCode": "module.exports = 1"}, "", 400, "validation_failed", "sourceCode"},
			{"scope mismatch", "/api/packages/skills", createBody("skill", "other", "mine", "1.0.0"), "", 403, "scope_mismatch", ""},
			{"viewer cannot write", "/api/packages/skills", createBody("skill", "acme", "v", "1.0.0"), viewer, 403, "forbidden", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				user := acme.user
				if tc.user != "" {
					user = tc.user
				}
				r := acme.as(user, http.MethodPost, tc.path, tc.body)
				expect(t, r, tc.status, tc.code)
				if tc.field != "" {
					p := r.Problem(t)
					found := false
					for _, fe := range p.Errors {
						if fe.Field == tc.field || (tc.field == "manifest." && len(fe.Field) > 9 && fe.Field[:9] == "manifest.") {
							found = true
						}
					}
					if !found {
						t.Fatalf("no error on %s: %s", tc.field, r.Body)
					}
				}
			})
		}
		// name_collision with an org package and with a package of another organization (ids are global).
		acme.createPackage(t, "skill", "dup", "1.0.0")
		expect(t, acme.do(http.MethodPost, "/api/packages/skills", createBody("skill", "acme", "dup", "2.0.0")), 400, "name_collision")
		expect(t, acme.do(http.MethodPost, "/api/packages/tools", createBody("tool", "acme", "dup", "1.0.0")), 400, "name_collision")
	})
}

func TestUpdateLockVersion(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		id := acme.createPackage(t, "skill", "tone", "1.0.0")
		item := "/api/packages/skills/" + id
		newPrompt := skillText + "A new body"
		r := acme.do(http.MethodPut, item, map[string]any{"content": newPrompt, "lockVersion": 1})
		expect(t, r, http.StatusOK, "")
		if got := decode[struct {
			LockVersion int `json:"lockVersion"`
		}](t, r); got.LockVersion != 2 {
			t.Fatalf("lockVersion %d", got.LockVersion)
		}
		d := decode[detailBody](t, acme.do(http.MethodGet, item, nil))
		if d.DraftContent != newPrompt || !d.HasUnarchivedChanges || d.LockVersion != 2 {
			t.Fatalf("detail after update: %+v", d)
		}
		// Stale lockVersion.
		expect(t, acme.do(http.MethodPut, item, map[string]any{"content": skillText + "x", "lockVersion": 1}), 409, "conflict")
		// Name change refused; missing lockVersion is a validation error.
		m := skillManifest("acme", "renamed", "1.0.0")
		expect(t, acme.do(http.MethodPut, item, map[string]any{"manifest": m, "lockVersion": 2}), 400, "invalid_request")
		expect(t, acme.do(http.MethodPut, item, map[string]any{"content": "x"}), 400, "validation_failed")
		// An invalid manifest on update.
		bad := skillManifest("acme", "tone", "1.0.0")
		bad["keywords"] = "not a list"
		expect(t, acme.do(http.MethodPut, item, map[string]any{"manifest": bad, "lockVersion": 2}), 400, "validation_failed")

		// Two concurrent PUTs with the same lockVersion: exactly one wins.
		for round := 0; round < 3; round++ {
			d := decode[detailBody](t, acme.do(http.MethodGet, item, nil))
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.Do(apptest.Request{Method: http.MethodPut, Path: item, Headers: acme.headers(),
						Body: map[string]any{"content": skillText + "writer " + string(rune('a'+i)), "lockVersion": d.LockVersion}})
					statuses[i] = r.Status
				}()
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, s := range statuses {
				switch s {
				case 200:
					ok++
				case 409:
					conflicts++
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Fatalf("round %d: statuses %v", round, statuses)
			}
			after := decode[detailBody](t, acme.do(http.MethodGet, item, nil))
			if after.LockVersion != d.LockVersion+1 {
				t.Fatalf("lockVersion %d after %d", after.LockVersion, d.LockVersion)
			}
		}
	})
}

func TestDeletePackage(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		skill := acme.createPackage(t, "skill", "tone", "1.0.0")
		provider := acme.createPackage(t, "provider", "svc", "1.0.0")
		agent := createBody("agent", "acme", "bot", "1.0.0")
		agent["manifest"].(map[string]any)["dependencies"] = map[string]any{
			"skills": map[string]string{skill: "^1.0.0"}, "providers": map[string]string{provider: "^1.0.0"}}
		expect(t, acme.do(http.MethodPost, "/api/packages/agents", agent), 201, "")

		// One dependency row per declared dependency of the published version.
		rows, err := e.DB.QueryContext(t.Context(), `SELECT d.dep_scope, d.dep_name, d.dep_type, d.version_range
			FROM package_version_dependencies d JOIN package_versions v ON v.id = d.version_id
			WHERE v.package_id = '@acme/bot' ORDER BY d.dep_name`)
		if err != nil {
			t.Fatal(err)
		}
		var deps []string
		for rows.Next() {
			var scope, name, typ, rng string
			rows.Scan(&scope, &name, &typ, &rng)
			deps = append(deps, scope+"/"+name+" "+typ+" "+rng)
		}
		rows.Close()
		if len(deps) != 2 || deps[0] != "@acme/svc provider ^1.0.0" || deps[1] != "@acme/tone skill ^1.0.0" {
			t.Fatalf("dependency rows: %v", deps)
		}
		list := decode[listBody](t, acme.do(http.MethodGet, "/api/packages/skills", nil))
		if len(list.Data) != 1 || list.Data[0].UsedByAgents == nil || *list.Data[0].UsedByAgents != 1 {
			t.Fatalf("usedByAgents: %+v", list)
		}
		expect(t, acme.do(http.MethodDelete, "/api/packages/skills/"+skill, nil), 409, "in_use")
		expect(t, acme.do(http.MethodDelete, "/api/packages/providers/"+provider, nil), 409, "provider_in_use")
		member := e.SeedUser("member@example.com")
		e.SeedMember(acme.org, member, "member")
		expect(t, acme.as(member, http.MethodDelete, "/api/packages/agents/@acme/bot", nil), 403, "forbidden")
		expect(t, acme.do(http.MethodDelete, "/api/packages/agents/%40acme%2Fbot", nil), 204, "")
		expect(t, acme.do(http.MethodDelete, "/api/packages/skills/"+skill, nil), 204, "")
		expect(t, acme.do(http.MethodGet, "/api/packages/skills/"+skill, nil), 404, "not_found")
		var n int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM package_versions WHERE package_id = ?`, skill).Scan(&n); err != nil || n != 0 {
			t.Fatalf("versions left: %d %v", n, err)
		}
	})
}
