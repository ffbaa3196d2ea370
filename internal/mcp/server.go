package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
)

// DefaultMaxRequestBytes caps a request body when Server.MaxRequestBytes is zero.
const DefaultMaxRequestBytes = 16 << 20

// ToolHandler runs one tools/call. args is the raw "arguments" member ("{}" when absent). A returned *Error becomes
// the JSON-RPC error of the response; any other error becomes an IsError tool result carrying its message, which is
// what the model should see for a failed tool execution.
type ToolHandler func(ctx context.Context, args json.RawMessage) (*CallToolResult, error)

// ResourceReader answers resources/read. Return an *Error (for instance CodeInvalidParams for an unknown URI) to
// choose the JSON-RPC error; other errors become CodeInternalError.
type ResourceReader func(ctx context.Context, uri string) (*ReadResourceResult, error)

// Server is a stateless MCP server over HTTP. Configure it (AddTool, SetResourceReader, the exported fields) before
// serving; it is then safe for concurrent use.
type Server struct {
	// Info is returned as serverInfo by initialize.
	Info Implementation
	// Instructions is returned by initialize when non-empty.
	Instructions string
	// MaxRequestBytes caps a request body; larger bodies get HTTP 413 with a CodeInvalidRequest error whose data is
	// {"reason":"PAYLOAD_TOO_LARGE","limit":N}. Zero means DefaultMaxRequestBytes.
	MaxRequestBytes int64

	mu       sync.RWMutex
	tools    map[string]registeredTool
	readResc ResourceReader
}

type registeredTool struct {
	tool    Tool
	handler ToolHandler
}

// NewServer returns a server that introduces itself as info.
func NewServer(info Implementation) *Server {
	return &Server{Info: info, tools: map[string]registeredTool{}}
}

// AddTool registers (or replaces) a tool. An empty InputSchema is advertised as {"type":"object"}.
func (s *Server) AddTool(tool Tool, handler ToolHandler) {
	if len(tool.InputSchema) == 0 {
		tool.InputSchema = json.RawMessage(`{"type":"object"}`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tools == nil {
		s.tools = map[string]registeredTool{}
	}
	s.tools[tool.Name] = registeredTool{tool: tool, handler: handler}
}

// SetResourceReader installs the resources/read callback. Without one, resources/read answers CodeMethodNotFound.
func (s *Server) SetResourceReader(reader ResourceReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readResc = reader
}

// ServeHTTP accepts POSTed JSON-RPC messages (single or batch). A body of notifications only is answered 202 with
// no body; otherwise 200 application/json. GET and DELETE get 405: this server opens no SSE stream and keeps no
// session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeHTTPError(w, http.StatusMethodNotAllowed, NewError(CodeInvalidRequest, "Method not allowed: this server accepts POST only"))
		return
	}
	if v := r.Header.Get(HeaderProtocolVersion); v != "" && !SupportedProtocolVersion(v) {
		writeHTTPError(w, http.StatusBadRequest, NewError(CodeInvalidRequest, "Unsupported protocol version: "+v))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		var tooLarge *Error
		if errors.As(err, &tooLarge) {
			writeHTTPError(w, http.StatusRequestEntityTooLarge, tooLarge)
			return
		}
		writeHTTPError(w, http.StatusBadRequest, NewError(CodeParseError, "Parse error: "+err.Error()))
		return
	}
	out, status := s.HandleMessage(r.Context(), body)
	if out == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.MaxRequestBytes
	if limit <= 0 {
		limit = DefaultMaxRequestBytes
	}
	if r.ContentLength > limit {
		return nil, payloadTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, payloadTooLarge(limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return body, nil
}

func payloadTooLarge(limit int64) *Error {
	return &Error{Code: CodeInvalidRequest, Message: "Request body too large",
		Data: map[string]any{"reason": "PAYLOAD_TOO_LARGE", "limit": limit}}
}

func writeHTTPError(w http.ResponseWriter, status int, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: e})
}

// HandleMessage processes one HTTP body (a JSON-RPC message or a batch) and returns the encoded answer and the
// HTTP status to send it with; nil when the body held only notifications. It is the transport-free core of
// ServeHTTP.
func (s *Server) HandleMessage(ctx context.Context, body []byte) ([]byte, int) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return s.handleBatch(ctx, trimmed)
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return mustMarshal(errorResponse(nil, NewError(CodeParseError, "Parse error: "+err.Error()))), http.StatusBadRequest
	}
	resp := s.Handle(ctx, &req)
	if resp == nil {
		return nil, http.StatusAccepted
	}
	return mustMarshal(resp), http.StatusOK
}

func (s *Server) handleBatch(ctx context.Context, body []byte) ([]byte, int) {
	var batch []json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		return mustMarshal(errorResponse(nil, NewError(CodeParseError, "Parse error: "+err.Error()))), http.StatusBadRequest
	}
	if len(batch) == 0 {
		return mustMarshal(errorResponse(nil, NewError(CodeInvalidRequest, "Invalid Request: empty batch"))), http.StatusBadRequest
	}
	var out []*Response
	for _, raw := range batch {
		var req Request
		if err := json.Unmarshal(raw, &req); err != nil {
			out = append(out, errorResponse(nil, NewError(CodeInvalidRequest, "Invalid Request: "+err.Error())))
			continue
		}
		if resp := s.Handle(ctx, &req); resp != nil {
			out = append(out, resp)
		}
	}
	if len(out) == 0 {
		return nil, http.StatusAccepted
	}
	return mustMarshal(out), http.StatusOK
}

// Handle dispatches one decoded request. It returns nil for notifications.
func (s *Server) Handle(ctx context.Context, req *Request) *Response {
	if req.JSONRPC != "2.0" || req.Method == "" || !validID(req.ID) {
		if req.IsNotification() {
			return nil
		}
		id := req.ID
		if !validID(id) {
			id = nil
		}
		return errorResponse(id, NewError(CodeInvalidRequest, `Invalid Request: need jsonrpc "2.0", a method and a string or number id`))
	}
	if req.IsNotification() {
		return nil // notifications/initialized, notifications/cancelled…: nothing to do in a stateless server
	}
	result, err := s.dispatch(ctx, req)
	if err != nil {
		return errorResponse(req.ID, asRPCError(err))
	}
	raw, mErr := json.Marshal(result)
	if mErr != nil {
		return errorResponse(req.ID, NewError(CodeInternalError, "encode result: "+mErr.Error()))
	}
	return &Response{JSONRPC: "2.0", ID: req.ID, Result: raw}
}

func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true
	}
	switch id[0] {
	case '"':
		var s string
		return json.Unmarshal(id, &s) == nil
	case 'n': // null is tolerated for error replies only; a request with id null is treated as invalid
		return false
	default:
		var n json.Number
		return json.Unmarshal(id, &n) == nil
	}
}

func (s *Server) dispatch(ctx context.Context, req *Request) (any, error) {
	switch req.Method {
	case "initialize":
		return s.initialize(req.Params)
	case "ping":
		return struct{}{}, nil
	case "tools/list":
		return s.listTools(), nil
	case "tools/call":
		return s.callTool(ctx, req.Params)
	case "resources/list":
		return ListResourcesResult{Resources: []Resource{}}, nil
	case "resources/templates/list":
		return map[string]any{"resourceTemplates": []any{}}, nil
	case "resources/read":
		return s.readResource(ctx, req.Params)
	default:
		return nil, NewError(CodeMethodNotFound, "Method not found: "+req.Method)
	}
}

func (s *Server) initialize(params json.RawMessage) (any, error) {
	var p InitializeParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	version := LatestProtocolVersion
	if SupportedProtocolVersion(p.ProtocolVersion) {
		version = p.ProtocolVersion
	}
	caps := ServerCapabilities{Tools: &ListChangedCapability{}}
	s.mu.RLock()
	if s.readResc != nil {
		caps.Resources = &ListChangedCapability{}
	}
	s.mu.RUnlock()
	return InitializeResult{ProtocolVersion: version, Capabilities: caps, ServerInfo: s.Info, Instructions: s.Instructions}, nil
}

func (s *Server) listTools() ListToolsResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tools := make([]Tool, 0, len(s.tools))
	for _, t := range s.tools {
		tools = append(tools, t.tool)
	}
	sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
	return ListToolsResult{Tools: tools}
}

func (s *Server) callTool(ctx context.Context, params json.RawMessage) (any, error) {
	var p CallToolParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	s.mu.RLock()
	t, ok := s.tools[p.Name]
	s.mu.RUnlock()
	if !ok {
		return nil, NewError(CodeInvalidParams, "Unknown tool: "+p.Name)
	}
	args := p.Arguments
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	res, err := t.handler(ctx, args)
	if err != nil {
		var rpcErr *Error
		if errors.As(err, &rpcErr) {
			return nil, rpcErr
		}
		return ErrorResult(err.Error()), nil
	}
	if res == nil {
		res = &CallToolResult{}
	}
	if res.Content == nil {
		res.Content = []Content{}
	}
	return res, nil
}

func (s *Server) readResource(ctx context.Context, params json.RawMessage) (any, error) {
	s.mu.RLock()
	reader := s.readResc
	s.mu.RUnlock()
	if reader == nil {
		return nil, NewError(CodeMethodNotFound, "Method not found: resources/read")
	}
	var p ReadResourceParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.URI == "" {
		return nil, NewError(CodeInvalidParams, "Invalid params: uri is required")
	}
	res, err := reader(ctx, p.URI)
	if err != nil {
		return nil, err
	}
	if res.Contents == nil {
		res.Contents = []ResourceContents{}
	}
	return res, nil
}

func decodeParams(params json.RawMessage, into any) error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	if err := json.Unmarshal(params, into); err != nil {
		return NewError(CodeInvalidParams, "Invalid params: "+err.Error())
	}
	return nil
}

func asRPCError(err error) *Error {
	var rpcErr *Error
	if errors.As(err, &rpcErr) {
		return rpcErr
	}
	return NewError(CodeInternalError, err.Error())
}

func errorResponse(id json.RawMessage, e *Error) *Response {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	return &Response{JSONRPC: "2.0", ID: id, Error: e}
}

func mustMarshal(v any) []byte {
	out, err := json.Marshal(v)
	if err != nil { // only reachable with an unencodable Error.Data; answer a fixed internal error instead
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"encode response failed"}}`)
	}
	return out
}
