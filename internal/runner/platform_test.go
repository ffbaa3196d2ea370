package runner

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/sink"
)

type recordedEvent struct {
	typ  string
	data string
}

func newPlatform(t *testing.T, schema string, enabled []string) (*toolset, *aggregate, *[]recordedEvent) {
	t.Helper()
	agg := &aggregate{}
	var events []recordedEvent
	emit := func(_ context.Context, typ string, data any) {
		b, _ := json.Marshal(data)
		events = append(events, recordedEvent{typ, string(b)})
	}
	tools, err := platformTools(agg, emit, json.RawMessage(schema), enabled)
	if err != nil {
		t.Fatal(err)
	}
	return newToolset(tools...), agg, &events
}

func TestOutputToolSchemaEmbedsTheOutputSchema(t *testing.T) {
	ts, _, _ := newPlatform(t, `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","description":"The summary",`+
		`"properties":{"n":{"type":"integer"}},"required":["n"]}`, []string{"output"})
	specs := ts.specs()
	if len(specs) != 1 || specs[0].Name != "output" {
		t.Fatalf("visible tools %v", specs)
	}
	want := `{"type":"object","properties":{"data":{"description":"The summary","properties":{"n":{"type":"integer"}},"required":["n"],"type":"object"}},"required":["data"]}`
	if string(specs[0].InputSchema) != want {
		t.Fatalf("schema\n%s\nwant\n%s", specs[0].InputSchema, want)
	}
	ts, _, _ = newPlatform(t, "", PlatformTools)
	if got := string(ts.specs()[0].InputSchema); got != `{"type":"object","properties":{"data":{"type":"object","description":"The structured result of the run"}},"required":["data"]}` {
		t.Fatalf("schema without OUTPUT_SCHEMA: %s", got)
	}
}

func TestPlatformTools(t *testing.T) {
	ts, agg, events := newPlatform(t, `{"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"]}`, []string{"output", "note"})
	ctx := context.Background()
	tests := []struct {
		tool, args, want string
		isError          bool
	}{
		{"output", `{"data":{"n":0,"extra":true}}`, "Output validation failed:\n  - n: must be >= 1\n\nPlease call output() again with data that matches the schema.", true},
		{"output", `{"data":{}}`, "Output validation failed:\n  - n: must have required property 'n'\n\nPlease call output() again with data that matches the schema.", true},
		{"output", `{"data":[1]}`, `Invalid arguments: "data" must be a JSON object`, true},
		{"output", `{}`, `Invalid arguments: "data" must be a JSON object`, true},
		{"output", `{"data":{"n":1}}`, "Output recorded.", false},
		{"output", `{"data":{"n":2}}`, "Output recorded.", false},
		{"log", `{"level":"debug","message":"x"}`, `Invalid arguments: "level" must be info, warn or error`, true},
		{"log", `{"level":"warn","message":" "}`, `Invalid arguments: "message" is required`, true},
		{"log", `{"level":"warn","message":"careful"}`, "Logged [warn]: careful", false},
		{"note", `{"content":"` + strings.Repeat("é", 2001) + `"}`, `Invalid arguments: "content" has 2001 characters, at most 2000 are kept: shorten it`, true},
		{"note", `{"content":"x","scope":"team"}`, `Invalid arguments: "scope" must be actor or shared`, true},
		{"note", `{"content":"  remember me  ","scope":"shared"}`, "Note saved", false},
		{"pin", `{"key":"` + strings.Repeat("k", 65) + `","content":1}`, `Invalid arguments: "key" must match ^[a-z0-9_]+$ and have at most 64 characters`, true},
		{"pin", `{"key":"big","content":"` + strings.Repeat("x", 64<<10) + `"}`, `Invalid arguments: "content" is 65538 bytes of JSON, at most 65536 are allowed`, true},
		{"pin", `{"key":"k"}`, `Invalid arguments: "content" is required`, true},
		{"pin", `{"key":"checkpoint","content":{"page":1}}`, `Pinned "checkpoint"`, false},
		{"set_state", `{"state":{"page":2}}`, `Pinned "checkpoint"`, false},
		{"set_state", `{}`, `Invalid arguments: "state" is required`, true},
		{"report", `{"content":""}`, `Invalid arguments: "content" is required`, true},
		{"report", `{"content":"line 1"}`, "Report updated", false},
		{"report", `{"content":"line 2"}`, "Report updated", false},
		{"add_memory", `{"content":"old style"}`, "Note saved", false},
	}
	for _, tt := range tests {
		got, isError := ts.call(ctx, tt.tool, json.RawMessage(tt.args))
		if got != tt.want || isError != tt.isError {
			t.Errorf("%s %s = %q (error %v)\nwant %q (error %v)", tt.tool, preview(tt.args, 60), got, isError, tt.want, tt.isError)
		}
	}
	var res sink.RunResult
	agg.fill(&res)
	if string(res.Output) != `{"n":2}` || res.Report != "line 1\nline 2" || len(res.Logs) != 1 || res.Logs[0].Level != "warn" ||
		len(res.Memories) != 2 || res.Memories[0] != (sink.Memory{Content: "remember me", Scope: "shared"}) ||
		string(res.Pinned["checkpoint"].Content) != `{"page":2}` {
		t.Fatalf("aggregate %+v", res)
	}
	var types []string
	for _, e := range *events {
		types = append(types, e.typ)
	}
	if got := strings.Join(types, " "); got != "output.emitted output.emitted log.written memory.added pinned.set pinned.set report.appended report.appended memory.added" {
		t.Fatalf("events %s", got)
	}
	if (*events)[3].data != `{"content":"remember me","scope":"shared"}` || (*events)[5].data != `{"content":{"page":2},"key":"checkpoint"}` {
		t.Fatalf("event payloads %v", *events)
	}
}

func TestDecodeArgs(t *testing.T) {
	type args struct {
		Path  string   `json:"path"`
		Limit *int     `json:"limit"`
		Tags  []string `json:"tags"`
	}
	tests := []struct{ raw, want string }{
		{``, ""},
		{`  `, ""},
		{`{"path":"a","unknown":1}`, ""},
		{`null`, "Invalid arguments: expected a JSON object, got null"},
		{`"path"`, `Invalid arguments: expected a JSON object, got "path"`},
		{`{"path":1}`, `Invalid arguments: "path" must be a string, got number`},
		{`{"limit":"3"}`, `Invalid arguments: "limit" must be an integer, got string`},
		{`{"limit":1.5}`, `Invalid arguments: "limit" must be an integer, got number 1.5`},
		{`{"tags":"a"}`, `Invalid arguments: "tags" must be an array, got string`},
		{`{"path":"a"`, "Invalid arguments: not valid JSON (unexpected EOF)"},
		{`{"path":"a"} {}`, "Invalid arguments: unexpected data after the JSON object"},
		{`{"path":"a"}x`, "Invalid arguments: unexpected data after the JSON object"},
		{`{path:1}`, "Invalid arguments: not valid JSON (invalid character 'p' looking for beginning of object key string)"},
	}
	for _, tt := range tests {
		var a args
		err := decodeArgs(json.RawMessage(tt.raw), &a)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("decodeArgs(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestToolsetRecoversPanics(t *testing.T) {
	ts := newToolset(Tool{Name: "boom", Call: func(context.Context, json.RawMessage) (string, error) { panic("kaboom") }})
	got, isError := ts.call(context.Background(), "boom", nil)
	if !isError || got != `Error in tool "boom": kaboom` {
		t.Fatalf("call = %q, %v", got, isError)
	}
}
