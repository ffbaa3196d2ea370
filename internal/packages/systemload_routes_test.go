package packages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// A new organization sees every system package through the registry routes, downloads exactly the embedded
// archives (older majors included), and can neither change nor shadow them.
func TestSystemPackagesThroughTheAPI(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		e.App.SyncSystemPackages(context.Background()) // what app.New does at boot
		user := e.SeedUser("owner@example.com")
		org, app := e.SeedOrg(user, "acme")
		h := apptest.As(user, org, app)
		get := func(path string) *apptest.Response {
			t.Helper()
			return e.Do(apptest.Request{Method: http.MethodGet, Path: path, Headers: h})
		}

		type item struct {
			ID, Type, Source, Version string
			OrgID                     *string
		}
		for _, tc := range []struct {
			folder, typ string
			want        int
		}{{"providers", packages.TypeProvider, 60}, {"tools", packages.TypeTool, 5}, {"agents", packages.TypeAgent, 0}} {
			r := get("/api/packages/" + tc.folder)
			if r.Status != http.StatusOK {
				t.Fatalf("list %s: %d %s", tc.folder, r.Status, r.Body)
			}
			var list struct {
				Object string `json:"object"`
				Data   []item `json:"data"`
			}
			r.JSON(t, &list)
			var system []item
			for _, it := range list.Data {
				if it.Source == packages.SourceSystem {
					system = append(system, it)
				}
			}
			if len(system) != tc.want {
				t.Errorf("%s: %d system packages, want %d", tc.folder, len(system), tc.want)
			}
			for _, it := range system {
				p, ok := packages.System().Get(it.ID)
				if !ok || it.Type != tc.typ || it.OrgID != nil || it.Version != p.Version {
					t.Errorf("%s: %+v", tc.folder, it)
				}
			}
		}

		for _, tc := range []struct{ path, id, version string }{
			{"/api/packages/@appstrate/gmail/1.0.0/download", "@appstrate/gmail", "1.0.0"},
			{"/api/packages/@appstrate/output/latest/download", "@appstrate/output", "2.0.0"},
			{"/api/packages/@appstrate/output/%5E1.0.0/download", "@appstrate/output", "1.0.0"},
			{"/api/packages/@appstrate/note/1.0.0/download", "@appstrate/note", "1.0.0"},
		} {
			r := get(tc.path)
			p, _ := packages.System().Version(tc.id, tc.version)
			archive, _ := p.Archive()
			if r.Status != http.StatusOK || !bytes.Equal(r.Body, archive) || r.Header.Get("X-Integrity") != p.Integrity() {
				t.Errorf("%s: %d, %d bytes, X-Integrity %q; want the embedded %s@%s (%s)", tc.path, r.Status, len(r.Body),
					r.Header.Get("X-Integrity"), tc.id, tc.version, p.Integrity())
			}
		}

		r := get("/api/packages/tools/@appstrate/output/versions")
		var versions struct {
			Versions []struct {
				Version string `json:"version"`
			} `json:"versions"`
		}
		if r.Status != http.StatusOK {
			t.Fatalf("versions: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &versions)
		if len(versions.Versions) != 2 {
			t.Errorf("output versions: %s", r.Body)
		}

		// Immutable through the API.
		gmail, _ := packages.System().Get("@appstrate/gmail")
		var manifest map[string]any
		if err := json.Unmarshal(gmail.Manifest.Raw, &manifest); err != nil {
			t.Fatal(err)
		}
		for _, req := range []apptest.Request{
			{Method: http.MethodPut, Path: "/api/packages/providers/@appstrate/gmail", Body: map[string]any{"manifest": manifest, "lockVersion": 1}},
			{Method: http.MethodDelete, Path: "/api/packages/providers/@appstrate/gmail"},
			{Method: http.MethodPost, Path: "/api/packages/providers/@appstrate/gmail/versions"},
		} {
			req.Headers = h
			if r := e.Do(req); r.Status != http.StatusForbidden {
				t.Errorf("%s %s: %d %s, want 403", req.Method, req.Path, r.Status, r.Body)
			}
		}

		// Even an organization whose slug is "appstrate" cannot create a package with a system id.
		owner := e.SeedUser("fan@example.com")
		fanOrg, fanApp := e.SeedOrg(owner, "appstrate")
		r = e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/packages/providers", Body: map[string]any{"manifest": manifest},
			Headers: apptest.As(owner, fanOrg, fanApp)})
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("create @appstrate/gmail as org appstrate: %d %s", r.Status, r.Body)
		}
		row, err := packages.GetPackage(context.Background(), e.DB, "@appstrate/gmail")
		if err != nil || !row.IsSystem() || row.LockVersion != 1 {
			t.Errorf("system row changed: %+v %v", row, err)
		}
	})
}
