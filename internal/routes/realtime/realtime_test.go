package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type frame struct {
	event, data, id string
}

// stream opens an SSE stream and delivers its frames.
func stream(t *testing.T, srv *httptest.Server, path string, q url.Values, h http.Header) (<-chan frame, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	frames := make(chan frame, 64)
	if resp.StatusCode != http.StatusOK {
		close(frames)
		return frames, resp
	}
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				frames <- f
				f = frame{}
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			}
		}
	}()
	return frames, resp
}

func next(t *testing.T, frames <-chan frame, event string) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended before a %s frame", event)
			}
			if f.event != event {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(f.data), &m); err != nil {
				t.Fatalf("frame data %q: %v", f.data, err)
			}
			if f.id == "" {
				t.Errorf("frame without id: %+v", f)
			}
			return m
		case <-timeout:
			t.Fatalf("no %s frame", event)
		}
	}
}

func TestRunStreams(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		user := e.SeedUser("owner@acme.test")
		org, app := e.SeedOrg(user, "acme")
		otherApp := e.SeedApp(org, "Other")
		srv := httptest.NewServer(e.App.HTTP.Handler())
		t.Cleanup(srv.Close) // after the streams' own cleanups (LIFO), which end them
		h := http.Header{apptest.TestUserHeader: {user}}
		scope := url.Values{"orgId": {org}, "applicationId": {app}}

		// No credentials at all: 401 problem.
		if _, resp := stream(t, srv, "/api/realtime/runs", scope, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous stream: %d", resp.StatusCode)
		}
		// An application of the org is required.
		if _, resp := stream(t, srv, "/api/realtime/runs", url.Values{"orgId": {org}}, h); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("stream without application: %d", resp.StatusCode)
		}

		all, resp := stream(t, srv, "/api/realtime/runs", scope, h)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		verbose := url.Values{"orgId": {org}, "applicationId": {app}}
		verbose.Set("verbose", "true")
		one, _ := stream(t, srv, "/api/realtime/runs/run_00000000-0000-4000-8000-000000000001", verbose, h)
		// The first frame is a ping.
		if f := <-all; f.event != "ping" {
			t.Fatalf("first frame = %+v", f)
		}

		now := isotime.Now()
		insertRun := func(id, appID string) {
			if _, err := e.DB.ExecContext(ctx, `INSERT INTO runs (id, application_id, org_id, status, timeout_seconds,
				started_at, created_at) VALUES (?, ?, ?, 'pending', 30, ?, ?)`, id, appID, org, now, now); err != nil {
				t.Fatal(err)
			}
		}
		insertRun("run_00000000-0000-4000-8000-000000000009", otherApp) // other application: never seen
		insertRun("run_00000000-0000-4000-8000-000000000001", app)
		got := next(t, all, "run_update")
		if got["id"] != "run_00000000-0000-4000-8000-000000000001" || got["operation"] != "INSERT" || got["status"] != "pending" ||
			got["startedAt"] != now.String() {
			t.Fatalf("run_update = %v", got)
		}
		if _, err := e.DB.ExecContext(ctx, `UPDATE runs SET last_heartbeat_at = ? WHERE id = ?`, now,
			"run_00000000-0000-4000-8000-000000000001"); err != nil {
			t.Fatal(err) // not a watched column: no frame
		}
		if _, err := e.DB.ExecContext(ctx, `UPDATE runs SET status = 'running' WHERE id = ?`,
			"run_00000000-0000-4000-8000-000000000001"); err != nil {
			t.Fatal(err)
		}
		if got := next(t, all, "run_update"); got["operation"] != "UPDATE" || got["status"] != "running" {
			t.Fatalf("run_update = %v", got)
		}
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO run_logs (run_id, org_id, type, level, event, message, data, created_at)
			VALUES (?, ?, 'progress', 'info', 'progress', 'hello', '{"k":1}', ?)`, "run_00000000-0000-4000-8000-000000000001", org, now); err != nil {
			t.Fatal(err)
		}
		log := next(t, all, "run_log")
		if log["message"] != "hello" || log["runId"] != "run_00000000-0000-4000-8000-000000000001" || log["applicationId"] != app {
			t.Fatalf("run_log = %v", log)
		}
		if _, ok := log["data"]; ok {
			t.Errorf("data sent without verbose=true: %v", log)
		}
		// The per-run verbose stream sees the data, decoded.
		vlog := next(t, one, "run_log")
		if d, ok := vlog["data"].(map[string]any); !ok || d["k"] != float64(1) {
			t.Fatalf("verbose run_log = %v", vlog)
		}

		// A late client replays with ?since=, then follows live without duplicates.
		late := url.Values{"orgId": {org}, "applicationId": {app}, "since": {"0"}}
		replayed, _ := stream(t, srv, "/api/realtime/runs/run_00000000-0000-4000-8000-000000000001", late, h)
		if got := next(t, replayed, "run_log"); got["message"] != "hello" {
			t.Fatalf("replayed run_log = %v", got)
		}
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO run_logs (run_id, org_id, type, level, event, message, created_at)
			VALUES (?, ?, 'progress', 'info', 'progress', 'second', ?)`, "run_00000000-0000-4000-8000-000000000001", org, now); err != nil {
			t.Fatal(err)
		}
		if got := next(t, replayed, "run_log"); got["message"] != "second" {
			t.Fatalf("live run_log after the replay = %v", got)
		}
		bad := url.Values{"orgId": {org}, "applicationId": {app}, "since": {"x"}}
		if _, resp := stream(t, srv, "/api/realtime/runs/run_00000000-0000-4000-8000-000000000001", bad, h); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("since=x: %d", resp.StatusCode)
		}

		// run_metric notifications reach the streams too.
		if err := store.Notify(ctx, e.DB, "run_metric", `{"runId":"run_00000000-0000-4000-8000-000000000001","orgId":"`+org+
			`","applicationId":"`+app+`","packageId":null,"tokenUsage":{"input_tokens":3},"costSoFar":0.5}`); err != nil {
			t.Fatal(err)
		}
		if got := next(t, all, "run_metric"); got["costSoFar"] != 0.5 {
			t.Fatalf("run_metric = %v", got)
		}
	})
}
