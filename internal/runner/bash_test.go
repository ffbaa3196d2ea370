//go:build unix

package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBash(t *testing.T) {
	w, _ := newTestWorkspace(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "GREETING=hi"}
	tool := bashTool(w, env)
	tests := []struct {
		args, want string
		ok         bool
	}{
		{`{"command":"echo $GREETING; pwd"}`, "hi\n" + w.Dir() + "\n", true},
		{`{"command":"echo out; echo err >&2"}`, "out\nerr\n", true},
		{`{"command":"true"}`, "(no output)", true},
		{`{"command":"echo failing; exit 3"}`, "failing\n\nCommand exited with code 3", false},
		{`{"command":"sleep 5","timeout":0.2}`, "\n\nCommand timed out after 200ms and was killed", false},
		{`{"command":"  "}`, `Invalid arguments: "command" is required`, false},
		{`{"command":"ls","timeout":-1}`, `Invalid arguments: "timeout" must be a positive number of seconds`, false},
		{`{"command":["ls"]}`, `Invalid arguments: "command" must be a string, got array`, false},
	}
	for _, tt := range tests {
		out, err := callTool(t, tool, tt.args)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("bash %s = %q, %v\nwant %q", tt.args, got, err, tt.want)
		}
	}
}

func TestBashKeepsTheTailOfLongOutput(t *testing.T) {
	w, _ := newTestWorkspace(t)
	out, err := callTool(t, bashTool(w, []string{"PATH=" + os.Getenv("PATH")}), `{"command":"seq 1 100000"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "[output truncated: the first ") || !strings.HasSuffix(out, "\n99999\n100000\n") ||
		len(out) > bashMaxOutput+100 {
		t.Fatalf("output of %d bytes: %q…%q", len(out), preview(out, 80), out[len(out)-20:])
	}
}

// The timeout kills the whole process group, background children included.
func TestBashTimeoutKillsTheGroup(t *testing.T) {
	w, _ := newTestWorkspace(t)
	tool := bashTool(w, []string{"PATH=" + os.Getenv("PATH")})
	_, err := callTool(t, tool, `{"command":"sleep 30 & echo $! > child.pid; wait","timeout":0.5}`)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("bash = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(w.Dir(), "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A command that leaves a background process holding its output returns once the command itself ended.
func TestBashReturnsWhenABackgroundChildHoldsTheOutput(t *testing.T) {
	w, _ := newTestWorkspace(t)
	out, err := callTool(t, bashTool(w, []string{"PATH=" + os.Getenv("PATH")}), `{"command":"(sleep 30; echo late) & echo $! > bg.pid; echo started"}`)
	if err != nil || out != "started\n" {
		t.Fatalf("bash = %q, %v", out, err)
	}
	data, _ := os.ReadFile(filepath.Join(w.Dir(), "bg.pid"))
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func TestBashInterruptedByTheRun(t *testing.T) {
	w, _ := newTestWorkspace(t)
	tool := bashTool(w, []string{"PATH=" + os.Getenv("PATH")})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := tool.Call(ctx, []byte(`{"command":"sleep 30"}`))
	if err == nil || !strings.Contains(err.Error(), "Command interrupted: context canceled") {
		t.Fatalf("bash = %v", err)
	}
}

func TestScrubbedEnv(t *testing.T) {
	got := ScrubbedEnv([]string{"PATH=/bin", "APPSTRATE_SINK_SECRET=s", "SIDECAR_TOKEN=t", "MODEL_API_KEY=k",
		"AGENT_PROMPT=p", "HTTPS_PROXY=http://sidecar:8081", "HOME=/home/x"})
	if strings.Join(got, " ") != "PATH=/bin HTTPS_PROXY=http://sidecar:8081 HOME=/home/x" {
		t.Fatalf("ScrubbedEnv = %v", got)
	}
}
