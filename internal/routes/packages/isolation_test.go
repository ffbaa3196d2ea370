package packages_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
)

// registryRoutes are every route addressing one package, with a body that would succeed for its owner.
func registryRoutes(folder, id string) []struct {
	method, path string
	body         any
} {
	item := "/api/packages/" + folder + "/" + id
	alias := "/api/packages/" + folder + "/" + strings.ReplaceAll(strings.ReplaceAll(id, "@", "%40"), "/", "%2F")
	return []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, item, nil},
		{http.MethodGet, alias, nil},
		{http.MethodPut, item, map[string]any{"content": skillText, "lockVersion": 1}},
		{http.MethodPut, alias, map[string]any{"content": skillText, "lockVersion": 1}},
		{http.MethodGet, item + "/versions", nil},
		{http.MethodGet, item + "/versions/info", nil},
		{http.MethodPost, item + "/versions", map[string]string{"version": "9.0.0"}},
		{http.MethodGet, item + "/versions/1.0.0", nil},
		{http.MethodPost, item + "/versions/1.0.0/restore", nil},
		{http.MethodPost, item + "/versions/1.0.0/yank", nil},
		{http.MethodPost, item + "/versions/1.0.0/unyank", nil},
		{http.MethodGet, item + "/dist-tags", nil},
		{http.MethodPut, item + "/dist-tags/beta", map[string]string{"version": "1.0.0"}},
		{http.MethodDelete, item + "/dist-tags/beta", nil},
		{http.MethodGet, "/api/packages/" + id + "/1.0.0/download", nil},
		{http.MethodPost, "/api/packages/" + id + "/fork", map[string]string{"name": "copy"}},
		{http.MethodDelete, item + "/versions/1.0.0", nil},
		{http.MethodDelete, alias, nil},
		{http.MethodDelete, item, nil},
	}
}

// TestTenantIsolation: another organization's package ids are 404 on every route, and invisible in lists.
func TestTenantIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		other := newTenant(t, e, "other")
		id := other.createPackage(t, "skill", "secret", "1.0.0")
		expect(t, other.do(http.MethodPut, "/api/packages/skills/"+id+"/dist-tags/beta", map[string]string{"version": "1.0.0"}), 200, "")
		for _, rt := range registryRoutes("skills", id) {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				expect(t, acme.do(rt.method, rt.path, rt.body), 404, "not_found")
			})
		}
		if list := decode[listBody](t, acme.do(http.MethodGet, "/api/packages/skills", nil)); len(list.Data) != 0 {
			t.Fatalf("acme sees %+v", list.Data)
		}
		// The owner still has everything.
		d := decode[detailBody](t, other.do(http.MethodGet, "/api/packages/skills/"+id, nil))
		if d.VersionCount != 1 || d.DistTags["beta"] != "1.0.0" {
			t.Fatalf("owner detail: %+v", d)
		}
		// Another application of the same organization does not list it (not installed there) and its detail is
		// 404, but the organization-level routes still see it.
		app2 := e.SeedApp(other.org, "Second")
		h := apptest.As(other.user, other.org, app2)
		if r := e.Do(apptest.Request{Method: http.MethodGet, Path: "/api/packages/skills", Headers: h}); !bytes.Contains(r.Body, []byte(`"data":[]`)) {
			t.Fatalf("second app list: %s", r.Body)
		}
		expect(t, e.Do(apptest.Request{Method: http.MethodGet, Path: "/api/packages/skills/" + id, Headers: h}), 404, "not_found")
		expect(t, e.Do(apptest.Request{Method: http.MethodGet, Path: "/api/packages/skills/" + id + "/versions", Headers: h}), 200, "")
		// A package under the wrong type's route is 404 too.
		expect(t, other.do(http.MethodGet, "/api/packages/tools/"+id, nil), 404, "not_found")
	})
}

// TestSystemPackages: the system packages synced at boot are readable, downloadable and forkable, and every
// mutation of them is 403.
func TestSystemPackages(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		e.App.SyncSystemPackages(t.Context())
		acme := newTenant(t, e, "acme")
		const id = "@appstrate/log"
		list := decode[listBody](t, acme.do(http.MethodGet, "/api/packages/tools", nil))
		if len(list.Data) == 0 || list.Data[0].Source != "system" || list.Data[0].OrgID != nil {
			t.Fatalf("tools: %+v", list)
		}
		d := decode[detailBody](t, acme.do(http.MethodGet, "/api/packages/tools/"+id, nil))
		if d.ID != id || d.HasUnarchivedChanges || d.VersionCount == 0 || d.SourceCode == nil || *d.SourceCode == "" {
			t.Fatalf("system detail: %+v", d)
		}
		dl := acme.do(http.MethodGet, "/api/packages/"+id+"/latest/download", nil)
		expect(t, dl, 200, "")
		if dl.Header.Get("X-Integrity") != afps.SRI(dl.Body) {
			t.Fatal("X-Integrity does not match")
		}
		for _, rt := range registryRoutes("tools", id) {
			if rt.method == http.MethodGet || strings.HasSuffix(rt.path, "/fork") {
				continue
			}
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				expect(t, acme.do(rt.method, rt.path, rt.body), 403, "forbidden")
			})
		}
		r := acme.do(http.MethodPost, "/api/packages/"+id+"/fork", nil)
		expect(t, r, 201, "")
		if !bytes.Contains(r.Body, []byte(`"packageId":"@acme/log"`)) {
			t.Fatalf("fork: %s", r.Body)
		}
		expect(t, acme.do(http.MethodPut, "/api/packages/tools/@acme/log", map[string]any{"content": "# My log\n", "lockVersion": 1}), 200, "")
		// Importing a system id is a collision.
		expect(t, acme.upload("/api/packages/import", "file", "log.afps", dl.Body), 400, "name_collision")
	})
}
