package launch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Command is a child to start.
type Command struct {
	Path string
	Args []string // without argv[0]
	Dir  string
	// Env is the child's whole environment (nil = empty): never the server's.
	Env map[string]string
	// LogPath receives stdout and stderr.
	LogPath string
	// ExtraFiles become the child's descriptors 3, 4, …
	ExtraFiles []*os.File
	// Attr replaces the default attributes (own process group, SIGKILL when the parent dies). Setpgid is
	// always set: Signal and Stop address the group.
	Attr *syscall.SysProcAttr
}

// Proc is a started child in its own process group.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *tailBuffer
}

// Start starts c. The log file is closed when the child exits.
func Start(c Command) (*Proc, error) {
	logf, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", c.LogPath, err)
	}
	tb := &tailBuffer{max: 8 << 10}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = EnvList(c.Env)
	cmd.Stdout = io.MultiWriter(logf, tb)
	cmd.Stderr = cmd.Stdout
	cmd.ExtraFiles = c.ExtraFiles
	cmd.SysProcAttr = c.Attr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{}), out: tb}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the child's process id (and its process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the child has exited and its output is flushed.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// ExitCode is the child's exit code, 128+n when signal n killed it, -1 while it runs.
func (p *Proc) ExitCode() int {
	st := p.cmd.ProcessState
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// Signal sends sig to the child's whole process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// Stop sends SIGTERM to the group, SIGKILL after grace, and waits for the child to exit. Members of the
// group that outlive the child get the SIGKILL too.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		p.Signal(syscall.SIGKILL) // leftovers of the group
		return
	default:
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	p.Signal(syscall.SIGKILL)
	<-p.exited
}

// Tail is ": " followed by the last lines the child wrote, or "" when it wrote nothing: ready to append to
// an error message.
func (p *Proc) Tail() string {
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

// EnvList turns an environment map into NAME=value entries, sorted (never nil, so an empty map is an empty
// environment rather than the parent's).
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
