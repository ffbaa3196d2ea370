package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/sink/sinktest"
)

const sidecarToken = "sidecar-token-123"

// fakeSidecar stands for internal/sidecar: /mcp with the three tools, /llm/* answered by llmtest, both behind
// the X-Sidecar-Token check.
type fakeSidecar struct {
	llm         *llmtest.Server
	unavailable atomic.Int32 // /mcp answers 503 this many times first
	omit        string       // a tool not to offer

	mu    sync.Mutex
	calls []string // "<tool> <arguments JSON>"
}

func newFakeSidecar(script llmtest.Script) *fakeSidecar {
	return &fakeSidecar{llm: llmtest.NewHandler(script)}
}

func (s *fakeSidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(runner.SidecarTokenHeader) != sidecarToken {
		http.Error(w, `{"error":"bad sidecar token"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == "/mcp":
		if s.unavailable.Add(-1) >= 0 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		s.mcpServer().ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/llm/"):
		s.llm.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *fakeSidecar) mcpServer() *mcp.Server {
	srv := mcp.NewServer(mcp.Implementation{Name: "appstrate-sidecar", Version: "1"})
	record := func(name string, args json.RawMessage) {
		s.mu.Lock()
		s.calls = append(s.calls, name+" "+string(args))
		s.mu.Unlock()
	}
	tools := map[string]mcp.ToolHandler{
		runner.ToolProviderCall: func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
			record(runner.ToolProviderCall, args)
			var a struct {
				Target string `json:"target"`
			}
			_ = json.Unmarshal(args, &a)
			if strings.Contains(a.Target, "fail") {
				return mcp.ErrorResult("Upstream request failed: ECONNREFUSED (api.example.com)"), nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{
				mcp.TextContent(`{"status":200}`),
				mcp.ResourceLinkContent("appstrate://provider-response/run_x/01J", "provider:gmail", "application/json"),
			}}, nil
		},
		runner.ToolRunHistory: func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
			record(runner.ToolRunHistory, args)
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(`{"object":"list","data":[],"hasMore":false}`)}}, nil
		},
		runner.ToolRecallMemory: func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
			record(runner.ToolRecallMemory, args)
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(`{"memories":[]}`)}}, nil
		},
	}
	schemas := map[string]string{
		runner.ToolProviderCall: `{"type":"object","properties":{"providerId":{"type":"string","pattern":"^[a-z]+$"},"target":{"type":"string"}},"required":["providerId","target"],"additionalProperties":false}`,
		runner.ToolRunHistory:   `{"type":"object","properties":{"limit":{"type":"integer"}}}`,
		runner.ToolRecallMemory: `{"type":"object","properties":{"q":{"type":"string"}}}`,
	}
	for name, h := range tools {
		if name != s.omit {
			srv.AddTool(mcp.Tool{Name: name, Description: "the " + name + " tool", InputSchema: json.RawMessage(schemas[name])}, h)
		}
	}
	return srv
}

func (s *fakeSidecar) recorded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// serveUnix serves h on a unix socket in a temp dir and returns the socket path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	dir, err := tempSocketDir(t)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sidecar.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return path
}

// tempSocketDir is a short directory (unix socket paths are limited to ~100 bytes).
func tempSocketDir(t *testing.T) (string, error) {
	dir, err := os.MkdirTemp("", "rsock")
	if err == nil {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	return dir, err
}

func TestConnectSidecar(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	sc.unavailable.Store(3) // the sidecar is still starting: the runner retries
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)

	tools, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, []string{"@acme/gmail", "notion"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]runner.Tool{}
	for _, tl := range tools {
		names = append(names, tl.Name)
		byName[tl.Name] = tl
	}
	if strings.Join(names, ",") != "provider_call,run_history,recall_memory" {
		t.Fatalf("tools %v", names)
	}
	var schema struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(byName["provider_call"].Schema, &schema); err != nil {
		t.Fatal(err)
	}
	pid := schema.Properties["providerId"]
	if _, hasPattern := pid["pattern"]; hasPattern || mustJSON(t, pid["enum"]) != `["@acme/gmail","notion"]` {
		t.Fatalf("providerId schema %v", pid)
	}

	ctx := context.Background()
	out, err := byName["provider_call"].Call(ctx, json.RawMessage(`{"providerId":"notion","target":"https://api.notion.com/v1/me"}`))
	if err != nil || out != "{\"status\":200}\n[resource appstrate://provider-response/run_x/01J (provider:gmail)]" {
		t.Fatalf("provider_call = %q, %v", out, err)
	}
	_, err = byName["provider_call"].Call(ctx, json.RawMessage(`{"providerId":"notion","target":"https://fail"}`))
	var te *runner.ToolError
	if !errors.As(err, &te) || te.Message != "Upstream request failed: ECONNREFUSED (api.example.com)" {
		t.Fatalf("failing provider_call = %v", err)
	}
	if out, err := byName["recall_memory"].Call(ctx, nil); err != nil || out != `{"memories":[]}` {
		t.Fatalf("recall_memory = %q, %v", out, err)
	}
	if _, err := byName["run_history"].Call(ctx, json.RawMessage(`{"limit":`)); err == nil {
		t.Fatal("malformed arguments were forwarded")
	}
	got := strings.Join(sc.recorded(), "\n")
	want := "provider_call {\"providerId\":\"notion\",\"target\":\"https://api.notion.com/v1/me\"}\n" +
		"provider_call {\"providerId\":\"notion\",\"target\":\"https://fail\"}\nrecall_memory {}"
	if got != want {
		t.Fatalf("the sidecar received\n%s\nwant\n%s", got, want)
	}
}

func TestConnectSidecarWithoutProviders(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	sc.omit = runner.ToolProviderCall
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	tools, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, nil, 10*time.Second)
	if err != nil || len(tools) != 2 || tools[0].Name != "run_history" || tools[1].Name != "recall_memory" {
		t.Fatalf("tools %v, %v", tools, err)
	}
}

func TestConnectSidecarFailures(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	sc.omit = runner.ToolRecallMemory
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	_, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, nil, 10*time.Second)
	if err == nil || err.Error() != "sidecar MCP server lacks the tool(s) recall_memory" {
		t.Fatalf("missing tool: %v", err)
	}
	_, err = runner.ConnectSidecar(context.Background(), srv.URL, "wrong-token", nil, nil, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "connect to the sidecar MCP server (gave up after 300ms)") ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
}

// Every request to the sidecar's host goes through SIDECAR_SOCKET, whatever the URL's port.
func TestHTTPClientDialsTheSidecarSocket(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	socket := serveUnix(t, sc)
	client, err := runner.NewHTTPClient("http://sidecar", socket)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := runner.ConnectSidecar(context.Background(), "http://sidecar:8080", sidecarToken, client, nil, 10*time.Second)
	if err != nil || len(tools) != 2 {
		t.Fatalf("over the socket: %v, %v", tools, err)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("direct")) }))
	t.Cleanup(other.Close)
	resp, err := client.Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("other hosts must be dialled normally: %d", resp.StatusCode)
	}
}

// A run with the sidecar: the model calls the MCP tools and the platform tools side by side.
func TestRunWithSidecarTools(t *testing.T) {
	script := llmtest.Script{Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{
			{Name: "provider_call", Args: `{"providerId":"notion","target":"https://api.notion.com/v1/me"}`},
			{Name: "run_history", Args: `{"limit":2}`},
		}},
		{Text: "done"},
	}}
	h := newHarness(t, llmtest.OpenAIChat, script)
	sc := newFakeSidecar(llmtest.Script{})
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	tools, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, []string{"notion"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h.deps.Tools = tools
	res := h.run(context.Background())
	if runner.Failed(res) {
		t.Fatalf("run failed: %+v", res.Error)
	}
	reqs := h.llm.Requests()
	if got := strings.Join(reqs[0].Tools, ","); got != "read,write,edit,bash,ls,grep,find,output,log,note,pin,report,provider_call,run_history,recall_memory" {
		t.Fatalf("tools %s", got)
	}
	results := reqs[1].LastToolResults()
	if len(results) != 2 || !strings.Contains(results[0].Content, "[resource appstrate://provider-response/run_x/01J (provider:gmail)]") {
		t.Fatalf("results %+v", results)
	}
	if n := len(sc.recorded()); n != 2 {
		t.Fatalf("the sidecar got %d calls", n)
	}
}

// A sidecar that never answers fails the run with a reason, through the sink.
func TestExecuteReportsAnUnreachableSidecar(t *testing.T) {
	platform := sinktest.New(t, testRunID, testSecret)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cfg := runner.Config{
		RunID: testRunID, Prompt: testPrompt, WorkspaceDir: t.TempDir(),
		Model:   runner.Model{API: llmtest.Anthropic, ID: "m", BaseURL: deadURL + "/llm"},
		Sink:    runner.SinkConfig{URL: platform.URL, FinalizeURL: platform.FinalizeURL, Secret: testSecret},
		Sidecar: runner.SidecarConfig{URL: deadURL, Token: sidecarToken, ConnectTimeout: 200 * time.Millisecond},
	}
	res, err := runner.Execute(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, ok := platform.Result()
	if !ok || got.Status != runner.StatusFailed || got.Error == nil ||
		!strings.HasPrefix(got.Error.Message, "connect to the sidecar MCP server (gave up after 200ms)") || !runner.Failed(res) {
		t.Fatalf("finalize %+v", got)
	}
	if ev := platform.Events(); len(ev) != 1 || ev[0].Type != "appstrate.error" {
		t.Fatalf("events %v", ev)
	}
}
