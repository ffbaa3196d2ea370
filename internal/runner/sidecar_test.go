package runner_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
			return providerAnswer(a.Target), nil
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
	srv.SetResourceReader(func(_ context.Context, uri string) (*mcp.ReadResourceResult, error) {
		c, ok := storedResources[uri]
		if !ok {
			return nil, mcp.NewError(mcp.CodeInvalidParams, "unknown resource "+uri)
		}
		c.URI = uri
		return &mcp.ReadResourceResult{Contents: []mcp.ResourceContents{c}}, nil
	})
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

// Resources the fake sidecar stores, as the real one spills large and binary responses.
const (
	bigJSONURI = "appstrate://provider-response/run_x/01JBIG"
	pngURI     = "appstrate://provider-response/run_x/01JPNG"
	goneURI    = "appstrate://provider-response/run_x/01JGONE"
)

var (
	bigJSON         = `{"items":"` + strings.Repeat("x", 40000) + `"}`
	hugeText        = strings.Repeat("a,b\n", 70000) // over DefaultMaxInlineBytes
	pngBytes        = []byte("\x89PNG\r\n\x1a\nnot really an image")
	storedResources = map[string]mcp.ResourceContents{
		bigJSONURI: {MimeType: "application/json", Text: bigJSON},
		pngURI:     {MimeType: "image/png", Blob: base64.StdEncoding.EncodeToString(pngBytes), IsBlob: true},
	}
)

// providerAnswer is the fake sidecar's provider_call result for a target, shaped as internal/sidecar shapes
// them: the body inline, or a note and a resource link; the upstream status and headers in the meta.
func providerAnswer(target string) *mcp.CallToolResult {
	upstream := func(status int, contentType string) map[string]any {
		return map[string]any{"appstrate/upstream": map[string]any{"status": status,
			"headers": map[string]string{"content-type": contentType, "etag": `"v1"`}}}
	}
	link := func(uri, mimeType string) []mcp.Content {
		return []mcp.Content{mcp.TextContent("The response is too large to show inline; it is stored as " + uri),
			mcp.ResourceLinkContent(uri, "provider:notion", mimeType)}
	}
	switch {
	case strings.Contains(target, "fail"):
		res := mcp.ErrorResult("Upstream request failed: ECONNREFUSED (api.example.com)")
		res.Meta = map[string]any{"appstrate/upstream": map[string]any{"status": 0, "headers": map[string]string{}}}
		return res
	case strings.Contains(target, "missing"):
		res := &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(`{"error":"not found"}`)}, IsError: true}
		res.Meta = upstream(404, "application/json")
		return res
	case strings.Contains(target, "big"):
		return &mcp.CallToolResult{Content: link(bigJSONURI, "application/json"), Meta: upstream(200, "application/json")}
	case strings.Contains(target, "png"):
		return &mcp.CallToolResult{Content: link(pngURI, "image/png"), Meta: upstream(200, "image/png")}
	case strings.Contains(target, "gone"):
		return &mcp.CallToolResult{Content: link(goneURI, "text/plain"), Meta: upstream(200, "text/plain")}
	case strings.Contains(target, "huge"):
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(hugeText)}, Meta: upstream(200, "text/csv")}
	case strings.Contains(target, "cut"):
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("abc\n[truncated: response exceeded 3 bytes]")},
			Meta: upstream(200, "text/plain")}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(`{"ok":true}`)}, Meta: upstream(200, "application/json")}
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

// connect connects to a fake sidecar and returns its tools for a workspace in a temp dir, by name.
func connect(t *testing.T, url string, providers []string) (*runner.Sidecar, map[string]runner.Tool, *runner.Workspace) {
	t.Helper()
	sc, err := runner.ConnectSidecar(context.Background(), url, sidecarToken, nil, providers, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := runner.OpenWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	byName := map[string]runner.Tool{}
	for _, tl := range sc.Tools(ws) {
		byName[tl.Name] = tl
	}
	return sc, byName, ws
}

func TestConnectSidecar(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	sc.unavailable.Store(3) // the sidecar is still starting: the runner retries
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)

	sidecar, byName, _ := connect(t, srv.URL, []string{"@acme/gmail", "notion"})
	var names []string
	for _, tl := range sidecar.Tools(nil) {
		names = append(names, tl.Name)
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
	if _, ok := schema.Properties["responseMode"]; !ok {
		t.Fatalf("the runner-side schema lacks responseMode: %s", byName["provider_call"].Schema)
	}

	ctx := runner.WithToolCallID(context.Background(), "call_1")
	out, err := byName["provider_call"].Call(ctx, json.RawMessage(`{"providerId":"notion","target":"https://api.notion.com/v1/me"}`))
	if err != nil || out != `{"status":200,"headers":{"content-type":"application/json","etag":"\"v1\""},"body":{"kind":"text","text":"{\"ok\":true}"}}` {
		t.Fatalf("provider_call = %s, %v", out, err)
	}
	if out, err := byName["recall_memory"].Call(ctx, nil); err != nil || out != `{"memories":[]}` {
		t.Fatalf("recall_memory = %q, %v", out, err)
	}
	if _, err := byName["run_history"].Call(ctx, json.RawMessage(`{"limit":`)); err == nil {
		t.Fatal("malformed arguments were forwarded")
	}
	got := strings.Join(sc.recorded(), "\n")
	want := "provider_call {\"providerId\":\"notion\",\"target\":\"https://api.notion.com/v1/me\"}\nrecall_memory {}"
	if got != want {
		t.Fatalf("the sidecar received\n%s\nwant\n%s", got, want)
	}
}

func TestConnectSidecarWithoutProviders(t *testing.T) {
	sc := newFakeSidecar(llmtest.Script{})
	sc.omit = runner.ToolProviderCall
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	sidecar, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tools := sidecar.Tools(nil); len(tools) != 2 || tools[0].Name != "run_history" || tools[1].Name != "recall_memory" {
		t.Fatalf("tools %v", tools)
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
	// A deadline long enough for at least one answer even on a loaded machine (the 401 must be in the error).
	_, err = runner.ConnectSidecar(context.Background(), srv.URL, "wrong-token", nil, nil, 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), "connect to the sidecar MCP server (gave up after 3s)") ||
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
	sidecar, err := runner.ConnectSidecar(context.Background(), "http://sidecar:8080", sidecarToken, client, nil, 10*time.Second)
	if err != nil || len(sidecar.Tools(nil)) != 2 {
		t.Fatalf("over the socket: %v", err)
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
			{ID: "call_big", Name: "provider_call", Args: `{"providerId":"notion","target":"https://api.notion.com/v1/big"}`},
			{Name: "run_history", Args: `{"limit":2}`},
		}},
		{Text: "done"},
	}}
	h := newHarness(t, llmtest.OpenAIChat, script)
	sc := newFakeSidecar(llmtest.Script{})
	srv := httptest.NewServer(sc)
	t.Cleanup(srv.Close)
	sidecar, err := runner.ConnectSidecar(context.Background(), srv.URL, sidecarToken, nil, []string{"notion"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h.deps.Sidecar = sidecar
	res := h.run(context.Background())
	if runner.Failed(res) {
		t.Fatalf("run failed: %+v", res.Error)
	}
	reqs := h.llm.Requests()
	if got := strings.Join(reqs[0].Tools, ","); got != "read,write,edit,bash,ls,grep,find,output,log,note,pin,report,provider_call,run_history,recall_memory" {
		t.Fatalf("tools %s", got)
	}
	results := reqs[1].LastToolResults()
	if len(results) != 2 || !strings.Contains(results[0].Content, `"body":{"kind":"file","path":"responses/call_big.bin"`) {
		t.Fatalf("results %+v", results)
	}
	if saved, err := os.ReadFile(filepath.Join(h.cfg.WorkspaceDir, "responses", "call_big.bin")); err != nil || string(saved) != bigJSON {
		t.Fatalf("saved response: %d bytes, %v", len(saved), err)
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
