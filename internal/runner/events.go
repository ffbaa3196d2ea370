package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// EventSink receives a run's events and, once, its result. *sink.Client is the production one.
type EventSink interface {
	// Emit hands over one canonical event (data encodes to a JSON object). It should not block on delivery.
	Emit(ctx context.Context, eventType string, data any) error
	// Finalize delivers the terminal result after the events handed over before it.
	Finalize(ctx context.Context, result sink.RunResult) error
}

// previewLimit caps the tool arguments and results carried by progress events (RUNTIME.md §4.8).
const previewLimit = 2048

// emitter sends events and logs the failures: an event that cannot be handed over never stops the run.
type emitter struct {
	sink EventSink
	log  *slog.Logger
}

func (e emitter) emit(ctx context.Context, eventType string, data any) {
	if err := e.sink.Emit(context.WithoutCancel(ctx), eventType, data); err != nil {
		e.log.Warn("runner: event not sent", "type", eventType, "error", err)
	}
}

func (e emitter) progress(ctx context.Context, message string, data map[string]any) {
	payload := map[string]any{"message": message}
	if data != nil {
		payload["data"] = data
	}
	e.emit(ctx, sink.TypeProgress, payload)
}

func (e emitter) errorEvent(ctx context.Context, message string, data map[string]any) {
	payload := map[string]any{"message": message}
	if data != nil {
		payload["data"] = data
	}
	e.emit(ctx, sink.TypeError, payload)
}

func (e emitter) toolStart(ctx context.Context, call llm.ToolCall) {
	e.progress(ctx, "Tool: "+call.Name, map[string]any{
		"tool": call.Name, "args": argsPreview(call.Arguments), "toolCallId": call.ID,
	})
}

func (e emitter) toolEnd(ctx context.Context, call llm.ToolCall, result string, isError bool) {
	msg := "Tool result: " + call.Name
	if isError {
		msg = "Tool error: " + call.Name
	}
	e.progress(ctx, msg, map[string]any{
		"tool": call.Name, "result": truncateString(result, previewLimit), "isError": isError, "toolCallId": call.ID,
	})
}

// metric reports the cumulative usage and cost.
func (e emitter) metric(ctx context.Context, u llm.Usage, cost float64) {
	e.emit(ctx, sink.TypeMetric, map[string]any{
		"usage": map[string]int64{
			"input_tokens":                u.InputTokens,
			"output_tokens":               u.OutputTokens,
			"cache_creation_input_tokens": u.CacheWriteTokens,
			"cache_read_input_tokens":     u.CacheReadTokens,
		},
		"cost": cost,
	})
}

// truncateString cuts s to limit bytes (on a rune boundary) and says how long it was.
func truncateString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(truncated, %d bytes)", len(s))
}

// argsPreview is the arguments as a JSON value when they are valid JSON (else the raw text), replaced by a
// truncation marker when they exceed previewLimit.
func argsPreview(args string) any {
	b := bytes.TrimSpace([]byte(args))
	if !json.Valid(b) {
		return truncateString(args, previewLimit)
	}
	if len(b) <= previewLimit {
		return json.RawMessage(b)
	}
	return map[string]any{
		"__truncated": true, "reason": "size", "bytes": len(b), "limit": previewLimit,
		"preview": truncateString(string(b), previewLimit/4),
	}
}
