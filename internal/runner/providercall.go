package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/mcp"
)

// Limits of provider_call on the runner's side (RUNTIME.md §4.4).
const (
	// DefaultMaxInlineBytes: a larger text response is saved to responses/<toolCallId>.bin.
	DefaultMaxInlineBytes = 256 << 10
	// MaxInlineBytesCap caps responseMode.maxInlineBytes.
	MaxInlineBytesCap = 1 << 20
	// maxRequestFileBytes caps a file sent with fromFile (the sidecar's cap of a decoded request body).
	maxRequestFileBytes = 10 << 20
	// ResponsesDir is the workspace folder of saved response bodies.
	ResponsesDir = "responses"
)

// metaUpstream is the key of the upstream answer in the sidecar's tool result meta.
const metaUpstream = "appstrate/upstream"

// truncatedNote is what the sidecar appends to a text body it cut.
var truncatedNote = regexp.MustCompile(`\n\[truncated: response exceeded \d+ bytes\]$`)

// providerCallSchema is provider_call's argument schema on the runner's side; providerId gets the enum of the
// connected providers.
const providerCallSchema = `{
  "type": "object",
  "properties": {
    "providerId": {"type": "string", "description": "Provider id, e.g. @appstrate/gmail"},
    "target": {"type": "string", "description": "Absolute URL of the provider API endpoint; {{field}} placeholders are replaced with the connection's credential fields"},
    "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], "default": "GET"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Request headers; the credential header is added for you"},
    "body": {
      "description": "Request body: a string, a workspace file, base64 bytes, or multipart/form-data parts",
      "anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {"fromFile": {"type": "string", "description": "Path of a workspace file sent as the body"}}, "required": ["fromFile"], "additionalProperties": false},
        {"type": "object", "properties": {"fromBytes": {"type": "string", "description": "standard base64"}, "encoding": {"type": "string", "const": "base64"}}, "required": ["fromBytes", "encoding"], "additionalProperties": false},
        {"type": "object", "properties": {"multipart": {"type": "array", "maxItems": 256, "items": {"anyOf": [
          {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}, "required": ["name", "value"], "additionalProperties": false},
          {"type": "object", "properties": {"name": {"type": "string"}, "fromFile": {"type": "string", "description": "Path of a workspace file"}, "filename": {"type": "string"}, "contentType": {"type": "string"}}, "required": ["name", "fromFile"], "additionalProperties": false},
          {"type": "object", "properties": {"name": {"type": "string"}, "fromBytes": {"type": "string", "description": "standard base64"}, "encoding": {"type": "string", "const": "base64"}, "filename": {"type": "string"}, "contentType": {"type": "string"}}, "required": ["name", "fromBytes", "encoding"], "additionalProperties": false}
        ]}}}, "required": ["multipart"], "additionalProperties": false}
      ]
    },
    "responseMode": {
      "type": "object",
      "properties": {
        "toFile": {"type": "boolean", "description": "Save the response body to responses/<toolCallId>.bin in the workspace instead of returning it"},
        "maxInlineBytes": {"type": "integer", "minimum": 0, "maximum": 1048576, "description": "A larger response body is saved to a file (default 262144)"}
      },
      "additionalProperties": false
    },
    "substituteBody": {"type": "boolean", "description": "Replace {{field}} placeholders in a text body or multipart field values too"}
  },
  "required": ["providerId", "target"],
  "additionalProperties": false
}`

const providerCallDescription = "Call the API of a connected provider through the platform, which adds the credentials. " +
	"The result is JSON {status, headers, body}: body is {kind:\"text\", text} for a text response, or " +
	"{kind:\"file\", path, size, mimeType, sha256} when the response is large or binary (or responseMode.toFile is " +
	"set): it is saved in the workspace at path. Send a workspace file with body {fromFile: path}."

// providerCallTool is provider_call for the model.
func (s *Sidecar) providerCallTool(ws *Workspace) Tool {
	return Tool{
		Name:        ToolProviderCall,
		Description: providerCallDescription,
		Schema:      restrictProviderIDs(json.RawMessage(providerCallSchema), s.providers),
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var args map[string]json.RawMessage
			if err := decodeArgs(raw, &args); err != nil {
				return "", err
			}
			res, err := s.providerCall(ctx, ws, args)
			if err != nil {
				return "", err
			}
			text, err := marshalCompact(res)
			if err != nil {
				return "", err
			}
			if res.failed {
				return "", &ToolError{Message: text}
			}
			return text, nil
		},
	}
}

// providerResult is what provider_call answers (RUNTIME.md §4.4).
type providerResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"` // textBody, inlineBody or fileBody
	failed  bool              // status ≥ 400, or the sidecar refused the call
}

type textBody struct {
	Kind      string `json:"kind"` // "text"
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

type inlineBody struct {
	Kind     string `json:"kind"` // "inline"
	Data     string `json:"data"`
	Encoding string `json:"encoding"` // "base64"
	MimeType string `json:"mimeType"`
	Size     int    `json:"size"`
}

type fileBody struct {
	Kind     string `json:"kind"` // "file"
	Path     string `json:"path"`
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	SHA256   string `json:"sha256"`
}

// responseMode is provider_call's responseMode.
type responseMode struct {
	ToFile         bool `json:"toFile"`
	MaxInlineBytes *int `json:"maxInlineBytes"`
}

// providerCall runs one provider call: the runner-side arguments translated for the sidecar, the sidecar's
// answer (its resource link read) shaped into a providerResult, bodies saved under responses/ as needed. The
// error is a *ToolError for arguments the model can fix, else a failure to reach the sidecar.
func (s *Sidecar) providerCall(ctx context.Context, ws *Workspace, args map[string]json.RawMessage) (*providerResult, error) {
	mode, err := takeResponseMode(args)
	if err != nil {
		return nil, err
	}
	if raw, ok := args["body"]; ok {
		body, err := sidecarBody(ws, raw)
		if err != nil {
			return nil, err
		}
		args["body"] = body
	}
	res, err := s.client.CallTool(ctx, ToolProviderCall, args)
	if err != nil {
		return nil, fmt.Errorf("%s failed: %v", ToolProviderCall, err)
	}
	return s.shapeResult(ctx, ws, res, mode)
}

// takeResponseMode removes responseMode from args and checks it.
func takeResponseMode(args map[string]json.RawMessage) (responseMode, error) {
	raw, ok := args["responseMode"]
	delete(args, "responseMode")
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return responseMode{}, nil
	}
	var mode responseMode
	if err := strictDecode(raw, &mode); err != nil {
		return responseMode{}, toolErrorf(`Invalid arguments: "responseMode" must be {"toFile"?: boolean, "maxInlineBytes"?: integer}: %v`, err)
	}
	if m := mode.MaxInlineBytes; m != nil {
		if *m < 0 {
			return responseMode{}, toolErrorf(`Invalid arguments: "responseMode.maxInlineBytes" must not be negative`)
		}
		*m = min(*m, MaxInlineBytesCap)
	}
	return mode, nil
}

// sidecarBody translates a runner-side body: {fromFile} becomes {fromBytes, encoding}; in multipart, parts with
// fromFile or fromBytes become the sidecar's {name, filename, bytes, encoding, contentType?}. Other bodies pass
// as they are (the sidecar validates them).
func sidecarBody(ws *Workspace, raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return raw, nil
	}
	if file, ok := obj["fromFile"]; ok {
		if len(obj) != 1 {
			return nil, toolErrorf(`Invalid arguments: a {"fromFile"} body takes no other member`)
		}
		data, err := readRequestFile(ws, file, "body.fromFile")
		if err != nil {
			return nil, err
		}
		return marshalRaw(map[string]string{"fromBytes": base64.StdEncoding.EncodeToString(data), "encoding": "base64"})
	}
	parts, ok := obj["multipart"]
	if !ok {
		return raw, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(parts, &list) != nil {
		return raw, nil
	}
	for i, p := range list {
		translated, err := sidecarPart(ws, p, i)
		if err != nil {
			return nil, err
		}
		list[i] = translated
	}
	out, err := marshalRaw(list)
	if err != nil {
		return nil, err
	}
	obj["multipart"] = out
	return marshalRaw(obj)
}

// sidecarPart translates one multipart part (see sidecarBody).
func sidecarPart(ws *Workspace, raw json.RawMessage, i int) (json.RawMessage, error) {
	var part map[string]json.RawMessage
	if json.Unmarshal(raw, &part) != nil || part == nil {
		return raw, nil
	}
	file, hasFile := part["fromFile"]
	data, hasBytes := part["fromBytes"]
	if !hasFile && !hasBytes {
		return raw, nil
	}
	at := fmt.Sprintf("body.multipart[%d]", i)
	if hasFile && hasBytes {
		return nil, toolErrorf(`Invalid arguments: %s has both "fromFile" and "fromBytes"`, at)
	}
	var name, filename, contentType string
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &name}, {"filename", &filename}, {"contentType", &contentType}} {
		if v, ok := part[f.key]; ok && json.Unmarshal(v, f.dst) != nil {
			return nil, toolErrorf(`Invalid arguments: %s.%s must be a string`, at, f.key)
		}
	}
	for key := range part {
		if !slices.Contains([]string{"name", "filename", "contentType", "fromFile", "fromBytes", "encoding"}, key) {
			return nil, toolErrorf(`Invalid arguments: %s has an unknown member %q`, at, key)
		}
	}
	out := map[string]string{"name": name, "encoding": "base64"}
	if hasFile {
		content, err := readRequestFile(ws, file, at+".fromFile")
		if err != nil {
			return nil, err
		}
		var p string
		_ = json.Unmarshal(file, &p)
		out["bytes"] = base64.StdEncoding.EncodeToString(content)
		if filename == "" {
			filename = path.Base(strings.ReplaceAll(p, "\\", "/"))
		}
	} else {
		var encoding string
		if v, ok := part["encoding"]; !ok || json.Unmarshal(v, &encoding) != nil || encoding != "base64" {
			return nil, toolErrorf(`Invalid arguments: %s needs "encoding": "base64" with "fromBytes"`, at)
		}
		var b64 string
		if json.Unmarshal(data, &b64) != nil {
			return nil, toolErrorf(`Invalid arguments: %s.fromBytes must be a base64 string`, at)
		}
		out["bytes"] = b64
		if filename == "" {
			filename = name
		}
	}
	out["filename"] = filename
	if contentType != "" {
		out["contentType"] = contentType
	}
	return marshalRaw(out)
}

// readRequestFile reads the workspace file named by the JSON string raw, at most maxRequestFileBytes.
func readRequestFile(ws *Workspace, raw json.RawMessage, field string) ([]byte, error) {
	var p string
	if json.Unmarshal(raw, &p) != nil || strings.TrimSpace(p) == "" {
		return nil, toolErrorf(`Invalid arguments: %s must be the path of a workspace file`, field)
	}
	rel, err := ws.rel(p)
	if err != nil {
		return nil, &ToolError{Message: field + ": " + err.Error()}
	}
	f, err := ws.root.Open(rel)
	if err != nil {
		return nil, &ToolError{Message: field + ": " + fsError(p, err).Error()}
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, toolErrorf("%s: %s is not a regular file", field, p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRequestFileBytes+1))
	if err != nil {
		return nil, &ToolError{Message: field + ": " + fsError(p, err).Error()}
	}
	if len(data) > maxRequestFileBytes {
		return nil, toolErrorf("%s: %s is larger than %d bytes", field, p, maxRequestFileBytes)
	}
	return data, nil
}

// upstreamMeta is the sidecar's "appstrate/upstream" meta.
type upstreamMeta struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
}

func upstreamOf(meta map[string]any) upstreamMeta {
	var up upstreamMeta
	if raw, err := json.Marshal(meta[metaUpstream]); err == nil {
		_ = json.Unmarshal(raw, &up)
	}
	if up.Headers == nil {
		up.Headers = map[string]string{}
	}
	return up
}

// shapeResult turns the sidecar's answer into a providerResult: a resource link is read and its body saved to
// a file (inlined only within an explicit responseMode.maxInlineBytes); inline text is returned as text unless
// responseMode.toFile is set or it exceeds maxInlineBytes (default DefaultMaxInlineBytes). A failure the sidecar
// reports before reaching the provider (status 0) becomes status 502.
func (s *Sidecar) shapeResult(ctx context.Context, ws *Workspace, res *mcp.CallToolResult, mode responseMode) (*providerResult, error) {
	up := upstreamOf(res.Meta)
	out := &providerResult{Status: up.Status, Headers: up.Headers, failed: res.IsError || up.Status >= 400}
	if res.IsError && up.Status == 0 {
		out.Status = 502
		out.Body = textBody{Kind: "text", Text: res.Text()}
		return out, nil
	}
	maxInline := DefaultMaxInlineBytes
	if mode.MaxInlineBytes != nil {
		maxInline = *mode.MaxInlineBytes
	}
	if link := resourceLink(res.Content); link != nil {
		data, mimeType, err := s.readResource(ctx, link)
		if err != nil {
			return nil, &ToolError{Message: fmt.Sprintf("provider_call: the response (HTTP %d) is stored at %s but could not be read: %v", up.Status, link.URI, err)}
		}
		if mode.MaxInlineBytes == nil || mode.ToFile || len(data) > maxInline {
			return out, out.saveBody(ctx, ws, data, mimeType)
		}
		out.Body = inlineOrText(data, mimeType)
		return out, nil
	}
	text := res.Text()
	truncated := truncatedNote.MatchString(text)
	if truncated {
		text = truncatedNote.ReplaceAllString(text, "")
	}
	if mode.ToFile || len(text) > maxInline {
		return out, out.saveBody(ctx, ws, []byte(text), contentType(up.Headers, "text/plain"))
	}
	out.Body = textBody{Kind: "text", Text: text, Truncated: truncated}
	return out, nil
}

func (out *providerResult) saveBody(ctx context.Context, ws *Workspace, data []byte, mimeType string) error {
	rel, err := ws.saveResponse(ToolCallID(ctx), data)
	if err != nil {
		return &ToolError{Message: fmt.Sprintf("provider_call: the response (HTTP %d, %d bytes) could not be saved in the workspace: %v", out.Status, len(data), err)}
	}
	sum := sha256.Sum256(data)
	out.Body = fileBody{Kind: "file", Path: rel, Size: len(data), MimeType: mimeType, SHA256: hex.EncodeToString(sum[:])}
	return nil
}

// inlineOrText is a text body for text (a text-like type, or no type and valid UTF-8), else base64 bytes.
func inlineOrText(data []byte, mimeType string) any {
	if isTextType(mimeType) || mimeType == "" && utf8.Valid(data) {
		return textBody{Kind: "text", Text: strings.ToValidUTF8(string(data), "\uFFFD")}
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	return inlineBody{Kind: "inline", Data: base64.StdEncoding.EncodeToString(data), Encoding: "base64",
		MimeType: mimeType, Size: len(data)}
}

// isTextType: text/*, and types naming json or xml.
func isTextType(mimeType string) bool {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		mt = strings.ToLower(mimeType)
	}
	return strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") || strings.Contains(mt, "xml")
}

// contentType is the response's content-type header, else def.
func contentType(headers map[string]string, def string) string {
	if ct := strings.TrimSpace(headers["content-type"]); ct != "" {
		return ct
	}
	return def
}

func resourceLink(blocks []mcp.Content) *mcp.Content {
	for i := range blocks {
		if blocks[i].Type == mcp.ContentResourceLink && blocks[i].URI != "" {
			return &blocks[i]
		}
	}
	return nil
}

// readResource fetches a resource link with resources/read: its bytes and MIME type.
func (s *Sidecar) readResource(ctx context.Context, link *mcp.Content) ([]byte, string, error) {
	rr, err := s.client.ReadResource(ctx, link.URI)
	if err != nil {
		return nil, "", err
	}
	if len(rr.Contents) == 0 {
		return nil, "", errors.New("resources/read returned no contents")
	}
	c := rr.Contents[0]
	mimeType := c.MimeType
	if mimeType == "" {
		mimeType = link.MimeType
	}
	if !c.IsBlob {
		return []byte(c.Text), mimeType, nil
	}
	data, err := base64.StdEncoding.DecodeString(c.Blob)
	if err != nil {
		return nil, "", fmt.Errorf("resources/read returned invalid base64: %v", err)
	}
	return data, mimeType, nil
}

// saveResponse writes a response body to responses/<toolCallId>.bin ("-2", "-3"… when the call saved one
// already) and returns its workspace path.
func (w *Workspace) saveResponse(toolCallID string, data []byte) (string, error) {
	if err := w.root.MkdirAll(ResponsesDir, w.mkdir); err != nil {
		return "", fsError(ResponsesDir, err)
	}
	base := ResponsesDir + "/" + fileNameOf(toolCallID)
	for n := 1; n <= 1000; n++ {
		rel := base + ".bin"
		if n > 1 {
			rel = base + "-" + strconv.Itoa(n) + ".bin"
		}
		f, err := w.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fsError(rel, err)
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = w.root.Remove(rel)
			return "", fsError(rel, werr)
		}
		return rel, nil
	}
	return "", fmt.Errorf("too many responses saved for tool call %q", toolCallID)
}

// fileNameOf keeps the letters, digits, "-" and "_" of a tool call id (at most 128), "call" when none is left.
func fileNameOf(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= 128 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "call"
	}
	return b.String()
}

// strictDecode decodes one JSON value into v, refusing unknown members.
func strictDecode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the value")
	}
	return nil
}

func marshalRaw(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode provider_call arguments: %w", err)
	}
	return b, nil
}

// marshalCompact encodes v without HTML escaping (the model reads it).
func marshalCompact(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
