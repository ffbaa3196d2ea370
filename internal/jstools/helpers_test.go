package jstools

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPackage is the package testdata/packages/<name> with the id "@test/<name>".
func testPackage(name, entrypoint string) Package {
	return Package{ID: "@test/" + name, Dir: filepath.Join("testdata", "packages", name), Entrypoint: entrypoint}
}

var (
	calcPackage      = testPackage("calc", "tool.ts")
	lifecyclePackage = testPackage("lifecycle", "tool.js")
	typeboxPackage   = testPackage("typebox", "tool.ts")
)

// requireNode fails the test when node is missing: the tests host real tools in the real runtime.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH; these tests need Node.js >= 18 (Debian package nodejs)")
	}
}

// logBuffer is a concurrency-safe slog destination the test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startHost starts a host in a test scratch dir, logging into the returned buffer; it is closed at the end.
func startHost(t *testing.T, opts Options) (*Host, *logBuffer) {
	t.Helper()
	requireNode(t)
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.ScratchDir == "" {
		opts.ScratchDir = t.TempDir()
	}
	h, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, logs
}

// call calls a tool and fails the test on a call error.
func call(t *testing.T, h *Host, tool, params string) Result {
	t.Helper()
	r, err := h.Call(context.Background(), tool, "toolu_"+tool, json.RawMessage(params))
	if err != nil {
		t.Fatalf("Call(%s): %v", tool, err)
	}
	return r
}

// nextEvent waits for the next event (the test's own deadline bounds it).
func nextEvent(t *testing.T, h *Host) map[string]any {
	t.Helper()
	select {
	case raw, ok := <-h.Events():
		if !ok {
			t.Fatal("Events closed")
		}
		var event map[string]any
		if err := json.Unmarshal(raw, &event); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		return event
	case <-time.After(time.Minute):
		t.Fatal("no event within a minute")
	}
	return nil
}

// waitFor polls cond until it holds (bounded by a minute, not asserted as a duration).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func toolNames(tools []Tool) string {
	names := make([]string, len(tools))
	for i, tool := range tools {
		names[i] = tool.Name
	}
	return strings.Join(names, ",")
}
