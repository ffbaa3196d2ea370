package runside_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type world struct {
	e                  *apptest.Env
	owner, member      string
	org, app           string
	clock              time.Time
	endUser            string
	ownerH, memberH    http.Header
	otherOrg, otherApp string
	otherUser          string
}

func exec(t *testing.T, e *apptest.Env, q string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func newWorld(t *testing.T, e *apptest.Env) *world {
	t.Helper()
	w := &world{e: e, clock: time.Now().Add(-time.Hour)}
	w.owner = e.SeedUser("owner@acme.test")
	w.org, w.app = e.SeedOrg(w.owner, "acme")
	w.member = e.SeedUser("member@acme.test")
	e.SeedMember(w.org, w.member, "member")
	w.ownerH, w.memberH = apptest.As(w.owner, w.org, w.app), apptest.As(w.member, w.org, w.app)
	w.otherUser = e.SeedUser("owner@beta.test")
	w.otherOrg, w.otherApp = e.SeedOrg(w.otherUser, "beta")
	w.seedAgent(t, "@acme/echo", `{"name":"@acme/echo","version":"1.0.0","type":"agent"}`)
	var eu struct{ ID string }
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Headers: w.ownerH, Body: map[string]any{"name": "Eve"}})
	res.JSON(t, &eu)
	w.endUser = eu.ID
	return w
}

func (w *world) seedAgent(t *testing.T, id, manifest string) {
	t.Helper()
	now := isotime.Now()
	exec(t, w.e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, 'agent', 'local', ?, 'Do it.', ?, ?)`, id, w.org, manifest, now, now)
	exec(t, w.e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?)`, w.app, id, true, now, now)
}

// runRow is a run inserted directly; later ones start later.
type runRow struct {
	pkg, user, endUser, status, origin, model string
	checkpoint, result                        string
}

func (w *world) insert(t *testing.T, r runRow) string {
	t.Helper()
	id := ids.New(ids.Run)
	w.clock = w.clock.Add(time.Second)
	if r.pkg == "" {
		r.pkg = "@acme/echo"
	}
	if r.origin == "" {
		r.origin = "platform"
	}
	at := isotime.From(w.clock)
	exec(t, w.e, `INSERT INTO runs (id, package_id, user_id, end_user_id, application_id, org_id, status, run_origin,
		timeout_seconds, model_id, checkpoint, result, duration, started_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 300, ?, ?, ?, 1000, ?, ?)`, id, r.pkg, nullable(r.user), nullable(r.endUser), w.app, w.org,
		r.status, r.origin, nullable(r.model), nullable(r.checkpoint), nullable(r.result), at, at)
	return id
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (w *world) bearer(id string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+runs.Token(w.e.Config.RunTokenSecret, id))
	return h
}

func (w *world) get(t *testing.T, path string, h http.Header) *apptest.Response {
	t.Helper()
	return w.e.Do(apptest.Request{Method: "GET", Path: path, Headers: h})
}

func wantProblem(t *testing.T, res *apptest.Response, status int, detail string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if p := res.Problem(t); !strings.HasPrefix(p.Detail, detail) {
		t.Fatalf("detail %q, want %q", p.Detail, detail)
	}
}

// TestRunTokenAuth: the run token checks of API.md §3.8, in order.
func TestRunTokenAuth(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		running := w.insert(t, runRow{user: w.owner, status: "running"})
		pending := w.insert(t, runRow{user: w.owner, status: "pending"})
		done := w.insert(t, runRow{user: w.owner, status: "success"})
		for _, path := range []string{"/internal/run-history", "/internal/memories", "/internal/credentials/@acme/x"} {
			wantProblem(t, w.get(t, path, nil), 401, "Missing run token")
			wantProblem(t, w.get(t, path, apptest.Headers("Authorization", "Basic abc")), 401, "Missing run token")
			wantProblem(t, w.get(t, path, apptest.Headers("Authorization", "Bearer "+running+".00")), 401, "Invalid run token")
			forged := strings.Replace(runs.Token("another secret", running), running, running, 1)
			wantProblem(t, w.get(t, path, apptest.Headers("Authorization", "Bearer "+forged)), 401, "Invalid run token")
			wantProblem(t, w.get(t, path, w.bearer(ids.New(ids.Run))), 404, "Run not found")
			wantProblem(t, w.get(t, path, w.bearer(pending)), 403, "Run is not running")
			wantProblem(t, w.get(t, path, w.bearer(done)), 403, "Run is not running")
		}
		// Session credentials do not open /internal.
		wantProblem(t, w.get(t, "/internal/memories", w.ownerH), 401, "Missing run token")
		if res := w.get(t, "/internal/run-history", w.bearer(running)); res.Status != 200 {
			t.Fatalf("valid token: %d %s", res.Status, res.Body)
		}
	})
}

type history struct {
	Object  string
	HasMore bool
	Data    []struct {
		ID         string
		Status     string
		Date       isotime.Time
		Duration   *int64
		Checkpoint *json.RawMessage
		Result     *json.RawMessage
	}
}

// TestRunHistoryScoping: successful runs of the same agent and application, of the same actor; a run
// without actor sees only runs without actor (the fix of upstream's cross-actor leak).
func TestRunHistoryScoping(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		w.seedAgent(t, "@acme/other", `{"name":"@acme/other","version":"1.0.0","type":"agent"}`)
		mine1 := w.insert(t, runRow{user: w.owner, status: "success", checkpoint: `{"n":1}`, result: `{"output":"a"}`})
		w.insert(t, runRow{user: w.owner, status: "failed"})
		w.insert(t, runRow{user: w.member, status: "success", checkpoint: `{"secret":"member"}`})
		w.insert(t, runRow{endUser: w.endUser, status: "success", checkpoint: `{"secret":"eve"}`})
		shared := w.insert(t, runRow{status: "success", checkpoint: `{"shared":true}`})
		w.insert(t, runRow{pkg: "@acme/other", user: w.owner, status: "success"})
		mine2 := w.insert(t, runRow{user: w.owner, status: "success", checkpoint: `{"n":2}`})
		current := w.insert(t, runRow{user: w.owner, status: "running"})

		var h history
		w.get(t, "/internal/run-history", w.bearer(current)).JSON(t, &h)
		if h.Object != "list" || len(h.Data) != 2 || h.Data[0].ID != mine2 || h.Data[1].ID != mine1 || h.HasMore {
			t.Fatalf("owner history %+v", h)
		}
		if h.Data[0].Checkpoint == nil || string(*h.Data[0].Checkpoint) != `{"n":2}` && string(*h.Data[0].Checkpoint) != `{"n": 2}` || h.Data[0].Result != nil {
			t.Fatalf("default fields %+v", h.Data[0])
		}
		var raw struct {
			HasMore bool
			Data    []map[string]json.RawMessage
		}
		w.get(t, "/internal/run-history?limit=1&fields=result,checkpoint", w.bearer(current)).JSON(t, &raw)
		if len(raw.Data) != 1 || !raw.HasMore || string(raw.Data[0]["result"]) != "null" || raw.Data[0]["checkpoint"] == nil {
			t.Fatalf("limit 1: %+v", raw)
		}
		h = history{}
		w.get(t, "/internal/run-history?limit=500&fields=result", w.bearer(current)).JSON(t, &h)
		if len(h.Data) != 2 || h.Data[1].Checkpoint != nil || h.Data[1].Result == nil {
			t.Fatalf("invalid limit / result only: %+v", h)
		}

		actorless := w.insert(t, runRow{status: "running"})
		h = history{}
		w.get(t, "/internal/run-history", w.bearer(actorless)).JSON(t, &h)
		if len(h.Data) != 1 || h.Data[0].ID != shared {
			t.Fatalf("actor-less history %+v", h)
		}
		eve := w.insert(t, runRow{endUser: w.endUser, status: "running"})
		h = history{}
		w.get(t, "/internal/run-history", w.bearer(eve)).JSON(t, &h)
		if len(h.Data) != 1 || !strings.Contains(string(*h.Data[0].Checkpoint), "eve") {
			t.Fatalf("end-user history %+v", h)
		}
		wantProblem(t, w.get(t, "/internal/run-history?fields=state", w.bearer(current)), 400, "Unknown field 'state'")
		wantProblem(t, w.get(t, "/internal/run-history?fields=checkpoint,input", w.bearer(current)), 400, "Unknown field 'input'")
	})
}

// TestMemoriesSearch: archive memories visible to the run's actor, searched case-insensitively, newest first.
func TestMemoriesSearch(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		mem := func(actorType, actorID, content string, pinned bool, key string) {
			w.clock = w.clock.Add(time.Second)
			raw, _ := json.Marshal(content)
			exec(t, e, `INSERT INTO package_persistence (package_id, application_id, org_id, key, pinned, actor_type, actor_id,
				content, created_at, updated_at) VALUES ('@acme/echo', ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.app, w.org, nullable(key),
				pinned, actorType, nullable(actorID), string(raw), isotime.From(w.clock), isotime.From(w.clock))
		}
		mem("user", w.owner, "Owner likes Earl Grey TEA", false, "")
		mem("shared", "", "The office is in Lyon; tea at 4", false, "")
		mem("user", w.member, "Member hates tea", false, "")
		mem("end_user", w.endUser, "Eve drinks tea", false, "")
		mem("user", w.owner, "pinned tea memo", true, "")
		mem("user", w.owner, "100% sure_about_it", false, "")
		current := w.insert(t, runRow{user: w.owner, status: "running"})

		type memories struct {
			Memories []struct {
				ID        int64
				Content   string
				CreatedAt isotime.Time
				ActorType string
				ActorID   *string
			}
		}
		var m memories
		w.get(t, "/internal/memories?q=%20TEA%20", w.bearer(current)).JSON(t, &m)
		if len(m.Memories) != 2 || m.Memories[0].Content != "The office is in Lyon; tea at 4" || m.Memories[0].ActorType != "shared" ||
			m.Memories[1].Content != "Owner likes Earl Grey TEA" || *m.Memories[1].ActorID != w.owner {
			t.Fatalf("owner search %+v", m)
		}
		m = memories{}
		w.get(t, "/internal/memories?limit=1", w.bearer(current)).JSON(t, &m)
		if len(m.Memories) != 1 || m.Memories[0].Content != "100% sure_about_it" {
			t.Fatalf("newest %+v", m)
		}
		for q, n := range map[string]int{"100%25": 1, "sure_about": 1, "%25": 1, "_": 1, "nothing": 0} {
			m = memories{}
			w.get(t, "/internal/memories?q="+q, w.bearer(current)).JSON(t, &m)
			if len(m.Memories) != n {
				t.Fatalf("q=%s: %+v", q, m)
			}
		}
		shared := w.insert(t, runRow{status: "running"})
		m = memories{}
		w.get(t, "/internal/memories?q=tea", w.bearer(shared)).JSON(t, &m)
		if len(m.Memories) != 1 || m.Memories[0].ActorType != "shared" {
			t.Fatalf("actor-less search %+v", m)
		}
		wantProblem(t, w.get(t, "/internal/memories?q="+strings.Repeat("a", 2001), w.bearer(current)), 400, "q must be at most")
	})
}

// TestCredentials: the credentials of a provider the agent depends on, from the profile resolved when the
// run was created; refusals for providers the agent does not declare.
func TestCredentials(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		do := func(method, path string, body any, status int) *apptest.Response {
			t.Helper()
			res := e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: w.ownerH})
			if res.Status != status {
				t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
			}
			return res
		}
		do("POST", "/api/providers", map[string]any{"id": "@acme/keyed", "displayName": "Keyed", "authMode": "api_key",
			"credentialHeaderName": "X-Api-Key", "authorizedUris": []string{"https://api.keyed.example/**"}}, 201)
		do("POST", "/api/connections/connect/@acme/keyed/api-key", map[string]any{"apiKey": "sk-keyed-123"}, 200)
		w.seedAgent(t, "@acme/conn", `{"name":"@acme/conn","version":"1.0.0","type":"agent",
			"dependencies":{"providers":{"@acme/keyed":"*"}}}`)
		if err := jobs.Migrate(t.Context(), e.DB, nil); err != nil {
			t.Fatal(err)
		}
		if err := e.App.Runs.RegisterWorker(e.App.Jobs); err != nil { // the job is inserted, never worked
			t.Fatal(err)
		}
		var started struct{ RunID string }
		do("POST", "/api/agents/@acme/conn/run", map[string]any{}, 200).JSON(t, &started)
		exec(t, e, `UPDATE runs SET status = 'running' WHERE id = ?`, started.RunID)

		type payload struct {
			Credentials          map[string]string
			AuthorizedURIs       []string `json:"authorizedUris"`
			AllowAllURIs         bool     `json:"allowAllUris"`
			CredentialHeaderName string
			CredentialFieldName  string
		}
		for _, method := range []string{"GET", "POST"} {
			path := "/internal/credentials/@acme/keyed"
			if method == "POST" {
				path += "/refresh"
			}
			res := e.Do(apptest.Request{Method: method, Path: path, Headers: w.bearer(started.RunID)})
			var p payload
			res.JSON(t, &p)
			if res.Status != 200 || p.CredentialHeaderName != "X-Api-Key" || p.Credentials[p.CredentialFieldName] != "sk-keyed-123" ||
				len(p.AuthorizedURIs) != 1 || p.AllowAllURIs {
				t.Fatalf("%s credentials: %d %s", method, res.Status, res.Body)
			}
		}
		wantProblem(t, w.get(t, "/internal/credentials/@acme/unrelated", w.bearer(started.RunID)), 404,
			"Provider '@acme/unrelated' is not required by this agent")
		// Declared but resolved to nothing on this run (a run inserted without a resolution).
		bare := w.insert(t, runRow{pkg: "@acme/conn", user: w.owner, status: "running"})
		wantProblem(t, w.get(t, "/internal/credentials/@acme/keyed", w.bearer(bare)), 404, "No profile resolved for provider '@acme/keyed'")
		// Disconnected after the run started → 404 No credentials.
		exec(t, e, `DELETE FROM user_provider_connections`)
		wantProblem(t, w.get(t, "/internal/credentials/@acme/keyed", w.bearer(started.RunID)), 404, "No credentials found for provider '@acme/keyed'")
		if strings.Contains(e.Logs.String(), "sk-keyed-123") {
			t.Fatal("credential logged")
		}
	})
}

// TestLLMUsageMetering: the sidecar's metered usage is priced with the run's model, deduplicated per
// request id, and drives the run's cost, which then ignores what the runner claims.
func TestLLMUsageMetering(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		post := func(path string, body any, h http.Header, status int) *apptest.Response {
			t.Helper()
			res := e.Do(apptest.Request{Method: "POST", Path: path, Body: body, Headers: h})
			if res.Status != status {
				t.Fatalf("POST %s: %d %s", path, res.Status, res.Body)
			}
			return res
		}
		var cred, model struct{ ID string }
		post("/api/model-provider-credentials", map[string]any{"label": "A", "providerId": "anthropic", "apiKey": "sk-ant"}, w.ownerH, 201).JSON(t, &cred)
		post("/api/models", map[string]any{"label": "Priced", "modelId": "claude-x", "credentialId": cred.ID,
			"cost": map[string]any{"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75}}, w.ownerH, 201).JSON(t, &model)
		run := w.insert(t, runRow{user: w.owner, status: "running", model: model.ID})
		h := w.bearer(run)
		usage := map[string]any{"requestId": "req-1", "api": "anthropic-messages", "model": "claude-x", "complete": false,
			"usage": map[string]any{"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 200}}
		var out struct {
			OK      bool
			CostUSD float64
		}
		post("/internal/llm-usage", usage, h, 200).JSON(t, &out)
		// The stream completed: same request, more tokens → the row is replaced, not added.
		usage["usage"] = map[string]any{"input_tokens": 1000, "output_tokens": 100, "cache_read_input_tokens": 200}
		usage["complete"] = true
		post("/internal/llm-usage", usage, h, 200).JSON(t, &out)
		want := (1000*3 + 100*15 + 200*0.3) / 1e6
		if !out.OK || math.Abs(out.CostUSD-want) > 1e-12 {
			t.Fatalf("cost %v, want %v", out.CostUSD, want)
		}
		// A duplicate report with fewer tokens changes nothing.
		usage["usage"] = map[string]any{"input_tokens": 1}
		post("/internal/llm-usage", usage, h, 200)
		post("/internal/llm-usage", map[string]any{"requestId": "req-2", "usage": map[string]any{"input_tokens": 1000, "output_tokens": 0}}, h, 200)
		var rows int
		var sum float64
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*), SUM(cost_usd) FROM llm_usage WHERE run_id = ? AND source = 'proxy'`,
			run).Scan(&rows, &sum); err != nil || rows != 2 || math.Abs(sum-(want+0.003)) > 1e-12 {
			t.Fatalf("ledger: %d rows, %v (%v)", rows, sum, err)
		}
		var cost float64
		_ = e.DB.QueryRowContext(t.Context(), `SELECT cost FROM runs WHERE id = ?`, run).Scan(&cost)
		if math.Abs(cost-sum) > 1e-12 {
			t.Fatalf("runs.cost %v, want %v", cost, sum)
		}
		wantProblem(t, e.Do(apptest.Request{Method: "POST", Path: "/internal/llm-usage", Headers: h,
			Body: map[string]any{"requestId": "", "usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}}), 400, "")

		// The run ends claiming a much lower cost: the metered sum stands.
		sk, err := e.App.Runs.OpenSink(t.Context(), run, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := finalize(t, e, run, sk, `{"output":"ok","usage":{"input_tokens":1,"output_tokens":1},"cost":0.000001}`); err != nil {
			t.Fatal(err)
		}
		_ = e.DB.QueryRowContext(t.Context(), `SELECT cost FROM runs WHERE id = ?`, run).Scan(&cost)
		if math.Abs(cost-sum) > 1e-12 {
			t.Fatalf("final cost %v, want the metered %v", cost, sum)
		}
		// After the end: 403.
		wantProblem(t, e.Do(apptest.Request{Method: "POST", Path: "/internal/llm-usage", Headers: h,
			Body: map[string]any{"requestId": "req-3", "usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}}), 403, "Run is not running")
	})
}

// TestOAuthModelToken: the checks run, and without OAuth model credentials the answer is an honest 404.
func TestOAuthModelToken(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		var cred, foreign struct{ ID string }
		e.Do(apptest.Request{Method: "POST", Path: "/api/model-provider-credentials", Headers: w.ownerH,
			Body: map[string]any{"label": "A", "providerId": "anthropic", "apiKey": "k"}}).JSON(t, &cred)
		e.Do(apptest.Request{Method: "POST", Path: "/api/model-provider-credentials", Headers: apptest.As(w.otherUser, w.otherOrg, w.otherApp),
			Body: map[string]any{"label": "B", "providerId": "anthropic", "apiKey": "k"}}).JSON(t, &foreign)
		run := w.insert(t, runRow{user: w.owner, status: "running"})
		remote := w.insert(t, runRow{user: w.owner, status: "running", origin: "remote"})
		for _, method := range []string{"GET", "POST"} {
			suffix := ""
			if method == "POST" {
				suffix = "/refresh"
			}
			req := func(runID, credID string) *apptest.Response {
				return e.Do(apptest.Request{Method: method, Path: "/internal/oauth-token/" + credID + suffix, Headers: w.bearer(runID)})
			}
			wantProblem(t, req(run, "not-a-uuid"), 404, "Credential not found")
			wantProblem(t, req(run, ids.UUID()), 404, "Credential not found")
			wantProblem(t, req(run, foreign.ID), 403, "Credential does not belong")
			wantProblem(t, req(run, cred.ID), 404, "Credential not found")
			wantProblem(t, req(remote, cred.ID), 403, "OAuth model tokens are only available to platform runs")
		}
	})
}

// finalize posts a signed finalize body to the run's sink.
func finalize(t *testing.T, e *apptest.Env, runID string, sk runs.Sink, body string) error {
	t.Helper()
	id, ts := ids.UUID(), time.Now().Unix()
	h := http.Header{}
	h.Set(sink.HeaderID, id)
	h.Set(sink.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(sink.HeaderSignature, sink.Sign(sk.Secret, id, ts, []byte(body)))
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/" + runID + "/events/finalize", Body: []byte(body), Headers: h})
	if res.Status != 200 {
		return fmt.Errorf("finalize: %d %s", res.Status, res.Body)
	}
	return nil
}
