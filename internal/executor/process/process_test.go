package process_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/executor/process"
)

// The test binary doubles as the runner and the sidecar: TestMain plays the role named by EXECTEST_ROLE.
func TestMain(m *testing.M) {
	switch os.Getenv("EXECTEST_ROLE") {
	case "runner":
		os.Exit(fakeRunner())
	case "sidecar":
		os.Exit(fakeSidecar())
	}
	os.Exit(m.Run())
}

func fakeRunner() int {
	out := os.Getenv("EXECTEST_OUT")
	switch os.Getenv("EXECTEST_MODE") {
	case "env":
		files, _ := os.ReadFile("hello.txt")
		cwd, _ := os.Getwd()
		report := map[string]any{"env": os.Environ(), "file": string(files), "cwd": cwd}
		if sock := os.Getenv("SIDECAR_SOCKET"); sock != "" {
			c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
			resp, err := c.Get("http://sidecar/health")
			if err == nil {
				report["sidecarStatus"] = resp.StatusCode
				resp.Body.Close()
			}
		}
		b, _ := json.Marshal(report)
		_ = os.WriteFile(out, b, 0o600)
		return 0
	case "exit3":
		return 3
	case "hang":
		child := exec.Command("sleep", "1000")
		_ = child.Start()
		_ = os.WriteFile(out, []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		signal.Ignore(syscall.SIGTERM) // the executor has to escalate to SIGKILL
		select {}
	}
	return 0
}

func fakeSidecar() int {
	addr := strings.TrimPrefix(os.Getenv("SIDECAR_LISTEN"), "unix:")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok","proxy":"127.0.0.1:18081"}`))
	})
	_ = http.Serve(ln, mux)
	return 0
}

// unlimited leaves the memory of the (race-instrumented) test binary unbounded.
var unlimited = executor.Limits{MemoryBytes: -1}

func newExecutor(t *testing.T) *process.Executor {
	t.Helper()
	return &process.Executor{
		RunsDir:   filepath.Join(t.TempDir(), "runs"),
		KillGrace: 200 * time.Millisecond,
		Command: func(role string) (string, []string) {
			return os.Args[0], []string{"-test.run=^$"}
		},
	}
}

func TestRunnerGetsOnlyItsEnvironmentAndFiles(t *testing.T) {
	t.Setenv("APPSTRATE_SERVER_SECRET", "must-not-leak")
	e := newExecutor(t)
	out := filepath.Join(t.TempDir(), "report.json")
	spec := executor.Spec{
		RunID:      "run_env",
		Files:      map[string][]byte{"hello.txt": []byte("hi"), "documents/a.txt": []byte("a")},
		Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "env", "EXECTEST_OUT": out, "AGENT_RUN_ID": "run_env"},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "PI_API_KEY": "sk-real"},
		Timeout:    time.Minute,
		Limits:     unlimited,
	}
	h, err := e.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	res := h.Wait(context.Background())
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	var report struct {
		Env           []string `json:"env"`
		File          string   `json:"file"`
		Cwd           string   `json:"cwd"`
		SidecarStatus int      `json:"sidecarStatus"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatal(err)
	}
	env := strings.Join(report.Env, "\n")
	for _, leak := range []string{"APPSTRATE_SERVER_SECRET", "must-not-leak", "sk-real"} {
		if strings.Contains(env, leak) {
			t.Errorf("runner environment leaks %q:\n%s", leak, env)
		}
	}
	for _, want := range []string{"AGENT_RUN_ID=run_env", "SIDECAR_URL=http://sidecar", "MODEL_BASE_URL=http://sidecar/llm",
		"HTTP_PROXY=http://127.0.0.1:18081", "SIDECAR_TOKEN=", "WORKSPACE_DIR="} {
		if !strings.Contains(env, want) {
			t.Errorf("runner environment lacks %q:\n%s", want, env)
		}
	}
	if report.File != "hi" || !strings.HasSuffix(report.Cwd, "/run_env/workspace") {
		t.Errorf("file = %q, cwd = %q", report.File, report.Cwd)
	}
	if report.SidecarStatus != http.StatusOK {
		t.Errorf("sidecar through SIDECAR_SOCKET answered %d", report.SidecarStatus)
	}
	if _, err := os.Stat(filepath.Join(e.RunsDir, "run_env")); !os.IsNotExist(err) {
		t.Errorf("run directory not removed after the run: %v", err)
	}
}

func TestExitCodeIsReported(t *testing.T) {
	e := newExecutor(t)
	h, err := e.Start(context.Background(), executor.Spec{RunID: "run_exit",
		Env: map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "exit3"}, Timeout: time.Minute, Limits: unlimited})
	if err != nil {
		t.Fatal(err)
	}
	if res := h.Wait(context.Background()); res.ExitCode != 3 {
		t.Fatalf("result = %+v, want exit code 3", res)
	}
}

func TestKillStopsTheWholeGroup(t *testing.T) {
	e := newExecutor(t)
	out := filepath.Join(t.TempDir(), "child.pid")
	h, err := e.Start(context.Background(), executor.Spec{RunID: "run_kill",
		Env: map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "hang", "EXECTEST_OUT": out}, Timeout: time.Minute, Limits: unlimited})
	if err != nil {
		t.Fatal(err)
	}
	child := waitPidFile(t, out)
	h.Kill()
	h.Kill() // idempotent
	res := h.Wait(context.Background())
	if res.ExitCode == 0 {
		t.Fatalf("killed runner reported success: %+v", res)
	}
	waitGone(t, child)
}

func TestBadWorkspacePathIsRefused(t *testing.T) {
	e := newExecutor(t)
	for _, name := range []string{"../escape", "/etc/passwd", "a/../../b", ""} {
		_, err := e.Start(context.Background(), executor.Spec{RunID: "run_bad", Files: map[string][]byte{name: nil},
			Env: map[string]string{"EXECTEST_ROLE": "runner"}})
		if err == nil {
			t.Errorf("file %q accepted", name)
		}
	}
	if _, err := os.Stat(filepath.Join(e.RunsDir, "run_bad")); !os.IsNotExist(err) {
		t.Errorf("run directory left behind after a refused start")
	}
	if _, err := e.Start(context.Background(), executor.Spec{RunID: "../x"}); err == nil {
		t.Error("run id with a path accepted")
	}
}

func TestSidecarThatDiesFailsTheStart(t *testing.T) {
	e := newExecutor(t)
	_, err := e.Start(context.Background(), executor.Spec{RunID: "run_sc",
		Env:        map[string]string{"EXECTEST_ROLE": "runner"},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "exit3"}})
	if err == nil || !strings.Contains(err.Error(), "sidecar exited with code 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestReapKillsLeftovers(t *testing.T) {
	e := newExecutor(t)
	dir := filepath.Join(e.RunsDir, "run_old")
	if err := os.MkdirAll(filepath.Join(dir, "workspace"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "1000")
	cmd.Dir = filepath.Join(dir, "workspace")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, "runner.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A pid file naming a process that is not the run's (here: the test itself) must not be acted on.
	if err := os.WriteFile(filepath.Join(dir, "sidecar.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := e.Reap()
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	waitGone(t, cmd.Process.Pid)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("stale directory not removed")
	}
}

func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			pid, _ := strconv.Atoi(string(b))
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("runner never wrote its child's pid")
	return 0
}

// waitGone waits until pid no longer runs (zombies count as gone).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still alive", pid)
}

func TestRunnerLimitsAreApplied(t *testing.T) {
	e := newExecutor(t)
	e.Command = func(string) (string, []string) { return "/bin/sh", []string{"-c", "exec sleep 1000"} }
	h, err := e.Start(context.Background(), executor.Spec{RunID: "run_limits", Timeout: time.Minute,
		Limits: executor.Limits{MemoryBytes: 256 << 20, FileBytes: 1 << 20, CPUSeconds: 30}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Wait(context.Background())
	defer h.Kill()
	b, err := os.ReadFile(filepath.Join(e.RunsDir, "run_limits", "runner.pid"))
	if err != nil {
		t.Fatal(err)
	}
	limits, err := os.ReadFile("/proc/" + string(b) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Max data size             268435456            268435456",
		"Max file size             1048576              1048576",
		"Max cpu time              30                   30",
		"Max core file size        0                    0",
	} {
		if !strings.Contains(string(limits), want) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
}
