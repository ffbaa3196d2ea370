package jstools

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestListsRegisteredTools(t *testing.T) {
	h, logs := startHost(t, Options{Packages: []Package{calcPackage, typeboxPackage}})

	if got := toolNames(h.Tools()); got != "calc,explode,emit_output,weather" {
		t.Fatalf("tools = %s", got)
	}
	if errs := h.LoadErrors(); len(errs) != 0 {
		t.Fatalf("load errors: %+v", errs)
	}
	if !strings.HasPrefix(h.Runtime(), "node v") {
		t.Errorf("Runtime() = %q", h.Runtime())
	}
	tests := []struct {
		tool, pkg, label, description, parameters string
	}{
		{"calc", "@test/calc", "Calculator", "Adds or multiplies two numbers.",
			`{"type":"object","properties":{"op":{"type":"string","enum":["add","mul"]},"a":{"type":"number"},"b":{"type":"number"}},"required":["op","a","b"]}`},
		{"weather", "@test/typebox", "Weather", "Pretends to forecast the weather.",
			`{"type":"object","properties":{"city":{"description":"City name","type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"minimum":1,"maximum":7,"type":"integer"}},"required":["city"]}`},
	}
	byName := map[string]Tool{}
	for _, tool := range h.Tools() {
		byName[tool.Name] = tool
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			tool := byName[tt.tool]
			if tool.Package != tt.pkg || tool.Label != tt.label || tool.Description != tt.description {
				t.Errorf("tool = %+v", tool)
			}
			if string(tool.Parameters) != tt.parameters {
				t.Errorf("parameters =\n%s\nwant\n%s", tool.Parameters, tt.parameters)
			}
		})
	}
	if !strings.Contains(logs.String(), "extension '@test/calc' called unsupported hook 'on'; ignored") {
		t.Errorf("unsupported hook not reported; logs:\n%s", logs)
	}
}

func TestCallReturnsTheToolResult(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{calcPackage, typeboxPackage, lifecyclePackage}})

	tests := []struct {
		tool, params, text, details string
	}{
		{"calc", `{"op":"add","a":2,"b":40}`, "2 + 40 = 42", `{"toolCallId":"toolu_calc","value":42}`},
		{"calc", `{"op":"mul","a":6,"b":7}`, "6 × 7 = 42", `{"toolCallId":"toolu_calc","value":42}`},
		{"weather", `{"city":"Lyon"}`, "Sunny in Lyon (celsius)", ""},
		{"weather", ``, "Sunny in undefined (celsius)", ""},
		{"image", `{}`, "a pixel\n[image image/png]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.tool+tt.params, func(t *testing.T) {
			r := call(t, h, tt.tool, tt.params)
			if r.IsError || r.Text() != tt.text || string(r.Details) != tt.details {
				t.Errorf("result = %+v (text %q, details %s)", r, r.Text(), r.Details)
			}
		})
	}
	r := call(t, h, "image", `{}`)
	if len(r.Content) != 2 || r.Content[1] != (Content{Type: "image", Data: "iVBORw0KGgo=", MimeType: "image/png"}) {
		t.Errorf("image content = %+v", r.Content)
	}
}

func TestCallRefusesBadRequests(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{calcPackage}})

	if _, err := h.Call(context.Background(), "nope", "toolu_1", nil); !errors.Is(err, ErrUnknownTool) {
		t.Errorf("unknown tool: err = %v", err)
	}
	for _, params := range []string{`[1]`, `"x"`, `{`, `null`, `{} {}`} {
		if _, err := h.Call(context.Background(), "calc", "toolu_1", json.RawMessage(params)); err == nil ||
			!strings.Contains(err.Error(), "params must be one JSON object") {
			t.Errorf("params %s: err = %v", params, err)
		}
	}
}

func TestThrowingToolGivesAnErrorResult(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{calcPackage, lifecyclePackage}, MaxResultBytes: 4096})

	tests := []struct{ tool, params, text string }{
		{"explode", `{"message":"boom"}`, "Error in extension '@test/calc' tool 'explode': boom"},
		{"bad_result", `{}`, "Error in extension '@test/lifecycle' tool 'bad_result': execute must return {content: [{type: \"text\", text}, ...]}"},
		{"big", `{"size":10000}`, "Error in extension '@test/lifecycle' tool 'big': the result is too large ("},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			r := call(t, h, tt.tool, tt.params)
			if !r.IsError || !strings.HasPrefix(r.Text(), tt.text) {
				t.Errorf("result = %+v, want an error result starting with %q", r, tt.text)
			}
		})
	}
	// The host keeps serving.
	if r := call(t, h, "big", `{"size":100}`); r.IsError || len(r.Text()) != 100 {
		t.Errorf("after the errors: %+v", r)
	}
}

func TestLoadErrorsAreIsolated(t *testing.T) {
	packages := []Package{
		testPackage("broken-import", "tool.ts"),
		calcPackage,
		testPackage("broken-factory", "tool.ts"),
		testPackage("no-default", "tool.js"),
		testPackage("escape", "tool.ts"),
		testPackage("duplicate", "tool.js"),
		testPackage("calc", "missing.ts"),
		testPackage("calc", "../calc/tool.ts"),
		{ID: "@test/nowhere", Dir: "testdata/packages/nowhere", Entrypoint: "tool.ts"},
		typeboxPackage,
	}
	h, _ := startHost(t, Options{Packages: packages})

	if got := toolNames(h.Tools()); got != "calc,explode,emit_output,weather" {
		t.Fatalf("tools = %s", got)
	}
	want := []struct{ pkg, message string }{
		{"@test/broken-import", `cannot bundle: tool.ts:1:21: Could not resolve "left-pad" (a tool package must be self-contained`},
		{"@test/broken-factory", "factory failed on purpose"},
		{"@test/no-default", "the entrypoint has no default-exported factory function"},
		{"@test/escape", "cannot bundle: the package imports files outside its directory: ../calc/lib/math.ts"},
		{"@test/duplicate", "tool 'calc' is already registered by extension '@test/calc'"},
		{"@test/calc", `entrypoint "missing.ts": no such file in the package`},
		{"@test/calc", `entrypoint "../calc/tool.ts" must be a relative path inside the package`},
		{"@test/nowhere", "package directory testdata/packages/nowhere is not a readable directory"},
	}
	got := h.LoadErrors()
	if len(got) != len(want) {
		t.Fatalf("load errors = %+v", got)
	}
	for i, w := range want {
		if got[i].Package != w.pkg || !strings.HasPrefix(got[i].Message, w.message) {
			t.Errorf("load error %d = %+v, want %s: %s…", i, got[i], w.pkg, w.message)
		}
	}
	if !strings.Contains(got[1].Stack, "factory failed on purpose") {
		t.Errorf("a thrown load error has no stack: %+v", got[1])
	}
	if r := call(t, h, "calc", `{"op":"add","a":1,"b":1}`); r.Text() != "1 + 1 = 2" {
		t.Errorf("calc after load errors: %+v", r)
	}
}

func TestEventsAreForwarded(t *testing.T) {
	h, logs := startHost(t, Options{Packages: []Package{calcPackage}})

	r := call(t, h, "emit_output", `{"data":{"answer":42}}`)
	if r.Text() != "Output saved" {
		t.Fatalf("result = %+v", r)
	}
	// Written through process.stdout before the call resolved: already on the channel. The line written to
	// fd 1 directly comes through the host's real stdout, in no set order with the protocol stream.
	seen := map[string]bool{}
	for drained := false; !drained; {
		select {
		case raw := <-h.Events():
			seen[string(raw)] = true
		default:
			drained = true
		}
	}
	const output = `{"type":"output.emitted","data":{"answer":42}}`
	const direct = `{"type":"log.written","level":"info","message":"written to fd 1"}`
	if !seen[output] {
		t.Fatalf("the output.emitted event was not on the channel when Call returned (seen %v)", seen)
	}
	if !seen[direct] {
		if raw := <-h.Events(); string(raw) != direct {
			t.Errorf("event = %s, want %s", raw, direct)
		}
	}
	waitFor(t, "the plain line in the logs", func() bool {
		return strings.Contains(logs.String(), "a plain line that is not an event")
	})
	select {
	case raw := <-h.Events():
		t.Errorf("unexpected event %s (plain lines and legacy {type:output} are not events)", raw)
	default:
	}
}

func TestCancellationFiresTheAbortSignal(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{calcPackage, lifecyclePackage}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Call(ctx, "wait_for_abort", "toolu_1", json.RawMessage(`{"tag":"t1"}`))
		done <- err
	}()
	if event := nextEvent(t, h); event["message"] != "started t1" {
		t.Fatalf("event = %v", event)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Call after cancel: err = %v", err)
	}
	if event := nextEvent(t, h); event["message"] != "aborted t1: AbortError" {
		t.Errorf("event = %v", event)
	}
	if r := call(t, h, "calc", `{"op":"mul","a":3,"b":3}`); r.Text() != "3 × 3 = 9" {
		t.Errorf("calc after a cancelled call: %+v", r)
	}
}

func TestCallTimeoutFiresTheAbortSignal(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{lifecyclePackage}, CallTimeout: 300 * time.Millisecond})

	_, err := h.Call(context.Background(), "wait_for_abort", "toolu_1", json.RawMessage(`{"tag":"t2"}`))
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "tool 'wait_for_abort' did not finish within 300ms") {
		t.Fatalf("err = %v", err)
	}
	// The host handles requests in order: once the next call is answered, the cancel was handled too, and
	// the events the abort listener wrote are on the channel. On a slow machine the cancel may even have
	// come before the tool started, which then never runs.
	call(t, h, "big", `{"size":1}`)
	var messages []string
	for drained := false; !drained; {
		select {
		case raw := <-h.Events():
			var event struct{ Message string }
			_ = json.Unmarshal(raw, &event)
			messages = append(messages, event.Message)
		default:
			drained = true
		}
	}
	if got := strings.Join(messages, "|"); got != "started t2|aborted t2: AbortError" && got != "" {
		t.Errorf("events = %q", got)
	}
}

func TestHostCrashFailsLaterCalls(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{calcPackage, lifecyclePackage}})

	_, err := h.Call(context.Background(), "crash", "toolu_1", nil)
	if !errors.Is(err, ErrHostExited) || !strings.Contains(err.Error(), "node exit status 7") ||
		!strings.Contains(err.Error(), "stderr: crashing on purpose") {
		t.Fatalf("crash: err = %v", err)
	}
	_, err = h.Call(context.Background(), "calc", "toolu_2", json.RawMessage(`{"op":"add","a":1,"b":2}`))
	if !errors.Is(err, ErrHostExited) {
		t.Fatalf("call after the crash: err = %v", err)
	}
	<-h.Done()
	if _, open := <-h.Events(); open {
		t.Error("Events still open after the crash")
	}
	if !errors.Is(h.Err(), ErrHostExited) {
		t.Errorf("Err() = %v", h.Err())
	}
}

func TestStrayErrorsDoNotStopTheHost(t *testing.T) {
	h, logs := startHost(t, Options{Packages: []Package{lifecyclePackage}})

	call(t, h, "throw_later", `{}`)
	waitFor(t, "the uncaught exception in the logs", func() bool {
		return strings.Contains(logs.String(), "uncaught exception in a tool: thrown from a timer")
	})
	if r := call(t, h, "big", `{"size":3}`); r.Text() != "xxx" {
		t.Errorf("after the stray error: %+v", r)
	}
}

func TestCloseKillsTheProcessGroup(t *testing.T) {
	h, _ := startHost(t, Options{Packages: []Package{lifecyclePackage}})

	pid, err := strconv.Atoi(call(t, h, "spawn_sleeper", `{}`).Text())
	if err != nil {
		t.Fatal(err)
	}
	if !processAlive(pid) {
		t.Fatalf("sleeper %d not running", pid)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sleeper to die", func() bool { return !processAlive(pid) })
	if _, err := h.Call(context.Background(), "big", "toolu_1", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: err = %v", err)
	}
	if _, err := os.Stat(h.scratch); !os.IsNotExist(err) {
		t.Errorf("scratch dir still there: %v", err)
	}
}

// processAlive: the process exists and is not a zombie.
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// providers is a ToolContext answering from a map.
type providers map[string]string

func (p providers) ProviderCall(_ context.Context, providerID string, args json.RawMessage) (json.RawMessage, error) {
	body, ok := p[providerID]
	if !ok {
		return nil, errors.New("provider '" + providerID + "' is not connected")
	}
	var req struct{ Target string }
	if err := json.Unmarshal(args, &req); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"status": 200, "target": req.Target, "body": body})
}

func (p providers) ReadResource(context.Context, string) (json.RawMessage, error) {
	return nil, errors.New("no resources")
}

func TestToolContext(t *testing.T) {
	tests := []struct {
		name    string
		context ToolContext
		params  string
		text    string
		isError bool
	}{
		{"served", providers{"@test/api": "hello"}, `{"providerId":"@test/api","target":"https://api.test/x"}`,
			`{"body":"hello","status":200,"target":"https://api.test/x"}`, false},
		{"refused", providers{}, `{"providerId":"@test/api","target":"https://api.test/x"}`,
			"failed: provider '@test/api' is not connected", true},
		{"bad arguments", providers{}, `{"target":"https://api.test/x"}`,
			"failed: providerCall(providerId, args): providerId must be a non-empty string", true},
		{"no context", nil, `{"providerId":"@test/api","target":"https://api.test/x"}`,
			"failed: providerCall is not available: this runner gives tool packages no Appstrate context", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := startHost(t, Options{Packages: []Package{lifecyclePackage}, ToolContext: tt.context})
			r := call(t, h, "provider", tt.params)
			if r.Text() != tt.text || r.IsError != tt.isError {
				t.Errorf("result = %+v", r)
			}
		})
	}
}

func TestNoRuntime(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tests := []struct {
		runtime string
		message string
	}{
		{"", "no JavaScript runtime to host tool packages: node nor bun found on PATH (install Node.js >= 18 or Bun)"},
		{"bun", "no JavaScript runtime to host tool packages: bun found on PATH (install Node.js >= 18 or Bun)"},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			h, err := Start(context.Background(), Options{Runtime: tt.runtime, Packages: []Package{calcPackage}})
			if h != nil || !errors.Is(err, ErrNoJSRuntime) || err.Error() != tt.message {
				t.Fatalf("Start = %v, %v", h, err)
			}
		})
	}
}

func TestExplicitRuntime(t *testing.T) {
	requireNode(t)
	path, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	for _, runtime := range []string{"node", path} {
		h, _ := startHost(t, Options{Runtime: runtime, Packages: []Package{calcPackage}})
		if !strings.HasPrefix(h.Runtime(), "node v") {
			t.Errorf("%s: Runtime() = %q", runtime, h.Runtime())
		}
	}
}

func TestHostDyingWhileLoadingFailsStart(t *testing.T) {
	requireNode(t)
	h, err := Start(context.Background(), Options{ScratchDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Packages: []Package{calcPackage, testPackage("exit-on-import", "tool.js")}})
	if h != nil || !errors.Is(err, ErrHostExited) ||
		!strings.Contains(err.Error(), "node exit status 3; stderr: leaving at import time") {
		t.Fatalf("Start = %v, %v", h, err)
	}
}

func TestHangingFactoryIsALoadError(t *testing.T) {
	h, _ := startHost(t, Options{LoadTimeout: 2 * time.Second,
		Packages: []Package{testPackage("hang-factory", "tool.js"), calcPackage}})

	errs := h.LoadErrors()
	if len(errs) != 1 || errs[0].Package != "@test/hang-factory" ||
		errs[0].Message != "the extension factory did not finish within 2000 ms" {
		t.Fatalf("load errors = %+v", errs)
	}
	if got := toolNames(h.Tools()); got != "calc,explode,emit_output" {
		t.Errorf("tools = %s", got)
	}
}

func TestOversizedProtocolMessageStopsTheHost(t *testing.T) {
	h, logs := startHost(t, Options{Packages: []Package{lifecyclePackage}, MaxResultBytes: 1024, MaxLineBytes: 1024})

	_, err := h.Call(context.Background(), "rogue", "toolu_1", json.RawMessage(`{"size":3000000}`))
	if !errors.Is(err, ErrHostExited) ||
		!strings.Contains(err.Error(), "node stopped after a protocol error: a message of 3000013 bytes exceeds the limit of 1054720") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), `jstools: ignored host message" error="malformed host message: invalid character 'o' in literal null`) {
		t.Errorf("malformed line not reported; logs:\n%s", logs)
	}
}

func TestOversizedStdoutLinesAreDropped(t *testing.T) {
	h, logs := startHost(t, Options{Packages: []Package{calcPackage}, MaxLineBytes: 100})

	r := call(t, h, "emit_output", `{"data":{"long":"`+strings.Repeat("y", 200)+`"}}`)
	if r.Text() != "Output saved" {
		t.Fatalf("result = %+v", r)
	}
	if raw := <-h.Events(); string(raw) != `{"type":"log.written","level":"info","message":"written to fd 1"}` {
		t.Errorf("event = %s (the oversized output.emitted line must be dropped)", raw)
	}
	if !strings.Contains(logs.String(), "dropped a tool output line over the size limit") {
		t.Errorf("no log of the dropped line; logs:\n%s", logs)
	}
}

// TestRuntimes runs one scenario on each runtime: node always, bun when it is on PATH.
func TestRuntimes(t *testing.T) {
	for _, runtime := range []string{"node", "bun"} {
		t.Run(runtime, func(t *testing.T) {
			if _, err := exec.LookPath(runtime); err != nil && runtime == "bun" {
				t.Skip("bun is not on PATH")
			}
			h, _ := startHost(t, Options{Runtime: runtime, Packages: []Package{calcPackage, typeboxPackage, lifecyclePackage}})
			if !strings.HasPrefix(h.Runtime(), runtime+" ") {
				t.Errorf("Runtime() = %q", h.Runtime())
			}
			if r := call(t, h, "weather", `{"city":"Oslo","unit":"fahrenheit"}`); r.Text() != "Sunny in Oslo (fahrenheit)" {
				t.Errorf("weather: %+v", r)
			}
			if r := call(t, h, "explode", `{"message":"boom"}`); !r.IsError ||
				r.Text() != "Error in extension '@test/calc' tool 'explode': boom" {
				t.Errorf("explode: %+v", r)
			}
			call(t, h, "emit_output", `{"data":{"n":1}}`)
			want := map[string]bool{
				`{"type":"output.emitted","data":{"n":1}}`:                          true,
				`{"type":"log.written","level":"info","message":"written to fd 1"}`: true,
			}
			for len(want) > 0 {
				raw := <-h.Events()
				if !want[string(raw)] {
					t.Fatalf("unexpected event %s", raw)
				}
				delete(want, string(raw))
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := h.Call(ctx, "wait_for_abort", "toolu_1", json.RawMessage(`{"tag":"r"}`))
				done <- err
			}()
			if event := nextEvent(t, h); event["message"] != "started r" {
				t.Fatalf("event = %v", event)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled call: %v", err)
			}
			if event := nextEvent(t, h); event["message"] != "aborted r: AbortError" {
				t.Errorf("event = %v", event)
			}
			if _, err := h.Call(context.Background(), "crash", "toolu_2", nil); !errors.Is(err, ErrHostExited) ||
				!strings.Contains(err.Error(), runtime+" exit status 7") {
				t.Errorf("crash: %v", err)
			}
		})
	}
}
