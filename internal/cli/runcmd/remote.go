package runcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/cli/apiclient"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Exit codes of `run`.
const (
	ExitOK        = 0
	ExitFailed    = 1
	ExitInterrupt = 130
)

// RemoteOptions is a remote run.
type RemoteOptions struct {
	Target           Target
	Input, Config    map[string]any
	ModelID, ProxyID string
	RunID            string // the trigger's Idempotency-Key
	OutputPath       string // --output: the final RunResult
	Printer          *Printer
	// Interrupt is closed on the first Ctrl-C: the run is cancelled on the platform and followed to its end.
	Interrupt <-chan struct{}
	// PollEvery is the polling period without the realtime stream (1.5 s when 0).
	PollEvery time.Duration
}

// retryDelays are the waits before the trigger's retries on 502/503/504.
var retryDelays = []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond}

// requestTimeout bounds each call of the follow loop.
const requestTimeout = 30 * time.Second

// TriggerError is a trigger the platform refused.
type TriggerError struct {
	Status int
	Err    *apiclient.APIError
	Hint   string
}

func (e *TriggerError) Error() string {
	msg := fmt.Sprintf("Trigger failed: %d %s", e.Status, http.StatusText(e.Status))
	if e.Err != nil && e.Err.Message != "" {
		msg += ": " + e.Err.Message
		if e.Err.Code != "" {
			msg += " (" + e.Err.Code + ")"
		}
	}
	if e.Hint != "" {
		msg += " — " + e.Hint
	}
	return msg
}

// RunRemote triggers the agent on the platform, prints its events as they arrive and its result. The exit
// code is 0 for a run that succeeded, 1 otherwise, 130 when it was interrupted.
func RunRemote(ctx context.Context, p *Platform, o RemoteOptions) (int, error) {
	runID, err := trigger(ctx, p, o)
	if err != nil {
		return ExitFailed, err
	}
	pr := o.Printer
	if pr.JSON {
		pr.Line(map[string]any{"type": "appstrate.remote.triggered", "runId": runID, "instance": p.Instance})
	} else {
		pr.Status("→ running %s (reporting to %s as %s)", o.Target.Label(), p.Instance, runID)
	}
	f := &follower{p: p, runID: runID, printer: pr, every: o.PollEvery}
	if f.every <= 0 {
		f.every = 1500 * time.Millisecond
	}
	record, interrupted, err := f.follow(ctx, o.Interrupt)
	if err != nil {
		return ExitFailed, err
	}
	result, failure := remoteResult(record)
	if m := remoteMetric(record); m != nil {
		pr.Event(m)
	}
	pr.Finish(result, failure)
	if o.OutputPath != "" {
		if err := writeResult(o.OutputPath, result); err != nil {
			return ExitFailed, err
		}
	}
	switch {
	case interrupted:
		return ExitInterrupt, nil
	case record.Status != "success":
		return ExitFailed, nil
	}
	return ExitOK, nil
}

// trigger starts the run: POST /api/agents/@scope/name/run (the scope literally, not percent-encoded).
func trigger(ctx context.Context, p *Platform, o RemoteOptions) (string, error) {
	path := "/api/agents/" + o.Target.PackageID() + "/run"
	if o.Target.Spec != "" {
		path += "?version=" + url.QueryEscape(o.Target.Spec)
	}
	body := map[string]any{"input": orEmpty(o.Input), "config": orEmpty(o.Config)}
	if o.ModelID != "" {
		body["modelId"] = o.ModelID
	}
	if o.ProxyID != "" {
		body["proxyId"] = o.ProxyID
	}
	for attempt := 0; ; attempt++ {
		res, err := p.Do(ctx, http.MethodPost, path, body, map[string]string{"Idempotency-Key": o.RunID})
		if err != nil {
			return "", err
		}
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		retryable := res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable ||
			res.StatusCode == http.StatusGatewayTimeout
		if retryable && attempt < len(retryDelays) {
			if err := sleep(ctx, retryDelays[attempt]); err != nil {
				return "", err
			}
			continue
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			te := &TriggerError{Status: res.StatusCode, Err: apiclient.ErrorFromResponse(res, raw)}
			switch res.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden:
				te.Hint = "check that your credentials may run agents in this application (agents:run)"
			case http.StatusNotFound:
				te.Hint = fmt.Sprintf("Agent %s not found in this application: check the id, or install it", o.Target.PackageID())
			}
			return "", te
		}
		var out struct {
			RunID string `json:"runId"`
		}
		if json.Unmarshal(raw, &out) != nil || strings.TrimSpace(out.RunID) == "" {
			return "", fmt.Errorf("unexpected trigger response (want {runId}): %s", abbreviate(string(raw)))
		}
		return out.RunID, nil
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runRecord is the part of GET /api/runs/{id} the CLI reads.
type runRecord struct {
	ID         string           `json:"id"`
	Status     string           `json:"status"`
	Result     json.RawMessage  `json:"result"`
	Error      *string          `json:"error"`
	TokenUsage *sink.TokenUsage `json:"tokenUsage"`
	Cost       *float64         `json:"cost"`
	Duration   *int64           `json:"duration"`
}

func terminal(status string) bool {
	switch status {
	case "success", "failed", "timeout", "cancelled":
		return true
	}
	return false
}

// logRow is one row of GET /api/runs/{id}/logs.
type logRow struct {
	ID        int64           `json:"id"`
	RunID     string          `json:"runId"`
	Type      string          `json:"type"`
	EventName *string         `json:"event"`
	Message   *string         `json:"message"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"createdAt"`
}

// Event maps a log row to its RunEvent (A10.1 step 4); false for rows that have none.
func (r logRow) Event() (Event, bool) {
	at, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
	if err != nil {
		at = time.Now()
	}
	event, msg := deref(r.EventName), deref(r.Message)
	var data any
	if len(r.Data) > 0 && string(r.Data) != "null" {
		_ = json.Unmarshal(r.Data, &data)
	}
	payload := map[string]any{}
	var typ string
	switch {
	case r.Type == "progress" && event == "progress":
		typ, payload["message"] = sink.TypeProgress, msg
		if data != nil {
			payload["data"] = data
		}
	case r.Type == "result" && event == "output":
		typ, payload["data"] = sink.TypeOutput, data
	case r.Type == "result" && event == "report":
		typ = sink.TypeReport
		if m, ok := data.(map[string]any); ok {
			payload["content"] = m["content"]
		}
	case r.Type == "system" && event == "adapter_error":
		typ, payload["message"] = sink.TypeError, msg
		if data != nil {
			payload["data"] = data
		}
	default:
		return nil, false
	}
	return NewEvent(typ, r.RunID, at, payload), true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// follower follows a run: log rows as events, then its final record.
type follower struct {
	p       *Platform
	runID   string
	printer *Printer
	every   time.Duration
	since   int64
}

// follow prints the run's events until it is terminal, waking up on the realtime stream when it is
// available, else polling. The first interrupt cancels the run (a 409 is fine) and keeps following.
func (f *follower) follow(ctx context.Context, interrupt <-chan struct{}) (*runRecord, bool, error) {
	frames := make(chan string, 16)
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	streaming := make(chan bool, 1)
	go f.stream(streamCtx, frames, streaming)
	live := false
	period := f.every
	timer := time.NewTimer(0)
	defer timer.Stop()
	interrupted := false
	for tick := 0; ; tick++ {
		refresh := tick%4 == 0
		select {
		case <-ctx.Done():
			return nil, interrupted, ctx.Err()
		case ok := <-streaming:
			if live = ok; live {
				period = 4 * f.every // the stream wakes us up; polling is only a safety net
			}
			continue
		case name := <-frames:
			refresh = refresh || name == "run_update"
		case <-timer.C:
			timer.Reset(period)
		case <-interrupt:
			interrupt = nil
			interrupted = true
			f.cancel(ctx)
			refresh = true
		}
		f.drainLogs(ctx)
		if !refresh {
			continue
		}
		rec, err := f.record(ctx)
		if err != nil {
			f.printer.Warn("run record refresh failed (will retry): %v", err)
			continue
		}
		if terminal(rec.Status) {
			f.drainLogs(ctx)
			if final, err := f.record(ctx); err == nil {
				rec = final
			}
			return rec, interrupted, nil
		}
	}
}

// cancel asks the platform to cancel the run once.
func (f *follower) cancel(ctx context.Context) {
	f.printer.Status("→ cancelling %s (Ctrl-C again to stop waiting)", f.runID)
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	res, err := f.p.Do(cctx, http.MethodPost, "/api/runs/"+f.runID+"/cancel", map[string]any{}, nil)
	if err != nil {
		f.printer.Warn("cancel failed: %v", err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 && res.StatusCode != http.StatusConflict {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		f.printer.Warn("cancel failed: %v", apiclient.ErrorFromResponse(res, raw))
	}
}

// drainLogs prints the rows after the last one seen; failures read as no rows.
func (f *follower) drainLogs(ctx context.Context) {
	for {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		path := "/api/runs/" + f.runID + "/logs"
		if f.since > 0 {
			path += "?since=" + strconv.FormatInt(f.since, 10)
		}
		var rows []logRow
		err := f.p.JSON(cctx, http.MethodGet, path, nil, &rows)
		cancel()
		if err != nil || len(rows) == 0 {
			return
		}
		for _, r := range rows {
			if r.ID <= f.since {
				continue
			}
			f.since = r.ID
			if e, ok := r.Event(); ok {
				f.printer.Event(e)
			}
		}
	}
}

func (f *follower) record(ctx context.Context) (*runRecord, error) {
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rec runRecord
	if err := f.p.JSON(cctx, http.MethodGet, "/api/runs/"+f.runID, nil, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// stream reads the run's realtime stream and passes on the names of its frames; it reports on streaming
// whether the stream is up (false when the platform does not offer it, then the caller polls).
func (f *follower) stream(ctx context.Context, frames chan<- string, streaming chan<- bool) {
	token, err := f.p.Bearer(ctx)
	if err != nil {
		streaming <- false
		return
	}
	q := url.Values{"token": {token}}
	if f.p.OrgID != "" {
		q.Set("orgId", f.p.OrgID)
	}
	if f.p.AppID != "" {
		q.Set("applicationId", f.p.AppID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.p.Instance+"/api/realtime/runs/"+url.PathEscape(f.runID)+"?"+q.Encode(), nil)
	if err != nil {
		streaming <- false
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	if f.p.UserAgent != "" {
		req.Header.Set("User-Agent", f.p.UserAgent)
	}
	client := &http.Client{Transport: f.p.client().Transport} // no overall timeout: the stream stays open
	res, err := client.Do(req)
	if err != nil || res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		if res != nil {
			res.Body.Close()
		}
		streaming <- false
		return
	}
	defer res.Body.Close()
	streaming <- true
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event:"); ok {
			select {
			case frames <- strings.TrimSpace(name):
			default: // a wake-up is already pending
			}
		}
	}
	select {
	case streaming <- false: // the stream ended: back to polling
	case <-ctx.Done():
	}
}

// remoteMetric is the synthetic appstrate.metric of a finished run (nil without usage or cost).
func remoteMetric(r *runRecord) Event {
	if r.TokenUsage == nil && r.Cost == nil {
		return nil
	}
	payload := map[string]any{}
	if r.TokenUsage != nil {
		payload["usage"] = map[string]any{"input_tokens": float64(r.TokenUsage.InputTokens),
			"output_tokens": float64(r.TokenUsage.OutputTokens)}
	}
	cost := 0.0
	if r.Cost != nil {
		cost = *r.Cost
	}
	payload["cost"] = cost
	if r.Duration != nil {
		payload["durationMs"] = *r.Duration
	}
	return NewEvent(sink.TypeMetric, r.ID, time.Now(), payload)
}

// remoteResult rebuilds the RunResult of a finished run (A10.1 step 5) and the failure message ("" for a
// success).
func remoteResult(r *runRecord) (map[string]any, string) {
	res := map[string]any{"memories": []any{}, "pinned": map[string]any{}, "logs": []any{}, "status": r.Status,
		"output": nil}
	var wrapped struct {
		Output json.RawMessage `json:"output"`
	}
	if len(r.Result) > 0 && json.Unmarshal(r.Result, &wrapped) == nil && len(wrapped.Output) > 0 {
		res["output"] = wrapped.Output
	}
	if r.Duration != nil {
		res["durationMs"] = *r.Duration
	}
	if r.Cost != nil {
		res["cost"] = *r.Cost
	}
	if r.TokenUsage != nil {
		res["usage"] = r.TokenUsage
	}
	failure := ""
	if r.Status != "success" {
		failure = deref(r.Error)
		if failure == "" {
			failure = "Run " + r.Status
		}
		res["error"] = map[string]any{"code": "remote_run_error", "message": failure}
	}
	return res, failure
}

// writeResult writes the RunResult as indented JSON.
func writeResult(path string, result any) error {
	b, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write --output: %w", err)
	}
	return nil
}
