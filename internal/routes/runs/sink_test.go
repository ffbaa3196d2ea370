package runs_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/executortest"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const typedManifest = `{"name":"@acme/typed","version":"1.0.0","type":"agent",
 "output":{"schema":{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}}}`

// remoteWorld is an org with agents installed in its default application, for remote runs (no worker).
type remoteWorld struct {
	e              *apptest.Env
	user, org, app string
	h              http.Header
}

func newRemoteWorld(t *testing.T, e *apptest.Env) remoteWorld {
	t.Helper()
	w := remoteWorld{e: e}
	w.user = e.SeedUser("owner@acme.test")
	w.org, w.app = e.SeedOrg(w.user, "acme")
	w.h = apptest.As(w.user, w.org, w.app)
	w.seedAgent(t, "@acme/echo", manifest)
	w.seedAgent(t, "@acme/typed", typedManifest)
	return w
}

func (w remoteWorld) seedAgent(t *testing.T, id, m string) {
	t.Helper()
	now := isotime.Now()
	exec(t, w.e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, 'agent', 'local', ?, 'Do it.', ?, ?)`, id, w.org, m, now, now)
	exec(t, w.e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?)`, w.app, id, true, now, now)
}

type remoteCreated struct {
	RunID       string
	URL         string
	FinalizeURL string
	Secret      string
	ExpiresAt   isotime.Time
}

// remote registers a remote run of agent and returns its sink client.
func (w remoteWorld) remote(t *testing.T, agent string) *sinkClient {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "POST", Path: "/api/runs/remote", Headers: w.h, Body: map[string]any{
		"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": agent, "stage": "draft"},
		"input": map[string]any{}, "contextSnapshot": map[string]any{"os": "linux x64", "cliVersion": "dev"}}})
	if res.Status != 201 {
		t.Fatalf("remote: %d %s", res.Status, res.Body)
	}
	var c remoteCreated
	res.JSON(t, &c)
	if c.Secret == "" || len(c.Secret) != 43 || !strings.HasSuffix(c.URL, "/api/runs/"+c.RunID+"/events") ||
		c.FinalizeURL != c.URL+"/finalize" || c.ExpiresAt.IsZero() {
		t.Fatalf("remote run %s", res.Body)
	}
	return newSinkClient(t, w.e, c.RunID, c.URL, c.FinalizeURL, c.Secret)
}

func (w remoteWorld) get(t *testing.T, id string) runs.Run {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id, Headers: w.h})
	if res.Status != 200 {
		t.Fatalf("get: %d %s", res.Status, res.Body)
	}
	var r runs.Run
	res.JSON(t, &r)
	return r
}

func (w remoteWorld) logs(t *testing.T, id string) []runs.Log {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "GET", Path: "/api/runs/" + id + "/logs", Headers: w.h})
	var logs []runs.Log
	res.JSON(t, &logs)
	return logs
}

func events(logs []runs.Log) []string {
	var out []string
	for _, l := range logs {
		out = append(out, l.Type+"/"+deref(l.Event))
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var usage = map[string]any{"input_tokens": 100, "output_tokens": 20}

// TestRemoteRunEventFlow: a remote run goes running with its first event, events are applied in sequence
// order (a gap is buffered, then drained), replays are recognised, metrics update usage and cost, the
// finalize ends it, and the sink is closed afterwards.
func TestRemoteRunEventFlow(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		c := w.remote(t, "@acme/echo")
		r := w.get(t, c.runID)
		var snapshot map[string]string
		_ = json.Unmarshal(r.ContextSnapshot, &snapshot)
		if r.Status != "pending" || r.RunOrigin != "remote" || snapshot["os"] != "linux x64" || snapshot["cliVersion"] != "dev" {
			t.Fatalf("created run %+v %s", r.Status, r.ContextSnapshot)
		}

		c.outcome(1, sink.TypeProgress, map[string]any{"message": "runtime ready in 12ms", "level": "info",
			"data": map[string]any{"runtimeProtocolVersion": "2.0"}}, "persisted")
		if r := w.get(t, c.runID); r.Status != "running" || r.LastEventSequence != 1 {
			t.Fatalf("after the first event: %s %d", r.Status, r.LastEventSequence)
		}
		// Out of order: 3 and 4 wait for 2.
		c.outcome(4, sink.TypeLog, map[string]any{"level": "warn", "message": "four"}, "buffered")
		c.outcome(3, sink.TypeReport, map[string]any{"content": "# Report"}, "buffered")
		c.outcome(2, sink.TypeOutput, map[string]any{"data": map[string]any{"answer": 42}}, "persisted")
		if r := w.get(t, c.runID); r.LastEventSequence != 4 {
			t.Fatalf("buffer not drained: %d", r.LastEventSequence)
		}
		// Replays: the same webhook-id, and an old sequence under a new id.
		res := c.signed(c.events, c.lastID, c.lastBody)
		if res.Status != 200 || !strings.Contains(string(res.Body), `"replay"`) {
			t.Fatalf("same webhook-id: %d %s", res.Status, res.Body)
		}
		c.outcome(2, sink.TypeOutput, map[string]any{"data": map[string]any{"answer": 1}}, "replay")
		// Metric, error, unknown type.
		c.outcome(5, sink.TypeMetric, map[string]any{"usage": usage, "cost": 0.25}, "persisted")
		c.outcome(6, "provider.called", map[string]any{"providerId": "@acme/x"}, "persisted")
		c.outcome(7, sink.TypeProgress, map[string]any{"message": "thinking", "level": "shout"}, "persisted")
		r = w.get(t, c.runID)
		var tu sink.TokenUsage
		_ = json.Unmarshal(r.TokenUsage, &tu)
		if tu.InputTokens != 100 || tu.OutputTokens != 20 || r.Cost == nil || *r.Cost != 0.25 || r.LastEventSequence != 7 {
			t.Fatalf("metric: %s cost %v seq %d", r.TokenUsage, r.Cost, r.LastEventSequence)
		}
		if res := c.heartbeat(); res.Status != 200 {
			t.Fatalf("heartbeat: %d %s", res.Status, res.Body)
		}

		res = c.finalizeWith(map[string]any{"output": map[string]any{"answer": 42}, "usage": usage, "cost": 0.3,
			"memories": []any{}, "logs": []any{map[string]any{"level": "info", "message": "x", "timestamp": "2026-01-01T00:00:00Z"}}})
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		finalID, finalBody := c.lastID, c.lastBody
		r = w.get(t, c.runID)
		if r.Status != "success" || string(r.Result) != `{"output":{"answer":42}}` || r.Cost == nil || *r.Cost != 0.3 ||
			r.SinkClosedAt.IsZero() || r.CompletedAt.IsZero() || r.Duration == nil {
			t.Fatalf("finalized run %+v result %s cost %v", r.Status, r.Result, r.Cost)
		}
		want := []string{"progress/progress", "result/output", "result/report", "progress/progress", "progress/progress",
			"result/result", "system/run_completed"}
		logs := w.logs(t, c.runID)
		if got := events(logs); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("log rows %v, want %v", got, want)
		}
		if logs[3].Level != "warn" || deref(logs[3].Message) != "four" || logs[4].Level != "debug" || string(logs[1].Data) != `{"answer":42}` {
			t.Fatalf("log rows %+v", logs)
		}

		// After the finalize: events and heartbeats get 410; the same finalize again is idempotent, another one 410.
		wantProblem(t, c.event(8, sink.TypeLog, map[string]any{"level": "info", "message": "late"}), 410, "run_sink_closed")
		wantProblem(t, c.heartbeat(), 410, "run_sink_closed")
		if res := c.signed(c.finalize, finalID, finalBody); res.Status != 200 {
			t.Fatalf("finalize retry: %d %s", res.Status, res.Body)
		}
		wantProblem(t, c.finalizeWith(map[string]any{"status": "failed"}), 410, "run_sink_closed")
		var n int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM run_logs WHERE run_id = ? AND event = 'run_completed'`,
			c.runID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("run_completed rows %d %v", n, err)
		}
	})
}

// TestSinkRefusals: the authentication codes of the sink, in their order, and strict envelope validation.
func TestSinkRefusals(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		c := w.remote(t, "@acme/echo")
		body := envelope(c.runID, 1, sink.TypeLog, map[string]any{"level": "info", "message": "hi"})
		send := func(path string, h http.Header, b []byte) *apptest.Response {
			return e.Do(apptest.Request{Method: "POST", Path: path, Body: b, Headers: h})
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		headers := func(id, ts, sig string) http.Header {
			h := http.Header{}
			for k, v := range map[string]string{sink.HeaderID: id, sink.HeaderTimestamp: ts, sink.HeaderSignature: sig} {
				if v != "" {
					h.Set(k, v)
				}
			}
			return h
		}
		good := sink.Sign(c.secret, "w1", mustInt(ts), body)
		wantProblem(t, send("/api/runs/run_00000000-0000-4000-8000-000000000000/events", headers("w1", ts, good), body), 404, "run_not_found")
		wantProblem(t, send(c.events, headers("", ts, good), body), 401, "missing_signature_headers")
		wantProblem(t, send(c.events, headers("w1", "yesterday", good), body), 401, "invalid_timestamp")
		old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
		wantProblem(t, send(c.events, headers("w1", old, sink.Sign(c.secret, "w1", mustInt(old), body)), body), 401, "timestamp_out_of_tolerance")
		wantProblem(t, send(c.events, headers("w1", ts, sink.Sign("another secret", "w1", mustInt(ts), body)), body), 401, "invalid_signature")
		tampered := append([]byte(nil), body...)
		tampered[len(tampered)-2] = '9'
		wantProblem(t, send(c.events, headers("w1", ts, good), tampered), 401, "invalid_signature")
		// A rotation-style header with several signatures: one valid is enough.
		if res := send(c.events, headers("w1", ts, "v1,AAAA "+good), body); res.Status != 200 {
			t.Fatalf("multi-signature: %d %s", res.Status, res.Body)
		}

		// Strict envelopes → 400 validation_failed, nothing applied.
		bad := map[string]string{
			"not an object":      `[1]`,
			"spec version":       `{"specversion":"0.3","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{},"sequence":2}`,
			"unknown member":     `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{},"sequence":2,"x":1}`,
			"data not an object": `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":[],"sequence":2}`,
			"negative sequence":  `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{},"sequence":-1}`,
			"fractional":         `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{},"sequence":2.5}`,
			"bad time":           `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"June","datacontenttype":"application/json","data":{},"sequence":2}`,
			"content type":       `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"text/plain","data":{},"sequence":2}`,
			"missing type":       `{"specversion":"1.0","source":"s","id":"i","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{},"sequence":2}`,
		}
		for name, b := range bad {
			res := c.signed(c.events, "", []byte(b))
			if res.Status != 400 || res.Problem(t).Code != "validation_failed" {
				t.Fatalf("%s: %d %s", name, res.Status, res.Body)
			}
		}
		// Expired sink → 410 run_sink_expired; extending reopens it.
		exec(t, e, `UPDATE runs SET sink_expires_at = ? WHERE id = ?`, isotime.From(time.Now().Add(-time.Second)), c.runID)
		wantProblem(t, c.event(2, sink.TypeLog, map[string]any{"level": "info", "message": "late"}), 410, "run_sink_expired")
		res := e.Do(apptest.Request{Method: "PATCH", Path: "/api/runs/" + c.runID + "/sink/extend", Headers: w.h,
			Body: map[string]any{"ttlSeconds": 999999}})
		var ext struct {
			RunID     string
			ExpiresAt isotime.Time
		}
		res.JSON(t, &ext)
		if res.Status != 200 || ext.RunID != c.runID || ext.ExpiresAt.After(time.Now().Add(86401*time.Second)) ||
			ext.ExpiresAt.Before(time.Now().Add(86000*time.Second)) {
			t.Fatalf("extend: %d %s", res.Status, res.Body)
		}
		c.outcome(2, sink.TypeLog, map[string]any{"level": "info", "message": "back"}, "persisted")
		if res := c.finalizeWith(map[string]any{"status": "cancelled", "error": map[string]any{"message": "Stopped"}}); res.Status != 200 {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		wantProblem(t, e.Do(apptest.Request{Method: "PATCH", Path: "/api/runs/" + c.runID + "/sink/extend", Headers: w.h,
			Body: map[string]any{"ttlSeconds": 60}}), 410, "run_sink_closed")
		if r := w.get(t, c.runID); r.Status != "cancelled" || r.Error == nil || *r.Error != "Stopped" {
			t.Fatalf("cancelled run %+v", r)
		}
	})
}

func mustInt(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// TestFinalizeStatusDerivation: explicit status, error, output schema, adapter error, zero tokens (RUNTIME.md
// §1.5), against the output schema of the version the run used.
func TestFinalizeStatusDerivation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		type event struct {
			typ  string
			data any
		}
		cases := []struct {
			name       string
			agent      string
			events     []event
			result     map[string]any
			status     string
			err        string
			validation bool
		}{
			{"success", "@acme/typed", nil, map[string]any{"output": map[string]any{"answer": 1}, "usage": usage}, "success", "", false},
			{"explicit status wins", "@acme/typed", nil, map[string]any{"status": "timeout", "error": map[string]any{"message": "Too slow"}}, "timeout", "Too slow", false},
			{"error means failed", "@acme/echo", nil, map[string]any{"error": map[string]any{"message": "Boom", "stack": "at x"}, "usage": usage}, "failed", "Boom", false},
			{"schema violation", "@acme/typed", nil, map[string]any{"output": map[string]any{"answer": "many"}, "usage": usage}, "failed",
				"Output validation failed: Field 'answer': ", true},
			{"missing output under a schema", "@acme/typed", nil, map[string]any{"usage": usage}, "failed", "Output validation failed: Field ", true},
			{"adapter error without output", "@acme/echo", []event{{sink.TypeError, map[string]any{"message": "429 Too Many Requests"}},
				{sink.TypeMetric, map[string]any{"usage": usage}}}, map[string]any{}, "failed", "429 Too Many Requests", false},
			{"adapter error with output", "@acme/echo", []event{{sink.TypeError, map[string]any{"message": "retried"}}},
				map[string]any{"output": "done", "usage": usage}, "success", "", false},
			{"zero tokens", "@acme/echo", nil, map[string]any{"output": map[string]any{"a": 1}}, "failed", runs.ErrorNoLLM, false},
			{"usage from metrics", "@acme/echo", []event{{sink.TypeMetric, map[string]any{"usage": usage, "cost": 0.1}}},
				map[string]any{"output": map[string]any{"a": 1}}, "success", "", false},
		}
		for _, tc := range cases {
			c := w.remote(t, tc.agent)
			for i, ev := range tc.events {
				c.outcome(int64(i+1), ev.typ, ev.data, "persisted")
			}
			if res := c.finalizeWith(tc.result); res.Status != 200 {
				t.Fatalf("%s: finalize %d %s", tc.name, res.Status, res.Body)
			}
			r := w.get(t, c.runID)
			if r.Status != tc.status || (tc.err == "") != (r.Error == nil) || (r.Error != nil && !strings.HasPrefix(*r.Error, tc.err)) {
				t.Fatalf("%s: %s %v", tc.name, r.Status, deref(r.Error))
			}
			var n int
			if err := e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM run_logs WHERE run_id = ? AND event = 'output_validation'
				AND level = 'error'`, c.runID).Scan(&n); err != nil || (n == 1) != tc.validation {
				t.Fatalf("%s: output_validation rows %d %v", tc.name, n, err)
			}
		}

		// The version the run used decides: the draft of @acme/echo has no output schema, its published 2.0.0 has one.
		exec(t, e, `INSERT INTO package_versions (package_id, version, integrity, artifact_size, manifest, created_at)
			VALUES ('@acme/echo', '2.0.0', 'sha256-abc', 1, ?, ?)`, strings.Replace(typedManifest, "@acme/typed", "@acme/echo", 1), isotime.Now())
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/runs/remote", Headers: w.h, Body: map[string]any{
			"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": "@acme/echo", "stage": "published", "spec": "^2"}}})
		var created remoteCreated
		res.JSON(t, &created)
		c := newSinkClient(t, e, created.RunID, created.URL, created.FinalizeURL, created.Secret)
		c.finalizeWith(map[string]any{"output": map[string]any{"answer": "x"}, "usage": usage})
		if r := w.get(t, created.RunID); r.Status != "failed" || deref(r.VersionLabel) != "2.0.0" {
			t.Fatalf("pinned version: %s %s", r.Status, deref(r.VersionLabel))
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/runs/remote", Headers: w.h, Body: map[string]any{
			"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": "@acme/echo", "spec": "2.0.0", "integrity": "sha256-other"}}})
		wantProblem(t, res, 409, "integrity_mismatch")
	})
}

// TestFinalizePersistence: memories and pinned slots are validated before the terminal write (an invalid
// body leaves the run open and writes nothing), then persisted with their scopes; the checkpoint is
// snapshotted on the run.
func TestFinalizePersistence(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		c := w.remote(t, "@acme/echo")
		c.outcome(1, sink.TypeMetric, map[string]any{"usage": usage}, "persisted")
		long := strings.Repeat("é", runs.MaxMemoryChars+10)
		invalid := []map[string]any{
			{"pinned": map[string]any{"Bad-Key": map[string]any{"content": 1}}},
			{"pinned": map[string]any{strings.Repeat("k", 65): map[string]any{"content": 1}}},
			{"pinned": map[string]any{"big": map[string]any{"content": strings.Repeat("x", 70000)}}},
			{"pinned": map[string]any{"empty": map[string]any{}}},
			{"memories": []any{map[string]any{"content": "x", "scope": "team"}}},
			{"memories": []any{map[string]any{"content": 12}}},
			{"status": "done"},
			{"cost": -1},
		}
		for _, body := range invalid {
			res := c.finalizeWith(body)
			if res.Status != 400 || res.Problem(t).Code != "validation_failed" {
				t.Fatalf("%v: %d %s", body, res.Status, res.Body)
			}
		}
		var n int
		_ = e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM package_persistence`).Scan(&n)
		if r := w.get(t, c.runID); r.Status != "running" || n != 0 {
			t.Fatalf("after refused finalizes: %s, %d persisted", r.Status, n)
		}
		res := c.finalizeWith(map[string]any{"output": "ok",
			"memories": []any{map[string]any{"content": "  likes tea  "}, map[string]any{"content": "office in Lyon", "scope": "shared"},
				map[string]any{"content": long}, map[string]any{"content": "   "}},
			"pinned": map[string]any{"checkpoint": map[string]any{"content": map[string]any{"cursor": 7}},
				"team_note": map[string]any{"content": "shared note", "scope": "shared"}}})
		if res.Status != 200 {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		r := w.get(t, c.runID)
		if r.Status != "success" || string(r.Checkpoint) != `{"cursor": 7}` && string(r.Checkpoint) != `{"cursor":7}` {
			t.Fatalf("run %s checkpoint %s", r.Status, r.Checkpoint)
		}
		rows, err := e.DB.QueryContext(t.Context(), `SELECT COALESCE(key, ''), pinned, actor_type, COALESCE(actor_id, ''), content
			FROM package_persistence WHERE package_id = '@acme/echo' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var key, typ, id, content string
			var pinned bool
			if err := rows.Scan(&key, &pinned, &typ, &id, &content); err != nil {
				t.Fatal(err)
			}
			var v any
			_ = json.Unmarshal([]byte(content), &v)
			if s, ok := v.(string); ok && len([]rune(s)) > 100 {
				if len([]rune(s)) != runs.MaxMemoryChars {
					t.Fatalf("long memory kept %d characters", len([]rune(s)))
				}
				v = "LONG"
			}
			actor := typ
			if id == w.user {
				actor += ":owner"
			}
			got = append(got, key+"|"+strconv.FormatBool(pinned)+"|"+actor+"|"+jsonString(v))
		}
		_ = rows.Close()
		want := []string{`|false|user:owner|"likes tea"`, `|false|shared|"office in Lyon"`, `|false|user:owner|"LONG"`,
			`checkpoint|true|user:owner|{"cursor":7}`, `team_note|true|shared|"shared note"`}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("persistence rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// A second run: the checkpoint slot is replaced, memories stop at 100 per scope.
		for i := range runs.MaxMemoriesPerScope - 4 {
			exec(t, e, `INSERT INTO package_persistence (package_id, application_id, org_id, key, pinned, actor_type, actor_id,
				content, created_at, updated_at) VALUES ('@acme/echo', ?, ?, NULL, ?, 'user', ?, ?, ?, ?)`,
				w.app, w.org, false, w.user, jsonString("old "+strconv.Itoa(i)), isotime.Now(), isotime.Now())
		}
		c = w.remote(t, "@acme/echo")
		res = c.finalizeWith(map[string]any{"output": "ok", "usage": usage,
			"memories": []any{map[string]any{"content": "a"}, map[string]any{"content": "b"}, map[string]any{"content": "c"}},
			"pinned":   map[string]any{"checkpoint": map[string]any{"content": map[string]any{"cursor": 8}}}})
		if res.Status != 200 {
			t.Fatalf("second finalize: %d %s", res.Status, res.Body)
		}
		var memories, checkpoints int
		var cp string
		_ = e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM package_persistence WHERE actor_type = 'user' AND pinned = ?`, false).Scan(&memories)
		_ = e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM package_persistence WHERE key = 'checkpoint'`).Scan(&checkpoints)
		_ = e.DB.QueryRowContext(t.Context(), `SELECT content FROM package_persistence WHERE key = 'checkpoint'`).Scan(&cp)
		if memories != runs.MaxMemoriesPerScope || checkpoints != 1 || !strings.Contains(cp, "8") {
			t.Fatalf("memories %d, checkpoint rows %d (%s)", memories, checkpoints, cp)
		}
	})
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestRemoteRunRequests: the validation of POST /api/runs/remote, inline sources and idempotency.
func TestRemoteRunRequests(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		post := func(body map[string]any, h http.Header) *apptest.Response {
			if h == nil {
				h = w.h
			}
			return e.Do(apptest.Request{Method: "POST", Path: "/api/runs/remote", Headers: h, Body: body})
		}
		reg := map[string]any{"kind": "registry", "packageId": "@acme/echo"}
		cases := []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"other application", map[string]any{"applicationId": "app_x", "source": reg}, 400, "invalid_request"},
			{"unknown kind", map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "git"}}, 400, "validation_failed"},
			{"unknown agent", map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": "@acme/nope"}}, 404, "agent_not_found"},
			{"unknown version", map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "registry", "packageId": "@acme/echo", "spec": "9.9.9"}}, 404, "not_found"},
			{"snapshot too large", map[string]any{"applicationId": w.app, "source": reg, "contextSnapshot": map[string]any{"x": strings.Repeat("a", 17000)}}, 400, "invalid_request"},
			{"ttl too long", map[string]any{"applicationId": w.app, "source": reg, "sink": map[string]any{"ttlSeconds": 90000}}, 400, "invalid_request"},
			{"inline not an agent", map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "inline", "manifest": map[string]any{"type": "skill"}, "prompt": "x"}}, 400, "invalid_request"},
		}
		for _, tc := range cases {
			wantProblem(t, post(tc.body, nil), tc.status, tc.code)
		}
		h := w.h.Clone()
		h.Set("X-Appstrate-Runner-Kind", "Bad Kind")
		wantProblem(t, post(map[string]any{"applicationId": w.app, "source": reg}, h), 400, "invalid_request")

		// Inline: an ephemeral shadow package; runner name and kind recorded; idempotent.
		h = w.h.Clone()
		h.Set("X-Appstrate-Runner-Name", "ada's laptop")
		h.Set("X-Appstrate-Runner-Kind", "cli")
		h.Set("Idempotency-Key", "remote-1")
		body := map[string]any{"applicationId": w.app, "source": map[string]any{"kind": "inline",
			"manifest": map[string]any{"name": "@local/x", "version": "0.1.0", "type": "agent"}, "prompt": "Say hi."},
			"sink": map[string]any{"ttlSeconds": 60}}
		first := post(body, h)
		second := post(body, h)
		if first.Status != 201 || second.Status != 201 || string(first.Body) != string(second.Body) {
			t.Fatalf("idempotent: %d %s / %d %s", first.Status, first.Body, second.Status, second.Body)
		}
		var created remoteCreated
		first.JSON(t, &created)
		if time.Until(created.ExpiresAt.Time) > 61*time.Second {
			t.Fatalf("ttl not applied: %s", created.ExpiresAt)
		}
		r := w.get(t, created.RunID)
		if r.PackageID == nil || !strings.HasPrefix(*r.PackageID, "@inline/r-") || deref(r.RunnerName) != "ada's laptop" ||
			deref(r.RunnerKind) != "cli" || deref(r.VersionLabel) != "0.1.0" {
			t.Fatalf("inline run %+v", r)
		}
		var ephemeral bool
		if err := e.DB.QueryRowContext(t.Context(), `SELECT ephemeral FROM packages WHERE id = ?`, *r.PackageID).Scan(&ephemeral); err != nil || !ephemeral {
			t.Fatalf("shadow package ephemeral=%v %v", ephemeral, err)
		}
		var runsN int
		_ = e.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM runs`).Scan(&runsN)
		if runsN != 1 {
			t.Fatalf("runs %d", runsN)
		}
		// Without agents:run (a viewer) → 403.
		viewer := e.SeedUser("viewer@acme.test")
		e.SeedMember(w.org, viewer, "viewer")
		wantProblem(t, post(map[string]any{"applicationId": w.app, "source": reg}, apptest.As(viewer, w.org, w.app)), 403, "forbidden")
	})
}

// TestRemoteRunStall: the watchdog fails a remote run whose runner stopped reporting.
func TestRemoteRunStall(t *testing.T) {
	apptest.Run(t, map[string]string{"RUN_STALL_THRESHOLD_SECONDS": "60"}, func(t *testing.T, e *apptest.Env) {
		w := newRemoteWorld(t, e)
		quiet := w.remote(t, "@acme/echo")
		alive := w.remote(t, "@acme/echo")
		stale := isotime.From(time.Now().Add(-2 * time.Minute))
		exec(t, e, `UPDATE runs SET last_heartbeat_at = ?, created_at = ? WHERE id IN (?, ?)`, stale, stale, quiet.runID, alive.runID)
		if res := alive.heartbeat(); res.Status != 200 {
			t.Fatalf("heartbeat: %d %s", res.Status, res.Body)
		}
		n, err := e.App.Runs.Sweep(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		r := w.get(t, quiet.runID)
		if r.Status != "failed" || deref(r.Error) != "Runner stopped reporting — no heartbeat for 60s. The runner process may have crashed or lost network connectivity." {
			t.Fatalf("stalled run %s %q", r.Status, deref(r.Error))
		}
		if r := w.get(t, alive.runID); r.Status != "pending" {
			t.Fatalf("alive run %s", r.Status)
		}
		wantProblem(t, quiet.event(1, sink.TypeLog, map[string]any{"level": "info", "message": "too late"}), 410, "run_sink_closed")
	})
}

// TestPlatformRunReportsThroughSink: the worker opens the sink of a platform run and hands it to the
// executor; the runner's finalize wins over the worker's exit synthesis.
func TestPlatformRunReportsThroughSink(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		fake := executortest.NewFake(executor.Result{})
		fake.Block = true
		w := setup(t, e, fake)
		id := w.start(t, map[string]any{"input": map[string]any{"topic": "x"}})
		spec := <-fake.Started()
		env := spec.Env
		if env["APPSTRATE_SINK_SECRET"] == "" || !strings.HasSuffix(env["APPSTRATE_SINK_URL"], "/api/runs/"+id+"/events") {
			t.Fatalf("sink env %v", env)
		}
		var sealed string
		if err := e.DB.QueryRowContext(t.Context(), `SELECT sink_secret_encrypted FROM runs WHERE id = ?`, id).Scan(&sealed); err != nil ||
			!strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, env["APPSTRATE_SINK_SECRET"]) {
			t.Fatalf("sealed secret %q %v", sealed, err)
		}
		c := newSinkClient(t, e, id, env["APPSTRATE_SINK_URL"], env["APPSTRATE_SINK_FINALIZE_URL"], env["APPSTRATE_SINK_SECRET"])
		c.outcome(1, sink.TypeMetric, map[string]any{"usage": usage, "cost": 0.5}, "persisted")
		c.outcome(2, sink.TypeOutput, map[string]any{"data": map[string]any{"answer": 42}}, "persisted")
		if res := c.finalizeWith(map[string]any{"output": map[string]any{"answer": 42}}); res.Status != 200 {
			t.Fatalf("finalize: %d %s", res.Status, res.Body)
		}
		fake.Release(id, executor.Result{ExitCode: 1})
		r := w.waitStatus(t, id, "success", "failed")
		if r.Status != "success" || string(r.Result) != `{"output":{"answer":42}}` || r.Cost == nil || *r.Cost != 0.5 {
			t.Fatalf("run %s %s %v", r.Status, r.Result, r.Cost)
		}
		var profiles map[string]string
		if err := json.Unmarshal(r.ProviderProfileIDs, &profiles); err != nil && string(r.ProviderProfileIDs) != "null" {
			t.Fatalf("provider profiles %s", r.ProviderProfileIDs)
		}
	})
}
