package jstools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// stderrLineBytes bounds a logged stderr line.
const stderrLineBytes = 8 << 10

// spawn starts the host process with its two protocol pipes and the goroutines that serve it.
func (h *Host) spawn(script string) error {
	var pipes [4][2]*os.File // requests, replies, stdout, stderr: {read, write}
	closeAll := func() {
		for _, p := range pipes {
			for _, f := range p {
				if f != nil {
					_ = f.Close()
				}
			}
		}
	}
	for i := range pipes {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return fmt.Errorf("jstools: pipe: %w", err)
		}
		pipes[i] = [2]*os.File{r, w}
	}
	args := h.runtime.args(script)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = h.opts.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = h.scratch
	}
	cmd.Env = h.opts.Env
	cmd.Stdout = pipes[2][1]
	cmd.Stderr = pipes[3][1]
	cmd.ExtraFiles = []*os.File{pipes[0][0], pipes[1][1]} // the host's fd 3 and fd 4
	configureProcess(cmd)
	if err := cmd.Start(); err != nil {
		closeAll()
		return fmt.Errorf("jstools: start %s: %w", h.runtime.kind, err)
	}
	for _, childEnd := range []*os.File{pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1]} {
		_ = childEnd.Close()
	}
	h.cmd = cmd
	h.requests = pipes[0][1]

	replies, stdout, stderr := pipes[1][0], pipes[2][0], pipes[3][0]
	var readers sync.WaitGroup
	readers.Add(3)
	go func() { defer readers.Done(); h.readReplies(replies) }()
	go func() { defer readers.Done(); h.readStdout(stdout) }()
	go func() { defer readers.Done(); h.readStderr(stderr) }()
	go func() {
		waitErr := cmd.Wait()
		killProcessGroup(cmd.Process) // whatever the tools started, and with it the pipes they hold
		readers.Wait()
		for _, f := range []*os.File{replies, stdout, stderr} {
			_ = f.Close()
		}
		h.fail(h.exitError(waitErr))
		close(h.events)
		close(h.done)
	}()
	return nil
}

// exitError describes how the host ended.
func (h *Host) exitError(waitErr error) error {
	how := "exited with status 0"
	if waitErr != nil {
		how = waitErr.Error()
	}
	h.mu.Lock()
	protoErr := h.protoErr
	h.mu.Unlock()
	if protoErr != nil {
		how = "stopped after a protocol error: " + protoErr.Error()
	}
	msg := fmt.Sprintf("%s %s", h.runtime.kind, how)
	if tail := h.stderr.String(); tail != "" {
		msg += "; stderr: " + tail
	}
	return fmt.Errorf("%w: %s", ErrHostExited, msg)
}

// readReplies reads the protocol stream; an oversized line is a protocol error that stops the host.
func (h *Host) readReplies(r io.Reader) {
	err := readLines(r, h.maxMessage, func(line []byte, size int) error {
		if size > h.maxMessage {
			return fmt.Errorf("a message of %d bytes exceeds the limit of %d", size, h.maxMessage)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		m, err := decodeHostMessage(line)
		if err != nil {
			h.log.Warn("jstools: ignored host message", "error", err, "line", preview(line))
			return nil
		}
		h.dispatch(m)
		return nil
	})
	if err != nil {
		h.mu.Lock()
		h.protoErr = err
		h.mu.Unlock()
		killProcessGroup(h.cmd.Process)
		_, _ = io.Copy(io.Discard, r)
	}
}

func (h *Host) dispatch(m hostMessage) {
	switch {
	case m.ID != nil:
		h.mu.Lock()
		call := h.pending[*m.ID]
		delete(h.pending, *m.ID)
		h.mu.Unlock()
		if call == nil {
			h.log.Debug("jstools: reply to a call nobody waits for", "id", *m.ID)
			return
		}
		call.reply <- reply{result: m.Result, toolErr: m.Error}
	case m.Stdout != nil:
		if m.Truncated > 0 {
			h.log.Warn("jstools: dropped a tool output line over the size limit",
				"bytes", m.Truncated, "limit", h.opts.MaxLineBytes, "start", preview([]byte(*m.Stdout)))
			return
		}
		h.stdoutLine([]byte(*m.Stdout))
	case m.Log != nil:
		h.log.Log(context.Background(), logLevel(m.Log.Level), "jstools: "+m.Log.Message)
	case m.Ctx != nil:
		go h.serveContext(*m.Ctx)
	}
}

// readStdout reads what tools wrote to fd 1 directly (bypassing process.stdout).
func (h *Host) readStdout(r io.Reader) {
	_ = readLines(r, h.opts.MaxLineBytes, func(line []byte, size int) error {
		if size > h.opts.MaxLineBytes {
			h.log.Warn("jstools: dropped a tool output line over the size limit",
				"bytes", size, "limit", h.opts.MaxLineBytes, "start", preview(line))
			return nil
		}
		h.stdoutLine(line)
		return nil
	})
}

// stdoutLine sends a canonical event on Events and logs anything else.
func (h *Host) stdoutLine(line []byte) {
	event, ok := parseEvent(line)
	if !ok {
		if len(bytes.TrimSpace(line)) > 0 {
			h.log.Debug("jstools: tool output", "line", preview(line))
		}
		return
	}
	select {
	case h.events <- event:
	case <-h.abandon:
	}
}

func (h *Host) readStderr(r io.Reader) {
	_ = readLines(r, stderrLineBytes, func(line []byte, _ int) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		h.stderr.add(string(line))
		h.log.Info("jstools: host stderr", "line", string(line))
		return nil
	})
}

// serveContext answers a tool-context request of a running call.
func (h *Host) serveContext(req ctxRequest) {
	result, err := h.contextResult(req)
	answer := request{ID: req.ID, Op: "ctxresult"}
	if err != nil {
		answer.Error = &wireError{Message: err.Error()}
	} else {
		if len(result) == 0 {
			result = json.RawMessage("null")
		}
		answer.Result = result
	}
	if err := h.send(answer, h.opts.CallTimeout); err != nil {
		h.log.Debug("jstools: tool-context answer not sent", "error", err)
	}
}

func (h *Host) contextResult(req ctxRequest) (json.RawMessage, error) {
	h.mu.Lock()
	call := h.pending[req.Call]
	h.mu.Unlock()
	if call == nil {
		return nil, fmt.Errorf("%s: the tool call has already ended", req.Method)
	}
	tc := h.opts.ToolContext
	if tc == nil {
		return nil, fmt.Errorf("%s is not available: this runner gives tool packages no Appstrate context", req.Method)
	}
	var args []json.RawMessage
	if err := json.Unmarshal(req.Args, &args); err != nil {
		return nil, fmt.Errorf("%s: unreadable arguments", req.Method)
	}
	switch req.Method {
	case "providerCall":
		var providerID string
		if len(args) != 2 || json.Unmarshal(args[0], &providerID) != nil || providerID == "" {
			return nil, errors.New("providerCall(providerId, args): providerId must be a non-empty string")
		}
		return tc.ProviderCall(call.ctx, providerID, args[1])
	case "readResource":
		var uri string
		if len(args) != 1 || json.Unmarshal(args[0], &uri) != nil || uri == "" {
			return nil, errors.New("readResource(uri): uri must be a non-empty string")
		}
		return tc.ReadResource(call.ctx, uri)
	}
	return nil, fmt.Errorf("unknown tool-context method %q", req.Method)
}

func logLevel(level string) slog.Level {
	switch level {
	case "error":
		return slog.LevelError
	case "warn":
		return slog.LevelWarn
	case "debug":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// readLines calls fn with each line of r (without its line ending) and its full length in bytes; a line
// longer than limit is passed cut to limit bytes. It stops at the end of r or at fn's first error.
func readLines(r io.Reader, limit int, fn func(line []byte, size int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	size := 0
	for {
		chunk, err := br.ReadSlice('\n')
		size += len(chunk)
		if room := limit + 1 - len(buf); room > 0 {
			buf = append(buf, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if size > 0 {
			if err == nil {
				size-- // the '\n'
			}
			line := buf[:min(len(buf), size, limit)]
			line = bytes.TrimSuffix(line, []byte("\r"))
			if ferr := fn(line, size); ferr != nil {
				return ferr
			}
		}
		buf, size = buf[:0], 0
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// preview is the start of a line for a log.
func preview(line []byte) string {
	const n = 200
	if len(line) <= n {
		return string(line)
	}
	return string(line[:n]) + "…"
}

// tailLines keeps the last lines of a stream for error messages.
type tailLines struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tailLines) add(line string) {
	const lineCap = 300
	if len(line) > lineCap {
		line = line[:lineCap] + "…"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailLines) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}
