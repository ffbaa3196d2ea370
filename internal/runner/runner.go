package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Deps are the collaborators of a run.
type Deps struct {
	// LLM is the model client (internal/llm; behind the sidecar in production).
	LLM llm.Client
	// Sink receives the events and the result.
	Sink EventSink
	// Sidecar is the session with the run's sidecar (nil: none): its tools are offered to the model and it
	// serves the tool context of the tool packages.
	Sidecar *Sidecar
	// Tools are offered to the model next to the workspace, platform and sidecar tools; a tool here replaces
	// a built-in one of the same name.
	Tools []Tool
	// Logger receives the runner's own diagnostics (nil: discarded).
	Logger *slog.Logger
}

// Run statuses set in the RunResult (a run that ends normally leaves the status to the platform).
const (
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimeout   = "timeout"
)

// finalizeTimeout bounds the finalize once the loop is over (it may follow a cancellation).
const finalizeTimeout = 15 * time.Second

// maxRetryAfter is the longest Retry-After honoured before a model call is retried.
const maxRetryAfter = time.Minute

// RuntimeProtocolVersion is reported in the "runtime ready" event.
const RuntimeProtocolVersion = "2.0"

// Run executes one agent run: the model loop with its tools, every event to deps.Sink, then one finalize with
// the aggregate result, which it also returns. A run that fails (model error, MAX_TURNS, cancellation) is not
// an error: its result says so (Status, Error). The error is for what prevents reporting: a missing dependency
// or a finalize that could not be delivered.
func Run(ctx context.Context, cfg Config, deps Deps) (result sink.RunResult, err error) {
	if deps.LLM == nil || deps.Sink == nil {
		return sink.RunResult{}, errors.New("runner: Deps.LLM and Deps.Sink are required")
	}
	r := newRun(cfg, deps)
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("runner: panic", "panic", p)
			r.fail(&sink.ErrorInfo{Message: fmt.Sprintf("runner panic: %v", p), Stack: string(debug.Stack())})
			result, err = r.finalize(ctx)
		}
	}()
	r.execute(ctx)
	return r.finalize(ctx)
}

// run is the state of one Run.
type run struct {
	cfg     Config
	llm     llm.Client
	sink    EventSink
	log     *slog.Logger
	events  emitter
	extra   []Tool
	sidecar *Sidecar
	agg     aggregate
	start   time.Time

	usage  llm.Usage
	cost   float64
	status string
	errInf *sink.ErrorInfo
}

func newRun(cfg Config, deps Deps) *run {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := cfg.StartedAt
	if start.IsZero() {
		start = time.Now()
	}
	return &run{cfg: cfg, llm: deps.LLM, sink: deps.Sink, log: log, events: emitter{sink: deps.Sink, log: log},
		extra: deps.Tools, sidecar: deps.Sidecar, start: start}
}

func (r *run) fail(info *sink.ErrorInfo) {
	r.status, r.errInf = StatusFailed, info
}

// execute prepares the tools and runs the loop, recording the outcome in r.
func (r *run) execute(ctx context.Context) {
	if strings.TrimSpace(r.cfg.Prompt) == "" {
		r.failWith(ctx, "the agent prompt is empty")
		return
	}
	ws, err := OpenWorkspace(r.cfg.WorkspaceDir)
	if err != nil {
		r.failWith(ctx, err.Error())
		return
	}
	defer ws.Close()
	platform, err := platformTools(&r.agg, r.events.emit, r.cfg.OutputSchema, r.cfg.AgentTools)
	if err != nil {
		r.failWith(ctx, err.Error())
		return
	}
	tools := newToolset(workspaceTools(ws, r.cfg.BashEnv)...)
	for _, t := range platform {
		tools.add(t)
	}
	if r.sidecar != nil {
		for _, t := range r.sidecar.Tools(ws) {
			tools.add(t)
		}
	}
	for _, t := range r.extra {
		tools.add(t)
	}
	for _, name := range r.cfg.AgentTools {
		if !slices.Contains(PlatformTools, name) {
			r.events.errorEvent(ctx, fmt.Sprintf("Tool %q is not available in this runtime: only the platform tools (%s) run natively",
				name, strings.Join(PlatformTools, ", ")), map[string]any{"tool": name})
		}
	}
	packages, packageTools, err := r.startToolPackages(ctx, ws, r.sidecar, tools.has)
	if err != nil {
		r.failWith(ctx, err.Error())
		return
	}
	defer packages.close()
	for _, t := range packageTools {
		tools.add(t)
	}
	extensions := 0
	if packages != nil {
		extensions = packages.loaded
	}
	r.events.emit(ctx, sink.TypeProgress, map[string]any{
		"message": fmt.Sprintf("runtime ready in %dms", time.Since(r.start).Milliseconds()),
		"level":   "info",
		"data": map[string]any{"bundleLoaded": false, "extensions": extensions,
			"runtimeProtocolVersion": RuntimeProtocolVersion, "tools": tools.visibleNames()},
	})
	r.loop(ctx, tools)
}

// failWith ends the run as failed with message, reported as an appstrate.error event too.
func (r *run) failWith(ctx context.Context, message string) {
	r.events.errorEvent(ctx, message, nil)
	r.fail(&sink.ErrorInfo{Message: message})
}

// loop is the conversation: model turn, tool calls, results, until the model stops calling tools.
func (r *run) loop(ctx context.Context, tools *toolset) {
	req := llm.Request{
		Model:         r.cfg.Model.ID,
		System:        r.cfg.Prompt,
		Messages:      []llm.Message{llm.UserText(r.cfg.Prompt)},
		Tools:         tools.specs(),
		MaxTokens:     r.cfg.Model.MaxTokens,
		PromptCaching: true,
	}
	maxTurns := r.cfg.maxTurns()
	for turn := 1; turn <= maxTurns; turn++ {
		if r.interrupted(ctx) {
			return
		}
		if n := fitContext(&req, r.cfg.Model.ContextWindow, r.cfg.Model.MaxTokens); n > 0 {
			r.log.Info("runner: old tool results shortened to fit the context window", "results", n,
				"contextWindow", r.cfg.Model.ContextWindow)
		}
		resp, err := r.callModel(ctx, req)
		if err != nil {
			if r.interrupted(ctx) {
				return
			}
			r.events.errorEvent(ctx, err.Error(), modelErrorData(err))
			r.fail(&sink.ErrorInfo{Message: err.Error()})
			return
		}
		r.account(ctx, resp.Usage)
		if text := strings.TrimSpace(resp.Message.Text()); text != "" {
			r.events.progress(ctx, text, nil)
		}
		req.Messages = append(req.Messages, resp.Message)
		calls := resp.Message.ToolCalls()
		if len(calls) == 0 {
			return
		}
		results := make([]llm.Part, 0, len(calls))
		for _, call := range calls {
			r.events.toolStart(ctx, call)
			text, isError := tools.call(WithToolCallID(ctx, call.ID), call.Name, []byte(call.Arguments))
			r.events.toolEnd(ctx, call, text, isError)
			results = append(results, llm.ToolResultPart(call.ID, call.Name, text, isError))
		}
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Parts: results})
	}
	if r.interrupted(ctx) {
		return
	}
	msg := fmt.Sprintf("The agent did not finish within %d model turns (MAX_TURNS)", maxTurns)
	r.failWith(ctx, msg)
}

// interrupted records a cancellation or deadline of ctx as the outcome and reports whether there was one.
func (r *run) interrupted(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, context.DeadlineExceeded) {
		r.status, r.errInf = StatusTimeout, &sink.ErrorInfo{Message: "Run timed out"}
	} else {
		msg := "Run cancelled"
		if cause != nil && !errors.Is(cause, context.Canceled) {
			msg += ": " + cause.Error()
		}
		r.status, r.errInf = StatusCancelled, &sink.ErrorInfo{Message: msg}
	}
	return true
}

// account adds a model answer's usage and reports the running totals.
func (r *run) account(ctx context.Context, u llm.Usage) {
	if u.IsZero() {
		return
	}
	r.usage = r.usage.Add(u)
	r.cost = llm.Cost(r.usage, r.cfg.Model.Cost) // one price list per run: the cost of the total is the total cost
	r.events.metric(ctx, r.usage, r.cost)
}

// callModel streams one model answer, retrying rate limits, server errors and network failures.
func (r *run) callModel(ctx context.Context, req llm.Request) (*llm.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := r.llm.Stream(ctx, req, nil)
		if err == nil {
			return resp, nil
		}
		wait, retry := r.retryDelay(err, attempt)
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		r.log.Warn("runner: model call failed, retrying", "attempt", attempt+1, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// retryDelay says whether a failed model call is retried after attempt (0 for the first) and after how long.
func (r *run) retryDelay(err error, attempt int) (time.Duration, bool) {
	if attempt >= r.cfg.Model.Retries || !retryableModelError(err) {
		return 0, false
	}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		if apiErr.RetryAfter > maxRetryAfter {
			return 0, false
		}
		return apiErr.RetryAfter, true
	}
	base := r.cfg.Model.RetryBaseDelay
	if base <= 0 {
		base = time.Second
	}
	return base << attempt, true
}

// retryableModelError: 429, 5xx and overload errors, and failures to reach the model.
func retryableModelError(err error) bool {
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable() || apiErr.Status == http.StatusTooManyRequests || apiErr.Status >= 500
	}
	return llm.ErrorCode(err) == llm.CodeNetworkError
}

// modelErrorData is the data of the appstrate.error event of a failed model call.
func modelErrorData(err error) map[string]any {
	data := map[string]any{"code": llm.ErrorCode(err)}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Status != 0 {
			data["status"] = apiErr.Status
		}
		if apiErr.Type != "" {
			data["type"] = apiErr.Type
		}
	}
	return data
}

// result is the RunResult of the run so far.
func (r *run) result() sink.RunResult {
	var res sink.RunResult
	r.agg.fill(&res)
	res.Status = r.status
	res.Error = r.errInf
	duration := time.Since(r.start).Milliseconds()
	res.DurationMs = &duration
	res.Usage = &sink.TokenUsage{
		InputTokens:              r.usage.InputTokens,
		OutputTokens:             r.usage.OutputTokens,
		CacheCreationInputTokens: r.usage.CacheWriteTokens,
		CacheReadInputTokens:     r.usage.CacheReadTokens,
	}
	cost := r.cost
	res.Cost = &cost
	return res
}

// finalize sends the result, even when ctx is done (within finalizeTimeout).
func (r *run) finalize(ctx context.Context) (sink.RunResult, error) {
	res := r.result()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalizeTimeout)
	defer cancel()
	if err := r.sink.Finalize(fctx, res); err != nil {
		return res, fmt.Errorf("runner: finalize: %w", err)
	}
	return res, nil
}

// Failed reports whether a result is a failure (failed, timeout, cancelled, or an error).
func Failed(res sink.RunResult) bool {
	return res.Error != nil || (res.Status != "" && res.Status != "success")
}
