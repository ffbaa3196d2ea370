package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor"
)

// Defaults of the runner's limits.
const (
	DefaultMemoryBytes = 1536 << 20
	DefaultPids        = 256
	DefaultFileBytes   = 1 << 30
	defaultKillGrace   = 5 * time.Second
	sidecarStartWait   = 15 * time.Second
)

// Executor starts runs as local processes.
type Executor struct {
	// Binary is the appstrate executable (os.Executable() of the server).
	Binary string
	// RunsDir holds one directory per run in flight (DATA_DIR/runs).
	RunsDir string
	// KillGrace is the wait between SIGTERM and SIGKILL (default 5 s).
	KillGrace time.Duration
	Logger    *slog.Logger
	// Command overrides the command line of a role ("runner" or "sidecar"); tests use it.
	Command func(role string) (path string, args []string)
}

var _ executor.Executor = (*Executor)(nil)

func (e *Executor) log() *slog.Logger {
	if e.Logger == nil {
		return slog.Default()
	}
	return e.Logger
}

func (e *Executor) command(role string) (string, []string) {
	if e.Command != nil {
		return e.Command(role)
	}
	return e.Binary, []string{role}
}

// Start prepares the run directory, starts the sidecar (when the spec has one) and waits for it to answer,
// then starts the runner.
func (e *Executor) Start(ctx context.Context, spec executor.Spec) (executor.Handle, error) {
	if !validRunID(spec.RunID) {
		return nil, fmt.Errorf("process executor: invalid run id %q", spec.RunID)
	}
	dir := filepath.Join(e.RunsDir, spec.RunID)
	workspace := filepath.Join(dir, "workspace")
	if err := os.MkdirAll(workspace, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	h := &handle{e: e, dir: dir, done: make(chan struct{})}
	fail := func(err error) (executor.Handle, error) {
		h.stopAll()
		h.cleanup()
		return nil, err
	}
	if err := WriteFiles(workspace, spec.Files); err != nil {
		return fail(err)
	}
	env := baseEnv(dir)
	for k, v := range spec.Env {
		env[k] = v
	}
	env["WORKSPACE_DIR"] = workspace
	if spec.SidecarEnv != nil {
		sc, err := e.startSidecar(ctx, spec, dir)
		if err != nil {
			return fail(fmt.Errorf("start sidecar: %w", err))
		}
		h.sidecar = sc.proc
		env["SIDECAR_URL"] = "http://sidecar"
		env["SIDECAR_SOCKET"] = sc.socket
		env["SIDECAR_TOKEN"] = sc.token
		env["MODEL_BASE_URL"] = "http://sidecar/llm"
		if sc.proxy != "" {
			proxy := "http://" + sc.proxy
			for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
				env[k] = proxy
			}
			env["NO_PROXY"], env["no_proxy"] = "sidecar", "sidecar"
		}
	}
	path, args := e.command("runner")
	runner, err := startProc(path, args, workspace, env, filepath.Join(dir, "runner.log"))
	if err != nil {
		return fail(fmt.Errorf("start runner: %w", err))
	}
	h.runner = runner
	writePid(dir, "runner", runner.cmd.Process.Pid)
	applyLimits(runner.cmd.Process.Pid, spec.Limits, spec.Timeout, e.log())
	go h.wait()
	return h, nil
}

type sidecarProc struct {
	proc          *proc
	socket, token string
	proxy         string // host:port of the forward proxy, "" = none
}

func (e *Executor) startSidecar(ctx context.Context, spec executor.Spec, dir string) (*sidecarProc, error) {
	socket := filepath.Join(dir, "sidecar.sock")
	token := randomToken()
	env := baseEnv(dir)
	for k, v := range spec.SidecarEnv {
		env[k] = v
	}
	env["SIDECAR_LISTEN"] = "unix:" + socket
	if _, ok := spec.SidecarEnv["SIDECAR_PROXY_LISTEN"]; !ok {
		env["SIDECAR_PROXY_LISTEN"] = "127.0.0.1:0"
	}
	env["SIDECAR_TOKEN"] = token
	path, args := e.command("sidecar")
	p, err := startProc(path, args, dir, env, filepath.Join(dir, "sidecar.log"))
	if err != nil {
		return nil, err
	}
	writePid(dir, "sidecar", p.cmd.Process.Pid)
	proxy, err := waitHealthy(ctx, socket, p, sidecarStartWait)
	if err != nil {
		p.signal(syscall.SIGKILL)
		<-p.exited
		return nil, fmt.Errorf("%w%s", err, p.tail())
	}
	return &sidecarProc{proc: p, socket: socket, token: token, proxy: proxy}, nil
}

// handle is one started run.
type handle struct {
	e       *Executor
	dir     string
	runner  *proc
	sidecar *proc

	once   sync.Once
	done   chan struct{}
	result executor.Result
	killMu sync.Mutex
	killed bool
}

func (h *handle) wait() {
	<-h.runner.exited
	code := h.runner.exitCode()
	h.killMu.Lock()
	killed := h.killed
	h.killMu.Unlock()
	h.result = executor.Result{ExitCode: code}
	if code != 0 && !killed {
		h.e.log().Warn("process executor: runner exited abnormally", "dir", h.dir, "code", code, "stderr", h.runner.tail())
	}
	h.stopSidecar()
	h.cleanup()
	close(h.done)
}

func (h *handle) Wait(ctx context.Context) executor.Result {
	select {
	case <-h.done:
		return h.result
	case <-ctx.Done():
		return executor.Result{Err: ctx.Err()}
	}
}

// Kill stops the runner's and the sidecar's process groups: SIGTERM, then SIGKILL after the grace period.
func (h *handle) Kill() {
	h.killMu.Lock()
	if h.killed {
		h.killMu.Unlock()
		return
	}
	h.killed = true
	h.killMu.Unlock()
	go h.stopAll()
}

func (h *handle) grace() time.Duration {
	if h.e.KillGrace > 0 {
		return h.e.KillGrace
	}
	return defaultKillGrace
}

func (h *handle) stopAll() {
	if h.runner != nil {
		h.runner.stop(h.grace())
	}
	h.stopSidecar()
}

func (h *handle) stopSidecar() {
	if h.sidecar != nil {
		h.sidecar.stop(h.grace())
	}
}

func (h *handle) cleanup() {
	h.once.Do(func() {
		if err := os.RemoveAll(h.dir); err != nil {
			h.e.log().Warn("process executor: run directory not removed", "dir", h.dir, "error", err)
		}
	})
}

func validRunID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// baseEnv is the whole environment a child starts from: nothing of the server's.
func baseEnv(dir string) map[string]string {
	tmp := filepath.Join(dir, "tmp")
	_ = os.MkdirAll(tmp, 0o700)
	return map[string]string{
		"PATH":   "/usr/local/bin:/usr/bin:/bin",
		"HOME":   filepath.Join(dir, "workspace"),
		"LANG":   "C.UTF-8",
		"TMPDIR": tmp,
	}
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func writePid(dir, role string, pid int) {
	_ = os.WriteFile(filepath.Join(dir, role+".pid"), []byte(strconv.Itoa(pid)), 0o600)
}

// Reap kills the process groups that runs of a previous server process left behind (their pid files under
// RunsDir) and removes their directories. Call it at boot, before runs are executed.
func (e *Executor) Reap() (int, error) {
	entries, err := os.ReadDir(e.RunsDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list runs directory: %w", err)
	}
	n := 0
	for _, ent := range entries {
		if !ent.IsDir() || !validRunID(ent.Name()) {
			continue
		}
		dir := filepath.Join(e.RunsDir, ent.Name())
		for _, role := range []string{"runner", "sidecar"} {
			if pid := readPid(dir, role); pid > 0 && ownProcess(pid, dir) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			e.log().Warn("process executor: stale run directory not removed", "dir", dir, "error", err)
			continue
		}
		n++
	}
	return n, nil
}

func readPid(dir, role string) int {
	b, err := os.ReadFile(filepath.Join(dir, role+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// ownProcess tells whether pid still is a process of that run (its cwd or environment points into dir), so a
// recycled pid of an unrelated process is never killed.
func ownProcess(pid int, dir string) bool {
	if cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err == nil && strings.HasPrefix(cwd, dir) {
		return true
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && strings.Contains(string(env), "TMPDIR="+filepath.Join(dir, "tmp"))
}

// waitHealthy polls the sidecar's /health on its socket until it answers 200, and returns the forward proxy
// address it reports.
func waitHealthy(ctx context.Context, socket string, p *proc, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := unixClient(socket)
	delay := 5 * time.Millisecond
	for {
		proxy, ok := probeHealth(ctx, c)
		if ok {
			return proxy, nil
		}
		select {
		case <-p.exited:
			return "", fmt.Errorf("sidecar exited with code %d before it was ready", p.exitCode())
		case <-ctx.Done():
			return "", fmt.Errorf("sidecar not ready after %s", limit)
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}
