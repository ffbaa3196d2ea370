package bwrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Defaults of the executor.
const (
	// DefaultWorkspaceBytes caps the workspace tmpfs, DefaultTmpBytes the /tmp tmpfs.
	DefaultWorkspaceBytes = 1 << 30
	DefaultTmpBytes       = 512 << 20
	defaultKillGrace      = 5 * time.Second
)

// Executor starts runs in bubblewrap sandboxes.
type Executor struct {
	// Binary is the appstrate executable (os.Executable() of the server): the sidecar outside, bound
	// read-only at InsideBinary inside.
	Binary string
	// Bwrap is the path of bwrap ("" = found on PATH).
	Bwrap string
	// RunsDir holds one directory per run in flight. When the server runs as root the sandbox runs as
	// SandboxID, which must be able to reach it (see RunsDir).
	RunsDir string
	// SandboxID is the host uid and gid of sandboxes when the server runs as root (0 = 65534, nobody).
	SandboxID int
	// WorkspaceBytes and TmpBytes cap the workspace and /tmp tmpfs (0 = defaults).
	WorkspaceBytes, TmpBytes int64
	// KillGrace is the wait between the stop request (SIGTERM to the runner) and SIGKILL (default 5 s).
	KillGrace time.Duration
	Logger    *slog.Logger
	// Command overrides the command line of a role: "sidecar" (a host path, run outside) or "runner" (a
	// path inside the sandbox, run by sandbox-init); tests use it.
	Command func(role string) (path string, args []string)

	once  sync.Once
	probe *Probe
	ready error  // why runs cannot start (nil = ready)
	bin   string // host path bound at InsideBinary
	etc   []string
	sys   []string
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
	if role == "runner" {
		return InsideBinary, []string{"runner"}
	}
	return e.Binary, []string{role}
}

// Probe inspects the host (once) and prepares what every run shares: the cgroup parent, the binary
// reachable by the sandbox user, the synthetic /etc files. It returns the probe and why runs cannot start
// (nil = ready). Start calls it; calling it at boot makes the first run faster.
func (e *Executor) Probe(ctx context.Context) (*Probe, error) {
	e.once.Do(func() { e.ready = e.prepare(ctx) })
	return e.probe, e.ready
}

func (e *Executor) prepare(ctx context.Context) error {
	e.probe = Inspect(ctx, e.Bwrap, e.SandboxID)
	if e.probe.Err != nil {
		return fmt.Errorf("bwrap executor unusable: %w (fix: %s)", e.probe.Err, e.probe.Fix)
	}
	if e.probe.Cgroups.Usable() {
		if err := setupCgroups(e.probe.Cgroups); err != nil {
			e.log().Warn("bwrap executor: cgroup limits unavailable, using rlimits", "error", err)
			e.probe.Cgroups = cgroupPlan{Why: err.Error()}
		}
	}
	mode := os.FileMode(0o700)
	if e.switchesUser() {
		mode = 0o711
	}
	if err := os.MkdirAll(e.RunsDir, mode); err != nil {
		return fmt.Errorf("create runs directory: %w", err)
	}
	if err := os.Chmod(e.RunsDir, mode); err != nil {
		return fmt.Errorf("runs directory: %w", err)
	}
	if e.switchesUser() && !reachable(e.RunsDir, e.probe.SandboxUID, e.probe.SandboxGID, false) {
		return fmt.Errorf("bwrap executor: the runs directory %s is not reachable by the sandbox user %d "+
			"(a parent directory lacks the x permission for others); use bwrap.RunsDir's choice", e.RunsDir, e.probe.SandboxUID)
	}
	var err error
	if e.bin, err = e.stageBinary(); err != nil {
		return err
	}
	etcDir := filepath.Join(e.RunsDir, ".etc")
	if err := os.MkdirAll(etcDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", etcDir, err)
	}
	for name, content := range map[string]string{"passwd": passwdFile, "group": groupFile, "hosts": hostsFile} {
		if err := os.WriteFile(filepath.Join(etcDir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if e.sys, err = systemMounts(""); err != nil {
		return err
	}
	e.etc = etcMounts("")
	return nil
}

// switchesUser reports whether the sandbox runs under another host user than the server (a root server).
func (e *Executor) switchesUser() bool { return e.probe.SandboxUID != os.Geteuid() }

// stageBinary returns the host path of the binary to bind: Binary itself when the sandbox user can reach
// it, else a copy under RunsDir/.bin.
func (e *Executor) stageBinary() (string, error) {
	if e.Binary == "" {
		return "", errors.New("bwrap executor: no binary configured")
	}
	if !e.switchesUser() || reachable(e.Binary, e.probe.SandboxUID, e.probe.SandboxGID, true) {
		return e.Binary, nil
	}
	dir := filepath.Join(e.RunsDir, ".bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("stage the binary: %w", err)
	}
	dst := filepath.Join(dir, "appstrate")
	if permits(e.Binary, e.probe.SandboxUID, e.probe.SandboxGID, 0o5) {
		// Only the path is out of reach: a hard link (same filesystem) is enough and costs nothing.
		tmp := dst + ".link"
		_ = os.Remove(tmp)
		if err := os.Link(e.Binary, tmp); err == nil {
			if err := os.Rename(tmp, dst); err == nil {
				return dst, nil
			}
			_ = os.Remove(tmp)
		}
	}
	if err := copyExecutable(e.Binary, dst); err != nil {
		return "", fmt.Errorf("stage the binary for the sandbox user: %w", err)
	}
	return dst, nil
}

// Close removes what Probe prepared for every run (the staged binary, the synthetic /etc files) and the
// runs directory when no run is left in it. Call it when the server stops, after its runs.
func (e *Executor) Close() error {
	if e.probe == nil || e.RunsDir == "" {
		return nil
	}
	for _, name := range []string{".bin", ".etc"} {
		if err := os.RemoveAll(filepath.Join(e.RunsDir, name)); err != nil {
			return fmt.Errorf("bwrap executor: %w", err)
		}
	}
	if err := os.Remove(e.RunsDir); err == nil && e.switchesUser() {
		_ = os.Remove(filepath.Dir(e.RunsDir)) // the directory named after the data directory (RunsDir)
	}
	return nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".appstrate-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst) // a running copy keeps its inode
}

// reachable tells whether uid/gid can reach path by the permission bits: search permission on every
// directory above it, and for a file read and execute permission.
func reachable(path string, uid, gid int, file bool) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if !permits(dir, uid, gid, 0o1) {
			return false
		}
		if dir == "/" {
			break
		}
	}
	if file {
		return permits(abs, uid, gid, 0o5)
	}
	return permits(abs, uid, gid, 0o1)
}

// permits checks the permission bits want (r=4, w=2, x=1) of path for uid/gid.
func permits(path string, uid, gid int, want os.FileMode) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == uid:
		perm >>= 6
	case int(st.Gid) == gid:
		perm >>= 3
	}
	return perm&want == want
}

// RunsDir is where a server keeps its runs' directories: dataDir/runs, unless the server runs as root and
// the sandbox user could not reach that path (a parent such as /root is private); then a directory named
// after dataDir under /run/appstrate (or, without /run, under the temporary directory), so servers with
// different data directories never share one.
func RunsDir(dataDir string) string {
	runs := filepath.Join(dataDir, "runs")
	if os.Geteuid() != 0 {
		return runs
	}
	probe := runs
	for { // the nearest existing ancestor must be reachable (what is created below it will be)
		if _, err := os.Stat(probe); err == nil || probe == "/" {
			break
		}
		probe = filepath.Dir(probe)
	}
	if reachable(probe, DefaultRootSandboxID, DefaultRootSandboxID, false) {
		return runs
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	name := hex.EncodeToString(sum[:6])
	if fi, err := os.Stat("/run"); err == nil && fi.IsDir() {
		return filepath.Join("/run/appstrate", name, "runs")
	}
	return filepath.Join(os.TempDir(), "appstrate-"+name, "runs")
}

// Start prepares the run directory, starts the sidecar (when the spec has one) outside the sandbox and
// waits for it, then starts the sandbox with the runner.
func (e *Executor) Start(ctx context.Context, spec executor.Spec) (executor.Handle, error) {
	if !launch.ValidRunID(spec.RunID) {
		return nil, fmt.Errorf("bwrap executor: invalid run id %q", spec.RunID)
	}
	if err := checkEnv(spec.Env); err != nil {
		return nil, err
	}
	if _, err := e.Probe(ctx); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.RunsDir, spec.RunID)
	if err := os.Mkdir(dir, e.runDirMode()); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	h := &handle{e: e, dir: dir, runID: spec.RunID, done: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (executor.Handle, error) {
		h.abort()
		return nil, err
	}
	if err := os.Chmod(dir, e.runDirMode()); err != nil {
		return fail(fmt.Errorf("run directory: %w", err))
	}
	sb := &sandbox{binary: e.bin, seedDir: filepath.Join(dir, "seed"), etcDir: filepath.Join(e.RunsDir, ".etc"),
		system: e.sys, etc: e.etc, disableUserns: e.probe.DisableUserns, tmpfsSize: e.probe.TmpfsSize,
		workspaceSize: launch.OrDefault(e.WorkspaceBytes, DefaultWorkspaceBytes), tmpSize: launch.OrDefault(e.TmpBytes, DefaultTmpBytes)}
	if err := e.writeSeed(sb.seedDir, spec.Files); err != nil {
		return fail(err)
	}
	sb.env = sandboxEnv(spec.Env)
	if spec.SidecarEnv != nil {
		if err := e.startSidecar(ctx, h, sb, spec); err != nil {
			return fail(fmt.Errorf("start sidecar: %w", err))
		}
	}
	if err := e.startSandbox(h, sb, spec); err != nil {
		return fail(fmt.Errorf("start sandbox: %w", err))
	}
	go h.wait()
	if h.sidecar != nil {
		go h.watchSidecar()
	}
	return h, nil
}

func (e *Executor) runDirMode() os.FileMode {
	if e.switchesUser() {
		return 0o711
	}
	return 0o700
}

// writeSeed writes the workspace's initial files, owned by the sandbox user.
func (e *Executor) writeSeed(seed string, files map[string][]byte) error {
	if err := os.Mkdir(seed, 0o700); err != nil {
		return fmt.Errorf("create the workspace files directory: %w", err)
	}
	if err := launch.WriteFiles(seed, files); err != nil {
		return err
	}
	return e.giveToSandbox(seed)
}

// giveToSandbox chowns path (recursively) to the sandbox user when it is not the server's.
func (e *Executor) giveToSandbox(path string) error {
	if !e.switchesUser() {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, e.probe.SandboxUID, e.probe.SandboxGID)
	})
}

// checkEnv refuses an environment bwrap cannot carry.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("bwrap executor: invalid environment variable %q", k)
		}
	}
	return nil
}

// sandboxEnv is the runner's environment inside: a minimal base, the spec's variables, the workspace.
func sandboxEnv(specEnv map[string]string) map[string]string {
	env := map[string]string{
		"PATH":    "/usr/local/bin:/usr/bin:/bin",
		"HOME":    Workspace,
		"USER":    "agent",
		"LOGNAME": "agent",
		"LANG":    "C.UTF-8",
		"TMPDIR":  "/tmp",
	}
	for k, v := range specEnv {
		env[k] = v
	}
	env["WORKSPACE_DIR"] = Workspace
	return env
}

// startSidecar starts the sidecar outside the sandbox on two unix sockets (its API and its forward proxy),
// with the run's sink URLs for its relay, and points the runner at them: SIDECAR_* and MODEL_BASE_URL
// through the API socket, the sink through the relay, HTTP(S)_PROXY at the in-sandbox proxy relay.
func (e *Executor) startSidecar(ctx context.Context, h *handle, sb *sandbox, spec executor.Spec) error {
	sockDir := socketDir(h.dir)
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		return err
	}
	if err := e.giveToSandbox(sockDir); err != nil {
		return err
	}
	api, proxy := filepath.Join(sockDir, "sidecar.sock"), filepath.Join(sockDir, "proxy.sock")
	token := launch.RandomToken()
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": os.TempDir(), "HOME": h.dir}
	for k, v := range spec.SidecarEnv {
		env[k] = v
	}
	for _, k := range []string{"APPSTRATE_SINK_URL", "APPSTRATE_SINK_FINALIZE_URL"} {
		if v, ok := spec.Env[k]; ok {
			env[k] = v
		}
	}
	env["SIDECAR_LISTEN"] = "unix:" + api
	env["SIDECAR_PROXY_LISTEN"] = "unix:" + proxy
	env["SIDECAR_TOKEN"] = token
	path, args := e.command("sidecar")
	p, proxyAddr, err := launch.StartSidecar(ctx, launch.Command{Path: path, Args: args, Dir: h.dir, Env: env,
		LogPath: filepath.Join(h.dir, "sidecar.log")}, api, h.dir)
	if err != nil {
		return err
	}
	h.sidecar = p
	if err := e.giveToSandbox(sockDir); err != nil {
		return err
	}
	sb.sidecarSocket = api
	sb.env["SIDECAR_URL"] = "http://sidecar"
	sb.env["SIDECAR_SOCKET"] = insideSidecarSocket
	sb.env["SIDECAR_TOKEN"] = token
	sb.env["MODEL_BASE_URL"] = "http://sidecar/llm"
	if _, ok := spec.Env["APPSTRATE_SINK_URL"]; ok {
		sb.env["APPSTRATE_SINK_URL"] = "http://sidecar/sink/events"
		sb.env["APPSTRATE_SINK_FINALIZE_URL"] = "http://sidecar/sink/events/finalize"
	}
	if proxyAddr != "" {
		sb.proxySocket = proxy
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
			sb.env[k] = "http://" + insideProxyListen
		}
		sb.env["NO_PROXY"], sb.env["no_proxy"] = "sidecar,localhost,127.0.0.1", "sidecar,localhost,127.0.0.1"
	}
	return nil
}

// startSandbox starts bwrap: its options through a descriptor (so the environment does not show in the
// sandbox's /proc/1/cmdline), an empty environment of its own, the stop pipe, the
// run's cgroup when there is one, and the sandbox user.
func (e *Executor) startSandbox(h *handle, sb *sandbox, spec executor.Spec) error {
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stopR.Close()
	h.stopW = stopW
	path, args := e.command("runner")
	command := append(e.initArgs(sb, spec), append([]string{"--", path}, args...)...)
	argsFile, err := writeArgs(h.dir, sb.args())
	if err != nil {
		return err
	}
	defer argsFile.Close()
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: e.probe.credential()}
	if e.probe.Cgroups.Usable() {
		cg, err := createRunCgroup(e.probe.Cgroups.Dir, spec.RunID, spec.Limits)
		if err != nil {
			e.log().Warn("bwrap executor: no cgroup for this run, rlimits only", "run", spec.RunID, "error", err)
		} else {
			h.cgroup = cg
			attr.UseCgroupFD, attr.CgroupFD = true, int(cg.fd.Fd())
		}
	}
	cmd := launch.Command{Path: e.probe.Bwrap, Args: append([]string{"--args", "3", "--"}, command...), Dir: h.dir,
		LogPath: filepath.Join(h.dir, "runner.log"), ExtraFiles: []*os.File{argsFile, stopR}, Attr: attr}
	p, err := launch.Start(cmd)
	if err != nil && attr.UseCgroupFD {
		// A kernel without clone3's CLONE_INTO_CGROUP (before 5.7): start, then move bwrap into the cgroup
		// (what it forked before the move stays out; its rlimits still hold).
		attr.UseCgroupFD, attr.CgroupFD = false, 0
		if _, serr := argsFile.Seek(0, io.SeekStart); serr != nil {
			return serr
		}
		if p, err = launch.Start(cmd); err == nil {
			if merr := h.cgroup.add(p.Pid()); merr != nil {
				e.log().Warn("bwrap executor: sandbox not moved into its cgroup", "run", spec.RunID, "error", merr)
			}
		}
	}
	if err != nil {
		return err
	}
	h.sandbox = p
	launch.WritePid(h.dir, "sandbox", p.Pid())
	return nil
}

// initArgs is sandbox-init's command line without the command: the seed, the stop descriptor (4), the
// rlimits (without cgroups: all of them; with cgroups, those cgroups do not cover), the proxy relay.
func (e *Executor) initArgs(sb *sandbox, spec executor.Spec) []string {
	a := []string{InsideBinary, InitCommand, "-seed", insideSeed, "-workspace", Workspace, "-stop-fd", "4"}
	cgroups := e.probe.Cgroups.Usable()
	for _, l := range launch.RunnerRlimits(spec.Limits, spec.Timeout) {
		if l.Value < 0 || cgroups && (l.Name == "data" || l.Name == "nproc") {
			continue
		}
		a = append(a, "-rlimit", l.Name+"="+strconv.FormatInt(l.Value, 10))
	}
	if sb.proxySocket != "" {
		a = append(a, "-proxy-listen", insideProxyListen, "-proxy-socket", insideProxySocket)
	}
	return a
}

// writeArgs writes bwrap's arguments NUL-separated to an unlinked file and returns it open for reading.
func writeArgs(dir string, args []string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".args-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a)
		b.WriteByte(0)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// handle is one started run.
type handle struct {
	e       *Executor
	dir     string
	runID   string
	sandbox *launch.Proc
	sidecar *launch.Proc
	cgroup  *runCgroup
	stopW   *os.File // closing it asks sandbox-init to stop the runner

	done     chan struct{}
	result   executor.Result
	killOnce sync.Once
	stopped  chan struct{} // closed by Kill
}

func (h *handle) wait() {
	<-h.sandbox.Exited()
	code := h.sandbox.ExitCode()
	h.result = executor.Result{ExitCode: code}
	select {
	case <-h.stopped:
	default:
		if code != 0 {
			h.e.log().Warn("bwrap executor: runner exited abnormally", "dir", h.dir, "code", code, "stderr", h.sandbox.Tail())
		}
	}
	h.abort()
	close(h.done)
}

// watchSidecar ends the run when its sidecar dies first: the runner has lost its model, its tools and its
// sink, so waiting for its timeout would only hold the slot.
func (h *handle) watchSidecar() {
	select {
	case <-h.done:
	case <-h.sidecar.Exited():
		select {
		case <-h.sandbox.Exited():
		default:
			h.e.log().Warn("bwrap executor: sidecar exited before the run completed; stopping the sandbox",
				"dir", h.dir, "code", h.sidecar.ExitCode(), "output", h.sidecar.Tail())
			h.sandbox.Signal(syscall.SIGKILL)
		}
	}
}

func (h *handle) Wait(ctx context.Context) executor.Result {
	select {
	case <-h.done:
		return h.result
	case <-ctx.Done():
		return executor.Result{Err: ctx.Err()}
	}
}

// Kill asks the runner to stop (SIGTERM through sandbox-init, so it can report a cancelled run), then
// kills the whole sandbox after the grace period: bwrap's process group, which takes the sandbox's pid
// namespace with it, and the run's cgroup.
func (h *handle) Kill() {
	h.killOnce.Do(func() {
		close(h.stopped)
		go h.stop()
	})
}

func (h *handle) grace() time.Duration {
	if h.e.KillGrace > 0 {
		return h.e.KillGrace
	}
	return defaultKillGrace
}

func (h *handle) stop() {
	if h.stopW != nil {
		h.stopW.Close()
	}
	if h.sandbox == nil {
		return
	}
	select {
	case <-h.sandbox.Exited():
		return // wait() tears down the rest
	case <-time.After(h.grace()):
	}
	h.sandbox.Signal(syscall.SIGKILL)
	if h.cgroup != nil {
		h.cgroup.kill()
	}
}

// abort tears everything down: the sandbox (killed at once), the sidecar (stopped gracefully so it flushes
// its usage reports), the cgroup and the run directory.
func (h *handle) abort() {
	if h.stopW != nil {
		h.stopW.Close()
	}
	if h.sandbox != nil {
		h.sandbox.Signal(syscall.SIGKILL)
		<-h.sandbox.Exited()
	}
	if h.cgroup != nil {
		h.cgroup.kill()
		h.cgroup.remove()
	}
	if h.sidecar != nil {
		h.sidecar.Stop(h.grace())
	}
	if err := os.RemoveAll(h.dir); err != nil {
		h.e.log().Warn("bwrap executor: run directory not removed", "dir", h.dir, "error", err)
	}
	_ = os.RemoveAll(socketDir(h.dir)) // when it had to live outside the run directory
}

// socketDir is the directory of a run's sidecar sockets: dir/sock, or, when socket paths there would be too
// long to bind (sun_path holds 108 bytes), a directory in the temporary directory named after dir.
func socketDir(dir string) string {
	d := filepath.Join(dir, "sock")
	if len(d)+len("/sidecar.sock") <= maxSocketPath {
		return d
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "appstrate-"+hex.EncodeToString(sum[:8])+"-sock")
}

// maxSocketPath is the longest unix socket path that binds everywhere.
const maxSocketPath = 100

// Reap kills what runs of a previous server process left behind (their sandboxes and sidecars, by the pid
// files under RunsDir, and their cgroups) and removes their directories. Call it at boot, before runs are
// executed.
func (e *Executor) Reap() (int, error) {
	entries, err := os.ReadDir(e.RunsDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list runs directory: %w", err)
	}
	plan := inspectCgroups(hostCgroupPaths)
	n := 0
	for _, ent := range entries {
		if !ent.IsDir() || !launch.ValidRunID(ent.Name()) {
			continue
		}
		dir := filepath.Join(e.RunsDir, ent.Name())
		for _, role := range []string{"sandbox", "sidecar"} {
			if pid := launch.ReadPid(dir, role); pid > 0 && launch.CwdInside(pid, dir) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		if plan.Dir != "" {
			cg := &runCgroup{dir: filepath.Join(plan.Dir, cgroupPrefix+ent.Name())}
			if _, err := os.Stat(cg.dir); err == nil {
				cg.kill()
				cg.remove()
			}
		}
		_ = os.RemoveAll(socketDir(dir))
		if err := os.RemoveAll(dir); err != nil {
			e.log().Warn("bwrap executor: stale run directory not removed", "dir", dir, "error", err)
			continue
		}
		n++
	}
	return n, nil
}
