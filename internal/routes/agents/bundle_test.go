package agents_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
)

// bundleWorld is acme with a skill, a writer agent published at 1.0.0 and 1.1.0 (dist-tag stable → 1.0.0)
// whose draft is 1.2.0, and a rival organization.
type bundleWorld struct {
	e                                            *apptest.Env
	owner, acme, app, rival, rivalApp, rivalUser string
}

func (w *bundleWorld) do(method, path string, body any, want int) *apptest.Response {
	w.e.T.Helper()
	res := w.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: apptest.As(w.owner, w.acme, w.app)})
	if res.Status != want {
		w.e.T.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
	}
	return res
}

func writerManifest(version, outputRange string, skills map[string]string) map[string]any {
	return map[string]any{"name": "@acme/writer", "version": version, "type": "agent", "schemaVersion": "1.1",
		"displayName": "Writer", "dependencies": map[string]any{"skills": skills,
			"tools": map[string]string{"@appstrate/output": outputRange}}}
}

func newBundleWorld(t *testing.T, e *apptest.Env) *bundleWorld {
	t.Helper()
	e.App.SyncSystemPackages(context.Background())
	w := &bundleWorld{e: e, owner: e.SeedUser("owner@acme.test")}
	w.acme, w.app = e.SeedOrg(w.owner, "acme")
	w.rivalUser = e.SeedUser("owner@rival.test")
	w.rival, w.rivalApp = e.SeedOrg(w.rivalUser, "rival")

	w.do("POST", "/api/packages/skills", map[string]any{"manifest": map[string]any{"name": "@acme/tone", "version": "1.0.0",
		"type": "skill", "displayName": "Tone"}, "content": "---\nname: tone\ndescription: Tone\n---\n# Tone\n"}, 201)

	skills := map[string]string{"@acme/tone": "^1.0.0"}
	// Creating a package publishes its manifest's version.
	w.do("POST", "/api/packages/agents", map[string]any{"manifest": writerManifest("1.0.0", "^1.0.0", skills), "content": "Write v1."}, 201)
	lock := w.update(1, writerManifest("1.1.0", "^1.0.0", skills), "Write v1.1.")
	w.do("POST", "/api/packages/agents/@acme/writer/versions", nil, 201)
	w.update(lock, writerManifest("1.2.0", "*", skills), "Write the draft.")
	w.do("PUT", "/api/packages/agents/@acme/writer/dist-tags/stable", map[string]string{"version": "1.0.0"}, 200)
	return w
}

// update rewrites the writer's draft and returns the new lockVersion.
func (w *bundleWorld) update(lock int, manifest map[string]any, prompt string) int {
	w.e.T.Helper()
	var out struct {
		LockVersion int `json:"lockVersion"`
	}
	w.do("PUT", "/api/packages/agents/@acme/writer", map[string]any{"manifest": manifest, "content": prompt, "lockVersion": lock}, 200).JSON(w.e.T, &out)
	return out.LockVersion
}

// bundle downloads a bundle and checks its headers and bytes.
func (w *bundleWorld) bundle(t *testing.T, path string) (*afps.Bundle, *apptest.Response) {
	t.Helper()
	res := w.do("GET", path, nil, 200)
	if ct := res.Header.Get("Content-Type"); ct != "application/zip" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="@acme-writer.afps-bundle.zip"` {
		t.Fatalf("Content-Disposition %q", cd)
	}
	integrity := res.Header.Get("X-Bundle-Integrity")
	if integrity != afps.SRI(res.Body) || !afps.VerifySRI(res.Body, integrity) {
		t.Fatalf("X-Bundle-Integrity %q, bytes hash to %s", integrity, afps.SRI(res.Body))
	}
	b, err := afps.ReadBundle(res.Body, afps.BundleLimits)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	return b, res
}

func TestAgentBundle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newBundleWorld(t, e)
		base := "/api/agents/@acme/writer/bundle"
		cases := []struct {
			name, query, version, prompt string
			identities                   []string
		}{
			{"draft", "?source=draft", "draft", "Write the draft.",
				[]string{"@acme/tone@1.0.0", "@acme/writer@1.2.0", "@appstrate/output@2.0.0"}},
			{"exact version", "?version=1.0.0", "1.0.0", "Write v1.",
				[]string{"@acme/tone@1.0.0", "@acme/writer@1.0.0", "@appstrate/output@1.0.0"}},
			{"range", "?version=" + "%5E1.0.0", "1.1.0", "Write v1.1.", nil},
			{"dist-tag", "?version=stable", "1.0.0", "Write v1.", nil},
			{"latest by default", "", "1.1.0", "Write v1.1.", nil},
			{"published", "?source=published", "1.1.0", "Write v1.1.", nil},
			{"published with version", "?source=published&version=1.0.0", "1.0.0", "Write v1.", nil},
			{"percent-encoded scope", "", "1.1.0", "Write v1.1.", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				path := base
				if tc.name == "percent-encoded scope" {
					path = "/api/agents/%40acme/writer/bundle"
				}
				b, res := w.bundle(t, path+tc.query)
				if v := res.Header.Get("X-Bundle-Version"); v != tc.version {
					t.Fatalf("X-Bundle-Version %q, want %q", v, tc.version)
				}
				root := b.RootPackage()
				wantVersion := tc.version
				if tc.version == "draft" {
					wantVersion = "1.2.0"
				}
				if root.Name != "@acme/writer" || root.Version != wantVersion || string(root.Files[afps.PromptFile]) != tc.prompt {
					t.Fatalf("root %s@%s prompt %q", root.Name, root.Version, root.Files[afps.PromptFile])
				}
				if tc.identities != nil && !slices.Equal(b.Identities(), tc.identities) {
					t.Fatalf("identities %v, want %v", b.Identities(), tc.identities)
				}
				// Deterministic: the same bytes on a second call.
				if again := w.do("GET", path+tc.query, nil, 200); !bytes.Equal(again.Body, res.Body) {
					t.Fatal("two downloads differ")
				}
			})
		}

		// The application's pinned version is the default.
		var v struct {
			ID int64 `json:"id"`
		}
		w.do("GET", "/api/packages/agents/@acme/writer/versions/1.0.0", nil, 200).JSON(t, &v)
		w.do("PUT", "/api/applications/"+w.app+"/packages/@acme/writer", map[string]any{"versionId": v.ID}, 200)
		if _, res := w.bundle(t, base); res.Header.Get("X-Bundle-Version") != "1.0.0" {
			t.Fatalf("pinned: X-Bundle-Version %q", res.Header.Get("X-Bundle-Version"))
		}
		if _, res := w.bundle(t, base+"?version=latest"); res.Header.Get("X-Bundle-Version") != "1.1.0" {
			t.Fatalf("latest over the pin: X-Bundle-Version %q", res.Header.Get("X-Bundle-Version"))
		}
	})
}

func TestAgentBundleErrors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newBundleWorld(t, e)
		// An agent never published (like the starter agent) exports its draft by default, not with source=published.
		seedPackage(t, e, "@acme/fresh", w.acme, "agent", `{"name":"@acme/fresh","version":"0.1.0","type":"agent","schemaVersion":"1.1"}`, w.app)
		if res := w.do("GET", "/api/agents/@acme/fresh/bundle", nil, 200); res.Header.Get("X-Bundle-Version") != "draft" {
			t.Fatalf("never published: X-Bundle-Version %q", res.Header.Get("X-Bundle-Version"))
		}
		// A draft depending on a package nobody has.
		w.do("POST", "/api/packages/agents", map[string]any{"manifest": map[string]any{"name": "@acme/broken", "version": "0.1.0",
			"type": "agent", "schemaVersion": "1.1", "displayName": "Broken",
			"dependencies": map[string]any{"skills": map[string]string{"@acme/ghost": "^1.0.0"}}}, "content": "Broken."}, 201)
		otherApp := e.SeedApp(w.acme, "Other")

		owner := apptest.As(w.owner, w.acme, w.app)
		cases := []struct {
			name, path string
			headers    http.Header
			status     int
			code       string
		}{
			{"draft with version", "/api/agents/@acme/writer/bundle?source=draft&version=1.0.0", owner, 400, "draft_with_version"},
			{"bad source", "/api/agents/@acme/writer/bundle?source=latest", owner, 400, ""},
			{"unknown version", "/api/agents/@acme/writer/bundle?version=9.9.9", owner, 404, "not_found"},
			{"unknown dist-tag", "/api/agents/@acme/writer/bundle?version=nope", owner, 404, "not_found"},
			{"never published", "/api/agents/@acme/fresh/bundle?source=published", owner, 404, "not_found"},
			{"unresolved dependency", "/api/agents/@acme/broken/bundle?source=draft", owner, 400, "dependency_unresolved"},
			{"unknown agent", "/api/agents/@acme/nope/bundle", owner, 404, "agent_not_found"},
			{"a skill", "/api/agents/@acme/tone/bundle", owner, 404, "agent_not_found"},
			{"other organization", "/api/agents/@acme/writer/bundle?source=draft", apptest.As(w.rivalUser, w.rival, w.rivalApp), 404, "agent_not_found"},
			{"not installed in the application", "/api/agents/@acme/writer/bundle?source=draft", apptest.As(w.owner, w.acme, otherApp), 404, "agent_not_installed_in_app"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "GET", Path: tc.path, Headers: tc.headers})
				if res.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
				}
				if tc.code != "" {
					if p := res.Problem(t); p.Code != tc.code {
						t.Fatalf("code %q, want %q: %s", p.Code, tc.code, res.Body)
					}
				}
			})
		}
	})
}
