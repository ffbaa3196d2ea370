package packages_test

import (
	"archive/zip"
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
)

type importedBody struct {
	PackageID string `json:"packageId"`
	Type      string `json:"type"`
	Version   string `json:"version"`
}

// TestRoundTrip: pack a directory → import → download gives the same bytes, and X-Integrity always matches the
// bytes served, also after a forced re-publication of the same version.
func TestRoundTrip(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		files, err := afps.LoadDir(os.DirFS("testdata/roundtrip"))
		if err != nil {
			t.Fatal(err)
		}
		archive, integrity, err := afps.Pack(files, afps.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := acme.upload("/api/packages/import", "file", "digest.afps", archive)
		expect(t, r, 201, "")
		if got := decode[importedBody](t, r); got != (importedBody{PackageID: "@acme/digest", Type: "agent", Version: "1.0.0"}) {
			t.Fatalf("import: %+v", got)
		}
		download := func(query string) *apptest.Response {
			t.Helper()
			dl := acme.do(http.MethodGet, "/api/packages/@acme/digest/"+query+"/download", nil)
			expect(t, dl, 200, "")
			if got := dl.Header.Get("X-Integrity"); got != afps.SRI(dl.Body) {
				t.Fatalf("X-Integrity %s does not match the bytes served (%s)", got, afps.SRI(dl.Body))
			}
			return dl
		}
		dl := download("1.0.0")
		if !bytes.Equal(dl.Body, archive) || dl.Header.Get("X-Integrity") != integrity {
			t.Fatalf("downloaded bytes differ from the packed archive")
		}
		if ct := dl.Header.Get("Content-Type"); ct != "application/afps+zip" {
			t.Fatalf("Content-Type %q", ct)
		}
		if cd := dl.Header.Get("Content-Disposition"); cd != `attachment; filename="acme-digest-1.0.0.afps"` {
			t.Fatalf("Content-Disposition %q", cd)
		}
		download("latest")
		download("%5E1.0.0")
		versions := decode[versionsBody](t, acme.do(http.MethodGet, "/api/packages/agents/@acme/digest/versions", nil))
		if len(versions.Versions) != 1 || versions.Versions[0].Integrity != integrity || versions.Versions[0].ArtifactSize != int64(len(archive)) {
			t.Fatalf("versions: %+v", versions)
		}
		d := decode[detailBody](t, acme.do(http.MethodGet, "/api/packages/agents/@acme/digest", nil))
		if d.HasUnarchivedChanges || d.VersionCount != 1 {
			t.Fatalf("draft: %+v", d)
		}
		if v := decode[versionDetailBody](t, acme.do(http.MethodGet, "/api/packages/agents/@acme/digest/versions/1.0.0", nil)); v.Content != string(files["prompt.md"]) {
			t.Fatalf("version content: %+v", v)
		}

		// Re-importing the same bytes is idempotent.
		expect(t, acme.upload("/api/packages/import", "file", "digest.afps", archive), 201, "")
		// Same version, other bytes: integrity_mismatch unless forced.
		files["references/notes.md"] = []byte("changed notes\n")
		changed, changedIntegrity, err := afps.Pack(files, afps.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, acme.upload("/api/packages/import", "file", "digest.afps", changed), 409, "integrity_mismatch")
		if dl := download("1.0.0"); !bytes.Equal(dl.Body, archive) {
			t.Fatal("refused import changed the stored bytes")
		}
		expect(t, acme.upload("/api/packages/import?force=true", "file", "digest.afps", changed), 201, "")
		if dl := download("1.0.0"); !bytes.Equal(dl.Body, changed) || dl.Header.Get("X-Integrity") != changedIntegrity {
			t.Fatal("forced import did not replace the version")
		}

		// Tampered storage is never served.
		if err := e.App.Blobs.Put(t.Context(), "agent-packages", "@acme/digest/1.0.0.afps", archive); err != nil {
			t.Fatal(err)
		}
		expect(t, acme.do(http.MethodGet, "/api/packages/@acme/digest/1.0.0/download", nil), 500, "internal_error")
		if !strings.Contains(e.Logs.String(), "does not match its integrity") {
			t.Fatal("integrity mismatch not logged")
		}
	})
}

func TestImportRules(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		other := newTenant(t, e, "other")
		other.createPackage(t, "skill", "theirs", "1.0.0")
		acme.createPackage(t, "tool", "echo", "1.0.0")

		wrapped := func() []byte { // a Finder-style archive: one wrapper folder, plus a traversal entry
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for name, body := range map[string]string{
				"tone/manifest.json": `{"name":"@acme/wrapped","version":"1.0.0","type":"skill"}`,
				"tone/SKILL.md":      skillText,
			} {
				w, _ := zw.Create(name)
				w.Write([]byte(body))
			}
			zw.Close()
			return buf.Bytes()
		}()
		cases := []struct {
			name     string
			filename string
			data     []byte
			status   int
			code     string
		}{
			{"not a zip", "x.afps", []byte("hello"), 400, "zip_invalid"},
			{"wrong extension", "x.tar", skillArchive(t, "@acme/x", "1.0.0", ""), 400, "invalid_request"},
			{"no manifest", "x.zip", packRaw(t, map[string]string{"README.md": "hi"}), 400, "missing_manifest"},
			{"invalid manifest", "x.zip", packRaw(t, map[string]string{"manifest.json": `{"name":"bad"}`}), 400, "invalid_manifest"},
			{"missing content", "x.zip", packRaw(t, map[string]string{"manifest.json": `{"name":"@acme/a","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"A"}`}), 400, "missing_content"},
			{"invalid content", "x.zip", packRaw(t, map[string]string{"manifest.json": `{"name":"@acme/s","version":"1.0.0","type":"skill"}`, "SKILL.md": "# nameless"}), 400, "invalid_content"},
			{"another org's package", "x.afps", skillArchive(t, "@other/theirs", "2.0.0", ""), 400, "name_collision"},
			{"another org's scope", "x.afps", skillArchive(t, "@other/new", "1.0.0", ""), 403, "scope_mismatch"},
			{"system scope", "x.afps", skillArchive(t, "@appstrate/mine", "1.0.0", ""), 403, "scope_mismatch"},
			{"type mismatch", "x.afps", skillArchive(t, "@acme/echo", "2.0.0", ""), 400, "type_mismatch"},
			{"wrapper folder stripped", "x.zip", wrapped, 201, ""},
			{"foreign unowned scope", "x.afps", skillArchive(t, "@vendor/lib", "1.0.0", ""), 201, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				expect(t, acme.upload("/api/packages/import", "file", tc.filename, tc.data), tc.status, tc.code)
			})
		}
		expect(t, acme.do(http.MethodPost, "/api/packages/import", map[string]string{}), 400, "")

		// draft_overwrite: unpublished changes are protected unless forced.
		id := acme.createPackage(t, "skill", "tone", "1.0.0")
		expect(t, acme.do(http.MethodPut, "/api/packages/skills/"+id, map[string]any{"content": skillText + "edit", "lockVersion": 1}), 200, "")
		expect(t, acme.upload("/api/packages/import", "file", "t.afps", skillArchive(t, id, "1.1.0", "")), 409, "draft_overwrite")
		expect(t, acme.upload("/api/packages/import?force=true", "file", "t.afps", skillArchive(t, id, "1.1.0", "")), 201, "")
		// Forward-only on import: a lower version fails post-install.
		expect(t, acme.upload("/api/packages/import", "file", "t.afps", skillArchive(t, id, "0.1.0", "")), 400, "post_install_failed")

		// Skill-only ZIP: a SKILL.md without manifest becomes @acme/<name>, then patch-bumps.
		skillOnly := packRaw(t, map[string]string{"SKILL.md": "---\nname: solo\ndescription: Alone\n---\nBody\n"})
		r := acme.upload("/api/packages/import", "file", "solo.zip", skillOnly)
		expect(t, r, 201, "")
		if got := decode[importedBody](t, r); got != (importedBody{PackageID: "@acme/solo", Type: "skill", Version: "1.0.0"}) {
			t.Fatalf("skill-only: %+v", got)
		}
		expect(t, acme.upload("/api/packages/import", "file", "solo.zip", skillOnly), 409, "skill_unchanged")
		r = acme.upload("/api/packages/import", "file", "solo.zip", packRaw(t, map[string]string{"SKILL.md": "---\nname: solo\n---\nBody v2\n"}))
		expect(t, r, 201, "")
		if got := decode[importedBody](t, r); got.Version != "1.0.1" {
			t.Fatalf("skill-only bump: %+v", got)
		}
		// A member cannot import.
		member := e.SeedUser("member@example.com")
		e.SeedMember(acme.org, member, "member")
		h := apptest.As(member, acme.org, acme.app)
		h.Set("Content-Type", "multipart/form-data; boundary=x")
		expect(t, e.Do(apptest.Request{Method: http.MethodPost, Path: "/api/packages/import", Body: "--x--\r\n", Headers: h}), 403, "forbidden")
	})
}

// packRaw zips files without validating them (the import must report the problems).
func packRaw(t *testing.T, files map[string]string) []byte {
	t.Helper()
	m := map[string][]byte{}
	for k, v := range files {
		m[k] = []byte(v)
	}
	data, err := afps.WritePackage(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFork(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		other := newTenant(t, e, "other")
		other.createPackage(t, "skill", "private", "1.0.0")
		// A third-party package imported under a foreign scope: readable, not editable, forkable.
		expect(t, acme.upload("/api/packages/import", "file", "lib.afps", skillArchive(t, "@vendor/lib", "1.2.0", "vendor")), 201, "")
		expect(t, acme.do(http.MethodPut, "/api/packages/skills/@vendor/lib", map[string]any{"content": "x", "lockVersion": 1}), 403, "forbidden")
		mine := acme.createPackage(t, "skill", "mine", "1.0.0")

		r := acme.do(http.MethodPost, "/api/packages/@vendor/lib/fork", nil)
		expect(t, r, 201, "")
		forked := decode[struct {
			PackageID  string `json:"packageId"`
			Type       string `json:"type"`
			ForkedFrom string `json:"forkedFrom"`
		}](t, r)
		if forked.PackageID != "@acme/lib" || forked.Type != "skill" || forked.ForkedFrom != "@vendor/lib" {
			t.Fatalf("fork: %+v", forked)
		}
		d := decode[versionDetailBody](t, acme.do(http.MethodGet, "/api/packages/skills/@acme/lib/versions/latest", nil))
		if d.Version != "1.2.0" || d.Content != skillText+"vendor" {
			t.Fatalf("fork version: %+v", d)
		}
		// The fork is owned: it can be edited.
		expect(t, acme.do(http.MethodPut, "/api/packages/skills/@acme/lib", map[string]any{"content": skillText + "mine", "lockVersion": 1}), 200, "")

		expect(t, acme.do(http.MethodPost, "/api/packages/@vendor/lib/fork", nil), 400, "name_collision")
		expect(t, acme.do(http.MethodPost, "/api/packages/@vendor/lib/fork", map[string]string{"name": "lib-two"}), 201, "")
		expect(t, acme.do(http.MethodPost, "/api/packages/@vendor/lib/fork", map[string]string{"name": "Bad Name"}), 400, "")
		expect(t, acme.do(http.MethodPost, "/api/packages/"+mine+"/fork", nil), 400, "invalid_request")
		expect(t, acme.do(http.MethodPost, "/api/packages/@other/private/fork", nil), 404, "not_found")
		expect(t, acme.do(http.MethodPost, "/api/packages/@vendor/none/fork", nil), 404, "not_found")
	})
}

// TestImportRateLimit: the import routes allow 10 requests per minute and caller.
func TestImportRateLimit(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		acme := newTenant(t, e, "acme")
		for i := 0; i < 10; i++ {
			expect(t, acme.do(http.MethodPost, "/api/packages/import-github", map[string]string{"url": "https://gitlab.com/x/y"}), 400, "INVALID_URL")
		}
		r := acme.do(http.MethodPost, "/api/packages/import-github", map[string]string{"url": "https://gitlab.com/x/y"})
		expect(t, r, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("Retry-After missing")
		}
	})
}
