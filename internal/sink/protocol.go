package sink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of the signature (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ContentTypeEvent is the Content-Type of an event POST.
const ContentTypeEvent = "application/cloudevents+json"

// Envelope is one run event as POSTed to the sink URL.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	ID              string          `json:"id"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Sequence        int64           `json:"sequence"`
}

// Event types of the canonical vocabulary (RUNTIME.md §4.8).
const (
	TypeProgress = "appstrate.progress"
	TypeMetric   = "appstrate.metric"
	TypeError    = "appstrate.error"
	TypeOutput   = "output.emitted"
	TypeLog      = "log.written"
	TypeReport   = "report.appended"
	TypeMemory   = "memory.added"
	TypePinned   = "pinned.set"
)

// TokenUsage is the snake_case usage of a run (runs.token_usage).
type TokenUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

// Total is the number of tokens of every category.
func (u TokenUsage) Total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// Memory is a note the run asks to keep (`note` tool).
type Memory struct {
	Content string `json:"content"`
	Scope   string `json:"scope,omitempty"` // "actor" (default) | "shared"
}

// Pinned is a named slot the run sets (`pin` tool); key "checkpoint" is the carry-over slot.
type Pinned struct {
	Content json.RawMessage `json:"content"`
	Scope   string          `json:"scope,omitempty"`
}

// LogEntry is a log line of the run result.
type LogEntry struct {
	Level     string `json:"level"`
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
}

// ErrorInfo is the error of a failed run.
type ErrorInfo struct {
	Message string `json:"message"`
	Stack   string `json:"stack,omitempty"`
}

// RunResult is the finalize body (RUNTIME.md §1.5). Unknown fields are tolerated by the platform.
type RunResult struct {
	Memories   []Memory          `json:"memories"`
	Pinned     map[string]Pinned `json:"pinned,omitempty"`
	Output     json.RawMessage   `json:"output,omitempty"`
	Report     string            `json:"report,omitempty"`
	Logs       []LogEntry        `json:"logs"`
	Error      *ErrorInfo        `json:"error,omitempty"`
	Status     string            `json:"status,omitempty"`
	DurationMs *int64            `json:"durationMs,omitempty"`
	Usage      *TokenUsage       `json:"usage,omitempty"`
	Cost       *float64          `json:"cost,omitempty"`
}

// Sign returns the webhook-signature header value of body: "v1,<base64 HMAC-SHA256(secret, id.ts.body)>",
// keyed by the UTF-8 bytes of the sink secret (not a whsec_ key).
func Sign(secret, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, timestamp, body))
}

func mac(secret, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verification failures; their codes are the 401 problem codes of the sink routes.
var (
	ErrMissingHeaders   = errors.New("missing_signature_headers")
	ErrInvalidTimestamp = errors.New("invalid_timestamp")
	ErrTimestampSkew    = errors.New("timestamp_out_of_tolerance")
	ErrInvalidSignature = errors.New("invalid_signature")
)

// Verify checks the Standard Webhooks headers of a sink request against the raw body. Any of the space-
// separated "v1,<sig>" entries may match. The comparison is constant-time.
func Verify(secret, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || timestamp == "" || signature == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestampSkew
	}
	want := mac(secret, id, ts, body)
	for _, entry := range strings.Fields(signature) {
		v, sig, ok := strings.Cut(entry, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrInvalidSignature
}
