package sidecar_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/sidecar"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/sink/sinktest"
)

const relaySecret = "relay-secret-0123456789abcdef"

// The runner's sink client, pointed at the sidecar's /sink relay, reaches the platform's sink: events,
// heartbeats and the finalize arrive signed and accepted, and the platform's answers come back unchanged.
func TestSinkRelayCarriesTheRunnersSinkRequests(t *testing.T) {
	platform := sinktest.New(t, "run_relay", relaySecret)
	h := newHarness(t, map[string]string{"APPSTRATE_SINK_URL": platform.URL, "APPSTRATE_SINK_FINALIZE_URL": platform.FinalizeURL})
	client, err := sink.NewClient(sink.ClientConfig{RunID: "run_relay", URL: h.server.URL + "/sink/events",
		FinalizeURL: h.server.URL + "/sink/events/finalize", Secret: relaySecret, HTTPClient: h.server.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	if err := client.Emit(ctx, sink.TypeLog, map[string]any{"level": "info", "message": "hello"}); err != nil {
		t.Fatal(err)
	}
	hbCtx, stop := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		_ = client.Heartbeat(hbCtx, time.Millisecond)
	}()
	for platform.Heartbeats() == 0 {
		time.Sleep(time.Millisecond)
	}
	stop()
	<-hbDone
	if err := client.Finalize(ctx, sink.RunResult{Status: "success"}); err != nil {
		t.Fatal(err)
	}
	if got := len(platform.Events()); got != 1 {
		t.Errorf("platform accepted %d events, want 1 (rejected: %v)", got, platform.Rejected())
	}
	if res, _, ok := platform.Result(); !ok || res.Status != "success" {
		t.Errorf("finalize not accepted: %+v %v", res, ok)
	}

	// After the finalize the platform answers 410; the relay passes the status and problem body back.
	late, err := sink.NewClient(sink.ClientConfig{RunID: "run_relay", URL: h.server.URL + "/sink/events",
		FinalizeURL: h.server.URL + "/sink/events/finalize", Secret: relaySecret, HTTPClient: h.server.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	err = late.Finalize(ctx, sink.RunResult{Status: "failed"})
	var httpErr *sink.HTTPError
	if !errors.As(err, &httpErr) || !httpErr.Gone() {
		t.Errorf("second finalize: err = %v, want the platform's 410", err)
	}
}

// The runner finalizes as soon as it has read the model's last answer, while the sidecar may still be
// reporting that answer's usage: the relay holds the finalize until the report is done, so the platform
// prices the run with every metered request.
func TestSinkRelayFinalizesAfterTheUsageReports(t *testing.T) {
	model := llmtest.New(t, llmtest.Script{APIKey: "sk-real-key", Turns: []llmtest.Turn{{Text: "hello"}}})
	platform := sinktest.New(t, "run_relay", relaySecret)
	h := newHarness(t, map[string]string{"APPSTRATE_SINK_URL": platform.URL, "APPSTRATE_SINK_FINALIZE_URL": platform.FinalizeURL,
		"PI_BASE_URL": model.BaseURL(llmtest.Anthropic), "PI_API_KEY": "sk-real-key", "PI_PLACEHOLDER": "sk-placeholder",
		"MODEL_API": llmtest.Anthropic})
	gate := make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { close(gate) }) }
	t.Cleanup(open) // before the fake platform's server closes (cleanups run last-in first-out)
	h.platform.mu.Lock()
	h.platform.usageGate = gate
	h.platform.mu.Unlock()

	llmClient, err := llm.New(llmtest.Anthropic, llm.Config{BaseURL: h.server.URL + "/llm", APIKey: "sk-placeholder",
		Header: http.Header{"X-Sidecar-Token": {testSCToken}}})
	if err != nil {
		t.Fatal(err)
	}
	req := llm.Request{Model: "model-x", System: "sys", Messages: []llm.Message{llm.UserText("hi")}}
	if _, err := llmClient.Stream(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	client, err := sink.NewClient(sink.ClientConfig{RunID: "run_relay", URL: h.server.URL + "/sink/events",
		FinalizeURL: h.server.URL + "/sink/events/finalize", Secret: relaySecret, HTTPClient: h.server.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	finalized := make(chan error, 1)
	go func() { finalized <- client.Finalize(context.Background(), sink.RunResult{Status: "success"}) }()
	select {
	case err := <-finalized:
		t.Fatalf("the finalize went through while the usage report was pending (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, _, ok := platform.Result(); ok {
		t.Fatal("the platform got the finalize before the usage report")
	}
	open()
	if rep := h.platform.nextUsage(t); rep.Usage.InputTokens == 0 {
		t.Errorf("usage report = %+v", rep)
	}
	if err := <-finalized; err != nil {
		t.Fatal(err)
	}
	if res, _, ok := platform.Result(); !ok || res.Status != "success" {
		t.Errorf("finalize not accepted: %+v %v", res, ok)
	}
}

func TestSinkRelayRefusesOtherRequests(t *testing.T) {
	platform := sinktest.New(t, "run_relay", relaySecret)
	h := newHarness(t, map[string]string{"APPSTRATE_SINK_URL": platform.URL, "APPSTRATE_SINK_FINALIZE_URL": platform.FinalizeURL})
	unconfigured := newHarness(t, nil)
	for _, tc := range []struct {
		name, base, method, path string
		want                     int
	}{
		{"other path", h.server.URL, http.MethodPost, "/sink/other", http.StatusNotFound},
		{"escape", h.server.URL, http.MethodPost, "/sink/events/../../internal/credentials/x", http.StatusNotFound},
		{"query", h.server.URL, http.MethodPost, "/sink/events?x=1", http.StatusNotFound},
		{"GET", h.server.URL, http.MethodGet, "/sink/events", http.StatusMethodNotAllowed},
		{"not configured", unconfigured.server.URL, http.MethodPost, "/sink/events", http.StatusServiceUnavailable},
		{"unsigned", h.server.URL, http.MethodPost, "/sink/events", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.base+tc.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/cloudevents+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
			}
		})
	}
	if len(platform.Events()) != 0 {
		t.Errorf("platform accepted events: %v", platform.Events())
	}
}

func TestSinkRelayConfigNeedsBothURLs(t *testing.T) {
	platform := sinktest.New(t, "run_relay", relaySecret)
	for _, env := range []map[string]string{{"APPSTRATE_SINK_URL": platform.URL}, {"APPSTRATE_SINK_FINALIZE_URL": platform.FinalizeURL},
		{"APPSTRATE_SINK_URL": "ftp://x", "APPSTRATE_SINK_FINALIZE_URL": platform.FinalizeURL}} {
		if _, err := sidecar.LoadConfig(mapEnv(env)); err == nil {
			t.Errorf("config %v accepted", env)
		}
	}
}
