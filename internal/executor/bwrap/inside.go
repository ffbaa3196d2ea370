package bwrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitCommand is the hidden `appstrate` subcommand the sandbox starts with (SandboxInit).
const InitCommand = "sandbox-init"

// rlimitsByName are the rlimits sandbox-init accepts.
var rlimitsByName = map[string]int{"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "cpu": unix.RLIMIT_CPU,
	"core": unix.RLIMIT_CORE, "nproc": unix.RLIMIT_NPROC}

// initOptions are sandbox-init's flags.
type initOptions struct {
	seed, workspace string
	proxyListen     string
	proxySocket     string
	stopFD          int
	rlimits         map[int]uint64
	command         []string
}

func parseInitArgs(args []string, stderr io.Writer) (initOptions, error) {
	o := initOptions{rlimits: map[int]uint64{}}
	fs := flag.NewFlagSet(InitCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.seed, "seed", "", "directory whose files are copied into the workspace")
	fs.StringVar(&o.workspace, "workspace", Workspace, "the work directory (cwd of the command)")
	fs.StringVar(&o.proxyListen, "proxy-listen", "", "host:port of the forward proxy relay inside the sandbox")
	fs.StringVar(&o.proxySocket, "proxy-socket", "", "unix socket of the sidecar's forward proxy")
	fs.IntVar(&o.stopFD, "stop-fd", -1, "descriptor whose end of file asks the command to stop (SIGTERM)")
	fs.Func("rlimit", "name=value (data, fsize, cpu, core, nproc), repeatable", func(v string) error {
		name, value, ok := strings.Cut(v, "=")
		res, known := rlimitsByName[name]
		if !ok || !known {
			return fmt.Errorf("want name=value with name in data, fsize, cpu, core, nproc, got %q", v)
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("rlimit %s: %q is not a number", name, value)
		}
		o.rlimits[res] = n
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.command = fs.Args()
	if len(o.command) == 0 {
		return o, errors.New("no command to run (sandbox-init [flags] -- command [args])")
	}
	if (o.proxyListen == "") != (o.proxySocket == "") {
		return o, errors.New("-proxy-listen and -proxy-socket go together")
	}
	return o, nil
}

// SandboxInit is `appstrate sandbox-init`, the first process of a sandbox (under bwrap's own pid 1): it
// lowers its rlimits (inherited by everything after it), copies the workspace's initial files from the
// read-only seed directory into the workspace tmpfs, serves the forward proxy relay on the sandbox's
// loopback (a TCP listener whose connections go to the sidecar's proxy socket, for HTTP(S)_PROXY), then runs
// the command (the runner) and exits with its exit code. End of file on the stop descriptor, SIGTERM or
// SIGINT sends SIGTERM to the command. Problems are printed on stderr; the exit code is then 125.
func SandboxInit(args []string, stderr io.Writer) int {
	o, err := parseInitArgs(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sandbox-init:", err)
		return 125
	}
	if err := prepareSandbox(o); err != nil {
		fmt.Fprintln(stderr, "sandbox-init:", err)
		return 125
	}
	if o.proxyListen != "" {
		ln, err := net.Listen("tcp", o.proxyListen)
		if err != nil {
			fmt.Fprintln(stderr, "sandbox-init: forward proxy relay:", err)
			return 125
		}
		go relayConnections(ln, o.proxySocket)
	}
	return runCommand(o, stderr)
}

func prepareSandbox(o initOptions) error {
	for res, v := range o.rlimits {
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("rlimit %d: %w", res, err)
		}
	}
	if o.seed != "" {
		if err := os.CopyFS(o.workspace, os.DirFS(o.seed)); err != nil {
			return fmt.Errorf("copy the workspace files: %w", err)
		}
	}
	return nil
}

func runCommand(o initOptions, stderr io.Writer) int {
	cmd := exec.Command(o.command[0], o.command[1:]...)
	cmd.Dir = o.workspace
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "sandbox-init: start", o.command[0]+":", err)
		return 125
	}
	stop := make(chan struct{}, 1)
	if o.stopFD >= 0 {
		go func() {
			f := os.NewFile(uintptr(o.stopFD), "stop")
			_, _ = io.Copy(io.Discard, f) // returns at end of file: the executor asks for a stop
			stop <- struct{}{}
		}()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		select {
		case <-signals:
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-stop:
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-exited:
			return exitCode(cmd.ProcessState)
		}
	}
}

func exitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// relayConnections copies every connection accepted on ln to a new connection to the unix socket.
func relayConnections(ln net.Listener, socket string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		go relay(c, socket)
	}
}

func relay(client net.Conn, socket string) {
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	upstream, err := (&net.Dialer{}).DialContext(ctx, "unix", socket)
	cancel()
	if err != nil {
		_, _ = io.WriteString(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nforward proxy unreachable\n")
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	go pipe(upstream, client, done)
	go pipe(client, upstream, done)
	<-done
	<-done
}

// pipe copies src to dst, then half-closes dst's write side so the peer sees the end of the stream.
func pipe(dst, src net.Conn, done chan<- struct{}) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
	done <- struct{}{}
}
