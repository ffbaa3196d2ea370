package runplan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/runplan"
	"github.com/appstrate/appstrate-go/internal/sidecar"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

const agentManifest = `{"name":"@acme/writer","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Writer",
 "dependencies":{"skills":{"@acme/tone":"^1.0.0"},"tools":{"@appstrate/output":"^2.0.0","@appstrate/note":"^1.0.0"},
   "providers":{"@appstrate/activecampaign":"^1.0.0"}},
 "input":{"schema":{"type":"object","properties":{"topic":{"type":"string","description":"Subject"},
   "brief":{"type":"string","format":"uri","contentMediaType":"text/plain"}},"required":["topic"]}},
 "config":{"schema":{"type":"object","properties":{"language":{"type":"string"}}}},
 "output":{"schema":{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]}},
 "timeout":120}`

const (
	modelKey   = "sk-ant-api03-REALSECRETKEYVALUE0123456789"
	apiKeyConn = "ac-key-000111222"
	platform   = "http://127.0.0.1:3000"
)

var sink = runplan.Sink{URL: platform + "/api/runs/x/events", FinalizeURL: platform + "/api/runs/x/events/finalize",
	Secret: "c2lua3NlY3JldHNpbmtzZWNyZXRzaW5rc2VjcmV0"}

type world struct {
	e              *apptest.Env
	user, org, app string
	caller         packages.Caller
	planner        *runplan.Planner
	modelID        string
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func exec(t *testing.T, e *apptest.Env, q string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// setup seeds the org "acme" with the skill @acme/tone (SKILL.md and a script), the agent @acme/writer
// (published 1.0.0, then a newer draft prompt), a default model, and the owner's connection to the system
// provider @appstrate/activecampaign.
func setup(t *testing.T, e *apptest.Env) *world {
	ctx := context.Background()
	e.App.SyncSystemPackages(ctx)
	w := &world{e: e}
	w.user = e.SeedUser("ada@acme.test")
	w.org, w.app = e.SeedOrg(w.user, "acme")
	w.caller = packages.Caller{OrgID: w.org, AppID: w.app, UserID: w.user}
	reg := e.App.Registry

	skill, err := afps.WritePackage(map[string][]byte{
		"manifest.json":  []byte(`{"name":"@acme/tone","version":"1.0.0","type":"skill","description":"Tone rules"}`),
		"SKILL.md":       []byte("---\nname: tone-rewriter\ndescription: Rewrite text in a given tone.\n---\n\n# Tone\n"),
		"scripts/run.sh": []byte("#!/bin/sh\necho tone\n"),
	})
	must(t, err)
	_, err = reg.Import(ctx, w.caller, "tone.afps", skill, false)
	must(t, err)

	v1 := "Version one: {{input.topic}}\n"
	_, err = reg.Create(ctx, w.caller, "agent", packages.DraftInput{Manifest: json.RawMessage(agentManifest), Content: &v1})
	must(t, err)
	draft := "# Draft for run {{runId}}\n\nTopic {{input.topic}} in {{config.language}}.\n{{#checkpoint}}Resume at {{cursor}}.\n{{/checkpoint}}"
	pkg, err := packages.GetPackage(ctx, e.DB, "@acme/writer")
	must(t, err)
	_, err = reg.Update(ctx, w.caller, "agent", "@acme/writer", packages.UpdateInput{LockVersion: pkg.LockVersion,
		DraftInput: packages.DraftInput{Content: &draft}})
	must(t, err)

	cred, err := e.App.Models.CreateCredential(ctx, w.org, models.NewCredential{Label: "Anthropic", ProviderID: "anthropic", APIKey: modelKey})
	must(t, err)
	m, err := e.App.Models.CreateModel(ctx, w.org, models.NewModel{Label: "Sonnet", ModelID: "claude-sonnet-4-5", CredentialID: cred.ID,
		Input: []string{"text", "image"}, ContextWindow: 200000, MaxTokens: 64000, Reasoning: true, IsDefault: true,
		Cost: &llm.Pricing{InputPerMTok: 3, OutputPerMTok: 15}})
	must(t, err)
	w.modelID = m.ID

	h := apptest.As(w.user, w.org, w.app)
	for _, r := range []apptest.Request{
		{Method: "PUT", Path: "/api/providers/credentials/@appstrate/activecampaign", Body: map[string]any{"enabled": true}, Headers: h},
		{Method: "POST", Path: "/api/connections/connect/@appstrate/activecampaign/credentials", Headers: h,
			Body: map[string]any{"credentials": map[string]any{"account_name": "acme", "api_key": apiKeyConn}}},
	} {
		if res := e.Do(r); res.Status != 200 {
			t.Fatalf("%s %s: %d %s", r.Method, r.Path, res.Status, res.Body)
		}
	}
	w.planner = &runplan.Planner{DB: e.DB, Registry: reg, Models: e.App.Models, Resolver: e.App.Resolver, Uploads: e.App.Uploads,
		Logger: e.App.Logger}
	return w
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// insertRun inserts a pending run of agent by user (or by nobody: "") with the given input and model.
func (w *world) insertRun(t *testing.T, agent, user, input, modelID string) string {
	id := ids.New(ids.Run)
	now := isotime.Now()
	var u, m any
	if user != "" {
		u = user
	}
	if modelID != "" {
		m = modelID
	}
	exec(t, w.e, `INSERT INTO runs (id, package_id, user_id, application_id, org_id, status, input, config, model_id,
		timeout_seconds, started_at, created_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, 120, ?, ?)`,
		id, agent, u, w.app, w.org, input, `{"language":"fr"}`, m, now, now)
	return id
}

func (w *world) persist(t *testing.T, key any, pinned bool, actorType string, actorID any, content string, at time.Time) {
	exec(t, w.e, `INSERT INTO package_persistence (package_id, application_id, org_id, key, pinned, actor_type, actor_id,
		content, created_at, updated_at) VALUES ('@acme/writer', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.app, w.org, key, pinned, actorType, actorID, content, isotime.From(at), isotime.From(at))
}

// profile inserts an empty connection profile of user and returns its id.
func (w *world) profile(t *testing.T, user string) string {
	id := ids.UUID()
	now := isotime.Now()
	exec(t, w.e, `INSERT INTO connection_profiles (id, user_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Other', ?, ?, ?)`,
		id, user, false, now, now)
	return id
}

// upload creates and fills a text upload, and consumes it when consume; it returns its upload:// URI.
func (w *world) upload(t *testing.T, name, content string, consume bool) string {
	ctx := context.Background()
	up := w.e.App.Uploads
	c, err := up.Create(ctx, w.org, w.app, w.user, uploads.NewUpload{Name: name, MIME: "text/plain", Size: int64(len(content))})
	must(t, err)
	u, err := url.Parse(c.URL)
	must(t, err)
	tok := u.Query().Get("token")
	must(t, up.Write(ctx, uploads.Put{Token: tok, ContentType: "text/plain", ContentLength: int64(len(content)),
		Body: strings.NewReader(content)}))
	if consume {
		_, err = up.Consume(ctx, w.e.DB, w.org, w.app, c.URI)
		must(t, err)
	}
	return c.URI
}

func TestPlan(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		w := setup(t, e)
		other := e.SeedUser("bob@acme.test")
		e.SeedMember(w.org, other, "member")
		t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		w.persist(t, "checkpoint", true, "shared", nil, `{"cursor":1}`, t0)
		w.persist(t, "checkpoint", true, "user", w.user, `{"cursor":2}`, t0) // the actor's own wins
		w.persist(t, "checkpoint", true, "user", other, `{"cursor":99}`, t0.Add(time.Hour))
		w.persist(t, "style", true, "user", w.user, `"Short."`, t0)
		w.persist(t, "style", true, "shared", nil, `"Shorter still."`, t0.Add(time.Minute)) // latest wins
		w.persist(t, "prefs", true, "shared", nil, `{"lang":"fr"}`, t0)
		w.persist(t, nil, true, "user", w.user, `"Ada likes lists."`, t0.Add(2*time.Minute))
		w.persist(t, nil, true, "shared", nil, `{"fact":"shared memo"}`, t0.Add(time.Minute))
		w.persist(t, nil, true, "user", other, `"Bob's memo"`, t0)
		w.persist(t, nil, false, "user", w.user, `"archived, recalled on demand"`, t0)

		uri := w.upload(t, "../brief.txt", "Write about tides.\n", true)
		input := `{"topic":"Tides","brief":"` + uri + `"}`
		id := w.insertRun(t, "@acme/writer", w.user, input, "")
		plan, err := w.planner.Plan(ctx, runplan.Run{ID: id, Token: id + ".token", Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			sink, platform)
		must(t, err)

		spec := plan.Spec
		if spec.RunID != id || spec.RunToken != id+".token" || spec.Timeout != 120*time.Second || plan.Agent != "@acme/writer@1.0.0" {
			t.Fatalf("spec %s %s %v %s", spec.RunID, spec.RunToken, spec.Timeout, plan.Agent)
		}
		if plan.Model.ID != w.modelID || plan.ModelSource != "org" || len(plan.ConnectedProviders) != 1 ||
			plan.ConnectedProviders[0] != "@appstrate/activecampaign" || plan.ProviderProfiles["@appstrate/activecampaign"] == "" {
			t.Fatalf("plan %+v", plan)
		}

		// The prompt: the draft's prompt.md rendered (schemaVersion 1.1), the actor's persistence only.
		prompt := string(spec.Files[runplan.PromptFile])
		if prompt != plan.Prompt {
			t.Fatal("prompt file differs from the plan's prompt")
		}
		for _, want := range []string{
			"# Draft for run " + id + "\n\nTopic Tides in fr.\nResume at 2.\n",
			"- **output**: Return the final structured result", "- **note**:", "# output\n", "# note\n",
			"- **tone-rewriter**: Rewrite text in a given tone. (`.pi/skills/@acme/tone/SKILL.md`)",
			"- **ActiveCampaign** (`@appstrate/activecampaign`)",
			"- **topic** (string, required): Subject — `Tides`",
			"- **brief.txt** (text/plain, 19 B) → `./documents/brief.txt`",
			"- **language** (string, optional) — `fr`",
			"## Checkpoint", "\"cursor\": 2",
			"### prefs", "### style\n\nShorter still.",
			"- {\"fact\":\"shared memo\"} (2026-05-01T09:01:00.000Z)\n- Ada likes lists. (2026-05-01T09:02:00.000Z)",
			"## Output Format", "You have 120 seconds",
		} {
			if !strings.Contains(prompt, want) {
				t.Errorf("prompt lacks %q", want)
			}
		}
		for _, leak := range []string{"Version one", `"cursor": 99`, `"cursor":99`, "Bob", "archived", "upload://", "[object Object]"} {
			if strings.Contains(prompt, leak) {
				t.Errorf("prompt contains %q", leak)
			}
		}

		// The work directory.
		files := spec.Files
		for name, want := range map[string]string{
			".git/HEAD":                                             "ref: refs/heads/main\n",
			"documents/brief.txt":                                   "Write about tides.\n",
			".pi/skills/@acme/tone/scripts/run.sh":                  "#!/bin/sh\necho tone\n",
			".pi/tools/@appstrate/output/TOOL.md":                   "",
			".pi/tools/@appstrate/note/TOOL.md":                     "",
			".pi/skills/provider-appstrate-activecampaign/SKILL.md": "",
		} {
			got, ok := files[name]
			if !ok || want != "" && string(got) != want {
				t.Errorf("%s: %q (present %v)", name, got, ok)
			}
		}
		if _, ok := files[".pi/skills/@acme/tone/RECORD"]; ok {
			t.Error("RECORD copied")
		}
		skill := afps.ParseSkillMD(files[".pi/skills/provider-appstrate-activecampaign/SKILL.md"])
		if skill.Name != "provider-appstrate-activecampaign" || !strings.HasPrefix(skill.Description, "ActiveCampaign API. Email marketing") ||
			!strings.Contains(skill.Body, "# ActiveCampaign API") {
			t.Errorf("provider skill %q %q", skill.Name, skill.Description)
		}

		// The environments: the key only in the sidecar's.
		env := spec.Env
		for k, want := range map[string]string{"AGENT_RUN_ID": id, "AGENT_PROMPT_FILE": ".appstrate/prompt.md",
			"MODEL_API": "anthropic-messages", "MODEL_ID": "claude-sonnet-4-5", "MODEL_API_KEY": "sk-ant-api03-placeholder",
			"MODEL_INPUT": `["text","image"]`, "MODEL_CONTEXT_WINDOW": "200000", "MODEL_MAX_TOKENS": "64000",
			"MODEL_REASONING": "true", "MODEL_COST": `{"input":3,"output":15,"cacheRead":0,"cacheWrite":0}`,
			"OUTPUT_SCHEMA":       `{"properties":{"summary":{"type":"string"}},"required":["summary"],"type":"object"}`,
			"CONNECTED_PROVIDERS": "@appstrate/activecampaign", "AGENT_TOOLS": `["output","note"]`,
			"APPSTRATE_SINK_URL": sink.URL, "APPSTRATE_SINK_FINALIZE_URL": sink.FinalizeURL, "APPSTRATE_SINK_SECRET": sink.Secret,
			"TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"} {
			if env[k] != want {
				t.Errorf("runner %s = %q, want %q", k, env[k], want)
			}
		}
		sc := spec.SidecarEnv
		if _, ok := sc["APPSTRATE_SINK_SECRET"]; ok {
			t.Error("the sidecar got the sink secret")
		}
		for k, want := range map[string]string{"RUN_ID": id, "APPSTRATE_SINK_URL": sink.URL, "APPSTRATE_SINK_FINALIZE_URL": sink.FinalizeURL,
			"RUN_TOKEN": id + ".token", "PLATFORM_API_URL": platform,
			"PI_BASE_URL": "https://api.anthropic.com", "PI_API_KEY": modelKey, "PI_PLACEHOLDER": "sk-ant-api03-placeholder",
			"MODEL_API": "anthropic-messages", "PROXY_URL": "", "MODEL_CONTEXT_WINDOW": "200000", "MODEL_MAX_TOKENS": "64000"} {
			if v, ok := sc[k]; !ok || v != want {
				t.Errorf("sidecar %s = %q, want %q", k, v, want)
			}
		}
		// Both environments satisfy the contracts of the processes that read them (plus what the executor adds).
		runnerEnv := map[string]string{"WORKSPACE_DIR": t.TempDir(), "SIDECAR_URL": "http://sidecar", "MODEL_BASE_URL": "http://sidecar/llm"}
		maps.Copy(runnerEnv, env)
		cfg, promptFile, err := runner.ParseEnv(lookupIn(runnerEnv), "/")
		must(t, err)
		if cfg.RunID != id || !strings.HasSuffix(promptFile, "/.appstrate/prompt.md") || len(cfg.AgentTools) != 2 ||
			len(cfg.ConnectedProviders) != 1 || cfg.Model.Cost.OutputPerMTok != 15 || len(cfg.OutputSchema) == 0 {
			t.Fatalf("runner config %+v", cfg)
		}
		sidecarEnv := map[string]string{"SIDECAR_LISTEN": "127.0.0.1:0"}
		maps.Copy(sidecarEnv, sc)
		scfg, err := sidecar.LoadConfig(lookupIn(sidecarEnv))
		must(t, err)
		if scfg.RunID != id || scfg.LLMAPIKey != modelKey || scfg.LLMPlaceholder != env["MODEL_API_KEY"] || scfg.SinkURL == nil ||
			scfg.ProxyURL != nil || scfg.ModelAPI != "anthropic-messages" {
			t.Fatalf("sidecar config %+v", scfg)
		}

		for name, data := range files {
			if bytes.Contains(data, []byte(modelKey)) || bytes.Contains(data, []byte(apiKeyConn)) {
				t.Errorf("%s holds a secret", name)
			}
		}
		for k, v := range env {
			if strings.Contains(v, "REALSECRET") || strings.Contains(v, apiKeyConn) {
				t.Errorf("runner env %s holds a secret", k)
			}
		}

		// Build is Plan's Spec; the pinned version uses its own prompt; given documents replace the uploads.
		id2 := w.insertRun(t, "@acme/writer", w.user, `{"topic":"Waves"}`, "")
		spec2, err := w.planner.Build(ctx, runplan.Run{ID: id2, Token: "t", Version: "1.0.0",
			Documents: []runplan.Document{{Name: "a/b.csv", MIME: "text/csv", Data: []byte("x,y\n")}, {Name: "b.csv", MIME: "text/csv"}}},
			sink, platform)
		must(t, err)
		p2 := string(spec2.Files[runplan.PromptFile])
		if !strings.HasSuffix(p2, "---\n\nVersion one: Waves\n") || !strings.Contains(p2, "`./documents/b (2).csv`") {
			t.Fatalf("pinned version prompt: %s", p2[len(p2)-200:])
		}
		if string(spec2.Files["documents/b.csv"]) != "x,y\n" {
			t.Fatalf("documents: %v", spec2.Files["documents/b.csv"])
		}
	})
}

func TestPlanScopes(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		w := setup(t, e)
		t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		w.persist(t, "checkpoint", true, "user", w.user, `{"cursor":2}`, t0)
		w.persist(t, nil, true, "shared", nil, `"shared memo"`, t0)
		w.persist(t, nil, true, "user", w.user, `"Ada's memo"`, t0)

		// A run without actor (a schedule on an application profile) sees the shared rows only, and no
		// connection of any user.
		id := w.insertRun(t, "@acme/writer", "", `{"topic":"x"}`, "")
		plan, err := w.planner.Plan(ctx, runplan.Run{ID: id}, sink, platform)
		must(t, err)
		if strings.Contains(plan.Prompt, "## Checkpoint") || strings.Contains(plan.Prompt, "Ada's memo") ||
			!strings.Contains(plan.Prompt, "- shared memo (") || len(plan.ConnectedProviders) != 0 ||
			plan.Spec.Env["CONNECTED_PROVIDERS"] != "" || strings.Contains(plan.Prompt, "## Connected Providers") {
			t.Fatalf("shared scope: connected %v\n%s", plan.ConnectedProviders, plan.Prompt)
		}
		// The provider's skill is still in the workspace.
		if _, ok := plan.Spec.Files[".pi/skills/provider-appstrate-activecampaign/SKILL.md"]; !ok {
			t.Fatal("provider skill missing")
		}

		// A run naming another (empty) profile of its user: its connections, i.e. none, are used.
		id = w.insertRun(t, "@acme/writer", w.user, `{"topic":"x"}`, "")
		empty := w.profile(t, w.user)
		exec(t, e, `UPDATE runs SET connection_profile_id = ? WHERE id = ?`, empty, id)
		plan, err = w.planner.Plan(ctx, runplan.Run{ID: id}, sink, platform)
		must(t, err)
		if len(plan.ConnectedProviders) != 0 || plan.ProviderProfiles["@appstrate/activecampaign"] != empty {
			t.Fatalf("explicit profile: %v %v", plan.ConnectedProviders, plan.ProviderProfiles)
		}
		// Without it, the user's default profile holds the connection.
		id = w.insertRun(t, "@acme/writer", w.user, `{"topic":"x"}`, "")
		plan, err = w.planner.Plan(ctx, runplan.Run{ID: id}, sink, platform)
		must(t, err)
		if len(plan.ConnectedProviders) != 1 || plan.ProviderProfiles["@appstrate/activecampaign"] == empty {
			t.Fatalf("default profile: %v %v", plan.ConnectedProviders, plan.ProviderProfiles)
		}
	})
}

func TestPlanErrors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		w := setup(t, e)
		reg := e.App.Registry
		prompt := "Go."
		_, err := reg.Create(ctx, w.caller, "agent", packages.DraftInput{Content: &prompt, Manifest: json.RawMessage(
			`{"name":"@acme/broken","version":"1.0.0","type":"agent","schemaVersion":"1.0","displayName":"Broken",
			 "dependencies":{"skills":{"@acme/nope":"*"}}}`)})
		must(t, err)
		_, err = reg.Create(ctx, w.caller, "agent", packages.DraftInput{Content: &prompt, Manifest: json.RawMessage(
			`{"name":"@acme/old-output","version":"1.0.0","type":"agent","schemaVersion":"1.0","displayName":"Old",
			 "dependencies":{"tools":{"@appstrate/output":"^3.0.0"}}}`)})
		must(t, err)
		bad := "{{#input}} never closed"
		_, err = reg.Create(ctx, w.caller, "agent", packages.DraftInput{Content: &bad, Manifest: json.RawMessage(
			`{"name":"@acme/bad-template","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Bad"}`)})
		must(t, err)

		// Another organization without any model.
		owner2 := e.SeedUser("carol@globex.test")
		org2, app2 := e.SeedOrg(owner2, "globex")
		_, err = reg.Create(ctx, packages.Caller{OrgID: org2, AppID: app2, UserID: owner2}, "agent", packages.DraftInput{Content: &prompt,
			Manifest: json.RawMessage(`{"name":"@globex/a","version":"1.0.0","type":"agent","schemaVersion":"1.0","displayName":"A"}`)})
		must(t, err)
		noModel := ids.New(ids.Run)
		now := isotime.Now()
		exec(t, e, `INSERT INTO runs (id, package_id, user_id, application_id, org_id, status, input, config, timeout_seconds, started_at, created_at)
			VALUES (?, '@globex/a', ?, ?, ?, 'running', '{}', '{}', 60, ?, ?)`, noModel, owner2, app2, org2, now, now)

		bob := e.SeedUser("bob@acme.test")
		e.SeedMember(w.org, bob, "member")
		bobProfile := w.profile(t, bob)
		foreignProfile := w.insertRun(t, "@acme/writer", w.user, `{"topic":"x"}`, "")
		exec(t, e, `UPDATE runs SET connection_profile_id = ? WHERE id = ?`, bobProfile, foreignProfile)

		foreignAgent := ids.New(ids.Run)
		exec(t, e, `INSERT INTO runs (id, package_id, user_id, application_id, org_id, status, input, config, timeout_seconds, started_at, created_at)
			VALUES (?, '@acme/writer', ?, ?, ?, 'running', '{}', '{}', 60, ?, ?)`, foreignAgent, owner2, app2, org2, now, now)

		deleted := w.insertRun(t, "@acme/writer", w.user, `{}`, "")
		exec(t, e, `UPDATE runs SET package_id = NULL WHERE id = ?`, deleted)

		tests := []struct {
			name    string
			run     runplan.Run
			sink    runplan.Sink
			want    error
			message string
		}{
			{"no model", runplan.Run{ID: noModel}, sink, runplan.ErrModelNotConfigured, "No LLM model configured for this organization"},
			{"unknown run", runplan.Run{ID: "run_nope"}, sink, runplan.ErrRunNotFound, "Run not found"},
			{"deleted agent", runplan.Run{ID: deleted}, sink, runplan.ErrAgentNotFound, "Agent not found"},
			{"another organization's agent", runplan.Run{ID: foreignAgent}, sink, runplan.ErrAgentNotFound, "Agent not found"},
			{"unknown version", runplan.Run{ID: w.insertRun(t, "@acme/writer", w.user, `{}`, ""), Version: "9.9.9"}, sink,
				runplan.ErrAgentNotFound, "Version 9.9.9 of agent @acme/writer not found"},
			{"missing skill", runplan.Run{ID: w.insertRun(t, "@acme/broken", w.user, `{}`, "")}, sink, runplan.ErrMissingSkill,
				"Skill @acme/nope required by @acme/broken was not found"},
			{"no matching system version", runplan.Run{ID: w.insertRun(t, "@acme/old-output", w.user, `{}`, "")}, sink,
				runplan.ErrMissingTool, "Tool @appstrate/output required by @acme/old-output has no version matching ^3.0.0"},
			{"invalid template", runplan.Run{ID: w.insertRun(t, "@acme/bad-template", w.user, `{}`, "")}, sink,
				runplan.ErrInvalidPrompt, `prompt.md is not a valid template: line 1: unclosed section "input"`},
			{"someone else's profile", runplan.Run{ID: foreignProfile}, sink, &runplan.Error{Code: "connection_profile_not_found"},
				"The run's connection profile cannot be used"},
			{"unknown upload", runplan.Run{ID: w.insertRun(t, "@acme/writer", w.user,
				`{"topic":"x","brief":"upload://`+ids.New(ids.Upload)+`"}`, "")}, sink, runplan.ErrDocumentUnavailable, "does not exist"},
			{"upload not consumed", runplan.Run{ID: w.insertRun(t, "@acme/writer", w.user,
				`{"topic":"x","brief":"`+w.upload(t, "b.txt", "text", false)+`"}`, "")}, sink, runplan.ErrDocumentUnavailable,
				"was not consumed when the run was created"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := w.planner.Plan(ctx, tt.run, tt.sink, platform)
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
					t.Fatalf("err %v, want %v containing %q", err, tt.want, tt.message)
				}
			})
		}
		if _, err := w.planner.Plan(ctx, runplan.Run{ID: deleted}, runplan.Sink{}, platform); err == nil || !strings.Contains(err.Error(), "sink") {
			t.Fatalf("missing sink: %v", err)
		}

		// An inline run's agent is an ephemeral package of the organization (hidden elsewhere).
		now = isotime.Now()
		exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, ephemeral, created_at, updated_at)
			VALUES ('@inline/r-1', ?, 'agent', 'local', ?, 'Inline {{input.q}}', ?, ?, ?)`, w.org,
			`{"name":"@inline/r-1","version":"0.0.0","type":"agent","schemaVersion":"1.1","displayName":"Inline"}`, true, now, now)
		plan, err := w.planner.Plan(ctx, runplan.Run{ID: w.insertRun(t, "@inline/r-1", w.user, `{"q":"go"}`, "")}, sink, platform)
		must(t, err)
		if !strings.HasSuffix(plan.Prompt, "---\n\nInline go") {
			t.Fatalf("inline prompt: %q", plan.Prompt[len(plan.Prompt)-40:])
		}

		// A run naming a model that is gone falls back to the default.
		gone := w.insertRun(t, "@acme/writer", w.user, `{"topic":"x"}`, "mdl_gone")
		plan, err = w.planner.Plan(ctx, runplan.Run{ID: gone}, sink, platform)
		must(t, err)
		if plan.Model.ID != w.modelID {
			t.Fatalf("model %s", plan.Model.ID)
		}
	})
}

// TestPlanToolPackages: the runner implements the system tools; an agent's other tool packages are placed in
// the work directory with their files and listed in AGENT_TOOL_PACKAGES for the runner to host, and the
// prompt lists them with their TOOL.md like the system tools.
func TestPlanToolPackages(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		w := setup(t, e)
		doc := "# fetch\n\nFetches things.\n"
		src := `export default function (pi) { pi.registerTool({ name: "fetch", description: "Fetch", parameters: {},
  async execute(id, params) { return { content: [{ type: "text", text: "ok" }] }; } }); }`
		_, err := e.App.Registry.Create(ctx, w.caller, "tool", packages.DraftInput{Content: &doc, SourceCode: &src,
			Manifest: json.RawMessage(`{"name":"@acme/fetch","version":"1.0.0","type":"tool","entrypoint":"tool.ts",
			 "tool":{"name":"fetch","description":"Fetch a URL","inputSchema":{"type":"object"}}}`)})
		must(t, err)
		prompt := "Go."
		_, err = e.App.Registry.Create(ctx, w.caller, "agent", packages.DraftInput{Content: &prompt, Manifest: json.RawMessage(
			`{"name":"@acme/tooled","version":"1.0.0","type":"agent","schemaVersion":"1.0","displayName":"Tooled",
			 "dependencies":{"tools":{"@acme/fetch":"*","@appstrate/log":"^1.0.0"}}}`)})
		must(t, err)
		plan, err := w.planner.Plan(ctx, runplan.Run{ID: w.insertRun(t, "@acme/tooled", w.user, `{}`, "")}, sink, platform)
		must(t, err)
		env := plan.Spec.Env
		if len(plan.ToolPackages) != 1 || plan.ToolPackages[0] != "@acme/fetch" || env["AGENT_TOOLS"] != `["log"]` ||
			env["AGENT_TOOL_PACKAGES"] != `[{"id":"@acme/fetch","dir":".appstrate/tools/@acme/fetch","entrypoint":"tool.ts"}]` {
			t.Fatalf("tool packages %v, AGENT_TOOLS %s, AGENT_TOOL_PACKAGES %s", plan.ToolPackages, env["AGENT_TOOLS"], env["AGENT_TOOL_PACKAGES"])
		}
		if !strings.Contains(plan.Prompt, "- **fetch**: Fetch a URL") || !strings.Contains(plan.Prompt, "# fetch\n\nFetches things.") ||
			!strings.Contains(plan.Prompt, "- **log**:") {
			t.Fatalf("prompt tools:\n%s", plan.Prompt)
		}
		files := plan.Spec.Files
		if string(files[".appstrate/tools/@acme/fetch/tool.ts"]) != src || files[".appstrate/tools/@acme/fetch/manifest.json"] == nil {
			t.Fatalf("the package's files are not in the work directory")
		}
		for _, name := range []string{".pi/tools/@acme/fetch/TOOL.md", ".pi/tools/@appstrate/log/TOOL.md"} {
			if _, ok := files[name]; !ok {
				t.Fatalf("%s missing", name)
			}
		}
		for name := range files {
			if strings.HasPrefix(name, ".appstrate/tools/@appstrate/") {
				t.Fatalf("a system tool's code was placed: %s", name)
			}
		}
		// The runner reads what the plan says.
		runnerEnv := map[string]string{"WORKSPACE_DIR": t.TempDir()}
		maps.Copy(runnerEnv, env)
		cfg, _, err := runner.ParseEnv(lookupIn(runnerEnv), "/")
		must(t, err)
		if len(cfg.ToolPackages) != 1 || cfg.ToolPackages[0] != (runner.ToolPackage{ID: "@acme/fetch", Dir: ".appstrate/tools/@acme/fetch", Entrypoint: "tool.ts"}) {
			t.Fatalf("runner tool packages %+v", cfg.ToolPackages)
		}
	})
}
