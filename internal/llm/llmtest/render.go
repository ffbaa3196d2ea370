package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// answer is a turn with its defaults resolved.
type answer struct {
	pos      int
	id       string
	model    string
	text     string
	thinking string
	calls    []ToolCall
	usage    Usage
	stop     string // end_turn | tool_use | max_tokens | content_filter
}

// created is the fixed creation time reported (deterministic output).
const created = 1767225600 // 2026-01-01T00:00:00Z

func newAnswer(api string, pos int, model string, t Turn) answer {
	a := answer{pos: pos, model: model, text: t.Text, thinking: t.Thinking, usage: t.Usage, stop: t.StopReason}
	if a.model == "" {
		a.model = "llmtest"
	}
	if a.usage == (Usage{}) {
		a.usage = DefaultUsage
	}
	prefix := "call"
	if api == Anthropic {
		prefix = "toolu"
	}
	for i, tc := range t.ToolCalls {
		if tc.ID == "" && api != Gemini {
			tc.ID = fmt.Sprintf("%s_%d_%d", prefix, pos, i)
		}
		if strings.TrimSpace(tc.Args) == "" {
			tc.Args = "{}"
		}
		a.calls = append(a.calls, tc)
	}
	if a.stop == "" {
		a.stop = "end_turn"
		if len(a.calls) > 0 {
			a.stop = "tool_use"
		}
	}
	a.id = fmt.Sprintf("llmtest_%d", pos)
	return a
}

// renderer renders answers and errors in one wire format.
type renderer interface {
	json(a answer) any
	events(a answer, req Request) []sseOut
	errorBody(status int, typ, msg string) any
	streamError(typ, msg string) sseOut
}

var renderers = map[string]renderer{
	OpenAIChat:      chatRenderer{},
	OpenAIResponses: responsesRenderer{},
	Anthropic:       anthropicRenderer{},
	Gemini:          geminiRenderer{},
}

// pieces splits s into at most n pieces, on rune boundaries.
func pieces(s string, n int) []string {
	r := []rune(s)
	if len(r) == 0 {
		return nil
	}
	size := (len(r) + n - 1) / n
	var out []string
	for len(r) > 0 {
		k := min(size, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

// argsObject returns args as a JSON object ({} when it is not one).
func argsObject(args string) json.RawMessage {
	b := []byte(strings.TrimSpace(args))
	if len(b) > 0 && b[0] == '{' && json.Valid(b) {
		return b
	}
	return json.RawMessage(`{}`)
}

func defaultType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	return "api_error"
}

// --- OpenAI Chat Completions ---

type chatRenderer struct{}

func chatFinish(stop string) string {
	switch stop {
	case "tool_use":
		return "tool_calls"
	case "max_tokens":
		return "length"
	case "content_filter":
		return "content_filter"
	}
	return "stop"
}

func chatUsage(u Usage) map[string]any {
	details := map[string]any{"cached_tokens": u.CacheReadTokens}
	if u.CacheWriteTokens > 0 {
		details["cache_write_tokens"] = u.CacheWriteTokens
	}
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	return map[string]any{"prompt_tokens": prompt, "completion_tokens": u.OutputTokens,
		"total_tokens": prompt + u.OutputTokens, "prompt_tokens_details": details}
}

func chatCalls(a answer) []map[string]any {
	var calls []map[string]any
	for _, tc := range a.calls {
		calls = append(calls, map[string]any{"id": tc.ID, "type": "function",
			"function": map[string]string{"name": tc.Name, "arguments": tc.Args}})
	}
	return calls
}

func (chatRenderer) json(a answer) any {
	msg := map[string]any{"role": "assistant", "content": nil}
	if a.text != "" {
		msg["content"] = a.text
	}
	if a.thinking != "" {
		msg["reasoning_content"] = a.thinking
	}
	if calls := chatCalls(a); calls != nil {
		msg["tool_calls"] = calls
	}
	return map[string]any{"id": "chatcmpl-" + a.id, "object": "chat.completion", "created": created, "model": a.model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": chatFinish(a.stop)}},
		"usage":   chatUsage(a.usage)}
}

func (chatRenderer) events(a answer, req Request) []sseOut {
	chunk := func(delta map[string]any, finish any) sseOut {
		return sseOut{data: map[string]any{"id": "chatcmpl-" + a.id, "object": "chat.completion.chunk", "created": created,
			"model": a.model, "choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}}
	}
	out := []sseOut{chunk(map[string]any{"role": "assistant", "content": ""}, nil)}
	for _, p := range pieces(a.thinking, 3) {
		out = append(out, chunk(map[string]any{"reasoning_content": p}, nil))
	}
	for _, p := range pieces(a.text, 4) {
		out = append(out, chunk(map[string]any{"content": p}, nil))
	}
	for i, tc := range a.calls {
		out = append(out, chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]string{"name": tc.Name, "arguments": ""}}}}, nil))
		for _, p := range pieces(tc.Args, 3) {
			out = append(out, chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i,
				"function": map[string]string{"arguments": p}}}}, nil))
		}
	}
	out = append(out, chunk(map[string]any{}, chatFinish(a.stop)))
	if req.includeUsage {
		out = append(out, sseOut{data: map[string]any{"id": "chatcmpl-" + a.id, "object": "chat.completion.chunk",
			"created": created, "model": a.model, "choices": []any{}, "usage": chatUsage(a.usage)}})
	}
	return append(out, sseOut{data: "[DONE]"})
}

func openAIError(status int, typ, msg string) map[string]any {
	code := any(nil)
	if typ == "" {
		typ = defaultType(status)
		if status == http.StatusUnauthorized {
			typ, code = "invalid_request_error", "invalid_api_key"
		}
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
}

func (chatRenderer) errorBody(status int, typ, msg string) any { return openAIError(status, typ, msg) }

func (chatRenderer) streamError(typ, msg string) sseOut {
	return sseOut{data: map[string]any{"error": map[string]any{"message": msg, "type": typ}}}
}

// --- OpenAI Responses ---

type responsesRenderer struct{}

func responsesUsage(u Usage) map[string]any {
	in := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	return map[string]any{"input_tokens": in, "input_tokens_details": map[string]int{"cached_tokens": u.CacheReadTokens},
		"output_tokens": u.OutputTokens, "output_tokens_details": map[string]int{"reasoning_tokens": 0},
		"total_tokens": in + u.OutputTokens}
}

// outputItems returns the output items of an answer, in order: reasoning, message, function calls.
func (responsesRenderer) outputItems(a answer) []map[string]any {
	var items []map[string]any
	if a.thinking != "" {
		items = append(items, map[string]any{"type": "reasoning", "id": "rs_" + a.id,
			"summary": []any{map[string]string{"type": "summary_text", "text": a.thinking}}})
	}
	if a.text != "" {
		items = append(items, map[string]any{"type": "message", "id": "msg_" + a.id, "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": a.text, "annotations": []any{}}}})
	}
	for i, tc := range a.calls {
		items = append(items, map[string]any{"type": "function_call", "id": fmt.Sprintf("fc_%s_%d", a.id, i),
			"call_id": tc.ID, "name": tc.Name, "arguments": tc.Args, "status": "completed"})
	}
	return items
}

func (rr responsesRenderer) response(a answer, status string, withOutput bool) map[string]any {
	resp := map[string]any{"id": "resp_" + a.id, "object": "response", "created_at": created, "status": status,
		"model": a.model, "output": []any{}, "incomplete_details": nil, "error": nil}
	if withOutput {
		resp["output"] = rr.outputItems(a)
		resp["usage"] = responsesUsage(a.usage)
		switch a.stop {
		case "max_tokens":
			resp["status"], resp["incomplete_details"] = "incomplete", map[string]string{"reason": "max_output_tokens"}
		case "content_filter":
			resp["status"], resp["incomplete_details"] = "incomplete", map[string]string{"reason": "content_filter"}
		}
	}
	return resp
}

func (rr responsesRenderer) json(a answer) any { return rr.response(a, "completed", true) }

func (rr responsesRenderer) events(a answer, _ Request) []sseOut {
	var out []sseOut
	seq := 0
	add := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		out = append(out, sseOut{event: typ, data: fields})
	}
	add("response.created", map[string]any{"response": rr.response(a, "in_progress", false)})
	add("response.in_progress", map[string]any{"response": rr.response(a, "in_progress", false)})
	for idx, item := range rr.outputItems(a) {
		id := item["id"]
		switch item["type"] {
		case "reasoning":
			add("response.output_item.added", map[string]any{"output_index": idx, "item": map[string]any{"type": "reasoning", "id": id, "summary": []any{}}})
			for _, p := range pieces(a.thinking, 3) {
				add("response.reasoning_summary_text.delta", map[string]any{"item_id": id, "output_index": idx, "summary_index": 0, "delta": p})
			}
			add("response.reasoning_summary_text.done", map[string]any{"item_id": id, "output_index": idx, "summary_index": 0, "text": a.thinking})
		case "message":
			add("response.output_item.added", map[string]any{"output_index": idx, "item": map[string]any{"type": "message", "id": id,
				"status": "in_progress", "role": "assistant", "content": []any{}}})
			add("response.content_part.added", map[string]any{"item_id": id, "output_index": idx, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
			for _, p := range pieces(a.text, 4) {
				add("response.output_text.delta", map[string]any{"item_id": id, "output_index": idx, "content_index": 0, "delta": p})
			}
			add("response.output_text.done", map[string]any{"item_id": id, "output_index": idx, "content_index": 0, "text": a.text})
			add("response.content_part.done", map[string]any{"item_id": id, "output_index": idx, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": a.text, "annotations": []any{}}})
		case "function_call":
			args, _ := item["arguments"].(string)
			add("response.output_item.added", map[string]any{"output_index": idx, "item": map[string]any{"type": "function_call",
				"id": id, "call_id": item["call_id"], "name": item["name"], "arguments": "", "status": "in_progress"}})
			for _, p := range pieces(args, 3) {
				add("response.function_call_arguments.delta", map[string]any{"item_id": id, "output_index": idx, "delta": p})
			}
			add("response.function_call_arguments.done", map[string]any{"item_id": id, "output_index": idx, "arguments": args})
		}
		add("response.output_item.done", map[string]any{"output_index": idx, "item": item})
	}
	final := rr.response(a, "completed", true)
	typ := "response.completed"
	if final["status"] == "incomplete" {
		typ = "response.incomplete"
	}
	add(typ, map[string]any{"response": final})
	return out
}

func (responsesRenderer) errorBody(status int, typ, msg string) any {
	return openAIError(status, typ, msg)
}

func (responsesRenderer) streamError(typ, msg string) sseOut {
	return sseOut{event: "error", data: map[string]any{"type": "error", "code": typ, "message": msg, "param": nil}}
}

// --- Anthropic Messages ---

type anthropicRenderer struct{}

func anthropicUsage(u Usage, output int) map[string]any {
	return map[string]any{"input_tokens": u.InputTokens, "cache_creation_input_tokens": u.CacheWriteTokens,
		"cache_read_input_tokens": u.CacheReadTokens, "output_tokens": output}
}

func (anthropicRenderer) blocks(a answer) []map[string]any {
	var blocks []map[string]any
	if a.thinking != "" {
		blocks = append(blocks, map[string]any{"type": "thinking", "thinking": a.thinking, "signature": "llmtest-sig-" + a.id})
	}
	if a.text != "" {
		blocks = append(blocks, map[string]any{"type": "text", "text": a.text})
	}
	for _, tc := range a.calls {
		blocks = append(blocks, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": argsObject(tc.Args)})
	}
	return blocks
}

func (ar anthropicRenderer) json(a answer) any {
	content := ar.blocks(a)
	if content == nil {
		content = []map[string]any{}
	}
	return map[string]any{"id": "msg_" + a.id, "type": "message", "role": "assistant", "model": a.model, "content": content,
		"stop_reason": anthropicStop(a.stop), "stop_sequence": nil, "usage": anthropicUsage(a.usage, a.usage.OutputTokens)}
}

func anthropicStop(stop string) string {
	if stop == "content_filter" {
		return "refusal"
	}
	return stop
}

func (ar anthropicRenderer) events(a answer, _ Request) []sseOut {
	var out []sseOut
	add := func(typ string, fields map[string]any) {
		fields["type"] = typ
		out = append(out, sseOut{event: typ, data: fields})
	}
	add("message_start", map[string]any{"message": map[string]any{"id": "msg_" + a.id, "type": "message", "role": "assistant",
		"model": a.model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": anthropicUsage(a.usage, 1)}})
	add("ping", map[string]any{})
	blocks := ar.blocks(a)
	firstCall := len(blocks) - len(a.calls)
	for i, b := range blocks {
		switch b["type"] {
		case "thinking":
			add("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "thinking", "thinking": ""}})
			for _, p := range pieces(a.thinking, 3) {
				add("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "thinking_delta", "thinking": p}})
			}
			add("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "signature_delta", "signature": b["signature"]}})
		case "text":
			add("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			for _, p := range pieces(a.text, 4) {
				add("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "text_delta", "text": p}})
			}
		case "tool_use":
			add("content_block_start", map[string]any{"index": i, "content_block": map[string]any{"type": "tool_use", "id": b["id"],
				"name": b["name"], "input": map[string]any{}}})
			add("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": ""}})
			for _, p := range pieces(a.calls[i-firstCall].Args, 3) {
				add("content_block_delta", map[string]any{"index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
			}
		}
		add("content_block_stop", map[string]any{"index": i})
	}
	add("message_delta", map[string]any{"delta": map[string]any{"stop_reason": anthropicStop(a.stop), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": a.usage.OutputTokens}})
	add("message_stop", map[string]any{})
	return out
}

func (anthropicRenderer) errorBody(status int, typ, msg string) any {
	if typ == "" {
		typ = defaultType(status)
	}
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
}

func (anthropicRenderer) streamError(typ, msg string) sseOut {
	return sseOut{event: "error", data: map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}}
}

// --- Gemini ---

type geminiRenderer struct{}

func geminiUsage(u Usage, final bool) map[string]any {
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	m := map[string]any{"promptTokenCount": prompt}
	if u.CacheReadTokens > 0 {
		m["cachedContentTokenCount"] = u.CacheReadTokens
	}
	if final {
		m["candidatesTokenCount"] = u.OutputTokens
		m["totalTokenCount"] = prompt + u.OutputTokens
	} else {
		m["totalTokenCount"] = prompt
	}
	return m
}

func geminiFinish(stop string) string {
	switch stop {
	case "max_tokens":
		return "MAX_TOKENS"
	case "content_filter":
		return "SAFETY"
	}
	return "STOP"
}

func geminiCallParts(a answer) []map[string]any {
	var parts []map[string]any
	for i, tc := range a.calls {
		fc := map[string]any{"name": tc.Name, "args": argsObject(tc.Args)}
		if tc.ID != "" {
			fc["id"] = tc.ID
		}
		p := map[string]any{"functionCall": fc}
		if i == 0 {
			p["thoughtSignature"] = "llmtest-sig-" + a.id
		}
		parts = append(parts, p)
	}
	return parts
}

func (geminiRenderer) chunk(a answer, parts []map[string]any, finish string, usage map[string]any) map[string]any {
	if parts == nil {
		parts = []map[string]any{}
	}
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
	if finish != "" {
		cand["finishReason"] = finish
	}
	return map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": a.model, "responseId": a.id}
}

func (gr geminiRenderer) json(a answer) any {
	var parts []map[string]any
	if a.thinking != "" {
		parts = append(parts, map[string]any{"text": a.thinking, "thought": true})
	}
	if a.text != "" {
		parts = append(parts, map[string]any{"text": a.text})
	}
	parts = append(parts, geminiCallParts(a)...)
	return gr.chunk(a, parts, geminiFinish(a.stop), geminiUsage(a.usage, true))
}

func (gr geminiRenderer) events(a answer, _ Request) []sseOut {
	var chunks [][]map[string]any
	for _, p := range pieces(a.thinking, 2) {
		chunks = append(chunks, []map[string]any{{"text": p, "thought": true}})
	}
	for _, p := range pieces(a.text, 4) {
		chunks = append(chunks, []map[string]any{{"text": p}})
	}
	if calls := geminiCallParts(a); calls != nil {
		chunks = append(chunks, calls)
	}
	if len(chunks) == 0 {
		chunks = append(chunks, []map[string]any{{"text": ""}})
	}
	var out []sseOut
	for i, parts := range chunks {
		if i == len(chunks)-1 {
			out = append(out, sseOut{data: gr.chunk(a, parts, geminiFinish(a.stop), geminiUsage(a.usage, true))})
		} else {
			out = append(out, sseOut{data: gr.chunk(a, parts, "", geminiUsage(a.usage, false))})
		}
	}
	return out
}

func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

func (geminiRenderer) errorBody(status int, typ, msg string) any {
	if typ == "" {
		typ = geminiStatus(status)
	}
	return map[string]any{"error": map[string]any{"code": status, "message": msg, "status": typ}}
}

func (geminiRenderer) streamError(typ, msg string) sseOut {
	if typ == "overloaded_error" {
		typ = "UNAVAILABLE"
	}
	return sseOut{data: map[string]any{"error": map[string]any{"code": 503, "message": msg, "status": typ}}}
}
