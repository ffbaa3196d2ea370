package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// maxResponseBytes caps what the client reads from one answer (a resources/read of a large blob included).
const maxResponseBytes = 512 << 20

// HTTPError is returned by Client methods when the server answers with a non-2xx status and no JSON-RPC error.
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("mcp: http status %d: %s", e.StatusCode, e.Body)
}

// Client calls a stateless MCP server over HTTP. Create it with NewClient; it is safe for concurrent use.
type Client struct {
	url        string
	httpClient *http.Client
	header     http.Header
	info       Implementation
	nextID     atomic.Int64

	mu      sync.Mutex
	version string
}

// NewClient returns a client for the MCP endpoint url. httpClient nil means http.DefaultClient; header is added to
// every request (for instance Authorization or X-Sidecar-Token) and may be nil.
func NewClient(url string, httpClient *http.Client, header http.Header) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{url: url, httpClient: httpClient, header: header.Clone(),
		info: Implementation{Name: "appstrate-runner", Version: "1"}}
}

// SetClientInfo changes the clientInfo sent by Initialize.
func (c *Client) SetClientInfo(info Implementation) { c.info = info }

// ProtocolVersion returns the version negotiated by Initialize ("" before it).
func (c *Client) ProtocolVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Initialize performs the handshake (initialize, then notifications/initialized) and remembers the negotiated
// protocol version, which later requests carry in the Mcp-Protocol-Version header.
func (c *Client) Initialize(ctx context.Context) (*InitializeResult, error) {
	params := InitializeParams{ProtocolVersion: LatestProtocolVersion, Capabilities: map[string]any{}, ClientInfo: c.info}
	var res InitializeResult
	if err := c.Call(ctx, "initialize", params, &res); err != nil {
		return nil, err
	}
	if !SupportedProtocolVersion(res.ProtocolVersion) {
		return nil, fmt.Errorf("mcp: server chose unsupported protocol version %q", res.ProtocolVersion)
	}
	c.mu.Lock()
	c.version = res.ProtocolVersion
	c.mu.Unlock()
	if err := c.Notify(ctx, "notifications/initialized", nil); err != nil {
		return nil, err
	}
	return &res, nil
}

// ListTools returns every tool, following nextCursor pages.
func (c *Client) ListTools(ctx context.Context) ([]Tool, error) {
	var tools []Tool
	cursor := ""
	for page := 0; page < 1000; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		var res ListToolsResult
		if err := c.Call(ctx, "tools/list", params, &res); err != nil {
			return nil, err
		}
		tools = append(tools, res.Tools...)
		if res.NextCursor == "" {
			return tools, nil
		}
		cursor = res.NextCursor
	}
	return nil, errors.New("mcp: tools/list: too many pages")
}

// CallTool calls a tool. args is encoded as the "arguments" object (a json.RawMessage is sent verbatim; nil sends
// {}). A tool-level failure is a result with IsError set, not an error.
func (c *Client) CallTool(ctx context.Context, name string, args any) (*CallToolResult, error) {
	if args == nil {
		args = json.RawMessage("{}")
	}
	var res CallToolResult
	if err := c.Call(ctx, "tools/call", map[string]any{"name": name, "arguments": args}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ReadResource reads a resource (for instance a resource_link returned by a tool).
func (c *Client) ReadResource(ctx context.Context, uri string) (*ReadResourceResult, error) {
	var res ReadResourceResult
	if err := c.Call(ctx, "resources/read", ReadResourceParams{URI: uri}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Call sends one request and decodes its result into result (which may be nil). A JSON-RPC error is returned as
// *Error, a non-2xx answer without one as *HTTPError.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	id := c.nextID.Add(1)
	req := Request{JSONRPC: "2.0", ID: json.RawMessage(strconv.FormatInt(id, 10)), Method: method}
	if err := setParams(&req, params); err != nil {
		return fmt.Errorf("mcp: %s: %w", method, err)
	}
	status, body, err := c.post(ctx, req)
	if err != nil {
		return fmt.Errorf("mcp: %s: %w", method, err)
	}
	var resp Response
	if err := json.Unmarshal(body, &resp); err != nil || (resp.Error == nil && resp.Result == nil) {
		if status/100 != 2 {
			return &HTTPError{StatusCode: status, Body: truncate(string(body), 512)}
		}
		return fmt.Errorf("mcp: %s: malformed response (status %d): %s", method, status, truncate(string(body), 200))
	}
	if resp.Error != nil {
		return resp.Error
	}
	if string(resp.ID) != string(req.ID) {
		return fmt.Errorf("mcp: %s: response id %s does not match request id %s", method, resp.ID, req.ID)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("mcp: %s: decode result: %w", method, err)
	}
	return nil
}

// Notify sends a notification (no id, no answer expected beyond a 2xx status).
func (c *Client) Notify(ctx context.Context, method string, params any) error {
	req := Request{JSONRPC: "2.0", Method: method}
	if err := setParams(&req, params); err != nil {
		return fmt.Errorf("mcp: %s: %w", method, err)
	}
	status, body, err := c.post(ctx, req)
	if err != nil {
		return fmt.Errorf("mcp: %s: %w", method, err)
	}
	if status/100 != 2 {
		return &HTTPError{StatusCode: status, Body: truncate(string(body), 512)}
	}
	return nil
}

func setParams(req *Request, params any) error {
	if params == nil {
		return nil
	}
	if raw, ok := params.(json.RawMessage); ok {
		req.Params = raw
		return nil
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encode params: %w", err)
	}
	req.Params = raw
	return nil
}

func (c *Client) post(ctx context.Context, msg Request) (int, []byte, error) {
	payload, err := json.Marshal(msg)
	if err != nil {
		return 0, nil, fmt.Errorf("encode request: %w", err)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range c.header {
		for _, v := range vs {
			httpReq.Header.Add(k, v)
		}
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Accept", "application/json, text/event-stream")
	if v := c.ProtocolVersion(); v != "" {
		httpReq.Header.Set(HeaderProtocolVersion, v)
	}
	resp, err := c.httpClient.Do(httpReq)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read response: %w", err)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		return resp.StatusCode, nil, errors.New("server answered with an SSE stream; this client expects JSON responses")
	}
	return resp.StatusCode, body, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
