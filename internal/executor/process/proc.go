package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/appstrate/appstrate-go/internal/executor"
)

// proc is a child in its own process group whose stdout and stderr go to a log file, the last lines of
// which are kept for diagnostics.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *tailBuffer
	logf   *os.File
}

func startProc(path string, args []string, dir string, env map[string]string, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", logPath, err)
	}
	tb := &tailBuffer{max: 8 << 10}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = envList(env)
	cmd.Stdin = nil
	cmd.Stdout = io.MultiWriter(logf, tb)
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), out: tb, logf: logf}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) exitCode() int {
	st := p.cmd.ProcessState
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// signal sends sig to the whole process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop sends SIGTERM to the group, SIGKILL after grace, and waits for the leader to exit. Descendants that
// outlive the leader get the SIGKILL too.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		p.signal(syscall.SIGKILL) // leftovers of the group
		return
	default:
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	p.signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) tail() string {
	s := p.out.String()
	if s == "" {
		return ""
	}
	return ": " + s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// applyLimits sets the runner's rlimits right after it started (its children inherit them). Memory is
// bounded with RLIMIT_DATA, not RLIMIT_AS: runtimes such as V8 reserve large inaccessible address ranges
// that must not count.
func applyLimits(pid int, l executor.Limits, timeout time.Duration, log *slog.Logger) {
	cpu := int64(l.CPUSeconds)
	if cpu == 0 {
		cpu = int64(timeout/time.Second) + 60
	}
	limits := []struct {
		res int
		v   int64
	}{
		{unix.RLIMIT_DATA, orDefault(l.MemoryBytes, DefaultMemoryBytes)},
		{unix.RLIMIT_FSIZE, orDefault(l.FileBytes, DefaultFileBytes)},
		{unix.RLIMIT_CPU, cpu},
		{unix.RLIMIT_CORE, 0},
		// RLIMIT_NPROC counts every process of the user, not of the run: a ceiling against fork bombs only,
		// set well above the run's own budget.
		{unix.RLIMIT_NPROC, orDefault(int64(l.Pids), DefaultPids) * 16},
	}
	for _, lim := range limits {
		if lim.v < 0 {
			continue
		}
		r := unix.Rlimit{Cur: uint64(lim.v), Max: uint64(lim.v)}
		if err := unix.Prlimit(pid, lim.res, &r, nil); err != nil {
			log.Warn("process executor: rlimit not applied", "resource", lim.res, "error", err)
		}
	}
}

func orDefault(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func unixClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}, Timeout: time.Second}
}

func probeHealth(ctx context.Context, c *http.Client) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://sidecar/health", nil)
	if err != nil {
		return "", false
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var body struct {
		Proxy string `json:"proxy"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
	return body.Proxy, resp.StatusCode == http.StatusOK
}
