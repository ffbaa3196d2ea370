package packages_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
)

// tenant is one organization with its owner and default application.
type tenant struct {
	e                    *apptest.Env
	slug, user, org, app string
	uploads              map[string]int // uploads per route, to stay under the 10/min import limit
	uploader             map[string]string
}

func newTenant(t *testing.T, e *apptest.Env, slug string) *tenant {
	t.Helper()
	user := e.SeedUser(slug + "-owner@example.com")
	org, app := e.SeedOrg(user, slug)
	return &tenant{e: e, slug: slug, user: user, org: org, app: app, uploads: map[string]int{}, uploader: map[string]string{}}
}

func (tn *tenant) headers() http.Header { return apptest.As(tn.user, tn.org, tn.app) }

// do sends a JSON request as the tenant's owner.
func (tn *tenant) do(method, path string, body any) *apptest.Response {
	tn.e.T.Helper()
	return tn.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: tn.headers()})
}

// as sends a JSON request as another user of the tenant.
func (tn *tenant) as(user, method, path string, body any) *apptest.Response {
	tn.e.T.Helper()
	return tn.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: apptest.As(user, tn.org, tn.app)})
}

// upload posts one multipart file.
func (tn *tenant) upload(path, field, filename string, data []byte) *apptest.Response {
	tn.e.T.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		tn.e.T.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	user := tn.limitedUser(path)
	h := apptest.As(user, tn.org, tn.app)
	h.Set("Content-Type", mw.FormDataContentType())
	return tn.e.Do(apptest.Request{Method: http.MethodPost, Path: path, Body: buf.Bytes(), Headers: h})
}

// limitedUser returns the user to send a request on a route limited to 10 per minute and caller as: the owner,
// then a fresh admin every 9 requests.
func (tn *tenant) limitedUser(path string) string {
	route, _, _ := strings.Cut(path, "?")
	if n := tn.uploads[route]; n > 0 && n%9 == 0 {
		admin := tn.e.SeedUser(fmt.Sprintf("admin-%d-%s@example.com", n, strings.ReplaceAll(route[1:], "/", "-")))
		tn.e.SeedMember(tn.org, admin, "admin")
		tn.uploader[route] = admin
	}
	tn.uploads[route]++
	if u, ok := tn.uploader[route]; ok {
		return u
	}
	return tn.user
}

// doLimited is do on a rate-limited route.
func (tn *tenant) doLimited(method, path string, body any) *apptest.Response {
	tn.e.T.Helper()
	return tn.as(tn.limitedUser(path), method, path, body)
}

// expect fails the test unless the response has the status (and, for problems, the code).
func expect(t *testing.T, r *apptest.Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if code != "" {
		if p := r.Problem(t); p.Code != code {
			t.Fatalf("code %q, want %q: %s", p.Code, code, r.Body)
		}
	}
}

func decode[T any](t *testing.T, r *apptest.Response) T {
	t.Helper()
	var v T
	r.JSON(t, &v)
	return v
}

// Manifests and content of the four types, for the tenant's scope.
func agentManifest(scope, name, version string) map[string]any {
	return map[string]any{"name": "@" + scope + "/" + name, "version": version, "type": "agent", "schemaVersion": "1.1",
		"displayName": "Agent " + name}
}

func skillManifest(scope, name, version string) map[string]any {
	return map[string]any{"name": "@" + scope + "/" + name, "version": version, "type": "skill", "displayName": name}
}

func toolManifest(scope, name, version string) map[string]any {
	return map[string]any{"name": "@" + scope + "/" + name, "version": version, "type": "tool", "description": "Echo tool"}
}

func providerManifest(scope, name, version string) map[string]any {
	return map[string]any{"name": "@" + scope + "/" + name, "version": version, "type": "provider", "displayName": "Svc",
		"definition": map[string]any{"authMode": "api_key", "credentialHeaderName": "X-Api-Key",
			"credentials": map[string]any{"schema": map[string]any{"type": "object",
				"properties": map[string]any{"api_key": map[string]any{"type": "string"}}, "required": []string{"api_key"}}},
			"authorizedUris": []string{"https://api.example.com/**"}}}
}

const (
	promptText = "Say hello to {{input.name}}."
	skillText  = "---\nname: tone\ndescription: Rewrite the tone\n---\n# Tone\n"
	toolSource = "export default function (pi) {\n  pi.registerTool({ name: \"echo\", description: \"Echo\", parameters: {},\n" +
		"    async execute(toolCallId, params, signal) { return { content: [{ type: \"text\", text: \"hi\" }] } } })\n}\n"
)

// createBody is a valid JSON create body of a type.
func createBody(typ, scope, name, version string) map[string]any {
	switch typ {
	case "agent":
		return map[string]any{"manifest": agentManifest(scope, name, version), "content": promptText}
	case "skill":
		return map[string]any{"manifest": skillManifest(scope, name, version), "content": skillText}
	case "tool":
		return map[string]any{"manifest": toolManifest(scope, name, version), "sourceCode": toolSource, "content": "# Echo\n"}
	default:
		return map[string]any{"manifest": providerManifest(scope, name, version), "content": "# Svc API\n"}
	}
}

// createPackage creates a package through the API and fails on error.
func (tn *tenant) createPackage(t *testing.T, typ, name, version string) string {
	t.Helper()
	r := tn.do(http.MethodPost, "/api/packages/"+typ+"s", createBody(typ, tn.slug, name, version))
	expect(t, r, http.StatusCreated, "")
	return "@" + tn.slug + "/" + name
}

// packFiles builds a deterministic archive of a package's files.
func packFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	m := map[string][]byte{}
	for k, v := range files {
		m[k] = []byte(v)
	}
	data, _, err := afps.Pack(m, afps.ValidateOptions{})
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return data
}

// skillArchive is a skill package archive of id at version with a body marker.
func skillArchive(t *testing.T, id, version, marker string) []byte {
	t.Helper()
	manifest := fmt.Sprintf(`{"name":%q,"version":%q,"type":"skill","displayName":"Tone"}`, id, version)
	return packFiles(t, map[string]string{"manifest.json": manifest, "SKILL.md": skillText + marker,
		"references/guide.md": "guide " + marker})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}
