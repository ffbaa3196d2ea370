package sidecar

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// provider_call argument limits (RUNTIME.md §3.4).
const (
	maxMultipartParts       = 256
	maxMultipartName        = 256
	maxMultipartFilename    = 1024
	maxMultipartContentType = 256
)

var providerIDRE = regexp.MustCompile(`^(@[a-z0-9][a-z0-9-]*/)?[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// base64RE is the RFC 4648 §4 alphabet with padding only at the end; no whitespace, no URL-safe characters.
var base64RE = regexp.MustCompile(`^[A-Za-z0-9+/]*={0,2}$`)

var callMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true}

// reservedCallHeaders are the credential-proxy control headers a caller may not set (rejected, not stripped).
var reservedCallHeaders = map[string]bool{
	"x-provider": true, "x-target": true, "x-substitute-body": true, "x-stream-response": true,
	"x-max-response-size": true, "x-truncated": true, "x-truncated-size": true, "x-auth-refreshed": true,
}

// providerCallSchema is the provider_call input schema advertised to the model.
const providerCallSchema = `{
  "type": "object",
  "properties": {
    "providerId": {"type": "string", "pattern": "^(@[a-z0-9][a-z0-9-]*/)?[a-z0-9]([a-z0-9-]*[a-z0-9])?$", "description": "Provider id, e.g. @appstrate/gmail"},
    "target": {"type": "string", "format": "uri", "description": "Absolute URL of the provider API endpoint; {{field}} placeholders are replaced with the connection's credential fields"},
    "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], "default": "GET"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Request headers; the credential header is added for you"},
    "body": {
      "description": "Request body: a string, base64 bytes, or multipart/form-data parts",
      "anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {"fromBytes": {"type": "string", "description": "standard base64"}, "encoding": {"type": "string", "const": "base64"}}, "required": ["fromBytes", "encoding"], "additionalProperties": false},
        {"type": "object", "properties": {"multipart": {"type": "array", "maxItems": 256, "items": {"anyOf": [
          {"type": "object", "properties": {"name": {"type": "string", "maxLength": 256}, "value": {"type": "string"}}, "required": ["name", "value"], "additionalProperties": false},
          {"type": "object", "properties": {"name": {"type": "string", "maxLength": 256}, "filename": {"type": "string", "maxLength": 1024}, "bytes": {"type": "string", "description": "standard base64"}, "encoding": {"type": "string", "const": "base64"}, "contentType": {"type": "string", "maxLength": 256}}, "required": ["name", "filename", "bytes", "encoding"], "additionalProperties": false}
        ]}}}, "required": ["multipart"], "additionalProperties": false}
      ]
    },
    "substituteBody": {"type": "boolean", "description": "Replace {{field}} placeholders in a text body or multipart field values too"}
  },
  "required": ["providerId", "target"],
  "additionalProperties": false
}`

// callArgs are decoded and validated provider_call arguments.
type callArgs struct {
	ProviderID     string
	Target         string
	Method         string
	Headers        http.Header
	Body           *callBody // nil = no body
	SubstituteBody bool
}

// callBody is exactly one of a text body, raw bytes, or multipart parts.
type callBody struct {
	Text      *string
	Bytes     []byte
	IsBytes   bool
	Multipart []callPart
}

type callPart struct {
	Name        string
	Value       string // field parts
	IsFile      bool
	Filename    string
	Bytes       []byte
	ContentType string
}

// size is the decoded body size.
func (b *callBody) size() int64 {
	switch {
	case b.Text != nil:
		return int64(len(*b.Text))
	case b.IsBytes:
		return int64(len(b.Bytes))
	}
	var n int64
	for _, p := range b.Multipart {
		n += int64(len(p.Value) + len(p.Bytes))
	}
	return n
}

// argError is a pre-flight refusal of provider_call arguments, returned to the model as an isError result.
type argError struct {
	msg        string
	structured map[string]any
}

func (e *argError) Error() string { return e.msg }

func argErrorf(format string, a ...any) *argError { return &argError{msg: fmt.Sprintf(format, a...)} }

func tooLarge(limit, actual int64) *argError {
	return &argError{msg: fmt.Sprintf("Request body too large: %d bytes decoded, limit %d (SIDECAR_MAX_REQUEST_BODY_BYTES)", actual, limit),
		structured: map[string]any{"error": "PAYLOAD_TOO_LARGE", "limit": limit, "actual": actual}}
}

// strictUnmarshal decodes one JSON value, refusing unknown members and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeCallArgs decodes and validates provider_call arguments; maxBody caps the decoded body. Every refusal
// is an *argError.
func decodeCallArgs(raw json.RawMessage, maxBody int64) (*callArgs, error) {
	var in struct {
		ProviderID     *string           `json:"providerId"`
		Target         *string           `json:"target"`
		Method         *string           `json:"method"`
		Headers        map[string]string `json:"headers"`
		Body           json.RawMessage   `json:"body"`
		SubstituteBody *bool             `json:"substituteBody"`
	}
	if err := strictUnmarshal(raw, &in); err != nil {
		return nil, argErrorf("Invalid arguments: %s", jsonErrorText(err))
	}
	if in.ProviderID == nil || !providerIDRE.MatchString(*in.ProviderID) {
		return nil, argErrorf("Invalid arguments: providerId is required and must look like @scope/name")
	}
	if in.Target == nil || strings.TrimSpace(*in.Target) == "" {
		return nil, argErrorf("Invalid arguments: target is required (an absolute URL)")
	}
	args := &callArgs{ProviderID: *in.ProviderID, Target: strings.TrimSpace(*in.Target), Method: http.MethodGet, Headers: http.Header{}}
	if in.Method != nil {
		if !callMethods[*in.Method] {
			return nil, argErrorf("Invalid arguments: method must be one of GET, POST, PUT, PATCH, DELETE, HEAD")
		}
		args.Method = *in.Method
	}
	if in.SubstituteBody != nil {
		args.SubstituteBody = *in.SubstituteBody
	}
	if err := args.setHeaders(in.Headers); err != nil {
		return nil, err
	}
	body, err := decodeCallBody(in.Body, maxBody)
	if err != nil {
		return nil, err
	}
	args.Body = body
	return args, args.checkBody()
}

func (a *callArgs) setHeaders(headers map[string]string) error {
	for name, value := range headers {
		if reservedCallHeaders[strings.ToLower(name)] {
			return argErrorf("Header %q is reserved and cannot be set by the caller", name)
		}
		if !validHeaderName(name) {
			return argErrorf("Invalid header name %q", name)
		}
		if !validHeaderValue(value) {
			return argErrorf("Invalid value for header %q (control characters are not allowed)", name)
		}
		a.Headers.Add(name, value)
	}
	return nil
}

func (a *callArgs) checkBody() error {
	if a.Body == nil {
		return nil
	}
	if a.Method == http.MethodGet || a.Method == http.MethodHead {
		return argErrorf("A %s request cannot have a body", a.Method)
	}
	if a.SubstituteBody && a.Body.IsBytes {
		return argErrorf("substituteBody cannot be used with a fromBytes body (binary bodies are sent as is)")
	}
	return nil
}

// decodeCallBody reads the body member: absent or null, a string, {fromBytes, encoding} or {multipart}.
func decodeCallBody(raw json.RawMessage, maxBody int64) (*callBody, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var body *callBody
	var err error
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, argErrorf("Invalid body: %s", jsonErrorText(err))
		}
		body = &callBody{Text: &s}
	case '{':
		body, err = decodeObjectBody(raw, maxBody)
		if err != nil {
			return nil, err
		}
	default:
		return nil, argErrorf("Invalid body: want a string, {fromBytes, encoding} or {multipart}")
	}
	if n := body.size(); n > maxBody {
		return nil, tooLarge(maxBody, n)
	}
	return body, nil
}

func decodeObjectBody(raw json.RawMessage, maxBody int64) (*callBody, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, argErrorf("Invalid body: %s", jsonErrorText(err))
	}
	if _, ok := probe["multipart"]; ok {
		var in struct {
			Multipart []json.RawMessage `json:"multipart"`
		}
		if err := strictUnmarshal(raw, &in); err != nil {
			return nil, argErrorf("Invalid body: %s", jsonErrorText(err))
		}
		parts, err := decodeParts(in.Multipart, maxBody)
		if err != nil {
			return nil, err
		}
		return &callBody{Multipart: parts}, nil
	}
	var in struct {
		FromBytes *string `json:"fromBytes"`
		Encoding  *string `json:"encoding"`
	}
	if err := strictUnmarshal(raw, &in); err != nil {
		return nil, argErrorf("Invalid body: %s", jsonErrorText(err))
	}
	if in.FromBytes == nil || in.Encoding == nil || *in.Encoding != "base64" {
		return nil, argErrorf(`Invalid body: a bytes body is {"fromBytes": "<base64>", "encoding": "base64"}`)
	}
	data, err := decodeBase64("body.fromBytes", *in.FromBytes, maxBody)
	if err != nil {
		return nil, err
	}
	return &callBody{Bytes: data, IsBytes: true}, nil
}

func decodeParts(raws []json.RawMessage, maxBody int64) ([]callPart, error) {
	if len(raws) > maxMultipartParts {
		return nil, argErrorf("Invalid body: at most %d multipart parts, got %d", maxMultipartParts, len(raws))
	}
	parts := make([]callPart, 0, len(raws))
	var total int64
	for i, raw := range raws {
		p, err := decodePart(i, raw, maxBody)
		if err != nil {
			return nil, err
		}
		total += int64(len(p.Value) + len(p.Bytes))
		if total > maxBody {
			return nil, tooLarge(maxBody, total)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func decodePart(i int, raw json.RawMessage, maxBody int64) (callPart, error) {
	var in struct {
		Name        *string `json:"name"`
		Value       *string `json:"value"`
		Filename    *string `json:"filename"`
		Bytes       *string `json:"bytes"`
		Encoding    *string `json:"encoding"`
		ContentType *string `json:"contentType"`
	}
	if err := strictUnmarshal(raw, &in); err != nil {
		return callPart{}, argErrorf("Invalid multipart part %d: %s", i, jsonErrorText(err))
	}
	if in.Name == nil || *in.Name == "" || len(*in.Name) > maxMultipartName {
		return callPart{}, argErrorf("Invalid multipart part %d: name is required (at most %d characters)", i, maxMultipartName)
	}
	if in.Value != nil {
		if in.Filename != nil || in.Bytes != nil || in.Encoding != nil || in.ContentType != nil {
			return callPart{}, argErrorf("Invalid multipart part %d: a field part has only name and value", i)
		}
		return callPart{Name: *in.Name, Value: *in.Value}, nil
	}
	if in.Filename == nil || in.Bytes == nil || in.Encoding == nil || *in.Encoding != "base64" {
		return callPart{}, argErrorf("Invalid multipart part %d: a file part needs name, filename, bytes and encoding \"base64\"", i)
	}
	if len(*in.Filename) > maxMultipartFilename {
		return callPart{}, argErrorf("Invalid multipart part %d: filename longer than %d characters", i, maxMultipartFilename)
	}
	p := callPart{Name: *in.Name, IsFile: true, Filename: *in.Filename}
	if in.ContentType != nil {
		if len(*in.ContentType) > maxMultipartContentType || !validHeaderValue(*in.ContentType) {
			return callPart{}, argErrorf("Invalid multipart part %d: invalid contentType (at most %d characters)", i, maxMultipartContentType)
		}
		p.ContentType = *in.ContentType
	}
	data, err := decodeBase64(fmt.Sprintf("multipart part %d", i), *in.Bytes, maxBody)
	if err != nil {
		return callPart{}, err
	}
	p.Bytes = data
	return p, nil
}

// decodeBase64 decodes standard padded base64 (RFC 4648 §4) and nothing else.
func decodeBase64(where, s string, maxBody int64) ([]byte, error) {
	if len(s)%4 != 0 || !base64RE.MatchString(s) {
		return nil, argErrorf("Invalid base64 in %s: standard base64 (RFC 4648 §4, padded, no whitespace) is required", where)
	}
	if n := int64(base64.StdEncoding.DecodedLen(len(s))) - int64(strings.Count(s, "=")); n > maxBody {
		return nil, tooLarge(maxBody, n)
	}
	data, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, argErrorf("Invalid base64 in %s: %v", where, err)
	}
	return data, nil
}

// jsonErrorText shortens encoding/json messages for the model.
func jsonErrorText(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 || c == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
