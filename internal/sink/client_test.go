package sink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/sink/sinktest"
)

const (
	testRunID  = "run_0f8fad5b-d9cb-469f-a165-70867728950e"
	testSecret = "0123456789abcdef0123456789abcdef"
)

func newClient(t *testing.T, p *sinktest.Platform, mod func(*sink.ClientConfig)) *sink.Client {
	t.Helper()
	cfg := sink.ClientConfig{
		RunID: testRunID, URL: p.URL, FinalizeURL: p.FinalizeURL, Secret: testSecret,
		Retry: sink.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := sink.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestEmitNumbersSignsAndDeliversConcurrently(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	trace := "4bf92f3577b34da6a3ce929d0e0e4736"
	c := newClient(t, p, func(cfg *sink.ClientConfig) { cfg.Traceparent = "00-" + trace + "-00f067aa0ba902b7-01" })
	ctx := context.Background()

	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Emit(ctx, sink.TypeProgress, map[string]any{"message": fmt.Sprint("m", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Sequence(); got != n {
		t.Fatalf("Sequence() = %d, want %d", got, n)
	}
	events := p.Events()
	if len(events) != n {
		t.Fatalf("platform accepted %d events, want %d (rejected: %v)", len(events), n, p.Rejected())
	}
	for i, e := range events {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d: sequences must be 1..n without gaps", i, e.Sequence)
		}
		if e.Source != "/afps/runs/"+testRunID || e.Type != sink.TypeProgress {
			t.Fatalf("event %d: source %q type %q", i, e.Source, e.Type)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", e.Time); err != nil {
			t.Fatalf("time %q is not ISO with milliseconds: %v", e.Time, err)
		}
	}
	spans := map[string]bool{}
	for _, tp := range p.Traceparents() {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != trace || parts[3] != "01" {
			t.Fatalf("traceparent %q does not continue trace %s", tp, trace)
		}
		spans[parts[2]] = true
	}
	if len(spans) != n {
		t.Fatalf("%d distinct span ids for %d requests: each POST gets a fresh span", len(spans), n)
	}
}

func TestTraceparentIsNewWhenInvalid(t *testing.T) {
	for _, tp := range []string{"", "garbage", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"} {
		p := sinktest.New(t, testRunID, testSecret)
		c := newClient(t, p, func(cfg *sink.ClientConfig) { cfg.Traceparent = tp })
		if err := c.Emit(context.Background(), sink.TypeLog, map[string]any{"level": "info", "message": "x"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := p.Traceparents()[0]
		parts := strings.Split(got, "-")
		if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || parts[3] != "01" ||
			strings.Contains(tp, parts[1]) {
			t.Errorf("TRACEPARENT %q: sent %q, want a new valid trace", tp, got)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		failures     int // attempts answered with status
		wantAttempts int
		wantErr      string // "" = delivered
	}{
		{"503 twice then accepted", http.StatusServiceUnavailable, 2, 3, ""},
		{"429 once then accepted", http.StatusTooManyRequests, 1, 2, ""},
		{"500 on every attempt gives up after 4", http.StatusInternalServerError, 99, 4, "after 4 attempts: platform answered 500 boom"},
		{"400 is not retried", http.StatusBadRequest, 99, 1, "platform answered 400 boom: injected fault"},
		{"401 is not retried", http.StatusUnauthorized, 99, 1, "platform answered 401 boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sinktest.New(t, testRunID, testSecret)
			p.SetFault(func(kind, _ string, n int) (int, string) {
				if kind == sinktest.KindEvent && n <= tt.failures {
					return tt.status, "boom"
				}
				return 0, ""
			})
			c := newClient(t, p, nil)
			if err := c.Emit(context.Background(), sink.TypeReport, map[string]any{"content": "r"}); err != nil {
				t.Fatal(err)
			}
			err := c.Flush(context.Background())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Flush error %v, want it to contain %q", err, tt.wantErr)
			}
			ids := p.Traceparents()
			if len(ids) != tt.wantAttempts {
				t.Fatalf("%d attempts, want %d", len(ids), tt.wantAttempts)
			}
			if tt.wantErr == "" {
				ev := p.Events()
				if len(ev) != 1 || p.Attempts(sinktest.KindEvent, ev[0].ID) != tt.wantAttempts {
					t.Fatalf("the retries must reuse the webhook-id: events %v", ev)
				}
			}
			var httpErr *sink.HTTPError
			if tt.wantErr != "" && !errors.As(err, &httpErr) {
				t.Fatalf("error %v is not an *HTTPError", err)
			}
		})
	}
}

// flakyTransport fails the first n requests at the transport level.
type flakyTransport struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("connection reset by peer")
	}
	return f.base.RoundTrip(r)
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	ft := &flakyTransport{base: http.DefaultTransport}
	ft.n.Store(2)
	c := newClient(t, p, func(cfg *sink.ClientConfig) { cfg.HTTPClient = &http.Client{Transport: ft} })
	if err := c.Emit(context.Background(), sink.TypeMemory, map[string]any{"content": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(p.Events()) != 1 {
		t.Fatalf("event not delivered after transport errors")
	}
}

func TestFinalizeAfterEveryEvent(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	var eventsAtFinalize atomic.Int32
	p.SetFault(func(kind, _ string, n int) (int, string) {
		switch {
		case kind == sinktest.KindEvent && n == 1:
			return http.StatusBadGateway, "slow" // every event needs a retry
		case kind == sinktest.KindFinalize:
			eventsAtFinalize.Store(int32(len(p.Events())))
		}
		return 0, ""
	})
	c := newClient(t, p, nil)
	ctx := context.Background()
	for range 10 {
		if err := c.Emit(ctx, sink.TypeLog, map[string]any{"level": "info", "message": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	cost := 0.5
	if err := c.Finalize(ctx, sink.RunResult{Cost: &cost}); err != nil {
		t.Fatal(err)
	}
	if got := eventsAtFinalize.Load(); got != 10 {
		t.Fatalf("finalize arrived after %d of 10 events", got)
	}
	res, raw, ok := p.Result()
	if !ok || res.Cost == nil || *res.Cost != 0.5 {
		t.Fatalf("result %+v", res)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if string(fields["memories"]) != "[]" || string(fields["logs"]) != "[]" {
		t.Fatalf("memories/logs must be [] (not null): %s", raw)
	}
	if err := c.Emit(ctx, sink.TypeLog, map[string]any{}); !errors.Is(err, sink.ErrFinalized) {
		t.Fatalf("Emit after Finalize: %v", err)
	}
	if err := c.Finalize(ctx, sink.RunResult{}); !errors.Is(err, sink.ErrFinalized) {
		t.Fatalf("second Finalize: %v", err)
	}
	if r := p.Rejected(); len(r) != 0 {
		t.Fatalf("platform rejected: %v", r)
	}
}

func TestFinalizeGoneIsAnError(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	p.SetFault(func(kind, _ string, _ int) (int, string) {
		if kind == sinktest.KindFinalize {
			return http.StatusGone, "run_sink_closed"
		}
		return 0, ""
	})
	c := newClient(t, p, nil)
	err := c.Finalize(context.Background(), sink.RunResult{Status: "failed"})
	var httpErr *sink.HTTPError
	if !errors.As(err, &httpErr) || !httpErr.Gone() || httpErr.Code != "run_sink_closed" {
		t.Fatalf("Finalize error %v, want a 410 run_sink_closed", err)
	}
}

func TestEmitRejectsNonObjects(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	c := newClient(t, p, nil)
	for _, data := range []any{nil, "text", []int{1}, 3, func() {}} {
		if err := c.Emit(context.Background(), sink.TypeLog, data); err == nil {
			t.Errorf("Emit(%v) accepted a non-object", data)
		}
	}
	if c.Sequence() != 0 {
		t.Fatalf("refused events consumed sequence numbers")
	}
}

func TestHeartbeat(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	c := newClient(t, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Heartbeat(ctx, 2*time.Millisecond) }()
	waitFor(t, func() bool { return p.Heartbeats() >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Heartbeat after cancel: %v", err)
	}
	if r := p.Rejected(); len(r) != 0 {
		t.Fatalf("platform rejected: %v", r)
	}
}

func TestHeartbeatStopsOnGone(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	c := newClient(t, p, nil)
	if err := c.Finalize(context.Background(), sink.RunResult{}); err != nil {
		t.Fatal(err)
	}
	err := c.Heartbeat(context.Background(), time.Millisecond) // the sink is closed: 410 ends the loop
	var httpErr *sink.HTTPError
	if !errors.As(err, &httpErr) || !httpErr.Gone() {
		t.Fatalf("Heartbeat = %v, want the 410", err)
	}
}

func TestHeartbeatKeepsGoingAfterOtherFailures(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	var refused atomic.Int32
	p.SetFault(func(kind, _ string, _ int) (int, string) {
		if kind == sinktest.KindHeartbeat && refused.Add(1) <= 3 {
			return http.StatusServiceUnavailable, "down"
		}
		return 0, ""
	})
	c := newClient(t, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Heartbeat(ctx, time.Millisecond) }()
	waitFor(t, func() bool { return p.Heartbeats() >= 1 }) // reached only if the loop survived three 503s
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewClientValidates(t *testing.T) {
	_, err := sink.NewClient(sink.ClientConfig{URL: "ftp://x", FinalizeURL: "/relative", Secret: "short"})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"run id is empty", "sink URL must be an absolute http(s) URL", "finalize URL", "secret shorter than 16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFlushGivesUpWithItsContextAndCloseAbandons(t *testing.T) {
	p := sinktest.New(t, testRunID, testSecret)
	p.SetFault(func(string, string, int) (int, string) { return http.StatusServiceUnavailable, "down" })
	c := newClient(t, p, func(cfg *sink.ClientConfig) {
		cfg.Retry = sink.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour}
	})
	if err := c.Emit(context.Background(), sink.TypeLog, map[string]any{"level": "info", "message": "x"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v, want the context's error", err)
	}
	c.Close() // the retry waiting an hour is abandoned
	err := c.Flush(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sink: event 1 (log.written)") {
		t.Fatalf("Flush after Close = %v", err)
	}
}
