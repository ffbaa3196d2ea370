package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/appstrate/appstrate-go/internal/jstools"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// packageHost is the JavaScript host of a run's tool packages and the pump of the events its tools write.
type packageHost struct {
	host   *jstools.Host
	pump   *eventPump
	loaded int // packages that registered their tools
}

// close handles the events still queued, then stops the host.
func (p *packageHost) close() {
	if p == nil {
		return
	}
	p.pump.close()
	_ = p.host.Close()
}

// startToolPackages hosts the agent's tool packages (cfg.ToolPackages) in a JavaScript runtime and returns
// their tools; nil without packages. A package that cannot be loaded, and a tool whose name is taken (taken
// reports it), is reported as an appstrate.error event and left out: the run goes on without it. The error
// is for what leaves every package unusable — no JavaScript runtime, a host that cannot start — and fails
// the run.
func (r *run) startToolPackages(ctx context.Context, ws *Workspace, sidecar *Sidecar, taken func(string) bool) (*packageHost, []Tool, error) {
	pkgs := r.hostablePackages(ctx, ws)
	if len(pkgs) == 0 {
		return nil, nil, nil
	}
	env := r.cfg.BashEnv
	if env == nil {
		env = ScrubbedEnv(os.Environ())
	}
	opts := jstools.Options{Runtime: r.cfg.JSRuntime, WorkDir: ws.Dir(), Packages: pkgs, Env: env, Logger: r.log}
	if sidecar != nil {
		opts.ToolContext = toolContext{sidecar: sidecar, ws: ws}
	}
	host, err := jstools.Start(ctx, opts)
	if err != nil {
		ids := make([]string, len(pkgs))
		for i, p := range pkgs {
			ids[i] = p.ID
		}
		if errors.Is(err, jstools.ErrNoJSRuntime) {
			return nil, nil, fmt.Errorf("the agent's tool packages (%s) need a JavaScript runtime: %w", strings.Join(ids, ", "), err)
		}
		return nil, nil, fmt.Errorf("the agent's tool packages (%s) could not be started: %w", strings.Join(ids, ", "), err)
	}
	ph := &packageHost{host: host, loaded: len(pkgs)}
	failed := map[string]bool{}
	for _, e := range host.LoadErrors() {
		failed[e.Package] = true
		data := map[string]any{"package": e.Package}
		if e.Stack != "" {
			data["stack"] = e.Stack
		}
		r.events.errorEvent(ctx, e.Error(), data)
	}
	ph.loaded -= len(failed)
	ph.pump = startPump(host.Events(), func(raw json.RawMessage) { r.toolEvent(ctx, raw) })
	var tools []Tool
	for _, t := range host.Tools() {
		if taken(t.Name) {
			r.events.errorEvent(ctx, fmt.Sprintf("Tool '%s' of extension '%s' is not loaded: a built-in tool has that name", t.Name, t.Package),
				map[string]any{"package": t.Package, "tool": t.Name})
			continue
		}
		tools = append(tools, packageTool(ph, t))
	}
	return ph, tools, nil
}

// hostablePackages resolves the packages' directories in the workspace; a package without an entrypoint or
// outside the workspace is reported and left out.
func (r *run) hostablePackages(ctx context.Context, ws *Workspace) []jstools.Package {
	var out []jstools.Package
	for _, p := range r.cfg.ToolPackages {
		reject := func(why string) {
			r.events.errorEvent(ctx, fmt.Sprintf("extension '%s' failed to load: %s", p.ID, why), map[string]any{"package": p.ID})
		}
		if strings.TrimSpace(p.Entrypoint) == "" {
			reject("its manifest has no entrypoint")
			continue
		}
		rel, err := ws.rel(p.Dir)
		if err != nil {
			reject(err.Error())
			continue
		}
		out = append(out, jstools.Package{ID: p.ID, Dir: filepath.Join(ws.Dir(), filepath.FromSlash(rel)), Entrypoint: p.Entrypoint})
	}
	return out
}

// packageTool is a tool of a package for the model. Its call carries the tool call id, and returns once the
// events the tool wrote during the call are folded into the run.
func packageTool(ph *packageHost, t jstools.Tool) Tool {
	description := t.Description
	if strings.TrimSpace(description) == "" {
		description = t.Label
	}
	return Tool{
		Name:        t.Name,
		Description: description,
		Schema:      t.Parameters,
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			res, err := ph.host.Call(ctx, t.Name, ToolCallID(ctx), args)
			ph.pump.flush()
			if err != nil {
				return "", fmt.Errorf("Error in extension '%s' tool '%s': %v", t.Package, t.Name, err)
			}
			if res.IsError {
				return "", &ToolError{Message: res.Text()}
			}
			return res.Text(), nil
		},
	}
}

// toolEvent folds a canonical event a tool package wrote ({type, …fields}) into the run as the platform tool
// emitting it would (output, log, report, note, pin: the same checks, the same aggregate) and forwards it to
// the sink; progress and error events are forwarded as they are. Metrics are the runner's own: a tool's are
// dropped. An event that does not hold together is reported as an appstrate.error.
func (r *run) toolEvent(ctx context.Context, raw json.RawMessage) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		r.log.Warn("runner: unreadable tool package event", "error", err)
		return
	}
	var typ string
	_ = json.Unmarshal(ev["type"], &typ)
	for _, k := range []string{"type", "timestamp", "runId", "toolCallId"} {
		delete(ev, k)
	}
	if err := r.foldEvent(ctx, typ, ev); err != nil {
		r.log.Warn("runner: tool package event refused", "type", typ, "error", err)
		r.events.errorEvent(ctx, fmt.Sprintf("A tool package reported an invalid %s event: %v", typ, err), nil)
	}
}

func (r *run) foldEvent(ctx context.Context, typ string, ev map[string]json.RawMessage) error {
	var err error
	str := func(key string) string {
		var s string
		if raw, ok := ev[key]; ok && err == nil && json.Unmarshal(raw, &s) != nil {
			err = fmt.Errorf("%q must be a string", key)
		}
		return s
	}
	emit := r.events.emit
	switch typ {
	case sink.TypeOutput:
		data := bytes.TrimSpace(ev["data"])
		if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
			return errors.New(`"data" must be a JSON object`)
		}
		recordOutput(ctx, &r.agg, emit, data)
		return nil
	case sink.TypeLog:
		level, message := str("level"), str("message")
		if err != nil {
			return err
		}
		_, err = addLog(ctx, &r.agg, emit, level, message)
	case sink.TypeReport:
		content := str("content")
		if err != nil {
			return err
		}
		_, err = addReport(ctx, &r.agg, emit, content)
	case sink.TypeMemory:
		content, scope := str("content"), str("scope")
		if err != nil {
			return err
		}
		_, err = addNote(ctx, &r.agg, emit, content, scope)
	case sink.TypePinned:
		key, scope := str("key"), str("scope")
		if err != nil {
			return err
		}
		_, err = setPin(ctx, &r.agg, emit, key, ev["content"], scope)
	case sink.TypeProgress, sink.TypeError:
		emit(ctx, typ, ev)
	case sink.TypeMetric:
		r.log.Debug("runner: a tool package's metric event is dropped (token usage is the runner's)")
	default:
		return fmt.Errorf("unknown event type %q", typ)
	}
	var te *ToolError
	if errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(te.Message, "Invalid arguments: "))
	}
	return err
}

// toolContext serves the tool context of the packages (appstrateCtx) through the sidecar.
type toolContext struct {
	sidecar *Sidecar
	ws      *Workspace
}

// ProviderCall is provider_call for a tool: args are provider_call's arguments without providerId, the
// result the provider_call result object {status, headers, body} (a status ≥ 400 is a result, not an error).
func (c toolContext) ProviderCall(ctx context.Context, providerID string, args json.RawMessage) (json.RawMessage, error) {
	if !slices.Contains(c.sidecar.providers, providerID) {
		connected := "none"
		if len(c.sidecar.providers) > 0 {
			connected = strings.Join(c.sidecar.providers, ", ")
		}
		return nil, fmt.Errorf("provider %q is not connected to this run (connected: %s)", providerID, connected)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil || m == nil {
		return nil, errors.New("providerCall arguments must be an object {target, method?, headers?, body?, responseMode?}")
	}
	id, _ := json.Marshal(providerID)
	m["providerId"] = id
	res, err := c.sidecar.providerCall(ctx, c.ws, m)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// ReadResource is resources/read of the sidecar: {contents: [{uri, mimeType, text | blob}]}.
func (c toolContext) ReadResource(ctx context.Context, uri string) (json.RawMessage, error) {
	rr, err := c.sidecar.client.ReadResource(ctx, uri)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rr)
}

// eventPump reads the events of the tool packages as they come (the host waits while its channel is full)
// and handles them one at a time.
type eventPump struct {
	sync chan chan struct{}
	stop chan struct{}
	done chan struct{}
}

func startPump(events <-chan json.RawMessage, handle func(json.RawMessage)) *eventPump {
	p := &eventPump{sync: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(events, handle)
	return p
}

func (p *eventPump) run(events <-chan json.RawMessage, handle func(json.RawMessage)) {
	defer close(p.done)
	drain := func() {
		for events != nil {
			select {
			case ev, ok := <-events:
				if !ok {
					events = nil
					return
				}
				handle(ev)
			default:
				return
			}
		}
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil // a nil channel never delivers: wait for sync and stop only
				continue
			}
			handle(ev)
		case ack := <-p.sync:
			drain()
			close(ack)
		case <-p.stop:
			drain()
			return
		}
	}
}

// flush returns once every event already on the channel is handled.
func (p *eventPump) flush() {
	ack := make(chan struct{})
	select {
	case p.sync <- ack:
		<-ack
	case <-p.done:
	}
}

// close handles the events on the channel and stops the pump.
func (p *eventPump) close() {
	close(p.stop)
	<-p.done
}
