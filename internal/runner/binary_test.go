//go:build unix

package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/sink/sinktest"
)

// TestBinary builds the real `appstrate` binary and runs `appstrate runner` as the platform does: environment
// only, the sidecar (MCP and the model behind /llm) on a unix socket, the sink over HTTP.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "appstrate")
	build := exec.Command("go", "build", "-o", bin, "github.com/appstrate/appstrate-go/cmd/appstrate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("run to completion", func(t *testing.T) { testBinaryRun(t, bin) })
	t.Run("SIGTERM cancels", func(t *testing.T) { testBinarySIGTERM(t, bin) })
	t.Run("bad environment", func(t *testing.T) {
		cmd := exec.Command(bin, "runner")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "MODEL_API=google-vertex", "APPSTRATE_SINK_SECRET=short"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if exitCode(err) != 1 {
			t.Fatalf("exit %v, want 1", err)
		}
		for _, want := range []string{"AGENT_RUN_ID is required", `MODEL_API "google-vertex" is not supported`,
			"APPSTRATE_SINK_SECRET must be at least 16 characters"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		}
	})
}

// binaryEnv is the environment the executor gives the runner.
func binaryEnv(platform *sinktest.Platform, workspace, socket string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"AGENT_RUN_ID=" + testRunID,
		"AGENT_PROMPT_FILE=.prompt.md",
		"MODEL_API=anthropic-messages",
		"MODEL_ID=claude-test",
		"MODEL_BASE_URL=http://sidecar/llm",
		"MODEL_API_KEY=" + testKey,
		`MODEL_COST={"input":3,"output":15}`,
		"OUTPUT_SCHEMA=" + testOutputSchema,
		"CONNECTED_PROVIDERS=notion",
		`AGENT_TOOLS=["@appstrate/output","pin"]`,
		"APPSTRATE_SINK_URL=" + platform.URL,
		"APPSTRATE_SINK_FINALIZE_URL=" + platform.FinalizeURL,
		"APPSTRATE_SINK_SECRET=" + testSecret,
		"APPSTRATE_HEARTBEAT_INTERVAL_MS=20",
		"TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"WORKSPACE_DIR=" + workspace,
		"SIDECAR_URL=http://sidecar",
		"SIDECAR_SOCKET=" + socket,
		"SIDECAR_TOKEN=" + sidecarToken,
	}
}

func testBinaryRun(t *testing.T, bin string) {
	platform := sinktest.New(t, testRunID, testSecret)
	waitHeartbeat := func(r llmtest.Request) llmtest.Turn {
		deadline := time.Now().Add(20 * time.Second)
		for platform.Heartbeats() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return llmtest.Turn{Text: "Finished."}
	}
	sc := newFakeSidecar(llmtest.Script{APIKey: testKey, Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{
			{Name: "bash", Args: `{"command":"echo \"[$APPSTRATE_SINK_SECRET$SIDECAR_TOKEN$MODEL_API_KEY$AGENT_PROMPT]\"; cat .prompt.md"}`},
			{Name: "provider_call", Args: `{"providerId":"notion","target":"https://api.notion.com/v1/users/me"}`},
		}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "output", Args: `{"data":{"summary":"from the binary"}}`},
			{Name: "pin", Args: `{"key":"checkpoint","content":{"done":true}}`},
		}},
		{Reply: waitHeartbeat},
	}})
	socket := serveUnix(t, sc)
	workspace := t.TempDir()
	if err := os.WriteFile(filepath.Join(workspace, ".prompt.md"), []byte(testPrompt), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "runner")
	cmd.Env = binaryEnv(platform, workspace, socket)
	cmd.Dir = workspace
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runner: %v\n%s", err, stderr.String())
	}

	res, _, ok := platform.Result()
	if !ok || res.Error != nil || res.Status != "" {
		t.Fatalf("result %+v\nstderr:\n%s", res, stderr.String())
	}
	if string(res.Output) != `{"summary":"from the binary"}` || string(res.Pinned["checkpoint"].Content) != `{"done":true}` ||
		res.Usage == nil || res.Usage.InputTokens != 300 || res.Cost == nil || *res.Cost != 0.0018 {
		t.Fatalf("result %+v", res)
	}
	if r := platform.Rejected(); len(r) != 0 {
		t.Fatalf("rejected: %v", r)
	}
	if platform.Heartbeats() == 0 {
		t.Fatal("no heartbeat reached the platform")
	}
	for _, tp := range platform.Traceparents() {
		if !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
			t.Fatalf("traceparent %q does not continue TRACEPARENT", tp)
		}
	}
	reqs := sc.llm.Requests()
	if len(reqs) != 3 || reqs[0].System != testPrompt || reqs[0].Header.Get("X-Sidecar-Token") != sidecarToken {
		t.Fatalf("model requests through the sidecar: %d", len(reqs))
	}
	if got := strings.Join(reqs[0].Tools, ","); got != "read,write,edit,bash,ls,grep,find,output,pin,provider_call,run_history,recall_memory" {
		t.Fatalf("tools %s", got)
	}
	bashResult := reqs[1].LastToolResults()[0].Content
	if !strings.HasPrefix(bashResult, "[]\n") || !strings.Contains(bashResult, "Summarise the notes.") {
		t.Fatalf("bash saw the runner's secrets or not the prompt file: %q", bashResult)
	}
	if calls := sc.recorded(); len(calls) != 1 || !strings.HasPrefix(calls[0], "provider_call ") {
		t.Fatalf("sidecar calls %v", calls)
	}
	types := map[string]int{}
	for _, e := range platform.Events() {
		types[e.Type]++
	}
	if types["output.emitted"] != 1 || types["pinned.set"] != 1 || types["appstrate.metric"] != 3 {
		t.Fatalf("event types %v", types)
	}
}

func testBinarySIGTERM(t *testing.T, bin string) {
	platform := sinktest.New(t, testRunID, testSecret)
	sc := newFakeSidecar(llmtest.Script{APIKey: testKey, Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"touch started; sleep 60"}`}}},
		{Text: "never"},
	}})
	socket := serveUnix(t, sc)
	workspace := t.TempDir()
	if err := os.WriteFile(filepath.Join(workspace, ".prompt.md"), []byte(testPrompt), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "runner")
	cmd.Env = binaryEnv(platform, workspace, socket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, err := os.Stat(filepath.Join(workspace, "started")); err == nil {
			break
		}
		if ctx.Err() != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("the bash tool never started\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if exitCode(err) != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, stderr.String())
	}
	res, raw, ok := platform.Result()
	if !ok || res.Status != "cancelled" || res.Error == nil || res.Error.Message != "Run cancelled: received SIGTERM" {
		t.Fatalf("finalize %s", raw)
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	if _, ok := fields["durationMs"]; !ok {
		t.Fatalf("finalize without durationMs: %s", raw)
	}
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	}
	return -1
}
