package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/app"
	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/executortest"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const manifest = `{"name":"@acme/echo","version":"1.0.0","type":"agent","timeout":30,
 "input":{"schema":{"type":"object","properties":{"topic":{"type":"string"},"count":{"type":"integer"}},"required":["topic"]}},
 "config":{"schema":{"type":"object","properties":{"tone":{"type":"string","enum":["calm","loud"],"default":"calm"}}}}}`

type world struct {
	e              *apptest.Env
	user, org, app string
	h              http.Header
	fake           *executortest.Fake
}

func exec(t *testing.T, e *apptest.Env, q string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// setup seeds an org with the agent @acme/echo installed and starts the job client with a Fake executor.
func setup(t *testing.T, e *apptest.Env, fake *executortest.Fake) world {
	t.Helper()
	w := world{e: e, fake: fake}
	w.user = e.SeedUser("owner@acme.test")
	w.org, w.app = e.SeedOrg(w.user, "acme")
	w.h = apptest.As(w.user, w.org, w.app)
	now := isotime.Now()
	exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES ('@acme/echo', ?, 'agent', 'local', ?, 'Echo.', ?, ?)`, w.org, manifest, now, now)
	exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, '@acme/echo', '{}', ?, ?, ?)`, w.app, true, now, now)
	startJobs(t, e.App, fake)
	return w
}

func startJobs(t *testing.T, a *app.App, fake *executortest.Fake) {
	t.Helper()
	if err := jobs.Migrate(t.Context(), a.DB, nil); err != nil {
		t.Fatal(err)
	}
	a.Runs.Executor = fake
	a.Runs.Planner = nil // these tests drive the worker with a scripted executor; runplan and e2e test the plan
	if err := a.Runs.RegisterWorker(a.Jobs); err != nil {
		t.Fatal(err)
	}
	if err := a.Jobs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Jobs.Stop(ctx)
	})
}

func (w world) start(t *testing.T, body any) string {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/echo/run", Body: body, Headers: w.h})
	if res.Status != 200 {
		t.Fatalf("run: %d %s", res.Status, res.Body)
	}
	var out struct{ RunID string }
	res.JSON(t, &out)
	return out.RunID
}

func (w world) get(t *testing.T, id string) runs.Run {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id, Headers: w.h})
	if res.Status != 200 {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	var r runs.Run
	res.JSON(t, &r)
	return r
}

func (w world) waitStatus(t *testing.T, id string, want ...string) runs.Run {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := w.get(t, id)
		for _, s := range want {
			if r.Status == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s stayed %s, want %v", id, r.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunSuccessAndReads(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		id := w.start(t, map[string]any{"input": map[string]any{"topic": "x"}})
		spec := <-w.fake.Started()
		if got, ok := runs.VerifyToken(e.Config.RunTokenSecret, spec.RunToken); !ok || got != id || spec.Timeout != 30*time.Second {
			t.Fatalf("spec: %+v", spec)
		}
		// The runner reports through the sink: usage, then its finalize; then the execution exits.
		c := newSinkClient(t, e, id, spec.Env["APPSTRATE_SINK_URL"], spec.Env["APPSTRATE_SINK_FINALIZE_URL"], spec.Env["APPSTRATE_SINK_SECRET"])
		c.outcome(1, "appstrate.metric", map[string]any{"usage": usage}, "persisted")
		if res := c.finalizeWith(map[string]any{"output": map[string]any{"answer": 42}}); res.Status != 200 {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		fake.Release(id, executor.Result{})
		r := w.waitStatus(t, id, "success")
		var result struct{ Output struct{ Answer int } }
		if err := json.Unmarshal(r.Result, &result); err != nil || result.Output.Answer != 42 {
			t.Fatalf("result %s", r.Result)
		}
		if r.CompletedAt.IsZero() || r.Duration == nil || r.StartedAt.IsZero() || r.UserID == nil || *r.UserID != w.user {
			t.Fatalf("run %+v", r)
		}
		var cfg map[string]any
		_ = json.Unmarshal(r.Config, &cfg)
		if cfg["tone"] != "calm" {
			t.Fatalf("config %s", r.Config)
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id, Headers: w.h})
		var raw map[string]any
		res.JSON(t, &raw)
		if _, ok := raw["sinkSecretEncrypted"]; ok {
			t.Fatal("sink secret exposed")
		}

		// Logs: bare array by id, with since.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id + "/logs", Headers: w.h})
		var logs []runs.Log
		res.JSON(t, &logs)
		if len(logs) != 2 || logs[0].Type != "result" || *logs[1].Event != "run_completed" || logs[0].ID >= logs[1].ID {
			t.Fatalf("logs %s", res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id + "/logs?since=" + jsonInt(logs[0].ID), Headers: w.h})
		logs = nil
		res.JSON(t, &logs)
		if len(logs) != 1 {
			t.Fatalf("logs since %s", res.Body)
		}

		// Lists.
		for _, path := range []string{"/api/runs", "/api/agents/@acme/echo/runs"} {
			res = e.Do(apptest.Request{Method: "GET", Path: path, Headers: w.h})
			var list struct {
				Object  string
				Data    []runs.Run
				HasMore bool
				Total   int
			}
			res.JSON(t, &list)
			if res.Status != 200 || list.Object != "list" || len(list.Data) != 1 || list.Total != 1 || list.HasMore || res.Header.Get("Link") == "" {
				t.Fatalf("%s: %d %s", path, res.Status, res.Body)
			}
		}

		// Cancel a terminal run → 409; tenant isolation → 404; delete → 204 then 404.
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/runs/" + id + "/cancel", Headers: w.h})
		if res.Status != 409 || res.Problem(t).Code != "not_cancellable" {
			t.Fatalf("cancel terminal: %d %s", res.Status, res.Body)
		}
		other := e.SeedUser("other@b.test")
		oOrg, oApp := e.SeedOrg(other, "bcorp")
		for _, p := range []string{"/api/runs/" + id, "/api/runs/" + id + "/logs"} {
			if res := e.Do(apptest.Request{Method: "GET", Path: p, Headers: apptest.As(other, oOrg, oApp)}); res.Status != 404 {
				t.Fatalf("foreign %s: %d", p, res.Status)
			}
		}
		if res := e.Do(apptest.Request{Method: "DELETE", Path: "/api/runs/" + id, Headers: apptest.As(other, oOrg, oApp)}); res.Status != 404 {
			t.Fatalf("foreign delete: %d", res.Status)
		}
		if res := e.Do(apptest.Request{Method: "DELETE", Path: "/api/runs/" + id, Headers: w.h}); res.Status != 204 {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id, Headers: w.h}); res.Status != 404 {
			t.Fatalf("after delete: %d", res.Status)
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRunValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		cases := []struct {
			name, path  string
			body        any
			status      int
			code, field string
		}{
			{"missing required", "/api/agents/@acme/echo/run", map[string]any{"input": map[string]any{}}, 400, "validation_failed", "input.topic"},
			{"wrong type", "/api/agents/@acme/echo/run", map[string]any{"input": map[string]any{"topic": "x", "count": "two"}}, 400, "validation_failed", "input.count"},
			{"bad config", "/api/agents/@acme/echo/run", map[string]any{"input": map[string]any{"topic": "x"}, "config": map[string]any{"tone": "shrill"}}, 400, "invalid_config", "config.tone"},
			{"unknown agent", "/api/agents/@acme/nope/run", map[string]any{}, 404, "agent_not_found", ""},
			{"unknown version", "/api/agents/@acme/echo/run?version=9.9.9", map[string]any{"input": map[string]any{"topic": "x"}}, 404, "not_found", ""},
		}
		for _, c := range cases {
			res := e.Do(apptest.Request{Method: "POST", Path: c.path, Body: c.body, Headers: w.h})
			if res.Status != c.status {
				t.Fatalf("%s: %d %s", c.name, res.Status, res.Body)
			}
			p := res.Problem(t)
			if p.Code != c.code {
				t.Fatalf("%s: code %s", c.name, p.Code)
			}
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Fatalf("%s: errors %+v", c.name, p.Errors)
			}
			if c.code == "validation_failed" && p.Errors[0].Code != "invalid_input" {
				t.Fatalf("%s: field code %s", c.name, p.Errors[0].Code)
			}
		}
	})
}

// TestRunLimits: the organization's admission limits refuse every run-creating route with a 429 that says
// when to retry; the rate limit's refusal carries the organization budget's RateLimit headers (API.md §3.5),
// the concurrency limit's keeps the route's own.
func TestRunLimits(t *testing.T) {
	topic := map[string]any{"topic": "x"}
	routes := []struct {
		path      string
		body      func(w world) any
		routeRate int // the route's own limit per caller
	}{
		{"/api/agents/@acme/echo/run", func(world) any { return map[string]any{"input": topic} }, 20},
		{"/api/runs/inline", func(world) any { return inlineBody(inlineAgent, "Go.", topic) }, 60},
		{"/api/runs/remote", func(w world) any {
			return map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": "@acme/echo"}, "input": topic}
		}, 200},
	}
	check := func(t *testing.T, res *apptest.Response, code, rateLimit, policy string) {
		t.Helper()
		p := res.Problem(t)
		if res.Status != 429 || p.Code != code || p.RetryAfter < 1 || res.Header.Get("Retry-After") != strconv.Itoa(p.RetryAfter) {
			t.Fatalf("%d %s (Retry-After %q)", res.Status, res.Body, res.Header.Get("Retry-After"))
		}
		if got := res.Header.Get("RateLimit"); !strings.HasPrefix(got, rateLimit) {
			t.Fatalf("RateLimit %q, want %s…", got, rateLimit)
		}
		if got := res.Header.Get("RateLimit-Policy"); got != policy {
			t.Fatalf("RateLimit-Policy %q, want %q", got, policy)
		}
	}
	env := map[string]string{"PLATFORM_RUN_LIMITS": `{"per_org_global_rate_per_min":1000,"max_concurrent_per_org":1}`}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		inFlight := w.start(t, map[string]any{"input": topic})
		for _, r := range routes {
			t.Run(r.path, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "POST", Path: r.path, Body: r.body(w), Headers: w.h})
				check(t, res, "org_run_concurrency_exceeded", fmt.Sprintf("limit=%d, remaining=", r.routeRate), fmt.Sprintf("%d;w=60", r.routeRate))
			})
		}
		if spec := <-fake.Started(); spec.RunID != inFlight { // then release it, so that the job client stops at once
			t.Fatalf("started %s, want %s", spec.RunID, inFlight)
		}
		fake.Release(inFlight, executor.Result{})
	})
	env = map[string]string{"PLATFORM_RUN_LIMITS": `{"per_org_global_rate_per_min":1}`}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		w.start(t, map[string]any{"input": topic})
		for _, r := range routes {
			t.Run(r.path, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "POST", Path: r.path, Body: r.body(w), Headers: w.h})
				check(t, res, "org_run_rate_limited", "limit=1, remaining=0, reset=", "1;w=60")
			})
		}
	})
}

func TestRunCancelAndTimeout(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		id := w.start(t, map[string]any{"input": map[string]any{"topic": "x"}})
		<-fake.Started()
		w.waitStatus(t, id, "running")
		// Concurrent cancel and completion: exactly one finalize wins.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); fake.Release(id, executor.Result{Output: json.RawMessage(`1`)}) }()
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/" + id + "/cancel", Headers: w.h})
		wg.Wait()
		// The exit synthesis of a run that never reported usage ends failed (zero tokens).
		r := w.waitStatus(t, id, "cancelled", "failed")
		if res.Status == 200 && r.Status != "cancelled" || res.Status == 409 && (r.Status != "failed" || *r.Error != runs.ErrorNoLLM) {
			t.Fatalf("cancel %d but run %s", res.Status, r.Status)
		}
		var n int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM run_logs WHERE run_id = ? AND event = 'run_completed'`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("run_completed rows %d %v", n, err)
		}

		// Cancel while blocked: killed, cancelled.
		id = w.start(t, map[string]any{"input": map[string]any{"topic": "y"}})
		<-fake.Started()
		w.waitStatus(t, id, "running")
		if res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/" + id + "/cancel", Headers: w.h}); res.Status != 200 {
			t.Fatalf("cancel: %d %s", res.Status, res.Body)
		}
		r = w.waitStatus(t, id, "cancelled")
		if r.Error == nil || *r.Error != runs.ErrorCancelled {
			t.Fatalf("cancelled run %+v", r)
		}
		for deadline := time.Now().Add(10 * time.Second); !fake.Killed(id); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("handle not killed")
			}
		}

	})
}

func TestRunTimeout(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/echo/run?timeout=1", Body: map[string]any{"input": map[string]any{"topic": "x"}}, Headers: w.h})
		var out struct{ RunID string }
		res.JSON(t, &out)
		r := w.waitStatus(t, out.RunID, "timeout")
		if r.Error == nil || *r.Error != "Run timed out after 1s" || !fake.Killed(out.RunID) {
			t.Fatalf("timeout run %+v", r)
		}
	})
}

// TestRunIdempotency: 50 concurrent identical POSTs with one Idempotency-Key create exactly one run. The key
// is the application's, so the requests come from three members (each within the route's 20 per minute):
// every answer is that run (first or replayed) or 409 idempotency_in_progress, and a later retry replays it.
func TestRunIdempotency(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e, executortest.NewFake(executor.Result{}))
		callers := []http.Header{w.h}
		for _, name := range []string{"ada", "bob"} {
			id := e.SeedUser(name + "@acme.test")
			e.SeedMember(w.org, id, "admin")
			callers = append(callers, apptest.As(id, w.org, w.app))
		}
		post := func(i int) *apptest.Response {
			h := callers[i%len(callers)].Clone()
			h.Set("Idempotency-Key", "k-1")
			return e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/echo/run", Body: map[string]any{"input": map[string]any{"topic": "x"}}, Headers: h})
		}
		responses := make([]*apptest.Response, 50)
		var wg sync.WaitGroup
		for i := range responses {
			wg.Go(func() { responses[i] = post(i) })
		}
		wg.Wait()
		runIDs := map[string]bool{}
		for i, res := range responses {
			switch res.Status {
			case http.StatusOK:
				var out struct{ RunID string }
				res.JSON(t, &out)
				runIDs[out.RunID] = true
			case http.StatusConflict:
				if p := res.Problem(t); p.Code != "idempotency_in_progress" {
					t.Fatalf("request %d: %s", i, res.Body)
				}
			default:
				t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
			}
		}
		var n int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM runs`).Scan(&n); err != nil || n != 1 || len(runIDs) != 1 {
			t.Fatalf("%d runs (%v), answers named %v", n, err, runIDs)
		}
		res := post(50)
		var out struct{ RunID string }
		res.JSON(t, &out)
		if res.Status != http.StatusOK || res.Header.Get("Idempotent-Replayed") != "true" || !runIDs[out.RunID] {
			t.Fatalf("retry: %d %v %s", res.Status, res.Header, res.Body)
		}
	})
}

// TestCrashRecovery: a first platform dies while its worker is inside the executor; a second one on the same
// database fails the run with ErrorRestarted.
func TestCrashRecovery(t *testing.T) {
	env := map[string]string{"RUN_HEARTBEAT_INTERVAL_SECONDS": "1", "RUN_STALL_THRESHOLD_SECONDS": "2", "RUN_WATCHDOG_INTERVAL_SECONDS": "1"}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		id := w.start(t, map[string]any{"input": map[string]any{"topic": "x"}})
		<-fake.Started()
		w.waitStatus(t, id, "running")
		// Hard stop: the job's context is cancelled at once; the worker leaves the row as a crash would.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.App.Jobs.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("stop: %v", err)
		}
		if r := w.get(t, id); r.Status != "running" {
			t.Fatalf("after the crash: %s", r.Status)
		}
		second := apptest.New(t, e.DB, env)
		startJobs(t, second.App, executortest.NewFake(executor.Result{}))
		w.e = second
		r := w.waitStatus(t, id, "failed")
		if r.Error == nil || *r.Error != runs.ErrorRestarted {
			t.Fatalf("recovered run %+v", r)
		}
	})
}
