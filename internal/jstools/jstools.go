package jstools

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed host.mjs
var hostScript []byte

// Defaults of Options.
const (
	DefaultCallTimeout    = 5 * time.Minute
	DefaultLoadTimeout    = 30 * time.Second
	DefaultMaxResultBytes = 4 << 20
	DefaultMaxLineBytes   = 1 << 20
	DefaultMaxBundleBytes = 2 << 20 // the published-bundle limit of PACKAGES.md §1.8
)

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 256

// Errors callers branch on (errors.Is). ErrNoJSRuntime is in runtime.go.
var (
	// ErrHostExited: the host process is gone; the error wrapping it says how it ended.
	ErrHostExited = errors.New("JavaScript tool host exited")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("JavaScript tool host closed")
	// ErrUnknownTool: no loaded package registered a tool of that name.
	ErrUnknownTool = errors.New("unknown tool")
	// ErrTimeout: the call did not finish within Options.CallTimeout (its AbortSignal was fired).
	ErrTimeout = errors.New("tool call timed out")
)

// Package is one tool package to host.
type Package struct {
	// ID names the package in errors, e.g. "@acme/fetch-json".
	ID string
	// Dir holds the package's files.
	Dir string
	// Entrypoint is manifest.entrypoint: a path relative to Dir (TypeScript or JavaScript, ESM).
	Entrypoint string
}

// ToolContext serves the tool context a tool receives as the fourth argument of execute (RUNTIME.md §4.1):
// appstrateCtx.providerCall(providerId, args) and appstrateCtx.readResource(uri). ctx is the call's context.
// The JSON returned is what the tool's promise resolves to; an error rejects it with the error's text.
type ToolContext interface {
	ProviderCall(ctx context.Context, providerID string, args json.RawMessage) (json.RawMessage, error)
	ReadResource(ctx context.Context, uri string) (json.RawMessage, error)
}

// Options configures Start. Zero values take the defaults.
type Options struct {
	// Runtime is "" (node, else bun, looked up on PATH), "node", "bun", or the path of either.
	Runtime string
	// ScratchDir is where a private directory for the bundles and the host script is made (removed on Close);
	// "" means os.TempDir().
	ScratchDir string
	// WorkDir is the host's working directory (tools see it as process.cwd()); "" means the scratch directory.
	WorkDir  string
	Packages []Package
	// Env is the host's whole environment. nil means a minimal one: PATH, HOME, TMPDIR, LANG, LC_ALL and TZ
	// of this process, when set.
	Env []string
	// ToolContext serves appstrateCtx; nil makes its methods reject with a clear error.
	ToolContext ToolContext
	Logger      *slog.Logger
	// CallTimeout bounds one call (DefaultCallTimeout); LoadTimeout bounds importing and initialising one
	// package (DefaultLoadTimeout).
	CallTimeout time.Duration
	LoadTimeout time.Duration
	// MaxResultBytes bounds a call's result as JSON (DefaultMaxResultBytes); larger ones become error results.
	MaxResultBytes int
	// MaxLineBytes bounds one line a tool writes to stdout (DefaultMaxLineBytes); longer ones are dropped with
	// a log line.
	MaxLineBytes int
	// MaxBundleBytes bounds a package's bundle (DefaultMaxBundleBytes).
	MaxBundleBytes int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	if o.MaxResultBytes <= 0 {
		o.MaxResultBytes = DefaultMaxResultBytes
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.MaxBundleBytes <= 0 {
		o.MaxBundleBytes = DefaultMaxBundleBytes
	}
	if o.Env == nil {
		o.Env = minimalEnv()
	}
	return o
}

func minimalEnv() []string {
	var env []string
	for _, name := range []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// Tool is a tool a package registered.
type Tool struct {
	Package     string          `json:"package"`
	Name        string          `json:"name"`
	Label       string          `json:"label"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"` // a JSON Schema object
}

// Content is one part of a result: text, or an image (base64 Data with its MimeType).
type Content struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Data     string `json:"data,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
}

// Result is what a call gave the model.
type Result struct {
	Content []Content       `json:"content"`
	IsError bool            `json:"isError,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
}

// Text is the text parts joined with newlines; images appear as "[image <mimeType>]".
func (r Result) Text() string {
	parts := make([]string, 0, len(r.Content))
	for _, c := range r.Content {
		if c.Type == "image" {
			parts = append(parts, "[image "+c.MimeType+"]")
			continue
		}
		parts = append(parts, c.Text)
	}
	return strings.Join(parts, "\n")
}

// LoadError says why a package contributes no tool.
type LoadError struct {
	Package string `json:"package"`
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

func (e LoadError) Error() string {
	return fmt.Sprintf("extension '%s' failed to load: %s", e.Package, e.Message)
}

// Host is a running JavaScript host with its loaded tools. Its methods are safe for concurrent use.
type Host struct {
	opts    Options
	log     *slog.Logger
	runtime jsRuntime
	version string
	scratch string

	cmd        *exec.Cmd
	requests   *os.File // our end of the host's fd 3
	writeMu    sync.Mutex
	maxMessage int

	mu       sync.Mutex
	nextID   int64
	pending  map[int64]*pendingCall
	err      error // why the host is gone; nil while it runs
	closing  bool
	protoErr error // a protocol violation that made us kill the host

	tools      []Tool
	byName     map[string]Tool
	loadErrors []LoadError

	events    chan json.RawMessage
	abandon   chan struct{} // closed by Close: nobody reads events any more
	done      chan struct{} // closed when the host and its readers are finished
	stderr    *tailLines
	closeOnce sync.Once
	closeErr  error
}

type pendingCall struct {
	ctx   context.Context
	reply chan reply
}

type reply struct {
	result  []byte
	toolErr *wireError
	err     error // the host is gone
}

// Start bundles the packages, starts the host and loads them. Packages that fail are in LoadErrors; Start
// fails only when the host itself cannot run (no runtime, it cannot start, it dies or hangs while loading).
func Start(ctx context.Context, opts Options) (*Host, error) {
	opts = opts.withDefaults()
	runtime, err := findRuntime(opts.Runtime)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(opts.ScratchDir, "jstools-")
	if err != nil {
		return nil, fmt.Errorf("jstools: scratch directory: %w", err)
	}
	h := &Host{
		opts: opts, log: opts.Logger, runtime: runtime, scratch: scratch,
		// Results are measured as JSON by the host, stdout lines as raw text (JSON escapes at most 6×).
		maxMessage: max(opts.MaxResultBytes, 6*opts.MaxLineBytes) + 1<<20,
		pending:    map[int64]*pendingCall{}, byName: map[string]Tool{},
		events: make(chan json.RawMessage, eventBuffer), abandon: make(chan struct{}), done: make(chan struct{}),
		stderr: &tailLines{max: 8},
	}
	bundles, bundleErrors := h.bundleAll()
	script := filepath.Join(scratch, "host.mjs")
	if err := os.WriteFile(script, hostScript, 0o600); err != nil {
		_ = os.RemoveAll(scratch)
		return nil, fmt.Errorf("jstools: write host script: %w", err)
	}
	if err := h.spawn(script); err != nil {
		_ = os.RemoveAll(scratch)
		return nil, err
	}
	if err := h.load(ctx, bundles, bundleErrors); err != nil {
		_ = h.Close()
		return nil, fmt.Errorf("jstools: loading tool packages: %w", err)
	}
	h.log.Info("jstools: tool host ready", "runtime", h.version, "tools", len(h.tools), "loadErrors", len(h.loadErrors))
	return h, nil
}

// bundleAll bundles every package into the scratch directory; the ones that fail become load errors.
func (h *Host) bundleAll() ([]loadPackage, []indexedLoadError) {
	var bundles []loadPackage
	var failures []indexedLoadError
	for i, pkg := range h.opts.Packages {
		if pkg.ID == "" {
			pkg.ID = fmt.Sprintf("package #%d", i+1)
		}
		out := filepath.Join(h.scratch, fmt.Sprintf("package-%d.mjs", i+1))
		if err := bundle(pkg, out, h.opts.MaxBundleBytes); err != nil {
			failures = append(failures, indexedLoadError{LoadError{Package: pkg.ID, Message: err.Error()}, i})
			continue
		}
		bundles = append(bundles, loadPackage{Index: i, ID: pkg.ID, File: out})
	}
	return bundles, failures
}

// load asks the host to import the bundles, then lists the tools.
func (h *Host) load(ctx context.Context, bundles []loadPackage, bundleErrors []indexedLoadError) error {
	wait := h.opts.LoadTimeout * time.Duration(2*len(bundles)+1)
	raw, err := h.roundTrip(ctx, request{Op: "load", Packages: bundles, Limits: &hostLimits{
		MaxResultBytes: h.opts.MaxResultBytes, MaxLineBytes: h.opts.MaxLineBytes,
		LoadTimeoutMs: h.opts.LoadTimeout.Milliseconds(),
	}}, wait)
	if err != nil {
		return err
	}
	var loaded loadReply
	if err := json.Unmarshal(raw, &loaded); err != nil {
		return fmt.Errorf("unreadable load reply: %w", err)
	}
	raw, err = h.roundTrip(ctx, request{Op: "list"}, h.opts.LoadTimeout)
	if err != nil {
		return err
	}
	var listed listReply
	if err := json.Unmarshal(raw, &listed); err != nil {
		return fmt.Errorf("unreadable list reply: %w", err)
	}
	h.version = loaded.Runtime
	h.loadErrors = inPackageOrder(append(bundleErrors, loaded.LoadErrors...))
	for _, e := range h.loadErrors {
		h.log.Warn("jstools: "+e.Error(), "package", e.Package)
	}
	for _, t := range listed.Tools {
		if len(t.Parameters) == 0 {
			t.Parameters = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		h.tools = append(h.tools, t)
		h.byName[t.Name] = t
	}
	return nil
}

// inPackageOrder sorts load errors in the order of Options.Packages.
func inPackageOrder(errs []indexedLoadError) []LoadError {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Index < errs[j].Index })
	ordered := make([]LoadError, len(errs))
	for i, e := range errs {
		ordered[i] = e.LoadError
	}
	return ordered
}

// Tools are the tools the loaded packages registered, in registration order.
func (h *Host) Tools() []Tool { return append([]Tool(nil), h.tools...) }

// LoadErrors are the packages that could not be bundled, imported or initialised, in the order of
// Options.Packages.
func (h *Host) LoadErrors() []LoadError { return append([]LoadError(nil), h.loadErrors...) }

// Runtime names the runtime and its version, e.g. "node v20.11.1".
func (h *Host) Runtime() string { return h.version }

// Events delivers the canonical events tools wrote to stdout, in order, as compact JSON objects (as the
// tool wrote them: the runner stamps them). It is closed when the host is gone. Keep reading it: the host
// waits while it is full.
func (h *Host) Events() <-chan json.RawMessage { return h.events }

// Done is closed when the host has exited (crash or Close).
func (h *Host) Done() <-chan struct{} { return h.done }

// Err is why the host is gone, or nil while it runs.
func (h *Host) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Call runs tool with params (a JSON object; empty means {}). A tool that throws or returns something
// unusable gives an error Result "Error in extension '<package>' tool '<name>': <message>" and a nil error.
// The error is non-nil when the call could not be made or did not end: ErrUnknownTool, invalid params,
// ErrTimeout, the context's error (the tool's AbortSignal fires in both cases), ErrHostExited or ErrClosed.
func (h *Host) Call(ctx context.Context, tool, toolCallID string, params json.RawMessage) (Result, error) {
	t, ok := h.byName[tool]
	if !ok {
		return Result{}, fmt.Errorf("%w '%s'", ErrUnknownTool, tool)
	}
	params, err := objectParams(params)
	if err != nil {
		return Result{}, fmt.Errorf("tool '%s': %w", tool, err)
	}
	raw, toolErr, err := h.exchange(ctx, request{Op: "call", Tool: tool, ToolCallID: toolCallID, Params: params},
		h.opts.CallTimeout, true)
	if errors.Is(err, ErrTimeout) {
		return Result{}, fmt.Errorf("%w: tool '%s' did not finish within %s", ErrTimeout, tool, h.opts.CallTimeout)
	}
	if err != nil {
		return Result{}, fmt.Errorf("tool '%s': %w", tool, err)
	}
	if toolErr != nil {
		h.log.Debug("jstools: tool threw", "package", t.Package, "tool", t.Name, "error", toolErr.Message, "stack", toolErr.Stack)
		return toolErrorResult(t, toolErr.Message), nil
	}
	result, err := decodeResult(raw)
	if err != nil {
		return toolErrorResult(t, err.Error()), nil
	}
	return result, nil
}

func toolErrorResult(t Tool, message string) Result {
	text := fmt.Sprintf("Error in extension '%s' tool '%s': %s", t.Package, t.Name, message)
	return Result{Content: []Content{{Type: "text", Text: text}}, IsError: true}
}

// objectParams checks that params is one JSON object (empty means {}).
func objectParams(params json.RawMessage) (json.RawMessage, error) {
	if len(strings.TrimSpace(string(params))) == 0 {
		return json.RawMessage("{}"), nil
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(params, &object); err != nil || object == nil {
		return nil, errors.New("params must be one JSON object")
	}
	return params, nil
}

// roundTrip sends req and waits for its result; a reply with an error fails it.
func (h *Host) roundTrip(ctx context.Context, req request, timeout time.Duration) (json.RawMessage, error) {
	raw, replyErr, err := h.exchange(ctx, req, timeout, false)
	if err != nil {
		return nil, err
	}
	if replyErr != nil {
		return nil, fmt.Errorf("host: %s", replyErr.Message)
	}
	return raw, nil
}

// exchange sends req with a fresh id and waits for the reply, the host's end, ctx or the timeout; with
// abortable, ctx's end and the timeout also fire the call's AbortSignal.
func (h *Host) exchange(ctx context.Context, req request, timeout time.Duration, abortable bool) ([]byte, *wireError, error) {
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, call, err := h.begin(callCtx)
	if err != nil {
		return nil, nil, err
	}
	defer h.end(id)
	req.ID = id
	if err := h.send(req, timeout); err != nil {
		return nil, nil, err
	}
	select {
	case r := <-call.reply:
		return r.result, r.toolErr, r.err
	case <-callCtx.Done():
		if abortable {
			if err := h.send(request{ID: id, Op: "cancel"}, 5*time.Second); err != nil {
				h.log.Debug("jstools: cancel not sent", "error", err)
			}
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, ErrTimeout
	}
}

func (h *Host) begin(ctx context.Context) (int64, *pendingCall, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return 0, nil, h.err
	}
	if h.closing {
		return 0, nil, ErrClosed
	}
	h.nextID++
	call := &pendingCall{ctx: ctx, reply: make(chan reply, 1)}
	h.pending[h.nextID] = call
	return h.nextID, call, nil
}

func (h *Host) end(id int64) {
	h.mu.Lock()
	delete(h.pending, id)
	h.mu.Unlock()
}

// send writes one request line; a host that does not read for timeout fails it.
func (h *Host) send(req request, timeout time.Duration) error {
	line, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	line = append(line, '\n')
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	_ = h.requests.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := h.requests.Write(line); err != nil {
		if gone := h.Err(); gone != nil {
			return gone
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrTimeout
		}
		return fmt.Errorf("%w: %v", ErrHostExited, err)
	}
	return nil
}

// fail records why the host is gone and fails the calls waiting for it.
func (h *Host) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
		if h.closing {
			h.err = ErrClosed
		}
	}
	for id, call := range h.pending {
		call.reply <- reply{err: h.err}
		delete(h.pending, id)
	}
}

// Close stops the host (killing its process group), waits for it and removes the scratch directory.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closing = true
		h.mu.Unlock()
		close(h.abandon)
		_ = h.requests.Close()
		killProcessGroup(h.cmd.Process)
		<-h.done
		h.closeErr = os.RemoveAll(h.scratch)
	})
	return h.closeErr
}
