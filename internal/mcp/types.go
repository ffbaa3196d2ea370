package mcp

import (
	"encoding/json"
	"fmt"
)

// Protocol versions this package speaks. Initialize echoes the client's version when it is one of these and
// answers LatestProtocolVersion otherwise, as the MCP lifecycle prescribes.
const (
	ProtocolVersion20250326 = "2025-03-26"
	ProtocolVersion20250618 = "2025-06-18"
	LatestProtocolVersion   = ProtocolVersion20250618
)

// SupportedProtocolVersion reports whether v is a protocol version this package speaks.
func SupportedProtocolVersion(v string) bool {
	return v == ProtocolVersion20250326 || v == ProtocolVersion20250618
}

// JSON-RPC 2.0 error codes (the standard ones plus MCP's resource-not-found).
const (
	CodeParseError       = -32700
	CodeInvalidRequest   = -32600
	CodeMethodNotFound   = -32601
	CodeInvalidParams    = -32602
	CodeInternalError    = -32603
	CodeServerError      = -32000
	CodeResourceNotFound = -32002
)

// HeaderProtocolVersion is the HTTP header carrying the negotiated protocol version on every request after
// initialize.
const HeaderProtocolVersion = "Mcp-Protocol-Version"

// Request is a JSON-RPC 2.0 request or, when ID is absent, a notification.
type Request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// IsNotification reports whether the request carries no id (no response is expected).
func (r *Request) IsNotification() bool { return len(r.ID) == 0 }

// Response is a JSON-RPC 2.0 response: exactly one of Result and Error is set.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Error is a JSON-RPC error object. It implements error so that tool handlers and resource readers can return
// one to make the server answer with that exact error, and so that Client methods return it as is.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("mcp: json-rpc error %d: %s", e.Code, e.Message) }

// NewError builds an *Error with the given code and message.
func NewError(code int, message string) *Error { return &Error{Code: code, Message: message} }

// Implementation names a client or server in the initialize handshake.
type Implementation struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// InitializeParams is the client's half of the handshake.
type InitializeParams struct {
	ProtocolVersion string         `json:"protocolVersion"`
	Capabilities    map[string]any `json:"capabilities"`
	ClientInfo      Implementation `json:"clientInfo"`
}

// ListChangedCapability is the shape of the tools and resources capabilities.
type ListChangedCapability struct {
	ListChanged bool `json:"listChanged"`
}

// ServerCapabilities lists what the server offers.
type ServerCapabilities struct {
	Tools     *ListChangedCapability `json:"tools,omitempty"`
	Resources *ListChangedCapability `json:"resources,omitempty"`
}

// InitializeResult is the server's half of the handshake.
type InitializeResult struct {
	ProtocolVersion string             `json:"protocolVersion"`
	Capabilities    ServerCapabilities `json:"capabilities"`
	ServerInfo      Implementation     `json:"serverInfo"`
	Instructions    string             `json:"instructions,omitempty"`
}

// Tool describes a callable tool. InputSchema is a JSON Schema object, kept raw so it reaches the model verbatim.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"inputSchema"`
}

// ListToolsResult is the answer to tools/list.
type ListToolsResult struct {
	Tools      []Tool `json:"tools"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// CallToolParams is the body of tools/call.
type CallToolParams struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// Content types of a tool result.
const (
	ContentText         = "text"
	ContentResourceLink = "resource_link"
)

// Content is one item of a tool result: a text block (Type "text", Text) or a link to a resource the client can
// fetch with resources/read (Type "resource_link", URI, Name, MimeType).
type Content struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	URI      string `json:"uri,omitempty"`
	Name     string `json:"name,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
}

// TextContent returns a text content block.
func TextContent(text string) Content { return Content{Type: ContentText, Text: text} }

// ResourceLinkContent returns a resource_link content block.
func ResourceLinkContent(uri, name, mimeType string) Content {
	return Content{Type: ContentResourceLink, URI: uri, Name: name, MimeType: mimeType}
}

// MarshalJSON always writes "text" for text blocks, even when empty, as the protocol requires it.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Type == ContentText {
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{c.Type, c.Text})
	}
	type plain Content
	return json.Marshal(plain(c))
}

// CallToolResult is the answer to tools/call. IsError marks a tool-level failure the model should see (as opposed
// to a protocol error, which is a JSON-RPC Error). Meta carries out-of-band data under namespaced keys.
type CallToolResult struct {
	Content           []Content      `json:"content"`
	StructuredContent map[string]any `json:"structuredContent,omitempty"`
	IsError           bool           `json:"isError,omitempty"`
	Meta              map[string]any `json:"_meta,omitempty"`
}

// ErrorResult returns a CallToolResult with IsError set and one text block.
func ErrorResult(text string) *CallToolResult {
	return &CallToolResult{Content: []Content{TextContent(text)}, IsError: true}
}

// Text returns the concatenated text blocks of the result, one per line.
func (r *CallToolResult) Text() string {
	var out []byte
	for _, c := range r.Content {
		if c.Type != ContentText {
			continue
		}
		if len(out) > 0 {
			out = append(out, '\n')
		}
		out = append(out, c.Text...)
	}
	return string(out)
}

// Resource is one entry of resources/list.
type Resource struct {
	URI      string `json:"uri"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType,omitempty"`
}

// ListResourcesResult is the answer to resources/list.
type ListResourcesResult struct {
	Resources  []Resource `json:"resources"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// ReadResourceParams is the body of resources/read.
type ReadResourceParams struct {
	URI string `json:"uri"`
}

// ResourceContents is one item of a resources/read answer: text contents (Text) or binary contents (Blob, standard
// base64). IsBlob tells which one it is.
type ResourceContents struct {
	URI      string `json:"uri"`
	MimeType string `json:"mimeType,omitempty"`
	Text     string `json:"text,omitempty"`
	Blob     string `json:"blob,omitempty"`
	IsBlob   bool   `json:"-"`
}

// MarshalJSON writes "text" or "blob" (exactly one of them, even when empty).
func (c ResourceContents) MarshalJSON() ([]byte, error) {
	if c.IsBlob {
		return json.Marshal(struct {
			URI      string `json:"uri"`
			MimeType string `json:"mimeType,omitempty"`
			Blob     string `json:"blob"`
		}{c.URI, c.MimeType, c.Blob})
	}
	return json.Marshal(struct {
		URI      string `json:"uri"`
		MimeType string `json:"mimeType,omitempty"`
		Text     string `json:"text"`
	}{c.URI, c.MimeType, c.Text})
}

// UnmarshalJSON sets IsBlob when the object has a "blob" member.
func (c *ResourceContents) UnmarshalJSON(data []byte) error {
	var raw struct {
		URI      string  `json:"uri"`
		MimeType string  `json:"mimeType"`
		Text     string  `json:"text"`
		Blob     *string `json:"blob"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*c = ResourceContents{URI: raw.URI, MimeType: raw.MimeType, Text: raw.Text}
	if raw.Blob != nil {
		c.Blob, c.IsBlob = *raw.Blob, true
	}
	return nil
}

// ReadResourceResult is the answer to resources/read.
type ReadResourceResult struct {
	Contents []ResourceContents `json:"contents"`
}
