package llmproxy_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const realKey = "sk-proxy-REAL-0123456789"

const agentManifest = `{"name":"@acme/echo","version":"1.0.0","type":"agent","timeout":30}`

// systemKeys is SYSTEM_PROVIDER_KEYS with a Chat Completions preset (priced) and an Anthropic one, both served
// by the fake LLM.
func systemKeys(llmURL string) string {
	b, _ := json.Marshal([]map[string]any{
		{"id": "sys-compat", "providerId": "openai-compatible", "apiKey": realKey, "baseUrl": llmURL + "/v1",
			"models": []map[string]any{{"modelId": "gpt-test", "label": "GPT", "isDefault": true,
				"cost": map[string]any{"input": 1, "output": 10}}}},
		{"id": "sys-claude", "providerId": "anthropic", "apiKey": realKey, "baseUrl": llmURL,
			"models": []map[string]any{{"modelId": "claude-test", "label": "Claude"}}},
	})
	return string(b)
}

type fixture struct {
	e          *apptest.Env
	llm        *llmtest.Server
	owner      string
	org, app   string
	key        string
	presets    map[string]string // provider model name → preset id
	memberKey  string
	memberUser string
}

func setup(t *testing.T, e *apptest.Env, llm *llmtest.Server) *fixture {
	t.Helper()
	f := &fixture{e: e, llm: llm, presets: map[string]string{}}
	f.owner = e.SeedUser("owner@acme.test")
	f.org, f.app = e.SeedOrg(f.owner, "acme")
	f.key = f.newKey(t, f.owner, auth.RoleOwner)
	f.memberUser = e.SeedUser("member@acme.test")
	e.SeedMember(f.org, f.memberUser, "member")
	f.memberKey = f.newKey(t, f.memberUser, auth.RoleMember)
	res := e.Do(apptest.Request{Method: "GET", Path: "/api/models", Headers: apptest.Headers("Authorization", "Bearer "+f.key)})
	var list struct {
		Data []struct{ ID, ModelID string }
	}
	res.JSON(t, &list)
	for _, m := range list.Data {
		f.presets[m.ModelID] = m.ID
	}
	if f.presets["gpt-test"] == "" || f.presets["claude-test"] == "" {
		t.Fatalf("presets: %s", res.Body)
	}
	return f
}

func (f *fixture) newKey(t *testing.T, user string, role auth.Role) string {
	k, err := f.e.App.APIKeys.Create(context.Background(), auth.NewAPIKey{OrgID: f.org, ApplicationID: f.app, CreatedBy: user,
		CreatorRole: role, Name: "k"}, audit.Event{OrgID: f.org, ApplicationID: f.app, ActorType: audit.ActorUser, ActorID: user})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

func (f *fixture) call(path, key string, body any, extra ...string) *apptest.Response {
	return f.e.Do(apptest.Request{Method: "POST", Path: path, Body: body,
		Headers: apptest.Headers(append([]string{"Authorization", "Bearer " + key}, extra...)...)})
}

type usageRow struct {
	runID         sql.NullString
	api, model    string
	input, output int64
	cost          float64
	apiKeyID      sql.NullString
}

func (f *fixture) usage(t *testing.T) []usageRow {
	t.Helper()
	rows, err := f.e.DB.QueryContext(context.Background(), `SELECT run_id, api, model, input_tokens, output_tokens, cost_usd,
		api_key_id FROM llm_usage WHERE source = 'proxy' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []usageRow
	for rows.Next() {
		var r usageRow
		if err := rows.Scan(&r.runID, &r.api, &r.model, &r.input, &r.output, &r.cost, &r.apiKeyID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func chatBody(model string, stream bool) map[string]any {
	return map[string]any{"model": model, "stream": stream, "messages": []map[string]any{{"role": "user", "content": "hi"}}}
}

// TestLLMProxyForwardsAndMeters: a preset id becomes the provider's model, the real key is injected (the
// caller's bearer never reaches the provider), the answer comes back as is (JSON or a stream) with the
// rate-limit headers, and one priced 'proxy' usage row is recorded per call, tied to the run of X-Run-Id.
func TestLLMProxyForwardsAndMeters(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{{Text: "Hello there."}}})
	apptest.Run(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemKeys(llm.URL)}, func(t *testing.T, e *apptest.Env) {
		llm.Reset()
		f := setup(t, e, llm)

		res := f.call("/api/llm-proxy/openai-completions/v1/chat/completions", f.key, chatBody(f.presets["gpt-test"], false))
		if res.Status != 200 || !strings.Contains(string(res.Body), "Hello there.") {
			t.Fatalf("chat: %d %s", res.Status, res.Body)
		}
		if res.Header.Get("RateLimit-Policy") != "60;w=60" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("headers %v", res.Header)
		}
		reqs := llm.Requests()
		if len(reqs) != 1 || reqs[0].Model != "gpt-test" || reqs[0].API != llmtest.OpenAIChat {
			t.Fatalf("upstream saw %+v", reqs)
		}

		// A streamed Anthropic call tied to a remote run.
		now := isotime.Now()
		if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO packages (id, org_id, type, source, draft_manifest,
			draft_content, created_at, updated_at) VALUES ('@acme/echo', ?, 'agent', 'local', ?, 'Do it.', ?, ?)`,
			f.org, agentManifest, now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO application_packages (application_id, package_id,
			config, enabled, installed_at, updated_at) VALUES (?, '@acme/echo', '{}', ?, ?, ?)`, f.app, true, now, now); err != nil {
			t.Fatal(err)
		}
		remote := f.call("/api/runs/remote", f.key, map[string]any{"applicationId": f.app,
			"source": map[string]any{"kind": "registry", "packageId": "@acme/echo", "stage": "draft"}})
		if remote.Status != 201 {
			t.Fatalf("remote: %d %s", remote.Status, remote.Body)
		}
		var rr struct{ RunID string }
		remote.JSON(t, &rr)
		res = f.call("/api/llm-proxy/anthropic-messages/v1/messages", f.key, map[string]any{"model": f.presets["claude-test"],
			"max_tokens": 64, "stream": true, "messages": []map[string]any{{"role": "user", "content": "hi"}}},
			"X-Run-Id", rr.RunID, "Anthropic-Version", "2023-06-01", "X-Api-Key", "placeholder")
		if res.Status != 200 || res.Header.Get("Content-Type") != "text/event-stream" ||
			!strings.Contains(string(res.Body), "event: message_stop") {
			t.Fatalf("anthropic stream: %d %v %s", res.Status, res.Header, res.Body)
		}
		if reqs := llm.Requests(); len(reqs) != 2 || reqs[1].Model != "claude-test" || !reqs[1].Stream {
			t.Fatalf("upstream saw %+v", reqs)
		}

		rows := f.usage(t)
		if len(rows) != 2 {
			t.Fatalf("usage rows %+v", rows)
		}
		chat, claude := rows[0], rows[1]
		// 100 input and 20 output tokens at $1 and $10 per million.
		if chat.runID.Valid || chat.api != "openai-completions" || chat.model != "gpt-test" || chat.input != 100 ||
			chat.output != 20 || chat.cost < 0.0002999 || chat.cost > 0.0003001 || !chat.apiKeyID.Valid {
			t.Fatalf("chat usage %+v", chat)
		}
		if claude.runID.String != rr.RunID || claude.api != "anthropic-messages" || claude.model != "claude-test" ||
			claude.input != 100 || claude.output != 20 || claude.cost != 0 {
			t.Fatalf("claude usage %+v", claude)
		}
		if strings.Contains(e.Logs.String(), realKey) {
			t.Fatal("the provider key reached the logs")
		}
	})
}

// TestLLMProxyRefusals: who may call, and what is refused before the provider is reached.
func TestLLMProxyRefusals(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{{Text: "ok"}}})
	apptest.Run(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemKeys(llm.URL), "LLM_PROXY_LIMITS": `{"rate_per_min":100}`},
		func(t *testing.T, e *apptest.Env) {
			llm.Reset()
			f := setup(t, e, llm)
			chat := "/api/llm-proxy/openai-completions/v1/chat/completions"
			gpt, claude := f.presets["gpt-test"], f.presets["claude-test"]
			tests := []struct {
				name    string
				path    string
				headers []string
				body    any
				status  int
				code    string
			}{
				{name: "no credentials", path: chat, body: chatBody(gpt, false), status: 401},
				{name: "cookie-style session", path: chat, headers: []string{apptest.TestUserHeader, f.owner, "X-Org-Id", f.org},
					body: chatBody(gpt, false), status: 403},
				{name: "member key lacks llm-proxy:call", path: chat, headers: []string{"Authorization", "Bearer " + f.memberKey},
					body: chatBody(gpt, false), status: 403, code: "forbidden"},
				{name: "not JSON", path: chat, body: "nope", status: 400, code: "invalid_request"},
				{name: "no model", path: chat, body: map[string]any{"messages": []any{}}, status: 400, code: "invalid_request"},
				{name: "unknown preset", path: chat, body: chatBody("nope", false), status: 404, code: "model_not_found"},
				{name: "preset of another wire format", path: chat, body: chatBody(claude, false), status: 400,
					code: "model_api_mismatch"},
				{name: "unknown run", path: chat, headers: []string{"X-Run-Id", "run_00000000-0000-0000-0000-000000000000"},
					body: chatBody(gpt, false), status: 404, code: "run_not_found"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := apptest.Headers(tt.headers...)
					if h.Get("Authorization") == "" && h.Get(apptest.TestUserHeader) == "" && tt.status != 401 {
						h.Set("Authorization", "Bearer "+f.key)
					}
					res := e.Do(apptest.Request{Method: "POST", Path: tt.path, Body: tt.body, Headers: h})
					if res.Status != tt.status {
						t.Fatalf("status %d, want %d: %s", res.Status, tt.status, res.Body)
					}
					if tt.code != "" {
						if p := res.Problem(t); p.Code != tt.code {
							t.Fatalf("code %q, want %q (%s)", p.Code, tt.code, p.Detail)
						}
					}
				})
			}
			if n := llm.Count(); n != 0 {
				t.Fatalf("the provider was reached %d times", n)
			}
			if rows := f.usage(t); len(rows) != 0 {
				t.Fatalf("usage recorded for refused calls: %+v", rows)
			}
		})
}

// TestLLMProxyGuardsOrganizationBaseURLs: a model on an organization's credential whose base URL is a
// loopback address is refused (the operator's keys are trusted, the organization's are not).
func TestLLMProxyGuardsOrganizationBaseURLs(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{Turns: []llmtest.Turn{{Text: "ok"}}})
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		llm.Reset()
		owner := e.SeedUser("owner@acme.test")
		org, app := e.SeedOrg(owner, "acme")
		as := apptest.As(owner, org, app)
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/model-provider-credentials", Headers: as,
			Body: map[string]any{"label": "local", "providerId": "openai-compatible", "apiKey": "k", "baseUrlOverride": llm.URL + "/v1"}})
		if res.Status != 201 {
			t.Fatalf("credential: %d %s", res.Status, res.Body)
		}
		var cred struct{ ID string }
		res.JSON(t, &cred)
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/models", Headers: as,
			Body: map[string]any{"label": "Local", "modelId": "local-model", "credentialId": cred.ID}})
		if res.Status != 201 {
			t.Fatalf("model: %d %s", res.Status, res.Body)
		}
		var model struct{ ID string }
		res.JSON(t, &model)
		f := &fixture{e: e, org: org, app: app}
		key := f.newKey(t, owner, auth.RoleOwner)
		res = f.call("/api/llm-proxy/openai-completions/v1/chat/completions", key, chatBody(model.ID, false))
		if res.Status != 403 || res.Problem(t).Code != "blocked_destination" {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		if llm.Count() != 0 {
			t.Fatal("the loopback server was reached")
		}
	})
}
