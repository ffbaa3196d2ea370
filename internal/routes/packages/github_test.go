package packages_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// fakeGitHub serves the repos, git/trees and raw endpoints of a few repositories over TLS.
func fakeGitHub(t *testing.T) *httptest.Server {
	t.Helper()
	repos := map[string]map[string]string{ // repo → path → content (ref "main")
		"acme/pkgs": {
			"README.md":                  "# packages",
			"skills/tone/manifest.json":  `{"name":"@acme/tone","version":"1.0.0","type":"skill"}`,
			"skills/tone/SKILL.md":       skillText,
			"skills/tone/refs/a.md":      "reference",
			"skills/moved/manifest.json": `{"name":"@acme/moved","version":"1.0.0","type":"skill"}`,
			"skills/moved/SKILL.md":      skillText,
		},
		"acme/solo": {
			"manifest.json": `{"name":"@acme/solo","version":"2.0.0","type":"agent","schemaVersion":"1.1","displayName":"Solo"}`,
			"prompt.md":     promptText,
		},
	}
	for i := 0; i < 51; i++ {
		repos["acme/pkgs"][fmt.Sprintf("big/file-%02d.md", i)] = "x"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}", func(w http.ResponseWriter, r *http.Request) {
		repo := r.PathValue("owner") + "/" + r.PathValue("repo")
		switch {
		case repo == "acme/limited":
			http.Error(w, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
		case repos[repo] != nil:
			json.NewEncoder(w).Encode(map[string]any{"default_branch": "main", "full_name": repo})
		default:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		}
	})
	mux.HandleFunc("GET /repos/{owner}/{repo}/git/trees/{ref}", func(w http.ResponseWriter, r *http.Request) {
		files := repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
		if files == nil || r.PathValue("ref") != "main" || r.URL.Query().Get("recursive") != "1" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		var tree []map[string]any
		dirs := map[string]bool{}
		for p, body := range files {
			tree = append(tree, map[string]any{"path": p, "type": "blob", "size": len(body)})
			if i := strings.LastIndex(p, "/"); i > 0 && !dirs[p[:i]] {
				dirs[p[:i]] = true
				tree = append(tree, map[string]any{"path": p[:i], "type": "tree"})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"sha": "abc", "tree": tree, "truncated": false})
	})
	mux.HandleFunc("GET /raw/{owner}/{repo}/{ref}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		files := repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
		p := r.PathValue("path")
		if strings.HasPrefix(p, "skills/moved/") { // redirect off-host: must not be followed
			http.Redirect(w, r, "https://evil.example.com/"+p, http.StatusFound)
			return
		}
		body, ok := files[p]
		if !ok || r.PathValue("ref") != "main" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestImportGitHub(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		srv := fakeGitHub(t)
		e.App.Registry.GitHub = packages.GitHubConfig{APIBase: srv.URL, RawBase: srv.URL + "/raw", Transport: srv.Client().Transport}
		acme := newTenant(t, e, "acme")
		post := func(url string) *apptest.Response {
			t.Helper()
			return acme.doLimited(http.MethodPost, "/api/packages/import-github", map[string]string{"url": url})
		}

		r := post("https://github.com/acme/pkgs/tree/main/skills/tone")
		expect(t, r, 201, "")
		if got := decode[importedBody](t, r); got != (importedBody{PackageID: "@acme/tone", Type: "skill", Version: "1.0.0"}) {
			t.Fatalf("import: %+v", got)
		}
		d := decode[versionDetailBody](t, acme.do(http.MethodGet, "/api/packages/skills/@acme/tone/versions/1.0.0", nil))
		if d.Content != skillText {
			t.Fatalf("content: %+v", d)
		}
		// A blob URL imports the file's folder; the same files give the same archive (idempotent).
		expect(t, post("github.com/acme/pkgs/blob/main/skills/tone/SKILL.md"), 201, "")
		// The default branch comes from the repos API.
		r = post("https://github.com/acme/solo")
		expect(t, r, 201, "")
		if got := decode[importedBody](t, r); got.PackageID != "@acme/solo" || got.Type != "agent" {
			t.Fatalf("solo: %+v", got)
		}

		cases := []struct {
			name, url string
			status    int
			code      string
		}{
			{"unknown repository", "https://github.com/acme/missing", 404, "NOT_FOUND"},
			{"unknown ref", "https://github.com/acme/pkgs/tree/nope/skills", 404, "NOT_FOUND"},
			{"too many files", "https://github.com/acme/pkgs/tree/main/big", 400, "TOO_MANY_FILES"},
			{"empty path", "https://github.com/acme/pkgs/tree/main/nothing/here", 400, "EMPTY_PATH"},
			{"not github", "https://gitlab.com/acme/pkgs", 400, "INVALID_URL"},
			{"github lookalike", "https://github.com.evil.com/acme/pkgs", 400, "INVALID_URL"},
			{"rate limited", "https://github.com/acme/limited", 429, "RATE_LIMITED"},
			{"redirect off host", "https://github.com/acme/pkgs/tree/main/skills/moved", 502, "DOWNLOAD_FAILED"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := post(tc.url)
				expect(t, r, tc.status, tc.code)
				if p := r.Problem(t); p.Title != "Import Failed" {
					t.Fatalf("title %q", p.Title)
				}
			})
		}

		// Plain HTTP bases are refused (HTTPS only).
		e.App.Registry.GitHub.APIBase = strings.Replace(srv.URL, "https://", "http://", 1)
		expect(t, post("https://github.com/acme/pkgs/tree/main/skills/tone"), 500, "internal_error")
	})
}
