package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// ErrorDocsBase is the prefix of every problem `type` URL.
const ErrorDocsBase = "https://docs.appstrate.dev/errors/"

// Problem is an RFC 9457 problem detail with the members of API.md §3.2. It is the only error body the
// Appstrate routes send. Handlers return it as an error; middlewares write it with WriteProblem.
type Problem struct {
	Type       string       `json:"type" doc:"Documentation URL of the error code"`
	Title      string       `json:"title" doc:"HTTP status text"`
	Status     int          `json:"status"`
	Detail     string       `json:"detail"`
	Instance   string       `json:"instance,omitempty" doc:"urn:appstrate:request:<requestId>"`
	Code       string       `json:"code" doc:"Stable machine-readable error code"`
	RequestID  string       `json:"requestId,omitempty"`
	Param      string       `json:"param,omitempty" doc:"The request parameter or header at fault"`
	RetryAfter int          `json:"retryAfter,omitempty" doc:"Seconds to wait before retrying"`
	Errors     []FieldError `json:"errors,omitempty"`

	// Extensions are extra top-level members (RFC 9457 §3.2), e.g. the health checks of a 503.
	Extensions map[string]any `json:"-"`

	headers http.Header
}

// FieldError is one entry of Problem.Errors: a field path in dotted form with `[i]` indexes.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Title   string `json:"title,omitempty"`
}

// NewProblem builds a problem with the type URL and title derived from code and status.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{
		Type:   ErrorDocsBase + strings.ReplaceAll(code, "_", "-"),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Error implements error.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: problems are always application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// GetHeaders implements huma.HeadersError so extra headers (rate limits, Set-Cookie) survive.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// WithParam names the request parameter or header at fault.
func (p *Problem) WithParam(param string) *Problem { p.Param = param; return p }

// WithRetryAfter sets retryAfter and the Retry-After header.
func (p *Problem) WithRetryAfter(seconds int) *Problem {
	p.RetryAfter = seconds
	return p.WithHeader("Retry-After", strconv.Itoa(seconds))
}

// WithErrors attaches field errors.
func (p *Problem) WithErrors(errs ...FieldError) *Problem {
	p.Errors = append(p.Errors, errs...)
	return p
}

// WithHeader adds a response header sent with the problem.
func (p *Problem) WithHeader(name, value string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Add(name, value)
	return p
}

// WithExtension adds an extra top-level member to the body.
func (p *Problem) WithExtension(name string, value any) *Problem {
	if p.Extensions == nil {
		p.Extensions = map[string]any{}
	}
	p.Extensions[name] = value
	return p
}

// MarshalJSON writes the standard members followed by the extensions.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	base, err := json.Marshal((*plain)(p))
	if err != nil || len(p.Extensions) == 0 {
		return base, err
	}
	ext := make(map[string]any, len(p.Extensions))
	for name, v := range p.Extensions {
		if !standardMembers[name] { // standard members win on a name clash
			ext[name] = v
		}
	}
	extJSON, err := json.Marshal(ext)
	if err != nil || len(ext) == 0 {
		return base, err
	}
	// Merge {"a":1} and {"b":2} into {"a":1,"b":2}.
	return append(append(base[:len(base)-1], ','), extJSON[1:]...), nil
}

var standardMembers = map[string]bool{"type": true, "title": true, "status": true, "detail": true, "instance": true,
	"code": true, "requestId": true, "param": true, "retryAfter": true, "errors": true}

// stamp fills the request-derived members.
func (p *Problem) stamp(requestID string) {
	if requestID == "" {
		return
	}
	p.RequestID = requestID
	p.Instance = "urn:appstrate:request:" + requestID
}

// WriteProblem writes p as the response, outside of huma (middlewares, fallbacks).
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.stamp(RequestIDFrom(r.Context()))
	for name, values := range p.headers {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"code":"internal_error","status":500}`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// Constructors for the common codes of API.md §3.2.

// BadRequest is a 400 with the given code (invalid_request, slug_taken, ...).
func BadRequest(code, detail string) *Problem { return NewProblem(http.StatusBadRequest, code, detail) }

// Unauthorized is a 401 unauthorized.
func Unauthorized(detail string) *Problem {
	return NewProblem(http.StatusUnauthorized, "unauthorized", detail)
}

// Forbidden is a 403 forbidden.
func Forbidden(detail string) *Problem { return NewProblem(http.StatusForbidden, "forbidden", detail) }

// NotFound is a 404 not_found.
func NotFound(detail string) *Problem { return NewProblem(http.StatusNotFound, "not_found", detail) }

// Conflict is a 409 with the given code.
func Conflict(code, detail string) *Problem { return NewProblem(http.StatusConflict, code, detail) }

// Internal is a 500 internal_error; the detail never carries the underlying error.
func Internal() *Problem {
	return NewProblem(http.StatusInternalServerError, "internal_error", "An unexpected error occurred")
}
