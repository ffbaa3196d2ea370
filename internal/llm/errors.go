package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// APIError is an error the provider answered with: a non-2xx response, or an error event inside a stream.
type APIError struct {
	// Status is the HTTP status; 0 when the error arrived as an event inside a 200 stream.
	Status int
	// Type is the provider's error type or code (e.g. "rate_limit_error", "overloaded_error",
	// "insufficient_quota", "RESOURCE_EXHAUSTED"); may be empty.
	Type    string
	Message string
	// RetryAfter is the wait the provider asked for (Retry-After, retry-after-ms); 0 when none.
	RetryAfter time.Duration
	// RequestID is the provider's request id when it sent one.
	RequestID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("llm: provider error")
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Retryable reports whether the request may succeed if sent again later: rate limits and overload.
func (e *APIError) Retryable() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, 529:
		return true
	}
	switch strings.ToLower(e.Type) {
	case "overloaded_error", "rate_limit_error", "rate_limit_exceeded", "resource_exhausted", "unavailable",
		"server_is_overloaded", "slow_down":
		return true
	}
	return false
}

// ErrBadResponse reports a response the client could not understand (malformed JSON, unknown shape).
var ErrBadResponse = errors.New("llm: malformed response")

// ErrIncomplete reports a stream that ended before its final event (the connection was cut).
var ErrIncomplete = errors.New("llm: stream ended before the response was complete")

// Error codes of the model "test connection" routes (API.md §4.12), returned by ErrorCode.
const (
	CodeProviderError = "provider_error"
	CodeNetworkError  = "network_error"
	CodeTimeout       = "timeout"
	CodeCanceled      = "canceled"
)

// ErrorCode classifies an error returned by a client: "timeout" (deadline exceeded, network timeout),
// "canceled" (the caller's context was canceled), "network_error" (the provider could not be reached or the
// connection broke), or "provider_error" (the provider answered with an error or with something unreadable).
// It returns "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return CodeProviderError
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return CodeTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return CodeTimeout
	}
	if errors.Is(err, context.Canceled) {
		return CodeCanceled
	}
	if errors.Is(err, ErrBadResponse) {
		return CodeProviderError
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.Is(err, ErrIncomplete) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return CodeNetworkError
	}
	var netErr *networkError
	if errors.As(err, &netErr) {
		return CodeNetworkError
	}
	return CodeProviderError
}

// networkError marks a failure to exchange bytes with the provider.
type networkError struct{ err error }

func (e *networkError) Error() string { return "llm: request failed: " + e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or an HTTP date).
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e9 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// apiErrorFromResponse builds the error for a non-2xx response from its body (any of the four error shapes).
func apiErrorFromResponse(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &APIError{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header, time.Now()),
		RequestID:  firstHeader(resp.Header, "X-Request-Id", "Request-Id"),
	}
	e.Type, e.Message = parseErrorBody(body)
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// parseErrorBody reads {"error":{"type"|"code"|"status","message"}} (OpenAI, Anthropic, Gemini), a bare
// {"error":"message"} or {"message":...}, and the same wrapped in a one-element array (Gemini streams).
func parseErrorBody(body []byte) (typ, msg string) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", ""
	}
	if arr, ok := v.([]any); ok && len(arr) > 0 {
		v = arr[0]
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	return errorFields(obj)
}

func errorFields(obj map[string]any) (typ, msg string) {
	switch e := obj["error"].(type) {
	case map[string]any:
		msg, _ = e["message"].(string)
		for _, k := range []string{"type", "code", "status"} {
			switch t := e[k].(type) {
			case string:
				if t != "" {
					return t, msg
				}
			case float64:
				if typ == "" && k == "code" {
					typ = strconv.FormatFloat(t, 'f', -1, 64)
				}
			}
		}
		return typ, msg
	case string:
		return "", e
	}
	msg, _ = obj["message"].(string)
	typ, _ = obj["type"].(string)
	if code, ok := obj["code"].(string); ok && typ == "" {
		typ = code
	}
	return typ, msg
}
