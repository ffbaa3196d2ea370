package cli

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRunFlagChecks: flag problems fail before any request, with exit 1 and a message naming the flag.
func TestRunFlagChecks(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"@acme/echo", "--local", "--remote"}, []string{"--local and --remote are mutually exclusive"}},
		{[]string{"./agent.afps", "--remote"}, []string{"--remote does not support local bundle paths"}},
		{[]string{"@acme/echo", "-v", "-q"}, []string{"--verbose and --quiet are mutually exclusive"}},
		{[]string{"@acme/echo", "--report", "maybe"}, []string{`--report must be auto, true or false, not "maybe"`}},
		{[]string{"@acme/echo", "--report-fallback", "retry"}, []string{"--report-fallback must be abort or console"}},
		{[]string{"@acme/echo", "--local", "--sink-ttl", "0"}, []string{"--sink-ttl must be a positive integer"}},
		{[]string{"@acme/echo", "--preflight-timeout", "soon"}, []string{"--preflight-timeout must be a positive integer"}},
		{[]string{"@acme/echo", "--providers", "all"}, []string{"--providers must be remote, local or none"}},
		{[]string{"@acme/echo", "--llm-api-key", "k", "--sink-ttl", "60", "--providers", "none"},
			[]string{"apply to local runs only", "--llm-api-key: the platform calls the model", "--sink-ttl:", "--providers:"}},
		{[]string{"@Acme/echo"}, []string{`"@Acme/echo" is not a valid package id`}},
		{[]string{"./a.afps", "--version", "1.0.0"}, []string{"--version applies to a registry agent"}},
		{[]string{"@acme/echo", "--input", "oops"}, []string{`--input "oops": expected a JSON object, key=value or key:=<json>`}},
		{[]string{"@acme/echo", "--input", "a=1", "--input-file", "x.json"}, []string{"--input and --input-file are mutually exclusive"}},
		{[]string{"@acme/echo", "--input-file", "/nonexistent/x.json"}, []string{"--input-file: open /nonexistent/x.json"}},
	}
	f := newFakeInstance(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "unexpected", http.StatusTeapot) })
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut := f.run(1, append([]string{"run"}, tt.args...)...)
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
	if len(f.reqs) != 0 {
		t.Fatalf("requests were sent: %d", len(f.reqs))
	}
}

// remoteRunServer is a platform that runs one agent remotely: it answers the trigger (once with 503 first),
// refuses the realtime stream (the CLI polls), serves the log rows in two batches and the run record.
type remoteRunServer struct {
	mu        sync.Mutex
	triggers  int
	trigger   *http.Request
	body      map[string]any
	logCalls  int
	cancelled bool
	final     string // the status the run ends with on its own ("" = it keeps running until cancelled)
	onLogs    func(n int)
}

var remoteLogRows = []string{
	`{"id":1,"runId":"run_1","type":"progress","event":"progress","message":"runtime ready in 3ms","data":{"runtimeProtocolVersion":"2.0"},"level":"info","createdAt":"2025-01-02T03:04:05.000Z"}`,
	`{"id":2,"runId":"run_1","type":"progress","event":"progress","message":"Tool: bash","data":{"tool":"bash","args":{"command":"ls"},"toolCallId":"call_abcdef123456"},"level":"debug","createdAt":"2025-01-02T03:04:05.100Z"}`,
	`{"id":3,"runId":"run_1","type":"progress","event":"progress","message":"Tool result: bash","data":{"tool":"bash","result":"a\nb","isError":false,"toolCallId":"call_abcdef123456"},"level":"debug","createdAt":"2025-01-02T03:04:05.200Z"}`,
	`{"id":4,"runId":"run_1","type":"result","event":"output","message":null,"data":{"answer":42},"level":"info","createdAt":"2025-01-02T03:04:05.300Z"}`,
	`{"id":5,"runId":"run_1","type":"result","event":"report","message":null,"data":{"content":"# Report\nAll good."},"level":"info","createdAt":"2025-01-02T03:04:05.400Z"}`,
	`{"id":6,"runId":"run_1","type":"system","event":"run_completed","message":"Run success","data":{},"level":"info","createdAt":"2025-01-02T03:04:05.500Z"}`,
}

func (s *remoteRunServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/agents/@acme/echo/run":
		s.triggers++
		if s.triggers == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.trigger = r.Clone(r.Context())
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &s.body)
		_, _ = w.Write([]byte(`{"runId":"run_1"}`))
	case strings.HasPrefix(r.URL.Path, "/api/realtime/"):
		http.Error(w, `{"detail":"no stream here"}`, http.StatusNotFound)
	case r.URL.Path == "/api/runs/run_1/logs":
		s.logCalls++
		if s.onLogs != nil {
			s.onLogs(s.logCalls)
		}
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		available := len(remoteLogRows)
		if s.logCalls == 1 {
			available = 2 // the rest is written later
		}
		var rows []string
		for i := since; i < available; i++ { // row i has id i+1
			rows = append(rows, remoteLogRows[i])
		}
		_, _ = w.Write([]byte("[" + strings.Join(rows, ",") + "]"))
	case r.Method == http.MethodGet && r.URL.Path == "/api/runs/run_1":
		status := "running"
		switch {
		case s.cancelled:
			status = "cancelled"
		case s.final != "" && s.logCalls >= 2:
			status = s.final
		}
		rec := map[string]any{"id": "run_1", "status": status, "duration": 1234, "cost": 0.0123,
			"tokenUsage": map[string]any{"input_tokens": 100, "output_tokens": 20}}
		if status == "success" {
			rec["result"] = map[string]any{"output": map[string]any{"answer": 42}}
		} else if status == "cancelled" {
			rec["error"] = "Cancelled by user"
		}
		_ = json.NewEncoder(w).Encode(rec)
	case r.Method == http.MethodPost && r.URL.Path == "/api/runs/run_1/cancel":
		s.cancelled = true
		_, _ = w.Write([]byte(`{"ok":true}`))
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
	}
}

func fastPolling(t *testing.T) {
	old := runPollEvery
	runPollEvery = 5 * time.Millisecond
	t.Cleanup(func() { runPollEvery = old })
}

// TestRunRemoteHumanOutput: the trigger carries the input, config and Idempotency-Key (retried after a
// 503), the log rows become the human lines of A10.3 (golden), --output gets the RunResult, exit 0.
func TestRunRemoteHumanOutput(t *testing.T) {
	fastPolling(t)
	s := &remoteRunServer{final: "success"}
	f := newFakeInstance(t, s.handle)
	out := filepath.Join(f.home, "result.json")
	stdout, stderr := f.run(0, "run", "@acme/echo", "--input", `{"q":"hi"}`, "--input", "n:=2", "--config", "tone=calm",
		"--run-id", "cli_1_abcd", "--output", out)
	golden(t, "run_remote_human.golden", stdout)
	if !strings.Contains(stderr, "→ running @acme/echo (reporting to "+f.url+" as run_1)") {
		t.Fatalf("stderr %q", stderr)
	}
	if s.triggers != 2 || s.trigger.Header.Get("Idempotency-Key") != "cli_1_abcd" ||
		s.trigger.Header.Get("Authorization") != "Bearer "+f.token || s.trigger.Header.Get("X-Application-Id") != "app_1" {
		t.Fatalf("trigger %d %v", s.triggers, s.trigger.Header)
	}
	b, _ := json.Marshal(s.body)
	if string(b) != `{"config":{"tone":"calm"},"input":{"n":2,"q":"hi"}}` {
		t.Fatalf("trigger body %s", b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil || res["status"] != "success" || res["error"] != nil ||
		res["output"].(map[string]any)["answer"] != float64(42) {
		t.Fatalf("--output %s", raw)
	}
}

// TestRunRemoteFailedRunExitsOne: a run that ends failed exits 1, and --json prints only JSON lines.
func TestRunRemoteFailedRunExitsOne(t *testing.T) {
	fastPolling(t)
	s := &remoteRunServer{final: "failed"}
	f := newFakeInstance(t, s.handle)
	stdout, _ := f.run(1, "run", "@acme/echo", "--json")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last map[string]any
	for _, l := range lines {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
	}
	res := last["result"].(map[string]any)
	if last["type"] != "appstrate.finalize" || res["status"] != "failed" ||
		res["error"].(map[string]any)["code"] != "remote_run_error" {
		t.Fatalf("last line %v", last)
	}
}

// TestRunRemoteCtrlC: the first interrupt cancels the run on the platform; the CLI follows it to its end
// and exits 130.
func TestRunRemoteCtrlC(t *testing.T) {
	fastPolling(t)
	sigs := make(chan os.Signal, 2)
	old := runInterrupts
	runInterrupts = func() (<-chan os.Signal, func()) { return sigs, func() {} }
	t.Cleanup(func() { runInterrupts = old })
	s := &remoteRunServer{}
	s.onLogs = func(n int) {
		if n == 2 {
			sigs <- syscall.SIGINT
		}
	}
	f := newFakeInstance(t, s.handle)
	stdout, stderr := f.run(130, "run", "@acme/echo", "--json")
	if !s.cancelled || !strings.Contains(stderr, "cancelling run_1") {
		t.Fatalf("cancelled %v, stderr %q", s.cancelled, stderr)
	}
	if !strings.Contains(stdout, `"status":"cancelled"`) || !strings.HasSuffix(strings.TrimSpace(stdout), `"type":"appstrate.finalize"}`) {
		t.Fatalf("stdout %s", stdout)
	}
	if n := len(f.requests("/api/runs/run_1/cancel")); n != 1 {
		t.Fatalf("%d cancel requests", n)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<name> (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
