package jstools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/sink"
)

// request is a message from Go to the host (fd 3). Fields are set per op (see host.mjs).
type request struct {
	ID         int64           `json:"id"`
	Op         string          `json:"op"`
	Packages   []loadPackage   `json:"packages,omitempty"`
	Limits     *hostLimits     `json:"limits,omitempty"`
	Tool       string          `json:"tool,omitempty"`
	ToolCallID string          `json:"toolCallId,omitempty"`
	Params     json.RawMessage `json:"params,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *wireError      `json:"error,omitempty"`
}

type loadPackage struct {
	Index int    `json:"index"` // in Options.Packages
	ID    string `json:"id"`
	File  string `json:"file"`
}

type hostLimits struct {
	MaxResultBytes int   `json:"maxResultBytes"`
	MaxLineBytes   int   `json:"maxLineBytes"`
	LoadTimeoutMs  int64 `json:"loadTimeoutMs"`
}

// wireError is the error of a reply: what a tool threw, or why the host could not serve a request.
type wireError struct {
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

// hostMessage is one line the host writes on fd 4: exactly one of a reply (ID with Result or Error), a
// stdout line, a log notice or a tool-context request.
type hostMessage struct {
	ID        *int64          `json:"id"`
	Result    json.RawMessage `json:"result"`
	Error     *wireError      `json:"error"`
	Stdout    *string         `json:"stdout"`
	Truncated int64           `json:"truncated"`
	Log       *hostLog        `json:"log"`
	Ctx       *ctxRequest     `json:"ctx"`
}

type hostLog struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

// ctxRequest is a call a tool made on its tool context (the fourth argument of execute).
type ctxRequest struct {
	ID     int64           `json:"id"`
	Call   int64           `json:"call"`
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args"`
}

// loadReply is the result of op "load".
type loadReply struct {
	LoadErrors []indexedLoadError `json:"loadErrors"`
	Runtime    string             `json:"runtime"`
}

// indexedLoadError is a load error with the index of its package in Options.Packages.
type indexedLoadError struct {
	LoadError
	Index int `json:"index"`
}

// listReply is the result of op "list".
type listReply struct {
	Tools []Tool `json:"tools"`
}

var errBadMessage = errors.New("malformed host message")

// decodeHostMessage parses and checks one protocol line from the host.
func decodeHostMessage(line []byte) (hostMessage, error) {
	var m hostMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return hostMessage{}, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	if bytes.Equal(bytes.TrimSpace(m.Result), []byte("null")) {
		m.Result = nil
	}
	kinds := 0
	for _, present := range []bool{m.ID != nil, m.Stdout != nil, m.Log != nil, m.Ctx != nil} {
		if present {
			kinds++
		}
	}
	switch {
	case kinds != 1:
		return hostMessage{}, fmt.Errorf("%w: want exactly one of id, stdout, log, ctx", errBadMessage)
	case m.ID != nil && (m.Result == nil) == (m.Error == nil):
		return hostMessage{}, fmt.Errorf("%w: a reply needs exactly one of result and error", errBadMessage)
	case m.ID == nil && (m.Result != nil || m.Error != nil):
		return hostMessage{}, fmt.Errorf("%w: result or error without an id", errBadMessage)
	case m.Ctx != nil && m.Ctx.Method == "":
		return hostMessage{}, fmt.Errorf("%w: tool-context request without a method", errBadMessage)
	}
	return m, nil
}

// decodeResult parses and checks the result of a call.
func decodeResult(raw json.RawMessage) (Result, error) {
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{}, fmt.Errorf("unreadable tool result: %w", err)
	}
	if r.Content == nil {
		return Result{}, errors.New("tool result without content")
	}
	for i, c := range r.Content {
		switch c.Type {
		case "text":
		case "image":
			if c.Data == "" || c.MimeType == "" {
				return Result{}, fmt.Errorf("tool result content[%d]: an image needs data and mimeType", i)
			}
		default:
			return Result{}, fmt.Errorf("tool result content[%d]: unsupported type %q", i, c.Type)
		}
	}
	if bytes.Equal(bytes.TrimSpace(r.Details), []byte("null")) {
		r.Details = nil
	}
	return r, nil
}

// eventTypes are the canonical events a tool may report on stdout (RUNTIME.md §4.8).
var eventTypes = map[string]bool{
	sink.TypeOutput: true, sink.TypeLog: true, sink.TypeReport: true, sink.TypeMemory: true, sink.TypePinned: true,
	sink.TypeProgress: true, sink.TypeMetric: true, sink.TypeError: true,
}

// parseEvent reports whether a stdout line is a canonical event — a JSON object whose "type" is one of
// eventTypes — and returns it compacted.
func parseEvent(line []byte) (json.RawMessage, bool) {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' {
		return nil, false
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(line, &head); err != nil || head.Type == nil || !eventTypes[*head.Type] {
		return nil, false
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, line); err != nil {
		return nil, false
	}
	return compact.Bytes(), true
}
