package runs_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/executortest"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// inlineAgent is an ad-hoc agent manifest with an input and a config schema.
var inlineAgent = map[string]any{
	"schemaVersion": "1.1", "displayName": "Ad hoc", "timeout": 45,
	"input": map[string]any{"schema": map[string]any{"type": "object",
		"properties": map[string]any{"topic": map[string]any{"type": "string"}}, "required": []string{"topic"}}},
	"config": map[string]any{"schema": map[string]any{"type": "object",
		"properties": map[string]any{"tone": map[string]any{"type": "string", "enum": []string{"calm", "loud"}, "default": "calm"}}}},
}

func inlineBody(manifest map[string]any, prompt string, input map[string]any) map[string]any {
	return map[string]any{"manifest": manifest, "prompt": prompt, "input": input}
}

// with returns a copy of the inline manifest with members set.
func with(kv ...any) map[string]any {
	m := map[string]any{}
	for k, v := range inlineAgent {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

type inlineCreated struct {
	RunID, PackageID string
}

func (w world) inline(t *testing.T, body any, h http.Header) (*apptest.Response, inlineCreated) {
	t.Helper()
	if h == nil {
		h = w.h
	}
	res := w.e.Do(apptest.Request{Method: "POST", Path: "/api/runs/inline", Body: body, Headers: h})
	var out inlineCreated
	if res.Status == 202 {
		res.JSON(t, &out)
	}
	return res, out
}

func (w world) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := w.e.DB.QueryRowContext(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// listIDs lists runs and returns their ids, sorted.
func (w world) listIDs(t *testing.T, path string) []string {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "GET", Path: path, Headers: w.h})
	var list struct {
		Data  []runs.Run
		Total int
	}
	res.JSON(t, &list)
	if res.Status != 200 || list.Total != len(list.Data) {
		t.Fatalf("%s: %d %s", path, res.Status, res.Body)
	}
	ids := []string{}
	for _, r := range list.Data {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

func TestInlineRun(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		res, out := w.inline(t, inlineBody(inlineAgent, "Write about {{input.topic}}.", map[string]any{"topic": "go"}), nil)
		if res.Status != 202 || !strings.HasPrefix(out.RunID, "run_") || !strings.HasPrefix(out.PackageID, "@inline/r-") {
			t.Fatalf("inline: %d %s", res.Status, res.Body)
		}
		if res.Header.Get("RateLimit") == "" || res.Header.Get("RateLimit-Policy") != "60;w=60" {
			t.Fatalf("rate limit headers: %v", res.Header)
		}

		// The shadow package: ephemeral, the manifest stamped, the prompt kept; hidden from the agent list.
		var manifest, content string
		var ephemeral bool
		if err := e.DB.QueryRowContext(t.Context(), `SELECT draft_manifest, draft_content, ephemeral FROM packages WHERE id = ?`,
			out.PackageID).Scan(&manifest, &content, &ephemeral); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(manifest), &m)
		if !ephemeral || content != "Write about {{input.topic}}." || m["name"] != out.PackageID || m["type"] != "agent" || m["version"] != "0.0.0" {
			t.Fatalf("shadow package: %v %q %s", ephemeral, content, manifest)
		}
		list := e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: w.h})
		if list.Status != 200 || strings.Contains(string(list.Body), out.PackageID) {
			t.Fatalf("agent list shows the shadow package: %d %s", list.Status, list.Body)
		}

		// It executes like any run: the worker starts it with the manifest's timeout, the runner reports.
		spec := <-fake.Started()
		if spec.RunID != out.RunID || spec.Timeout != 45*time.Second {
			t.Fatalf("spec: %+v", spec)
		}
		r := w.waitStatus(t, out.RunID, "running")
		if *r.PackageID != out.PackageID || *r.AgentScope != "@inline" || "@inline/"+*r.AgentName != out.PackageID ||
			*r.VersionLabel != "0.0.0" || *r.RunNumber != 1 || *r.UserID != w.user || r.RunOrigin != "platform" {
			t.Fatalf("run: %+v", r)
		}
		var cfg map[string]any
		if err := json.Unmarshal(r.Config, &cfg); err != nil || cfg["tone"] != "calm" {
			t.Fatalf("config: %s", r.Config)
		}
		var shown map[string]any
		if err := json.Unmarshal(r.InlineManifest, &shown); err != nil || !r.PackageEphemeral || shown["name"] != out.PackageID ||
			r.InlinePrompt == nil || *r.InlinePrompt != "Write about {{input.topic}}." {
			t.Fatalf("inline members of the run: %v %s %v", r.PackageEphemeral, r.InlineManifest, r.InlinePrompt)
		}
		c := newSinkClient(t, e, out.RunID, spec.Env["APPSTRATE_SINK_URL"], spec.Env["APPSTRATE_SINK_FINALIZE_URL"], spec.Env["APPSTRATE_SINK_SECRET"])
		c.outcome(1, "appstrate.metric", map[string]any{"usage": usage}, "persisted")
		if res := c.finalizeWith(map[string]any{"output": map[string]any{"text": "done"}}); res.Status != 200 {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		fake.Release(out.RunID, executor.Result{})
		w.waitStatus(t, out.RunID, "success")

		// Each inline run has its own shadow package.
		_, second := w.inline(t, inlineBody(inlineAgent, "Again.", map[string]any{"topic": "x"}), nil)
		if second.PackageID == "" || second.PackageID == out.PackageID {
			t.Fatalf("second shadow: %+v", second)
		}

		// kind= splits the application's runs; an agent run is not inline.
		agentRun := w.start(t, map[string]any{"input": map[string]any{"topic": "x"}})
		if r := w.get(t, agentRun); r.PackageEphemeral || string(r.InlineManifest) != "null" || r.InlinePrompt != nil {
			t.Fatalf("agent run shown as inline: %+v", r)
		}
		for kind, want := range map[string][]string{"inline": {second.RunID, out.RunID}, "package": {agentRun},
			"all": {agentRun, second.RunID, out.RunID}, "": {agentRun, second.RunID, out.RunID}} {
			sort.Strings(want)
			if got := w.listIDs(t, "/api/runs?kind="+kind); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("kind=%s: %v, want %v", kind, got, want)
			}
		}
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/runs?kind=other", Headers: w.h}); res.Status != 400 {
			t.Fatalf("kind=other: %d", res.Status)
		}
	})
}

func TestInlineRefusals(t *testing.T) {
	env := map[string]string{"INLINE_RUN_LIMITS": `{"max_manifest_bytes":2048,"max_prompt_bytes":100,"max_skills":1,"max_tools":0,"max_authorized_uris":2}`}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		deps := func(kind string, n int) map[string]any {
			d := map[string]any{}
			for i := range n {
				d[fmt.Sprintf("@acme/%s-%d", kind, i)] = "^1.0.0"
			}
			return map[string]any{kind + "s": d}
		}
		pc := func(cfg map[string]any) map[string]any { return map[string]any{"@acme/api": cfg} }
		topic := map[string]any{"topic": "x"}
		cases := []struct {
			name        string
			body        any
			code, field string
			fieldCode   string
		}{
			{"manifest over the cap", inlineBody(with("description", strings.Repeat("d", 2100)), "Go.", topic), "validation_failed", "manifest", "out_of_range"},
			{"prompt over the cap", inlineBody(inlineAgent, strings.Repeat("p", 101), topic), "validation_failed", "prompt", "out_of_range"},
			{"blank prompt", inlineBody(inlineAgent, "  ", topic), "validation_failed", "prompt", "required"},
			{"no prompt", map[string]any{"manifest": inlineAgent}, "validation_failed", "prompt", "required"},
			{"no manifest", map[string]any{"prompt": "Go."}, "validation_failed", "manifest", "required"},
			{"manifest not an object", map[string]any{"manifest": "agent", "prompt": "Go."}, "validation_failed", "manifest", "invalid_manifest"},
			{"skills over the cap", inlineBody(with("dependencies", deps("skill", 2)), "Go.", topic), "validation_failed", "manifest.dependencies.skills", "out_of_range"},
			{"tools over the cap", inlineBody(with("dependencies", deps("tool", 1)), "Go.", topic), "validation_failed", "manifest.dependencies.tools", "out_of_range"},
			{"uris over the cap", inlineBody(with("providersConfiguration", pc(map[string]any{"authorizedUris": []string{
				"https://a.example.com/**", "https://b.example.com/**", "https://c.example.com/**"}})), "Go.", topic),
				"validation_failed", "manifest.providersConfiguration", "out_of_range"},
			{"wildcard uri", inlineBody(with("providersConfiguration", pc(map[string]any{"authorizedUris": []string{"https://*.example.com/**"}})), "Go.", topic),
				"validation_failed", "manifest.providersConfiguration.@acme/api.authorizedUris[0]", "invalid_value"},
			{"allow all uris", inlineBody(with("providersConfiguration", pc(map[string]any{"allowAllUris": true})), "Go.", topic),
				"validation_failed", "manifest.providersConfiguration.@acme/api.allowAllUris", "invalid_value"},
			{"not an agent", inlineBody(with("type", "tool"), "Go.", topic), "validation_failed", "manifest.type", "invalid_manifest"},
			{"invalid manifest", inlineBody(with("displayName", ""), "Go.", topic), "validation_failed", "manifest.displayName", "invalid_manifest"},
			{"bare input schema", inlineBody(with("input", map[string]any{"type": "object"}), "Go.", topic), "validation_failed", "manifest.input.schema", "invalid_manifest"},
			{"input", inlineBody(inlineAgent, "Go.", map[string]any{}), "validation_failed", "input.topic", "invalid_input"},
			{"config", map[string]any{"manifest": inlineAgent, "prompt": "Go.", "input": topic, "config": map[string]any{"tone": "shrill"}},
				"invalid_config", "config.tone", "invalid_config"},
		}
		for _, path := range []string{"/api/runs/inline", "/api/runs/inline/validate"} {
			for _, c := range cases {
				res := e.Do(apptest.Request{Method: "POST", Path: path, Body: c.body, Headers: w.h})
				if res.Status != 400 {
					t.Fatalf("%s %s: %d %s", path, c.name, res.Status, res.Body)
				}
				p := res.Problem(t)
				if p.Code != c.code || len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Code != c.fieldCode {
					t.Fatalf("%s %s: %s", path, c.name, res.Body)
				}
			}
		}
		// A provider the application has not enabled: the readiness code, as for agent runs.
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/inline/validate", Headers: w.h, Body: inlineBody(
			with("dependencies", map[string]any{"providers": map[string]any{"@acme/nowhere": "^1.0.0"}}), "Go.", topic)})
		if res.Status != 400 || res.Problem(t).Code != "provider_not_enabled" {
			t.Fatalf("readiness: %d %s", res.Status, res.Body)
		}
		// Nothing was created by any refusal.
		if n := w.count(t, `SELECT count(*) FROM packages WHERE ephemeral = ?`, true); n != 0 {
			t.Fatalf("%d shadow packages left behind", n)
		}
		if n := w.count(t, `SELECT count(*) FROM runs`); n != 0 {
			t.Fatalf("%d runs created", n)
		}
	})
}

func TestInlineValidate(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/inline/validate", Headers: w.h,
			Body: inlineBody(inlineAgent, "Go.", map[string]any{"topic": "x"})})
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
			t.Fatalf("validate: %d %s", res.Status, res.Body)
		}
		if n := w.count(t, `SELECT count(*) FROM packages WHERE ephemeral = ?`, true); n != 0 {
			t.Fatalf("validate created %d packages", n)
		}
		// agents:run is required on both routes.
		viewer := e.SeedUser("viewer@acme.test")
		e.SeedMember(w.org, viewer, "viewer")
		for _, path := range []string{"/api/runs/inline", "/api/runs/inline/validate"} {
			res := e.Do(apptest.Request{Method: "POST", Path: path, Headers: apptest.As(viewer, w.org, w.app),
				Body: inlineBody(inlineAgent, "Go.", map[string]any{"topic": "x"})})
			if res.Status != 403 {
				t.Fatalf("viewer %s: %d %s", path, res.Status, res.Body)
			}
		}
	})
}

func TestInlineIdempotency(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		h := w.h.Clone()
		h.Set("Idempotency-Key", "inline-1")
		body := inlineBody(inlineAgent, "Go.", map[string]any{"topic": "x"})
		first, out := w.inline(t, body, h)
		replay, again := w.inline(t, body, h)
		if first.Status != 202 || replay.Status != 202 || replay.Header.Get("Idempotent-Replayed") != "true" || again != out {
			t.Fatalf("replay: %d %s / %d %s %v", first.Status, first.Body, replay.Status, replay.Body, replay.Header)
		}
		if res, _ := w.inline(t, inlineBody(inlineAgent, "Other.", map[string]any{"topic": "x"}), h); res.Status != 422 ||
			res.Problem(t).Code != "idempotency_conflict" {
			t.Fatalf("conflict: %d %s", res.Status, res.Body)
		}
		if n := w.count(t, `SELECT count(*) FROM runs`); n != 1 {
			t.Fatalf("%d runs", n)
		}
		if n := w.count(t, `SELECT count(*) FROM packages WHERE ephemeral = ?`, true); n != 1 {
			t.Fatalf("%d shadow packages", n)
		}
	})
}

func TestInlineLimits(t *testing.T) {
	env := map[string]string{"INLINE_RUN_LIMITS": `{"rate_per_min":2}`, "PLATFORM_RUN_LIMITS": `{"max_concurrent_per_org":1}`}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		body := inlineBody(inlineAgent, "Go.", map[string]any{"topic": "x"})
		if res, _ := w.inline(t, body, nil); res.Status != 202 || res.Header.Get("RateLimit-Policy") != "2;w=60" {
			t.Fatalf("first: %d %s %v", res.Status, res.Body, res.Header)
		}
		// The org's concurrency limit refuses the second run, and its shadow package is not kept.
		res, _ := w.inline(t, body, nil)
		if res.Status != 429 || res.Problem(t).Code != "org_run_concurrency_exceeded" {
			t.Fatalf("concurrency: %d %s", res.Status, res.Body)
		}
		if n := w.count(t, `SELECT count(*) FROM packages WHERE ephemeral = ?`, true); n != 1 {
			t.Fatalf("%d shadow packages", n)
		}
		// INLINE_RUN_LIMITS.rate_per_min per caller.
		res, _ = w.inline(t, body, nil)
		if res.Status != 429 || res.Problem(t).Code != "rate_limited" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("rate: %d %s", res.Status, res.Body)
		}
	})
}

func TestInlineSweep(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		body := inlineBody(inlineAgent, "Go.", map[string]any{"topic": "x"})
		start := func() inlineCreated {
			res, out := w.inline(t, body, nil)
			if res.Status != 202 {
				t.Fatalf("inline: %d %s", res.Status, res.Body)
			}
			<-fake.Started()
			return out
		}
		expired, inFlight, recent := start(), start(), start()
		for _, r := range []inlineCreated{expired, recent} {
			if res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/" + r.RunID + "/cancel", Headers: w.h}); res.Status != 200 {
				t.Fatalf("cancel: %d %s", res.Status, res.Body)
			}
		}
		old := isotime.From(time.Now().Add(-31 * 24 * time.Hour))
		for _, r := range []inlineCreated{expired, inFlight} {
			exec(t, e, `UPDATE packages SET created_at = ? WHERE id = ?`, old, r.PackageID)
		}
		n, err := e.App.Runs.SweepInline(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if w.count(t, `SELECT count(*) FROM packages WHERE id = ?`, expired.PackageID) != 0 {
			t.Fatal("expired shadow package kept")
		}
		for _, r := range []inlineCreated{inFlight, recent} {
			if w.count(t, `SELECT count(*) FROM packages WHERE id = ?`, r.PackageID) != 1 {
				t.Fatalf("shadow package %s deleted", r.PackageID)
			}
		}
		// The run of the deleted package stays readable and inline, without its package.
		r := w.get(t, expired.RunID)
		if r.PackageID != nil || r.Status != "cancelled" || *r.AgentScope != "@inline" || !r.PackageEphemeral ||
			string(r.InlineManifest) != "null" || r.InlinePrompt != nil {
			t.Fatalf("run after the sweep: %+v", r)
		}
		if got := w.listIDs(t, "/api/runs?kind=inline"); len(got) != 3 {
			t.Fatalf("inline runs after the sweep: %v", got)
		}
		// Once the in-flight run ends, the next sweep takes its package.
		fake.Release(inFlight.RunID, executor.Result{})
		w.waitStatus(t, inFlight.RunID, "failed", "success")
		if n, err := e.App.Runs.SweepInline(t.Context()); err != nil || n != 1 {
			t.Fatalf("second sweep: %d %v", n, err)
		}
	})
}
