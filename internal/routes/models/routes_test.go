package models_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/netguard"
)

const (
	orgKey    = "sk-org-secret-0123456789abcdef"
	systemKey = "sk-system-secret-9876543210fedcba"
)

// world is a platform with SYSTEM_PROVIDER_KEYS pointing at a fake LLM, and two organizations.
type world struct {
	e                                   *apptest.Env
	llm                                 *llmtest.Server
	owner, admin, member, viewer, other string
	org, app, otherOrg                  string
}

func env(srv *llmtest.Server) map[string]string {
	return map[string]string{"SYSTEM_PROVIDER_KEYS": fmt.Sprintf(`[{"id":"sys-openai","label":"Platform","providerId":"openai-compatible",
		"apiKey":%q,"baseUrl":%q,"models":[{"modelId":"sys-small","label":"System small","isDefault":true,
		"contextWindow":128000,"cost":{"input":1,"output":2}},{"modelId":"sys-big","enabled":false}]}]`,
		systemKey, srv.BaseURL(llmtest.OpenAIChat))}
}

func newWorld(t *testing.T, e *apptest.Env, srv *llmtest.Server) *world {
	w := &world{e: e, llm: srv}
	w.owner = e.SeedUser("owner@acme.test")
	w.org, w.app = e.SeedOrg(w.owner, "acme")
	for _, r := range []struct {
		dst  *string
		role string
	}{{&w.admin, "admin"}, {&w.member, "member"}, {&w.viewer, "viewer"}} {
		*r.dst = e.SeedUser(r.role + "@acme.test")
		e.SeedMember(w.org, *r.dst, r.role)
	}
	w.other = e.SeedUser("owner@globex.test")
	w.otherOrg, _ = e.SeedOrg(w.other, "globex")
	return w
}

func (w *world) as(user string) http.Header {
	org := w.org
	if user == w.other {
		org = w.otherOrg
	}
	return apptest.As(user, org, "")
}

func (w *world) do(t *testing.T, method, path string, h http.Header, body any) *apptest.Response {
	t.Helper()
	return w.e.Do(apptest.Request{Method: method, Path: path, Headers: h, Body: body})
}

func (w *world) create(t *testing.T, path string, body any) string {
	t.Helper()
	res := w.do(t, "POST", path, w.as(w.owner), body)
	if res.Status != 201 {
		t.Fatalf("POST %s: %d %s", path, res.Status, res.Body)
	}
	var out struct{ ID string }
	res.JSON(t, &out)
	return out.ID
}

func (w *world) apiKey(t *testing.T, scopes ...string) http.Header {
	t.Helper()
	res := w.do(t, "POST", "/api/api-keys", apptest.As(w.owner, w.org, w.app), map[string]any{"name": "k", "scopes": scopes})
	if res.Status != 201 {
		t.Fatalf("create api key: %d %s", res.Status, res.Body)
	}
	var k struct{ Key string }
	res.JSON(t, &k)
	return apptest.Headers("Authorization", "Bearer "+k.Key)
}

type wireModel struct {
	ID            string          `json:"id"`
	Label         string          `json:"label"`
	ModelID       string          `json:"modelId"`
	CredentialID  string          `json:"credentialId"`
	APIShape      string          `json:"apiShape"`
	Enabled       bool            `json:"enabled"`
	IsDefault     bool            `json:"isDefault"`
	Source        string          `json:"source"`
	ContextWindow *int            `json:"contextWindow"`
	Cost          json.RawMessage `json:"cost"`
}

func (w *world) models(t *testing.T, h http.Header, path string) map[string]wireModel {
	t.Helper()
	res := w.do(t, "GET", path, h, nil)
	if res.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
	}
	var list struct {
		Object string      `json:"object"`
		Data   []wireModel `json:"data"`
	}
	res.JSON(t, &list)
	if list.Object != "list" {
		t.Fatalf("object = %q", list.Object)
	}
	out := map[string]wireModel{}
	for _, m := range list.Data {
		out[m.ID] = m
	}
	return out
}

func TestModelsCRUD(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "pong"}}})
	apptest.Run(t, env(srv), func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, srv)
		cred := w.create(t, "/api/model-provider-credentials", map[string]any{"label": "Mine", "providerId": "openai-compatible",
			"apiKey": orgKey, "baseUrlOverride": srv.BaseURL(llmtest.OpenAIChat)})
		cred2 := w.create(t, "/api/model-provider-credentials", map[string]any{"label": "Anthropic", "providerId": "anthropic", "apiKey": orgKey})
		otherCred := ""
		{
			res := w.do(t, "POST", "/api/model-provider-credentials", w.as(w.other), map[string]any{"label": "G", "providerId": "anthropic", "apiKey": "k"})
			var out struct{ ID string }
			res.JSON(t, &out)
			otherCred = out.ID
		}
		model := w.create(t, "/api/models", map[string]any{"label": "Mine", "modelId": "gpt-x", "credentialId": cred,
			"contextWindow": 32000, "cost": map[string]any{"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}})
		sysID := "system:sys-openai:sys-small"

		list := w.models(t, w.as(w.owner), "/api/models")
		if m := list[sysID]; m.Source != "system" || !m.IsDefault || !m.Enabled || m.APIShape != "openai-completions" ||
			m.ContextWindow == nil || *m.ContextWindow != 128000 {
			t.Errorf("system model = %+v", m)
		}
		if m := list["system:sys-openai:sys-big"]; m.Source != "system" || m.Enabled {
			t.Errorf("disabled system model = %+v", m)
		}
		m := list[model]
		if m.Source != "org" || m.IsDefault || m.CredentialID != cred || m.ModelID != "gpt-x" {
			t.Errorf("org model = %+v", m)
		}
		var cost map[string]float64
		if err := json.Unmarshal(m.Cost, &cost); err != nil || cost["input"] != 3 || cost["output"] != 15 || cost["cacheRead"] != 0.3 || cost["cacheWrite"] != 3.75 {
			t.Errorf("cost = %s (%v)", m.Cost, err)
		}
		if got := w.models(t, w.as(w.owner), "/api/me/models"); len(got) != len(list) {
			t.Errorf("/api/me/models has %d models, /api/models %d", len(got), len(list))
		}

		tests := []struct {
			name, method, path string
			who                string
			body               any
			status             int
			code               string
		}{
			{"get org model", "GET", "/api/models/" + model, w.owner, nil, 200, ""},
			{"get system model", "GET", "/api/models/" + sysID, w.member, nil, 200, ""},
			{"get unknown model", "GET", "/api/models/nope", w.owner, nil, 404, "not_found"},
			{"create without label", "POST", "/api/models", w.owner, map[string]any{"modelId": "x", "credentialId": cred}, 400, "validation_failed"},
			{"create negative cost", "POST", "/api/models", w.owner, map[string]any{"label": "x", "modelId": "x", "credentialId": cred,
				"cost": map[string]any{"input": -1, "output": 1}}, 400, "validation_failed"},
			{"create on another org's credential", "POST", "/api/models", w.owner, map[string]any{"label": "x", "modelId": "x",
				"credentialId": otherCred}, 400, "invalid_request"},
			{"create on a system credential", "POST", "/api/models", w.owner, map[string]any{"label": "x", "modelId": "x",
				"credentialId": "sys-openai"}, 400, "invalid_request"},
			{"update org model", "PUT", "/api/models/" + model, w.admin, map[string]any{"label": "Renamed", "credentialId": cred2}, 200, ""},
			{"update system model", "PUT", "/api/models/" + sysID, w.owner, map[string]any{"label": "x"}, 403, "operation_not_allowed"},
			{"delete system model", "DELETE", "/api/models/" + sysID, w.owner, nil, 403, "operation_not_allowed"},
			{"update unknown model", "PUT", "/api/models/nope", w.owner, map[string]any{"label": "x"}, 404, "not_found"},
			{"default to non-default system model", "PUT", "/api/models/default", w.owner, map[string]any{"modelId": "system:sys-openai:sys-big"}, 400, "invalid_request"},
			{"default to unknown", "PUT", "/api/models/default", w.owner, map[string]any{"modelId": "nope"}, 404, "not_found"},
			{"default to org model", "PUT", "/api/models/default", w.owner, map[string]any{"modelId": model}, 200, ""},
			{"credential unknown provider", "POST", "/api/model-provider-credentials", w.owner, map[string]any{"label": "x", "providerId": "nope", "apiKey": "k"}, 400, "invalid_request"},
			{"credential compatible without base URL", "POST", "/api/model-provider-credentials", w.owner, map[string]any{"label": "x", "providerId": "openai-compatible"}, 400, "invalid_request"},
			{"credential bad base URL", "POST", "/api/model-provider-credentials", w.owner, map[string]any{"label": "x", "providerId": "openai", "apiKey": "k", "baseUrlOverride": "ftp://x"}, 400, "invalid_request"},
			{"update system credential", "PUT", "/api/model-provider-credentials/sys-openai", w.owner, map[string]any{"label": "x"}, 403, "operation_not_allowed"},
			{"delete system credential", "DELETE", "/api/model-provider-credentials/sys-openai", w.owner, nil, 403, "operation_not_allowed"},
			{"delete credential in use", "DELETE", "/api/model-provider-credentials/" + cred2, w.owner, nil, 409, "credential_in_use"},
			{"update credential", "PUT", "/api/model-provider-credentials/" + cred, w.admin, map[string]any{"label": "Renamed", "apiKey": orgKey + "x"}, 200, ""},
			{"delete unused credential", "DELETE", "/api/model-provider-credentials/" + cred, w.owner, nil, 204, ""},
			{"delete credential twice", "DELETE", "/api/model-provider-credentials/" + cred, w.owner, nil, 404, "not_found"},
			// tenant isolation
			{"other org gets model", "GET", "/api/models/" + model, w.other, nil, 404, "not_found"},
			{"other org updates model", "PUT", "/api/models/" + model, w.other, map[string]any{"label": "x"}, 404, "not_found"},
			{"other org deletes model", "DELETE", "/api/models/" + model, w.other, nil, 404, "not_found"},
			{"other org defaults model", "PUT", "/api/models/default", w.other, map[string]any{"modelId": model}, 404, "not_found"},
			{"other org updates credential", "PUT", "/api/model-provider-credentials/" + cred2, w.other, map[string]any{"label": "x"}, 404, "not_found"},
			{"other org deletes credential", "DELETE", "/api/model-provider-credentials/" + cred2, w.other, nil, 404, "not_found"},
			{"other org tests credential", "POST", "/api/model-provider-credentials/" + cred2 + "/test", w.other, map[string]any{}, 404, "not_found"},
			{"delete model", "DELETE", "/api/models/" + model, w.owner, nil, 204, ""},
			{"delete model twice", "DELETE", "/api/models/" + model, w.owner, nil, 404, "not_found"},
			{"delete credential once free", "DELETE", "/api/model-provider-credentials/" + cred2, w.owner, nil, 204, ""},
		}
		for _, tc := range tests {
			res := w.do(t, tc.method, tc.path, w.as(tc.who), tc.body)
			if res.Status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, res.Body)
				continue
			}
			if tc.code != "" {
				if p := res.Problem(t); p.Code != tc.code {
					t.Errorf("%s: code %q, want %q", tc.name, p.Code, tc.code)
				}
			}
			if tc.name == "default to org model" {
				var l struct{ Data []wireModel }
				res.JSON(t, &l)
				for _, m := range l.Data {
					if m.IsDefault != (m.ID == model) {
						t.Errorf("after PUT /default: %s isDefault=%v", m.ID, m.IsDefault)
					}
				}
			}
			if tc.name == "update org model" {
				var m wireModel
				res.JSON(t, &m)
				if m.Label != "Renamed" || m.CredentialID != cred2 || m.APIShape != "anthropic-messages" {
					t.Errorf("updated model = %+v", m)
				}
			}
		}
		// The other org's list has only the system models and its own.
		for id, m := range w.models(t, w.as(w.other), "/api/models") {
			if m.Source != "system" {
				t.Errorf("globex sees %s (%s)", id, m.Source)
			}
		}
		// Clearing the default falls back to the system default.
		if res := w.do(t, "PUT", "/api/models/default", w.as(w.owner), map[string]any{"modelId": nil}); res.Status != 200 {
			t.Fatalf("clear default: %d %s", res.Status, res.Body)
		}
		if m := w.models(t, w.as(w.owner), "/api/models")[sysID]; !m.IsDefault {
			t.Errorf("system default not restored: %+v", m)
		}
	})
}

func TestModelsRBAC(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "pong"}}})
	apptest.Run(t, env(srv), func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, srv)
		cred := w.create(t, "/api/model-provider-credentials", map[string]any{"label": "A", "providerId": "anthropic", "apiKey": orgKey})
		model := w.create(t, "/api/models", map[string]any{"label": "M", "modelId": "claude", "credentialId": cred})
		readKey := w.apiKey(t, "models:read")
		writeKey := w.apiKey(t, "models:read", "models:write", "models:delete")
		noKey := w.apiKey(t, "agents:read")
		newModel := map[string]any{"label": "N", "modelId": "n", "credentialId": cred}
		tests := []struct {
			name, method, path string
			h                  http.Header
			body               any
			status             int
		}{
			{"member lists models", "GET", "/api/models", w.as(w.member), nil, 200},
			{"member lists me/models", "GET", "/api/me/models", w.as(w.member), nil, 200},
			{"viewer lists models", "GET", "/api/models", w.as(w.viewer), nil, 200},
			{"viewer gets model", "GET", "/api/models/" + model, w.as(w.viewer), nil, 200},
			{"member creates model", "POST", "/api/models", w.as(w.member), newModel, 403},
			{"member updates model", "PUT", "/api/models/" + model, w.as(w.member), map[string]any{"label": "x"}, 403},
			{"member deletes model", "DELETE", "/api/models/" + model, w.as(w.member), nil, 403},
			{"member sets default", "PUT", "/api/models/default", w.as(w.member), map[string]any{"modelId": model}, 403},
			{"viewer creates model", "POST", "/api/models", w.as(w.viewer), newModel, 403},
			{"member lists credentials", "GET", "/api/model-provider-credentials", w.as(w.member), nil, 403},
			{"viewer lists credentials", "GET", "/api/model-provider-credentials", w.as(w.viewer), nil, 403},
			{"member reads registry", "GET", "/api/model-provider-credentials/registry", w.as(w.member), nil, 403},
			{"member creates credential", "POST", "/api/model-provider-credentials", w.as(w.member), map[string]any{"label": "x", "providerId": "anthropic", "apiKey": "k"}, 403},
			{"admin lists credentials", "GET", "/api/model-provider-credentials", w.as(w.admin), nil, 200},
			{"admin reads registry", "GET", "/api/model-provider-credentials/registry", w.as(w.admin), nil, 200},
			{"read key lists", "GET", "/api/models", readKey, nil, 200},
			{"read key me/models", "GET", "/api/me/models", readKey, nil, 200},
			{"read key creates", "POST", "/api/models", readKey, newModel, 403},
			{"write key creates", "POST", "/api/models", writeKey, newModel, 201},
			{"key without models scopes lists", "GET", "/api/models", noKey, nil, 403},
			{"write key lists credentials", "GET", "/api/model-provider-credentials", writeKey, nil, 403},
			{"write key creates credential", "POST", "/api/model-provider-credentials", writeKey, map[string]any{"label": "x", "providerId": "anthropic", "apiKey": "k"}, 403},
			{"no credentials", "GET", "/api/models", nil, nil, 401},
		}
		for _, tc := range tests {
			if res := w.do(t, tc.method, tc.path, tc.h, tc.body); res.Status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, res.Body)
			}
		}
	})
}

func TestCredentialsEncryptedAndNeverReturned(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "pong"}}})
	apptest.Run(t, env(srv), func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, srv)
		var bodies []string
		res := w.do(t, "POST", "/api/model-provider-credentials", w.as(w.owner), map[string]any{"label": "A", "providerId": "anthropic", "apiKey": orgKey})
		bodies = append(bodies, string(res.Body))
		var out struct{ ID string }
		res.JSON(t, &out)
		res = w.do(t, "PUT", "/api/model-provider-credentials/"+out.ID, w.as(w.owner), map[string]any{"apiKey": orgKey})
		bodies = append(bodies, string(res.Body))
		res = w.do(t, "GET", "/api/model-provider-credentials", w.as(w.owner), nil)
		bodies = append(bodies, string(res.Body))
		var list struct {
			Data []struct {
				ID, KeyHint, Source, AuthMode string
			}
		}
		res.JSON(t, &list)
		hints := map[string]string{}
		for _, c := range list.Data {
			hints[c.ID] = c.Source + " " + c.AuthMode + " " + c.KeyHint
		}
		if hints[out.ID] != "custom api_key sk-…cdef" || hints["sys-openai"] != "built-in api_key sk-…dcba" {
			t.Errorf("credentials = %v", hints)
		}
		var raw string
		if err := e.DB.QueryRowContext(t.Context(), `SELECT credentials_encrypted FROM model_provider_credentials WHERE id = ?`, out.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(raw, "v1:") || strings.Contains(raw, orgKey) {
			t.Errorf("stored credential is not an envelope: %q", raw)
		}
		for _, p := range []string{"/api/models", "/api/model-provider-credentials/registry"} {
			bodies = append(bodies, string(w.do(t, "GET", p, w.as(w.owner), nil).Body))
		}
		for i, b := range bodies {
			if strings.Contains(b, orgKey) || strings.Contains(b, systemKey) {
				t.Errorf("response %d leaks a key: %s", i, b)
			}
		}
		if l := e.Logs.String(); strings.Contains(l, orgKey) || strings.Contains(l, systemKey) {
			t.Errorf("logs leak a key")
		}
	})
}

func TestConnectionTest(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script{APIKey: orgKey, Turns: []llmtest.Turn{{Text: "pong"}}},
		llmtest.Script{Match: "never", APIKey: systemKey})
	// The system key must work too: serve it from a second fake that accepts it.
	sys := llmtest.New(t, llmtest.Script{APIKey: systemKey, Turns: []llmtest.Turn{{Text: "pong"}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v1"
	_ = ln.Close()
	apptest.Run(t, env(sys), func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, srv)
		base := srv.BaseURL(llmtest.OpenAIChat)
		cred := w.create(t, "/api/model-provider-credentials", map[string]any{"label": "Local", "providerId": "openai-compatible",
			"apiKey": orgKey, "baseUrlOverride": base})
		model := w.create(t, "/api/models", map[string]any{"label": "M", "modelId": "local-model", "credentialId": cred})

		// The default outbound policy refuses loopback addresses given by users.
		res := w.do(t, "POST", "/api/model-provider-credentials/"+cred+"/test", w.as(w.owner), map[string]any{"modelId": "m"})
		if res.Status != 502 || res.Problem(t).Code != "network_error" {
			t.Fatalf("loopback under the default policy: %d %s", res.Status, res.Body)
		}
		e.App.Models.Guard = netguard.Policy{AllowLoopback: true}

		type result struct {
			OK      bool   `json:"ok"`
			ModelID string `json:"modelId"`
		}
		tests := []struct {
			name, path string
			body       any
			status     int
			code       string
			model      string
		}{
			{"saved credential", "/api/model-provider-credentials/" + cred + "/test", nil, 200, "", "local-model"},
			{"model", "/api/models/" + model + "/test", nil, 200, "", "local-model"},
			{"model config", "/api/models/test", map[string]any{"credentialId": cred, "modelId": "other"}, 200, "", "other"},
			{"system model", "/api/models/system:sys-openai:sys-small/test", nil, 200, "", "sys-small"},
			{"system credential", "/api/model-provider-credentials/sys-openai/test", nil, 200, "", "sys-small"},
			{"unsaved key", "/api/model-provider-credentials/test", map[string]any{"providerId": "openai-compatible", "apiKey": orgKey,
				"baseUrlOverride": base, "modelId": "x"}, 200, "", "x"},
			{"wrong key", "/api/model-provider-credentials/test", map[string]any{"providerId": "openai-compatible", "apiKey": "sk-wrong-key-000000",
				"baseUrlOverride": base, "modelId": "y"}, 502, "provider_error", ""},
			{"unreachable", "/api/models/test", nil, 0, "", ""}, // replaced below
		}
		unreachable := w.create(t, "/api/model-provider-credentials", map[string]any{"label": "Down", "providerId": "openai-compatible",
			"apiKey": orgKey, "baseUrlOverride": closed})
		tests[len(tests)-1] = struct {
			name, path string
			body       any
			status     int
			code       string
			model      string
		}{"unreachable", "/api/models/test", map[string]any{"credentialId": unreachable, "modelId": "m"}, 502, "network_error", ""}
		for _, tc := range tests {
			res := w.do(t, "POST", tc.path, w.as(w.admin), tc.body)
			if res.Status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, res.Status, tc.status, res.Body)
				continue
			}
			if strings.Contains(string(res.Body), orgKey) || strings.Contains(string(res.Body), systemKey) {
				t.Errorf("%s: response leaks a key: %s", tc.name, res.Body)
			}
			if tc.code != "" {
				if p := res.Problem(t); p.Code != tc.code {
					t.Errorf("%s: code %q, want %q (%s)", tc.name, p.Code, tc.code, res.Body)
				}
				continue
			}
			var r result
			res.JSON(t, &r)
			if !r.OK || r.ModelID != tc.model {
				t.Errorf("%s: %+v", tc.name, r)
			}
		}
		if l := e.Logs.String(); strings.Contains(l, orgKey) || strings.Contains(l, systemKey) {
			t.Errorf("logs leak a key")
		}
	})
}
