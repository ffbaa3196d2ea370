package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/sink"
)

// memorySink keeps the events it is given.
type memorySink struct {
	mu     sync.Mutex
	events []string
}

func (s *memorySink) Emit(_ context.Context, eventType string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.events = append(s.events, eventType+" "+string(b))
	s.mu.Unlock()
	return nil
}

func (s *memorySink) Finalize(context.Context, sink.RunResult) error { return nil }

// FuzzToolEvent: whatever a tool package writes as an event, the run's aggregate stays within the rules of the
// platform tools (an output is an object, pins have valid keys) and every forwarded event encodes.
func FuzzToolEvent(f *testing.F) {
	f.Add(`{"type":"output.emitted","data":{"a":1,"state":{"b":2}}}`)
	f.Add(`{"type":"log.written","level":"warn","message":"m","runId":"run_x"}`)
	f.Add(`{"type":"pinned.set","key":"checkpoint","content":[1],"scope":"shared"}`)
	f.Add(`{"type":"pinned.set","key":"Bad","content":1}`)
	f.Add(`{"type":"memory.added","content":7}`)
	f.Add(`{"type":"report.appended","content":"# r"}`)
	f.Add(`{"type":"appstrate.progress","message":"p","data":{"x":[1]}}`)
	f.Add(`{"type":"appstrate.metric","usage":{}}`)
	f.Add(`{"type":"output.emitted","data":"not an object"}`)
	f.Add(`{"type":"run.started"}`)
	f.Fuzz(func(t *testing.T, line string) {
		s := &memorySink{}
		r := newRun(Config{}, Deps{Sink: s, Logger: slog.New(slog.DiscardHandler)})
		r.toolEvent(context.Background(), json.RawMessage(line))
		var res sink.RunResult
		r.agg.fill(&res)
		if res.Output != nil {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(res.Output, &obj); err != nil || obj == nil {
				t.Fatalf("output %s is not an object", res.Output)
			}
		}
		for key, p := range res.Pinned {
			if !pinKeyPattern.MatchString(key) || !json.Valid(p.Content) {
				t.Fatalf("pinned %q = %s", key, p.Content)
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not encode: %v", err)
		}
		for _, e := range s.events {
			if strings.HasPrefix(e, sink.TypeMetric) {
				t.Fatalf("a tool's metric was forwarded: %s", e)
			}
		}
	})
}

// FuzzSidecarBody: the translation of provider_call bodies never reads outside the workspace and yields JSON.
func FuzzSidecarBody(f *testing.F) {
	f.Add(`{"fromFile":"README.md"}`)
	f.Add(`{"fromFile":"../outside/secret.txt"}`)
	f.Add(`{"fromFile":"out-rel"}`)
	f.Add(`{"multipart":[{"name":"a","value":"b"},{"name":"f","fromFile":"in-link","contentType":"text/x-go"},{"name":"r","fromBytes":"aGk=","encoding":"base64"}]}`)
	f.Add(`{"multipart":[{"name":"f","fromFile":"out-dir/secret.txt"}]}`)
	f.Add(`{"fromBytes":"aGk=","encoding":"base64"}`)
	f.Add(`"plain text"`)
	f.Add(`{"multipart":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		w, _ := newTestWorkspace(t)
		out, err := sidecarBody(w, json.RawMessage(body))
		if err != nil {
			return
		}
		if json.Valid([]byte(body)) && !json.Valid(out) {
			t.Fatalf("%s became invalid JSON %s", body, out)
		}
		if strings.Contains(string(out), base64.StdEncoding.EncodeToString([]byte("top secret\n"))) {
			t.Fatalf("%s read a file outside the workspace", body)
		}
	})
}
