package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/llm"
)

// Tool is a tool the model can call.
type Tool struct {
	Name        string
	Description string
	// Schema is the JSON Schema of the arguments object.
	Schema json.RawMessage
	// Hidden tools are accepted when called but not declared to the model (aliases of older prompts).
	Hidden bool
	// Call runs one call with the raw JSON arguments the model produced. The returned text is the result the
	// model sees; an error becomes an error result with the error's text. Call must not panic.
	Call func(ctx context.Context, args json.RawMessage) (string, error)
}

// toolCallIDKey carries the id of the tool call being run in the context of Tool.Call.
type toolCallIDKey struct{}

// ToolCallID is the id of the model's tool call that ctx runs ("" outside a tool call).
func ToolCallID(ctx context.Context) string {
	id, _ := ctx.Value(toolCallIDKey{}).(string)
	return id
}

// WithToolCallID returns ctx for running the tool call id.
func WithToolCallID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, toolCallIDKey{}, id)
}

// spec is the declaration sent to the model.
func (t Tool) spec() llm.ToolSpec {
	return llm.ToolSpec{Name: t.Name, Description: t.Description, InputSchema: t.Schema}
}

// ToolError is an error result whose text is exactly Message (no prefix added).
type ToolError struct{ Message string }

func (e *ToolError) Error() string { return e.Message }

// toolErrorf builds a *ToolError.
func toolErrorf(format string, args ...any) error {
	return &ToolError{Message: fmt.Sprintf(format, args...)}
}

// decodeArgs decodes a tool call's arguments into v (a pointer to a struct). Empty arguments read as {}; the
// arguments must be one JSON object whose members have the types v declares (unknown members are ignored,
// as models add some). The error says what is wrong in words the model can act on.
func decodeArgs(raw json.RawMessage, v any) error {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		b = []byte("{}")
	}
	if b[0] != '{' {
		return toolErrorf("Invalid arguments: expected a JSON object, got %s", preview(string(b), 80))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return argsError(err)
	}
	if dec.More() {
		return toolErrorf("Invalid arguments: unexpected data after the JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return toolErrorf("Invalid arguments: unexpected data after the JSON object")
	}
	return nil
}

func argsError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return toolErrorf("Invalid arguments: %q must be %s, got %s", typeErr.Field, kindName(typeErr.Type), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return toolErrorf("Invalid arguments: not valid JSON (%v)", err)
	}
	return toolErrorf("Invalid arguments: %v", err)
}

// kindName names a Go type the way a JSON schema would.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// toolset is the tools of a run, by name, in declaration order.
type toolset struct {
	order  []string
	byName map[string]Tool
}

func newToolset(tools ...Tool) *toolset {
	ts := &toolset{byName: map[string]Tool{}}
	for _, t := range tools {
		ts.add(t)
	}
	return ts
}

// add registers a tool; a later tool of the same name replaces the earlier one.
func (ts *toolset) add(t Tool) {
	if _, ok := ts.byName[t.Name]; !ok {
		ts.order = append(ts.order, t.Name)
	}
	ts.byName[t.Name] = t
}

// has reports whether a tool of that name is registered (hidden ones included).
func (ts *toolset) has(name string) bool {
	_, ok := ts.byName[name]
	return ok
}

// specs are the declarations of the visible tools.
func (ts *toolset) specs() []llm.ToolSpec {
	var out []llm.ToolSpec
	for _, n := range ts.order {
		if t := ts.byName[n]; !t.Hidden {
			out = append(out, t.spec())
		}
	}
	return out
}

// call runs a tool call; every failure (unknown tool, bad arguments, tool error, panic) becomes an error
// result.
func (ts *toolset) call(ctx context.Context, name string, args json.RawMessage) (text string, isError bool) {
	t, ok := ts.byName[name]
	if !ok {
		return fmt.Sprintf("Unknown tool %q. Available tools: %s", name, strings.Join(ts.visibleNames(), ", ")), true
	}
	defer func() {
		if r := recover(); r != nil {
			text, isError = fmt.Sprintf("Error in tool %q: %v", name, r), true
		}
	}()
	out, err := t.Call(ctx, args)
	if err != nil {
		if ctx.Err() != nil && !isToolError(err) {
			return fmt.Sprintf("Tool %q was interrupted: %v", name, context.Cause(ctx)), true
		}
		return err.Error(), true
	}
	return out, false
}

func isToolError(err error) bool {
	var te *ToolError
	return errors.As(err, &te)
}

func (ts *toolset) visibleNames() []string {
	var out []string
	for _, n := range ts.order {
		if !ts.byName[n].Hidden {
			out = append(out, n)
		}
	}
	return out
}

// preview cuts s to n bytes (on a rune boundary) for messages.
func preview(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
