package process

import (
	"context"
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
	"github.com/appstrate/appstrate-go/internal/executor/launch"
)

// Defaults of the runner's limits.
const (
	DefaultMemoryBytes = launch.DefaultMemoryBytes
	DefaultPids        = launch.DefaultPids
	DefaultFileBytes   = launch.DefaultFileBytes
	defaultKillGrace   = 5 * time.Second
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
	if !launch.ValidRunID(spec.RunID) {
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
	if err := launch.WriteFiles(workspace, spec.Files); err != nil {
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
		if spec.Env["APPSTRATE_SINK_URL"] != "" && spec.SidecarEnv["APPSTRATE_SINK_URL"] != "" {
			// Through the sidecar's relay, which holds a finalize until the LLM usage it metered is
			// reported: the run's cost is complete when the platform finalizes.
			env["APPSTRATE_SINK_URL"] = "http://sidecar/sink/events"
			env["APPSTRATE_SINK_FINALIZE_URL"] = "http://sidecar/sink/events/finalize"
		}
		if sc.proxy != "" {
			proxy := "http://" + sc.proxy
			for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
				env[k] = proxy
			}
			env["NO_PROXY"], env["no_proxy"] = "sidecar", "sidecar"
		}
	}
	path, args := e.command("runner")
	runner, err := launch.Start(launch.Command{Path: path, Args: args, Dir: workspace, Env: env,
		LogPath: filepath.Join(dir, "runner.log")})
	if err != nil {
		return fail(fmt.Errorf("start runner: %w", err))
	}
	h.runner = runner
	launch.WritePid(dir, "runner", runner.Pid())
	applyLimits(runner.Pid(), spec.Limits, spec.Timeout, e.log())
	go h.wait()
	return h, nil
}

type sidecarProc struct {
	proc          *launch.Proc
	socket, token string
	proxy         string // host:port of the forward proxy, "" = none
}

func (e *Executor) startSidecar(ctx context.Context, spec executor.Spec, dir string) (*sidecarProc, error) {
	socket := launch.SocketPath(dir, "sidecar.sock")
	token := launch.RandomToken()
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
	p, proxy, err := launch.StartSidecar(ctx, launch.Command{Path: path, Args: args, Dir: dir, Env: env,
		LogPath: filepath.Join(dir, "sidecar.log")}, socket, dir)
	if err != nil {
		return nil, err
	}
	return &sidecarProc{proc: p, socket: socket, token: token, proxy: proxy}, nil
}

// handle is one started run.
type handle struct {
	e       *Executor
	dir     string
	runner  *launch.Proc
	sidecar *launch.Proc

	once   sync.Once
	done   chan struct{}
	result executor.Result
	killMu sync.Mutex
	killed bool
}

func (h *handle) wait() {
	<-h.runner.Exited()
	code := h.runner.ExitCode()
	h.killMu.Lock()
	killed := h.killed
	h.killMu.Unlock()
	h.result = executor.Result{ExitCode: code}
	if code != 0 && !killed {
		h.e.log().Warn("process executor: runner exited abnormally", "dir", h.dir, "code", code, "stderr", h.runner.Tail())
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
		h.runner.Stop(h.grace())
	}
	h.stopSidecar()
}

func (h *handle) stopSidecar() {
	if h.sidecar != nil {
		h.sidecar.Stop(h.grace())
	}
}

func (h *handle) cleanup() {
	h.once.Do(func() {
		if err := os.RemoveAll(h.dir); err != nil {
			h.e.log().Warn("process executor: run directory not removed", "dir", h.dir, "error", err)
		}
		_ = os.Remove(launch.SocketPath(h.dir, "sidecar.sock")) // when it had to live outside the directory
	})
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
		if !ent.IsDir() || !launch.ValidRunID(ent.Name()) {
			continue
		}
		dir := filepath.Join(e.RunsDir, ent.Name())
		for _, role := range []string{"runner", "sidecar"} {
			if pid := launch.ReadPid(dir, role); pid > 0 && ownProcess(pid, dir) {
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

// ownProcess tells whether pid still is a process of that run (its cwd or environment points into dir), so a
// recycled pid of an unrelated process is never killed.
func ownProcess(pid int, dir string) bool {
	if launch.CwdInside(pid, dir) {
		return true
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && strings.Contains(string(env), "TMPDIR="+filepath.Join(dir, "tmp"))
}
