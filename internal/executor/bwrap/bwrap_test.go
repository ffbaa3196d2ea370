package bwrap_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
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
	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
)

// The test binary doubles as sandbox-init, the runner and the sidecar: TestMain plays the role named by its
// first argument (sandbox-init) or by EXECTEST_ROLE.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bwrap.InitCommand {
		os.Exit(bwrap.SandboxInit(os.Args[2:], os.Stderr))
	}
	switch os.Getenv("EXECTEST_ROLE") {
	case "runner":
		os.Exit(fakeRunner())
	case "sidecar":
		os.Exit(fakeSidecar())
	}
	os.Exit(m.Run())
}

// report is what the fake runner observed inside the sandbox.
type report struct {
	Env          []string          `json:"env"`
	Cwd          string            `json:"cwd"`
	UID          int               `json:"uid"`
	Files        map[string]string `json:"files"`        // workspace files read
	Reads        map[string]string `json:"reads"`        // path → content or error, for paths outside
	Writes       map[string]string `json:"writes"`       // path → "ok" or error
	Dials        map[string]string `json:"dials"`        // address → "ok" or error
	Proc1Environ string            `json:"proc1Environ"` // /proc/1/environ inside
	Proc1Cmdline string            `json:"proc1Cmdline"`
	Pids         []string          `json:"pids"` // /proc entries that are processes
	Limits       string            `json:"limits"`
	ViaProxy     string            `json:"viaProxy"` // answer of a request through HTTP_PROXY
	Resolve      string            `json:"resolve"`
}

func sidecarClient() *http.Client {
	sock := os.Getenv("SIDECAR_SOCKET")
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

// send posts the report to the fake sidecar, which writes it where the test reads it.
func send(r any) {
	b, _ := json.Marshal(r)
	resp, err := sidecarClient().Post("http://sidecar/report", "application/json", strings.NewReader(string(b)))
	if err == nil {
		resp.Body.Close()
	}
}

func fakeRunner() int {
	switch os.Getenv("EXECTEST_MODE") {
	case "observe":
		send(observe())
		return 0
	case "exit3":
		return 3
	case "ping": // one request to the sidecar, as a runner's first model request would be
		send(map[string]string{"ping": "1"})
		return 0
	case "hang", "graceful":
		child := exec.Command("sleep", os.Getenv("EXECTEST_SLEEP"))
		_ = child.Start()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		if os.Getenv("EXECTEST_MODE") == "hang" {
			signal.Ignore(syscall.SIGTERM) // the executor has to escalate to SIGKILL
		}
		<-sig
		send(map[string]string{"got": "SIGTERM"})
		return 7
	}
	return 0
}

func observe() report {
	r := report{Env: os.Environ(), UID: os.Getuid(), Files: map[string]string{}, Reads: map[string]string{},
		Writes: map[string]string{}, Dials: map[string]string{}}
	r.Cwd, _ = os.Getwd()
	for _, f := range []string{"hello.txt", "documents/a.txt"} {
		b, err := os.ReadFile(f)
		r.Files[f] = result(string(b), err)
	}
	for _, p := range strings.Split(os.Getenv("EXECTEST_READ"), ",") {
		if p != "" {
			b, err := os.ReadFile(p)
			r.Reads[p] = result(string(b), err)
		}
	}
	for _, p := range []string{"/etc/owned", "/usr/owned", "/owned", "/tmp/owned", "/workspace/owned", "/run/appstrate/owned"} {
		r.Writes[p] = result("ok", os.WriteFile(p, []byte("x"), 0o600))
	}
	for _, a := range strings.Split(os.Getenv("EXECTEST_DIAL"), ",") {
		if a != "" {
			c, err := net.DialTimeout("tcp", a, 2*time.Second)
			if err == nil {
				c.Close()
			}
			r.Dials[a] = result("ok", err)
		}
	}
	b, _ := os.ReadFile("/proc/1/environ")
	r.Proc1Environ = string(b)
	b, _ = os.ReadFile("/proc/1/cmdline")
	r.Proc1Cmdline = strings.ReplaceAll(string(b), "\x00", " ")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			r.Pids = append(r.Pids, e.Name())
		}
	}
	b, _ = os.ReadFile("/proc/self/limits")
	r.Limits = string(b)
	if proxy := os.Getenv("HTTP_PROXY"); proxy != "" {
		u, _ := url.Parse(proxy)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}, Timeout: 5 * time.Second}
		resp, err := c.Get("http://example.test/through")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.ViaProxy = string(body)
		} else {
			r.ViaProxy = err.Error()
		}
	}
	_, err := net.LookupHost("example.com")
	r.Resolve = result("resolved", err)
	return r
}

func result(ok string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return ok
}

// fakeSidecar serves /health and /report on SIDECAR_LISTEN, and on SIDECAR_PROXY_LISTEN a "proxy" that
// answers every request with its target.
func fakeSidecar() int {
	api, err := net.Listen("unix", strings.TrimPrefix(os.Getenv("SIDECAR_LISTEN"), "unix:"))
	if err != nil {
		return 2
	}
	proxyPath := strings.TrimPrefix(os.Getenv("SIDECAR_PROXY_LISTEN"), "unix:")
	proxy, err := net.Listen("unix", proxyPath)
	if err != nil {
		return 2
	}
	go func() {
		_ = http.Serve(proxy, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "proxied "+r.URL.String())
		}))
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "proxy": proxyPath})
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if notify := os.Getenv("EXECTEST_NOTIFY"); notify != "" { // a benchmark waits for this request
			if c, err := net.Dial("unix", notify); err == nil {
				c.Close()
			}
			return
		}
		_ = os.WriteFile(os.Getenv("EXECTEST_OUT")+".tmp", b, 0o600)
		_ = os.Rename(os.Getenv("EXECTEST_OUT")+".tmp", os.Getenv("EXECTEST_OUT"))
	})
	_ = http.Serve(api, mux)
	return 0
}

// unlimited leaves the memory of the (race-instrumented) test binary unbounded.
var unlimited = executor.Limits{MemoryBytes: -1}

// newExecutor returns an executor over a runs directory the sandbox user can reach (the tests may run as
// root, when sandboxes run as nobody). It skips the test when bwrap is not installed, and fails it when
// bwrap is there but cannot start sandboxes.
func newExecutor(t *testing.T) *bwrap.Executor {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap (bubblewrap) is not installed: apt-get install bubblewrap to run the namespace executor tests")
	}
	base, err := os.MkdirTemp("", "bwraptest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o711); err != nil {
		t.Fatal(err)
	}
	e := &bwrap.Executor{
		Binary:    os.Args[0],
		RunsDir:   filepath.Join(base, "runs"),
		KillGrace: 500 * time.Millisecond,
		Command: func(role string) (string, []string) {
			if role == "runner" {
				return bwrap.InsideBinary, []string{"-test.run=^$"}
			}
			return os.Args[0], []string{"-test.run=^$"}
		},
	}
	if _, err := e.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never written", path)
	return nil
}

// hostDir is a temporary directory outside /tmp (which the sandbox replaces with its own tmpfs), so that a
// path the sandbox cannot open is really hidden rather than shadowed.
func hostDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "bwraptest-data-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startRun(t *testing.T, e *bwrap.Executor, spec executor.Spec) executor.Handle {
	t.Helper()
	if spec.Timeout == 0 {
		spec.Timeout = time.Minute
	}
	h, err := e.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSandboxSeesOnlyItsWorkspaceEnvironmentAndSidecar(t *testing.T) {
	t.Setenv("APPSTRATE_SERVER_SECRET", "must-not-leak")
	e := newExecutor(t)
	// A canary in a "data directory", another run's directory, and a service on the host's loopback.
	dataDir := hostDir(t)
	canary := filepath.Join(dataDir, "secrets.json")
	if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(e.RunsDir, "run_other", "seed", "secret.txt")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("other run"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	out := filepath.Join(t.TempDir(), "report.json")
	h := startRun(t, e, executor.Spec{
		RunID: "run_observe",
		Files: map[string][]byte{"hello.txt": []byte("hi"), "documents/a.txt": []byte("a")},
		Env: map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "observe", "AGENT_RUN_ID": "run_observe",
			"EXECTEST_READ":      strings.Join([]string{canary, other, "/etc/shadow", "/etc/hostname", os.Args[0]}, ","),
			"EXECTEST_DIAL":      ln.Addr().String() + ",1.1.1.1:53",
			"APPSTRATE_SINK_URL": "http://127.0.0.1:1/api/runs/run_observe/events", "APPSTRATE_SINK_FINALIZE_URL": "http://127.0.0.1:1/api/runs/run_observe/events/finalize"},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_OUT": out, "PI_API_KEY": "sk-real"},
		Limits:     unlimited,
	})
	res := h.Wait(context.Background())
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	var r report
	if err := json.Unmarshal(waitFile(t, out), &r); err != nil {
		t.Fatal(err)
	}
	env := strings.Join(r.Env, "\n")
	for _, leak := range []string{"APPSTRATE_SERVER_SECRET", "must-not-leak", "sk-real"} {
		if strings.Contains(env, leak) || strings.Contains(r.Proc1Environ, leak) || strings.Contains(r.Proc1Cmdline, leak) {
			t.Errorf("sandbox sees %q:\nenv:\n%s\n/proc/1/environ: %q\n/proc/1/cmdline: %q", leak, env, r.Proc1Environ, r.Proc1Cmdline)
		}
	}
	for _, want := range []string{"AGENT_RUN_ID=run_observe", "SIDECAR_URL=http://sidecar", "SIDECAR_SOCKET=/run/appstrate/sidecar.sock",
		"MODEL_BASE_URL=http://sidecar/llm", "HTTP_PROXY=http://127.0.0.1:8081", "SIDECAR_TOKEN=", "WORKSPACE_DIR=/workspace",
		"APPSTRATE_SINK_URL=http://sidecar/sink/events", "APPSTRATE_SINK_FINALIZE_URL=http://sidecar/sink/events/finalize", "HOME=/workspace"} {
		if !strings.Contains(env, want) {
			t.Errorf("sandbox environment lacks %q:\n%s", want, env)
		}
	}
	if r.Proc1Environ != "" || !strings.Contains(r.Proc1Cmdline, "bwrap --args 3 -- /run/appstrate/appstrate sandbox-init ") {
		t.Errorf("pid 1 of the sandbox is not bwrap with an empty environment: environ %q, cmdline %q", r.Proc1Environ, r.Proc1Cmdline)
	}
	if r.UID != bwrap.InsideUID || r.Cwd != bwrap.Workspace {
		t.Errorf("uid %d, cwd %q", r.UID, r.Cwd)
	}
	if r.Files["hello.txt"] != "hi" || r.Files["documents/a.txt"] != "a" {
		t.Errorf("workspace files = %v", r.Files)
	}
	for path, got := range r.Reads {
		if path == "/etc/hostname" {
			continue
		}
		if !strings.HasPrefix(got, "error:") {
			t.Errorf("sandbox read %s: %q", path, got)
		}
	}
	for path, got := range r.Writes {
		allowed := strings.HasPrefix(path, "/tmp/") || strings.HasPrefix(path, "/workspace/")
		if allowed != (got == "ok") {
			t.Errorf("write %s: %s", path, got)
		}
	}
	for addr, got := range r.Dials {
		if got == "ok" {
			t.Errorf("sandbox connected to %s", addr)
		}
	}
	if r.Resolve == "resolved" {
		t.Error("sandbox resolved example.com")
	}
	t.Logf("reads %v\nwrites %v\ndials %v\npids %v\nresolve %s", r.Reads, r.Writes, r.Dials, r.Pids, r.Resolve)
	if len(r.Pids) > 4 {
		t.Errorf("sandbox sees processes %v: not its own pid namespace", r.Pids)
	}
	if r.ViaProxy != "proxied http://example.test/through" {
		t.Errorf("request through HTTP_PROXY: %q", r.ViaProxy)
	}
	if _, err := os.Stat(filepath.Join(e.RunsDir, "run_observe")); !os.IsNotExist(err) {
		t.Errorf("run directory not removed after the run: %v", err)
	}
}

func TestExitCodeIsReported(t *testing.T) {
	e := newExecutor(t)
	h := startRun(t, e, executor.Spec{RunID: "run_exit", Env: map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "exit3"}, Limits: unlimited})
	if res := h.Wait(context.Background()); res.ExitCode != 3 || res.Err != nil {
		t.Fatalf("result = %+v, want exit code 3", res)
	}
}

// sleepers are the host pids of `sleep <marker>` processes.
func sleepers(marker string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && string(b) == "sleep\x00"+marker+"\x00" {
			if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func waitSleepers(t *testing.T, marker string, want bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if (len(sleepers(marker)) > 0) == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("sleep %s processes present = %v, want %v", marker, !want, want)
}

func TestKillStopsTheWholeSandbox(t *testing.T) {
	e := newExecutor(t)
	marker := strconv.Itoa(100000 + os.Getpid()%100000) // a distinctive `sleep` argument
	out := filepath.Join(t.TempDir(), "report.json")
	h := startRun(t, e, executor.Spec{RunID: "run_kill",
		Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "hang", "EXECTEST_SLEEP": marker},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_OUT": out}, Limits: unlimited})
	waitSleepers(t, marker, true)
	// Reap recognises a leftover sandbox by its working directory: bwrap's is the run directory.
	dir := filepath.Join(e.RunsDir, "run_kill")
	pid, err := os.ReadFile(filepath.Join(dir, "sandbox.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if cwd, err := os.Readlink("/proc/" + string(pid) + "/cwd"); err != nil || cwd != dir {
		t.Errorf("bwrap's cwd = %q (%v), want %s", cwd, err, dir)
	}
	start := time.Now()
	h.Kill()
	h.Kill() // idempotent
	res := h.Wait(context.Background())
	t.Logf("killed after %s: %+v", time.Since(start), res)
	if res.ExitCode == 0 {
		t.Fatalf("killed runner reported success: %+v", res)
	}
	waitSleepers(t, marker, false)
	if _, err := os.Stat(filepath.Join(e.RunsDir, "run_kill")); !os.IsNotExist(err) {
		t.Errorf("run directory not removed after the kill: %v", err)
	}
}

func TestKillLetsTheRunnerStopGracefully(t *testing.T) {
	e := newExecutor(t)
	e.KillGrace = time.Minute
	marker := strconv.Itoa(200000 + os.Getpid()%100000)
	out := filepath.Join(t.TempDir(), "report.json")
	h := startRun(t, e, executor.Spec{RunID: "run_graceful",
		Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "graceful", "EXECTEST_SLEEP": marker},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_OUT": out}, Limits: unlimited})
	waitSleepers(t, marker, true)
	h.Kill()
	res := h.Wait(context.Background())
	if res.ExitCode != 7 {
		t.Fatalf("result = %+v, want the runner's own exit code 7 after SIGTERM", res)
	}
	if got := string(waitFile(t, out)); !strings.Contains(got, "SIGTERM") {
		t.Errorf("runner report = %s", got)
	}
	// Its `sleep` child died with the sandbox's pid namespace.
	waitSleepers(t, marker, false)
}

func TestBadInputIsRefused(t *testing.T) {
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
	if _, err := e.Start(context.Background(), executor.Spec{RunID: "run_env", Env: map[string]string{"A=B": "x"}}); err == nil {
		t.Error("variable name with '=' accepted")
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
	if _, err := os.Stat(filepath.Join(e.RunsDir, "run_sc")); !os.IsNotExist(err) {
		t.Errorf("run directory left behind after a failed start")
	}
}

func TestRunnerLimitsAreApplied(t *testing.T) {
	e := newExecutor(t)
	probe, _ := e.Probe(context.Background())
	out := filepath.Join(t.TempDir(), "report.json")
	h := startRun(t, e, executor.Spec{RunID: "run_limits", Timeout: time.Minute,
		Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "observe"},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_OUT": out},
		Limits:     executor.Limits{MemoryBytes: 512 << 20, FileBytes: 1 << 20, CPUSeconds: 30, Pids: 64}})
	if res := h.Wait(context.Background()); res.ExitCode != 0 {
		t.Fatalf("result = %+v", res)
	}
	var r report
	if err := json.Unmarshal(waitFile(t, out), &r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Max file size             1048576              1048576",
		"Max cpu time              30                   30",
		"Max core file size        0                    0",
	}
	if !probe.Cgroups.Usable() { // without cgroups, memory and processes are rlimits too
		want = append(want, "Max data size             536870912            536870912",
			"Max processes             64                   64")
	}
	for _, w := range want {
		if !strings.Contains(r.Limits, w) {
			t.Errorf("limits lack %q:\n%s", w, r.Limits)
		}
	}
}

func TestReapKillsLeftovers(t *testing.T) {
	e := newExecutor(t)
	dir := filepath.Join(e.RunsDir, "run_old")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "1000")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, "sandbox.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
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
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if i == 499 {
			t.Fatal("leftover process still alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("stale directory not removed")
	}
	if _, err := os.Stat(filepath.Join(e.RunsDir, ".etc", "passwd")); err != nil {
		t.Errorf("Reap removed the executor's own files: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.RunsDir); !os.IsNotExist(err) {
		t.Errorf("Close left the runs directory: %v", err)
	}
}

func TestRunsGetTheirOwnCgroup(t *testing.T) {
	e := newExecutor(t)
	probe, _ := e.Probe(context.Background())
	if !probe.Cgroups.Usable() {
		t.Skipf("cgroup v2 limits unavailable on this host (%s); runs use rlimits (TestRunnerLimitsAreApplied)", probe.Cgroups.Why)
	}
	marker := strconv.Itoa(300000 + os.Getpid()%100000)
	h := startRun(t, e, executor.Spec{RunID: "run_cgroup",
		Env:    map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "hang", "EXECTEST_SLEEP": marker},
		Limits: executor.Limits{MemoryBytes: 1 << 30, Pids: 100}})
	waitSleepers(t, marker, true)
	pid := sleepers(marker)[0]
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil || !strings.Contains(string(b), "/appstrate-run-run_cgroup") {
		t.Errorf("sandbox process cgroup = %q (%v)", b, err)
	}
	group := filepath.Join(probe.Cgroups.Dir, "appstrate-run-run_cgroup")
	if b, _ := os.ReadFile(filepath.Join(group, "pids.max")); strings.TrimSpace(string(b)) != "100" {
		t.Errorf("pids.max = %q", b)
	}
	h.Kill()
	h.Wait(context.Background())
	waitSleepers(t, marker, false)
	if _, err := os.Stat(group); !os.IsNotExist(err) {
		t.Errorf("run cgroup not removed: %v", err)
	}
}

// BenchmarkStartToFirstSidecarRequest measures a run's start-up on the namespace executor: from Start to the
// runner's first request on the sidecar's socket (what a model request goes through), sidecar start and
// health check included.
func BenchmarkStartToFirstSidecarRequest(b *testing.B) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		b.Skip("bwrap not installed")
	}
	base, err := os.MkdirTemp("", "bwrapbench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(base)
	_ = os.Chmod(base, 0o711)
	e := &bwrap.Executor{Binary: os.Args[0], RunsDir: filepath.Join(base, "runs"), KillGrace: time.Second,
		Command: func(role string) (string, []string) {
			if role == "runner" {
				return bwrap.InsideBinary, []string{"-test.run=^$"}
			}
			return os.Args[0], []string{"-test.run=^$"}
		}}
	if _, err := e.Probe(context.Background()); err != nil {
		b.Fatal(err)
	}
	notify := filepath.Join(base, "notify.sock")
	ln, err := net.Listen("unix", notify)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := e.Start(context.Background(), executor.Spec{RunID: "run_bench_" + strconv.Itoa(i), Timeout: time.Minute,
			Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "ping"},
			SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_NOTIFY": notify}, Limits: unlimited})
		if err != nil {
			b.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
		b.StopTimer()
		h.Wait(context.Background())
		b.StartTimer()
	}
}

func TestSidecarDeathEndsTheRun(t *testing.T) {
	e := newExecutor(t)
	marker := strconv.Itoa(400000 + os.Getpid()%100000)
	h := startRun(t, e, executor.Spec{RunID: "run_orphan",
		Env:        map[string]string{"EXECTEST_ROLE": "runner", "EXECTEST_MODE": "hang", "EXECTEST_SLEEP": marker},
		SidecarEnv: map[string]string{"EXECTEST_ROLE": "sidecar", "EXECTEST_OUT": filepath.Join(t.TempDir(), "r")}, Limits: unlimited})
	waitSleepers(t, marker, true)
	b, err := os.ReadFile(filepath.Join(e.RunsDir, "run_orphan", "sidecar.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if res := h.Wait(context.Background()); res.ExitCode == 0 {
		t.Errorf("run without its sidecar reported success: %+v", res)
	}
	waitSleepers(t, marker, false)
}
