package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// logLine is a run_log event of a live stream, or a row of GET /api/runs/{id}/logs.
type logLine struct {
	ID      int64  `json:"id"`
	RunID   string `json:"runId"`
	Event   string `json:"event"`
	Message string `json:"message"`
}

func (l logLine) String() string { return fmt.Sprintf("#%d %s %q", l.ID, l.Event, l.Message) }

// liveStream is an SSE client of one /api/realtime/* stream, collecting the run_log events of one run.
type liveStream struct {
	name  string
	lines chan logLine
}

// openStream connects to a realtime stream with the session cookie (and org and application in the query, as
// a browser's EventSource does) and returns once the server has subscribed it.
func (p *platform) openStream(t *testing.T, name, path string, query url.Values) *liveStream {
	t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("orgId", p.org)
	query.Set("applicationId", p.app)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path+"?"+query.Encode(), nil)
	client := &http.Client{Jar: p.c.Jar} // no timeout: the stream stays open
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%s: %s %s", name, resp.Status, resp.Header.Get("Content-Type"))
	}
	s := &liveStream{name: name, lines: make(chan logLine, 1024)}
	ready := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		event, first := "", true
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
				if event == "ping" && first { // the first frame: the subscription is in place
					close(ready)
					first = false
				}
			case strings.HasPrefix(line, "data: ") && event == "run_log":
				var l logLine
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &l); err == nil {
					s.lines <- l
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no first frame", name)
	}
	return s
}

// collect reads the stream's log lines of run until it has seen the line lastID (or a line after it).
func (s *liveStream) collect(t *testing.T, run string, lastID int64) []logLine {
	t.Helper()
	var got []logLine
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("%s: the stream ended after %v", s.name, got)
			}
			if l.RunID != run {
				continue
			}
			got = append(got, l)
			if l.ID >= lastID {
				return got
			}
		case <-timeout:
			t.Fatalf("%s: line #%d never came; got %v", s.name, lastID, got)
		}
	}
}

// TestLiveLogsArriveInOrder streams a run's logs: clients connected before the run (to the application's runs
// and to the agent's runs) see every log line the run stores, once and in order; a client of the run's own
// stream connected with ?since=0 as soon as the run is created gets the same lines (replay, then live, no
// duplicate), and one connecting after the run with ?since=N replays exactly the lines after N.
func TestLiveLogsArriveInOrder(t *testing.T) {
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{
			{Name: "log", Args: `{"level":"info","message":"line one"}`},
			{Name: "bash", Args: `{"command":"echo two"}`},
		}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "log", Args: `{"level":"warn","message":"line three"}`},
			{Name: "log", Args: `{"level":"error","message":"line four"}`},
		}},
		{Text: "Thinking aloud between tools.", ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":"streamed","count":4}}`}}},
		{Text: "Done."},
	}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process"})
	p.signUp("acme")
	agent := p.importPackage(agentFiles("@acme/chatty"))

	app := p.openStream(t, "application stream", "/api/realtime/runs", nil)
	byAgent := p.openStream(t, "agent stream", "/api/realtime/agents/"+url.PathEscape(agent)+"/runs", nil)
	id := p.startRun(agent, "", map[string]any{"input": map[string]any{"job": "chatter"}})
	own := p.openStream(t, "run stream from since=0", "/api/realtime/runs/"+id, url.Values{"since": {"0"}})
	if r := p.waitRun(id); r.Status != "success" {
		t.Fatalf("run = %+v (error %q)\nlogs: %v", r, deref(r.Error), p.runLogs(id))
	}

	var stored []logLine
	raw, _ := json.Marshal(p.runLogs(id))
	if err := json.Unmarshal(raw, &stored); err != nil || len(stored) < 8 {
		t.Fatalf("stored logs (%v): %s", err, raw)
	}
	messages := ""
	for i, l := range stored {
		if i > 0 && l.ID <= stored[i-1].ID {
			t.Fatalf("stored logs out of order: %v", stored)
		}
		messages += l.Message + "\n"
	}
	for _, want := range []string{"line one", "line three", "line four", "Thinking aloud between tools."} {
		if !strings.Contains(messages, want) {
			t.Errorf("the stored logs lack %q:\n%s", want, messages)
		}
	}
	last := stored[len(stored)-1].ID
	for _, s := range []*liveStream{app, byAgent, own} {
		if got := s.collect(t, id, last); fmt.Sprint(got) != fmt.Sprint(stored) {
			t.Errorf("%s:\n got %v\nwant %v", s.name, got, stored)
		}
	}

	from := stored[2].ID
	late := p.openStream(t, "late run stream", "/api/realtime/runs/"+id, url.Values{"since": {fmt.Sprint(from)}})
	if got := late.collect(t, id, last); fmt.Sprint(got) != fmt.Sprint(stored[3:]) {
		t.Errorf("%s:\n got %v\nwant %v", late.name, got, stored[3:])
	}
}
