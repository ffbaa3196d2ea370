package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Platform tool names.
const (
	ToolOutput = "output"
	ToolLog    = "log"
	ToolNote   = "note"
	ToolPin    = "pin"
	ToolReport = "report"
	// Hidden aliases of older agent prompts (seed vocabulary).
	toolAddMemory = "add_memory"
	toolSetState  = "set_state"
)

// Limits of the platform tools (RUNTIME.md §1.8).
const (
	maxNoteChars  = 2000
	maxPinKeyLen  = 64
	maxPinBytes   = 64 << 10
	checkpointKey = "checkpoint"
)

var pinKeyPattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// aggregate is what the run reports at finalize, built from the platform tools' calls.
type aggregate struct {
	mu       sync.Mutex
	output   json.RawMessage
	memories []sink.Memory
	pinned   map[string]sink.Pinned
	report   []string
	logs     []sink.LogEntry
}

// fill copies the aggregate into a RunResult. An output with a top-level "state" pins it as the checkpoint
// when the run pinned none (the seed vocabulary: the next run sees it as its previous state).
func (a *aggregate) fill(r *sink.RunResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Output = a.output
	r.Memories = append([]sink.Memory{}, a.memories...)
	r.Logs = append([]sink.LogEntry{}, a.logs...)
	if len(a.pinned) > 0 {
		r.Pinned = make(map[string]sink.Pinned, len(a.pinned))
		for k, v := range a.pinned {
			r.Pinned[k] = v
		}
	}
	if _, pinned := r.Pinned[checkpointKey]; !pinned {
		if state, ok := outputState(a.output); ok {
			if r.Pinned == nil {
				r.Pinned = map[string]sink.Pinned{}
			}
			r.Pinned[checkpointKey] = sink.Pinned{Content: state}
		}
	}
	r.Report = strings.Join(a.report, "\n")
}

// outputState is the top-level "state" of an output object: present, not null, and within the size of a pin.
func outputState(output json.RawMessage) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(output, &obj) != nil {
		return nil, false
	}
	state := bytes.TrimSpace(obj["state"])
	if len(state) == 0 || string(state) == "null" || len(state) > maxPinBytes {
		return nil, false
	}
	return json.RawMessage(append([]byte(nil), state...)), true
}

// platformTools are the tools that only record into agg and emit canonical events. Those not listed in
// enabled are hidden (still callable); add_memory and set_state are always hidden aliases.
func platformTools(agg *aggregate, emit emitFunc, outputSchema json.RawMessage, enabled []string) ([]Tool, error) {
	out, err := outputTool(agg, emit, outputSchema)
	if err != nil {
		return nil, err
	}
	tools := []Tool{out, logTool(agg, emit), noteTool(agg, emit), pinTool(agg, emit), reportTool(agg, emit)}
	for i := range tools {
		tools[i].Hidden = !containsString(enabled, tools[i].Name)
	}
	return append(tools, addMemoryTool(agg, emit), setStateTool(agg, emit)), nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// emitFunc sends one event (failures are the emitter's business).
type emitFunc func(ctx context.Context, eventType string, data any)

func outputTool(agg *aggregate, emit emitFunc, outputSchema json.RawMessage) (Tool, error) {
	dataSchema := json.RawMessage(`{"type":"object","description":"The structured result of the run"}`)
	var validator *jsonschema.Schema
	if len(bytes.TrimSpace(outputSchema)) > 0 {
		var err error
		if validator, err = jsonschema.Compile(outputSchema); err != nil {
			return Tool{}, fmt.Errorf("output schema: %w", err)
		}
		dataSchema = embeddableSchema(outputSchema)
	}
	return Tool{
		Name: ToolOutput,
		Description: "Set the structured output of the run (the data object). Call it once with the complete " +
			"result; a later call replaces the earlier output.",
		Schema: json.RawMessage(`{"type":"object","properties":{"data":` + string(dataSchema) + `},"required":["data"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Data json.RawMessage `json:"data"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			data := bytes.TrimSpace(a.Data)
			if len(data) == 0 || data[0] != '{' {
				return "", toolErrorf(`Invalid arguments: "data" must be a JSON object`)
			}
			if validator != nil {
				value, err := jsonschema.Decode(data)
				if err != nil {
					return "", toolErrorf("Invalid arguments: %v", err)
				}
				if errs := validator.Validate(value); len(errs) > 0 {
					return "", &ToolError{Message: outputValidationMessage(errs)}
				}
			}
			recordOutput(ctx, agg, emit, data)
			return "Output recorded.", nil
		},
	}, nil
}

// recordOutput makes data (a JSON object) the run's output, replacing an earlier one.
func recordOutput(ctx context.Context, agg *aggregate, emit emitFunc, data json.RawMessage) {
	data = json.RawMessage(append([]byte(nil), data...))
	agg.mu.Lock()
	agg.output = data
	agg.mu.Unlock()
	emit(ctx, sink.TypeOutput, map[string]any{"data": data})
}

// outputValidationMessage is the error the model gets for an output that does not match the schema.
func outputValidationMessage(errs []jsonschema.FieldError) string {
	var b strings.Builder
	b.WriteString("Output validation failed:")
	for _, e := range errs {
		at := e.Path
		if at == "" {
			at = "(root)"
		}
		fmt.Fprintf(&b, "\n  - %s: %s", at, e.Message)
	}
	b.WriteString("\n\nPlease call output() again with data that matches the schema.")
	return b.String()
}

// embeddableSchema drops the top-level keywords that name the document ($schema, $id): the schema is embedded
// as a property schema of the tool parameters.
func embeddableSchema(s json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(s, &obj); err != nil {
		return s
	}
	delete(obj, "$schema")
	delete(obj, "$id")
	b, err := json.Marshal(obj)
	if err != nil {
		return s
	}
	return b
}

func logTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name:        ToolLog,
		Description: "Write a progress message to the run's log, visible to the user while the run goes on.",
		Schema: schema(`{"type":"object","properties":{` +
			`"level":{"type":"string","enum":["info","warn","error"]},` +
			`"message":{"type":"string"}},"required":["level","message"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Level   string `json:"level"`
				Message string `json:"message"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return addLog(ctx, agg, emit, a.Level, a.Message)
		},
	}
}

func addLog(ctx context.Context, agg *aggregate, emit emitFunc, level, message string) (string, error) {
	if level == "" {
		level = "info"
	}
	if level != "info" && level != "warn" && level != "error" {
		return "", toolErrorf(`Invalid arguments: "level" must be info, warn or error`)
	}
	if strings.TrimSpace(message) == "" {
		return "", toolErrorf(`Invalid arguments: "message" is required`)
	}
	agg.mu.Lock()
	agg.logs = append(agg.logs, sink.LogEntry{Level: level, Message: message, Timestamp: time.Now().UnixMilli()})
	agg.mu.Unlock()
	emit(ctx, sink.TypeLog, map[string]any{"level": level, "message": message})
	return fmt.Sprintf("Logged [%s]: %s", level, message), nil
}

func noteTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name: ToolNote,
		Description: "Save a memory for future runs of this agent (at most 2000 characters). scope \"actor\" " +
			"(default) keeps it for the current user, \"shared\" for everyone. Recall memories with recall_memory.",
		Schema: schema(`{"type":"object","properties":{` +
			`"content":{"type":"string","maxLength":2000},` +
			`"scope":{"type":"string","enum":["actor","shared"]}},"required":["content"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Content string `json:"content"`
				Scope   string `json:"scope"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return addNote(ctx, agg, emit, a.Content, a.Scope)
		},
	}
}

func addNote(ctx context.Context, agg *aggregate, emit emitFunc, content, scope string) (string, error) {
	content = strings.TrimSpace(content)
	if content == "" {
		return "", toolErrorf(`Invalid arguments: "content" is required`)
	}
	if n := utf8.RuneCountInString(content); n > maxNoteChars {
		return "", toolErrorf(`Invalid arguments: "content" has %d characters, at most %d are kept: shorten it`, n, maxNoteChars)
	}
	if err := checkScope(scope); err != nil {
		return "", err
	}
	agg.mu.Lock()
	agg.memories = append(agg.memories, sink.Memory{Content: content, Scope: scope})
	agg.mu.Unlock()
	data := map[string]any{"content": content}
	if scope != "" {
		data["scope"] = scope
	}
	emit(ctx, sink.TypeMemory, data)
	return "Note saved", nil
}

func checkScope(scope string) error {
	if scope != "" && scope != "actor" && scope != "shared" {
		return toolErrorf(`Invalid arguments: "scope" must be actor or shared`)
	}
	return nil
}

func pinTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name: ToolPin,
		Description: "Pin a named value that the next runs of this agent see in their prompt (any JSON, at most " +
			"64 KB). The key \"checkpoint\" is the carry-over state of the agent.",
		Schema: schema(`{"type":"object","properties":{` +
			`"key":{"type":"string","pattern":"^[a-z0-9_]+$","maxLength":64},` +
			`"content":{"description":"Any JSON value"},` +
			`"scope":{"type":"string","enum":["actor","shared"]}},"required":["key","content"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Key     string          `json:"key"`
				Content json.RawMessage `json:"content"`
				Scope   string          `json:"scope"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return setPin(ctx, agg, emit, a.Key, a.Content, a.Scope)
		},
	}
}

func setPin(ctx context.Context, agg *aggregate, emit emitFunc, key string, content json.RawMessage, scope string) (string, error) {
	if key == "" || len(key) > maxPinKeyLen || !pinKeyPattern.MatchString(key) {
		return "", toolErrorf(`Invalid arguments: "key" must match ^[a-z0-9_]+$ and have at most %d characters`, maxPinKeyLen)
	}
	content = bytes.TrimSpace(content)
	if len(content) == 0 {
		return "", toolErrorf(`Invalid arguments: "content" is required`)
	}
	if len(content) > maxPinBytes {
		return "", toolErrorf(`Invalid arguments: "content" is %d bytes of JSON, at most %d are allowed`, len(content), maxPinBytes)
	}
	if err := checkScope(scope); err != nil {
		return "", err
	}
	content = json.RawMessage(append([]byte(nil), content...))
	agg.mu.Lock()
	if agg.pinned == nil {
		agg.pinned = map[string]sink.Pinned{}
	}
	agg.pinned[key] = sink.Pinned{Content: content, Scope: scope}
	agg.mu.Unlock()
	data := map[string]any{"key": key, "content": content}
	if scope != "" {
		data["scope"] = scope
	}
	emit(ctx, sink.TypePinned, data)
	return fmt.Sprintf("Pinned %q", key), nil
}

func reportTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name:        ToolReport,
		Description: "Append markdown to the run's report, shown to the user with the result.",
		Schema:      schema(`{"type":"object","properties":{"content":{"type":"string"}},"required":["content"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Content string `json:"content"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return addReport(ctx, agg, emit, a.Content)
		},
	}
}

func addReport(ctx context.Context, agg *aggregate, emit emitFunc, content string) (string, error) {
	if strings.TrimSpace(content) == "" {
		return "", toolErrorf(`Invalid arguments: "content" is required`)
	}
	agg.mu.Lock()
	agg.report = append(agg.report, content)
	agg.mu.Unlock()
	emit(ctx, sink.TypeReport, map[string]any{"content": content})
	return "Report updated", nil
}

func addMemoryTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name:   toolAddMemory,
		Hidden: true,
		Schema: schema(`{"type":"object","properties":{"content":{"type":"string"}},"required":["content"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				Content string `json:"content"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			return addNote(ctx, agg, emit, a.Content, "")
		},
	}
}

func setStateTool(agg *aggregate, emit emitFunc) Tool {
	return Tool{
		Name:   toolSetState,
		Hidden: true,
		Schema: schema(`{"type":"object","properties":{"state":{}},"required":["state"]}`),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var a struct {
				State json.RawMessage `json:"state"`
			}
			if err := decodeArgs(raw, &a); err != nil {
				return "", err
			}
			if len(bytes.TrimSpace(a.State)) == 0 {
				return "", toolErrorf(`Invalid arguments: "state" is required`)
			}
			return setPin(ctx, agg, emit, checkpointKey, a.State, "")
		},
	}
}
