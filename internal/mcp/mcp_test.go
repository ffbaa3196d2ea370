package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/mcp"
)

func newTestServer(t *testing.T) (*mcp.Server, *httptest.Server) {
	t.Helper()
	s := mcp.NewServer(mcp.Implementation{Name: "test-server", Version: "1"})
	s.AddTool(mcp.Tool{Name: "echo", Description: "echoes", InputSchema: json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string"}}}`)},
		func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
			var in struct{ Msg string }
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, mcp.NewError(mcp.CodeInvalidParams, "bad args")
			}
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(in.Msg), mcp.ResourceLinkContent("x://1", "one", "text/plain")},
				StructuredContent: map[string]any{"len": len(in.Msg)}, Meta: map[string]any{"k": "v"}}, nil
		})
	s.AddTool(mcp.Tool{Name: "fail"}, func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
		return nil, errors.New("it broke")
	})
	s.SetResourceReader(func(_ context.Context, uri string) (*mcp.ReadResourceResult, error) {
		switch uri {
		case "x://text":
			return &mcp.ReadResourceResult{Contents: []mcp.ResourceContents{{URI: uri, MimeType: "text/plain", Text: ""}}}, nil
		case "x://bin":
			return &mcp.ReadResourceResult{Contents: []mcp.ResourceContents{{URI: uri, MimeType: "image/png", Blob: "AAEC", IsBlob: true}}}, nil
		}
		return nil, mcp.NewError(mcp.CodeInvalidParams, "Resource not found: "+uri)
	})
	s.MaxRequestBytes = 1024
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func TestClientServerRoundTrip(t *testing.T) {
	_, ts := newTestServer(t)
	ctx := context.Background()
	c := mcp.NewClient(ts.URL, ts.Client(), http.Header{"Authorization": {"Bearer x"}})

	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if init.ProtocolVersion != mcp.LatestProtocolVersion || init.ServerInfo.Name != "test-server" || init.Capabilities.Resources == nil {
		t.Fatalf("initialize = %+v", init)
	}
	if c.ProtocolVersion() != mcp.LatestProtocolVersion {
		t.Fatalf("negotiated %q", c.ProtocolVersion())
	}

	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 2 || tools[0].Name != "echo" || tools[1].Name != "fail" || string(tools[1].InputSchema) != `{"type":"object"}` {
		t.Fatalf("tools = %+v", tools)
	}

	res, err := c.CallTool(ctx, "echo", map[string]string{"msg": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || res.Text() != "hi" || res.Content[1].URI != "x://1" || res.StructuredContent["len"] != float64(2) || res.Meta["k"] != "v" {
		t.Fatalf("echo = %+v", res)
	}

	res, err = c.CallTool(ctx, "fail", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || res.Text() != "it broke" {
		t.Fatalf("fail = %+v", res)
	}

	_, err = c.CallTool(ctx, "echo", json.RawMessage(`{"msg":3}`))
	var rpcErr *mcp.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeInvalidParams {
		t.Fatalf("bad args err = %v", err)
	}
	_, err = c.CallTool(ctx, "nope", nil)
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeInvalidParams {
		t.Fatalf("unknown tool err = %v", err)
	}

	text, err := c.ReadResource(ctx, "x://text")
	if err != nil || len(text.Contents) != 1 || text.Contents[0].IsBlob || text.Contents[0].MimeType != "text/plain" {
		t.Fatalf("read text = %+v, %v", text, err)
	}
	bin, err := c.ReadResource(ctx, "x://bin")
	if err != nil || !bin.Contents[0].IsBlob || bin.Contents[0].Blob != "AAEC" {
		t.Fatalf("read bin = %+v, %v", bin, err)
	}
	_, err = c.ReadResource(ctx, "x://missing")
	if !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeInvalidParams {
		t.Fatalf("read missing err = %v", err)
	}
}

func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerWire(t *testing.T) {
	_, ts := newTestServer(t)
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"initialized notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil, 202, ""},
		{"old version echoed", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`, nil, 200,
			`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26","capabilities":{"tools":{"listChanged":false},"resources":{"listChanged":false}},"serverInfo":{"name":"test-server","version":"1"}}}`},
		{"unknown version answered with latest", `{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"1999-01-01"}}`, nil, 200,
			`{"jsonrpc":"2.0","id":"a","result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":false},"resources":{"listChanged":false}},"serverInfo":{"name":"test-server","version":"1"}}}`},
		{"ping", `{"jsonrpc":"2.0","id":7,"method":"ping"}`, nil, 200, `{"jsonrpc":"2.0","id":7,"result":{}}`},
		{"resources/list empty", `{"jsonrpc":"2.0","id":2,"method":"resources/list"}`, nil, 200, `{"jsonrpc":"2.0","id":2,"result":{"resources":[]}}`},
		{"unknown method", `{"jsonrpc":"2.0","id":3,"method":"nope"}`, nil, 200, `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found: nope"}}`},
		{"parse error", `{`, nil, 400, ""},
		{"missing jsonrpc", `{"id":4,"method":"ping"}`, nil, 200, ""},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, nil, 200, ""},
		{"empty batch", `[]`, nil, 400, ""},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},3]`, nil, 200,
			`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: json: cannot unmarshal number into Go value of type mcp.Request"}}]`},
		{"notification batch", `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`, nil, 202, ""},
		{"bad protocol header", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Mcp-Protocol-Version": "2024-01-01"}, 400, ""},
		{"too large", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 2000) + `"}}`, nil, 413,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Request body too large","data":{"limit":1024,"reason":"PAYLOAD_TOO_LARGE"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, ts.URL, tt.body, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantBody != "" && strings.TrimSpace(body) != tt.wantBody {
				t.Fatalf("body =\n%s\nwant\n%s", body, tt.wantBody)
			}
			if status != 202 && tt.wantBody == "" {
				var resp mcp.Response
				if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Error == nil {
					t.Fatalf("want a JSON-RPC error, got %s", body)
				}
			}
		})
	}
}

func TestServerRejectsGet(t *testing.T) {
	_, ts := newTestServer(t)
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET = %d allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestClientHTTPError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusUnauthorized)
	}))
	defer ts.Close()
	_, err := mcp.NewClient(ts.URL, nil, nil).Initialize(context.Background())
	var httpErr *mcp.HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != 401 {
		t.Fatalf("err = %v", err)
	}
}

func ExampleClient() {
	s := mcp.NewServer(mcp.Implementation{Name: "demo", Version: "1"})
	s.AddTool(mcp.Tool{Name: "hello"}, func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("hello, world")}}, nil
	})
	ts := httptest.NewServer(s)
	defer ts.Close()

	c := mcp.NewClient(ts.URL, nil, nil)
	ctx := context.Background()
	if _, err := c.Initialize(ctx); err != nil {
		panic(err)
	}
	res, err := c.CallTool(ctx, "hello", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Text())
	// Output: hello, world
}
