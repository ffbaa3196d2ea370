// Package sinktest is a fake platform for runner tests: an HTTP server with the three sink routes of one run
// (events, events/finalize, events/heartbeat) that checks every request the way the platform does — Standard
// Webhooks signature over the raw body, content type, strict CloudEvents envelope — records what it accepted,
// answers 410 once the run is finalized, and lets a test inject failures.
package sinktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/sink"
)

// Request kinds.
const (
	KindEvent     = "event"
	KindFinalize  = "finalize"
	KindHeartbeat = "heartbeat"
)

// Fault decides the answer to a request before it is processed: a status ≠ 0 is answered (with a problem+json
// body carrying code) instead of processing the request. n counts the requests of that kind and webhook-id,
// from 1, so a fault can hit only the first attempts.
type Fault func(kind, webhookID string, n int) (status int, code string)

// Platform is the fake. Create it with New.
type Platform struct {
	RunID       string
	Secret      string
	URL         string // the events URL
	FinalizeURL string

	mu         sync.Mutex
	fault      Fault
	attempts   map[string]int
	events     map[string]sink.Envelope // by webhook-id
	traceparts []string
	result     *sink.RunResult
	resultRaw  []byte
	heartbeats int
	rejected   []string
	finalized  chan struct{}
}

// New starts a fake platform for one run; it stops with the test.
func New(t testing.TB, runID, secret string) *Platform {
	t.Helper()
	p := &Platform{RunID: runID, Secret: secret, attempts: map[string]int{}, events: map[string]sink.Envelope{},
		finalized: make(chan struct{})}
	mux := http.NewServeMux()
	base := "/api/runs/" + runID + "/events"
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, KindEvent) })
	mux.HandleFunc("POST "+base+"/finalize", func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, KindFinalize) })
	mux.HandleFunc("POST "+base+"/heartbeat", func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, KindHeartbeat) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL + base
	p.FinalizeURL = srv.URL + base + "/finalize"
	return p
}

// SetFault installs a fault injector (nil removes it).
func (p *Platform) SetFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *Platform) serve(w http.ResponseWriter, r *http.Request, kind string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		p.reject(w, http.StatusBadRequest, "invalid_request", kind+": read body: "+err.Error())
		return
	}
	id := r.Header.Get(sink.HeaderID)
	p.mu.Lock()
	p.attempts[kind+"/"+id]++
	n, fault, closed := p.attempts[kind+"/"+id], p.fault, p.result != nil
	p.traceparts = append(p.traceparts, r.Header.Get("traceparent"))
	p.mu.Unlock()

	if closed {
		problem(w, http.StatusGone, "run_sink_closed", "Run sink is closed")
		return
	}
	if err := sink.Verify(p.Secret, id, r.Header.Get(sink.HeaderTimestamp), r.Header.Get(sink.HeaderSignature),
		body, time.Now(), 5*time.Minute); err != nil {
		p.reject(w, http.StatusUnauthorized, err.Error(), kind+": "+err.Error())
		return
	}
	if fault != nil {
		if status, code := fault(kind, id, n); status != 0 {
			problem(w, status, code, "injected fault")
			return
		}
	}
	switch kind {
	case KindEvent:
		p.event(w, r, id, body)
	case KindFinalize:
		p.finalize(w, r, body)
	case KindHeartbeat:
		if strings.TrimSpace(string(body)) != "{}" {
			p.reject(w, http.StatusBadRequest, "invalid_request", "heartbeat body is not {}: "+string(body))
			return
		}
		p.mu.Lock()
		p.heartbeats++
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	}
}

func (p *Platform) event(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	if ct := r.Header.Get("Content-Type"); ct != sink.ContentTypeEvent {
		p.reject(w, http.StatusBadRequest, "invalid_request", "event content type "+ct)
		return
	}
	env, err := checkEnvelope(body)
	if err != nil {
		p.reject(w, http.StatusBadRequest, "invalid_request", "event: "+err.Error())
		return
	}
	if env.ID != id {
		p.reject(w, http.StatusBadRequest, "invalid_request", "webhook-id differs from the envelope id")
		return
	}
	p.mu.Lock()
	_, replay := p.events[id]
	p.events[id] = env
	p.mu.Unlock()
	outcome := "persisted"
	if replay {
		outcome = "replay"
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "outcome": outcome, "sequence": env.Sequence})
}

// checkEnvelope applies the platform's strict envelope validation.
func checkEnvelope(body []byte) (sink.Envelope, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return sink.Envelope{}, fmt.Errorf("not a JSON object: %v", err)
	}
	for _, k := range []string{"specversion", "type", "source", "id", "time", "datacontenttype", "data", "sequence"} {
		if _, ok := fields[k]; !ok {
			return sink.Envelope{}, fmt.Errorf("missing %s", k)
		}
	}
	var env sink.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return sink.Envelope{}, err
	}
	if env.SpecVersion != "1.0" || env.DataContentType != "application/json" || env.Type == "" || env.ID == "" ||
		env.Sequence < 0 {
		return sink.Envelope{}, fmt.Errorf("invalid envelope header fields: %s", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, env.Time); err != nil {
		return sink.Envelope{}, fmt.Errorf("time %q: %v", env.Time, err)
	}
	var data map[string]any
	if err := json.Unmarshal(env.Data, &data); err != nil || data == nil {
		return sink.Envelope{}, fmt.Errorf("data is not an object: %s", env.Data)
	}
	return env, nil
}

func (p *Platform) finalize(w http.ResponseWriter, _ *http.Request, body []byte) {
	var res sink.RunResult
	if err := json.Unmarshal(body, &res); err != nil {
		p.reject(w, http.StatusBadRequest, "invalid_request", "finalize: "+err.Error())
		return
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw)
	for _, k := range []string{"memories", "logs"} {
		if v, ok := raw[k]; ok && (len(v) == 0 || v[0] != '[') {
			p.reject(w, http.StatusBadRequest, "validation_failed", "finalize: "+k+" must be an array")
			return
		}
	}
	p.mu.Lock()
	if p.result == nil {
		p.result, p.resultRaw = &res, body
		close(p.finalized)
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (p *Platform) reject(w http.ResponseWriter, status int, code, why string) {
	p.mu.Lock()
	p.rejected = append(p.rejected, why)
	p.mu.Unlock()
	problem(w, status, code, why)
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "code": code, "detail": detail,
		"title": http.StatusText(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Events returns the accepted events (each webhook-id once), by sequence.
func (p *Platform) Events() []sink.Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]sink.Envelope, 0, len(p.events))
	for _, e := range p.events {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b sink.Envelope) int { return int(a.Sequence - b.Sequence) })
	return out
}

// Result returns the finalize body, once received.
func (p *Platform) Result() (*sink.RunResult, []byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.result, p.resultRaw, p.result != nil
}

// Finalized is closed when the finalize body arrives.
func (p *Platform) Finalized() <-chan struct{} { return p.finalized }

// Heartbeats counts the accepted heartbeats.
func (p *Platform) Heartbeats() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heartbeats
}

// Attempts counts the requests received of a kind with a webhook-id.
func (p *Platform) Attempts(kind, webhookID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[kind+"/"+webhookID]
}

// Traceparents lists the traceparent header of every request received, in arrival order.
func (p *Platform) Traceparents() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.traceparts)
}

// Rejected lists why requests were refused (bad signature, bad envelope…); a correct runner leaves it empty.
func (p *Platform) Rejected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rejected)
}
