package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// fakeInstance is a logged-in profile against a handler (for commands whose routes the platform does not
// serve the way the test needs: ETags, models...).
type fakeInstance struct {
	t     *testing.T
	home  string
	env   map[string]string
	url   string
	mu    sync.Mutex
	reqs  []*http.Request
	token string
}

func newFakeInstance(t *testing.T, h http.HandlerFunc) *fakeInstance {
	t.Helper()
	f := &fakeInstance{t: t, home: t.TempDir()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(r.Context()))
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.env = map[string]string{"HOME": f.home, "XDG_CONFIG_HOME": filepath.Join(f.home, "config"), "XDG_CACHE_HOME": filepath.Join(f.home, "cache")}
	withEnv(t, f.env)
	setHooks(t, srv.Client(), &testClock{})
	dir := filepath.Join(f.home, "config", "appstrate")
	if err := profile.UpdateConfig(dir, func(c *profile.Config) error {
		c.SetProfile("default", profile.Profile{Instance: srv.URL, UserID: "usr_1", Email: "a@example.com", OrgID: "org_1", ApplicationID: "app_1"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	claims, _ := json.Marshal(map[string]any{"iss": srv.URL + "/api/auth", "sub": "usr_1", "exp": time.Now().Add(15 * time.Minute).Unix()})
	f.token = "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".sig"
	if err := (&profile.Store{Dir: dir}).Save("default", profile.Tokens{AccessToken: f.token, ExpiresAt: time.Now().Add(15 * time.Minute).UnixMilli(),
		RefreshToken: "rt", RefreshExpiresAt: time.Now().Add(30 * 24 * time.Hour).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeInstance) run(want int, args ...string) (string, string) {
	f.t.Helper()
	code, out, errOut := runCLI("", args...)
	if code != want {
		f.t.Fatalf("appstrate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func (f *fakeInstance) requests(path string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.reqs {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

const testSchema = `{"openapi":"3.1.0","info":{"title":"t","version":"1"},
"paths":{
 "/api/runs/{id}":{"get":{"operationId":"getRun","summary":"Get a run","tags":["runs"],
   "parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"},"description":"Run id"}],
   "responses":{"default":{"description":"Error"},"404":{"description":"Not found"},"200":{"description":"The run","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Run"}}}}}},
  "delete":{"operationId":"cancelRun","summary":"Cancel a run","tags":["runs"],"responses":{"204":{"description":"Cancelled"}}}},
 "/api/runs":{"post":{"operationId":"createRun","summary":"Create a run","tags":["Runs"],
   "requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Run"}}}},"responses":{"201":{"description":"Created"}}},
  "get":{"operationId":"listRuns","summary":"List runs","tags":["runs"],"responses":{"200":{"description":"OK"}}}},
 "/api/deprecated":{"get":{"operationId":"legacy","summary":"Legacy endpoint","tags":["legacy"],"deprecated":true,"responses":{"200":{"description":"OK"}}}},
 "/api/loop":{"get":{"operationId":"loop","responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Node"}}}}}}}
},
"components":{"schemas":{"Run":{"type":"object","properties":{"id":{"type":"string"},"status":{"type":"string"}}},
 "Node":{"type":"object","properties":{"next":{"$ref":"#/components/schemas/Node"}}}}}}`

func TestOpenAPIETagCache(t *testing.T) {
	etag := `"v1"`
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/openapi.json" {
			w.WriteHeader(404)
			return
		}
		if r.Header.Get("Authorization") == "" || r.Header.Get("Accept") != "application/json" {
			w.WriteHeader(401)
			return
		}
		if etag != "" && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		fmt.Fprint(w, testSchema)
	})
	cache := filepath.Join(f.home, "cache", "appstrate")
	list := "GET    /api/deprecated — Legacy endpoint [legacy] [deprecated]\nGET    /api/loop\nGET    /api/runs — List runs [runs]\n" +
		"POST   /api/runs — Create a run [Runs]\nGET    /api/runs/{id} — Get a run [runs]\nDELETE /api/runs/{id} — Cancel a run [runs]\n"
	out, _ := f.run(0, "openapi", "list")
	if out != list {
		t.Fatalf("list =\n%s\nwant\n%s", out, list)
	}
	doc, err := os.ReadFile(filepath.Join(cache, "openapi-default.json"))
	if err != nil || strings.Contains(string(doc), "\n") || !json.Valid(doc) {
		t.Fatalf("cache doc: %v %q", err, doc)
	}
	if b, _ := os.ReadFile(filepath.Join(cache, "openapi-default.etag")); string(b) != `"v1"` {
		t.Fatalf("etag file %q", b)
	}
	// Second call: revalidated, answered 304, served from the cache.
	if out2, _ := f.run(0, "openapi", "list"); out2 != list {
		t.Fatal(out2)
	}
	reqs := f.requests("/api/openapi.json")
	if len(reqs) != 2 || reqs[0].Header.Get("If-None-Match") != "" || reqs[1].Header.Get("If-None-Match") != `"v1"` {
		t.Fatalf("%d requests", len(reqs))
	}
	// --refresh sends no If-None-Match; --no-cache neither reads nor writes.
	f.run(0, "openapi", "list", "--refresh")
	if r := f.requests("/api/openapi.json"); r[2].Header.Get("If-None-Match") != "" {
		t.Fatal("--refresh revalidated")
	}
	etag = ""
	os.RemoveAll(cache)
	f.run(0, "openapi", "list", "--no-cache")
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Fatal("--no-cache wrote the cache")
	}
	// No ETag: the .etag file goes away; a corrupt cache is a miss.
	f.run(0, "openapi", "export")
	if _, err := os.Stat(filepath.Join(cache, "openapi-default.etag")); !os.IsNotExist(err) {
		t.Fatal(".etag kept without an ETag")
	}
	os.WriteFile(filepath.Join(cache, "openapi-default.json"), []byte("{corrupt"), 0o600)
	etag = `"v2"`
	os.WriteFile(filepath.Join(cache, "openapi-default.etag"), []byte(`"v2"`), 0o600)
	if out, _ := f.run(0, "openapi", "list", "--method", "DELETE"); out != "DELETE /api/runs/{id} — Cancel a run [runs]\n" {
		t.Fatalf("%q", out)
	}
	if r := f.requests("/api/openapi.json"); r[len(r)-1].Header.Get("If-None-Match") != "" {
		t.Fatal("a corrupt cache was revalidated")
	}
}

func TestOpenAPIListShowExport(t *testing.T) {
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, testSchema) })
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tag", "RUNS"}, "GET    /api/runs — List runs [runs]\nPOST   /api/runs — Create a run [Runs]\nGET    /api/runs/{id} — Get a run [runs]\nDELETE /api/runs/{id} — Cancel a run [runs]\n"},
		{[]string{"--path", "/api/runs/*"}, "GET    /api/runs/{id} — Get a run [runs]\nDELETE /api/runs/{id} — Cancel a run [runs]\n"},
		{[]string{"--path", "/api/**"}, ""},
		{[]string{"--path", "/api/runs"}, "GET    /api/runs — List runs [runs]\nPOST   /api/runs — Create a run [Runs]\n"},
		{[]string{"--search", "CREATE A"}, "POST   /api/runs — Create a run [Runs]\n"},
		{[]string{"--search", "zzz"}, "No operations match the given filters.\n"},
		{[]string{"--path", "/" + strings.Repeat("*", 201)}, "No operations match the given filters.\n"},
	}
	for _, tt := range tests {
		out, _ := f.run(0, append([]string{"openapi", "list"}, tt.args...)...)
		if tt.want != "" && out != tt.want {
			t.Errorf("%v:\n%s\nwant\n%s", tt.args, out, tt.want)
		}
		if tt.want == "" && strings.Count(out, "\n") != 6 {
			t.Errorf("%v: %s", tt.args, out)
		}
	}
	out, _ := f.run(0, "openapi", "list", "--json", "--tag", "legacy")
	want := "[\n  {\n    \"method\": \"GET\",\n    \"path\": \"/api/deprecated\",\n    \"operationId\": \"legacy\",\n    \"summary\": \"Legacy endpoint\",\n    \"tags\": [\n      \"legacy\"\n    ],\n    \"deprecated\": true\n  }\n]\n"
	if out != want {
		t.Fatalf("list --json =\n%s", out)
	}

	out, _ = f.run(0, "openapi", "show", "getRun")
	wantShow := "GET /api/runs/{id}\noperationId: getRun\ntags: runs\n\nGet a run\n\nParameters:\n  path.id: string (required) — Run id\n\n" +
		"Responses:\n  200 — The run\n      application/json\n  404 — Not found\n  default — Error\n"
	if out != wantShow {
		t.Fatalf("show =\n%s\nwant\n%s", out, wantShow)
	}
	for _, args := range [][]string{{"POST", "/api/runs"}, {"post /api/runs"}} {
		out, _ = f.run(0, append([]string{"openapi", "show"}, args...)...)
		if !strings.HasPrefix(out, "POST /api/runs\noperationId: createRun\n") || !strings.Contains(out, "Request body (required):\n  application/json\n") {
			t.Fatalf("%v: %s", args, out)
		}
	}
	out, _ = f.run(0, "openapi", "show", "createRun", "--json")
	var shown struct {
		Method, Path string
		Operation    map[string]any
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.Method != "POST" || !strings.Contains(out, `"properties": {`) || strings.Contains(out, "$ref") {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	out, _ = f.run(0, "openapi", "show", "loop", "--json")
	if !strings.Contains(out, `"_warning"`) || !strings.Contains(out, "$ref") {
		t.Fatalf("circular: %s", out)
	}
	if _, errOut := f.run(1, "openapi", "show", "nothing"); !strings.Contains(errOut, `No operation matches "nothing"`) {
		t.Fatal(errOut)
	}

	file := filepath.Join(f.home, "schema.json")
	out, errOut := f.run(0, "openapi", "export", "-o", file)
	b, _ := os.ReadFile(file)
	fi, _ := os.Stat(file)
	if out != "" || !strings.HasPrefix(string(b), "{\n  \"openapi\": \"3.1.0\",\n  \"info\": {") || fi.Mode().Perm() != 0o600 ||
		errOut != fmt.Sprintf("Wrote %d bytes to %s\n", len(b), file) {
		t.Fatalf("export: %q %q %v", out, errOut, fi.Mode())
	}
}

func TestColoursOnlyWhenAllowed(t *testing.T) {
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, testSchema) })
	if out, _ := f.run(0, "openapi", "list"); strings.Contains(out, "\x1b[") {
		t.Fatal("colour on a non-TTY")
	}
	f.env["FORCE_COLOR"] = "1"
	if out, _ := f.run(0, "openapi", "list"); !strings.Contains(out, "\x1b[32mGET   \x1b[0m") {
		t.Fatalf("FORCE_COLOR: %q", out)
	}
	f.env["NO_COLOR"] = "1"
	if out, _ := f.run(0, "openapi", "list"); strings.Contains(out, "\x1b[") {
		t.Fatal("colour with NO_COLOR")
	}
}

func TestModelsAndConnections(t *testing.T) {
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/models":
			fmt.Fprint(w, `{"object":"list","data":[
{"id":"claude","label":"Claude","apiShape":"anthropic-messages","enabled":true,"isDefault":true,"source":"system"},
{"id":"gem","label":"Gemini","apiShape":"google-generative-ai","enabled":false,"isDefault":false,"source":"custom"}],"hasMore":false}`)
		case "/api/app-profiles/connections":
			fmt.Fprint(w, `{"data":[{"providerId":"@appstrate/gmail","orgs":[{"orgId":"org_1","connections":[
{"id":"c1","status":"connected","createdAt":"2026-01-01T00:00:00.000Z","profile":{"id":"p1","name":"Default"}},
{"id":"c2","status":"needs_reconnection","createdAt":"2026-01-01T00:00:00.000Z","profile":{"id":"p2","name":"Work"}}]}]}]}`)
		case "/api/connection-profiles":
			if r.Method == "POST" {
				w.WriteHeader(201)
				fmt.Fprint(w, `{"profile":{"id":"4b0c1f5e-8f6a-4a43-9d2e-1d1b2c3d4e5f","name":"New","isDefault":false,"connectionCount":0}}`)
				return
			}
			fmt.Fprint(w, `{"object":"list","data":[{"id":"2a1c1f5e-8f6a-4a43-9d2e-1d1b2c3d4e5f","name":"Default","isDefault":true,"connectionCount":2}],"hasMore":false}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			fmt.Fprint(w, `{"title":"Not Found","status":404,"detail":"API endpoint not found: GET /x","code":"not_found"}`)
		}
	})
	out, _ := f.run(0, "models", "list")
	want := "  " + padRight("claude", 36) + padRight("anthropic-messages", 24) + "Claude  [default]\n" +
		"  " + padRight("gem", 36) + padRight("google-generative-ai", 24) + "Gemini  [disabled, proxy-unsupported]\n"
	if out != want {
		t.Fatalf("models list =\n%q\nwant\n%q", out, want)
	}
	out, _ = f.run(0, "models", "list", "--json", "--proxy-only")
	if !strings.HasPrefix(out, "[\n  {\n    \"id\": \"claude\",") || strings.Contains(out, "gem") || !strings.HasSuffix(out, "}\n]\n") {
		t.Fatalf("models --json: %s", out)
	}
	out, _ = f.run(0, "connections", "list")
	if want := "✓       " + padRight("@appstrate/gmail", 28) + " profile=Default\nneeds_reconnection@appstrate/gmail" + strings.Repeat(" ", 12) + " profile=Work\n"; out != want {
		t.Fatalf("connections list =\n%q\nwant\n%q", out, want)
	}
	out, _ = f.run(0, "connections", "profile", "list")
	if want := "  " + padRight("Default", 24) + "  2a1c1f5e-8f6a-4a43-9d2e-1d1b2c3d4e5f  (2 conn) [default]\n"; out != want {
		t.Fatalf("%q", out)
	}
	f.run(0, "connections", "profile", "switch", "Default")
	if out, _ = f.run(0, "connections", "profile", "current"); out != "2a1c1f5e-8f6a-4a43-9d2e-1d1b2c3d4e5f\n" {
		t.Fatalf("%q", out)
	}
	f.run(0, "connections", "profile", "create", "New")
	if out, _ = f.run(0, "connections", "profile", "current"); out != "4b0c1f5e-8f6a-4a43-9d2e-1d1b2c3d4e5f\n" {
		t.Fatalf("%q", out)
	}
	if _, errOut := f.run(1, "connections", "profile", "switch", "Nope"); !strings.Contains(errOut, `no connection profile matches "Nope"`) {
		t.Fatal(errOut)
	}
	// A server problem is shown with its detail and code on stderr, nothing on stdout.
	f.env["XDG_CONFIG_HOME"] = filepath.Join(f.home, "config")
	out, errOut := f.run(1, "org", "list")
	if out != "" || errOut != "appstrate: API error (404): API endpoint not found: GET /x (not_found)\n" {
		t.Fatalf("%q %q", out, errOut)
	}
}

func TestTokenCommandFormat(t *testing.T) {
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) {})
	out, _ := f.run(0, "token")
	for _, want := range []string{"Profile:            default\nInstance:           " + f.url + "\n\nAccess token\n  Status:           fresh\n  Expires:          in 14m 5",
		"\nRefresh token\n  Status:           valid\n  Expires:          in 29d 23h\n", "  iss:              " + f.url + "/api/auth\n",
		"  aud:              (missing)\n", "  scope:            (none)\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("token lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, f.token) || strings.Contains(out, "⚠") {
		t.Fatalf("%s", out)
	}
	// A stored expiresAt far from the JWT exp is flagged.
	dir := filepath.Join(f.home, "config", "appstrate")
	tk, _ := (&profile.Store{Dir: dir}).Load("default")
	tk.ExpiresAt -= 60_000
	_ = (&profile.Store{Dir: dir}).Save("default", *tk)
	if out, _ := f.run(0, "token"); !strings.Contains(out, "⚠ JWT exp and the stored expiresAt differ by ") {
		t.Fatal(out)
	}
	for d, want := range map[time.Duration]string{3 * time.Second: "3s", 95 * time.Second: "1m 35s", 2*time.Hour + 5*time.Minute: "2h 5m", 49 * time.Hour: "2d 1h"} {
		if got := duration(d); got != want {
			t.Errorf("%v: %s", d, got)
		}
	}
}

func TestProcessWideCommands(t *testing.T) {
	withEnv(t, map[string]string{"HOME": t.TempDir()})
	if code, out, _ := runCLI("", "-V"); code != 0 || strings.Count(out, "\n") != 1 || strings.Contains(out, " ") {
		t.Fatalf("-V: %d %q", code, out)
	}
	code, out, _ := runCLI("", "__install-source")
	var probe struct {
		Version, Source string
		Schema          int
	}
	if code != 0 || json.Unmarshal([]byte(out), &probe) != nil || probe.Source != "unknown" || probe.Schema != 1 {
		t.Fatalf("%d %q", code, out)
	}
	if code, out, _ := runCLI("", "completion", "bash"); code != 0 || !strings.Contains(out, "__start_appstrate") {
		t.Fatalf("completion: %d", code)
	}
	// Not logged in: exit 1, message on stderr, -w still written for api.
	code, out, errOut := runCLI("", "api", "-w", "%{http_code}", "/api/agents")
	if code != 1 || out != "0" || !strings.Contains(errOut, `Profile "default" not configured. Run: appstrate login --profile default`) {
		t.Fatalf("%d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("", "org", "current"); code != 1 || !strings.Contains(errOut, "Not logged in. Run: appstrate login") {
		t.Fatalf("%d %q", code, errOut)
	}
	if code, _, _ := runCLI("", "api", "--nope", "/x"); code != 1 {
		t.Fatalf("unknown api option: %d", code)
	}
	if code, _, _ := runCLI("", "api", "-T", "f", "-d", "x", "/x"); code != 2 {
		t.Fatalf("api usage refusal: %d", code)
	}
	if code, out, _ := runCLI("", "api", "--help"); code != 0 || !strings.Contains(out, "Usage: appstrate api") {
		t.Fatalf("api --help: %d", code)
	}
	if code, out, _ := runCLI("", "logout"); code != 0 || out != "Already signed out.\n" {
		t.Fatalf("logout: %d %q", code, out)
	}
}
